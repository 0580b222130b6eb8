"""The zoo's report: per data set, families as rows and the metrics that apply as columns,
the exact target's sample floor, paired tests against the best classical baseline, no latent
length and no reference column; a log axis where the primary metric spans a decade."""

import csv
import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

from qlatent.experiments.plotting import spans_decades
from qlatent.experiments.report import FLOOR_REPEATS, write_report

# One worker builds this module's shared fixture once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("zoo_report")

ZOO = """
[experiment]
name = "tiny zoo"
task = "zoo"
datasets = ["bas", "digits"]
latents = ["qubit", "made", "bernoulli"]
seeds = 3

[latent_params.qubit]
latent = "born"
kind = "qubit"
layers = 1
datasets = ["bas"]
fit = {steps = 5}

[latent_params.made]
fit = {steps = 5}

[latent_params.bernoulli]
latent = "bernoulli_fit"
fit = {steps = 5}

[task]
bas_rows = 2
bas_cols = 2
n_eval = 200
"""
NAN = float("nan")
# primary metric per (data set, family), one value per seed
MMD = {("bas", "qubit"): [1.1e-3, 1.3e-3, 1.0e-3], ("bas", "made"): [2.0e-3, 1.9e-3, 2.4e-3],
       ("bas", "bernoulli"): [8.0e-2, 8.3e-2, 7.9e-2],
       ("digits", "made"): [2.1e-3, 2.3e-3, 2.2e-3],
       ("digits", "bernoulli"): [4.3e-3, 4.4e-3, 4.2e-3]}
ONLY_CARDINALITY = "cardinality only (held-out valid strings)"


def _zoo_run(root):
    root.mkdir()
    (root / "config.toml").write_text(ZOO)
    for (ds, fam), values in MMD.items():
        for seed, mmd in enumerate(values):
            m = {"exact_mmd": mmd, "kl_divergence": 10 * mmd, "total_variation": 0.1 + mmd,
                 "valid_fraction": 1 - mmd, "qbas_score": 1 - 2 * mmd,
                 "generalization_fidelity": NAN, "generalization_rate": NAN,
                 "generalization_coverage": NAN}
            notes = {k: ONLY_CARDINALITY for k in m if k.startswith("generalization")}
            if ds == "digits":
                m.update(kl_divergence=NAN, total_variation=NAN, valid_fraction=NAN,
                         qbas_score=NAN)
                notes.update(kl_divergence="digits has no exact target distribution",
                             total_variation="digits has no exact target distribution",
                             valid_fraction="digits has no validity rule",
                             qbas_score="bars-and-stripes only")
            cell = root / ds / fam / f"seed-{seed}"
            cell.mkdir(parents=True)
            cell.joinpath("metrics.json").write_text(json.dumps(
                {"cell": {"dataset": ds, "latent": fam, "latent_dim": 0, "seed": seed},
                 "metrics": m, "steps": 5, "notes": notes}))
    return root


@pytest.fixture(scope="module")
def zoo_report(tmp_path_factory):
    """A hand-written zoo run (no training) and its report, written once for this module."""
    run = _zoo_run(tmp_path_factory.mktemp("report") / "zoo")
    write_report(run)
    return run


def _summary(values, fmt="{:.2e}"):
    """mean ± SE [95 % CI] (n=k), computed here with scipy."""
    x = np.asarray(values)
    se = x.std(ddof=1) / math.sqrt(len(x))
    half = stats.t.ppf(0.975, len(x) - 1) * se
    f = fmt.format
    return f"{f(x.mean())} ± {f(se)} [{f(x.mean() - half)}, {f(x.mean() + half)}] (n={len(x)})"


