"""Packed training (``fit_pack``): member k of a pack follows its solo ``fit`` run.

Tolerances (stated in advance, from the models' own pack-vs-solo tests and 50 steps of Adam):
float64, parameters and Adam states of every member vs its solo run within rtol 1e-9 /
atol 1e-11 (the members' arithmetic differs from the solo run's only in the order of the
batched products' sums; measured: equal); float32 within rtol 1e-4 / atol 1e-5 after 50 steps
(measured: 6e-8 at most; round-off differences grow through the adversarial dynamics, so this is
looser than one forward pass); bf16 mixed precision (20 steps) as float32 (measured: equal).
A pack of K = 1 is bit-identical to ``fit``.
"""

import json

import pytest
import torch
from torch import nn

from qlatent.latents import get
from qlatent.models import MLP, MolGANGenerator, RGCNCritic, pack, unpack
from qlatent.train import (
    Config,
    fit,
    fit_pack,
    load_checkpoint,
    member_checkpoint,
    save_checkpoint,
)


class AsDtype(nn.Module):
    """A latent whose draws (those of ``inner``, from the same generator) are cast to dtype."""

    def __init__(self, inner, dtype, nan_after=None):
        super().__init__()
        self.inner, self.dim, self.dtype = inner, inner.dim, dtype
        self.nan_after, self.calls = nan_after, 0

    def sample(self, n, *, generator=None):
        z = self.inner.sample(n, generator=generator).to(self.dtype)
        self.calls += 1
        if self.nan_after is not None and self.calls > self.nan_after:
            z = z * float("nan")
        return z


class Ring:
    """Eight Gaussians on a circle (the ring task in miniature), in ``dtype``."""

    def __init__(self, dtype=torch.float32, radius=2.0):
        self.dtype, self.radius = dtype, radius

    def sample(self, n, *, generator):
        angle = torch.randint(8, (n,), generator=generator) * (torch.pi / 4)
        centres = self.radius * torch.stack((angle.cos(), angle.sin()), 1)
        return (centres + 0.05 * torch.randn(n, 2, generator=generator)).to(self.dtype)


SPEC = type("Spec", (), {"n_atoms": 4, "n_atom_types": 3, "n_bond_types": 3})()


class Graphs:
    """Random one-hot graphs (edges symmetric, no self bonds), the QM9 structure in miniature."""

    def __init__(self, dtype):
        self.dtype = dtype

    def sample(self, n, *, generator):
        N, A, B = SPEC.n_atoms, SPEC.n_atom_types, SPEC.n_bond_types
        nodes = torch.nn.functional.one_hot(torch.randint(A, (n, N), generator=generator), A)
        bonds = torch.randint(B, (n, N, N), generator=generator).triu(1)
        bonds = bonds + bonds.transpose(1, 2)
        edges = torch.nn.functional.one_hot(bonds, B)
        return edges.to(self.dtype), nodes.to(self.dtype)


LATENTS = ("gaussian", "bernoulli", "uniform")


def ring_models(K, dtype, width=32):
    gens = [torch.Generator().manual_seed(100 + k) for k in range(K)]
    Gs = [MLP(4, 2, hidden=(width, width), generator=g).to(dtype) for g in gens]
    Ds = [MLP(2, 1, hidden=(width, width), generator=g).to(dtype) for g in gens]
    return Gs, Ds


def molgan_models(K, dtype):
    gens = [torch.Generator().manual_seed(200 + k) for k in range(K)]
    Gs = [MolGANGenerator(4, spec=SPEC, hidden=(16, 24), relaxation="gumbel",
                          generator=g).to(dtype) for g in gens]
    Ds = [RGCNCritic(spec=SPEC, graph_units=(8, 8), aggregation_units=8, dense_units=(8,),
                     generator=g).to(dtype) for g in gens]
    return Gs, Ds


def latents(K, dtype):
    return [AsDtype(get(LATENTS[k % 3], dim=4), dtype) for k in range(K)]


