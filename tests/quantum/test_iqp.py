"""IQP circuits: gates, closed-form expectation values, estimators, bit-flip control, MMD^2.

Oracles: ``qlatent.quantum.qubits`` (a state-vector simulator built from CNOTs and RX gates,
independent of the closed form), ``qlatent.quantum.iqp_reference`` (NumPy: expm of the dense
Hamiltonian, enumeration of fired-gate patterns, explicit kernel sums), gradcheck in float64.
"""

import math

import numpy as np
import pytest
import torch

from qlatent.metrics.kernels import gaussian_kernel
from qlatent.quantum import iqp, qubits
from qlatent.quantum import iqp_reference as ref
from qlatent.quantum.iqp_gates import gate_set, lattice_gates, line_gates, local_gates


def random_gates(n, n_gates, rng, max_weight=3):
    lists = []
    for _ in range(n_gates):
        w = int(rng.integers(1, min(max_weight, n) + 1))
        lists.append(sorted(rng.choice(n, size=w, replace=False).tolist()))
    return gate_set(lists, n)


def state_vector_probs(theta, gates):
    """p(x) from qlatent.quantum.qubits: exp(iθ X_g) = C · RX_{g_0}(-2θ) · C, C = the CNOTs
    from the gate's first qubit to the others (C X_{g_0} C = X_g)."""
    n = gates.n_qubits
    state = qubits.zero_state(n)
    for t, g in zip(theta, gates.lists(), strict=True):
        for q in g[1:]:
            state = qubits.cnot(state, g[0], q)
        state = qubits.apply_gate(state, qubits.rx(-2 * t), g[0])
        for q in g[1:]:
            state = qubits.cnot(state, g[0], q)
    return qubits.probabilities(state)[0]


def z_expvals(probs, ops):
    n = ops.shape[1]
    x = qubits.basis_bits(n).to(torch.float64)
    signs = 1 - 2 * torch.remainder(x @ torch.as_tensor(ops, dtype=torch.float64).T, 2)
    return probs @ signs


# ----------------------------------------------------------------------------------------------
# Gates
# ----------------------------------------------------------------------------------------------

def test_gate_layouts_count_and_content():
    assert lattice_gates(32, 32).n_gates == 1024 + 32 * 31 * 2 == 3008
    assert lattice_gates(4, 5, periodic=True).n_gates == 3 * 20
    assert local_gates(6).n_gates == 21 and line_gates(6).n_gates == 11
    g = lattice_gates(2, 3)
    assert g.lists() == [[0], [1], [2], [3], [4], [5], [0, 1], [1, 2], [3, 4], [4, 5], [0, 3],
                         [1, 4], [2, 5]]
    dense = g.dense()
    assert np.array_equal(dense, g.generators().to_dense().numpy().astype(np.uint8))
    start, gate = g.incidence
    for i in range(g.n_qubits):
        assert gate[start[i]:start[i + 1]].tolist() == np.nonzero(dense[:, i])[0].tolist()
    assert gate_set("lattice", 9).n_gates == lattice_gates(3, 3).n_gates


@pytest.mark.parametrize("gates, message", [
    ([], "at least one gate"), ([[0], [3]], r"gates\[1\] must hold qubits in \[0, 3\)"),
    ([[1, 1]], "must not repeat"), ([[]], "non-empty"), ("ring", "gates must be one of")])
def test_gate_set_rejects_bad_lists(gates, message):
    with pytest.raises(ValueError, match=message):
        gate_set(gates, 3)


def test_parities_match_the_dense_definition():
    rng = np.random.default_rng(0)
    g = random_gates(7, 20, rng)
    ops = rng.integers(0, 2, size=(30, 7))
    assert np.array_equal(iqp.parities(g, ops).numpy(), (ops @ g.dense().T.astype(int)) % 2)


