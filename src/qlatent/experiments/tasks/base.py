"""What the runner needs to know about one kind of experiment: the ``Task`` base class, the
typed ``[model]`` / ``[task]`` tables, cells, their seeds and context, and the task registry.

The runner (``qlatent.experiments.grid``, ``cell``, ``executors``) owns everything generic:
the grid of cells (dataset x latent x latent_dim x seed), seeds, run directories, the latent
(built with ``qlatent.latents.get``, ``make_latent``), training (``qlatent.train.fit``),
skipping done cells, resuming, the resolved config and environment records. A *task* (a
subclass of ``Task``, one module each: ``ring``, ``table1``, ``qm9``, ``zoo``) supplies the
rest: its datasets, metrics, published numbers, its two typed tables (``Model`` and
``Params``: frozen dataclasses with a docstring per field, parsed and validated once by
``from_table``), how to build a cell and how to score it.

A task receives tables that are already valid (``ExperimentConfig`` parses them when it is
built), so its methods read ``ctx.config.model.hidden`` and never check a key again. Its cell
hooks (``build``, ``make_latent``, ``train``, ``evaluate``, ``callbacks``) receive one
``CellContext``: the config, the cell, its seeds, its directory, the device.

Imports: this module sits below ``qlatent.experiments.config`` (which asks the registry for
a task's tables); it names ``ExperimentConfig`` in annotations only.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import re
import textwrap
import types
import typing
import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from qlatent import latents
from qlatent._random import seed_int, torch_generator  # noqa: F401 - the tasks' one way
from qlatent._validation import check_choice, check_float, check_int, check_keys
from qlatent.latents.banks import BankError, find_bank
from qlatent.metrics import direction, direction_arrow
from qlatent.train.checkpoint import load_checkpoint

if TYPE_CHECKING:  # annotations only: config imports this module
    from qlatent.experiments.config import ExperimentConfig

# Stream labels of SeedSequence([seed, STREAM, ...]): independent streams per cell.
STREAM_DATA, STREAM_LATENT, STREAM_MODEL, STREAM_TRAIN, STREAM_EVALUATE = 1, 2, 3, 4, 5

_BUILTIN = {
    "ring": "qlatent.experiments.tasks.ring",
    "table1": "qlatent.experiments.tasks.table1",
    "qm9": "qlatent.experiments.tasks.qm9",
    "zoo": "qlatent.experiments.tasks.zoo",
    "zoo-scale": "qlatent.experiments.tasks.zoo_scale",
}
_TASKS: dict[str, Task] = {}


# --------------------------------------------------------------------------- typed tables
def _check_value(name: str, value: Any, hint: Any, meta: Mapping[str, Any]) -> Any:
    """Check ``value`` against the type ``hint`` (bool, int, float, str, tuple[X, ...],
    ``X | None``) and the field's metadata (``minimum``, ``maximum``, ``choices``); return it
    converted (lists become tuples, ints given for floats become floats)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        return check_int(name, value, minimum=meta.get("minimum"), maximum=meta.get("maximum"))
    if hint is float:
        return check_float(name, value, minimum=meta.get("minimum"),
                           maximum=meta.get("maximum"))
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {value!r} ({type(value).__name__})")
        if "choices" in meta:
            check_choice(name, value, tuple(meta["choices"]))
        return value
    if hint is dict or origin is dict:  # a sub-table; the table's __post_init__ checks it
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a table, got {value!r} ({type(value).__name__})")
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in value.items()}
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a list, got {value!r} ({type(value).__name__})")
        if len(args) == 2 and args[1] is Ellipsis:
            if not value:
                raise ValueError(f"{name} must be a non-empty list, got {list(value)!r}")
            items = [args[0]] * len(value)
        else:
            if len(value) != len(args):
                raise ValueError(f"{name} must hold {len(args)} values, got {list(value)!r}")
            items = list(args)
        return tuple(_check_value(f"{name}[{i}]", v, h, meta)
                     for i, (v, h) in enumerate(zip(value, items, strict=True)))
    raise TypeError(f"cannot check {name}: unsupported type {hint!r}")  # a bug of the task


