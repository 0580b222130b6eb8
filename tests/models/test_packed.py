"""Packs: member k of a K-member model equals the solo model with the same initialisation.

Forward, weight gradients and the WGAN-GP penalty's double backward of a K = 3 pack are compared
with three solo models: in float64 to round-off (rtol 1e-12), in float32 within rtol 1e-5 /
atol 1e-6 (the same products summed in another order); the double backward is also checked
against finite differences (gradgradcheck). Solo checkpoints written by the pre-pack code load
into K = 1 models and reproduce their outputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qlatent.data.qm9 import qm9_spec
from qlatent.models import MLP, LatentInjectedMLP, MolGANGenerator, RGCNCritic
from qlatent.models.packed import PackedLinear, pack, unpack

SPEC = qm9_spec()
N, A, B = SPEC.n_atoms, SPEC.n_atom_types, SPEC.n_bond_types
K = 3
F64 = {"rtol": 1e-12, "atol": 1e-12}
F32 = {"rtol": 1e-5, "atol": 1e-6}


def gens(seed, k=K):
    return [torch.Generator().manual_seed(seed + i) for i in range(k)]


# name -> (constructor taking members/generator, input maker [lead..., B, ...] -> input)
def mlp_input(g, lead, dtype):
    return torch.randn(*lead, 5, 4, generator=g, dtype=dtype)


def latent_input(g, lead, dtype):
    return torch.randn(*lead, 5, 6, generator=g, dtype=dtype)


def graph_input(g, lead, dtype):
    e = torch.softmax(torch.randn(*lead, 5, N, N, B, generator=g, dtype=dtype), -1)
    e = (e + e.transpose(-2, -3)) / 2
    return e, torch.softmax(torch.randn(*lead, 5, N, A, generator=g, dtype=dtype), -1)


SMALL_G = {"hidden": (8, 16)}
SMALL_D = {"graph_units": (8, 4), "aggregation_units": 8, "dense_units": (8,)}
MODELS = {
    "mlp": (lambda **kw: MLP(4, 3, hidden=(8, 8), **kw), mlp_input),
    "mlp_tanh_out": (lambda **kw: MLP(4, 3, hidden=(8,), activation="tanh",
                                      output_activation="tanh", **kw), mlp_input),
    "injected": (lambda **kw: LatentInjectedMLP(6, 3, hidden=(4, 8), inject_output=True, **kw),
                 latent_input),
    "injected_trunk": (lambda **kw: LatentInjectedMLP(6, None, hidden=(4, 8), **kw),
                       latent_input),
    "molgan_softmax": (lambda **kw: MolGANGenerator(6, spec=SPEC, **SMALL_G, **kw),
                       latent_input),
    "molgan_gumbel": (lambda **kw: MolGANGenerator(6, spec=SPEC, relaxation="gumbel",
                                                   temperature=0.5, **SMALL_G, **kw),
                      latent_input),
    "molgan_original": (lambda **kw: MolGANGenerator(6, spec=SPEC, hidden=(8, 16),
                                                     activation="tanh", latent_injection=False,
                                                     **kw), latent_input),
    "critic": (lambda **kw: RGCNCritic(spec=SPEC, **SMALL_D, **kw), graph_input),
}
CRITICS = ["mlp_critic", "critic"]
MODELS["mlp_critic"] = (lambda **kw: MLP(4, 1, hidden=(8, 8), **kw), mlp_input)


def solos_and_pack(name, dtype, via="pack"):
    make, _ = MODELS[name]
    solos = [make(generator=torch.Generator().manual_seed(10 + k)).to(dtype) for k in range(K)]
    if via == "pack":
        packed = pack(solos)
    else:
        packed = make(members=K, generator=gens(10)).to(dtype)
    return solos, packed


def call(model, x, noise_seed=None, k=None):
    """Forward; for a generator with noise, member k's (or every member's) generators."""
    if isinstance(model, MolGANGenerator):
        g = None if noise_seed is None else (
            torch.Generator().manual_seed(noise_seed + k) if k is not None
            else gens(noise_seed, model.members))
        return model(x, generator=g)
    return model(x)


def outputs(y):
    return list(y) if isinstance(y, tuple) else [y]


def member(x, k):
    return tuple(t[k] for t in x) if isinstance(x, tuple) else x[k]


@pytest.mark.parametrize("via", ["pack", "constructor"])
@pytest.mark.parametrize("name", list(MODELS))
def test_pack_equals_its_solo_models_forward_and_gradients(name, via):
    solos, packed = solos_and_pack(name, torch.float64, via)
    _, make_input = MODELS[name]
    x = make_input(torch.Generator().manual_seed(1), (K,), torch.float64)
    weights = [torch.randn(o.shape[1:], generator=torch.Generator().manual_seed(2 + i),
                           dtype=torch.float64) for i, o in enumerate(outputs(call(solos[0],
                                                                                  member(x, 0),
                                                                                  7, 0)))]
    # Forward: member k of the pack against solo k on the same input and noise.
    y_pack = outputs(call(packed, x, 7))
    loss = sum((w * y.double()).sum() for w, y in zip(weights, y_pack, strict=True))
    loss.backward()
    for k, solo in enumerate(solos):
        y_solo = outputs(call(solo, member(x, k), 7, k))
        for yp, ys in zip(y_pack, y_solo, strict=True):
            torch.testing.assert_close(yp[k], ys, **F64)
        sum((w * y.double()).sum() for w, y in zip(weights, y_solo, strict=True)).backward()
    # Gradients: row k of every stacked gradient is solo k's gradient.
    for pname, p in packed.named_parameters():
        for k, solo in enumerate(solos):
            torch.testing.assert_close(p.grad.view(K, -1)[k],
                                       dict(solo.named_parameters())[pname].grad.view(-1), **F64)


def critic_step(D, x, eps):
    """WGAN-GP's core on a member axis of any length: penalty double backward + backward."""
    real, fake = x, (tuple(t.flip(-1) for t in x) if isinstance(x, tuple) else x.flip(-1))
    if isinstance(x, tuple):
        x_hat = tuple((eps.view(*eps.shape, *[1] * (r.dim() - eps.dim())) * r
                       + (1 - eps.view(*eps.shape, *[1] * (r.dim() - eps.dim()))) * f)
                      .requires_grad_() for r, f in zip(real, fake, strict=True))
    else:
        x_hat = (eps.unsqueeze(-1) * real + (1 - eps.unsqueeze(-1)) * fake).requires_grad_()
    s_hat = D(x_hat).reshape(eps.shape)
    grads = torch.autograd.grad(s_hat.sum(), x_hat, create_graph=True)
    sq = sum(g.reshape(*eps.shape, -1).pow(2).sum(-1) for g in grads)
    penalty = (sq.sqrt() - 1).pow(2).mean(-1)
    scores = D(fake).reshape(eps.shape).mean(-1) - D(real).reshape(eps.shape).mean(-1)
    (scores + 10 * penalty).sum().backward()


