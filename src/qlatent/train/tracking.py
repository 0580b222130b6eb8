"""Experiment tracking through ``fit``'s callbacks: each log row goes to a tracker as well.

``make_callbacks(["tensorboard"], run_dir)`` returns callbacks for ``fit(..., callbacks=...)``;
each one acts on logging steps only (``info["row"]``, the row averaged over the logging
window, also written to ``log.jsonl``) and is closed by ``fit`` when training ends.

Trackers:

* ``"tensorboard"``: TensorBoard event files in ``run_dir/tensorboard`` (scalars
  ``train/loss_critic``, ``train/loss_generator``, ``train/gradient_penalty``,
  ``train/wasserstein``, ``train/seconds``), written by ``torch.utils.tensorboard``; needs the
  ``tracking`` extra (``pip install 'qlatent[tracking]'``). View with
  ``tensorboard --logdir RUN_DIR``. A resumed run purges the events its predecessor wrote past
  the checkpoint, so each step is shown once.

A new tracker is a class with ``__call__(step, info)`` and ``close()``, and a line in
``_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qlatent.train.skeleton import Callback

TRACKERS = ("tensorboard",)
"""The tracker names ``make_callbacks`` knows."""


def _summary_writer() -> Any:
    # The one place that imports TensorBoard (an optional extra).
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional extra: tracking
    except ImportError as err:
        raise ImportError("the tensorboard tracker needs the tensorboard package: "
                          "pip install 'qlatent[tracking]'") from err
    return SummaryWriter


class TensorBoardCallback:
    """Writes every log row's figures as TensorBoard scalars ``train/<name>`` at its step.

    The writer opens at the first step it sees (so ``purge_step`` drops events an interrupted
    predecessor wrote from that step on) and closes in ``close()``.
    """

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        self._writer_class = _summary_writer()  # fails before training, not at the first row
        self._writer: Any = None

    def __call__(self, step: int, info: dict[str, Any]) -> None:
        if self._writer is None:
            self._writer = self._writer_class(log_dir=str(self.log_dir), purge_step=step)
        row = info.get("row")
        if row is None:
            return
        for name, value in row.items():
            if name != "step":
                self._writer.add_scalar(f"train/{name}", value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


_FACTORIES: dict[str, Callable[[Path], Callback]] = {
    "tensorboard": lambda run_dir: TensorBoardCallback(run_dir / "tensorboard"),
}


def make_callbacks(names: Sequence[str], run_dir: str | Path) -> list[Callback]:
    """Callbacks for ``fit`` that send the log rows to the trackers ``names``.

    Args:
        names: tracker names, each one of ``TRACKERS`` (empty: no callbacks).
        run_dir: the run directory; each tracker writes in a folder of its own below it.

    Raises:
        TypeError: ``names`` is a string or holds a non-string.
        ValueError: an unknown or repeated name (the message lists the valid ones).
        ImportError: a tracker's package is missing (the message says which extra to install).
    """
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"names must be a sequence of tracker names such as ['tensorboard'], "
                        f"got {names!r}")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"names must hold strings, got {name!r} ({type(name).__name__})")
        if name not in TRACKERS:
            raise ValueError(f"unknown tracker {name!r}; valid trackers: {', '.join(TRACKERS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"names must be distinct, got {list(names)}")
    return [_FACTORIES[name](Path(run_dir)) for name in names]
