"""What a run records about itself: the environment (package versions, git sha, latent and
data digests) beside every cell, and the experiment's ``config.toml`` (merged with the one an
earlier run left in the same folder).
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import torch

from qlatent.experiments.config import ExperimentConfig, to_toml


def environment(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Package versions, Python, platform, git sha of the source tree, plus ``extra``."""
    versions = {}
    for pkg in ("qlatent", "torch", "numpy", "scipy", "numba"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"versions": versions, "python": platform.python_version(),
            "platform": platform.platform(), "git_sha": git_sha(),
            "torch_threads": torch.get_num_threads(), **(extra or {})}


def git_sha() -> str | None:
    """The git commit of the source tree (``-dirty`` when tracked files changed), or ``None``
    outside a git checkout."""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=10)
        sha = out.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=10).stdout
        return (sha + ("-dirty" if dirty.strip() else "")) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def latent_record(latent: torch.nn.Module) -> dict[str, Any]:
    """What ``environment.json`` records of a cell's latent: its repr and, for a bank latent,
    the bank's content address, kind, circuit, checksums and source (an imported bank's file
    and its SHA-256; a challenger's source bank)."""
    rec: dict[str, Any] = {"repr": repr(latent)}
    meta = getattr(latent, "metadata", None)
    if isinstance(meta, dict):  # a bank latent: its content address, circuit and checksums
        for key in ("key", "kind", "circuit", "seed", "n_samples", "unitary_sha256",
                    "checksums", "source"):
            if key in meta:
                rec[f"bank_{key}"] = meta[key]
    return rec


def experiment_config_text(config: ExperimentConfig, out_dir: Path) -> str:
    """The experiment's ``config.toml``; over an earlier one in ``out_dir``, the union of the
    seeds, latents, datasets and latent lengths run there, which must be the same experiment
    otherwise (``training_differences``: cells trained differently are never merged, so the
    report never pairs them).

    Raises:
        ValueError: the earlier config cannot be read, is another task's, or trains its cells
            differently (the message names every differing field).
    """
    path = out_dir / "config.toml"
    if not path.exists():
        return to_toml(config.to_dict())
    try:
        old = ExperimentConfig.from_dict(tomllib.loads(path.read_text()))
    except (ValueError, TypeError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"{path} (an earlier experiment in out_dir) cannot be read: "
                         f"{err}") from err
    if old.task != config.task:
        raise ValueError(f"out_dir {out_dir} holds an experiment of task {old.task!r}, not "
                         f"{config.task!r}; choose another out_dir")
    differences = training_differences(old, config)
    if differences:
        raise ValueError(
            f"out_dir {out_dir} holds an experiment trained differently: "
            + "; ".join(f"{key} = {there!r} there, {here!r} here"
                        for key, (there, here) in differences.items())
            + "; its cells could not be compared with these: choose another out_dir (--out) "
            "for a new experiment, or run with the same settings")
    merged = config.replace(
        seeds=tuple(dict.fromkeys(old.seeds + config.seeds)),
        latents=tuple(dict.fromkeys(old.latents + config.latents)),
        datasets=tuple(dict.fromkeys(old.datasets + config.datasets)),
        latent_dims=tuple(dict.fromkeys(old.latent_dims + config.latent_dims)),
        latent_params={**old.latent_params, **config.latent_params})
    return to_toml(merged.to_dict())


def training_differences(old: ExperimentConfig, new: ExperimentConfig
                         ) -> dict[str, tuple[Any, Any]]:
    """The fields, ``"table.key"`` -> ``(old value, new value)``, in which two configs of one
    task train or score their cells differently: ``paired_circuits``, the ``[model]``,
    ``[train]`` and ``[task]`` tables, and the parameters of the latents both run. The grid
    (seeds, latents, datasets, latent lengths) and the name may differ."""
    def flat(config: ExperimentConfig, latents: set[str]) -> dict[str, Any]:
        tables = config.to_dict()
        out = {"experiment.paired_circuits": config.paired_circuits}
        for table in ("model", "train", "task"):
            out.update({f"{table}.{k}": v for k, v in tables[table].items()})
        for lat in sorted(latents):
            out.update({f"latent_params.{lat}.{k}": v
                        for k, v in config.latent_params.get(lat, {}).items()})
        return out

    def plain(v: Any) -> Any:  # a list read from TOML equals the tuple given in code
        return [plain(x) for x in v] if isinstance(v, list | tuple) else v

    both = set(old.latents) & set(new.latents)
    there = {k: plain(v) for k, v in flat(old, both).items()}
    here = {k: plain(v) for k, v in flat(new, both).items()}
    return {key: (there.get(key), here.get(key)) for key in dict.fromkeys([*there, *here])
            if there.get(key) != here.get(key)}
