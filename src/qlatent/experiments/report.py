"""Reports of an experiment directory: tables in the paper's layout, statistics, figures.

For each metric of the task, per (dataset, latent, latent length): mean ± standard error over
seeds and the 95 % Student-t confidence interval (``qlatent.experiments.stats``), the published
numbers beside ours, and the reason a value is NaN where the task recorded one (metrics.json
``notes``). For the task's primary metric, paired tests of the ``quantum`` latent against every
other latent of the grid over the seeds both finished: the mean difference with its 95 % CI, a
paired t-test (with Holm's adjustment over the table's comparisons) and a Wilcoxon
signed-rank test, each with its n, the smallest difference the pairs could detect (80 % power)
and a verdict in words the statistics carry. A warning line appears when our
training budget (steps, batch size, seeds) differs from the one behind the published numbers
(``Task.reference_budget``). Directions (↑ higher is better, ↓ lower) come from
``qlatent.metrics.direction``.

A task of model families without published numbers (the zoo) gets its own layout instead:
per data set, families as rows and the metrics that apply as columns, the exact target's
sample floor (``sample_floor``) and paired tests against the best classical baseline; no
latent length, no reference column, a log axis where the primary metric spans a decade.

``write_report(run_dir)`` writes, beside each other in ``run_dir``: ``report.md``,
``report.json`` (the numbers; standard JSON, undefined values as null),
``report_summary.csv`` and ``report_paired.csv`` (the same
numbers at full precision), ``report.tex`` (the tables for LaTeX, ``booktabs``) and the figures
(PNG at 150 dpi plus SVG).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markdown import Markdown

from qlatent._io import atomic_write_text
from qlatent.experiments.cell import check_trained_alike, read_record
from qlatent.experiments.config import ExperimentConfig, load_config
from qlatent.experiments.plotting import figure, spans_decades
from qlatent.experiments.stats import (
    ALPHA,
    CONFIDENCE,
    NOT_AVAILABLE,
    POWER,
    Summary,
    format_number,
    format_p,
    holm,
    paired_test,
    summarize,
)
from qlatent.experiments.tasks import CellRecord, MetricSpec, get_task
from qlatent.experiments.tasks.zoo import DATASETS, ZooTask, score_samples

__all__ = ["ANCHOR", "Summary", "build_report", "load_records", "paired_test", "sample_floor",
           "summarize", "write_report"]

#: The latent every other latent of a grid is compared with in the paired tests.
ANCHOR = "quantum"
_NO_REASON = "no reason recorded"


# --------------------------------------------------------------------------- reading a run
def _read_config(path: Path) -> ExperimentConfig:
    """The experiment config at ``path``; every defect is a one-line ValueError naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path.parent} is not an experiment directory (no config.toml)"
                                "; make one with `qlatent run CONFIG --out DIR`")
    try:
        return load_config(path)
    except (ValueError, TypeError, KeyError) as err:
        text = " ".join(str(err).split())  # one line
        if not text.startswith(str(path)):
            text = f"{path}: {text}"
        raise ValueError(text) from err


def load_records(run_dir: str | Path) -> tuple[ExperimentConfig, list[CellRecord]]:
    """The experiment config and every finished cell (a ``metrics.json``) under ``run_dir``.

    Raises:
        FileNotFoundError: ``run_dir`` has no ``config.toml``.
        ValueError: a corrupt ``config.toml`` or ``metrics.json`` (one line naming the file),
            or a cell trained differently from the experiment (``check_trained_alike``).
    """
    config, records, _ = _load(Path(run_dir))
    return config, records


def _load(run_dir: Path) -> tuple[ExperimentConfig, list[CellRecord], dict[Path, int]]:
    config = _read_config(run_dir / "config.toml")
    records, steps = [], {}
    # cells only at their own depth: an experiment folder kept inside another (results/zoo/iqp
    # in results/zoo) is a report of its own, not cells of this one
    for path in sorted(run_dir.glob("*/*/seed-*/metrics.json")):
        record, n_steps = read_record(path)
        records.append(record)
        steps[record.run_dir] = n_steps
    check_trained_alike(config, records)  # never pair cells trained differently
    return config, records, steps


# --------------------------------------------------------------------------- the numbers
@dataclass
class _Grid:
    """The finished part of a grid and lookups into it."""

    config: ExperimentConfig
    task: Any
    records: list[CellRecord]
    steps: dict[Path, int]
    datasets: list[str] = field(init=False)
    latents: list[str] = field(init=False)
    dims: list[int] = field(init=False)

    def __post_init__(self) -> None:
        rs = self.records
        self.datasets = [d for d in self.config.datasets if any(r.cell.dataset == d for r in rs)]
        self.latents = [x for x in self.config.latents if any(r.cell.latent == x for r in rs)]
        self.dims = [d for d in self.config.latent_dims if any(r.cell.latent_dim == d
                                                               for r in rs)]

    def group(self, ds: str, lat: str, dim: int) -> list[CellRecord]:
        return [r for r in self.records
                if (r.cell.dataset, r.cell.latent, r.cell.latent_dim) == (ds, lat, dim)]

    def values(self, ds: str, lat: str, dim: int, metric: str) -> dict[int, float]:
        return {r.cell.seed: r.metrics[metric] for r in self.group(ds, lat, dim)
                if metric in r.metrics}

    def reference(self, ds: str, lat: str, dim: int, metric: str) -> tuple[float, float]:
        v = self.task.reference.get((ds, lat, dim), {}).get(metric)
        return (math.nan, math.nan) if v is None else (float(v[0]), float(v[1]))

    def reasons(self, ds: str, lat: str, dim: int, metric: str) -> list[str]:
        """Distinct reasons of the NaN values of one metric in one group."""
        out = []
        for r in self.group(ds, lat, dim):
            v = r.metrics.get(metric)
            if v is not None and not math.isfinite(v):
                out.append(r.notes.get(metric, _NO_REASON))
        return list(dict.fromkeys(out))


def _direction_words(spec: MetricSpec) -> str:
    better = spec.higher_is_better
    return "no better direction" if better is None else (
        "higher is better" if better else "lower is better")


def _favoured(spec: MetricSpec, diff: float, anchor: str, other: str) -> str:
    better = spec.higher_is_better
    if better is None or not math.isfinite(diff):
        return "–"
    if diff == 0:
        return "tie"
    return anchor if (diff > 0) == better else other


