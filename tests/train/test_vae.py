"""The discrete VAE (``models.vae``, ``train.vae``): exact references by enumerating every
latent state (and every data vector on tiny models)."""

import math

import pytest
import torch

from qlatent import latents
from qlatent.models.vae import DiscreteVAE
from qlatent.quantum.qubits import basis_bits
from qlatent.train.vae import VAEConfig, elbo, fit_vae, relaxed_bernoulli


def _tiny(prior_name="bm", data_dim=4, n=3, seed=0):
    prior = latents.get(prior_name, dim=n, seed=seed)
    return DiscreteVAE(data_dim, n, prior, hidden=(8,),
                       generator=torch.Generator().manual_seed(seed))


def test_exact_log_prob_is_a_distribution_over_all_data_vectors():
    model = _tiny()
    x = basis_bits(4)
    assert float(torch.logsumexp(model.exact_log_prob(x), 0)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("prior_name", ["bm", "qbm", "bernoulli_fit"])
def test_iwae_below_exact_and_approaches_it(prior_name):
    model = _tiny(prior_name)
    with torch.no_grad():  # a decoder that depends strongly on z: a wide ELBO gap
        for p in model.decoder.parameters():
            p.mul_(4.0)
    x = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 1]])
    exact = model.exact_log_prob(x)
    with torch.no_grad():  # the ELBO, exactly over the 2^n states
        logits = model.encode(x.float())
        log_q = model.posterior_log_probs(logits)
        log_px_z = model.decoder_log_prob(x.float()[None], model.states[:, None, :]).double()
        exact_elbo = (log_q.exp().T * log_px_z).sum(0) - model.kl_to_prior(
            logits, model.prior_log_probs())
    gap = exact - exact_elbo
    assert bool((gap > 0.05).all()), gap
    g = torch.Generator().manual_seed(1)
    means, ses = {}, {}
    for k, reps in ((1, 4000), (10, 1000), (1000, 40)):
        est = model.iwae(x.repeat(reps, 1), k=k, generator=g).view(reps, 2)
        means[k], ses[k] = est.mean(0), est.std(0) / math.sqrt(reps)
        assert bool((means[k] <= exact + 4 * ses[k] + 1e-9).all()), (k, means[k], exact)
    # k = 1 is the ELBO; the bound rises with k and closes the gap at k = 1000
    assert bool(((means[1] - exact_elbo).abs() < 4 * ses[1]).all()), (means[1], exact_elbo)
    assert bool((means[1] + 4 * ses[1] < means[10] - 4 * ses[10]).all())
    assert bool((exact - means[1000] < 0.05 * gap).all()), (means[1000], exact, gap)


def test_kl_matches_a_direct_sum_and_its_gradient_matches_finite_differences():
    model = _tiny("bernoulli_fit").double()
    logits = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2),
                         requires_grad=True)
    log_prior = model.prior_log_probs().detach()
    q = torch.sigmoid(logits.detach()).tolist()
    direct = []
    for b in range(2):
        total = 0.0
        for i, st in enumerate(model.states.tolist()):
            qs = math.prod(q[b][j] if bit else 1 - q[b][j] for j, bit in enumerate(st))
            total += qs * (math.log(qs) - float(log_prior[i]))
        direct.append(total)
    direct = torch.tensor(direct, dtype=torch.float64)
    assert torch.allclose(model.kl_to_prior(logits, log_prior), direct, atol=1e-12)
    assert torch.autograd.gradcheck(lambda lg: model.kl_to_prior(lg, log_prior),
                                    (logits,))


def test_relaxed_sample_is_bernoulli_forward_and_has_finite_gradients():
    logits = torch.tensor([[-1.0, 0.0, 2.0]]).repeat(20000, 1).requires_grad_(True)
    z = relaxed_bernoulli(logits, 0.5, generator=torch.Generator().manual_seed(0))
    assert set(z.detach().unique().tolist()) <= {0.0, 1.0}
    p = torch.sigmoid(logits[0]).detach()
    se = (p * (1 - p) / 20000).sqrt()
    assert bool(((z.detach().mean(0) - p).abs() < 4 * se).all())
    z.sum().backward()
    assert bool(torch.isfinite(logits.grad).all()) and float(logits.grad.abs().sum()) > 0


@pytest.mark.parametrize("prior_name", ["qbm", "bm", "bernoulli_fit"])
def test_elbo_gradients_finite_in_every_parameter(prior_name):
    model = _tiny(prior_name)
    x = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 1], [1, 1, 1, 1]]).float()
    elbo(model, x, generator=torch.Generator().manual_seed(0)).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), name
    assert float(model.prior.biases.grad.abs().sum() if prior_name != "bernoulli_fit"
                 else next(model.prior.parameters()).grad.abs().sum()) > 0


