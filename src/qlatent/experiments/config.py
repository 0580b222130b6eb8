"""Experiment configs: frozen dataclasses loaded from TOML (``tomllib``).

A config file has these tables (unknown tables or keys raise and name themselves)::

    [experiment]
    name = "table1"              # free text, used in reports
    task = "table1"              # a task of qlatent.experiments.tasks ("ring", "table1", ...)
    datasets = ["quantum", "bernoulli"]   # the task's dataset names
    latents = ["gaussian", "bernoulli", "photonic", "quantum"]   # qlatent.latents.get names
    seeds = 12                   # an int n (seeds 0..n-1) or a list of seeds
    latent_dims = [16]           # latent lengths L swept over
    paired_circuits = true       # one circuit stream per seed shared by all latents (see runner)

    [latent_params.quantum]      # keyword arguments of qlatent.latents.get for one latent
    circuit = "haar"

    [model]                      # validated by the task
    [train]                      # the fields of qlatent.train.Config
    [task]                       # task parameters (evaluation sizes, data parameters)
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qlatent._validation import check_int
from qlatent.train import Config

_TABLES = ("experiment", "latent_params", "model", "train", "task")
_EXPERIMENT_KEYS = ("name", "task", "datasets", "latents", "seeds", "latent_dims",
                    "paired_circuits")


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: a grid of cells (dataset x latent x latent_dim x seed)."""

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
    """Per-latent keyword arguments of ``qlatent.latents.get``."""
    model: Mapping[str, Any] = field(default_factory=dict)
    """Model parameters, validated by the task."""
    train: Config = field(default_factory=Config)
    """Training config (the seed ``fit`` gets is derived per cell)."""
    task_params: Mapping[str, Any] = field(default_factory=dict)
    """The ``[task]`` table, validated by the task."""

    def __post_init__(self) -> None:
        for name in ("name", "task"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"experiment.{name} must be a non-empty string, "
                                 f"got {getattr(self, name)!r}")
        for name in ("datasets", "latents"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value) or not value:
                raise ValueError(f"experiment.{name} must be a non-empty list of names, "
                                 f"got {value!r}")
            object.__setattr__(self, name, tuple(value))
        seeds = tuple(check_int("experiment.seeds[]", s, minimum=0) for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"experiment.seeds must be distinct and non-empty, got {seeds}")
        object.__setattr__(self, "seeds", seeds)
        dims = tuple(check_int("experiment.latent_dims[]", d, minimum=1)
                     for d in self.latent_dims)
        if not dims:
            raise ValueError("experiment.latent_dims must not be empty")
        object.__setattr__(self, "latent_dims", dims)
        if not isinstance(self.paired_circuits, bool):
            raise TypeError(f"experiment.paired_circuits must be a bool, "
                            f"got {self.paired_circuits!r}")
        if not isinstance(self.train, Config):
            raise TypeError(f"train must be a qlatent.train.Config, got {type(self.train)}")
        for name in ("latent_params", "model", "task_params"):
            if not isinstance(getattr(self, name), Mapping):
                raise TypeError(f"{name} must be a table, got {getattr(self, name)!r}")
        for lat, params in self.latent_params.items():
            if not isinstance(params, Mapping):
                raise TypeError(f"latent_params.{lat} must be a table, got {params!r}")

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as the nested tables of its TOML file."""
        return {
            "experiment": {"name": self.name, "task": self.task,
                           "datasets": list(self.datasets), "latents": list(self.latents),
                           "seeds": list(self.seeds), "latent_dims": list(self.latent_dims),
                           "paired_circuits": self.paired_circuits},
            "latent_params": {k: dict(v) for k, v in self.latent_params.items()},
            "model": dict(self.model),
            "train": self.train.to_dict(),
            "task": dict(self.task_params),
        }

    @classmethod
    def from_dict(cls, tables: Mapping[str, Any]) -> ExperimentConfig:
        """Build from parsed TOML tables; unknown tables and keys raise and name themselves."""
        unknown = sorted(set(tables) - set(_TABLES))
        if unknown:
            raise ValueError(f"unknown table(s) {', '.join(map(repr, unknown))}; "
                             f"valid tables: {', '.join(_TABLES)}")
        exp = dict(tables.get("experiment", {}))
        unknown = sorted(set(exp) - set(_EXPERIMENT_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))} in [experiment]; "
                             f"valid keys: {', '.join(_EXPERIMENT_KEYS)}")
        missing = [k for k in ("task", "datasets", "latents", "seeds") if k not in exp]
        if missing:
            raise ValueError(f"[experiment] must set {', '.join(missing)}")
        seeds = exp["seeds"]
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = tuple(range(check_int("experiment.seeds", seeds, minimum=1)))
        elif not isinstance(seeds, list):
            raise TypeError(f"experiment.seeds must be an int or a list of ints, got {seeds!r}")
        train = dict(tables.get("train", {}))
        for k in ("seed", "device", "progress"):
            if k in train:
                raise ValueError(f"[train] must not set {k!r}: it is set per cell / on the "
                                 "command line")
        return cls(
            name=exp.get("name", exp["task"]), task=exp["task"],
            datasets=tuple(exp["datasets"]), latents=tuple(exp["latents"]), seeds=tuple(seeds),
            latent_dims=tuple(exp.get("latent_dims", (16,))),
            paired_circuits=exp.get("paired_circuits", True),
            latent_params={k: dict(v) if isinstance(v, Mapping) else v
                           for k, v in tables.get("latent_params", {}).items()},
            model=dict(tables.get("model", {})),
            train=Config.from_dict(train),
            task_params=dict(tables.get("task", {})),
        )


def load_config(path: str | Path) -> ExperimentConfig:
    """Read an experiment TOML file, build and validate the config (task checks included)."""
    from qlatent.experiments.tasks import get_task

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    with open(path, "rb") as handle:
        try:
            tables = tomllib.load(handle)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: invalid TOML: {err}") from err
    try:
        config = ExperimentConfig.from_dict(tables)
        get_task(config.task).check(config)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{path}: {err}") from err
    return config


def to_toml(tables: Mapping[str, Any]) -> str:
    """Write nested tables (of str, bool, int, float, lists of them) as TOML text."""
    lines: list[str] = []

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
            lines.extend(f"{k} = {value(v)}" for k, v in scalars.items())
            lines.append("")
        for k, v in subs.items():
            table(f"{prefix}.{k}", v)

    for name, t in tables.items():
        table(name, t)
    return "\n".join(lines)
