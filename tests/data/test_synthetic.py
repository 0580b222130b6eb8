import math

import numpy as np
import pytest
import torch

from qlatent.data import BernoulliData, BosonData, SevenGaussians
from qlatent.photonics import haar_unitary
from qlatent.photonics.sampler import exact_distribution, standard_input


def _g(seed):
    return torch.Generator().manual_seed(seed)


def test_seven_gaussians_polar_statistics():
    data = SevenGaussians()
    n = 70_000
    x = data.sample(n, generator=_g(0)).double().numpy()
    assert x.shape == (n, 2)
    r = np.hypot(x[:, 0], x[:, 1])
    theta = np.arctan2(x[:, 1], x[:, 0])
    k = np.round(theta / (2 * np.pi / 7)) % 7
    d_theta = np.angle(np.exp(1j * (theta - 2 * np.pi * k / 7)))
    # Tolerances fixed in advance: 5 standard errors.
    assert abs(r.mean() - 5.0) < 5 * 0.2 / math.sqrt(n)
    assert abs(r.std() - 0.2) < 5 * 0.2 / math.sqrt(2 * n)
    assert abs(d_theta.std() - 0.05) < 5 * 0.05 / math.sqrt(2 * n)
    counts = np.bincount(k.astype(int), minlength=7)
    p = 1 / 7
    assert np.all(np.abs(counts / n - p) < 5 * math.sqrt(p * (1 - p) / n))


def test_seven_gaussians_seeded():
    data = SevenGaussians()
    assert torch.equal(data.sample(10, generator=_g(1)), data.sample(10, generator=_g(1)))
    assert not torch.equal(data.sample(10, generator=_g(1)), data.sample(10, generator=_g(2)))


def test_bernoulli_data():
    x = BernoulliData(16).sample(20_000, generator=_g(0))
    assert x.dtype == torch.float32 and x.shape == (20_000, 16)
    assert set(x.unique().tolist()) == {0.0, 1.0}
    assert abs(x.mean().item() - 0.5) < 5 * 0.5 / math.sqrt(x.numel())


def test_boson_data_matches_exact_distribution():
    m, n, N = 4, 2, 40_000
    data = BosonData(n_modes=m, n_photons=n, seed=11, n_samples=N)
    assert data.bank.shape == (N, m)
    assert torch.all(data.bank.sum(1) == n)
    # Its own unitary from the seed; bank frequencies vs exact probabilities.
    states, probs = exact_distribution(data.unitary, standard_input(m, n))
    bank = data.bank.numpy().astype(np.int64)
    index = {tuple(s): i for i, s in enumerate(states.tolist())}
    freq = np.bincount([index[tuple(row)] for row in bank.tolist()], minlength=len(states)) / N
    tvd = 0.5 * np.abs(freq - probs).sum()
    assert tvd < 3 * math.sqrt(len(states) / N)  # fixed in advance: k / sqrt(N)
    x = data.sample(1000, generator=_g(0))
    assert x.shape == (1000, m) and torch.all(x.sum(1) == n)


def test_boson_data_seeded():
    a = BosonData(n_modes=6, n_photons=3, seed=5, n_samples=500)
    b = BosonData(n_modes=6, n_photons=3, seed=5, n_samples=500)
    c = BosonData(n_modes=6, n_photons=3, seed=6, n_samples=500)
    assert a.bank_digest == b.bank_digest != c.bank_digest
    assert not np.allclose(a.unitary, haar_unitary(6, rng=5))  # spawned stream, not the seed


def test_boson_data_is_a_quantum_bank():
    """One sampling path: the data's rows and unitary are those of the bank of its request,
    and a Generator, a SeedSequence or an int seed of the same stream give the same data."""
    from qlatent import latents

    data = BosonData(n_modes=6, n_photons=3, seed=np.random.SeedSequence(9), n_samples=700)
    bank = latents.load_bank(data.bank_digest)
    assert bank.kind == "quantum" and bank.n_samples == 700 and bank.metadata["circuit"] == "haar"
    np.testing.assert_array_equal(data.bank.numpy(), bank.samples)
    np.testing.assert_array_equal(data.unitary, bank.unitary)
    assert BosonData(n_modes=6, n_photons=3, seed=9, n_samples=700).bank_digest == \
        data.bank_digest


@pytest.mark.parametrize("make, match", [
    (lambda: SevenGaussians(radius=-1), "radius"),
    (lambda: BernoulliData(0), "dim"),
    (lambda: BosonData(n_modes=4, n_photons=5, n_samples=10), "n_photons"),
])
def test_validation(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_sample_validates():
    with pytest.raises(TypeError, match="generator"):
        SevenGaussians().sample(3, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="n"):
        BernoulliData().sample(-1)
