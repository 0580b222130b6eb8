"""FCD: the Fréchet formula against scipy's sqrtm, ChemNet against the fcd package, caching."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from qlatent.metrics import fcd as F

SMILES = ["CCO", "CC(=O)O", "c1ccccc1", "CCN", "C1CC1", "OC1CCOC1", "N#CC#N", "CC(C)C",
          "O=C1CCC1", "CC#CC", "C1=CNC=C1", "FC(F)F", "CCOC", "NCC(N)=O", "c1ccncc1", "CCCO"]


def scipy_frechet(m1, c1, m2, c2):
    covmean = linalg.sqrtm(c1 @ c2).real
    d = m1 - m2
    return float(d @ d + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("d", [2, 8, 40])
def test_frechet_distance_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    a, b = rng.normal(size=(3 * d, d)), rng.normal(size=(3 * d, d)) * 1.5 + 0.3
    m1, m2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a.T), np.cov(b.T)
    assert F.frechet_distance(m1, c1, m2, c2) == pytest.approx(scipy_frechet(m1, c1, m2, c2),
                                                              rel=1e-8, abs=1e-9)
    assert F.frechet_distance(m1, c1, m1, c1) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_closed_form_for_diagonal_covariances():
    # diag: sum (mu1-mu2)^2 + sum (sqrt(s1) - sqrt(s2))^2
    m1, m2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2
    assert F.frechet_distance(m1, np.diag(s1), m2, np.diag(s2)) == pytest.approx(expected)


def test_statistics_batched_equals_one_shot():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 6)).astype(np.float32)
    s = F.statistics(a[:20]) + F.statistics(a[20:])
    np.testing.assert_allclose(s.mean, a.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.covariance, np.cov(a.astype(np.float64).T), rtol=1e-10,
                               atol=1e-12)
    with pytest.raises(ValueError, match="activations"):
        F.statistics(a[:1])


@pytest.mark.chem
def test_chemnet_matches_the_fcd_package_and_dedup_is_exact():
    fcd_pkg = pytest.importorskip("fcd")
    ours = F.chemnet_activations(SMILES)
    theirs = fcd_pkg.get_predictions(fcd_pkg.load_ref_model(), SMILES, n_jobs=0, device="cpu")
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    repeated = SMILES + SMILES[:5] + SMILES[:2]
    s_dedup = F.smiles_statistics(repeated)
    s_plain = F.statistics(F.chemnet_activations(repeated))
    assert s_dedup.count == s_plain.count == len(repeated)
    np.testing.assert_allclose(s_dedup.mean, s_plain.mean, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(s_dedup.covariance, s_plain.covariance, rtol=1e-5, atol=1e-8)


@pytest.mark.chem
def test_fcd_against_the_package_and_the_cached_reference(tmp_path):
    fcd_pkg = pytest.importorskip("fcd")
    x, y = SMILES[:8] + SMILES[:8], SMILES[8:] + SMILES[:4]
    ours = F.fcd(x, y)
    assert ours == pytest.approx(fcd_pkg.get_fcd(x, y, device="cpu"), rel=1e-3)
    assert F.fcd(x, x) == pytest.approx(0.0, abs=1e-4)   # rank-deficient: 16 rows, 512 dims
    assert F.fcd_to_reference(x, y) == pytest.approx(ours, rel=1e-9)
    files = list(F.cache_dir("fcd").glob("reference-*.npz"))
    assert len(files) == 1
    assert F.fcd_to_reference(x, y) == pytest.approx(ours, rel=1e-12)   # read back
    assert list(F.cache_dir("fcd").glob("reference-*.npz")) == files


@pytest.mark.chem
def test_reference_statistics_resume_after_an_interruption(monkeypatch):
    pytest.importorskip("fcd")
    real = F._weighted
    calls = []

    def failing(distinct, counts, device="cpu"):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(distinct))
        return real(distinct, counts, device)

    monkeypatch.setattr(F, "_weighted", failing)
    with pytest.raises(KeyboardInterrupt):
        F.reference_statistics(SMILES, chunk=5)               # 16 distinct: chunks 5, 5, 5, 1
    parts = list(F.cache_dir("fcd").glob("*.parts/chunk-*.npz"))
    assert len(parts) == 2
    calls.clear()
    monkeypatch.setattr(F, "_weighted",
                        lambda d, c, device="cpu": calls.append(len(d)) or real(d, c, device))
    stats = F.reference_statistics(SMILES, chunk=5)
    assert calls == [5, 1]                                     # only the missing chunks
    expected = F.smiles_statistics(SMILES)
    # ChemNet's float32 kernels vary with the batch composition at the 1e-7 level
    np.testing.assert_allclose(stats.mean, expected.mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(stats.covariance, expected.covariance, rtol=1e-4, atol=1e-7)
    assert not list(F.cache_dir("fcd").glob("*.parts"))        # chunk files cleaned up


@pytest.mark.chem
def test_heldout_fcd_is_the_fcd_of_its_draw_and_is_cached():
    pytest.importorskip("fcd")
    test, train = SMILES[:10], SMILES[6:]
    out = F.heldout_fcd(test, train, n=6, rng=3)
    pick = sorted(np.random.default_rng(3).permutation(10)[:6].tolist())
    assert out["n"] == 6
    assert out["fcd"] == pytest.approx(F.fcd_to_reference([test[i] for i in pick], train),
                                       rel=1e-9)
    (cached,) = F.cache_dir("fcd").glob("heldout-*.json")
    assert F.heldout_fcd(test, train, n=6, rng=3) == out                 # read back
    cached.write_text('{"fcd": 99.0, "n": 6}')
    assert F.heldout_fcd(test, train, n=6, rng=3) == out                 # edited: recomputed
    cached.write_text("{broken")
    assert F.heldout_fcd(test, train, n=6, rng=3) == out                 # damaged: recomputed
    assert F.heldout_fcd(test, train, n=100, rng=3)["n"] == 10           # n capped at len(test)
    with pytest.raises(ValueError, match="n must be >= 2"):
        F.heldout_fcd(test, train, n=1)


@pytest.mark.chem
def test_chemnet_runs_on_the_device_it_is_given():
    pytest.importorskip("fcd")
    from qlatent.metrics.fcd import chemnet_activations

    smiles = ["CCO", "C1CC1", "CC(=O)O"]
    np.testing.assert_array_equal(chemnet_activations(smiles, device="cpu"),
                                  chemnet_activations(smiles))
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:k'"):
        chemnet_activations(smiles, device="tpu")


@pytest.mark.gpu
@pytest.mark.chem
def test_chemnet_on_the_gpu_equals_the_cpu():
    pytest.importorskip("fcd")
    from qlatent.metrics.fcd import chemnet_activations

    smiles = ["CCO", "C1CC1", "CC(=O)O", "c1ccccc1", "CN", "OCC(O)CO"]
    np.testing.assert_allclose(chemnet_activations(smiles, device="cuda"),
                               chemnet_activations(smiles), rtol=1e-4, atol=1e-5)
