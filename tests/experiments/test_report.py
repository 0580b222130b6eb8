"""Reports: statistics in the text, CSV and LaTeX that parse back to the same numbers, NaN
reasons, the budget warning, corrupt files named in one line, and the CLI."""

import csv
import json
import math
import re
from pathlib import Path

import pytest
from scipy import stats

from qlatent.experiments.config import ExperimentConfig, to_toml
from qlatent.experiments.report import build_report, load_records, write_report
from qlatent.experiments.stats import summarize
from qlatent.train import Config

# Table I's reference budget (paper App. D): 40k iterations, batch 500, 12 runs.
T1_STEPS, T1_BATCH, T1_SEEDS = 40_000, 500, 12


def _fake_run(root: Path, values: dict, *, task="table1", datasets=("quantum",), steps=T1_STEPS,
              batch_size=T1_BATCH, task_params=None, notes=None) -> Path:
    """An experiment directory with metrics.json files holding ``values``:
    (dataset, latent, dim) -> list of per-seed metric dicts. No training."""
    latents = tuple(dict.fromkeys(k[1] for k in values))
    n_seeds = max(len(v) for v in values.values())
    config = ExperimentConfig(name="fake", task=task, datasets=datasets, latents=latents,
                              seeds=tuple(range(n_seeds)),
                              train=Config(steps=steps, batch_size=batch_size),
                              task_params=task_params or {})
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(to_toml(config.to_dict()))
    for (ds, lat, dim), seeds in values.items():
        for seed, metrics in enumerate(seeds):
            cell = root / ds / f"{lat}-L{dim}" / f"seed-{seed}"
            cell.mkdir(parents=True)
            record = {"cell": {"dataset": ds, "latent": lat, "latent_dim": dim, "seed": seed},
                      "metrics": metrics, "steps": steps, "notes": (notes or {})}
            (cell / "metrics.json").write_text(json.dumps(record))
    return root


T1 = {
    ("quantum", "gaussian", 16): [0.061, 0.058, 0.066, 0.060],
    ("quantum", "photonic", 16): [0.041, 0.045, 0.039, 0.047],
    ("quantum", "quantum", 16): [0.036, 0.037, 0.033, 0.038],
}


def _t1(n_seeds=T1_SEEDS):
    """Table I values for ``n_seeds`` seeds (a deterministic spread around the values above)."""
    return {k: [{"integer_distance": v[i % len(v)] + 1e-4 * i} for i in range(n_seeds)]
            for k, v in T1.items()}


