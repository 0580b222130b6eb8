"""Molecule metrics over generated SMILES: strict validity, uniqueness, novelty, the paper's counts.

Input convention (the ``samples.smi`` format of a run directory): one string per generated
sample, the SMILES exactly as decoded (fragments joined by ``"."``), or ``""`` where the graph
was not a molecule at all. Every function here is pure and recomputable from that list.

Strict validity (what MolGAN-pytorch does not check): a sample is valid iff its string is
non-empty, RDKit parses and sanitises it, it is ONE connected molecule (no ``"."``), and it has
no placeholder/dummy atom (atomic number 0, ``*``). An empty graph is invalid.

References: De Cao & Kipf, arXiv:1805.11973 (validity, uniqueness, novelty as used for QM9);
Bacarreza et al., arXiv:2508.19857, Table II (number of valid & unique, number novel, of 10k).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence

from qlatent._chem import rdkit_chem

__all__ = [
    "canonical_valid",
    "validity",
    "uniqueness",
    "novelty",
    "count_valid_unique",
    "count_novel",
    "evaluate_molecules",
    "diversity",
    "HIGHER_IS_BETTER",
]

#: Direction of every metric returned by ``evaluate_molecules`` (``None``: no better direction;
#: read through ``qlatent.metrics.direction``).
HIGHER_IS_BETTER = {
    "validity": True, "uniqueness": True, "novelty": True,
    "n_valid": True, "n_valid_unique": True, "n_novel": True, "n_samples": None,
}


def _check_smiles_list(name: str, smiles: object) -> list[str]:
    if isinstance(smiles, (str, bytes)) or not isinstance(smiles, Iterable):
        raise TypeError(f"{name} must be a sequence of SMILES strings, got {type(smiles).__name__}")
    out = list(smiles)
    for i, s in enumerate(out):
        if not isinstance(s, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(s).__name__}")
    return out


def canonical_valid(smiles: Sequence[str]) -> list[str | None]:
    """Canonical non-isomeric SMILES of each strictly valid sample, ``None`` for the others.

    Args:
        smiles: decoded samples (``""`` = not a molecule).

    Returns:
        A list as long as ``smiles``.
    """
    chem = rdkit_chem()
    smiles = _check_smiles_list("smiles", smiles)
    out: list[str | None] = []
    for s in smiles:
        if not s or "." in s:
            out.append(None)
            continue
        mol = chem.MolFromSmiles(s)
        if mol is None or mol.GetNumAtoms() == 0 or any(
                a.GetAtomicNum() == 0 for a in mol.GetAtoms()):
            out.append(None)
            continue
        if len(chem.GetMolFrags(mol)) != 1:
            out.append(None)
            continue
        out.append(chem.MolToSmiles(mol, isomericSmiles=False, canonical=True))
    return out


def _valid_set(canon: Sequence[str | None]) -> set[str]:
    return {c for c in canon if c is not None}


def validity(smiles: Sequence[str]) -> float:
    """Fraction of samples that are strictly valid molecules.

    Numerator: samples that are one connected, sanitisable molecule without dummy atoms.
    Denominator: all samples (empty graphs and fragments included). Higher is better.
    """
    canon = canonical_valid(smiles)
    return sum(c is not None for c in canon) / len(canon) if canon else 0.0


def uniqueness(smiles: Sequence[str]) -> float:
    """Fraction of valid samples that are distinct.

    Numerator: number of distinct canonical SMILES among valid samples.
    Denominator: number of valid samples (0 valid → 0.0). Higher is better.
    """
    canon = canonical_valid(smiles)
    n_valid = sum(c is not None for c in canon)
    return len(_valid_set(canon)) / n_valid if n_valid else 0.0


def novelty(smiles: Sequence[str], train: Iterable[str]) -> float:
    """Fraction of distinct valid samples not in the training set.

    Numerator: distinct valid canonical SMILES absent from ``train``.
    Denominator: distinct valid canonical SMILES (0 → 0.0). Higher is better.
    ``train`` must hold canonical non-isomeric RDKit SMILES (``QM9Graphs.smiles("train")``).
    """
    distinct = _valid_set(canonical_valid(smiles))
    train = train if isinstance(train, (set, frozenset)) else set(train)
    return len(distinct - train) / len(distinct) if distinct else 0.0


def count_valid_unique(smiles: Sequence[str]) -> int:
    """Number of distinct valid molecules among the samples (the paper's "# valid & unique")."""
    return len(_valid_set(canonical_valid(smiles)))


def count_novel(smiles: Sequence[str], train: Iterable[str]) -> int:
    """Number of distinct valid molecules not in ``train`` (the paper's "# novel")."""
    train = train if isinstance(train, (set, frozenset)) else set(train)
    return len(_valid_set(canonical_valid(smiles)) - train)


def evaluate_molecules(smiles: Sequence[str], *, train: Iterable[str] | None = None) -> dict:
    """All of the above in one pass (one RDKit parse per sample).

    Args:
        smiles: decoded samples (``""`` = not a molecule).
        train: canonical training SMILES (needed for novelty; ``None`` skips it).

    Returns:
        ``n_samples``, ``n_valid``, ``validity`` (= n_valid / n_samples), ``n_valid_unique``,
        ``uniqueness`` (= n_valid_unique / n_valid), and with ``train``: ``n_novel``,
        ``novelty`` (= n_novel / n_valid_unique). Agrees with the single-metric functions.
    """
    canon = canonical_valid(smiles)
    n = len(canon)
    n_valid = sum(c is not None for c in canon)
    distinct = _valid_set(canon)
    out = {
        "n_samples": n,
        "n_valid": n_valid,
        "validity": n_valid / n if n else 0.0,
        "n_valid_unique": len(distinct),
        "uniqueness": len(distinct) / n_valid if n_valid else 0.0,
    }
    if train is not None:
        train = train if isinstance(train, (set, frozenset)) else set(train)
        n_novel = len(distinct - train)
        out["n_novel"] = n_novel
        out["novelty"] = n_novel / len(distinct) if distinct else 0.0
    return out


def diversity(smiles: Sequence[str], *, train: Iterable[str],
              sizes: Sequence[int] = (1000, 2000, 5000, 10_000), top: int = 5) -> dict:
    """Why is "# valid & unique" low: the metric's strictness, or a generator that repeats
    itself? Counts of the same samples under lenient rules, and signs of mode collapse.

    Args:
        smiles: decoded samples (``""`` = not a molecule).
        train: canonical training SMILES.
        sizes: prefixes of ``smiles`` over which the distinct valid molecules are counted
            (those longer than ``smiles`` are left out).
        top: how many of the most frequent valid molecules to report.

    Returns:
        ``unique_with_fragments`` (distinct canonical SMILES of every sample RDKit parses,
        fragments included, as older MolGAN code counts), ``novel_with_fragments`` (those not
        in ``train``), ``unique_largest_fragment`` (distinct largest fragments of those),
        ``distinct_valid_by_samples`` ({n: distinct strictly valid molecules among the first
        n samples}), ``top_share_of_valid`` (the ``top`` most frequent valid molecules' share
        of the valid samples) and ``top`` (those molecules with their counts).
    """
    chem = rdkit_chem()
    smiles = _check_smiles_list("smiles", smiles)
    train = train if isinstance(train, (set, frozenset)) else set(train)
    whole, largest = set(), set()
    for s in smiles:
        mol = chem.MolFromSmiles(s) if s else None
        if mol is None:
            continue
        whole.add(chem.MolToSmiles(mol))
        frags = chem.GetMolFrags(mol, asMols=True)
        largest.add(chem.MolToSmiles(max(frags, key=lambda f: f.GetNumAtoms())))
    canon = canonical_valid(smiles)
    valid = [c for c in canon if c is not None]
    counts = collections.Counter(valid)
    return {
        "unique_with_fragments": len(whole), "novel_with_fragments": len(whole - train),
        "unique_largest_fragment": len(largest),
        "distinct_valid_by_samples": {n: len(_valid_set(canon[:n])) for n in sizes
                                      if n <= len(canon)},
        "top_share_of_valid": sum(v for _, v in counts.most_common(top)) / max(1, len(valid)),
        "top": counts.most_common(top),
    }