def _verdict(row: Mapping[str, Any]) -> str:
    """In words: which latent is better where Holm's adjusted p is below α, else not
    resolved."""
    if row["higher_is_better"] is None:
        return "–"
    if not math.isfinite(row["holm_pvalue"]):
        return NOT_AVAILABLE
    if row["holm_pvalue"] < ALPHA:
        return f"{row['favoured']} better"
    return "not resolved at this power"


def _with_holm(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with ``holm_pvalue`` (Holm over these rows' paired t-tests) and ``verdict``."""
    for row, p in zip(rows, holm(r["t_pvalue"] for r in rows), strict=True):
        row["holm_pvalue"] = p
        row["verdict"] = _verdict(row)
    return rows


def _budget(grid: _Grid) -> dict[str, Any] | None:
    """Ours against the task's reference budget; None when the task declares none."""
    ref = getattr(grid.task, "reference_budget", None)
    if ref is None or not grid.records:
        return None
    steps = sorted(set(grid.steps.values()))
    counts = sorted({len(grid.group(ds, lat, dim)) for ds in grid.datasets
                     for lat in grid.latents for dim in grid.dims} - {0})
    ours = {"steps": steps, "batch_size": grid.config.train.batch_size, "seeds": counts}
    differs = [name for name, mine, theirs in (
        ("steps", steps, ref.steps), ("batch_size", [ours["batch_size"]], ref.batch_size),
        ("seeds", counts, ref.seeds)) if any(v != theirs for v in mine)]
    return {"reference": {"steps": ref.steps, "batch_size": ref.batch_size,
                          "seeds": ref.seeds},
            "ours": ours, "differs": differs}


def _span(values: Sequence[int]) -> str:
    return (f"{values[0]:,}" if len(values) == 1 else
            f"{values[0]:,}–{values[-1]:,}" if values else "–")


def _numbers(grid: _Grid, anchor: str) -> dict[str, Any]:
    """Every number of the report (report.json; the CSV and LaTeX tables come from it)."""
    task = grid.task
    summaries = []
    for ds in grid.datasets:
        for dim in grid.dims:
            for lat in grid.latents:
                for m in task.metrics:
                    s = summarize(grid.values(ds, lat, dim, m.name).values())
                    ref_mean, ref_err = grid.reference(ds, lat, dim, m.name)
                    summaries.append({
                        "dataset": ds, "latent": lat, "latent_dim": dim, "metric": m.name,
                        "higher_is_better": m.higher_is_better, "n": s.n, "n_nan": s.n_nan,
                        "mean": s.mean, "se": s.se, "ci_low": s.ci_low, "ci_high": s.ci_high,
                        "confidence": s.confidence, "reference_mean": ref_mean,
                        "reference_error": ref_err,
                        "notes": "; ".join(grid.reasons(ds, lat, dim, m.name))})
    paired = []
    primary = task.metrics[0]
    if anchor in grid.latents:
        for ds in grid.datasets:
            for dim in grid.dims:
                for other in grid.latents:
                    if other == anchor:
                        continue
                    if not grid.group(ds, anchor, dim) or not grid.group(ds, other, dim):
                        continue
                    t = paired_test(grid.values(ds, anchor, dim, primary.name),
                                    grid.values(ds, other, dim, primary.name))
                    paired.append({"dataset": ds, "latent_dim": dim, "metric": primary.name,
                                   "latent": anchor, "baseline": other,
                                   "higher_is_better": primary.higher_is_better,
                                   "favoured": _favoured(primary, t["mean_difference"],
                                                         anchor, other), **t})
    out = {"summaries": summaries, "paired": _with_holm(paired), "budget": _budget(grid),
           "confidence": CONFIDENCE, "anchor": anchor,
           "versus_best_baseline": _versus_best_baseline(grid)}
    if _families_layout(grid):
        out["sample_floor"] = sample_floor(grid.config) if grid.records else {}
    return out


def _better(spec: MetricSpec, a: float, b: float) -> bool:
    # a strictly better than b in the metric's direction (NaN is never better)
    if not math.isfinite(a):
        return False
    if not math.isfinite(b):
        return True
    return a > b if spec.higher_is_better else a < b


def _versus_best_baseline(grid: _Grid) -> list[dict[str, Any]]:
    """Per (dataset, latent length): the classical baseline (``Task.baselines``) with the best
    mean primary metric, and a paired test of every other latent against it."""
    primary = grid.task.metrics[0]
    baselines = [b for b in grid.task.baselines(grid.config) if b in grid.latents]
    if not baselines or primary.higher_is_better is None:
        return []
    out = []
    for ds in grid.datasets:
        for dim in grid.dims:
            best, best_mean = None, math.nan
            for b in baselines:
                mean = summarize(grid.values(ds, b, dim, primary.name).values()).mean
                if best is None or _better(primary, mean, best_mean):
                    best, best_mean = b, mean
            if best is None or not grid.group(ds, best, dim):
                continue
            for lat in grid.latents:
                if lat == best or not grid.group(ds, lat, dim):
                    continue
                t = paired_test(grid.values(ds, lat, dim, primary.name),
                                grid.values(ds, best, dim, primary.name))
                out.append({"dataset": ds, "latent_dim": dim, "metric": primary.name,
                            "latent": lat, "baseline": best,
                            "baseline_is_classical": lat in baselines,
                            "higher_is_better": primary.higher_is_better,
                            "favoured": _favoured(primary, t["mean_difference"], lat, best),
                            **t})
    return _with_holm(out)


def _baseline_markdown(grid: _Grid, numbers: dict[str, Any]) -> list[str]:
    """The latent x dataset table of the primary metric, the best classical baseline of each
    dataset marked, and the paired tests against it."""
    rows = numbers["versus_best_baseline"]
    baselines = [b for b in grid.task.baselines(grid.config) if b in grid.latents]
    if not baselines:
        return []
    primary = grid.task.metrics[0]
    pct = f"{CONFIDENCE:.0%}"
    lines = [f"## {primary.heading}: model family × data set", "",
             "| family | " + " | ".join(grid.datasets) + " |",
             "|---|" + "---|" * len(grid.datasets)]
    best = {(r["dataset"], r["latent_dim"]): r["baseline"] for r in rows}
    for lat in grid.latents:
        for dim in grid.dims:
            texts = []
            for ds in grid.datasets:
                if not grid.group(ds, lat, dim):
                    texts.append("–")
                    continue
                text = _summary_of(numbers, ds, lat, dim, primary.name).format(primary.fmt)
                if best.get((ds, dim)) == lat:
                    text = f"**{text}** (best baseline)"
                texts.append(text)
            name = lat + (" (classical)" if lat in baselines else "")
            lines.append(f"| {name} | " + " | ".join(texts) + " |")
    lines += ["", f"Mean ± SE over seeds (n = finished seeds); – : the family does not apply "
              "to the data set or has not run. Classical baselines: "
              f"{', '.join(baselines)}; the best of them per data set (by mean) in bold.", ""]
    if not rows:
        return lines
    lines += [f"## Paired tests against the best classical baseline ({primary.heading}; "
              f"{_direction_words(primary)})", "",
              f"| dataset | family − best baseline | n | mean difference [{pct} CI] | "
              f"paired t (p) | Holm p | Wilcoxon W (p) | {_DETECTABLE} | {_VERDICT} |",
              "|---|---|---|---|---|---|---|---|---|"]
    for t in rows:
        c = _paired_cells(t)
        approx = "; normal approx." if t["wilcoxon_method"] == "normal approximation" else ""
        lines.append(f"| {t['dataset']} | {t['latent']} − {t['baseline']} | {t['n']} | "
                     f"{c['diff']} {c['ci']} | {c['t']} ({c['t_p']}) | {c['holm_p']} | "
                     f"{c['w']} ({c['w_p']}{approx}) | {c['detectable']} | {t['verdict']} |")
    lines += ["", "Over the seeds both finished with a finite value: d = family − best baseline; "
              f"mean with its {pct} Student-t CI, two-sided paired t-test "
              "(`scipy.stats.ttest_rel`) and Wilcoxon signed-rank test (`scipy.stats.wilcoxon`, "
              "exact where it can be). The best baseline is chosen on the same seeds' means "
              "(a selection that favours it slightly). " + _power_words(len(rows)), ""]
    return lines


# --------------------------------------------------------------------------- the zoo's layout
#: Draws of the exact target behind the sample floor of a families report, and their seed.
FLOOR_REPEATS = 20
FLOOR_SEED = 0


def _families_layout(grid: _Grid) -> bool:
    """A task of model families (the zoo): cells without a latent length and no published
    reference; its report has one section per data set, families as rows."""
    return not grid.task.sized_latents and not grid.task.reference


def sample_floor(config: ExperimentConfig, *, repeats: int = FLOOR_REPEATS,
                 seed: int = FLOOR_SEED) -> dict[str, dict[str, dict[str, float]]]:
    """What the exact target itself scores, per data set of a zoo ``config`` with one.

    A cell is scored on ``n_eval`` samples (``[task]``), so even a model equal to the target
    p scores above zero: q̂ is a histogram of ``n_eval`` draws. This draws ``repeats`` sets of
    ``n_eval`` samples from p and scores each with the zoo's ``score_samples``, as
    ``benchmarks/zoo_sample_floor.py`` does (the same streams: data set k of
    ``tasks.zoo.DATASETS`` draws from child k of ``SeedSequence(seed)``, repeat r from its
    child r, so its ``--repeats`` first rows agree).

    Returns:
        data set -> metric -> {"mean", "sd" (ddof 1), "q025", "q975", "repeats", "n_eval"}
        for every distance (a metric where lower is better) finite in every draw; data sets
        without an exact target (digits) are left out. Empty for a task other than the zoo.
    """
    task = get_task(config.task)
    if not isinstance(task, ZooTask):
        return {}
    p = config.task_params
    streams = np.random.SeedSequence(seed).spawn(len(DATASETS))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in config.datasets:
        data = task.data(name, p)  # zoo-scale's data sets have no exact target
        if data.probs is None:
            continue
        states = np.asarray(data.states, dtype=np.uint8)
        values: dict[str, list[float]] = {m.name: [] for m in task.metrics
                                          if m.higher_is_better is False}
        for child in streams[DATASETS.index(name)].spawn(repeats):
            rng = np.random.default_rng(child)
            scored = score_samples(states[rng.choice(len(states), size=p.n_eval, p=data.probs)],
                                   data, name, p)
            for metric, vs in values.items():
                vs.append(float(scored[metric]))
        out[name] = {}
        for metric, vs in values.items():
            v = np.asarray(vs)
            if np.isfinite(v).all():
                q025, q975 = np.quantile(v, [0.025, 0.975])
                out[name][metric] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)),
                                     "q025": float(q025), "q975": float(q975),
                                     "repeats": repeats, "n_eval": int(p.n_eval)}
    return out


