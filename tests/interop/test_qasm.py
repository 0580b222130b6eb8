"""Qubit circuits: simulation against a dense reference, OpenQASM 3 text written and read back
by our own parser, and the circuits of our models (Born machines, the patch generator, IQP)
against the models' own probabilities. No SDK needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qlatent.interop import (
    Gate,
    QasmError,
    QubitCircuit,
    born_machine_circuit,
    from_qasm,
    generator_circuits,
    iqp_circuit,
    load_born_weights,
    to_qasm,
)
from qlatent.latents.qubit_born import QubitBornLatent
from qlatent.models.quantum_generator import QuantumGenerator


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_simulation_matches_dense_reference(n, random_circuit, reference_probabilities):
    rng = np.random.default_rng(n)
    for _ in range(3):
        circuit = random_circuit(n, 40, rng)
        np.testing.assert_allclose(circuit.probabilities(), reference_probabilities(circuit),
                                   atol=1e-12)


def test_qasm_round_trip_is_exact(random_circuit, reference_probabilities):
    rng = np.random.default_rng(0)
    circuit = random_circuit(4, 60, rng, inputs=("a", "theta_1"))
    text = to_qasm(circuit)
    back = from_qasm(text)
    assert back.gates == circuit.gates  # angles written as repr(): the same floats
    assert back.inputs == circuit.inputs and back.n_qubits == 4
    values = {"a": 0.3, "theta_1": -1.7}
    np.testing.assert_allclose(back.probabilities(values),
                               reference_probabilities(circuit, values), atol=1e-12)


@pytest.mark.parametrize("entangler", ["ring", "all", [(2, 0), (1, 3), (0, 1)]])
def test_born_machine_circuit_gives_its_probabilities(entangler, reference_probabilities):
    latent = QubitBornLatent(4, layers=3, entangler=entangler, seed=7)
    circuit = born_machine_circuit(latent)
    p = latent.probabilities().detach().numpy()
    np.testing.assert_allclose(circuit.probabilities(), p, atol=1e-12)
    np.testing.assert_allclose(reference_probabilities(circuit), p, atol=1e-12)
    np.testing.assert_allclose(from_qasm(to_qasm(circuit)).probabilities(), p, atol=1e-12)


def test_chow_liu_born_machine_exports():
    data = torch.randint(0, 2, (50, 5), generator=torch.Generator().manual_seed(0))
    latent = QubitBornLatent(5, layers=2, entangler="chow-liu", data=data, seed=1)
    np.testing.assert_allclose(born_machine_circuit(latent).probabilities(),
                               latent.probabilities().detach().numpy(), atol=1e-12)


def test_load_born_weights_round_trip_and_structure_errors():
    trained = QubitBornLatent(3, layers=2, entangler="ring", seed=1)
    fresh = QubitBornLatent(3, layers=2, entangler="ring", seed=2)
    assert not torch.allclose(trained.probabilities(), fresh.probabilities())
    load_born_weights(fresh, to_qasm(born_machine_circuit(trained)))
    torch.testing.assert_close(fresh.probabilities(), trained.probabilities(), atol=1e-13,
                               rtol=0)
    with torch.no_grad():  # a diverged latent can still be given good angles
        fresh.ansatz.weights.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="not finite"):
        born_machine_circuit(fresh)
    load_born_weights(fresh, to_qasm(born_machine_circuit(trained)))
    torch.testing.assert_close(fresh.probabilities(), trained.probabilities(), atol=1e-13,
                               rtol=0)
    other = QubitBornLatent(3, layers=2, entangler="all", seed=1)
    with pytest.raises(ValueError, match="must have the 1[0-9]* gates|gate [0-9]+ must be"):
        load_born_weights(fresh, born_machine_circuit(other))
    with pytest.raises(ValueError, match="3 qubits"):
        load_born_weights(fresh, born_machine_circuit(QubitBornLatent(4, layers=2, seed=0)))


def test_generator_circuits_give_the_joint_probabilities():
    gen = QuantumGenerator(24, n_patches=3, n_qubits=4, n_ancillas=1, layers=3,
                           dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    z = torch.rand(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    joint = gen.joint_probabilities(z).detach().numpy()  # [B, P, D]
    circuits = generator_circuits(gen)
    assert len(circuits) == 3 and circuits[0].inputs == ("z_0", "z_1", "z_2", "z_3")
    for b in range(4):
        values = {f"z_{q}": float(z[b, q]) for q in range(4)}
        for p, circuit in enumerate(circuits):
            np.testing.assert_allclose(circuit.probabilities(values)[:8], joint[b, p],
                                       atol=1e-12)
    text = to_qasm(circuits[1])
    assert "input float[64] z_0;" in text and "ry(z_3) q[3];" in text
    values = {f"z_{q}": float(z[2, q]) for q in range(4)}
    np.testing.assert_allclose(from_qasm(text).probabilities(values)[:8], joint[2, 1],
                               atol=1e-12)


def _iqp_reference(n, gates):
    """prod_g exp(iθ X_g)|0> with exp(iθ X_g) = cos θ I + i sin θ X_g (X_g^2 = I), dense."""
    from qlatent.quantum import qubits_reference as ref

    state = np.zeros(1 << n, dtype=np.complex128)
    state[0] = 1
    for theta, support in gates:
        Xg = ref.embed({q: ref.X for q in support}, n)
        state = (math.cos(theta) * np.eye(1 << n) + 1j * math.sin(theta) * Xg) @ state
    return np.abs(state) ** 2


def test_iqp_circuit_matches_dense_exponentials():
    rng = np.random.default_rng(5)
    n = 5
    gates = [(float(rng.normal()), tuple(int(q) for q in rng.choice(n, size=k, replace=False)))
             for k in (1, 2, 2, 3, 4, 5, 1, 3)]
    circuit = iqp_circuit(n, gates)
    np.testing.assert_allclose(circuit.probabilities(), _iqp_reference(n, gates), atol=1e-12)
    np.testing.assert_allclose(from_qasm(to_qasm(circuit)).probabilities(),
                               _iqp_reference(n, gates), atol=1e-12)
    with pytest.raises(ValueError, match="distinct qubits"):
        iqp_circuit(3, [(0.1, (0, 0))])


def test_parser_reads_qiskit_style_text_and_expressions(reference_probabilities):
    text = """OPENQASM 3.0;
