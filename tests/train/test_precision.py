"""Native bf16 detection and the warning when bf16 is asked for where torch emulates it."""

import warnings

import pytest
import torch

from qlatent.models import MLP
from qlatent.train import Config, fit, native_bf16
from qlatent.train import precision as precision_module
from qlatent.train.precision import cpu_flags, warn_if_emulated_bf16

X86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 fma {extra}\n"
ARM = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd sve {extra}\n"


@pytest.mark.parametrize(("text", "extra", "native"), [
    (X86, "", False), (X86, "avx512f avx512_bf16", True), (X86, "amx_tile amx_bf16", True),
    (ARM, "", False), (ARM, "bf16 i8mm", True),
])
def test_cpu_flags_are_read_from_cpuinfo_and_decide_native_bf16(tmp_path, text, extra, native):
    path = tmp_path / "cpuinfo"
    path.write_text(text.format(extra=extra))
    flags = cpu_flags(path)
    assert "avx2" in flags or "asimd" in flags
    assert native_bf16("cpu", flags=flags) is native
    assert cpu_flags(tmp_path / "absent") is None


def test_only_a_cpu_or_cuda_device_can_be_native():
    assert native_bf16("meta", flags={"avx512_bf16"}) is False
    assert native_bf16(torch.device("cpu"), flags=["amx_bf16"]) is True


def test_the_warning_names_the_remedy_and_comes_only_for_emulated_bf16():
    with pytest.warns(RuntimeWarning, match="no native bfloat16.*use precision 'fp32'"):
        assert warn_if_emulated_bf16("bf16", "cpu", flags={"avx2"}) is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_emulated_bf16("bf16", "cpu", flags={"avx512_bf16"}) is False
        assert warn_if_emulated_bf16("fp32", "cpu", flags={"avx2"}) is False


class _Latent(torch.nn.Module):
    dim = 4

    def sample(self, n, *, generator=None):
        return torch.randn(n, 4, generator=generator)


class _Data:
    def sample(self, n, *, generator=None):
        return torch.randn(n, 2, generator=generator)


@pytest.mark.parametrize(("flags", "warns"), [(frozenset({"avx2"}), True),
                                              (frozenset({"avx2", "amx_bf16"}), False)])
def test_fit_warns_when_asked_for_bf16_on_a_cpu_without_it(monkeypatch, flags, warns):
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: flags)
    G = MLP(4, 2, hidden=(8,), generator=torch.Generator().manual_seed(0))
    D = MLP(2, 1, hidden=(8,), generator=torch.Generator().manual_seed(1))
    config = Config(steps=1, batch_size=4, n_critic=1, precision="bf16")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(G, D, _Latent(), _Data(), config, seed=0)
    emulated = [w for w in caught if "no native bfloat16" in str(w.message)]
    assert len(emulated) == (1 if warns else 0)


def test_fp32_is_the_default_precision():
    assert Config().precision == "fp32"


def test_no_shipped_config_asks_for_bf16():
    """bf16 is ~10x slower where it is emulated: no config of the repository defaults to it."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs"
    configs = sorted(root.rglob("*.toml"))
    assert configs
    for path in configs:
        train = tomllib.loads(path.read_text()).get("train", {})
        assert train.get("precision", "fp32") == "fp32", path


def test_the_warning_points_at_the_call_of_fit(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: frozenset({"avx2"}))
    G = MLP(4, 2, hidden=(8,), generator=torch.Generator().manual_seed(0))
    D = MLP(2, 1, hidden=(8,), generator=torch.Generator().manual_seed(1))
    with pytest.warns(RuntimeWarning, match="no native bfloat16") as caught:
        fit(G, D, _Latent(), _Data(), Config(steps=1, batch_size=4, n_critic=1,
                                             precision="bf16"), seed=0)
    assert caught[0].filename == __file__
