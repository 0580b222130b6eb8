"""Chemical property means of generated molecules (QED, logP, SA) and a grid image.

* QED: quantitative estimate of drug-likeness in [0, 1] (Bickerton et al., Nat. Chem. 4, 90
  (2012)), ``rdkit.Chem.QED.qed``; higher is more drug-like.
* logP: Wildman–Crippen octanol/water partition coefficient (J. Chem. Inf. Comput. Sci. 39, 868
  (1999)), ``rdkit.Chem.Crippen.MolLogP``; no better direction.
* SA: synthetic accessibility score in [1, 10] (Ertl & Schuffenhauer, J. Cheminf. 1, 8 (2009)),
  RDKit Contrib ``SA_Score/sascorer.py`` (found via ``RDConfig.RDContribDir``); lower is easier.

Each mean is over the molecules given (pass valid ones); an empty list gives NaN.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path

from qlatent._chem import rdkit_chem, rdkit_module
from qlatent._io import atomic_write

__all__ = ["property_means", "qed", "logp", "sa_score", "sa_available", "grid_image",
           "HIGHER_IS_BETTER"]

#: Direction of each property mean (``None``: no better direction; ``qlatent.metrics.direction``).
HIGHER_IS_BETTER = {"qed": True, "logp": None, "sa": False}

_sascorer = None


def _load_sascorer():
    """Import RDKit Contrib's sascorer, or return ``None`` if this RDKit wheel lacks it."""
    global _sascorer
    if _sascorer is None:
        rdconfig = rdkit_module("rdkit.RDConfig")
        path = Path(rdconfig.RDContribDir) / "SA_Score" / "sascorer.py"
        if not path.is_file():
            _sascorer = False
        else:
            spec = importlib.util.spec_from_file_location("qlatent_rdkit_sascorer", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            _sascorer = module
    return _sascorer or None


def sa_available() -> bool:
    """Whether the RDKit Contrib SA scorer is present."""
    return _load_sascorer() is not None


def _mols(smiles: Sequence[str]):
    chem = rdkit_chem()
    if isinstance(smiles, str):
        raise TypeError("smiles must be a sequence of SMILES strings, got one str")
    mols = []
    for i, s in enumerate(smiles):
        mol = chem.MolFromSmiles(s) if isinstance(s, str) and s else None
        if mol is None:
            raise ValueError(f"smiles[{i}] is not a valid molecule: {s!r}")
        mols.append(mol)
    return mols


def qed(smiles: Sequence[str]) -> list[float]:
    """QED of each molecule."""
    f = rdkit_module("rdkit.Chem.QED").qed
    return [float(f(m)) for m in _mols(smiles)]


def logp(smiles: Sequence[str]) -> list[float]:
    """Crippen logP of each molecule."""
    f = rdkit_module("rdkit.Chem.Crippen").MolLogP
    return [float(f(m)) for m in _mols(smiles)]


def sa_score(smiles: Sequence[str]) -> list[float]:
    """SA score of each molecule (raises ``ImportError`` if the Contrib scorer is absent)."""
    scorer = _load_sascorer()
    if scorer is None:
        raise ImportError("RDKit's Contrib SA_Score/sascorer.py is not in this RDKit install")
    return [float(scorer.calculateScore(m)) for m in _mols(smiles)]


def property_means(smiles: Sequence[str]) -> dict[str, float]:
    """Means of QED, logP and SA over ``smiles`` (valid molecules): keys qed, logp, sa.

    SA is NaN when the Contrib scorer is missing; every mean is NaN for an empty list.
    """
    mols_ok = list(smiles)
    if not mols_ok:
        return {"qed": math.nan, "logp": math.nan, "sa": math.nan}
    out = {"qed": _mean(qed(mols_ok)), "logp": _mean(logp(mols_ok))}
    out["sa"] = _mean(sa_score(mols_ok)) if sa_available() else math.nan
    return out


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def grid_image(smiles: Sequence[str], path: str | Path, *, per_row: int = 6,
               sub_image_size: tuple[int, int] = (200, 160), legend: str = "") -> Path:
    """Draw molecules in a grid (``rdkit.Chem.Draw.MolsToGridImage``) and save it as PNG.

    Args:
        smiles: molecules to draw (each must parse).
        path: PNG file to write (atomically).
        per_row: molecules per row.
        sub_image_size: pixel size of one cell.
        legend: text prefixed to each molecule's SMILES legend (e.g. the run name).
    """
    mols = _mols(smiles)
    if not mols:
        raise ValueError("grid_image needs at least one molecule")
    draw = rdkit_module("rdkit.Chem.Draw")
    legends = [s if not legend or i else f"{legend}: {s}" for i, s in enumerate(smiles)]
    image = draw.MolsToGridImage(mols, molsPerRow=min(per_row, len(mols)),
                                 subImgSize=tuple(sub_image_size),
                                 legends=legends)
    return atomic_write(Path(path), lambda tmp: image.save(tmp, format="PNG"))
