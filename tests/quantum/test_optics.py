"""qlatent.quantum.optics against the photonics oracles (NumPy, no torch) and finite differences."""

import itertools
import math

import numpy as np
import pytest
import torch

from qlatent import photonics
from qlatent.photonics import reference
from qlatent.quantum import optics
from qlatent.quantum.optics import (
    ClementsMesh,
    LoopCircuit,
    batched_permanent,
    log_prob,
    mean_occupancy,
    nonnegative_permanent,
    occupancy_variance,
    output_distribution,
)

# (m, input_state): a grid of sizes, bunched inputs included
GRID = [(2, (1, 1)), (3, (1, 1, 0)), (3, (2, 1, 0)), (4, (1, 1, 1, 0)), (4, (0, 2, 0, 1)),
        (5, (1, 1, 1, 1, 0)), (6, (1, 1, 1, 0, 0, 0))]


def _haar(m, seed):
    return torch.from_numpy(photonics.haar_unitary(m, rng=seed))


@pytest.mark.parametrize("delays,m", [((1, 1), 5), ((1, 3, 9), 12), ((2,), 4), ((1, 3), 7)])
def test_loop_circuit_equals_photonics_loop_unitary(delays, m):
    rng = np.random.default_rng(m)
    n_bs = sum(m - d for d in delays)
    angles = np.stack([rng.uniform(-3, 3, n_bs), rng.uniform(-7, 7, n_bs)], axis=1)
    U = LoopCircuit(m, delays, angles=angles)().detach().numpy()
    np.testing.assert_allclose(U, photonics.loop_unitary(m, delays, angles=angles), atol=1e-13)
    # the same rng draws the same initial settings
    np.testing.assert_allclose(LoopCircuit(m, delays, rng=4)().detach().numpy(),
                               photonics.loop_unitary(m, delays, rng=4), atol=1e-13)


@pytest.mark.parametrize("m", [2, 3, 6, 9])
def test_mesh_is_unitary_with_m_squared_parameters(m):
    mesh = ClementsMesh(m, rng=1)
    assert mesh.n_beam_splitters == m * (m - 1) // 2
    assert sum(p.numel() for p in mesh.parameters()) == m * m  # dim U(m)
    U = mesh()
    assert U.dtype == torch.complex128
    assert photonics.is_unitary(U.detach().numpy(), atol=1e-12)
    U32 = ClementsMesh(m, rng=1, dtype=torch.float32)()
    assert U32.dtype == torch.complex64
    np.testing.assert_allclose(U32.detach().numpy(), U.detach().numpy(), atol=1e-5)


def test_mesh_beam_splitter_is_clements_T():
    """m = 2: one beam splitter T(θ, φ) then the output phases (Clements eq. 1)."""
    mesh = ClementsMesh(2, rng=0)
    th, ph = mesh.theta.item(), mesh.phi.item()
    a = mesh.output_phase.detach().numpy()
    T = np.array([[np.exp(1j * ph) * np.cos(th), -np.sin(th)],
                  [np.exp(1j * ph) * np.sin(th), np.cos(th)]])
    np.testing.assert_allclose(mesh().detach().numpy(), np.diag(np.exp(1j * a)) @ T, atol=1e-14)


def test_batched_permanent_matches_permutation_sum():
    rng = np.random.default_rng(0)
    for n in range(0, 7):
        A = rng.normal(size=(3, n, n)) + 1j * rng.normal(size=(3, n, n))
        got = batched_permanent(torch.from_numpy(A)).numpy()
        want = [reference.permanent(a) if n else 1.0 for a in A]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # closed form: Perm(ones(n)) = n!
    ones = torch.ones(1, 8, 8, dtype=torch.float64)
    assert batched_permanent(ones).item() == pytest.approx(math.factorial(8), rel=1e-12)


@pytest.mark.parametrize("m,t", GRID)
def test_log_prob_matches_reference_distributions(m, t):
    U = _haar(m, seed=m + sum(t))
    states, probs = reference.output_distribution(U.numpy(), np.array(t))
    lp = log_prob(U, torch.tensor(t), torch.from_numpy(states))
    np.testing.assert_allclose(np.exp(lp.numpy()), probs, rtol=1e-9, atol=1e-14)
    states_d, probs_d = reference.distinguishable_output_distribution(U.numpy(), np.array(t))
    lpd = log_prob(U, t, states_d, distinguishable=True)
    np.testing.assert_allclose(np.exp(lpd.numpy()), probs_d, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("m,t", GRID + [(8, (1,) * 4 + (0,) * 4), (12, (1,) * 6 + (0,) * 6)])
def test_output_distribution_matches_exact_distribution(m, t):
    U = _haar(m, seed=3 * m)
    states, probs = output_distribution(U, t)
    ref_states, ref_probs = photonics.exact_distribution(U.numpy(), np.array(t))
    np.testing.assert_array_equal(states.numpy(), ref_states)  # same order
    np.testing.assert_allclose(probs.numpy(), ref_probs, rtol=1e-9, atol=1e-15)
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-12)
    states_d, probs_d = output_distribution(U, t, distinguishable=True)
    np.testing.assert_array_equal(states_d.numpy(), ref_states)
    assert probs_d.sum().item() == pytest.approx(1.0, abs=1e-12)
    if math.comb(m + sum(t) - 1, sum(t)) <= 300:  # the permutation-sum oracle is slow
        ref = dict(zip(map(tuple, reference.distinguishable_output_distribution(
            U.numpy(), np.array(t))[0].tolist()), reference.distinguishable_output_distribution(
            U.numpy(), np.array(t))[1], strict=True))
        want = np.array([ref[tuple(s)] for s in states_d.tolist()])
        np.testing.assert_allclose(probs_d.numpy(), want, rtol=1e-9, atol=1e-15)


