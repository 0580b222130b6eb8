"""Is bfloat16 faster than float32 for Table I's training step on this CPU? Side by side.

    .venv/bin/python benchmarks/table1_bf16.py [--threads 2] [--seconds 2] [--repeats 3]
        [--ks 1,6]

Times the real step code of the runner (``qlatent.train.training_step`` for K solo cells one
after the other, ``qlatent.train.training_step`` of one pack of K) at Table I's shapes
(2x512 ReLU generator and critic, L = 16, 16 Bernoulli bits, batch 500, n_critic 5, RMSprop)
in fp32 and in bf16 (``Config.precision``: forward passes under ``torch.autocast``), in ONE
process with the four variants interleaved round by round, so that the load of a shared
machine hits them alike. Prints cell-iterations/s per variant (median of ``--repeats`` rounds of
at least ``--seconds`` each) and the bf16 / fp32 ratios. The cells are built by
``benchmarks/pack.py``'s ``training_cells`` (the same builder as its ``train-table1`` case).

On a shared machine run it as ``OMP_WAIT_POLICY=PASSIVE`` (the package's default on import).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from pack import CLOCKS, timed, training_cells  # benchmarks/pack.py

from qlatent.train import PackState, training_step


def runner(kind: str, k: int, precision: str):
    """A closure that runs one round (one training step of each of K cells)."""
    if kind == "solo":
        advs, lats, datas, streams, config, _ = training_cells("table1", k, False, precision)

        def run() -> None:
            for a, lat, dt, st in zip(advs, lats, datas, streams, strict=True):
                training_step(a, [lat], [dt], [st], config, PackState(1), 1)
        return run
    adv, lats, datas, streams, config, state = training_cells("table1", k, True, precision)
    counter = [0]

    def run_packed() -> None:
        counter[0] += 1
        training_step(adv, lats, datas, streams, config, state, counter[0])
    return run_packed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ks", default="1,6", help="pack sizes, comma separated")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.clock} clock; "
          "Table I training step (2x512 ReLU, batch 500, n_critic 5, RMSprop)")
    print(f"  {'K':>3} {'mode':>7} {'fp32 cell-it/s':>15} {'bf16 cell-it/s':>15}  bf16/fp32")
    for k in [int(x) for x in args.ks.split(",")]:
        modes = ["solo", "packed"] if k > 1 else ["solo"]
        runs = {(m, p): runner(m, k, p) for m in modes for p in ("fp32", "bf16")}
        times: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            for key, fn in runs.items():
                times[key].append(timed(fn, args.seconds, CLOCKS[args.clock]))
        for m in modes:
            rate = {p: k / statistics.median(times[(m, p)]) for p in ("fp32", "bf16")}
            print(f"  {k:>3} {m:>7} {rate['fp32']:>15.2f} {rate['bf16']:>15.2f}  "
                  f"{rate['bf16'] / rate['fp32']:>8.2f}x", flush=True)
        print(f"      ({time.perf_counter() - t0:.0f} s for K = {k})", flush=True)


if __name__ == "__main__":
    main()