# ----------------------------------------------------------------------------------------------
# Exact values against the state vector and the NumPy reference
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, n_gates, seed", [(2, 3, 0), (5, 12, 1), (8, 20, 2), (12, 30, 3)])
def test_probabilities_and_exact_expvals_match_the_state_vector(n, n_gates, seed):
    rng = np.random.default_rng(seed)
    g = random_gates(n, n_gates, rng)
    theta = torch.tensor(rng.uniform(-np.pi, np.pi, g.n_gates))
    p_sv = state_vector_probs(theta, g)
    assert torch.allclose(iqp.probabilities(theta, g), p_sv, rtol=0, atol=1e-10)
    ops = torch.from_numpy(rng.integers(0, 2, size=(40, n)))
    exact = iqp.expval_exact(theta, g, ops)
    assert exact.dtype == torch.float64
    assert torch.allclose(exact, z_expvals(p_sv, ops), rtol=0, atol=1e-10)


def test_closed_form_against_the_numpy_reference():
    rng = np.random.default_rng(4)
    for n in (1, 3, 6):
        g = random_gates(n, 2 * n + 1, rng)
        theta = rng.uniform(-2, 2, g.n_gates)
        probs = np.abs(ref.circuit_state(theta, g.lists(), n)) ** 2
        t = torch.tensor(theta)
        assert np.allclose(iqp.probabilities(t, g).numpy(), probs, atol=1e-12)
        ops = ref.bits(n)
        assert np.allclose(iqp.expval_exact(t, g, ops).numpy(), ref.expval(probs, ops),
                           atol=1e-12)


def test_exact_expval_of_local_operators_at_1024_qubits():
    """Only the touched qubits enter the closed form: <Z_i> on a 32 x 32 lattice is exact, and
    equals the same operator's value on the 3 x 3 patch around it (the same gates touch it)."""
    big = lattice_gates(32, 32)
    rng = np.random.default_rng(5)
    theta_big = torch.tensor(rng.uniform(-1, 1, big.n_gates))
    centre = 10 * 32 + 10
    ops = torch.zeros(2, 1024, dtype=torch.uint8)
    ops[0, centre] = 1
    ops[1, centre] = ops[1, centre + 1] = 1
    value = iqp.expval_exact(theta_big, big, ops)
    patch = [r * 32 + c for r in range(9, 13) for c in range(9, 13)]      # 4 x 4 patch
    small = lattice_gates(4, 4)
    index = {tuple(g): j for j, g in enumerate(big.lists())}
    theta_small = torch.stack([theta_big[index[tuple(patch[q] for q in g)]]
                               for g in small.lists()])
    local = torch.zeros(2, 16, dtype=torch.uint8)
    local[0, 5] = 1
    local[1, 5] = local[1, 6] = 1
    p = state_vector_probs(theta_small, small)
    # the patch's outer gates do not touch Z_5 or Z_5 Z_6's anticommuting gates' qubits
    assert torch.allclose(value, z_expvals(p, local), atol=1e-10)


def test_float32_follows_float64():
    rng = np.random.default_rng(6)
    g = random_gates(6, 15, rng)
    theta = torch.tensor(rng.uniform(-1, 1, g.n_gates))
    ops = rng.integers(0, 2, size=(20, 6))
    e32 = iqp.expval_exact(theta.float(), g, ops)
    assert e32.dtype == torch.float32
    assert torch.allclose(e32.double(), iqp.expval_exact(theta, g, ops), atol=1e-5)
    assert iqp.probabilities(theta.float(), g).dtype == torch.float32


# ----------------------------------------------------------------------------------------------
# Monte-Carlo estimates
# ----------------------------------------------------------------------------------------------

def test_estimates_within_four_standard_errors_and_shrinking_as_one_over_root_samples():
    rng = np.random.default_rng(7)
    g = random_gates(10, 25, rng)
    theta = torch.tensor(rng.uniform(-1, 1, g.n_gates))
    ops = torch.from_numpy(rng.integers(0, 2, size=(50, 10)))
    ops[0] = 0                                                   # <Z_0> = 1: SE 0
    exact = iqp.expval_exact(theta, g, ops)
    ses = []
    for S in (2_000, 8_000):
        mean, se = iqp.expval_estimate(theta, g, ops, S, generator=torch.Generator().manual_seed(S))
        assert mean[0] == 1 and se[0] == 0
        z = (mean[1:] - exact[1:]) / se[1:]
        assert z.abs().max() < 4
        ses.append(se[1:])
    ratio = (ses[1] / ses[0]).median()
    assert abs(float(ratio) - 0.5) < 0.05                       # sqrt(2000 / 8000)


