"""Argument checks shared by every public function.

Each raises ``TypeError`` or ``ValueError`` with a message that names the argument, says what
was expected and shows what was received (STYLE.md rule 1).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def check_int(name: str, value: Any, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """Return ``value`` as ``int`` after checking it is an integer in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(name: str, value: Any, *, minimum: float | None = None,
                maximum: float | None = None) -> float:
    """Return ``value`` as a finite ``float`` in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise list the valid ones."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_device(name: str, value: Any) -> Any:
    """Return ``value`` (``"cpu"``, ``"cuda"``, ``"cuda:k"`` or a ``torch.device`` of those
    types) as a ``torch.device``; CUDA must be available. torch is imported here only, so that
    ``photonics`` (which imports this module) never pulls it in."""
    import torch

    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"{name} must be a device name like 'cpu' or 'cuda', got {value!r} "
                        f"({type(value).__name__})")
    try:
        device = torch.device(value)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} must be 'cpu', 'cuda' or 'cuda:k', got {value!r}")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ValueError(f"{name} {str(device)!r} was asked for but this machine's torch "
                             f"sees {count} CUDA device(s)")
    return device
