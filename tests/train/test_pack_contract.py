"""The pack contract in float32, as the engine's docstring and docs/experiments.md state it:
member k of a pack follows its solo run to round-off at first, then (GAN training being
chaotic, it amplifies round-off) in distribution only.

The slow test trains 12 ring seeds at the quick ring budget (configs/paper/fig2_ring_quick.toml:
2 x 256 LeakyReLU MLPs, a centred Gaussian latent of 16, batch 32, 5 critic steps, 1500 steps,
log every 100) solo and as one pack, and checks, stated in advance, that the solo and packed
interpolation rates (the ring's metric) do not differ by a paired test: Wilcoxon signed-rank,
two-sided, p > 0.01. It prints its figures (and writes them to $QLATENT_CONTRACT_REPORT).
Run once (7 Dec 2026, 716 s on a shared 2-core CPU): p = 0.75; interpolation rates 0.883 ±
0.012 solo, 0.881 ± 0.008 packed (mean ± sd).

What it does not assert: every member's first logged window within 1 % of its solo run's. That
was the first plan, and it does not hold at this budget: measured on 7 Dec 2026 (the same 12
seeds; the test prints the largest deviation, first_window_max_rel: 0.16), 7 of 12 members'
first windows equal their solo runs' to the last bit, the others differ by 0.1 %, 0.2 %,
1.4 %, 7.7 % and 16 % (the generator's loss; the critic's figures by up to 3 %): the round-off
of the batched products is amplified within the first 100 steps for some seeds. The fast test
below checks the first windows where they do hold to 1 %: three members, 40 steps of small
networks.
"""

import json
import os
import time

import pytest
import torch

from qlatent.data import SevenGaussians
from qlatent.latents import get
from qlatent.metrics import interpolation_rate
from qlatent.models import MLP, pack, unpack
from qlatent.train import Config, fit, fit_pack

QUICK = Config(steps=1500, batch_size=32, n_critic=5, gp_weight=10.0, lr=5e-4,
               betas=(0.0, 0.9), checkpoint_every=0, log_every=100)
FIGURES = ("loss_critic", "loss_generator", "gradient_penalty", "wasserstein")


def _nets(seed, hidden):
    g = torch.Generator().manual_seed(1000 + seed)
    return (MLP(16, 2, hidden=hidden, activation="leaky_relu", generator=g),
            MLP(2, 1, hidden=hidden, activation="leaky_relu", generator=g))


def _latent():
    return get("gaussian", dim=16, normalize="center")


def _rate(G, seed, n=5000):
    z = _latent().sample(n, generator=torch.Generator().manual_seed(10_000 + seed))
    with torch.no_grad():
        return interpolation_rate(G(z).double().numpy())


def solo_and_packed(seeds, config, hidden):
    """Train every seed solo and all of them as one pack; return per seed the first log rows
    and the interpolation rates (solo, packed)."""
    nets = [_nets(s, hidden) for s in seeds]
    G, D = pack([n[0] for n in nets]), pack([n[1] for n in nets])
    packed = fit_pack(G, D, [_latent() for _ in seeds], [SevenGaussians() for _ in seeds],
                      config, seeds=list(seeds))
    assert packed.failed == {}
    rows, rates = [], []
    for k, (seed, member) in enumerate(zip(seeds, unpack(G), strict=True)):
        G_k, D_k = _nets(seed, hidden)
        solo = fit(G_k, D_k, _latent(), SevenGaussians(), config, seed=seed)
        rows.append((solo.history[0], packed.members[k].history[0]))
        rates.append((_rate(G_k, seed), _rate(member.eval(), seed)))
    return rows, rates


def _assert_first_windows_agree(rows):
    for k, (solo, packed) in enumerate(rows):
        assert packed["step"] == solo["step"]
        for key in FIGURES:
            assert packed[key] == pytest.approx(solo[key], rel=0.01, abs=1e-3), (k, key)


def test_first_windows_of_a_float32_pack_follow_the_solo_runs():
    config = QUICK.replace(steps=40, log_every=20)
    rows, _ = solo_and_packed([0, 1, 2], config, hidden=(16, 16))
    _assert_first_windows_agree(rows)


@pytest.mark.slow
def test_a_float32_pack_equals_its_solo_runs_in_distribution():
    from scipy.stats import wilcoxon

    seeds = list(range(12))
    t0 = time.perf_counter()
    rows, rates = solo_and_packed(seeds, QUICK, hidden=(256, 256))
    seconds = time.perf_counter() - t0
    solo, packed = zip(*rates, strict=True)
    diffs = [a - b for a, b in rates]
    p = 1.0 if not any(diffs) else float(wilcoxon(solo, packed).pvalue)
    spread = float(torch.tensor(solo).std())
    report = {"seeds": len(seeds), "seconds": round(seconds, 1), "wilcoxon_p": p,
              "solo": solo, "packed": packed, "seed_spread_sd": spread,
              "first_window_max_rel": max(abs(b[key] - a[key]) / max(abs(a[key]), 1e-3)
                                          for a, b in rows for key in FIGURES)}
    print(json.dumps(report))
    out = os.environ.get("QLATENT_CONTRACT_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f, indent=2)
    assert p > 0.01, report
