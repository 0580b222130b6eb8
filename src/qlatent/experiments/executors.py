"""Executors: run every cell of an experiment into its directory, here or on a Ray cluster.

Layout of an experiment directory ``OUT``::

    OUT/config.toml                      the resolved experiment config (what ``report`` reads)
    OUT/<dataset>/<latent>-L<dim>/seed-<k>/   one cell (``qlatent.experiments.cell``)
    OUT/.packs/<digest>/                 the checkpoint of a pack being trained

Done cells (``metrics.json``) are skipped, interrupted cells resume from their checkpoint.
Cells that share an architecture train as packs (``qlatent.experiments.packing``).

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

Everything is checked before anything is written: the config (when it was made), the run
options (``RunOptions``, once, when they are made: executor, device, thread count, trackers,
pack size) and, when ``OUT`` already holds an experiment, that its config can be merged with
this one. A failed check leaves no folder behind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from rich.console import Console

from qlatent import UserError
from qlatent._io import atomic_write_text
from qlatent._validation import check_choice, check_device, check_float, check_int
from qlatent.experiments.cell import CellBusy, read_metrics, run_cell, run_pack
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.grid import cells
from qlatent.experiments.packing import check_pack, pack_plan
from qlatent.experiments.provenance import experiment_config_text
from qlatent.experiments.tasks import Cell, CellRecord, Task, get_task, register_task

EXECUTORS = ("local", "ray")


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


def check_log_to(log_to: Sequence[str], *, name: str = "log_to") -> tuple[str, ...]:
    """Return ``log_to`` as a tuple after checking each name against
    ``qlatent.train.tracking.TRACKERS`` (imported only when ``log_to`` is not empty)."""
    if isinstance(log_to, str) or not isinstance(log_to, Sequence):
        raise TypeError(f"{name} must be a list of tracker names, got {log_to!r}")
    log_to = tuple(log_to)
    if not log_to:
        return ()
    try:
        # optional extra: the trackers' module loads only when a tracker is asked for
        from qlatent.train.tracking import TRACKERS
    except ImportError as err:
        raise ValueError(f"{name}={list(log_to)!r} needs qlatent.train.tracking, which this "
                         f"installation lacks ({err})") from err
    for tracker in log_to:
        check_choice(name, tracker, tuple(TRACKERS))
    return log_to


@dataclass(frozen=True)
class RunOptions:
    """How this process runs an experiment (not what the experiment is: that is the config),
    checked once, when the options are made; see ``run_experiment`` for each field.

    ``OPTION_NAMES`` maps a field to the name errors give it (a subclass for the command line
    maps ``pack`` to ``--pack``); by default errors name the field.
    """

    device: str = "cpu"
    progress: bool = True
    threads: int | None = None
    """Torch CPU threads (``None``: torch's count now; 1 with Ray); an int once made."""
    executor: str = "local"
    log_to: tuple[str, ...] = ()
    pack: int | str = 1
    """A positive int or ``"auto"`` (``qlatent.experiments.packing.check_pack``)."""
    gpus_per_task: float | None = None

    OPTION_NAMES: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        def name(field: str) -> str:
            return self.OPTION_NAMES.get(field, field)

        check_choice(name("executor"), self.executor, EXECUTORS)
        device = check_device(self.device, name=name("device"),
                              require_available=self.executor == "local")
        object.__setattr__(self, "device", device)
        if not isinstance(self.progress, bool):
            raise TypeError(f"{name('progress')} must be true or false, got {self.progress!r}")
        threads = self.threads
        if threads is None:
            threads = 1 if self.executor == "ray" else torch.get_num_threads()
        object.__setattr__(self, "threads", check_int(name("threads"), threads, minimum=1))
        object.__setattr__(self, "log_to", check_log_to(self.log_to, name=name("log_to")))
        object.__setattr__(self, "pack", check_pack(self.pack, name=name("pack")))
        object.__setattr__(self, "gpus_per_task", check_gpus_per_task(
            self.gpus_per_task, executor=self.executor, device=device,
            name=name("gpus_per_task")))

    @property
    def share(self) -> float:
        """The part of this machine's device one pack gets: 1 locally; with Ray, the GPU share
        of a task (at most 1) or its CPUs over this machine's."""
        if self.executor != "ray":
            return 1.0
        if self.device.startswith("cuda"):
            return min(1.0, self.gpus_per_task or 1.0)
        return min(1.0, self.threads / (os.cpu_count() or 1))


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
    return run_grid(config, out_dir, RunOptions(
        device=device, progress=progress, threads=threads, executor=executor,
        log_to=log_to, pack=pack, gpus_per_task=gpus_per_task), console=console)


def run_grid(config: ExperimentConfig, out_dir: str | Path, options: RunOptions, *,
             console: Console | None = None) -> list[CellRecord]:
    """``run_experiment`` with its options already made (and so checked) once: what the
    command line calls."""
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig, got {type(config).__name__}")
    if not isinstance(options, RunOptions):
        raise TypeError(f"options must be RunOptions, got {type(options).__name__}")
    task = get_task(config.task)
    if options.pack != 1 and not task.packable:
        raise ValueError(f"pack does not apply to task {task.name!r} (it trains its cells "
                         f"itself, not as packable networks); use pack=1, got "
                         f"pack={options.pack!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a folder, got the file {out_dir}")
    config_text = experiment_config_text(config, out_dir)
    console = console or Console()
    grid = cells(config)
    finished = [(out_dir / cell.key / "metrics.json").exists() for cell in grid]
    pending = [i for i, f in enumerate(finished) if not f]
    ray = ray_init(options) if options.executor == "ray" and pending else None
    plan = pack_plan(config, grid, pending, out_dir, options.pack, device=options.device,
                     threads=options.threads, share=options.share, console=console)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.toml", config_text)
    records: dict[int, CellRecord] = {}
    for i, done in enumerate(finished):
        if done:
            console.print(f"[dim][{i + 1}/{len(grid)}] {grid[i].key}: done, skipped[/dim]")
            records[i] = CellRecord(grid[i], out_dir / grid[i].key,
                                    read_metrics(out_dir / grid[i].key))
    if ray is not None:
        records.update(run_on_ray(ray, config, task, grid, plan, out_dir, console, options))
    else:
        records.update(run_locally(config, grid, plan, out_dir, console, options))
    return [records[i] for i in sorted(records)]


def run_locally(config: ExperimentConfig, grid: list[Cell], plan: list[list[int]],
                out_dir: Path, console: Console, options: RunOptions) -> dict[int, CellRecord]:
    """Run the packs of ``plan`` (lists of indices into ``grid``; a lone cell is a pack of
    one) one after the other in this process; the records of the cells run.

    Raises:
        RuntimeError: after every pack has run, when members of packs failed (their loss
            turned NaN), naming them.
    """
    cell_args = dict(device=options.device, threads=options.threads, log_to=options.log_to,
                     progress=options.progress, console=console)
    records: dict[int, CellRecord] = {}
    failed, busy = [], []
    for members in plan:
        try:
            out = run_members(config, grid, members, out_dir, console, cell_args)
        except CellBusy:  # another run on this folder is training them: left to it
            for i in members:
                console.print(f"[yellow][{i + 1}/{len(grid)}] {grid[i].key}: another run is "
                              "training it, skipped[/yellow]")
            busy.extend(members)
            continue
        for i, record in zip(members, out, strict=True):
            if record is None:
                failed.append(grid[i].key)
            else:
                records[i] = record
    if busy:
        console.print(f"{len(busy)} cell(s) left to the run training them; run again once it "
                      "has ended to collect them")
    if failed:
        raise UserError(f"{len(failed)} cell(s) failed (loss turned NaN in a pack): "
                           f"{', '.join(failed)}; the others are recorded")
    return records


def run_members(config: ExperimentConfig, grid: list[Cell], members: list[int], out_dir: Path,
                console: Console, cell_args: dict[str, Any]) -> list[CellRecord | None]:
    """Run one entry of a pack plan here: a lone cell (``run_cell``) or a pack (``run_pack``);
    one record per member (``None``: its loss turned NaN)."""
    if len(members) == 1:
        i = members[0]
        cell, cell_dir = grid[i], out_dir / grid[i].key
        resuming = (cell_dir / "checkpoint.pt").exists()
        console.print(f"[bold][{i + 1}/{len(grid)}] {cell.key}[/bold]"
                      + (" (resuming)" if resuming else ""))
        return [run_cell(config, cell, cell_dir, **cell_args)]
    console.print(f"[bold][{', '.join(str(i + 1) for i in members)}/{len(grid)}] a pack "
                  f"of {len(members)}: {', '.join(grid[i].key for i in members)}[/bold]")
    return run_pack(config, [grid[i] for i in members], out_dir, **cell_args)


def ray_init(options: RunOptions) -> Any:
    """Ray, initialised (joining ``$RAY_ADDRESS`` or starting one here), checked to have a GPU
    when the tasks need one."""
    try:
        import ray  # optional extra: qlatent[cluster]
    except ImportError as err:
        raise ImportError("executor='ray' needs Ray: pip install 'qlatent[cluster]'") from err
    if not ray.is_initialized():
        ray.init(log_to_driver=True)  # the tasks' progress lines reach this terminal
    if options.device.startswith("cuda") and not ray.cluster_resources().get("GPU", 0):
        raise ValueError(f"device={options.device!r} with executor 'ray' needs a GPU in the Ray "
                         f"cluster, which has none (resources: {ray.cluster_resources()})"
                         + (f"; gpus_per_task={options.gpus_per_task:g} cannot be placed"
                            if options.gpus_per_task is not None else ""))
    return ray


def run_on_ray(ray: Any, config: ExperimentConfig, task: Task, grid: list[Cell],
               plan: list[list[int]], out_dir: Path, console: Console,
               options: RunOptions) -> dict[int, CellRecord]:
    """Run the packs of ``plan`` (lists of indices into ``grid``; a lone cell is a pack of
    one) as Ray tasks; the records of the cells that finished.

    The task's caches are built here first (``task.warm``). A failed task (or a member whose
    loss turned NaN) does not stop the others; after all have ended, a ``RuntimeError`` names
    the failed cells (their checkpoints stay, so running the grid again resumes them)."""
    if not plan:
        return {}
    device, threads = options.device, options.threads
    gpus = (options.gpus_per_task or 1.0) if device.startswith("cuda") else 0.0
    warm_device = device if device.startswith("cuda") and torch.cuda.is_available() else "cpu"
    task.warm(config, device=warm_device)
    remote = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=0)(ray_pack)
    futures = {remote.remote(config, task, [grid[i] for i in members], str(out_dir), device,
                             threads, options.log_to, options.progress): members
               for members in plan}
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


def ray_pack(config: ExperimentConfig, task: Task, cells: list[Cell], out_dir: str,
             device: str, threads: int, log_to: tuple[str, ...],
             progress: bool = True) -> list[CellRecord | None]:
    """One Ray task: a pack (or a lone cell), its output in ``out_dir``. Its console and its
    training progress print plain lines (a worker's streams are not terminals), which Ray
    forwards to the driver (``log_to_driver``) prefixed by the worker. The task travels with
    it, so a task registered only in the driver (user code) runs as well."""
    try:
        get_task(task.name)
    except ValueError:
        register_task(task)
    plain = Console(force_terminal=False, highlight=False)
    if len(cells) == 1:
        return [run_cell(config, cells[0], Path(out_dir) / cells[0].key, device=device,
                         console=plain, progress=progress, threads=threads, log_to=log_to)]
    return run_pack(config, cells, Path(out_dir), device=device, console=plain,
                    progress=progress, threads=threads, log_to=log_to)
