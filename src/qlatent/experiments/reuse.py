"""Reuse what was trained: ``load_run`` (a cell directory of ``qlatent run`` back to its trained
generator, latent and config), drawing samples from it, and scoring any SMILES file.

>>> import qlatent as ql
>>> run = ql.load_run("runs/table2/qm9/quantum-L16/seed-0")
>>> smiles = run.sample(10_000, seed=0)          # list[str] for qm9, float32[n, d] otherwise

A cell directory (``<experiment>/<dataset>/<latent>-L<dim>/seed-<k>/``) holds its resolved
config (``config.json``, with the ``[cell]`` it is) and the training checkpoint
(``checkpoint.pt``). ``load_run`` rebuilds the networks and the latent exactly as the runner
built them (``cell.rebuild_cell``: the task's ``build`` and ``qlatent.latents.get`` with the
cell's derived seeds; banks come from the cache, rebuilt deterministically when missing) and
loads the weights weights-only (``qlatent.train.load_checkpoint``): nothing is unpickled.

This is the one module of the command line's ``sample`` and ``evaluate`` that touches the
experiment internals (tasks, their sampling and their QM9 reference).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from qlatent._chem import qm9pack_data_files
from qlatent._io import file_digest, notice
from qlatent._validation import check_int
from qlatent.experiments.cell import read_cell, rebuild_cell
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.tasks import Built, Cell, get_task
from qlatent.experiments.tasks.qm9 import QM9Params, load_data
from qlatent.metrics import fcd as F
from qlatent.metrics.molecules import canonical_valid, evaluate_molecules
from qlatent.metrics.smiles_hashes import is_member, shipped_qm9_hashes, smiles_hashes

__all__ = ["SAMPLE_SUFFIX", "Run", "evaluate_smiles", "load_run", "read_cell",
           "qm9_provenance", "read_smiles_file", "reference_smiles"]

#: Suffix of the file ``qlatent sample`` writes, per task (``.npy`` for the others).
SAMPLE_SUFFIX = {"qm9": ".smi"}


@dataclass(frozen=True)
class Run:
    """A trained cell of an experiment, as ``load_run`` rebuilds it.

    Attributes:
        generator: the trained generator, on the CPU, in eval mode.
        latent: the latent it was trained on (with its normalisation), on the CPU.
        config: the experiment config (the grid the cell belongs to).
        cell: which cell (dataset, latent, latent_dim, seed).
        path: the cell directory.
        step: the training step of the checkpoint (``steps`` once finished).
        steps: the cell's training steps.
        data: the task's data object (e.g. ``QM9Graphs``, whose ``spec`` decodes graphs).
    """

    generator: nn.Module
    latent: nn.Module
    config: ExperimentConfig
    cell: Cell
    path: Path
    step: int
    data: Any
    steps: int

    @property
    def finished(self) -> bool:
        """True once training reached ``steps``."""
        return self.step >= self.steps

    @property
    def sample_suffix(self) -> str:
        """``".smi"`` for QM9 cells (SMILES), ``".npy"`` for the others (float32 arrays)."""
        return SAMPLE_SUFFIX.get(self.config.task, ".npy")

    def sample(self, n: int, *, seed: int = 0) -> np.ndarray | list[str]:
        """Draw ``n`` samples of the trained cell, latents from ``seed`` (the task's
        ``sample``).

        Returns:
            QM9 cells: ``list[str]``, one SMILES per sample exactly as decoded (fragments
            joined by ``"."``, ``""`` where the graph is not a molecule), as in the cell's
            ``samples.smi``. Zoo cells: uint8[n, width], raw outcomes as in ``samples.npy``.
            Other tasks: ``float32[n, d]``.

        Raises:
            ValueError: a sample is not finite (a diverged generator), naming the cell.
        """
        n = check_int("n", n, minimum=1)
        seed = check_int("seed", seed, minimum=0)
        built = Built(data=self.data, generator=self.generator, critic=nn.Identity())
        out = get_task(self.config.task).sample(built, self.latent, self.config, n, seed)
        if isinstance(out, np.ndarray) and not np.isfinite(out).all():
            bad = int((~np.isfinite(out)).any(axis=tuple(range(1, out.ndim))).sum())
            raise ValueError(f"{self.path}: {bad} of {n} samples are not finite (NaN or "
                             "inf): the trained generator diverged; retrain the cell with a "
                             "lower learning rate")
        return out


def load_run(cell_dir: str | Path) -> Run:
    """The trained generator, its latent and its config, from a cell directory of
    ``qlatent run`` (see the module docstring; built by ``cell.rebuild_cell``).

    Args:
        cell_dir: ``<experiment>/<dataset>/<latent>-L<dim>/seed-<k>``.

    Returns:
        A ``Run`` (generator in eval mode and latent, both on the CPU).

    Raises:
        FileNotFoundError: ``cell_dir`` does not exist.
        ValueError: not a cell directory; unfinished cell (no checkpoint yet); corrupt
            checkpoint or a checkpoint that does not fit the cell's networks (names the file).
    """
    rebuilt = rebuild_cell(cell_dir)
    rebuilt.built.generator.eval()
    rebuilt.latent.eval()
    return Run(generator=rebuilt.built.generator, latent=rebuilt.latent, config=rebuilt.config,
               cell=rebuilt.cell, path=Path(cell_dir), step=rebuilt.step or 0,
               data=rebuilt.built.data, steps=rebuilt.steps)


# --------------------------------------------------------------------------- SMILES files
def read_smiles_file(path: str | Path) -> list[str]:
    """The samples of a SMILES file: one per line (the first whitespace-separated field, so
    ``SMILES name`` files work), an empty line = a sample that is not a molecule, a first line
    ``smiles`` (any case) = a header and skipped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable (a folder, not UTF-8) or empty; the message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"SMILES file not found: {path}")
    if not path.is_file():
        raise ValueError(f"{path}: expected a SMILES file, got a folder")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: unreadable, expected UTF-8 text with one SMILES per line "
                         f"({err.reason} at byte {err.start})") from err
    lines = text.splitlines()
    samples = [(line.split() or [""])[0] for line in lines]
    if samples and samples[0].lower() == "smiles":
        samples = samples[1:]
    if not samples:
        raise ValueError(f"{path}: empty, expected one SMILES per line")
    return samples


