"""Shared pieces of the interop tests, as fixtures: random circuits of every supported gate,
and a dense NumPy reference simulator that shares no code with ``qlatent.interop`` (matrices
from the exponentials of Pauli matrices, ``qlatent.quantum.qubits_reference``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from qlatent.interop import GATES, Gate, QubitCircuit
from qlatent.quantum import qubits_reference as ref

_H = np.array([[1, 1], [1, -1]], dtype=np.complex128) / np.sqrt(2)
_FIXED = {"id": ref.I2, "x": ref.X, "y": ref.Y, "z": ref.Z, "h": _H,
          "s": expm(0.25j * np.pi * (ref.I2 - ref.Z)),       # P(pi/2) = e^{i pi/4 (I - Z)}
          "sdg": expm(-0.25j * np.pi * (ref.I2 - ref.Z)),
          "t": expm(0.125j * np.pi * (ref.I2 - ref.Z)),
          "tdg": expm(-0.125j * np.pi * (ref.I2 - ref.Z)),
          "sx": expm(0.25j * np.pi * (ref.I2 - ref.X))}       # sqrt(X) = e^{i pi/4 (I - X)}


def reference_matrix(name: str, params) -> np.ndarray:
    """The 2x2 matrix of a one-qubit gate (or the target part of a controlled one)."""
    if name in _FIXED:
        return _FIXED[name]
    if name in ("rx", "ry", "rz"):
        return ref.pauli_rotation(name, params[0])
    if name == "p":
        return expm(0.5j * params[0] * (ref.I2 - ref.Z))
    theta, phi, lam = params  # U = e^{i(φ+λ)/2} RZ(φ) RY(θ) RZ(λ)
    return np.exp(0.5j * (phi + lam)) * (ref.pauli_rotation("rz", phi)
                                         @ ref.pauli_rotation("ry", theta)
                                         @ ref.pauli_rotation("rz", lam))


def _reference_probabilities(circuit: QubitCircuit, values=None) -> np.ndarray:
    """Dense 2^n x 2^n simulation of ``circuit`` (qubit 0 the most significant bit)."""
    values = values or {}
    n = circuit.n_qubits
    state = np.zeros(1 << n, dtype=np.complex128)
    state[0] = 1
    for g in circuit.gates:
        params = [values[a] if isinstance(a, str) else a for a in g.params]
        if g.name == "swap":
            a, b = g.qubits
            M = ref.cnot(a, b, n) @ ref.cnot(b, a, n) @ ref.cnot(a, b, n)
        elif len(g.qubits) == 1:
            M = ref.single(reference_matrix(g.name, params), g.qubits[0], n)
        else:
            target = {"cx": "x", "cy": "y", "cz": "z", "crx": "rx", "cry": "ry", "crz": "rz",
                      "cp": "p"}[g.name]
            M = ref.controlled(reference_matrix(target, params), g.qubits[0], g.qubits[1], n)
        state = M @ state
    return np.abs(state) ** 2


def _random_circuit(n: int, n_gates: int, rng: np.random.Generator, *,
                   names=tuple(GATES), inputs: tuple[str, ...] = ()) -> QubitCircuit:
    """A random circuit of the given gates with angles ~ U[-2π, 2π] (trained-like: arbitrary
    real angles); a third of the angles are inputs when ``inputs`` are given."""
    gates = []
    names = [g for g in names if GATES[g][0] <= n]
    for _ in range(n_gates):
        name = names[rng.integers(len(names))]
        arity, n_params = GATES[name]
        qubits = tuple(int(q) for q in rng.choice(n, size=arity, replace=False))
        params = tuple(inputs[rng.integers(len(inputs))] if inputs and rng.random() < 1 / 3
                       else float(rng.uniform(-2 * np.pi, 2 * np.pi)) for _ in range(n_params))
        gates.append(Gate(name, qubits, params))
    return QubitCircuit(n, tuple(gates), inputs)


@pytest.fixture
def reference_probabilities():
    """The dense reference simulator (a function of a circuit and its input values)."""
    return _reference_probabilities


@pytest.fixture
def random_circuit():
    """``random_circuit(n, n_gates, rng, names=..., inputs=...)``."""
    return _random_circuit
