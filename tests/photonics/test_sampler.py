"""Statistical and determinism tests of the exact samplers.

Tolerances fixed in advance:
* chi-square on the counts of every state of positive probability (nothing merged) against the
  exact probabilities, reject at alpha = 1e-3; states of zero probability must never appear;
* total variation distance TVD = 1/2 sum |f - p| of N samples: a correct sampler has
  E[TVD] <= 1/2 sum_S sqrt(p_S (1 - p_S) / N) and TVD changes by at most 1/N per sample, so
  (McDiarmid) P(TVD > that + 3/sqrt(N)) <= exp(-18): the bound tested is
  1/2 sum sqrt(p (1-p) / N) + 3 / sqrt(N). For small Fock spaces (K <= 10) the plain 3/sqrt(N)
  is tested too.
"""

import numpy as np
import pytest
from scipy import stats

from qlatent.photonics import (
    beam_splitter,
    boson_sample,
    circuit_unitary,
    distinguishable_sample,
    empirical_distribution,
    fano_factor,
    haar_unitary,
    mean_occupancy,
    reference,
    sampler,
    standard_input,
    total_variation_distance,
)

ALPHA = 1e-3


def _check_against(samples, states, probs):
    N = samples.shape[0]
    assert np.all(samples.sum(axis=1) == states[0].sum())
    f = empirical_distribution(samples, states) * N
    zero = probs < 1e-15
    assert np.all(f[zero] == 0), "a state of zero probability was sampled"
    e = probs[~zero] * N
    chi2 = float(((f[~zero] - e) ** 2 / e).sum())
    dof = int((~zero).sum()) - 1
    if dof > 0:
        assert stats.chi2.sf(chi2, dof) > ALPHA, f"chi2 = {chi2:.1f} on {dof} dof"
    tvd = total_variation_distance(samples, states, probs)
    bound = 0.5 * np.sum(np.sqrt(probs * (1 - probs) / N)) + 3 / np.sqrt(N)
    assert tvd <= bound
    if len(states) <= 10:
        assert tvd <= 3 / np.sqrt(N)


# In the default suite the smallest system, one with exact zeros in U ("1-1") and a loop
# circuit over 10 modes; the other sizes (the same test, 200,000 draws each) run with `slow`.
_DEFAULT_SYSTEMS = ((2, 1, "haar"), (6, 3, "1-1"), (10, 2, "1-3-9"))
SYSTEMS = [pytest.param(*s, marks=() if s in _DEFAULT_SYSTEMS else pytest.mark.slow)
           for s in [(2, 1, "haar"), (2, 2, "haar"), (3, 2, "haar"), (4, 2, "haar"),
                     (4, 3, "haar"), (5, 3, "haar"), (6, 3, "haar"), (6, 3, "1-1"),
                     (10, 2, "1-3-9")]]


def _system(m, n, circuit, seed):
    return circuit_unitary(circuit, m, rng=seed), standard_input(m, n)


@pytest.mark.parametrize("m,n,circuit", SYSTEMS)
@pytest.mark.parametrize("method", ["clifford", "table"])
def test_boson_sample_matches_exact_distribution(m, n, circuit, method):
    U, t = _system(m, n, circuit, seed=10 * m + n)
    S, p = reference.output_distribution(U, t)
    N = 200_000
    x = boson_sample(U, t, N, rng=m * 100 + n, method=method)
    assert x.dtype == np.int64 and x.shape == (N, m)
    _check_against(x, S, p)


@pytest.mark.parametrize("m,n,circuit", SYSTEMS)
def test_distinguishable_sample_matches_exact_distribution(m, n, circuit):
    U, t = _system(m, n, circuit, seed=10 * m + n + 1)
    S, p = reference.distinguishable_output_distribution(U, t)
    N = 200_000
    _check_against(distinguishable_sample(U, t, N, rng=7), S, p)


@pytest.mark.parametrize("t", [[2, 0, 1, 0], [0, 3, 0, 0], [2, 2, 0, 0]])
def test_bunched_inputs(t):
    U = haar_unitary(4, rng=3)
    t = np.array(t)
    S, p = reference.output_distribution(U, t)
    _check_against(boson_sample(U, t, 200_000, rng=1), S, p)
    Sd, pd = reference.distinguishable_output_distribution(U, t)
    _check_against(distinguishable_sample(U, t, 200_000, rng=1), Sd, pd)
    with pytest.raises(ValueError, match="input_state"):
        boson_sample(U, t, 10, rng=1, method="clifford")


