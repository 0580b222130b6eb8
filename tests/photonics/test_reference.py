import numpy as np
import pytest

from qlatent.photonics import (
    beam_splitter,
    exact_distribution,
    fock_space_size,
    haar_unitary,
    loop_unitary,
    reference,
    standard_input,
)


@pytest.mark.parametrize("m,n", [(1, 0), (1, 3), (3, 2), (5, 3), (16, 2)])
def test_fock_states_complete(m, n):
    S = reference.fock_states(m, n)
    assert S.shape == (fock_space_size(m, n), m)
    assert np.all(S.sum(axis=1) == n) and np.all(S >= 0)
    assert len({tuple(s) for s in S}) == len(S)


@pytest.mark.parametrize("m,n", [(2, 1), (3, 2), (4, 3), (6, 3)])
@pytest.mark.parametrize("fn", [reference.output_distribution,
                                reference.distinguishable_output_distribution])
def test_distributions_normalised(m, n, fn):
    _, p = fn(haar_unitary(m, rng=m + n), standard_input(m, n))
    assert p.min() >= 0
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_single_photon_is_column_modulus():
    U = haar_unitary(5, rng=2)
    for j in range(5):
        t = np.zeros(5, dtype=np.int64)
        t[j] = 1
        for fn in (reference.output_distribution, reference.distinguishable_output_distribution):
            S, p = fn(U, t)
            np.testing.assert_allclose(p, np.abs(U[S.argmax(axis=1), j]) ** 2, atol=1e-14)


def test_hong_ou_mandel():
    U = beam_splitter(np.pi / 4)
    S, p = reference.output_distribution(U, [1, 1])
    probs = {tuple(s): q for s, q in zip(S, p, strict=True)}
    assert probs[(1, 1)] == pytest.approx(0.0, abs=1e-15)
    assert probs[(2, 0)] == pytest.approx(0.5) and probs[(0, 2)] == pytest.approx(0.5)
    Sd, pd = reference.distinguishable_output_distribution(U, [1, 1])
    assert dict(zip(map(tuple, Sd), pd, strict=True))[(1, 1)] == pytest.approx(0.5)


def test_two_photons_in_one_mode_through_a_50_50_splitter():
    # |2,0> -> (|2,0> + |0,2>)/2 - |1,1>/sqrt(2) up to phases: P = 1/4, 1/2, 1/4
    S, p = reference.output_distribution(beam_splitter(np.pi / 4), [2, 0])
    probs = dict(zip(map(tuple, S), p, strict=True))
    assert probs[(2, 0)] == pytest.approx(0.25) and probs[(1, 1)] == pytest.approx(0.5)


@pytest.mark.parametrize("m,t", [(4, [1, 1, 0, 0]), (5, [1, 0, 1, 1, 0]), (6, [1, 1, 1, 0, 0, 0]),
                                 (4, [2, 1, 0, 0]), (3, [0, 3, 0]), (7, [1, 1, 1, 1, 0, 0, 0])])
def test_fast_exact_distribution_matches_reference(m, t):
    U = haar_unitary(m, rng=11) if m != 7 else loop_unitary(7, [1, 3], rng=11)
    S, p = exact_distribution(U, np.array(t))
    Sr, pr = reference.output_distribution(U, np.array(t))
    assert len(S) == len(Sr)
    ref = dict(zip(map(tuple, Sr), pr, strict=True))
    for s, q in zip(S, p, strict=True):
        assert q == pytest.approx(ref[tuple(s)], abs=1e-13)