def _solo_and_pack(models, data, config, dtype, K=3, seeds=(11, 12, 13)):
    Gs, Ds = models(K, dtype)
    G, D = pack(Gs), pack(Ds)
    result = fit_pack(G, D, latents(K, dtype), [data(dtype) for _ in range(K)], config,
                      seeds=list(seeds))
    solos = []
    for k in range(K):
        fit(Gs[k], Ds[k], latents(K, dtype)[k], data(dtype), config, seed=seeds[k])
        solos.append((Gs[k], Ds[k]))
    return result, (G, D), solos


def _compare(packed, solos, rtol, atol):
    G, D = packed
    for net, idx in ((G, 0), (D, 1)):
        for k, member in enumerate(unpack(net)):
            solo = solos[k][idx]
            for (name, a), b in zip(member.named_parameters(), solo.parameters(), strict=True):
                torch.testing.assert_close(a, b, rtol=rtol, atol=atol,
                                           msg=lambda m, k=k, n=name: f"member {k} {n}: {m}")


CONFIG = Config(steps=50, batch_size=16, n_critic=2, gp_weight=10.0, lr=1e-3, log_every=10)


def test_pack_of_one_is_the_solo_run():
    Gs, Ds = ring_models(1, torch.float32)
    G, D = pack(Gs), pack(Ds)
    # (the progress bar draws on stderr and changes nothing)
    res = fit_pack(G, D, latents(1, torch.float32), [Ring()], CONFIG, seeds=[7], progress=True)
    fit(Gs[0], Ds[0], latents(1, torch.float32)[0], Ring(), CONFIG, seed=7)
    _compare((G, D), [(Gs[0], Ds[0])], rtol=0, atol=0)
    assert [r["step"] for r in res.members[0].history] == [10, 20, 30, 40, 50]


def test_ring_pack_follows_the_solo_runs_float64():
    result, packed, solos = _solo_and_pack(ring_models, Ring, CONFIG, torch.float64)
    _compare(packed, solos, rtol=1e-9, atol=1e-11)
    assert result.failed == {} and [m.steps for m in result.members] == [50] * 3


def test_a_members_checkpoint_is_its_solo_checkpoint_and_resumes_with_fit(tmp_path):
    K, dtype, seeds = 3, torch.float64, [21, 22, 23]
    config = CONFIG.replace(steps=10, checkpoint_every=0, log_every=4)
    Gs, Ds = molgan_models(K, dtype)
    G, D = pack(Gs), pack(Ds)
    fit_pack(G, D, latents(K, dtype), [Graphs(dtype) for _ in range(K)], config, seeds=seeds,
             run_dir=tmp_path / "pack")
    state = load_checkpoint(tmp_path / "pack" / "checkpoint.pt")
    k = 1
    cut = member_checkpoint(state, k, generator=G, critic=D)
    solo_g, solo_d = molgan_models(K, dtype)
    fit(solo_g[k], solo_d[k], latents(K, dtype)[k], Graphs(dtype), config, seed=seeds[k],
        run_dir=tmp_path / "solo")
    solo = load_checkpoint(tmp_path / "solo" / "checkpoint.pt")
    assert set(solo) <= set(cut) and cut["seed"] == seeds[k] and cut["failed_at"] is None
    for key in ("generator", "critic"):
        assert cut[key].keys() == solo[key].keys()
        for name in solo[key]:
            torch.testing.assert_close(cut[key][name], solo[key][name], rtol=1e-9, atol=1e-11)
        for i, entry in solo[f"opt_{key}"]["state"].items():
            for name, value in entry.items():
                torch.testing.assert_close(cut[f"opt_{key}"]["state"][i][name], value,
                                           rtol=1e-9, atol=1e-14)
    for name in solo["rng"]:
        assert torch.equal(cut["rng"][name], solo["rng"][name])
    assert [r["step"] for r in cut["history"]] == [r["step"] for r in solo["history"]]
    # the cut checkpoint resumes as a solo run: 10 more steps land where 20 solo steps do
    save_checkpoint(tmp_path / "cell" / "checkpoint.pt", cut)
    g1, d1 = molgan_models(K, dtype)
    resumed = fit(g1[k], d1[k], latents(K, dtype)[k], Graphs(dtype), config.replace(steps=20),
                  seed=seeds[k], run_dir=tmp_path / "cell")
    assert resumed.resumed_from == 10
    g2, d2 = molgan_models(K, dtype)
    fit(g2[k], d2[k], latents(K, dtype)[k], Graphs(dtype), config.replace(steps=20),
        seed=seeds[k])
    _compare((pack([g1[k]]), pack([d1[k]])), [(g2[k], d2[k])], rtol=1e-9, atol=1e-11)
    with pytest.raises(ValueError, match="member must be below the pack's size 3, got 3"):
        member_checkpoint(state, 3, generator=G, critic=D)
    with pytest.raises(ValueError, match="must be a pack checkpoint"):
        member_checkpoint(solo, 0, generator=G, critic=D)


