"""Bank summaries: exact E[TVD] of a perfect sampler and the fields of ``summarize_bank``."""

import numpy as np

from qlatent import latents
from qlatent.latents.summary import expected_tvd


def test_expected_tvd_of_an_exact_sampler_matches_simulation():
    rng = np.random.default_rng(0)
    for size, n in ((40, 500), (3000, 2000)):  # Np >> 1 and Np << 1 regimes
        p = rng.dirichlet(np.full(size, 0.5))
        sims = [0.5 * np.abs(rng.multinomial(n, p) / n - p).sum() for _ in range(1000)]
        assert abs(expected_tvd(p, n) - np.mean(sims)) < 5 * np.std(sims) / np.sqrt(1000)


def test_summarize_bank_fields():
    bank = latents.build_bank("quantum", "haar", 2, 5000, seed=1, n_modes=4, progress=False)
    s = latents.summarize_bank(bank)
    np.testing.assert_allclose(s["mean_occupancy"], bank.samples.mean(0))
    assert s["total_photon_histogram"] == [0.0, 0.0, 1.0]
    assert s["tvd"]["reference"] == "exact quantum distribution" and s["tvd"]["n_states"] == 10
    assert s["tvd"]["value"] < 3 * s["tvd"]["expected_for_exact_sampler"]
