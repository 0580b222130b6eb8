"""Slow, independent references: the test oracle for small systems (STYLE.md rule 2).

Nothing here is fast or clever on purpose: permanents by the permutation sum, distributions by
enumerating the whole Fock space.

Notation:
    m modes, n photons, U complex128[m, m]; a Fock state is a count vector s int64[m] with
    sum(s) = n; U_{S,T} is the n x n matrix with rows j repeated s_j times and columns k repeated
    t_k times (t the input state).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from qlatent._validation import check_int
from qlatent.photonics._checks import check_square_matrix, check_state, check_unitary


def permanent(A: Any) -> complex:
    """Perm(A) = sum over permutations s of prod_i A[i, s(i)], by listing all n! permutations."""
    A = check_square_matrix("A", A)
    n = A.shape[0]
    total = 0.0 + 0.0j
    for perm in itertools.permutations(range(n)):
        term = 1.0 + 0.0j
        for i, j in enumerate(perm):
            term *= A[i, j]
        total += term
    return complex(total)


def fock_states(n_modes: int, n_photons: int) -> np.ndarray:
    """All C(m + n - 1, n) states of n photons in m modes, bunched ones included.

    Order: lexicographic in the sorted list of occupied modes (itertools'
    combinations_with_replacement), i.e. (n, 0, ...) first and (..., 0, n) last.

    Returns:
        int64[K, m] with K = C(m + n - 1, n).
    """
    m = check_int("n_modes", n_modes, minimum=1)
    n = check_int("n_photons", n_photons, minimum=0)
    states = []
    for modes in itertools.combinations_with_replacement(range(m), n):
        s = np.zeros(m, dtype=np.int64)
        for j in modes:
            s[j] += 1
        states.append(s)
    return np.array(states, dtype=np.int64).reshape(-1, m)


def _submatrix(M: np.ndarray, out_state: np.ndarray, in_state: np.ndarray) -> np.ndarray:
    rows = np.repeat(np.arange(M.shape[0]), out_state)
    cols = np.repeat(np.arange(M.shape[1]), in_state)
    return M[np.ix_(rows, cols)]


def _fact_prod(s: np.ndarray) -> int:
    return math.prod(math.factorial(int(x)) for x in s)


def output_distribution(U: Any, input_state: Any) -> tuple[np.ndarray, np.ndarray]:
    """Exact output distribution of indistinguishable photons.

    P(S | T) = |Perm(U_{S,T})|^2 / (prod_j s_j! prod_k t_k!) (Scheel, arXiv:quant-ph/0406127;
    Aaronson & Arkhipov, arXiv:1011.3245).

    Args:
        U: complex128[m, m] unitary.
        input_state: int[m] counts T.

    Returns:
        (states int64[K, m] as in :func:`fock_states`, probs float64[K]).
    """
    U = check_unitary("U", U)
    t = check_state("input_state", input_state, U.shape[0])
    n = int(t.sum())
    states = fock_states(U.shape[0], n)
    tf = _fact_prod(t)
    probs = np.array([abs(permanent(_submatrix(U, s, t))) ** 2 / (_fact_prod(s) * tf)
                      for s in states])
    return states, probs


def distinguishable_output_distribution(U: Any, input_state: Any
                                        ) -> tuple[np.ndarray, np.ndarray]:
    """Exact output distribution of distinguishable photons.

    Each photon from input mode k lands in mode j with probability |U[j, k]|^2, independently, so
    P(S | T) = Perm(|U|^2_{S,T}) / prod_j s_j! with |U|^2 taken entrywise (photons are labelled:
    no 1 / prod t_k!, since only the s_j! orderings of an output row's copies coincide).

    Returns:
        (states int64[K, m] as in :func:`fock_states`, probs float64[K]).
    """
    U = check_unitary("U", U)
    t = check_state("input_state", input_state, U.shape[0])
    n = int(t.sum())
    states = fock_states(U.shape[0], n)
    P = np.abs(U) ** 2
    probs = np.array([permanent(_submatrix(P, s, t)).real / _fact_prod(s)
                      for s in states])
    return states, probs
