"""qlatent: deep generative models whose latent distribution comes from boson sampling.

Subpackages, lowest layer first (nothing imports upward; ``tests/test_layering.py``):
``photonics`` (NumPy + numba physics), ``quantum`` (differentiable quantum models in torch),
``latents`` (latent distributions and sample banks), ``data``, ``models``, ``metrics``,
``train``, ``experiments``; ``load_run(cell_dir)``, a trained cell of ``qlatent run`` back as
generator, latent and config; and ``UserError``, the error of a request that cannot be met as
asked (the ``qlatent`` command prints it as one line).

Subpackages load on first use, so ``import qlatent`` stays cheap and ``qlatent.photonics``
never pulls in torch; ``dir(qlatent)`` lists them all.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any

# numba's samplers and torch share the OpenMP runtime; with its default (spinning) wait policy
# the threads a numba sampler leaves behind spin against torch's, and small torch ops then run
# 5-25x slower (measured: ring training after a bank build, 1.3-4.8 it/s vs 28-34 it/s with
# "passive", on 2 loaded cores). A default only: set OMP_WAIT_POLICY yourself to override; it
# takes effect when qlatent is imported before torch and numba start their threads.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

try:  # one source of truth: the version in pyproject.toml, as installed
    __version__ = version("qlatent")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"



class UserError(RuntimeError):
    """A known error of the user's request that is not a bad argument (those are ``TypeError``
    and ``ValueError``): a request that cannot be met as asked (post-selection that keeps too
    few shots), cells of an experiment that failed for the reasons they report. A
    ``RuntimeError``, as these were before it existed.

    The ``qlatent`` command prints it, like ``TypeError``, ``ValueError``, ``OSError`` and the
    ``ImportError`` of a missing extra, as one line ``error: <message>``; any other exception
    is a bug and keeps its traceback (``qlatent.cli.root``).
    """


_SUBPACKAGES = ("photonics", "quantum", "latents", "data", "models", "metrics", "train",
                "experiments")
# Public functions of subpackages, importable from the top level (loaded on first use).
_FUNCTIONS = {"load_run": "qlatent.experiments.reuse"}
__all__ = ["UserError", *_SUBPACKAGES, *_FUNCTIONS]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"qlatent.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'qlatent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*(n for n in globals() if n.startswith("__")), "__version__", *__all__})
