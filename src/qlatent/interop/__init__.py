"""Deploy trained circuits to the SDKs users run them with, and bring theirs in.

Out: qubit circuits (qubit Born machines, the patch quantum generator, IQP circuits) as
OpenQASM 3 text, a Qiskit ``QuantumCircuit`` or a PennyLane template / QNode; optical circuits
(photonic Born machines, Clements meshes, loop circuits, any unitary) as a Perceval
``Circuit``. In: OpenQASM 3 text of the supported gates (our own parser), a Perceval circuit or
a ``.npy`` unitary, as the interferometer of a fixed latent (``latents.build_bank``) or the
starting point of a trainable one (:func:`born_from_unitary`, :func:`load_born_weights`).

The SDKs are the optional ``interop`` extra, imported only when an adapter is called (with an
error naming the extra); nothing else in qlatent imports this package but the command line.
Conventions (qubit order, phase shifters, beam splitters): docs/interop.md.
"""

from qlatent.interop.export import TARGETS, Exported, circuits_of, export_circuits, export_run
from qlatent.interop.optical import (
    Component,
    OpticalCircuit,
    born_from_unitary,
    check_unitary,
    clements_angles,
    load_unitary,
    loop_circuit,
    mesh_circuit,
    optical_circuit,
)
from qlatent.interop.pennylane import pennylane_source, to_pennylane
from qlatent.interop.perceval import (
    perceval_input_state,
    perceval_source,
    to_perceval,
    unitary_from_perceval,
)
from qlatent.interop.qasm import GATES, Gate, QasmError, QubitCircuit, from_qasm, to_qasm
from qlatent.interop.qiskit import qiskit_source, to_qiskit
from qlatent.interop.qubit import (
    born_machine_circuit,
    generator_circuits,
    iqp_circuit,
    load_born_weights,
)

__all__ = ["GATES", "TARGETS", "Component", "Exported", "Gate", "OpticalCircuit", "QasmError",
           "QubitCircuit", "born_from_unitary", "born_machine_circuit", "check_unitary",
           "circuits_of", "clements_angles", "export_circuits", "export_run", "from_qasm",
           "generator_circuits", "iqp_circuit", "load_born_weights", "load_unitary",
           "loop_circuit", "mesh_circuit", "optical_circuit", "pennylane_source",
           "perceval_input_state",
           "perceval_source", "qiskit_source", "to_pennylane", "to_perceval", "to_qasm",
           "to_qiskit", "unitary_from_perceval"]
