"""Report statistics against independent computations: closed forms, brute-force enumeration,
scipy on another path, and the coverage of the confidence interval by simulation."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from qlatent.experiments.stats import (
    WILCOXON_EXACT_MAX,
    detectable_difference,
    format_number,
    paired_test,
    summarize,
    t_interval,
)


def test_summary_hand_case_with_the_closed_form_t_quantile():
    # With 2 dof the t quantile has a closed form: t_p = (2p - 1) / sqrt(2 p (1 - p)).
    p = 0.975
    t2 = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    s = summarize([1.0, 2.0, 3.0])
    assert (s.mean, s.n, s.n_nan) == (2.0, 3, 0)
    assert s.se == pytest.approx(1 / math.sqrt(3), rel=1e-12)
    assert s.ci_low == pytest.approx(2 - t2 / math.sqrt(3), rel=1e-9)
    assert s.ci_high == pytest.approx(2 + t2 / math.sqrt(3), rel=1e-9)


@pytest.mark.parametrize("n", [2, 3, 7, 30])
def test_summary_matches_scipy_sem_and_the_one_sample_t_interval(n):
    x = np.random.default_rng(n).normal(3.0, 2.0, size=n)
    s = summarize(x)
    assert s.mean == pytest.approx(x.mean(), rel=1e-12)
    assert s.se == pytest.approx(stats.sem(x), rel=1e-12)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)
    assert (s.ci_low, s.ci_high) == (pytest.approx(ci.low, rel=1e-9),
                                     pytest.approx(ci.high, rel=1e-9))


@pytest.mark.parametrize("n", [2, 5])
def test_interval_covers_the_true_mean_95_percent_of_the_time(n):
    # 4000 normal samples of size n; coverage ~ Binomial(4000, 0.95)/4000, sd 0.0034. A normal
    # (z) interval would cover 0.70 (n = 2) or 0.88 (n = 5) and fail this 4-sd band.
    rng = np.random.default_rng(2024 + n)
    trials = 4000
    covered = 0
    for x in rng.normal(1.5, 0.7, size=(trials, n)):
        s = summarize(x)
        covered += s.ci_low <= 1.5 <= s.ci_high
    band = 4 * math.sqrt(0.95 * 0.05 / trials)
    assert abs(covered / trials - 0.95) < band


def test_one_value_gives_n_a_never_nan():
    s = summarize([0.25])
    assert s.n == 1 and s.mean == 0.25
    assert math.isnan(s.se) and math.isnan(s.ci_low)
    text = s.format("{:.3f}", ci=True)
    assert text == "0.250 ± n/a [n/a] (n=1)"
    assert "nan" not in text.lower().replace("n/a", "")
    assert summarize([]).format("{:.3f}") == "–"
    t = paired_test({0: 1.0}, {0: 0.5})
    assert t["n"] == 1 and t["mean_difference"] == 0.5
    assert math.isnan(t["t_pvalue"]) and math.isnan(t["ci_low"])
    assert format_number(t["t_statistic"]) == "n/a"


def test_nan_values_are_counted_apart():
    s = summarize([1.0, math.nan, 3.0, math.inf])
    assert (s.n, s.n_nan, s.mean) == (2, 2, 2.0)
    assert s.format("{:.1f}") == "2.0 ± 1.0 (n=2; 2 NaN)"
    only_nan = summarize([math.nan, math.nan])
    assert (only_nan.n, only_nan.n_nan) == (0, 2) and only_nan.format("{:.1f}") == "NaN"


def _exact_wilcoxon_p(d):
    """Two-sided exact signed-rank p-value by enumerating all 2^n sign patterns."""
    ranks = stats.rankdata(np.abs(d))
    w_obs = ranks[d > 0].sum()
    mu = ranks.sum() / 2
    hits = 0
    for signs in itertools.product((0, 1), repeat=len(d)):
        w = ranks[np.array(signs, dtype=bool)].sum()
        hits += abs(w - mu) >= abs(w_obs - mu) - 1e-12
    return hits / 2 ** len(d)


def test_paired_test_against_hand_formulas_and_enumeration():
    rng = np.random.default_rng(11)
    a = {s: float(v) for s, v in enumerate(rng.normal(1.0, 1.0, 9))}
    b = {s: float(v) for s, v in enumerate(rng.normal(0.4, 1.0, 9))}
    a[42] = 5.0  # a seed only one latent has: not paired
    b[3] = math.nan  # a NaN value: its seed is left out
    t = paired_test(a, b)
    seeds = [s for s in range(9) if s != 3]
    d = np.array([a[s] - b[s] for s in seeds])
    n = len(d)
    assert t["n"] == n == 8
    assert t["mean_difference"] == pytest.approx(d.mean(), rel=1e-12)
    t_hand = d.mean() / (d.std(ddof=1) / math.sqrt(n))
    assert t["t_statistic"] == pytest.approx(t_hand, rel=1e-10)
    assert t["t_pvalue"] == pytest.approx(2 * stats.t.sf(abs(t_hand), n - 1), rel=1e-9)
    low, high = t_interval(d.mean(), d.std(ddof=1) / math.sqrt(n), n)
    assert (t["ci_low"], t["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    # The interval and the t-test agree: 0 lies outside the 95 % CI iff p < 0.05.
    assert (t["ci_low"] > 0 or t["ci_high"] < 0) == (t["t_pvalue"] < 0.05)
    assert t["wilcoxon_method"] == "exact"
    assert t["wilcoxon_pvalue"] == pytest.approx(_exact_wilcoxon_p(d), rel=1e-12)
    ranks = stats.rankdata(np.abs(d))
    assert t["wilcoxon_statistic"] == min(ranks[d > 0].sum(), ranks[d < 0].sum())


def test_wilcoxon_with_ties_uses_the_tie_corrected_normal_approximation():
    d = np.array([1.0, 1.0, 2.0, -1.0, 3.0, 3.0, 0.0, 4.0])  # ties and one zero
    t = paired_test(dict(enumerate(d)), dict.fromkeys(range(len(d)), 0.0))
    nz = d[d != 0]
    n = len(nz)
    ranks = stats.rankdata(np.abs(nz))
    w_plus = ranks[nz > 0].sum()
    _, counts = np.unique(np.abs(nz), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - (counts ** 3 - counts).sum() / 48
    z = (w_plus - n * (n + 1) / 4) / math.sqrt(var)
    assert t["wilcoxon_method"] == "normal approximation"
    assert t["wilcoxon_pvalue"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_wilcoxon_beyond_the_exact_limit_is_approximate():
    d = np.random.default_rng(5).normal(0.3, 1.0, WILCOXON_EXACT_MAX + 1)
    t = paired_test(dict(enumerate(d)), dict.fromkeys(range(len(d)), 0.0))
    assert t["wilcoxon_method"] == "normal approximation"


def test_degenerate_pairs():
    same = paired_test({0: 1.0, 1: 2.0}, {0: 1.0, 1: 2.0})  # every difference zero
    assert same["mean_difference"] == 0.0 and math.isnan(same["wilcoxon_pvalue"])
    assert math.isnan(same["t_pvalue"]) and same["wilcoxon_method"] == "n/a"
    assert paired_test({}, {0: 1.0})["n"] == 0
    with pytest.raises(ValueError, match="confidence"):
        paired_test({0: 1.0}, {0: 2.0}, confidence=1.0)
    with pytest.raises(ValueError, match="confidence"):
        summarize([1.0, 2.0], confidence=1.5)


@pytest.mark.parametrize("n", [3, 8, 20])
def test_detectable_difference_is_found_with_the_stated_power_by_simulation(n):
    # Normal differences with SD 1.7 and mean δ*: the paired t-test (scipy, another path)
    # rejects at α = 0.05 in a fraction of 20,000 simulated experiments that must be 0.8
    # within 4.5 binomial SEs (0.013).
    sd = 1.7
    delta = detectable_difference(sd, n)
    rng = np.random.default_rng(n)
    d = rng.normal(delta, sd, size=(20_000, n))
    rejects = stats.ttest_1samp(d, 0.0, axis=1).pvalue < 0.05
    assert rejects.mean() == pytest.approx(0.8, abs=4.5 * math.sqrt(0.8 * 0.2 / 20_000))
    # and a difference 20 % smaller is found clearly less often
    smaller = stats.ttest_1samp(d - 0.2 * delta, 0.0, axis=1).pvalue < 0.05
    assert smaller.mean() < 0.75


def test_detectable_difference_tends_to_the_normal_formula_and_scales_with_sd():
    # For many pairs the t-test is the z-test: δ* → (z_{0.975} + z_{0.8}) s / √n.
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert detectable_difference(1.0, 20_000) == pytest.approx(z / math.sqrt(20_000), rel=1e-3)
    assert detectable_difference(3.0, 12) == pytest.approx(3 * detectable_difference(1.0, 12),
                                                           rel=1e-9)
    small = [detectable_difference(1.0, n) for n in (2, 3, 5, 10, 40)]
    assert small == sorted(small, reverse=True) and small[-1] > z / math.sqrt(40)
    assert math.isfinite(detectable_difference(1.0, 2))  # one dof: scipy's tail NaN handled


def test_detectable_difference_of_degenerate_designs_and_bad_levels():
    assert math.isnan(detectable_difference(1.0, 1))
    assert math.isnan(detectable_difference(math.nan, 5))
    assert detectable_difference(0.0, 5) == 0.0
    with pytest.raises(ValueError, match="power must exceed alpha"):
        detectable_difference(1.0, 5, alpha=0.05, power=0.05)
    with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1, got 1.0"):
        detectable_difference(1.0, 5, alpha=1.0)


def test_paired_test_reports_the_sd_and_detectable_difference_of_its_pairs():
    a = {0: 1.0, 1: 2.5, 2: 2.0, 3: 4.0, 4: math.nan}
    b = {0: 0.5, 1: 2.0, 2: 2.2, 3: 3.0, 5: 1.0}
    t = paired_test(a, b)
    d = np.array([0.5, 0.5, -0.2, 1.0])
    assert t["sd_difference"] == pytest.approx(d.std(ddof=1), rel=1e-12)
    assert t["detectable_difference"] == detectable_difference(d.std(ddof=1), 4)
    assert math.isnan(paired_test({0: 1.0}, {0: 2.0})["detectable_difference"])
