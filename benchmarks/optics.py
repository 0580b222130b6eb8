"""Seconds per differentiable linear-optics call: forward + backward through a Clements mesh.

Cases (issue 12's targets):
  * ``log_prob`` + backward for 256 outcomes at 8 photons / 16 modes (target <= 20 ms) and at
    12 / 24 (<= 0.5 s): U(θ) from ``ClementsMesh``, the outcomes exact boson samples of that U;
  * ``output_distribution`` + backward at 4 / 8 (<= 50 ms) and 6 / 12 (<= 1 s), the loss being
    sum_S P(S)^2 (any scalar would do).
Both kinds of photons; float64 parameters (complex128 U). Each figure is the median of
``--repeats`` timed calls after one warm-up call, with the wall time and the process CPU time
(all threads); on a shared machine CPU time is the better measure of cost. Torch threads: as
set by ``--threads`` (default 1). NUMBA_NUM_THREADS defaults to 1 here: the outcomes are drawn
with the numba sampler first, and its idle OpenMP worker threads (active wait policy) were
measured to make every later small torch op several times slower in the same process
(OMP_WAIT_POLICY=passive or NUMBA_THREADING_LAYER=workqueue cure it too).

    .venv/bin/python benchmarks/optics.py [--repeats 15] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from qlatent import photonics  # noqa: E402
from qlatent.quantum import ClementsMesh, log_prob, output_distribution  # noqa: E402

TARGETS = {("log_prob", 8, 16): 0.020, ("log_prob", 12, 24): 0.5,
           ("output_distribution", 4, 8): 0.050, ("output_distribution", 6, 12): 1.0}


def measure(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up (caches: sign matrices, DP plan)
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def case(kind: str, n: int, m: int, distinguishable: bool, repeats: int) -> dict:
    mesh = ClementsMesh(m, rng=0)
    t = photonics.standard_input(m, n)
    if kind == "log_prob":
        U0 = mesh().detach().numpy()
        counts = torch.from_numpy(photonics.boson_sample(U0, t, 256, rng=1, method="clifford"))

        def step():
            mesh.zero_grad()
            lp = log_prob(mesh(), t, counts, distinguishable=distinguishable)
            (-lp.mean()).backward()
    else:
        def step():
            mesh.zero_grad()
            _, p = output_distribution(mesh(), t, distinguishable=distinguishable)
            p.square().sum().backward()
    wall, cpu = measure(step, repeats)
    target = TARGETS[(kind, n, m)]
    return {"case": kind, "n_photons": n, "n_modes": m, "distinguishable": distinguishable,
            "median_wall_s": wall, "median_cpu_s": cpu, "target_s": target,
            "meets_target_wall": wall <= target, "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for kind, n, m in TARGETS:
        for dist in (False, True):
            row = case(kind, n, m, dist, args.repeats)
            rows.append(row)
            print(f"{kind:20s} n={n:2d} m={m:2d} {'dist' if dist else 'indist':6s} "
                  f"wall {row['median_wall_s'] * 1e3:9.2f} ms  cpu {row['median_cpu_s'] * 1e3:9.2f}"
                  f" ms  target {row['target_s'] * 1e3:6.0f} ms  "
                  f"{'ok' if row['meets_target_wall'] else 'MISSED'}", flush=True)
    if args.json:
        from qlatent._io import atomic_write_json

        atomic_write_json(args.json, {"rows": rows, "torch": torch.__version__,
                                      "threads": args.threads, "machine": platform.machine(),
                                      "numpy": np.__version__})


if __name__ == "__main__":
    main()
