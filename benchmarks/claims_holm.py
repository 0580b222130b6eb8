"""Holm-corrected paired tests for docs/claims.md, from the committed ``report_paired.csv`` files.

Each ``report_paired.csv`` that ``qlatent report`` writes (and the zoo's
``versus_best_baseline`` in ``report.json``) is one table of paired comparisons
(one anchor latent against every other, per data set, latent length and metric), with a
two-sided paired t-test and a Wilcoxon signed-rank test per row and no correction for
multiple comparisons. This script reads those files as committed and applies Holm's step-down
correction over the rows of one table (one file, one metric), separately for the t and the
Wilcoxon p-values, and prints, per row: n, the mean difference with its 95 % CI (as
committed), both raw and Holm-adjusted p-values, the smallest p an exact two-sided Wilcoxon
test can reach at that n (2 / 2^n: 0.0625 at n = 5, 0.25 at n = 3) and the verdict at
α = 0.05 after Holm (``resolved`` where both adjusted p-values are below 0.05, ``t only``
where only the t-test's is, else ``not resolved``).

    .venv/bin/python benchmarks/claims_holm.py > results/claims_holm.md

No number is computed here that the committed CSVs do not determine.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The committed tables, in the order docs/claims.md quotes them.
TABLES = (
    "results/table1_12seeds/report_paired.csv",
    "results/table1_12seeds/anchor_dirichlet_multinomial_report_paired.csv",
    "results/table1_12seeds/anchor_bernoulli_report_paired.csv",
    "results/table1_quick/report_paired.csv",
    "results/fig2_ring_full/report_paired.csv",
    "results/fig2_ring_packed/report_paired.csv",
    "results/fig2_ring_quick/report_paired.csv",
    "results/trained_latents/ring/anchor_born_quantum_report_paired.csv",
    "results/trained_latents/ring/report_paired.csv",
    "results/trained_latents/table1/report_paired.csv",
    "results/zoo/report.json",
)
ALPHA = 0.05


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    For m p-values sorted ascending p_(1) <= ... <= p_(m), the adjusted value of p_(i) is
    max_{j <= i} min(1, (m - j + 1) p_(j)) (Holm 1979); it controls the family-wise error rate.
    """
    order = sorted(range(len(pvalues)), key=lambda k: pvalues[k])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, k in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[k]))
        adjusted[k] = running
    return adjusted


def wilcoxon_floor(n: int) -> float:
    """The smallest two-sided p of the exact Wilcoxon signed-rank test with n nonzero pairs."""
    return min(1.0, 2.0 / 2 ** n)


def verdict(t_holm: float, w_holm: float) -> str:
    if t_holm < ALPHA and w_holm < ALPHA:
        return "resolved"
    if t_holm < ALPHA:
        return "t only"
    return "not resolved"


def read_rows(path: Path) -> list[dict]:
    """The paired rows of a ``report_paired.csv``, or of a ``report.json``'s
    ``versus_best_baseline`` (the zoo's tests against its best classical baseline, which its
    ``report_paired.csv`` does not hold)."""
    if path.suffix == ".json":
        rows = json.loads(path.read_text())["versus_best_baseline"]
        return [{**r, "higher_is_better": "true" if r["higher_is_better"] else "false"}
                for r in rows]
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def table(path: Path) -> str:
    """The Markdown section of one table of paired tests."""
    rows = read_rows(path)
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["metric"], []).append(row)
    out = []
    for metric, group in groups.items():
        t_holm = holm([float(r["t_pvalue"]) for r in group])
        w_holm = holm([float(r["wilcoxon_pvalue"]) for r in group])
        direction = "higher" if group[0]["higher_is_better"] == "true" else "lower"
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        out += [f"### `{name}`: {metric} ({direction} is better), "
                f"Holm over {len(group)} comparisons", "",
                "| data set | L | comparison | n | mean difference [95 % CI] | t p | t p, Holm "
                "| Wilcoxon p | Wilcoxon p, Holm | Wilcoxon floor | verdict (α = 0.05, Holm) |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for row, th, wh in zip(group, t_holm, w_holm, strict=True):
            n = int(row["n"])
            out.append(
                f"| {row['dataset']} | {row['latent_dim']} | {row['latent']} − {row['baseline']} "
                f"| {n} | {float(row['mean_difference']):+.3g} [{float(row['ci_low']):+.3g}, "
                f"{float(row['ci_high']):+.3g}] | {float(row['t_pvalue']):.2g} | {th:.2g} | "
                f"{float(row['wilcoxon_pvalue']):.2g} | {wh:.2g} | {wilcoxon_floor(n):.2g} | "
                f"{verdict(th, wh)} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", type=Path,
                        help="report_paired.csv or zoo report.json files "
                             "(default: the committed ones)")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.tables] or [ROOT / t for t in TABLES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"tables must be existing files, got missing {missing}")
    print("# Paired tests of the committed reports with Holm's correction\n")
    print("Generated by `benchmarks/claims_holm.py` from the committed `report_paired.csv` "
          "files (the zoo's from `report.json`, `versus_best_baseline`); the mean "
          "differences, CIs and raw p-values are the reports' own. Holm's "
          "step-down correction runs over the rows of one table (one file, one metric), "
          "separately for the paired t-test and the Wilcoxon signed-rank test. \"Wilcoxon "
          "floor\" is the smallest p the exact two-sided test can give at that n; where it is "
          "above 0.05 the rank test cannot resolve anything. Verdict: \"resolved\" where both "
          "Holm-adjusted p-values are < 0.05, \"t only\" where only the t-test's is, else "
          "\"not resolved\" (at this power: not evidence of no effect).\n")
    for path in paths:
        print(table(path))


if __name__ == "__main__":
    main()
