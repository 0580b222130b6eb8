"""Classical challengers: Dirichlet-multinomial (moment-matched) and shuffled (marginals kept)."""

import numpy as np
import pytest

from qlatent import latents, photonics

KW = dict(circuit="haar", n_modes=8, progress=False)


@pytest.fixture(scope="module")
def banks_8(tmp_path_factory):
    import os

    old = os.environ.get("QLATENT_CACHE")
    os.environ["QLATENT_CACHE"] = str(tmp_path_factory.mktemp("challengers"))
    try:
        out = {k: latents.build_bank(k, n_photons=4, n_samples=60_000, seed=13, **KW)
               for k in ("quantum", "dirichlet_multinomial", "shuffled", "photonic")}
    finally:
        if old is None:
            os.environ.pop("QLATENT_CACHE")
        else:
            os.environ["QLATENT_CACHE"] = old
    return out


def test_challengers_share_the_quantum_bank_circuit(banks_8):
    q = banks_8["quantum"]
    for kind in ("dirichlet_multinomial", "shuffled"):
        b = banks_8[kind]
        assert b.metadata["source"]["key"] == q.key and b.kind == kind
        np.testing.assert_array_equal(b.unitary, q.unitary)


def test_dirichlet_multinomial_matches_mean_occupancy_total_and_fano(banks_8):
    q = banks_8["quantum"].samples
    dm = banks_8["dirichlet_multinomial"].samples
    n = dm.shape[0]
    assert np.all(dm.sum(axis=1) == 4)
    mean_q, mean_dm = photonics.mean_occupancy(q), photonics.mean_occupancy(dm)
    sd = np.sqrt(photonics.mode_variance(dm) / n)
    assert np.all(np.abs(mean_dm - mean_q) < 6 * sd * np.sqrt(2))
    fano_q, fano_dm = photonics.fano_factor(q), photonics.fano_factor(dm)
    # The fit is exact in expectation; both are estimates from 60k rows (sd ~ 0.005 each).
    assert abs(fano_dm - fano_q) < 0.03, (fano_q, fano_dm)
    # ... and it is more bunched than the distinguishable control, as the quantum bank is.
    assert fano_dm > photonics.fano_factor(banks_8["photonic"].samples) + 0.1


def test_concentration_formula_on_a_known_dirichlet_multinomial():
    rng = np.random.default_rng(0)
    alpha = np.array([1.0, 2.0, 3.0, 4.0])  # A = 10
    p = rng.dirichlet(alpha, size=200_000)
    s = rng.multinomial(6, p)
    fitted, concentration = latents.fit_dirichlet_concentration(s)
    assert abs(concentration - 10.0) < 0.6
    np.testing.assert_allclose(fitted, alpha, rtol=0.08)


def test_dirichlet_below_the_family_takes_the_multinomial_limit():
    rng = np.random.default_rng(1)
    # Less bunched than a multinomial: one photon in every mode, every row.
    under = np.tile(np.array([[1, 1, 1, 1]]), (100, 1))
    alpha, concentration = latents.fit_dirichlet_concentration(under)
    assert concentration == np.inf and np.all(alpha == np.inf)
    # Every row in one mode is the A = 0 end: g = R, up to round-off either side.
    one_mode = np.zeros((200, 4), dtype=np.int64)
    one_mode[np.arange(200), rng.integers(0, 4, 200)] = 3
    try:
        alpha, concentration = latents.fit_dirichlet_concentration(one_mode)
    except ValueError as err:
        assert "every row in one mode" in str(err)
    else:
        assert 0.0 < concentration < 1e-9 and np.all(alpha < 1e-9)


@pytest.mark.slow  # builds a bank; the multinomial limit: test_dirichlet_below_...
def test_dirichlet_challenger_of_an_antibunched_bank_is_the_multinomial(tmp_path):
    # A "bank" with Fano factor below the multinomial's: 3 photons in 6 modes, never two
    # in one mode. The challenger is the multinomial with the same mean occupancy and photon
    # numbers, and says so.
    rng = np.random.default_rng(2)
    n_rows, m = 40_000, 6
    weights = np.array([1.0, 1.5, 2.0, 1.0, 0.7, 1.3])
    rows = np.zeros((n_rows, m), dtype=np.int64)
    for i in range(n_rows):
        rows[i, rng.choice(m, size=3, replace=False, p=weights / weights.sum())] = 1
    np.save(tmp_path / "shots.npy", rows)
    hw = latents.import_bank(tmp_path / "shots.npy", min_photons=3)
    assert photonics.fano_factor(rows) < (1 - 1 / m)  # below any multinomial at N = 3
    with pytest.warns(UserWarning, match="multinomial limit"):
        dm = latents.derive_bank("dirichlet_multinomial", hw, 0)
    fit = dm.metadata["fit"]
    assert fit["concentration"] == "inf" and fit["fano_matched"] is False
    assert fit["limit"] == "multinomial" and fit["alpha"] is None
    s = dm.samples
    assert np.all(s.sum(axis=1) == 3)
    # Multinomial(3, mu): per-mode mean 3 mu_j and variance 3 mu_j (1 - mu_j), checked against
    # the source's mean occupancy.
    mu = photonics.mean_occupancy(rows) / 3
    sd = np.sqrt(3 * mu * (1 - mu) / n_rows)
    assert np.all(np.abs(s.mean(axis=0) - 3 * mu) < 5 * sd * np.sqrt(2))
    np.testing.assert_allclose(s.var(axis=0), 3 * mu * (1 - mu), rtol=0.05)
    assert s.max() > 1  # bunching appears, as it must in a multinomial