def test_paired_tests_cover_every_latent_against_quantum(tmp_path):
    run = _fake_run(tmp_path / "run", _t1(5), steps=100)
    text, numbers = build_report(run)
    pairs = [(p["latent"], p["baseline"]) for p in numbers["paired"]]
    assert pairs == [("quantum", "gaussian"), ("quantum", "photonic")]
    q = [m["integer_distance"] for m in _t1(5)[("quantum", "quantum", 16)]]
    g = [m["integer_distance"] for m in _t1(5)[("quantum", "gaussian", 16)]]
    t = numbers["paired"][0]
    ref = stats.ttest_rel(q, g)
    assert t["n"] == 5 and t["t_pvalue"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert t["favoured"] == "quantum"  # lower integer distance is better
    # Holm over the two comparisons, by hand: the smaller p doubled, the larger kept (or
    # raised to the first's adjusted value); the verdict follows the adjusted p only.
    p1, p2 = (r["t_pvalue"] for r in numbers["paired"])
    lo, hi = sorted((p1, p2))
    adjusted = {lo: min(1, 2 * lo), hi: min(1, max(2 * lo, hi))}
    for r in numbers["paired"]:
        assert r["holm_pvalue"] == pytest.approx(adjusted[r["t_pvalue"]], rel=1e-12)
        assert r["verdict"] == (f"{r['favoured']} better" if r["holm_pvalue"] < 0.05
                                else "not resolved at this power")
    assert t["verdict"] == "quantum better"  # p ~ 1e-5 with these values
    assert "| quantum | 16 | quantum − gaussian | 5 |" in text
    assert "Wilcoxon signed-rank" in text and "paired t-test" in text
    assert "lower is better" in text
    lines = text.splitlines()  # the demo tours read the table right below its heading
    assert lines[lines.index("## All metrics") + 2].startswith("| dataset | latent | L |")


def test_an_experiment_kept_inside_another_is_not_read_as_its_cells(tmp_path):
    # results/zoo holds results/zoo/iqp, an experiment of its own trained differently: the
    # outer report reads only its own cells (<dataset>/<latent>/seed-<k>/metrics.json).
    run = _fake_run(tmp_path / "run", _t1(4), steps=100)
    inner = _fake_run(run / "inner", _t1(6), steps=7)
    _, numbers = build_report(run)
    assert {s["n"] for s in numbers["summaries"]} == {4}
    _, inner_numbers = build_report(inner)
    assert {s["n"] for s in inner_numbers["summaries"]} == {6}


def test_no_quantum_latent_says_so(tmp_path):
    values = {k: v for k, v in _t1(3).items() if k[1] != "quantum"}
    text, numbers = build_report(_fake_run(tmp_path / "run", values))
    assert numbers["paired"] == [] and "No `quantum` latent has finished" in text


def test_csv_and_latex_hold_the_numbers_of_the_markdown(tmp_path):
    run = _fake_run(tmp_path / "run", _t1(4), steps=100)
    write_report(run)
    rows = list(csv.DictReader((run / "report_summary.csv").open()))
    assert len(rows) == 3
    for row in rows:
        vals = [m["integer_distance"] for m in _t1(4)[(row["dataset"], row["latent"],
                                                       int(row["latent_dim"]))]]
        s = summarize(vals)
        for key in ("mean", "se", "ci_low", "ci_high"):
            assert float(row[key]) == getattr(s, key)  # full precision, exactly
        assert int(row["n"]) == 4 and row["higher_is_better"] == "false"
    paired = list(csv.DictReader((run / "report_paired.csv").open()))
    assert [p["baseline"] for p in paired] == ["gaussian", "photonic"]
    numbers = json.loads((run / "report.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    for p, q in zip(paired, numbers["paired"], strict=True):
        assert float(p["t_pvalue"]) == q["t_pvalue"] and int(p["n"]) == q["n"]
        assert float(p["holm_pvalue"]) == q["holm_pvalue"] and p["verdict"] == q["verdict"]
        assert float(p["detectable_difference"]) == q["detectable_difference"]
    # The LaTeX table of every metric: "$mean \pm se$ [low, high]" per row, as the Markdown.
    tex = (run / "report.tex").read_text()
    assert "\\toprule" in tex and "integer distance $\\downarrow$" in tex
    md = (run / "report.md").read_text()
    by_latent = {r["latent"]: r for r in rows}
    pattern = re.compile(r"^quantum & (\w+) & 16 & 4 & \$([\d.]+) \\pm ([\d.]+)\\ "
                         r"\[([\d.-]+), ([\d.-]+)\]\$ \\\\$", re.M)
    found = pattern.findall(tex)
    assert sorted(f[0] for f in found) == ["gaussian", "photonic", "quantum"]
    for lat, mean, se, low, high in found:
        row = by_latent[lat]
        for text, key in ((mean, "mean"), (se, "se"), (low, "ci_low"), (high, "ci_high")):
            assert text == f"{float(row[key]):.4f}"  # the metric's format
        assert f"{mean} ± {se} [{low}, {high}]" in md


def test_nan_metric_shows_its_reason(tmp_path):
    nan = math.nan
    seeds = [{"fcd": nan, "n_valid_unique": 900.0 + i, "n_novel": 400.0 + i, "validity": 0.5,
              "uniqueness": 0.4, "novelty": 0.3, "qed": 0.45, "logp": 0.1, "sa": 4.0}
             for i in range(2)]
    run = _fake_run(tmp_path / "run", {("qm9", "gaussian", 16): seeds}, task="qm9",
                    datasets=("qm9",), steps=20, batch_size=8, task_params={"fcd": False},
                    notes={"fcd": "FCD off (task.fcd = false)"})
    text, numbers = build_report(run)
    assert "`fcd` is NaN in 2 cell(s)" in text and "FCD off (task.fcd = false)" in text
    assert not re.search(r"\bnan\b", text)  # Python's "nan" never reaches the text
    row = next(s for s in numbers["summaries"] if s["metric"] == "fcd")
    assert row["n"] == 0 and row["n_nan"] == 2 and row["notes"] == "FCD off (task.fcd = false)"
    # Without a recorded reason the report says so instead of inventing one.
    for path in run.glob("**/metrics.json"):
        rec = json.loads(path.read_text())
        del rec["notes"]
        path.write_text(json.dumps(rec))
    assert "no reason recorded" in build_report(run)[0]


def test_n_equal_one_shows_n_a(tmp_path):
    values = {k: v[:1] for k, v in _t1(1).items()}
    run = _fake_run(tmp_path / "run", values)
    write_report(run)
    text = (run / "report.md").read_text()
    assert "± n/a [n/a]" in text
    assert not re.search(r"\bnan\b", text, re.I)
    assert "$\\pm$ n/a [n/a]" in (run / "report.tex").read_text()
    numbers = json.loads((run / "report.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert numbers["summaries"][0]["se"] is None  # undefined: null in standard JSON


@pytest.mark.parametrize("change, differs", [
    ({}, None),
    ({"n_seeds": T1_SEEDS - 1}, "seeds"),
    ({"batch_size": 256}, "batch size"),
    ({"steps": 20}, "steps"),
])
def test_budget_warning_exactly_when_budgets_differ(tmp_path, change, differs):
    run = _fake_run(tmp_path / "run", _t1(change.get("n_seeds", T1_SEEDS)),
                    steps=change.get("steps", T1_STEPS),
                    batch_size=change.get("batch_size", T1_BATCH))
    text, numbers = build_report(run)
    warning = [line for line in text.splitlines() if "budget differs" in line]
    if differs is None:
        assert warning == [] and numbers["budget"]["differs"] == []
    else:
        assert len(warning) == 1 and f"({differs})" in warning[0]
        assert "40,000 steps, batch 500, 12 seeds" in warning[0]


def test_no_finished_cell_says_so(tmp_path):
    run = _fake_run(tmp_path / "run", _t1(2))
    for path in run.glob("**/metrics.json"):
        path.unlink()
    write_report(run)
    text = (run / "report.md").read_text()
    assert "0 finished cell(s)" in text and "No finished cell yet" in text
    assert not (run / "report_summary.csv").exists()


@pytest.mark.parametrize("corrupt, expected", [
    ('{"cell": {"dataset": "quantum"', "invalid JSON"),
    ('{"metrics": {}, "steps": 1}', "missing key(s) 'cell'"),
    ("[1, 2]", "expected a JSON object"),
    ('{"cell": {"dataset": "quantum", "latent": "quantum", "latent_dim": "16", "seed": 0}, '
     '"metrics": {}, "steps": 1}', "latent_dim (int)"),
    ('{"cell": {"dataset": "quantum", "latent": "quantum", "latent_dim": 16, "seed": 0}, '
     '"metrics": {"integer_distance": "low"}, "steps": 1}', "'metrics' must map"),
])
def test_corrupt_metrics_json_is_named_in_one_line(tmp_path, corrupt, expected):
    run = _fake_run(tmp_path / "run", _t1(2))
    bad = run / "quantum" / "quantum-L16" / "seed-1" / "metrics.json"
    bad.write_text(corrupt)
    with pytest.raises(ValueError) as err:
        write_report(run)
    message = str(err.value)
    assert str(bad) in message and expected in message and "\n" not in message
    assert not (run / "report.md").exists()  # nothing written


@pytest.mark.parametrize("corrupt, expected", [
    ("[experiment\nname = 1", "invalid TOML"),
    ('[experiment]\nname = "x"\n', "must set"),
    ('[experiment]\nname = "x"\ntask = "nope"\ndatasets = ["a"]\nlatents = ["b"]\nseeds = 1\n',
     "unknown task"),
])
def test_corrupt_config_is_named_in_one_line(tmp_path, corrupt, expected):
    run = _fake_run(tmp_path / "run", _t1(2))
    (run / "config.toml").write_text(corrupt)
    with pytest.raises(ValueError) as err:
        load_records(run)
    message = str(err.value)
    assert str(run / "config.toml") in message and expected in message and "\n" not in message


def test_cli_report_names_the_corrupt_file(tmp_path):
    run = _fake_run(tmp_path / "run", _t1(2))
    bad = run / "quantum" / "gaussian-L16" / "seed-0" / "metrics.json"
    bad.write_text('{"cell": ')
    # In process (the installed command's one-line errors: tests/cli/test_cli_errors.py's
    # "typo latent (installed)").
    from typer.testing import CliRunner

    from qlatent.cli import app

    out = CliRunner().invoke(app, ["report", str(run)])
    assert out.exit_code == 2
    assert "metrics.json" in out.stderr and "invalid JSON" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_report_figures_are_png_at_150_dpi_and_svg(tmp_path):
    from PIL import Image

    run = _fake_run(tmp_path / "run", _t1(3))
    write_report(run)
    with Image.open(run / "report.png") as image:
        dpi = image.info["dpi"]
    assert min(dpi) == pytest.approx(150, abs=0.5)
    assert (run / "report.svg").read_text().lstrip().startswith("<?xml")


def test_a_reason_recorded_by_the_task_travels_through_the_runner_to_the_report(
        tmp_path, monkeypatch):
    from rich.console import Console

    from qlatent.experiments import tasks
    from qlatent.experiments.config import load_config
    from qlatent.experiments.executors import run_experiment
    from qlatent.experiments.tasks.ring import RingTask

    class NotedRing(RingTask):
        name = "ring_noted"

        def evaluate(self, *args, **kwargs):
            out = super().evaluate(*args, **kwargs)
            return tasks.Metrics({**out, "mmd": math.nan}, notes={"mmd": "MMD off in this test"})

    monkeypatch.setitem(tasks.base._TASKS, "ring_noted", NotedRing())
    paper = Path(__file__).resolve().parents[2] / "configs" / "paper"
    config = load_config(paper / "fig2_ring_quick.toml")
    config = config.replace(task="ring_noted", latents=("gaussian",), seeds=(0,),
                            model={"hidden": [8, 8]},
                            train=config.train.replace(steps=2, batch_size=8,
                                                       checkpoint_every=0, log_every=1),
                            task_params={"n_eval": 100, "n_mmd": 50, "n_plot": 50})
    run_experiment(config, tmp_path, console=Console(quiet=True), progress=False)
    record = json.loads((tmp_path / "ring/gaussian-L16/seed-0/metrics.json").read_text())
    assert record["notes"] == {"mmd": "MMD off in this test"}
    text, _ = build_report(tmp_path)
    assert "`mmd` is NaN in 1 cell(s) (ring/gaussian-L16/seed-0): MMD off in this test" in text