def test_log_prob_agrees_with_output_distribution_at_4_of_8():
    U = _haar(8, seed=9)
    t = (1, 1, 1, 1, 0, 0, 0, 0)
    for dist in (False, True):
        states, probs = output_distribution(U, t, distinguishable=dist)
        lp = log_prob(U, t, states, distinguishable=dist)
        np.testing.assert_allclose(np.exp(lp.numpy()), probs.numpy(), rtol=1e-9)


def test_hong_ou_mandel():
    bs = torch.from_numpy(photonics.beam_splitter(np.pi / 4))
    counts = torch.tensor([[1, 1], [2, 0], [0, 2]])
    p = log_prob(bs, (1, 1), counts).exp()
    assert p[0].item() == pytest.approx(0.0, abs=1e-15)  # the HOM dip
    np.testing.assert_allclose(p[1:].numpy(), [0.5, 0.5], rtol=1e-12)
    pd = log_prob(bs, (1, 1), counts, distinguishable=True).exp()
    np.testing.assert_allclose(pd.numpy(), [0.5, 0.25, 0.25], rtol=1e-12)


@pytest.mark.parametrize("m,t", [(4, (1, 1, 0, 0)), (5, (1, 1, 1, 0, 0)), (4, (2, 0, 1, 0))])
def test_moments_match_exact_distribution(m, t):
    U = _haar(m, seed=1)
    for dist in (False, True):
        states, probs = output_distribution(U, t, distinguishable=dist)
        s = states.double()
        mean = probs @ s
        var = probs @ s.square() - mean.square()
        np.testing.assert_allclose(mean_occupancy(U, t).numpy(), mean.numpy(), atol=1e-12)
        np.testing.assert_allclose(occupancy_variance(U, t, distinguishable=dist).numpy(),
                                   var.numpy(), atol=1e-12)


def test_gradcheck_log_prob_through_mesh():
    mesh = ClementsMesh(5, rng=2)
    t = torch.tensor([1, 1, 1, 0, 0])
    counts = torch.tensor([[1, 1, 1, 0, 0], [0, 2, 0, 0, 1], [3, 0, 0, 0, 0], [0, 0, 1, 1, 1]])
    params = [p.detach().clone().requires_grad_() for p in mesh.parameters()]

    def f(theta, phi, alpha, dist):
        U = torch.func.functional_call(mesh, {"theta": theta, "phi": phi, "output_phase": alpha},
                                       ())
        return log_prob(U, t, counts, distinguishable=dist)

    for dist in (False, True):
        assert torch.autograd.gradcheck(lambda a, b, c: f(a, b, c, dist), params)  # noqa: B023


def test_gradcheck_output_distribution_through_loop_circuit():
    loop = LoopCircuit(5, (1, 3), rng=3)
    params = [p.detach().clone().requires_grad_() for p in loop.parameters()]
    t = (1, 0, 1, 1, 0)

    def f(theta, phi, dist):
        U = torch.func.functional_call(loop, {"theta": theta, "phi": phi}, ())
        return output_distribution(U, t, distinguishable=dist)[1]

    for dist in (False, True):
        assert torch.autograd.gradcheck(lambda a, b: f(a, b, dist), params)  # noqa: B023


def test_gradcheck_batched_permanent_complex():
    rng = np.random.default_rng(5)
    A = torch.from_numpy(rng.normal(size=(2, 4, 4)) + 1j * rng.normal(size=(2, 4, 4)))
    assert torch.autograd.gradcheck(batched_permanent, (A.requires_grad_(),))


