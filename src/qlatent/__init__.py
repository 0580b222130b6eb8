"""qlatent: deep generative models whose latent distribution comes from boson sampling.

Subpackages, in the order data flows (nothing imports upward):
``photonics`` (NumPy + numba physics), ``latents`` (torch-facing latent distributions and
sample banks), ``data``, ``models``, ``train``, ``metrics``, ``experiments``.

Subpackages load on first use, so ``import qlatent`` stays cheap and ``qlatent.photonics``
never pulls in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["photonics", "latents", "data", "models", "train", "metrics", "experiments"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"qlatent.{name}")
    raise AttributeError(f"module 'qlatent' has no attribute {name!r}")
