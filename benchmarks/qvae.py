"""Discrete VAEs on binarised 8 x 8 digits with trainable priors: qbm, bm, bernoulli_fit (and
optionally a qubit Born machine), test NLL by the IWAE bound and exactly.

Data: ``qlatent.data.binarized_digits()`` (1,797 rows, 64 bits), split once by a permutation
from seed 1234 into 1,437 training and 360 test rows (the same split for every run). For each
seed s and prior: prior ``latents.get(name, n_units, seed=s)``, networks from
``torch.Generator().manual_seed(s)``, minibatches and relaxation noise from generator 1000 + s,
so that runs of one seed are paired. ``fit_vae`` with Adam; then on the test rows the IWAE
estimate (k importance samples, generator 2000 + s) and the exact log p(x) by enumerating the
2^n latent states. Writes ``results.json`` and ``table.md`` into ``--out``. Run:

    .venv/bin/python benchmarks/qvae.py --out results/zoo/qvae
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from qlatent import latents
from qlatent._io import atomic_write_json, atomic_write_text
from qlatent.data import binarized_digits
from qlatent.experiments.stats import format_p, paired_test, summarize
from qlatent.models.vae import DiscreteVAE
from qlatent.train.vae import fit_vae

BASELINE = "bernoulli_fit"


def make_prior(name: str, n: int, seed: int):
    if name == "born_qubit":
        return latents.get("born", kind="qubit", n_qubits=n, layers=4, seed=seed)
    if name == "qbm":
        return latents.get("qbm", n_units=n, gamma=1.0, seed=seed)
    if name == "bm":
        return latents.get("bm", n_units=n, seed=seed)
    return latents.get(name, dim=n, seed=seed)


def run_one(task: tuple[str, int, argparse.Namespace]) -> dict:
    """Train and score one (prior, seed) cell; returns its row."""
    name, seed, args = task
    torch.set_num_threads(1)
    bits = torch.as_tensor(binarized_digits().data).float()
    order = np.random.default_rng(1234).permutation(bits.shape[0])
    train, test = bits[order[:1437]], bits[order[1437:]]
    start = time.perf_counter()
    prior = make_prior(name, args.latent, seed)
    model = DiscreteVAE(64, args.latent, prior, hidden=(args.hidden,),
                        generator=torch.Generator().manual_seed(seed))
    fit = fit_vae(model, train, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                  prior_lr=args.prior_lr, log_every=max(1, args.steps // 10),
                  generator=torch.Generator().manual_seed(1000 + seed))
    iwae = model.iwae(test, k=args.k, generator=torch.Generator().manual_seed(2000 + seed))
    exact = model.exact_log_prob(test)
    row = {"prior": name, "seed": seed, "iwae_nll": -float(iwae.mean()),
           "exact_nll": -float(exact.mean()), "train_elbo_last": fit.history[-1]["elbo"],
           "history": fit.history, "seconds": time.perf_counter() - start}
    if name == "qbm":
        row["gamma"] = float(prior.gamma().detach())
    print(json.dumps({k: v for k, v in row.items() if k != "history"}), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--priors", default="qbm,bm,bernoulli_fit")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--latent", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--prior-lr", type=float, default=1e-2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=1, help="processes (one thread each)")
    args = ap.parse_args()
    priors = args.priors.split(",")
    tasks = [(name, seed, args) for seed in range(args.seeds) for name in priors]
    if args.jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            rows = pool.map(run_one, tasks, chunksize=1)
    else:
        rows = [run_one(t) for t in tasks]
    table = [f"| prior | test NLL, IWAE k={args.k} (nats) | test NLL, exact (nats) | "
             f"paired difference to {BASELINE} (IWAE) | paired t p | seconds per run |",
             "|---|---|---|---|---|---|"]
    by = {name: {r["seed"]: r for r in rows if r["prior"] == name} for name in priors}
    for name in priors:
        iw = summarize([r["iwae_nll"] for r in by[name].values()])
        ex = summarize([r["exact_nll"] for r in by[name].values()])
        sec = np.mean([r["seconds"] for r in by[name].values()])
        if name != BASELINE and BASELINE in by:
            t = paired_test({s: r["iwae_nll"] for s, r in by[name].items()},
                            {s: r["iwae_nll"] for s, r in by[BASELINE].items()})
            diff = (f"{t['mean_difference']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]")
            p = format_p(t["t_pvalue"])
        else:
            diff, p = "–", "–"
        table.append(f"| {name} | {iw.format('{:.3f}')} | {ex.format('{:.3f}')} | {diff} | "
                     f"{p} | {sec:.0f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", {"args": vars(args), "runs": rows})
    atomic_write_text(out / "table.md", "\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
