import numpy as np
import pytest

from qlatent.photonics import (
    beam_splitter,
    circuit_unitary,
    haar_unitary,
    is_unitary,
    loop_unitary,
)


@pytest.mark.parametrize("m", [1, 2, 5, 16, 48])
def test_haar_is_unitary_and_seeded(m):
    U = haar_unitary(m, rng=3)
    assert U.shape == (m, m) and U.dtype == np.complex128
    assert is_unitary(U)
    np.testing.assert_array_equal(U, haar_unitary(m, rng=3))
    assert not np.array_equal(U, haar_unitary(m, rng=4)) or m == 0


def test_haar_moments():
    # For Haar U, E|U_ij|^2 = 1/m and E|U_ij|^4 = 2/(m(m+1)); 400 draws of m = 4 give 6400
    # entries: tolerances are 6 standard errors.
    m, draws = 4, 400
    x = np.abs(np.stack([haar_unitary(m, rng=s) for s in range(draws)])) ** 2
    assert abs(x.mean() - 1 / m) < 6 * x.std() / np.sqrt(x.size)
    x2 = x**2
    assert abs(x2.mean() - 2 / (m * (m + 1))) < 6 * x2.std() / np.sqrt(x2.size)
    # Haar phase fix: the phase of U[0, 0] is uniform (mean of e^{i arg} ~ 0)
    ph = np.exp(1j * np.angle(np.stack([haar_unitary(m, rng=s)[0, 0] for s in range(draws)])))
    assert abs(ph.mean()) < 6 / np.sqrt(draws)


def _independent_loop(m, delays, angles):
    """Full m x m matrices, one per beam splitter, multiplied in order."""
    U = np.eye(m, dtype=complex)
    b = 0
    for d in delays:
        for i in range(m - d):
            T = np.eye(m, dtype=complex)
            T[np.ix_([i, i + d], [i, i + d])] = beam_splitter(*angles[b])
            U = T @ U
            b += 1
    return U


@pytest.mark.parametrize("m,delays", [(4, (1,)), (6, (1, 1)), (12, (1, 3, 9)), (5, (2, 1))])
def test_loop_matches_independent_construction(m, delays):
    rng = np.random.default_rng(1)
    angles = np.column_stack([rng.uniform(0, np.pi / 2, sum(m - d for d in delays)),
                              rng.uniform(0, 2 * np.pi, sum(m - d for d in delays))])
    U = loop_unitary(m, delays, angles=angles)
    np.testing.assert_allclose(U, _independent_loop(m, delays, angles), atol=1e-13)
    assert is_unitary(U)


def test_loop_structure():
    # all beam splitters fully transmitting (theta = 0) give the identity
    m = 7
    U = loop_unitary(m, [1, 3], angles=np.zeros((m - 1 + m - 3, 2)))
    np.testing.assert_allclose(U, np.eye(m), atol=1e-15)
    # all swaps (theta = pi/2, phi = 0) of one delay-1 loop move bin 0 to the last bin
    U = loop_unitary(m, [1], angles=np.column_stack([np.full(m - 1, np.pi / 2),
                                                     np.zeros(m - 1)]))
    assert abs(U[m - 1, 0]) == pytest.approx(1.0)
    # random settings are drawn from rng
    np.testing.assert_array_equal(loop_unitary(8, [1, 1], rng=2), loop_unitary(8, [1, 1], rng=2))


@pytest.mark.parametrize("name", ["haar", "1-1", "1-3-9"])
def test_circuit_unitary(name):
    U = circuit_unitary(name, 16, rng=0)
    assert is_unitary(U)
    np.testing.assert_array_equal(U, circuit_unitary(name, 16, rng=0))


def test_circuit_one_one_is_two_delay_one_loops():
    gen = np.random.default_rng(9)
    U = circuit_unitary("1-1", 10, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(U, loop_unitary(10, [1, 1], rng=gen))


def test_unitary_validation():
    with pytest.raises(ValueError, match="'haar', '1-1', '1-3-9'"):
        circuit_unitary("1-2", 8, rng=0)
    with pytest.raises(ValueError, match="n_modes"):
        circuit_unitary("1-3-9", 9, rng=0)
    with pytest.raises(ValueError, match="n_modes"):
        haar_unitary(0)
    with pytest.raises(TypeError, match="n_modes"):
        haar_unitary(2.5)
    with pytest.raises(ValueError, match="loop_lengths"):
        loop_unitary(4, [4])
    with pytest.raises(ValueError, match="angles"):
        loop_unitary(4, [1], angles=np.zeros((2, 2)))
    with pytest.raises(TypeError, match="rng"):
        haar_unitary(3, rng="seed")
    assert not is_unitary(np.ones((2, 2)))
    assert not is_unitary(np.eye(3) * (1 + 1e-9))
    assert is_unitary(np.eye(3) * (1 + 1e-12))
    assert not is_unitary(np.array([[np.nan, 0.0], [0.0, 1.0]]))
    assert is_unitary(np.eye(3) * (1 + 1e-9), atol=1e-8)
    with pytest.raises(ValueError, match="atol"):
        is_unitary(np.eye(2), atol=-1.0)
    with pytest.raises(ValueError, match="U must be a square"):
        is_unitary(np.ones((2, 3)))
