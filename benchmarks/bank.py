"""Bank benchmarks: build a 1M-sample bank (8 photons / 16 modes), draw latents from it, memory.

Targets (issue 3): build < 30 s on the 2 cores here; a batch of 256 latents from a 1M bank in
< 50 us; a 1M x 48 bank under 100 MB. Run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bank.py [--samples 1000000] [--jobs 2]

The bank is built in a fresh temporary cache (no cache hit), after one small warm-up build so
numba's compilation is not timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def time_draws(latent, batch: int, repeats: int = 2000) -> float:
    """Median over `repeats` of the time of one sample(batch) call, in microseconds."""
    import torch

    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        latent.sample(batch, generator=g)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        latent.sample(batch, generator=g)
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--modes", type=int, default=16)
    parser.add_argument("--photons", type=int, default=8)
    args = parser.parse_args()

    os.environ["QLATENT_CACHE"] = tempfile.mkdtemp(prefix="qlatent-bench-")
    import numpy as np
    import torch

    from qlatent import latents

    torch.set_num_threads(1)
    print(f"cache {os.environ['QLATENT_CACHE']}; torch threads 1; sampler jobs {args.jobs}")
    for kind in ("quantum", "photonic"):  # compile the kernels first
        latents.build_bank(kind, "haar", 2, 1000, seed=1, n_modes=4, progress=False)
    for kind in ("quantum", "photonic"):
        t0 = time.perf_counter()
        bank = latents.build_bank(kind, "haar", args.photons, args.samples, seed=7,
                                  n_modes=args.modes, n_jobs=args.jobs, progress=False)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        latents.load_bank(bank.path)
        load = time.perf_counter() - t0
        print(f"{kind:9s} bank {args.samples} x {args.modes} ({args.photons} photons): "
              f"build {build:.1f} s ({build / args.samples * 1e6:.2f} us/sample), "
              f"verified load {load * 1e3:.0f} ms, file {bank.samples.nbytes / 1e6:.1f} MB")

    before = rss_mb()
    latent = latents.get("bank", bank=bank.path, normalize="center")
    after = rss_mb()
    print(f"BankLatent over {bank.n_samples} x {bank.n_modes}: RSS +{after - before:.1f} MB; "
          f"sample(256) median {time_draws(latent, 256):.1f} us")

    rows = np.random.default_rng(0).integers(0, 3, size=(1_000_000, 48), dtype=np.uint8)
    meta = {"key": "0" * 64, "kind": "quantum",
            "statistics": latents.column_statistics(rows)}
    before = rss_mb()
    big = latents.BankLatent(latents.Bank(rows, meta))
    after = rss_mb()
    z = big.sample(256)
    print(f"BankLatent over 1000000 x 48 uint8: buffer {big.bank.nbytes / 1e6:.0f} MB, "
          f"RSS +{after - before:.1f} MB when wrapping (shared, no copy); sample(256) median "
          f"{time_draws(big, 256):.1f} us; output {tuple(z.shape)} {z.dtype}")
    print(f"process RSS {rss_mb():.0f} MB")

    # A recording the size of the paper's PT-2 run: 500k shots of 32 time bins.
    shots = np.random.default_rng(1).integers(0, 2, size=(500_000, 32), dtype=np.uint8)
    path = os.path.join(os.environ["QLATENT_CACHE"], "pt2_like.npy")
    np.save(path, shots)
    t0 = time.perf_counter()
    hw = latents.import_bank(path, min_photons=16)
    print(f"import of a 500000 x 32 NPY recording with post-selection >= 16: "
          f"{time.perf_counter() - t0:.2f} s, kept {hw.n_samples} "
          f"(acceptance {hw.metadata['acceptance_rate']:.3f})")

    t0 = time.perf_counter()
    noisy = latents.build_bank("quantum", "haar", args.photons, 100_000, seed=7,
                               n_modes=args.modes, n_jobs=args.jobs, progress=False,
                               noise={"transmission": 0.9, "indistinguishability": 0.9})
    print(f"noisy quantum bank 100000 x {args.modes} (eta 0.9, x 0.9): "
          f"{time.perf_counter() - t0:.1f} s")
    del noisy


if __name__ == "__main__":
    main()
