"""The grid of an experiment: its cells (dataset x latent x latent_dim x seed), their random
streams, and the command line's selection of seeds, latents and datasets.

Cells run seed by seed (all cells of seed 0, then seed 1, ...), in the order the latents are
listed, so paired results (quantum and photonic of one seed) accumulate together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.tasks import Cell, CellSeeds, cell_seeds, get_task


def parse_seeds(text: str) -> tuple[int, ...]:
    """Parse ``"0-11"``, ``"3"`` or ``"0,2,5-7"`` into a tuple of distinct seeds (in order)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"seeds must look like '0-11' or '0,2,5-7', got {text!r}")
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(s) for s in part.split("-", 1))
                if lo > hi or lo < 0:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                if int(part) < 0:
                    raise ValueError
                out.append(int(part))
        except ValueError as err:
            raise ValueError(f"seeds must look like '0-11' or '0,2,5-7', got {text!r}") from err
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct, got {text!r}")
    return tuple(out)


def select(config: ExperimentConfig, *, seeds: Sequence[int] | None = None,
           latents: Sequence[str] | None = None, datasets: Sequence[str] | None = None,
           steps: int | None = None, precision: str | None = None) -> ExperimentConfig:
    """A copy of ``config`` restricted / overridden as on the command line."""
    changes: dict[str, Any] = {}
    if seeds is not None:
        changes["seeds"] = tuple(seeds)
    if latents is not None:
        changes["latents"] = tuple(latents)
    if datasets is not None:
        changes["datasets"] = tuple(datasets)
    train = {k: v for k, v in (("steps", steps), ("precision", precision)) if v is not None}
    if train:
        changes["train"] = config.train.replace(**train)
    return config.replace(**changes) if changes else config


def cells(config: ExperimentConfig) -> list[Cell]:
    """The grid, seed by seed, then dataset, latent length, and latents in config order (the
    cells the task says apply: ``Task.applies``)."""
    task = get_task(config.task)
    grid = [Cell(ds, lat, dim, seed) for seed in config.seeds for ds in config.datasets
            for dim in config.latent_dims for lat in config.latents]
    return [c for c in grid if task.applies(config, c)]


def seeds_of(config: ExperimentConfig, cell: Cell) -> CellSeeds:
    """The cell's random streams (``cell_seeds`` with the config's pairing)."""
    return cell_seeds(cell.seed, cell.latent, paired_circuits=config.paired_circuits,
                      latent_dim=cell.latent_dim)
