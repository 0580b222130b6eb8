"""Novelty by 8-byte hashes of canonical SMILES, and the shipped QM9 training-split hashes
(issue 23 part 2: ``qlatent evaluate`` without processing QM9)."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest

from qlatent.metrics import smiles_hashes as H


def test_hash_membership_equals_set_membership():
    rng = np.random.default_rng(0)
    alphabet = list("CNOF()=#1c")
    pool = sorted({"".join(rng.choice(alphabet, size=rng.integers(1, 9))) for _ in range(3000)})
    reference = [pool[i] for i in rng.choice(len(pool), size=len(pool) // 2, replace=False)]
    samples = [pool[i] for i in rng.integers(0, len(pool), size=500)] + ["", "CCO" * 40]
    hashes = H.smiles_hashes(reference + reference[:10])  # duplicates collapse
    assert hashes.dtype == np.uint64 and hashes.size == len(set(reference))
    assert np.all(hashes[1:] > hashes[:-1])
    ref_set = set(reference)
    np.testing.assert_array_equal(H.is_member(samples, hashes), [s in ref_set for s in samples])
    assert not H.is_member(["C"], np.zeros(0, np.uint64)).any()


@pytest.mark.chem
def test_evaluate_novelty_from_hashes_equals_novelty_from_the_smiles_set(tmp_path):
    pytest.importorskip("rdkit")
    from qlatent.experiments.reuse import evaluate_smiles
    from qlatent.metrics.molecules import canonical_valid, count_novel, novelty

    samples = ["CCO", "OCC", "c1ccccc1", "", "C.C", "CC(=O)O", "C1CC1", "N#N", "CCN", "O=C=O",
               "CCCC", "CC(C)O"]
    reference = ["CCO", "CCC", "C1CC1", "CCN", "COC", "CC(C)O"]
    ref = tmp_path / "ref.smi"
    ref.write_text("\n".join(reference) + "\n")
    m = evaluate_smiles(samples, reference=ref, fcd=False)["metrics"]
    train = {c for c in canonical_valid(reference) if c is not None}
    assert m["n_novel"] == count_novel(samples, train) == 5
    assert m["novelty"] == pytest.approx(novelty(samples, train))


def _qm9_canonical_sample():
    return ["CCO", "c1ccccc1", "CC(=O)O", "C1CC1", "CCN", "O=C=O", "CCCCCCCCCCCCCCCCCC"]


@pytest.mark.chem
def test_evaluate_qm9_uses_the_shipped_hashes_without_processing_qm9(monkeypatch):
    pytest.importorskip("rdkit")
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack is not installed (the [chem] extra)")
    from qlatent.experiments import reuse

    shipped = H.shipped_qm9_hashes()
    assert shipped is not None and shipped[0].size == shipped[1]["count"]

    def refuse(*_a, **_k):
        raise AssertionError("QM9 processed although the shipped hashes match")

    monkeypatch.setattr(reuse, "load_data", refuse)
    samples = _qm9_canonical_sample()
    m = reuse.evaluate_smiles(samples, fcd=False)["metrics"]
    distinct = sorted(set(samples))
    assert m["n_novel"] == int((~H.is_member(distinct, shipped[0])).sum())
    assert 0 < m["n_novel"] < len(distinct)  # ethanol... are in QM9; C18 is not

    # Another provenance (here: a different qm9pack file digest) recomputes from the split.
    class Split:
        def smiles(self, which):
            assert which == "train"
            return ["CCO", "CCN"]

    real = reuse.qm9_provenance()
    monkeypatch.setattr(reuse, "qm9_provenance",
                        lambda: {**real, "qm9pack_files": {"qm9_part1.csv": "0" * 64}})
    monkeypatch.setattr(reuse, "load_data", lambda params: Split())
    m = reuse.evaluate_smiles(samples, fcd=False)["metrics"]
    assert m["n_novel"] == len(distinct) - 2


def test_a_damaged_shipped_hash_file_is_refused(tmp_path, monkeypatch):
    for suffix in (".npz", ".json"):
        shutil.copy(H.SHIPPED_QM9_HASHES.with_suffix(suffix), tmp_path / f"h{suffix}")
    monkeypatch.setattr(H, "SHIPPED_QM9_HASHES", tmp_path / "h")
    assert H.shipped_qm9_hashes()[0].size > 100_000
    data = bytearray((tmp_path / "h.npz").read_bytes())
    data[-100] ^= 1
    (tmp_path / "h.npz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the SHA-256"):
        H.shipped_qm9_hashes()


@pytest.mark.slow
@pytest.mark.chem
def test_the_shipped_hashes_are_the_qm9_training_split_recomputed():
    """Processes QM9 (minutes on a cold cache) and compares hashes and provenance."""
    from qlatent._io import digest
    from qlatent.experiments.reuse import qm9_provenance
    from qlatent.experiments.tasks.qm9 import QM9Params, load_data

    hashes, meta = H.shipped_qm9_hashes()
    smiles = list(load_data(QM9Params()).smiles("train"))
    assert meta["n_smiles"] == len(smiles) and meta["smiles_sha256"] == digest(smiles)
    assert all(meta[k] == v for k, v in qm9_provenance().items())
    np.testing.assert_array_equal(hashes, H.smiles_hashes(smiles))
    assert meta["hash"] == H.HASH
    fcd_meta = json.loads(H.SHIPPED_QM9_HASHES.with_name("qm9_chemnet_reference.json")
                          .read_text())
    assert fcd_meta["smiles_sha256"] == meta["smiles_sha256"]
