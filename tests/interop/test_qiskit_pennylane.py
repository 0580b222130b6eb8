"""Round trip through the qubit SDKs: Qiskit's ``Statevector`` and PennyLane's
``default.qubit`` give our probabilities to 1e-10 on random circuits of every supported gate,
on trained-like Born machines and patch generators, from our objects, from our OpenQASM text
(read by Qiskit's own OpenQASM 3 importer) and from the Python files we write."""

from __future__ import annotations

import runpy

import numpy as np
import pytest
import torch

from qlatent.interop import (
    born_machine_circuit,
    from_qasm,
    generator_circuits,
    iqp_circuit,
    pennylane_source,
    qiskit_source,
    to_pennylane,
    to_qasm,
    to_qiskit,
)
from qlatent.latents.qubit_born import QubitBornLatent
from qlatent.models.quantum_generator import QuantumGenerator

ATOL = 1e-10


def _trained_like_born(seed):
    latent = QubitBornLatent(5, layers=3, entangler="all", seed=seed)
    with torch.no_grad():  # angles anywhere on the real line, as after training
        latent.ansatz.weights.uniform_(-8, 8, generator=torch.Generator().manual_seed(seed))
    return latent


def _generator():
    return QuantumGenerator(32, n_patches=2, n_qubits=5, n_ancillas=1, layers=4,
                            dtype=torch.float64, generator=torch.Generator().manual_seed(1))


# ------------------------------------------------------------------------------------ Qiskit
def _qiskit_probabilities(qc, values=None):
    from qiskit.quantum_info import Statevector

    if values:
        qc = qc.assign_parameters({p: values[p.name] for p in qc.parameters})
    return Statevector(qc).reverse_qargs().probabilities()  # qubit 0 most significant


@pytest.mark.parametrize("seed", range(4))
def test_qiskit_statevector_matches_random_circuits(seed, random_circuit):
    pytest.importorskip("qiskit")
    rng = np.random.default_rng(seed)
    circuit = random_circuit(int(rng.integers(1, 6)), 50, rng, inputs=("a", "b"))
    values = {"a": float(rng.normal()), "b": float(rng.normal())}
    np.testing.assert_allclose(_qiskit_probabilities(to_qiskit(circuit), values),
                               circuit.probabilities(values), atol=ATOL)


@pytest.mark.parametrize("seed", range(3))
def test_qiskit_statevector_matches_born_machines(seed):
    pytest.importorskip("qiskit")
    latent = _trained_like_born(seed)
    np.testing.assert_allclose(_qiskit_probabilities(to_qiskit(born_machine_circuit(latent))),
                               latent.probabilities().detach().numpy(), atol=ATOL)


def test_qiskit_reads_our_openqasm_text():
    pytest.importorskip("qiskit")
    pytest.importorskip("qiskit_qasm3_import")
    from qiskit import qasm3

    latent = _trained_like_born(7)
    qc = qasm3.loads(to_qasm(born_machine_circuit(latent)))
    qc.remove_final_measurements()
    np.testing.assert_allclose(_qiskit_probabilities(qc),
                               latent.probabilities().detach().numpy(), atol=ATOL)
    gen = _generator()
    z = torch.rand(1, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    values = {f"z_{q}": float(z[0, q]) for q in range(5)}
    joint = gen.joint_probabilities(z)[0].detach().numpy()
    for p, circuit in enumerate(generator_circuits(gen)):
        qc = qasm3.loads(to_qasm(circuit))
        qc.remove_final_measurements()
        assert sorted(par.name for par in qc.parameters) == sorted(values)
        np.testing.assert_allclose(_qiskit_probabilities(qc, values)[:16], joint[p], atol=ATOL)
    gates = [(0.3, (0, 1, 2)), (-1.1, (3,)), (0.7, (1, 4))]
    iqp = iqp_circuit(5, gates)
    qc = qasm3.loads(to_qasm(iqp, measure=False))
    np.testing.assert_allclose(_qiskit_probabilities(qc), iqp.probabilities(), atol=ATOL)


@pytest.mark.parametrize("seed", range(2))
def test_our_parser_reads_qiskits_openqasm_export(seed, random_circuit):
    """The other way: text written by Qiskit's own OpenQASM 3 exporter (barriers and
    measurements included) comes back through our parser with the same probabilities."""
    pytest.importorskip("qiskit")
    from qiskit import qasm3

    rng = np.random.default_rng(20 + seed)
    circuit = random_circuit(4, 60, rng)
    qc = to_qiskit(circuit, measure=True)
    back = from_qasm(qasm3.dumps(qc))
    np.testing.assert_allclose(back.probabilities(), circuit.probabilities(), atol=ATOL)
    qc.remove_final_measurements()
    np.testing.assert_allclose(back.probabilities(), _qiskit_probabilities(qc), atol=ATOL)


def test_qiskit_python_file_builds_the_circuit(tmp_path):
    pytest.importorskip("qiskit")
    gen = _generator()
    circuit = generator_circuits(gen)[1]
    path = tmp_path / "patch.py"
    path.write_text(qiskit_source(circuit))
    qc = runpy.run_path(str(path))["circuit"]
    values = {f"z_{q}": 0.1 * q for q in range(5)}
    np.testing.assert_allclose(_qiskit_probabilities(qc, values), circuit.probabilities(values),
                               atol=ATOL)


# --------------------------------------------------------------------------------- PennyLane
@pytest.mark.parametrize("seed", range(4))
def test_pennylane_default_qubit_matches_random_circuits(seed, random_circuit):
    pytest.importorskip("pennylane")
    rng = np.random.default_rng(10 + seed)
    circuit = random_circuit(int(rng.integers(1, 6)), 50, rng, inputs=("a",))
    values = {"a": float(rng.normal())}
    _, qnode = to_pennylane(circuit)
    np.testing.assert_allclose(np.asarray(qnode(**values)), circuit.probabilities(values),
                               atol=ATOL)


def test_pennylane_matches_born_machines_and_generators():
    pytest.importorskip("pennylane")
    latent = _trained_like_born(3)
    _, qnode = to_pennylane(born_machine_circuit(latent))
    np.testing.assert_allclose(np.asarray(qnode()), latent.probabilities().detach().numpy(),
                               atol=ATOL)
    gen = _generator()
    z = torch.rand(2, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    joint = gen.joint_probabilities(z).detach().numpy()
    for p, circuit in enumerate(generator_circuits(gen)):
        _, qnode = to_pennylane(circuit)
        for b in range(2):
            values = {f"z_{q}": float(z[b, q]) for q in range(5)}
            np.testing.assert_allclose(np.asarray(qnode(**values))[:16], joint[b, p], atol=ATOL)


def test_pennylane_python_file_defines_the_qnode(tmp_path):
    pytest.importorskip("pennylane")
    latent = _trained_like_born(4)
    path = tmp_path / "born.py"
    path.write_text(pennylane_source(born_machine_circuit(latent)))
    qnode = runpy.run_path(str(path))["qnode"]
    np.testing.assert_allclose(np.asarray(qnode()), latent.probabilities().detach().numpy(),
                               atol=ATOL)
