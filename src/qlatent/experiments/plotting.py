"""The one plotting setup of the package: a styled figure, saved as PNG (>= 150 dpi) and SVG.

Figures are ``matplotlib.figure.Figure`` objects made without ``pyplot``: no global backend is
switched, no figure registry grows, nothing is shown; the Agg canvas renders the PNG. The
house style applies through ``matplotlib.rc_context`` while the figure is drawn and saved, and
the global ``rcParams`` are left as they were. Both files are written atomically.

    with figure(out_dir / "report.png", ncols=2, figsize=(8, 3)) as (fig, axes):
        axes[0][0].plot(x, y)
    # -> out_dir/report.png (150 dpi) and out_dir/report.svg
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from qlatent._io import atomic_write
from qlatent._validation import check_choice, check_int

#: Resolution of every PNG the package writes.
DPI = 150
#: Formats written beside each other for every figure (the first is the one reports link).
FORMATS = ("png", "svg")
_VECTOR = ("svg", "pdf")

STYLE: dict[str, Any] = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # SVG text stays text (editable, small)
    "svg.hashsalt": "qlatent",  # deterministic SVG ids
    "pdf.fonttype": 42,
}


def save_figure(fig: Any, path: str | Path, *, formats: Sequence[str] = FORMATS,
                dpi: int = DPI) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix of ``formats`` (atomically); returns the paths.

    Args:
        fig: a ``matplotlib.figure.Figure``.
        path: the file's path; its suffix is replaced by each format's.
        formats: ``"png"`` and / or a vector format (``"svg"``, ``"pdf"``).
        dpi: PNG resolution (at least 150).
    """
    dpi = check_int("dpi", dpi, minimum=150)
    if isinstance(formats, str) or not formats:
        raise ValueError(f"formats must be a non-empty list of formats, got {formats!r}")
    for fmt in formats:
        check_choice("formats[]", fmt, ("png", *_VECTOR))
    out = []
    with matplotlib.rc_context(STYLE):
        for fmt in formats:
            target = Path(path).with_suffix(f".{fmt}")
            out.append(atomic_write(target, lambda tmp, fmt=fmt: fig.savefig(
                tmp, format=fmt, dpi=dpi, metadata=_metadata(fmt))))
    return out


def _metadata(fmt: str) -> dict[str, Any]:
    # No creation date in vector files: the same figure gives the same bytes.
    return {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})


def spans_decades(values: Sequence[float], decades: float = 1.0) -> bool:
    """Whether a log axis suits ``values``: all finite values positive, at least two, and
    log10(max / min) >= ``decades`` (False otherwise, e.g. for a value <= 0)."""
    finite = [float(v) for v in values if math.isfinite(v)]
    if len(finite) < 2 or min(finite) <= 0:
        return False
    return math.log10(max(finite) / min(finite)) >= decades


@contextmanager
def figure(path: str | Path, *, nrows: int = 1, ncols: int = 1,
           figsize: tuple[float, float] | None = None, formats: Sequence[str] = FORMATS,
           **subplots: Any) -> Iterator[tuple[Any, Any]]:
    """A styled figure with an ``nrows`` x ``ncols`` grid of axes (always 2-d), saved by
    ``save_figure`` to ``path`` (PNG) and its SVG sibling when the block ends without error.

    Yields:
        ``(fig, axes)``; ``axes[i][j]`` is the axes of row i, column j.
    """
    nrows = check_int("nrows", nrows, minimum=1)
    ncols = check_int("ncols", ncols, minimum=1)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **subplots)
        yield fig, axes
        save_figure(fig, path, formats=formats)
