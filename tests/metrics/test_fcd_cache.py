"""Issue 23 F6 and part 2: FCD cache entries are verified before use, and QM9's reference
statistics ship with the package (used when the request matches their digest)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qlatent.metrics import fcd as F

SMILES = ["CCO", "CC(=O)O", "c1ccccc1", "CCN", "C1CC1", "OC1CCOC1", "N#CC#N", "CC(C)C",
          "O=C1CCC1", "CC#CC", "C1=CNC=C1", "FC(F)F", "CCOC", "NCC(N)=O", "c1ccncc1", "CCCO"]


def _tamper(entry, scale=30.0):
    with np.load(entry) as f:
        arrays = dict(f)
    arrays["outer"] = arrays["outer"] * scale
    with open(entry, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.chem
def test_a_tampered_reference_entry_is_recomputed_not_used(capfd):
    pytest.importorskip("fcd")
    x = SMILES[:8]
    clean = F.fcd_to_reference(x, SMILES)
    (entry,) = F.cache_dir("fcd").glob("reference-*.npz")
    _tamper(entry)
    capfd.readouterr()
    assert F.fcd_to_reference(x, SMILES) == pytest.approx(clean, rel=1e-9)
    err = capfd.readouterr().err
    assert f"the FCD cache entry {entry} does not match its checksum" in err
    assert F.fcd_to_reference(x, SMILES) == pytest.approx(clean, rel=1e-12)  # rewritten
    assert capfd.readouterr().err == ""


@pytest.mark.chem
def test_a_tampered_heldout_entry_is_recomputed(capfd):
    pytest.importorskip("fcd")
    out = F.heldout_fcd(SMILES[:10], SMILES[6:], n=6, rng=3)
    (cached,) = F.cache_dir("fcd").glob("heldout-*.json")
    record = json.loads(cached.read_text())
    record["fcd"] = 99.0
    cached.write_text(json.dumps(record))
    assert F.heldout_fcd(SMILES[:10], SMILES[6:], n=6, rng=3) == out
    assert "does not match its checksum" in capfd.readouterr().err


def test_shipped_statistics_are_used_only_for_their_own_request(tmp_path, monkeypatch):
    """The shipped files are found by the request's key and verified; a copy with another key
    or edited bytes is not used (no ChemNet is needed for this test)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 512))
    stats = F.statistics(a)
    monkeypatch.setattr(F, "SHIPPED_REFERENCE", tmp_path / "ref")
    F.write_shipped_reference(tmp_path / "ref", stats, key="k" * 64, provenance={"what": "test"})
    meta = json.loads((tmp_path / "ref.json").read_text())
    assert meta["key"] == "k" * 64 and meta["what"] == "test" and meta["count"] == 50
    back = F.shipped_statistics("k" * 64)
    np.testing.assert_allclose(back.mean, stats.mean, rtol=1e-12)
    np.testing.assert_allclose(back.covariance, stats.covariance, rtol=1e-10, atol=1e-12)
    assert F.shipped_statistics("j" * 64) is None
    with np.load(tmp_path / "ref.npz") as f:
        arrays = dict(f)
    arrays["mean"] = arrays["mean"] + 1.0
    np.savez(tmp_path / "ref.npz", **arrays)
    with pytest.raises(ValueError, match="does not match the SHA-256 in"):
        F.shipped_statistics("k" * 64)
