"""Slow, independent reference for :mod:`qlatent.quantum.qubits`: dense matrices in NumPy.

Every gate is the full 2^n x 2^n matrix built by Kronecker products, and rotations come from the
matrix exponential of Pauli matrices (``scipy.linalg.expm``), not from closed forms; a circuit is
their product applied to |0...0>. No torch, no shared code with the fast simulator: the tests
compare the two on random circuits. Only for small n (the matrices have 4^n entries).

Notation: as in :mod:`qlatent.quantum.qubits` (qubit 0 is the leftmost Kronecker factor, i.e. the
most significant bit of the basis index).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy.linalg import expm

I2 = np.eye(2, dtype=np.complex128)
X = np.array([[0, 1], [1, 0]], dtype=np.complex128)
Y = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
Z = np.array([[1, 0], [0, -1]], dtype=np.complex128)
P0 = np.array([[1, 0], [0, 0]], dtype=np.complex128)
P1 = np.array([[0, 0], [0, 1]], dtype=np.complex128)
PAULI = {"rx": X, "ry": Y, "rz": Z}


def pauli_rotation(pauli: str, angle: float) -> np.ndarray:
    """exp(-i angle P / 2) for P in {"rx": X, "ry": Y, "rz": Z}: complex128[2, 2]."""
    return expm(-0.5j * angle * PAULI[pauli])


def general_rotation(phi: float, theta: float, omega: float) -> np.ndarray:
    """Rot(φ, θ, ω) = RZ(ω) RY(θ) RZ(φ)."""
    return pauli_rotation("rz", omega) @ pauli_rotation("ry", theta) @ pauli_rotation("rz", phi)


def embed(factors: dict[int, np.ndarray], n: int) -> np.ndarray:
    """⊗_q F_q with F_q = factors.get(q, I): complex128[2^n, 2^n]."""
    out = np.ones((1, 1), dtype=np.complex128)
    for q in range(n):
        out = np.kron(out, factors.get(q, I2))
    return out


def single(gate: np.ndarray, qubit: int, n: int) -> np.ndarray:
    return embed({qubit: gate}, n)


def controlled(gate: np.ndarray, control: int, target: int, n: int) -> np.ndarray:
    """|0><0|_c ⊗ I + |1><1|_c ⊗ G_t."""
    return embed({control: P0}, n) + embed({control: P1, target: gate}, n)


def cnot(control: int, target: int, n: int) -> np.ndarray:
    return controlled(X, control, target, n)


def cz(a: int, b: int, n: int) -> np.ndarray:
    return controlled(Z, a, b, n)


def run(operations: Iterable[tuple], n: int) -> np.ndarray:
    """Apply operations to |0...0>: complex128[2^n].

    Operations: ("rx" | "ry" | "rz", q, angle), ("rot", q, (φ, θ, ω)), ("cnot", c, t),
    ("cz", a, b), ("crx" | "cry" | "crz", c, t, angle).
    """
    psi = np.zeros(2 ** n, dtype=np.complex128)
    psi[0] = 1
    for op in operations:
        kind = op[0]
        if kind in PAULI:
            U = single(pauli_rotation(kind, op[2]), op[1], n)
        elif kind == "rot":
            U = single(general_rotation(*op[2]), op[1], n)
        elif kind == "cnot":
            U = cnot(op[1], op[2], n)
        elif kind == "cz":
            U = cz(op[1], op[2], n)
        elif kind in ("crx", "cry", "crz"):
            U = controlled(pauli_rotation(kind[1:], op[3]), op[1], op[2], n)
        else:
            raise ValueError(f"unknown operation {kind!r}")
        psi = U @ psi
    return psi


def layered_ansatz_probabilities(weights: np.ndarray, edges: Sequence[tuple[int, int]]
                                 ) -> np.ndarray:
    """|<x|R_d E ... E R_0|0>|^2 from the definition (weights float[d + 1, n, 3]): float64[2^n]."""
    weights = np.asarray(weights, dtype=np.float64)
    d1, n, _ = weights.shape
    ops: list[tuple] = []
    for layer in range(d1):
        if layer:
            ops += [("cnot", c, t) for c, t in edges]
        ops += [("rot", q, tuple(weights[layer, q])) for q in range(n)]
    return np.abs(run(ops, n)) ** 2


def bits(n: int) -> np.ndarray:
    """Bit vectors of every basis index: int64[2^n, n], qubit 0 the most significant."""
    i = np.arange(2 ** n)
    return np.array([[(k >> (n - 1 - q)) & 1 for q in range(n)] for k in i], dtype=np.int64)
