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
#
# Step k (k = 1..n) of one sample: rows r_1..r_{k-1} already drawn, columns 0..k-1 of the
# column-permuted A. The k Laplace minors M_q = Perm(A[r, cols != q]) give every candidate's
# weight w_i = |sum_q A[i, q] M_q|^2. Two exact ways to get all k minors in one loop:
#   "columns": Glynn signs over the k columns, 2^(k-1) terms of O(k) work;
#   "rows":    Glynn signs over the k-1 rows grouped by repeated output mode (Clifford &
#              Clifford, arXiv:2005.04214): about prod(mu_u + 1) / 2 terms of O(k) work.
# Each step takes the cheaper one; both give the minors up to one common factor per step, which
# the normalisation of w removes.
# ----------------------------------------------------------------------------------------------

ROWS_COST_RATIO = 1.0  # cost of one "rows" term relative to one "columns" term (measured)
ROWS_MIN = 6  # below this many chosen rows the grouping is not worth looking for


@njit(cache=True, inline="always")
def _ctz(g):
    t = 0
    while (g & 1) == 0:
        g >>= 1
        t += 1
    return t


@njit(cache=True, inline="always")
def _minors_columns(Bre, Bim, nrows, k, sre, sim, delta, ore, oim, lre, lim):
    """ore + i oim [q] = 2^(k-1) Perm(B[:, {0..k-1} minus q]); B given column-major (Bre[j, i]).

    With a new row x appended, Glynn's formula over column signs d (d_0 = +1) is linear in x:
    Perm = 2^(1-k) sum_d (prod d) (sum_q d_q x_q) prod_i sum_j d_j B_ij, so the coefficient of
    x_q, the Laplace minor, is 2^(1-k) sum_d (prod d) d_q prod_i (sum_j d_j B_ij).
    The Gray code keeps d_q fixed between flips of q, so each minor is accumulated from the
    running total R of the terms: at a flip, out[q] += d_q (R - R at q's previous flip); O(1)
    work per term instead of O(k).
    """
    for q in range(k):
        ore[q] = 0.0
        oim[q] = 0.0
        lre[q] = 0.0
        lim[q] = 0.0
    if nrows == 0:
        ore[0] = 1.0
        return
    for i in range(nrows):
        sre[i] = 0.0
        sim[i] = 0.0
    for j in range(k):
        delta[j] = 1.0
        for i in range(nrows):
            sre[i] += Bre[j, i]
            sim[i] += Bim[j, i]
    sign = 1.0
    rre = 0.0  # running total R of the signed terms
    rim = 0.0
    n_terms = np.int64(1) << (k - 1)
    for g in range(n_terms):
        if g > 0:
            j = _ctz(g) + 1
            # close the segment of constant d_j
            ore[j] += delta[j] * (rre - lre[j])
            oim[j] += delta[j] * (rim - lim[j])
            lre[j] = rre
            lim[j] = rim
            delta[j] = -delta[j]
            f = 2.0 * delta[j]
            for i in range(nrows):
                sre[i] += f * Bre[j, i]
                sim[i] += f * Bim[j, i]
            sign = -sign
        # product of the row sums in four independent chains (shorter dependency)
        ar, ai, br, bi = 1.0, 0.0, 1.0, 0.0
        cr, ci, dr, di = 1.0, 0.0, 1.0, 0.0
        i = 0
        while i + 4 <= nrows:
            ar, ai = ar * sre[i] - ai * sim[i], ar * sim[i] + ai * sre[i]
            br, bi = br * sre[i + 1] - bi * sim[i + 1], br * sim[i + 1] + bi * sre[i + 1]
            cr, ci = cr * sre[i + 2] - ci * sim[i + 2], cr * sim[i + 2] + ci * sre[i + 2]
            dr, di = dr * sre[i + 3] - di * sim[i + 3], dr * sim[i + 3] + di * sre[i + 3]
            i += 4
        while i < nrows:
            ar, ai = ar * sre[i] - ai * sim[i], ar * sim[i] + ai * sre[i]
            i += 1
        ar, ai = ar * br - ai * bi, ar * bi + ai * br
        cr, ci = cr * dr - ci * di, cr * di + ci * dr
        rre += sign * (ar * cr - ai * ci)
        rim += sign * (ar * ci + ai * cr)
    ore[0] = rre
    oim[0] = rim
    for q in range(1, k):
        ore[q] += delta[q] * (rre - lre[q])
        oim[q] += delta[q] * (rim - lim[q])


