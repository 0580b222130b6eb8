"""The model zoo at scale as a runner task: ``zoo-scale``, families x data sets of 64 to 1,024
bits x seeds, every family scored by its held-out MMD^2 under one Gaussian kernel per data set.

The families are the zoo's (``[latent_params.<label>]`` tables parsed by
:func:`qlatent.experiments.tasks.zoo.family`, trained as their ``fit`` table, a ``ZooFit``,
says). Past exact simulation they train with ``fit = {loss = "mmd-estimator", ...}`` (an IQP
circuit or its bit-flip control, ``qlatent.train.iqp.fit_iqp``: sample-free MMD^2, data-dependent
initial angles), ``loss = "pcd"`` (an RBM, ``qlatent.train.rbm.fit_rbm``) or ``loss = "nll"``
on the training rows (MADE, independent Bernoulli: ``fit_distribution``).

Data sets (``[task]``, :class:`ZooScaleParams`), each ``n_train`` training rows and up to
``n_held_out`` held-out rows fixed by ``data_seed`` (the same for every cell and seed: one
target, one bandwidth):

* ``ising<L>`` for each L of ``ising_sides`` (default ``ising10``, ``ising16``, ``ising32``):
  L x L periodic Ising configurations at ``ising_temperature`` from the Wolff sampler
  (``qlatent.data.ising_configurations``), training and held-out rows from two independent
  chains; the report lists their energy, |magnetisation| and integrated autocorrelation times.
* ``bas``: ``bas_rows`` x ``bas_cols`` bars and stripes, rows drawn uniformly from the
  patterns (``qlatent.data.sample_bars_and_stripes``), training and held-out draws independent.
* ``digits``: scikit-learn's 8 x 8 digits binarised at ``digits_threshold``, shuffled by
  ``data_seed``: the first ``n_train`` rows train, the next (up to ``n_held_out``) are held out.

Metric (primary, ``held_out_mmd``): MMD^2 between the model and the held-out rows under the
Gaussian kernel k(x, y) = exp(-|x - y|^2 / (2 σ^2)), σ the median heuristic on the training rows
(``qlatent.quantum.iqp.median_bandwidth(train, rng=0)``, recorded per data set in the report),
with its standard error ``held_out_mmd_se``:

* the IQP circuit (``born``, ``kind = "iqp"``) cannot be sampled classically past 20 qubits:
  by the unbiased estimator ``qlatent.quantum.iqp.mmd2_estimate`` (``eval_ops`` spectral
  operators in ``eval_groups`` groups, ``eval_strings`` strings each; SE from the groups). At
  <= 20 qubits it is also scored from ``n_eval`` exact samples (``held_out_mmd_samples`` and
  its SE), which must agree within the errors (tested);
* every other family samples cheaply (bit-flip, RBM with <= 16 hidden units, MADE, Bernoulli):
  from ``n_eval`` samples, saved as ``samples.npy``, by ``qlatent.metrics.kernels.mmd2_by_groups``
  (``eval_groups`` groups of samples, the U-statistic per group; SE from the groups).

Both are unbiased for the same quantity, E k(x, x') - (2/M) sum_m E k(x, y_m) + (the held-out
rows' U-statistic), so figures of the two kinds compare; both standard errors are conditional
on the held-out rows (shared by every family: the paired tests pair on them).

The report adds the data sets' table (σ, Ising observables), each family's training budget,
paired t-tests with Holm's correction of the IQP circuit against the best classical baseline
and against its bit-flip control per data set, and a figure of held-out MMD^2 against the
number of bits per family.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qlatent._io import atomic_write_text
from qlatent.data import discrete, ising_configurations, sample_bars_and_stripes
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.plotting import figure, spans_decades
from qlatent.experiments.stats import CONFIDENCE, format_p, holm, paired_test, summarize
from qlatent.experiments.tasks.base import (
    Built,
    CellContext,
    CellRecord,
    Metrics,
    MetricSpec,
    Params,
    param,
    register_task,
    torch_generator,
)
from qlatent.experiments.tasks.zoo import ZooTask, family, save_samples
from qlatent.latents.iqp_born import IQPBornLatent
from qlatent.metrics.kernels import mmd2_by_groups
from qlatent.quantum import iqp

#: Data sets of ``zoo-scale`` besides the Ising sizes (``ising<L>``).
SCALE_DATASETS = ("bas", "digits")
#: Significance level of the report's verdicts (after Holm's correction).
ALPHA = 0.05


@dataclass(frozen=True)
class ZooScaleParams(Params):
    """The ``[task]`` table of ``zoo-scale``: the data sets' sizes and the held-out scoring."""

    TABLE = "task"

    ising_sides: tuple[int, ...] = param((10, 16, 32), minimum=3, maximum=64)
    """L of each Ising data set ``ising<L>`` (L x L bits)."""
    ising_temperature: float = param(2.5, minimum=0.0)
    """T of every Ising data set (T_c ≈ 2.269)."""
    ising_sweeps_between: int = param(10, minimum=1)
    """Sweeps of Wolff updates between two kept Ising rows (``sweeps_between``): with 1,
    consecutive rows are close in Hamming distance and bias the held-out rows' own kernel
    term upwards."""
    bas_rows: int = param(8, minimum=2, maximum=32)
    """Rows of the bars-and-stripes images."""
    bas_cols: int = param(8, minimum=2, maximum=32)
    """Columns of the bars-and-stripes images."""
    digits_threshold: int = param(8, minimum=1, maximum=16)
    """A digits pixel (0..16) is 1 where it is >= this."""
    n_train: int = param(1000, minimum=2)
    """Training rows per data set (digits: at most 1,795 of its 1,797)."""
    n_held_out: int = param(1000, minimum=2)
    """Held-out rows per data set (digits: what is left after n_train, at most this)."""
    data_seed: int = param(0, minimum=0)
    """Seed of every data set (the same for every cell)."""
    n_eval: int = param(2000, minimum=4)
    """Model samples per cell (every family that samples; saved as samples.npy)."""
    eval_ops: int = param(20000, minimum=2)
    """Operators of the IQP circuit's held-out MMD^2 estimate (a multiple of eval_groups)."""
    eval_strings: int = param(1000, minimum=2)
    """Strings per group of the IQP circuit's estimate."""
    eval_groups: int = param(20, minimum=2)
    """Independent groups behind each standard error (operators, or samples)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ising_temperature <= 0:
            raise ValueError(f"task.ising_temperature must be > 0, got {self.ising_temperature}")
        if len(set(self.ising_sides)) != len(self.ising_sides):
            raise ValueError(f"task.ising_sides must not repeat a side, got "
                             f"{list(self.ising_sides)}")
        if self.eval_ops % self.eval_groups:
            raise ValueError(f"task.eval_ops must be a multiple of task.eval_groups = "
                             f"{self.eval_groups}, got {self.eval_ops}")
        if self.n_eval < 2 * self.eval_groups:
            raise ValueError(f"task.n_eval must be >= 2 x task.eval_groups = "
                             f"{2 * self.eval_groups} (two samples per group), got {self.n_eval}")
        if self.n_train > 1795:  # digits has 1,797 rows and needs 2 held out
            raise ValueError(f"task.n_train must be <= 1795 (digits has 1,797 rows, 2 held out "
                             f"at least), got {self.n_train}")

    def dataset_names(self) -> tuple[str, ...]:
        return tuple(f"ising{L}" for L in self.ising_sides) + SCALE_DATASETS


# --------------------------------------------------------------------------- data
def scale_dataset(name: str, p: ZooScaleParams) -> discrete.DiscreteData:
    """The ``DiscreteData`` of data set ``name``: ``data`` the training rows, ``held_out`` the
    held-out rows, ``info`` its parameters with ``sigma`` (the median heuristic on the training
    rows). Built once per process and parameters (cached)."""
    valid = p.dataset_names()
    if name not in valid:
        raise ValueError(f"dataset must be one of {', '.join(valid)}, got {name!r}")
    return _scale_dataset(name, p)


@functools.lru_cache(maxsize=16)
def _scale_dataset(name: str, p: ZooScaleParams) -> discrete.DiscreteData:
    seeds = np.random.SeedSequence([p.data_seed, len(name), *name.encode()]).spawn(2)
    if name.startswith("ising"):
        side = int(name[len("ising"):])
        chain = {"temperature": p.ising_temperature, "sweeps_between": p.ising_sweeps_between}
        train = ising_configurations(side, n_samples=p.n_train, rng=seeds[0], **chain)
        held = ising_configurations(side, n_samples=p.n_held_out, rng=seeds[1], **chain)
        info = {"kind": "ising", **{f"train_{k}": v for k, v in train.info.items()},
                **{f"held_out_{k}": v for k, v in held.info.items()
                   if k not in ("side", "temperature")}}
        rows, held_rows = train.data, held.data
    elif name == "bas":
        rows = sample_bars_and_stripes(p.bas_rows, p.bas_cols, p.n_train, rng=seeds[0]).data
        held_rows = sample_bars_and_stripes(p.bas_rows, p.bas_cols, p.n_held_out,
                                            rng=seeds[1]).data
        info = {"kind": "bas", "n_rows": p.bas_rows, "n_cols": p.bas_cols}
    else:
        digits = discrete.binarized_digits(threshold=p.digits_threshold)
        order = np.random.default_rng(seeds[0]).permutation(len(digits.data))
        rows = digits.data[order[:p.n_train]]
        held_rows = digits.data[order[p.n_train:p.n_train + p.n_held_out]]
        info = {"kind": "digits", "threshold": p.digits_threshold}
    info.update(n_train=int(len(rows)), n_held_out=int(len(held_rows)), bits=int(rows.shape[1]),
                sigma=iqp.median_bandwidth(rows, rng=0))
    return discrete.DiscreteData(name=name, data=np.ascontiguousarray(rows, dtype=np.uint8),
                                 held_out=np.ascontiguousarray(held_rows, dtype=np.uint8),
                                 info=info)


# --------------------------------------------------------------------------- scoring
def held_out_mmd(latent: nn.Module, data: discrete.DiscreteData, p: ZooScaleParams, *,
                 generator: torch.Generator | None = None
                 ) -> tuple[dict[str, float], dict[str, str], np.ndarray | None]:
    """The cell's metrics (module docstring): (values, notes of the NaN ones, the samples drawn
    (uint8 [n_eval, n]) or None for an IQP circuit past 20 qubits)."""
    sigma, y = float(data.info["sigma"]), data.held_out
    values: dict[str, float] = {}
    notes: dict[str, str] = {}
    circuit = isinstance(latent, IQPBornLatent) and latent.kind == "iqp"
    x = None
    if circuit:
        with torch.no_grad():
            est, se = iqp.mmd2_estimate(latent.theta.detach(), latent.gates, y, sigma=sigma,
                                        n_ops=p.eval_ops, n_samples=p.eval_strings,
                                        n_groups=p.eval_groups, generator=generator)
        values["held_out_mmd"], values["held_out_mmd_se"] = float(est), se
    if not circuit or latent.dim <= iqp.MAX_STATE_QUBITS:
        with torch.no_grad():
            x = latent.sample_counts(p.n_eval, generator=generator).cpu().numpy()
        x = x.astype(np.uint8)
        by_samples = mmd2_by_groups(x, y, sigma, p.eval_groups)
    if circuit and x is not None:
        values["held_out_mmd_samples"], values["held_out_mmd_samples_se"] = by_samples
    elif circuit:
        for key in ("held_out_mmd_samples", "held_out_mmd_samples_se"):
            values[key] = math.nan
            notes[key] = (f"an IQP circuit of {latent.dim} > {iqp.MAX_STATE_QUBITS} qubits cannot "
                          "be sampled classically")
    else:
        values["held_out_mmd"], values["held_out_mmd_se"] = by_samples
        for key in ("held_out_mmd_samples", "held_out_mmd_samples_se"):
            values[key] = math.nan
            notes[key] = "held_out_mmd is already from samples (a family that samples)"
    return values, notes, x


# --------------------------------------------------------------------------- the task
class ZooScaleTask(ZooTask):
    """The zoo's families on data sets of 64 to 1,024 bits, scored by held-out MMD^2 (see the
    module docstring). Datasets: ``ising<L>`` (``task.ising_sides``), ``bas``, ``digits``.
    Tables: ``ZooScaleParams``; the families as the zoo's."""

    name = "zoo-scale"
    datasets = ("ising10", "ising16", "ising32", *SCALE_DATASETS)
    metrics = (
        MetricSpec("held_out_mmd", "held-out MMD²", "{:.2e}"),
        MetricSpec("held_out_mmd_se", "its SE", "{:.1e}"),
        MetricSpec("held_out_mmd_samples", "by samples (IQP ≤ 20 qubits)", "{:.2e}"),
        MetricSpec("held_out_mmd_samples_se", "its SE", "{:.1e}"),
    )
    task_table = ZooScaleParams

    def dataset_names(self, task_params: ZooScaleParams) -> tuple[str, ...]:
        return task_params.dataset_names()

    def data(self, name: str, task_params: Any) -> Any:
        return scale_dataset(name, task_params)

    def check_scored(self, model: nn.Module) -> None:
        """Every family is scored here (the IQP circuit by its estimator): nothing to refuse."""
        return None

    def evaluate(self, ctx: CellContext, built: Built, latent: nn.Module) -> Metrics:
        fam = family(ctx.cell.latent, ctx.config.latent_params.get(ctx.cell.latent, {}))
        if fam.train != "likelihood":
            raise ValueError(f"latent_params.{fam.label}: zoo-scale scores trained "
                             "distributions (train = 'likelihood'), got train = 'adversarial'")
        values, notes, x = held_out_mmd(latent, built.data, ctx.config.task_params,
                                        generator=torch_generator(ctx.seeds.evaluate))
        if x is not None:
            save_samples(ctx.cell_dir / "samples.npy", x)
        return Metrics(values, notes=notes)

    def check_latent(self, name: str, params: Mapping[str, Any],
                     config: ExperimentConfig) -> None:
        if params.get("train", "likelihood") != "likelihood":
            raise ValueError(f"latent_params.{name}.train: zoo-scale scores trained "
                             "distributions, so every family has train = 'likelihood'")
        super().check_latent(name, params, config)

    # ----------------------------------------------------------------------- report
    def scoring(self, config: ExperimentConfig) -> str:
        p = config.task_params
        return (f"every cell is scored by held-out MMD² with one Gaussian kernel per data set: "
                f"an IQP circuit by its sample-free estimator ({p.eval_ops:,} operators x "
                f"{p.eval_strings:,} strings per group, {p.eval_groups} groups), every other "
                f"family on {p.n_eval:,} samples of its trained model")

    def report_sections(self, records: list[CellRecord], config: ExperimentConfig,
                        run_dir: Path) -> list[str]:
        """The data sets, the families' budgets and the IQP paired tests (Holm-corrected)."""
        p = config.task_params
        lines = ["## Data sets (held-out MMD² with one Gaussian kernel each)", "",
                 "| data set | bits | train rows | held-out rows | σ (median heuristic) | "
                 "training rows as the model | T | energy / site (train) | abs. magnetisation / "
                 "site (train) | τ_int energy, abs. m (samples) |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for ds in config.datasets:
            data = scale_dataset(ds, p)
            info = data.info
            # what the training rows themselves score (shuffled: groups of independent rows)
            order = np.random.default_rng(p.data_seed).permutation(len(data.data))
            floor, floor_se = mmd2_by_groups(data.data[order], data.held_out, info["sigma"],
                                             p.eval_groups)
            row = [ds, str(info["bits"]), str(info["n_train"]), str(info["n_held_out"]),
                   f"{info['sigma']:.3f}", f"{floor:.2e} ± {floor_se:.1e}"]
            if info["kind"] == "ising":
                row += [f"{info['train_temperature']:g}",
                        f"{info['train_energy']:.4f} ± {info['train_energy_se']:.4f}",
                        f"{info['train_abs_magnetisation']:.4f} ± "
                        f"{info['train_abs_magnetisation_se']:.4f}",
                        f"{info['train_tau_energy']:.2f}, "
                        f"{info['train_tau_abs_magnetisation']:.2f}"]
            else:
                row += ["–"] * 4
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", f"Ising rows are a fixed number of Wolff cluster updates apart (about "
                  f"{p.ising_sweeps_between} sweeps); ± is one standard error from the integrated "
                  "autocorrelation time (τ_int in rows). \"Training rows as the model\": the "
                  "held-out MMD² of the training rows themselves (by samples, ± its SE), the "
                  "score of memorising the training set. "
                  "Training and held-out rows come from independent chains (Ising) or draws "
                  "(bars and stripes); digits are one shuffled split.", "",
                  "## Training budget per family", "",
                  "| family | trainer | steps | per step |", "|---|---|---|---|"]
        for lat in config.latents:
            fit = family(lat, config.latent_params.get(lat, {})).fit
            lines.append(f"| {lat} | {fit.loss} | {fit.steps} | {_per_step(fit)} |")
        lines += [""]
        return lines + self._iqp_tests(records, config, run_dir)

    def _iqp_tests(self, records: list[CellRecord], config: ExperimentConfig,
                   run_dir: Path) -> list[str]:
        rows = iqp_comparisons(records, config)
        _write_csv(run_dir / "iqp_tests.csv", rows)
        pct = f"{CONFIDENCE:.0%}"
        lines = ["## The IQP circuit against the best classical baseline and its bit-flip "
                 "control (held-out MMD² ↓)", ""]
        if not rows:
            return lines + ["No IQP circuit family with finished comparisons.", ""]
        lines += [f"| data set | bits | comparison | n | mean difference [{pct} CI] | paired t p "
                  "| Holm p | Wilcoxon p | verdict |", "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(
                f"| {r['dataset']} | {r['bits']} | {r['latent']} − {r['baseline']} | {r['n']} | "
                f"{r['mean_difference']:.2e} [{r['ci_low']:.2e}, {r['ci_high']:.2e}] | "
                f"{format_p(r['t_pvalue'])} | {format_p(r['holm_pvalue'])} | "
                f"{format_p(r['wilcoxon_pvalue'])} | {r['verdict']} |")
        lines += ["", f"d = IQP − other per seed (held-out MMD², lower is better); its mean with "
                  f"the {pct} Student-t CI and a two-sided paired t-test (`scipy.stats.ttest_rel`);"
                  f" the p-values are corrected for the {len(rows)} comparisons of this table by "
                  f"Holm's step-down method, and the verdict reads the corrected p at α = "
                  f"{ALPHA}: **beats** (d < 0), **loses** (d > 0), else **tie (not resolved at "
                  "this power)** — not evidence of no difference. The Wilcoxon signed-rank p "
                  "(exact, uncorrected) is shown for reference: with 5 seeds its smallest "
                  "two-sided value is 0.0625, so it cannot reach 0.05 alone. The best classical "
                  "baseline is the classical family (not the bit-flip control) with the lowest "
                  "mean on the same seeds, a selection that favours it slightly.", ""]
        return lines

    def figures(self, records: list[CellRecord], config: ExperimentConfig,
                out_dir: Path) -> list[tuple[str, Path]]:
        """Held-out MMD² against the number of bits, one line per family."""
        if not records:
            return []
        p = config.task_params
        path = out_dir / "mmd_vs_bits.png"
        markers = {"ising": "o", "bas": "s", "digits": "^"}
        means = []
        with figure(path, figsize=(7.0, 4.2)) as (_, axes):
            ax = axes[0][0]
            for k, lat in enumerate(config.latents):
                color = f"C{k}"
                points = []
                for ds in config.datasets:
                    info = scale_dataset(ds, p).info
                    v = [r.metrics["held_out_mmd"] for r in records
                         if r.cell.latent == lat and r.cell.dataset == ds]
                    s = summarize(v)
                    if s.n:
                        points.append((info["bits"], s.mean, s.se, info["kind"]))
                        means.append(s.mean)
                ising = sorted((b, m, e) for b, m, e, kind in points if kind == "ising")
                if ising:
                    b, m, e = zip(*ising, strict=True)
                    ax.errorbar(b, m, yerr=e, color=color, marker="o", capsize=3, label=lat)
                for b, m, e, kind in points:
                    if kind != "ising":
                        ax.errorbar([b * (1 + 0.04 * (k - 2))], [m], yerr=[e], color=color,
                                    marker=markers[kind], linestyle="none", capsize=3)
            ax.set_xscale("log", base=2)
            if spans_decades(means):
                ax.set_yscale("log")
            ax.set_xlabel("bits (Ising L² on the line; ■ bars and stripes, ▲ digits at 64)")
            ax.set_ylabel("held-out MMD² (mean ± SE over seeds)")
            ax.legend(fontsize="small")
        return [("Held-out MMD² against the number of bits per family (lines: Ising 10², 16², "
                 "32²; squares: bars and stripes 8 × 8; triangles: digits)", path)]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """The IQP comparisons at full precision (``iqp_tests.csv``)."""
    columns = ("dataset", "bits", "latent", "baseline", "versus", "n", "mean_difference",
               "ci_low", "ci_high", "t_statistic", "t_pvalue", "holm_pvalue",
               "wilcoxon_statistic", "wilcoxon_pvalue", "verdict")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([repr(v) if isinstance(v, float) else v
                         for v in (r[c] for c in columns)])
    atomic_write_text(path, buffer.getvalue())


def _per_step(fit: Any) -> str:
    if fit.loss == "mmd-estimator":
        return (f"{fit.n_ops or 1000} operators × {fit.n_samples or 1000} strings, all training "
                f"rows, Adam lr {fit.lr or 0.02}")
    if fit.loss == "pcd":
        return (f"{fit.batch_size} rows, {fit.n_chains or 64} chains × {fit.gibbs_steps or 1} "
                f"Gibbs steps, Adam lr {fit.lr or 0.02}")
    return f"{fit.batch_size} rows, {fit.optimizer} lr {fit.lr or 0.02}"


def iqp_comparisons(records: list[CellRecord], config: ExperimentConfig) -> list[dict[str, Any]]:
    """Per data set, paired t-tests over seeds of each IQP circuit family (``born``, kind
    ``iqp``) against the best classical baseline (lowest mean held-out MMD²; the bit-flip
    control excluded) and against each bit-flip family, Holm-corrected over all rows."""
    tables = {lat: config.latent_params.get(lat, {}) for lat in config.latents}
    fams = {lat: family(lat, t) for lat, t in tables.items()}

    def kind(lat: str) -> str | None:
        return tables[lat].get("kind") if fams[lat].latent == "born" else None

    circuits = [lat for lat in config.latents if kind(lat) == "iqp"]
    controls = [lat for lat in config.latents if kind(lat) == "bitflip"]
    classical = [lat for lat in config.latents if fams[lat].classical and lat not in controls]

    def by_seed(ds: str, lat: str) -> dict[int, float]:
        return {r.cell.seed: r.metrics["held_out_mmd"] for r in records
                if r.cell.dataset == ds and r.cell.latent == lat}

    rows = []
    for ds in config.datasets:
        means = {lat: summarize(by_seed(ds, lat).values()).mean for lat in classical}
        finite = [lat for lat in classical if math.isfinite(means[lat])]
        best = min(finite, key=means.get) if finite else None
        for lat in circuits:
            for other in ([best] if best else []) + controls:
                t = paired_test(by_seed(ds, lat), by_seed(ds, other))
                if t["n"] == 0:
                    continue
                rows.append({"dataset": ds, "bits": scale_dataset(ds, config.task_params)
                             .info["bits"], "latent": lat, "baseline": other,
                             "versus": "bit-flip control" if other in controls
                             else "best classical baseline", **t})
    for r, adjusted in zip(rows, holm([r["t_pvalue"] for r in rows]), strict=True):
        r["holm_pvalue"] = adjusted
        if math.isfinite(adjusted) and adjusted < ALPHA:
            r["verdict"] = "beats" if r["mean_difference"] < 0 else "loses"
        else:
            r["verdict"] = "tie (not resolved at this power)"
    return rows


ZOO_SCALE = register_task(ZooScaleTask())