@pytest.mark.parametrize("method", ["clifford", "table"])
def test_hong_ou_mandel_sampled(method):
    x = boson_sample(beam_splitter(np.pi / 4), [1, 1], 20_000, rng=0, method=method)
    assert not np.any(np.all(x == 1, axis=1))
    # P(2,0) = 1/2: 6 standard errors
    assert abs(np.mean(x[:, 0] == 2) - 0.5) < 6 * 0.5 / np.sqrt(20_000)
    y = distinguishable_sample(beam_splitter(np.pi / 4), [1, 1], 20_000, rng=0)
    assert abs(np.mean(np.all(y == 1, axis=1)) - 0.5) < 6 * 0.5 / np.sqrt(20_000)


@pytest.mark.parametrize("method", ["clifford", "table"])
def test_single_photon(method):
    U = haar_unitary(5, rng=4)
    t = np.array([0, 0, 1, 0, 0])
    N = 100_000
    x = boson_sample(U, t, N, rng=2, method=method)
    p = np.abs(U[:, 2]) ** 2
    assert np.all(np.abs(x.mean(axis=0) - p) < 6 * np.sqrt(p * (1 - p) / N))


@pytest.mark.parametrize("fn,kw", [(boson_sample, {"method": "clifford"}),
                                   (boson_sample, {"method": "table"}),
                                   (distinguishable_sample, {})])
def test_bit_identical_across_jobs_and_chunks(fn, kw, monkeypatch):
    U, t = haar_unitary(10, rng=1), standard_input(10, 5)
    a = fn(U, t, 3001, rng=123, n_jobs=1, **kw)
    np.testing.assert_array_equal(a, fn(U, t, 3001, rng=123, n_jobs=2, **kw))
    gen = np.random.default_rng(123)
    parts = [fn(U, t, k, rng=gen, **kw) for k in (1, 999, 0, 2001)]
    np.testing.assert_array_equal(a, np.concatenate(parts))
    monkeypatch.setattr(sampler, "_CHUNK_UNIFORMS", 997)  # many small internal chunks
    np.testing.assert_array_equal(a, fn(U, t, 3001, rng=123, n_jobs=2, **kw))
    assert not np.array_equal(a, fn(U, t, 3001, rng=124, **kw))


def test_auto_method_is_table_when_small():
    U, t = haar_unitary(6, rng=0), standard_input(6, 3)
    np.testing.assert_array_equal(boson_sample(U, t, 100, rng=5),
                                  boson_sample(U, t, 100, rng=5, method="table"))


def test_quantum_versus_photonic_at_16_modes_8_photons():
    # docs/paper.md: mean occupancy equal; Fano factor ~1.28 (quantum) vs ~0.89 (photonic).
    U, t = haar_unitary(16, rng=7), standard_input(16, 8)
    N = 100_000
    q = boson_sample(U, t, N, rng=1)
    c = distinguishable_sample(U, t, N, rng=2)
    mq, mc = mean_occupancy(q), mean_occupancy(c)
    se = np.sqrt(q.var(axis=0) / N + c.var(axis=0) / N)
    assert np.all(np.abs(mq - mc) < 6 * se)
    # exact mean occupancy of either: sum_k |U[j, k]|^2 over occupied inputs
    assert np.all(np.abs(mq - (np.abs(U[:, :8]) ** 2).sum(axis=1)) < 6 * np.sqrt(q.var(0) / N))
    fq, fc = fano_factor(q), fano_factor(c)
    assert fq > 1.1 and fc < 1.0 and fq - fc > 0.2


def test_zero_samples_and_zero_photons():
    U = haar_unitary(4, rng=0)
    assert boson_sample(U, standard_input(4, 2), 0, rng=0).shape == (0, 4)
    np.testing.assert_array_equal(boson_sample(U, np.zeros(4, dtype=int), 3, rng=0),
                                  np.zeros((3, 4), dtype=np.int64))
    assert distinguishable_sample(U, standard_input(4, 2), 0, rng=0).shape == (0, 4)


@pytest.mark.parametrize("fn", [boson_sample, distinguishable_sample])
def test_sampler_validation(fn):
    U, t = haar_unitary(4, rng=0), standard_input(4, 2)
    with pytest.raises(ValueError, match="U must be a square"):
        fn(np.ones((4, 3)), t, 5)
    with pytest.raises(ValueError, match=r"U must be unitary.*1e-10"):
        fn(U * 1.001, t, 5)
    bad = U.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="U must be finite"):
        fn(bad, t, 5)
    with pytest.raises(ValueError, match="at most n_modes"):
        fn(U, np.array([3, 2, 0, 0]), 5)
    with pytest.raises(ValueError, match="input_state must hold non-negative"):
        fn(U, np.array([1, -1, 1, 0]), 5)
    with pytest.raises(TypeError, match="input_state must be an integer"):
        fn(U, np.array([1.0, 1.0, 0.0, 0.0]), 5)
    with pytest.raises(ValueError, match="input_state must have shape"):
        fn(U, np.array([1, 1, 0]), 5)
    with pytest.raises(ValueError, match="n_samples"):
        fn(U, t, -1)
    with pytest.raises(TypeError, match="n_samples"):
        fn(U, t, 2.0)
    with pytest.raises(ValueError, match="n_jobs"):
        fn(U, t, 5, n_jobs=0)
    with pytest.raises(TypeError, match="rng"):
        fn(U, t, 5, rng="x")


