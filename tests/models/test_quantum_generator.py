import math

import numpy as np
import pytest
import torch

import qlatent as ql
from qlatent.data import EmpiricalData
from qlatent.models import MLP, QuantumGenerator


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _set(G, weights):
    with torch.no_grad():
        G.weights.copy_(torch.as_tensor(weights, dtype=G.weights.dtype).reshape(G.weights.shape))
    return G


def test_shapes_and_rescaling():
    G = QuantumGenerator(64, generator=_gen(0))
    assert G.weights.shape == (4, 6, 5) and G.in_dim == 5
    z = torch.rand(7, 5, generator=_gen(1)) * math.pi / 2
    x = G(z)
    assert x.shape == (7, 64) and x.dtype == torch.float32
    patches = x.reshape(7, 4, 16)
    assert torch.all(patches >= 0) and torch.allclose(patches.amax(-1), torch.ones(7, 4))
    cond = G.patch_probabilities(z)
    assert cond.shape == (7, 4, 16)
    assert torch.allclose(cond.sum(-1), torch.ones(7, 4), atol=1e-6)
    # the pixels are the post-selected probabilities divided by their maximum, per patch
    assert torch.allclose(patches, cond / cond.amax(-1, keepdim=True), atol=1e-6)
    joint = G.joint_probabilities(z)
    assert torch.all(joint.sum(-1) <= 1 + 1e-6)


def test_two_qubits_by_hand():
    # |00> -> RY(pi/2) (x) RY(pi/2) -> CZ -> RY(pi/2) (x) RY(0) -> CZ = (|01> + |10>) / sqrt(2):
    # the ancilla (qubit 0) reads 0 with probability 1/2, and then the data qubit is 1.
    G = _set(QuantumGenerator(2, n_patches=1, n_qubits=2, n_ancillas=1, layers=2,
                              dtype=torch.float64), [[math.pi / 2, math.pi / 2], [math.pi / 2, 0]])
    z = torch.zeros(1, 2, dtype=torch.float64)
    torch.testing.assert_close(G.joint_probabilities(z), torch.tensor([[[0.0, 0.5]]],
                                                                      dtype=torch.float64))
    torch.testing.assert_close(G.patch_probabilities(z), torch.tensor([[[0.0, 1.0]]],
                                                                      dtype=torch.float64))
    torch.testing.assert_close(G(z), torch.tensor([[0.0, 1.0]], dtype=torch.float64))
    # z enters as the first RY layer: RY(w) RY(z) = RY(w + z), so moving the first layer's
    # angles into z changes nothing
    G2 = _set(QuantumGenerator(2, n_patches=1, n_qubits=2, n_ancillas=1, layers=2,
                               dtype=torch.float64), [[0, 0], [math.pi / 2, 0]])
    torch.testing.assert_close(G2(torch.full((1, 2), math.pi / 2, dtype=torch.float64)),
                               G(z))


def test_two_qubits_one_layer_closed_form():
    # one layer: CZ only changes signs, so P(a=0, j) = cos^2(a0/2) * (cos^2, sin^2)(a1/2)
    w = torch.tensor([[0.3, 1.1]], dtype=torch.float64)
    G = _set(QuantumGenerator(2, n_patches=1, n_qubits=2, n_ancillas=1, layers=1,
                              dtype=torch.float64), w)
    z = torch.tensor([[0.2, 0.5], [1.0, -0.4]], dtype=torch.float64)
    a = z + w
    c0 = torch.cos(a[:, 0] / 2) ** 2
    c1, s1 = torch.cos(a[:, 1] / 2) ** 2, torch.sin(a[:, 1] / 2) ** 2
    torch.testing.assert_close(G.joint_probabilities(z)[:, 0],
                               torch.stack([c0 * c1, c0 * s1], -1))
    torch.testing.assert_close(G.patch_probabilities(z)[:, 0], torch.stack([c1, s1], -1))


def _numpy_reference(weights, z, n_ancillas):
    """Dense Kronecker products in NumPy: each patch's joint probabilities [B, P, D]."""
    P, L, n = weights.shape

    def ry(t):
        return np.array([[np.cos(t / 2), -np.sin(t / 2)], [np.sin(t / 2), np.cos(t / 2)]])

    def layer(angles):
        m = np.ones((1, 1))
        for t in angles:
            m = np.kron(m, ry(t))
        return m

    bits = (np.arange(2 ** n)[:, None] >> np.arange(n - 1, -1, -1)) & 1
    signs = np.prod(np.where(bits[:, :-1] & bits[:, 1:], -1.0, 1.0), axis=1)
    e0 = np.zeros(2 ** n)
    e0[0] = 1
    out = np.zeros((len(z), P, 2 ** (n - n_ancillas)))
    for b in range(len(z)):
        for p in range(P):
            psi = layer(z[b]) @ e0
            for lay in range(L):
                psi = signs * (layer(weights[p, lay]) @ psi)
            out[b, p] = psi[: 2 ** (n - n_ancillas)] ** 2
    return out


@pytest.mark.parametrize("n_qubits,n_ancillas,n_patches,layers",
                         [(2, 0, 1, 1), (3, 1, 2, 2), (4, 2, 3, 3), (5, 1, 4, 6), (6, 1, 2, 2)])
