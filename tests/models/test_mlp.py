import pytest
import torch

from qlatent.models import MLP, LatentInjectedMLP


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_mlp_shapes_and_layers():
    net = MLP(16, 3, hidden=(32, 64), activation="relu", generator=_gen(0))
    assert net(torch.zeros(5, 16)).shape == (5, 3)
    widths = [(m.in_features, m.out_features) for m in net.modules()
              if isinstance(m, torch.nn.Linear)]
    assert widths == [(16, 32), (32, 64), (64, 3)]
    assert isinstance(net.net[1], torch.nn.ReLU)


def test_mlp_output_activation_bounds_output():
    net = MLP(4, 2, hidden=(8,), output_activation="tanh", generator=_gen(0))
    y = net(100 * torch.randn(50, 4, generator=_gen(1)))
    assert y.abs().max() <= 1.0


def test_weights_come_from_the_generator_not_global_state():
    state = torch.random.get_rng_state()
    a = MLP(4, 2, hidden=(8, 8), generator=_gen(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    b = MLP(4, 2, hidden=(8, 8), generator=_gen(3))
    c = MLP(4, 2, hidden=(8, 8), generator=_gen(4))
    for (ka, va), (_, vb), (_, vc) in zip(a.state_dict().items(), b.state_dict().items(),
                                          c.state_dict().items(), strict=True):
        assert torch.equal(va, vb), ka
        assert not torch.equal(va, vc), ka


def test_default_init_bounds():
    net = MLP(100, 1, hidden=(400,), generator=_gen(0))
    w = net.net[0].weight
    assert w.abs().max() <= 0.1 and w.abs().max() > 0.09  # U(-1/sqrt(100), 1/sqrt(100))


@pytest.mark.parametrize("kwargs, match", [
    ({"hidden": (0,)}, "hidden\\[0\\]"),
    ({"activation": "gelu"}, "activation"),
    ({"output_activation": "relu"}, "output_activation"),
    ({"hidden": "256"}, "hidden"),
])
def test_mlp_validation(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        MLP(4, 2, **kwargs)


def test_latent_injected_matches_formula():
    torch.manual_seed(0)
    net = LatentInjectedMLP(3, 2, hidden=(4, 5), activation="tanh", generator=_gen(0))
    z = torch.randn(6, 3, generator=_gen(1))
    A = net.inject.weight  # [4 + 5, 3]
    h = torch.tanh(z @ net.layers[0].weight.T + net.layers[0].bias + z @ A[:4].T)
    h = torch.tanh(h @ net.layers[1].weight.T + net.layers[1].bias + z @ A[4:].T)
    out = h @ net.out.weight.T + net.out.bias
    torch.testing.assert_close(net(z), out)


def test_latent_injected_trunk_and_output_injection():
    trunk = LatentInjectedMLP(3, None, hidden=(4, 8), generator=_gen(0))
    assert trunk(torch.zeros(2, 3)).shape == (2, 8)
    net = LatentInjectedMLP(3, 2, hidden=(4,), inject_output=True, generator=_gen(0))
    z = torch.randn(5, 3, generator=_gen(1))
    A = net.inject.weight
    h = torch.nn.functional.leaky_relu(net.layers[0](z) + z @ A[:4].T, 0.2)
    torch.testing.assert_close(net(z), net.out(h) + z @ A[4:].T)


def test_latent_injected_requires_non_decreasing_widths():
    with pytest.raises(ValueError, match="non-decreasing"):
        LatentInjectedMLP(3, 2, hidden=(8, 4))
