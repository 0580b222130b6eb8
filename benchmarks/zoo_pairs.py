"""Paired comparisons between chosen families of one experiment folder, Holm-corrected.

    .venv/bin/python benchmarks/zoo_pairs.py RUN_DIR A:B [A:B ...] [--metric exact_mmd]

Each ``A:B`` names two latents (families) of the run; on every data set where both have cells,
the seeds both finished pair up (d = A - B, lower metric is better for MMD², KL, TVD). Prints a
Markdown table: data set, comparison, n, mean difference with its 95 % Student-t CI, the paired
t-test's p and Holm's adjusted p over every row printed (``qlatent.experiments.stats``), the
smallest difference those pairs detect with 80 % power (unadjusted α = 0.05, from the observed
SD of the differences), and a verdict at α = 0.05 on the adjusted p ("not resolved at this
power" where it is not below).
Reads only the cells' ``metrics.json`` (``<dataset>/<latent>/seed-<k>`` or ``...-L<dim>``).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from qlatent.experiments.stats import format_p, holm, paired_test


def values(root: Path, metric: str) -> dict[tuple[str, str], dict[int, float]]:
    """(data set, latent) -> {seed: metric} from every finished cell under ``root``."""
    out: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for path in sorted(root.glob("*/*/seed-*/metrics.json")):
        record = json.loads(path.read_text())
        cell = record["cell"]
        out[cell["dataset"], cell["latent"]][int(cell["seed"])] = float(
            record["metrics"].get(metric, math.nan))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("pairs", nargs="+", help="A:B: two latent names of the run")
    parser.add_argument("--metric", default="exact_mmd")
    args = parser.parse_args()
    table = values(args.run_dir, args.metric)
    if not table:
        raise SystemExit(f"zoo_pairs: run_dir must hold finished cells "
                         f"(<dataset>/<latent>/seed-<k>/metrics.json), found none in "
                         f"{args.run_dir}")
    datasets = sorted({ds for ds, _ in table})
    rows = []
    for pair in args.pairs:
        a, sep, b = pair.partition(":")
        latents = {lat for _, lat in table}
        if not sep or a not in latents or b not in latents:
            raise SystemExit(f"zoo_pairs: each pair must be A:B with two latents of the run "
                             f"({', '.join(sorted(latents))}), got {pair!r}")
        for ds in datasets:
            if (ds, a) in table and (ds, b) in table:
                rows.append((ds, f"{a} − {b}", paired_test(table[ds, a], table[ds, b])))
    if not rows:
        raise SystemExit(f"zoo_pairs: no data set has cells of both latents of "
                         f"{', '.join(args.pairs)}")
    adjusted = holm(r["t_pvalue"] for _, _, r in rows)
    print(f"{args.metric}: d = A − B over the seeds both finished; 95 % Student-t CI; paired "
          f"t-test; Holm over the {len(rows)} rows\n")
    print("| data set | comparison | n | mean difference [95 % CI] | t-test p | Holm p | "
          "detectable at 80 % power | verdict (α = 0.05, Holm) |")
    print("|---|---|---|---|---|---|---|---|")
    for (ds, name, r), p_holm in zip(rows, adjusted, strict=True):
        if p_holm < 0.05:
            a, b = name.split(" − ")
            verdict = f"{a if r['mean_difference'] < 0 else b} lower"
        else:
            verdict = "not resolved at this power"
        print(f"| {ds} | {name} | {r['n']} | {r['mean_difference']:+.3g} "
              f"[{r['ci_low']:+.3g}, {r['ci_high']:+.3g}] | {format_p(r['t_pvalue'])} | "
              f"{format_p(p_holm)} | {r['detectable_difference']:.3g} | {verdict} |")


if __name__ == "__main__":
    main()
