"""Which devices compute bfloat16 natively, and the warning when bf16 is asked for elsewhere.

``Config.precision = "bf16"`` runs the forward passes under ``torch.autocast`` with bfloat16.
It pays only where the hardware multiplies bfloat16 itself:

* a CPU with AVX512-BF16 or AMX-BF16 (x86; Linux ``/proc/cpuinfo`` flags ``avx512_bf16``,
  ``amx_bf16``) or with the Armv8.6 BF16 extension (flag ``bf16``);
* a CUDA GPU that supports bfloat16 without emulation (compute capability 8.0 and up).

Everywhere else torch emulates bfloat16 by converting to float32 and back around every
product: measured on a 2-core AVX2 CPU, a QM9 training step (batch 256) took 6.3 CPU s in
bf16 against 0.59 s in fp32, and a Table I step about 20x longer (results/table1_bf16/). So
fp32 is the default everywhere, and a run asked for bf16 on such a device warns once.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import torch

__all__ = ["cpu_flags", "native_bf16", "warn_if_emulated_bf16"]

#: CPU feature flags (as Linux's /proc/cpuinfo spells them) that mean native bf16 products.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str] | None:
    """The CPU's feature flags from the first ``flags`` (x86) or ``Features`` (Arm) line of
    ``cpuinfo``; ``None`` where that file cannot be read (not Linux)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def native_bf16(device: str | torch.device = "cpu", *,
                flags: Iterable[str] | None = None) -> bool:
    """Whether ``device`` computes bfloat16 products natively (see the module docstring).

    Args:
        device: a torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...).
        flags: the CPU's feature flags; ``None`` reads them (``cpu_flags``), and where they
            cannot be read asks torch's own CPU probe (``torch.cpu``), if this torch has one.

    Returns:
        ``True`` only where bf16 is native; a device of any other type answers ``False``.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available()
                    and torch.cuda.is_bf16_supported(including_emulation=False))
    if device.type != "cpu":
        return False
    found = cpu_flags() if flags is None else frozenset(flags)
    if found is None:
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(torch.cpu, p, lambda: False)()) for p in probes)
    return bool(found & BF16_FLAGS)


def warn_if_emulated_bf16(precision: str, device: str | torch.device, *,
                          flags: Iterable[str] | None = None, stacklevel: int = 2) -> bool:
    """Warn (``RuntimeWarning``) when ``precision`` is ``"bf16"`` on a device without native
    bf16; return whether it warned. ``stacklevel`` as ``warnings.warn``'s, counted from the
    caller of this function (2: the caller's caller)."""
    if precision != "bf16" or native_bf16(device, flags=flags):
        return False
    warnings.warn(f"precision 'bf16' on {torch.device(device)}, which has no native bfloat16 "
                  "(CPU: no AVX512-BF16 / AMX-BF16 flag): torch emulates it, about 10x slower "
                  "than fp32 for a QM9 step here; use precision 'fp32'",
                  RuntimeWarning, stacklevel=stacklevel + 1)
    return True
