"""The experiment runner: every (dataset, latent, latent_dim, seed) cell of a config, one run
directory per cell, done cells skipped, interrupted cells resumed from their checkpoint.

Layout of an experiment directory ``OUT``::

    OUT/config.toml                      the resolved experiment config (what ``report`` reads)
    OUT/<dataset>/<latent>-L<dim>/seed-<k>/
        config.toml, config.json         the cell's resolved config (+ its derived seeds)
        environment.json                 package versions, git sha, latent / data digests
        checkpoint.pt, log.jsonl         from qlatent.train.fit (resume point, loss log)
        loss.png, samples.png, ...       plots
        metrics.json                     written last: its presence marks the cell done

Cells run seed by seed (all cells of seed 0, then seed 1, ...), in the order the latents are
listed, so paired results (quantum and photonic of one seed) accumulate together.

Packs: with ``pack=N`` (or ``"auto"``) the pending cells that share an architecture (same
dataset and latent length) train as packs of up to N cells (``run_pack``, ``fit_pack``); each
cell still gets its own directory, log, trackers, task callbacks, checkpoint and metrics.
``"auto"`` takes the largest pack the device's free memory holds
(``qlatent.train.memory``: parameters, optimiser state, activations and batches per member,
estimated from one cell's networks); an explicit N that does not fit is refused before
anything is written.

Executors: ``"local"`` runs the packs (or cells) one after the other in this process; ``"ray"``
hands every pack (or lone cell) to Ray as one task (``pip install 'qlatent[cluster]'``), so the
grid runs side by side on every core, GPU and node of a Ray cluster. ``ray.init()`` joins the
cluster named by ``$RAY_ADDRESS`` (e.g. ``auto`` on a node of a running cluster) or starts one
on this machine. Each task asks for ``threads`` CPUs and, with ``device="cuda"``,
``gpus_per_task`` GPUs (default 1; a fraction such as 0.25 puts four tasks on one GPU). The
task's caches (the processed QM9 set, the FCD statistics) are built once in this process
(``Task.warm``) before any task is sent. The experiment directory must be on a file system
every node sees; a cell's checkpoint and its ``metrics.json`` there make the grid resumable
whichever executor ran it.

Everything is checked before anything is written: the config (when it was made), the
executor, the device, the thread count, the trackers of ``log_to`` and, when ``OUT`` already
holds an experiment, that its config can be merged with this one. A failed check leaves no
folder behind.

``rebuild_cell(cell_dir)`` turns a cell directory back into its config, seeds, networks (with
the trained weights) and latent.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import time
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from qlatent import UserError
from qlatent._io import atomic_write_json, atomic_write_text
from qlatent._validation import check_choice, check_device, check_float, check_int
from qlatent.experiments.config import _PER_RUN, ExperimentConfig, latent_request, to_toml
from qlatent.experiments.tasks import (
    Built,
    Cell,
    CellRecord,
    CellSeeds,
    Metrics,
    Task,
    cell_seeds,
    get_task,
    register_task,
)
from qlatent.train import fit

EXECUTORS = ("local", "ray")
AUTO = "auto"
"""The ``pack`` value that sizes packs from the device's free memory."""


def check_pack(pack: Any, *, name: str = "pack") -> int | str:
    """``pack`` as a positive int or ``"auto"`` (a string of digits is read as an int)."""
    if isinstance(pack, str):
        text = pack.strip()
        if text == AUTO:
            return AUTO
        if text.lstrip("-").isdigit():
            pack = int(text)
        else:
            raise ValueError(f"{name} must be a positive integer or 'auto', got {pack!r}")
    if isinstance(pack, bool) or not isinstance(pack, int):
        raise TypeError(f"{name} must be a positive integer or 'auto', got {pack!r} "
                        f"({type(pack).__name__})")
    if pack < 1:
        raise ValueError(f"{name} must be a positive integer (>= 1) or 'auto', got {pack}")
    return pack


