"""Hash the canonical SMILES of QM9's training split and write them as package data.

The set is the training split of the qm9 task's defaults (``QM9Params()``), as novelty needs
it; the files are ``src/qlatent/metrics/data/qm9_train_hashes.{npz,json}`` (see
``qlatent.metrics.smiles_hashes``), with the provenance ``qlatent evaluate`` checks before
using them (``qlatent.experiments.reuse.qm9_provenance``). Processing QM9 takes minutes unless
it is cached (``$QLATENT_CACHE/qm9``); hashing takes a second. Run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ship_qm9_hashes.py

and commit the two files; ``tests/metrics/test_smiles_hashes.py`` (slow, chem) recomputes them.
"""

from __future__ import annotations

import time


def main() -> None:
    from qlatent._io import digest
    from qlatent.experiments.reuse import qm9_provenance
    from qlatent.experiments.tasks.qm9 import QM9Params, load_data
    from qlatent.metrics.smiles_hashes import SHIPPED_QM9_HASHES, write_shipped_hashes

    start = time.perf_counter()
    smiles = list(load_data(QM9Params()).smiles("train"))
    print(f"QM9 training split: {len(smiles):,} SMILES ({time.perf_counter() - start:.0f} s)")
    provenance = {"what": "hashes of the canonical SMILES of the QM9 training split of the qm9 "
                          "task's defaults",
                  "n_smiles": len(smiles), "smiles_sha256": digest(smiles), **qm9_provenance()}
    npz = write_shipped_hashes(SHIPPED_QM9_HASHES, smiles, provenance=provenance)
    print(f"{npz}: {npz.stat().st_size:,} bytes ({time.perf_counter() - start:.0f} s in all)")


if __name__ == "__main__":
    main()
