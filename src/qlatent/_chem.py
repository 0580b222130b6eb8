"""The one adapter for the ``chem`` extra (rdkit, fcd, qm9pack), STYLE.md rule 10.

Everything in qlatent that needs RDKit, the ``fcd`` package or the ``qm9pack`` data files gets
them from here, so a missing extra fails with one helpful message instead of a bare
``ModuleNotFoundError`` deep inside a training run. RDKit's per-molecule log messages (thousands
of "Can't kekulize" lines while scoring generated graphs) are silenced on first import.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

_HINT = ("qlatent's chemistry features need the 'chem' extra: "
         "pip install 'qlatent[chem]' (rdkit, fcd, qm9pack)")

_silenced = False


def _require(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"{_HINT}; could not import {name!r}: {exc}") from exc


def rdkit_chem() -> ModuleType:
    """Return ``rdkit.Chem`` with RDKit's logging switched off."""
    global _silenced
    chem = _require("rdkit.Chem")
    if not _silenced:
        _require("rdkit.RDLogger").DisableLog("rdApp.*")
        _silenced = True
    return chem


def rdkit_module(name: str) -> ModuleType:
    """Return an RDKit submodule, e.g. ``rdkit_module("rdkit.Chem.QED")``."""
    rdkit_chem()
    return _require(name)


def fcd_module() -> ModuleType:
    """Return the ``fcd`` package (ChemNet, torch-based)."""
    rdkit_chem()
    return _require("fcd")


def qm9pack_data_files() -> list[Path]:
    """Paths of qm9pack's ``qm9_part{1,2,3}.csv`` (all 130,831 QM9 molecules, with SMILES).

    Located from the installed package without importing it (its loader needs
    ``pkg_resources``).
    """
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{_HINT}; the qm9pack package is not installed")
    root = Path(next(iter(spec.submodule_search_locations))) / "data"
    files = [root / f"qm9_part{k}.csv" for k in (1, 2, 3)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"qm9pack's data files are missing: {', '.join(missing)}")
    return files
