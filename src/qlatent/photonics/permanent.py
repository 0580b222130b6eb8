"""Matrix permanents: the amplitudes of boson sampling.

Notation: A complex128[n, n]; Perm(A) = sum_{s in S_n} prod_i A[i, s(i)].
"""

from __future__ import annotations

import warnings
from typing import Any

from qlatent._validation import check_choice
from qlatent.photonics import _permanent_kernels as _k
from qlatent.photonics._checks import check_square_matrix

PERMANENT_METHODS = ("glynn", "ryser")
#: Above this size ``permanent`` warns with the number of terms before it starts (n = 28:
#: 3.8e9 multiply-adds for Glynn, tens of seconds).
PERMANENT_WARN_SIZE = 28
#: Above this size ``permanent`` refuses (n = 40: 2.2e13 multiply-adds, hours).
PERMANENT_MAX_SIZE = 40


def permanent_cost(n: int, method: str = "glynn") -> int:
    """Multiply-adds of an n x n permanent: n 2^(n-1) (Glynn) or n 2^n (Ryser)."""
    return n * (1 << max(n - 1, 0)) if method == "glynn" else n * (1 << n)


def permanent(A: Any, method: str = "glynn") -> complex:
    """Permanent of a square matrix.

    Args:
        A: complex or real [n, n] matrix (n >= 0; the 0x0 permanent is 1).
        method: "glynn" (Glynn 2010, Gray code, O(n 2^(n-1))) or "ryser" (Ryser 1963, Gray code,
            O(n 2^n)).

    Warns (``UserWarning``, with the number of operations) above n = PERMANENT_WARN_SIZE and
    refuses (``ValueError``) above n = PERMANENT_MAX_SIZE, before any work starts.

    Returns:
        complex: Perm(A).
    """
    check_choice("method", method, PERMANENT_METHODS)
    A = check_square_matrix("A", A)
    n = A.shape[0]
    if n > PERMANENT_MAX_SIZE:
        raise ValueError(f"A must be at most {PERMANENT_MAX_SIZE} x {PERMANENT_MAX_SIZE} (the "
                         f"permanent of an n x n matrix costs ~n 2^(n-1) operations, "
                         f"{permanent_cost(n, method):.2e} here); got {n} x {n}")
    if n > PERMANENT_WARN_SIZE:
        warnings.warn(f"permanent of a {n} x {n} matrix: ~{permanent_cost(n, method):.2e} "
                      f"multiply-adds ({method}), minutes to hours on one core", stacklevel=2)
    if method == "glynn":
        return complex(_k.glynn_permanent(A))
    return complex(_k.ryser_permanent(A))