def reference_smiles(reference: str | Path) -> tuple[str, list[str]]:
    """``(label, canonical SMILES)`` of a reference set: ``"qm9"`` (the QM9 training split of
    the qm9 task, with its default [task] parameters) or a SMILES file (its valid molecules).
    """
    if str(reference) == "qm9":
        data = load_data(QM9Params())
        return "QM9 training split", list(data.smiles("train"))
    path = Path(reference)
    try:
        ref = [c for c in canonical_valid(read_smiles_file(path)) if c is not None]
    except (OSError, ValueError) as err:
        raise type(err)(f"reference: {err}") from err
    if not ref:
        raise ValueError(f"reference: {path}: no valid molecule in the file")
    return str(path), ref


def qm9_provenance() -> dict[str, Any]:
    """What the QM9 training split of the qm9 task's defaults is computed from: the split's
    parameters, the qm9pack version and the SHA-256 of its data files (about 225 MB, read in
    about a second). Shipped reference files record these fields and are used when they match.
    """
    params = dataclasses.asdict(QM9Params())
    return {"qm9_params": {k: params[k] for k in ("kekulize", "charged", "test_fraction",
                                                  "split_seed")},
            "qm9pack_version": importlib.metadata.version("qm9pack"),
            "qm9pack_files": {p.name: file_digest(p) for p in qm9pack_data_files()}}


def _qm9_reference(need_fcd: bool) -> tuple[np.ndarray, F.Statistics | None]:
    """``(hashes of the QM9 training split, its ChemNet statistics or None)``: the shipped
    files when their provenance is this installation's (qm9pack files, split parameters and,
    for the statistics, the fcd version and ChemNet weights), else recomputed from the split
    (``load_data`` caches the processed QM9; ChemNet statistics are cached by ``fcd``)."""
    here = qm9_provenance()
    shipped = shipped_qm9_hashes()
    if shipped is not None and all(shipped[1].get(k) == v for k, v in here.items()):
        stats = None
        meta_path = F.SHIPPED_REFERENCE.with_suffix(".json")
        if need_fcd and meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            want = {**here, "fcd_version": importlib.metadata.version("fcd"),
                    "chemnet_sha256": F.chemnet_digest()}
            if all(meta.get(k) == v for k, v in want.items()):
                stats = F.shipped_statistics(meta["key"])
        if not need_fcd or stats is not None:
            return shipped[0], stats
    notice("the shipped QM9 reference does not match this installation (qm9pack, fcd or the "
           "split); processing QM9 (minutes the first time, cached after)")
    smiles = list(load_data(QM9Params()).smiles("train"))
    return smiles_hashes(smiles), F.reference_statistics(smiles) if need_fcd else None


def evaluate_smiles(smiles: Sequence[str], *, reference: str | Path = "qm9",
                    fcd: bool = True) -> dict[str, Any]:
    """The strict molecule metrics of ``smiles`` and their FCD against ``reference``.

    Novelty is by hash (``qlatent.metrics.smiles_hashes``: a distinct valid sample is novel
    iff the 8-byte hash of its canonical SMILES is not the hash of a reference molecule; a
    collision has probability 2⁻⁶⁴ per pair, negligible). For ``"qm9"`` both the hashes and
    the ChemNet statistics ship with the package, so QM9 is not processed (seconds).

    Args:
        smiles: the samples (``""`` = not a molecule).
        reference: ``"qm9"`` (the QM9 training split) or a SMILES file (see
            ``reference_smiles``); novelty and FCD are against it.
        fcd: compute the FCD (ChemNet) of the valid samples against the reference's
            statistics, as the qm9 task does.

    Returns:
        ``{"reference": label, "metrics": {...}, "fcd_note": str | None}``; ``metrics`` holds
        those of ``qlatent.metrics.molecules.evaluate_molecules`` and ``"fcd"`` (NaN with a
        note saying why when it is not computed).
    """
    valid = [c for c in canonical_valid(smiles) if c is not None]
    need_fcd = fcd and len(valid) >= 2
    if str(reference) == "qm9":
        label = "QM9 training split"
        hashes, ref_stats = _qm9_reference(need_fcd)
    else:
        label, ref = reference_smiles(reference)
        hashes = smiles_hashes(ref)
        ref_stats = F.reference_statistics(ref) if need_fcd else None
    metrics: dict[str, float] = dict(evaluate_molecules(smiles))
    distinct = sorted(set(valid))
    metrics["n_novel"] = int((~is_member(distinct, hashes)).sum())
    metrics["novelty"] = metrics["n_novel"] / len(distinct) if distinct else 0.0
    note = None
    metrics["fcd"] = math.nan
    if not fcd:
        note = "not computed (--no-fcd)"
    elif not need_fcd:
        note = f"n/a: FCD needs at least 2 valid molecules, got {len(valid)}"
    else:
        a = F.smiles_statistics(valid)
        metrics["fcd"] = F.frechet_distance(a.mean, a.covariance, ref_stats.mean,
                                            ref_stats.covariance)
    return {"reference": label, "metrics": metrics, "fcd_note": note}
