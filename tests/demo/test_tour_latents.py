import io

from rich.console import Console

from qlatent.demo import tour_latents


def test_tour_latents_runs_and_saves_the_plot(tmp_path):
    buf = io.StringIO()
    console = Console(file=buf, width=160)
    tour_latents.tour(tmp_path, console, n_samples=20_000, n_check=20_000)
    text = buf.getvalue()
    assert "Fano factor" in text and "bunching probability" in text and "TVD" in text
    png = tmp_path / "latent_counts.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
