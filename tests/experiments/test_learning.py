"""Slow: the synthetic experiments actually learn at modest budgets (thresholds fixed in
advance from the quick runs; `make test-slow`)."""

from pathlib import Path

import pytest
from rich.console import Console

from qlatent.experiments.config import load_config
from qlatent.experiments.executors import run_experiment
from qlatent.experiments.grid import select

PAPER = Path(__file__).resolve().parents[2] / "configs" / "paper"


@pytest.mark.slow
def test_ring_learns_the_modes(tmp_path):
    config = select(load_config(PAPER / "fig2_ring_quick.toml"), seeds=(0,),
                    latents=("photonic",))
    (record,) = run_experiment(config, tmp_path, console=Console(quiet=True), progress=False)
    # Untrained or 300-step generators cover no blob and put > 90 % of samples between blobs.
    assert record.metrics["modes_covered"] >= 6
    assert record.metrics["interpolation_rate"] < 0.6


@pytest.mark.slow
def test_table1_quantum_data_learns_integers(tmp_path):
    # (Bernoulli data do not move off 0.25 within the quick budget: see results/table1_quick.)
    config = select(load_config(PAPER / "table1_quick.toml"), seeds=(0,),
                    latents=("quantum",), datasets=("quantum",))
    (record,) = run_experiment(config, tmp_path, console=Console(quiet=True), progress=False)
    # Continuous noise scores 0.25 (an untrained generator ~0.25); the data are integers.
    assert record.metrics["integer_distance"] < 0.2
