"""The ring task: its typed tables and one untrained cell built and scored."""

from pathlib import Path

import numpy as np
import pytest
import torch

from qlatent.experiments.config import ExperimentConfig, load_config
from qlatent.experiments.tasks import Cell, CellContext, cell_seeds, get_task, make_latent
from qlatent.experiments.tasks._mlp import MLPModel
from qlatent.experiments.tasks.ring import RingParams
from qlatent.metrics import interpolation_rate

PAPER = Path(__file__).resolve().parents[3] / "configs" / "paper"


def test_paper_config_holds_the_papers_settings():
    ring = load_config(PAPER / "fig2_ring.toml")
    assert ring.task == "ring" and ring.seeds == tuple(range(5))
    assert ring.model == MLPModel(hidden=(256, 256), activation="leaky_relu", generator="mlp")
    assert ring.task_params == RingParams()  # the paper's ring is the default
    assert ring.latent_params["quantum"]["circuit"] == "1-3-9"


def test_tables_name_bad_keys():
    with pytest.raises(ValueError, match=r"'radious' in \[task\]; valid keys: angular_sd"):
        RingParams.from_table({"radious": 3.0})
    with pytest.raises(ValueError, match="task.n_modes must be >= 2, got 1"):
        RingParams.from_table({"n_modes": 1})
    with pytest.raises(ValueError, match="model.generator must be one of 'mlp', 'injected'"):
        MLPModel.from_table({"generator": "cnn"})


@pytest.mark.parametrize("generator", ["mlp", "injected"])
def test_an_untrained_cell_builds_and_scores(tmp_path, generator):
    config = ExperimentConfig(
        name="t", task="ring", datasets=("ring",), latents=("gaussian",), seeds=(0,),
        model={"hidden": [8], "generator": generator},
        task_params={"n_eval": 300, "n_mmd": 50, "n_plot": 40})
    task = get_task("ring")
    cell = Cell("ring", "gaussian", 16, 0)
    seeds = cell_seeds(0, "gaussian", latent_dim=16)
    ctx = CellContext(config, cell, seeds, tmp_path)
    built = task.build(ctx)
    again = task.build(ctx)
    for a, b in zip(built.generator.parameters(), again.generator.parameters(), strict=True):
        assert torch.equal(a, b)  # weights follow seeds.model
    latent = make_latent(config, cell, seeds)
    assert built.generator(latent.sample(5)).shape == (5, 2)
    metrics = task.evaluate(ctx, built, latent)
    assert set(metrics) == {m.name for m in task.metrics}
    kept = np.load(tmp_path / "samples.npy")
    assert kept.shape == (40, 2) and (tmp_path / "samples.png").is_file()
    # The rate is computed over all n_eval samples, of which the first n_plot are kept.
    assert 0.0 <= metrics["interpolation_rate"] <= 1.0
    assert interpolation_rate(kept.astype(np.float64)) == pytest.approx(
        metrics["interpolation_rate"], abs=4 * 0.5 / np.sqrt(40))