@dataclass(frozen=True)
class Params:
    """Base of a task's typed tables (``[model]``, ``[task]``).

    Subclasses are frozen dataclasses whose fields are the table's keys, each with a default
    and a docstring (``field_docs`` reads them: the source of ``--help`` and of the docs).
    Values are checked against the field's type and its metadata (``minimum``, ``maximum``,
    ``choices``) when an instance is made; errors name the key as ``<TABLE>.<key>``.
    """

    TABLE: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _check_value(f"{self.TABLE}.{f.name}", getattr(self, f.name),
                                 hints[f.name], f.metadata)
            object.__setattr__(self, f.name, value)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The valid keys of the table."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, *, where: str | None = None):
        """Parse and validate a TOML table; an unknown key raises and lists the valid ones.

        Args:
            table: the table's keys and values (``None``: all defaults).
            where: how errors name the table (default ``[<TABLE>]``).
        """
        where = where or f"[{cls.TABLE}]"
        table = {} if table is None else table
        if isinstance(table, cls):
            return table
        if not isinstance(table, Mapping):
            raise TypeError(f"{where} must be a table, got {table!r} ({type(table).__name__})")
        check_keys(table, cls.keys(), where)
        return cls(**table)

    def to_table(self) -> dict[str, Any]:
        """The table as TOML values (tuples as lists)."""
        def plain(v: Any) -> Any:
            return [plain(x) for x in v] if isinstance(v, tuple) else v

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def param(default: Any, *, minimum: float | None = None, maximum: float | None = None,
          choices: Sequence[str] | None = None) -> Any:
    """A field of a ``Params`` table: its default and the bounds or choices its values are
    checked against (``minimum`` / ``maximum`` apply to every item of a list)."""
    meta = {k: v for k, v in (("minimum", minimum), ("maximum", maximum),
                              ("choices", None if choices is None else tuple(choices)))
            if v is not None}
    return field(default=default, metadata=meta)


def field_docs(cls: type) -> dict[str, str]:
    """The docstring of each field of the dataclass ``cls`` (the string literal right after
    the field), inherited fields included; a field without one maps to ``""``."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:], strict=False):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)):
                docs[node.target.id] = inspect.cleandoc(nxt.value.value)
    return {f.name: docs.get(f.name, "") for f in dataclasses.fields(cls)}


@dataclass(frozen=True)
class NoParams(Params):
    """A table with no keys (for a task without a ``[model]`` or ``[task]`` table)."""


# --------------------------------------------------------------------------- cells
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
        direction(self.name)

    @property
    def higher_is_better(self) -> bool | None:
        """``True`` / ``False`` / ``None`` (no better direction), from ``qlatent.metrics``."""
        return direction(self.name)

    @property
    def heading(self) -> str:
        """The label (or name) with the direction's arrow: ``"FCD ↓"``, ``"logP"``."""
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


_FOLDER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def check_folder_name(where: str, name: Any) -> str:
    """Return ``name`` if it can name a folder of a run directory, else raise naming
    ``where``: letters, digits, ``_``, ``-`` and ``.``, not starting with ``.`` (so never
    ``..``, a hidden file, a separator, a newline or an absolute path), at most 100
    characters. Every name that becomes a path (a cell's dataset and latent) passes here."""
    if not isinstance(name, str) or not _FOLDER_NAME.fullmatch(name):
        raise ValueError(f"{where}: a name must hold only letters, digits, '_', '-' and '.', "
                         f"not start with '.', and have at most 100 characters (it names a "
                         f"folder), got {name!r}")
    return name


