import math

import numpy as np
import pytest
import torch

import qlatent as ql
from qlatent.data import EmpiricalData
from qlatent.models import MLP, BitGenerator


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_outputs_bits_with_the_probabilities_of_the_logits():
    G = BitGenerator(3, 6, hidden=(8,), generator=_gen(0))
    z = torch.randn(1, 3, generator=_gen(1)).expand(40_000, 3)
    bits = G(z, generator=_gen(2)).detach()
    assert set(torch.unique(bits).tolist()) <= {0.0, 1.0}
    p = G.probabilities(z[:1]).detach()[0].double()
    freq = bits.double().mean(0)
    # each frequency within 5 standard errors of its Bernoulli mean (fixed before the draw)
    se = torch.sqrt(p * (1 - p) / len(z))
    assert torch.all((freq - p).abs() <= 5 * se + 1e-12), (freq, p)


def test_straight_through_gradient_is_the_sigmoids():
    G = BitGenerator(3, 5, hidden=(8,), generator=_gen(0))
    z = torch.randn(16, 3, generator=_gen(1))
    c = torch.randn(16, 5, generator=_gen(2))
    params = list(G.parameters())
    g_bits = torch.autograd.grad((c * G(z, generator=_gen(3))).sum(), params)
    g_sigmoid = torch.autograd.grad((c * G.probabilities(z)).sum(), params)
    for a, b in zip(g_bits, g_sigmoid, strict=True):
        torch.testing.assert_close(a, b)


def test_same_generator_same_bits():
    G = BitGenerator(2, 4, generator=_gen(0))
    z = torch.randn(10, 2, generator=_gen(1))
    assert torch.equal(G(z, generator=_gen(5)), G(z, generator=_gen(5)))
    assert torch.equal(BitGenerator(2, 4, generator=_gen(0)).net.net[0].weight,
                       G.net.net[0].weight)


def test_bad_input():
    with pytest.raises(ValueError, match="n_bits"):
        BitGenerator(2, 0)
    G = BitGenerator(2, 4, generator=_gen(0))
    with pytest.raises(ValueError, match=r"z must have shape \[B, 2\]"):
        G(torch.zeros(3, 5))
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        G(torch.zeros(3, 2), generator=7)


def test_trained_by_fit_on_bit_data():
    # data: bit 0 is 1 in 90 % of the rows, bit 1 in 10 %; fit pulls the generator's
    # frequencies (about 1/2 at initialisation) towards them through the straight-through path
    rows = np.array([[1, 0]] * 9 + [[0, 1]], dtype=np.uint8)
    G = BitGenerator(2, 2, hidden=(16,), generator=_gen(0))
    D = MLP(2, 1, hidden=(16,), generator=_gen(1))
    latent = ql.latents.get("gaussian", dim=2)
    config = ql.train.Config(steps=100, batch_size=64, n_critic=2, lr=5e-3, log_every=50)
    z = torch.randn(4000, 2, generator=_gen(2))
    before = G(z, generator=_gen(3)).detach().mean(0)
    ql.train.fit(G, D, latent, EmpiricalData(rows), config, seed=0)
    after = G(z, generator=_gen(3)).detach().mean(0)
    assert abs(before[0] - 0.5) < 0.2 and abs(before[1] - 0.5) < 0.2
    assert after[0] > 0.75 and after[1] < 0.25, (before, after)


def test_empirical_data_draws_rows_uniformly():
    rows = torch.arange(12.0).reshape(4, 3)
    data = EmpiricalData(rows)
    x = data.sample(4000, generator=_gen(0))
    assert x.shape == (4000, 3) and x.dtype == torch.float32
    counts = torch.bincount((x[:, 0] / 3).long(), minlength=4).double()
    assert torch.all((counts - 1000).abs() < 5 * math.sqrt(4000 * 0.25 * 0.75))
    assert torch.equal(data.sample(7, generator=_gen(1)), data.sample(7, generator=_gen(1)))
    for bad, error in [(np.zeros((0, 3)), ValueError), (np.zeros(3), ValueError),
                       (np.array([["a"]]), TypeError), (np.array([[np.nan]]), ValueError)]:
        with pytest.raises(error, match="rows"):
            EmpiricalData(bad)