def _shown_metrics(grid: _Grid, ds: str) -> list[MetricSpec]:
    """The metrics with a finite value in some cell of data set ``ds``."""
    return [m for m in grid.task.metrics
            if any(math.isfinite(v) for lat in grid.latents
                   for dim in grid.dims for v in grid.values(ds, lat, dim, m.name).values())]


def _family_name(lat: str, baselines: Sequence[str], best: str | None) -> str:
    tags = (["classical"] if lat in baselines else []) + (["best baseline"] if lat == best
                                                          else [])
    return lat + (f" ({'; '.join(tags)})" if tags else "")


def _versus_table(rows: Sequence[Mapping[str, Any]], pct: str) -> list[str]:
    lines = [f"| family − best baseline | n | mean difference [{pct} CI] | paired t (p) | "
             f"Holm p | Wilcoxon W (p) | {_DETECTABLE} | {_VERDICT} |",
             "|---|---|---|---|---|---|---|---|"]
    for t in rows:
        c = _paired_cells(t)
        approx = "; normal approx." if t["wilcoxon_method"] == "normal approximation" else ""
        lines.append(f"| {t['latent']} − {t['baseline']} | {t['n']} | {c['diff']} {c['ci']} | "
                     f"{c['t']} ({c['t_p']}) | {c['holm_p']} | {c['w']} ({c['w_p']}{approx}) | "
                     f"{c['detectable']} | {t['verdict']} |")
    return lines


