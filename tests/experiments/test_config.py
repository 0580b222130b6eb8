from pathlib import Path

import pytest

from qlatent.experiments.config import ExperimentConfig, load_config, to_toml
from qlatent.experiments.runner import cells, parse_seeds, select
from qlatent.experiments.tasks import cell_seeds, get_task

PAPER = Path(__file__).resolve().parents[2] / "configs" / "paper"


def test_paper_configs_hold_the_papers_settings():
    ring = load_config(PAPER / "fig2_ring.toml")
    assert ring.task == "ring" and ring.seeds == tuple(range(5))
    assert ring.latents == ("gaussian", "bernoulli", "photonic", "quantum")
    assert ring.latent_params["quantum"]["circuit"] == "1-3-9"
    assert ring.model == {"hidden": [256, 256], "activation": "leaky_relu", "generator": "mlp"}
    t = ring.train
    assert (t.steps, t.batch_size, t.n_critic, t.gp_weight, t.optimizer, t.lr, t.betas) == (
        5000, 32, 5, 10.0, "adam", 5e-4, (0.0, 0.9))
    table = load_config(PAPER / "table1.toml")
    assert table.datasets == ("quantum", "bernoulli") and table.seeds == tuple(range(12))
    assert table.latent_params["photonic"]["circuit"] == "haar"
    assert table.model["hidden"] == [512, 512] and table.model["activation"] == "relu"
    t = table.train
    assert (t.steps, t.batch_size, t.n_critic, t.gp_weight, t.optimizer, t.lr) == (
        40000, 500, 5, 10.0, "rmsprop", 5e-4)
    for quick in ("fig2_ring_quick.toml", "table1_quick.toml"):
        assert load_config(PAPER / quick).train.steps <= 1500


def _write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


BASE = """
[experiment]
task = "ring"
datasets = ["ring"]
latents = ["gaussian"]
seeds = 2
"""


@pytest.mark.parametrize("extra, match", [
    ("[train]\nlearning_rate = 1e-3\n", "'learning_rate'"),
    ("[model]\nwidth = 3\n", "'width'"),
    ("[task]\nradious = 3.0\n", "'radious'"),
    ("[trian]\nsteps = 3\n", "'trian'"),
    ("[train]\nseed = 3\n", "'seed'"),
    ("[train]\nloss = 'hinge'\n", "loss"),
])
def test_bad_keys_are_named(tmp_path, extra, match):
    with pytest.raises((ValueError, TypeError), match=match):
        load_config(_write(tmp_path, BASE + extra))


def test_bad_experiment_values(tmp_path):
    with pytest.raises(ValueError, match="'sed'"):
        load_config(_write(tmp_path, BASE + "sed = 1\n"))
    with pytest.raises(ValueError, match="unknown dataset"):
        load_config(_write(tmp_path, BASE.replace('["ring"]', '["moons"]')))
    with pytest.raises(ValueError, match="unknown task 'rings'.*ring"):
        load_config(_write(tmp_path, BASE.replace('"ring"\n', '"rings"\n', 1)))
    with pytest.raises(ValueError, match="invalid TOML"):
        load_config(_write(tmp_path, "[experiment\n"))


def test_round_trip_through_toml(tmp_path):
    import tomllib

    config = load_config(PAPER / "table1.toml")
    again = ExperimentConfig.from_dict(tomllib.loads(to_toml(config.to_dict())))
    assert again == config


def test_parse_seeds_and_select():
    assert parse_seeds("0-3,7") == (0, 1, 2, 3, 7)
    assert parse_seeds("5") == (5,)
    for bad in ("3-1", "a", "1,1", ""):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)
    config = select(load_config(PAPER / "table1.toml"), seeds=(0, 1),
                    latents=("quantum", "photonic"), datasets=("quantum",), steps=7)
    assert config.train.steps == 7
    # Seed by seed, latents in the order given: q0, p0, q1, p1.
    assert [(c.latent, c.seed) for c in cells(config)] == [
        ("quantum", 0), ("photonic", 0), ("quantum", 1), ("photonic", 1)]


def test_cell_seeds_pair_data_and_circuits():
    q, p = cell_seeds(3, "quantum"), cell_seeds(3, "photonic")
    assert q.data.entropy == p.data.entropy and q.latent == p.latent and q.model == p.model
    other = cell_seeds(4, "quantum")
    assert other.latent != q.latent and other.model != q.model
    assert cell_seeds(3, "quantum", paired_circuits=False).latent != \
        cell_seeds(3, "photonic", paired_circuits=False).latent


def test_table1_cells_of_a_seed_share_the_data():
    from qlatent.experiments.tasks import Cell

    config = load_config(PAPER / "table1_quick.toml").replace(
        task_params={"data_samples": 500, "n_modes": 6, "n_photons": 3})
    task = get_task("table1")
    built = {lat: task.build(config, Cell("quantum", lat, 16, 0), cell_seeds(0, lat))
             for lat in ("quantum", "photonic")}
    other = task.build(config, Cell("quantum", "quantum", 16, 1), cell_seeds(1, "quantum"))
    assert built["quantum"].info["data_digest"] == built["photonic"].info["data_digest"]
    assert built["quantum"].info["data_digest"] != other.info["data_digest"]
