"""The qm9 task end to end through ``qlatent run`` / ``qlatent report`` on a small QM9 subset."""

from __future__ import annotations

import csv
import importlib.util
import json
import math

import pytest

pytest.importorskip("rdkit")
pytest.importorskip("fcd")
if importlib.util.find_spec("qm9pack") is None:
    pytest.skip("qm9pack is not installed", allow_module_level=True)

from typer.testing import CliRunner  # noqa: E402

from qlatent.cli import app  # noqa: E402
from qlatent.data.qm9 import QM9Graphs, read_qm9_smiles  # noqa: E402
from qlatent.experiments import task_qm9  # noqa: E402
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
def small_qm9(tmp_path, monkeypatch):
    smiles = read_qm9_smiles()[::600]                      # 219 molecules
    path = tmp_path / "qm9_small.csv"
    with open(path, "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["SMILES"])
        w.writerows([s] for s in smiles)
    data = QM9Graphs(files=[path], workers=1)
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


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="model.generator"):
        task_qm9.model_params({"generator": "vae"})
    with pytest.raises(ValueError, match="unknown key"):
        task_qm9.task_params({"n_evaluation": 3})
    with pytest.raises(TypeError, match="task.fcd"):
        task_qm9.task_params({"fcd": "yes"})
    molgan = task_qm9.model_params({"generator": "molgan"})
    assert molgan["hidden"] == (128, 256, 512) and molgan["latent_injection"] is False


def test_paper_configs_load_and_check():
    from pathlib import Path

    from qlatent.experiments.config import load_config

    root = Path(__file__).resolve().parents[2] / "configs" / "paper"
    for name in ("table2.toml", "table2_l16.toml", "table2_quick.toml"):
        cfg = load_config(root / name)
        task_qm9.QM9Task().check(cfg)
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

    data = task_qm9.load_data(task_qm9.task_params({}))
    G, D = task_qm9.build_networks(task_qm9.model_params({}), 16, data.spec, seed=0)
    latent = get("gaussian", dim=16)
    before = evaluate_molecules(task_qm9.generate_smiles(G, latent, 500, 1, data.spec))
    scores = []

    def score(step, info):
        if step % 25 == 0:
            smiles = task_qm9.generate_smiles(info["generator"], latent, 500, step, data.spec)
            scores.append(evaluate_molecules(smiles)["validity"])

    fit(G, D, latent, data, Config(steps=100, batch_size=64, lr=1e-3, betas=(0.5, 0.999)),
        callbacks=[score])
    assert before["validity"] < 0.05
    assert max(scores) > 0.5, scores
