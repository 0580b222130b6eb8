"""qlatent.quantum.ising against the expm reference (SciPy, no torch), the classical Boltzmann
distribution at Γ = 0, finite differences (also at degenerate spectra) and exact statistics."""

import numpy as np
import pytest
import scipy.stats
import torch

from qlatent.quantum import ising, qubits
from qlatent.quantum import ising_reference as reference


def _random(n, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    b = rng.normal(0, scale, n)
    W = np.triu(rng.normal(0, scale, (n, n)), 1)
    return b, W + W.T


def _matrix(u, n):
    """Symmetric zero-diagonal W from its upper triangle (differentiable)."""
    rows, cols = torch.triu_indices(n, n, 1)
    W = u.new_zeros(n, n).index_put((rows, cols), u)
    return W + W.T


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.7])
def test_gibbs_state_equals_expm_reference(n, gamma):
    b, W = _random(n, seed=10 * n + int(10 * gamma))
    state = ising.gibbs_state(b, W, gamma)
    p_ref, log_z_ref = reference.probabilities(b, W, gamma)
    np.testing.assert_allclose(state.probabilities.numpy(), p_ref, rtol=1e-10, atol=1e-14)
    assert state.log_partition == pytest.approx(log_z_ref, rel=1e-12, abs=1e-12)
    assert float(state.probabilities.sum()) == pytest.approx(1.0, abs=1e-13)
    np.testing.assert_allclose(ising.hamiltonian(b, W, gamma).numpy(),
                               reference.hamiltonian(b, W, gamma), rtol=0, atol=1e-12)


def test_large_fields_do_not_overflow():
    # Energies of order 10^3: e^{-H} overflows without the shift; log Z stays exact.
    b, W = _random(4, seed=1, scale=300.0)
    state = ising.gibbs_state(b, W, 2.0)
    p_ref, log_z_ref = reference.probabilities(b, W, 2.0)
    assert np.isfinite(state.log_partition)
    assert state.log_partition == pytest.approx(log_z_ref, rel=1e-12)
    np.testing.assert_allclose(state.probabilities.numpy(), p_ref, atol=1e-12)


@pytest.mark.parametrize("n", [1, 4, 8])
def test_gamma_zero_is_the_classical_boltzmann_distribution(n):
    b, W = _random(n, seed=n)
    p = ising.gibbs_state(b, W, 0.0).probabilities.numpy()
    np.testing.assert_allclose(p, reference.classical_probabilities(b, W), rtol=1e-13,
                               atol=1e-16)


def test_expectations_equal_reference_traces():
    n, gamma = 4, 0.8
    b, W = _random(n, seed=3)
    state = ising.gibbs_state(b, W, gamma)
    H = reference.hamiltonian(b, W, gamma)
    import scipy.linalg
    rho = scipy.linalg.expm(-H)
    rho /= np.trace(rho)
    z = [reference._on(reference._Z, i, n) for i in range(n)]
    x = [reference._on(reference._X, i, n) for i in range(n)]
    np.testing.assert_allclose(state.mean_spins().numpy(), [np.trace(rho @ zi) for zi in z],
                               atol=1e-12)
    np.testing.assert_allclose(state.mean_transverse().numpy(), [np.trace(rho @ xi) for xi in x],
                               atol=1e-12)
    np.testing.assert_allclose(state.spin_correlations().numpy(),
                               [[np.trace(rho @ zi @ zj) for zj in z] for zi in z], atol=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5, 7, 9])
@pytest.mark.parametrize("gamma", [0.0, 0.4, 2.5])
def test_chebyshev_diagonal_equals_the_references(n, gamma):
    b, W = _random(n, seed=100 + n, scale=0.8)
    p, log_z = ising.gibbs_diagonal(b, W, gamma, method="chebyshev")
    if n <= 7:
        p_ref, log_z_ref = reference.probabilities(b, W, gamma)
    else:
        state = ising.gibbs_state(b, W, gamma)
        p_ref, log_z_ref = state.probabilities.numpy(), state.log_partition
    # absolute accuracy of the series (1e-17 truncation, float64 recurrences)
    np.testing.assert_allclose(p.numpy(), p_ref, rtol=0, atol=1e-13)
    assert log_z == pytest.approx(log_z_ref, abs=1e-12)
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-14)
    pe, log_ze = ising.gibbs_diagonal(b, W, gamma, method="eigh")
    np.testing.assert_allclose(pe.numpy(), p_ref, rtol=1e-9, atol=1e-15)


