"""Matrix permanents: the amplitudes of boson sampling.

Notation: A complex128[n, n]; Perm(A) = sum_{s in S_n} prod_i A[i, s(i)].
"""

from __future__ import annotations

import warnings
from typing import Any

from qlatent._validation import check_choice, check_cost
from qlatent.photonics import _permanent_kernels as _k
from qlatent.photonics._checks import check_square_matrix

PERMANENT_METHODS = ("glynn", "ryser")
#: Above this size ``permanent`` warns with the number of terms before it starts (n = 28:
#: 3.8e9 multiply-adds for Glynn, tens of seconds).
PERMANENT_WARN_SIZE = 28
#: Above this size ``permanent`` refuses whatever ``max_operations`` says.
PERMANENT_MAX_SIZE = 40
#: ``permanent`` refuses a matrix whose permanent costs more multiply-adds than this unless
#: given a larger ``max_operations`` (n = 35 is accepted, 6e11; n = 36 is not; about 2e8
#: multiply-adds a second on one core of the machine this was written on).
PERMANENT_MAX_OPERATIONS = 1e12


def permanent_cost(n: int, method: str = "glynn") -> int:
    """Multiply-adds of an n x n permanent: n 2^(n-1) (Glynn) or n 2^n (Ryser)."""
    return n * (1 << max(n - 1, 0)) if method == "glynn" else n * (1 << n)


def permanent(A: Any, method: str = "glynn", *,
              max_operations: float = PERMANENT_MAX_OPERATIONS) -> complex:
    """Permanent of a square matrix.

    Args:
        A: complex or real [n, n] matrix (n >= 0; the 0x0 permanent is 1).
        method: "glynn" (Glynn 2010, Gray code, O(n 2^(n-1))) or "ryser" (Ryser 1963, Gray code,
            O(n 2^n)).

        max_operations: the most multiply-adds accepted (``permanent_cost``); a larger
            matrix is refused before any work starts (raise it to wait for hours).

    Warns (``UserWarning``, with the number of operations) above n = PERMANENT_WARN_SIZE and
    refuses (``ValueError``, with the number of operations) above ``max_operations`` or
    n = PERMANENT_MAX_SIZE, before any work starts.

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
    check_cost(f"the permanent of a {n} x {n} matrix ({method})", permanent_cost(n, method),
               max_operations, unit="multiply-adds", knob="max_operations")
    if n > PERMANENT_WARN_SIZE:
        warnings.warn(f"permanent of a {n} x {n} matrix: ~{permanent_cost(n, method):.2e} "
                      f"multiply-adds ({method}), minutes to hours on one core", stacklevel=2)
    if method == "glynn":
        return complex(_k.glynn_permanent(A))
    return complex(_k.ryser_permanent(A))
