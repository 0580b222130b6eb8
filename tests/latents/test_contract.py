"""The one contract, checked for every registered latent (normflows-style generic test)."""

import numpy as np
import pytest
import torch

from qlatent import latents
from qlatent.latents import LatentDistribution

DIM = 6
# Every registered name, plus the variants of a name that build another class.
CASES = (*latents.names(), "born-qubit", "born-iqp", "born-bitflip")


def _params(name, bank_path):
    if name == "born-qubit":
        return {"kind": "qubit", "n_qubits": DIM, "layers": 2, "seed": 3}
    if name in ("born-iqp", "born-bitflip"):
        return {"kind": name.split("-")[1], "n_qubits": DIM, "gates": "line", "seed": 3}
    if name in ("gaussian", "bernoulli", "uniform"):
        return {"dim": DIM}
    if name == "bank":
        return {"bank": bank_path}
    if name in ("born", "bernoulli_fit", "made", "multinomial", "qbm", "bm", "rbm"):
        return {"dim": DIM, "seed": 3}
    return {"dim": DIM, "seed": 3, "n_samples": 6000, "circuit": "haar"}


@pytest.fixture(scope="module")
def bank_path(tmp_path_factory):
    import os

    old = os.environ.get("QLATENT_CACHE")
    os.environ["QLATENT_CACHE"] = str(tmp_path_factory.mktemp("bankcache"))
    try:
        bank = latents.build_bank("quantum", "1-1", 3, 5000, seed=11, n_modes=DIM, progress=False)
    finally:
        if old is None:
            os.environ.pop("QLATENT_CACHE")
        else:
            os.environ["QLATENT_CACHE"] = old
    return bank.path


def test_registry_lists_every_latent_of_the_issue():
    assert set(latents.names()) >= {"gaussian", "bernoulli", "uniform", "quantum", "photonic",
                                     "dirichlet_multinomial", "shuffled", "bank", "born",
                                     "bernoulli_fit", "made", "multinomial", "qbm", "bm"}


@pytest.mark.parametrize("name", CASES)
def test_contract(name, bank_path):
    from qlatent.train import is_trainable

    latent = latents.get(name.split("-")[0], **_params(name, bank_path))
    # the registry says, without building, what the engine will find when it trains it
    assert latents.trainable(name.split("-")[0]) == is_trainable(latent)
    assert isinstance(latent, LatentDistribution)
    assert latent.dim == DIM
    z = latent.sample(7)
    assert z.shape == (7, DIM) and z.dtype == torch.float32 and z.device.type == "cpu"
    assert latent.sample(0).shape == (0, DIM)
    # Determinism: the generator is the only source of randomness.
    a = latent.sample(64, generator=torch.Generator().manual_seed(5))
    b = latent.sample(64, generator=torch.Generator().manual_seed(5))
    c = latent.sample(64, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # Fixed state lives in buffers, never parameters (only latents meant to be trained have
    # parameters), and moves with .to().
    if getattr(latent, "trainable", False):
        assert len(list(latent.parameters())) > 0 and hasattr(latent, "log_prob")
    else:
        assert list(latent.parameters()) == []
    moved = latent.to("meta")
    zm = moved.sample(5)
    assert zm.device.type == "meta" and zm.shape == (5, DIM) and zm.dtype == torch.float32


@pytest.mark.parametrize("name", CASES)
def test_centring_gives_mean_zero_within_sqrt_n(name, bank_path):
    latent = latents.get(name.split("-")[0], normalize="center", **_params(name, bank_path))
    n = 40_000
    z = latent.sample(n, generator=torch.Generator().manual_seed(0)).double()
    mean, std = z.mean(0), z.std(0)
    # 5 standard errors per coordinate, fixed in advance.
    assert torch.all(mean.abs() <= 5 * std / np.sqrt(n) + 1e-7), (mean, std)


@pytest.mark.parametrize("name", ["bernoulli", "uniform", "quantum", "bank"])
def test_standardize_and_none(name, bank_path):
    params = _params(name, bank_path)
    raw = latents.get(name, normalize="none", **params)
    std = latents.get(name, normalize="standardize", **params)
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    zr = raw.sample(30_000, generator=g()).double()
    zs = std.sample(30_000, generator=g()).double()
    # Same draws, affinely mapped: standardised = (raw - shift) / scale.
    torch.testing.assert_close(zs, (zr - std.shift.double()) / std.scale.double())
    assert torch.all((zs.std(0) - 1).abs() < 0.05)
    if name in ("quantum", "bank"):
        assert torch.equal(zr, zr.round()) and zr.min() >= 0  # raw photon counts


def test_trainable_names_the_latent():
    with pytest.raises(ValueError, match="name must be one of 'gaussian'.*got 'borne'"):
        latents.trainable("borne")


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="'gaussian'.*'quantum'.*got 'qantum'"):
        latents.get("qantum", dim=4)


def test_unknown_parameter_lists_valid_ones():
    with pytest.raises(TypeError, match="no parameter 'sigma'.*valid parameters: dim"):
        latents.get("gaussian", dim=4, sigma=2.0)
    with pytest.raises(ValueError, match="indistinguishability is not a parameter"):
        latents.get("photonic", dim=4, seed=0, n_samples=10, indistinguishability=0.5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="normalize must be one of"):
        latents.get("gaussian", dim=4, normalize="centre")
    with pytest.raises(ValueError, match="dim must be >= 1"):
        latents.get("gaussian", dim=0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        latents.get("gaussian", dim=2).sample(3, generator=0)
    with pytest.raises(ValueError, match="dim is required"):
        latents.get("bernoulli")
    with pytest.raises(ValueError, match="circuit must be one of"):
        latents.get("quantum", dim=4, seed=0, circuit="1-2-4")


def test_classical_moments():
    g = torch.Generator().manual_seed(2)
    n = 50_000
    z = latents.get("bernoulli", dim=3, p=0.2, normalize="none").sample(n, generator=g)
    assert set(z.unique().tolist()) == {0.0, 1.0}
    assert torch.all((z.mean(0) - 0.2).abs() < 5 * np.sqrt(0.16 / n))
    u = latents.get("uniform", dim=3, low=-2.0, high=4.0, normalize="none").sample(n, generator=g)
    assert u.min() >= -2 and u.max() < 4
    assert torch.all((u.mean(0) - 1.0).abs() < 5 * np.sqrt(3.0) / np.sqrt(n))
