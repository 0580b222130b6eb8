"""The trained classical control ``multinomial``: log_prob against scipy's multinomial pmf (an
independent computation), sampling against the exact probabilities (chi-square over every
state, α = 1e-3 fixed in advance), normalisation, bad input."""

import numpy as np
import pytest
import torch
from scipy import stats

from qlatent import latents
from qlatent.photonics.reference import fock_states


def _latent(dim=4, n=3, logits=(0.4, -1.0, 0.2, 0.9), **kw):
    lat = latents.get("multinomial", dim=dim, n_photons=n, **kw)
    with torch.no_grad():
        lat.logits.copy_(torch.tensor(logits, dtype=torch.float64))
    return lat


def test_log_prob_matches_scipy_and_sums_to_one():
    lat = _latent()
    states = torch.as_tensor(fock_states(4, 3))
    p = lat.probabilities().detach().numpy()
    expected = stats.multinomial.logpmf(states.numpy(), n=3, p=p)
    got = lat.log_prob(states)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    assert abs(float(got.exp().sum().detach()) - 1.0) < 1e-12


def test_log_prob_gradient_against_finite_differences():
    lat = _latent()
    counts = torch.as_tensor(fock_states(4, 3))[:7]
    w0 = lat.logits.detach().clone()
    (grad,) = torch.autograd.grad(lat.log_prob(counts).sum(), lat.logits)
    h, fd = 1e-6, torch.zeros(4, dtype=torch.float64)
    for i in range(4):
        values = []
        for sign in (1, -1):
            with torch.no_grad():
                lat.logits.copy_(w0)
                lat.logits[i] += sign * h
            values.append(float(lat.log_prob(counts).sum().detach()))
        fd[i] = (values[0] - values[1]) / (2 * h)
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-8)


def test_samples_follow_the_exact_distribution():
    lat = _latent()
    states = fock_states(4, 3)
    probs = lat.log_prob(torch.as_tensor(states)).exp().detach().numpy()
    n = 60_000
    counts = lat.sample_counts(n, generator=torch.Generator().manual_seed(1)).numpy()
    assert (counts.sum(1) == 3).all()
    index = {tuple(s): i for i, s in enumerate(states)}
    observed = np.bincount([index[tuple(c)] for c in counts], minlength=len(states))
    chi2, pvalue = stats.chisquare(observed, probs * n)
    assert pvalue > 1e-3, (chi2, pvalue)


def test_centring_uses_the_exact_current_mean():
    lat = _latent(normalize="center")
    p = lat.probabilities().detach().float()
    torch.testing.assert_close(lat.shift, 3 * p)
    std = _latent(normalize="standardize")
    counts = torch.as_tensor(fock_states(4, 3))
    z = std.normalized(counts)
    torch.testing.assert_close(z, (counts.float() - 3 * p) / torch.sqrt(3 * p * (1 - p)))


def test_starts_uniform_and_draws_are_deterministic():
    lat = latents.get("multinomial", dim=5, seed=0)
    assert lat.n_photons == 2
    torch.testing.assert_close(lat.probabilities(), torch.full((5,), 0.2, dtype=torch.float64))
    a = lat.sample_counts(50, generator=torch.Generator().manual_seed(3))
    b = lat.sample_counts(50, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_bad_input():
    with pytest.raises(ValueError, match="dim must be >= 2"):
        latents.get("multinomial", dim=1)
    with pytest.raises(ValueError, match="n_photons must be >= 1"):
        latents.get("multinomial", dim=4, n_photons=0)
    with pytest.raises(ValueError, match="normalize must be one of"):
        latents.validate("multinomial", dim=4, normalize="centre")
    lat = latents.get("multinomial", dim=4, n_photons=2)
    with pytest.raises(ValueError, match="sum to n_photons = 2 .* summing to 3"):
        lat.log_prob(torch.tensor([[1, 1, 1, 0]]))
    with pytest.raises(ValueError, match=r"shape \[B, 4\]"):
        lat.log_prob(torch.tensor([[1, 1, 0]]))
    with pytest.raises(TypeError, match="integers"):
        lat.log_prob(torch.tensor([[1.0, 1.0, 0.0, 0.0]]))
    with pytest.raises(TypeError, match="takes no parameter 'circuit'"):
        latents.get("multinomial", dim=4, circuit="haar")
