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
    column sums are updated in O(n) per term; real and imaginary parts are kept apart and the
    product runs in four independent chains (shorter dependency, vectorisable update).
    """
    n = A.shape[0]
    if n == 0:
        return 1.0 + 0.0j
    are = np.ascontiguousarray(A.real)
    aim = np.ascontiguousarray(A.imag)
    sre = np.zeros(n)
    sim = np.zeros(n)
    for i in range(n):
        for j in range(n):
            sre[j] += are[i, j]
            sim[j] += aim[i, j]
    delta = np.ones(n)
    tre = 0.0
    tim = 0.0
    sign = 1.0
    n_terms = np.int64(1) << (n - 1)
    for g in range(n_terms):
        if g > 0:
            # row to flip: 1 + number of trailing zeros of g (row 0 stays +1)
            k = 0
            x = g
            while (x & 1) == 0:
                x >>= 1
                k += 1
            i = k + 1
            delta[i] = -delta[i]
            f = 2.0 * delta[i]
            for j in range(n):
                sre[j] += f * are[i, j]
                sim[j] += f * aim[i, j]
            sign = -sign
        ar, ai, br, bi = 1.0, 0.0, 1.0, 0.0
        cr, ci, dr, di = 1.0, 0.0, 1.0, 0.0
        j = 0
        while j + 4 <= n:
            ar, ai = ar * sre[j] - ai * sim[j], ar * sim[j] + ai * sre[j]
            br, bi = br * sre[j + 1] - bi * sim[j + 1], br * sim[j + 1] + bi * sre[j + 1]
            cr, ci = cr * sre[j + 2] - ci * sim[j + 2], cr * sim[j + 2] + ci * sre[j + 2]
            dr, di = dr * sre[j + 3] - di * sim[j + 3], dr * sim[j + 3] + di * sre[j + 3]
            j += 4
        while j < n:
            ar, ai = ar * sre[j] - ai * sim[j], ar * sim[j] + ai * sre[j]
            j += 1
        ar, ai = ar * br - ai * bi, ar * bi + ai * br
        cr, ci = cr * dr - ci * di, cr * di + ci * dr
        tre += sign * (ar * cr - ai * ci)
        tim += sign * (ar * ci + ai * cr)
    return complex(tre, tim) / n_terms


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