def check_gpus_per_task(gpus: Any, *, executor: str, device: str,
                        name: str = "gpus_per_task") -> float | None:
    """The GPUs each Ray task asks for: ``None`` (the default: 1 with a CUDA device) or a
    number > 0, a fraction of one GPU (0.25: four tasks share a GPU) or a whole count; only
    with ``executor="ray"`` and a CUDA ``device``."""
    if gpus is None:
        return None
    gpus = check_float(name, gpus)
    if gpus <= 0:
        raise ValueError(f"{name} must be > 0 (a share of a GPU such as 0.25, or a whole "
                         f"number of GPUs), got {gpus:g}")
    if gpus > 1 and gpus != int(gpus):
        raise ValueError(f"{name} above 1 must be a whole number of GPUs, got {gpus:g}")
    if executor != "ray":
        raise ValueError(f"{name} is the share of a GPU each Ray task gets: it needs "
                         f"executor 'ray', got executor {executor!r}")
    if not device.startswith("cuda"):
        raise ValueError(f"{name}={gpus:g} needs a GPU: device must be 'cuda' or 'cuda:k', "
                         f"got {device!r}")
    return gpus


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


def make_latent(config: ExperimentConfig, cell: Cell, seeds: CellSeeds) -> torch.nn.Module:
    """The cell's latent: ``qlatent.latents.get(cell.latent, dim=cell.latent_dim,
    seed=seeds.latent, **config.latent_params[cell.latent])`` (for a named variant, the
    registered latent its ``latent`` key names)."""
    from qlatent import latents

    name, params = latent_request(cell.latent, config.latent_params.get(cell.latent, {}))
    return latents.get(name, dim=cell.latent_dim, seed=seeds.latent, **params)


def check_log_to(log_to: Sequence[str]) -> tuple[str, ...]:
    """Return ``log_to`` as a tuple after checking each name against
    ``qlatent.train.tracking.TRACKERS`` (imported only when ``log_to`` is not empty)."""
    if isinstance(log_to, str) or not isinstance(log_to, Sequence):
        raise TypeError(f"log_to must be a list of tracker names, got {log_to!r}")
    log_to = tuple(log_to)
    if not log_to:
        return ()
    try:
        from qlatent.train.tracking import TRACKERS
    except ImportError as err:
        raise ValueError(f"log_to={list(log_to)!r} needs qlatent.train.tracking, which this "
                         f"installation lacks ({err})") from err
    for name in log_to:
        check_choice("log_to", name, tuple(TRACKERS))
    return log_to


