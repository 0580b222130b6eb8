import math

import numpy as np
import pytest

from qlatent.photonics import permanent, reference


@pytest.mark.parametrize("method", ["glynn", "ryser"])
@pytest.mark.parametrize("n", range(0, 8))
@pytest.mark.parametrize("kind", ["real", "complex"])
def test_permanent_matches_permutation_sum(method, n, kind):
    rng = np.random.default_rng(100 + n)
    A = rng.standard_normal((n, n))
    if kind == "complex":
        A = A + 1j * rng.standard_normal((n, n))
    expected = reference.permanent(A)
    got = permanent(A, method=method)
    assert abs(got - expected) <= 1e-10 * max(1.0, abs(expected))


@pytest.mark.parametrize("method", ["glynn", "ryser"])
@pytest.mark.parametrize("n", [1, 4, 9, 12])
def test_all_ones_gives_factorial(method, n):
    assert permanent(np.ones((n, n)), method=method) == pytest.approx(math.factorial(n), rel=1e-12)


@pytest.mark.parametrize("method", ["glynn", "ryser"])
def test_identity_and_empty(method):
    assert permanent(np.eye(10), method=method) == pytest.approx(1.0, abs=1e-12)
    assert permanent(np.zeros((0, 0)), method=method) == 1.0
    # a permutation matrix with a phase: Perm = product of the nonzero entries
    P = np.eye(6)[[3, 0, 5, 1, 2, 4]] * np.exp(0.3j)
    assert permanent(P, method=method) == pytest.approx(np.exp(1.8j), abs=1e-12)


def test_methods_agree_at_larger_size():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((14, 14)) + 1j * rng.standard_normal((14, 14))
    g, r = permanent(A, "glynn"), permanent(A, "ryser")
    assert abs(g - r) <= 1e-9 * abs(g)


def test_permanent_validation():
    with pytest.raises(ValueError, match="method"):
        permanent(np.eye(2), method="bogus")
    with pytest.raises(ValueError, match="A must be a square"):
        permanent(np.ones((2, 3)))
    with pytest.raises(ValueError, match="A must be finite"):
        permanent(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="A must be a numeric"):
        permanent(np.array([["a", "b"], ["c", "d"]]))