def test_bad_inputs_are_one_line_errors():
    prior = latents.get("bm", dim=5, seed=0)
    with pytest.raises(ValueError, match=r"prior must have dim 4 \(the encoder's latent_dim\), "
                                         r"got a BoltzmannLatent of dim 5"):
        DiscreteVAE(6, 4, prior)
    with pytest.raises(TypeError, match="prior must be a latent with dim and an exact log_prob"):
        DiscreteVAE(6, 4, torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="latent_dim must be <= 12, got 13"):
        DiscreteVAE(6, 13, prior)
    model = _tiny()
    one = VAEConfig(steps=1)
    with pytest.raises(ValueError, match=r"data must have shape \(B, 4\) with B >= 1"):
        fit_vae(model, torch.zeros(3, 5), one, seed=0)
    with pytest.raises(ValueError, match="data must hold only 0/1 values, got 2"):
        fit_vae(model, torch.full((3, 4), 2), one, seed=0)
    with pytest.raises(ValueError, match="temperature must be > 0, got 0.0"):
        VAEConfig(temperature=0.0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        fit_vae(model, torch.zeros(3, 4), one, seed=torch.Generator())
    with pytest.raises(TypeError, match="config must be a VAEConfig, got dict"):
        fit_vae(model, torch.zeros(3, 4), {"steps": 1}, seed=0)

    class Exploding(DiscreteVAE):  # a decoder whose log-likelihood is -inf
        def decoder_log_prob(self, x, z):
            return super().decoder_log_prob(x, z) - float("inf")

    prior = latents.get("bm", dim=3, seed=0)
    bad = Exploding(4, 3, prior, hidden=(8,), generator=torch.Generator().manual_seed(0))
    with pytest.raises(FloatingPointError, match="the negative ELBO turned non-finite .* at "
                                                 "step 1"):
        fit_vae(bad, torch.zeros(3, 4), one, seed=0)
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        model.iwae(torch.zeros(3, 4), k=0)


def test_short_training_lowers_test_nll_and_is_reproducible():
    pytest.importorskip("sklearn")
    from qlatent.data import binarized_digits

    bits = torch.as_tensor(binarized_digits().data[:600]).float()
    train, test = bits[:500], bits[500:]

    def run(steps):
        prior = latents.get("bm", n_units=4, seed=0)
        model = DiscreteVAE(64, 4, prior, hidden=(32,),
                            generator=torch.Generator().manual_seed(0))
        before = -float(model.exact_log_prob(test).mean())
        fit = fit_vae(model, train, VAEConfig(steps=steps, batch_size=32, lr=3e-3, log_every=5),
                      seed=1)
        return before, -float(model.exact_log_prob(test).mean()), fit

    before, after, _ = run(80)
    assert after < before - 5.0, (before, after)
    assert [r["elbo"] for r in run(10)[2].history] == [r["elbo"] for r in run(10)[2].history]


class Stop(Exception):
    pass


def test_resume_is_bit_identical(tmp_path):
    """Stopped by a callback after step 7 (checkpoints every 3: resumes from 6), then run
    again from a fresh model on the same run directory: the final weights (prior included),
    the log and the test ELBOs equal an uninterrupted run's exactly."""
    data = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 1]]).float()
    config = VAEConfig(steps=12, batch_size=4, lr=1e-2, log_every=2, checkpoint_every=3)
    whole = _tiny()
    full = fit_vae(whole, data, config, seed=2, test_data=data, run_dir=tmp_path / "a")

    def stop(step, info):
        if step == 7:
            raise Stop

    with pytest.raises(Stop):
        fit_vae(_tiny(), data, config, seed=2, test_data=data, run_dir=tmp_path / "b",
                callbacks=[stop])
    again = _tiny()
    res = fit_vae(again, data, config, seed=2, test_data=data, run_dir=tmp_path / "b")
    assert res.resumed_from == 6
    for (name, a), b in zip(whole.state_dict().items(), again.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    assert [(r["step"], r["elbo"]) for r in res.history] == [(r["step"], r["elbo"])
                                                             for r in full.history]
    assert res.extra["test_elbo"] == full.extra["test_elbo"] and len(full.extra["test_elbo"]) == 6
    assert not torch.equal(whole.prior.couplings, _tiny().prior.couplings)  # the prior trained
