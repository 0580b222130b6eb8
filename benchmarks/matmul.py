"""Batched matrix products at the packs' shapes, fp32 against bf16: what the CPU's matrix units
give, to read the pack benchmarks against.

    .venv/bin/python benchmarks/matmul.py [--threads 1] [--repeats 20]

For each shape (K members, B rows, in, out) it times ``torch.baddbmm(bias, x, w)`` with
``x [K, B, in]`` and ``w [K, in, out]``, in float32 and in bfloat16, and prints GFLOP/s
(2·K·B·in·out per product). The shapes: the ring's hidden layer in a pack of 64 (B = 32,
256 × 256), Table I's in a pack of 16 (B = 500, 512 × 512) and solo, and a QM9 critic layer
in a pack of 16 (B·n = 256·9 rows, 128 × 128).
"""

from __future__ import annotations

import argparse
import time

import torch

SHAPES = {"ring, K = 64": (64, 32, 256, 256), "Table I, K = 16": (16, 500, 512, 512),
          "Table I, solo": (1, 500, 512, 512), "QM9 critic, K = 16": (16, 256 * 9, 128, 128)}


def rate(k: int, b: int, n_in: int, n_out: int, dtype: torch.dtype, repeats: int) -> float:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(k, b, n_in, generator=g).to(dtype)
    w = torch.randn(k, n_in, n_out, generator=g).to(dtype)
    bias = torch.randn(k, 1, n_out, generator=g).to(dtype)
    torch.baddbmm(bias, x, w)  # warm-up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            torch.baddbmm(bias, x, w)
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * k * b * n_in * n_out / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s); baddbmm GFLOP/s, best of 3 "
          f"rounds of {args.repeats}")
    print(f"  {'shape':<20} {'fp32':>8} {'bf16':>8}")
    for name, shape in SHAPES.items():
        fp32 = rate(*shape, torch.float32, args.repeats)
        bf16 = rate(*shape, torch.bfloat16, args.repeats)
        print(f"  {name:<20} {fp32:>8.0f} {bf16:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
