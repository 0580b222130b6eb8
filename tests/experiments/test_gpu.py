"""The tasks end to end on a CUDA device: every task's ``run_cell``, packs, and runs moved
between the CPU and the GPU. Marked ``gpu``: skipped where torch sees no CUDA device."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from qlatent.experiments.cell import rebuild_cell, run_cell
from qlatent.experiments.config import load_config
from qlatent.experiments.executors import run_experiment
from qlatent.experiments.grid import cells

pytestmark = pytest.mark.gpu

PAPER = Path(__file__).resolve().parents[2] / "configs" / "paper"
QUIET = Console(quiet=True)


def _ring(steps=4):
    config = load_config(PAPER / "fig2_ring_quick.toml")
    return config.replace(
        latents=("gaussian", "bernoulli"), seeds=(0, 1), model={"hidden": [32, 32]},
        train=config.train.replace(steps=steps, batch_size=16, checkpoint_every=2, log_every=1),
        task_params={"n_eval": 300, "n_mmd": 100, "n_plot": 100})


def _table1(steps=4):
    config = load_config(PAPER / "table1_quick.toml")
    return config.replace(
        latents=("gaussian", "bernoulli"), datasets=("bernoulli",), seeds=(0,),
        model={"hidden": [32, 32], "activation": "relu", "generator": "mlp"},
        train=config.train.replace(steps=steps, batch_size=32, checkpoint_every=2, log_every=1),
        task_params={"n_modes": 16, "n_photons": 8, "data_samples": 2000, "n_eval": 500})


def _finite(record) -> bool:
    return all(math.isfinite(v) for v in record.metrics.values())


@pytest.mark.parametrize("make", [_ring, _table1], ids=["ring", "table1"])
def test_run_cell_on_cuda(tmp_path, make):
    config = make()
    cell = cells(config)[0]
    record = run_cell(config, cell, tmp_path / cell.key, device="cuda", console=QUIET,
                      progress=False)
    assert _finite(record)
    env = json.loads((tmp_path / cell.key / "environment.json").read_text())
    assert env["device"] == "cuda"
    rebuilt = rebuild_cell(tmp_path / cell.key)   # a CUDA checkpoint read on the CPU
    assert rebuilt.step == config.train.steps
    assert next(rebuilt.built.generator.parameters()).device.type == "cpu"


def test_run_cell_on_cuda_qm9(tmp_path, monkeypatch, qm9_every_600th):
    pytest.importorskip("rdkit")
    pytest.importorskip("fcd")
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack is not installed")
    from qlatent.data.qm9 import QM9Graphs
    from qlatent.experiments.config import ExperimentConfig
    from qlatent.experiments.tasks import qm9 as task_qm9

    data = QM9Graphs(files=[qm9_every_600th], workers=1)
    monkeypatch.setattr(task_qm9, "load_data", lambda p: data)
    config = ExperimentConfig.from_dict({
        "experiment": {"name": "qm9 gpu", "task": "qm9", "datasets": ["qm9"],
                       "latents": ["gaussian", "bernoulli"], "seeds": 1, "latent_dims": [16]},
        "train": {"steps": 4, "batch_size": 16, "checkpoint_every": 2, "log_every": 2},
        "task": {"n_eval": 120, "progress_every": 2, "n_progress": 40, "n_grid": 0}})
    cell = cells(config)[0]
    solo = run_cell(config, cell, tmp_path / "solo" / cell.key, device="cuda", console=QUIET,
                    progress=False)
    assert data.device.type == "cuda"             # sampled, permuted, one-hot on the GPU
    assert solo.metrics["n_samples"] == 120  # FCD (ChemNet on the GPU) when >= 2 valid
    records = run_experiment(config, tmp_path / "runs", device="cuda", console=QUIET,
                             progress=False, pack=2)
    for r in records:
        assert r.metrics["n_samples"] == 120
        rows = [json.loads(x) for x in (r.run_dir / "progress.jsonl").read_text().splitlines()]
        assert [row["step"] for row in rows] == [2, 4]


def test_a_pack_on_cuda_follows_its_solo_cuda_runs(tmp_path):
    config = _ring()
    solo = run_experiment(config, tmp_path / "solo", device="cuda", console=QUIET,
                          progress=False)
    packed = run_experiment(config, tmp_path / "packed", device="cuda", console=QUIET,
                            progress=False, pack=4)
    for a, b in zip(solo, packed, strict=True):
        assert b.metrics["mmd"] == pytest.approx(a.metrics["mmd"], rel=1e-3, abs=1e-5)


@pytest.mark.parametrize(("first", "then"), [("cpu", "cuda"), ("cuda", "cpu")])
def test_a_cell_resumes_on_the_other_kind_of_device(tmp_path, first, then):
    config = _ring(steps=4).replace(seeds=(0,), latents=("gaussian",))
    half = config.replace(train=config.train.replace(steps=2))
    run_experiment(half, tmp_path, device=first, console=QUIET, progress=False)
    (tmp_path / cells(config)[0].key / "metrics.json").unlink()
    (record,) = run_experiment(config, tmp_path, device=then, console=QUIET, progress=False)
    saved = json.loads((record.run_dir / "metrics.json").read_text())
    assert saved["resumed_from"] == 2 and saved["steps"] == 4 and _finite(record)
