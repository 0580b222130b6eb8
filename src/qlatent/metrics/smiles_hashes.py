"""Novelty against a reference held as 8-byte hashes of its canonical SMILES.

A reference set of N canonical SMILES is stored as ``h = sorted(unique(H(s)))``, uint64[M],
with ``H(s)`` = BLAKE2b of the UTF-8 bytes with an 8-byte digest, read big-endian. A sample
is novel iff ``H(canonical SMILES) ∉ h`` (binary search). A false "not novel" needs a 64-bit
collision between a sample and a reference molecule: probability ≤ 2⁻⁶⁴ per pair, so below
N · n · 2⁻⁶⁴ ≈ 6·10⁻¹⁰ for QM9's 117,226 molecules against 10⁵ samples: negligible.

QM9's training split (the qm9 task's defaults) ships with the package (``SHIPPED_QM9_HASHES``:
``.npz`` of ``hashes`` and a ``.json`` of its SHA-256 and provenance), about 1 MB, so that
``qlatent evaluate`` scores novelty without processing QM9 (minutes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from qlatent._io import atomic_write, atomic_write_json, file_digest

__all__ = ["smiles_hashes", "is_member", "shipped_qm9_hashes", "write_shipped_hashes",
           "SHIPPED_QM9_HASHES", "HASH"]

#: What a hash is (recorded in the shipped ``.json``).
HASH = "blake2b, 8-byte digest of the UTF-8 canonical SMILES, big-endian uint64"
#: The shipped hashes of QM9's training split, without suffix (``.npz`` and ``.json``).
SHIPPED_QM9_HASHES = Path(__file__).parent / "data" / "qm9_train_hashes"


def _hash(smiles: list[str]) -> np.ndarray:
    return np.fromiter((int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")
                        for s in smiles), dtype=np.uint64, count=len(smiles))


def smiles_hashes(smiles: Iterable[str]) -> np.ndarray:
    """Sorted distinct hashes uint64[M] of SMILES strings (``H`` of the module docstring)."""
    return np.unique(_hash(list(smiles)))


def is_member(smiles: Iterable[str], hashes: np.ndarray) -> np.ndarray:
    """bool[n]: whether each string's hash is in ``hashes`` (sorted uint64[M])."""
    h = _hash(list(smiles))
    if hashes.size == 0:
        return np.zeros(h.size, dtype=bool)
    at = np.minimum(np.searchsorted(hashes, h), hashes.size - 1)
    return hashes[at] == h


def shipped_qm9_hashes() -> tuple[np.ndarray, dict] | None:
    """``(hashes, provenance)`` of the shipped QM9 training split, or None if none ship.

    Raises:
        ValueError: the ``.npz`` does not match the SHA-256 its ``.json`` records, or its
            array is not sorted distinct uint64 (a damaged installation: reinstall qlatent).
    """
    meta_path = SHIPPED_QM9_HASHES.with_suffix(".json")
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    path = SHIPPED_QM9_HASHES.with_suffix(".npz")
    if not path.is_file() or file_digest(path) != meta.get("sha256"):
        raise ValueError(f"{path} does not match the SHA-256 in {meta_path}: the installed "
                         "qlatent is damaged; reinstall it")
    with np.load(path, allow_pickle=False) as f:
        hashes = f["hashes"]
    if hashes.dtype != np.uint64 or hashes.ndim != 1 or np.any(hashes[1:] <= hashes[:-1]):
        raise ValueError(f"{path} must hold sorted distinct uint64[M] hashes, got "
                         f"{hashes.dtype}{list(hashes.shape)}")
    return hashes, meta


def write_shipped_hashes(path: str | Path, smiles: Iterable[str], *,
                         provenance: dict) -> Path:
    """Write the hashes of ``smiles`` as ``path.npz`` (``hashes``, no pickle) and ``path.json``
    (its SHA-256, ``count`` of distinct hashes, ``hash`` and ``provenance``'s fields)."""
    path = Path(path)
    hashes = smiles_hashes(smiles)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, hashes=hashes)

    npz = atomic_write(path.with_suffix(".npz"), write)
    atomic_write_json(path.with_suffix(".json"), {
        "sha256": file_digest(npz), "count": int(hashes.size), "hash": HASH, **provenance})
    return npz
