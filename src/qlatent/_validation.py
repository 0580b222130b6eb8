"""Argument checks shared by every public function.

Each check raises ``TypeError`` or ``ValueError`` with a message that names the argument, says
what was expected and shows what was received (STYLE.md rule 1).

Shared infrastructure (``tests/test_layering.py``): every layer imports this module and
``photonics`` must never import torch, so torch is imported only inside the functions that
check tensors or CUDA devices.
"""

from __future__ import annotations

import numbers
import re
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


def check_cost(what: str, cost: float, limit: float, *, unit: str, knob: str) -> None:
    """Refuse work whose estimated cost exceeds its limit, before any of it is done.

    Args:
        what: the work, e.g. ``"the permanent of a 40 x 40 matrix"``.
        cost: its estimate, in ``unit``.
        limit: the most accepted (the value of keyword argument ``knob``).
        unit: e.g. ``"multiply-adds"`` or ``"bytes"``.
        knob: the keyword argument that raises the limit, named in the message.

    Raises:
        ValueError: one line with the estimate, the limit and how to raise it.
    """
    if cost > limit:
        raise ValueError(f"{what} would cost ~{cost:.3g} {unit}, more than {knob}={limit:.3g}; "
                         f"pass a larger {knob} to run it anyway")


def check_batch_memory(batch: Any, bytes_per_row: float, max_bytes: float, *,
                       what: str = "log_prob") -> None:
    """Refuse a batch whose working memory (rows x ``bytes_per_row``) exceeds ``max_bytes``,
    from its shape alone (before any copy or check of its values)."""
    shape = getattr(batch, "shape", None)
    rows = int(shape[0]) if shape is not None and len(shape) > 0 else (
        len(batch) if hasattr(batch, "__len__") else 0)
    check_cost(f"{what} of {rows:,} rows", rows * float(bytes_per_row), max_bytes,
               unit="bytes", knob="max_bytes")


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


def check_device(device: Any, *, name: str = "device", require_available: bool = True) -> str:
    """Return ``device`` if it is ``"cpu"``, ``"cuda"`` or ``"cuda:k"`` (k a device index); a
    ``torch.device`` of those types is returned as its name. torch is imported only when
    needed, so that ``photonics`` (which imports this module) never pulls it in.

    With ``require_available`` (default) a CUDA device must exist on this machine: ``"cuda"``
    needs ``torch.cuda.is_available()``, ``"cuda:k"`` needs k < ``torch.cuda.device_count()``.
    Pass ``False`` where the work runs elsewhere (e.g. Ray workers on other nodes).
    """
    if type(device).__name__ == "device" and type(device).__module__ == "torch":
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"{name} must be a string ('cpu', 'cuda' or 'cuda:k'), got {device!r} "
                        f"({type(device).__name__})")
    match = re.fullmatch(r"cpu|cuda(?::(\d+))?", device)
    if match is None:
        raise ValueError(f"{name} must be 'cpu', 'cuda' or 'cuda:k' (k = 0, 1, ...), "
                         f"got {device!r}")
    if device != "cpu" and require_available:
        import torch  # torch-free: only a CUDA device needs torch

        if not torch.cuda.is_available():
            raise ValueError(f"{name} is {device!r} but CUDA is not available here (torch "
                             f"{torch.__version__}, {torch.cuda.device_count()} GPU(s)); "
                             "use 'cpu'")
        index = int(match.group(1) or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"{name} is {device!r} but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s) (cuda:0 .. "
                             f"cuda:{torch.cuda.device_count() - 1})")
    return device


def check_keys(table: Any, valid: Any, where: str, *, hint: str = "") -> None:
    """Raise ``ValueError`` naming the keys of ``table`` not in ``valid`` and listing the valid
    ones (``where`` names the table, e.g. ``"[train]"``; ``hint`` is appended)."""
    unknown = sorted(set(table) - set(valid))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; "
                         f"valid keys: {', '.join(sorted(valid))}{hint}")


def check_bits(name: str, value: Any, *, width: int | None = None, min_rows: int = 1,
               max_value: int = 1) -> np.ndarray:
    """Return ``value`` (array, tensor or nested list [B, n]) as uint8 [B, n] after checking it
    is 2-D with ``width`` columns (if given), at least ``min_rows`` rows and only the values
    0..``max_value`` (default 1: bits; up to 255 for photon counts). The numpy twin of
    :func:`check_bits_tensor`, in the same words."""
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    kind = "0/1" if max_value == 1 else f"integer 0..{max_value}"
    shape = f"(B, {width if width is not None else 'n'})"
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a {kind} array {shape}, got "
                        f"{type(value).__name__}") from err
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a {kind} array {shape}, got dtype {arr.dtype}")
    rows = f" with B >= {min_rows}" if min_rows > 0 else ""
    if arr.ndim != 2 or (width is not None and arr.shape[1] != width) or arr.shape[0] < min_rows:
        raise ValueError(f"{name} must have shape {shape}{rows}, got {arr.shape}")
    if arr.size and not np.all((arr == np.round(arr)) & (arr >= 0) & (arr <= max_value)):
        bad = arr[~((arr == np.round(arr)) & (arr >= 0) & (arr <= max_value))].flat[0]
        raise ValueError(f"{name} must hold only {kind} values, got {bad.item()!r}")
    return arr.astype(np.uint8)


def check_bits_tensor(name: str, value: Any, *, width: int | None = None,
                      min_rows: int = 0) -> Any:
    """Return ``value`` (tensor, array or nested list [B, n] of 0/1) as a torch Tensor, with its
    dtype and device unchanged (the caller converts), after checking it is 2-D with ``width``
    columns (if given), at least ``min_rows`` rows and only the values 0 and 1.

    The torch-side twin of :func:`check_bits`, for the trainable latents, quantum models and
    trainers: every bit-vector input of theirs goes through here, so the messages read alike::

        bits must have shape (B, 4), got (2, 3)
        data must have shape (B, 4) with B >= 1, got (0, 4)
        x must hold only 0/1 values, got 2

    torch is imported only when called, so ``photonics`` (which imports this module) never
    pulls it in.
    """
    import torch  # torch-free: only when called

    shape = f"(B, {width if width is not None else 'n'})"
    if isinstance(value, torch.Tensor):
        t = value
    else:
        try:
            t = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a real 0/1 array {shape}, got "
                            f"{type(value).__name__}") from err
    if t.dtype.is_complex:
        raise TypeError(f"{name} must be a real 0/1 array {shape}, got dtype {t.dtype}")
    rows = f" with B >= {min_rows}" if min_rows > 0 else ""
    if (t.ndim != 2 or (width is not None and t.shape[1] != width)
            or t.shape[0] < min_rows):
        raise ValueError(f"{name} must have shape {shape}{rows}, got {tuple(t.shape)}")
    if t.device.type != "meta" and t.numel():
        bad = (t != 0) & (t != 1)
        if bool(bad.any()):
            raise ValueError(f"{name} must hold only 0/1 values, got {t[bad][0].item()!r}")
    return t