def environment(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Package versions, Python, platform, git sha of the source tree, plus ``extra``."""
    versions = {}
    for pkg in ("qlatent", "torch", "numpy", "scipy", "numba"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"versions": versions, "python": platform.python_version(),
            "platform": platform.platform(), "git_sha": _git_sha(),
            "torch_threads": torch.get_num_threads(), **(extra or {})}


def _git_sha() -> str | None:
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


def _latent_record(latent: torch.nn.Module) -> dict[str, Any]:
    rec: dict[str, Any] = {"repr": repr(latent)}
    meta = getattr(latent, "metadata", None)
    if isinstance(meta, dict):  # a bank latent: its content address, circuit and checksums
        for key in ("key", "kind", "circuit", "seed", "n_samples", "unitary_sha256",
                    "checksums"):
            if key in meta:
                rec[f"bank_{key}"] = meta[key]
    return rec


def run_experiment(config: ExperimentConfig, out_dir: str | Path, *, device: str = "cpu",
                   console: Console | None = None, progress: bool = True,
                   threads: int | None = None, executor: str = "local",
                   log_to: Sequence[str] = (), pack: int | str = 1,
                   gpus_per_task: float | None = None) -> list[CellRecord]:
    """Run every cell of ``config`` into ``out_dir`` (see the module docstring).

    Args:
        config: the experiment.
        out_dir: the experiment directory (created; reused to skip / resume cells).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:k"`` (with the local executor it must exist
            here; ``qlatent._validation.check_device``).
        console: where progress lines go (default: a new rich Console).
        progress: show the training progress bar.
        threads: torch CPU threads for training, set before each cell's training (default:
            torch's count when this is called; 1 with Ray, where it is also the CPUs each
            task asks for). Building a bank can change torch's thread count through numba's
            OpenMP layer; the runner sets it back.
        executor: ``"local"`` or ``"ray"`` (see the module docstring).
        log_to: experiment trackers fed by every cell's training, packed or not
            (``qlatent.train.tracking.TRACKERS``, e.g. ``("tensorboard",)``); none by default.
        pack: train up to this many pending cells that share an architecture as one pack
            (``run_pack``), or ``"auto"``: as many as the device's free memory holds
            (``pack_plan``); 1 trains every cell alone.
        gpus_per_task: with ``executor="ray"`` and a CUDA device, the GPUs each task (a pack
            or a lone cell) asks Ray for: a share such as 0.25 or a whole count (default 1).

    Returns:
        The records of all finished cells of the grid (done before or now).

    Raises:
        TypeError, ValueError: a bad argument, or a pack that does not fit in memory, before
            anything is written.
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig, got {type(config).__name__}")
    task = get_task(config.task)
    check_choice("executor", executor, EXECUTORS)
    check_device(device, require_available=executor == "local")
    if threads is None:
        threads = 1 if executor == "ray" else torch.get_num_threads()
    check_int("threads", threads, minimum=1)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be true or false, got {progress!r}")
    log_to = check_log_to(log_to)
    pack = check_pack(pack)
    gpus_per_task = check_gpus_per_task(gpus_per_task, executor=executor, device=device)
    if pack != 1 and not task.packable:
        raise ValueError(f"pack does not apply to task {task.name!r} (it trains its cells "
                         f"itself, not as packable networks); use pack=1, got pack={pack!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a folder, got the file {out_dir}")
    config_text = _experiment_config_text(config, out_dir)
    console = console or Console()
    grid = cells(config)
    finished = [(out_dir / cell.key / "metrics.json").exists() for cell in grid]
    done = [i for i, f in enumerate(finished) if f]
    pending = [i for i, f in enumerate(finished) if not f]
    ray = None
    if executor == "ray" and pending:
        ray = _ray_init(device, gpus_per_task)
    share = 1.0
    if executor == "ray":
        share = (min(1.0, gpus_per_task or 1.0) if device.startswith("cuda")
                 else min(1.0, threads / (os.cpu_count() or 1)))
    plan = pack_plan(config, grid, pending, out_dir, pack, device=device, threads=threads,
                     share=share, console=console)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.toml", config_text)
    records: dict[int, CellRecord] = {}
    for i in done:
        metrics = json.loads((out_dir / grid[i].key / "metrics.json").read_text())["metrics"]
        console.print(f"[dim][{i + 1}/{len(grid)}] {grid[i].key}: done, skipped[/dim]")
        records[i] = CellRecord(grid[i], out_dir / grid[i].key, metrics)
    cell_args = dict(device=device, threads=threads, log_to=log_to)
    if ray is not None:
        records.update(_run_on_ray(ray, config, task, grid, plan, out_dir, console,
                                   gpus=(gpus_per_task or 1.0) if device.startswith("cuda")
                                   else 0.0, **cell_args))
        return [records[i] for i in sorted(records)]
    failed = []
    for members in plan:
        if len(members) == 1:
            i = members[0]
            cell, cell_dir = grid[i], out_dir / grid[i].key
            resuming = (cell_dir / "checkpoint.pt").exists()
            console.print(f"[bold][{i + 1}/{len(grid)}] {cell.key}[/bold]"
                          + (" (resuming)" if resuming else ""))
            records[i] = run_cell(config, cell, cell_dir, console=console,
                                  progress=progress, **cell_args)
            continue
        console.print(f"[bold][{', '.join(str(i + 1) for i in members)}/{len(grid)}] a pack "
                      f"of {len(members)}: {', '.join(grid[i].key for i in members)}[/bold]")
        out = run_pack(config, [grid[i] for i in members], out_dir, console=console,
                       progress=progress, **cell_args)
        for i, record in zip(members, out, strict=True):
            if record is None:
                failed.append(grid[i].key)
            else:
                records[i] = record
    if failed:
        raise UserError(f"{len(failed)} cell(s) failed (loss turned NaN in a pack): "
                           f"{', '.join(failed)}; the others are recorded")
    return [records[i] for i in sorted(records)]


def _ray_init(device: str, gpus_per_task: float | None) -> Any:
    """Ray, initialised (joining ``$RAY_ADDRESS`` or starting one here), checked to have a GPU
    when the tasks need one."""
    try:
        import ray
    except ImportError as err:
        raise ImportError("executor='ray' needs Ray: pip install 'qlatent[cluster]'") from err
    if not ray.is_initialized():
        ray.init(log_to_driver=False)
    if device.startswith("cuda") and not ray.cluster_resources().get("GPU", 0):
        raise ValueError(f"device={device!r} with executor 'ray' needs a GPU in the Ray "
                         f"cluster, which has none (resources: {ray.cluster_resources()})"
                         + (f"; gpus_per_task={gpus_per_task:g} cannot be placed"
                            if gpus_per_task is not None else ""))
    return ray


