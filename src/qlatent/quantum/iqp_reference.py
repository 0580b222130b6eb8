"""Slow, independent reference for :mod:`qlatent.quantum.iqp`: dense matrices and enumeration in
NumPy, no torch.

The circuit state is exp(i H)|0...0> with H = sum_j θ_j X_{g_j} built from Kronecker products
and exponentiated by ``scipy.linalg.expm`` (no closed form, no Walsh transform); <Z_a> is then
the sum over the 2^n outcomes. The bit-flip model's distribution comes from enumerating all 2^G
patterns of fired gates. Only for small n and G (matrices of 4^n entries, 2^G patterns).

Notation: as in :mod:`qlatent.quantum.iqp` (qubit 0 is the leftmost Kronecker factor, the most
significant bit of a basis index).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.linalg import expm

_I = np.eye(2)
_X = np.array([[0.0, 1.0], [1.0, 0.0]])


def pauli_x(gate: Sequence[int], n: int) -> np.ndarray:
    """X_g = ⊗_q (X if q in g else I): float64 [2^n, 2^n]."""
    out = np.ones((1, 1))
    for q in range(n):
        out = np.kron(out, _X if q in gate else _I)
    return out


def circuit_state(theta: Sequence[float], gates: Sequence[Sequence[int]], n: int) -> np.ndarray:
    """exp(i sum_j θ_j X_{g_j}) |0...0>: complex128 [2^n]."""
    H = sum(float(t) * pauli_x(g, n) for t, g in zip(theta, gates, strict=True))
    return expm(1j * H)[:, 0]


def bits(n: int) -> np.ndarray:
    """Every bit string in index order: int64 [2^n, n]."""
    x = np.arange(2**n)
    return (x[:, None] >> np.arange(n - 1, -1, -1)) & 1


def expval(probs: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """<Z_a> = sum_x p(x) (-1)^{a.x} for each row a of ops (0/1 [K, n]): float64 [K]."""
    n = ops.shape[1]
    signs = 1 - 2 * ((bits(n) @ np.asarray(ops, dtype=np.int64).T) % 2)      # [2^n, K]
    return probs @ signs


def bitflip_probabilities(theta: Sequence[float], gates: Sequence[Sequence[int]],
                          n: int) -> np.ndarray:
    """p(x) of the bit-flip model by enumerating the 2^G patterns of fired gates: float64 [2^n]."""
    theta = np.asarray(theta, dtype=np.float64)
    fire = np.sin(theta) ** 2
    G = len(gates)
    probs = np.zeros(2**n)
    for pattern in range(2**G):
        fired = [(pattern >> j) & 1 for j in range(G)]
        x = np.zeros(n, dtype=np.int64)
        weight = 1.0
        for j, f in enumerate(fired):
            weight *= fire[j] if f else 1.0 - fire[j]
            if f:
                x[list(gates[j])] ^= 1
        probs[int((x * 2 ** np.arange(n - 1, -1, -1)).sum())] += weight
    return probs


def mmd2_u(probs: np.ndarray, data: np.ndarray, sigma: float) -> float:
    """The unbiased MMD^2 between a distribution (probs over all 2^n strings) and a sample:
    sum_{x,x'} p p k - 2/M sum_m sum_x p(x) k(x, y_m) + 1/(M(M-1)) sum_{m != m'} k(y_m, y_m'),
    k(x, y) = exp(-Hamming(x, y) / (2 σ^2)), by explicit sums."""
    n = data.shape[1]
    x = bits(n)
    y = np.asarray(data, dtype=np.int64)
    M = len(y)

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        hamming = np.abs(a[:, None, :] - b[None, :, :]).sum(-1)
        return np.exp(-hamming / (2 * sigma**2))

    kyy = kernel(y, y)
    return float(probs @ kernel(x, x) @ probs - 2 * (probs @ kernel(x, y)).sum() / M
                 + (kyy.sum() - np.trace(kyy)) / (M * (M - 1)))
