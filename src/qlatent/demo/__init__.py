"""The demo: a quick, complete tour of qlatent on this machine (under 3 minutes).

Each part is a ``tour(out_dir, console)`` function in a module of this package:

* ``latents`` (``tour_latents``): quantum versus photonic latents, the sampler checked
  against exact probabilities;
* ``banks`` (``tour_banks``): sample banks, the classical challengers, noise, hardware import;
* ``synthetic`` (``tour_synthetic``): the ring and Table I experiments at a tiny budget;
* ``qm9`` (``tour_qm9``): QM9 molecule generation at a tiny budget (needs the ``chem`` extra).

``run_demo`` runs them in this order, or the ``parts`` asked for.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

PARTS = {"latents": "tour_latents", "banks": "tour_banks", "synthetic": "tour_synthetic",
         "qm9": "tour_qm9"}


def check_parts(parts: Sequence[str] | None) -> tuple[str, ...]:
    """Return the parts to run (all of ``PARTS`` for ``None``), in the tour's order; an unknown
    name raises and lists the valid ones."""
    if parts is None:
        return tuple(PARTS)
    if isinstance(parts, str) or not isinstance(parts, Sequence):
        raise TypeError(f"parts must be a list of part names, got {parts!r}")
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise ValueError(f"parts must name one or more of {', '.join(map(repr, PARTS))}; "
                         f"got {list(parts)!r}")
    return tuple(p for p in PARTS if p in parts)


def run_demo(out_dir: str | Path, console: Console | None = None, *,
             parts: Sequence[str] | None = None) -> None:
    """Run the tour (every part, or those in ``parts``), writing plots and runs under
    ``out_dir``."""
    parts = check_parts(parts)
    console = console or Console()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for part in parts:
        importlib.import_module(f"qlatent.demo.{PARTS[part]}").tour(out_dir, console)
    console.print(f"[bold]demo finished in {time.perf_counter() - start:.0f} s; "
                  f"outputs in {out_dir}/[/bold]")
