"""Matrix permanents: the amplitudes of boson sampling.

Notation: A complex128[n, n]; Perm(A) = sum_{s in S_n} prod_i A[i, s(i)].
"""

from __future__ import annotations

from typing import Any

from qlatent._validation import check_choice
from qlatent.photonics import _permanent_kernels as _k
from qlatent.photonics._checks import check_square_matrix

PERMANENT_METHODS = ("glynn", "ryser")


def permanent(A: Any, method: str = "glynn") -> complex:
    """Permanent of a square matrix.

    Args:
        A: complex or real [n, n] matrix (n >= 0; the 0x0 permanent is 1).
        method: "glynn" (Glynn 2010, Gray code, O(n 2^(n-1))) or "ryser" (Ryser 1963, Gray code,
            O(n 2^n)).

    Returns:
        complex: Perm(A).
    """
    check_choice("method", method, PERMANENT_METHODS)
    A = check_square_matrix("A", A)
    if method == "glynn":
        return complex(_k.glynn_permanent(A))
    return complex(_k.ryser_permanent(A))
