"""Round trip through Perceval: its exact backends give our probabilities to 1e-10 on every
outcome of 3 photons in 6 modes (mesh, loop and fixed Haar circuits) and on sampled outcomes
of 8 photons in 16 modes; a Perceval circuit comes back as a fixed latent's or a trainable
latent's interferometer."""

from __future__ import annotations

import runpy

import numpy as np
import pytest
import torch

from qlatent import latents, photonics
from qlatent.interop import (
    born_from_unitary,
    optical_circuit,
    perceval_input_state,
    perceval_source,
    to_perceval,
    unitary_from_perceval,
)
from qlatent.latents.born import BornLatent
from qlatent.quantum import optics

pcvl = pytest.importorskip("perceval")
ATOL = 1e-10


def _trained_like(latent, seed):
    with torch.no_grad():
        for p in latent.interferometer.parameters():
            p.uniform_(-6, 6, generator=torch.Generator().manual_seed(seed))
    return latent


@pytest.mark.parametrize("circuit", ["mesh", "1-1", "1-3-9"])
def test_slos_matches_every_outcome_of_3_photons_in_6_modes(circuit):
    dim = 10 if circuit == "1-3-9" else 6
    latent = _trained_like(BornLatent(dim, kind="quantum", circuit=circuit, n_photons=3, seed=1),
                           seed=2)
    exported = optical_circuit(latent)
    backend = pcvl.SLOSBackend()
    backend.set_circuit(to_perceval(exported))
    backend.set_input_state(pcvl.BasicState(list(exported.input_state)))
    theirs = backend.prob_distribution()
    states, probs = latent.output_distribution()
    assert len(theirs) == len(states)  # every outcome, none missing on either side
    for s, p in zip(states.tolist(), probs.detach().numpy(), strict=True):
        assert abs(theirs[pcvl.BasicState(s)] - p) <= ATOL


def test_distinguishable_photons_match_the_photonic_kind():
    """Kind "photonic": Perceval's photons with distinct noise tags are distinguishable."""
    latent = _trained_like(BornLatent(6, kind="photonic", circuit="mesh", n_photons=3, seed=4),
                           seed=4)
    exported = optical_circuit(latent)
    simulator = pcvl.Simulator(pcvl.SLOSBackend())
    simulator.set_precision(1e-14)  # its default drops outcomes below ~1e-6
    simulator.set_circuit(to_perceval(exported))
    tagged = perceval_input_state(exported)
    assert str(tagged) == "|{0},{1},{2},0,0,0>"
    theirs = simulator.probs_svd(pcvl.SVDistribution({tagged: 1.0}))["results"]
    states, probs = latent.output_distribution()
    assert len(theirs) == len(states)
    for s, p in zip(states.tolist(), probs.detach().numpy(), strict=True):
        assert abs(theirs[pcvl.BasicState(s)] - p) <= ATOL


def test_slos_matches_a_fixed_haar_interferometer():
    U = photonics.haar_unitary(6, rng=4)
    exported = optical_circuit(U, input_state=[1, 0, 1, 0, 1, 0])
    backend = pcvl.SLOSBackend()
    backend.set_circuit(to_perceval(exported))
    backend.set_input_state(pcvl.BasicState([1, 0, 1, 0, 1, 0]))
    theirs = backend.prob_distribution()
    states, probs = photonics.exact_distribution(U, np.array([1, 0, 1, 0, 1, 0]))
    assert len(theirs) == len(states)
    for s, p in zip(states.tolist(), probs, strict=True):
        assert abs(theirs[pcvl.BasicState(s)] - p) <= ATOL


@pytest.mark.slow  # every outcome of 3 photons in 6 modes stays in the default suite
def test_naive_backend_matches_sampled_outcomes_of_8_photons_in_16_modes():
    latent = _trained_like(BornLatent(16, kind="quantum", circuit="1-3-9", n_photons=8, seed=3),
                           seed=3)
    exported = optical_circuit(latent)
    backend = pcvl.NaiveBackend()
    backend.set_circuit(to_perceval(exported))
    backend.set_input_state(pcvl.BasicState(list(exported.input_state)))
    outcomes = latent.sample_counts(16, generator=torch.Generator().manual_seed(0))
    outcomes = torch.cat([outcomes, torch.tensor([[2, 2, 2, 2] + [0] * 12])])  # a bunched one
    ours = torch.exp(latent.log_prob(outcomes)).detach().numpy()
    for s, p in zip(outcomes.tolist(), ours, strict=True):
        assert abs(backend.probability(pcvl.BasicState(s)) - p) <= ATOL


@pytest.mark.parametrize("kind", ["quantum", "photonic"])
def test_perceval_python_file_builds_the_circuit_and_prints_our_distribution(kind, tmp_path,
                                                                             capsys):
    latent = _trained_like(BornLatent(5, kind=kind, circuit="1-1", n_photons=2, seed=5), 5)
    path = tmp_path / "born.py"
    path.write_text(perceval_source(optical_circuit(latent)))
    namespace = runpy.run_path(str(path), run_name="__main__")  # prints the distribution
    np.testing.assert_allclose(np.array(namespace["circuit"].compute_unitary()),
                               latent.unitary().detach().numpy(), atol=1e-12)
    printed = {}
    for line in capsys.readouterr().out.splitlines():
        state, p = line.rsplit(" ", 1)
        printed[tuple(int(c) for c in state.strip("|>").split(","))] = float(p)
    states, probs = latent.output_distribution()
    assert len(printed) == len(states)
    for s, p in zip(states.tolist(), probs.detach().numpy(), strict=True):
        assert abs(printed[tuple(s)] - p) <= ATOL


def test_a_perceval_circuit_comes_back_as_fixed_or_trainable_latent(tmp_path, monkeypatch):
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path))
    theirs = pcvl.Circuit(4)
    theirs.add((0, 1), pcvl.BS()).add(1, pcvl.PS(0.4)).add((1, 2), pcvl.BS.H(theta=1.1))
    theirs.add((2, 3), pcvl.BS.Rx(theta=0.3, phi_tl=0.2)).add((0, 1), pcvl.BS())
    U = unitary_from_perceval(theirs)
    np.testing.assert_allclose(U, np.array(theirs.compute_unitary()), atol=0)
    trainable = born_from_unitary(U, kind="quantum", n_photons=2)
    np.testing.assert_allclose(trainable.unitary().detach().numpy(), U, atol=1e-12)
    bank = latents.build_bank("quantum", U, n_photons=2, n_samples=200, seed=0, progress=False)
    np.testing.assert_array_equal(bank.unitary, U)
    _, probs = optics.output_distribution(torch.from_numpy(U), [1, 1, 0, 0])
    assert abs(float(probs.sum()) - 1) < 1e-12
    with pytest.raises(TypeError, match="perceval circuit"):
        unitary_from_perceval(U)
