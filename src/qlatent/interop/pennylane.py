"""PennyLane adapter: a :class:`~qlatent.interop.qasm.QubitCircuit` as a template (a function
that applies its gates) and a QNode on ``default.qubit``, or as the source of a small Python
file that defines them.

Qubit k of ours is wire k; PennyLane's ``qml.probs()`` orders the basis with wire 0 as the most
significant bit, as ours does, so the probabilities compare entry by entry. Inputs are the
QNode's keyword arguments.
"""

from __future__ import annotations

from typing import Any

from qlatent.interop._sdk import require
from qlatent.interop.qasm import QubitCircuit, circuit_from

#: our gate name -> the PennyLane operation (angles first, then ``wires``).
OPERATIONS = {"id": "Identity", "x": "PauliX", "y": "PauliY", "z": "PauliZ", "h": "Hadamard",
              "s": "S", "t": "T", "sx": "SX", "rx": "RX", "ry": "RY", "rz": "RZ",
              "p": "PhaseShift", "U": "U3", "cx": "CNOT", "cy": "CY", "cz": "CZ",
              "swap": "SWAP", "crx": "CRX", "cry": "CRY", "crz": "CRZ",
              "cp": "ControlledPhaseShift"}
#: gates PennyLane writes as the adjoint of another.
_ADJOINTS = {"sdg": "S", "tdg": "T"}


def to_pennylane(circuit: Any) -> tuple[Any, Any]:
    """(template, qnode) of ``circuit`` (a ``QubitCircuit`` or OpenQASM 3 text).

    ``template(**inputs)`` applies the gates (use it inside your own QNode); ``qnode(**inputs)``
    runs them on ``default.qubit`` and returns ``qml.probs()`` over all wires.
    """
    circuit = circuit_from(circuit)
    qml = require("pennylane")

    def template(**inputs: float) -> None:
        values = circuit.bind(inputs) if circuit.inputs else circuit
        for g in values.gates:
            if g.name in _ADJOINTS:
                qml.adjoint(getattr(qml, _ADJOINTS[g.name]))(wires=list(g.qubits))
            else:
                getattr(qml, OPERATIONS[g.name])(*g.params, wires=list(g.qubits))

    device = qml.device("default.qubit", wires=circuit.n_qubits)

    @qml.qnode(device)
    def qnode(**inputs: float) -> Any:
        template(**inputs)
        return qml.probs(wires=range(circuit.n_qubits))

    return template, qnode


def pennylane_source(circuit: QubitCircuit) -> str:
    """Python source defining ``template(...)`` and ``qnode(...)`` (``default.qubit``) for the
    circuit; run as a script it prints the probabilities (wire 0 the most significant bit)."""
    circuit = circuit_from(circuit)
    args = ", ".join(circuit.inputs)
    lines = ['"""' + (circuit.title or "A circuit exported by qlatent") + ".",
             "",
             "Wire k is qubit k of qlatent; qml.probs orders wire 0 as the most significant bit,",
             "as qlatent does.",
             '"""',
             "import pennylane as qml",
             "",
             f"N_WIRES = {circuit.n_qubits}",
             "",
             "",
             f"def template({args}):"]
    for g in circuit.gates:
        angles = [a if isinstance(a, str) else repr(float(a)) for a in g.params]
        wires = f"wires={list(g.qubits)}"
        if g.name in _ADJOINTS:
            lines.append(f"    qml.adjoint(qml.{_ADJOINTS[g.name]})({wires})")
        else:
            lines.append(f"    qml.{OPERATIONS[g.name]}({', '.join([*angles, wires])})")
    if not circuit.gates:
        lines.append("    pass")
    zeros = ", ".join("0.0" for _ in circuit.inputs)
    lines += ["", "", "@qml.qnode(qml.device('default.qubit', wires=N_WIRES))",
              f"def qnode({args}):",
              f"    template({args})",
              "    return qml.probs(wires=range(N_WIRES))",
              "", "", "if __name__ == '__main__':",
              f"    for index, p in enumerate(qnode({zeros})):",
              f"        print(format(index, '0{circuit.n_qubits}b'), repr(float(p)))"]
    return "\n".join(lines) + "\n"
