"""Discrete benchmark data: patterns counted by hand, targets normalised, splits seeded."""

import numpy as np
import pytest

from qlatent.data import discrete
from qlatent.data.discrete import bars_and_stripes, is_bars_and_stripes


def _brute_force_bas(r, c):
    """Every r x c image whose rows are all constant or whose columns are all constant."""
    out = []
    for x in range(2 ** (r * c)):
        img = np.array([(x >> (r * c - 1 - j)) & 1 for j in range(r * c)]).reshape(r, c)
        if (img == img[:, :1]).all() or (img == img[:1, :]).all():
            out.append(img.ravel())
    return np.array(out, dtype=np.uint8)


@pytest.mark.parametrize("r,c", [(2, 2), (3, 3), (2, 3), (3, 2), (1, 4), (4, 4)])
def test_bars_and_stripes_are_every_valid_pattern_once(r, c):
    d = bars_and_stripes(r, c)
    assert d.data.dtype == np.uint8 and d.data.shape == (2**r + 2**c - 2, r * c)
    np.testing.assert_array_equal(d.data, _brute_force_bas(r, c))  # same sorted order
    np.testing.assert_array_equal(d.states, d.data)
    assert d.probs.sum() == pytest.approx(1.0) and np.ptp(d.probs) == 0
    assert is_bars_and_stripes(d.data, r, c).all()


def test_bars_and_stripes_counts_of_the_papers():
    assert len(bars_and_stripes(2).data) == 6    # Benedetti et al. 2019, 2 x 2
    assert len(bars_and_stripes(3).data) == 14   # Liu & Wang 2018, 3 x 3
    d = bars_and_stripes(2)
    # the empty and the full image are kept once each
    assert (d.data.sum(1) == 0).sum() == 1 and (d.data.sum(1) == 4).sum() == 1


def test_is_bars_and_stripes_on_every_3x3_image():
    everything = discrete._all_bit_strings(9)
    valid = is_bars_and_stripes(everything, 3, 3)
    assert valid.sum() == 14
    np.testing.assert_array_equal(everything[valid], bars_and_stripes(3).data)


def test_sample_follows_the_target():
    d = bars_and_stripes(2)
    x = d.sample(6000, rng=0)
    assert x.dtype == np.uint8 and is_bars_and_stripes(x, 2).all()
    _, counts = np.unique(x, axis=0, return_counts=True)
    assert len(counts) == 6 and np.all(np.abs(counts / 6000 - 1 / 6) < 5 * np.sqrt(1 / 6 / 6000))
    np.testing.assert_array_equal(d.sample(50, rng=3), d.sample(50, rng=3))


def test_bars_and_stripes_bad_sizes():
    with pytest.raises(ValueError, match="n_rows must be >= 1, got 0"):
        bars_and_stripes(0)
    with pytest.raises(ValueError, match="n_cols must be >= 1, got -2"):
        bars_and_stripes(3, -2)
    with pytest.raises(TypeError, match="n_rows must be an integer"):
        bars_and_stripes(2.5)
    with pytest.raises(ValueError, match="<= 64 pixels, got 9 x 9 = 81"):
        bars_and_stripes(9)
    with pytest.raises(ValueError, match=">= 2 pixels"):
        bars_and_stripes(1, 1)
    with pytest.raises(ValueError, match="bits must hold only 0/1 values, got 2"):
        is_bars_and_stripes([[0, 2, 0, 0]], 2)
    with pytest.raises(ValueError, match="bits must have 4 columns, got shape"):
        is_bars_and_stripes(np.zeros((3, 5)), 2)
