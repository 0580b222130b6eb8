"""Demo section: quantum versus photonic latents at 8 photons / 16 modes (Haar).

Draws exact samples of indistinguishable photons ("quantum" latent) and of distinguishable
photons ("photonic" latent) through one Haar-random interferometer, prints their statistics side
by side, checks the boson sampler against exact probabilities on a small system, and saves a
plot of the two count distributions to ``out_dir/latent_counts.png``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from qlatent._validation import check_int
from qlatent.experiments.plotting import figure
from qlatent.photonics import (
    boson_sample,
    bunching_probability,
    distinguishable_sample,
    fano_factor,
    haar_unitary,
    mean_occupancy,
    mode_variance,
    photon_number_histogram,
    probability_of_count,
    reference,
    standard_input,
    total_variation_distance,
)

SEED = 2026
N_MODES, N_PHOTONS = 16, 8


def tour(out_dir: Path, console: Console, *, n_samples: int = 200_000,
         n_check: int = 100_000) -> None:
    """Run the section; ``n_samples`` latents of each kind, ``n_check`` for the exactness check."""
    n_samples = check_int("n_samples", n_samples, minimum=1)
    n_check = check_int("n_check", n_check, minimum=1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]Photonic latents: 8 photons in 16 modes (Haar)")
    seeds = np.random.SeedSequence(SEED).spawn(4)
    U = haar_unitary(N_MODES, rng=seeds[0])
    t = standard_input(N_MODES, N_PHOTONS)

    start = time.perf_counter()
    quantum = boson_sample(U, t, n_samples, rng=seeds[1])
    t_quantum = time.perf_counter() - start
    start = time.perf_counter()
    photonic = distinguishable_sample(U, t, n_samples, rng=seeds[2])
    t_photonic = time.perf_counter() - start

    table = Table(title=f"{n_samples:,} exact samples each, seed {SEED}")
    table.add_column("statistic")
    table.add_column("quantum (indistinguishable)", justify="right")
    table.add_column("photonic (distinguishable)", justify="right")
    mq, mp = mean_occupancy(quantum), mean_occupancy(photonic)
    rows = [
        ("mean occupancy (mean over modes)", f"{mq.mean():.4f}", f"{mp.mean():.4f}"),
        ("max_j |mean occupancy q - p|", f"{np.abs(mq - mp).max():.4f}", ""),
        ("per-mode variance (mean over modes)", f"{mode_variance(quantum).mean():.4f}",
         f"{mode_variance(photonic).mean():.4f}"),
        ("Fano factor (mean of var/mean)", f"{fano_factor(quantum):.3f}",
         f"{fano_factor(photonic):.3f}"),
        ("bunching probability P(some mode >= 2)", f"{bunching_probability(quantum):.4f}",
         f"{bunching_probability(photonic):.4f}"),
        ("P(some mode >= 3)", f"{probability_of_count(quantum, 3):.4f}",
         f"{probability_of_count(photonic, 3):.4f}"),
        ("P(s_j = 3), mean over modes", f"{_count_probability(quantum, 3):.4f}",
         f"{_count_probability(photonic, 3):.4f}"),
        ("sampler time (incl. compile / table)", f"{t_quantum:.2f} s", f"{t_photonic:.2f} s"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)

    # exactness check on a system small enough to enumerate with the slow reference
    m, n = 6, 3
    Us = haar_unitary(m, rng=seeds[3])
    ts = standard_input(m, n)
    states, probs = reference.output_distribution(Us, ts)
    dstates, dprobs = reference.distinguishable_output_distribution(Us, ts)
    check = Table(title=f"sampler vs exact probabilities: {n} photons / {m} modes, "
                        f"{len(states)} states, N = {n_check:,}")
    check.add_column("samples")
    check.add_column("exact distribution")
    check.add_column("TVD", justify="right")
    check.add_column("noise level E[TVD]", justify="right")
    check.add_column("bound E + 3/sqrt(N)", justify="right")
    gen = np.random.default_rng(seeds[3])
    runs = [
        ("boson_sample clifford", boson_sample(Us, ts, n_check, rng=gen, method="clifford"),
         "indistinguishable", states, probs),
        ("boson_sample table", boson_sample(Us, ts, n_check, rng=gen, method="table"),
         "indistinguishable", states, probs),
        ("distinguishable_sample", distinguishable_sample(Us, ts, n_check, rng=gen),
         "distinguishable", dstates, dprobs),
        ("boson_sample clifford", boson_sample(Us, ts, n_check, rng=gen, method="clifford"),
         "distinguishable (control: must fail)", dstates, dprobs),
    ]
    for name, samples, label, S, p in runs:
        tvd = total_variation_distance(samples, S, p)
        noise = 0.5 * np.sum(np.sqrt(p * (1 - p) / n_check))
        bound = noise + 3 / np.sqrt(n_check)
        verdict = "[green]" if tvd <= bound else "[red]"
        check.add_row(name, label, f"{verdict}{tvd:.4f}", f"{noise:.4f}", f"{bound:.4f}")
    console.print(check)
    console.print(f"3/sqrt(N) = {3 / np.sqrt(n_check):.4f}; a correct sampler's TVD exceeds "
                  "E[TVD] + 3/sqrt(N) with probability <= e^-18 (McDiarmid).")

    path = out_dir / "latent_counts.png"
    _plot(quantum, photonic, path)
    console.print(f"plot of the count distributions: {path}")


def _count_probability(samples: np.ndarray, c: int) -> float:
    h = photon_number_histogram(samples)
    return float(h[c]) if c < len(h) else 0.0


def _plot(quantum: np.ndarray, photonic: np.ndarray, path: Path) -> None:
    top = int(max(quantum.max(), photonic.max()))
    hq = photon_number_histogram(quantum, top)
    hp = photon_number_histogram(photonic, top)
    mq = np.bincount(quantum.max(axis=1), minlength=top + 1) / len(quantum)
    mp = np.bincount(photonic.max(axis=1), minlength=top + 1) / len(photonic)
    c = np.arange(top + 1)
    with figure(path, ncols=2, figsize=(10, 4)) as (fig, axes):
        for ax, (q, p, title) in zip(
                axes[0], [(hq, hp, "photons in one mode, P(s_j = c)"),
                          (mq, mp, "largest count in a sample, P(max_j s_j = c)")], strict=True):
            ax.bar(c - 0.2, np.where(q > 0, q, np.nan), width=0.4, label="quantum")
            ax.bar(c + 0.2, np.where(p > 0, p, np.nan), width=0.4, label="photonic")
            ax.set_yscale("log")
            ax.set_xlabel("c")
            ax.set_title(title)
            ax.legend()
        fig.suptitle(f"{N_PHOTONS} photons, {N_MODES} modes, Haar; {len(quantum):,} samples "
                     "each")
