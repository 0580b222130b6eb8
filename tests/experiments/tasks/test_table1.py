"""The table1 task: its typed tables and paired data of one seed."""

from pathlib import Path

import pytest
import torch

from qlatent.experiments.config import load_config
from qlatent.experiments.tasks import Cell, CellContext, cell_seeds, get_task
from qlatent.experiments.tasks.table1 import Table1Model, Table1Params

PAPER = Path(__file__).resolve().parents[3] / "configs" / "paper"


def test_paper_config_holds_the_papers_settings():
    table = load_config(PAPER / "table1.toml")
    assert table.datasets == ("quantum", "bernoulli") and table.seeds == tuple(range(12))
    assert table.model == Table1Model()  # 2 x 512 ReLU: the paper's, and the default
    assert table.model.hidden == (512, 512) and table.model.activation == "relu"
    assert table.latent_params["photonic"]["circuit"] == "haar"
    t = table.train
    assert (t.steps, t.batch_size, t.n_critic, t.gp_weight, t.optimizer, t.lr) == (
        40000, 500, 5, 10.0, "rmsprop", 5e-4)


def test_tables_check_values():
    with pytest.raises(ValueError, match=r"task.n_photons must be <= task.n_modes \(4\), got 5"):
        Table1Params(n_modes=4, n_photons=5)
    with pytest.raises(ValueError, match=r"'n_sample' in \[task\]"):
        Table1Params.from_table({"n_sample": 3})


def test_cells_of_a_seed_share_the_data():
    config = load_config(PAPER / "table1_quick.toml").replace(
        task_params={"data_samples": 500, "n_modes": 6, "n_photons": 3})
    task = get_task("table1")
    def build(latent, seed):
        cell = Cell("quantum", latent, 16, seed)
        return task.build(CellContext(config, cell, cell_seeds(seed, latent), Path(cell.key)))

    built = {lat: build(lat, 0) for lat in ("quantum", "photonic")}
    other = build("quantum", 1)
    assert built["quantum"].info["data_digest"] == built["photonic"].info["data_digest"]
    assert built["quantum"].info["data_digest"] != other.info["data_digest"]
    assert built["quantum"].generator(torch.zeros(3, 16)).shape == (3, 6)  # n_modes outputs