def test_rmsprop_nonsaturating_pack_follows_the_solo_runs_float64():
    config = CONFIG.replace(steps=30, optimizer="rmsprop", loss="nonsaturating", gp_weight=1.0)
    result, packed, solos = _solo_and_pack(ring_models, Ring, config, torch.float64)
    _compare(packed, solos, rtol=1e-9, atol=1e-11)


def test_ring_pack_checkpoint_holds_the_solo_optimiser_states(tmp_path):
    K, dtype = 3, torch.float64
    seeds = [1, 2, 3]
    config = CONFIG.replace(steps=20, checkpoint_every=0)
    Gs, Ds = ring_models(K, dtype)
    fit_pack(pack(Gs), pack(Ds), latents(K, dtype), [Ring(dtype) for _ in range(K)], config,
             seeds=seeds, run_dir=tmp_path / "pack")
    packed = load_checkpoint(tmp_path / "pack" / "checkpoint.pt")
    for k in range(K):
        fit(Gs[k], Ds[k], latents(K, dtype)[k], Ring(dtype), config, seed=seeds[k],
            run_dir=tmp_path / f"solo{k}")
        solo = load_checkpoint(tmp_path / f"solo{k}" / "checkpoint.pt")
        for opt in ("opt_generator", "opt_critic"):
            for i, s in solo[opt]["state"].items():
                p = packed[opt]["state"][i]
                assert float(p["step"]) == float(s["step"]) == 20 * (2 if opt == "opt_critic"
                                                                      else 1)
                for key in ("exp_avg", "exp_avg_sq"):
                    torch.testing.assert_close(p[key].view(K, -1)[k], s[key].reshape(-1),
                                               rtol=1e-9, atol=1e-14)


