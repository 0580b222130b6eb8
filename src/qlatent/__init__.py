"""qlatent: deep generative models whose latent distribution comes from boson sampling.

Subpackages, in the order data flows (nothing imports upward):
``photonics`` (NumPy + numba physics), ``latents`` (torch-facing latent distributions and
sample banks), ``data``, ``models``, ``train``, ``metrics``, ``experiments``; and
``load_run(cell_dir)``, a trained cell of ``qlatent run`` back as generator, latent and config.

Subpackages load on first use, so ``import qlatent`` stays cheap and ``qlatent.photonics``
never pulls in torch.
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

_SUBPACKAGES = ("photonics", "latents", "data", "models", "train", "metrics", "experiments")
# Public functions of subpackages, importable from the top level (loaded on first use).
_FUNCTIONS = {"load_run": "qlatent.experiments.reuse"}
__all__ = [*_SUBPACKAGES, *_FUNCTIONS]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"qlatent.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'qlatent' has no attribute {name!r}")
