"""Experiment configs: frozen dataclasses loaded from TOML (``tomllib``), validated once.

A config file has these tables (unknown tables or keys raise and name themselves)::

    [experiment]
    name = "table1"              # free text, used in reports
    task = "table1"              # a task of qlatent.experiments.tasks ("ring", "table1", "qm9")
    datasets = ["quantum", "bernoulli"]   # the task's dataset names
    latents = ["gaussian", "bernoulli", "photonic", "quantum"]   # qlatent.latents names
    seeds = 12                   # an int n (seeds 0..n-1) or a list of seeds
    latent_dims = [16]           # latent lengths L swept over
    paired_circuits = true       # one circuit stream per seed shared by all latents (see runner)

    [latent_params.quantum]      # keyword arguments of qlatent.latents.get for one latent
    circuit = "haar"             # (in a file, a table for a latent not in `latents` is an
                                 # error; a run directory's config.toml may hold them)

    [latent_params.born_quantum] # a *named variant*: a name of this experiment (listed in
    latent = "born"              # `latents`, the cells' folder name) for a registered latent
    kind = "quantum"             # with its own parameters, so one registered latent can run
                                 # twice (born quantum and born photonic) side by side
    latent_lr = 2e-3             # optional: this latent trains at its own rate, in place of
                                 # [train] latent_lr (0 keeps it fixed; only trainable latents)

    [model]                      # the task's model table (e.g. tasks.ring.MLPModel)
    [train]                      # the fields of qlatent.train.Config
    [task]                       # the task's own table (e.g. tasks.ring.RingParams)

Everything is checked when an ``ExperimentConfig`` is made, before anything is written: names
(task, datasets, latents), every ``[latent_params.X]`` with ``qlatent.latents.validate`` at
every latent length, and the task's typed ``[model]`` / ``[task]`` tables.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qlatent._validation import check_int
from qlatent.experiments.tasks.base import (
    LATENT_LR_KEY,
    NoParams,
    Params,
    check_datasets,
    check_folder_name,
    check_keys,
    get_task,
)
from qlatent.train import Config

_TABLES = ("experiment", "latent_params", "model", "train", "task")
_EXPERIMENT_KEYS = ("name", "task", "datasets", "latents", "seeds", "latent_dims",
                    "paired_circuits")
# Set by the runner per cell or on the command line, never by a config's [train] table.
PER_RUN = ("seed", "device", "progress")


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: a grid of cells (dataset x latent x latent_dim x seed).

    Made from a file by ``load_config``; in code, ``model`` and ``task_params`` may be given as
    plain mappings (parsed by the task's tables) or as those tables' instances.
    """

    name: str
    """Name shown in reports."""
    task: str
    """Task name (``qlatent.experiments.tasks.get_task``)."""
    datasets: tuple[str, ...]
    """Data sets of the task to run."""
    latents: tuple[str, ...]
    """Latent names (``qlatent.latents.get``)."""
    seeds: tuple[int, ...]
    """Seeds; each derives independent streams for data, circuits and training."""
    latent_dims: tuple[int, ...] = (16,)
    """Latent lengths L."""
    paired_circuits: bool = True
    """True: latents of one seed share the circuit stream (quantum and photonic cells of a seed
    then use the same interferometer, a paired comparison). False: each latent gets its own
    independent circuit (the paper's "three independent unitaries")."""
    latent_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per-latent keyword arguments of ``qlatent.latents.get`` (may hold latents that a
    selection left out; they are checked all the same)."""
    model: Params = field(default_factory=NoParams)
    """The task's ``[model]`` table (``task.model_table``)."""
    train: Config = field(default_factory=Config)
    """Training config (the seed ``fit`` gets is derived per cell)."""
    task_params: Params = field(default_factory=NoParams)
    """The task's ``[task]`` table (``task.task_table``)."""

    def __post_init__(self) -> None:
        for name in ("name", "task"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"experiment.{name} must be a non-empty string, "
                                 f"got {getattr(self, name)!r}")
        task = get_task(self.task)
        for name in ("datasets", "latents"):
            value = getattr(self, name)
            if (isinstance(value, str) or not isinstance(value, list | tuple) or not value
                    or not all(isinstance(v, str) for v in value)):
                raise ValueError(f"experiment.{name} must be a non-empty list of names, "
                                 f"got {value!r}")
            if len(set(value)) != len(value):
                raise ValueError(f"experiment.{name} must be distinct, got {list(value)!r}")
            for v in value:
                check_folder_name(f"experiment.{name}", v)
            object.__setattr__(self, name, tuple(value))
        if isinstance(self.seeds, str) or not isinstance(self.seeds, list | tuple):
            raise TypeError(f"experiment.seeds must be a list of ints, got {self.seeds!r}")
        seeds = tuple(check_int("experiment.seeds[]", s, minimum=0) for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"experiment.seeds must be distinct and non-empty, got {seeds}")
        object.__setattr__(self, "seeds", seeds)
        if isinstance(self.latent_dims, str) or not isinstance(self.latent_dims, list | tuple):
            raise TypeError(f"experiment.latent_dims must be a list of ints, "
                            f"got {self.latent_dims!r}")
        if not task.sized_latents:
            if tuple(self.latent_dims) not in ((0,), (16,)):  # (16,): the field's default
                raise ValueError(f"experiment.latent_dims does not apply to task {task.name!r} "
                                 f"(its models take the data's width); remove it, got "
                                 f"{list(self.latent_dims)}")
            object.__setattr__(self, "latent_dims", (0,))
        dims = tuple(check_int("experiment.latent_dims[]", d,
                               minimum=1 if task.sized_latents else 0)
                     for d in self.latent_dims)
        if not dims or len(set(dims)) != len(dims):
            raise ValueError(f"experiment.latent_dims must be distinct and non-empty, "
                             f"got {dims}")
        object.__setattr__(self, "latent_dims", dims)
        if not isinstance(self.paired_circuits, bool):
            raise TypeError(f"experiment.paired_circuits must be true or false, "
                            f"got {self.paired_circuits!r}")
        if not isinstance(self.train, Config):
            raise TypeError(f"train must be a qlatent.train.Config, got {type(self.train)}")
        object.__setattr__(self, "model", _table(task.model_table, self.model, "model"))
        object.__setattr__(self, "task_params", _table(task.task_table, self.task_params,
                                                       "task"))
        check_datasets(self.datasets, task, self.task_params)
        if not isinstance(self.latent_params, Mapping):
            raise TypeError(f"latent_params must be a table, got {self.latent_params!r}")
        params = {}
        for lat, table in self.latent_params.items():
            if not isinstance(table, Mapping):
                raise TypeError(f"latent_params.{lat} must be a table, got {table!r}")
            params[lat] = dict(table)
        object.__setattr__(self, "latent_params", params)
        for lat in dict.fromkeys((*self.latents, *params)):
            task.check_latent(lat, params.get(lat, {}), self)

    def train_for(self, latent: str) -> Config:
        """The ``[train]`` table for the cells of experiment latent ``latent``: ``[train]``, with
        ``latent_lr`` from ``[latent_params.<latent>]`` where that table sets one (a latent
        trained at a rate of its own, e.g. one chosen on held-out seeds)."""
        lr = self.latent_params.get(latent, {}).get(LATENT_LR_KEY)
        return self.train if lr is None else self.train.replace(latent_lr=float(lr))

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as the nested tables of its TOML file (``latent_params`` of the
        listed latents only)."""
        train = self.train.to_dict()
        for k in PER_RUN:
            train.pop(k, None)
        return {
            "experiment": {"name": self.name, "task": self.task,
                           "datasets": list(self.datasets), "latents": list(self.latents),
                           "seeds": list(self.seeds), "latent_dims": list(self.latent_dims),
                           "paired_circuits": self.paired_circuits},
            "latent_params": {k: dict(v) for k, v in self.latent_params.items()
                              if k in self.latents},
            "model": self.model.to_table(),
            "train": train,
            "task": self.task_params.to_table(),
        }

    @classmethod
    def from_dict(cls, tables: Mapping[str, Any]) -> ExperimentConfig:
        """Build from parsed TOML tables; unknown tables and keys raise and name themselves."""
        if not isinstance(tables, Mapping):
            raise TypeError(f"a config must be a table of tables, got {type(tables).__name__}")
        check_keys(tables, _TABLES, "the config (its tables)")
        for name in _TABLES:
            if not isinstance(tables.get(name, {}), Mapping):
                raise TypeError(f"[{name}] must be a table, got {tables[name]!r}")
        exp = dict(tables.get("experiment", {}))
        check_keys(exp, _EXPERIMENT_KEYS, "[experiment]")
        missing = [k for k in ("task", "datasets", "latents", "seeds") if k not in exp]
        if missing:
            raise ValueError(f"[experiment] must set {', '.join(missing)}")
        seeds = exp["seeds"]
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = tuple(range(check_int("experiment.seeds", seeds, minimum=1)))
        elif not isinstance(seeds, list):
            raise TypeError(f"experiment.seeds must be an int or a list of ints, got {seeds!r}")
        train = dict(tables.get("train", {}))
        for k in PER_RUN:
            if k in train:
                raise ValueError(f"[train] must not set {k!r}: it is set per cell / on the "
                                 "command line")
        latents = exp["latents"]
        latent_params = dict(tables.get("latent_params", {}))
        task = get_task(exp["task"]) if isinstance(exp["task"], str) else None
        return cls(
            name=exp.get("name", exp["task"]), task=exp["task"],
            datasets=exp["datasets"], latents=latents, seeds=seeds,
            latent_dims=exp.get("latent_dims", (16,)),
            paired_circuits=exp.get("paired_circuits", True),
            latent_params=latent_params,
            model=task.model_table.from_table(tables.get("model")) if task else NoParams(),
            train=Config.from_dict(train),
            task_params=task.task_table.from_table(tables.get("task")) if task else NoParams(),
        )


def _table(kind: type[Params], value: Any, table: str) -> Params:
    # The task's table from a mapping (parsed) or an instance (kept); the field's default
    # (NoParams) means "the task's defaults".
    if isinstance(value, kind):
        return value
    if type(value) is NoParams:
        value = {}
    if isinstance(value, Mapping):
        return kind.from_table(value, where=f"[{table}]")
    raise TypeError(f"[{table}] must be a table or a {kind.__name__}, got {value!r}")


def load_config(path: str | Path, *, seeds: Sequence[int] | None = None,
                latents: Sequence[str] | None = None, datasets: Sequence[str] | None = None,
                steps: int | None = None, precision: str | None = None) -> ExperimentConfig:
    """Read an experiment TOML file, override what is given, and build the config once (every
    name and value checked).

    Args:
        path: the TOML file.
        seeds, latents, datasets: replace ``[experiment]`` seeds, latents, datasets (a
            selection: ``[latent_params]`` tables of latents left out stay, checked).
        steps, precision: replace ``[train]`` steps, precision.

    Raises:
        FileNotFoundError: no such file.
        TypeError, ValueError: a bad table, key or value (the message names the file and the
            overridden fields).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    with open(path, "rb") as handle:
        try:
            tables = tomllib.load(handle)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: invalid TOML: {err}") from err
    overrides = {"experiment": {k: list(v) for k, v in (("seeds", seeds), ("latents", latents),
                                                        ("datasets", datasets))
                                if v is not None},
                 "train": {k: v for k, v in (("steps", steps), ("precision", precision))
                           if v is not None}}
    changed = [f"{table}.{key}" for table, values in overrides.items() for key in values]
    where = f"{path} (with {', '.join(changed)} overridden)" if changed else f"{path}"
    try:
        _check_stray_latent_params(tables)
        for table, values in overrides.items():
            if values and not isinstance(tables.get(table, {}), Mapping):
                raise TypeError(f"[{table}] must be a table, got {tables[table]!r}")
            tables[table] = {**tables.get(table, {}), **values}
        return ExperimentConfig.from_dict(tables)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{where}: {err}") from err


