"""What ``qlatent export`` writes, in process: the circuits a (generator, latent) pair holds,
the files for each target, the refusals; and that the SDKs stay optional (never imported with
qlatent, a clear ImportError naming the extra when missing)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from qlatent import latents
from qlatent.interop import circuits_of, export_circuits, from_qasm, to_qiskit
from qlatent.latents.qubit_born import QubitBornLatent
from qlatent.models.quantum_generator import QuantumGenerator


def test_a_qubit_born_machine_exports_to_every_qubit_target():
    latent = QubitBornLatent(3, layers=2, seed=4)
    found = circuits_of(torch.nn.Identity(), latent)
    assert [name for name, _ in found] == ["latent"]
    files = {to: export_circuits(found, to) for to in ("qasm", "qiskit", "pennylane")}
    assert [f.suffix for f in files["qasm"]] == [".qasm"]
    np.testing.assert_allclose(from_qasm(files["qasm"][0].text).probabilities(),
                               latent.probabilities().detach().numpy(), atol=1e-12)
    for to in ("qiskit", "pennylane"):
        (item,) = files[to]
        assert item.suffix == ".py"
        compile(item.text, f"{to}.py", "exec")  # valid Python; run by the SDK tests
    with pytest.raises(ValueError, match="takes optical circuits.*use --to qasm or qiskit or "
                                         "pennylane"):
        export_circuits(found, "perceval")


def test_a_generator_exports_one_circuit_per_patch():
    gen = QuantumGenerator(16, n_patches=2, n_qubits=4, n_ancillas=1, layers=2)
    found = circuits_of(gen, latents.get("uniform", dim=4))
    assert [name for name, _ in found] == ["generator.patch0", "generator.patch1"]
    assert len(export_circuits(found, "qasm")) == 2


def test_nothing_to_export_and_unknown_targets():
    with pytest.raises(ValueError, match="holds no quantum circuit"):
        export_circuits(circuits_of(torch.nn.Linear(2, 2), latents.get("gaussian", dim=2)),
                        "qasm")
    with pytest.raises(ValueError, match="to must be one of"):
        export_circuits([], "cirq")


def test_a_missing_sdk_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "qiskit", None)  # import qiskit now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'qlatent\[interop\]'"):
        to_qiskit(from_qasm('OPENQASM 3.0; qubit[1] q; h q[0];'))


def test_a_trained_iqp_latent_exports_the_circuit_and_its_bitflip_control_is_refused():
    iqp = latents.get("born", kind="iqp", n_qubits=5, gates="local", seed=3)
    with torch.no_grad():
        iqp.theta.add_(0.1)  # "trained": not the initial point
    [(name, circuit)] = circuits_of(None, iqp)
    assert name == "latent"
    np.testing.assert_allclose(circuit.probabilities(),
                               iqp.probabilities().detach().double().numpy(), atol=1e-10)
    assert "OPENQASM 3" in export_circuits([(name, circuit)], "qasm")[0].text
    bitflip = latents.get("born", kind="bitflip", n_qubits=5, gates="local", seed=3)
    with pytest.raises(ValueError, match="classical bit-flip control .* no quantum circuit"):
        circuits_of(None, bitflip)