def test_boson_sample_method_validation():
    with pytest.raises(ValueError, match="'auto', 'clifford', 'table'"):
        boson_sample(haar_unitary(2, rng=0), [1, 0], 5, method="perceval")


def _reference_minors(A, rows, k):
    B = A[np.asarray(rows, dtype=int), :k]
    return np.array([reference.permanent(np.delete(B, q, axis=1)) for q in range(k)])


@pytest.mark.parametrize("rows", [[0, 0, 0], [1, 3, 1, 3], [2, 2, 0, 5, 2], [4, 1, 4, 4, 1, 0],
                                  [0, 1, 2, 3, 4]])
@pytest.mark.parametrize("sparse", [False, True])
def test_laplace_minors_columns_and_grouped_rows(rows, sparse):
    """Both minor kernels equal the permutation-sum minors up to one common factor; "sparse"
    zeroes one column on the chosen rows (exact zero column sums: the prefix/suffix path)."""
    from qlatent.photonics import _sampler_kernels as k_

    m, k = 8, len(rows) + 1
    A = haar_unitary(m, rng=len(rows))[:, :k].copy()
    if sparse:
        A[rows, 1] = 0.0
    ref = _reference_minors(A, rows, k)
    ws = k_._workspace(m, k)
    (Ap_re, Ap_im, Bre, Bim, sre, sim, delta, ore, oim, w, perm, rws, gmode, gmult, digit,
     direc, radix, cre, cim, pre_re, pre_im, binom) = ws
    Ap_re[:, :k], Ap_im[:, :k] = A.real, A.imag
    for j in range(k):
        Bre[j, :k - 1] = A[rows, j].real
        Bim[j, :k - 1] = A[rows, j].imag
    k_._minors_columns(Bre, Bim, k - 1, k, sre, sim, delta, ore, oim, cre, cim)
    np.testing.assert_allclose((ore[:k] + 1j * oim[:k]) / 2 ** (k - 1), ref, atol=1e-13)
    rws[:k - 1] = rows
    d = k_._row_groups(rws, k - 1, gmode, gmult)
    assert d == len(set(rows)) and k_._rows_terms(gmult, d) >= 1
    k_._minors_rows(Ap_re, Ap_im, gmode, gmult, d, k, binom, digit, direc, radix,
                    cre, cim, pre_re, pre_im, ore, oim)
    got = ore[:k] + 1j * oim[:k]
    if sparse:  # column 1 is zero on the chosen rows: every minor but the one without it is 0
        assert np.allclose(np.delete(ref, 1), 0.0, atol=1e-15)
    factor = got[np.argmax(np.abs(ref))] / ref[np.argmax(np.abs(ref))]
    np.testing.assert_allclose(got, factor * ref, atol=1e-12 * abs(factor))


@pytest.mark.parametrize("rows_ratio,rows_min", [(1e-9, 1), (1e12, 1)])
@pytest.mark.parametrize("circuit", ["haar", "1-1"])
def test_clifford_forced_grouped_rows_and_forced_columns(rows_ratio, rows_min, circuit):
    """The sampler with every repeated-row step on the grouped loop (or none) stays exact; the
    loop circuit has exact zeros in U (zero column sums in the grouped loop)."""
    from qlatent.photonics import _sampler_kernels as k_

    U, t = circuit_unitary(circuit, 5, rng=8), standard_input(5, 4)  # 4 photons in 5 modes
    S, p = reference.output_distribution(U, t)
    N = 50_000  # 70 states: a wrong row or column term moves some state's count by far more
    u = np.random.default_rng(3).random((N, 8))
    out = np.zeros((N, 5), dtype=np.int64)
    k_.clifford_sample(np.ascontiguousarray(U[:, :4]), u, out, 64, rows_ratio, rows_min)
    _check_against(out, S, p)


@pytest.mark.parametrize("m,n", [(6, 3), (16, 4)])
def test_alias_table_encodes_the_exact_probabilities(m, n):
    """P(i) = (threshold_i + sum_{j: alias_j = i} (1 - threshold_j)) / K equals p_i."""
    from qlatent.photonics import _sampler_kernels as k_

    p = sampler.exact_distribution(haar_unitary(m, rng=1), standard_input(m, n))[1]
    p = np.concatenate([p, [0.0, 0.0]])  # states of zero probability are never drawn
    thr, alias = k_.alias_table(p)
    K = len(p)
    implied = thr.copy()
    np.add.at(implied, alias, 1.0 - thr)
    np.testing.assert_allclose(implied / K, p / p.sum(), atol=1e-13)
    assert np.all(thr[-2:] == 0.0) and np.all(p[alias[-2:]] > 0)


