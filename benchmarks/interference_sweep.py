"""Issue 22 part 3, "is it interference?": Table I's metric against the photons'
indistinguishability x and against the latent's count statistics (its Fano factor).

    .venv/bin/python benchmarks/interference_sweep.py RUN_DIR [RUN_DIR ...] [--out DIR]
        [--samples 100000]

RUN_DIRs are Table I experiment folders whose cells pair by seed (``paired_circuits``: every
stream of a cell depends only on its seed), e.g. ``results/table1_12seeds`` (x = 1 ``quantum``,
x = 0 ``photonic`` and the challengers) and a run of ``benchmarks/table1_interference.toml``
(x = 0.25, 0.5, 0.75 and their Dirichlet-multinomial challengers). For every latent it prints
and writes (``DIR/interference.md``, ``.csv``, ``.png``):

* the metric (``integer_distance``, lower is better) as mean with its 95 % CI over seeds;
* the paired difference to ``quantum`` (x = 1) with its 95 % CI (Student t, n - 1 dof) and the
  paired t-test's p, Holm-corrected over the latents compared;
* the latent's mean per-mode Fano factor F = Var(n_i) / E(n_i) (averaged over the modes i) of
  ``--samples`` raw count draws of the cell's own latent, rebuilt from its recorded parameters and
  seed (the bank's checksum is compared with the cell's record). Gaussian latents have no counts:
  no Fano factor. Bernoulli bits: F = 1 - p.

The figure has two panels: the metric against x for the quantum latent and for its matched
challenger, and the metric against F across every latent with counts. Whether the metric
follows x at fixed F (interference) or F alone (count statistics) is what it shows.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from qlatent import latents
from qlatent.experiments.stats import holm
from qlatent.latents.banks import load_bank

METRIC = "integer_distance"
ANCHOR = "quantum"
COUNT_LATENTS = ("quantum", "photonic", "dirichlet_multinomial", "shuffled", "bank")


def cells(run_dirs: list[Path]) -> dict[str, dict[int, Path]]:
    """``{latent label: {seed: cell dir}}`` over every finished cell of every run."""
    out: dict[str, dict[int, Path]] = {}
    for run in run_dirs:
        for metrics in sorted(run.glob("*/*/seed-*/metrics.json")):
            cell = metrics.parent
            label = cell.parent.name.rsplit("-L", 1)[0]
            seed = int(cell.name.removeprefix("seed-"))
            if seed in out.get(label, {}):
                raise SystemExit(f"interference_sweep: {label} seed {seed} is in two runs "
                                 f"({out[label][seed]} and {cell}); give each cell once")
            out.setdefault(label, {})[seed] = cell
    return out


def metric(cell: Path) -> float:
    return float(json.loads((cell / "metrics.json").read_text())["metrics"][METRIC])


def x_of(label: str, params: dict) -> float | None:
    """The photons' indistinguishability x of a photonic latent (None for a classical one)."""
    kind = params.get("latent", label)
    if kind == "photonic":
        return 0.0
    if kind in ("quantum", "dirichlet_multinomial", "shuffled"):
        return float(params.get("indistinguishability", 1.0))
    return None


def fano(cell: Path, label: str, n: int) -> float:
    """Mean per-mode Fano factor of ``n`` raw draws of the cell's own latent (NaN: no counts)."""
    config = tomllib.loads((cell / "config.toml").read_text())
    params = dict(config.get("latent_params", {}).get(label, {}))
    kind = params.pop("latent", label)
    if kind == "gaussian":
        return float("nan")
    params["normalize"] = "none"
    lat = latents.get(kind, dim=int(config["cell"]["latent_dim"]),
                      seed=int(config["seeds"]["latent"]), **params)  # the cell's own record
    recorded = json.loads((cell / "environment.json").read_text()).get("latent", {}).get(
        "bank_checksums", {}).get("samples.npy")
    if recorded is not None:
        built = load_bank(lat.bank_key).metadata["checksums"]["samples.npy"]
        if built != recorded:
            raise SystemExit(f"interference_sweep: the rebuilt bank of {cell} differs from its "
                             f"record (samples.npy {built[:12]} against {recorded[:12]})")
    x = lat.sample(n, generator=torch.Generator().manual_seed(0)).double()
    mean, var = x.mean(0), x.var(0)
    keep = mean > 0
    return float((var[keep] / mean[keep]).mean())


