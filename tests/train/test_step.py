import pytest
import torch
import torch.nn.functional as F
from torch import nn

from qlatent.latents import get
from qlatent.models import MLP
from qlatent.train import (
    Adversaries,
    Config,
    PackState,
    RandomStreams,
    StepLosses,
    gradient_penalty,
    interpolate,
    training_step,
)
from qlatent.train import step as step_module


class Linear2(nn.Module):
    """D(x) = w·x + b, whose input gradient is w everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x @ self.w + 1.0


def test_gradient_penalty_linear_critic():
    critic = Linear2([3.0, 4.0])  # ‖∇D‖ = 5 everywhere -> (5 - 1)² = 16
    real, fake = torch.randn(7, 2), torch.randn(7, 2)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx(16.0)
    gp.backward()  # d/dw (‖w‖ - 1)² = 2 (‖w‖ - 1) w / ‖w‖ = 2·4·(3, 4)/5
    torch.testing.assert_close(critic.w.grad, torch.tensor([4.8, 6.4]))


def test_gradient_penalty_quadratic_critic_by_hand():
    critic = lambda x: (x ** 2).sum(1)  # noqa: E731  ∇D(x̂) = 2x̂
    real = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    fake = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    eps = torch.tensor([0.5, 0.25])  # x̂ = (0.5, 0), (0, 0.5) -> ‖2x̂‖ = 1, 1
    assert gradient_penalty(critic, real, fake, epsilon=eps).item() == pytest.approx(0.0)
    eps = torch.tensor([1.0, 1.0])  # x̂ = real -> norms 2, 4 -> ((1)² + (3)²)/2 = 5
    assert gradient_penalty(critic, real, fake, epsilon=eps).item() == pytest.approx(5.0)


class TupleCritic(nn.Module):
    """D((a, b)) = w·a + Σ V∘b: one gradient norm over both tensors, sqrt(‖w‖² + ‖V‖²)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0, 2.0]))
        self.V = nn.Parameter(torch.tensor([[2.0, 0.0], [0.0, 4.0]]))

    def forward(self, x):
        a, b = x
        return a @ self.w + (b * self.V).sum((1, 2))


def test_gradient_penalty_tuple_one_norm_per_sample():
    real = (torch.randn(5, 2), torch.randn(5, 2, 2))
    fake = (torch.randn(5, 2), torch.randn(5, 2, 2))
    gp = gradient_penalty(TupleCritic(), real, fake, generator=torch.Generator().manual_seed(1))
    assert gp.item() == pytest.approx((5.0 - 1.0) ** 2)  # sqrt(1 + 4 + 4 + 16) = 5


def test_interpolate_uses_one_epsilon_per_sample_for_all_tensors():
    real = (torch.ones(3, 2), torch.ones(3, 2, 2))
    fake = (torch.zeros(3, 2), torch.zeros(3, 2, 2))
    eps = torch.tensor([0.0, 0.5, 1.0])
    a, b = interpolate(real, fake, eps)
    torch.testing.assert_close(a, eps[:, None].expand(3, 2))
    torch.testing.assert_close(b, eps[:, None, None].expand(3, 2, 2))


class Cloud:
    """Real data: a 2-D Gaussian cloud around (1, -1)."""

    def sample(self, n, *, generator):
        return torch.tensor([1.0, -1.0]) + 0.3 * torch.randn(n, 2, generator=generator)


def one_step(adversaries, latent, data, streams, config, state=None):
    """One run's step: a member axis of one."""
    return training_step(adversaries, [latent], [data], [streams], config,
                         state or PackState(1), 1)


def _gan(seed=0):
    g = torch.Generator().manual_seed(seed)
    return MLP(3, 2, hidden=(16, 16), generator=g), MLP(2, 1, hidden=(16, 16), generator=g)