def _coarse_chi2_pvalues(samples, states, probs):
    """p-values of chi-square tests on coarse statistics (categories fixed in advance).

    Per mode j: P(s_j = 0, 1, 2, 3, >= 4); and the largest count max_j s_j in 1, 2, 3, 4, >= 5.
    """
    N = samples.shape[0]
    cats = lambda v: np.minimum(v, 4)  # noqa: E731
    out = []
    for j in range(samples.shape[1]):
        e = np.bincount(cats(states[:, j]), weights=probs, minlength=5) * N
        f = np.bincount(cats(samples[:, j]), minlength=5)
        out.append(stats.chi2.sf(((f - e) ** 2 / e).sum(), 4))
    top = lambda v: np.minimum(v, 5) - 1  # noqa: E731
    e = np.bincount(top(states.max(axis=1)), weights=probs, minlength=5) * N
    f = np.bincount(top(samples.max(axis=1)), minlength=5)
    out.append(stats.chi2.sf(((f - e) ** 2 / e).sum(), 4))
    return np.array(out)


@pytest.mark.parametrize("rows_ratio,rows_min", [(3.0, 6), (1e-9, 1)])
def test_clifford_at_8_photons_16_modes_against_the_exact_table(rows_ratio, rows_min):
    """Algorithm B (default policy, and grouped rows wherever rows repeat) at 8/16 against the
    exact distribution from the dynamic programme: 17 coarse chi-square tests, Bonferroni
    alpha = 1e-3 / 17."""
    from qlatent.photonics import _sampler_kernels as k_

    U, t = haar_unitary(16, rng=21), standard_input(16, 8)
    S, p = sampler.exact_distribution(U, t)
    N = 100_000
    u = np.random.default_rng(5).random((N, 16))
    out = np.zeros((N, 16), dtype=np.int64)
    k_.clifford_sample(np.ascontiguousarray(U[:, :8]), u, out, 256, rows_ratio, rows_min)
    pv = _coarse_chi2_pvalues(out, S, p)
    assert pv.min() > ALPHA / len(pv), pv


@pytest.mark.slow
@pytest.mark.parametrize("method", ["clifford", "table"])
def test_boson_sample_large_n_full_chi_square(method):
    """4 photons in 8 modes (330 states), 2M samples: full chi-square, every state included."""
    U, t = haar_unitary(8, rng=30), standard_input(8, 4)
    S, p = reference.output_distribution(U, t)
    _check_against(boson_sample(U, t, 2_000_000, rng=31, method=method, n_jobs=2), S, p)


def test_size_limits_are_checked():
    U = haar_unitary(40, rng=0)
    with pytest.raises(ValueError, match="table method holds"):
        boson_sample(U, standard_input(40, 20), 1, rng=0, method="table")
    bunched = np.zeros(40, dtype=np.int64)
    bunched[:10] = 2
    with pytest.raises(ValueError, match="table method holds"):
        boson_sample(U, bunched, 1, rng=0)
    with pytest.raises(ValueError, match="at most 60 photons"):
        boson_sample(haar_unitary(64, rng=0), standard_input(64, 61), 1, rng=0,
                     method="clifford")


def test_bit_identical_at_16_photons_one_sample_per_work_item():
    U, t = haar_unitary(32, rng=4), standard_input(32, 16)
    a = boson_sample(U, t, 6, rng=9, n_jobs=1)
    np.testing.assert_array_equal(a, boson_sample(U, t, 6, rng=9, n_jobs=2))
    gen = np.random.default_rng(9)
    np.testing.assert_array_equal(a, np.concatenate([boson_sample(U, t, 1, rng=gen, n_jobs=2),
                                                     boson_sample(U, t, 5, rng=gen)]))
    assert np.all(a.sum(axis=1) == 16)


def test_exact_distribution_refuses_a_too_large_fock_space_before_allocating():
    import time

    from qlatent.photonics import exact_distribution
    from qlatent.photonics.sampler import TABLE_HARD_MAX_STATES

    U = haar_unitary(40, rng=0)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"n_modes = 40 and 20 photons give "
                                         r"[0-9,]+ output states, more than exact_distribution "
                                         f"holds \\({TABLE_HARD_MAX_STATES:,}"):
        exact_distribution(U, standard_input(40, 20))
    assert time.perf_counter() - start < 2.0
