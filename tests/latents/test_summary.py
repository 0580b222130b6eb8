"""Bank summaries: exact E[TVD] of a perfect sampler, collisions, TVD with support."""

import numpy as np

from qlatent import latents, photonics
from qlatent.latents.summary import (
    collision_probability,
    expected_tvd,
    total_variation_with_support,
)


def test_expected_tvd_of_an_exact_sampler_matches_simulation():
    rng = np.random.default_rng(0)
    for size, n in ((40, 500), (3000, 2000)):  # Np >> 1 and Np << 1 regimes
        p = rng.dirichlet(np.full(size, 0.5))
        sims = [0.5 * np.abs(rng.multinomial(n, p) / n - p).sum() for _ in range(1000)]
        assert abs(expected_tvd(p, n) - np.mean(sims)) < 5 * np.std(sims) / np.sqrt(1000)


def test_collision_probability_is_unbiased_for_sum_p_squared():
    rng = np.random.default_rng(1)
    p = np.array([0.5, 0.3, 0.15, 0.05])
    states = np.eye(4, dtype=np.int64)
    estimates = [collision_probability(states[rng.choice(4, size=50, p=p)]) for _ in range(4000)]
    sd = np.std(estimates) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates) - np.sum(p**2)) < 5 * sd


def test_tvd_with_support_agrees_inside_and_counts_outside():
    U = photonics.haar_unitary(4, rng=2)
    t = photonics.standard_input(4, 2)
    states, probs = photonics.reference.output_distribution(U, t)
    rows = photonics.boson_sample(U, t, 3000, rng=3)
    inside = total_variation_with_support(rows, states, probs)
    assert abs(inside - photonics.total_variation_distance(rows, states, probs)) < 1e-12
    outside = np.vstack([rows, np.array([[3, 0, 0, 0]] * 1000)])  # 3 photons: not a state
    f = photonics.empirical_distribution(rows, states) * 3000 / 4000
    expected = 0.5 * (np.abs(f - probs).sum() + 0.25)
    assert abs(total_variation_with_support(outside, states, probs) - expected) < 1e-12


def test_summarize_bank_fields():
    bank = latents.build_bank("quantum", "haar", 2, 5000, seed=1, n_modes=4, progress=False)
    s = latents.summarize_bank(bank)
    np.testing.assert_allclose(s["mean_occupancy"], bank.samples.mean(0))
    assert s["total_photon_histogram"] == [0.0, 0.0, 1.0]
    assert s["tvd"]["reference"] == "exact quantum distribution" and s["tvd"]["n_states"] == 10
    assert s["tvd"]["value"] < 3 * s["tvd"]["expected_for_exact_sampler"]