def reference_step(G, D, opt_g, opt_d, latent, data, streams, config):
    """One step written the plain way: separate D calls, ``backward()``, the penalty inline."""
    B, k, lam = config.batch_size, config.n_critic, config.gp_weight
    wgan = config.loss == "wgan-gp"
    z = latent.sample((1 + k) * B, generator=streams.latent)
    real = data.sample(k * B, generator=streams.data)
    eps = torch.rand(k, B, generator=streams.epsilon) if lam > 0 else None
    for i in range(k):
        r = real[i * B:(i + 1) * B]
        with torch.no_grad():
            f = G(z[i * B:(i + 1) * B])
        d_r, d_f = D(r)[:, 0], D(f)[:, 0]
        loss_d = (d_f.mean() - d_r.mean() if wgan
                  else -F.logsigmoid(d_r).mean() - F.logsigmoid(-d_f).mean())
        gp = torch.tensor(0.0)
        if lam > 0:
            e = eps[i][:, None]
            x = (e * r + (1 - e) * f).requires_grad_(True)
            (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
            gp = ((grad.norm(dim=1) - 1) ** 2).mean()
            loss_d = loss_d + lam * gp
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
    d_g = D(G(z[k * B:]))[:, 0]
    loss_g = -d_g.mean() if wgan else -F.logsigmoid(d_g).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return [loss_d.item(), loss_g.item(), gp.item(), (d_r.mean() - d_f.mean()).item()]


@pytest.mark.parametrize("loss, gp_weight", [
    ("wgan-gp", 10.0), ("nonsaturating", 10.0), ("wgan-gp", 0.0)])
def test_training_step_matches_a_plain_reference(loss, gp_weight):
    # Plain SGD on both sides: Adam's and RMSprop's first steps are lr·sign(g), which turns
    # rounding-level differences of near-zero gradients into differences of size lr.
    config = Config(batch_size=16, n_critic=3, loss=loss, gp_weight=gp_weight)
    latent, data = get("gaussian", dim=3), Cloud()
    G, D = _gan()
    adversaries = Adversaries(G, D, config)
    adversaries.opt_generator = torch.optim.SGD(adversaries.generator_params, lr=0.01)
    adversaries.opt_critic = torch.optim.SGD(adversaries.critic_params, lr=0.01)
    streams = RandomStreams(8)
    G_ref, D_ref = _gan()
    opt_g = torch.optim.SGD(G_ref.parameters(), lr=0.01)
    opt_d = torch.optim.SGD(D_ref.parameters(), lr=0.01)
    streams_ref = RandomStreams(8)
    for _ in range(4):
        losses = one_step(adversaries, latent, data, streams, config)
        expected = reference_step(G_ref, D_ref, opt_g, opt_d, latent, data, streams_ref, config)
        assert losses.stacked()[:, 0].tolist() == pytest.approx(expected, rel=1e-4, abs=1e-5)
    for fast, slow in ((G, G_ref), (D, D_ref)):
        for p, q in zip(fast.parameters(), slow.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    moved = [(p - q).abs().max().item() for p, q in zip(G.parameters(), _gan()[0].parameters(),
                                                        strict=True)]
    assert max(moved) > 100 * 1e-5  # it trained, far beyond the tolerance


def test_training_step_calls_the_tested_gradient_penalty(monkeypatch):
    calls = []

    def spy(critic, real, fake, **kwargs):
        calls.append(kwargs["epsilon"].shape)
        return gradient_penalty(critic, real, fake, **kwargs)

    monkeypatch.setattr(step_module, "gradient_penalty", spy)
    config = Config(batch_size=8, n_critic=3)
    one_step(Adversaries(*_gan(), config), get("gaussian", dim=3), Cloud(), RandomStreams(0),
             config)
    assert calls == [(1, 8)] * 3  # one member, 8 weights each
    calls.clear()
    config = config.replace(gp_weight=0.0)
    one_step(Adversaries(*_gan(), config), get("gaussian", dim=3), Cloud(), RandomStreams(0),
             config)
    assert calls == []


class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(3, 2))

    def forward(self, z, *, generator=None):
        return z @ self.w + torch.randn(z.shape[0], 2, generator=generator)


def test_adversaries_pass_the_noise_stream_and_save_their_state():
    config = Config()
    noisy = Adversaries(Noisy(), MLP(2, 1, hidden=(4,)), config)
    z = torch.zeros(1, 5, 3)  # one member, 5 rows: the solo model sees [5, 3]
    a = noisy.generate(z, [torch.Generator().manual_seed(1)])
    assert torch.equal(a, torch.randn(1, 5, 2, generator=torch.Generator().manual_seed(1)))
    plain = Adversaries(*_gan(), config)
    assert plain.generate(z, [torch.Generator()]).shape == (1, 5, 2)
    assert plain.score(torch.zeros(1, 5, 2)).shape == (5, 1)  # what the solo critic returns
    one_step(plain, get("gaussian", dim=3), Cloud(), RandomStreams(0),
             config.replace(batch_size=4, n_critic=1))
    state = plain.state_dict()
    other = Adversaries(*_gan(seed=5), config)
    other.load_state_dict(state)
    assert all(torch.equal(p, q) for p, q in zip(other.generator.parameters(),
                                                plain.generator.parameters(), strict=True))
    assert other.opt_critic.state_dict()["state"].keys() == state["opt_critic"]["state"].keys()


def test_frozen_parameters_are_not_trained():
    G, D = _gan()
    first = next(G.parameters())
    first.requires_grad_(False)
    before = first.clone()
    config = Config(batch_size=4, n_critic=1)
    one_step(Adversaries(G, D, config), get("gaussian", dim=3), Cloud(), RandomStreams(0),
             config)
    assert torch.equal(first, before)


def test_step_losses_stack_in_log_order():
    losses = StepLosses(*(torch.tensor(v) for v in (1.0, 2.0, 3.0, 4.0)))
    stacked = losses.stacked()
    assert stacked.dtype == torch.float64 and stacked.tolist() == [1.0, 2.0, 3.0, 4.0]


class ZeroGradientCritic(nn.Module):
    """D(x) = relu(w·x − 100)·0 + c: finite scores whose input gradient is 0 everywhere, so the
    penalty's √‖∇‖² has an infinite derivative and D's gradient turns NaN (loss finite)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))
        self.c = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.relu(x @ self.w - 100.0) + self.c


def test_a_non_finite_gradient_fails_its_member_before_it_reaches_the_weights():
    config = Config(batch_size=4, n_critic=2)
    G, D = _gan()[0], ZeroGradientCritic()
    adversaries = Adversaries(G, D, config)
    before = [p.detach().clone() for p in D.parameters()]
    state = PackState(1)
    losses = one_step(adversaries, get("gaussian", dim=3), Cloud(), RandomStreams(0), config,
                      state)
    assert state.failed_at == [1] and state.what == ["the critic's gradient"]
    assert torch.isfinite(losses.critic).all()  # the loss was finite, its gradient not
    for p, q in zip(D.parameters(), before, strict=True):
        assert torch.equal(p, q)  # frozen at the last finite state
    assert all(torch.isfinite(p).all() for p in adversaries.opt_critic.state_dict()["state"][0]
               .values() if isinstance(p, torch.Tensor))
