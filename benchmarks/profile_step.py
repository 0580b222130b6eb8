"""Where a packed training step spends its time: ``torch.profiler`` over the real step code.

    .venv/bin/python benchmarks/profile_step.py [--case ring|table1|qm9] [--k 6]
        [--precision fp32|bf16] [--threads 1] [--steps 5] [--rows 20] [--reference]

Builds one pack of K cells exactly as ``benchmarks/pack.py``'s training cases do (the ring:
2x256 LeakyReLU, batch 32, Adam; Table I: 2x512 ReLU, batch 500, RMSprop; QM9: the paper's
generator with the Gumbel relaxation and the R-GCN critic, batch 256, Adam), runs three
warm-up steps of ``qlatent.train.training_step`` (what ``fit_pack`` runs per step),
prints the CPU seconds per step of ``--steps`` more, then profiles ``--steps`` steps and prints
the operators sorted by their own CPU time. The shares are what matter: matrix products
(``bmm``, ``baddbmm``) against the element-wise and copy traffic around them (activations and
their backward, autocast's casts, autograd's gradient sums). ``--reference`` (QM9): the
networks' arithmetic before the fast R-GCN critic (``reference_molgan.py``).
"""

from __future__ import annotations

import argparse
import time

import torch
from pack import training_cells
from torch.profiler import ProfilerActivity, profile

from qlatent.train import training_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("ring", "table1", "qm9"), default="table1")
    parser.add_argument("--k", type=int, default=6, help="members of the pack")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5, help="timed and profiled steps")
    parser.add_argument("--rows", type=int, default=20, help="operators printed")
    parser.add_argument("--reference", action="store_true",
                        help="qm9: the networks before the fast path (reference_molgan.py)")
    args = parser.parse_args()
    for name in ("k", "threads", "steps", "rows"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    adv, lats, datas, streams, config, state = training_cells(
        args.case, args.k, True, args.precision, reference=args.reference)
    step = 0

    def run(n: int) -> None:
        nonlocal step
        for _ in range(n):
            step += 1
            training_step(adv, lats, datas, streams, config, state, step)

    run(3)
    start = time.process_time()
    run(args.steps)
    seconds = (time.process_time() - start) / args.steps
    print(f"{args.case}{' (reference networks)' if args.reference else ''}, pack of {args.k}, "
          f"{args.precision}, {args.threads} thread(s): "
          f"{seconds:.3f} CPU s per step, {args.k / seconds:.1f} cell-iterations per CPU "
          f"second")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(args.steps)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