def _section(text, heading):
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_zoo_report_has_a_section_per_data_set_and_no_gan_layout(zoo_report):
    run = zoo_report
    text = (run / "report.md").read_text()
    assert "L =" not in text and "| reference |" not in text and "reference: ." not in text
    assert "| L |" not in text and " / –" not in text
    bas = _section(text, "bas")
    # families as rows, the metrics that apply as columns, the best baseline marked
    assert bas.startswith("\n| family | MMD² ↓ | KL(data‖model) ↓ | TVD ↓ | χ valid ↑ | "
                          "qBAS F1 ↑ |")
    assert f"| made (classical; best baseline) | {_summary(MMD['bas', 'made'])} |" in bas
    assert f"| qubit | {_summary(MMD['bas', 'qubit'])} |" in bas
    assert f"| {_summary([10 * v for v in MMD['bas', 'qubit']], '{:.3f}')} |" in bas
    assert f"Not applicable to bas: fidelity ↑, rate ↑, coverage ↑ ({ONLY_CARDINALITY})." in bas
    assert "| *exact target, 200 samples (floor)* |" in bas
    # the paired test against the best baseline, its numbers computed here
    d = np.subtract(MMD["bas", "qubit"], MMD["bas", "made"])
    t = stats.ttest_rel(MMD["bas", "qubit"], MMD["bas", "made"])
    assert "### Paired tests against the best classical baseline, made" in bas
    assert f"| qubit − made | 3 | {d.mean():+.3g} [" in bas
    assert f"| {t.statistic:.3g} ({t.pvalue:.3g}) |" in bas
    digits = _section(text, "digits")
    assert "| family | MMD² ↓ |\n" in digits and "qubit" not in digits
    assert "No floor row: digits has no exact target distribution" in digits
    assert "| bernoulli − made | 3 |" in digits
    # the CSV of paired tests holds the comparisons against the best baseline
    with (run / "report_paired.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["dataset"], r["latent"], r["baseline"]) for r in rows} == {
        ("bas", "qubit", "made"), ("bas", "bernoulli", "made"), ("digits", "bernoulli", "made")}
    assert float(rows[0]["mean_difference"]) == pytest.approx(d.mean(), rel=1e-12)
    tex = (run / "report.tex").read_text()
    assert "$L" not in tex and "exact target (floor)" in tex
    # a log axis where the primary metric spans a decade (bas), a linear one where not
    svg = (run / "report.svg").read_text()
    assert "bas (log axis)" in svg and "digits (log axis)" not in svg


def _kernel(a, b, bandwidths=(0.5, 1.0, 2.0, 4.0)):
    h = float(np.sum((np.asarray(a, float) - np.asarray(b, float)) ** 2))
    return float(np.mean([math.exp(-h / (2 * s * s)) for s in bandwidths]))


def test_the_floor_is_the_exact_targets_own_score(zoo_report):
    # E[(q̂ − p)ᵀ K (q̂ − p)] = (1 − pᵀ K p) / n for a histogram q̂ of n draws from p (K_ii = 1):
    # the floor's mean MMD² must agree within its Monte Carlo error.
    floor = json.loads((zoo_report / "report.json").read_text())["sample_floor"]
    assert set(floor) == {"bas"}  # digits has no exact target
    assert set(floor["bas"]) == {"exact_mmd", "kl_divergence", "total_variation"}
    patterns = sorted({tuple([b] * 2 + [c] * 2) for b in (0, 1) for c in (0, 1)}
                      | {(b, c, b, c) for b in (0, 1) for c in (0, 1)})
    assert len(patterns) == 6  # 2 x 2 bars and stripes
    p = 1 / len(patterns)
    pkp = sum(p * p * _kernel(a, b) for a, b in itertools.product(patterns, repeat=2))
    expected = (1 - pkp) / 200
    f = floor["bas"]["exact_mmd"]
    assert f["repeats"] == FLOOR_REPEATS and f["n_eval"] == 200
    assert abs(f["mean"] - expected) < 4 * f["sd"] / math.sqrt(FLOOR_REPEATS)
    assert f["q025"] <= f["mean"] <= f["q975"]


@pytest.mark.parametrize("values, decades, expected", [
    ([2.6e-4, 2.9e-2], 1.0, True), ([2e-3, 7.6e-3], 1.0, False), ([1e-3, 1e-2], 1.0, True),
    ([1e-3, 1e-2], 2.0, False), ([0.0, 1.0], 1.0, False), ([-1e-3, 1.0], 1.0, False),
    ([1.0], 1.0, False), ([1e-4, NAN, 1e-2], 1.0, True)])
def test_spans_decades(values, decades, expected):
    assert spans_decades(values, decades) is expected