def test_chebyshev_at_degenerate_and_strong_fields():
    # zero fields (H = -Γ sum σˣ: P uniform, log Z = n log(2 cosh Γ)) and fields of order 30
    n, gamma = 6, 1.3
    p, log_z = ising.gibbs_diagonal(np.zeros(n), np.zeros((n, n)), gamma, method="chebyshev")
    np.testing.assert_allclose(p.numpy(), np.full(2**n, 2.0**-n), atol=1e-15)
    assert log_z == pytest.approx(n * np.log(2 * np.cosh(gamma)), abs=1e-12)
    b, W = _random(n, seed=11, scale=6.0)
    p, log_z = ising.gibbs_diagonal(b, W, gamma, method="chebyshev")
    p_ref, log_z_ref = reference.probabilities(b, W, gamma)
    np.testing.assert_allclose(p.numpy(), p_ref, atol=1e-13)
    assert log_z == pytest.approx(log_z_ref, rel=1e-13)


def test_gibbs_diagonal_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="method must be one of 'auto', 'eigh', 'chebyshev'"):
        ising.gibbs_diagonal(np.zeros(2), np.zeros((2, 2)), 1.0, method="lanczos")


def test_spins_of_the_basis_follow_the_documented_convention():
    bits = qubits.basis_bits(3)
    assert bits[5].tolist() == [1, 0, 1]  # index 5 = 0b101, unit 0 most significant
    assert qubits.bits_to_index(bits).tolist() == list(range(8))
    # A positive bias favours bit 1 (spin +1).
    p = ising.gibbs_state([2.0, 0.0, 0.0], np.zeros((3, 3)), 0.5).probabilities
    assert float(p[bits[:, 0] == 1].sum()) > 0.9


# ----------------------------------------------------------------------------------------------
# Gradients
# ----------------------------------------------------------------------------------------------

POINTS = {
    "random": lambda n: _random(n, seed=4),
    # zero biases: the global spin flip commutes with H, so the spectrum has degenerate pairs
    # at Γ = 0 and near-degeneracies at Γ > 0
    "zero-biases": lambda n: (np.zeros(n), _random(n, seed=5)[1]),
    # zero biases and couplings: H = -Γ sum σˣ, eigenvalues Γ(n - 2k) with multiplicity C(n, k)
    "zero": lambda n: (np.zeros(n), np.zeros((n, n))),
}


@pytest.mark.parametrize("point", list(POINTS))
@pytest.mark.parametrize("gamma", [0.6, 1.3])
def test_log_prob_gradients_equal_finite_differences(point, gamma):
    n = 4
    b, W = POINTS[point](n)
    bt = torch.tensor(b, requires_grad=True)
    ut = torch.tensor(W[np.triu_indices(n, 1)], requires_grad=True)
    gt = torch.tensor(gamma, dtype=torch.float64, requires_grad=True)
    bits = qubits.basis_bits(n)[[0, 3, 3, 9, 15, 6]]
    assert torch.autograd.gradcheck(
        lambda b_, u_, g_: ising.log_prob(b_, _matrix(u_, n), g_, bits), (bt, ut, gt))
    assert torch.autograd.gradcheck(
        lambda b_, u_, g_: ising.log_partition(b_, _matrix(u_, n), g_), (bt, ut, gt))
    assert torch.autograd.gradcheck(
        lambda b_, u_: ising.bound_nll(b_, _matrix(u_, n), gamma, bits), (bt, ut))


@pytest.mark.parametrize("point", ["zero-biases", "zero"])
def test_gradients_at_gamma_zero_degenerate_spectrum(point):
    # Γ = 0 and zero biases: every eigenvalue pairs up (all equal at the "zero" point).
    n = 4
    b, W = POINTS[point](n)
    bt = torch.tensor(b, requires_grad=True)
    ut = torch.tensor(W[np.triu_indices(n, 1)], requires_grad=True)
    bits = qubits.basis_bits(n)[[1, 2, 14]]
    assert torch.autograd.gradcheck(
        lambda b_, u_: ising.log_prob(b_, _matrix(u_, n), 0.0, bits), (bt, ut))


def test_exact_gradient_equals_finite_differences_of_the_expm_reference():
    # Independent of the fast forward: central differences of log P computed by scipy's expm.
    n, gamma, h = 3, 0.9, 1e-5
    b, W = _random(n, seed=8)
    bits = qubits.basis_bits(n)[[2, 5, 5, 7]]
    idx = qubits.bits_to_index(bits).numpy()
    bt = torch.tensor(b, requires_grad=True)
    Wt = torch.tensor(W, requires_grad=True)
    gt = torch.tensor(gamma, dtype=torch.float64, requires_grad=True)
    ising.log_prob(bt, Wt, gt, bits).sum().backward()

    def loss(b_, W_, g_):
        return np.log(reference.probabilities(b_, W_, g_)[0][idx]).sum()

    fd_b = [(loss(b + h * e, W, gamma) - loss(b - h * e, W, gamma)) / (2 * h) for e in np.eye(n)]
    np.testing.assert_allclose(bt.grad.numpy(), fd_b, rtol=1e-6, atol=1e-8)
    E = np.zeros((n, n))
    E[0, 2] = E[2, 0] = 1.0  # W_02 = W_20 moves together: dL/dW_02 + dL/dW_20
    fd_w = (loss(b, W + h * E, gamma) - loss(b, W - h * E, gamma)) / (2 * h)
    assert float(Wt.grad[0, 2] + Wt.grad[2, 0]) == pytest.approx(fd_w, rel=1e-6)
    fd_g = (loss(b, W, gamma + h) - loss(b, W, gamma - h)) / (2 * h)
    assert float(gt.grad) == pytest.approx(fd_g, rel=1e-6)


