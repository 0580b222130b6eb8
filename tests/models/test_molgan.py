"""MolGAN generator, R-GCN critic and decoding: shapes, invariances, a loop reference."""

from __future__ import annotations

import math

import pytest
import torch

from qlatent.data.qm9 import qm9_spec
from qlatent.models.molgan import MolGANGenerator, RGCNCritic, decode

SPEC = qm9_spec()
N, A, B = SPEC.n_atoms, SPEC.n_atom_types, SPEC.n_bond_types


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def random_graphs(n, seed=0):
    g = gen(seed)
    edges = torch.softmax(torch.randn(n, N, N, B, generator=g), -1)
    edges = (edges + edges.transpose(1, 2)) / 2
    nodes = torch.softmax(torch.randn(n, N, A, generator=g), -1)
    return edges, nodes


@pytest.mark.parametrize("kw", [
    {},                                                                   # the paper's
    {"hidden": (128, 256, 512), "activation": "tanh", "latent_injection": False},  # MolGAN's
    {"relaxation": "gumbel", "temperature": 0.5},
])
def test_generator_outputs_relaxed_symmetric_graphs(kw):
    G = MolGANGenerator(16, spec=SPEC, generator=gen(), **kw)
    edges, nodes = G(torch.randn(32, 16, generator=gen(1)), generator=gen(2))
    assert edges.shape == (32, N, N, B) and nodes.shape == (32, N, A)
    torch.testing.assert_close(edges.sum(-1), torch.ones(32, N, N))
    torch.testing.assert_close(nodes.sum(-1), torch.ones(32, N))
    assert torch.equal(edges, edges.transpose(1, 2))
    diag = edges.diagonal(dim1=1, dim2=2)                                 # [32, B, N]
    assert torch.all(diag[:, 0] == 1) and torch.all(diag[:, 1:] == 0)
    iu = torch.triu_indices(N, N, 1)
    assert (edges[:, iu[0], iu[1]] > 0).all()                             # soft, not one-hot


def test_generator_weights_and_gumbel_noise_come_from_generators():
    z = torch.randn(8, 16, generator=gen(5))
    G1 = MolGANGenerator(16, spec=SPEC, relaxation="gumbel", generator=gen(0))
    G2 = MolGANGenerator(16, spec=SPEC, relaxation="gumbel", generator=gen(0))
    for p1, p2 in zip(G1.parameters(), G2.parameters(), strict=True):
        assert torch.equal(p1, p2)
    assert torch.equal(G1(z, generator=gen(9))[0], G2(z, generator=gen(9))[0])
    assert not torch.equal(G1(z, generator=gen(9))[0], G1(z, generator=gen(10))[0])
    G3 = MolGANGenerator(16, spec=SPEC, generator=gen(1))
    assert not torch.equal(G1.edge_head.weight, G3.edge_head.weight)


def test_paper_generator_injects_the_latent_and_widens():
    G = MolGANGenerator(16, spec=SPEC)
    assert G.trunk.hidden == (64, 176, 288, 400, 512)
    assert G.trunk.inject.weight.shape == (64 + 176 + 288 + 400 + 512, 16)
    with pytest.raises(ValueError, match="non-decreasing"):
        MolGANGenerator(16, spec=SPEC, hidden=(512, 64))


def reference_critic(D, edges, nodes):
    """The R-GCN written out with loops over graphs, atoms and relations."""
    R = B - 1
    out = []
    for b in range(edges.shape[0]):
        h = None
        for conv, units in zip(D.convs, D.graph_units, strict=True):
            x = nodes[b] if h is None else torch.cat((h, nodes[b]), -1)
            W = conv.weight.view(R + 1, units, -1)
            c = conv.bias.view(R + 1, units)
            new = []
            for i in range(N):
                acc = x[i] @ W[0].T + c[0]
                for r in range(R):
                    for j in range(N):
                        acc = acc + edges[b, i, j, r + 1] * (x[j] @ W[r + 1].T + c[r + 1])
                new.append(torch.tanh(acc))
            h = torch.stack(new)
        x = torch.cat((h, nodes[b]), -1)
        g = sum(torch.sigmoid(D.gate(x[i])) * torch.tanh(D.value(x[i])) for i in range(N))
        out.append(D.dense(torch.tanh(g)).squeeze(-1))
    return torch.stack(out)


