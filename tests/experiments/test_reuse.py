"""``qlatent.load_run`` and ``Run.sample`` on a tiny QM9 cell (in-process: the QM9 subset is
patched in), and the library errors of ``load_run`` / ``read_smiles_file``."""

from __future__ import annotations

import importlib.util
import tomllib

import pytest

from qlatent.experiments import reuse


def test_load_run_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        reuse.load_run(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="not a cell directory"):
        reuse.load_run(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json: not a cell's config"):
        reuse.load_run(tmp_path)


def test_read_smiles_file_conventions(tmp_path):
    path = tmp_path / "a.smi"
    path.write_text("\ufeffsmiles\tid\nCCO ethanol\n\n   \nC1CC1\n")
    assert reuse.read_smiles_file(path) == ["CCO", "", "", "C1CC1"]
    path.write_text("\n")
    assert reuse.read_smiles_file(path) == [""]   # one sample that is not a molecule
    path.write_text("")
    with pytest.raises(ValueError, match="empty"):
        reuse.read_smiles_file(path)


QM9_CONFIG = """
[experiment]
name = "qm9 reuse"
task = "qm9"
datasets = ["qm9"]
latents = ["gaussian"]
seeds = 1
[model]
hidden = [32, 32]
graph_units = [16, 8]
aggregation_units = 16
dense_units = [16, 8]
[train]
steps = 3
batch_size = 16
checkpoint_every = 0
log_every = 1
[task]
n_eval = 60
progress_every = 0
fcd = false
n_grid = 0
"""


@pytest.mark.chem
def test_qm9_cell_reloads_and_resamples_its_own_smiles(tmp_path, monkeypatch, qm9_every_600th):
    pytest.importorskip("rdkit")
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack is not installed")
    from typer.testing import CliRunner

    import qlatent as ql
    from qlatent.cli import app
    from qlatent.data.qm9 import QM9Graphs
    from qlatent.experiments.tasks import qm9 as task_qm9

    data = QM9Graphs(files=[qm9_every_600th], workers=1)
    monkeypatch.setattr(task_qm9, "load_data", lambda p: data)
    config = tmp_path / "qm9.toml"
    config.write_text(QM9_CONFIG)
    out = tmp_path / "runs"
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(config), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    cell = out / "qm9" / "gaussian-L16" / "seed-0"
    run = ql.load_run(cell)
    assert run.sample_suffix == ".smi" and run.finished and run.data is data
    evaluate_seed = int(tomllib.loads((cell / "config.toml").read_text())["seeds"]["evaluate"])
    written = (cell / "samples.smi").read_text().split("\n")[:-1]
    assert run.sample(60, seed=evaluate_seed) == written   # the runner's samples, exactly
    smi = tmp_path / "drawn.smi"
    result = runner.invoke(app, ["sample", str(cell), "-n", "25", "-o", str(smi),
                                 "--seed", "4"])
    assert result.exit_code == 0, result.output
    lines = smi.read_text().split("\n")
    assert lines[-1] == "" and lines[:-1] == run.sample(25, seed=4)
    result = runner.invoke(app, ["sample", str(cell), "-n", "5", "-o", str(tmp_path / "x.npy")])
    assert result.exit_code == 2 and "qm9 cell writes .smi" in result.stderr


def test_sample_refuses_non_finite_samples_of_a_diverged_generator(tmp_path):
    import torch

    from qlatent import latents
    from qlatent.experiments.config import load_config
    from qlatent.experiments.tasks import Cell

    config = load_config("configs/paper/fig2_ring_quick.toml")
    generator = torch.nn.Linear(2, 2)
    run = reuse.Run(generator=generator, latent=latents.get("gaussian", dim=2), config=config,
                    cell=Cell("ring", "gaussian", 2, 0), path=tmp_path, step=1, data=None,
                    steps=1)
    assert run.sample(5).shape == (5, 2)   # finite weights: finite samples
    with torch.no_grad():
        generator.bias[1] = float("nan")
    with pytest.raises(ValueError, match=r"5 of 5 samples are not finite .* diverged"):
        run.sample(5)