@dataclass(frozen=True)
class Cell:
    """One run of the grid (its dataset and latent name folders: ``check_folder_name``)."""

    dataset: str
    latent: str
    latent_dim: int
    seed: int

    def __post_init__(self) -> None:
        check_folder_name("cell.dataset", self.dataset)
        check_folder_name("cell.latent", self.latent)
        check_int("cell.latent_dim", self.latent_dim, minimum=0)
        check_int("cell.seed", self.seed, minimum=0)

    @property
    def key(self) -> str:
        """Relative run directory: ``<dataset>/<latent>-L<dim>/seed-<seed>``
        (``<dataset>/<latent>/seed-<seed>`` for a cell without a latent length, dim 0)."""
        if self.latent_dim == 0:
            return f"{self.dataset}/{self.latent}/seed-{self.seed}"
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
        train: int seed of the training streams.
        evaluate: int seed of the evaluation draws.
    """

    data: np.random.SeedSequence
    latent: int
    model: int
    train: int
    evaluate: int


def cell_seeds(seed: int, latent: str, *, paired_circuits: bool = True,
               latent_dim: int | None = None) -> CellSeeds:
    """Derive the cell's streams (see ``CellSeeds``); the latent length is mixed into the
    latent and model streams when given (different L are different circuits and models)."""
    dim = [] if latent_dim is None else [int(latent_dim)]
    lat = [] if paired_circuits else [zlib.crc32(latent.encode())]
    return CellSeeds(
        data=np.random.SeedSequence([seed, STREAM_DATA]),
        latent=seed_int(np.random.SeedSequence([seed, STREAM_LATENT, *dim, *lat])),
        model=seed_int(np.random.SeedSequence([seed, STREAM_MODEL, *dim])),
        train=seed_int(np.random.SeedSequence([seed, STREAM_TRAIN])) % (2**62),
        evaluate=seed_int(np.random.SeedSequence([seed, STREAM_EVALUATE])),
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
class TaskFit:
    """What ``Task.train`` returns (the fields the runner records in metrics.json).

    Attributes:
        history: one dict per logged step (``step``, ``loss``, ``seconds``, ...).
        steps: training steps done.
        seconds: training wall time.
        resumed_from: the step training resumed from (``None``: from scratch).
    """

    history: list[dict[str, float]]
    steps: int
    seconds: float
    resumed_from: int | None = None


@dataclass
class CellRecord:
    """A finished cell as the report sees it."""

    cell: Cell
    run_dir: Path
    metrics: dict[str, float]
    notes: dict[str, str] = field(default_factory=dict)
    """Why a metric is NaN, as the task recorded it (metrics.json ``notes``)."""


@dataclass(frozen=True)
class CellContext:
    """One cell as a task's cell hooks see it (``build``, ``make_latent``, ``train``,
    ``evaluate``, ``callbacks``); made by the runner, read-only.

    Attributes:
        config: the experiment (every table already parsed and checked).
        cell: dataset, latent, latent length and seed.
        seeds: the cell's random streams (``cell_seeds`` with the config's pairing).
        cell_dir: the cell's directory, ``OUT/<dataset>/<latent>-L<dim>/seed-<k>`` (it may
            not exist yet when the runner only builds the cell, e.g. to size a pack).
        device: where the cell trains (``"cpu"``, ``"cuda"``, ``"cuda:k"``).
        progress: whether training shows its progress bar.
    """

    config: ExperimentConfig
    cell: Cell
    seeds: CellSeeds
    cell_dir: Path
    device: str = "cpu"
    progress: bool = False


# --------------------------------------------------------------------------- latents
VARIANT_KEY = "latent"
"""The key of ``[latent_params.NAME]`` that makes NAME a named variant of a registered latent."""
LATENT_LR_KEY = "latent_lr"
"""The key of ``[latent_params.NAME]`` that trains NAME's parameters at a learning rate of its
own, in place of ``[train] latent_lr`` (``ExperimentConfig.train_for``); 0 keeps them fixed."""


def latent_request(name: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The registered latent and its keyword arguments behind experiment latent ``name``:
    ``(params["latent"], the other params)`` for a named variant, else ``(name, params)``;
    ``latent_lr`` is the trainer's, not the latent's, and is left out."""
    params = dict(params)
    params.pop(LATENT_LR_KEY, None)
    return params.pop(VARIANT_KEY, name), params


