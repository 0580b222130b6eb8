"""Discrete VAEs on binarised 8 x 8 digits or 4 x 4 bars-and-stripes with trainable priors: qbm,
bm, bernoulli_fit (and optionally a qubit Born machine), NLL by the IWAE bound and exactly.

Data: ``qlatent.data.binarized_digits()`` (1,797 rows, 64 bits), split once by a permutation
from seed 1234 into 1,437 training and 360 test rows (the same split for every run). For each
seed s and prior: prior ``latents.get(name, n_units, seed=s)``, networks from
``torch.Generator().manual_seed(s)``, minibatches and relaxation noise from generator 1000 + s,
so that runs of one seed are paired. ``fit_vae`` with Adam; then on the test rows the IWAE
estimate (k importance samples, generator 2000 + s) and the exact log p(x) by enumerating the
2^n latent states. Writes ``results.json`` and ``table.md`` into ``--out``. Run:

    .venv/bin/python benchmarks/qvae.py --out results/zoo/qvae

``--data bas``: ``qlatent.data.bars_and_stripes(4)``, the 30 patterns of 16 pixels with the
uniform target q. There is no held-out set: the model trains on the 30 patterns and is scored by
the exact NLL of the target, the cross-entropy -sum_x q(x) log p(x) (floor log 30 = 3.401 nats),
its KL(q || p) = NLL - log 30, the probability mass p puts on the 30 patterns, and the IWAE
estimate of the same NLL; the paired comparisons use the exact NLL. Same seeds and streams as
above. Run (small latent and budget; about 5 minutes on 2 cores):

    .venv/bin/python benchmarks/qvae.py --data bas --out results/zoo/qvae/bas --latent 5 \
        --hidden 64 --steps 5000 --lr 1e-2 --priors qbm,bm,bernoulli_fit,born_qubit --jobs 2
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
from qlatent.data import bars_and_stripes, binarized_digits
from qlatent.experiments.stats import format_p, paired_test, summarize
from qlatent.models.vae import DiscreteVAE
from qlatent.train.vae import fit_vae

BASELINE = "bernoulli_fit"
BAS_SIZE = 4


def load_data(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(training rows, scored rows) of the data set ``name`` as float 0/1 tensors."""
    if name == "bas":
        bits = torch.as_tensor(bars_and_stripes(BAS_SIZE).data).float()
        return bits, bits
    bits = torch.as_tensor(binarized_digits().data).float()
    order = np.random.default_rng(1234).permutation(bits.shape[0])
    return bits[order[:1437]], bits[order[1437:]]


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
    train, test = load_data(args.data)
    start = time.perf_counter()
    cpu_start = time.process_time()
    prior = make_prior(name, args.latent, seed)
    model = DiscreteVAE(train.shape[1], args.latent, prior, hidden=(args.hidden,),
                        generator=torch.Generator().manual_seed(seed))
    fit = fit_vae(model, train, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                  prior_lr=args.prior_lr, log_every=max(1, args.steps // 10),
                  generator=torch.Generator().manual_seed(1000 + seed))
    iwae = model.iwae(test, k=args.k, generator=torch.Generator().manual_seed(2000 + seed))
    exact = model.exact_log_prob(test)
    row = {"prior": name, "seed": seed, "iwae_nll": -float(iwae.mean()),
           "exact_nll": -float(exact.mean()), "train_elbo_last": fit.history[-1]["elbo"],
           "history": fit.history, "seconds": time.perf_counter() - start,
           "cpu_seconds": time.process_time() - cpu_start}
    if args.data == "bas":
        row["kl"] = row["exact_nll"] - float(np.log(test.shape[0]))
        row["mass_on_patterns"] = float(exact.exp().sum())
    if name == "qbm":
        row["gamma"] = float(prior.gamma().detach())
    print(json.dumps({k: v for k, v in row.items() if k != "history"}), flush=True)
    return row


def paired(by: dict, a: str, b: str, key: str) -> tuple[str, str]:
    """'mean [95 % CI]' of a - b over the shared seeds and its paired t p, on ``key``."""
    t = paired_test({s: r[key] for s, r in by[a].items()}, {s: r[key] for s, r in by[b].items()})
    return (f"{t['mean_difference']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]",
            format_p(t["t_pvalue"]))


def digits_table(by: dict, args: argparse.Namespace) -> list[str]:
    table = [f"| prior | test NLL, IWAE k={args.k} (nats) | test NLL, exact (nats) | "
             f"paired difference to {BASELINE} (IWAE) | paired t p | seconds per run |",
             "|---|---|---|---|---|---|"]
    for name in by:
        iw = summarize([r["iwae_nll"] for r in by[name].values()])
        ex = summarize([r["exact_nll"] for r in by[name].values()])
        sec = np.mean([r["seconds"] for r in by[name].values()])
        if name != BASELINE and BASELINE in by:
            diff, p = paired(by, name, BASELINE, "iwae_nll")
        else:
            diff, p = "–", "–"
        table.append(f"| {name} | {iw.format('{:.3f}')} | {ex.format('{:.3f}')} | {diff} | "
                     f"{p} | {sec:.0f} |")
    return table


def bas_table(by: dict, args: argparse.Namespace) -> list[str]:
    """Exact NLL of the uniform target (floor log 30), its KL, the mass on the patterns, the
    IWAE estimate, paired differences on the exact NLL; then every prior pair; then per seed."""
    table = [f"| prior | NLL of target, exact (nats) | KL(q ‖ p) (nats) | p-mass on the 30 "
             f"patterns | NLL, IWAE k={args.k} (nats) | paired difference to {BASELINE} "
             f"(exact) | paired t p | seconds per run (wall / CPU) |",
             "|---|---|---|---|---|---|---|---|"]
    for name in by:
        rs = by[name].values()
        ex, kl, mass, iw = (summarize([r[k] for r in rs]) for k in
                            ("exact_nll", "kl", "mass_on_patterns", "iwae_nll"))
        wall, cpu = np.mean([r["seconds"] for r in rs]), np.mean([r["cpu_seconds"] for r in rs])
        if name != BASELINE and BASELINE in by:
            diff, p = paired(by, name, BASELINE, "exact_nll")
        else:
            diff, p = "–", "–"
        table.append(f"| {name} | {ex.format('{:.3f}')} | {kl.format('{:.3f}')} | "
                     f"{mass.format('{:.3f}')} | {iw.format('{:.3f}')} | {diff} | {p} | "
                     f"{wall:.0f} / {cpu:.0f} |")
    names = list(by)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
             if BASELINE not in (a, b)]
    if pairs:
        table += ["", "| paired difference (exact NLL) | mean [95 % CI] | paired t p |",
                  "|---|---|---|"]
        for a, b in pairs:
            diff, p = paired(by, a, b, "exact_nll")
            table.append(f"| {a} − {b} | {diff} | {p} |")
    seeds = sorted({s for rs in by.values() for s in rs})
    table += ["", "| seed | " + " | ".join(f"{n} exact / IWAE" for n in names) + " |",
              "|---|" + "---|" * len(names)]
    for s in seeds:
        cells = [f"{by[n][s]['exact_nll']:.4f} / {by[n][s]['iwae_nll']:.4f}" if s in by[n]
                 else "–" for n in names]
        table.append(f"| {s} | " + " | ".join(cells) + " |")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", choices=("digits", "bas"), default="digits",
                    help="binarised 8 x 8 digits (train/test split) or 4 x 4 bars-and-stripes")
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
    by = {name: {r["seed"]: r for r in rows if r["prior"] == name} for name in priors}
    table = bas_table(by, args) if args.data == "bas" else digits_table(by, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", {"args": vars(args), "runs": rows})
    atomic_write_text(out / "table.md", "\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
