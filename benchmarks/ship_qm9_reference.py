"""Compute QM9's ChemNet reference statistics and write them as package data.

The reference is the training split of the qm9 task's defaults (``QM9Params()``); the files are
``src/qlatent/metrics/data/qm9_chemnet_reference.{npz,json}`` (see
``qlatent.metrics.fcd.SHIPPED_REFERENCE``). The computation is resumable (chunks are cached
under ``$QLATENT_CACHE/fcd``): ChemNet over 117,226 molecules takes CPU minutes on an idle core.
Run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ship_qm9_reference.py

and commit the two files; ``tests/metrics/test_fcd_shipped.py`` (slow, chem) recomputes them.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import time


def main() -> None:
    from qlatent._chem import qm9pack_data_files
    from qlatent._io import digest, file_digest
    from qlatent.experiments.tasks.qm9 import QM9Params, load_data
    from qlatent.metrics import fcd as F

    start = time.perf_counter()
    params = QM9Params()
    smiles = list(load_data(params).smiles("train"))
    print(f"QM9 training split: {len(smiles):,} SMILES ({time.perf_counter() - start:.0f} s)")
    stats = F.reference_statistics(smiles)
    key = F.reference_key(smiles)
    provenance = {
        "what": "ChemNet statistics of the QM9 training split of the qm9 task's defaults",
        "n_smiles": len(smiles), "smiles_sha256": digest(smiles),
        "qm9_params": {k: v for k, v in dataclasses.asdict(params).items()
                       if k in ("kekulize", "charged", "test_fraction", "split_seed")},
        "qm9pack_version": importlib.metadata.version("qm9pack"),
        "qm9pack_files": {p.name: file_digest(p) for p in qm9pack_data_files()},
        "fcd_version": importlib.metadata.version("fcd"),
        "chemnet_sha256": F.chemnet_digest(),
    }
    npz = F.write_shipped_reference(F.SHIPPED_REFERENCE, stats, key=key, provenance=provenance)
    print(f"{npz}: {npz.stat().st_size:,} bytes, key {key[:16]}... "
          f"({time.perf_counter() - start:.0f} s in all)")


if __name__ == "__main__":
    main()
