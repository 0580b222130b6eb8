"""Numba kernels of the exact samplers (compute only; validation lives in ``sampler.py``).

Every kernel consumes pre-drawn uniforms, one row per sample, so its output does not depend on
the number of threads or on how the samples are split into calls.

Notation: m modes, n photons; A complex128[m, n] = U[:, input columns]; a sample is a count
vector int64[m] with sum n.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

BLOCK = 64  # samples per parallel work item (buffers are allocated once per block)


# ----------------------------------------------------------------------------------------------
# Clifford & Clifford algorithm B
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _minors_glynn(B, nrows, k, rowsum, delta, out):
    """out[l] = 2^(k-1) Perm(B[:nrows, {0..k-1} minus l]) for l < k, all in one Gray-code loop.

    B has nrows = k - 1 rows. With a new row x appended, Glynn's formula over column signs d
    (d_0 = +1) is linear in x: Perm = 2^(1-k) sum_d (prod d) (sum_l d_l x_l) prod_i sum_j d_j B_ij,
    so the coefficient of x_l -- the Laplace minor -- is 2^(1-k) sum_d (prod d) d_l prod_i (...).
    """
    for q in range(k):
        out[q] = 0.0
    if nrows == 0:
        out[0] = 1.0
        return
    for i in range(nrows):
        s = 0.0 + 0.0j
        for j in range(k):
            s += B[i, j]
        rowsum[i] = s
    for j in range(k):
        delta[j] = 1.0
    prod = 1.0 + 0.0j
    for i in range(nrows):
        prod *= rowsum[i]
    for q in range(k):
        out[q] += prod
    sign = 1.0
    n_terms = np.int64(1) << (k - 1)
    for g in range(1, n_terms):
        t = 0
        x = g
        while (x & 1) == 0:
            x >>= 1
            t += 1
        j = t + 1
        delta[j] = -delta[j]
        f = 2.0 * delta[j]
        prod = 1.0 + 0.0j
        for i in range(nrows):
            rowsum[i] += f * B[i, j]
            prod *= rowsum[i]
        sign = -sign
        sp = sign * prod
        for q in range(k):
            out[q] += delta[q] * sp


@njit(cache=True)
def _draw_index(w, u):
    """Index i with probability w[i] / sum(w) by inverse CDF; never an index of zero weight."""
    m = w.shape[0]
    total = 0.0
    for i in range(m):
        total += w[i]
    x = u * total
    acc = 0.0
    last = -1
    for i in range(m):
        if w[i] > 0.0:
            acc += w[i]
            last = i
            if acc > x:
                return i
    return last


@njit(cache=True)
def _clifford_one(A, u, Ap, B, rowsum, delta, minors, w, perm, rows, out):
    m, n = A.shape
    # uniformly random column order (Fisher-Yates on u[0:n])
    for j in range(n):
        perm[j] = j
    for j in range(n - 1, 0, -1):
        r = int(u[j] * (j + 1))
        if r > j:
            r = j
        perm[j], perm[r] = perm[r], perm[j]
    for i in range(m):
        for j in range(n):
            Ap[i, j] = A[i, perm[j]]
    for k in range(1, n + 1):
        # B = Ap[rows[:k-1], :k]
        for i in range(k - 1):
            for j in range(k):
                B[i, j] = Ap[rows[i], j]
        _minors_glynn(B, k - 1, k, rowsum, delta, minors)
        for i in range(m):
            a = 0.0 + 0.0j
            for q in range(k):
                a += Ap[i, q] * minors[q]
            w[i] = a.real * a.real + a.imag * a.imag
        rows[k - 1] = _draw_index(w, u[n + k - 1])
    for i in range(m):
        out[i] = 0
    for k in range(n):
        out[rows[k]] += 1


@njit(cache=True, parallel=True)
def clifford_sample(A, uniforms, out):
    """Fill out[s] with one exact sample per row of uniforms (float64[S, 2n]).

    Clifford & Clifford, arXiv:1706.01260, algorithm B: permute A's columns at random, then
    draw output modes r_1, ..., r_n one at a time; r_k ~ |Perm(A[r_1..r_{k-1}, i ; cols 1..k])|^2
    over i, every candidate's permanent obtained from the k Laplace minors of step k.
    """
    m, n = A.shape
    S = uniforms.shape[0]
    n_blocks = (S + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        Ap = np.empty((m, n), dtype=np.complex128)
        B = np.empty((max(n, 1), max(n, 1)), dtype=np.complex128)
        rowsum = np.empty(max(n, 1), dtype=np.complex128)
        delta = np.empty(max(n, 1), dtype=np.float64)
        minors = np.empty(max(n, 1), dtype=np.complex128)
        w = np.empty(m, dtype=np.float64)
        perm = np.empty(max(n, 1), dtype=np.int64)
        rows = np.empty(max(n, 1), dtype=np.int64)
        for s in range(b * BLOCK, min(S, (b + 1) * BLOCK)):
            _clifford_one(A, uniforms[s], Ap, B, rowsum, delta, minors, w, perm, rows, out[s])


# ----------------------------------------------------------------------------------------------
# The whole distribution by dynamic programming over multisets (the "table" method)
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _binomials(N):
    C = np.zeros((N + 1, N + 1), dtype=np.int64)
    for a in range(N + 1):
        C[a, 0] = 1
        for b in range(1, a + 1):
            C[a, b] = C[a - 1, b - 1] + C[a - 1, b]
    return C


@njit(cache=True)
def exact_table(A, input_factorials):
    """All output states and their probabilities, by Laplace expansion over multisets.

    For a sorted multiset R of k output modes, P_k(R) = Perm(A[R, :k]) obeys
    P_k(R) = sum over distinct r in R of mu_r(R) A[r, k-1] P_{k-1}(R - {r}); multisets of size k
    are indexed by their colex rank sum_t C(r_t + t, t + 1). Cost O(K n^2), K = C(m+n-1, n).
    P(S) = |P_n(S)|^2 / (prod_j s_j! * input_factorials).

    Returns:
        (states int8[K, m], probs float64[K]) in colex order of the sorted mode lists.
    """
    m, n = A.shape
    C = _binomials(m + n + 1)
    prev = np.ones(1, dtype=np.complex128)
    r = np.zeros(max(n, 1), dtype=np.int64)
    c = np.zeros(max(n, 1) + 1, dtype=np.int64)
    for k in range(1, n + 1):
        K = C[m + k - 1, k]
        cur = np.empty(K, dtype=np.complex128)
        for t in range(k):
            c[t] = t
        for idx in range(K):
            for t in range(k):
                r[t] = c[t] - t
            total = 0.0 + 0.0j
            p = 0
            while p < k:
                val = r[p]
                q = p + 1
                while q < k and r[q] == val:
                    q += 1
                rank = 0
                for t in range(k - 1):
                    rv = r[t] if t < p else r[t + 1]
                    rank += C[rv + t, t + 1]
                total += (q - p) * A[val, k - 1] * prev[rank]
                p = q
            cur[idx] = total
            # next combination in colex order
            if idx + 1 < K:
                i = 0
                while i < k - 1 and c[i] + 1 == c[i + 1]:
                    i += 1
                c[i] += 1
                for t in range(i):
                    c[t] = t
        prev = cur
    K = prev.shape[0]
    states = np.zeros((K, m), dtype=np.int8)
    probs = np.empty(K, dtype=np.float64)
    fact = np.ones(n + 1, dtype=np.float64)
    for a in range(1, n + 1):
        fact[a] = fact[a - 1] * a
    for t in range(n):
        c[t] = t
    for idx in range(K):
        for t in range(n):
            states[idx, c[t] - t] += 1
        denom = input_factorials
        for j in range(m):
            denom *= fact[states[idx, j]]
        a = prev[idx]
        probs[idx] = (a.real * a.real + a.imag * a.imag) / denom
        if idx + 1 < K:
            i = 0
            while i < n - 1 and c[i] + 1 == c[i + 1]:
                i += 1
            c[i] += 1
            for t in range(i):
                c[t] = t
    return states, probs


@njit(cache=True, parallel=True)
def table_sample(states, cdf, last_positive, uniforms, out):
    """out[s] = states[i] with i the first index where cdf[i] > uniforms[s] * cdf[-1]."""
    S = uniforms.shape[0]
    m = states.shape[1]
    total = cdf[cdf.shape[0] - 1]
    n_blocks = (S + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        for s in range(b * BLOCK, min(S, (b + 1) * BLOCK)):
            i = np.searchsorted(cdf, uniforms[s] * total, side="right")
            if i > last_positive:
                i = last_positive
            for j in range(m):
                out[s, j] = states[i, j]


# ----------------------------------------------------------------------------------------------
# Distinguishable photons
# ----------------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def distinguishable_sample(cdfs, cols, uniforms, out):
    """Photon p (input column cols[p]) lands in the first j with cdfs[cols[p], j] > u * total."""
    S = uniforms.shape[0]
    m = cdfs.shape[1]
    n = cols.shape[0]
    n_blocks = (S + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        for s in range(b * BLOCK, min(S, (b + 1) * BLOCK)):
            for j in range(m):
                out[s, j] = 0
            for p in range(n):
                row = cdfs[cols[p]]
                x = uniforms[s, p] * row[m - 1]
                j = np.searchsorted(row, x, side="right")
                if j >= m:  # x rounded up to the total: take the last mode of positive weight
                    j = m - 1
                    while j > 0 and row[j] == row[j - 1]:
                        j -= 1
                out[s, j] += 1
