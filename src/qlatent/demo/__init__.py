"""The demo: a quick, complete tour of qlatent on this machine (under 3 minutes).

Each part is a ``tour(out_dir, console)`` function in a module of this package:

* ``latents`` (``tour_latents``): quantum versus photonic latents, the sampler checked
  against exact probabilities;
* ``banks`` (``tour_banks``): sample banks, the classical challengers, noise, hardware import;
* ``synthetic`` (``tour_synthetic``): the ring and Table I experiments at a tiny budget;
* ``zoo`` (``tour_zoo``): three model families on bars and stripes 3 × 3, 5 seeds, and the
  effect this budget shows (a Born machine against independent bits, paired over seeds);
* ``qm9`` (``tour_qm9``): QM9 molecule generation at a tiny budget (needs the ``chem`` extra).

``run_demo`` runs them in this order, or the ``parts`` asked for, after saying what a budget of
minutes can and cannot show (``BUDGET_NOTE``).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

PARTS = {"latents": "tour_latents", "banks": "tour_banks", "synthetic": "tour_synthetic",
         "zoo": "tour_zoo", "qm9": "tour_qm9"}

#: What the demo's budget (about three minutes on two cores) can and cannot show.
BUDGET_NOTE = (
    "What a few minutes can show: the samplers are exact (checked against exact "
    "probabilities), indistinguishable photons bunch where distinguishable ones do not, every "
    "pipeline runs end to end, and a small discrete model learns (the zoo part: a Born "
    "machine against independent bits, paired over 5 seeds, with its CI and test). What they "
    "cannot: the paper's GAN results. Its ring, Table I and Table II need 5,000 to 40,000 "
    "steps over 5 to 20 seeds; here the synthetic and QM9 parts train one seed for 60 to 300 "
    "steps, so their rows show the pipeline, not which latent is better (one seed has no "
    "error bar and no test).")


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
    console.print(BUDGET_NOTE)
    for part in parts:
        begin, cpu = time.perf_counter(), time.process_time()
        importlib.import_module(f"qlatent.demo.{PARTS[part]}").tour(out_dir, console)
        # CPU time beside wall time: on a shared machine the wall time says little
        console.print(f"[dim]part {part}: {time.perf_counter() - begin:.0f} s wall, "
                      f"{time.process_time() - cpu:.0f} s CPU[/dim]")
    console.print(f"[bold]demo finished in {time.perf_counter() - start:.0f} s; "
                  f"outputs in {out_dir}/[/bold]")
