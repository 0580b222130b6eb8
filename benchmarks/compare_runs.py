"""Compare one metric between two runs of the same grid cell by cell (e.g. fp32 vs bf16).

    .venv/bin/python benchmarks/compare_runs.py RUN_A RUN_B [--metric integer_distance]

RUN_A and RUN_B are ``qlatent run`` output folders of the same config (same cells, same
seeds), differing in one option. Cells are matched by their path below the folder
(``<dataset>/<latent>-L<dim>/seed-<k>``); a cell present in only one run is skipped and named.
Prints, per latent and over all cells: the pairs' differences d = B − A (mean, 95 % Student-t
interval, paired t-test and Wilcoxon signed-rank p), and beside them the seed-to-seed spread of
the metric (standard deviation over the seeds of one latent in run A, pooled over latents), so
the difference can be read against seed noise. Also prints, per seed, the gap between every
latent and the first one in each run, to show whether the latents' order survives the change.

With ``--pairs A:B [A:B ...]`` (latent names, e.g. ``quantum:photonic``; a name matches the
cell folder ``A`` or ``A-L<dim>``) it also prints, per data set, a Markdown table of the paired
differences A − B with their 95 % Student-t CI: in run A over all its seeds, in run B over all
its seeds, in run A over the seeds run B has too, and the change of the difference from run A to
run B, (A − B in B) − (A − B in A), over those common seeds: whether the order survives the
change (e.g. a longer training budget), with the paired t-test, Holm's adjusted p over the
comparisons of each row kind, and the smallest difference those pairs detect at 80 % power
(``qlatent.experiments.stats``).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from qlatent.experiments.stats import format_number, format_p, holm, paired_test


def cells(root: Path, metric: str) -> dict[tuple[str, str, str], float]:
    out = {}
    for path in sorted(root.glob("*/*/seed-*/metrics.json")):
        rel = path.parent.relative_to(root).parts
        values = json.loads(path.read_text())
        values = values.get("metrics", values)
        if metric not in values:
            raise SystemExit(f"{path}: no metric {metric!r}; it has {', '.join(values)}")
        out[rel] = float(values[metric])
    if not out:
        raise SystemExit(f"RUN: no finished cells (*/*/seed-*/metrics.json) under {root}")
    return out


def describe(d: np.ndarray) -> str:
    n = len(d)
    mean = float(d.mean())
    if n < 2:
        return f"n = {n}, mean d = {mean:+.5f}"
    se = float(d.std(ddof=1)) / math.sqrt(n)
    half = float(stats.t.ppf(0.975, n - 1)) * se
    t_p = float(stats.ttest_rel(d, np.zeros(n)).pvalue) if se > 0 else float("nan")
    w_p = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else float("nan")
    return (f"n = {n}, mean d = {mean:+.5f} [{mean - half:+.5f}, {mean + half:+.5f}], "
            f"sd(d) = {float(d.std(ddof=1)):.5f}, paired t p = {t_p:.3g}, Wilcoxon p = {w_p:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--metric", default="integer_distance")
    parser.add_argument("--pairs", nargs="+", default=[], metavar="A:B",
                        help="latent pairs whose difference is compared between the runs")
    args = parser.parse_args()
    a, b = cells(args.run_a, args.metric), cells(args.run_b, args.metric)
    pairs = [check_pair(pair, set(a) | set(b)) for pair in args.pairs]
    only = sorted(set(a) ^ set(b))
    if only:
        print("skipped (in one run only):", ", ".join("/".join(k) for k in only))
    keys = sorted(set(a) & set(b))
    by_latent: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for key in keys:
        by_latent[key[:2]].append(key)
    print(f"{args.metric}: B − A, B = {args.run_b}, A = {args.run_a}")
    print(f"{'cell':>28} {'A':>9} {'B':>9} {'B − A':>9}")
    for key in keys:
        print(f"{'/'.join(key):>28} {a[key]:>9.5f} {b[key]:>9.5f} {b[key] - a[key]:>+9.5f}")
    sds = []
    for group, members in by_latent.items():
        d = np.array([b[k] - a[k] for k in members])
        values = np.array([a[k] for k in members])
        sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
        sds.append((sd, len(values)))
        print(f"{'/'.join(group)}: {describe(d)}; seed-to-seed sd in A = {sd:.5f}")
    d_all = np.array([b[k] - a[k] for k in keys])
    dof = sum(n - 1 for _, n in sds)
    pooled = (math.sqrt(sum(sd**2 * (n - 1) for sd, n in sds if n > 1) / dof) if dof
              else float("nan"))
    print(f"all cells: {describe(d_all)}")
    print(f"pooled seed-to-seed sd in A = {pooled:.5f}; |mean d| / sd = "
          f"{abs(float(d_all.mean())) / pooled:.2f}")
    datasets = sorted({k[0] for k in keys})
    for ds in datasets:
        groups = sorted({k[1] for k in keys if k[0] == ds})
        if len(groups) < 2:
            continue
        first = groups[0]
        for other in groups[1:]:
            for name, run in (("A", a), ("B", b)):
                seeds = sorted({k[2] for k in keys if k[0] == ds and k[1] in (first, other)})
                gaps = [run[(ds, other, s)] - run[(ds, first, s)] for s in seeds
                        if (ds, other, s) in run and (ds, first, s) in run]
                print(f"{ds}: {other} − {first} in {name}: "
                      + ", ".join(f"{g:+.4f}" for g in gaps)
                      + f"  (mean {np.mean(gaps):+.4f})")

    if pairs:
        print()
        print(pair_table(a, b, pairs, args.metric))


def check_pair(pair: str, keys: set[tuple[str, str, str]]) -> tuple[str, str]:
    first, sep, second = pair.partition(":")
    names = {k[1] for k in keys}
    for name in (first, second):
        if not sep or not any(matches(name, folder) for folder in names):
            raise SystemExit(f"compare_runs: --pairs takes A:B with two latents of the runs "
                             f"(cell folders {', '.join(sorted(names))}), got {pair!r}")
    return first, second


def matches(name: str, folder: str) -> bool:
    return folder == name or (folder.startswith(name + "-L") and folder[len(name) + 2:].isdigit())


def by_seed(run: dict[tuple[str, str, str], float], dataset: str, name: str) -> dict[int, float]:
    """seed -> value of the cells of latent ``name`` on ``dataset`` (one latent dimension)."""
    found = {(folder, int(seed.removeprefix("seed-"))): value
             for (ds, folder, seed), value in run.items()
             if ds == dataset and matches(name, folder)}
    folders = sorted({folder for folder, _ in found})
    if len(folders) > 1:
        raise SystemExit(f"compare_runs: latent {name!r} has cells of several sizes on "
                         f"{dataset} ({', '.join(folders)}); name one folder in --pairs")
    return {seed: value for (_, seed), value in found.items()}


def pair_table(a: dict[tuple[str, str, str], float], b: dict[tuple[str, str, str], float],
               pairs: list[tuple[str, str]], metric: str) -> str:
    """Markdown: the paired difference of every pair in each run and its change between them."""
    kinds = ("run A, all its seeds", "run B, all its seeds", "run A, the common seeds",
             "change (run B − run A), the common seeds")
    rows: list[tuple[str, str, str, dict]] = []
    for ds in sorted({k[0] for k in a} | {k[0] for k in b}):
        for first, second in pairs:
            gaps = [seed_gaps(run, ds, first, second) for run in (a, b)]
            if not gaps[0] and not gaps[1]:
                continue
            common = sorted(set(gaps[0]) & set(gaps[1]))
            name = f"{first} − {second}"
            tests = (against_zero(gaps[0]), against_zero(gaps[1]),
                     against_zero({s: gaps[0][s] for s in common}),
                     paired_test({s: gaps[1][s] for s in common},
                                 {s: gaps[0][s] for s in common}))
            rows.extend((ds, name, kind, r) for kind, r in zip(kinds, tests, strict=True))
    adjusted = [math.nan] * len(rows)
    for kind in kinds:
        index = [i for i, row in enumerate(rows) if row[2] == kind]
        for i, p in zip(index, holm(rows[i][3]["t_pvalue"] for i in index), strict=True):
            adjusted[i] = p
    lines = [f"{metric}: d = first latent − second latent per seed (the change row: d in run "
             f"B − d in run A); 95 % "
             f"Student-t CI; paired t-test; Holm over the comparisons of each row kind; "
             f"detectable = the smallest difference those pairs detect at 80 % power "
             f"(α = 0.05)", "",
             "| data set | comparison | rows | n | mean difference [95 % CI] | t-test p | Holm p "
             "| detectable at 80 % power | verdict (α = 0.05, Holm) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (ds, name, kind, r), p_holm in zip(rows, adjusted, strict=True):
        ci = (f"[{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]" if math.isfinite(r["ci_low"])
              else "(no interval)")
        lines.append(f"| {ds} | {name} | {kind} | {r['n']} | {r['mean_difference']:+.3g} {ci} "
                     f"| {format_p(r['t_pvalue'])} | {format_p(p_holm)} | "
                     f"{format_number(r['detectable_difference'], '{:.3g}')} | "
                     f"{verdict(r, p_holm, name, kind == kinds[3])} |")
    return "\n".join(lines)


def seed_gaps(run: dict[tuple[str, str, str], float], dataset: str, first: str,
              second: str) -> dict[int, float]:
    """seed -> (first − second) on ``dataset``, over the seeds where both cells finished."""
    x, y = by_seed(run, dataset, first), by_seed(run, dataset, second)
    return {seed: x[seed] - y[seed] for seed in sorted(set(x) & set(y))}


def against_zero(d: dict[int, float]) -> dict:
    return paired_test(d, dict.fromkeys(d, 0.0))


def verdict(r: dict, p_holm: float, name: str, change: bool) -> str:
    if r["n"] < 2:
        return "no test (n < 2)"
    if not p_holm < 0.05:
        return "not resolved at this power"
    if change:
        return f"{name} {'higher' if r['mean_difference'] > 0 else 'lower'} in run B"
    first, second = name.split(" − ")
    return f"{first if r['mean_difference'] < 0 else second} lower"


if __name__ == "__main__":
    main()