include "stdgates.inc";
/* a block
   comment */
input angle t;
qubit[1] a;
qubit[2] b;
bit[3] meas;
h a[0];           // comment
rx(pi/2) b[0];
U(2*pi/3, -pi, sin(0.5)) b[1];
cp(t) a[0], b[1];
barrier a[0], b[0], b[1];
swap a[0], b[0];
meas[0] = measure a[0];
measure b -> meas;
"""
    circuit = from_qasm(text)
    assert circuit.n_qubits == 3 and circuit.inputs == ("t",)
    assert circuit.gates[1] == Gate("rx", (1,), (math.pi / 2,))
    assert circuit.gates[2].params == pytest.approx((2 * math.pi / 3, -math.pi, math.sin(0.5)))
    assert circuit.gates[3] == Gate("cp", (0, 2), ("t",))
    assert circuit.gates[4] == Gate("swap", (0, 1))
    np.testing.assert_allclose(circuit.probabilities({"t": 0.4}),
                               reference_probabilities(circuit, {"t": 0.4}), atol=1e-12)


@pytest.mark.parametrize("body, match", [
    ("qubit[2] q;\nfoo q[0];", "line 4: unknown gate 'foo'"),
    ("qubit[2] q;\ngate g a { h a; }\n", "unsupported statement"),
    ("qubit[2] q;\nbit[2] c;\nc[0] = measure q[0];\nh q[0];", "mid-circuit"),
    ("qubit[2] q;\nh q[2];", "out of range"),
    ("qubit[2] q;\nh q;", "broadcasting"),
    ("qubit[2] q;\nrx(__import__('os').getcwd()) q[0];", "unsupported angle expression"),
    ("qubit[2] q;\nrx(1/0) q[0];", "division by zero"),
    ("qubit[2] q;\nrx((-8) ** (1/3)) q[0];", "not real"),
    ("qubit[2] q;\nrx(2.0 ** 2 ** 99) q[0];", "result too large|Numerical result"),
    ("qubit[2] q;\nrx(" + "(" * 150 + "1" + ")" * 150 + ") q[0];", "at most 200 characters"),
    ("qubit[2] q;\ncx q[0], q[0];", "distinct"),
    ("qubit[2] q;\nrx q[0];", "takes 1 angle"),
    ("qubit[2] q;\nctrl @ x q[0], q[1];", "modifiers|unsupported"),
    ('qubit[2] q;\ninclude "other.inc";', "stdgates"),
    ("qubit[2] q;\nreset q[0];", "unsupported statement"),
])
def test_parser_refuses_what_it_does_not_support(body, match):
    with pytest.raises(QasmError, match=match):
        from_qasm("OPENQASM 3.0;\ninclude \"stdgates.inc\";\n" + body)


def test_parser_needs_the_header_and_qubits():
    with pytest.raises(QasmError, match="OPENQASM 3.0"):
        from_qasm("qubit[1] q; h q[0];")
    with pytest.raises(QasmError, match="OPENQASM 3.0"):
        from_qasm("OPENQASM 2.0; qubit[1] q;")
    with pytest.raises(QasmError, match="no qubits"):
        from_qasm("OPENQASM 3.0;")
    with pytest.raises(TypeError, match="text must be"):
        from_qasm(b"OPENQASM 3.0;")


def test_circuit_validation():
    with pytest.raises(ValueError, match="gates\\[0\\].name must be one of"):
        QubitCircuit(2, (Gate("toffoli", (0, 1)),))
    with pytest.raises(ValueError, match="distinct qubits in \\[0, 2\\)"):
        QubitCircuit(2, (Gate("cx", (0, 2)),))
    with pytest.raises(ValueError, match="not an input"):
        QubitCircuit(1, (Gate("rx", (0,), ("z",)),))
    with pytest.raises(ValueError, match="non-finite"):
        QubitCircuit(1, (Gate("rx", (0,), (float("nan"),)),))
    circuit = QubitCircuit(1, (Gate("rx", (0,), ("z",)),), ("z",))
    with pytest.raises(ValueError, match="missing \\['z'\\]"):
        circuit.probabilities()


def test_the_iqp_module_of_the_quantum_layer_plugs_in():
    from qlatent.quantum import iqp
    from qlatent.quantum.iqp_gates import gate_set

    gates = gate_set([[0], [1, 2], [0, 2, 3], [3], [0, 1, 2, 3]], 4)
    theta = torch.tensor([0.3, -1.2, 0.8, 2.1, -0.4], dtype=torch.float64)
    circuit = iqp_circuit(4, zip(theta.tolist(), gates.lists(), strict=True))
    np.testing.assert_allclose(circuit.probabilities(), iqp.probabilities(theta, gates).numpy(),
                               atol=1e-12)
