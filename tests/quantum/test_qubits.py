"""The qubit state-vector simulator against the dense NumPy reference, finite differences and the
statistics of its samples and shots."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from qlatent.quantum import qubits as qb
from qlatent.quantum import qubits_reference as ref


def _run_fast(ops, n, dtype=torch.complex128):
    s = qb.zero_state(n, dtype=dtype)
    for op in ops:
        kind = op[0]
        if kind in ("rx", "ry", "rz"):
            s = qb.apply_gate(s, getattr(qb, kind)(op[2]), op[1])
        elif kind == "rot":
            s = qb.apply_gate(s, qb.rot(*op[2]), op[1])
        elif kind == "cnot":
            s = qb.cnot(s, op[1], op[2])
        elif kind == "cz":
            s = qb.cz(s, op[1], op[2])
        else:  # crx, cry, crz
            s = qb.apply_controlled(s, getattr(qb, kind[1:])(op[3]), op[1], op[2])
    return s[0]


def _random_ops(rng, n, count):
    ops = []
    for _ in range(count):
        kind = rng.choice(["rx", "ry", "rz", "rot", "cnot", "cz", "crx", "cry", "crz"])
        q = int(rng.integers(n))
        if kind in ("rx", "ry", "rz"):
            ops.append((kind, q, float(rng.uniform(-4, 4))))
        elif kind == "rot":
            ops.append((kind, q, tuple(map(float, rng.uniform(-4, 4, 3)))))
        else:
            a, b = (int(v) for v in rng.choice(n, 2, replace=False))
            ops.append((kind, a, b) if kind in ("cnot", "cz") else
                       (kind, a, b, float(rng.uniform(-4, 4))))
    return ops


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_circuits_match_the_dense_reference(n, seed):
    rng = np.random.default_rng(100 * n + seed)
    ops = _random_ops(rng, n, 30) if n > 1 else [
        (k, 0, 0.7 * i) for i, k in enumerate(["rx", "ry", "rz"] * 3)]
    want = ref.run(ops, n)
    got = _run_fast(ops, n).numpy()
    np.testing.assert_allclose(got, want, atol=1e-12)
    got64 = _run_fast(ops, n, torch.complex64).numpy()
    np.testing.assert_allclose(got64, want, atol=2e-5)


def test_gates_match_their_matrices_and_closed_forms():
    for name in ("rx", "ry", "rz"):
        for a in (-2.0, 0.3, 5.0):
            np.testing.assert_allclose(getattr(qb, name)(torch.tensor(a, dtype=torch.float64)),
                                       ref.pauli_rotation(name, a), atol=1e-14)
    np.testing.assert_allclose(qb.rot(0.1, 0.2, 0.3).numpy(),
                               ref.general_rotation(0.1, 0.2, 0.3), atol=1e-7)
    # Bell state: H-like RY(π/2) then CNOT.
    s = qb.cnot(qb.apply_gate(qb.zero_state(2), qb.ry(torch.tensor(math.pi / 2)), 0), 0, 1)
    np.testing.assert_allclose(qb.probabilities(s)[0].numpy(), [0.5, 0, 0, 0.5], atol=1e-7)


@pytest.mark.parametrize("entangler", ["ring", "all", "chow-liu", [(2, 0), (0, 3)]])
@pytest.mark.parametrize("n,layers", [(2, 1), (4, 3), (5, 2)])
def test_layered_ansatz_matches_the_reference(entangler, n, layers):
    data = torch.randint(0, 2, (50, n), generator=torch.Generator().manual_seed(n))
    if not isinstance(entangler, str):
        entangler = [(c % n, t % n) for c, t in entangler if c % n != t % n]
    a = qb.LayeredAnsatz(n, layers, entangler=entangler, data=data, rng=n + layers)
    want = ref.layered_ansatz_probabilities(a.weights.detach().numpy(), a.edges)
    np.testing.assert_allclose(a.probabilities().detach().numpy(), want, atol=1e-12)
    np.testing.assert_allclose(np.abs(ref.run(a.operations(), n)) ** 2, want, atol=1e-12)
    # Batched weights give each circuit's own distribution.
    w = torch.stack([a.weights.detach(), a.weights.detach() * 0.5])
    p = a.probabilities(w).detach().numpy()
    np.testing.assert_allclose(p[0], want, atol=1e-12)
    np.testing.assert_allclose(
        p[1], ref.layered_ansatz_probabilities(w[1].numpy(), a.edges), atol=1e-12)


def test_float32_ansatz_is_complex64_and_close():
    a = qb.LayeredAnsatz(6, 4, rng=3, dtype=torch.float32)
    assert a.state().dtype == torch.complex64 and a.probabilities().dtype == torch.float32
    want = ref.layered_ansatz_probabilities(a.weights.detach().double().numpy(), a.edges)
    np.testing.assert_allclose(a.probabilities().detach().numpy(), want, atol=1e-5)


def test_entangler_edges():
    assert qb.entangler_edges("ring", 4) == [(0, 1), (1, 2), (2, 3), (3, 0)]
    assert qb.entangler_edges("ring", 2) == [(0, 1)]
    assert qb.entangler_edges("all", 3) == [(0, 1), (0, 2), (1, 2)]


def test_chow_liu_tree_recovers_a_chain():
    # x0 fair; x1 = x0 flipped w.p. 0.05; x2 = x1 flipped w.p. 0.05; x3 independent of all.
    rng = np.random.default_rng(0)
    x0 = rng.integers(0, 2, 20000)
    x1 = x0 ^ (rng.random(20000) < 0.05)
    x2 = x1 ^ (rng.random(20000) < 0.05)
    x3 = rng.integers(0, 2, 20000)
    data = np.stack([x0, x1, x2, x3], 1).astype(np.int64)
    edges = qb.chow_liu_tree(data)
    assert len(edges) == 3
    assert {frozenset(e) for e in edges[:2]} == {frozenset((0, 1)), frozenset((1, 2))}
    mi = qb.mutual_information(data)
    p = 0.05 * 0.95 * 2
    # I(x0; x2) for a binary symmetric channel of flip probability p: ln 2 - H(p).
    assert mi[0, 2] == pytest.approx(math.log(2) + p * math.log(p) + (1 - p) * math.log(1 - p),
                                     abs=0.01)


def test_gradcheck_of_the_ansatz_and_every_gate():
    a = qb.LayeredAnsatz(3, 2, entangler="all", rng=1)
    w = a.weights.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda w: a.probabilities(w), (w,))

    def circuit(angles):
        s = qb.zero_state(3)
        s = qb.apply_gate(s, qb.rx(angles[0]), 0)
        s = qb.apply_gate(s, qb.ry(angles[1]), 1)
        s = qb.apply_gate(s, qb.rz(angles[2]), 2)
        s = qb.apply_gate(s, qb.ry(angles[2]), 2)
        s = qb.apply_controlled(s, qb.rx(angles[3]), 0, 2)
        s = qb.apply_controlled(s, qb.ry(angles[4]), 2, 1)
        s = qb.apply_controlled(s, qb.rz(angles[5]), 1, 0)
        s = qb.cz(qb.cnot(s, 1, 0), 0, 2)
        s = qb.apply_gate(s, qb.rot(angles[6], angles[7], angles[8]), 1)
        s = qb.apply_gate(s, qb.rot(angles[6], angles[7], angles[8]), 0)
        return qb.probabilities(s)

    angles = torch.tensor(np.random.default_rng(4).uniform(-3, 3, 9), requires_grad=True)
    assert torch.autograd.gradcheck(circuit, (angles,))


def test_samples_follow_the_exact_probabilities():
    a = qb.LayeredAnsatz(4, 3, rng=7)
    p = a.probabilities().detach().numpy()
    x = a.sample(20000, generator=torch.Generator().manual_seed(1))
    assert x.shape == (20000, 4) and x.dtype == torch.long
    counts = np.bincount(qb.bits_to_index(x).numpy(), minlength=16)
    keep = p * 20000 >= 5
    expected = p[keep] * 20000
    observed = counts[keep]
    chi2 = (((observed - expected) ** 2) / expected).sum() + (
        (counts[~keep].sum() - p[~keep].sum() * 20000) ** 2 / max(p[~keep].sum() * 20000, 1e-9)
        if (~keep).any() else 0.0)
    dof = int(keep.sum()) - 1 + int((~keep).any())
    assert stats.chi2.sf(chi2, dof) > 1e-3
    same = a.sample(100, generator=torch.Generator().manual_seed(2))
    assert torch.equal(same, a.sample(100, generator=torch.Generator().manual_seed(2)))


def test_bits_index_roundtrip_and_basis():
    b = qb.basis_bits(3)
    np.testing.assert_array_equal(b.numpy(), ref.bits(3))
    assert torch.equal(qb.bits_to_index(b), torch.arange(8))


def _mmd_loss(p, q, K):
    d = p - q
    return d @ K @ d


def test_shot_gradient_is_unbiased_and_tends_to_autograd():
    """Parameter shift on shots vs autograd: the mean of R shot gradients of MMD^2 agrees with the
    exact gradient within 5 standard errors per coordinate, and the spread shrinks as 1/√N."""
    torch.manual_seed(0)  # not used: every draw below takes its generator
    a = qb.LayeredAnsatz(3, 2, rng=5)
    states = qb.basis_bits(3).double()
    K = torch.exp(-torch.cdist(states, states) ** 2 / 2)
    q = torch.softmax(torch.arange(8.0, dtype=torch.float64), 0)
    exact = torch.autograd.grad(_mmd_loss(a.probabilities(), q, K), a.weights)[0]
    g = torch.Generator().manual_seed(3)

    def shot_grads(n_shots, repeats):
        out = []
        for _ in range(repeats):
            out.append(torch.autograd.grad(
                _mmd_loss(a.shot_probabilities(n_shots, generator=g), q, K), a.weights)[0])
        return torch.stack(out)

    small = shot_grads(200, 60)
    mean, se = small.mean(0), small.std(0) / math.sqrt(60)
    assert ((mean - exact).abs() <= 5 * se + 1e-9).all()
    large = shot_grads(20000, 6)
    assert (large.std(0).mean() < small.std(0).mean() / 5)
    assert (large.mean(0) - exact).abs().max() < 0.02 * exact.abs().max() + 5e-3


def test_shot_gradient_with_exact_histograms_is_the_parameter_shift_rule():
    """The exact parameter-shift rule (no shot noise) equals autograd: the identity the shot
    estimator relies on."""
    a = qb.LayeredAnsatz(3, 2, entangler="all", rng=2)
    P = a.weights.numel()
    shift = torch.eye(P, dtype=torch.float64) * math.pi / 2
    w = a.weights.detach().reshape(1, P)
    p = a.probabilities(torch.cat([w + shift, w - shift]).reshape(2 * P, *a.shape))
    dp = ((p[:P] - p[P:]) / 2).T  # [K, P]
    jac = torch.autograd.functional.jacobian(lambda w: a.probabilities(w), a.weights.detach())
    np.testing.assert_allclose(dp.numpy(), jac.reshape(8, P).numpy(), atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------

def test_too_many_qubits_names_the_memory_before_allocating():
    with pytest.raises(ValueError, match=r"n_qubits must be <= 16, got 40 .*16 TiB"):
        qb.zero_state(40)
    with pytest.raises(ValueError, match="n_qubits must be <= 16, got 17 .*2 MiB"):
        qb.LayeredAnsatz(17, 2)
    with pytest.raises(ValueError, match="n_qubits must be >= 1"):
        qb.LayeredAnsatz(0, 2)


def test_bad_weights_data_and_gates():
    a = qb.LayeredAnsatz(3, 2, rng=0)
    with pytest.raises(ValueError, match=r"weights must have shape \(3, 3, 3\).*got \(3, 3\)"):
        a.probabilities(torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="weights must be a Tensor"):
        a.probabilities([[0.0]])
    with pytest.raises(ValueError, match=r"data must have shape \(B, 4\) with B >= 1, got "):
        qb.LayeredAnsatz(4, 1, entangler="chow-liu", data=np.zeros((5, 3), dtype=int))
    with pytest.raises(ValueError, match="data must hold only 0/1 values, got 2"):
        qb.LayeredAnsatz(3, 1, entangler="chow-liu", data=np.full((5, 3), 2))
    with pytest.raises(ValueError, match="needs data"):
        qb.LayeredAnsatz(3, 1, entangler="chow-liu")
    with pytest.raises(ValueError, match="entangler must be one of 'ring', 'all', 'chow-liu'"):
        qb.LayeredAnsatz(3, 1, entangler="star")
    with pytest.raises(ValueError, match="distinct qubits"):
        qb.LayeredAnsatz(3, 1, entangler=[(0, 0)])
    s = qb.zero_state(2)
    with pytest.raises(ValueError, match="control and target must differ"):
        qb.cnot(s, 1, 1)
    with pytest.raises(ValueError, match="qubit must be <= 1"):
        qb.apply_gate(s, qb.rx(0.1), 2)
    with pytest.raises(ValueError, match="matrix must be a Tensor"):
        qb.apply_gate(s, torch.eye(3), 0)
    with pytest.raises(ValueError, match="bits must hold only 0/1 values, got 3"):
        qb.bits_to_index(torch.tensor([[0, 3]]))
