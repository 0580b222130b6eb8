"""Discrete metrics against independent computations: scipy, hand-worked cases, brute force."""

import numpy as np
import pytest
from scipy import stats

from qlatent import metrics
from qlatent.data import discrete
from qlatent.metrics import direction
from qlatent.metrics import discrete as dm


def _random_probs(rng, k, zeros=0):
    p = rng.random(k)
    p[:zeros] = 0.0
    return p / p.sum()


def test_empirical_probs_by_hand():
    states = np.array([[0, 0], [0, 1], [1, 1]], dtype=np.uint8)
    x = [[0, 1], [0, 1], [1, 1], [1, 0]]  # [1, 0] is not listed
    np.testing.assert_allclose(dm.empirical_probs(x, states), [0.0, 0.5, 0.25])


@pytest.mark.parametrize("seed", range(4))
def test_kl_and_relative_entropy_equal_scipy(seed):
    rng = np.random.default_rng(seed)
    p, q, r = _random_probs(rng, 16, zeros=3), _random_probs(rng, 16), _random_probs(rng, 16)
    assert dm.kl_divergence(p, q) == pytest.approx(stats.entropy(p, q), rel=1e-12)
    # Zoufal's relative entropy is the reverse direction: scipy.stats.entropy(model, target)
    assert dm.relative_entropy(q, r) == pytest.approx(stats.entropy(q, r), rel=1e-12)
    assert dm.relative_entropy(p, q) == pytest.approx(dm.kl_divergence(p, q), rel=1e-12)


def test_kl_clip_is_declared():
    p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
    expected = 0.5 * np.log(0.5) + 0.5 * np.log(0.5 / 1e-12)
    assert dm.kl_divergence(p, q) == pytest.approx(expected, rel=1e-12)
    assert dm.kl_divergence(p, q, epsilon=1e-6) == pytest.approx(
        0.5 * np.log(0.5) + 0.5 * np.log(0.5 / 1e-6), rel=1e-12)
    assert dm.kl_divergence(p, p) == 0.0
    # q summing to less than 1 (mass elsewhere) is allowed, it is not renormalised
    assert dm.kl_divergence([1.0, 0.0], [0.25, 0.5]) == pytest.approx(np.log(4))


def test_total_variation_by_hand_and_against_photonics():
    from qlatent.photonics import total_variation_distance

    assert dm.total_variation([0.5, 0.5, 0.0], [0.2, 0.3, 0.4]) == pytest.approx(0.5)
    rng = np.random.default_rng(1)
    states = discrete._all_bit_strings(4)[:10]
    p = _random_probs(rng, 10)
    x = rng.integers(0, 2, size=(500, 4)).astype(np.uint8)  # some samples on unlisted states
    got = dm.total_variation(p, dm.empirical_probs(x, states))
    assert got == pytest.approx(total_variation_distance(x, states, p), rel=1e-12)


def _brute_mmd(states, p, q, bandwidths):
    s = states.astype(float)
    total = 0.0
    for i in range(len(s)):
        for j in range(len(s)):
            d2 = float(np.sum((s[i] - s[j]) ** 2))
            k = np.mean([np.exp(-d2 / (2 * b * b)) for b in bandwidths])
            total += (p[i] - q[i]) * (p[j] - q[j]) * k
    return total


def test_exact_mmd_against_a_double_loop():
    rng = np.random.default_rng(2)
    states = discrete._all_bit_strings(4)
    p, q = _random_probs(rng, 16), _random_probs(rng, 16)
    assert dm.exact_mmd(states, p, q) == pytest.approx(
        _brute_mmd(states, p, q, (0.5, 1, 2, 4)), rel=1e-10)
    assert dm.exact_mmd(states, p, q, bandwidths=1.5) == pytest.approx(
        _brute_mmd(states, p, q, (1.5,)), rel=1e-10)
    assert dm.exact_mmd(states, p, p) == pytest.approx(0.0, abs=1e-15)


def test_sample_mmd_is_unbiased_for_the_exact_value():
    """E[MMD²_u] = MMD² exactly: the mean over repetitions is within 5 SE of exact_mmd."""
    rng = np.random.default_rng(3)
    states = discrete._all_bit_strings(3)
    p, q = _random_probs(rng, 8), _random_probs(rng, 8)
    bw = (0.5, 1.0, 2.0)
    values = [metrics.mmd(states[rng.choice(8, 40, p=p)], states[rng.choice(8, 40, p=q)],
                          bandwidth=bw) for _ in range(400)]
    exact = dm.exact_mmd(states, p, q, bandwidths=bw)
    se = np.std(values) / np.sqrt(len(values))
    assert abs(np.mean(values) - exact) < 5 * se


def test_sample_mmd_single_bandwidth_matches_gretton_by_hand():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 0.5
    h = 1.3

    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * h * h))

    sxx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / 42
    syy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / 20
    sxy = sum(k(a, b) for a in x for b in y) / 35
    assert metrics.mmd(x, y, bandwidth=h) == pytest.approx(sxx + syy - 2 * sxy, rel=1e-12)


