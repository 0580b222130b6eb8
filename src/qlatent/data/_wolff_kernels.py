"""Numba kernel of the Wolff cluster sampler (compute only; validation lives in ``ising.py``).

Notation: L x L periodic lattice, N = L^2 spins s_i = ±1 (int8), site i = r L + c; coupling
J = 1, p_add = 1 - exp(-2 / T). Randomness: the splitmix64 generator (Steele, Lea & Flood,
OOPSLA 2014), seeded by the caller, so the kernel and the pure-Python reference
(``ising.wolff_reference``) draw the same uniforms and give the same chain bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_MIX1 = uint64(0xBF58476D1CE4E5B9)
_MIX2 = uint64(0x94D049BB133111EB)


@njit(cache=True)
def _uniform(state):
    """Advance ``state`` (uint64[1]) and return a uniform in [0, 1) with 53 random bits."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> uint64(30))) * _MIX1
    z = (z ^ (z >> uint64(27))) * _MIX2
    z = z ^ (z >> uint64(31))
    return (z >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _flip_cluster(spins, L, p_add, state, stack):
    """One Wolff update: grow a cluster from a random site, flipping as it grows; returns its
    size. Neighbours are visited up, down, left, right; a uniform is drawn only for an aligned
    neighbour."""
    N = L * L
    i = int(_uniform(state) * N)
    s0 = spins[i]
    spins[i] = -s0
    stack[0] = i
    top = 1
    size = 1
    while top > 0:
        top -= 1
        j = stack[top]
        r = j // L
        c = j - r * L
        for k in range(4):
            if k == 0:
                n = ((r - 1) % L) * L + c
            elif k == 1:
                n = ((r + 1) % L) * L + c
            elif k == 2:
                n = r * L + (c - 1) % L
            else:
                n = r * L + (c + 1) % L
            if spins[n] == s0 and _uniform(state) < p_add:
                spins[n] = -s0
                stack[top] = n
                top += 1
                size += 1
    return size


@njit(cache=True)
def energy_per_site(spins, L):
    """-(1/N) sum over bonds (each once: right and down neighbours) of s_i s_j."""
    e = 0
    for r in range(L):
        for c in range(L):
            s = spins[r * L + c]
            e += s * (spins[r * L + (c + 1) % L] + spins[((r + 1) % L) * L + c])
    return -e / (L * L)


@njit(cache=True)
def wolff_chain(spins, L, p_add, seed, burn_in, sweeps_between, out, energy, magnetisation):
    """Run the chain from ``spins`` (int8[N], updated in place) and record ``out.shape[0]``
    samples; returns the number of cluster updates between two samples.

    Burn-in: cluster updates until ``burn_in`` x N spins have been flipped in all (>= 1
    update), which also measures the mean cluster size C. Then a FIXED number
    u = ceil(sweeps_between x N / C) of updates between two samples: a stopping rule that
    looked at the cluster sizes while sampling would bias the recorded states towards order
    (a large cluster ends a sweep sooner, and large clusters come from ordered states).
    Writes out[t] = (s + 1) / 2 (uint8[T, N]) and the energy and magnetisation per site."""
    N = L * L
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    stack = np.empty(N, dtype=np.int64)
    flipped = 0
    clusters = 0
    while clusters == 0 or flipped < burn_in * N:
        flipped += _flip_cluster(spins, L, p_add, state, stack)
        clusters += 1
    between = int(np.ceil(sweeps_between * N * clusters / flipped))
    for t in range(out.shape[0]):
        for _ in range(between):
            _flip_cluster(spins, L, p_add, state, stack)
        m = 0
        for i in range(N):
            out[t, i] = (spins[i] + 1) // 2
            m += spins[i]
        energy[t] = energy_per_site(spins, L)
        magnetisation[t] = m / N
    return between
