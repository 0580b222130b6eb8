"""Numba kernels for matrix permanents (compute only; validation lives in ``permanent.py``).

Notation: A complex128[n, n]; Perm(A) = sum over permutations s of prod_i A[i, s(i)].
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def glynn_permanent(A):
    """Glynn's formula in Gray-code order, O(n 2^(n-1)).

    Perm(A) = 2^(1-n) sum_{d in {+-1}^n, d_0 = +1} (prod_k d_k) prod_j sum_i d_i A[i, j]
    (Glynn, European J. Combin. 31 (2010) 1887). Consecutive d differ in one entry, so the
    column sums are updated in O(n) per term.
    """
    n = A.shape[0]
    if n == 0:
        return 1.0 + 0.0j
    colsum = np.empty(n, dtype=np.complex128)
    for j in range(n):
        s = 0.0 + 0.0j
        for i in range(n):
            s += A[i, j]
        colsum[j] = s
    delta = np.ones(n, dtype=np.float64)
    prod = 1.0 + 0.0j
    for j in range(n):
        prod *= colsum[j]
    total = prod
    sign = 1.0
    n_terms = np.int64(1) << (n - 1)
    for g in range(1, n_terms):
        # row to flip: 1 + number of trailing zeros of g (row 0 stays +1)
        k = 0
        x = g
        while (x & 1) == 0:
            x >>= 1
            k += 1
        i = k + 1
        delta[i] = -delta[i]
        f = 2.0 * delta[i]
        prod = 1.0 + 0.0j
        for j in range(n):
            colsum[j] += f * A[i, j]
            prod *= colsum[j]
        sign = -sign
        total += sign * prod
    return total / n_terms


@njit(cache=True)
def ryser_permanent(A):
    """Ryser's formula in Gray-code order, O(n 2^n).

    Perm(A) = (-1)^n sum_{S subset of columns} (-1)^{|S|} prod_i sum_{j in S} A[i, j]
    (Ryser, Combinatorial Mathematics, 1963); one column enters or leaves S per term.
    """
    n = A.shape[0]
    if n == 0:
        return 1.0 + 0.0j
    rowsum = np.zeros(n, dtype=np.complex128)
    inset = np.zeros(n, dtype=np.bool_)
    total = 0.0 + 0.0j
    size = 0
    n_terms = np.int64(1) << n
    for g in range(1, n_terms):
        k = 0
        x = g
        while (x & 1) == 0:
            x >>= 1
            k += 1
        if inset[k]:
            inset[k] = False
            size -= 1
            for i in range(n):
                rowsum[i] -= A[i, k]
        else:
            inset[k] = True
            size += 1
            for i in range(n):
                rowsum[i] += A[i, k]
        prod = 1.0 + 0.0j
        for i in range(n):
            prod *= rowsum[i]
        if size % 2 == 1:
            total -= prod
        else:
            total += prod
    if n % 2 == 1:
        return -total
    return total
