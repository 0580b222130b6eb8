"""Import an optional SDK of the ``interop`` extra, with an error that says how to get it."""

from __future__ import annotations

import importlib
from types import ModuleType

#: import name -> the distribution pip installs it from.
DISTRIBUTIONS = {"qiskit": "qiskit", "pennylane": "pennylane", "perceval": "perceval-quandela"}


def require(module: str) -> ModuleType:
    """``import module`` or an ImportError naming the ``interop`` extra (never at library import
    time: only when an adapter is called)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{module} is not installed: pip install 'qlatent[interop]' (or pip "
                          f"install {DISTRIBUTIONS.get(module, module)})") from err
