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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from qlatent._validation import check_int
from qlatent.experiments.cell import read_cell, rebuild_cell
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.tasks import Built, Cell, get_task
from qlatent.experiments.tasks.qm9 import QM9Params, load_data
from qlatent.metrics.fcd import fcd_to_reference
from qlatent.metrics.molecules import canonical_valid, evaluate_molecules

__all__ = ["SAMPLE_SUFFIX", "Run", "evaluate_smiles", "load_run", "read_cell",
           "read_smiles_file", "reference_smiles"]

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


def evaluate_smiles(smiles: Sequence[str], *, reference: str | Path = "qm9",
                    fcd: bool = True) -> dict[str, Any]:
    """The strict molecule metrics of ``smiles`` and their FCD against ``reference``.

    Args:
        smiles: the samples (``""`` = not a molecule).
        reference: ``"qm9"`` (the QM9 training split) or a SMILES file (see
            ``reference_smiles``); novelty and FCD are against it.
        fcd: compute the FCD (ChemNet) of the valid samples against the reference's cached
            statistics, as the qm9 task does.

    Returns:
        ``{"reference": label, "metrics": {...}, "fcd_note": str | None}``; ``metrics`` holds
        those of ``qlatent.metrics.molecules.evaluate_molecules`` and ``"fcd"`` (NaN with a
        note saying why when it is not computed).
    """
    label, ref = reference_smiles(reference)
    metrics: dict[str, float] = dict(evaluate_molecules(smiles, train=set(ref)))
    valid = [c for c in canonical_valid(smiles) if c is not None]
    note = None
    metrics["fcd"] = math.nan
    if not fcd:
        note = "not computed (--no-fcd)"
    elif len(valid) < 2:
        note = f"n/a: FCD needs at least 2 valid molecules, got {len(valid)}"
    else:
        metrics["fcd"] = float(fcd_to_reference(valid, ref))
    return {"reference": label, "metrics": metrics, "fcd_note": note}