def test_critic_matches_a_loop_reference():
    D = RGCNCritic(spec=SPEC, generator=gen(3))
    edges, nodes = random_graphs(3)
    with torch.no_grad():
        torch.testing.assert_close(D((edges, nodes)), reference_critic(D, edges, nodes),
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(D(edges, nodes), D((edges, nodes)))


def test_critic_is_invariant_to_atom_order():
    D = RGCNCritic(spec=SPEC, generator=gen(4))
    edges, nodes = random_graphs(16, seed=1)
    perm = torch.randperm(N, generator=gen(7))
    with torch.no_grad():
        s = D((edges, nodes))
        s_perm = D((edges[:, perm][:, :, perm], nodes[:, perm]))
    torch.testing.assert_close(s, s_perm, rtol=1e-5, atol=1e-6)
    assert s.shape == (16,)


def test_critic_scores_samples_independently_and_gradients_reach_the_generator():
    D = RGCNCritic(spec=SPEC, generator=gen(0))
    G = MolGANGenerator(8, spec=SPEC, generator=gen(1))
    edges, nodes = G(torch.randn(6, 8, generator=gen(2)))
    s_all = D((edges, nodes))
    s_one = D((edges[2:3], nodes[2:3]))
    torch.testing.assert_close(s_all[2:3], s_one)
    grads = torch.autograd.grad(s_all.sum(), list(G.parameters()), allow_unused=True)
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert G.edge_head.weight in set(G.parameters())


def test_decode_takes_the_argmax_of_the_upper_triangle():
    edges, nodes = random_graphs(5, seed=2)
    edges = edges.clone()
    edges[:, 2, 1] = torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0])   # lower triangle: ignored
    x, a = decode(edges, nodes)
    assert torch.equal(x, nodes.argmax(-1))
    assert torch.equal(a, a.transpose(1, 2)) and torch.all(a.diagonal(dim1=1, dim2=2) == 0)
    assert torch.equal(a[:, 1, 2], edges[:, 1, 2].argmax(-1))
    iu = torch.triu_indices(N, N, 1)
    assert torch.equal(a[:, iu[0], iu[1]], edges.argmax(-1)[:, iu[0], iu[1]])


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="relaxation"):
        MolGANGenerator(16, spec=SPEC, relaxation="hard")
    with pytest.raises(TypeError, match="spec"):
        MolGANGenerator(16, spec=None)
    with pytest.raises(ValueError, match="latent_dim"):
        MolGANGenerator(0, spec=SPEC)
    with pytest.raises(ValueError, match=r"z must have shape \[B, 16\]"):
        MolGANGenerator(16, spec=SPEC)(torch.zeros(2, 8))
    D = RGCNCritic(spec=SPEC)
    with pytest.raises(ValueError, match="nodes must have shape"):
        D((torch.zeros(2, N, N, B), torch.zeros(2, N, A + 1)))
    with pytest.raises(ValueError, match="activation"):
        RGCNCritic(spec=SPEC, activation="swish")


def test_gumbel_relaxation_samples_the_softmax_distribution():
    """Gumbel-max: argmax(logits + g) ~ Categorical(softmax(logits)); TVD within 4/sqrt(n)."""
    G = MolGANGenerator(4, spec=SPEC, relaxation="gumbel", temperature=0.1, generator=gen(0))
    n = 4000
    z = torch.randn(1, 4, generator=gen(1)).expand(n, 4).contiguous()
    with torch.no_grad():
        _, node_logits = G.logits(z[:1])
        _, nodes = G(z, generator=gen(2))
    p = torch.softmax(node_logits[0, 0], -1)
    freq = torch.bincount(nodes[:, 0].argmax(-1), minlength=A).double() / n
    assert 0.5 * (freq - p.double()).abs().sum() < 4 / n**0.5


