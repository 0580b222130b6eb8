"""Reports of an experiment directory: tables in the paper's layout, statistics, figures.

For each metric of the task: mean ± standard error over seeds (SE = s / √n, s the sample
standard deviation with ddof = 1) per (dataset, latent, latent length), with the published
numbers beside ours; for the primary metric a paired comparison of the ``quantum`` and
``photonic`` latents over the seeds both have finished (cells of one seed share the data, the
network initialisation and, with ``paired_circuits``, the interferometer): the mean
difference, a paired t-test (``scipy.stats.ttest_rel``) and a Wilcoxon signed-rank test
(``scipy.stats.wilcoxon``), each with its n.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markdown import Markdown

from qlatent._io import atomic_write_text
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.tasks import Cell, CellRecord, get_task


@dataclass(frozen=True)
class Summary:
    """Mean, standard error and count of one metric over seeds."""

    mean: float
    se: float
    n: int

    def format(self, fmt: str) -> str:
        if self.n == 0:
            return "–"
        if self.n == 1 or not math.isfinite(self.se):
            return f"{fmt.format(self.mean)} (n=1)"
        return f"{fmt.format(self.mean)} ± {fmt.format(self.se)} (n={self.n})"


def summarize(values: list[float]) -> Summary:
    """Mean ± standard error (ddof = 1) of ``values``."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Summary(float("nan"), float("nan"), 0)
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")
    return Summary(float(x.mean()), se, int(x.size))


def paired_test(a: dict[int, float], b: dict[int, float]) -> dict[str, Any]:
    """Paired comparison of two latents over their common seeds.

    Returns ``n``, ``mean_difference`` (mean of a − b), ``t_statistic``/``t_pvalue``
    (paired t-test, two-sided) and ``wilcoxon_statistic``/``wilcoxon_pvalue`` (two-sided
    signed-rank; exact for small n); NaN where n is too small (t: n >= 2; Wilcoxon: n >= 1
    and not all differences zero).
    """
    from scipy import stats

    seeds = sorted(set(a) & set(b))
    x = np.array([a[s] for s in seeds])
    y = np.array([b[s] for s in seeds])
    out: dict[str, Any] = {"n": len(seeds), "mean_difference": float("nan"),
                           "t_statistic": float("nan"), "t_pvalue": float("nan"),
                           "wilcoxon_statistic": float("nan"), "wilcoxon_pvalue": float("nan")}
    if not seeds:
        return out
    d = x - y
    out["mean_difference"] = float(d.mean())
    if len(seeds) >= 2 and np.any(d != d[0]):
        t = stats.ttest_rel(x, y)
        out["t_statistic"], out["t_pvalue"] = float(t.statistic), float(t.pvalue)
    if np.any(d != 0):
        w = stats.wilcoxon(x, y)
        out["wilcoxon_statistic"], out["wilcoxon_pvalue"] = float(w.statistic), float(w.pvalue)
    return out


