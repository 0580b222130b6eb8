"""``qlatent demo``: the quick, complete tour on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from qlatent.cli import app


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), help="Folder for the demo's plots and runs."),
) -> None:
    """Run the quick tour: photonic latents, synthetic GAN experiments, a tiny QM9 run."""
    from qlatent.experiments.demo import run_demo

    run_demo(out)
