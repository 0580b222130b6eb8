"""Noise models (qlatent.photonics.noise) against exact small-system distributions.

Oracles: the photonics references (permutation-sum permanents over the whole Fock space), the
pure-state partial-distinguishability formula written out here (double sum over permutations),
and loss as an explicit beam splitter onto m extra modes that are traced out. Sampler checks
are chi-square tests on all states, alpha = 1e-3 fixed in advance.
"""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from qlatent import latents, photonics
from qlatent.photonics import reference
from qlatent.photonics.noise import noisy_output_distribution, noisy_sample

M, N = 4, 3
U = photonics.haar_unitary(M, rng=123)
T = photonics.standard_input(M, N)
ALPHA = 1e-3


def _as_dict(states, probs):
    return {tuple(int(v) for v in s): float(p)
            for s, p in zip(states, probs, strict=True) if p > 1e-15}


def _assert_same(d1, d2, atol=1e-12):
    keys = set(d1) | set(d2)
    for k in keys:
        assert abs(d1.get(k, 0.0) - d2.get(k, 0.0)) <= atol, k


def _pure_state_distribution(U, t, x):
    """P(s) = 1/mu(s) sum_{sigma,tau} prod_k U[d_sigma(k), i_k] U*[d_tau(k), i_k]
    prod_l <phi_{tau^-1(l)}|phi_{sigma^-1(l)}>, with <phi_a|phi_b> = x for a != b."""
    m = U.shape[0]
    n = int(t.sum())
    inputs = np.repeat(np.arange(m), t)
    perms = list(itertools.permutations(range(n)))
    out = {}
    for s in reference.fock_states(m, n):
        d = np.repeat(np.arange(m), s)
        total = 0.0 + 0.0j
        for sigma in perms:
            amp = np.prod([U[d[sigma[k]], inputs[k]] for k in range(n)])
            sigma_inv = np.argsort(sigma)
            for tau in perms:
                tau_inv = np.argsort(tau)
                gram = np.prod([1.0 if tau_inv[j] == sigma_inv[j] else x for j in range(n)])
                conj = np.prod([np.conj(U[d[tau[k]], inputs[k]]) for k in range(n)])
                total += amp * conj * gram
        out[tuple(int(v) for v in s)] = total.real / math.prod(math.factorial(v) for v in s)
    return out


