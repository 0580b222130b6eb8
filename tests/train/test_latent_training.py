"""Latents trained with the generator (``latent_lr > 0``): the score-function estimator against
the exact gradient, the leave-one-out baseline, centring under a moving distribution, resume,
NaN stops, and packs whose members follow their solo runs.

Tolerances fixed in advance: the estimator's mean over N independent batches is within 5
standard errors (its own, from the N batch estimates) of the exact gradient in every
component; pack members within the float64 tolerance of ``test_pack.py`` (rtol 1e-9, atol
1e-11 after 30 steps).
"""

import math

import pytest
import torch

from qlatent.latents import get
from qlatent.models import MLP, pack, unpack
from qlatent.train import (
    Config,
    fit,
    fit_pack,
    load_checkpoint,
    member_checkpoint,
    save_checkpoint,
    score_function_surrogate,
)

WEIGHTS = torch.tensor([0.7, -1.3, 0.4, 2.1], dtype=torch.float64)


def loss_of(counts):
    """A fixed per-sample loss of raw counts: non-linear, with a large common level (10)."""
    c = counts.to(torch.float64)
    return 10.0 + torch.sin(c @ WEIGHTS) + c[:, 0] * c[:, 1]


def _exact_gradient(latent):
    params = [p for p in latent.parameters() if p.requires_grad]
    if hasattr(latent, "output_distribution"):
        states, probs = latent.output_distribution()
    else:  # multinomial: every count vector of n over m, probabilities from log_prob
        from qlatent import photonics

        states = torch.as_tensor(photonics.reference.fock_states(latent.dim, latent.n_photons))
        probs = latent.log_prob(states).exp()
    assert math.isclose(float(probs.sum().detach()), 1.0, abs_tol=1e-9)
    expected = (probs * loss_of(states)).sum()
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(expected, params)])


def _estimates(latent, n_batches, batch, *, baseline=True, seed=0):
    params = [p for p in latent.parameters() if p.requires_grad]
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        counts = latent.sample_counts(batch, generator=gen)
        ell = loss_of(counts)
        log_p = latent.log_prob(counts)
        surrogate = (score_function_surrogate(ell, log_p) if baseline
                     else (ell * log_p).mean())
        out.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(surrogate, params)]))
    return torch.stack(out)


@pytest.mark.parametrize("name, params", [
    ("born", {"kind": "quantum", "circuit": "mesh"}),
    ("born", {"kind": "photonic", "circuit": "mesh"}),
    ("multinomial", {}),
])
def test_score_function_gradient_matches_the_exact_gradient(name, params):
    # 2 photons in 4 modes: 10 Fock states, enumerated exactly by output_distribution.
    latent = get(name, dim=4, n_photons=2, seed=5, **params)
    if name == "multinomial":  # away from the uniform start, so the gradient is generic
        with torch.no_grad():
            latent.logits.copy_(torch.tensor([0.3, -0.5, 0.9, 0.0], dtype=torch.float64))
    exact = _exact_gradient(latent)
    est = _estimates(latent, n_batches=300, batch=32)
    mean, se = est.mean(0), est.std(0) / math.sqrt(est.shape[0])
    assert exact.abs().max() > 1e-3  # a gradient worth testing
    assert torch.all((mean - exact).abs() <= 5 * se + 1e-9), (mean - exact) / se


@pytest.mark.slow
def test_the_leave_one_out_baseline_cuts_the_variance_and_not_the_mean():
    latent = get("born", dim=4, n_photons=2, kind="quantum", seed=5)
    exact = _exact_gradient(latent)
    plain = _estimates(latent, n_batches=300, batch=32, baseline=False, seed=1)
    assert torch.all((plain.mean(0) - exact).abs()
                     <= 5 * plain.std(0) / math.sqrt(300) + 1e-9)
    with_b = _estimates(latent, n_batches=300, batch=32, seed=1)
    # loss_of has a common level of 10, which the baseline removes: variance drops many-fold.
    assert float(with_b.var(0).sum()) < 0.1 * float(plain.var(0).sum())


def test_surrogate_rejects_bad_shapes():
    with pytest.raises(ValueError, match="at least 2"):
        score_function_surrogate(torch.ones(1), torch.zeros(1))
    with pytest.raises(ValueError, match="1-D of one length"):
        score_function_surrogate(torch.ones(3), torch.zeros(4))


# --------------------------------------------------------------------------- training
class Ring:
    def __init__(self, dtype=torch.float32):
        self.dtype = dtype

    def sample(self, n, *, generator):
        angle = torch.randint(8, (n,), generator=generator) * (torch.pi / 4)
        centres = 2.0 * torch.stack((angle.cos(), angle.sin()), 1)
        return (centres + 0.05 * torch.randn(n, 2, generator=generator)).to(self.dtype)


def _models(seed=100, dim=4):
    g = torch.Generator().manual_seed(seed)
    return (MLP(dim, 2, hidden=(16, 16), generator=g), MLP(2, 1, hidden=(16, 16), generator=g))


CONFIG = Config(steps=6, batch_size=16, n_critic=2, lr=1e-3, latent_lr=0.05, log_every=2,
                checkpoint_every=3)


