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

Executors: ``"local"`` runs the cells one after the other in this process; ``"ray"`` hands
every pending cell to Ray as one task (``pip install 'qlatent[cluster]'``), so the cells of a
grid run side by side on every core, GPU and node of a Ray cluster. ``ray.init()`` joins the
cluster named by ``$RAY_ADDRESS`` (e.g. ``auto`` on a node of a running cluster) or starts one
on this machine. Each task asks for ``threads`` CPUs and, with ``device="cuda"``, one GPU. The
experiment directory must be on a file system every node sees; a cell's checkpoint and its
``metrics.json`` there make the grid resumable whichever executor ran it.

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
import platform
import subprocess
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from qlatent._io import atomic_write_json, atomic_write_text
from qlatent._validation import check_choice, check_device, check_int
from qlatent.experiments.config import _PER_RUN, ExperimentConfig, to_toml
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
from qlatent.train import fit, load_checkpoint

EXECUTORS = ("local", "ray")


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
    seed=seeds.latent, **config.latent_params[cell.latent])``."""
    from qlatent import latents

    return latents.get(cell.latent, dim=cell.latent_dim, seed=seeds.latent,
                       **dict(config.latent_params.get(cell.latent, {})))


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
                   log_to: Sequence[str] = (), pack: int = 1) -> list[CellRecord]:
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
        log_to: experiment trackers fed by every cell's training
            (``qlatent.train.tracking.TRACKERS``, e.g. ``("tensorboard",)``); none by default.
        pack: train up to this many pending cells that share an architecture as one pack
            (``run_pack``; local executor, no trackers); 1 trains every cell alone.

    Returns:
        The records of all finished cells of the grid (done before or now).

    Raises:
        TypeError, ValueError: a bad argument, before anything is written.
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
    pack = check_int("pack", pack, minimum=1)
    if pack > 1 and not task.packable:
        raise ValueError(f"pack > 1 does not apply to task {task.name!r} (it trains its cells "
                         f"itself, not as packable networks); use pack=1, got pack={pack}")
    if pack > 1 and executor != "local":
        raise ValueError(f"pack > 1 runs on the local executor only (packs as Ray tasks are "
                         f"not built yet), got pack={pack} with executor={executor!r}")
    if pack > 1 and log_to:
        raise ValueError(f"pack > 1 does not feed experiment trackers yet, got pack={pack} "
                         f"with log_to={list(log_to)}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a folder, got the file {out_dir}")
    config_text = _experiment_config_text(config, out_dir)
    console = console or Console()
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.toml", config_text)
    grid = cells(config)
    records: dict[int, CellRecord] = {}
    pending = []
    for i, cell in enumerate(grid):
        cell_dir = out_dir / cell.key
        done = cell_dir / "metrics.json"
        if done.exists():
            metrics = json.loads(done.read_text())["metrics"]
            console.print(f"[dim][{i + 1}/{len(grid)}] {cell.key}: done, skipped[/dim]")
            records[i] = CellRecord(cell, cell_dir, metrics)
        else:
            pending.append(i)
    cell_args = dict(device=device, threads=threads, log_to=log_to)
    if executor == "ray":
        records.update(_run_on_ray(config, task, grid, pending, out_dir, console, **cell_args))
    else:
        failed = []
        for members in plan_packs(config, grid, pending, out_dir, pack):
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
            out = run_pack(config, [grid[i] for i in members], out_dir, device=device,
                           console=console, progress=progress, threads=threads)
            for i, record in zip(members, out, strict=True):
                if record is None:
                    failed.append(grid[i].key)
                else:
                    records[i] = record
        if failed:
            raise RuntimeError(f"{len(failed)} cell(s) failed (loss turned NaN in a pack): "
                               f"{', '.join(failed)}; the others are recorded")
    return [records[i] for i in sorted(records)]


def _run_on_ray(config: ExperimentConfig, task: Task, grid: list[Cell], pending: list[int],
                out_dir: Path, console: Console, *, device: str, threads: int,
                log_to: tuple[str, ...]) -> dict[int, CellRecord]:
    """Run the ``pending`` cells of ``grid`` as Ray tasks; the records of those that finished.

    A failed cell does not stop the others; after all have ended, a ``RuntimeError`` names the
    failed ones (their checkpoints stay, so running the grid again resumes them)."""
    try:
        import ray
    except ImportError as err:
        raise ImportError("executor='ray' needs Ray: pip install 'qlatent[cluster]'") from err
    if not pending:
        return {}
    if not ray.is_initialized():
        ray.init(log_to_driver=False)
    remote = ray.remote(num_cpus=threads, num_gpus=1 if device.startswith("cuda") else 0,
                        max_retries=0)(_ray_cell)
    futures = {remote.remote(config, task, grid[i], str(out_dir / grid[i].key), device,
                             threads, log_to): i for i in pending}
    console.print(f"[bold]{len(futures)} cell(s) submitted to Ray[/bold] "
                  f"({threads} CPU(s){', 1 GPU' if device.startswith('cuda') else ''} each; "
                  f"cluster: {ray.cluster_resources()})")
    records: dict[int, CellRecord] = {}
    failed: list[str] = []
    waiting = list(futures)
    while waiting:
        ready, waiting = ray.wait(waiting, num_returns=1)
        i = futures[ready[0]]
        try:
            records[i] = ray.get(ready[0])
        except Exception as err:  # noqa: BLE001 - reported below, the other cells go on
            cause = getattr(err, "cause", None) or err  # a RayTaskError wraps the cell's error
            failed.append(f"{grid[i].key}: {type(cause).__name__}: {cause}")
            console.print(f"[red][{i + 1}/{len(grid)}] {grid[i].key}: failed[/red]")
            continue
        summary = ", ".join(f"{k} {v:.4g}" for k, v in records[i].metrics.items())
        console.print(f"[{i + 1}/{len(grid)}] {grid[i].key}: {summary}")
    if failed:
        raise RuntimeError(f"{len(failed)} cell(s) failed on Ray (run the grid again to resume "
                           "them):\n" + "\n".join(failed))
    return records


def _ray_cell(config: ExperimentConfig, task: Task, cell: Cell, cell_dir: str, device: str,
              threads: int, log_to: tuple[str, ...]) -> CellRecord:
    # One Ray task: the cell, its output in cell_dir (no console, no progress bar). The task
    # travels with it, so a task registered only in the driver (user code) runs as well.
    try:
        get_task(task.name)
    except ValueError:
        register_task(task)
    return run_cell(config, cell, Path(cell_dir), device=device,
                    console=Console(quiet=True), progress=False, threads=threads,
                    log_to=log_to)


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
    latent = task.make_latent(config, cell, seeds, built)
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
    callbacks = list(p.task.callbacks(p.built, p.latent, config, cell, p.seeds,
                                      run_dir=p.cell_dir))
    if log_to:
        from qlatent.train.tracking import make_callbacks

        callbacks += list(make_callbacks(log_to, p.cell_dir))
    result = p.task.train(p.built, p.latent, config, cell, p.seeds, run_dir=p.cell_dir,
                          device=device, progress=progress)
    if result is None:
        result = fit(p.built.generator, p.built.critic, p.latent, p.built.data, config.train,
                     seed=p.seeds.train, device=device, progress=progress, run_dir=p.cell_dir,
                     resume=True, callbacks=callbacks)
    return _finish_cell(config, p, result, console)


def run_pack(config: ExperimentConfig, cells: Sequence[Cell], out_dir: Path, *,
             device: str = "cpu", console: Console | None = None, progress: bool = True,
             threads: int | None = None) -> list[CellRecord | None]:
    """Train cells that share an architecture as one pack (``qlatent.train.fit_pack``), then
    evaluate and record each in its own directory exactly as ``run_cell`` does.

    Member k follows the trajectory of its solo run (same seeds, latent, data, initialisation);
    each cell directory gets its own ``log.jsonl`` and, at the end, its own solo checkpoint
    (``member_checkpoint``), so ``qlatent report``, ``load_run`` and ``qlatent sample`` read it
    like any cell. The pack's own checkpoint lives in ``out_dir/.packs/<digest of the cells>/``:
    a killed pack resumes from it. Task callbacks (e.g. QM9's intermediate scores) and trackers
    are not run in packs.

    Returns:
        One record per cell, ``None`` for a member whose loss turned NaN (reported, and its
        cell left without ``metrics.json``; the others are recorded).
    """
    from qlatent._io import digest
    from qlatent.models import pack, unpack
    from qlatent.train import fit_pack, load_checkpoint, member_checkpoint, save_checkpoint

    console = console or Console()
    threads = torch.get_num_threads() if threads is None else threads
    out_dir = Path(out_dir)
    prepared = [_prepare_cell(config, c, out_dir / c.key, device=device, threads=threads)
                for c in cells]
    G = pack([p.built.generator for p in prepared])
    D = pack([p.built.critic for p in prepared])
    pack_dir = out_dir / ".packs" / digest([c.key for c in cells])[:16]
    result = fit_pack(G, D, [p.latent for p in prepared], [p.built.data for p in prepared],
                      config.train, seeds=[p.seeds.train for p in prepared], device=device,
                      progress=progress, run_dir=pack_dir, resume=True,
                      member_dirs=[p.cell_dir for p in prepared])
    state = load_checkpoint(pack_dir / "checkpoint.pt")
    records: list[CellRecord | None] = []
    for k, (p, G_k, D_k) in enumerate(zip(prepared, unpack(G), unpack(D), strict=True)):
        if result.members[k].failed_at is not None:
            console.print(f"[red]    {p.cell.key}: failed, its loss turned NaN at step "
                          f"{result.members[k].failed_at}[/red]")
            records.append(None)
            continue
        save_checkpoint(p.cell_dir / "checkpoint.pt",
                        member_checkpoint(state, k, generator=G, critic=D))
        p.built.generator, p.built.critic = G_k.eval(), D_k.eval()
        records.append(_finish_cell(config, p, result.members[k], console, packed=len(cells)))
    return records


def plan_packs(config: ExperimentConfig, grid: Sequence[Cell], pending: Sequence[int],
               out_dir: Path, size: int) -> list[list[int]]:
    """Group the ``pending`` cells of ``grid`` into packs of at most ``size`` cells that share
    an architecture (same dataset and latent length: the task builds the same networks), in
    grid order. A cell with a solo checkpoint of its own (an interrupted solo run) stays alone
    and resumes solo."""
    groups: dict[tuple[str, int], list[int]] = {}
    packs: list[list[int]] = []
    for i in pending:
        cell = grid[i]
        if size == 1 or (out_dir / cell.key / "checkpoint.pt").exists():
            packs.append([i])
            continue
        groups.setdefault((cell.dataset, cell.latent_dim), []).append(i)
    for members in groups.values():
        packs.extend(members[j:j + size] for j in range(0, len(members), size))
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
    """

    config: ExperimentConfig
    cell: Cell
    seeds: CellSeeds
    built: Built
    latent: torch.nn.Module
    step: int | None = None


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
        weights: load the trained generator and critic from ``checkpoint.pt`` (read by
            ``qlatent.train.load_checkpoint``, weights-only: nothing is unpickled).

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
    step = None
    if weights:
        state = load_checkpoint(ckpt)  # names the file if it is not a clean checkpoint
        try:
            built.generator.load_state_dict(state["generator"])
            built.critic.load_state_dict(state["critic"])
        except (RuntimeError, TypeError, KeyError) as err:
            raise ValueError(f"{ckpt}: its networks do not fit the cell's "
                             f"({type(err).__name__}: {str(err).splitlines()[0]})") from err
        step = int(state["step"])
    return RebuiltCell(config, cell, seeds, built, latent, step)


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
