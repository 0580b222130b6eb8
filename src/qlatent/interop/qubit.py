"""Our qubit models as :class:`~qlatent.interop.qasm.QubitCircuit` gate lists, and back.

* :func:`born_machine_circuit`: a qubit Born machine (``QubitBornLatent`` or its
  ``LayeredAnsatz``): each Rot(φ, θ, ω) = RZ(ω) RY(θ) RZ(φ) becomes ``rz(φ); ry(θ); rz(ω)`` (the
  same matrix, no global phase), each entangler edge ``cx(control, target)``.
* :func:`generator_circuits`: the patch quantum generator (Huang et al., arXiv:2010.06201), one
  circuit per patch with inputs ``z_0 .. z_{N-1}``: ``ry(z_q)`` on every qubit, then per layer
  ``ry(w[p, l, q])`` on every qubit and the chain ``cz(q, q+1)``. Qubits 0..N_A-1 are the
  ancillas: the pixels are the probabilities with every ancilla 0, rescaled by their maximum.
* :func:`iqp_circuit`: an IQP circuit prod_g exp(iθ_g X_g) |0...0> (X_g the product of X on
  the qubits of g; the gates commute) as H on every qubit, then per gate exp(iθ Z_g) as a CNOT
  ladder onto the last qubit of g, ``rz(-2θ)`` there and the ladder undone, then H on every
  qubit (H Z H = X, so H^n exp(iθ Z_g) H^n = exp(iθ X_g)).
* :func:`load_born_weights`: the other way: the angles of a circuit with the structure of a
  Born machine's ansatz (e.g. one exported, edited or trained elsewhere) become its weights,
  the initial point of further training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from qlatent._validation import check_int
from qlatent.interop.qasm import Gate, QubitCircuit, circuit_from
from qlatent.latents.qubit_born import QubitBornLatent
from qlatent.models.quantum_generator import QuantumGenerator
from qlatent.quantum.qubits import LayeredAnsatz


def _ansatz(model: Any) -> LayeredAnsatz:
    ansatz = model.ansatz if isinstance(model, QubitBornLatent) else model
    if not isinstance(ansatz, LayeredAnsatz):
        raise TypeError(f"model must be a QubitBornLatent or a LayeredAnsatz, got "
                        f"{type(model).__name__}")
    return ansatz


def _born_gates(ansatz: LayeredAnsatz) -> list[Gate]:
    gates: list[Gate] = []
    for op in ansatz.operations():
        if op[0] == "cnot":
            gates.append(Gate("cx", (op[1], op[2])))
        else:
            q, (phi, theta, omega) = op[1], op[2]
            gates += [Gate("rz", (q,), (phi,)), Gate("ry", (q,), (theta,)),
                      Gate("rz", (q,), (omega,))]
    return gates


def born_machine_circuit(model: Any) -> QubitCircuit:
    """The circuit of a qubit Born machine with its current angles (module docstring).

    Its probabilities equal ``model.probabilities()`` (qubit 0 the most significant bit).
    """
    ansatz = _ansatz(model)
    if not torch.isfinite(ansatz.weights).all():
        raise FloatingPointError("the qubit Born machine's weights are not finite")
    gates = _born_gates(ansatz)
    title = (f"qubit Born machine: {ansatz.n_qubits} qubits, {ansatz.layers} layers, "
             f"entangler {ansatz.entangler!r}")
    return QubitCircuit(ansatz.n_qubits, tuple(gates), (), title)


def load_born_weights(model: Any, circuit: Any) -> None:
    """Set the angles of a qubit Born machine from a circuit of its ansatz's structure.

    Args:
        model: a ``QubitBornLatent`` or ``LayeredAnsatz`` (its weights are overwritten).
        circuit: a ``QubitCircuit`` or OpenQASM 3 text with exactly the gates of
            :func:`born_machine_circuit` for this model (same qubits, same entangler), any
            angles.

    Raises:
        ValueError: the circuit differs in structure (the first differing gate is named) or
            has inputs.
    """
    ansatz = _ansatz(model)
    circuit = circuit_from(circuit)
    expected = _born_gates(ansatz)  # the structure (the current angles may even be NaN)
    if circuit.n_qubits != ansatz.n_qubits or circuit.inputs:
        raise ValueError(f"circuit must have {ansatz.n_qubits} qubits and no inputs, got "
                         f"{circuit.n_qubits} qubits and inputs {list(circuit.inputs)}")
    if len(circuit.gates) != len(expected):
        raise ValueError(f"circuit must have the {len(expected)} gates of the ansatz "
                         f"({ansatz.layers} layers, entangler {ansatz.entangler!r}), got "
                         f"{len(circuit.gates)}")
    angles = []
    for i, (got, want) in enumerate(zip(circuit.gates, expected, strict=True)):
        if (got.name, got.qubits) != (want.name, want.qubits):
            raise ValueError(f"circuit gate {i} must be {want.name} on qubits {want.qubits} (the "
                             f"ansatz's structure), got {got.name} on {got.qubits}")
        angles += list(got.params)
    w = torch.tensor(angles, dtype=torch.float64).reshape(ansatz.layers + 1, ansatz.n_qubits, 3)
    with torch.no_grad():
        ansatz.weights.copy_(w.to(ansatz.weights.dtype))


def generator_circuits(generator: QuantumGenerator) -> list[QubitCircuit]:
    """One circuit per patch of the patch quantum generator, inputs ``z_0 .. z_{N-1}``.

    For every z, patch p's ``probabilities({"z_q": z[q]})[:D]`` (D = 2^(N - N_A), the
    ancillas read 0) equal ``generator.joint_probabilities(z[None])[0, p]``.
    """
    if not isinstance(generator, QuantumGenerator):
        raise TypeError(f"generator must be a QuantumGenerator, got "
                        f"{type(generator).__name__}")
    n = generator.n_qubits
    w = generator.weights.detach().cpu().double()
    if not torch.isfinite(w).all():
        raise FloatingPointError("the quantum generator's weights are not finite")
    inputs = tuple(f"z_{q}" for q in range(n))
    circuits = []
    for p in range(generator.n_patches):
        gates = [Gate("ry", (q,), (inputs[q],)) for q in range(n)]
        for layer in range(generator.layers):
            gates += [Gate("ry", (q,), (float(w[p, layer, q]),)) for q in range(n)]
            gates += [Gate("cz", (q, q + 1)) for q in range(n - 1)]
        k = generator.n_ancillas
        ancillas = ("no ancilla" if k == 0 else "ancilla q[0] post-selected on 0" if k == 1
                    else f"ancillas q[0..{k - 1}] post-selected on 0")
        title = (f"patch {p} of {generator.n_patches} of the quantum generator: {n} qubits, "
                 f"{ancillas}; pixels = P(ancillas 0, data j) / max_k P(ancillas 0, data k)")
        circuits.append(QubitCircuit(n, tuple(gates), inputs, title))
    return circuits


def iqp_circuit(n_qubits: int, gates: Sequence[tuple[float, Sequence[int]]], *,
                title: str = "") -> QubitCircuit:
    """The IQP circuit prod_g exp(iθ_g X_g) |0...0> as standard gates (module docstring).

    Args:
        n_qubits: n.
        gates: (θ, qubits) pairs; qubits distinct, in [0, n). From the angles ``theta`` and
            the ``GateSet`` of :mod:`qlatent.quantum.iqp`: ``zip(theta.tolist(),
            gate_set.lists())``.
    """
    n = check_int("n_qubits", n_qubits, minimum=1)
    gates = list(gates)
    ops = [Gate("h", (q,)) for q in range(n)]
    for i, entry in enumerate(gates):
        try:
            theta, support = entry
            theta, support = float(theta), tuple(int(q) for q in support)
        except (TypeError, ValueError) as err:
            raise TypeError(f"gates[{i}] must be (theta, qubits), got {entry!r}") from err
        if not support or len(set(support)) != len(support) or not all(
                0 <= q < n for q in support) or not math.isfinite(theta):
            raise ValueError(f"gates[{i}] must act on distinct qubits in [0, {n}) with a finite "
                             f"angle, got ({theta}, {support})")
        ladder = [Gate("cx", (a, b)) for a, b in zip(support, support[1:], strict=False)]
        ops += ladder + [Gate("rz", (support[-1],), (-2.0 * theta,))] + ladder[::-1]
    ops += [Gate("h", (q,)) for q in range(n)]
    return QubitCircuit(n, tuple(ops), (), title or f"IQP circuit: {n} qubits, "
                        f"{len(gates)} gates exp(i theta X_g)")
