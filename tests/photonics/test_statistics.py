import numpy as np
import pytest

from qlatent import photonics
from qlatent.photonics import (
    bunching_probability,
    collision_probability,
    empirical_distribution,
    fano_factor,
    mean_occupancy,
    mode_variance,
    photon_number_histogram,
    probability_of_count,
    total_variation_distance,
)

X = np.array([[2, 0, 1], [0, 3, 0], [1, 1, 1], [1, 1, 1]])


def test_moments_against_hand_computation():
    np.testing.assert_allclose(mean_occupancy(X), [1.0, 1.25, 0.75])
    # var of (2,0,1,1) = 0.5; (0,3,1,1) = 1.1875; (1,0,1,1) = 0.1875
    np.testing.assert_allclose(mode_variance(X), [0.5, 1.1875, 0.1875])
    assert fano_factor(X) == pytest.approx((0.5 / 1 + 1.1875 / 1.25 + 0.1875 / 0.75) / 3)


def test_fano_skips_empty_modes():
    Y = np.array([[1, 0], [3, 0]])
    assert fano_factor(Y) == pytest.approx(1.0 / 2.0)


def test_count_probabilities():
    assert bunching_probability(X) == 0.5
    assert probability_of_count(X, 3) == 0.25
    assert probability_of_count(X, 0) == 1.0
    h = photon_number_histogram(X)
    np.testing.assert_allclose(h, np.array([3, 7, 1, 1.0]) / 12)
    np.testing.assert_allclose(photon_number_histogram(X, 1), np.array([3, 7.0]) / 12)


def test_empirical_and_tvd():
    states = np.array([[1, 1, 1], [2, 0, 1], [0, 3, 0], [3, 0, 0]])
    np.testing.assert_allclose(empirical_distribution(X, states), [0.5, 0.25, 0.25, 0.0])
    p = np.array([0.25, 0.25, 0.25, 0.25])
    assert total_variation_distance(X, states, p) == pytest.approx(0.5 * (0.25 + 0 + 0 + 0.25))
    with pytest.raises(ValueError, match="not in states"):
        empirical_distribution(X, states[1:])


def test_statistics_validation():
    with pytest.raises(TypeError, match="samples must be an integer"):
        mean_occupancy(X.astype(float))
    with pytest.raises(ValueError, match="samples must have shape"):
        fano_factor(X[0])
    with pytest.raises(ValueError, match="at least one sample"):
        bunching_probability(np.zeros((0, 3), dtype=int))
    with pytest.raises(ValueError, match="k must be"):
        probability_of_count(X, -1)
    with pytest.raises(ValueError, match="probs must have shape"):
        total_variation_distance(X, X, np.ones(3))


def test_empirical_distribution_at_48_modes_with_large_counts():
    # a positional code base^m would overflow int64 here
    states = np.zeros((3, 48), dtype=np.int64)
    states[0, 0], states[1, 47], states[2, [0, 47]] = 24, 24, 12
    x = states[[0, 2, 2, 1]]
    np.testing.assert_allclose(empirical_distribution(x, states), [0.25, 0.25, 0.5])
    with pytest.raises(ValueError, match="must not repeat"):
        empirical_distribution(x, states[[0, 0, 1, 2]])


def test_collision_probability_is_unbiased_for_sum_p_squared():
    rng = np.random.default_rng(1)
    p = np.array([0.5, 0.3, 0.15, 0.05])
    states = np.eye(4, dtype=np.int64)
    estimates = [collision_probability(states[rng.choice(4, size=50, p=p)]) for _ in range(4000)]
    sd = np.std(estimates) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates) - np.sum(p**2)) < 5 * sd


def test_tvd_agrees_with_frequencies_and_counts_samples_outside_the_states():
    U = photonics.haar_unitary(4, rng=2)
    t = photonics.standard_input(4, 2)
    states, probs = photonics.reference.output_distribution(U, t)
    rows = photonics.boson_sample(U, t, 3000, rng=3)
    f = photonics.empirical_distribution(rows, states)
    inside = total_variation_distance(rows, states, probs)
    assert abs(inside - 0.5 * np.abs(f - probs).sum()) < 1e-12
    outside = np.vstack([rows, np.array([[3, 0, 0, 0]] * 1000)])  # 3 photons: not a state
    f = f * 3000 / 4000
    expected = 0.5 * (np.abs(f - probs).sum() + 0.25)
    assert abs(total_variation_distance(outside, states, probs) - expected) < 1e-12
