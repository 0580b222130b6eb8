"""Input checks shared by the photonics functions (STYLE.md rule 1).

Notation: m modes, n photons, U a complex128[m, m] unitary, input_state int64[m] photon counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

UNITARY_ATOL = 1e-10  # tolerance of ``is_unitary`` and of every sampler's unitarity check


def check_square_matrix(name: str, A: Any, *, allow_empty: bool = True) -> np.ndarray:
    """Return ``A`` as a finite complex128 square matrix or raise naming ``name``."""
    if not isinstance(A, np.ndarray):
        try:
            A = np.asarray(A)
        except Exception as exc:  # pragma: no cover - numpy raises many kinds
            raise TypeError(f"{name} must be a square matrix (array-like), got "
                            f"{type(A).__name__}") from exc
    if A.dtype == object or not (np.issubdtype(A.dtype, np.number) or A.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {A.dtype}")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square 2-D matrix, got shape {A.shape}")
    if not allow_empty and A.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {A.shape}")
    A = np.ascontiguousarray(A, dtype=np.complex128)
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} must be finite, got NaN or infinite entries")
    return A


def check_unitary(name: str, U: Any, *, atol: float = UNITARY_ATOL) -> np.ndarray:
    """Return ``U`` as complex128[m, m] after checking max|U^dagger U - I| <= atol."""
    U = check_square_matrix(name, U, allow_empty=False)
    err = float(np.max(np.abs(U.conj().T @ U - np.eye(U.shape[0]))))
    if err > atol:
        raise ValueError(f"{name} must be unitary to within max|U^dagger U - I| <= {atol:g}, "
                         f"got deviation {err:.3g}")
    return U


def check_state(name: str, state: Any, n_modes: int) -> np.ndarray:
    """Return a photon-count vector int64[n_modes] (non-negative integers)."""
    arr = np.asarray(state)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array of photon counts, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n_modes:
        raise ValueError(f"{name} must have shape ({n_modes},) (one count per mode), "
                         f"got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must hold non-negative photon counts, got {arr.tolist()}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def input_columns(input_state: np.ndarray) -> np.ndarray:
    """Mode index of every input photon, in mode order: int64[n] (mode k repeated t_k times)."""
    return np.repeat(np.arange(input_state.shape[0], dtype=np.int64), input_state)
