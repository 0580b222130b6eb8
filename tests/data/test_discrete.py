"""Discrete benchmark data: patterns counted by hand, targets normalised, splits seeded."""

import numpy as np
import pytest
from scipy import stats

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
    import torch

    d = bars_and_stripes(2)
    x = d.sample(6000, generator=torch.Generator().manual_seed(0))
    assert x.dtype == torch.float32 and x.shape == (6000, 4) and d.dim == 4
    assert is_bars_and_stripes(x.numpy(), 2).all()
    _, counts = np.unique(x.numpy(), axis=0, return_counts=True)
    assert len(counts) == 6
    assert stats.chisquare(counts, np.full(6, 1000)).pvalue > 1e-4  # alpha fixed in advance
    g = lambda s: torch.Generator().manual_seed(s)  # noqa: E731
    assert torch.equal(d.sample(50, generator=g(3)), d.sample(50, generator=g(3)))
    assert not torch.equal(d.sample(50, generator=g(3)), d.sample(50, generator=g(4)))
    assert d.sample(0).shape == (0, 4)
    # without a target: uniform over the rows of data
    rows = discrete.DiscreteData(name="two", data=np.array([[0, 1], [1, 1]], dtype=np.uint8))
    y = rows.sample(4000, generator=g(1))
    assert abs(float(y[:, 0].mean()) - 0.5) < 5 * 0.5 / np.sqrt(4000)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        d.sample(3, generator=0)
    assert d.to("meta").sample(5).device.type == "meta"


def test_a_discrete_data_set_trains_a_gan():
    """The data plugs into train.fit as the synthetic sets do (a 2-step smoke run)."""

    from qlatent import latents, train
    from qlatent.models import MLP

    d = bars_and_stripes(2)
    G = MLP(4, 4, hidden=(8,))
    D = MLP(4, 1, hidden=(8,))
    run = train.fit(G, D, latents.get("gaussian", dim=4), d,
                    train.Config(steps=2, batch_size=8, n_critic=1), seed=0)
    assert len(run.history) >= 1
    assert all(np.isfinite(h["loss_critic"]) for h in run.history)


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
    with pytest.raises(ValueError, match=r"bits must have shape \(B, 4\) with B >= 1, got "):
        is_bars_and_stripes(np.zeros((3, 5)), 2)


def test_cardinality_split_is_seeded_disjoint_and_complete():
    from math import comb

    d = discrete.cardinality(12, 6, train_fraction=0.3, rng=4)
    assert d.info["n_solutions"] == comb(12, 6) == 924
    assert len(d.data) == round(0.3 * 924) == 277 and len(d.held_out) == 924 - 277
    assert (d.data.sum(1) == 6).all() and (d.held_out.sum(1) == 6).all()
    train = {r.tobytes() for r in d.data}
    held = {r.tobytes() for r in d.held_out}
    assert not train & held and len(train | held) == 924
    brute = {np.array([(x >> (11 - j)) & 1 for j in range(12)], dtype=np.uint8).tobytes()
             for x in range(4096) if bin(x).count("1") == 6}
    assert train | held == brute
    np.testing.assert_array_equal(discrete.solutions(d), np.unique(np.array(
        [np.frombuffer(b, dtype=np.uint8) for b in brute]), axis=0))
    np.testing.assert_array_equal(d.data, discrete.cardinality(12, 6, rng=4).data)
    assert not np.array_equal(d.data, discrete.cardinality(12, 6, rng=5).data)
    assert d.probs.sum() == pytest.approx(1.0)
    # extremes: one training string at least, every string with fraction 1
    assert len(discrete.cardinality(4, 1, train_fraction=0.01).data) == 1
    full = discrete.cardinality(4, 2, train_fraction=1.0)
    assert len(full.data) == 6 and full.held_out.shape == (0, 4)