def _chi_square_pvalue(samples, states, probs):
    observed = photonics.empirical_distribution(samples, states) * samples.shape[0]
    expected = probs * samples.shape[0]
    small = expected < 5
    if small.any():  # pool rare states into one bin so the chi-square approximation holds
        observed = np.append(observed[~small], observed[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
    return stats.chisquare(observed, expected).pvalue


def test_exact_limits_x1_quantum_and_x0_photonic():
    _assert_same(_as_dict(*noisy_output_distribution(U, T, indistinguishability=1.0)),
                 _as_dict(*reference.output_distribution(U, T)))
    _assert_same(_as_dict(*noisy_output_distribution(U, T, indistinguishability=0.0)),
                 _as_dict(*reference.distinguishable_output_distribution(U, T)))


@pytest.mark.parametrize("x", [0.3, 0.5, 0.9])
def test_partial_distinguishability_matches_pure_state_formula(x):
    _assert_same(_as_dict(*noisy_output_distribution(U, T, indistinguishability=x)),
                 _pure_state_distribution(U, T, x))


def test_hong_ou_mandel_dip_has_visibility_x_squared():
    # 50:50 splitter, one photon in each input: P(coincidence) = (1 - |<phi1|phi2>|^2) / 2.
    bs = photonics.beam_splitter(np.pi / 4)
    for x in (0.0, 0.4, 1.0):
        d = _as_dict(*noisy_output_distribution(bs, np.array([1, 1]), indistinguishability=x))
        assert abs(d.get((1, 1), 0.0) - (1 - x**2) / 2) < 1e-12


@pytest.mark.parametrize("eta", [0.0, 0.35, 0.8])
def test_loss_matches_beam_splitter_onto_traced_out_modes(eta):
    # V = [[sqrt(eta) U, sqrt(1-eta) I], [sqrt(1-eta) U, -sqrt(eta) I]]: loss after U, explicit.
    eye = np.eye(M)
    V = np.block([[np.sqrt(eta) * U, np.sqrt(1 - eta) * eye],
                  [np.sqrt(1 - eta) * U, -np.sqrt(eta) * eye]])
    states, probs = reference.output_distribution(V, np.concatenate([T, np.zeros(M, int)]))
    marginal = {}
    for s, p in zip(states, probs, strict=False):
        key = tuple(int(v) for v in s[:M])
        marginal[key] = marginal.get(key, 0.0) + p
    _assert_same(_as_dict(*noisy_output_distribution(U, T, transmission=eta)),
                 {k: v for k, v in marginal.items() if v > 1e-15})


def test_dark_counts_and_threshold_match_brute_force():
    p = 0.1
    base = _as_dict(*reference.output_distribution(U, T))
    brute = {}
    for s, ps in base.items():
        for dark in itertools.product((0, 1), repeat=M):
            w = math.prod(p if d else 1 - p for d in dark)
            click = tuple(min(a + b, 1) for a, b in zip(s, dark, strict=False))
            brute[click] = brute.get(click, 0.0) + ps * w
    _assert_same(_as_dict(*noisy_output_distribution(U, T, dark_count_probability=p,
                                                     threshold=True)), brute)


def test_post_selection_renormalises_and_reports_acceptance():
    states, probs, acc = noisy_output_distribution(U, T, transmission=0.6, min_photons=2,
                                                   return_acceptance=True)
    full = _as_dict(*noisy_output_distribution(U, T, transmission=0.6))
    kept = sum(v for k, v in full.items() if sum(k) >= 2)
    assert abs(acc - kept) < 1e-12 and abs(probs.sum() - 1) < 1e-12
    assert np.all(states.sum(axis=1) >= 2)


NOISE_CASES = [
    dict(transmission=0.7),
    dict(indistinguishability=0.5),
    dict(indistinguishability=0.0),
    dict(transmission=0.8, indistinguishability=0.3, dark_count_probability=0.05, threshold=True),
    dict(transmission=0.8, indistinguishability=0.6, dark_count_probability=0.02, min_photons=3),
]


@pytest.mark.parametrize("noise", NOISE_CASES,
                         ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()))
def test_sampler_matches_exact_distribution(noise):
    n = 20_000
    samples, acc = noisy_sample(U, T, n, rng=7, return_acceptance=True, **noise)
    assert samples.shape == (n, M) and samples.dtype == np.int64
    states, probs, exact_acc = noisy_output_distribution(U, T, return_acceptance=True, **noise)
    assert _chi_square_pvalue(samples, states, probs) > ALPHA
    if noise.get("min_photons"):
        # acceptance = n / attempts, attempts ~ n / a: relative sd ~ sqrt((1 - a) / n)
        assert abs(acc - exact_acc) < 5 * exact_acc * np.sqrt((1 - exact_acc) / n) + 1e-3


def test_noiseless_is_the_exact_sampler_bit_for_bit_and_seeded():
    a = noisy_sample(U, T, 500, rng=3)
    np.testing.assert_array_equal(a, photonics.boson_sample(U, T, 500, rng=3))
    b1 = noisy_sample(U, T, 500, rng=3, transmission=0.5, indistinguishability=0.5)
    b2 = noisy_sample(U, T, 500, rng=3, transmission=0.5, indistinguishability=0.5)
    np.testing.assert_array_equal(b1, b2)


def test_noisy_banks_match_exact_distribution():
    bank = latents.build_bank("photonic", U, N, 20_000, seed=2, progress=False,
                              noise={"transmission": 0.7, "threshold": True})
    states, probs = noisy_output_distribution(U, T, transmission=0.7, indistinguishability=0.0,
                                              threshold=True)
    assert _chi_square_pvalue(bank.samples.astype(np.int64), states, probs) > ALPHA
    latent = latents.get("quantum", dim=M, seed=2, circuit=U, n_samples=20_000, n_photons=N,
                         indistinguishability=0.5, normalize="none")
    assert latent.metadata["noise"]["indistinguishability"] == 0.5
    states, probs = noisy_output_distribution(U, T, indistinguishability=0.5)
    rows = latent.bank.numpy().astype(np.int64)
    assert _chi_square_pvalue(rows, states, probs) > ALPHA


def test_invalid_noise_is_named():
    with pytest.raises(ValueError, match="transmission must be <= 1"):
        noisy_sample(U, T, 10, transmission=1.5)
    with pytest.raises(ValueError, match="min_photons must be <= 3"):
        noisy_sample(U, T, 10, min_photons=4)
    with pytest.raises(ValueError, match="min_photons must be <= 4"):
        noisy_sample(U, T, 10, min_photons=5, dark_count_probability=0.1, threshold=True)
    with pytest.raises(TypeError, match="threshold must be a bool"):
        noisy_sample(U, T, 10, threshold="yes")


def test_latent_limits_x0_is_photonic_and_x1_is_quantum():
    common = dict(dim=M, seed=4, circuit=U, n_photons=N, n_samples=20_000, normalize="none")
    x1 = latents.get("quantum", indistinguishability=1.0, **common)
    ideal = latents.get("quantum", **common)
    assert x1.bank_key == ideal.bank_key and torch_equal(x1.bank, ideal.bank)
    x0 = latents.get("quantum", indistinguishability=0.0, **common)
    photonic = latents.get("photonic", **common)
    states, probs = reference.distinguishable_output_distribution(U, T)
    for latent in (x0, photonic):
        rows = latent.bank.numpy().astype(np.int64)
        assert _chi_square_pvalue(rows, states, probs) > ALPHA
    # ... and the two banks against each other (two-sample chi-square on all states).
    a = photonics.empirical_distribution(x0.bank.numpy().astype(np.int64), states) * 20_000
    b = photonics.empirical_distribution(photonic.bank.numpy().astype(np.int64), states) * 20_000
    keep = (a + b) > 0
    assert stats.chi2_contingency(np.vstack([a[keep], b[keep]])).pvalue > ALPHA


def torch_equal(a, b):
    import torch

    return bool(torch.equal(a, b))


@pytest.mark.parametrize("n", [1, 7, 62, 70])
def test_pattern_grouping_matches_numpy_unique_rows(n):
    from qlatent.photonics.noise import _group_patterns

    common = np.random.default_rng(n).random((500, n)) < 0.9
    patterns, inverse = _group_patterns(common)
    expected, expected_inverse = np.unique(common, axis=0, return_inverse=True)
    np.testing.assert_array_equal(patterns, expected)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))


