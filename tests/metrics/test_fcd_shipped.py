"""The shipped QM9 ChemNet reference statistics agree with a recomputation (issue 23 part 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qlatent.metrics import fcd as F


@pytest.mark.slow
@pytest.mark.chem
def test_the_shipped_reference_is_the_qm9_training_split_recomputed(monkeypatch):
    """Recomputes ChemNet over the training split (CPU minutes) with the shipped files hidden,
    and compares: the digests recorded, then mean and covariance to 1e-6 relative."""
    pytest.importorskip("fcd")
    meta_path = F.SHIPPED_REFERENCE.with_suffix(".json")
    if not meta_path.is_file():
        pytest.skip(f"no shipped reference yet ({meta_path}): run "
                    "benchmarks/ship_qm9_reference.py")
    from qlatent._chem import qm9pack_data_files
    from qlatent._io import file_digest
    from qlatent.experiments.tasks.qm9 import QM9Params, load_data

    meta = json.loads(meta_path.read_text())
    smiles = list(load_data(QM9Params()).smiles("train"))
    assert meta["key"] == F.reference_key(smiles)
    assert meta["n_smiles"] == len(smiles) == meta["count"]
    assert meta["qm9pack_files"] == {p.name: file_digest(p) for p in qm9pack_data_files()}
    shipped = F.shipped_statistics(meta["key"])
    monkeypatch.setattr(F, "SHIPPED_REFERENCE", F.SHIPPED_REFERENCE.with_name("absent"))
    again = F.reference_statistics(smiles, progress=False)
    assert again.count == shipped.count
    np.testing.assert_allclose(shipped.mean, again.mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(shipped.covariance, again.covariance, rtol=1e-6, atol=1e-9)
    assert F.frechet_distance(shipped.mean, shipped.covariance, again.mean,
                              again.covariance) == pytest.approx(0.0, abs=1e-6)
