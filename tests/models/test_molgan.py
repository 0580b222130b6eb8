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