def test_noisy_samples_do_not_depend_on_threads(monkeypatch):
    import qlatent.photonics.noise as noise_module

    monkeypatch.setattr(noise_module, "PARALLEL_MIN_SHOTS", 1)  # threads on every group
    kw = dict(transmission=0.7, indistinguishability=0.6, dark_count_probability=0.02)
    a = noisy_sample(U, T, 3000, rng=11, n_jobs=1, **kw)
    b = noisy_sample(U, T, 3000, rng=11, n_jobs=2, **kw)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("noise", [
    {}, {"transmission": 0.7}, {"transmission": 0.0}, {"threshold": True},
    {"threshold": True, "transmission": 0.6}, {"dark_count_probability": 0.2},
    {"dark_count_probability": 1.0}, {"dark_count_probability": 1.0, "threshold": True},
    {"dark_count_probability": 0.3, "threshold": True, "transmission": 0.8},
    {"indistinguishability": 0.4, "transmission": 0.9, "min_photons": 2},
    {"min_photons": 1, "dark_count_probability": 0.1, "transmission": 0.5},
])
def test_count_bounds_are_the_exact_support(noise):
    """(min total, max total, max count) equal the extremes of the exact distribution's support:
    the bank check accepts every possible row and nothing the model cannot produce."""
    from qlatent.photonics.noise import NoiseModel

    states, probs = noisy_output_distribution(U, T, **noise)
    support = states[probs > 0]
    totals = support.sum(axis=1)
    bounds = NoiseModel(**noise).count_bounds(N, M)
    assert bounds == (totals.min(), totals.max(), support.max())
    assert NoiseModel(**noise).check_counts(support, N) is None
    low = support[totals == totals.min()][:1].copy()
    if bounds[0] > 0:
        low[0, np.argmax(low[0])] -= 1
        assert "photons, expected" in NoiseModel(**noise).check_counts(low, N)


def test_noise_model_from_mapping_and_deviations():
    from qlatent.photonics.noise import NoiseModel

    model = NoiseModel.from_mapping({"transmission": 0.9, "min_photons": None})
    assert model == NoiseModel(transmission=0.9)
    assert model.deviations() == {"transmission": 0.9} and not model.is_ideal
    assert NoiseModel.from_mapping(None).is_ideal
    assert NoiseModel(indistinguishability=0.0).deviations(
        NoiseModel(indistinguishability=0.0)) == {}
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'los' in noise; valid keys: "
                                         "dark_count_probability, indistinguishability"):
        NoiseModel.from_mapping({"los": 0.5})
    with pytest.raises(TypeError, match="noise must be a mapping, a NoiseModel or None"):
        NoiseModel.from_mapping([0.5])