def test_ring_pack_follows_the_solo_runs_float32():
    result, packed, solos = _solo_and_pack(ring_models, Ring, CONFIG, torch.float32)
    _compare(packed, solos, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("models, data", [(ring_models, Ring), (molgan_models, Graphs)])
def test_bf16_pack_follows_the_solo_runs(models, data):
    # mixed precision: the same tolerance as float32 (measured here: equal)
    config = CONFIG.replace(steps=20, precision="bf16")
    result, packed, solos = _solo_and_pack(models, data, config, torch.float32)
    _compare(packed, solos, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # MolGAN solo and packed; ring and RMSprop packs stay
def test_molgan_gumbel_pack_follows_the_solo_runs_float64():
    result, packed, solos = _solo_and_pack(molgan_models, Graphs, CONFIG, torch.float64)
    _compare(packed, solos, rtol=1e-9, atol=1e-11)
    # the Gumbel noise is on: two members from one seed would still differ in their draws
    assert packed[0].relaxation == "gumbel"


def test_per_member_histories_match_the_solo_logs(tmp_path):
    K, dtype, seeds = 3, torch.float64, [4, 5, 6]
    Gs, Ds = ring_models(K, dtype)
    dirs = [tmp_path / f"cell{k}" for k in range(K)]
    res = fit_pack(pack(Gs), pack(Ds), latents(K, dtype), [Ring(dtype) for _ in range(K)],
                   CONFIG, seeds=seeds, member_dirs=dirs)
    for k in range(K):
        solo = fit(Gs[k], Ds[k], latents(K, dtype)[k], Ring(dtype), CONFIG, seed=seeds[k])
        rows = [json.loads(line) for line in (dirs[k] / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows] == [r["step"] for r in solo.history]
        assert rows == res.members[k].history
        for a, b in zip(rows, solo.history, strict=True):
            for key in ("loss_critic", "loss_generator", "gradient_penalty", "wasserstein"):
                assert a[key] == pytest.approx(b[key], rel=1e-8, abs=1e-10)


def test_a_member_whose_loss_turns_nan_is_stopped_and_the_others_go_on():
    K, dtype, seeds = 3, torch.float64, [1, 2, 3]
    config = CONFIG.replace(steps=12, log_every=2)
    Gs, Ds = ring_models(K, dtype)
    lats = latents(K, dtype)
    lats[1].nan_after = 5          # member 1's latent returns NaN from its 6th draw (step 6)
    G, D = pack(Gs), pack(Ds)
    before = [m.state_dict() for m in unpack(G)]
    res = fit_pack(G, D, lats, [Ring(dtype) for _ in range(K)], config, seeds=seeds)
    assert res.failed == {1: 6}
    assert res.members[1].failed_at == 6 and res.members[1].steps == 5
    assert [r["step"] for r in res.members[1].history] == [2, 4]
    assert [r["step"] for r in res.members[0].history] == [2, 4, 6, 8, 10, 12]
    # member 1 is frozen at its parameters after step 5: the solo run stopped there
    g5, d5 = ring_models(K, dtype)
    fit(g5[1], d5[1], latents(K, dtype)[1], Ring(dtype), config.replace(steps=5), seed=2)
    members_g, members_d = unpack(G), unpack(D)
    _compare((pack([members_g[1]]), pack([members_d[1]])), [(g5[1], d5[1])],
             rtol=1e-9, atol=1e-11)
    assert all(torch.isfinite(p).all() for p in G.parameters())
    assert not _same(before[1], members_g[1].state_dict())
    # the others are untouched by their neighbour's failure
    for k in (0, 2):
        fit(Gs[k], Ds[k], latents(K, dtype)[k], Ring(dtype), config, seed=seeds[k])
    _compare((pack([members_g[0], members_g[2]]), pack([members_d[0], members_d[2]])),
             [(Gs[0], Ds[0]), (Gs[2], Ds[2])], rtol=1e-9, atol=1e-11)


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


class Stop(Exception):
    pass


def _latents_failing(K, dtype, failing):
    lats = latents(K, dtype)
    if failing:
        lats[2].nan_after = 5      # member 2 fails at step 6, before the checkpoint at 20
    return lats


@pytest.mark.parametrize("failing", [False, True])
def test_a_killed_pack_resumes_bit_identical(tmp_path, monkeypatch, failing):
    K, dtype, seeds = 3, torch.float32, [8, 9, 10]
    config = Config(steps=30, batch_size=16, n_critic=2, lr=1e-3, checkpoint_every=10,
                    log_every=4)
    Gs, Ds = molgan_models(K, dtype)
    graphs = [Graphs(dtype) for _ in range(K)]

    def lats():
        return _latents_failing(K, dtype, failing)

    G1, D1 = pack(Gs), pack(Ds)
    full = fit_pack(G1, D1, lats(), graphs, config,
                    seeds=seeds, run_dir=tmp_path / "full")
    # kill a second pack after step 23 (its last checkpoint is at step 20)
    import qlatent.train.engine as engine

    real_step, calls = engine.training_step, {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 23:
            raise Stop
        return real_step(*args, **kwargs)

    monkeypatch.setattr(engine, "training_step", dying)
    G2, D2 = pack(Gs), pack(Ds)
    with pytest.raises(Stop):
        fit_pack(G2, D2, lats(), graphs, config,
                 seeds=seeds, run_dir=tmp_path / "killed",
                 member_dirs=[tmp_path / f"m{k}" for k in range(K)])
    monkeypatch.setattr(engine, "training_step", real_step)
    G3, D3 = pack(Gs), pack(Ds)
    res = fit_pack(G3, D3, lats(), graphs, config,
                   seeds=seeds, run_dir=tmp_path / "killed",
                   member_dirs=[tmp_path / f"m{k}" for k in range(K)])
    assert res.resumed_from == 20
    assert res.failed == full.failed == ({2: 6} if failing else {})
    assert _same(G1.state_dict(), G3.state_dict()) and _same(D1.state_dict(), D3.state_dict())
    for k in range(K):
        assert [{**r, "seconds": 0} for r in res.members[k].history] == \
            [{**r, "seconds": 0} for r in full.members[k].history]
        rows = [json.loads(x) for x in (tmp_path / f"m{k}" / "log.jsonl").read_text().splitlines()]
        expected = [4] if failing and k == 2 else [4, 8, 12, 16, 20, 24, 28, 30]
        assert [r["step"] for r in rows] == expected


def test_resume_refuses_other_seeds_and_solo_checkpoints(tmp_path):
    K, dtype = 2, torch.float32
    config = CONFIG.replace(steps=3)
    Gs, Ds = ring_models(K, dtype)
    fit_pack(pack(Gs), pack(Ds), latents(K, dtype), [Ring(), Ring()], config, seeds=[1, 2],
             run_dir=tmp_path)
    with pytest.raises(ValueError, match=r"seeds \[1, 2\], not \[1, 3\]"):
        fit_pack(pack(Gs), pack(Ds), latents(K, dtype), [Ring(), Ring()], config,
                 seeds=[1, 3], run_dir=tmp_path)
    with pytest.raises(ValueError, match="holds a pack of 2 members"):
        fit(Gs[0], Ds[0], latents(1, dtype)[0], Ring(), config, seed=1, run_dir=tmp_path)
    fit(Gs[0], Ds[0], latents(1, dtype)[0], Ring(), config, seed=1, run_dir=tmp_path / "solo")
    Gs, Ds = ring_models(K, dtype)
    with pytest.raises(ValueError, match="holds a solo run, not a pack"):
        fit_pack(pack(Gs), pack(Ds), latents(K, dtype), [Ring(), Ring()], config,
                 seeds=[1, 2], run_dir=tmp_path / "solo")


def test_bad_inputs():
    Gs, Ds = ring_models(2, torch.float32)
    G, D = pack(Gs), pack(Ds)
    lats, data = latents(2, torch.float32), [Ring(), Ring()]
    with pytest.raises(ValueError, match=r"seeds must hold one entry per member .*\(2\), got 3"):
        fit_pack(G, D, lats, data, CONFIG, seeds=[1, 2, 3])
    with pytest.raises(TypeError, match=r"seeds must be a sequence of 2"):
        fit_pack(G, D, lats, data, CONFIG, seeds=5)
    with pytest.raises(ValueError, match=r"seeds\[1\]"):
        fit_pack(G, D, lats, data, CONFIG, seeds=[1, -2])
    with pytest.raises(ValueError, match=r"latents must hold one entry per member .*got 1"):
        fit_pack(G, D, lats[:1], data, CONFIG, seeds=[1, 2])
    with pytest.raises(ValueError, match=r"latents\[1\] has dim 3, latents\[0\] 4"):
        fit_pack(G, D, [lats[0], get("gaussian", dim=3)], data, CONFIG, seeds=[1, 2])
    with pytest.raises(ValueError, match=r"critic must have as many members as generator \(2\)"):
        fit_pack(G, pack(Ds[:1]), lats, data, CONFIG, seeds=[1, 2])
    with pytest.raises(TypeError, match=r"data\[0\] must be a data object with `sample"):
        fit_pack(G, D, lats, [object(), Ring()], CONFIG, seeds=[1, 2])
    with pytest.raises(TypeError, match="generator must be a packable network of qlatent.models"):
        fit_pack(nn.Linear(4, 2), D, lats, data, CONFIG, seeds=[1, 2])
