"""The demo section on banks runs end to end (small banks)."""

from rich.console import Console

from qlatent.demo import tour_banks


def test_tour_banks_runs(tmp_path):
    console = Console(record=True, width=140)
    tour_banks.tour(tmp_path, console, n_samples=4000)
    text = console.export_text()
    for kind in ("quantum", "photonic", "dirichlet_multinomial", "shuffled", "eta 0.9"):
        assert kind in text
    assert "imported noisy_shots.csv: 1,000 shots" in text
    assert (tmp_path / "noisy_shots.csv").is_file()
