"""The demo: its parts, the configs it trains, and ``qlatent demo --part`` as a command."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from qlatent.demo import PARTS, check_parts, run_demo, tour_synthetic, tour_zoo
from qlatent.experiments import load_config, select
from qlatent.experiments.config import to_toml
from qlatent.experiments.tasks import get_task

ROOT = Path(__file__).resolve().parents[2]
QLATENT = Path(sys.executable).parent / "qlatent"


def test_check_parts():
    assert check_parts(None) == tuple(PARTS) == ("latents", "banks", "synthetic", "zoo", "qm9")
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
    assert "These rows cannot say which latent is better" in " ".join(text.split())
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
    assert ("parts must name one or more of 'latents', 'banks', 'synthetic', 'zoo', 'qm9'"
            in message)
    assert not out.exists()


@pytest.mark.slow
def test_the_command_runs_one_part(tmp_path):
    # The latents part is the cheapest whole part (14 s here, under load).
    out = tmp_path / "demo"
    result = subprocess.run([str(QLATENT), "demo", "--part", "latents", "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Photonic latents" in result.stdout and "demo finished" in result.stdout
    said = " ".join(result.stdout.split())  # unwrap rich's lines
    assert "What a few minutes can show" in said and "What they cannot" in said
    assert "part latents:" in said
    assert (out / "latent_counts.png").is_file() and not (out / "ring_quick").exists()


def test_the_zoo_part_is_a_valid_zoo_config(tmp_path):
    # Written out and read back as `qlatent run` reads a config (every family table checked),
    # with two classical baselines beside the Born machine.
    config = tour_zoo.zoo_config()
    path = tmp_path / "zoo.toml"
    path.write_text(to_toml(config.to_dict()))
    assert load_config(path) == config
    assert get_task("zoo").baselines(config) == ("made", "bernoulli")
    assert config.seeds == (0, 1, 2, 3, 4)


@pytest.mark.slow
def test_the_zoo_part_shows_a_real_effect_through_the_command(tmp_path):
    # 15 cells of 60 steps (about 20 s of CPU; minutes under load). The printed effect is
    # recomputed here from the cells' metrics.json with scipy: a paired t-test over the 5
    # seeds of the Born machine's MMD² against independent bits, and its CI must exclude 0.
    import json

    import numpy as np
    from scipy import stats

    out = tmp_path / "demo"
    result = subprocess.run([str(QLATENT), "demo", "--part", "zoo", "--out", str(out)],
                            capture_output=True, text=True, timeout=900,
                            env={**os.environ, "COLUMNS": "250"})  # table rows unwrapped
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    mmd = {}
    for fam in ("born", "bernoulli"):
        for seed in range(5):
            record = json.loads((out / "zoo_bas" / "bas" / fam / f"seed-{seed}" /
                                 "metrics.json").read_text())
            mmd[fam, seed] = record["metrics"]["exact_mmd"]
    d = np.array([mmd["born", s] - mmd["bernoulli", s] for s in range(5)])
    t = stats.ttest_rel([mmd["born", s] for s in range(5)],
                        [mmd["bernoulli", s] for s in range(5)])
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    assert d.mean() + half < 0  # the Born machine is better, the CI excludes 0
    p = f"{t.pvalue:.3g}" if t.pvalue >= 1e-4 else f"{t.pvalue:.1e}"
    assert (f"paired over seeds: {d.mean():+.2e}, 95 % CI [{d.mean() - half:+.2e}, "
            f"{d.mean() + half:+.2e}], paired t p = {p}, n = 5") in said
    born = [mmd["born", s] for s in range(5)]
    assert f"│ born │ 5 │ {np.mean(born):.2e} ± {np.std(born, ddof=1) / np.sqrt(5):.2e} [" in said
    assert re.search(r"│ exact target \(floor\) │ 20 │ [0-9.e-]+ \(SD [0-9.e-]+\) │", said)
    assert "What this budget cannot show" in said and not (out / "ring_quick").exists()
