"""The demo: its parts, the configs it trains, and ``qlatent demo --part`` as a command."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from qlatent.demo import PARTS, check_parts, run_demo, tour_synthetic
from qlatent.experiments import load_config, select

ROOT = Path(__file__).resolve().parents[2]
QLATENT = Path(sys.executable).parent / "qlatent"


def test_check_parts():
    assert check_parts(None) == tuple(PARTS) == ("latents", "banks", "synthetic", "qm9")
    assert check_parts(["qm9", "latents"]) == ("latents", "qm9")  # the tour's order
    with pytest.raises(ValueError, match=r"parts must name one or more of 'latents', .*"
                                         r"got \['latent'\]"):
        check_parts(["latent"])
    with pytest.raises(ValueError, match="parts must name one or more"):
        check_parts([])
    with pytest.raises(TypeError, match="parts must be a list of part names, got 'latents'"):
        check_parts("latents")


def test_bad_parts_leave_nothing(tmp_path):
    with pytest.raises(ValueError, match="parts"):
        run_demo(tmp_path / "out", Console(quiet=True), parts=["everything"])
    assert not (tmp_path / "out").exists()


def test_the_synthetic_part_trains_the_quick_configs():
    # The demo's configs are the quick paper configs, cut to one seed and a tiny budget.
    ring = select(load_config(ROOT / "configs/paper/fig2_ring_quick.toml"), seeds=(0,),
                  steps=tour_synthetic.RING_STEPS)
    ring = ring.replace(task_params=ring.task_params.replace(n_eval=2000, n_mmd=500))
    assert tour_synthetic.ring_config() == ring
    table1 = select(load_config(ROOT / "configs/paper/table1_quick.toml"), seeds=(0,),
                    datasets=("quantum",), steps=tour_synthetic.TABLE1_STEPS)
    table1 = table1.replace(task_params=table1.task_params.replace(n_eval=2000))
    assert tour_synthetic.table1_config() == table1


@pytest.mark.slow
def test_the_synthetic_part_runs(tmp_path):
    # 30 s here under load: 8 cells of the demo's real networks (2 steps each) and 4 reports.
    console = Console(record=True, width=160)
    tour_synthetic.tour(tmp_path, console, ring_steps=2, table1_steps=2, bank_samples=2000)
    text = console.export_text()
    assert "| ring | gaussian | 16 |" in text and "| quantum | quantum | 16 |" in text
    for d in ("ring_quick", "table1_quick"):
        assert (tmp_path / d / "report.md").is_file()
    assert len(list(tmp_path.glob("*/*/*/seed-0/metrics.json"))) == 8


@pytest.mark.slow
@pytest.mark.chem
def test_the_qm9_part_runs(tmp_path):
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack is not installed")
    run_demo(tmp_path, Console(quiet=True), parts=["qm9"])
    assert (tmp_path / "qm9_tiny" / "qm9" / "gaussian-L16" / "seed-0" / "metrics.json").is_file()


def test_the_command_refuses_an_unknown_part(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run([str(QLATENT), "demo", "--part", "everything", "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    message = " ".join(result.stderr.replace("│", " ").split())  # unwrap rich's error box
    assert "parts must name one or more of 'latents', 'banks', 'synthetic', 'qm9'" in message
    assert not out.exists()


@pytest.mark.slow
def test_the_command_runs_one_part(tmp_path):
    # The latents part is the cheapest whole part (14 s here, under load).
    out = tmp_path / "demo"
    result = subprocess.run([str(QLATENT), "demo", "--part", "latents", "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Photonic latents" in result.stdout and "demo finished" in result.stdout
    assert (out / "latent_counts.png").is_file() and not (out / "ring_quick").exists()