def _params(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def test_joint_training_moves_theta_and_a_zero_lr_keeps_it():
    latent = get("born", dim=4, n_photons=2, seed=1)
    before = _params(latent)
    G, D = _models()
    fit(G, D, latent, Ring(), CONFIG, seed=3)
    assert any(not torch.equal(before[n], p) for n, p in latent.named_parameters())
    fixed = get("born", dim=4, n_photons=2, seed=1)
    G, D = _models()
    fit(G, D, fixed, Ring(), CONFIG.replace(latent_lr=0.0), seed=3)
    assert all(torch.equal(before[n], p) for n, p in fixed.named_parameters())


def test_a_fixed_latent_run_is_unchanged_by_the_trainer_code():
    # latent_lr = 0 with a born latent draws through latent.sample, as before joint training:
    # the same run as a latent that only has `sample` (a wrapper hiding the trainable methods).
    class SampleOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.dim = inner, inner.dim

        def sample(self, n, *, generator=None):
            return self.inner.sample(n, generator=generator)

    runs = []
    for wrap in (False, True):
        latent = get("born", dim=4, n_photons=2, seed=1)
        G, D = _models()
        fit(G, D, SampleOnly(latent) if wrap else latent, Ring(),
            CONFIG.replace(latent_lr=0.0), seed=3)
        runs.append(_params(G))
    assert all(torch.equal(runs[0][n], runs[1][n]) for n in runs[0])


@pytest.mark.parametrize("name", ["born", "multinomial"])
def test_resume_is_bit_identical_with_the_latent_and_its_optimiser(tmp_path, name):
    def run(run_dir, steps):
        latent = get(name, dim=4, n_photons=2, seed=1)
        G, D = _models()
        fit(G, D, latent, Ring(), CONFIG.replace(steps=steps), seed=3, run_dir=run_dir)
        return G, D, latent

    whole = run(tmp_path / "whole", 6)
    run(tmp_path / "split", 3)
    state = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert "latent" in state and state["opt_latent"]["state"]  # θ and Adam's moments saved
    split = run(tmp_path / "split", 6)  # resumes from step 3
    for a, b in zip(whole, split, strict=True):
        for (n, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q), n
    ckpt_a = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")["opt_latent"]["state"]
    ckpt_b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")["opt_latent"]["state"]
    for i in ckpt_a:
        for key in ckpt_a[i]:
            assert torch.equal(ckpt_a[i][key], ckpt_b[i][key])


def _a_grid_cell_of_a_fixed_latent(run_dir):
    # What a grid with latent_lr > 0 wrote for its fixed latents before that was refused: a
    # fixed latent's checkpoint whose config holds the grid's latent_lr.
    G, D = _models()
    fit(G, D, get("gaussian", dim=4), Ring(), CONFIG.replace(steps=3, latent_lr=0.0), seed=3,
        run_dir=run_dir)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    state["config"]["latent_lr"] = CONFIG.latent_lr
    save_checkpoint(run_dir / "checkpoint.pt", state)


def test_resume_refuses_a_fixed_latent_checkpoint(tmp_path):
    _a_grid_cell_of_a_fixed_latent(tmp_path)
    G, D = _models()
    with pytest.raises(ValueError, match="holds no latent state"):
        fit(G, D, get("born", dim=4, n_photons=2, seed=1), Ring(),
            CONFIG.replace(steps=6), seed=3, run_dir=tmp_path)


def test_a_fixed_latent_checkpoint_of_a_grid_resumes_with_latent_lr_zero(tmp_path):
    _a_grid_cell_of_a_fixed_latent(tmp_path)
    G, D = _models()
    r = fit(G, D, get("gaussian", dim=4), Ring(), CONFIG.replace(steps=6, latent_lr=0.0),
            seed=3, run_dir=tmp_path)
    assert r.resumed_from == 3 and r.steps == 6
    with pytest.raises(ValueError, match="different config"):  # any other change is refused
        fit(G, D, get("gaussian", dim=4), Ring(),
            CONFIG.replace(steps=9, latent_lr=0.0, lr=0.1), seed=3, run_dir=tmp_path)


def test_latent_lr_with_an_untrainable_latent_is_refused_naming_it(tmp_path):
    G, D = _models()
    with pytest.raises(ValueError, match=r"latent_lr is 0.05 but latent \(GaussianLatent\) "
                                         r"cannot be trained: it has no parameters"):
        fit(G, D, get("gaussian", dim=4), Ring(), CONFIG, seed=3, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything was written
    Gs, Ds = zip(*(_models(k) for k in range(2)), strict=True)
    with pytest.raises(ValueError, match=r"but latents\[0\] \(GaussianLatent\)"):
        fit_pack(pack(list(Gs)), pack(list(Ds)), [get("gaussian", dim=4)] * 2,
                 [Ring(), Ring()], CONFIG, seeds=[1, 2])


def test_a_nan_in_theta_stops_the_run_naming_the_step_and_the_parameter():
    latent = get("multinomial", dim=4, n_photons=2)
    real_log_prob = latent.log_prob
    calls = {"n": 0}

    def poisoned(counts):
        calls["n"] += 1
        out = real_log_prob(counts)
        return out * float("nan") if calls["n"] >= 4 else out

    latent.log_prob = poisoned
    G, D = _models()
    with pytest.raises(FloatingPointError, match=r"parameter 'logits' .* at step 4"):
        fit(G, D, latent, Ring(), CONFIG.replace(steps=10), seed=3)


@pytest.mark.parametrize("name", ["born", "multinomial"])
def test_centring_follows_the_moving_distribution(name):
    # After joint steps θ has moved; the shift is the exact mean of the CURRENT distribution,
    # and fresh draws are centred within 5 standard errors.
    latent = get(name, dim=4, n_photons=2, seed=1)
    G, D = _models()
    start = latent.shift.clone()
    fit(G, D, latent, Ring(), CONFIG.replace(steps=20, latent_lr=0.2), seed=3)
    if name == "born":
        states, probs = latent.output_distribution()
    else:
        from qlatent import photonics

        states = torch.as_tensor(photonics.reference.fock_states(4, 2))
        probs = latent.log_prob(states).exp()
    exact_mean = (probs[:, None] * states.double()).sum(0).float().detach()
    torch.testing.assert_close(latent.shift, exact_mean, rtol=0, atol=1e-6)
    assert (latent.shift - start).abs().max() > 1e-3  # the distribution did move
    n = 40_000
    z = latent.sample(n, generator=torch.Generator().manual_seed(9)).double()
    assert torch.all(z.mean(0).abs() <= 5 * z.std(0) / math.sqrt(n) + 1e-7)


# --------------------------------------------------------------------------- packs
class Float64(torch.nn.Module):
    """A latent whose draws (the same draws) come as float64, for float64 networks: packed and
    solo arithmetic then agree to ~1e-16, which Adam's normalised steps cannot blow up (in
    float32, a parameter whose exact gradient is ~0 takes lr-sized steps of round-off sign)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.dim = inner, inner.dim
        for name in ("sample_counts", "log_prob"):
            if hasattr(inner, name):
                setattr(self, name, getattr(inner, name))

    def normalized(self, counts):
        return self.inner.normalized(counts).double()

    def sample(self, n, *, generator=None):
        return self.inner.sample(n, generator=generator).double()


def _pack_latents():
    return [Float64(get("born", dim=4, n_photons=2, kind="quantum", seed=1)),
            Float64(get("multinomial", dim=4, n_photons=2)),
            Float64(get("born", dim=4, n_photons=2, kind="photonic", seed=2)),
            Float64(get("gaussian", dim=4))]


def _models64(seed):
    return tuple(m.double() for m in _models(seed))


@pytest.mark.slow
def test_pack_members_with_trained_latents_follow_their_solo_runs(tmp_path):
    config = CONFIG.replace(steps=30, checkpoint_every=0, log_every=10)
    seeds = [11, 12, 13, 14]
    models = [_models64(100 + k) for k in range(4)]
    G, D = pack([m[0] for m in models]), pack([m[1] for m in models])
    packed_latents = _pack_latents()
    fit_pack(G, D, packed_latents, [Ring(torch.float64) for _ in range(4)], config, seeds=seeds,
             run_dir=tmp_path)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert sorted(state["latents"]) == ["0", "1", "2"]  # the gaussian has nothing to train
    solo_latents = _pack_latents()
    for k in range(4):
        Gk, Dk = _models64(100 + k)
        fit(Gk, Dk, solo_latents[k], Ring(torch.float64), config, seed=seeds[k])
        for a, b in ((unpack(G)[k], Gk), (unpack(D)[k], Dk), (packed_latents[k],
                                                                solo_latents[k])):
            for (n, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
                torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-11,
                                           msg=lambda m, k=k, n=n: f"member {k} {n}: {m}")
        solo_ckpt = member_checkpoint(state, k, generator=G, critic=D)
        assert ("latent" in solo_ckpt) == (k < 3)
    assert not torch.equal(next(packed_latents[0].parameters()),
                           next(_pack_latents()[0].parameters()))  # θ did train


@pytest.mark.slow
def test_a_killed_pack_with_trained_latents_resumes_bit_identical(tmp_path):
    config = CONFIG.replace(steps=6, checkpoint_every=3)

    def run(run_dir, steps):
        models = [_models64(100 + k) for k in range(4)]
        G, D = pack([m[0] for m in models]), pack([m[1] for m in models])
        lats = _pack_latents()
        fit_pack(G, D, lats, [Ring(torch.float64) for _ in range(4)], config.replace(steps=steps),
                 seeds=[11, 12, 13, 14], run_dir=run_dir)
        return G, D, lats

    whole = run(tmp_path / "whole", 6)
    run(tmp_path / "split", 3)
    split = run(tmp_path / "split", 6)
    for a, b in zip(whole[:2], split[:2], strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)
    for la, lb in zip(whole[2], split[2], strict=True):
        for p, q in zip(la.parameters(), lb.parameters(), strict=True):
            assert torch.equal(p, q)
