"""``qlatent demo``: the quick, complete tour on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qlatent.cli.root import app


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's plots and runs.")] = Path(
        "demo-output"),
    part: Annotated[list[str] | None, typer.Option(
        help="Run only this part: latents, banks, synthetic, zoo or qm9 (repeatable; "
        "default: all).")] = None,
) -> None:
    """Run the quick tour: photonic latents, sample banks, synthetic GAN experiments, the
    model zoo (one effect tested over 5 seeds), a tiny QM9 run; it says what its budget can
    and cannot show."""
    from qlatent.demo import check_parts, run_demo  # CLI start-up

    try:
        parts = check_parts(part or None)
    except (TypeError, ValueError) as err:
        raise typer.BadParameter(str(err), param_hint="--part") from err
    run_demo(out, parts=parts)
