"""The one progress display of the package, on stderr: on a terminal a rich bar (description,
bar, done / total, elapsed time, ETA and a free text field ``extra``, e.g. the latest losses);
elsewhere (a pipe, a log file, a Ray worker) plain lines, at most one every ``PLAIN_SECONDS``
and one at the end, so that a piped run says what it is doing without escape codes."""

from __future__ import annotations

import sys
import time
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

PLAIN_SECONDS = 10.0
"""Seconds between two plain progress lines (when stderr is not a terminal)."""


class PlainProgress:
    """The plain-line twin of ``rich.progress.Progress`` for one task (task id 0): the same
    ``start`` / ``stop`` / ``update`` / ``advance`` / context-manager calls, printed on stderr
    as ``description: done / total (p %), elapsed s, rate/s, ETA s  extra`` lines: at most one
    every ``PLAIN_SECONDS``, one when the total is reached, and one at ``stop`` if the last
    printed line is out of date."""

    def __init__(self, description: str, total: int, completed: int, *, enabled: bool) -> None:
        self.description, self.total, self.completed = description, total, completed
        self.enabled, self.extra = enabled, ""
        self.first = completed  # the rate counts what this run did, not what it resumed from
        self.started = self.last = None
        self.printed: tuple[int, str] | None = None

    def start(self) -> None:
        self.started = self.last = time.monotonic()

    def update(self, task: int, *, completed: int | None = None, extra: str | None = None,
               **_: Any) -> None:
        self.completed = self.completed if completed is None else completed
        self.extra = self.extra if extra is None else extra
        if self.started is None:
            self.start()
        if (time.monotonic() - self.last >= PLAIN_SECONDS
                or (self.total and self.completed >= self.total)):
            self._line()

    def advance(self, task: int, advance: float = 1) -> None:
        self.update(task, completed=self.completed + int(advance))

    def stop(self) -> None:
        if self.started is not None:
            if self.printed != (self.completed, self.extra):
                self._line()
            self.started = None

    def _line(self) -> None:
        self.last = time.monotonic()
        if not self.enabled or self.printed == (self.completed, self.extra):
            return
        self.printed = (self.completed, self.extra)
        elapsed = self.last - self.started
        share = f" ({100 * self.completed / self.total:.0f} %)" if self.total else ""
        rate = (self.completed - self.first) / elapsed if elapsed > 0 else 0.0
        pace = f", {rate:,.1f}/s" if rate > 0 else ""
        if rate > 0 and self.total and self.completed < self.total:
            pace += f", ETA {(self.total - self.completed) / rate:.0f} s"
        extra = f"  {self.extra}" if self.extra else ""
        print(f"{self.description}: {self.completed:,} / {self.total:,}{share}, "
              f"{elapsed:.0f} s{pace}{extra}", file=sys.stderr, flush=True)

    def __enter__(self) -> PlainProgress:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def progress_bar(description: str, total: int, *, completed: int = 0, enabled: bool = True,
                 transient: bool = False) -> tuple[Any, Any]:
    """A started-on-demand progress display and its task id: a ``rich.progress.Progress`` when
    stderr is a terminal, a ``PlainProgress`` otherwise.

    Use it as a context manager (``with bar: ...``) or call ``start()`` / ``stop()``; update
    with ``bar.update(task, completed=k, extra="...")``. ``enabled=False`` shows nothing.
    """
    if not sys.stderr.isatty():
        return PlainProgress(description, total, completed, enabled=enabled), 0
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[extra]}"),
                   console=Console(stderr=True), disable=not enabled, transient=transient)
    task = bar.add_task(description, total=total, completed=completed, extra="")
    return bar, task
