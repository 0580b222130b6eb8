import math

import numpy as np
import pytest
import torch

from qlatent.data import SevenGaussians
from qlatent.metrics import (
    integer_distance,
    interpolation_rate,
    median_bandwidth,
    mmd,
    modes_covered,
)


def _polar(r, theta):
    return np.array([[r * math.cos(theta), r * math.sin(theta)]])


def test_integer_distance_hand_case():
    x = np.array([[0.1, 1.9], [2.5, -0.3]])
    assert integer_distance(x) == pytest.approx((0.1 + 0.1 + 0.5 + 0.3) / 4)
    assert integer_distance(torch.tensor([[3.0, 0.0]])) == 0.0
    assert integer_distance.higher_is_better is False


def test_interpolation_rate_hand_cases():
    step = 2 * math.pi / 7
    centers = np.concatenate([_polar(5.0, k * step) for k in range(7)])
    assert interpolation_rate(centers) == 0.0
    between = _polar(5.0, 0.5 * step)  # half-way between blobs 0 and 1
    origin = np.zeros((1, 2))
    edge_in = _polar(5.0 + 0.59, -0.149)  # inside 3σ radially and angularly (wraps below 0)
    edge_out = _polar(5.0 + 0.61, 0.0)  # radially just outside 3σ = 0.6
    x = np.concatenate([centers[:2], between, origin, edge_in, edge_out])
    assert interpolation_rate(x) == pytest.approx(3 / 6)
    assert interpolation_rate(between, n_sigma=20) == 0.0  # 20·0.05 = 1 rad > step / 2
    assert interpolation_rate.higher_is_better is False


def test_interpolation_rate_of_real_data():
    x = SevenGaussians().sample(50_000, generator=torch.Generator().manual_seed(0))
    p = 1 - 0.9973002 ** 2  # outside the box of ±3σ in two independent normal coordinates
    assert abs(interpolation_rate(x) - p) < 5 * math.sqrt(p * (1 - p) / 50_000)


def test_modes_covered():
    step = 2 * math.pi / 7
    three = np.concatenate([_polar(5.0, k * step) for k in (0, 2, 4)] * 10)
    assert modes_covered(three) == 3
    x = np.concatenate([three, _polar(5.0, 6 * step)])  # 1 of 31 samples < 1/28
    assert modes_covered(x) == 3
    assert modes_covered(x, min_fraction=0.01) == 4
    assert modes_covered(SevenGaussians().sample(2000, generator=torch.Generator())) == 7
    assert modes_covered.higher_is_better is True


def test_mmd_hand_case():
    x = np.array([[0.0], [1.0]])
    y = np.array([[0.0], [2.0]])
    k = lambda d: math.exp(-d * d / 2)  # noqa: E731  bandwidth 1
    expected = (2 * k(1)) / 2 + (2 * k(2)) / 2 - 2 * (k(0) + k(2) + k(1) + k(1)) / 4
    assert mmd(x, y, bandwidth=1.0) == pytest.approx(expected)


def test_mmd_against_loops_with_median_bandwidth():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(1.0, size=(5, 2))
    z = np.concatenate([x, y])
    d = [np.linalg.norm(z[i] - z[j]) for i in range(11) for j in range(i + 1, 11)]
    h = float(np.median(d))
    assert median_bandwidth(x, y) == pytest.approx(h)

    def k(a, b):
        return math.exp(-np.sum((a - b) ** 2) / (2 * h * h))

    sxx = sum(k(x[i], x[j]) for i in range(6) for j in range(6) if i != j) / 30
    syy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / 20
    sxy = sum(k(a, b) for a in x for b in y) / 30
    assert mmd(x, y) == pytest.approx(sxx + syy - 2 * sxy)


def test_mmd_separates_distributions():
    g = torch.Generator().manual_seed(0)
    data = SevenGaussians()
    a, b = data.sample(500, generator=g), data.sample(500, generator=g)
    far = torch.randn(500, 2, generator=g) * 5
    assert abs(mmd(a, b)) < 0.01 < mmd(far, b)


@pytest.mark.parametrize("fn, args, match", [
    (integer_distance, (np.zeros(3),), "2-d"),
    (interpolation_rate, (np.zeros((3, 3)),), "2 columns"),
    (integer_distance, (np.array([[np.nan]]),), "finite"),
    (mmd, (np.zeros((1, 2)), np.zeros((3, 2))), "at least 2"),
    (mmd, (np.zeros((3, 2)), np.zeros((3, 3))), "columns"),
])
def test_validation(fn, args, match):
    with pytest.raises((TypeError, ValueError), match=match):
        fn(*args)