def check_latent_request(name: str, params: dict[str, Any], dims: tuple[int, ...]) -> None:
    """Check one latent request (``[latent_params.<name>]``) at every latent length, without
    building anything (``Task.check_latent``'s default)."""
    where = f"latent_params.{name}"
    lr = params.get(LATENT_LR_KEY)
    if lr is not None:
        lr = check_float(f"{where}.{LATENT_LR_KEY}", lr, minimum=0.0)
    if VARIANT_KEY in params:
        base = params[VARIANT_KEY]
        if not isinstance(base, str) or base not in latents.names():
            raise ValueError(f"{where}.{VARIANT_KEY} must be one of "
                             f"{', '.join(map(repr, latents.names()))}, got {base!r}")
        if name in latents.names() and name != base:
            raise ValueError(f"{where}.{VARIANT_KEY} must be {name!r} or absent: {name!r} is a "
                             f"registered latent, so a variant of {base!r} needs a name of its "
                             "own")
    elif name not in latents.names():
        raise ValueError(f"experiment.latents: name must be one of "
                         f"{', '.join(map(repr, latents.names()))}, or a named variant with "
                         f"[latent_params.{name}] {VARIANT_KEY} = \"<one of them>\"; got {name!r}")
    name, params = latent_request(name, params)
    if lr and not latents.trainable(name):
        raise ValueError(f"{where}.{LATENT_LR_KEY} is {lr} but latent {name!r} has no "
                         "parameters to train; remove it, or use a trainable latent ("
                         f"{', '.join(n for n in latents.names() if latents.trainable(n))})")
    if name == "bank":
        _check_bank_request(where, params, dims)
    for key in ("seed", "dim"):
        if key in params:
            raise ValueError(f"{where} must not set {key!r}: the runner sets it per cell")
    for dim in dims:
        try:
            latents.validate(name, dim=dim, **params)
        except (TypeError, ValueError) as err:
            prefix = "experiment.latents" if name not in latents.names() else \
                f"{where} (latent_dim {dim})"
            raise type(err)(f"{prefix}: {err}") from err