@pytest.mark.parametrize("n", [2, 4, 5])
def test_gradient_with_exactly_cancelling_row_sums(n):
    """Paired identical rows make some Glynn row sums exactly zero (bunched outcomes such as
    (2, 2, 0, ...)): the backward pass must not divide by them. Checked against finite
    differences and against autograd through the permutation sum."""
    rng = np.random.default_rng(n)
    base = rng.normal(size=(1, (n + 1) // 2, n)) + 1j * rng.normal(size=(1, (n + 1) // 2, n))
    A = torch.from_numpy(np.repeat(base, 2, axis=1)[:, :n].copy())
    assert torch.autograd.gradcheck(batched_permanent, (A.clone().requires_grad_(),))
    X = A.clone().requires_grad_()
    batched_permanent(X).real.sum().backward()
    Y = A.clone().requires_grad_()
    sum(math.prod(Y[0, i, p[i]] for i in range(n))
        for p in itertools.permutations(range(n))).real.backward()
    torch.testing.assert_close(X.grad, Y.grad)


def test_complex64_agrees_with_complex128():
    m, t = 8, (1,) * 4 + (0,) * 4
    mesh64, mesh32 = ClementsMesh(m, rng=7), ClementsMesh(m, rng=7, dtype=torch.float32)
    states, probs = output_distribution(mesh64(), t)
    lp32 = log_prob(mesh32(), t, states[:50])
    assert lp32.dtype == torch.float32
    np.testing.assert_allclose(lp32.exp().detach().numpy(), probs[:50].detach().numpy(),
                               rtol=1e-3, atol=1e-7)


def test_bad_inputs_are_named():
    U = _haar(4, seed=0)
    t = (1, 1, 0, 0)
    good = torch.tensor([[1, 1, 0, 0]])
    with pytest.raises(ValueError, match="U must be unitary.*deviation"):
        log_prob(2 * U, t, good)
    with pytest.raises(ValueError, match=r"U must be a non-empty square matrix.*\(4, 3\)"):
        log_prob(U[:, :3], t, good)
    with pytest.raises(TypeError, match="U must be complex128 or complex64"):
        log_prob(U.real, t, good)
    with pytest.raises(ValueError, match="at most n_modes = 4 photons, got 5"):
        log_prob(U, (2, 1, 1, 1), good)
    with pytest.raises(ValueError, match=r"input_state must have shape \(4,\)"):
        log_prob(U, (1, 1, 0), good)
    with pytest.raises(ValueError, match="counts must hold the input's 2 photons in every row, "
                                         r"got 3 in row 1: \[1, 1, 1, 0\]"):
        log_prob(U, t, torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0]]))
    with pytest.raises(ValueError, match="counts must be non-negative"):
        log_prob(U, t, torch.tensor([[3, -1, 0, 0]]))
    with pytest.raises(TypeError, match="counts must hold integer photon counts"):
        log_prob(U, t, good.double())
    with pytest.raises(ValueError, match=r"counts must have shape \(batch, 4\)"):
        log_prob(U, t, torch.tensor([1, 1, 0, 0]))
    with pytest.raises(ValueError, match="490,314 output states, more than"):
        optics.MAX_DISTRIBUTION_STATES, old = 400_000, optics.MAX_DISTRIBUTION_STATES
        try:
            output_distribution(torch.eye(16, dtype=torch.complex128), (1,) * 8 + (0,) * 8)
        finally:
            optics.MAX_DISTRIBUTION_STATES = old
    nan = torch.full((4, 4), float("nan"), dtype=torch.complex128)
    with pytest.raises(ValueError, match="U must be finite"):
        output_distribution(nan, t)
    loop = LoopCircuit(4, (1,), rng=0)
    with torch.no_grad():
        loop.phi[2] = float("nan")
    with pytest.raises(FloatingPointError, match="parameter 'phi'.*index 2"):
        loop.check_finite()
    with pytest.raises(ValueError, match="loop_lengths\\[i\\] must be <= 3"):
        LoopCircuit(4, (1, 4))


def test_nonnegative_permanent_matches_reference_and_gradcheck():
    rng = np.random.default_rng(8)
    for n in range(1, 7):
        A = rng.random(size=(3, n, n))
        np.testing.assert_allclose(nonnegative_permanent(torch.from_numpy(A)).numpy(),
                                   [reference.permanent(a).real for a in A], rtol=1e-12)
    A = torch.from_numpy(rng.random(size=(2, 4, 4))).requires_grad_()
    assert torch.autograd.gradcheck(nonnegative_permanent, (A,))


def test_tiny_distinguishable_probabilities_stay_finite():
    """Near-identity loop circuit: some outcomes have probabilities ~1e-40 that a signed
    permanent sum rounds to zero or below; the cancellation-free recursion keeps them."""
    m, t = 8, (1,) * 4 + (0,) * 4
    n_bs = 2 * m - 2
    angles = np.stack([np.full(n_bs, 1e-5), np.zeros(n_bs)], axis=1)
    U = LoopCircuit(m, (1, 1), angles=angles)()
    states, probs = output_distribution(U, t, distinguishable=True)
    lp = log_prob(U, t, states, distinguishable=True)
    positive = probs > 0  # the loops cannot carry a photon backwards: exact zeros exist
    assert torch.isfinite(lp[positive]).all() and torch.all(lp[~positive] == -math.inf)
    np.testing.assert_allclose(lp[positive].exp().detach().numpy(),
                               probs[positive].detach().numpy(), rtol=1e-9)
    assert float(probs[positive].min().detach()) < 1e-30
