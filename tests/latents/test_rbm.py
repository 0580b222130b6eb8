"""The RBM baseline: exact log_prob, moments and samples by enumerating the hidden units
(against a brute-force sum over visible and hidden states), gradcheck, and PCD training."""

import json

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from qlatent import latents
from qlatent.data import bars_and_stripes
from qlatent.latents import RBMLatent
from qlatent.train.rbm import RBMConfig, fit_rbm


def brute_force_probs(model):
    """P(v) by summing exp(-E(v, h)) over every v and h (no free energy, no softplus)."""
    n, m = model.dim, model.n_hidden
    W, b, c = (t.detach().numpy() for t in (model.weight, model.visible_bias, model.hidden_bias))
    v = ((np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(float)
    h = ((np.arange(2**m)[:, None] >> np.arange(m - 1, -1, -1)) & 1).astype(float)
    joint = np.exp(v @ b[:, None] + (h @ c)[None, :] + v @ W.T @ h.T)     # [2^n, 2^m]
    p = joint.sum(1)
    return v, p / p.sum()


def random_rbm(n, m, seed):
    model = RBMLatent(n, n_hidden=m, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.weight.normal_(0, 0.8, generator=g)
        model.visible_bias.normal_(0, 0.5, generator=g)
        model.hidden_bias.normal_(0, 0.5, generator=g)
    return model


def test_exact_log_prob_moments_and_samples_against_brute_force():
    model = random_rbm(6, 4, 0)
    v, p = brute_force_probs(model)
    assert np.allclose(model.log_prob(v).exp().detach().numpy(), p, atol=1e-12)
    mean, _ = model.moments()
    assert np.allclose(mean.numpy(), p @ v, atol=1e-12)
    N = 40_000
    x = model.sample_counts(N, generator=torch.Generator().manual_seed(1)).numpy()
    counts = np.bincount(x @ (2 ** np.arange(5, -1, -1)), minlength=64)
    keep = N * p >= 5
    stat = ((counts[keep] - N * p[keep]) ** 2 / (N * p[keep])).sum()
    assert stat < chi2.ppf(1 - 1e-3, keep.sum() - 1)          # alpha fixed in advance


def test_gradcheck_log_prob():
    model = random_rbm(5, 3, 2)
    v = torch.tensor([[0, 1, 1, 0, 1], [1, 1, 0, 0, 0]])
    names = ("weight", "visible_bias", "hidden_bias")
    start = tuple(getattr(model, k).detach().clone().requires_grad_(True) for k in names)

    def log_prob(*tensors):
        saved = {k: getattr(model, k) for k in names}
        try:
            for k, t in zip(names, tensors, strict=True):
                delattr(model, k)
                setattr(model, k, t)
            return model.log_prob(v)
        finally:
            for k in names:
                delattr(model, k)
                model.register_parameter(k, saved[k])

    assert torch.autograd.gradcheck(log_prob, start)


def test_exact_samples_at_1024_visible_bits():
    model = latents.get("rbm", dim=1024, n_hidden=8, seed=3, normalize="none")
    x = model.sample(200, generator=torch.Generator().manual_seed(0))
    assert x.shape == (200, 1024)
    with pytest.raises(ValueError, match="n_hidden <= 16"):
        RBMLatent(10, n_hidden=17).sample(2)


def test_pcd_lowers_the_exact_nll_and_resumes_bit_identical(tmp_path):
    data = bars_and_stripes(2, 3).data                          # 10 patterns on 6 bits
    model = RBMLatent(6, n_hidden=8, seed=0)
    before = -float(model.log_prob(data).mean().detach())        # 6 ln 2 at W = 0
    config = RBMConfig(steps=300, lr=0.05, batch_size=32, n_chains=100, gibbs_steps=10,
                       log_every=100)
    fit_rbm(model, data, config, seed=0)
    after = -float(model.log_prob(data).mean().detach())
    # PCD's chains mix slowly between the patterns: 300 steps reach about 3.6 nats here (exact
    # NLL gradients reach 2.3, the target's entropy ln 10, in the same steps)
    assert after < before - 0.4 and after > np.log(10) - 1e-9
    a, b = RBMLatent(6, n_hidden=8, seed=0), RBMLatent(6, n_hidden=8, seed=0)
    short = config.replace(steps=20, checkpoint_every=10, log_every=5)
    fit_rbm(a, data, short, seed=1, run_dir=tmp_path / "whole")
    fit_rbm(b, data, short.replace(steps=10), seed=1, run_dir=tmp_path / "split")
    result = fit_rbm(b, data, short, seed=1, run_dir=tmp_path / "split")
    assert result.resumed_from == 10
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    rows = [json.loads(r) for r in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