def _check_bank_request(where: str, params: Mapping[str, Any], dims: tuple[int, ...]) -> None:
    """A ``bank`` latent in a config names a cached bank (an imported one, or any other) by its
    key or a unique key prefix: ``bank = "2195b3ef"``. It must be in the cache and as wide as
    every latent length (the bank's rows are verified when a cell loads it)."""
    key = params.get("bank")
    if key is None:
        raise ValueError(f"{where} must set bank = \"<key>\": the key (or a unique prefix) of "
                         "a cached bank, as `qlatent bank list` or `qlatent bank import` shows it")
    try:
        folder = find_bank(key)
        n_modes = json.loads((folder / "meta.json").read_text())["n_modes"]
    except (BankError, OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{where}.bank: {err}") from err
    wrong = [d for d in dims if d != n_modes]
    if wrong:
        raise ValueError(f"{where}.bank: bank {key} has {n_modes} modes, so "
                         f"experiment.latent_dims must be [{n_modes}], got {list(dims)}")


def make_latent(config: ExperimentConfig, cell: Cell, seeds: CellSeeds) -> nn.Module:
    """The cell's latent: ``qlatent.latents.get(cell.latent, dim=cell.latent_dim,
    seed=seeds.latent, **config.latent_params[cell.latent])`` (for a named variant, the
    registered latent its ``latent`` key names)."""
    name, params = latent_request(cell.latent, config.latent_params.get(cell.latent, {}))
    return latents.get(name, dim=cell.latent_dim, seed=seeds.latent, **params)


# --------------------------------------------------------------------------- tasks
class Task(ABC):
    """One kind of experiment. Subclasses set the class attributes and implement ``build`` and
    ``evaluate``; the hooks ``callbacks``, ``report_sections`` and ``figures`` have defaults
    that add nothing.

    Attributes:
        name: registry name (``[experiment] task``), e.g. ``"ring"``.
        datasets: valid values of ``[experiment] datasets``.
        metrics: reported metrics; the FIRST is the primary one (paired tests use it).
        reference: published numbers, (dataset, latent, latent_dim) -> metric -> (mean, error).
        reference_label: where they come from (e.g. "paper Table I").
        reference_budget: the steps, batch size and seeds behind them (``None``: unknown); the
            report warns when ours differ.
        model_table: the ``[model]`` table (a ``Params`` subclass).
        task_table: the ``[task]`` table (a ``Params`` subclass).
    """

    name: ClassVar[str]
    datasets: ClassVar[tuple[str, ...]]
    metrics: ClassVar[tuple[MetricSpec, ...]]
    reference: ClassVar[Mapping[tuple[str, str, int], Mapping[str, tuple[float, float]]]] = {}
    reference_label: ClassVar[str] = ""
    reference_budget: ClassVar[ReferenceBudget | None] = None
    model_table: ClassVar[type[Params]] = NoParams
    task_table: ClassVar[type[Params]] = NoParams
    sized_latents: ClassVar[bool] = True
    """False: cells have no latent length (``experiment.latent_dims`` is ``[0]``, the default,
    and cell directories are ``<dataset>/<latent>/seed-<k>``), e.g. the zoo, whose models take
    the data's width."""
    packable: ClassVar[bool] = True
    """False: the runner refuses ``pack > 1`` (the task trains its cells itself, ``train``)."""

    def dataset_names(self, task_params: Params) -> tuple[str, ...]:
        """The valid ``experiment.datasets`` under the ``[task]`` table ``task_params``
        (default: ``datasets``; the zoo adds the data sets of your files)."""
        return self.datasets

    def check_latent(self, name: str, params: Mapping[str, Any],
                     config: ExperimentConfig) -> None:
        """Check one ``[latent_params.<name>]`` request of ``config`` (whose other fields are
        already checked) without building anything costly; the default calls
        ``qlatent.latents.validate`` at every latent length (``check_latent_request``)."""
        check_latent_request(name, dict(params), config.latent_dims)

    def baselines(self, config: ExperimentConfig) -> tuple[str, ...]:
        """The latents of ``config`` that are classical baselines: when there are any, the
        report adds a latent x dataset table and paired tests of every other latent against
        the best baseline of each dataset (default: none)."""
        return ()

    def applies(self, config: ExperimentConfig, cell: Cell) -> bool:
        """Whether ``cell`` belongs to the grid of ``config`` (default: every cell of the
        product datasets x latents x latent_dims x seeds)."""
        return True

    def make_latent(self, ctx: CellContext, built: Built) -> nn.Module:
        """The cell's latent (default: ``make_latent(ctx.config, ctx.cell, ctx.seeds)``);
        called after ``build``, so a task may use its data."""
        return make_latent(ctx.config, ctx.cell, ctx.seeds)

    def train(self, ctx: CellContext, built: Built, latent: nn.Module) -> Any:
        """Train the cell itself (in ``ctx.cell_dir``, on ``ctx.device``) and return a
        ``TaskFit`` (or any object with ``history``, ``steps``, ``seconds`` and
        ``resumed_from``); ``None`` (the default) lets the runner train ``built.generator``
        against ``built.critic`` with ``qlatent.train.fit``."""
        return None

    @abstractmethod
    def build(self, ctx: CellContext) -> Built:
        """Data, generator and critic of one cell (nothing written: ``ctx.cell_dir`` may not
        exist).

        Weights are drawn from ``torch_generator(ctx.seeds.model)`` (the same for every latent
        of a seed); data randomness from ``ctx.seeds.data`` (the same for every latent of a
        seed, so cells are paired). The generator maps Tensor[B, cell.latent_dim] to the
        data's structure (a Tensor or a tuple of Tensors; see ``qlatent.train.fit``).
        """

    @abstractmethod
    def evaluate(self, ctx: CellContext, built: Built, latent: nn.Module) -> dict[str, float]:
        """Metrics of the trained generator (draws from ``torch_generator(ctx.seeds.evaluate)``
        on the latent's device); may write plots and samples into ``ctx.cell_dir``. Must return
        every name in ``metrics``."""

    def load_trained(self, ctx: CellContext, built: Built, latent: nn.Module,
                     path: Path) -> tuple[int, int]:
        """Load a cell's trained weights from its checkpoint ``path`` (weights-only: nothing is
        unpickled) into ``built`` and ``latent``, on the CPU; return (the checkpoint's step, the
        cell's training steps). Default: the adversarial engine's checkpoint (generator,
        critic, and the latent when it was trained with them).

        Raises:
            ValueError: naming ``path``: not a clean checkpoint, or one whose weights do not fit.
        """
        state = load_checkpoint(path)  # names the file if it is not a clean checkpoint
        try:
            built.generator.load_state_dict(state["generator"])
            built.critic.load_state_dict(state["critic"])
            if "latent" in state:  # a latent trained with the generator (latent_lr > 0)
                latent.load_state_dict(state["latent"])
        except (RuntimeError, TypeError, KeyError) as err:
            raise ValueError(f"{path}: its networks do not fit the cell's "
                             f"({type(err).__name__}: {str(err).splitlines()[0]})") from err
        return int(state["step"]), ctx.config.train.steps

    def sample(self, built: Built, latent: nn.Module, config: ExperimentConfig, n: int,
               seed: int) -> np.ndarray | list[str]:
        """``n`` samples of a trained cell, latents drawn from ``seed`` (``qlatent sample``,
        ``Run.sample``). Default: the generator's outputs, float32[n, d]."""
        return generate(built.generator, latent, n, seed).astype(np.float32)

    def warm(self, config: ExperimentConfig, device: str = "cpu") -> None:
        """Build the caches every cell of ``config`` reads (e.g. a processed data set), once,
        before cells are sent to other processes (``--executor ray``), so that no task builds
        them again or races another to write them; nothing by default."""
        return None

    def callbacks(self, ctx: CellContext, built: Built, latent: nn.Module) -> list:
        """Callbacks ``f(step, info)`` for ``fit`` (e.g. intermediate scores); none by default."""
        return []

    def scoring(self, config: ExperimentConfig) -> str:
        """How a cell is scored, one clause of the report's opening paragraph ("" for none):
        by default from ``task.n_eval`` samples of the trained model, where the task has it."""
        n_eval = getattr(config.task_params, "n_eval", None)
        return "" if n_eval is None else f"every cell is scored on {n_eval:,} samples of its " \
            "trained model"

    def report_sections(self, records: list[CellRecord], config: ExperimentConfig,
                        run_dir: Path) -> list[str]:
        """Extra Markdown lines for the report (e.g. the paper's own layout); none by default."""
        return []

    def figures(self, records: list[CellRecord], config: ExperimentConfig,
                out_dir: Path) -> list[tuple[str, Path]]:
        """Report figures (title, png path) from finished cells; none by default."""
        return []


def register_task(task: Task) -> Task:
    """Add ``task`` to the registry under ``task.name`` (returns it)."""
    if not isinstance(task, Task):
        raise TypeError(f"task must be an instance of a qlatent.experiments.tasks.Task "
                        f"subclass, got {type(task).__name__}")
    _TASKS[task.name] = task
    return task


def task_names() -> tuple[str, ...]:
    """Names of the registered and built-in tasks."""
    return tuple(sorted(set(_TASKS) | set(_BUILTIN)))


def get_task(name: str) -> Task:
    """The task called ``name``; unknown names raise and list the valid ones."""
    if not isinstance(name, str):
        raise TypeError(f"task must be a string, got {name!r}")
    if name not in _TASKS and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(task_names())}")
    return _TASKS[name]


def check_datasets(datasets: Sequence[str], task: Task,
                   task_params: Params | None = None) -> None:
    """Raise ``ValueError`` if ``datasets`` names a dataset that ``task`` does not have (under
    its ``[task]`` table ``task_params``, when given: ``Task.dataset_names``)."""
    valid = task.datasets if task_params is None else task.dataset_names(task_params)
    bad = [d for d in datasets if d not in valid]
    if bad:
        raise ValueError(f"unknown dataset(s) {', '.join(map(repr, bad))} for task "
                         f"{task.name!r}; valid datasets: {', '.join(valid)}")


@torch.no_grad()
def generate(generator: nn.Module, latent: nn.Module, n: int, seed: int,
             chunk: int = 8192) -> np.ndarray:
    """Draw ``n`` samples of a trained generator as float64[n, d] (latents from ``seed``)."""
    gen = torch_generator(seed, latent.device)
    out = []
    for start in range(0, n, chunk):
        z = latent.sample(min(chunk, n - start), generator=gen)
        out.append(generator(z).detach().cpu().double().numpy())
    return np.concatenate(out)
