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
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats


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
    args = parser.parse_args()
    a, b = cells(args.run_a, args.metric), cells(args.run_b, args.metric)
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


if __name__ == "__main__":
    main()
