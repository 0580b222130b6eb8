"""IQP benchmark: one MMD^2 gradient step of a 1,024-qubit IQP circuit (issue 21).

A 32 x 32 lattice of qubits with every single gate and the open-boundary nearest-neighbour
pairs (3,008 gates), K = 1,000 operators from the Gaussian kernel's spectral distribution
(median-heuristic bandwidth of the data), S = 1,000 strings per operator group, float32:
forward (the unbiased MMD^2 estimate of ``qlatent.quantum.iqp.mmd2_estimate``) plus backward
(autograd to the 3,008 angles) plus one Adam update. Target: <= 1 s on the 2-core machine.
Run:

    OMP_NUM_THREADS=2 PYTHONPATH=src .venv/bin/python benchmarks/iqp.py [--side 32] \\
        [--ops 1000] [--samples 1000] [--groups 10] [--threads 2] [--repeats 5] [--sigma S]
    ... benchmarks/iqp.py --train 300 [--temperature 2.5] [--lr 0.01]   # a training run

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
    parser.add_argument("--train", type=int, default=0, metavar="STEPS",
                        help="instead: train IQP and bit-flip on side x side Ising data")
    parser.add_argument("--temperature", type=float, default=2.5)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()
    if args.train:
        train(args)
        return

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


def train(args: argparse.Namespace) -> None:
    """Train IQP and its bit-flip control on 2 x 1,000 Ising configurations (train / held
    out) for ``--train`` steps each; print the held-out MMD^2 (estimate ± standard error, 20
    groups of 200 operators x 1,000 strings) before and after, and the training time."""
    import torch

    from qlatent.data import ising_configurations
    from qlatent.quantum import iqp
    from qlatent.quantum.iqp_gates import lattice_gates
    from qlatent.train.iqp import IQPConfig, fit_iqp

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    d = ising_configurations(args.side, args.temperature, 2000, rng=0)
    print(f"{d.name}: {time.perf_counter() - t0:.1f} s to sample, energy "
          f"{d.info['energy']:.4f} ± {d.info['energy_se']:.4f}, tau_int(energy) "
          f"{d.info['tau_energy']:.2f} samples")
    train_rows, held_out = d.data[::2], d.data[1::2]
    gates = lattice_gates(args.side, args.side)
    sigma = iqp.median_bandwidth(train_rows, rng=0) if args.sigma is None else args.sigma
    config = IQPConfig(steps=args.train, lr=args.lr, n_ops=args.ops, n_samples=args.samples,
                       sigma=sigma, log_every=max(1, args.train // 5))

    def held_out_mmd2(theta: torch.Tensor, model: str) -> str:
        est, se = iqp.mmd2_estimate(theta, gates, held_out, sigma=sigma, n_ops=4000,
                                    n_samples=1000, n_groups=20, model=model,
                                    generator=torch.Generator().manual_seed(99))
        return f"{float(est):.3e} ± {se:.1e}"

    for model in ("iqp", "bitflip"):
        start = iqp.init_from_data(gates, train_rows)
        t0 = time.perf_counter()
        theta, result = fit_iqp(gates, train_rows, config.replace(model=model), seed=0)
        seconds = time.perf_counter() - t0
        print(f"{model:8s} sigma {sigma:.3g}: held-out MMD^2 {held_out_mmd2(start, model)} at "
              f"the data initialisation -> {held_out_mmd2(theta, model)} after {args.train} "
              f"steps ({seconds:.0f} s); training log: "
              + ", ".join(f"{row['mmd2']:.2e}" for row in result.history), flush=True)


if __name__ == "__main__":
    main()
