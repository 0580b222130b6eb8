"""The finite-sample floor of the zoo's metrics: the exact target itself, scored as a cell is.

A zoo cell is scored on ``n_eval`` = 2,000 samples (``results/zoo/config.toml``, ``[task]``).
Even a model equal to the target then scores KL(p || q̂) > 0, TVD > 0 and MMD² > 0, because
q̂ is an empirical histogram of 2,000 draws (with q̂ floored at 1e-12 where it is 0, the KL of
a 1,024-state target is dominated by the states no draw hit). This script draws ``--repeats``
independent sets of ``n_eval`` samples from the exact target of each data set (bas,
cardinality, gmm; digits has no exact target, so its rows are drawn uniformly from the
training rows, the same target its ``exact_mmd`` uses) and scores each with the zoo's own
``score_samples``; it prints mean ± SD and the 2.5 / 97.5 % quantiles over the repeats, per
metric, as Markdown, and writes them as JSON.

    .venv/bin/python benchmarks/zoo_sample_floor.py --repeats 100 \
        --json results/zoo/sample_floor.json > results/zoo/sample_floor.md

The draws use ``numpy.random.default_rng(seed)`` spawned per (data set, repeat).
"""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path

import numpy as np
from scipy import stats

from qlatent.experiments.tasks.zoo import ZooParams, dataset, score_samples

#: The committed zoo: its config.toml and its cells' metrics.json.
HERE = Path(__file__).resolve().parents[1] / "results" / "zoo"
METRICS = ("exact_mmd", "kl_divergence", "total_variation", "valid_fraction")


def draw(data, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` rows (uint8 [n, width]) from the exact target, else uniformly from the rows."""
    if data.probs is not None:
        index = rng.choice(len(data.states), size=n, p=data.probs)
        return np.asarray(data.states, dtype=np.uint8)[index]
    rows = np.asarray(data.data, dtype=np.uint8)
    return rows[rng.integers(0, len(rows), size=n)]


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as ``pvalues``)."""
    order = np.argsort(pvalues)
    adjusted = np.empty(len(pvalues))
    running = 0.0
    for rank, k in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[k]))
        adjusted[k] = running
    return adjusted.tolist()


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """mean(a) − mean(b), its Welch 95 % CI and the two-sided Welch t-test p."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    diff = float(a.mean() - b.mean())
    half = float(stats.t.ppf(0.975, dof)) * se
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return diff, diff - half, diff + half, p


def against_floor(floors: dict, raw: dict, names: list[str]) -> str:
    """Markdown: every committed family's metrics against the exact target's floor."""
    lines = ["## Each family against the exact target (Welch t, Holm over the families of "
             "one data set and metric)", "",
             "| data set | metric | family | n | family mean | excess over the floor "
             "[95 % CI] | Welch p | Holm p |", "|---|---|---|---|---|---|---|---|"]
    for name in names:
        for m in ("exact_mmd", "kl_divergence", "total_variation"):
            if m not in floors.get(name, {}):
                continue
            rows = []
            for family in sorted(p.name for p in (HERE / name).iterdir() if p.is_dir()):
                cells = sorted((HERE / name / family).glob("seed-*/metrics.json"))
                v = np.array([json.loads(c.read_text())["metrics"][m] for c in cells])
                if len(v) < 2:
                    continue
                rows.append((family, v, *welch(v, np.asarray(raw[name][m]))))
            for row, p_holm in zip(rows, holm([r[5] for r in rows]), strict=True):
                family, v, diff, lo, hi, p = row
                fmt = "{:+.2e}" if m == "exact_mmd" else "{:+.4f}"
                mean = f"{v.mean():.3e}" if m == "exact_mmd" else f"{v.mean():.4f}"
                lines.append(f"| {name} | {m} | {family} | {len(v)} | {mean} | "
                             f"{fmt.format(diff)} [{fmt.format(lo)}, {fmt.format(hi)}] | "
                             f"{p:.2g} | {p_holm:.2g} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE / "config.toml")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", default="bas,cardinality,gmm,digits")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.repeats < 2:
        parser.error(f"--repeats must be >= 2, got {args.repeats}")

    with args.config.open("rb") as f:
        params = ZooParams.from_table(tomllib.load(f).get("task"), where="task")
    names = args.datasets.split(",")
    streams = np.random.SeedSequence(args.seed).spawn(len(names))
    raw: dict[str, dict[str, list[float]]] = {}
    out: dict[str, dict] = {"n_eval": params.n_eval, "repeats": args.repeats,
                            "seed": args.seed, "datasets": {}}
    print(f"# The exact target scored on n_eval = {params.n_eval} samples, "
          f"{args.repeats} repeats (seed {args.seed})\n")
    print("| data set | metric | mean ± SD | [2.5 %, 97.5 %] |")
    print("|---|---|---|---|")
    for name, stream in zip(names, streams, strict=True):
        data = dataset(name, params)
        values: dict[str, list[float]] = {m: [] for m in METRICS}
        for child in stream.spawn(args.repeats):
            scored = score_samples(draw(data, params.n_eval, np.random.default_rng(child)),
                                   data, name, params)
            for m in METRICS:
                values[m].append(float(scored[m]))
        out["datasets"][name] = {}
        raw[name] = values
        for m in METRICS:
            v = np.asarray(values[m])
            if np.isnan(v).all():
                continue
            lo, hi = np.quantile(v, [0.025, 0.975])
            row = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)),
                   "q025": float(lo), "q975": float(hi)}
            out["datasets"][name][m] = row
            fmt = "{:.3e}" if m == "exact_mmd" else "{:.4f}"
            print(f"| {name} | {m} | {fmt.format(row['mean'])} ± {fmt.format(row['sd'])} | "
                  f"[{fmt.format(lo)}, {fmt.format(hi)}] |")
    print()
    print(against_floor(out["datasets"], raw, names))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