def test_concentration_formula_with_varying_photon_number():
    rng = np.random.default_rng(3)
    alpha = np.array([0.5, 1.0, 1.5, 2.0, 1.0])  # A = 6
    n = rng.binomial(8, 0.7, size=300_000)
    s = rng.multinomial(n, rng.dirichlet(alpha, size=n.shape[0]))
    fitted, concentration = latents.fit_dirichlet_concentration(s)
    assert abs(concentration - 6.0) < 0.4
    np.testing.assert_allclose(fitted, alpha, rtol=0.08)


def test_dirichlet_challenger_of_a_lossy_bank(tmp_path):
    kw = dict(n_photons=4, n_samples=60_000, seed=13, noise={"transmission": 0.8}, **KW)
    q = latents.build_bank("quantum", **kw).samples
    dm = latents.build_bank("dirichlet_multinomial", **kw).samples
    hq = np.bincount(q.sum(1), minlength=5) / q.shape[0]
    hd = np.bincount(dm.sum(1), minlength=5) / dm.shape[0]
    assert np.abs(hq - hd).max() < 0.01  # photon numbers resampled from the bank
    assert abs(photonics.fano_factor(dm) - photonics.fano_factor(q)) < 0.03
    sd = np.sqrt(photonics.mode_variance(dm) / dm.shape[0])
    assert np.all(np.abs(photonics.mean_occupancy(dm) - photonics.mean_occupancy(q)) < 6 * sd * 1.5)


def test_shuffled_keeps_marginals_and_destroys_correlations(banks_8):
    q = banks_8["quantum"].samples
    sh = banks_8["shuffled"].samples
    np.testing.assert_array_equal(np.sort(q, axis=0), np.sort(sh, axis=0))  # exact marginals
    n = q.shape[0]
    cq = np.corrcoef(q.T.astype(float))[np.triu_indices(8, 1)]
    cs = np.corrcoef(sh.T.astype(float))[np.triu_indices(8, 1)]
    # Fixed photon number forces negative correlations in the quantum bank (mean -1/7 here);
    # independent columns have correlations ~ N(0, 1/n).
    assert cq.mean() < -0.1
    assert np.all(np.abs(cs) < 5 / np.sqrt(n))
    assert sh.sum(axis=1).std() > 0.5  # the total photon number is no longer fixed


def test_challengers_of_imported_hardware_samples(tmp_path):
    # "Hardware" shots: a lossy quantum bank written to disk and imported with post-selection.
    shots = latents.build_bank("quantum", n_photons=4, n_samples=30_000, seed=5,
                               noise={"transmission": 0.8}, **KW).samples
    np.save(tmp_path / "shots.npy", shots)
    hw = latents.import_bank(tmp_path / "shots.npy", min_photons=2)
    sh = latents.get("shuffled", bank=hw.path, seed=1, normalize="none")
    dm = latents.get("dirichlet_multinomial", bank=hw, seed=1, normalize="none")
    assert sh.dim == dm.dim == 8 and sh.metadata["source"]["key"] == hw.key
    rows = sh.bank.numpy()
    np.testing.assert_array_equal(np.sort(rows, axis=0), np.sort(hw.samples, axis=0))
    assert abs(photonics.fano_factor(dm.bank.numpy()) - photonics.fano_factor(hw.samples)) < 0.04
    assert latents.derive_bank("shuffled", hw, 1).key == sh.bank_key  # cached
    with pytest.raises(ValueError, match="circuit, transmission do not apply"):
        latents.get("shuffled", bank=hw, seed=1, circuit="1-1", transmission=0.5)
    with pytest.raises(ValueError, match="dim must match the bank's width 8"):
        latents.get("shuffled", bank=hw, seed=1, dim=6)
    with pytest.raises(ValueError, match="kind must be one of"):
        latents.derive_bank("quantum", hw, 1)