def test_cardinality_bad_input():
    with pytest.raises(ValueError, match="k must be <= 5, got 6"):
        discrete.cardinality(6, 6)
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        discrete.cardinality(6, 0)
    with pytest.raises(ValueError, match="n_bits must be <= 24, got 30"):
        discrete.cardinality(30)
    with pytest.raises(ValueError, match="train_fraction must be > 0, got 0.0"):
        discrete.cardinality(6, 3, train_fraction=0.0)
    with pytest.raises(ValueError, match="train_fraction must be <= 1"):
        discrete.cardinality(6, 3, train_fraction=1.5)
    with pytest.raises(ValueError, match="held_out rows"):
        discrete.solutions(bars_and_stripes(2))


def test_gaussian_mixture_is_liu_and_wangs_recipe():
    from scipy import stats

    d = discrete.gaussian_mixture(10)
    n = 1024
    x = np.arange(n)
    # independent: scipy's normal pdf (its 1/(σ√2π) cancels in the normalisation)
    ref = stats.norm.pdf(x, 2 * n / 7, n / 8) + stats.norm.pdf(x, 5 * n / 7, n / 8)
    np.testing.assert_allclose(d.probs, ref / ref.sum(), rtol=1e-12)
    # row x of states is the binary expansion of x, most significant bit first
    weights = 2 ** np.arange(9, -1, -1)
    np.testing.assert_array_equal(d.states.astype(np.int64) @ weights, x)
    assert d.states.dtype == np.uint8
    peaks = [i for i in range(1, n - 1) if d.probs[i] > d.probs[i - 1] and
             d.probs[i] >= d.probs[i + 1]]
    # two modes near 2n/7 = 292.6 and 5n/7 = 731.4 (each pulled ~1 step inwards by the other)
    assert len(peaks) == 2 and abs(peaks[0] - 2 * n / 7) < 2 and abs(peaks[1] - 5 * n / 7) < 2


def test_log_normal_matches_rounded_samples():
    d = discrete.log_normal(3)
    rng = np.random.default_rng(0)
    raw = rng.lognormal(mean=1.0, sigma=1.0, size=400_000)
    kept = np.round(raw[raw < 7.5]).astype(int)  # round to the grid 0..7, drop the rest
    freq = np.bincount(kept, minlength=8) / kept.size
    assert np.all(np.abs(freq - d.probs) < 5 * np.sqrt(d.probs / kept.size) + 1e-6)
    np.testing.assert_array_equal(d.states.astype(int) @ [4, 2, 1], np.arange(8))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        discrete.log_normal(3, sigma=0.0)
    with pytest.raises(ValueError, match="high must be > low"):
        discrete.log_normal(3, low=2.0, high=1.0)


def test_boson_counts_reuse_the_table_i_bank_and_its_exact_target():
    from qlatent.data import BosonData
    from qlatent.photonics import total_variation_distance

    d = discrete.boson_counts(6, 3, seed=2, n_samples=20_000)
    src = BosonData(n_modes=6, n_photons=3, seed=2, n_samples=20_000)
    np.testing.assert_array_equal(d.data, src.bank.numpy().astype(np.uint8))
    assert d.data.dtype == np.uint8 and (d.data.sum(1) == 3).all()
    assert len(d.states) == 56 and d.probs.sum() == pytest.approx(1.0)
    assert total_variation_distance(d.data, d.states, d.probs) < 3 * np.sqrt(56 / 20_000)
    assert discrete.boson_counts(16, 8, seed=0, n_samples=10).probs is None


def test_binarized_digits():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    d = discrete.binarized_digits()
    raw = load_digits()
    assert d.data.shape == (1797, 64) and d.data.dtype == np.uint8 and d.states is None
    np.testing.assert_array_equal(d.data, (raw.data >= 8).astype(np.uint8))
    zeros = discrete.binarized_digits(digits=0, threshold=4)
    assert len(zeros.data) == int((raw.target == 0).sum()) and set(zeros.info["labels"]) == {0}
    with pytest.raises(ValueError, match="threshold must be <= 16, got 17"):
        discrete.binarized_digits(threshold=17)
    with pytest.raises(ValueError, match=r"digits\[i\] must be <= 9, got 10"):
        discrete.binarized_digits(digits=[1, 10])