def pack_plan(config: ExperimentConfig, grid: Sequence[Cell], pending: Sequence[int],
              out_dir: Path, pack: int | str, *, device: str = "cpu", threads: int = 1,
              share: float = 1.0, console: Console | None = None) -> list[list[int]]:
    """The packs (lists of grid indices) the ``pending`` cells train in, sized for memory.

    For every architecture (dataset, latent length) with more than one pending cell, one cell
    is built and ``qlatent.train.memory.estimate_member_memory`` gives the bytes of one member;
    ``share`` × ``available_memory(device)`` (the part of this machine's device one pack gets:
    1 with the local executor) bounds the pack: ``pack="auto"`` takes the largest that fits,
    an explicit size that does not fit raises a ValueError naming the size and the estimate.
    Packs never mix architectures (``plan_packs``).
    """
    from qlatent.train.memory import (
        FILL,
        available_memory,
        estimate_member_memory,
        pack_size_that_fits,
    )

    pack = check_pack(pack)
    if pack == 1:
        return plan_packs(config, grid, pending, out_dir, 1)
    groups = _architecture_groups(grid, pending, out_dir)
    sizes: dict[tuple[str, int], int] = {}
    for key, members in groups.items():
        want = len(members) if pack == AUTO else min(pack, len(members))
        if want < 2:
            sizes[key] = 1
            continue
        if device.startswith("cuda") and not torch.cuda.is_available():
            if pack == AUTO:
                raise ValueError(f"pack='auto' measures the free memory of {device!r} on this "
                                 "machine, which has no CUDA device; give the pack size")
            sizes[key] = want
            continue
        cell = grid[members[0]]
        seeds = seeds_of(config, cell)
        latent = make_latent(config, cell, seeds)
        built = get_task(config.task).build(config, cell, seeds)
        torch.set_num_threads(threads)  # a bank build may have changed it
        estimate = estimate_member_memory(built.generator, built.critic, latent, built.data,
                                          config.train)
        available = int(share * available_memory(device))
        fits = pack_size_that_fits(estimate.total, available)
        gib = 2.0**30
        if pack != AUTO and want > fits:
            raise ValueError(
                f"pack {want} does not fit in memory for {cell.dataset} L={cell.latent_dim}: "
                f"it needs about {want * estimate.total / gib:.2f} GiB ({estimate.describe()}), "
                f"{device} has {available / gib:.2f} GiB available and a pack may take "
                f"{FILL:.0%} of it, so at most {fits} members; use pack {fits} or 'auto'")
        sizes[key] = min(want, fits)
        if console is not None:
            console.print(f"[dim]packs of {sizes[key]} for {cell.dataset} L={cell.latent_dim}"
                          f" ({len(members)} pending; {estimate.describe()}; {device}: "
                          f"{available / gib:.1f} GiB available, room for {fits})[/dim]")
    return plan_packs(config, grid, pending, out_dir, sizes)


def _architecture_groups(grid: Sequence[Cell], pending: Sequence[int],
                         out_dir: Path) -> dict[tuple[str, int], list[int]]:
    # The pending cells that may pack, by architecture; a cell with its own solo checkpoint (an
    # interrupted solo run) stays out and resumes solo.
    groups: dict[tuple[str, int], list[int]] = {}
    for i in pending:
        cell = grid[i]
        if not (out_dir / cell.key / "checkpoint.pt").exists():
            groups.setdefault((cell.dataset, cell.latent_dim), []).append(i)
    return groups