def _check_stray_latent_params(tables: Mapping[str, Any]) -> None:
    # In a file someone wrote, a [latent_params.X] table for a latent that is not run is a
    # mistake (a typo, or a latent dropped from the list). ``from_dict`` accepts the tables
    # of registered latents that are not listed: older runners wrote them into run dirs.
    exp, params = tables.get("experiment"), tables.get("latent_params")
    if not isinstance(exp, Mapping) or not isinstance(params, Mapping):
        return
    latents = exp.get("latents")
    if isinstance(latents, list):
        stray = [k for k in params if k not in latents]
        if stray:
            raise ValueError(f"[latent_params.{stray[0]}] is for a latent not in "
                             f"experiment.latents ({', '.join(map(str, latents))}); remove "
                             "the table or add the latent")


def to_toml(tables: Mapping[str, Any]) -> str:
    """Write nested tables (of str, bool, int, float, lists of them) as TOML text; a key that
    is not a bare TOML key (letters, digits, ``_``, ``-``), e.g. a latent named ``born.lr2e-3``,
    is written quoted."""
    lines: list[str] = []

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else value(k)

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(f"cannot write {type(v).__name__} as TOML")

    def table(prefix: str, t: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in t.items()
                   if not isinstance(v, Mapping) and v is not None}
        subs = {k: v for k, v in t.items() if isinstance(v, Mapping)}
        if scalars or not subs:
            lines.append(f"[{prefix}]")
            lines.extend(f"{key(k)} = {value(v)}" for k, v in scalars.items())
            lines.append("")
        for k, v in subs.items():
            table(f"{prefix}.{key(k)}", v)

    for name, t in tables.items():
        table(key(name), t)
    return "\n".join(lines)