def test_fast_path_equals_simulator_and_numpy(n_qubits, n_ancillas, n_patches, layers):
    D = 2 ** (n_qubits - n_ancillas)
    G = QuantumGenerator(n_patches * D, n_patches=n_patches, n_qubits=n_qubits,
                         n_ancillas=n_ancillas, layers=layers, dtype=torch.float64,
                         generator=_gen(n_qubits))
    z = torch.rand(5, n_qubits, generator=_gen(7), dtype=torch.float64) * 3
    fast = G.joint_probabilities(z)
    torch.testing.assert_close(fast, G.simulated_joint_probabilities(z), rtol=0, atol=1e-12)
    ref = _numpy_reference(G.weights.detach().numpy(), z.numpy(), n_ancillas)
    np.testing.assert_allclose(fast.detach().numpy(), ref, rtol=0, atol=1e-12)


class _Method(torch.nn.Module):
    def __init__(self, G, name):
        super().__init__()
        self.G, self.name = G, name

    def forward(self, z):
        return getattr(self.G, self.name)(z)


@pytest.mark.parametrize("method", ["forward", "patch_probabilities"])
def test_gradients_match_finite_differences(method):
    G = QuantumGenerator(8, n_patches=2, n_qubits=3, n_ancillas=1, layers=2,
                         dtype=torch.float64, generator=_gen(3))
    wrapper = _Method(G, method)
    w0 = G.weights.detach().clone().requires_grad_(True)
    z0 = (torch.rand(3, 3, generator=_gen(4), dtype=torch.float64) * 1.5).requires_grad_(True)

    def f(w, z):
        return torch.func.functional_call(wrapper, {"G.weights": w}, (z,))

    assert torch.autograd.gradcheck(f, (w0, z0), eps=1e-6, atol=1e-7)


def test_initial_weights_come_from_the_generator():
    state = torch.random.get_rng_state()
    a = QuantumGenerator(64, generator=_gen(5))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.weights, QuantumGenerator(64, generator=_gen(5)).weights)
    assert not torch.equal(a.weights, QuantumGenerator(64, generator=_gen(6)).weights)
    assert float(a.weights.detach().min()) >= 0 and float(a.weights.detach().max()) < math.pi


@pytest.mark.parametrize("kwargs,error,match", [
    ({"out_dim": 60}, ValueError, r"out_dim must be n_patches x 2\^\(n_qubits - n_ancillas\) "
                                  r"= 4 x 2\^\(5 - 1\) = 64, got 60"),
    ({"out_dim": 64, "n_patches": 0}, ValueError, "n_patches"),
    ({"out_dim": 64, "n_qubits": 17}, ValueError, r"n_qubits must be <= 16, got 17"),
    ({"out_dim": 64, "n_qubits": 1}, ValueError, "n_qubits must be >= 2"),
    ({"out_dim": 64, "n_ancillas": 5}, ValueError, "n_ancillas"),
    ({"out_dim": 64, "layers": 0}, ValueError, "layers"),
    ({"out_dim": 64, "dtype": torch.int64}, TypeError, "dtype"),
    ({"out_dim": 64, "generator": 3}, TypeError, "generator"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        QuantumGenerator(**kwargs)


def test_bad_input():
    G = QuantumGenerator(64, generator=_gen(0))
    with pytest.raises(ValueError, match=r"z must have shape \[B, 5\]"):
        G(torch.zeros(3, 4))
    with pytest.raises(TypeError, match="z must be a Tensor"):
        G(np.zeros((3, 5)))
    with pytest.raises(TypeError, match="real floating point"):
        G(torch.zeros(3, 5, dtype=torch.long))


def _fit(steps, seed, lr_generator=None):
    G = QuantumGenerator(16, n_patches=2, n_qubits=4, n_ancillas=1, layers=2, generator=_gen(0))
    D = MLP(16, 1, hidden=(16,), generator=_gen(1))
    data = EmpiricalData(torch.rand(20, 16, generator=_gen(2)))
    latent = ql.latents.get("uniform", dim=4, high=math.pi / 2, normalize="none")
    config = ql.train.Config(steps=steps, batch_size=8, n_critic=2, lr=1e-2,
                             lr_generator=lr_generator, log_every=1)
    result = ql.train.fit(G, D, latent, data, config, seed=seed)
    return G, D, result


def test_trained_by_fit_deterministically():
    G0 = QuantumGenerator(16, n_patches=2, n_qubits=4, n_ancillas=1, layers=2, generator=_gen(0))
    G1, D1, r1 = _fit(3, seed=4)
    G2, _, r2 = _fit(3, seed=4)
    assert r1.steps == 3 and all(math.isfinite(h["loss_generator"]) for h in r1.history)
    assert not torch.equal(G1.weights, G0.weights)  # the angles were trained
    assert torch.equal(G1.weights, G2.weights)


def test_lr_generator_sets_the_generators_step_size_only():
    G0 = QuantumGenerator(16, n_patches=2, n_qubits=4, n_ancillas=1, layers=2, generator=_gen(0))
    D0 = MLP(16, 1, hidden=(16,), generator=_gen(1))
    G, D, _ = _fit(2, seed=0, lr_generator=0.0)
    assert torch.equal(G.weights, G0.weights)
    assert not torch.equal(D.net[0].weight, D0.net[0].weight)