def _families_markdown(grid: _Grid, numbers: dict[str, Any]) -> list[str]:
    """The zoo's report: per data set, families as rows and the metrics that apply as columns
    (mean ± SE [CI] (n)), the exact target's sample floor, and paired tests against the best
    classical baseline; then the primary metric as a family x data set table."""
    config, task = grid.config, grid.task
    primary = task.metrics[0]
    pct = f"{CONFIDENCE:.0%}"
    steps = sorted(set(grid.steps.values()))
    floors = numbers.get("sample_floor", {})
    baselines = [b for b in task.baselines(config) if b in grid.latents]
    adversarial = [lat for lat in grid.latents
                   if config.latent_params.get(lat, {}).get("train") == "adversarial"]
    t = config.train
    text = (f"Task `{task.name}`: {len(grid.latents)} families on {len(grid.datasets)} data "
            f"set(s); training steps {', '.join(map(str, steps))} (each family's own budget")
    if adversarial:
        text += (f"; the adversarial ones, {', '.join(adversarial)}: batch {t.batch_size}, "
                 f"n_critic {t.n_critic}, {t.optimizer} lr {t.lr}, loss {t.loss} "
                 f"(λ = {t.gp_weight}), {t.precision}")
    scoring = task.scoring(config)
    text += (")" + (f"; {scoring}" if scoring else "") + ". Mean ± standard error (s/√n, ddof 1) "
             f"over seeds, the {pct} confidence interval [low, high] (Student t, n − 1 dof; "
             "n/a for one seed) and n, the seeds that finished. This task has no published "
             "reference numbers.")
    lines = [text, ""]
    lines += _overview(grid, numbers, baselines)
    best = {r["dataset"]: r["baseline"] for r in numbers["versus_best_baseline"]}
    for ds in grid.datasets:
        shown = _shown_metrics(grid, ds)
        lines += [f"## {ds}", "", "| family | " + " | ".join(m.heading for m in shown) + " |",
                  "|---|" + "---|" * len(shown)]
        for lat in grid.latents:
            for dim in grid.dims:
                if not grid.group(ds, lat, dim):
                    continue
                row = [_summary_of(numbers, ds, lat, dim, m.name).format(m.fmt, ci=True)
                       for m in shown]
                lines.append(f"| {_family_name(lat, baselines, best.get(ds))} | "
                             + " | ".join(row) + " |")
        floor = floors.get(ds, {})
        if floor:
            cells = [_floor_text(floor[m.name], m.fmt) if m.name in floor else "–"
                     for m in shown]
            any_floor = next(iter(floor.values()))
            lines.append(f"| *exact target, {any_floor['n_eval']:,} samples (floor)* | "
                         + " | ".join(cells) + " |")
        lines.append("")
        hidden = [m for m in task.metrics if m not in shown]
        if hidden:
            reasons = list(dict.fromkeys(
                reason for m in hidden for lat in grid.latents for dim in grid.dims
                for reason in grid.reasons(ds, lat, dim, m.name)))
            why = f" ({'; '.join(reasons)})" if reasons else ""
            lines += [f"Not applicable to {ds}: {', '.join(m.heading for m in hidden)}{why}.",
                      ""]
        if "sample_floor" in numbers and not floor:
            lines += [f"No floor row: {ds} has no exact target distribution to draw from.", ""]
        if floor:
            f = next(iter(floor.values()))
            lines += [f"Floor: the exact target itself, {f['repeats']} independent draws of "
                      f"{f['n_eval']:,} samples scored as a cell is: mean (SD) [2.5 %, 97.5 % "
                      "quantiles]. A family at the floor is not told apart from the target by "
                      "this many samples.", ""]
        vs = [r for r in numbers["versus_best_baseline"] if r["dataset"] == ds]
        if vs:
            lines += [f"### Paired tests against the best classical baseline, {vs[0]['baseline']} "
                      f"({primary.heading}; {_direction_words(primary)})", ""]
            lines += _versus_table(vs, pct) + [""]
    if numbers["versus_best_baseline"]:
        n_tests = len(numbers["versus_best_baseline"])
        lines += [f"Paired tests: over the seeds both finished with a finite value, d = family "
                  f"− best baseline; mean with its {pct} Student-t CI, two-sided paired t-test "
                  "(`scipy.stats.ttest_rel`) and Wilcoxon signed-rank test "
                  "(`scipy.stats.wilcoxon`, exact where it can be). The best baseline is the "
                  "classical family with the best mean on the same seeds (a selection that "
                  "favours it slightly). " + _power_words(n_tests), ""]
    lines += _nan_notes(grid, shown={ds: _shown_metrics(grid, ds) for ds in grid.datasets})
    return lines


def _floor_text(f: Mapping[str, float], fmt: str) -> str:
    return (f"{fmt.format(f['mean'])} (SD {fmt.format(f['sd'])}) "
            f"[{fmt.format(f['q025'])}, {fmt.format(f['q975'])}]")


def _overview(grid: _Grid, numbers: dict[str, Any], baselines: Sequence[str]) -> list[str]:
    """The primary metric as a family x data set table, the best baseline in bold."""
    primary = grid.task.metrics[0]
    best = {r["dataset"]: r["baseline"] for r in numbers["versus_best_baseline"]}
    lines = [f"## {primary.heading}: model family × data set", "",
             "| family | " + " | ".join(grid.datasets) + " |",
             "|---|" + "---|" * len(grid.datasets)]
    for lat in grid.latents:
        for dim in grid.dims:
            texts = []
            for ds in grid.datasets:
                text = (_summary_of(numbers, ds, lat, dim, primary.name).format(primary.fmt)
                        if grid.group(ds, lat, dim) else "–")
                texts.append(f"**{text}**" if best.get(ds) == lat else text)
            lines.append(f"| {_family_name(lat, baselines, None)} | " + " | ".join(texts)
                         + " |")
    return lines + ["", "Mean ± SE over seeds (n = finished seeds); – : the family does not "
                    "apply to the data set or has not run."
                    + (f" Classical baselines: {', '.join(baselines)}; the best of them per data "
                       "set (by mean) in bold." if baselines else ""), ""]


# --------------------------------------------------------------------------- Markdown
def _summary_of(numbers: dict[str, Any], ds: str, lat: str, dim: int, metric: str) -> Summary:
    row = next(s for s in numbers["summaries"] if (s["dataset"], s["latent"], s["latent_dim"],
                                                   s["metric"]) == (ds, lat, dim, metric))
    return Summary(row["mean"], row["se"], row["ci_low"], row["ci_high"], row["n"],
                   row["n_nan"], row["confidence"])


def _reference_text(mean: float, err: float, fmt: str) -> str:
    if not math.isfinite(mean):
        return "–"
    return fmt.format(mean) + (f" ± {fmt.format(err)}" if math.isfinite(err) else "")


