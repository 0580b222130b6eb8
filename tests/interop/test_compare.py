"""``interop.compare``: every statistic against a direct NumPy computation (loops over modes and
pairs, np.cov, np.unique), on banks that differ in known ways."""

from __future__ import annotations

import numpy as np
import pytest

from qlatent.interop.compare import compare_samples, comparison_figure


def _banks():
    rng = np.random.default_rng(0)
    a = rng.multinomial(4, np.full(5, 0.2), size=3000)            # 4 photons, uniform
    b = rng.multinomial(4, [0.4, 0.3, 0.1, 0.1, 0.1], size=2000)   # 4 photons, skewed
    return a, b


def test_statistics_match_direct_numpy():
    a, b = _banks()
    s = compare_samples(a, b)
    assert s["n_samples"] == {"a": 3000, "b": 2000} and s["n_modes"] == 5
    top = max(a.max(), b.max())
    for name, x in (("a", a), ("b", b)):
        values, counts = np.unique(x, return_counts=True)
        pooled = np.zeros(top + 1)
        pooled[values] = counts / x.size
        np.testing.assert_allclose(s["count_histogram"][name], pooled, atol=1e-15)
        total = np.zeros(len(s["total_histogram"][name]))
        total[4] = 1.0
        np.testing.assert_allclose(s["total_histogram"][name], total)
        cov = np.cov(x.T, bias=True)
        np.testing.assert_allclose(s["correlators"][name], cov, atol=1e-12)
        fano = np.mean(x.var(0) / x.mean(0))
        assert s["fano"][name] == pytest.approx(fano, abs=1e-12)
        assert s["bunching"][name] == pytest.approx(np.mean([row.max() >= 2 for row in x]))
        np.testing.assert_allclose(s["mean_occupancy"][name], x.mean(0))
    tvd = []
    for j in range(5):
        pa = np.array([np.mean(a[:, j] == c) for c in range(top + 1)])
        pb = np.array([np.mean(b[:, j] == c) for c in range(top + 1)])
        tvd.append(0.5 * np.abs(pa - pb).sum())
    np.testing.assert_allclose(s["marginal_tvd"], tvd, atol=1e-15)
    assert s["marginal_tvd_max"] == pytest.approx(max(tvd))
    assert s["max_mean_difference"] == pytest.approx(np.abs(a.mean(0) - b.mean(0)).max())
    diff = [abs(np.cov(a.T, bias=True)[j, k] - np.cov(b.T, bias=True)[j, k])
            for j in range(5) for k in range(5) if j != k]
    assert s["max_correlator_difference"] == pytest.approx(max(diff))


def test_a_bank_against_itself_differs_by_nothing():
    a, _ = _banks()
    s = compare_samples(a, a)
    assert s["marginal_tvd_max"] == 0 and s["max_correlator_difference"] == 0
    assert s["fano"]["a"] == s["fano"]["b"]


def test_bad_inputs():
    a, b = _banks()
    with pytest.raises(ValueError, match="same number of modes"):
        compare_samples(a, b[:, :4])
    with pytest.raises(ValueError, match="non-negative integer counts"):
        compare_samples(a.astype(float), b)
    with pytest.raises(ValueError, match="non-negative integer counts"):
        compare_samples(-a, b)


def test_figure_is_written(tmp_path):
    a, b = _banks()
    path = comparison_figure(compare_samples(a, b), tmp_path / "cmp.svg", labels=("x", "y"))
    assert path.is_file() and "<svg" in path.read_text()[:2000]
    with pytest.raises(ValueError, match="figure suffix"):
        comparison_figure(compare_samples(a, b), tmp_path / "cmp.jpg")
