"""The qm9 task end to end through ``qlatent run`` / ``qlatent report`` on a small QM9 subset."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

pytest.importorskip("rdkit")
pytest.importorskip("fcd")
if importlib.util.find_spec("qm9pack") is None:
    pytest.skip("qm9pack is not installed", allow_module_level=True)

from typer.testing import CliRunner  # noqa: E402

from qlatent.cli import app  # noqa: E402
from qlatent.data.qm9 import QM9Graphs  # noqa: E402
from qlatent.experiments.tasks import qm9 as task_qm9  # noqa: E402
from qlatent.experiments.tasks.qm9 import QM9Model, QM9Params  # noqa: E402
from qlatent.metrics.molecules import evaluate_molecules  # noqa: E402

pytestmark = pytest.mark.chem

CONFIG = """
[experiment]
name = "qm9 smoke"
task = "qm9"
datasets = ["qm9"]
latents = ["gaussian", "bernoulli"]
seeds = 1
latent_dims = [16]
[model]
generator = "paper"
[train]
steps = 4
batch_size = 16
lr = 1e-4
betas = [0.5, 0.999]
checkpoint_every = 2
log_every = 2
[task]
n_eval = 120
progress_every = 2
n_progress = 40
fcd = true
n_grid = 4
"""


@pytest.fixture()
def small_qm9(qm9_every_600th, monkeypatch):
    data = QM9Graphs(files=[qm9_every_600th], workers=1)  # 219 molecules
    monkeypatch.setattr(task_qm9, "load_data", lambda p: data)
    return data


def test_run_writes_samples_and_metrics_that_recompute_and_report_renders(tmp_path, small_qm9):
    cfg = tmp_path / "qm9.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "runs"
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(cfg), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    train = set(small_qm9.smiles("train"))
    for latent in ("gaussian", "bernoulli"):
        cell = out / "qm9" / f"{latent}-L16" / "seed-0"
        lines = (cell / "samples.smi").read_text().split("\n")
        assert lines[-1] == "" and len(lines) == 121        # 120 samples, newline-terminated
        samples = lines[:-1]
        record = json.loads((cell / "metrics.json").read_text())
        m = record["metrics"]
        assert record["steps"] == 4
        for name in ("validity", "n_valid_unique", "n_novel", "uniqueness", "novelty"):
            assert m[name] == pytest.approx(evaluate_molecules(samples, train=train)[name])
        assert m["n_samples"] == 120
        assert {x.name for x in task_qm9.QM9Task.metrics} <= set(m)
        assert math.isnan(m["fcd"]) or m["fcd"] >= 0
        assert not math.isnan(m["fcd"]) or "fcd" in record["notes"]  # a NaN says why
        progress = [json.loads(x) for x in (cell / "progress.jsonl").read_text().splitlines()]
        assert [row["step"] for row in progress] == [2, 4]
        assert all(row["n_samples"] == 40 for row in progress)
    again = runner.invoke(app, ["run", str(cfg), "--out", str(out), "--no-progress"])
    assert again.exit_code == 0 and "skipped" in again.output
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    text = (out / "report.md").read_text()
    assert "Table II layout" in text and "1814 ± 115" in text      # the paper's Gaussian-16 row
    assert "Held-out floor" in text
    assert (out / "report_summary.csv").exists() and (out / "report.tex").exists()
    # The diagnostics rebuild the trained generator: at the evaluation's seed, its argmax
    # decoding gives the cell's recorded counts again.
    from qlatent.experiments.diagnose import diagnose_cell, main

    cell = out / "qm9" / "gaussian-L16" / "seed-0"
    seeds = json.loads((cell / "config.json").read_text())["seeds"]
    d = diagnose_cell(cell, n=120, seed=int(seeds["evaluate"]))
    m = json.loads((cell / "metrics.json").read_text())["metrics"]
    assert d["step"] == 4 and d["strict"]["n_valid_unique"] == m["n_valid_unique"]
    assert d["strict"]["n_novel"] == m["n_novel"] and d["strict"]["validity"] == m["validity"]
    assert 0 <= d["gumbel_max_decoding"]["validity"] <= 1
    assert d["unique_with_fragments"] >= d["strict"]["n_valid_unique"]
    assert main([str(tmp_path / "nothing")]) == 2


def test_a_pack_gives_each_cell_its_progress_scores(tmp_path, small_qm9):
    # --pack 2: the two cells train as one pack, and each cell directory still gets the
    # intermediate scores of its own member (progress.jsonl) as its solo run writes them.
    from rich.console import Console

    from qlatent.experiments.config import load_config
    from qlatent.experiments.executors import run_experiment

    cfg = tmp_path / "qm9.toml"
    cfg.write_text(CONFIG.replace("fcd = true", "fcd = false"))
    config = load_config(cfg)
    quiet = Console(quiet=True)
    solo = run_experiment(config, tmp_path / "solo", console=quiet, progress=False)
    packed = run_experiment(config, tmp_path / "packed", console=quiet, progress=False, pack=2)
    for a, b in zip(solo, packed, strict=True):
        assert json.loads((b.run_dir / "metrics.json").read_text())["pack"] == 2
        rows_a, rows_b = ([json.loads(x) for x in (r.run_dir / "progress.jsonl").read_text()
                           .splitlines()] for r in (a, b))
        assert [r["step"] for r in rows_b] == [r["step"] for r in rows_a] == [2, 4]
        for ra, rb in zip(rows_a, rows_b, strict=True):
            assert rb["n_samples"] == ra["n_samples"] == 40
            assert abs(rb["validity"] - ra["validity"]) <= 2 / 40  # fp32 round-off may flip
            assert abs(rb["n_valid_unique"] - ra["n_valid_unique"]) <= 2  # an argmax or two


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="model.generator must be one of 'paper', 'molgan'"):
        QM9Model.from_table({"generator": "vae"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'n_evaluation' in \[task\]"):
        QM9Params.from_table({"n_evaluation": 3})
    with pytest.raises(TypeError, match="task.fcd must be true or false"):
        QM9Params.from_table({"fcd": "yes"})
    with pytest.raises(ValueError, match="model.relaxation must be one of"):
        QM9Model.from_table({"relaxation": "gumble"})


def test_presets_resolve_once_and_overrides_win():
    molgan = QM9Model.from_table({"generator": "molgan"})
    assert molgan.hidden == (128, 256, 512) and molgan.latent_injection is False
    assert molgan.activation == "tanh"
    paper = QM9Model()
    assert paper.hidden == (64, 176, 288, 400, 512) and paper.latent_injection is True
    assert QM9Model(hidden=[32, 32]).hidden == (32, 32)
    assert QM9Model.from_table(molgan.to_table()) == molgan  # the resolved table round-trips


def test_paper_configs_load_and_check():
    from qlatent.experiments.config import load_config

    root = Path(__file__).resolve().parents[3] / "configs" / "paper"
    for name in ("table2.toml", "table2_l16.toml", "table2_quick.toml"):
        cfg = load_config(root / name)
        assert isinstance(cfg.model, QM9Model) and isinstance(cfg.task_params, QM9Params)
    full = load_config(root / "table2.toml")
    assert full.latent_dims == (16, 32, 48) and len(full.seeds) == 20
    assert full.train.steps == 20_000 and full.train.batch_size == 256
    assert full.train.lr == 1e-4 and full.train.n_critic == 5 and full.train.gp_weight == 10


@pytest.mark.slow
def test_training_makes_valid_molecules():
    """From ~0 % valid at initialisation to mostly valid molecules within 100 steps (batch 64,
    lr 1e-3): the generator, critic, penalty and decoding fit together."""
    from qlatent.latents import get
    from qlatent.train import Config, fit

    data = task_qm9.load_data(QM9Params())
    G, D = task_qm9.build_networks(QM9Model(), 16, data.spec, seed=0)
    latent = get("gaussian", dim=16)
    before = evaluate_molecules(task_qm9.generate_smiles(G, latent, 500, 1, data.spec))
    scores = []

    def score(step, info):
        if step % 25 == 0:
            smiles = task_qm9.generate_smiles(info["generator"], latent, 500, step, data.spec)
            scores.append(evaluate_molecules(smiles)["validity"])

    fit(G, D, latent, data, Config(steps=100, batch_size=64, lr=1e-3, betas=(0.5, 0.999)),
        seed=0, callbacks=[score])
    assert before["validity"] < 0.05
    assert max(scores) > 0.5, scores