@pytest.mark.parametrize("dtype, tol", [(torch.float64, F64), (torch.float32, F32)])
@pytest.mark.parametrize("name", CRITICS)
def test_penalty_double_backward_of_a_pack_equals_the_solo_critics(name, dtype, tol):
    solos, packed = solos_and_pack(name, dtype)
    _, make_input = MODELS[name]
    g = torch.Generator().manual_seed(3)
    x = make_input(g, (K,), dtype)
    eps = torch.rand(K, 5, generator=g, dtype=dtype)
    critic_step(packed, x, eps)
    for k, solo in enumerate(solos):
        critic_step(solo, member(x, k), eps[k])
    for pname, p in packed.named_parameters():
        for k, solo in enumerate(solos):
            torch.testing.assert_close(p.grad.view(K, -1)[k],
                                       dict(solo.named_parameters())[pname].grad.view(-1), **tol)


@pytest.mark.parametrize("name", CRITICS)
def test_penalty_double_backward_is_exact_against_finite_differences(name):
    """gradgradcheck: the second derivatives of a K = 2 critic pack w.r.t. input and weights."""
    make, make_input = MODELS[name]
    D = make(members=2, generator=gens(0, 2)).double()
    x = make_input(torch.Generator().manual_seed(4), (2,), torch.float64)
    x = tuple(t[:, :2] for t in x) if isinstance(x, tuple) else x[:, :2]
    x = x if isinstance(x, tuple) else (x,)
    params = list(D.parameters())
    names = [n for n, _ in D.named_parameters()]

    def f(*args):
        inputs, weights = args[:len(x)], args[len(x):]
        out = torch.func.functional_call(D, dict(zip(names, weights, strict=True)),
                                         (inputs if len(inputs) > 1 else inputs[0],))
        return out

    args = tuple(t.detach().clone().requires_grad_() for t in (*x, *params))
    assert torch.autograd.gradgradcheck(f, args, eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)