def _markdown(grid: _Grid, numbers: dict[str, Any], run_dir: Path, anchor: str) -> list[str]:
    config, task, records = grid.config, grid.task, grid.records
    primary = task.metrics[0]
    lines = [f"# {config.name}: {len(records)} finished cell(s)", ""]
    if not records:
        return lines + [f"No finished cell yet: no `metrics.json` under `{run_dir}` (a cell "
                        "writes it when it ends). Run or resume the grid with `qlatent run`.",
                        ""]
    if _families_layout(grid):
        return lines + _families_markdown(grid, numbers)
    steps = sorted(set(grid.steps.values()))
    pct = f"{CONFIDENCE:.0%}"
    lines += [f"Task `{task.name}`; training steps {', '.join(map(str, steps))}; batch "
              f"{config.train.batch_size}, n_critic {config.train.n_critic}, "
              f"{config.train.optimizer} lr {config.train.lr}, loss {config.train.loss} "
              f"(λ = {config.train.gp_weight}), {config.train.precision}. Mean ± standard "
              f"error (s/√n, ddof 1) over seeds and the {pct} confidence interval [low, high] "
              f"(Student t, n − 1 dof; n/a for one seed); reference: {task.reference_label}.",
              ""]
    budget = numbers["budget"]
    if budget is not None and budget["differs"]:
        ref, ours = budget["reference"], budget["ours"]
        lines += [f"> **Warning: our budget differs from the reference's** "
                  f"({', '.join(budget['differs']).replace('_', ' ')}): reference "
                  f"{ref['steps']:,} steps, batch {ref['batch_size']}, {ref['seeds']} seeds; "
                  f"ours {_span(ours['steps'])} steps, batch {ours['batch_size']}, "
                  f"{_span(ours['seeds'])} seed(s). Compare with the reference numbers "
                  "accordingly.", ""]
    # The paper's layout: datasets as rows, latents as columns, primary metric.
    for dim in grid.dims:
        lines += [f"## {primary.heading} (L = {dim}): ours / reference", ""]
        lines.append("| dataset | " + " | ".join(grid.latents) + " |")
        lines.append("|---|" + "---|" * len(grid.latents))
        for ds in grid.datasets:
            cells_txt = []
            for lat in grid.latents:
                s = _summary_of(numbers, ds, lat, dim, primary.name)
                ref = _reference_text(*grid.reference(ds, lat, dim, primary.name), primary.fmt)
                cells_txt.append(f"{s.format(primary.fmt)} / {ref}")
            lines.append(f"| {ds} | " + " | ".join(cells_txt) + " |")
        lines.append("")
    # Every metric, one row per (dataset, latent, dim).
    lines += ["## All metrics", ""]  # the table right below its heading (the tours read it)
    lines.append("| dataset | latent | L | seeds | "
                 + " | ".join(m.heading for m in task.metrics) + " | reference |")
    lines.append("|---|---|---|---|" + "---|" * (len(task.metrics) + 1))
    for ds in grid.datasets:
        for dim in grid.dims:
            for lat in grid.latents:
                n_cells = len(grid.group(ds, lat, dim))
                if not n_cells:
                    continue
                row = [_summary_of(numbers, ds, lat, dim, m.name).format(m.fmt, ci=True,
                                                                          count=False)
                       for m in task.metrics]
                ref = _reference_text(*grid.reference(ds, lat, dim, primary.name), primary.fmt)
                lines.append(f"| {ds} | {lat} | {dim} | {n_cells} | " + " | ".join(row)
                             + f" | {ref} |")
    any_nan = any(s["n_nan"] for s in numbers["summaries"])
    lines += ["", f"Each cell: mean ± SE [{pct} CI] over the seeds column's finished cells"
              + ("; (k NaN): values left out, with their reason below." if any_nan else "."),
              ""]
    lines += _nan_notes(grid)
    lines += _baseline_markdown(grid, numbers)
    if anchor in grid.latents or not numbers["versus_best_baseline"]:
        lines += _paired_markdown(grid, numbers, anchor)
    return lines


def _nan_notes(grid: _Grid, shown: Mapping[str, Sequence[MetricSpec]] | None = None
               ) -> list[str]:
    """One line per (metric, reason): where a metric is NaN and why (only the metrics
    ``shown`` per data set, when given)."""
    found: dict[tuple[str, str], list[str]] = {}
    for r in grid.records:
        for m in (grid.task.metrics if shown is None else shown[r.cell.dataset]):
            v = r.metrics.get(m.name)
            if v is not None and not math.isfinite(v):
                reason = r.notes.get(m.name, _NO_REASON)
                found.setdefault((m.name, reason), []).append(r.cell.key)
    if not found:
        return []
    lines = ["NaN values and why:", ""]
    for (metric, reason), keys in found.items():
        where = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
        lines.append(f"- `{metric}` is NaN in {len(keys)} cell(s) ({where}): {reason}")
    return lines + [""]