def test_bound_gradient_is_model_minus_data_statistics():
    n, gamma = 4, 1.1
    b, W = _random(n, seed=6)
    bits = qubits.basis_bits(n)[[1, 4, 4, 12, 15]]
    bt = torch.tensor(b, requires_grad=True)
    ut = torch.tensor(W[np.triu_indices(n, 1)], requires_grad=True)
    ising.bound_nll(bt, _matrix(ut, n), gamma, bits).mean().backward()
    state = ising.gibbs_state(b, W, gamma)
    s = (2 * bits - 1).double()
    torch.testing.assert_close(bt.grad, state.mean_spins() - s.mean(0))
    iu = np.triu_indices(n, 1)
    data_corr = (s.T @ s / len(s))[iu]
    torch.testing.assert_close(ut.grad, state.spin_correlations()[iu] - data_corr)


def test_bound_is_an_upper_bound_tight_at_gamma_zero():
    n = 4
    b, W = _random(n, seed=7)
    bits = qubits.basis_bits(n)
    for gamma, tight in ((0.0, True), (0.7, False)):
        exact = -ising.log_prob(b, W, gamma, bits)
        bound = ising.bound_nll(b, W, gamma, bits)
        assert bool((bound >= exact - 1e-12).all())
        assert torch.allclose(bound, exact, atol=1e-12) == tight


# ----------------------------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------------------------

def test_samples_follow_the_exact_distribution_chi_square():
    n, gamma, N = 4, 1.0, 40_000
    b, W = _random(n, seed=9, scale=0.7)
    bits = ising.sample(b, W, gamma, N, generator=torch.Generator().manual_seed(0))
    assert bits.shape == (N, n) and bits.dtype == torch.int64
    counts = np.bincount(qubits.bits_to_index(bits).numpy(), minlength=2**n)
    p, _ = reference.probabilities(b, W, gamma)
    # every state included; alpha = 1e-3 fixed in advance
    assert scipy.stats.chisquare(counts, N * p).pvalue > 1e-3


def test_sampling_is_deterministic_in_the_generator():
    b, W = _random(3, seed=2)
    def draw(seed):
        return ising.sample(b, W, 0.5, 500, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(1), draw(1)) and not torch.equal(draw(1), draw(2))
    assert ising.sample(b, W, 0.5, 0).shape == (0, 3)


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------

def test_bad_input_is_named():
    b, W = _random(3, seed=0)
    with pytest.raises(ValueError, match=r"len\(biases\) must be <= 12 .*128 MiB.*got 13"):
        ising.gibbs_state(np.zeros(13), np.zeros((13, 13)), 1.0)
    with pytest.raises(ValueError, match="gamma must be >= 0 .*got -0.5"):
        ising.gibbs_state(b, W, -0.5)
    Wn = W.copy()
    Wn[0, 1] += 0.1
    with pytest.raises(ValueError, match=r"couplings must be symmetric .*max \|W - W\^T\| = 0.1"):
        ising.gibbs_state(b, Wn, 1.0)
    Wd = W.copy()
    Wd[1, 1] = 0.5
    with pytest.raises(ValueError, match="couplings must have a zero diagonal"):
        ising.gibbs_state(b, Wd, 1.0)
    with pytest.raises(ValueError, match=r"couplings must have shape \(3, 3\)"):
        ising.gibbs_state(b, np.zeros((3, 4)), 1.0)
    with pytest.raises(ValueError, match=r"bits must have shape \(B, 3\), got \(2, 4\)"):
        ising.log_prob(b, W, 1.0, np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match="bits must hold only 0/1 values, got "):
        ising.log_prob(b, W, 1.0, [[0, 2, 1]])
    with pytest.raises(ValueError, match="biases must be finite"):
        ising.gibbs_state([0.0, np.nan, 1.0], W, 1.0)
    with pytest.raises(TypeError, match="gamma must be real numbers"):
        ising.gibbs_state(b, W, "strong")
    with pytest.raises(ValueError, match="n_units must be <= 12"):
        ising.check_n_units(13)
