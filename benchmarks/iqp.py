"""IQP benchmark: one MMD^2 gradient step of a 1,024-qubit IQP circuit (issue 21).

A 32 x 32 lattice of qubits with every single gate and the open-boundary nearest-neighbour
pairs (3,008 gates), K = 1,000 operators from the Gaussian kernel's spectral distribution
(median-heuristic bandwidth of the data), S = 1,000 strings per operator group, float32:
forward (the unbiased MMD^2 estimate of ``qlatent.quantum.iqp.mmd2_estimate``) plus backward
(autograd to the 3,008 angles) plus one Adam update. Target: <= 1 s on the 2-core machine.
Run:

    OMP_NUM_THREADS=2 PYTHONPATH=src .venv/bin/python benchmarks/iqp.py [--side 32] \\
        [--ops 1000] [--samples 1000] [--groups 10] [--threads 2] [--repeats 5] [--sigma S]

The data are 2,000 random rows with a planted lattice correlation (each bit copies its left
neighbour with probability 0.8), enough for the median heuristic and the data term. Prints
the median and the minimum over ``--repeats`` steps after one warm-up step, with the number
of torch threads; on a shared machine report the minimum and say it was shared. The bit-flip
control's step is timed alongside (its model side is exact: no strings). The median heuristic
gives σ ≈ 23 here (operators of about 0.5 qubits on average, so the parity matrix is sparse);
``--sigma 2`` (about 120 qubits per operator, a dense parity matrix) times the BLAS path.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=32)
    parser.add_argument("--ops", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--sigma", type=float, default=None,
                        help="kernel bandwidth (default: the median heuristic of the data)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from qlatent.quantum import iqp
    from qlatent.quantum.iqp_gates import lattice_gates

    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    gates = lattice_gates(args.side, args.side)
    n = gates.n_qubits
    rng = np.random.default_rng(0)
    data = rng.integers(0, 2, size=(2000, n), dtype=np.uint8)
    copy = rng.random((2000, n)) < 0.8
    for c in range(1, n):
        data[:, c] = np.where(copy[:, c] & (c % args.side != 0), data[:, c - 1], data[:, c])
    sigma = iqp.median_bandwidth(data, rng=0) if args.sigma is None else args.sigma
    theta = torch.nn.Parameter(iqp.init_from_data(gates, data, dtype=dtype))
    optimizer = torch.optim.Adam([theta], lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    data_t = torch.from_numpy(data)
    print(f"{gates!r}, sigma = {sigma:.3g} (operator probability "
          f"{iqp.operator_probability(sigma):.3g}), K = {args.ops}, S = {args.samples}, "
          f"R = {args.groups}, {args.dtype}, torch threads = {torch.get_num_threads()}")

    for model in ("iqp", "bitflip"):
        def step(model: str = model) -> float:
            optimizer.zero_grad()
            loss, _ = iqp.mmd2_estimate(theta, gates, data_t, sigma=sigma, n_ops=args.ops,
                                        n_samples=args.samples, n_groups=args.groups,
                                        model=model, generator=generator)
            loss.backward()
            optimizer.step()
            return float(loss.detach())

        step()  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            loss = step()
            times.append(time.perf_counter() - t0)
        print(f"{model:8s} one MMD^2 gradient step: median {statistics.median(times):.3f} s, "
              f"min {min(times):.3f} s over {args.repeats} (last loss {loss:.3g})")


if __name__ == "__main__":
    main()
