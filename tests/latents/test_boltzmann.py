"""BoltzmannLatent ("qbm", "bm"): the registry, exact probabilities, gradients by finite
differences, training by the exact NLL and by Amin's bound, exact sampling, bad input."""

import numpy as np
import pytest
import scipy.stats
import torch

from qlatent import latents
from qlatent.data import bars_and_stripes
from qlatent.latents import BoltzmannLatent
from qlatent.quantum import ising_reference as reference
from qlatent.quantum import qubits
from qlatent.train.likelihood import Adam, Bound, LikelihoodConfig, fit_distribution


def bas(rows, cols):
    """Every bars-and-stripes image once (row-major, most significant bit first): int64 Tensor."""
    return torch.from_numpy(bars_and_stripes(rows, cols).data.astype(np.int64))


def _kl_uniform(model, data):
    """KL(uniform on the rows of data || model) = -log |data| - mean log p."""
    with torch.no_grad():
        return float(-np.log(len(data)) - model.log_prob(data).mean())


def test_registry_builds_both_kinds_with_named_parameters():
    qbm = latents.get("qbm", n_units=9, gamma=1.0, normalize="none", seed=0)
    bm = latents.get("bm", n_units=9, seed=0)
    assert isinstance(qbm, BoltzmannLatent) and qbm.dim == qbm.n_units == 9
    assert dict(qbm.named_parameters()).keys() == {"biases", "couplings", "gamma_raw"}
    assert dict(bm.named_parameters()).keys() == {"biases", "couplings"}
    assert qbm.couplings.shape == (36,)
    assert float(qbm.gamma().detach()) == pytest.approx(1.0, abs=1e-15)
    assert float(bm.gamma()) == 0.0
    W = qbm.coupling_matrix()
    assert torch.equal(W, W.T) and torch.all(W.diagonal() == 0)
    # same seed, same initial biases and couplings
    torch.testing.assert_close(qbm.biases, bm.biases)
    assert latents.get("qbm", dim=5, seed=1).dim == 5
    latents.validate("qbm", n_units=9, gamma=0.5)
    assert {"n_units", "gamma", "normalize", "seed"} <= set(latents.parameters("qbm"))


@pytest.mark.parametrize("kind", ["qbm", "bm"])
def test_probabilities_equal_the_reference(kind):
    latent = latents.get(kind, n_units=4, gamma=0.8 if kind == "qbm" else 0.0, seed=2)
    b = latent.biases.detach().numpy()
    W = latent.coupling_matrix().detach().numpy()
    states, probs = latent.output_distribution()
    if kind == "qbm":
        expected, _ = reference.probabilities(b, W, 0.8)
    else:
        expected = reference.classical_probabilities(b, W)
    np.testing.assert_allclose(probs.detach().numpy(), expected, rtol=1e-10)
    torch.testing.assert_close(latent.log_prob(states).exp(), probs)


def _check_gradient_by_finite_differences(latent, data, h=1e-6):
    sizes = [p.numel() for p in latent.parameters()]

    def nll(flat):
        with torch.no_grad():
            for p, chunk in zip(latent.parameters(), torch.split(flat, sizes), strict=True):
                p.copy_(chunk.reshape(p.shape))
        return -latent.log_prob(data).mean()

    flat = torch.cat([p.detach().reshape(-1) for p in latent.parameters()])
    latent.zero_grad()
    nll(flat).backward()
    grad = torch.cat([p.grad.reshape(-1) for p in latent.parameters()])
    assert torch.isfinite(grad).all()
    fd = torch.stack([(nll(flat + h * e) - nll(flat - h * e)).detach() / (2 * h)
                      for e in torch.eye(len(flat), dtype=torch.float64)])
    nll(flat)  # restore the parameters
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-8)
    return grad


def test_log_prob_gradients_equal_finite_differences_of_named_parameters():
    _check_gradient_by_finite_differences(latents.get("qbm", n_units=4, gamma=0.7, seed=3),
                                          bas(2, 2))


def test_gradients_at_zero_biases_and_couplings():
    # The degenerate point that breaks autograd through eigh: H = -Γ sum σˣ, eigenvalues
    # Γ(n - 2k) with multiplicity C(n, k).
    latent = latents.get("qbm", n_units=3, gamma=0.5, seed=0)
    with torch.no_grad():
        latent.biases.zero_()
        latent.couplings.zero_()
    grad = _check_gradient_by_finite_differences(latent, torch.tensor([[0, 1, 1], [1, 1, 1]]))
    # unit 0 is 0 and 1 once each (its mean spin matches the model's 0); units 1, 2 agree
    assert abs(float(grad[0])) < 1e-12 and float(grad[1]) == pytest.approx(float(grad[2]))


