"""Export what a cell of ``qlatent run`` trained: the circuits it holds, as files for an SDK.

A cell may hold a qubit circuit (a qubit Born machine or IQP latent, or the patch quantum
generator: one circuit per patch) or an optical one (a photonic Born machine latent, or the fixed
interferometer of a quantum / photonic bank latent, decomposed into a Clements mesh). Each is
written for one target:

    ``qasm``       OpenQASM 3 text (``.qasm``; qubit circuits);
    ``qiskit``     a Python file building a ``QuantumCircuit`` (``.py``; qubit circuits);
    ``pennylane``  a Python file defining a template and a ``default.qubit`` QNode (``.py``);
    ``perceval``   a Python file building a Perceval ``Circuit`` and its input state (``.py``;
                   optical circuits).

Python files, not pickles or SDK-version-bound binaries: they are readable, diffable, need no
qlatent to run, and print the exact probabilities when run as scripts. Writing them needs no
SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qlatent._validation import check_choice
from qlatent.experiments.reuse import load_run
from qlatent.interop.optical import OpticalCircuit, optical_circuit
from qlatent.interop.pennylane import pennylane_source
from qlatent.interop.perceval import perceval_source
from qlatent.interop.qasm import QubitCircuit, to_qasm
from qlatent.interop.qiskit import qiskit_source
from qlatent.interop.qubit import born_machine_circuit, generator_circuits, iqp_circuit
from qlatent.latents.bank_latent import BankLatent
from qlatent.latents.banks import load_bank
from qlatent.latents.born import BornLatent
from qlatent.latents.iqp_born import IQPBornLatent
from qlatent.latents.qubit_born import QubitBornLatent
from qlatent.models.quantum_generator import QuantumGenerator

#: target -> (file suffix, kind of circuit it takes).
TARGETS: dict[str, tuple[str, str]] = {"qasm": (".qasm", "qubit"), "qiskit": (".py", "qubit"),
                                       "pennylane": (".py", "qubit"),
                                       "perceval": (".py", "optical")}


@dataclass(frozen=True)
class Exported:
    """One exported circuit: ``name`` (e.g. ``"latent"``, ``"generator.patch2"``), ``text``
    (the file's content) and ``suffix``."""

    name: str
    text: str
    suffix: str


def circuits_of(generator: Any, latent: Any) -> list[tuple[str, QubitCircuit | OpticalCircuit]]:
    """The exportable circuits of a trained (generator, latent) pair, named."""
    found: list[tuple[str, QubitCircuit | OpticalCircuit]] = []
    if isinstance(generator, QuantumGenerator):
        patches = generator_circuits(generator)
        found += [(f"generator.patch{p}", c) for p, c in enumerate(patches)]
    if isinstance(latent, QubitBornLatent):
        found.append(("latent", born_machine_circuit(latent)))
    elif isinstance(latent, IQPBornLatent):
        if latent.kind != "iqp":  # the bit-flip control flips bits classically: no circuit
            raise ValueError(f"the latent is the classical bit-flip control of an IQP circuit "
                             f"({latent.n_qubits} bits): it has no quantum circuit to export")
        theta = latent.theta.detach().double().cpu().tolist()
        found.append(("latent", iqp_circuit(
            latent.n_qubits, zip(theta, latent.gates.lists(), strict=True),
            title=f"a trained IQP circuit, {latent.n_qubits} qubits, "
                  f"{latent.gates.n_gates} gates")))
    elif isinstance(latent, BornLatent):
        found.append(("latent", optical_circuit(latent)))
    elif isinstance(latent, BankLatent):
        bank = load_bank(latent.bank_key)
        if bank.unitary is not None:
            state = bank.metadata.get("input_state")
            circuit = optical_circuit(bank.unitary, input_state=state)
            title = (f"the fixed interferometer of the {bank.kind} bank {bank.key[:12]} as a "
                     f"Clements mesh, {bank.n_modes} modes")
            found.append(("latent", replace(circuit, title=title,
                                            distinguishable=bank.kind == "photonic")))
    return found


def export_circuits(circuits: list[tuple[str, QubitCircuit | OpticalCircuit]], to: str,
                    *, where: str = "the model") -> list[Exported]:
    """The files of ``circuits`` for target ``to`` (one of :data:`TARGETS`).

    Raises:
        ValueError: an unknown target, or nothing of the target's kind (what there is and the
            targets that take it are named).
    """
    check_choice("to", to, tuple(TARGETS))
    suffix, kind = TARGETS[to]
    wanted = QubitCircuit if kind == "qubit" else OpticalCircuit
    chosen = [(name, c) for name, c in circuits if isinstance(c, wanted)]
    if not chosen:
        if not circuits:
            raise ValueError(f"{where} holds no quantum circuit to export (a qubit or photonic "
                             "Born machine latent, a bank latent with an interferometer, or the "
                             "quantum generator)")
        other = [t for t, (_, k) in TARGETS.items() if k != kind]
        names = ", ".join(name for name, _ in circuits)
        raise ValueError(f"--to {to} takes {kind} circuits, but {where} holds "
                         f"{'optical' if kind == 'qubit' else 'qubit'} ones ({names}): use "
                         f"--to {' or '.join(other)}")
    write = {"qasm": to_qasm, "qiskit": qiskit_source, "pennylane": pennylane_source,
             "perceval": perceval_source}[to]
    return [Exported(name, write(c), suffix) for name, c in chosen]


def export_run(cell_dir: str | Path, to: str) -> list[Exported]:
    """The circuits of a trained cell (``qlatent.load_run``) as files for target ``to``."""
    run = load_run(cell_dir)
    return export_circuits(circuits_of(run.generator, run.latent), to,
                           where=f"the cell {run.cell.key}")
