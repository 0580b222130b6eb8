"""The one progress bar of the package (rich, on stderr): description, bar, done / total,
elapsed time, ETA and a free text field (``extra``, e.g. the latest losses)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(description: str, total: int, *, completed: int = 0, enabled: bool = True,
                 transient: bool = False) -> tuple[Any, Any]:
    """A started-on-demand ``rich.progress.Progress`` and its task id.

    Use it as a context manager (``with bar: ...``) or call ``start()`` / ``stop()``; update
    with ``bar.update(task, completed=k, extra="...")``. ``enabled=False`` draws nothing.
    """
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[extra]}"),
                   console=Console(stderr=True), disable=not enabled, transient=transient)
    task = bar.add_task(description, total=total, completed=completed, extra="")
    return bar, task
