"""Exact transverse-field Ising Gibbs states (issue 14 target): seconds per state on one core.

For each number of visible units n, random parameters (b, W ~ N(0, 0.5^2), Γ = 1, seeded) and
the wall time of

* ``eigh``: ``quantum.ising.gibbs_state`` (build H, float64 ``eigh``, P(v), log Z);
* ``chebyshev``: ``quantum.ising.gibbs_diagonal(method="chebyshev")`` (P(v) and log Z by a
  Chebyshev series of e^{-H} on every basis vector, no eigenvectors; numba, compiled first);
* ``gradient``: ``log_prob`` of a batch of 64 states and its backward pass (the exact-NLL step of
  ``BoltzmannLatent``; one eigendecomposition plus two N x N matrix products), with ``--gradient``;

the minimum over ``--repeats`` runs after one warm-up, with ``torch.set_num_threads(1)``, as
wall time and as this process's CPU time (less sensitive to a shared machine).
Targets (issue 14): the state (P and log Z) <= 0.1 s at n = 10 and <= 2 s at n = 12.

    .venv/bin/python benchmarks/ising.py --units 8,10,12 --methods eigh,chebyshev --repeats 3 \
        --gradient --out ising.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time

import numpy as np
import torch

from qlatent._io import atomic_write_json
from qlatent.quantum import ising

TARGETS = {10: 0.1, 12: 2.0}


def _parameters(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    b = rng.normal(0.0, 0.5, n)
    W = np.triu(rng.normal(0.0, 0.5, (n, n)), 1)
    return (torch.tensor(b, requires_grad=True), torch.tensor(W + W.T, requires_grad=True),
            torch.tensor(1.0, dtype=torch.float64, requires_grad=True))


def _best(fn, repeats: int, warmup: bool) -> tuple[float, float]:
    """(min wall seconds, min CPU seconds of this process) over ``repeats`` runs."""
    if warmup:
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", default="8,10,12", help="comma-separated n (<= 12)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up run")
    parser.add_argument("--methods", default="eigh,chebyshev", help="eigh and/or chebyshev")
    parser.add_argument("--gradient", action="store_true", help="also time log_prob + backward")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for n in (int(u) for u in args.units.split(",")):
        b, W, g = _parameters(n, args.seed)
        row = {"n_units": n, "states": 2**n}
        methods = args.methods.split(",")
        ising.gibbs_diagonal(b[:2], W[:2, :2], g, method="chebyshev")  # numba compilation
        if "eigh" in methods:
            row["eigh_s"], row["eigh_cpu_s"] = _best(
                lambda b=b, W=W, g=g: ising.gibbs_state(b, W, g), args.repeats,
                not args.no_warmup)
        if "chebyshev" in methods:
            row["chebyshev_s"], row["chebyshev_cpu_s"] = _best(
                lambda b=b, W=W, g=g: ising.gibbs_diagonal(b, W, g, method="chebyshev"),
                args.repeats, not args.no_warmup)
        if args.gradient:
            bits = torch.randint(0, 2, (64, n), generator=torch.Generator().manual_seed(args.seed))

            def step(b=b, W=W, g=g, bits=bits):
                ising.log_prob(b, W, g, bits).sum().backward()

            row["gradient_s"], row["gradient_cpu_s"] = _best(step, args.repeats,
                                                             not args.no_warmup)
        if n in TARGETS:
            row["target_s"] = TARGETS[n]
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"load_average": os.getloadavg()[0],
              "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(), "rows": rows}
    if args.out:
        atomic_write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
