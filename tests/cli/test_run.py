"""`qlatent run` and `qlatent report` end to end, with a 2-step budget."""

import json
from pathlib import Path

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
