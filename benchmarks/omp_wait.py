"""Ring training speed after a numba sampler has run in the process (a bank build), under the
OpenMP wait policy this process was started with. Compare:

    OMP_WAIT_POLICY=active  .venv/bin/python benchmarks/omp_wait.py
    OMP_WAIT_POLICY=passive .venv/bin/python benchmarks/omp_wait.py   # qlatent's default

On a loaded machine the spinning (active) threads numba leaves behind slow torch 5-25x.
"""

import os
import time

import torch

import qlatent as ql


def main() -> None:
    latent = ql.latents.get("quantum", dim=16, seed=3, n_samples=20_000)  # numba sampler runs
    init = torch.Generator().manual_seed(0)
    G = ql.models.MLP(16, 2, hidden=(256, 256), activation="leaky_relu", generator=init)
    D = ql.models.MLP(2, 1, hidden=(256, 256), activation="leaky_relu", generator=init)
    config = ql.train.Config(steps=100, batch_size=32)
    start = time.perf_counter()
    ql.train.fit(G, D, latent, ql.data.SevenGaussians(), config, seed=0)
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}: "
          f"{100 / (time.perf_counter() - start):.1f} ring it/s, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