def _run_on_ray(ray: Any, config: ExperimentConfig, task: Task, grid: list[Cell],
                plan: list[list[int]], out_dir: Path, console: Console, *, device: str,
                threads: int, log_to: tuple[str, ...], gpus: float) -> dict[int, CellRecord]:
    """Run the packs of ``plan`` (lists of indices into ``grid``; a lone cell is a pack of
    one) as Ray tasks; the records of the cells that finished.

    The task's caches are built here first (``task.warm``). A failed task (or a member whose
    loss turned NaN) does not stop the others; after all have ended, a ``RuntimeError`` names
    the failed cells (their checkpoints stay, so running the grid again resumes them)."""
    if not plan:
        return {}
    warm_device = device if device.startswith("cuda") and torch.cuda.is_available() else "cpu"
    task.warm(config, device=warm_device)
    remote = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=0)(_ray_pack)
    futures = {remote.remote(config, task, [grid[i] for i in members], str(out_dir), device,
                             threads, log_to): members for members in plan}
    console.print(f"[bold]{len(futures)} task(s) of {sum(map(len, plan))} cell(s) submitted to "
                  f"Ray[/bold] (packs of {', '.join(str(n) for n in sorted(set(map(len, plan))))}"
                  f"; {threads} CPU(s){f', {gpus:g} GPU' if gpus else ''} each; "
                  f"cluster: {ray.cluster_resources()})")
    records: dict[int, CellRecord] = {}
    failed: list[str] = []
    waiting = list(futures)
    while waiting:
        ready, waiting = ray.wait(waiting, num_returns=1)
        members = futures[ready[0]]
        try:
            out = ray.get(ready[0])
        except Exception as err:  # noqa: BLE001 - reported below, the other tasks go on
            cause = getattr(err, "cause", None) or err  # a RayTaskError wraps the cell's error
            for i in members:
                failed.append(f"{grid[i].key}: {type(cause).__name__}: {cause}")
                console.print(f"[red][{i + 1}/{len(grid)}] {grid[i].key}: failed[/red]")
            continue
        for i, record in zip(members, out, strict=True):
            if record is None:
                failed.append(f"{grid[i].key}: its loss turned NaN in a pack")
                console.print(f"[red][{i + 1}/{len(grid)}] {grid[i].key}: failed[/red]")
                continue
            records[i] = record
            summary = ", ".join(f"{k} {v:.4g}" for k, v in record.metrics.items())
            console.print(f"[{i + 1}/{len(grid)}] {grid[i].key}: {summary}"
                          + (f" (a pack of {len(members)})" if len(members) > 1 else ""))
    if failed:
        raise UserError(f"{len(failed)} cell(s) failed on Ray (run the grid again to resume "
                           "them):\n" + "\n".join(failed))
    return records


def _ray_pack(config: ExperimentConfig, task: Task, cells: list[Cell], out_dir: str,
              device: str, threads: int, log_to: tuple[str, ...]) -> list[CellRecord | None]:
    # One Ray task: a pack (or a lone cell), its output in out_dir (no console, no progress
    # bar). The task travels with it, so a task registered only in the driver (user code) runs
    # as well.
    try:
        get_task(task.name)
    except ValueError:
        register_task(task)
    quiet = Console(quiet=True)
    if len(cells) == 1:
        return [run_cell(config, cells[0], Path(out_dir) / cells[0].key, device=device,
                         console=quiet, progress=False, threads=threads, log_to=log_to)]
    return run_pack(config, cells, Path(out_dir), device=device, console=quiet,
                    progress=False, threads=threads, log_to=log_to)


def _experiment_config_text(config: ExperimentConfig, out_dir: Path) -> str:
    # The experiment's config.toml; over an earlier one, the union of the seeds, latents,
    # datasets and latent lengths run there (which must be the same experiment otherwise).
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
    merged = config.replace(
        seeds=tuple(dict.fromkeys(old.seeds + config.seeds)),
        latents=tuple(dict.fromkeys(old.latents + config.latents)),
        datasets=tuple(dict.fromkeys(old.datasets + config.datasets)),
        latent_dims=tuple(dict.fromkeys(old.latent_dims + config.latent_dims)),
        latent_params={**old.latent_params, **config.latent_params})
    return to_toml(merged.to_dict())


@dataclass
class _Prepared:
    # A cell built and recorded, ready to train: what run_cell and run_pack share.
    task: Task
    cell: Cell
    cell_dir: Path
    seeds: CellSeeds
    latent: torch.nn.Module
    built: Built
    tables: dict[str, Any]
    build_seconds: float