@pytest.mark.parametrize("kind", ["qbm", "bm"])
def test_exact_nll_training_on_bars_and_stripes(kind):
    data = bas(2, 3)  # 6 units, 10 patterns
    latent = latents.get(kind, n_units=6, seed=0)
    before = _kl_uniform(latent, data)
    gamma0 = float(latent.gamma().detach())
    fit_distribution(latent, data, LikelihoodConfig(steps=60, optimizer=Adam(lr=0.1),
                                                    batch_size=None), seed=0)
    after = _kl_uniform(latent, data)
    assert after < 0.5 * before, (before, after)
    if kind == "qbm":  # Γ is a parameter of the exact likelihood
        assert float(latent.gamma().detach()) != gamma0 and float(latent.gamma().detach()) > 0


def test_bound_training_moves_biases_and_couplings_but_not_gamma():
    data = bas(2, 2)
    latent = latents.get("qbm", n_units=4, gamma=0.5, seed=1)
    gamma0 = latent.gamma_raw.detach().clone()
    bound0 = float(latent.bound_loss(data).detach())
    fit_distribution(latent, data, LikelihoodConfig(steps=40, loss=Bound(),
                                                    optimizer=Adam(lr=0.1), batch_size=None),
                     seed=0)
    assert torch.equal(latent.gamma_raw.detach(), gamma0)
    assert float(latent.bound_loss(data).detach()) < bound0 - 0.3
    # the bound is above the exact NLL
    with torch.no_grad():
        assert float(latent.bound_loss(data)) >= float(-latent.log_prob(data).mean()) - 1e-12


def test_samples_follow_the_current_parameters_and_normalisation():
    latent = latents.get("qbm", n_units=3, gamma=1.0, normalize="none", seed=4)
    with torch.no_grad():
        latent.biases.copy_(torch.tensor([1.0, -0.5, 0.2]))
    N = 30_000
    bits = latent.sample_counts(N, generator=torch.Generator().manual_seed(0))
    states, probs = latent.output_distribution()
    counts = np.bincount(qubits.bits_to_index(bits).numpy(), minlength=8)
    assert scipy.stats.chisquare(counts, N * probs.detach().numpy()).pvalue > 1e-3
    # the cached Gibbs state follows a parameter change
    with torch.no_grad():
        latent.biases.copy_(torch.tensor([-3.0, -3.0, -3.0]))
    assert latent.sample_counts(2000, generator=torch.Generator().manual_seed(0)).float().mean() \
        < 0.2
    # standardize: (v - <v>) / sqrt(<v>(1 - <v>)) with the exact moments
    std = latents.get("qbm", n_units=3, gamma=1.0, normalize="standardize", seed=4)
    z = std.sample(N, generator=torch.Generator().manual_seed(1)).double()
    assert torch.all(z.mean(0).abs() < 5 / np.sqrt(N)) and torch.all((z.std(0) - 1).abs() < 0.03)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"n_units must be <= 12 .*128 MiB.*got 13"):
        latents.get("qbm", n_units=13)
    with pytest.raises(ValueError, match=r"n_units must be <= 12"):
        latents.validate("bm", n_units=20)
    with pytest.raises(ValueError, match="gamma must be >= 0 .*got -1.0"):
        latents.get("qbm", n_units=4, gamma=-1.0)
    with pytest.raises(ValueError, match="gamma must be > 0 for latent 'qbm'.*use 'bm'"):
        latents.get("qbm", n_units=4, gamma=0.0)
    with pytest.raises(ValueError, match="gamma must be 0 for latent 'bm'"):
        latents.validate("bm", n_units=4, gamma=0.5)
    with pytest.raises(ValueError, match="n_units and dim must agree"):
        latents.get("bm", n_units=4, dim=5)
    latent = latents.get("qbm", n_units=4, seed=0)
    with pytest.raises(ValueError, match=r"bits must have shape \(B, 4\), got \(2, 9\)"):
        latent.log_prob(torch.zeros(2, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"data must have 4 columns \(the model's dim\), got "
                                         r"shape \(14, 9\)"):
        fit_distribution(latent, bas(3, 3), LikelihoodConfig(steps=1), seed=0)
    with pytest.raises(ValueError, match="bits must hold only 0/1 values, got "):
        latent.log_prob(torch.tensor([[0, 1, 3, 0]]))
    with pytest.raises(TypeError, match=r"loss Bound\(\) needs model.bound_loss"):
        fit_distribution(latents.get("born", dim=4, seed=0), [[1, 1, 0, 0]],
                         LikelihoodConfig(steps=1, loss=Bound()), seed=0)
