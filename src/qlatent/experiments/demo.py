"""The demo: a quick, complete tour of qlatent on this machine (under 3 minutes).

Each section is a ``tour(out_dir, console)`` function in its own module of this package; this
module only runs them in order.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console


def run_demo(out_dir: Path, console: Console | None = None) -> None:
    """Run every section of the tour, writing plots and runs under ``out_dir``."""
    from qlatent.experiments import tour_banks, tour_latents, tour_qm9, tour_synthetic

    console = console or Console()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for section in (tour_latents, tour_banks, tour_synthetic, tour_qm9):
        section.tour(out_dir, console)
    console.print(f"[bold]demo finished in {time.perf_counter() - start:.0f} s; "
                  f"outputs in {out_dir}/[/bold]")