@pytest.mark.parametrize("density", [0.0, 1.0])
def test_dense_and_sparse_paths_agree(monkeypatch, density):
    rng = np.random.default_rng(8)
    g = random_gates(9, 20, rng)
    theta = torch.tensor(rng.uniform(-1, 1, g.n_gates))
    ops = rng.integers(0, 2, size=(15, 9))
    base = iqp.expval_estimate(theta, g, ops, 300, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(iqp, "_SPARSE_DENSITY", density)    # 0: always dense, 1: always sparse
    other = iqp.expval_estimate(theta, g, ops, 300, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(base[0], other[0], atol=1e-12)
    assert torch.allclose(iqp.expval_exact(theta, g, ops), z_expvals(
        state_vector_probs(theta, g), ops), atol=1e-10)


def test_gradcheck_float64():
    rng = np.random.default_rng(9)
    g = random_gates(5, 9, rng)
    theta = torch.tensor(rng.uniform(-1, 1, g.n_gates), requires_grad=True)
    ops = torch.from_numpy(rng.integers(0, 2, size=(6, 5)))
    data = torch.from_numpy(rng.integers(0, 2, size=(8, 5)))
    assert torch.autograd.gradcheck(lambda t: iqp.expval_exact(t, g, ops), (theta,))
    assert torch.autograd.gradcheck(lambda t: iqp.probabilities(t, g), (theta,))
    assert torch.autograd.gradcheck(lambda t: iqp.bitflip_expval(t, g, ops), (theta,))
    assert torch.autograd.gradcheck(lambda t: iqp.expval_estimate(
        t, g, ops, 50, generator=torch.Generator().manual_seed(1))[0], (theta,))
    for model in iqp.MODELS:
        assert torch.autograd.gradcheck(lambda t, m=model: iqp.mmd2_estimate(
            t, g, data, sigma=1.0, n_ops=20, n_samples=30, n_groups=2, model=m,
            generator=torch.Generator().manual_seed(2))[0], (theta,))


def test_requests_that_do_not_fit_are_refused_with_the_figure():
    g = lattice_gates(4, 4)
    theta = torch.zeros(g.n_gates)
    ops = torch.ones(1000, 16, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"1,000 operators x 1,000,000,000 strings .* GiB"):
        iqp.expval_estimate(theta, g, ops, 10**9)
    big = lattice_gates(5, 5)
    with pytest.raises(ValueError, match="n_qubits <= 20"):
        iqp.probabilities(torch.zeros(lattice_gates(3, 7).n_gates), lattice_gates(3, 7))
    with pytest.raises(ValueError, match="T <= 20, got T = 25"):  # all 25 qubits in one op
        iqp.expval_exact(torch.zeros(big.n_gates), big, torch.ones(1, 25))
    with pytest.raises(ValueError, match=r"theta must have shape \(40,\)"):
        iqp.expval_exact(torch.zeros(3), g, ops[:1])
    with pytest.raises(ValueError, match=r"ops must have shape \(B, 16\)"):
        iqp.expval_exact(theta, g, torch.ones(2, 15))


# ----------------------------------------------------------------------------------------------
# The bit-flip control
# ----------------------------------------------------------------------------------------------

def test_bitflip_against_enumeration_of_fired_gates():
    rng = np.random.default_rng(10)
    g = random_gates(6, 10, rng)
    theta = torch.tensor(rng.uniform(-1.5, 1.5, g.n_gates))
    exact = ref.bitflip_probabilities(theta.numpy(), g.lists(), 6)
    assert np.allclose(iqp.bitflip_probabilities(theta, g).numpy(), exact, atol=1e-12)
    ops = rng.integers(0, 2, size=(30, 6))
    assert np.allclose(iqp.bitflip_expval(theta, g, ops).numpy(), ref.expval(exact, ops),
                       atol=1e-12)
    # samples: chi-square over every outcome of non-negligible mass, alpha fixed at 1e-3
    N = 100_000
    x = iqp.bitflip_sample(theta, g, N, generator=torch.Generator().manual_seed(3))
    counts = np.bincount(qubits.bits_to_index(x).numpy(), minlength=64)
    keep = exact * N > 5
    assert counts[~keep].sum() < 50
    chi2 = ((counts[keep] - N * exact[keep]) ** 2 / (N * exact[keep])).sum()
    from scipy.stats import chi2 as chi2_dist
    assert chi2 < chi2_dist.ppf(1 - 1e-3, keep.sum() - 1)


def test_bitflip_samples_at_1024_qubits_match_its_exact_expvals():
    g = lattice_gates(32, 32)
    rng = np.random.default_rng(11)
    theta = torch.tensor(rng.uniform(-0.6, 0.6, g.n_gates), dtype=torch.float32)
    x = iqp.bitflip_sample(theta, g, 4000, generator=torch.Generator().manual_seed(4))
    assert x.shape == (4000, 1024) and x.dtype == torch.uint8
    ops = torch.zeros(20, 1024, dtype=torch.uint8)
    for k, i in enumerate(rng.choice(1023, 20, replace=False)):
        ops[k, i] = 1
        ops[k, i + 1] = k % 2                                   # half one-, half two-qubit
    spins = (1 - 2 * torch.remainder(x.double() @ ops.double().T, 2))
    z = (spins.mean(0) - iqp.bitflip_expval(theta.double(), g, ops)) / (
        spins.std(0) / math.sqrt(4000))
    assert z.abs().max() < 4


# ----------------------------------------------------------------------------------------------
# Kernel, MMD^2, bandwidth and initialisation
# ----------------------------------------------------------------------------------------------

def test_house_kernel_is_the_spectral_mixture_of_z_products():
    """gaussian_kernel(σ) on bits = E_a[Z_a(x) Z_a(y)], a_i ~ Bernoulli((1 - e^{-1/2σ²})/2)."""
    n, sigma = 5, 1.3
    x = ref.bits(n)
    p = iqp.operator_probability(sigma)
    weight = p ** x.sum(1) * (1 - p) ** (n - x.sum(1))                       # over operators a
    z = 1 - 2 * ((x @ x.T) % 2)                                              # Z_a(x), [a, x]
    mixture = np.einsum("a,ax,ay->xy", weight, z, z)
    house = gaussian_kernel(torch.from_numpy(x), torch.from_numpy(x), (sigma,)).numpy()
    assert np.allclose(mixture, house, atol=1e-14)


@pytest.mark.parametrize("n, model", [(4, "iqp"), (8, "iqp"), (12, "iqp"), (8, "bitflip")])
def test_mmd2_estimate_is_unbiased_against_exact_mmd2(n, model):
    rng = np.random.default_rng(12 + n)
    g = random_gates(n, 2 * n, rng, max_weight=2)
    theta = torch.tensor(rng.uniform(-1, 1, g.n_gates))
    data = rng.integers(0, 2, size=(30, n))
    sigma = 1.0
    p = (iqp.probabilities if model == "iqp" else iqp.bitflip_probabilities)(theta, g)
    if n <= 8:
        exact = ref.mmd2_u(p.numpy(), data, sigma)
    else:  # the house kernel on the enumerated distribution, plus the data's U-statistic
        states = qubits.basis_bits(n)
        y = torch.from_numpy(data)
        kyy = gaussian_kernel(y, y, (sigma,))
        exact = float(p @ gaussian_kernel(states, states, (sigma,)) @ p
                      - 2 * (p @ gaussian_kernel(states, y, (sigma,))).mean()
                      + (kyy.sum() - kyy.trace()) / (30 * 29))
    est, se = iqp.mmd2_estimate(theta, g, data, sigma=sigma, n_ops=4000, n_samples=200,
                                n_groups=40, model=model,
                                generator=torch.Generator().manual_seed(n))
    assert se > 0 and abs(float(est) - exact) < 4 * se


def test_mmd2_model_square_is_unbiased_with_few_samples():
    """With S = 2 strings, squaring the mean would add E_a[Var_z cos A]/S to the estimate; the
    U-statistic does not: the estimate stays within 4 SE of the exact value, and that bias
    (by enumeration: E_z cos^2 A = (1 + <Z_a>_{2θ}) / 2) is many SE wide. (The operators of a
    group share their strings, so with S = 2 many small groups keep the SE small.)"""
    rng = np.random.default_rng(20)
    n, S, sigma = 5, 2, 0.8
    g = random_gates(n, 10, rng, max_weight=2)
    theta = torch.tensor(rng.uniform(-1, 1, g.n_gates))
    data = rng.integers(0, 2, size=(10, n))
    exact = ref.mmd2_u(iqp.probabilities(theta, g).numpy(), data, sigma)
    est, se = iqp.mmd2_estimate(theta, g, data, sigma=sigma, n_ops=10_000, n_samples=S,
                                n_groups=500, generator=torch.Generator().manual_seed(1))
    assert abs(float(est) - exact) < 4 * se
    a = ref.bits(n)
    p = iqp.operator_probability(sigma)
    weight = p ** a.sum(1) * (1 - p) ** (n - a.sum(1))
    e1 = iqp.expval_exact(theta, g, a).numpy()
    e2 = iqp.expval_exact(2 * theta, g, a).numpy()
    bias = float(weight @ ((1 + e2) / 2 - e1**2)) / S
    assert bias > 6 * se


@pytest.mark.parametrize("density", [0.0, 1.0])                # matrix product, gather
def test_median_bandwidth_and_data_expval_by_brute_force(monkeypatch, density):
    monkeypatch.setattr(iqp, "_SPARSE_DATA_DENSITY", density)
    rng = np.random.default_rng(21)
    y = rng.integers(0, 2, size=(25, 9))
    d = [math.sqrt(np.abs(y[i] - y[j]).sum()) for i in range(25) for j in range(i + 1, 25)]
    assert iqp.median_bandwidth(y) == pytest.approx(np.median(d))
    ops = rng.integers(0, 2, size=(7, 9))
    assert np.allclose(iqp.data_expval(y, ops).numpy(),
                       (1 - 2 * ((y @ ops.T) % 2)).mean(0))
    with pytest.raises(ValueError, match="median"):
        iqp.median_bandwidth(np.zeros((5, 3)))


def test_init_from_data_matches_marginals_and_pair_scale():
    rng = np.random.default_rng(22)
    n = 6
    y = (rng.random((500, n)) < np.linspace(0.1, 0.9, n)).astype(np.uint8)
    y[:, 1] = y[:, 0] ^ (rng.random(500) < 0.1)                # a strong correlation
    singles = gate_set([[i] for i in range(n)], n)
    theta = iqp.init_from_data(singles, y, dtype=torch.float64)
    ops = np.eye(n, dtype=np.uint8)
    assert np.allclose(iqp.expval_exact(theta, singles, ops).numpy(), 1 - 2 * y.mean(0))
    g = local_gates(n)
    theta = iqp.init_from_data(g, y, dtype=torch.float64)
    pair = g.weights == 2
    assert float((theta[torch.from_numpy(pair)] ** 2).sum()) == pytest.approx(n)
    cov = np.cov((1 - 2 * y).T)
    j = np.argmax(np.abs(cov[np.triu_indices(n, 1)]))
    assert j == 0 and abs(float(theta[n])) == float(theta[torch.from_numpy(pair)].abs().max())


@pytest.mark.parametrize("model", ["iqp", "bitflip"])
def test_nearest_neighbour_gates_leave_distant_qubits_uncorrelated(model):
    """Lattice gates: qubits 0 and 15 of a 4 x 4 lattice have disjoint neighbourhoods, so
    <Z_0 Z_15> = <Z_0><Z_15> (docs/iqp.md); with all-pair gates they are correlated."""
    ops = torch.zeros(3, 16, dtype=torch.uint8)
    ops[0, 0] = ops[1, 15] = ops[2, 0] = ops[2, 15] = 1
    expval = iqp.expval_exact if model == "iqp" else iqp.bitflip_expval
    for gates, correlated in ((lattice_gates(4, 4), False), (local_gates(16), True)):
        gen = torch.Generator().manual_seed(3)
        theta = (torch.rand(gates.n_gates, generator=gen, dtype=torch.float64) - 0.5) * 0.8
        z0, z15, both = expval(theta, gates, ops).tolist()
        assert (abs(both - z0 * z15) > 1e-3) is correlated
        if not correlated:
            assert both == pytest.approx(z0 * z15, abs=1e-12)
