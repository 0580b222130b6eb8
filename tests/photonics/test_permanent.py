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


def test_large_permanents_warn_or_refuse_before_starting():
    import time
    import warnings

    from qlatent.photonics.permanent import PERMANENT_MAX_SIZE, PERMANENT_WARN_SIZE

    start = time.perf_counter()
    big = np.ones((PERMANENT_MAX_SIZE + 1, PERMANENT_MAX_SIZE + 1))
    with pytest.raises(ValueError, match=r"A must be at most 40 x 40 .* 4.51e\+13 here\); "
                                         r"got 41 x 41"):
        permanent(big)
    assert time.perf_counter() - start < 1.0  # refused, not computed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        permanent(np.ones((PERMANENT_WARN_SIZE, PERMANENT_WARN_SIZE))[:12, :12])  # no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warning raises: it must come before the work
        with pytest.raises(UserWarning, match=r"permanent of a 29 x 29 matrix: ~7.78e\+09 "
                                              r"multiply-adds \(glynn\)"):
            permanent(np.ones((29, 29)))
    assert time.perf_counter() - start < 5.0
