"""Qiskit adapter: a :class:`~qlatent.interop.qasm.QubitCircuit` as a ``QuantumCircuit``, or
as the source of a small Python file that builds one (the ``qiskit`` extra of ``interop``).

Qubit k of ours is qubit k of the ``QuantumCircuit``; inputs become ``Parameter``s of the same
name. Qiskit orders ``Statevector.probabilities()`` with qubit 0 as the LEAST significant bit,
ours with qubit 0 as the most significant: ours = ``Statevector(qc).reverse_qargs()
.probabilities()`` (docs/interop.md).
"""

from __future__ import annotations

from typing import Any

from qlatent.interop._sdk import require
from qlatent.interop.qasm import QubitCircuit, circuit_from

#: our gate name -> the ``QuantumCircuit`` method (angles first, then qubits, as Qiskit's).
METHODS = {"id": "id", "x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "sdg": "sdg",
           "t": "t", "tdg": "tdg", "sx": "sx", "rx": "rx", "ry": "ry", "rz": "rz", "p": "p",
           "U": "u", "cx": "cx", "cy": "cy", "cz": "cz", "swap": "swap", "crx": "crx",
           "cry": "cry", "crz": "crz", "cp": "cp"}


def to_qiskit(circuit: Any, *, measure: bool = False) -> Any:
    """A ``qiskit.QuantumCircuit`` of ``circuit`` (a ``QubitCircuit`` or OpenQASM 3 text).

    Args:
        measure: add ``measure_all()`` (leave False to simulate with ``Statevector``).
    """
    circuit = circuit_from(circuit)
    qiskit = require("qiskit")
    from qiskit.circuit import Parameter  # optional extra, present once require() returned

    params = {name: Parameter(name) for name in circuit.inputs}
    qc = qiskit.QuantumCircuit(circuit.n_qubits, name="qlatent")
    for g in circuit.gates:
        angles = [params[a] if isinstance(a, str) else a for a in g.params]
        getattr(qc, METHODS[g.name])(*angles, *g.qubits)
    if measure:
        qc.measure_all()
    return qc


def qiskit_source(circuit: QubitCircuit) -> str:
    """Python source that builds the circuit as ``circuit`` (a ``QuantumCircuit``) and, run as a
    script, prints its probabilities in our order (qubit 0 the most significant bit)."""
    circuit = circuit_from(circuit)
    lines = ['"""' + (circuit.title or "A circuit exported by qlatent") + ".",
             "",
             "Qubit k is qubit k of qlatent. Run it to print the probabilities in qlatent's "
             "order",
             "(qubit 0 the most significant bit: Statevector(...).reverse_qargs()).",
             '"""',
             "from qiskit import QuantumCircuit",
             "from qiskit.circuit import Parameter",
             "from qiskit.quantum_info import Statevector",
             ""]
    lines += [f"{name} = Parameter({name!r})" for name in circuit.inputs]
    lines.append(f"circuit = QuantumCircuit({circuit.n_qubits}, name='qlatent')")
    for g in circuit.gates:
        args = [a if isinstance(a, str) else repr(float(a)) for a in g.params]
        args += [str(q) for q in g.qubits]
        lines.append(f"circuit.{METHODS[g.name]}({', '.join(args)})")
    binding = ", ".join(f"{name}: 0.0" for name in circuit.inputs)
    bind = f".assign_parameters({{{binding}}})" if circuit.inputs else ""
    lines += ["", "if __name__ == '__main__':",
              f"    state = Statevector(circuit{bind}).reverse_qargs()",
              "    for index, p in enumerate(state.probabilities()):",
              f"        print(format(index, '0{circuit.n_qubits}b'), repr(float(p)))"]
    return "\n".join(lines) + "\n"
