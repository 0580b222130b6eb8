"""How much of the seed-to-seed spread of a QM9 cell's FCD is evaluation noise?

    .venv/bin/python benchmarks/fcd_eval_noise.py RUN_DIR --latents quantum,photonic \
        --seeds 0-4 --draws 4 --out results/table2_paired_quick/fcd_eval_noise

A cell's FCD is measured once, on ``n_eval`` samples drawn with one latent seed. Here each
trained generator of RUN_DIR (``qlatent run`` cells, checkpoints kept) draws ``--draws`` more
sets of the same size with fresh latent seeds (1,000 + r), each scored like the cell
(``qlatent.experiments.reuse.evaluate_smiles``, FCD against the shipped QM9 training-split
statistics). The cell's own ``samples.smi`` is scored first and must give the FCD in its
``metrics.json`` (checked to 1e-6), so the redraws are scored as the cells were.

Writes ``draws.jsonl`` (one line per cell and draw; resumable: draws already there are kept)
and ``report.md``: the within-cell SD of the FCD (evaluation noise, pooled over the redrawn
cells, with its degrees of freedom), the seed-to-seed SD of the cells' FCD per latent (over
every finished cell of RUN_DIR, not only ``--seeds``), and for each pair of latents the SD of
the paired per-seed differences next to the part evaluation noise alone would give (√2 × the
within-cell SD), so one can read whether more samples per cell or more seeds would resolve a
difference.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from qlatent._io import atomic_write_text
from qlatent.experiments.grid import parse_seeds
from qlatent.experiments.reuse import evaluate_smiles, load_run, read_smiles_file
from qlatent.experiments.stats import format_number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--latents", default="quantum,photonic")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    latents = args.latents.split(",")
    seeds = list(parse_seeds(args.seeds))
    if args.draws < 2:
        raise SystemExit(f"fcd_eval_noise: --draws must be at least 2 (a within-cell SD), "
                         f"got {args.draws}")
    cells = {(lat, s): args.run_dir / "qm9" / f"{lat}-L16" / f"seed-{s}"
             for lat in latents for s in seeds}
    missing = [str(p) for p in cells.values() if not (p / "metrics.json").exists()
               or not (p / "checkpoint.pt").exists()]
    if missing:
        raise SystemExit(f"fcd_eval_noise: every cell needs metrics.json and checkpoint.pt; "
                         f"missing in {', '.join(missing)}")
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "draws.jsonl"
    done = {}
    if log.exists():
        for line in log.read_text().splitlines():
            row = json.loads(line)
            done[row["latent"], row["seed"], row["draw"]] = row["fcd"]
    for (lat, s), cell in cells.items():
        record = json.loads((cell / "metrics.json").read_text())
        n = int(record["metrics"]["n_samples"])
        if (lat, s, -1) not in done:
            own = evaluate_smiles(read_smiles_file(cell / "samples.smi"))["metrics"]["fcd"]
            if not math.isclose(own, record["metrics"]["fcd"], rel_tol=1e-6):
                raise SystemExit(f"{cell}: samples.smi scores FCD {own}, metrics.json says "
                                 f"{record['metrics']['fcd']}: not scored as the cell was")
            append(log, {"latent": lat, "seed": s, "draw": -1, "fcd": own})
            done[lat, s, -1] = own
        run = None
        for r in range(args.draws):
            if (lat, s, r) in done:
                continue
            run = run or load_run(cell)
            t0 = time.perf_counter()
            fcd = evaluate_smiles(run.sample(n, seed=1000 + r))["metrics"]["fcd"]
            append(log, {"latent": lat, "seed": s, "draw": r, "fcd": fcd,
                         "seconds": round(time.perf_counter() - t0, 1)})
            done[lat, s, r] = fcd
            print(f"{lat} seed {s} draw {r}: FCD {fcd:.4f}", flush=True)
    finished = {}
    for lat in latents:
        for path in sorted((args.run_dir / "qm9" / f"{lat}-L16").glob("seed-*/metrics.json")):
            seed = int(path.parent.name.removeprefix("seed-"))
            finished[lat, seed] = json.loads(path.read_text())["metrics"]["fcd"]
    report = summarize(done, finished, latents, seeds, args.draws)
    atomic_write_text(args.out / "report.md", report)
    print(report)


def append(path: Path, row: dict) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def summarize(done: dict, finished: dict, latents: list[str], seeds: list[int],
              draws: int) -> str:
    redraws = {(lat, s): np.array([done[lat, s, r] for r in range(draws)])
               for lat in latents for s in seeds}
    within = sum(float(((x - x.mean()) ** 2).sum()) for x in redraws.values())
    dof = sum(x.size - 1 for x in redraws.values())
    sd_eval = math.sqrt(within / dof)
    lines = [f"# FCD evaluation noise: {len(redraws)} cells ({', '.join(latents)}; seeds "
             f"{', '.join(map(str, seeds))}), {draws} fresh draws each", "",
             f"Within-cell SD of the FCD (same generator, fresh latent draws of the cell's size; "
             f"pooled, {dof} dof): **{sd_eval:.4f}**", "",
             "| latent | seed-to-seed SD of the cells' FCD (n) | its share of variance from "
             "evaluation (SD_eval² / SD²) |", "|---|---|---|"]
    own = {(lat, s): done[lat, s, -1] for lat in latents for s in seeds}
    for lat in latents:
        x = np.array([v for (name, _), v in finished.items() if name == lat])
        sd = float(x.std(ddof=1)) if x.size > 1 else math.nan
        lines.append(f"| {lat} | {format_number(sd, '{:.3f}')} ({x.size}) | "
                     f"{format_number(sd_eval ** 2 / sd ** 2, '{:.3g}')} |")
    lines += ["", "| pair | SD of the paired per-seed FCD differences (n) | √2 × within-cell SD "
              "| share of its variance from evaluation |", "|---|---|---|---|"]
    for a, b in combinations(latents, 2):
        common = sorted({s for name, s in finished if name == a}
                        & {s for name, s in finished if name == b})
        d = np.array([finished[a, s] - finished[b, s] for s in common])
        sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
        lines.append(f"| {a} − {b} | {format_number(sd, '{:.3f}')} ({d.size}) | "
                     f"{math.sqrt(2) * sd_eval:.4f} | "
                     f"{format_number(2 * sd_eval ** 2 / sd ** 2, '{:.3g}')} |")
    lines += ["", "Per cell (the cell's own FCD; the fresh draws' mean ± SD):", "",
              "| cell | own | redraws mean ± SD |", "|---|---|---|"]
    for (lat, s), x in redraws.items():
        lines.append(f"| {lat} seed {s} | {own[lat, s]:.4f} | {x.mean():.4f} ± "
                     f"{x.std(ddof=1):.4f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
