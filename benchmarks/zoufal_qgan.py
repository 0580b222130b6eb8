"""The QGAN of Zoufal, Lucchi & Woerner (arXiv:1904.00043): a 3-qubit Born machine learns a
discretised log-normal adversarially; scored by the KS statistic and the relative entropy.

Target: ``qlatent.data.log_normal(3)`` (μ = 1, σ = 1 of log X, the 8 grid points 0..7, as the
paper). Per seed: 20,000 training samples drawn from it (rng = seed), 20 epochs of batch 2,000
(200 updates), as the paper. Generator: ``quantum.qubits.LayeredAnsatz(3, layers, "ring")``
(general rotations and a CNOT ring; the paper uses RY layers with CZ entanglers, depth k = 1..3)
started near the uniform distribution (``train.born_gan.near_uniform_weights``, spread 0.1:
the paper's "uniform initialisation"). Discriminator: an MLP 3 -> 50 -> 20 -> 1 (leaky ReLU) on
the bit vectors (the paper's 50 / 20 network reads the value). Both trained by
``train.fit_born_gan``: Adam with AMSGrad, lr 3e-3 (generator) and 1e-3 (discriminator), the
generator's loss an exact expectation over the 8 states (see that module).

Scores (``qlatent.metrics.discrete``, exact, on the final Born distribution p_θ):
KS = max_k |F_θ(k) - F(k)| and RE = KL(p_θ || target) in nats.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/zoufal_qgan.py --seeds 0,1,2,3,4 \
        --out results/zoo/zoufal_qgan
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from qlatent._io import atomic_write
from qlatent._random import torch_generator
from qlatent.data import log_normal
from qlatent.metrics.discrete import ks_statistic, relative_entropy
from qlatent.models import MLP
from qlatent.quantum.qubits import LayeredAnsatz
from qlatent.train.born_gan import BornGANConfig, fit_born_gan, near_uniform_weights


def run(seed: int, *, layers: int, epochs: int, n_train: int, batch_size: int,
        lr_generator: float, lr_discriminator: float) -> dict:
    target = log_normal(3)
    rows = target.sample(n_train, generator=torch.Generator().manual_seed(seed))
    born = near_uniform_weights(LayeredAnsatz(3, layers, entangler="ring"), rng=seed)
    D = MLP(3, 1, hidden=(50, 20), generator=torch_generator(seed))
    p0 = born.probabilities().detach().numpy()
    per_epoch = math.ceil(n_train / batch_size)
    config = BornGANConfig(steps=epochs * per_epoch, log_every=per_epoch, batch_size=batch_size,
                           lr_generator=lr_generator, lr_discriminator=lr_discriminator)
    result = fit_born_gan(born, D, rows, config, seed=seed)
    curve = [{"epoch": h["step"] // per_epoch, "ks": ks_statistic(p, target.probs),
              "relative_entropy": relative_entropy(p, target.probs),
              "loss_discriminator": h["loss_discriminator"],
              "loss_generator": h["loss_generator"]}
             for h, p in zip(result.history, result.extra["probabilities"], strict=True)]
    p = np.array(result.extra["probabilities"][-1])
    return {"seed": seed, "initial_ks": ks_statistic(p0, target.probs),
            "ks": ks_statistic(p, target.probs), "relative_entropy": relative_entropy(
                p, target.probs), "probabilities": p.tolist(), "seconds": result.seconds,
            "curve": curve}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--n-train", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--lr-generator", type=float, default=3e-3)
    ap.add_argument("--lr-discriminator", type=float, default=1e-3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    for seed in seeds:
        r = run(seed, layers=args.layers, epochs=args.epochs, n_train=args.n_train,
                batch_size=args.batch_size, lr_generator=args.lr_generator,
                lr_discriminator=args.lr_discriminator)
        runs.append(r)
        print(f"seed {seed}: KS {r['initial_ks']:.4f} -> {r['ks']:.4f}, RE "
              f"{r['relative_entropy']:.4f} ({r['seconds']:.1f} s)", flush=True)
    summary = {}
    for key in ("ks", "relative_entropy"):
        v = np.array([r[key] for r in runs])
        se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
        summary[key] = {"mean": float(v.mean()), "se": float(se), "max": float(v.max()),
                        "values": v.tolist()}
        print(f"{key}: {v.mean():.4f} ± {se:.4f} (mean ± SE), max {v.max():.4f}, "
              f"over {len(v)} seeds")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        out = {"command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
               "torch": torch.__version__, "python": platform.python_version(),
               "target": log_normal(3).probs.tolist(), "args": {
                   k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "summary": summary, "runs": runs}
        atomic_write(args.out / "results.json",
                     lambda p: p.write_text(json.dumps(out, indent=1) + "\n"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
