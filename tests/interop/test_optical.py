"""Optical circuits: components of meshes and loops, the Clements decomposition of any unitary,
unitaries from .npy files, and a Born machine started at a given unitary. No SDK needed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qlatent import photonics
from qlatent.interop import (
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
from qlatent.latents.born import BornLatent
from qlatent.quantum.optics import ClementsMesh, LoopCircuit


def _u(module):
    with torch.no_grad():
        return module().numpy()


@pytest.mark.parametrize("m", [2, 3, 6, 9])
def test_mesh_components_multiply_to_the_mesh(m):
    mesh = ClementsMesh(m, rng=m)
    with torch.no_grad():  # trained-like angles: anywhere on the real line
        for p in mesh.parameters():
            p.uniform_(-10, 10)
    np.testing.assert_allclose(mesh_circuit(mesh).unitary(), _u(mesh), atol=1e-12)


@pytest.mark.parametrize("m, delays", [(3, (1, 1)), (6, (1, 1)), (10, (1, 3, 9)),
                                       (16, (1, 3, 9)), (7, (2, 5))])
def test_loop_components_multiply_to_the_loop(m, delays):
    loop = LoopCircuit(m, delays, rng=1)
    circuit = loop_circuit(loop)
    np.testing.assert_allclose(circuit.unitary(), _u(loop), atol=1e-12)
    np.testing.assert_allclose(circuit.unitary(), photonics.loop_unitary(m, delays, rng=1),
                               atol=1e-12)


@pytest.mark.parametrize("m", range(2, 13))
def test_clements_decomposition_realises_haar_unitaries(m):
    U = photonics.haar_unitary(m, rng=100 + m)
    theta, phi, alpha = clements_angles(U)
    assert theta.shape == (m * (m - 1) // 2,) and alpha.shape == (m,)
    mesh = ClementsMesh(m, rng=0)
    with torch.no_grad():
        mesh.theta.copy_(torch.from_numpy(theta))
        mesh.phi.copy_(torch.from_numpy(phi))
        mesh.output_phase.copy_(torch.from_numpy(alpha))
    np.testing.assert_allclose(_u(mesh), U, atol=1e-12)
    np.testing.assert_allclose(optical_circuit(U).unitary(), U, atol=1e-12)


@pytest.mark.parametrize("U", [np.eye(4), np.eye(5)[[3, 0, 4, 1, 2]],
                               np.diag(np.exp(1j * np.arange(6))),
                               np.kron(np.eye(2), np.array([[0, 1j], [1j, 0]]))],
                         ids=["identity", "permutation", "diagonal", "blocks"])
def test_clements_decomposition_of_degenerate_unitaries(U):
    np.testing.assert_allclose(optical_circuit(U).unitary(), U, atol=1e-12)


def test_born_from_unitary_starts_at_u_and_stays_trainable():
    U = photonics.haar_unitary(5, rng=3)
    latent = born_from_unitary(U, kind="quantum", n_photons=2)
    assert isinstance(latent, BornLatent) and latent.circuit == "mesh"
    np.testing.assert_allclose(latent.unitary().detach().numpy(), U, atol=1e-12)
    states, probs = latent.output_distribution()
    exact_states, exact = photonics.exact_distribution(U, latent.input_state.numpy())
    np.testing.assert_array_equal(states.numpy(), exact_states)
    np.testing.assert_allclose(probs.detach().numpy(), exact, atol=1e-12)
    loss = -latent.log_prob(states[:3]).sum()
    loss.backward()
    assert latent.interferometer.theta.grad is not None


def test_born_machine_circuit_carries_its_input_state():
    latent = BornLatent(6, kind="photonic", circuit="1-1", n_photons=3,
                        seed=2)
    circuit = optical_circuit(latent)
    assert circuit.input_state == (1, 1, 1, 0, 0, 0)
    np.testing.assert_allclose(circuit.unitary(), latent.unitary().detach().numpy(), atol=1e-12)


def test_load_unitary(tmp_path):
    U = photonics.haar_unitary(4, rng=0)
    np.save(tmp_path / "u.npy", U)
    np.testing.assert_array_equal(load_unitary(tmp_path / "u.npy"), U)
    np.save(tmp_path / "bad.npy", U * 1.01)
    with pytest.raises(ValueError, match="must be unitary.*deviation"):
        load_unitary(tmp_path / "bad.npy")
    np.save(tmp_path / "obj.npy", np.array([U, "x"], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="needs pickle"):
        load_unitary(tmp_path / "obj.npy")
    np.save(tmp_path / "rect.npy", U[:3])
    with pytest.raises(ValueError, match="square matrix"):
        load_unitary(tmp_path / "rect.npy")
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(ValueError, match="not a .npy file|.npy"):
        load_unitary(tmp_path / "text.npy")
    np.savez(tmp_path / "archive.npz", U=U)
    with pytest.raises(ValueError, match="archive"):
        load_unitary(tmp_path / "archive.npz")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_unitary(tmp_path / "missing.npy")


def test_check_unitary_and_circuit_validation():
    with pytest.raises(ValueError, match="finite"):
        check_unitary(np.full((2, 2), np.nan))
    with pytest.raises(TypeError, match="numeric"):
        check_unitary(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="consecutive modes"):
        OpticalCircuit(3, (Component("bs", (1, 3), 0.1),))
    with pytest.raises(ValueError, match="permutation"):
        OpticalCircuit(3, (Component("perm", (0, 1), (0, 0)),))
    with pytest.raises(TypeError, match="BornLatent, ClementsMesh"):
        optical_circuit("mesh")
