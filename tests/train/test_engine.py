"""One adversarial engine: checkpoints written by the two engines it replaced (``fit`` of
train/loop.py and ``fit_pack`` of train/pack.py, commit 9ac89ae; fixtures/make_engine_v1.py)
resume, and land bit for bit where those engines landed without interruption."""

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

from qlatent.models import pack
from qlatent.train import fit, fit_pack, load_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"
_spec = importlib.util.spec_from_file_location("make_engine_v1",
                                               FIXTURES / "make_engine_v1.py")
v1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v1)


# Bit for bit on the kernels that wrote the fixtures; elsewhere to round-off (a wrong resume
# or a changed step differs by orders of magnitude more).
EXACT = torch.backends.cpu.get_cpu_capability() == v1.CAPTURED_ON


def _assert_equal_states(got, want, what):
    assert got.keys() == want.keys(), what
    for key in want:
        if EXACT:
            assert torch.equal(got[key], want[key]), f"{what}: {key} differs"
        else:
            torch.testing.assert_close(got[key], want[key], rtol=1e-6, atol=1e-7)


def _strip(history):
    rows = [{k: v for k, v in row.items() if k != "seconds"} for row in history]
    return rows if EXACT else [{k: pytest.approx(v, rel=1e-6, abs=1e-7) for k, v in row.items()}
                               for row in rows]


def test_an_old_solo_checkpoint_resumes_bit_identical(tmp_path):
    shutil.copytree(FIXTURES / "engine_v1" / "solo", tmp_path / "run")
    expected = torch.load(FIXTURES / "engine_v1" / "solo" / "expected.pt", weights_only=True)
    G, D = v1.solo_models()
    with torch.no_grad():  # everything must come from the checkpoint
        for p in [*G.parameters(), *D.parameters()]:
            p.zero_()
    latent = v1.solo_latent()
    result = fit(G, D, latent, v1.Ring(), v1.SOLO, seed=7, run_dir=tmp_path / "run")
    assert result.resumed_from == 6 and result.steps == 12
    _assert_equal_states(G.state_dict(), expected["generator"], "generator")
    _assert_equal_states(D.state_dict(), expected["critic"], "critic")
    _assert_equal_states(latent.state_dict(), expected["latent"], "latent")
    assert _strip(result.history) == _strip(expected["history"])
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["seed"] == 7  # solo format


def test_today_fit_is_bit_identical_to_the_old_fit():
    expected = torch.load(FIXTURES / "engine_v1" / "solo" / "expected.pt", weights_only=True)
    G, D = v1.solo_models()
    latent = v1.solo_latent()
    result = fit(G, D, latent, v1.Ring(), v1.SOLO, seed=7)
    _assert_equal_states(G.state_dict(), expected["generator"], "generator")
    _assert_equal_states(D.state_dict(), expected["critic"], "critic")
    _assert_equal_states(latent.state_dict(), expected["latent"], "latent")
    assert _strip(result.history) == _strip(expected["history"])


def test_an_old_pack_checkpoint_resumes_bit_identical(tmp_path):
    shutil.copytree(FIXTURES / "engine_v1" / "pack", tmp_path / "run")
    expected = torch.load(FIXTURES / "engine_v1" / "pack" / "expected.pt", weights_only=True)
    Gs, Ds = v1.pack_models()
    G, D = pack(Gs), pack(Ds)
    with torch.no_grad():
        for p in [*G.parameters(), *D.parameters()]:
            p.zero_()
    result = fit_pack(G, D, v1.pack_latents(), [v1.Ring(), v1.Ring()], v1.PACK, seeds=v1.SEEDS,
                      run_dir=tmp_path / "run")
    assert result.resumed_from == 6 and result.steps == 12 and result.failed == {}
    _assert_equal_states(G.state_dict(), expected["generator"], "generator")
    _assert_equal_states(D.state_dict(), expected["critic"], "critic")
    assert [_strip(m.history) for m in result.members] == [_strip(h)
                                                           for h in expected["history"]]


def test_a_member_and_its_pack_of_one_are_bit_identical_to_the_old_fit():
    expected = torch.load(FIXTURES / "engine_v1" / "pack" / "expected.pt", weights_only=True)
    want = expected["solo_member1"]
    Gs, Ds = v1.pack_models()
    fit(Gs[1], Ds[1], v1.pack_latents()[1], v1.Ring(), v1.PACK, seed=v1.SEEDS[1])
    _assert_equal_states(Gs[1].state_dict(), want["generator"], "fit generator")
    _assert_equal_states(Ds[1].state_dict(), want["critic"], "fit critic")
    Gs, Ds = v1.pack_models()
    G, D = pack([Gs[1]]), pack([Ds[1]])
    fit_pack(G, D, v1.pack_latents()[1:], [v1.Ring()], v1.PACK, seeds=v1.SEEDS[1:])
    _assert_equal_states(G.state_dict(), want["generator"], "pack-of-one generator")
    _assert_equal_states(D.state_dict(), want["critic"], "pack-of-one critic")