def _prepare_cell(config: ExperimentConfig, cell: Cell, cell_dir: Path, *, device: str,
                  threads: int) -> _Prepared:
    """Build the cell's latent, data and networks and write its resolved config and
    environment records."""
    task = get_task(config.task)
    cell_dir = Path(cell_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    seeds = seeds_of(config, cell)
    t0 = time.perf_counter()
    built = task.build(config, cell, seeds)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            latent = task.make_latent(config, cell, seeds, built)
        except (ValueError, TypeError) as err:  # e.g. a seed's bank admits no challenger
            raise type(err)(f"{cell.key}: {err}") from err
    for w in caught:  # e.g. a challenger that had to fall back: say which of the grid's cells
        warnings.warn(f"{cell.key}: {w.message}", w.category, stacklevel=2)
    torch.set_num_threads(threads)  # bank building (numba, OpenMP) may have changed it
    build_seconds = time.perf_counter() - t0
    tables = config.to_dict()
    tables["cell"] = {"dataset": cell.dataset, "latent": cell.latent,
                      "latent_dim": cell.latent_dim, "seed": cell.seed}
    tables["seeds"] = {"data_entropy": list(seeds.data.entropy),
                       "latent": str(seeds.latent), "model": str(seeds.model),
                       "train": str(seeds.train), "evaluate": str(seeds.evaluate)}
    atomic_write_text(cell_dir / "config.toml", to_toml(tables))
    atomic_write_json(cell_dir / "config.json", tables)
    atomic_write_json(cell_dir / "environment.json", environment(
        {"latent": _latent_record(latent), "task": built.info, "device": device}))
    return _Prepared(task, cell, cell_dir, seeds, latent, built, tables, build_seconds)


def _finish_cell(config: ExperimentConfig, p: _Prepared, result: Any,
                 console: Console, *, packed: int = 1) -> CellRecord:
    """Evaluate a trained cell, draw its loss plot and write ``metrics.json`` (last)."""
    t1 = time.perf_counter()
    metrics = p.task.evaluate(p.built, p.latent, config, p.cell, p.seeds, run_dir=p.cell_dir)
    missing = [m.name for m in p.task.metrics if m.name not in metrics]
    if missing:
        raise RuntimeError(f"task {p.task.name!r} did not return metric(s) {missing}")
    _loss_plot(result.history, p.cell_dir / "loss.png", p.cell.key)
    record = {
        "cell": p.tables["cell"],
        "metrics": {k: float(v) for k, v in metrics.items()},
        # Why a metric is NaN (e.g. "FCD off"), as the task recorded it; the report shows it.
        "notes": dict(metrics.notes) if isinstance(metrics, Metrics) else {},
        "steps": result.steps,
        "train_seconds": result.history[-1]["seconds"] if result.history else result.seconds,
        "iterations_per_second": (result.steps - (result.resumed_from or 0))
        / max(result.seconds, 1e-9),
        "build_seconds": round(p.build_seconds, 3),
        "evaluate_seconds": round(time.perf_counter() - t1, 3),
        "resumed_from": result.resumed_from,
        "pack": packed,
    }
    atomic_write_json(p.cell_dir / "metrics.json", record)
    summary = ", ".join(f"{m.name} {m.format(metrics[m.name])}" for m in p.task.metrics)
    console.print(f"    {p.cell.key}: {summary}  ({record['iterations_per_second']:.1f} it/s"
                  + (f", in a pack of {packed})" if packed > 1 else ")"))
    return CellRecord(p.cell, p.cell_dir, record["metrics"])


def run_cell(config: ExperimentConfig, cell: Cell, cell_dir: Path, *, device: str = "cpu",
             console: Console | None = None, progress: bool = True,
             threads: int | None = None, log_to: Sequence[str] = ()) -> CellRecord:
    """Build, train (resuming from a checkpoint), evaluate and record one cell.

    ``log_to``: experiment trackers (``qlatent.train.tracking.make_callbacks``) given the
    cell directory; see ``run_experiment`` for the other arguments.
    """
    console = console or Console()
    threads = torch.get_num_threads() if threads is None else threads
    log_to = check_log_to(log_to)
    p = _prepare_cell(config, cell, cell_dir, device=device, threads=threads)
    callbacks = _cell_callbacks(config, p, log_to)
    result = p.task.train(p.built, p.latent, config, cell, p.seeds, run_dir=p.cell_dir,
                          device=device, progress=progress)
    if result is None:
        result = fit(p.built.generator, p.built.critic, p.latent, p.built.data, config.train,
                     seed=p.seeds.train, device=device, progress=progress, run_dir=p.cell_dir,
                     resume=True, callbacks=callbacks)
    return _finish_cell(config, p, result, console)


def _cell_callbacks(config: ExperimentConfig, p: _Prepared, log_to: tuple[str, ...]) -> list:
    """The cell's training callbacks: the task's, then the trackers' (in its directory)."""
    callbacks = list(p.task.callbacks(p.built, p.latent, config, p.cell, p.seeds,
                                      run_dir=p.cell_dir))
    if log_to:
        from qlatent.train.tracking import make_callbacks

        callbacks += list(make_callbacks(log_to, p.cell_dir))
    return callbacks


def run_pack(config: ExperimentConfig, cells: Sequence[Cell], out_dir: Path, *,
             device: str = "cpu", console: Console | None = None, progress: bool = True,
             threads: int | None = None, log_to: Sequence[str] = ()
             ) -> list[CellRecord | None]:
    """Train cells that share an architecture as one pack (``qlatent.train.fit_pack``), then
    evaluate and record each in its own directory exactly as ``run_cell`` does.

    Member k follows the trajectory of its solo run (same seeds, latent, data, initialisation);
    each cell directory gets its own ``log.jsonl``, the task's callbacks (e.g. QM9's
    intermediate scores in ``progress.jsonl``) and the trackers of ``log_to`` (e.g.
    ``tensorboard/``) fed with its own member's figures, and, at the end, its own solo
    checkpoint (``member_checkpoint``), so ``qlatent report``, ``load_run`` and ``qlatent
    sample`` read it like any cell. The pack's own checkpoint lives in
    ``out_dir/.packs/<digest of the cells>/``: a killed pack resumes from it.

    Returns:
        One record per cell, ``None`` for a member whose loss turned NaN (reported, and its
        cell left without ``metrics.json``; the others are recorded).
    """
    from qlatent._io import digest
    from qlatent.models import pack, unpack
    from qlatent.train import fit_pack, load_checkpoint, member_checkpoint, save_checkpoint

    console = console or Console()
    threads = torch.get_num_threads() if threads is None else threads
    log_to = check_log_to(log_to)
    out_dir = Path(out_dir)
    prepared = [_prepare_cell(config, c, out_dir / c.key, device=device, threads=threads)
                for c in cells]
    callbacks = [_cell_callbacks(config, p, log_to) for p in prepared]
    G = pack([p.built.generator for p in prepared])
    D = pack([p.built.critic for p in prepared])
    pack_dir = out_dir / ".packs" / digest([c.key for c in cells])[:16]
    result = fit_pack(G, D, [p.latent for p in prepared], [p.built.data for p in prepared],
                      config.train, seeds=[p.seeds.train for p in prepared], device=device,
                      progress=progress, run_dir=pack_dir, resume=True,
                      member_dirs=[p.cell_dir for p in prepared], callbacks=callbacks)
    state = load_checkpoint(pack_dir / "checkpoint.pt")
    # Every trained member's own checkpoint first, then the evaluations: a run killed while
    # evaluating leaves each cell a solo resume point at the last step, so the rerun evaluates
    # (a new pack of the unfinished cells would have trained them again from step 0).
    for k, p in enumerate(prepared):
        if result.members[k].failed_at is None:
            save_checkpoint(p.cell_dir / "checkpoint.pt",
                            member_checkpoint(state, k, generator=G, critic=D))
    records: list[CellRecord | None] = []
    for k, (p, G_k, D_k) in enumerate(zip(prepared, unpack(G), unpack(D), strict=True)):
        if result.members[k].failed_at is not None:
            console.print(f"[red]    {p.cell.key}: failed, its loss turned NaN at step "
                          f"{result.members[k].failed_at}[/red]")
            records.append(None)
            continue
        p.built.generator, p.built.critic = G_k.eval(), D_k.eval()
        records.append(_finish_cell(config, p, result.members[k], console, packed=len(cells)))
    return records


def plan_packs(config: ExperimentConfig, grid: Sequence[Cell], pending: Sequence[int],
               out_dir: Path, size: int | Mapping[tuple[str, int], int]) -> list[list[int]]:
    """Group the ``pending`` cells of ``grid`` into packs of at most ``size`` cells that share
    an architecture (same dataset and latent length: the task builds the same networks), in
    grid order; cells of different architectures never share a pack. ``size`` is one bound
    for all, or one per ``(dataset, latent_dim)`` (``pack_plan``'s). A cell with a solo
    checkpoint of its own (an interrupted solo run) stays alone and resumes solo."""
    groups = _architecture_groups(grid, pending, out_dir)
    grouped = {i for members in groups.values() for i in members}
    packs: list[list[int]] = [[i] for i in pending if i not in grouped]
    for key, members in groups.items():
        n = size if isinstance(size, int) else size.get(key, 1)
        n = check_int("size", n, minimum=1)
        packs.extend(members[j:j + n] for j in range(0, len(members), n))
    return sorted(packs, key=lambda members: members[0])


def seeds_of(config: ExperimentConfig, cell: Cell) -> CellSeeds:
    """The cell's random streams (``cell_seeds`` with the config's pairing)."""
    return cell_seeds(cell.seed, cell.latent, paired_circuits=config.paired_circuits,
                      latent_dim=cell.latent_dim)


@dataclass
class RebuiltCell:
    """A cell directory turned back into objects (``rebuild_cell``).

    Attributes:
        config: the experiment config the cell ran with (its ``[train]`` without the per-cell
            seed, device and progress).
        cell: dataset, latent, latent length and seed.
        seeds: the cell's random streams (checked against those the directory recorded).
        built: the task's data, generator and critic (trained weights loaded when asked).
        latent: the latent distribution (with its normalisation), on the CPU.
        step: the training step of the loaded checkpoint (``None`` if weights were not loaded).
        steps: the cell's training steps (``None`` if weights were not loaded).
    """

    config: ExperimentConfig
    cell: Cell
    seeds: CellSeeds
    built: Built
    latent: torch.nn.Module
    step: int | None = None
    steps: int | None = None


def read_cell(cell_dir: str | Path) -> tuple[ExperimentConfig, Cell, dict[str, Any]]:
    """The experiment config, the cell and its recorded seeds, from a cell directory's resolved
    ``config.json`` (nothing is built).

    Raises:
        FileNotFoundError: ``cell_dir`` does not exist.
        ValueError: not a cell directory (an experiment directory is told apart), or a config
            that does not describe a cell of this version (names the file).
    """
    cell_dir = Path(cell_dir)
    if not cell_dir.is_dir():
        raise FileNotFoundError(f"cell_dir: no such folder: {cell_dir}")
    path = cell_dir / "config.json"
    if not path.is_file():
        example = next(iter(sorted(cell_dir.glob("*/*/seed-*/config.json"))), None)
        if example is not None:
            raise ValueError(f"{cell_dir} is an experiment directory, not a cell directory: "
                             f"pass one of its cells, e.g. {example.parent}")
        raise ValueError(f"{cell_dir} is not a cell directory of `qlatent run`: it has no "
                         "config.json (expected <experiment>/<dataset>/<latent>-L<dim>/seed-<k>)")
    try:
        tables = json.loads(path.read_text())
        cell = Cell(**tables["cell"])
        recorded = dict(tables["seeds"])
        train = {k: v for k, v in tables["train"].items() if k not in _PER_RUN}
        config = ExperimentConfig.from_dict(
            {**{k: v for k, v in tables.items() if k not in ("cell", "seeds")}, "train": train})
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{path}: not a cell's config ({type(err).__name__}: {err})") from err
    return config, cell, recorded


def rebuild_cell(cell_dir: str | Path, *, weights: bool = True) -> RebuiltCell:
    """Rebuild a cell of ``run_experiment`` from its directory: the config from its resolved
    ``config.json`` (``read_cell``), the networks with ``task.build(config, cell, seeds)`` and
    the latent with ``qlatent.latents.get`` (same seeds, so the same circuit and bank), on the
    CPU.

    Args:
        cell_dir: ``OUT/<dataset>/<latent>-L<dim>/seed-<k>``.
        weights: load the trained weights from ``checkpoint.pt`` (the task's
            ``load_trained``, weights-only: nothing is unpickled).

    Raises:
        FileNotFoundError: ``cell_dir`` does not exist.
        ValueError: not a cell directory; a cell that has not trained yet; a config or
            checkpoint that does not describe this cell (names the file).
    """
    cell_dir = Path(cell_dir)
    config, cell, recorded = read_cell(cell_dir)
    seeds = seeds_of(config, cell)
    if [str(seeds.latent), str(seeds.model)] != [recorded.get("latent"), recorded.get("model")]:
        raise ValueError(f"{cell_dir / 'config.json'}: its recorded seeds differ from those "
                         "this version derives for the cell; it was made by an incompatible "
                         "version")
    ckpt = cell_dir / "checkpoint.pt"
    if weights and not ckpt.is_file():
        raise ValueError(f"{cell_dir} has no checkpoint.pt: the cell has not trained yet (run "
                         "`qlatent run` on its experiment to train it)")
    task = get_task(config.task)
    built = task.build(config, cell, seeds)
    latent = task.make_latent(config, cell, seeds, built)
    step = steps = None
    if weights:
        step, steps = task.load_trained(built, latent, config, cell, ckpt)
    return RebuiltCell(config, cell, seeds, built, latent, step, steps)


def _loss_plot(history: list[dict[str, float]], path: Path, title: str) -> None:
    from qlatent.experiments.plotting import figure

    if not history:
        return
    steps = [h["step"] for h in history]
    with figure(path, figsize=(5, 3)) as (_, axes):
        ax = axes[0][0]
        for key in ("loss_critic", "loss_generator", "wasserstein", "loss"):
            if key in history[0]:
                ax.plot(steps, [h[key] for h in history], label=key)
        ax.set_xlabel("generator step")
        ax.set_title(title)
        ax.legend()
