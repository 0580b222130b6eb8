"""Sampled bars and stripes (images too large to list): valid, uniform over the patterns."""

import numpy as np
import pytest
from scipy.stats import chi2

from qlatent.data import bars_and_stripes, is_bars_and_stripes, sample_bars_and_stripes


@pytest.mark.parametrize("rows, cols", [(3, 3), (2, 4)])
def test_uniform_over_the_listed_patterns(rows, cols):
    """Chi-square over every pattern of the exact target (alpha = 1e-3, fixed in advance)."""
    listed = bars_and_stripes(rows, cols)
    N = 30_000
    d = sample_bars_and_stripes(rows, cols, N, rng=0)
    index = {p.tobytes(): k for k, p in enumerate(listed.states)}
    counts = np.bincount([index[r.tobytes()] for r in d.data], minlength=len(index))
    expected = N * listed.probs
    assert (((counts - expected) ** 2) / expected).sum() < chi2.ppf(1 - 1e-3, len(index) - 1)
    assert d.info["n_patterns"] == len(listed.states)


def test_16x16_rows_are_valid_and_both_kinds_appear():
    d = sample_bars_and_stripes(16, 16, 2000, rng=1)
    assert d.data.shape == (2000, 256) and d.data.dtype == np.uint8
    assert is_bars_and_stripes(d.data, 16).all()
    x = d.data.reshape(-1, 16, 16)
    stripes = (x == x[:, :, :1]).all((1, 2))
    bars = (x == x[:, :1, :]).all((1, 2))
    assert 0.4 < stripes.mean() < 0.6 and 0.4 < bars.mean() < 0.6
    assert len(np.unique(d.data, axis=0)) > 1900              # 131,070 patterns to draw from
    assert np.array_equal(d.data, sample_bars_and_stripes(16, 16, 2000, rng=1).data)


def test_bad_sizes():
    with pytest.raises(ValueError, match="n_rows must be <= 30"):
        sample_bars_and_stripes(31, 2, 10)
    with pytest.raises(ValueError, match=">= 2 pixels"):
        sample_bars_and_stripes(1, 1, 10)