def load_records(run_dir: str | Path) -> tuple[ExperimentConfig, list[CellRecord]]:
    """The experiment config and every finished cell (a ``metrics.json``) under ``run_dir``."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.toml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not an experiment directory (no config.toml); "
                                "make one with `qlatent run CONFIG --out DIR`")
    config = ExperimentConfig.from_dict(tomllib.loads(cfg_path.read_text()))
    records = []
    for path in sorted(run_dir.glob("**/metrics.json")):
        rec = json.loads(path.read_text())
        c = rec["cell"]
        records.append(CellRecord(Cell(c["dataset"], c["latent"], int(c["latent_dim"]),
                                       int(c["seed"])), path.parent, rec["metrics"]))
    return config, records


def build_report(run_dir: str | Path) -> tuple[str, dict[str, Any]]:
    """Markdown text and the numbers behind it (written by ``write_report``)."""
    run_dir = Path(run_dir)
    config, records = load_records(run_dir)
    task = get_task(config.task)
    lines = [f"# {config.name}: {len(records)} finished cell(s)", ""]
    if records:
        steps = sorted({json.loads((r.run_dir / "metrics.json").read_text())["steps"]
                        for r in records})
        lines += [f"Task `{task.name}`; training steps {', '.join(map(str, steps))}; batch "
                  f"{config.train.batch_size}, n_critic {config.train.n_critic}, "
                  f"{config.train.optimizer} lr {config.train.lr}, loss {config.train.loss} "
                  f"(λ = {config.train.gp_weight}), {config.train.precision}. Mean ± standard "
                  f"error over seeds; reference: {task.reference_label}.", ""]
    numbers: dict[str, Any] = {"summaries": [], "paired": []}
    dims = [d for d in config.latent_dims if any(r.cell.latent_dim == d for r in records)]
    latents = [lat for lat in config.latents if any(r.cell.latent == lat for r in records)]
    datasets = [d for d in config.datasets if any(r.cell.dataset == d for r in records)]
    primary = task.metrics[0]

    def values(ds: str, lat: str, dim: int, metric: str) -> dict[int, float]:
        return {r.cell.seed: float(r.metrics[metric]) for r in records
                if (r.cell.dataset, r.cell.latent, r.cell.latent_dim) == (ds, lat, dim)
                and metric in r.metrics}

    def ref(ds: str, lat: str, dim: int, metric: str) -> str:
        v = task.reference.get((ds, lat, dim), {}).get(metric)
        if v is None:
            return "–"
        mean, err = v
        return (primary_fmt(metric).format(mean) if not math.isfinite(err) else
                f"{primary_fmt(metric).format(mean)} ± {primary_fmt(metric).format(err)}")

    def primary_fmt(metric: str) -> str:
        return next(m.fmt for m in task.metrics if m.name == metric)

    # The paper's layout: datasets as rows, latents as columns, primary metric.
    for dim in dims:
        lines += [f"## {primary.label or primary.name} (L = {dim}): ours / reference", ""]
        lines.append("| dataset | " + " | ".join(latents) + " |")
        lines.append("|---|" + "---|" * len(latents))
        for ds in datasets:
            cells_txt = []
            for lat in latents:
                s = summarize(list(values(ds, lat, dim, primary.name).values()))
                cells_txt.append(f"{s.format(primary.fmt)} / {ref(ds, lat, dim, primary.name)}")
            lines.append(f"| {ds} | " + " | ".join(cells_txt) + " |")
        lines.append("")
    # Every metric, one row per (dataset, latent, dim).
    lines += ["## All metrics", ""]
    lines.append("| dataset | latent | L | " + " | ".join(m.label or m.name for m in task.metrics)
                 + " | reference |")
    lines.append("|---|---|---|" + "---|" * (len(task.metrics) + 1))
    for ds in datasets:
        for dim in dims:
            for lat in latents:
                row = []
                for m in task.metrics:
                    s = summarize(list(values(ds, lat, dim, m.name).values()))
                    numbers["summaries"].append({"dataset": ds, "latent": lat, "latent_dim": dim,
                                                 "metric": m.name, "mean": s.mean, "se": s.se,
                                                 "n": s.n})
                    row.append(s.format(m.fmt))
                lines.append(f"| {ds} | {lat} | {dim} | " + " | ".join(row)
                             + f" | {ref(ds, lat, dim, primary.name)} |")
    lines.append("")
    # Paired quantum vs photonic.
    if "quantum" in latents and "photonic" in latents:
        lines += [f"## Paired test, quantum − photonic ({primary.name}; "
                  f"{'lower' if not primary.higher_is_better else 'higher'} is better)", "",
                  "| dataset | L | n | mean difference | paired t (p) | Wilcoxon W (p) |",
                  "|---|---|---|---|---|---|"]
        for ds in datasets:
            for dim in dims:
                t = paired_test(values(ds, "quantum", dim, primary.name),
                                values(ds, "photonic", dim, primary.name))
                numbers["paired"].append({"dataset": ds, "latent_dim": dim, **t})
                lines.append(
                    f"| {ds} | {dim} | {t['n']} | {t['mean_difference']:+.4g} | "
                    f"{t['t_statistic']:.3g} ({t['t_pvalue']:.3g}) | "
                    f"{t['wilcoxon_statistic']:.3g} ({t['wilcoxon_pvalue']:.3g}) |")
        lines += ["", "Seeds are paired: the quantum and photonic cells of one seed share the "
                  "data, the network initialisation, the training streams"
                  + (" and the interferometer." if config.paired_circuits else
                     "; their interferometers are independent draws."), ""]
    # Optional task hook: extra markdown sections (e.g. the paper's own table layout).
    sections = getattr(task, "report_sections", None)
    if sections is not None:
        lines += sections(records, config, run_dir)
    # Figures.
    figures = []
    if records:
        figures.append(("Primary metric per latent (bars: mean ± SE; dots: seeds; "
                        "star: reference)",
                        _bar_chart(records, config, task, run_dir)))
        figures += task.figures(records, config, run_dir)
    for title, path in figures:
        if path is not None:
            lines += [f"![{title}]({Path(path).name})", "", f"*{title}*", ""]
    return "\n".join(lines), numbers


def _bar_chart(records: list[CellRecord], config: ExperimentConfig, task: Any,
               out_dir: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = task.metrics[0]
    datasets = [d for d in config.datasets if any(r.cell.dataset == d for r in records)]
    latents = [lat for lat in config.latents if any(r.cell.latent == lat for r in records)]
    dim = config.latent_dims[0]
    fig, axes = plt.subplots(1, len(datasets), squeeze=False, figsize=(4 * len(datasets), 3))
    for ax, ds in zip(axes[0], datasets, strict=True):
        for i, lat in enumerate(latents):
            vals = [r.metrics[m.name] for r in records if r.cell.dataset == ds
                    and r.cell.latent == lat and r.cell.latent_dim == dim]
            s = summarize(vals)
            ax.bar(i, s.mean, yerr=0 if s.n < 2 else s.se, color=f"C{i}", capsize=3)
            ax.scatter(np.full(len(vals), i), vals, s=8, color="k", zorder=3)
            refv = task.reference.get((ds, lat, dim), {}).get(m.name)
            if refv is not None:
                ax.scatter([i], [refv[0]], marker="*", s=90, color="gold", edgecolors="k",
                           zorder=4)
        ax.set_xticks(range(len(latents)), latents, rotation=20)
        ax.set_title(f"{ds} (L = {dim})")
        ax.set_ylabel(m.name)
    fig.tight_layout()
    path = out_dir / "report.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(run_dir: str | Path, console: Console | None = None) -> Path:
    """Build the report of ``run_dir``, write ``report.md`` / ``report.json`` / PNGs there,
    print it to ``console``; returns the path of ``report.md``."""
    run_dir = Path(run_dir)
    text, numbers = build_report(run_dir)
    path = atomic_write_text(run_dir / "report.md", text)
    atomic_write_text(run_dir / "report.json", json.dumps(numbers, indent=2, default=float))
    if console is not None:
        console.print(Markdown(text))
        console.print(f"[dim]written: {path}[/dim]")
    return path
