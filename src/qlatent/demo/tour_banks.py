"""Demo section: sample banks, the classical challengers, noise and hardware import (8 / 16).

Builds (or finds in the cache) the banks behind the photonic latents, compares their low-order
statistics with the two challengers that match them (Dirichlet-multinomial: same mean occupancy
and Fano factor; shuffled: same marginals), builds a noisy quantum bank, imports it back as if
it were recorded hardware data with post-selection, and times a latent draw.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from qlatent import latents, photonics

SEED = 2026
N_MODES, N_PHOTONS = 16, 8


def tour(out_dir: Path, console: Console, *, n_samples: int = 200_000) -> None:
    """Run the section with ``n_samples`` rows per bank."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    console.rule(f"[bold]Sample banks and challengers: {N_PHOTONS} photons / {N_MODES} modes")
    banks, seconds = {}, {}
    for kind in latents.BANK_KINDS:
        start = time.perf_counter()
        banks[kind] = latents.build_bank(kind, "haar", N_PHOTONS, n_samples, SEED,
                                         n_modes=N_MODES, progress=False)
        seconds[kind] = time.perf_counter() - start
    noise = {"transmission": 0.9, "indistinguishability": 0.9}
    start = time.perf_counter()
    noisy = latents.build_bank("quantum", "haar", N_PHOTONS, n_samples // 4, SEED,
                               n_modes=N_MODES, noise=noise, progress=False)
    seconds["noisy"] = time.perf_counter() - start

    table = Table(title=f"{n_samples:,} rows per bank, one Haar circuit (seed {SEED}); "
                        "build time includes cache hits")
    for col in ("bank", "Fano", "mode var", "P(max>=2)", "sum p(s)^2", "sd(total)", "build"):
        table.add_column(col, justify="right" if col != "bank" else "left")
    rows = [(k, b.samples) for k, b in banks.items()]
    rows.append(("quantum, eta 0.9, x 0.9", noisy.samples))
    for (name, s), key in zip(rows, [*banks, "noisy"], strict=True):
        table.add_row(name, f"{photonics.fano_factor(s):.3f}",
                      f"{photonics.mode_variance(s).mean():.3f}",
                      f"{photonics.bunching_probability(s):.3f}",
                      f"{photonics.collision_probability(s):.2e}",
                      f"{s.sum(axis=1).std():.2f}", f"{seconds[key]:.1f} s")
    console.print(table)
    console.print("The Dirichlet-multinomial matches the quantum bank's Fano factor and photon "
                  "number; the shuffled bank its marginals exactly (but not the photon number). "
                  "Train on all of them to ask whether a gain is really interference.")

    # Hardware import: the noisy bank written as a CSV of shots, read back with post-selection.
    csv = out_dir / "noisy_shots.csv"
    shots = noisy.samples[:20_000]
    np.savetxt(csv, shots, fmt="%d", delimiter=",",
               header=",".join(f"mode{j}" for j in range(N_MODES)), comments="")
    imported = latents.import_bank(csv, min_photons=N_PHOTONS - 1,
                                   description="demo: simulated eta 0.9, x 0.9")
    console.print(f"imported {csv.name}: {imported.metadata['source']['raw_shots']:,} shots, "
                  f"kept {imported.n_samples:,} with >= {N_PHOTONS - 1} photons "
                  f"(acceptance {imported.metadata['acceptance_rate']:.3f}); "
                  f"bank {imported.key[:12]}")

    latent = latents.get("bank", bank=banks["quantum"], normalize="center")
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        latent.sample(256, generator=g)
    start = time.perf_counter()
    for _ in range(1000):
        z = latent.sample(256, generator=g)
    draw_us = (time.perf_counter() - start) * 1e3
    console.print(f"latent = latents.get('bank', bank=..., normalize='center'): sample(256) -> "
                  f"{tuple(z.shape)} {z.dtype} in {draw_us:.1f} us; `qlatent bank list` shows "
                  "the cached banks")
