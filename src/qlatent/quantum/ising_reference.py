"""Slow, independent references for :mod:`qlatent.quantum.ising` (NumPy + SciPy, no torch).

H is built from explicit Kronecker products of Pauli matrices (not from bit tricks), ρ from the
dense matrix exponential ``scipy.linalg.expm`` (scaling and squaring; no eigendecomposition),
and the classical Boltzmann distribution by enumerating the energies. Same conventions as
``ising``: unit 0 is the most significant bit of the state index, σᶻ|0> = -|0> in our labelling
(spin s = 2v - 1), H = -sum b_i σᶻ_i - sum_{i<j} W_ij σᶻ_i σᶻ_j - Γ sum σˣ_i.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.linalg

_X = np.array([[0.0, 1.0], [1.0, 0.0]])
# Basis |0> (bit 0, spin -1), |1> (bit 1, spin +1).
_Z = np.diag([-1.0, 1.0])


def _on(op: np.ndarray, site: int, n: int) -> np.ndarray:
    out = np.ones((1, 1))
    for k in range(n):
        out = np.kron(out, op if k == site else np.eye(2))
    return out


def hamiltonian(biases, couplings, gamma) -> np.ndarray:
    """H as a dense float64[2^n, 2^n] from Kronecker products."""
    b = np.asarray(biases, dtype=np.float64)
    W = np.asarray(couplings, dtype=np.float64)
    n = b.shape[0]
    H = np.zeros((2**n, 2**n))
    for i in range(n):
        H -= b[i] * _on(_Z, i, n) + gamma * _on(_X, i, n)
        for j in range(i + 1, n):
            H -= W[i, j] * _on(_Z, i, n) @ _on(_Z, j, n)
    return H


def probabilities(biases, couplings, gamma) -> tuple[np.ndarray, float]:
    """(P float64[2^n] = diag(expm(-H)) / Tr expm(-H), log Z) by ``scipy.linalg.expm``."""
    H = hamiltonian(biases, couplings, gamma)
    shift = np.min(np.diag(H)) - len(biases) * abs(gamma)  # a lower bound on λ_min (Gershgorin)
    rho = scipy.linalg.expm(-(H - shift * np.eye(len(H))))
    trace = np.trace(rho)
    return np.diag(rho) / trace, float(np.log(trace) - shift)


def classical_probabilities(biases, couplings) -> np.ndarray:
    """The Boltzmann distribution e^{-E(s)} / Z by enumerating every s (Γ = 0)."""
    b = np.asarray(biases, dtype=np.float64)
    W = np.asarray(couplings, dtype=np.float64)
    n = b.shape[0]
    energies = []
    for bits in itertools.product((0, 1), repeat=n):
        s = 2 * np.array(bits, dtype=np.float64) - 1
        energies.append(-b @ s - sum(W[i, j] * s[i] * s[j]
                                     for i in range(n) for j in range(i + 1, n)))
    e = np.array(energies)
    p = np.exp(-(e - e.min()))
    return p / p.sum()
