"""BornLatent: registry, exact samples against exact probabilities, centring that follows θ."""

import numpy as np
import pytest
import torch
from scipy import stats

from qlatent import latents, photonics
from qlatent.latents import BornLatent
from qlatent.quantum import output_distribution

ALPHA = 1e-3  # chi-square level, fixed in advance


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_registry_builds_a_trainable_latent():
    born = latents.get("born", dim=6, seed=0)
    assert isinstance(born, BornLatent)
    assert born.dim == 6 and born.n_photons == 3 and born.kind == "quantum"
    assert born.circuit == "mesh" and born.normalize == "center"
    assert sum(p.numel() for p in born.parameters()) == 36
    assert all(p.requires_grad for p in born.parameters())
    assert born.input_state.tolist() == [1, 1, 1, 0, 0, 0]
    again = latents.get("born", dim=6, seed=0)
    for a, b in zip(born.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)  # the seed fixes the initial angles
    assert "born" in latents.names() and "circuit" in latents.parameters("born")


@pytest.mark.parametrize("circuit", ["1-1", "1-3-9"])
def test_loop_circuits_start_at_the_photonics_circuit_of_the_seed(circuit):
    born = latents.get("born", dim=12, circuit=circuit, seed=5, n_photons=4)
    np.testing.assert_allclose(born.unitary().detach().numpy(),
                               photonics.circuit_unitary(circuit, 12, rng=5), atol=1e-13)


@pytest.mark.parametrize("kind", ["quantum", "photonic"])
def test_samples_follow_the_exact_distribution(kind):
    born = latents.get("born", dim=6, kind=kind, seed=2)
    n = 30_000
    counts = born.sample_counts(n, generator=_gen(0)).numpy()
    states, probs = born.output_distribution()
    freq = photonics.empirical_distribution(counts, states.numpy()) * n  # every state kept
    expected = probs.detach().numpy() * n
    assert stats.chisquare(freq, expected).pvalue > ALPHA
    # the two kinds really differ (interference): the other kind's distribution is rejected
    other = output_distribution(born.unitary(), born.input_state,
                                distinguishable=kind == "quantum")[1].detach().numpy()
    assert stats.chisquare(freq, other * n / other.sum()).pvalue < 1e-6


def test_same_generator_same_samples():
    born = latents.get("born", dim=8, seed=1, circuit="1-1")
    a = born.sample_counts(100, generator=_gen(3))
    b = born.sample_counts(100, generator=_gen(3))
    c = born.sample_counts(100, generator=_gen(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.int64 and torch.all(a.sum(1) == 4)


@pytest.mark.parametrize("kind", ["quantum", "photonic"])
def test_log_prob_is_the_exact_distribution_and_differentiable(kind):
    born = latents.get("born", dim=5, kind=kind, seed=4, n_photons=2)
    states, probs = born.output_distribution()
    lp = born.log_prob(states)
    torch.testing.assert_close(lp.exp(), probs)
    (-lp[:3].sum()).backward()
    grads = [p.grad for p in born.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.parametrize("kind", ["quantum", "photonic"])
def test_centring_follows_the_current_circuit(kind):
    """normalize="center" subtracts the exact mean occupancy of the current θ: z has mean 0
    (within 5 standard errors) before and after θ moves, and the shift is E[s] of the new θ."""
    born = latents.get("born", dim=6, kind=kind, seed=7)
    raw = latents.get("born", dim=6, kind=kind, seed=7, normalize="none")
    n = 40_000
    for _ in range(2):
        z = born.sample(n, generator=_gen(1)).double()
        s = raw.sample(n, generator=_gen(1)).double()
        assert torch.all(z.mean(0).abs() <= 5 * z.std(0) / np.sqrt(n) + 1e-7)
        torch.testing.assert_close(z, s - born.shift.double())  # same draws, shifted
        states, probs = born.output_distribution()
        exact_mean = (probs[:, None] * states.double()).sum(0)
        torch.testing.assert_close(born.shift.double(), exact_mean, atol=1e-6, rtol=0)
        with torch.no_grad():  # move θ (as a training step would), in both copies
            for latent in (born, raw):
                for p in latent.parameters():
                    p.add_(0.3)
    assert not torch.allclose(born.shift, torch.zeros(6))


def test_standardize_uses_the_exact_variance():
    born = latents.get("born", dim=6, seed=8, normalize="standardize")
    z = born.sample(40_000, generator=_gen(2)).double()
    assert torch.all((z.std(0) - 1).abs() < 0.03)
    assert torch.all(z.mean(0).abs() < 5 / np.sqrt(40_000))


def test_meta_device_gives_shapes():
    born = latents.get("born", dim=6, seed=0).to("meta")
    z = born.sample(4)
    assert z.device.type == "meta" and z.shape == (4, 6)


def test_validate_accepts_and_rejects_born_parameters():
    latents.validate("born", dim=16, kind="photonic", circuit="1-3-9", n_photons=8,
                     normalize="standardize", seed=3)
    with pytest.raises(ValueError, match="dim must be >= 10 for a born latent with circuit "
                                         "'1-3-9', got 9"):
        latents.validate("born", dim=9, circuit="1-3-9")
    with pytest.raises(ValueError, match="circuit must be one of 'mesh', '1-1', '1-3-9'; got "
                                         "'haar'"):
        latents.validate("born", dim=8, circuit="haar")
    with pytest.raises(ValueError, match="kind must be one of 'quantum', 'photonic'"):
        latents.validate("born", dim=8, kind="boson")
    with pytest.raises(ValueError, match="n_photons must be <= 4"):
        latents.validate("born", dim=4, n_photons=5)
    with pytest.raises(TypeError, match="no parameter 'n_samples'"):
        latents.validate("born", dim=4, n_samples=10)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="dim must be >= 2 for a born latent with circuit "
                                         "'mesh', got 1"):
        latents.get("born", dim=1)
    with pytest.raises(ValueError, match="dim must be >= 10"):
        latents.get("born", dim=8, circuit="1-3-9")
    born = latents.get("born", dim=6, seed=0)
    with pytest.raises(ValueError, match="counts must hold the input's 3 photons in every row, "
                                         "got 2 in row 0"):
        born.log_prob(torch.tensor([[1, 1, 0, 0, 0, 0]]))
    with torch.no_grad():
        born.interferometer.theta[4] = float("nan")
    with pytest.raises(FloatingPointError, match="parameter 'theta'.*index 4"):
        born.sample(3)