@njit(cache=True)
def _row_groups(rows, nrows, gmode, gmult):
    """Distinct modes of rows[:nrows] (sorted) and their multiplicities; returns their number."""
    d = 0
    srt = np.sort(rows[:nrows])
    for i in range(nrows):
        if d > 0 and gmode[d - 1] == srt[i]:
            gmult[d - 1] += 1
        else:
            gmode[d] = srt[i]
            gmult[d] = 1
            d += 1
    return d


@njit(cache=True)
def _rows_terms(gmult, d):
    """Terms of the grouped-rows loop: mu_0 prod_{u>0} (mu_u + 1), group 0 the smallest."""
    t = 1
    for u in range(d):
        t *= gmult[u] + 1
    # one copy of the group with the smallest multiplicity keeps its sign fixed
    best = gmult[0]
    for u in range(d):
        if gmult[u] < best:
            best = gmult[u]
    return (t // (best + 1)) * best


@njit(cache=True)
def _minors_rows(Ap_re, Ap_im, gmode, gmult, d, k, binom, digit, direc, radix,
                 cre, cim, pre_re, pre_im, ore, oim):
    """Laplace minors (up to a common factor) by Glynn signs over rows grouped by multiplicity.

    For X the (k-1) x (k-1) matrix of the chosen rows without column q, Glynn's formula with
    row signs, grouped by repeated row u (mu_u copies, e_u of them with sign -1), reads
    Perm(X) = 2^(2-k) sum_e prod_u (-1)^e_u C(mu_u', e_u) prod_{j != q} sum_u (mu_u - 2 e_u) A[u, j]
    (mu_u' = mu_u - 1 for one group whose first copy keeps sign +1). The column sums c_j are
    shared by all q; each term adds prod_{j != q} c_j = P / c_q (P = prod_j c_j), or prefix
    and suffix products when some c_j is zero.
    The e vector runs through a reflected mixed-radix Gray code: one digit moves by 1 per term.
    """
    # the group whose sign is fixed: the smallest multiplicity
    u0 = 0
    for u in range(d):
        if gmult[u] < gmult[u0]:
            u0 = u
    for u in range(d):
        digit[u] = 0
        direc[u] = 1
        radix[u] = gmult[u] + 1 if u != u0 else gmult[u]
    for j in range(k):
        ore[j] = 0.0
        oim[j] = 0.0
        s_re = 0.0
        s_im = 0.0
        for u in range(d):
            s_re += gmult[u] * Ap_re[gmode[u], j]
            s_im += gmult[u] * Ap_im[gmode[u], j]
        cre[j] = s_re
        cim[j] = s_im
    weight = 1.0  # prod_u C(mu_u', e_u) (-1)^e_u, exact in float64 (integers < 2^53)
    while True:
        # P = prod_j c_j in four independent chains; then prod_{j != q} c_j = P / c_q, a loop
        # without dependencies (vectorisable). Exact zeros (sparse U) take prefix/suffix products.
        ar, ai, br, bi = 1.0, 0.0, 1.0, 0.0
        xr, xi, yr, yi = 1.0, 0.0, 1.0, 0.0
        dmin = np.inf
        j = 0
        while j + 4 <= k:
            ar, ai = ar * cre[j] - ai * cim[j], ar * cim[j] + ai * cre[j]
            br, bi = br * cre[j + 1] - bi * cim[j + 1], br * cim[j + 1] + bi * cre[j + 1]
            xr, xi = xr * cre[j + 2] - xi * cim[j + 2], xr * cim[j + 2] + xi * cre[j + 2]
            yr, yi = yr * cre[j + 3] - yi * cim[j + 3], yr * cim[j + 3] + yi * cre[j + 3]
            j += 4
        while j < k:
            ar, ai = ar * cre[j] - ai * cim[j], ar * cim[j] + ai * cre[j]
            j += 1
        for j in range(k):
            dd = cre[j] * cre[j] + cim[j] * cim[j]
            if dd < dmin:
                dmin = dd
        if dmin > 1e-250:
            ar, ai = ar * br - ai * bi, ar * bi + ai * br
            xr, xi = xr * yr - xi * yi, xr * yi + xi * yr
            wpr = weight * (ar * xr - ai * xi)
            wpi = weight * (ar * xi + ai * xr)
            for j in range(k):
                inv = 1.0 / (cre[j] * cre[j] + cim[j] * cim[j])
                ore[j] += (wpr * cre[j] + wpi * cim[j]) * inv
                oim[j] += (wpi * cre[j] - wpr * cim[j]) * inv
        else:
            # prefix products pre[j] = prod_{j' < j} c_j'
            pr, pi = 1.0, 0.0
            for j in range(k):
                pre_re[j] = pr
                pre_im[j] = pi
                pr, pi = pr * cre[j] - pi * cim[j], pr * cim[j] + pi * cre[j]
            # suffix products, combined on the fly: term_q = pre[q] * suf[q + 1]
            sr, si = weight, 0.0
            for j in range(k - 1, -1, -1):
                tr = pre_re[j] * sr - pre_im[j] * si
                ti = pre_re[j] * si + pre_im[j] * sr
                ore[j] += tr
                oim[j] += ti
                sr, si = sr * cre[j] - si * cim[j], sr * cim[j] + si * cre[j]
        # next e in the reflected mixed-radix Gray code
        u = 0
        while u < d:
            nxt = digit[u] + direc[u]
            if 0 <= nxt < radix[u]:
                break
            direc[u] = -direc[u]
            u += 1
        if u == d:
            break
        e_old = digit[u]
        e_new = e_old + direc[u]
        digit[u] = e_new
        mu = gmult[u] if u != u0 else gmult[u] - 1
        # C(mu, e_new) / C(mu, e_old), applied through exact integer binomials
        weight = -weight / binom[mu, e_old] * binom[mu, e_new]
        f = -2.0 * (e_new - e_old)
        row = gmode[u]
        for j in range(k):
            cre[j] += f * Ap_re[row, j]
            cim[j] += f * Ap_im[row, j]


@njit(cache=True, inline="always")
def _draw_index(w, u):
    """Index i with probability w[i] / sum(w) by inverse CDF; never an index of zero weight.

    Returns -1 if every weight is zero.
    """
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


@njit(cache=True, inline="always")
def _clifford_one(A, u, ws, out, rows_ratio, rows_min):
    m, n = A.shape
    (Ap_re, Ap_im, Bre, Bim, sre, sim, delta, ore, oim, w, perm, rows, gmode, gmult, digit,
     direc, radix, cre, cim, pre_re, pre_im, binom) = ws
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
            a = A[i, perm[j]]
            Ap_re[i, j] = a.real
            Ap_im[i, j] = a.imag
    for k in range(1, n + 1):
        nrows = k - 1
        use_rows = False
        d = 0
        if nrows >= rows_min:
            d = _row_groups(rows, nrows, gmode, gmult)
            if d < nrows:
                use_rows = rows_ratio * _rows_terms(gmult, d) < (np.int64(1) << (k - 1))
        if use_rows:
            _minors_rows(Ap_re, Ap_im, gmode, gmult, d, k, binom, digit, direc, radix,
                         cre, cim, pre_re, pre_im, ore, oim)
        else:
            for j in range(k):
                for i in range(nrows):
                    Bre[j, i] = Ap_re[rows[i], j]
                    Bim[j, i] = Ap_im[rows[i], j]
            _minors_columns(Bre, Bim, nrows, k, sre, sim, delta, ore, oim, cre, cim)
        for i in range(m):
            ar = 0.0
            ai = 0.0
            for q in range(k):
                ar += Ap_re[i, q] * ore[q] - Ap_im[i, q] * oim[q]
                ai += Ap_re[i, q] * oim[q] + Ap_im[i, q] * ore[q]
            w[i] = ar * ar + ai * ai
        rows[k - 1] = _draw_index(w, u[n + k - 1])
        if rows[k - 1] < 0:  # every weight zero: only by underflow; flagged to the caller
            for i in range(m):
                out[i] = -1
            return
    for i in range(m):
        out[i] = 0
    for k in range(n):
        out[rows[k]] += 1


@njit(cache=True)
def _workspace(m, n):
    n1 = max(n, 1)
    binom = np.zeros((n1 + 1, n1 + 1), dtype=np.float64)
    for a in range(n1 + 1):
        binom[a, 0] = 1.0
        for b in range(1, a + 1):
            binom[a, b] = binom[a - 1, b - 1] + binom[a - 1, b]
    return (np.empty((m, n1)), np.empty((m, n1)), np.empty((n1, n1)), np.empty((n1, n1)),
            np.empty(n1), np.empty(n1), np.empty(n1), np.empty(n1), np.empty(n1),
            np.empty(m), np.empty(n1, dtype=np.int64), np.empty(n1, dtype=np.int64),
            np.empty(n1, dtype=np.int64), np.empty(n1, dtype=np.int64),
            np.empty(n1, dtype=np.int64), np.empty(n1, dtype=np.int64),
            np.empty(n1, dtype=np.int64), np.empty(n1), np.empty(n1), np.empty(n1),
            np.empty(n1), binom)


@njit(cache=True, parallel=True)
def clifford_sample(A, uniforms, out, block, rows_ratio=ROWS_COST_RATIO, rows_min=ROWS_MIN):
    """Fill out[s] with one exact sample per row of uniforms (float64[S, 2n]).

    Clifford & Clifford, arXiv:1706.01260, algorithm B: permute A's columns at random (u[0:n]),
    then draw output modes r_1, ..., r_n one at a time (u[n + k - 1] for r_k);
    r_k ~ |Perm(A[r_1..r_{k-1}, i ; cols 0..k-1])|^2 over i. ``block`` samples share one
    workspace (does not change the output). A step uses the grouped-rows loop when at least
    ``rows_min`` rows are chosen, some repeat, and rows_ratio * (its terms) < 2^(k-1).
    """
    m, n = A.shape
    S = uniforms.shape[0]
    n_blocks = (S + block - 1) // block
    for b in prange(n_blocks):
        ws = _workspace(m, n)
        for s in range(b * block, min(S, (b + 1) * block)):
            _clifford_one(A, uniforms[s], ws, out[s], rows_ratio, rows_min)


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


@njit(cache=True)
def alias_table(probs):
    """Walker's alias table (Vose's construction) for probs float64[K] (normalised here).

    Returns (threshold float64[K], alias int64[K]): with x = u0 * K, i = floor(x) and a second
    uniform u1, the draw is i if u1 < threshold[i] else alias[i]; P(i) = probs[i] / sum(probs)
    up to float64 rounding (Walker, ACM TOMS 3 (1977) 253; Vose, IEEE TSE 17 (1991) 972).
    States of zero probability get threshold 0 and are never drawn.
    """
    K = probs.shape[0]
    total = 0.0
    for i in range(K):
        total += probs[i]
    scaled = np.empty(K, dtype=np.float64)
    for i in range(K):
        scaled[i] = probs[i] * K / total
    threshold = np.zeros(K, dtype=np.float64)
    alias = np.arange(K)
    small = np.empty(K, dtype=np.int64)
    large = np.empty(K, dtype=np.int64)
    ns = 0
    nl = 0
    for i in range(K):
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        sm = small[ns]
        lg = large[nl - 1]
        threshold[sm] = scaled[sm]
        alias[sm] = lg
        scaled[lg] = (scaled[lg] + scaled[sm]) - 1.0
        if scaled[lg] < 1.0:
            nl -= 1
            small[ns] = lg
            ns += 1
    # leftovers are 1 up to rounding; a leftover "small" of zero probability stays at 0
    for t in range(nl):
        threshold[large[t]] = 1.0
    for t in range(ns):
        i = small[t]
        threshold[i] = 1.0 if probs[i] > 0.0 else 0.0
        if probs[i] == 0.0:
            # point it at any state of positive probability
            for j in range(K):
                if probs[j] > 0.0:
                    alias[i] = j
                    break
    return threshold, alias


@njit(cache=True, parallel=True)
def table_sample(states, threshold, alias, uniforms, out, block):
    """out[s] = states[i], i drawn from the alias table with uniforms[s, 0:2]."""
    S = uniforms.shape[0]
    m = states.shape[1]
    K = threshold.shape[0]
    n_blocks = (S + block - 1) // block
    for b in prange(n_blocks):
        for s in range(b * block, min(S, (b + 1) * block)):
            i = int(uniforms[s, 0] * K)
            if i >= K:
                i = K - 1
            if uniforms[s, 1] >= threshold[i]:
                i = alias[i]
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
