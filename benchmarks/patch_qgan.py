"""The patch quantum GAN of Huang et al. (arXiv:2010.06201) on 8 x 8 digits, against classical
MLP generators, all trained by ``qlatent.train.fit`` against the same MLP critic.

Data: scikit-learn's 8 x 8 digits of one class (default 0: 178 images), grey levels / 16 in
[0, 1], split by a seeded permutation into training and held-out images (60). Models:

* ``quantum``: ``QuantumGenerator`` (P = 4 patches of N = 5 qubits with N_A = 1 ancilla, L = 6
  layers: 120 angles), z ~ U[0, π/2)^5 (Huang et al.'s noise);
* ``mlp-small``: an MLP 5 -> 1 -> 64 with a sigmoid output (134 parameters: the quantum
  generator's size), z ~ U[0, π/2)^5;
* ``mlp``: an MLP 5 -> 64 -> 64 -> 64 with a sigmoid output (8,704 parameters), same z.

Training: ``fit`` with WGAN-GP (the default Config), batch 32, Adam lr 1e-3 for the critic
(an MLP 64 -> 128 -> 128 -> 1) and the MLP generators, lr 0.05 for the quantum generator's
angles (``Config.lr_generator``). Huang et al. train with the BCE loss, SGD (lr 0.3 / 0.01) and
batch size 1 for 500 iterations; we keep fit's defaults instead.

Score: the unbiased MMD² (``qlatent.metrics.mmd``) between 500 generated images and the
held-out images, Gaussian kernel with ONE bandwidth h fixed for every model (the median
heuristic of the training images), and as references the training images themselves and the
constant mean training image against the same held-out set.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/patch_qgan.py --seeds 0,1 --steps 400 \
        --out results/zoo/patch_qgan
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

import qlatent as ql
from qlatent._io import atomic_write
from qlatent._random import torch_generator
from qlatent.data.empirical import EmpiricalData
from qlatent.metrics.synthetic import median_bandwidth, mmd
from qlatent.models import MLP, QuantumGenerator

MODELS = ("quantum", "mlp-small", "mlp")


def load_digits(digit: int, held_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = bunch.data[bunch.target == digit].astype(np.float64) / 16.0
    order = np.random.default_rng(seed).permutation(len(images))
    return images[order[held_out:]], images[order[:held_out]]


def build(model: str, seed: int) -> torch.nn.Module:
    g = torch_generator(seed)
    if model == "quantum":
        return QuantumGenerator(64, n_patches=4, n_qubits=5, n_ancillas=1, layers=6, generator=g)
    hidden = (1,) if model == "mlp-small" else (64, 64)
    return MLP(5, 64, hidden=hidden, output_activation="sigmoid", generator=g)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-quantum", type=float, default=0.05,
                    help="the quantum generator's learning rate (Config.lr_generator; the MLP "
                         "generators and every critic use --lr)")
    ap.add_argument("--critic-hidden", default="128,128")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--digit", type=int, default=0)
    ap.add_argument("--held-out", type=int, default=60)
    ap.add_argument("--n-samples", type=int, default=500)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    critic_hidden = tuple(int(h) for h in args.critic_hidden.split(","))
    train, held = load_digits(args.digit, args.held_out, seed=1234)
    h = median_bandwidth(train, train)
    refs = {"train images": mmd(train, held, bandwidth=h),
            "mean image": mmd(np.repeat(train.mean(0, keepdims=True), 50, 0)
                              + 1e-9 * np.random.default_rng(0).standard_normal((50, 64)),
                              held, bandwidth=h)}
    print(f"digit {args.digit}: {len(train)} training, {len(held)} held-out images; h = {h:.4f}")
    for k, v in refs.items():
        print(f"  reference {k:14s} MMD² {v:.4f}")
    config = ql.train.Config(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                             log_every=max(1, args.steps // 10), checkpoint_every=0)
    latent = ql.latents.get("uniform", dim=5, high=math.pi / 2, normalize="none")
    runs, samples = [], {}
    for model in models:
        for seed in seeds:
            G = build(model, seed)
            D = MLP(64, 1, hidden=critic_hidden, generator=torch_generator(10_000 + seed))
            t0 = time.perf_counter()
            cfg = config.replace(lr_generator=args.lr_quantum) if model == "quantum" else config
            fit = ql.train.fit(G, D, latent, EmpiricalData(train), cfg, seed=seed)
            with torch.no_grad():
                z = latent.sample(args.n_samples, generator=torch_generator(20_000 + seed))
                x = G(z).double().numpy()
            score = mmd(x, held, bandwidth=h)
            n_params = sum(p.numel() for p in G.parameters())
            runs.append({"model": model, "seed": seed, "parameters": n_params,
                         "mmd2": score, "seconds": round(time.perf_counter() - t0, 1),
                         "history": fit.history})
            samples[(model, seed)] = x[:8]
            print(f"  {model:10s} seed {seed} ({n_params} parameters): MMD² {score:.4f} "
                  f"({runs[-1]['seconds']} s)")
    table = {}
    for model in models:
        vals = np.array([r["mmd2"] for r in runs if r["model"] == model])
        se = vals.std(ddof=1) / math.sqrt(len(vals)) if len(vals) > 1 else float("nan")
        table[model] = {"mean": float(vals.mean()), "se": float(se), "values": vals.tolist()}
        print(f"{model:10s} MMD² {vals.mean():.4f} ± {se:.4f} (mean ± SE over {len(vals)} seeds)")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        result = {"command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
                  "torch": torch.__version__, "python": platform.python_version(),
                  "digit": args.digit, "n_train": len(train), "n_held_out": len(held),
                  "bandwidth": h, "references": refs, "config": config.to_dict(),
                  "lr_quantum": args.lr_quantum, "critic_hidden": list(critic_hidden),
                  "summary": table, "runs": runs}
        atomic_write(args.out / "results.json",
                     lambda p: p.write_text(json.dumps(result, indent=1) + "\n"))
        figure(args.out / "samples.png", train, samples, models, seeds[0])
    return 0


def figure(path: Path, train: np.ndarray, samples: dict, models: list[str], seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("real (training)", train[:8])] + [(f"{m} (seed {seed})", samples[(m, seed)])
                                                for m in models]
    fig, axes = plt.subplots(len(rows), 8, figsize=(8, 1.1 * len(rows) + 0.3))
    for r, (label, images) in enumerate(rows):
        for c in range(8):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(8, 8), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=90, format="png"))
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
