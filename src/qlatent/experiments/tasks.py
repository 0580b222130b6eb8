"""The task protocol: what the runner needs to know about one kind of experiment.

The runner (``qlatent.experiments.runner``) owns everything generic: the grid of cells
(dataset x latent x latent_dim x seed), seeds, run directories, the latent (built with
``qlatent.latents.get``), training (``qlatent.train.fit``), skipping done cells, resuming, the
resolved config and environment records, and the report's statistics. A *task* supplies the
rest, through this protocol (any object with these attributes and methods)::

    class Task(Protocol):
        name: str                          # registry name, e.g. "ring", "table1", "qm9"
        datasets: tuple[str, ...]          # valid values of [experiment] datasets
        metrics: tuple[MetricSpec, ...]    # reported metrics; the FIRST is the primary one
                                           # (paired quantum-vs-photonic tests use it)
        reference: Mapping[tuple[str, str, int], Mapping[str, tuple[float, float]]]
            # published numbers: (dataset, latent, latent_dim) -> metric -> (mean, error)
        reference_label: str               # where they come from (e.g. "paper Table I")
        reference_budget: ReferenceBudget | None   # optional: steps, batch, seeds behind them

        def check(self, config: ExperimentConfig) -> None:
            # Validate config.model and config.task_params (and datasets); raise ValueError
            # naming the bad key and listing the valid ones.
        def build(self, config: ExperimentConfig, cell: Cell, seeds: CellSeeds) -> Built:
            # Data, generator and critic for one cell. Weights are drawn from
            # torch.Generator().manual_seed(seeds.model) (same for every latent of a seed);
            # data randomness from seeds.data (a SeedSequence, same for every latent of a seed
            # so cells are paired). The generator maps Tensor[B, cell.latent_dim] to the data's
            # structure (a Tensor or a tuple of Tensors); see qlatent.train.fit for contracts.
        def evaluate(self, built: Built, latent: LatentDistribution, config: ExperimentConfig,
                     cell: Cell, seeds: CellSeeds, *, run_dir: Path) -> dict[str, float]:
            # Metrics of the trained generator (draw from torch.Generator seeded with
            # seeds.evaluate, on the latent's device); may write plots / samples.npy into
            # run_dir. Must return every name in `metrics`; may return a `Metrics` whose
            # `notes` say why a value is NaN (stored in metrics.json, shown by the report).
        def figures(self, records: list[CellRecord], config: ExperimentConfig,
                    out_dir: Path) -> list[tuple[str, Path]]:
            # Report figures (title, png path) from finished cells (may return []).

Tasks register with ``register_task(task)``; ``get_task(name)`` imports the built-in task
modules on demand (``ring`` and ``table1`` live in ``qlatent.experiments.synthetic``, ``qm9`` in
``qlatent.experiments.task_qm9``).
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from torch import nn

# Stream labels of SeedSequence([seed, STREAM, ...]): independent streams per cell.
STREAM_DATA, STREAM_LATENT, STREAM_MODEL, STREAM_TRAIN, STREAM_EVALUATE = 1, 2, 3, 4, 5

_BUILTIN = {
    "ring": "qlatent.experiments.synthetic",
    "table1": "qlatent.experiments.synthetic",
    "qm9": "qlatent.experiments.task_qm9",
}
_TASKS: dict[str, Any] = {}


@dataclass(frozen=True)
class MetricSpec:
    """A reported metric: its key in metrics.json, label and number format.

    Its direction is not set here: metrics declare it once in ``qlatent.metrics``
    (``direction(name)``); an undeclared name raises when the spec is made.
    """

    name: str
    label: str = ""
    fmt: str = "{:.4f}"

    def __post_init__(self) -> None:
        from qlatent.metrics import direction

        direction(self.name)

    @property
    def higher_is_better(self) -> bool | None:
        """``True`` / ``False`` / ``None`` (no better direction), from ``qlatent.metrics``."""
        from qlatent.metrics import direction

        return direction(self.name)

    @property
    def heading(self) -> str:
        """The label (or name) with the direction's arrow: ``"FCD ↓"``, ``"logP"``."""
        from qlatent.metrics import direction_arrow

        arrow = direction_arrow(self.name)
        return f"{self.label or self.name} {arrow}".rstrip()

    def format(self, value: float) -> str:
        return self.fmt.format(value)


@dataclass(frozen=True)
class ReferenceBudget:
    """The training budget behind a task's published numbers (``Task.reference_budget``): the
    report warns when ours differs."""

    steps: int
    """Generator steps (iterations) per run."""
    batch_size: int
    """Batch size."""
    seeds: int
    """Independent runs (seeds) the published mean and error are over."""


class Metrics(dict):
    """What ``Task.evaluate`` may return: metric name -> float, plus ``notes`` (metric name ->
    why its value is NaN, e.g. ``{"fcd": "FCD off (task.fcd = false)"}``), which the runner
    stores in metrics.json and the report shows. A plain dict is accepted too (no notes)."""

    def __init__(self, values: Mapping[str, float] = (), *,
                 notes: Mapping[str, str] | None = None) -> None:
        super().__init__(values)
        self.notes: dict[str, str] = dict(notes or {})


@dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    dataset: str
    latent: str
    latent_dim: int
    seed: int

    @property
    def key(self) -> str:
        """Relative run directory: ``<dataset>/<latent>-L<dim>/seed-<seed>``."""
        return f"{self.dataset}/{self.latent}-L{self.latent_dim}/seed-{self.seed}"


@dataclass(frozen=True)
class CellSeeds:
    """Independent random streams of a cell, derived from ``SeedSequence([seed, stream, ...])``.

    Attributes:
        data: SeedSequence of the data (unitary, bank, held-out draws): depends on the seed
            only, so every latent of a seed sees the SAME data.
        latent: int seed of ``qlatent.latents.get`` (circuit and bank): depends on the seed
            only when circuits are paired, else also on the latent name.
        model: int seed of the weight initialisation (same for every latent of a seed).
        train: int seed of ``qlatent.train.Config.seed``.
        evaluate: int seed of the evaluation draws.
    """

    data: np.random.SeedSequence
    latent: int
    model: int
    train: int
    evaluate: int


def _int_seed(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, np.uint64)[0] >> 1)


def cell_seeds(seed: int, latent: str, *, paired_circuits: bool = True,
               latent_dim: int | None = None) -> CellSeeds:
    """Derive the cell's streams (see ``CellSeeds``); the latent length is mixed into the
    latent and model streams when given (different L are different circuits and models)."""
    dim = [] if latent_dim is None else [int(latent_dim)]
    lat = [] if paired_circuits else [zlib.crc32(latent.encode())]
    return CellSeeds(
        data=np.random.SeedSequence([seed, STREAM_DATA]),
        latent=_int_seed(np.random.SeedSequence([seed, STREAM_LATENT, *dim, *lat])),
        model=_int_seed(np.random.SeedSequence([seed, STREAM_MODEL, *dim])),
        train=_int_seed(np.random.SeedSequence([seed, STREAM_TRAIN])) % (2**62),
        evaluate=_int_seed(np.random.SeedSequence([seed, STREAM_EVALUATE])),
    )


@dataclass
class Built:
    """What ``Task.build`` returns: the real data, the two networks, and notes for the record
    (``info``, e.g. the data bank digest, goes into the cell's environment.json)."""

    data: Any
    generator: nn.Module
    critic: nn.Module
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class CellRecord:
    """A finished cell as the report sees it."""

    cell: Cell
    run_dir: Path
    metrics: dict[str, float]
    notes: dict[str, str] = field(default_factory=dict)
    """Why a metric is NaN, as the task recorded it (metrics.json ``notes``)."""


@runtime_checkable
class Task(Protocol):
    name: str
    datasets: tuple[str, ...]
    metrics: tuple[MetricSpec, ...]
    reference: Mapping[tuple[str, str, int], Mapping[str, tuple[float, float]]]
    reference_label: str

    def check(self, config: Any) -> None: ...

    def build(self, config: Any, cell: Cell, seeds: CellSeeds) -> Built: ...

    def evaluate(self, built: Built, latent: nn.Module, config: Any, cell: Cell,
                 seeds: CellSeeds, *, run_dir: Path) -> dict[str, float]: ...

    def figures(self, records: list[CellRecord], config: Any,
                out_dir: Path) -> list[tuple[str, Path]]: ...


def register_task(task: Any) -> Any:
    """Add ``task`` to the registry under ``task.name`` (returns it)."""
    if not isinstance(task, Task):
        raise TypeError(f"task must implement the Task protocol (name, datasets, metrics, "
                        f"reference, reference_label, check, build, evaluate, figures); "
                        f"got {type(task).__name__}")
    _TASKS[task.name] = task
    return task


def task_names() -> tuple[str, ...]:
    return tuple(sorted(set(_TASKS) | set(_BUILTIN)))


def get_task(name: str) -> Any:
    """The task called ``name``; unknown names raise and list the valid ones."""
    if name not in _TASKS and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(task_names())}")
    return _TASKS[name]


def check_keys(table: Mapping[str, Any], valid: Mapping[str, Any] | tuple[str, ...],
               where: str) -> None:
    """Raise ``ValueError`` naming the keys of ``table`` not in ``valid`` (helper for tasks)."""
    unknown = sorted(set(table) - set(valid))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))} in [{where}]; "
                         f"valid keys: {', '.join(sorted(valid))}")


def check_datasets(config: Any, valid: tuple[str, ...]) -> None:
    """Raise ``ValueError`` if ``config.datasets`` names a dataset not in ``valid``."""
    bad = [d for d in config.datasets if d not in valid]
    if bad:
        raise ValueError(f"unknown dataset(s) {', '.join(map(repr, bad))} for task "
                         f"{config.task!r}; valid datasets: {', '.join(valid)}")


def torch_generator(seed: int, device: Any = "cpu"):
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g
