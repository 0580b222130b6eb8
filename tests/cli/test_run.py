"""`qlatent run` and `qlatent report` end to end, with a 2-step budget."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qlatent.cli import app

PAPER = Path(__file__).resolve().parents[2] / "configs" / "paper"


@pytest.mark.slow  # a Table I grid end to end; test_run_ring_and_bad_input stays
def test_run_and_report_table1(tmp_path):
    text = (PAPER / "table1_quick.toml").read_text()
    text = text.replace("n_samples = 20000", "n_samples = 2000")
    text = text.replace("data_samples = 20000", "data_samples = 2000")
    text = text.replace("hidden = [256, 256]", "hidden = [16, 16]")
    text = text.replace("n_eval = 10000", "n_eval = 500")
    config = tmp_path / "t1.toml"
    config.write_text(text)
    out = tmp_path / "runs"
    runner = CliRunner()
    args = ["run", str(config), "--seeds", "0-1", "--latents", "quantum,photonic",
            "--datasets", "quantum", "--steps", "2", "--out", str(out), "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    done = sorted(p.relative_to(out).as_posix() for p in out.glob("**/metrics.json"))
    assert done == [f"quantum/{lat}-L16/seed-{s}/metrics.json"
                    for lat in ("photonic", "quantum") for s in (0, 1)]
    env = [json.loads((out / f"quantum/{lat}-L16/seed-0/environment.json").read_text())
           for lat in ("quantum", "photonic")]
    # Paired: one seed's quantum and photonic latents share the interferometer and the data.
    assert env[0]["latent"]["bank_unitary_sha256"] == env[1]["latent"]["bank_unitary_sha256"]
    assert env[0]["task"]["data_digest"] == env[1]["task"]["data_digest"]
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and again.output.count("done, skipped") == 4
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "Paired tests: quantum − every other latent" in report
    assert "| quantum | 16 | quantum − photonic | 2 |" in report  # n = 2 paired seeds
    assert "0.0360 ± 0.0010" in report  # the paper's number beside ours
    assert (out / "report.png").exists() and (out / "table1_values.png").exists()
    assert (out / "report.svg").exists() and (out / "report_summary.csv").exists()


def test_run_ring_and_bad_input(tmp_path):
    runner = CliRunner()
    out = tmp_path / "ring"
    result = runner.invoke(app, ["run", str(PAPER / "fig2_ring_quick.toml"), "--seeds", "0",
                                 "--latents", "gaussian", "--steps", "2", "--out", str(out),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    assert (out / "ring_samples.png").exists()
    result = runner.invoke(app, ["report", str(out), "--anchor", "gaussian"])
    assert result.exit_code == 0 and "Paired tests: gaussian − every other" in (
        out / "report.md").read_text()
    result = runner.invoke(app, ["report", str(out), "--anchor", "born_q"])
    assert result.exit_code != 0 and "anchor must be one of the experiment's latents " \
        "(gaussian), got 'born_q'" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text((PAPER / "fig2_ring_quick.toml").read_text().replace("lr =", "lr_g ="))
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "lr_g" in result.output
    result = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert result.exit_code != 0


# ---------------------------------------------------------------- hostile input (issue 23)
def _one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def _tiny_ring_args(config, out, *more):
    return ("run", config, "--steps", "2", "--seeds", "0", "--latents", "gaussian", "--out",
            out, "--no-progress", *more)


# In this process (the refusal is the CLI's own; test_cli_errors runs a refusal through the
# installed command).
@pytest.mark.parametrize("name", ["../../x", "..", "a\nb", "sub/dir", ".hidden"])
def test_a_name_that_would_leave_the_experiment_folder_is_refused(in_process, tmp_path, name):
    # F1: a zoo family's label becomes a folder; `../../x` wrote outside --out.
    text = (Path(__file__).resolve().parents[2] / "configs/zoo/quick.toml").read_text()
    label = json.dumps(name)  # a TOML basic string: quotes and \n escaped
    text = text.replace('latents = ["qubit-ring", "bm", "bernoulli", "made", "gan"]',
                        f'latents = [{label}]')
    start = text.index("[latent_params.qubit-ring]")
    text = text[:start] + (f'[latent_params.{label}]\nlatent = "bernoulli_fit"\n'
                           'fit = {loss = "nll", steps = 2, lr = 0.1}\n\n'
                           + text[text.index("[model]"):])
    config = tmp_path / "zoo.toml"
    config.write_text(text)
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = in_process("run", config, "--out", work / "out", "--no-progress", cwd=work)
    line = _one_line_error(result, "experiment.latents", "folder")
    assert repr(name) in line or json.dumps(name) in line
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.slow  # in process: test_runner's test_a_rerun_that_trains_differently_is_refused...
def test_rerunning_into_an_experiment_with_other_training_is_refused(qlatent, ring_config,
                                                                      tmp_path):
    # F4: another lr (or steps) into the same --out was merged silently, and the report then
    # paired seeds trained differently.
    out = tmp_path / "out"
    assert qlatent(*_tiny_ring_args(ring_config, out), cwd=tmp_path).returncode == 0
    other_lr = tmp_path / "other_lr.toml"
    other_lr.write_text(ring_config.read_text().replace("lr = 5e-4", "lr = 1e-3"))
    before = sorted(out.rglob("*"))
    result = qlatent("run", other_lr, "--steps", "2", "--seeds", "1", "--latents", "gaussian",
                     "--out", out, "--no-progress", cwd=tmp_path)
    _one_line_error(result, "train.lr", "0.0005", "0.001", "--out")
    result = qlatent(*_tiny_ring_args(ring_config, out), "--steps", "3", cwd=tmp_path)
    _one_line_error(result, "train.steps", "2", "3")
    assert sorted(out.rglob("*")) == before
    # the same training with more seeds is the same experiment, and joins it
    result = qlatent("run", ring_config, "--steps", "2", "--seeds", "1", "--latents",
                     "gaussian", "--out", out, "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (out / "ring/gaussian-L16/seed-1/metrics.json").is_file()


@pytest.mark.slow  # in process: test_runner's test_a_cell_locked_by_another_process_is_busy...
def test_a_cell_another_run_is_training_is_left_to_it(qlatent, ring_config, tmp_path):
    # F8: two runs on one --out both trained every cell. A run holds a lock per cell while
    # it trains it (released when it ends, or dies); another run leaves that cell alone.
    import fcntl

    out = tmp_path / "out"
    busy = out / "ring/gaussian-L16/seed-0"
    busy.mkdir(parents=True)
    with open(busy / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "another run" holds seed 0
        result = qlatent("run", ring_config, "--steps", "2", "--seeds", "0-1", "--latents",
                         "gaussian", "--out", out, "--no-progress", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "ring/gaussian-L16/seed-0: another run is training it" in " ".join(
            result.stdout.split())
        assert not (busy / "metrics.json").exists()
        assert not (busy / "checkpoint.pt").exists()
        assert (out / "ring/gaussian-L16/seed-1/metrics.json").is_file()
    # released: the next run trains it
    result = qlatent(*_tiny_ring_args(ring_config, out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (busy / "metrics.json").is_file()


# In process (every content): test_runner's test_a_damaged_metrics_file_is_one_error_naming_it.
@pytest.mark.slow
@pytest.mark.parametrize("content", ["{}", "[]", '{"metrics": 3}', "not json"])
def test_a_damaged_metrics_file_is_named_not_a_traceback(qlatent, ring_config, tmp_path,
                                                          content):
    # F10: metrics.json = {} crashed `qlatent run` with a traceback.
    out = tmp_path / "out"
    assert qlatent(*_tiny_ring_args(ring_config, out), cwd=tmp_path).returncode == 0
    metrics = out / "ring/gaussian-L16/seed-0/metrics.json"
    metrics.write_text(content)
    result = qlatent(*_tiny_ring_args(ring_config, out), cwd=tmp_path)
    _one_line_error(result, str(metrics), "delete the file")


@pytest.mark.slow  # in process: test_io's test_atomic_save_array_replaces_a_planted_link...
def test_samples_are_written_in_place_of_a_planted_link_never_through_it(qlatent, ring_config,
                                                                          tmp_path):
    # F12: samples.npy was written through a symlink planted in the cell's folder.
    out = tmp_path / "out"
    cell = out / "ring/gaussian-L16/seed-0"
    cell.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (cell / "samples.npy").symlink_to(victim)
    result = qlatent(*_tiny_ring_args(ring_config, out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious"
    assert not (cell / "samples.npy").is_symlink()
    assert np.load(cell / "samples.npy", allow_pickle=False).shape[1] == 2


@pytest.mark.slow  # in process: test_skeleton.py's test_plain_progress_lines_off_a_terminal
def test_progress_off_a_terminal_is_plain_lines(qlatent, ring_config, tmp_path):
    # issue 23 item 4.4: piped, `qlatent run` printed nothing for minutes. Its stages and the
    # training print plain lines (no bar, no carriage return, no escape codes) to the pipes.
    out = tmp_path / "runs"
    result = qlatent("run", ring_config, "--steps", "2", "--seeds", "0", "--latents",
                     "gaussian", "--out", out, cwd=tmp_path,
                     env={"QLATENT_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stdout + result.stderr
    for text in (result.stdout, result.stderr):
        assert "\r" not in text and "\x1b[" not in text, text
    assert "[1/1] ring/gaussian-L16/seed-0" in result.stdout.splitlines()
    assert any(line.startswith("train: 2 / 2 (100 %), ") and "/s" in line
               for line in result.stderr.splitlines()), result.stderr


def test_a_ray_task_prints_plain_progress_lines(ring_config, tmp_path, capfd, monkeypatch):
    # What a Ray worker runs (executors.ray_pack), called here with captured (non-terminal)
    # streams: its cell line and training progress print as plain lines, which Ray forwards
    # to the driver (ray_init: log_to_driver=True).
    from qlatent.experiments.config import load_config
    from qlatent.experiments.executors import ray_pack
    from qlatent.experiments.grid import cells
    from qlatent.experiments.tasks import get_task

    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "cache"))
    config = load_config(ring_config, seeds=[0], latents=["gaussian"], steps=2)
    [record] = ray_pack(config, get_task(config.task), cells(config), str(tmp_path / "runs"),
                        "cpu", 1, ())
    assert record is not None
    captured = capfd.readouterr()
    assert "ring/gaussian-L16/seed-0:" in captured.out
    assert any(line.startswith("train: 2 / 2 (100 %)")
               for line in captured.err.splitlines()), captured.err
    assert "\r" not in captured.err and "\x1b[" not in captured.out + captured.err
    # --no-progress travels to the workers
    ray_pack(config, get_task(config.task), cells(config), str(tmp_path / "again"), "cpu", 1,
             (), False)
    assert "train:" not in capfd.readouterr().err