def _paired_markdown(grid: _Grid, numbers: dict[str, Any], anchor: str) -> list[str]:
    primary = grid.task.metrics[0]
    pct = f"{CONFIDENCE:.0%}"
    title = (f"## Paired tests: {anchor} − every other latent ({primary.heading}; "
             f"{_direction_words(primary)})")
    if anchor not in grid.latents:
        return [title, "", f"No `{anchor}` latent has finished in this grid: no paired tests.",
                ""]
    if not numbers["paired"]:
        return [title, "", f"No other latent has finished beside `{anchor}`: no paired tests.",
                ""]
    lines = [title, "",
             f"| dataset | L | comparison | n | mean difference [{pct} CI] | paired t (p) "
             f"| Holm p | Wilcoxon W (p) | {_DETECTABLE} | {_VERDICT} |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for t in numbers["paired"]:
        c = _paired_cells(t)
        approx = "; normal approx." if t["wilcoxon_method"] == "normal approximation" else ""
        lines.append(
            f"| {t['dataset']} | {t['latent_dim']} | {anchor} − {t['baseline']} | {t['n']} | "
            f"{c['diff']} {c['ci']} | {c['t']} ({c['t_p']}) | {c['holm_p']} | {c['w']} "
            f"({c['w_p']}{approx}) | {c['detectable']} | {t['verdict']} |")
    methods = sorted({t["wilcoxon_method"] for t in numbers["paired"]} - {NOT_AVAILABLE})
    paired = ("the interferometer" if grid.config.paired_circuits else
              "not the interferometer (independent draws per latent)")
    lines += ["", f"Tests: over the seeds both latents finished with a finite value, the "
              f"differences d = {anchor} − other; their mean with its {pct} Student-t CI "
              "(n − 1 dof); a two-sided paired t-test (`scipy.stats.ttest_rel`, needs n ≥ 2) and "
              "a two-sided Wilcoxon signed-rank test (`scipy.stats.wilcoxon`, zero differences "
              "dropped; exact null distribution"
              + (", or its normal approximation with the tie correction where marked (tied "
                 "magnitudes or more than 50 pairs)" if "normal approximation" in methods else "")
              + "). " + _power_words(len(numbers["paired"])) + " Cells of one seed share the "
              f"data, the network initialisation, the training streams and {paired}.", ""]
    return lines


# --------------------------------------------------------------------------- CSV and LaTeX
_SUMMARY_COLUMNS = ("dataset", "latent", "latent_dim", "metric", "higher_is_better", "n",
                    "n_nan", "mean", "se", "ci_low", "ci_high", "confidence", "reference_mean",
                    "reference_error", "notes")
_PAIRED_COLUMNS = ("dataset", "latent_dim", "metric", "latent", "baseline", "higher_is_better",
                   "n", "mean_difference", "ci_low", "ci_high", "t_statistic", "t_pvalue",
                   "holm_pvalue", "wilcoxon_statistic", "wilcoxon_pvalue", "wilcoxon_method",
                   "sd_difference", "detectable_difference", "favoured", "verdict")


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else "NaN"
    return str(v)


def _csv(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row[c]) for c in columns])
    return buffer.getvalue()


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}", "²": r"\textsuperscript{2}", "±": r"$\pm$",
          "↑": r"$\uparrow$", "↓": r"$\downarrow$", "–": "--", "−": "$-$", "λ": r"$\lambda$",
          "≥": r"$\geq$"}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters (and the report's symbols) escaped."""
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


#: Column headings of the paired tables: the smallest detectable difference and the verdict.
_DETECTABLE = f"detectable at {POWER:.0%} power"
_VERDICT = f"verdict (Holm, α = {ALPHA:g})"


def _power_words(n_tests: int) -> str:
    """The footnote sentences on the Holm adjustment, the verdict and the detectable
    difference."""
    return (f"Holm p: Holm's step-down adjustment of the t-tests' p over the {n_tests} "
            f"comparison(s) of this table. Verdict: the latent with the better mean where the "
            f"adjusted p < {ALPHA:g}, else \"not resolved at this power\" (never \"no "
            f"effect\"). Detectable at {POWER:.0%} power: the smallest |mean difference| a "
            f"two-sided paired t-test at α = {ALPHA:g} (unadjusted) finds with probability "
            f"{POWER:g} over these n pairs, were the differences normal with their observed "
            "standard deviation (noncentral t; an estimate of the design's sensitivity).")


def _paired_cells(t: Mapping[str, Any]) -> dict[str, str]:
    """The text of a paired test's numbers (three significant digits; n/a where undefined)."""
    ci = (f"[{t['ci_low']:.3g}, {t['ci_high']:.3g}]" if math.isfinite(t["ci_low"])
          else f"[{NOT_AVAILABLE}]")
    return {"diff": format_number(t["mean_difference"], "{:+.3g}"), "ci": ci,
            "t": format_number(t["t_statistic"], "{:.3g}"), "t_p": format_p(t["t_pvalue"]),
            "holm_p": format_p(t["holm_pvalue"]),
            "w": format_number(t["wilcoxon_statistic"], "{:.3g}"),
            "w_p": format_p(t["wilcoxon_pvalue"]),
            "detectable": format_number(t["detectable_difference"], "{:.3g}")}


def _math(text: str) -> str:
    """``text`` in LaTeX math mode (true minus signs), unless it is n/a."""
    return text if NOT_AVAILABLE in text else f"${text}$"


def _latex_summary(s: Mapping[str, Any], fmt: str) -> str:
    if s["n"] == 0:
        return "NaN" if s["n_nan"] else "--"
    if s["n"] == 1:
        text = f"${fmt.format(s['mean'])}$ $\\pm$ n/a [n/a]"
    else:
        text = (f"${fmt.format(s['mean'])} \\pm {fmt.format(s['se'])}\\ "
                f"[{fmt.format(s['ci_low'])}, {fmt.format(s['ci_high'])}]$")
    return text + (f" ({s['n_nan']} NaN)" if s["n_nan"] else "")


def _latex_table(caption: str, label: str, header: Sequence[str],
                 rows: Sequence[Sequence[str]], align: str) -> list[str]:
    return [r"\begin{table}[ht]", r"\centering", f"\\caption{{{caption}}}",
            f"\\label{{{label}}}", f"\\begin{{tabular}}{{{align}}}", r"\toprule",
            " & ".join(header) + r" \\", r"\midrule",
            *(" & ".join(row) + r" \\" for row in rows), r"\bottomrule", r"\end{tabular}",
            r"\end{table}", ""]


def _latex(grid: _Grid, numbers: dict[str, Any], anchor: str) -> str:
    if _families_layout(grid):
        return _families_latex(grid, numbers)
    task = grid.task
    specs = {m.name: m for m in task.metrics}
    primary = task.metrics[0]
    pct = f"{CONFIDENCE:.0%}".replace("%", r"\%")
    name = latex_escape(grid.config.name)
    out = [f"% {grid.config.name}: tables written by `qlatent report` (the same numbers as "
           "report.md and the CSV files).", r"% Needs \usepackage{booktabs}.", ""]
    by_key = {(s["dataset"], s["latent"], s["latent_dim"], s["metric"]): s
              for s in numbers["summaries"]}
    for dim in grid.dims:
        rows = [[latex_escape(ds)] + [
            _latex_summary(by_key[(ds, lat, dim, primary.name)], primary.fmt)
            for lat in grid.latents] for ds in grid.datasets]
        out += _latex_table(
            f"{name}: {latex_escape(primary.heading)}, $L = {dim}$; mean $\\pm$ SE [{pct} CI] "
            "over seeds.", f"tab:{task.name}-primary-L{dim}",
            ["dataset", *map(latex_escape, grid.latents)], rows,
            "l" + "l" * len(grid.latents))
    rows = []
    for ds in grid.datasets:
        for dim in grid.dims:
            for lat in grid.latents:
                n_cells = len(grid.group(ds, lat, dim))
                if n_cells:
                    rows.append([latex_escape(ds), latex_escape(lat), str(dim), str(n_cells)]
                                + [_latex_summary(by_key[(ds, lat, dim, m)], specs[m].fmt)
                                   for m in specs])
    out += _latex_table(f"{name}: every metric, mean $\\pm$ SE [{pct} CI] over seeds.",
                        f"tab:{task.name}-metrics",
                        ["dataset", "latent", "$L$", "seeds",
                         *(latex_escape(m.heading) for m in task.metrics)], rows,
                        "llrr" + "l" * len(task.metrics))
    if numbers["paired"]:
        rows = []
        for t in numbers["paired"]:
            c = _paired_cells(t)
            approx = "$^a$" if t["wilcoxon_method"] == "normal approximation" else ""
            rows.append([latex_escape(t["dataset"]), str(t["latent_dim"]),
                         latex_escape(f"{anchor} − {t['baseline']}"), str(t["n"]),
                         f"{_math(c['diff'])} {_math(c['ci'])}",
                         f"{_math(c['t'])} ({_math(c['t_p'])})", _math(c["holm_p"]),
                         f"{_math(c['w'])} ({_math(c['w_p'])}){approx}",
                         _math(c["detectable"]), latex_escape(t["verdict"])])
        out += _latex_table(
            f"{name}: paired tests on {latex_escape(primary.heading)} "
            f"({latex_escape(_direction_words(primary))}); mean difference [{pct} CI], "
            "two-sided paired $t$ with Holm's adjusted $p$, Wilcoxon signed-rank ($p$; exact, "
            "or $^a$ normal approximation), the smallest difference detectable at "
            f"{latex_escape(f'{POWER:.0%}')} power and the verdict at $\\alpha = {ALPHA:g}$.",
            f"tab:{task.name}-paired", ["dataset", "$L$", "comparison", "$n$",
                                        "mean difference", "paired $t$ ($p$)", "Holm $p$",
                                        "Wilcoxon $W$ ($p$)", "detectable", "verdict"],
            rows, "lrlrllllll")
    return "\n".join(out)


def _families_latex(grid: _Grid, numbers: dict[str, Any]) -> str:
    """The zoo's tables for LaTeX: per data set, families x the metrics that apply (with the
    exact target's floor), and the paired tests against the best classical baseline."""
    task = grid.task
    pct = f"{CONFIDENCE:.0%}".replace("%", r"\%")
    name = latex_escape(grid.config.name)
    by_key = {(s["dataset"], s["latent"], s["latent_dim"], s["metric"]): s
              for s in numbers["summaries"]}
    out = [f"% {grid.config.name}: tables written by `qlatent report` (the same numbers as "
           "report.md and the CSV files).", r"% Needs \usepackage{booktabs}.", ""]
    for ds in grid.datasets:
        shown = _shown_metrics(grid, ds)
        rows = [[latex_escape(lat), str(len(grid.group(ds, lat, dim)))]
                + [_latex_summary(by_key[(ds, lat, dim, m.name)], m.fmt) for m in shown]
                for lat in grid.latents for dim in grid.dims if grid.group(ds, lat, dim)]
        floor = numbers.get("sample_floor", {}).get(ds, {})
        if floor:
            rows.append([r"\emph{exact target (floor)}", "--"] + [
                latex_escape(_floor_text(floor[m.name], m.fmt)) if m.name in floor
                else "--" for m in shown])
        out += _latex_table(
            f"{name}, {latex_escape(ds)}: mean $\\pm$ SE [{pct} CI] over seeds"
            + ("; floor: the exact target's own score, mean (SD) [2.5, 97.5 \\%] over "
               "repeated draws" if floor else "") + ".",
            f"tab:{task.name}-{ds}", ["family", "seeds", *(latex_escape(m.heading)
                                                            for m in shown)],
            rows, "lr" + "l" * len(shown))
    if numbers["versus_best_baseline"]:
        rows = []
        for t in numbers["versus_best_baseline"]:
            c = _paired_cells(t)
            approx = "$^a$" if t["wilcoxon_method"] == "normal approximation" else ""
            rows.append([latex_escape(t["dataset"]),
                         latex_escape(f"{t['latent']} − {t['baseline']}"), str(t["n"]),
                         f"{_math(c['diff'])} {_math(c['ci'])}",
                         f"{_math(c['t'])} ({_math(c['t_p'])})", _math(c["holm_p"]),
                         f"{_math(c['w'])} ({_math(c['w_p'])}){approx}",
                         _math(c["detectable"]), latex_escape(t["verdict"])])
        primary = task.metrics[0]
        out += _latex_table(
            f"{name}: paired tests against the best classical baseline on "
            f"{latex_escape(primary.heading)} ({latex_escape(_direction_words(primary))}); "
            f"mean difference [{pct} CI], two-sided paired $t$ with Holm's adjusted $p$, "
            "Wilcoxon signed-rank ($p$), the smallest difference detectable at "
            f"{latex_escape(f'{POWER:.0%}')} power and the verdict at $\\alpha = {ALPHA:g}$.",
            f"tab:{task.name}-versus-baseline",
            ["dataset", "comparison", "$n$", "mean difference", "paired $t$ ($p$)", "Holm $p$",
             "Wilcoxon $W$ ($p$)", "detectable", "verdict"], rows, "llrllllll")
    return "\n".join(out)


# --------------------------------------------------------------------------- figures
def _bar_chart(grid: _Grid, out_dir: Path) -> Path | None:
    """Primary metric per latent: bars at the mean with the 95 % CI, dots for seeds, a star for
    the reference; one panel per (latent length, dataset)."""
    m = grid.task.metrics[0]
    if not grid.records:
        return None
    path = out_dir / "report.png"
    nrows, ncols = len(grid.dims), len(grid.datasets)
    with figure(path, nrows=nrows, ncols=ncols, figsize=(4 * ncols, 3 * nrows)) as (_, axes):
        for row, dim in enumerate(grid.dims):
            for ax, ds in zip(axes[row], grid.datasets, strict=True):
                for i, lat in enumerate(grid.latents):
                    vals = [v for v in grid.values(ds, lat, dim, m.name).values()
                            if math.isfinite(v)]
                    s = summarize(vals)
                    if s.n:
                        err = (0.0 if s.n < 2 else [[s.mean - s.ci_low], [s.ci_high - s.mean]])
                        ax.bar(i, s.mean, yerr=err, color=f"C{i}", capsize=3)
                        ax.scatter([i] * len(vals), vals, s=8, color="k", zorder=3)
                    ref = grid.reference(ds, lat, dim, m.name)[0]
                    if math.isfinite(ref):
                        ax.scatter([i], [ref], marker="*", s=90, color="gold",
                                   edgecolors="k", zorder=4)
                ax.set_xticks(range(len(grid.latents)), grid.latents, rotation=20)
                ax.set_title(f"{ds} (L = {dim})")
                ax.set_ylabel(m.heading)
    return path


def _families_chart(grid: _Grid, numbers: dict[str, Any], out_dir: Path) -> Path:
    """Primary metric per family, one panel per data set: the mean with its 95 % CI, the
    seeds as dots and the exact target's floor (2.5–97.5 % band, dashed mean); a log axis
    where the values span a decade or more (``plotting.spans_decades``)."""
    m = grid.task.metrics[0]
    floors = numbers.get("sample_floor", {})
    path = out_dir / "report.png"
    ncols = len(grid.datasets)
    with figure(path, ncols=ncols, figsize=(4 * ncols, 3.2)) as (_, axes):
        for ax, ds in zip(axes[0], grid.datasets, strict=True):
            names, colors, shown = [], [], []  # a family keeps its colour in every panel
            for k, lat in enumerate(grid.latents):
                for dim in grid.dims:
                    vals = [v for v in grid.values(ds, lat, dim, m.name).values()
                            if math.isfinite(v)]
                    if vals:
                        names.append(lat)
                        colors.append(f"C{k % 10}")
                        shown.append(vals)
            floor = floors.get(ds, {}).get(m.name)
            every = [v for vals in shown for v in vals] + (
                [floor["q025"], floor["q975"]] if floor else [])
            log = spans_decades(every)
            if log:
                ax.set_yscale("log")
            positive = min((v for v in every if v > 0), default=1.0)
            for i, vals in enumerate(shown):
                s = summarize(vals)
                low = s.ci_low if s.n > 1 else s.mean
                high = s.ci_high if s.n > 1 else s.mean
                if log:  # a CI reaching below zero is drawn down to the axis
                    low = max(low, positive / 2)
                ax.errorbar([i], [s.mean], yerr=[[s.mean - low], [high - s.mean]], fmt="o",
                            color=colors[i], capsize=3, zorder=3)
                ax.scatter([i + 0.15] * len(vals), vals, s=6, color="k", zorder=2)
            if floor:
                ax.axhspan(floor["q025"], floor["q975"], color="0.85", zorder=0,
                           label="exact target (floor)")
                ax.axhline(floor["mean"], color="0.4", linestyle="--", linewidth=0.8, zorder=1)
                ax.legend(loc="best")
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
            ax.set_title(f"{ds}" + (" (log axis)" if log else ""))
            ax.set_ylabel(m.heading)
    return path


# --------------------------------------------------------------------------- entry points
def _grid(run_dir: Path) -> _Grid:
    config, records, steps = _load(run_dir)
    return _Grid(config, get_task(config.task), records, steps)


def build_report(run_dir: str | Path, *, anchor: str = ANCHOR) -> tuple[str, dict[str, Any]]:
    """Markdown text and the numbers behind it (written by ``write_report``; the figures are
    drawn into ``run_dir`` as the text refers to them).

    Args:
        run_dir: an experiment directory made by ``qlatent run``.
        anchor: the latent the paired tests compare every other latent with.

    Raises:
        FileNotFoundError: ``run_dir`` has no ``config.toml``.
        ValueError: a corrupt ``config.toml`` or ``metrics.json`` (one line naming the file).
    """
    run_dir = Path(run_dir)
    return _build(_grid(run_dir), run_dir, anchor)


def _build(grid: _Grid, run_dir: Path, anchor: str) -> tuple[str, dict[str, Any]]:
    numbers = _numbers(grid, anchor)
    lines = _markdown(grid, numbers, run_dir, anchor)
    # Optional task hook: extra markdown sections (e.g. the paper's own table layout).
    sections = getattr(grid.task, "report_sections", None)
    if sections is not None:
        lines += sections(grid.records, grid.config, run_dir)
    figures = []
    if grid.records and _families_layout(grid):
        figures.append((f"{grid.task.metrics[0].heading} per family (points: mean with the "
                        f"{CONFIDENCE:.0%} CI; dots: seeds; grey band: the exact target's "
                        "floor, 2.5–97.5 %)", _families_chart(grid, numbers, run_dir)))
    elif grid.records:
        figures.append((f"{grid.task.metrics[0].heading} per latent (bars: mean with the "
                        f"{CONFIDENCE:.0%} CI; dots: seeds; star: reference)",
                        _bar_chart(grid, run_dir)))
    if grid.records:
        figures += grid.task.figures(grid.records, grid.config, run_dir)
    for title, path in figures:
        if path is not None:
            lines += [f"![{title}]({Path(path).name})", "", f"*{title}*", ""]
    if grid.records:
        lines += ["Files beside this report: `report_summary.csv` and `report_paired.csv` (these "
                  "numbers at full precision), `report.tex` (the tables for LaTeX), "
                  "`report.json`; the report's figures also as SVG.", ""]
    return "\n".join(lines), numbers


def _strict(obj: Any) -> Any:
    """``obj`` with NaN and infinities as ``None``: report.json is standard JSON (null)."""
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_strict(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_report(run_dir: str | Path, console: Console | None = None, *,
                 anchor: str = ANCHOR) -> Path:
    """Build the report of ``run_dir`` and write ``report.md``, ``report.json``,
    ``report_summary.csv``, ``report_paired.csv``, ``report.tex`` and the figures there;
    print it to ``console``; returns the path of ``report.md``. A corrupt ``config.toml`` or
    ``metrics.json`` raises a one-line ``ValueError`` naming it before anything is written."""
    run_dir = Path(run_dir)
    grid = _grid(run_dir)  # reads and checks every file before anything is written
    if anchor != ANCHOR and anchor not in grid.config.latents:  # a grid may lack the default
        raise ValueError(f"anchor must be one of the experiment's latents "
                         f"({', '.join(grid.config.latents)}), got {anchor!r}")
    text, numbers = _build(grid, run_dir, anchor)
    if grid.records:
        atomic_write_text(run_dir / "report_summary.csv",
                          _csv(numbers["summaries"], _SUMMARY_COLUMNS))
        paired = (numbers["versus_best_baseline"] if _families_layout(grid)
                  else numbers["paired"])
        atomic_write_text(run_dir / "report_paired.csv", _csv(paired, _PAIRED_COLUMNS))
        atomic_write_text(run_dir / "report.tex", _latex(grid, numbers, anchor))
    atomic_write_text(run_dir / "report.json",
                      json.dumps(_strict(numbers), indent=2, allow_nan=False))
    path = atomic_write_text(run_dir / "report.md", text)
    if console is not None:
        console.print(Markdown(text))
        console.print(f"[dim]written: {path}[/dim]")
    return path
