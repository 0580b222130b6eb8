"""Numba kernel of the Chebyshev route to diag(e^{-H}) (compute only; checks live in
``ising.py``).

Notation: n units, N = 2^n states; the scaled Hamiltonian H~ = (H - c) / h has diagonal ``d``
(float64[N]) and -``g`` between states one bit apart, spectrum inside [-1, 1] (up to a margin
the caller controls); ``coef`` (float64[K + 1]) the Chebyshev coefficients of f. For every
state v the kernel returns sum_k coef_k <v|T_k(H~)|v>, i.e. <v|f(H~)|v>.

Moments by doubling (T_{2k} = 2 T_k^2 - T_0, T_{2k+1} = 2 T_k T_{k+1} - T_1, H~ symmetric):
<v|T_{2k}|v> = 2 |t_k|^2 - 1 and <v|T_{2k+1}|v> = 2 <t_k, t_{k+1}> - d_v with t_k = T_k(H~) e_v,
so K + 1 moments cost about K / 2 applications of H~. Start vectors go ``BLOCK`` at a time as
the columns of small dense blocks; each column's recurrence is independent of the others.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Start vectors per block: the columns of three N x BLOCK blocks (1.5 MiB at n = 12, in cache);
#: a compile-time constant so that the loops over a row vectorise (measured best of 8-64).
BLOCK = 16


@njit(cache=True, fastmath=True)
def chebyshev_diagonal(d, g, n, coef):  # pragma: no cover - compiled
    N = d.shape[0]
    K = coef.shape[0] - 1
    c = BLOCK if N >= BLOCK else N
    out = np.zeros(N)
    prev = np.zeros((N, c))
    cur = np.zeros((N, c))
    nxt = np.zeros((N, c))
    for start in range(0, N, c):
        # t_0 = e_v (column j is v = start + j); t_1 = H~ t_0
        prev[:] = 0.0
        for j in range(c):
            prev[start + j, j] = 1.0
        _apply(d, g, n, prev, cur)
        acc = np.zeros(c)
        for j in range(c):
            acc[j] = coef[0]
            if K >= 1:
                acc[j] += coef[1] * d[start + j]
        tmp = np.zeros(c)
        k = 1
        while 2 * k <= K:
            # t_{k+1} = 2 H~ t_k - t_{k-1}, one row at a time (the row's sum stays in cache)
            sq = np.zeros(c)
            cross = np.zeros(c)
            for u in range(N):
                du = d[u]
                for j in range(c):
                    tmp[j] = du * cur[u, j]
                for i in range(n):
                    w = u ^ (1 << i)
                    for j in range(c):
                        tmp[j] -= g * cur[w, j]
                for j in range(c):
                    y = 2.0 * tmp[j] - prev[u, j]
                    nxt[u, j] = y
                    x = cur[u, j]
                    sq[j] += x * x
                    cross[j] += x * y
            for j in range(c):
                acc[j] += coef[2 * k] * (2.0 * sq[j] - 1.0)
                if 2 * k + 1 <= K:
                    acc[j] += coef[2 * k + 1] * (2.0 * cross[j] - d[start + j])
            prev, cur, nxt = cur, nxt, prev
            k += 1
        for j in range(c):
            out[start + j] = acc[j]
    return out


@njit(cache=True, fastmath=True)
def _apply(d, g, n, x, out):  # pragma: no cover - compiled
    """out = H~ x for a block x [N, c]: rows u and u xor 2^i are contiguous runs of c."""
    N, c = x.shape
    for u in range(N):
        du = d[u]
        for j in range(c):
            out[u, j] = du * x[u, j]
    for i in range(n):
        s = 1 << i
        for u in range(N):
            w = u ^ s
            for j in range(c):
                out[u, j] -= g * x[w, j]
