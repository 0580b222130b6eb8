"""``qlatent demo``: the quick, complete tour on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qlatent.cli import app


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's plots and runs.")] = Path(
        "demo-output"),
) -> None:
    """Run the quick tour: photonic latents, synthetic GAN experiments, a tiny QM9 run."""
    from qlatent.experiments.demo import run_demo

    run_demo(out)