@pytest.mark.slow  # a statistical test of many draws
def test_gumbel_noise_keeps_its_tail_under_bf16_autocast():
    """A bond type whose logit trails by 9.5 wins with p = 1/(1 + e^9.5) ≈ 7.5e-5 per pair.

    bf16 uniforms would cap the noise difference at 5.5 + 3.8 < 9.5 (never wins); the relaxation
    must keep float32 noise under autocast. 20,000 graphs × 36 atom pairs: expect 54 ± 7.
    """
    G = MolGANGenerator(4, spec=SPEC, relaxation="gumbel", generator=gen(0))
    with torch.no_grad():
        G.edge_head.weight.zero_()
        pattern = torch.tensor([0.0, -9.5] + [-40.0] * (B - 2))
        G.edge_head.bias.copy_(pattern.repeat(N * (N - 1) // 2))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            edges, _ = G(torch.zeros(20_000, 4), generator=gen(1))
    rows, cols = torch.triu_indices(N, N, offset=1)
    wins = int((edges[:, rows, cols].argmax(-1) == 1).sum())
    expected = 20_000 * len(rows) / (1 + math.exp(9.5))
    assert abs(wins - expected) < 5 * math.sqrt(expected), (wins, expected)


def test_gumbel_noise_is_off_in_eval_mode():
    """Eval-mode graphs are the softmax of the logits: decoding them is the argmax of the logits."""
    G = MolGANGenerator(4, spec=SPEC, relaxation="gumbel", generator=gen(0)).eval()
    z = torch.randn(64, 4, generator=gen(1))
    with torch.no_grad():
        edges, nodes = G(z)
        edge_logits, node_logits = G.logits(z)
    x, a = decode(edges, nodes)
    rows, cols = torch.triu_indices(N, N, offset=1)
    assert torch.equal(x, node_logits.argmax(-1))
    assert torch.equal(a[:, rows, cols], edge_logits.argmax(-1))
    assert torch.allclose(nodes, torch.softmax(node_logits, -1))


# ----------------------------------------------------------------- the fast path vs before
def _reference_networks():
    """benchmarks/reference_molgan.py: the networks' arithmetic before the fast path."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "reference_molgan.py"
    spec = importlib.util.spec_from_file_location("reference_molgan", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (graph_units): the second layer's h part weights-first (d_h = 128 >= 64), adjacency-first
# (4 < 8, 8 < 64); three layers, weights-first then adjacency-first
ORDERS = [(128, 64), (4, 8), (8, 64), (16, 8, 32)]


@pytest.mark.parametrize("units", ORDERS)
def test_critic_matches_the_loop_reference_in_float64(units):
    D = RGCNCritic(spec=SPEC, graph_units=units, aggregation_units=16, dense_units=(8,),
                   generator=gen(5)).double()
    edges, nodes = (t.double() for t in random_graphs(3, seed=2))
    with torch.no_grad():
        torch.testing.assert_close(D((edges, nodes)), reference_critic(D, edges, nodes),
                                   rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("units", ORDERS)
def test_critic_and_its_penalty_gradients_match_the_old_arithmetic_in_float64(K, units):
    """Scores, input gradients (the penalty's) and the double backward to the weights of the
    fast critic equal those of the critic before it to float64 round-off."""
    old = _reference_networks().ReferenceRGCNCritic
    kw = {"spec": SPEC, "graph_units": units, "aggregation_units": 16, "dense_units": (8,),
          "members": K}
    D = RGCNCritic(**kw, generator=[gen(k) for k in range(K)]).double()
    D_old = old(**kw, generator=[gen(k) for k in range(K)]).double()
    graphs = [random_graphs(5, seed=10 + k) for k in range(K)]
    edges = torch.stack([e for e, _ in graphs]).double().requires_grad_()
    nodes = torch.stack([n for _, n in graphs]).double().requires_grad_()
    results = []
    for net in (D, D_old):
        scores = net((edges, nodes))
        grads = torch.autograd.grad(scores.sum(), (edges, nodes), create_graph=True)
        penalty = sum(g.pow(2).sum() for g in grads)
        weights = torch.autograd.grad(penalty, list(net.parameters()), allow_unused=True,
                                      materialize_grads=True)
        results.append([scores, *grads, *weights])
    assert len(results[0]) == len(results[1])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fast_critic_passes_gradgradcheck():
    D = RGCNCritic(spec=SPEC, graph_units=(6, 3), aggregation_units=4, dense_units=(3,),
                   generator=gen(1)).double()
    edges, nodes = (t.double().requires_grad_() for t in random_graphs(1, seed=4))
    assert torch.autograd.gradcheck(lambda e, n: D((e, n)), (edges, nodes))
    assert torch.autograd.gradgradcheck(lambda e, n: D((e, n)), (edges, nodes), fast_mode=True)


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_gumbel_relaxation_is_bit_identical_to_the_old_one(K, temperature):
    old = _reference_networks().ReferenceMolGANGenerator
    kw = {"spec": SPEC, "hidden": (16, 24), "relaxation": "gumbel",
          "temperature": temperature, "members": K}
    G = MolGANGenerator(6, **kw, generator=[gen(k) for k in range(K)])
    G_old = old(6, **kw, generator=[gen(k) for k in range(K)])
    z = torch.randn(K, 7, 6, generator=gen(99))
    got = G(z, generator=[gen(50 + k) for k in range(K)])
    want = G_old(z, generator=[gen(50 + k) for k in range(K)])
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a, b)


class _Graphs:
    """Random one-hot QM9-shaped graphs in ``dtype``."""

    def __init__(self, dtype):
        self.dtype = dtype

    def sample(self, n, *, generator):
        nodes = torch.nn.functional.one_hot(torch.randint(A, (n, N), generator=generator), A)
        bonds = torch.randint(B, (n, N, N), generator=generator).triu(1)
        edges = torch.nn.functional.one_hot(bonds + bonds.transpose(1, 2), B)
        return edges.to(self.dtype), nodes.to(self.dtype)


class _Latent(torch.nn.Module):
    dim = 6

    def __init__(self, dtype):
        super().__init__()
        self.dtype = dtype

    def sample(self, n, *, generator=None):
        return torch.randn(n, 6, generator=generator).to(self.dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_qm9_run_follows_the_old_arithmetic(dtype):
    """``fit`` with the fast networks vs the networks before: float64 weights to 1e-10 after
    12 steps; float32 the first logged window within 1 %."""
    from qlatent.train import Config, fit

    ref = _reference_networks()
    config = Config(steps=12 if dtype == torch.float64 else 6, batch_size=8, n_critic=2,
                    lr=1e-3, betas=(0.5, 0.999), log_every=6)
    runs = []
    for G_cls, D_cls in ((MolGANGenerator, RGCNCritic),
                         (ref.ReferenceMolGANGenerator, ref.ReferenceRGCNCritic)):
        G = G_cls(6, spec=SPEC, hidden=(16, 24), relaxation="gumbel", generator=gen(1))
        D = D_cls(spec=SPEC, graph_units=(16, 8), aggregation_units=8, dense_units=(8,),
                  generator=gen(2))
        G, D = G.to(dtype), D.to(dtype)
        result = fit(G, D, _Latent(dtype), _Graphs(dtype), config, seed=3)
        runs.append((G, D, result.history[0]))
    (G, D, first), (G_old, D_old, first_old) = runs
    if dtype == torch.float64:
        for a, b in zip([*G.parameters(), *D.parameters()],
                        [*G_old.parameters(), *D_old.parameters()], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    for key in ("loss_critic", "loss_generator", "gradient_penalty", "wasserstein"):
        assert first[key] == pytest.approx(first_old[key], rel=1e-2, abs=1e-4), key
