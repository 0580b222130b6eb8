import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from qlatent.latents import LatentDistribution
from qlatent.models import MLP
from qlatent.train import Config, fit


class TinyLatent(LatentDistribution):
    """N(0, I) through the latent contract only (dim / sample(n, generator=...))."""

    def _sample(self, n, generator):
        return torch.randn(n, self.dim, generator=generator, device=self.device)


class PointData:
    """Real data concentrated near (3, -2)."""

    def sample(self, n, *, generator):
        return torch.tensor([3.0, -2.0]) + 0.05 * torch.randn(n, 2, generator=generator)


def _nets(seed=0, in_dim=4, out_dim=2, width=32):
    g = torch.Generator().manual_seed(seed)
    return (MLP(in_dim, out_dim, hidden=(width, width), generator=g),
            MLP(out_dim, 1, hidden=(width, width), generator=g))


def _equal_states(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_training_moves_generator_to_the_data():
    G, D = _nets()
    latent = TinyLatent(4)
    z = torch.randn(512, 4, generator=torch.Generator().manual_seed(9))
    target = torch.tensor([3.0, -2.0])
    before = (G(z).mean(0) - target).norm().item()
    result = fit(G, D, latent, PointData(), Config(steps=250, batch_size=64, lr=2e-3,
                                                    log_every=50), seed=0)
    after = (G(z).mean(0) - target).norm().item()
    assert before > 2.5
    assert after < 0.5 * before
    assert [h["step"] for h in result.history] == [50, 100, 150, 200, 250]


def test_deterministic_given_the_seed():
    runs = []
    for seed in (5, 5, 6):
        G, D = _nets()
        fit(G, D, TinyLatent(4), PointData(), Config(steps=15, batch_size=16), seed=seed)
        runs.append((G, D))
    assert _equal_states(runs[0][0], runs[1][0]) and _equal_states(runs[0][1], runs[1][1])
    assert not _equal_states(runs[0][0], runs[2][0])


def test_global_rng_untouched():
    G, D = _nets()
    state = torch.random.get_rng_state()
    fit(G, D, TinyLatent(4), PointData(), Config(steps=3, batch_size=8), seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)


class Stop(Exception):
    pass


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_resume_is_bit_identical(tmp_path, optimizer):
    config = Config(steps=40, batch_size=16, checkpoint_every=10, log_every=5,
                    optimizer=optimizer)
    G1, D1 = _nets()
    full = fit(G1, D1, TinyLatent(4), PointData(), config, seed=3, run_dir=tmp_path / "full")

    def stop_at_27(step, info):
        if step == 27:
            raise Stop

    G2, D2 = _nets()
    with pytest.raises(Stop):
        fit(G2, D2, TinyLatent(4), PointData(), config, seed=3, run_dir=tmp_path / "cut",
            callbacks=[stop_at_27])
    log = [json.loads(x) for x in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 25  # logged past the last checkpoint (step 20)
    G3, D3 = _nets(seed=99)  # fresh weights: everything must come from the checkpoint
    resumed = fit(G3, D3, TinyLatent(4), PointData(), config, seed=3, run_dir=tmp_path / "cut")
    assert resumed.resumed_from == 20
    assert _equal_states(G1, G3) and _equal_states(D1, D3)
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in full.history]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history] == strip
    log = [json.loads(x) for x in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert [h["step"] for h in log] == list(range(5, 41, 5))


class NoisyGenerator(nn.Module):
    """G(z) = MLP(z) + 0.1 ε, ε from the ``generator`` keyword (as in the Gumbel relaxation)."""

    def __init__(self, seed=0):
        super().__init__()
        self.net, _ = _nets(seed)

    def forward(self, z, *, generator=None):
        out = self.net(z)
        return out + 0.1 * torch.randn(out.shape, generator=generator)


def test_generator_noise_has_its_own_stream_and_resumes_bit_identical(tmp_path):
    config = Config(steps=20, batch_size=16, checkpoint_every=10, log_every=5)
    torch.manual_seed(0)
    global_state = torch.get_rng_state()
    G1, D1 = NoisyGenerator(), _nets()[1]
    fit(G1, D1, TinyLatent(4), PointData(), config, seed=3, run_dir=tmp_path / "full")
    assert torch.equal(torch.get_rng_state(), global_state)  # the noise came from fit's stream

    def stop_at_13(step, info):
        if step == 13:
            raise Stop

    G2, D2 = NoisyGenerator(), _nets()[1]
    with pytest.raises(Stop):
        fit(G2, D2, TinyLatent(4), PointData(), config, seed=3, run_dir=tmp_path / "cut",
            callbacks=[stop_at_13])
    torch.manual_seed(1)  # a different global state must not matter
    G3, D3 = NoisyGenerator(seed=99), _nets(seed=99)[1]
    assert fit(G3, D3, TinyLatent(4), PointData(), config, seed=3,
               run_dir=tmp_path / "cut").resumed_from == 10
    assert _equal_states(G1, G3) and _equal_states(D1, D3)


def test_resume_refuses_a_different_config_or_seed(tmp_path):
    G, D = _nets()
    fit(G, D, TinyLatent(4), PointData(), Config(steps=4, batch_size=8), seed=2,
        run_dir=tmp_path)
    with pytest.raises(ValueError, match=r"checkpoint.pt was written with a different config "
                                         r"\(lr: 0.0005 -> 0.001\)"):
        fit(G, D, TinyLatent(4), PointData(), Config(steps=8, batch_size=8, lr=1e-3), seed=2,
            run_dir=tmp_path)
    with pytest.raises(ValueError, match=r"checkpoint.pt was written with seed 2, not 3; "
                                         r"resume with seed=2"):
        fit(G, D, TinyLatent(4), PointData(), Config(steps=8, batch_size=8), seed=3,
            run_dir=tmp_path)
    # More steps, other logging and checkpointing are allowed: training continues from step 4.
    r = fit(G, D, TinyLatent(4), PointData(),
            Config(steps=8, batch_size=8, log_every=3, checkpoint_every=5), seed=2,
            run_dir=tmp_path)
    assert r.resumed_from == 4 and r.steps == 8
    # resume=False starts again from scratch, with any seed.
    assert fit(G, D, TinyLatent(4), PointData(), Config(steps=2, batch_size=8), seed=3,
               run_dir=tmp_path, resume=False).resumed_from is None


def test_resume_accepts_a_checkpoint_older_than_a_config_key(tmp_path):
    # Checkpoints written before `precision` existed lack the key; they held the default.
    G, D = _nets()
    fit(G, D, TinyLatent(4), PointData(), Config(steps=4, batch_size=8), seed=0,
        run_dir=tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    del state["config"]["precision"]
    torch.save(state, tmp_path / "checkpoint.pt")
    r = fit(G, D, TinyLatent(4), PointData(), Config(steps=6, batch_size=8), seed=0,
            run_dir=tmp_path)
    assert r.resumed_from == 4 and r.steps == 6
    with pytest.raises(ValueError, match="precision"):
        fit(G, D, TinyLatent(4), PointData(), Config(steps=8, batch_size=8, precision="bf16"),
            seed=0, run_dir=tmp_path)


# Written by fit before seed, device and progress left Config (commit 8e7a776):
#   G, D = _nets(width=8); fit(G, D, TinyLatent(4), PointData(),
#       Config(steps=4, batch_size=8, log_every=2, seed=11), run_dir=...)
# Its config dict holds seed 11, device and progress; it has no top-level seed, no window.
OLD_RUN = Path(__file__).parent / "fixtures" / "seed_in_config"


def test_resume_of_a_checkpoint_with_the_seed_in_its_config(tmp_path):
    shutil.copytree(OLD_RUN, tmp_path / "old")
    config = Config(steps=8, batch_size=8, log_every=2)
    with pytest.raises(ValueError, match="written with seed 11, not 0"):
        fit(*_nets(width=8), TinyLatent(4), PointData(), config, seed=0,
            run_dir=tmp_path / "old")
    G1, D1 = _nets(seed=5, width=8)  # everything must come from the checkpoint
    resumed = fit(G1, D1, TinyLatent(4), PointData(), config, seed=11,
                  run_dir=tmp_path / "old")
    G2, D2 = _nets(width=8)
    full = fit(G2, D2, TinyLatent(4), PointData(), config, seed=11)
    assert resumed.resumed_from == 4
    # The fixture was written on other CPU kernels (AVX-512): its step-4 weights differ from
    # this machine's in the last bits, so the two runs agree to round-off, not bit for bit.
    for a, b in zip([*G1.parameters(), *D1.parameters()], [*G2.parameters(), *D2.parameters()],
                    strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    # Rows up to step 4 were logged by the old code (one step's losses, not a window's mean).
    assert [h["step"] for h in resumed.history] == [2, 4, 6, 8]
    for a, b in zip(resumed.history[2:], full.history[2:], strict=True):
        assert _strip_seconds([a])[0] == pytest.approx(_strip_seconds([b])[0], rel=1e-5)
    state = torch.load(tmp_path / "old" / "checkpoint.pt", weights_only=True)
    assert state["seed"] == 11 and "seed" not in state["config"]  # rewritten in the new form


def _strip_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


class NaNAfter(TinyLatent):
    """TinyLatent whose draws turn NaN from its ``n``-th call on (one call per step)."""

    def __init__(self, dim, n):
        super().__init__(dim)
        self.n, self.calls = n, 0

    def _sample(self, n, generator):
        self.calls += 1
        z = super()._sample(n, generator)
        return z * float("nan") if self.calls >= self.n else z


def test_a_non_finite_loss_stops_fit_naming_the_step_and_keeps_a_finite_checkpoint(tmp_path):
    from qlatent.train import NonFiniteError

    config = Config(steps=12, batch_size=8, checkpoint_every=5, log_every=2)
    G, D = _nets()
    with pytest.raises(NonFiniteError, match=r"the critic's loss turned non-finite \(NaN or "
                                             r"inf\) at step 7") as err:
        fit(G, D, NaNAfter(4, 7), PointData(), config, seed=0, run_dir=tmp_path)
    assert err.value.step == 7
    assert all(torch.isfinite(p).all() for p in [*G.parameters(), *D.parameters()])
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 5  # the last finite checkpoint, not one of the failed step
    assert all(torch.isfinite(t).all() for key in ("generator", "critic")
               for t in state[key].values())
    # a rerun resumes the finite checkpoint and trains on (here, with data that stays finite)
    G, D = _nets()
    r = fit(G, D, TinyLatent(4), PointData(), config, seed=0, run_dir=tmp_path)
    assert r.resumed_from == 5 and r.steps == 12


def test_log_rows_are_means_over_the_logging_window(tmp_path):
    config = Config(steps=10, batch_size=8, n_critic=2)
    G, D = _nets()
    every = fit(G, D, TinyLatent(4), PointData(), config.replace(log_every=1), seed=4).history
    G, D = _nets()
    windowed = fit(G, D, TinyLatent(4), PointData(), config.replace(log_every=4), seed=4,
                   run_dir=tmp_path).history
    assert [h["step"] for h in windowed] == [4, 8, 10]  # the last window is steps 9 and 10
    keys = ("loss_critic", "loss_generator", "gradient_penalty", "wasserstein")
    for row, (lo, hi) in zip(windowed, [(0, 4), (4, 8), (8, 10)], strict=True):
        for key in keys:
            mean = sum(h[key] for h in every[lo:hi]) / (hi - lo)
            assert row[key] == pytest.approx(mean, rel=1e-12, abs=1e-15), (row["step"], key)
        assert all(row[k] != every[hi - 1][k] for k in keys)  # not the window's last step
    logged = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert logged == windowed


def test_a_window_cut_by_a_checkpoint_resumes_with_its_sums(tmp_path):
    # Checkpoints at 5 and 10, log lines at 4, 8, 12: the window of step 8 spans the cut at 5.
    config = Config(steps=12, batch_size=8, n_critic=1, log_every=4, checkpoint_every=5)
    G1, D1 = _nets()
    full = fit(G1, D1, TinyLatent(4), PointData(), config, seed=1)

    def stop_at_7(step, info):
        if step == 7:
            raise Stop

    G2, D2 = _nets()
    with pytest.raises(Stop):
        fit(G2, D2, TinyLatent(4), PointData(), config, seed=1, run_dir=tmp_path,
            callbacks=[stop_at_7])
    resumed = fit(G2, D2, TinyLatent(4), PointData(), config, seed=1, run_dir=tmp_path)
    assert resumed.resumed_from == 5
    assert _strip_seconds(resumed.history) == _strip_seconds(full.history)


class Recorder:
    def __init__(self):
        self.calls, self.closed = [], 0

    def __call__(self, step, info):
        self.calls.append((step, info))

    def close(self):
        self.closed += 1


def test_callbacks_get_the_log_row_and_are_closed():
    rec = Recorder()
    G, D = _nets()
    r = fit(G, D, TinyLatent(4), PointData(), Config(steps=5, batch_size=8, log_every=2),
            seed=6, callbacks=[rec, lambda step, info: None])
    assert [step for step, _ in rec.calls] == [1, 2, 3, 4, 5]
    rows = [info["row"] for _, info in rec.calls]
    assert rows[0] is None and rows[2] is None
    assert [rows[1], rows[3], rows[4]] == r.history
    info = rec.calls[-1][1]
    assert info["generator"] is G and info["critic"] is D and info["seed"] == 6
    assert info["loss_generator"].shape == () and rec.closed == 1


def test_callbacks_are_closed_when_training_fails():
    rec = Recorder()

    def fail(step, info):
        raise Stop

    G, D = _nets()
    with pytest.raises(Stop):
        fit(G, D, TinyLatent(4), PointData(), Config(steps=5, batch_size=8), seed=0,
            callbacks=[rec, fail])
    assert rec.closed == 1 and len(rec.calls) == 1


class OneHotGraphs:
    """Random one-hot molecular graphs in the QM9 layout (edges [n, 9, 9, 5], nodes [n, 9, 5])."""

    def sample(self, n, *, generator):
        from qlatent.data.qm9 import qm9_spec

        spec = qm9_spec()
        m, a, b = spec.n_atoms, spec.n_atom_types, spec.n_bond_types
        bonds = torch.randint(0, b, (n, m, m), generator=generator).triu(1)
        bonds = bonds + bonds.transpose(1, 2)
        atoms = torch.randint(0, a, (n, m), generator=generator)
        return (nn.functional.one_hot(bonds, b).float(),
                nn.functional.one_hot(atoms, a).float())


@pytest.mark.slow  # two MolGAN runs; bf16: test_pack's test_bf16_pack_... stays
def test_bf16_mixed_precision_tracks_fp32_on_molgan():
    # bf16 is offered for the MolGAN models (inputs in [0, 1], real and generated graphs far
    # apart at bfloat16's 8 significant bits): their training must follow the fp32 trajectory.
    from qlatent.data.qm9 import qm9_spec
    from qlatent.models.molgan import MolGANGenerator, RGCNCritic

    runs = {}
    for precision in ("fp32", "bf16"):
        g = torch.Generator().manual_seed(0)
        G = MolGANGenerator(8, spec=qm9_spec(), generator=g)
        D = RGCNCritic(spec=qm9_spec(), generator=g)
        r = fit(G, D, TinyLatent(8), OneHotGraphs(), Config(
            steps=12, batch_size=32, lr=1e-4, betas=(0.5, 0.999), log_every=4,
            precision=precision), seed=0)
        runs[precision] = (G, D, r.history)
    (G32, D32, h32), (G16, D16, h16) = runs["fp32"], runs["bf16"]
    assert not _equal_states(D32, D16)
    assert not _equal_states(G32, G16)  # autocast was active ...
    assert all(p.dtype == torch.float32 for p in [*G16.parameters(), *D16.parameters()])
    for a, b in zip(h32, h16, strict=True):  # ... and the losses agree to bf16's precision
        for key in ("loss_critic", "loss_generator", "wasserstein"):
            assert b[key] == pytest.approx(a[key], rel=0.03, abs=0.01), (a["step"], key)
        assert b["gradient_penalty"] == pytest.approx(a["gradient_penalty"], rel=0.1, abs=1e-3)


class TupleGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = MLP(4, 6, hidden=(16,), generator=torch.Generator().manual_seed(0))

    def forward(self, z):
        y = self.net(z)
        return y[:, :2], y[:, 2:].reshape(-1, 2, 2)


class TupleData:
    def sample(self, n, *, generator):
        x = torch.randn(n, 6, generator=generator)
        return x[:, :2], x[:, 2:].reshape(n, 2, 2)


class TupleMLPCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = MLP(6, 1, hidden=(16,), generator=torch.Generator().manual_seed(1))

    def forward(self, x):
        a, b = x
        return self.net(torch.cat([a, b.flatten(1)], 1))


@pytest.mark.parametrize("loss", ["wgan-gp", "nonsaturating"])
def test_tuple_outputs_train(loss):
    G, D = TupleGenerator(), TupleMLPCritic()
    before = [p.clone() for p in G.parameters()]
    r = fit(G, D, TinyLatent(4), TupleData(), Config(steps=5, batch_size=8, loss=loss,
                                                     log_every=1), seed=0)
    assert len(r.history) == 5
    assert all(h["gradient_penalty"] >= 0 for h in r.history)
    assert any(not torch.equal(a, b) for a, b in zip(before, G.parameters(), strict=True))


def test_structure_mismatch_is_reported():
    G, D = TupleGenerator(), TupleMLPCritic()
    with pytest.raises(ValueError, match="tensor"):
        fit(G, D, TinyLatent(4), PointData(), Config(steps=1, batch_size=4), seed=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"loss": "hinge"}, "loss"), ({"optimizer": "sgd"}, "optimizer"),
    ({"steps": -1}, "steps"), ({"steps": 0}, "steps must be >= 1, got 0"),
    ({"betas": (0.5,)}, "betas"), ({"precision": "fp16"}, "precision"),
    ({"seed": 0}, "seed"), ({"device": "cpu"}, "device"), ({"progress": True}, "progress"),
])
def test_config_validation(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        Config(**kwargs)


def test_config_from_dict_names_unknown_key():
    with pytest.raises(ValueError, match="'learning_rate'"):
        Config.from_dict({"learning_rate": 1e-3})
    with pytest.raises(ValueError, match="'seed'.*arguments of qlatent.train.fit"):
        Config.from_dict({"seed": 3})


def test_fit_validates_arguments():
    G, D = _nets()
    with pytest.raises(TypeError, match="config"):
        fit(G, D, TinyLatent(4), PointData(), {"steps": 1}, seed=0)
    with pytest.raises(TypeError, match="data"):
        fit(G, D, TinyLatent(4), object(), Config(steps=1), seed=0)
    with pytest.raises(TypeError, match="seed"):
        fit(G, D, TinyLatent(4), PointData(), Config(steps=1))  # seed is required
    with pytest.raises(TypeError, match="positional"):
        fit(G, D, TinyLatent(4), PointData(), Config(steps=1), 0)  # ... and keyword-only


@pytest.mark.parametrize("kwargs, error, match", [
    ({"seed": -1}, ValueError, "seed must be >= 0, got -1"),
    ({"seed": 1.0}, TypeError, "seed must be an integer"),
    ({"seed": 0, "device": "tpu"}, ValueError, "device must be 'cpu', 'cuda' or 'cuda:k' .*"
                                               "got 'tpu'"),
    ({"seed": 0, "device": 0}, TypeError, "device must be a string"),
    ({"seed": 0, "progress": "yes"}, TypeError, "progress must be a bool"),
])
def test_fit_rejects_bad_execution_arguments(kwargs, error, match):
    G, D = _nets()
    with pytest.raises(error, match=match):
        fit(G, D, TinyLatent(4), PointData(), Config(steps=1), **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_fit_refuses_cuda_without_a_device():
    G, D = _nets()
    with pytest.raises(ValueError, match="device is 'cuda' but CUDA is not available"):
        fit(G, D, TinyLatent(4), PointData(), Config(steps=1), seed=0, device="cuda")


def test_progress_bar_runs():
    G, D = _nets()
    r = fit(G, D, TinyLatent(4), PointData(), Config(steps=12, batch_size=8, log_every=5),
            seed=0, progress=True)
    assert [h["step"] for h in r.history] == [5, 10, 12]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_runs(precision):
    G, D = _nets()
    fit(G, D, TinyLatent(4), PointData(), Config(steps=3, batch_size=8, precision=precision),
        seed=0, device="cuda")
    assert next(G.parameters()).is_cuda


def _as_if_from_a_gpu(path):
    # What a CUDA run writes: the same checkpoint, its random states those of Philox
    # generators (16 bytes: seed and offset) instead of the CPU's Mersenne Twister.
    from qlatent.train import load_checkpoint, save_checkpoint

    state = load_checkpoint(path)
    state["rng"] = {name: torch.arange(16, dtype=torch.uint8) + i
                    for i, name in enumerate(state["rng"])}
    save_checkpoint(path, state)


def test_a_run_resumes_on_another_kind_of_device(tmp_path, capsys):
    # A checkpoint written on a GPU resumes on this CPU: the weights and optimiser state load
    # (read onto the CPU), the streams go on from seeds derived from their states, the same
    # way every time (two resumes end equal), and the user is told in one line.
    config = Config(steps=8, batch_size=16, checkpoint_every=4, log_every=4)
    for name in ("a", "b"):
        G, D = _nets()
        fit(G, D, TinyLatent(4), PointData(), config.replace(steps=4), seed=3,
            run_dir=tmp_path / name)
        _as_if_from_a_gpu(tmp_path / name / "checkpoint.pt")
    capsys.readouterr()
    ends = []
    for name in ("a", "b"):
        G, D = _nets(seed=99)
        result = fit(G, D, TinyLatent(4), PointData(), config, seed=3, run_dir=tmp_path / name)
        assert result.resumed_from == 4 and result.steps == 8
        ends.append((G, D, result.history))
    err = capsys.readouterr().err
    assert err.count("written on another kind of device than cpu") == 2
    assert "latent, data, epsilon, noise" in err
    assert _equal_states(ends[0][0], ends[1][0]) and _equal_states(ends[0][1], ends[1][1])
    assert [h["loss_critic"] for h in ends[0][2]] == [h["loss_critic"] for h in ends[1][2]]


# ------------------------------------------------ entry checks (issue 23 item 4.7)
def test_a_latent_wider_than_the_generator_is_named_before_training(tmp_path):
    _, D = _nets(in_dim=4)
    G = nn.Linear(4, 2)  # a plain torch module: its own error is a raw matmul RuntimeError
    before = [p.detach().clone() for p in G.parameters()]
    with pytest.raises(ValueError, match=r"generator must take latent rows of width 6 .*"
                                         r"G\(z\[2, 6\]\) raised RuntimeError: mat1"):
        fit(G, D, TinyLatent(6), PointData(), Config(steps=2, batch_size=8), seed=0,
            run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    assert all(torch.equal(a, b) for a, b in zip(before, G.parameters(), strict=True))


def test_a_generator_that_drops_rows_is_named():
    class Mean(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 2)

        def forward(self, z):
            return self.lin(z).mean(0, keepdim=True)

    _, D = _nets()
    with pytest.raises(ValueError,
                       match=r"one row per latent row: G\(z\[2, 4\]\) gave \[1, 1, 2\]"):
        fit(Mean(), D, TinyLatent(4), PointData(), Config(steps=2, batch_size=8), seed=0)


def test_the_probe_leaves_training_identical_and_the_generator_in_train_mode():
    # the probe draws nothing: a run is the same as before it existed (deterministic given
    # the seed, tested above); here its batch-norm statistics are not touched either
    G = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    _, D = _nets()
    stats = G[1].running_mean.clone()
    fit(G, D, TinyLatent(4), PointData(), Config(steps=0 + 1, batch_size=8), seed=0)
    assert not torch.equal(G[1].running_mean, stats)  # trained one step: stats moved
    G2 = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    from qlatent.train.engine import _probe_generator
    from qlatent.train.step import Adversaries

    adv = Adversaries(G2.train(), D, Config(steps=1, batch_size=8))
    _probe_generator(adv, 1, 4, torch.device("cpu"))
    assert G2.training and torch.equal(G2[1].running_mean, torch.zeros(8))


@pytest.mark.parametrize("data", [np.zeros((10, 2), np.float32), torch.zeros(10, 2)])
def test_an_array_for_data_says_what_data_must_be(data):
    G, D = _nets()
    with pytest.raises(TypeError, match=r"data must be a data object with `sample\(n, \*, "
                                        r"generator\)`.*got an array: wrap its rows as "
                                        r"qlatent.data.EmpiricalData"):
        fit(G, D, TinyLatent(4), data, Config(steps=2, batch_size=8), seed=0)


def test_fit_pack_names_the_width_mismatch():
    from qlatent.models import pack
    from qlatent.train import fit_pack

    Gs, Ds = zip(*(_nets(seed=k) for k in range(2)), strict=True)
    with pytest.raises(ValueError, match=r"generator must take latent rows of width 3"):
        fit_pack(pack(list(Gs)), pack(list(Ds)), [TinyLatent(3), TinyLatent(3)],
                 [PointData(), PointData()], Config(steps=2, batch_size=8), seeds=[0, 1])
    with pytest.raises(TypeError, match=r"data\[1\] must be a data object"):
        fit_pack(pack(list(Gs)), pack(list(Ds)), [TinyLatent(4), TinyLatent(4)],
                 [PointData(), np.zeros((4, 2))], Config(steps=2, batch_size=8), seeds=[0, 1])