def test_gumbel_noise_of_member_k_comes_from_its_own_generator():
    solos, packed = solos_and_pack("molgan_gumbel", torch.float64)
    z = torch.randn(K, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    edges, nodes = packed(z, generator=gens(50))
    again, _ = packed(z, generator=gens(50))
    assert torch.equal(edges, again)
    other, _ = packed(z, generator=[*gens(50, 2), torch.Generator().manual_seed(99)])
    assert torch.equal(other[:2], edges[:2]) and not torch.equal(other[2], edges[2])
    for k, solo in enumerate(solos):
        e, n = solo(z[k], generator=torch.Generator().manual_seed(50 + k))
        # float64 throughout (the relaxation keeps float64): equal to round-off
        torch.testing.assert_close(e, edges[k], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(n, nodes[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(MODELS))
def test_unpack_inverts_pack_and_the_constructor_matches_pack(name):
    solos, packed = solos_and_pack(name, torch.float32)
    _, built = solos_and_pack(name, torch.float32, via="constructor")
    back = unpack(packed)
    assert len(back) == K and all(m.members == 1 for m in back)
    for solo, b in zip(solos, back, strict=True):
        for (n1, p1), (n2, p2) in zip(solo.named_parameters(), b.named_parameters(),
                                      strict=True):
            assert n1 == n2 and p1.shape == p2.shape and torch.equal(p1, p2)
    for (n1, p1), (_, p2) in zip(packed.named_parameters(), built.named_parameters(),
                                 strict=True):
        assert torch.equal(p1, p2), n1
        assert p1.shape[0] == K
    # a pack of packs concatenates its members
    both = pack([packed, solos[0]])
    assert both.members == K + 1
    for p_both, p_pack in zip(both.parameters(), packed.parameters(), strict=True):
        assert torch.equal(p_both.view(K + 1, -1)[:K], p_pack.view(K, -1))


def test_building_a_pack_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    solos, packed = solos_and_pack("critic", torch.float32)
    unpack(packed)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_a_solo_model_keeps_solo_shapes_and_inputs():
    G = MolGANGenerator(6, spec=SPEC, **SMALL_G, generator=torch.Generator().manual_seed(0))
    assert G.members == 1 and G.edge_head.weight.shape == (36 * B, 16)
    z = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    edges, nodes = G(z)
    assert edges.shape == (5, N, N, B) and nodes.shape == (5, N, A)
    e1, n1 = G(z.unsqueeze(0))                     # the member axis is accepted for K = 1
    assert torch.equal(e1[0], edges) and torch.equal(n1[0], nodes)
    D = RGCNCritic(spec=SPEC, **SMALL_D, generator=torch.Generator().manual_seed(2))
    assert D((edges, nodes)).shape == (5,)
    assert torch.equal(D((e1, n1))[0], D((edges, nodes)))
    lin = PackedLinear(4, 3, generator=torch.Generator().manual_seed(0))
    assert isinstance(lin, torch.nn.Linear) and lin.weight.shape == (3, 4)
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(lin(x), torch.nn.functional.linear(x, lin.weight, lin.bias))


CHECKPOINTS = Path(__file__).with_name("data") / "solo_checkpoints.pt"


def test_checkpoints_of_the_pre_pack_models_load_into_solo_models():
    """tests/models/data/make_solo_checkpoints.py wrote these with the code of commit 7bb994c."""
    saved = torch.load(CHECKPOINTS, weights_only=True)
    sd, x, z, out = saved["state_dicts"], saved["x"], saved["z"], saved["outputs"]
    models = {
        "mlp": MLP(3, 2, hidden=(4, 5), activation="tanh"),
        "injected": LatentInjectedMLP(3, 2, hidden=(4, 5), inject_output=True),
        "generator": MolGANGenerator(4, spec=SPEC, hidden=(8, 16)),
        "critic": RGCNCritic(spec=SPEC, graph_units=(8, 4), aggregation_units=8,
                             dense_units=(8,)),
    }
    for name, m in models.items():
        m.double().load_state_dict(sd[name], strict=True)
    with torch.no_grad():
        torch.testing.assert_close(models["mlp"](x), out["mlp"], **F64)
        torch.testing.assert_close(models["injected"](x), out["injected"], **F64)
        edges, nodes = (t.double() for t in models["generator"](z))
        # the relaxation computes in float32 (as before packs)
        torch.testing.assert_close(edges, out["generator_edges"], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(nodes, out["generator_nodes"], rtol=1e-6, atol=1e-7)
        scores = models["critic"]((out["generator_edges"], out["generator_nodes"]))
        torch.testing.assert_close(scores, out["critic"], **F64)


def test_a_pack_state_dict_round_trips(tmp_path):
    _, packed = solos_and_pack("critic", torch.float32)
    path = tmp_path / "pack.pt"
    torch.save(packed.state_dict(), path)
    fresh = RGCNCritic(spec=SPEC, **SMALL_D, members=K, generator=gens(90))
    fresh.load_state_dict(torch.load(path, weights_only=True))
    for p1, p2 in zip(packed.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(p1, p2)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("members, error", [(0, ValueError), (-3, ValueError),
                                            (1.5, TypeError), ("4", TypeError)])
def test_members_must_be_a_positive_int(members, error):
    for make, _ in MODELS.values():
        with pytest.raises(error, match="members"):
            make(members=members)


@pytest.mark.parametrize("name", list(MODELS))
def test_inputs_must_carry_the_member_axis(name):
    make, make_input = MODELS[name]
    model = make(members=K, generator=gens(0))
    g = torch.Generator().manual_seed(0)
    for lead in [(), (K + 1,), (1,)]:
        x = make_input(g, lead, torch.float32)
        with pytest.raises(ValueError, match=rf"\[K={K}, B, "):
            model(x)


def test_generators_must_be_one_per_member():
    with pytest.raises(ValueError, match="sequence of 3 torch.Generators"):
        MLP(4, 3, members=3, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"one torch.Generator per member \(3\), got 2"):
        MLP(4, 3, members=3, generator=gens(0, 2))
    with pytest.raises(TypeError, match=r"generator\[1\] must be a torch.Generator"):
        MLP(4, 3, members=2, generator=[torch.Generator(), 7])
    G = MolGANGenerator(6, spec=SPEC, relaxation="gumbel", **SMALL_G, members=K,
                        generator=gens(0))
    with pytest.raises(ValueError, match="one torch.Generator per member"):
        G(torch.zeros(K, 2, 6), generator=gens(0, 2))


@pytest.mark.parametrize("other, match", [
    (MLP(4, 3, hidden=(8, 4)), r"hidden: \(8, 4\) vs \(8, 8\)"),
    (MLP(4, 3, hidden=(8, 8), activation="relu"), "activation: 'relu' vs 'leaky_relu'"),
    (MLP(4, 3, hidden=(8, 8), output_activation="tanh"), "output_activation"),
    (MLP(5, 3, hidden=(8, 8)), "in_dim: 5 vs 4"),
    (RGCNCritic(spec=SPEC), "models\\[1\\] is a RGCNCritic, models\\[0\\] a MLP"),
    (MLP(4, 3, hidden=(8, 8)).double(), "torch.float64"),
    (MLP(4, 3, hidden=(8, 8)).eval(), "eval mode"),
])
def test_pack_refuses_models_that_differ(other, match):
    with pytest.raises(ValueError, match=match):
        pack([MLP(4, 3, hidden=(8, 8)), other])


def test_pack_refuses_generators_with_another_relaxation_and_bad_lists():
    a = MolGANGenerator(6, spec=SPEC, **SMALL_G)
    with pytest.raises(ValueError, match="relaxation: 'gumbel' vs 'softmax'"):
        pack([a, MolGANGenerator(6, spec=SPEC, relaxation="gumbel", **SMALL_G)])
    with pytest.raises(ValueError, match="temperature: 0.5 vs 1.0"):
        pack([a, MolGANGenerator(6, spec=SPEC, temperature=0.5, **SMALL_G)])
    with pytest.raises(ValueError, match="at least one"):
        pack([])
    with pytest.raises(TypeError, match="sequence of networks"):
        pack(a)
    with pytest.raises(TypeError, match="networks of qlatent.models"):
        pack([torch.nn.Linear(2, 2)])


def test_a_pack_under_bf16_autocast_stays_within_bf16_of_its_solo_models():
    """bf16 products in another order: member k within bf16 round-off of solo k (rtol 3e-2)."""
    solos_g, G = solos_and_pack("molgan_softmax", torch.float32)
    solos_d, D = solos_and_pack("critic", torch.float32)
    z = torch.randn(K, 5, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        edges, nodes = G(z)
        scores = D((edges, nodes))
        for k in range(K):
            e, n = solos_g[k](z[k])
            assert e.dtype == edges.dtype == torch.float32          # the relaxation stays fp32
            torch.testing.assert_close(edges[k], e, rtol=3e-2, atol=3e-2)
            torch.testing.assert_close(nodes[k], n, rtol=3e-2, atol=3e-2)
            torch.testing.assert_close(scores[k].float(), solos_d[k]((e, n)).float(),
                                       rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("name", list(MODELS))
def test_member_is_the_kth_of_unpack(name):
    from qlatent.models.packed import member

    _, packed = solos_and_pack(name, torch.float32)
    back = unpack(packed)
    for k in range(K):
        one = member(packed, k)
        assert one.members == 1 and one.training == packed.training
        for (n1, p1), (n2, p2) in zip(back[k].named_parameters(), one.named_parameters(),
                                      strict=True):
            assert n1 == n2 and torch.equal(p1, p2)
    with pytest.raises(ValueError, match=f"k must be below the pack's size {K}, got {K}"):
        member(packed, K)
    with pytest.raises(ValueError, match="k must be >= 0"):
        member(packed, -1)