def paired(a: dict[int, float], b: dict[int, float]) -> tuple[int, float, float, float, float]:
    """n, mean of b - a, its 95 % CI and the paired t-test's p over the common seeds."""
    seeds = sorted(set(a) & set(b))
    d = np.array([b[s] - a[s] for s in seeds])
    n = len(d)
    if n < 2:
        return n, float(d.mean()) if n else math.nan, math.nan, math.nan, math.nan
    half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n)
    p = float(stats.ttest_rel([b[s] for s in seeds], [a[s] for s in seeds]).pvalue)
    return n, float(d.mean()), float(d.mean() - half), float(d.mean() + half), p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="Table I experiment folders")
    parser.add_argument("--out", type=Path, default=Path("."), help="where the report goes")
    parser.add_argument("--samples", type=int, default=100_000,
                        help="latent draws per Fano factor (default 100,000)")
    args = parser.parse_args(argv)
    for run in args.runs:
        if not run.is_dir():
            parser.error(f"RUN_DIR must be an experiment folder, got {str(run)!r}")
    if args.samples < 2:
        parser.error(f"--samples must be at least 2, got {args.samples}")
    found = cells(args.runs)
    if ANCHOR not in found:
        parser.error(f"no finished '{ANCHOR}' cell in {[str(r) for r in args.runs]}: the paired "
                     "differences need the x = 1 latent")
    values = {lab: {s: metric(c) for s, c in by_seed.items()} for lab, by_seed in found.items()}
    rows = []
    for label, by_seed in found.items():
        some = next(iter(by_seed.values()))
        params = tomllib.loads((some / "config.toml").read_text()).get(
            "latent_params", {}).get(label, {})
        v = np.array(list(values[label].values()))
        n = len(v)
        half = stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
        f = fano(some, label, args.samples)
        diff = paired(values[ANCHOR], values[label]) if label != ANCHOR else None
        rows.append({"latent": label, "kind": params.get("latent", label),
                     "x": x_of(label, params), "fano": f, "n": n, "mean": float(v.mean()),
                     "ci_low": float(v.mean() - half), "ci_high": float(v.mean() + half),
                     "diff_n": diff[0] if diff else None, "diff": diff[1] if diff else None,
                     "diff_low": diff[2] if diff else None, "diff_high": diff[3] if diff else None,
                     "p": diff[4] if diff else None})
    compared = [r for r in rows if r["p"] is not None and not math.isnan(r["p"])]
    for r, q in zip(compared, holm([r["p"] for r in compared]), strict=True):
        r["p_holm"] = q
    rows.sort(key=lambda r: (r["x"] is None, -(r["x"] or 0), r["kind"], r["latent"]))
    args.out.mkdir(parents=True, exist_ok=True)
    write(rows, args)
    return 0


def _fmt(v, spec="{:.4f}") -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else spec.format(v)


def write(rows: list[dict], args: argparse.Namespace) -> None:
    fields = ["latent", "kind", "x", "fano", "n", "mean", "ci_low", "ci_high", "diff_n", "diff",
              "diff_low", "diff_high", "p", "p_holm"]
    with open(args.out / "interference.csv", "w", newline="") as handle:
        w = csv.DictWriter(handle, fieldnames=fields)
        w.writeheader()
        w.writerows({k: r.get(k) for k in fields} for r in rows)
    lines = ["# Table I's metric against indistinguishability and count statistics", "",
             f"Command: `.venv/bin/python benchmarks/interference_sweep.py "
             f"{' '.join(map(str, args.runs))} --out {args.out} --samples {args.samples}`", "",
             f"`{METRIC}` (lower is better): mean [95 % CI] over seeds; the paired difference "
             f"latent − {ANCHOR} over the seeds both have, with its 95 % CI (Student t) and the "
             "paired t-test's p, Holm-corrected over the latents listed; F: the latent's mean "
             f"per-mode Fano factor (Var/mean of {args.samples:,} raw draws).", "",
             f"| latent | kind | x | F | n | {METRIC} [95 % CI] | − {ANCHOR} [95 % CI] | p | "
             "p (Holm) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['latent']} | {r['kind']} | {_fmt(r['x'], '{:.2f}')} | "
            f"{_fmt(r['fano'], '{:.3f}')} | {r['n']} | {_fmt(r['mean'])} "
            f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] | "
            + (f"{r['diff']:+.4f} [{r['diff_low']:+.4f}, {r['diff_high']:+.4f}] (n={r['diff_n']})"
               if r["diff"] is not None and not math.isnan(r["diff_low"]) else "–")
            + f" | {_fmt(r['p'], '{:.2g}')} | {_fmt(r.get('p_holm'), '{:.2g}')} |")
    text = "\n".join(lines) + "\n"
    (args.out / "interference.md").write_text(text)
    sys.stdout.write(text)
    plot(rows, args.out / "interference.png")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for kind, marker in (("quantum", "o"), ("photonic", "o"), ("dirichlet_multinomial", "s")):
        pts = sorted((r["x"], r["mean"], r["ci_low"], r["ci_high"]) for r in rows
                     if r["kind"] == kind and r["x"] is not None)
        if not pts:
            continue
        x, m, lo, hi = map(np.array, zip(*pts, strict=True))
        label = {"photonic": "photonic (x = 0)", "dirichlet_multinomial":
                 "Dirichlet-multinomial matched to the bank"}.get(kind, "quantum latent at x")
        left.errorbar(x, m, yerr=[m - lo, hi - m], marker=marker, capsize=3, label=label,
                      linestyle="-" if kind != "photonic" else "none")
    left.set(xlabel="indistinguishability x", ylabel=f"{METRIC} (lower is better)",
             title="metric against x (95 % CI)")
    left.legend(fontsize=8)
    for r in rows:
        if math.isnan(r["fano"]):
            continue
        right.errorbar(r["fano"], r["mean"], yerr=[[r["mean"] - r["ci_low"]],
                                                    [r["ci_high"] - r["mean"]]],
                       marker="o", capsize=3)
        right.annotate(r["latent"], (r["fano"], r["mean"]), fontsize=7,
                       xytext=(3, 3), textcoords="offset points")
    right.set(xlabel="mean per-mode Fano factor of the latent", ylabel=METRIC,
              title="metric against count statistics")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