def test_valid_fraction_and_qbas_by_hand():
    patterns = discrete.bars_and_stripes(2).data
    invalid = np.array([[1, 0, 0, 0]], dtype=np.uint8)
    x = np.concatenate([patterns[:3], patterns[:1], invalid])  # 4 valid (3 distinct), 1 not
    assert dm.valid_fraction(x, patterns) == pytest.approx(0.8)
    p, r = 0.8, 3 / 6
    assert dm.qbas_score(x, 2) == pytest.approx(2 * p * r / (p + r))
    assert dm.qbas_score(patterns, 2, 2) == pytest.approx(1.0)
    many = discrete.bars_and_stripes(3).data[np.arange(1000) % 14]
    assert dm.valid_fraction(many, discrete.bars_and_stripes(3).data) == 1.0  # exact, no sum
    assert dm.qbas_score(invalid, 2) == 0.0
    # against the brute-force validity check of the data module on random 3 x 3 images
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=(300, 9))
    y[:100] = discrete.bars_and_stripes(3).data[rng.integers(0, 14, 100)]
    assert dm.valid_fraction(y, discrete.bars_and_stripes(3).data) == pytest.approx(
        discrete.is_bars_and_stripes(y, 3).mean())


def test_generalization_metrics_by_hand():
    d = discrete.cardinality(4, 2, train_fraction=2 / 6, rng=0)
    train, sol = d.data, discrete.solutions(d)
    unseen = d.held_out
    assert len(train) == 2 and len(unseen) == 4
    x = np.concatenate([train, unseen[[0, 0, 1]], [[1, 1, 1, 0]]])  # 2 seen, 3 new valid, 1 bad
    got = dm.generalization_metrics(x, train, sol)
    eps = 2 / 6
    assert got == pytest.approx({"exploration": 4 / 6, "generalization_fidelity": 3 / 4,
                                 "generalization_rate": 3 / 6,
                                 "normalized_rate": (3 / 6) / (1 - eps),
                                 "generalization_coverage": 2 / 4})
    # a model that only memorises: nothing new
    mem = dm.generalization_metrics(train, train, sol)
    assert mem["exploration"] == 0 and mem["generalization_fidelity"] == 0
    # a perfect sampler of S has normalized rate -> 1
    many = sol[np.random.default_rng(0).integers(0, 6, 60_000)]
    assert dm.generalization_metrics(many, train, sol)["normalized_rate"] == pytest.approx(
        1.0, abs=0.02)


@pytest.mark.parametrize("seed", range(3))
def test_ks_statistic_equals_scipy_ks_2samp_on_histograms(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 8, 300)
    b = np.minimum(rng.poisson(3, 200), 7)
    pa, pb = np.bincount(a, minlength=8) / 300, np.bincount(b, minlength=8) / 200
    assert dm.ks_statistic(pa, pb) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_bits_to_integers():
    x = np.random.default_rng(0).integers(0, 2, size=(20, 11))
    expected = [int("".join(map(str, row)), 2) for row in x]
    np.testing.assert_array_equal(dm.bits_to_integers(x), expected)
    states = discrete.gaussian_mixture(5).states
    np.testing.assert_array_equal(dm.bits_to_integers(states), np.arange(32))


def test_every_discrete_metric_has_a_direction():
    for name, better in dm.HIGHER_IS_BETTER.items():
        assert direction(name) is better
    assert direction("kl_divergence") is False and direction("qbas_score") is True
    assert direction("generalization_coverage") is True and direction("exploration") is None
    assert direction("ks_statistic") is False and direction("relative_entropy") is False


def test_bad_input_is_named():
    pats = discrete.bars_and_stripes(2).data
    with pytest.raises(ValueError, match="samples must hold only 0/1 values, got 2"):
        dm.qbas_score([[0, 2, 0, 0]], 2)
    with pytest.raises(ValueError,
                       match=r"samples must have shape \(B, 4\) with B >= 1, got \(1, 3\)"):
        dm.qbas_score([[0, 1, 0]], 2)
    with pytest.raises(ValueError, match=r"samples must have shape \(B, 4\)"):
        dm.valid_fraction(np.zeros((2, 5)), pats)
    with pytest.raises(ValueError, match="samples must hold only integer 0..255 values, got 0.5"):
        dm.empirical_probs([[0.5, 1, 0, 0]], pats)
    with pytest.raises(ValueError, match="p must sum to 1"):
        dm.kl_divergence([0.5, 0.4], [0.5, 0.5])
    with pytest.raises(ValueError, match="q must have 2 entries"):
        dm.total_variation([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="q must hold finite non-negative"):
        dm.kl_divergence([0.5, 0.5], [1.5, -0.5])
    with pytest.raises(ValueError, match=r"epsilon must be in \(0, 1\), got 0.0"):
        dm.kl_divergence([0.5, 0.5], [0.5, 0.5], epsilon=0.0)
    with pytest.raises(ValueError, match="bandwidths must be > 0, got 0.0"):
        dm.exact_mmd(pats, np.full(6, 1 / 6), np.full(6, 1 / 6), bandwidths=0.0)
    with pytest.raises(ValueError, match="bandwidth must be > 0, got -1.0"):
        metrics.mmd(np.zeros((3, 2)), np.ones((3, 2)), bandwidth=(1.0, -1.0))
    with pytest.raises(ValueError, match="train must not repeat a row"):
        dm.generalization_metrics(pats, pats[[0, 0]], pats)
    with pytest.raises(ValueError, match="states must not repeat a row"):
        dm.empirical_probs(pats, np.concatenate([pats, pats[:1]]))
    with pytest.raises(ValueError, match="train must be a subset of solutions"):
        dm.generalization_metrics(pats, [[1, 1, 1, 1], [1, 0, 0, 1]], pats)
    with pytest.raises(ValueError, match="nothing to generalise to"):
        dm.generalization_metrics(pats, pats, pats)
