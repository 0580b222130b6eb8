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
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from qlatent._io import atomic_write_json, atomic_write_text
from qlatent._validation import check_choice, check_int
from qlatent.experiments.config import ExperimentConfig, to_toml
from qlatent.experiments.tasks import Cell, CellRecord, Metrics, cell_seeds, get_task
from qlatent.train import fit

LatentFactory = Callable[..., torch.nn.Module]
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
    """The grid, seed by seed, then dataset, latent length, and latents in config order."""
    return [Cell(ds, lat, dim, seed) for seed in config.seeds for ds in config.datasets
            for dim in config.latent_dims for lat in config.latents]


def make_latent(name: str, *, dim: int, seed: int, params: dict[str, Any]) -> torch.nn.Module:
    """The default latent factory: ``qlatent.latents.get(name, dim=dim, seed=seed, **params)``."""
    from qlatent import latents

    return latents.get(name, dim=dim, seed=seed, **params)


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
                   latent_factory: LatentFactory | None = None,
                   threads: int | None = None, executor: str = "local") -> list[CellRecord]:
    """Run every cell of ``config`` into ``out_dir`` (see the module docstring).

    Args:
        config: the experiment.
        out_dir: the experiment directory (created; reused to skip / resume cells).
        device: ``"cpu"`` or ``"cuda"``.
        console: where progress lines go (default: a new rich Console).
        progress: show the training progress bar.
        latent_factory: ``f(name, *, dim, seed, params) -> LatentDistribution`` (default
            ``make_latent``, i.e. ``qlatent.latents.get``).
        threads: torch CPU threads for training, set before each cell's training (default:
            torch's count when this is called; 1 with Ray, where it is also the CPUs each
            task asks for). Building a bank can change torch's thread count through numba's
            OpenMP layer; the runner sets it back.
        executor: ``"local"`` or ``"ray"`` (see the module docstring).

    Returns:
        The records of all finished cells of the grid (done before or now).
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig, got {type(config).__name__}")
    task = get_task(config.task)
    task.check(config)
    check_choice("executor", executor, EXECUTORS)
    console = console or Console()
    factory = latent_factory or make_latent
    if threads is None:
        threads = 1 if executor == "ray" else torch.get_num_threads()
    check_int("threads", threads, minimum=1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_experiment_config(config, out_dir)
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
    cell_args = dict(device=device, latent_factory=factory, threads=threads)
    if executor == "ray":
        records.update(_run_on_ray(config, grid, pending, out_dir, console, **cell_args))
    else:
        for i in pending:
            cell, cell_dir = grid[i], out_dir / grid[i].key
            resuming = (cell_dir / "checkpoint.pt").exists()
            console.print(f"[bold][{i + 1}/{len(grid)}] {cell.key}[/bold]"
                          + (" (resuming)" if resuming else ""))
            records[i] = run_cell(config, cell, cell_dir, console=console, progress=progress,
                                  **cell_args)
    return [records[i] for i in sorted(records)]


def _run_on_ray(config: ExperimentConfig, grid: list[Cell], pending: list[int], out_dir: Path,
                console: Console, *, device: str, latent_factory: LatentFactory,
                threads: int) -> dict[int, CellRecord]:
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
    task = ray.remote(num_cpus=threads, num_gpus=1 if device.startswith("cuda") else 0,
                      max_retries=0)(_ray_cell)
    futures = {task.remote(config, grid[i], str(out_dir / grid[i].key), device,
                           latent_factory, threads): i for i in pending}
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


def _ray_cell(config: ExperimentConfig, cell: Cell, cell_dir: str, device: str,
              latent_factory: LatentFactory, threads: int) -> CellRecord:
    # One Ray task: the cell, its output in cell_dir (no console, no progress bar).
    return run_cell(config, cell, Path(cell_dir), device=device,
                    console=Console(quiet=True), progress=False,
                    latent_factory=latent_factory, threads=threads)


def _write_experiment_config(config: ExperimentConfig, out_dir: Path) -> None:
    path = out_dir / "config.toml"
    text = to_toml(config.to_dict())
    if path.exists():
        # Keep the union of seeds / latents / datasets already run here.
        import tomllib

        old = ExperimentConfig.from_dict(tomllib.loads(path.read_text()))
        merged = config.replace(
            seeds=tuple(dict.fromkeys(old.seeds + config.seeds)),
            latents=tuple(dict.fromkeys(old.latents + config.latents)),
            datasets=tuple(dict.fromkeys(old.datasets + config.datasets)),
            latent_dims=tuple(dict.fromkeys(old.latent_dims + config.latent_dims)))
        text = to_toml(merged.to_dict())
    atomic_write_text(path, text)


def run_cell(config: ExperimentConfig, cell: Cell, cell_dir: Path, *, device: str = "cpu",
             console: Console | None = None, progress: bool = True,
             latent_factory: LatentFactory | None = None,
             threads: int | None = None) -> CellRecord:
    """Build, train (resuming from a checkpoint), evaluate and record one cell."""
    task = get_task(config.task)
    console = console or Console()
    factory = latent_factory or make_latent
    threads = torch.get_num_threads() if threads is None else threads
    cell_dir.mkdir(parents=True, exist_ok=True)
    seeds = cell_seeds(cell.seed, cell.latent, paired_circuits=config.paired_circuits,
                       latent_dim=cell.latent_dim)
    t0 = time.perf_counter()
    latent = factory(cell.latent, dim=cell.latent_dim, seed=seeds.latent,
                     params=dict(config.latent_params.get(cell.latent, {})))
    built = task.build(config, cell, seeds)
    torch.set_num_threads(threads)  # bank building (numba, OpenMP) may have changed it
    t_build = time.perf_counter() - t0
    train_config = config.train.replace(seed=seeds.train, device=device, progress=progress)
    cell_tables = config.to_dict()
    cell_tables["cell"] = {"dataset": cell.dataset, "latent": cell.latent,
                           "latent_dim": cell.latent_dim, "seed": cell.seed}
    cell_tables["seeds"] = {"data_entropy": list(seeds.data.entropy),
                            "latent": str(seeds.latent), "model": str(seeds.model),
                            "train": str(seeds.train), "evaluate": str(seeds.evaluate)}
    cell_tables["train"] = train_config.to_dict()
    atomic_write_text(cell_dir / "config.toml", to_toml(cell_tables))
    atomic_write_json(cell_dir / "config.json", cell_tables)
    atomic_write_json(cell_dir / "environment.json", environment(
        {"latent": _latent_record(latent), "task": built.info, "device": device}))
    # Optional task hook: callbacks f(step, info) for fit (e.g. intermediate scores).
    hook = getattr(task, "callbacks", None)
    callbacks = hook(built, latent, config, cell, seeds, run_dir=cell_dir) if hook else ()
    result = fit(built.generator, built.critic, latent, built.data, train_config,
                 run_dir=cell_dir, resume=True, callbacks=callbacks)
    t1 = time.perf_counter()
    metrics = task.evaluate(built, latent, config, cell, seeds, run_dir=cell_dir)
    missing = [m.name for m in task.metrics if m.name not in metrics]
    if missing:
        raise RuntimeError(f"task {task.name!r} did not return metric(s) {missing}")
    _loss_plot(result.history, cell_dir / "loss.png", cell.key)
    record = {
        "cell": cell_tables["cell"],
        "metrics": {k: float(v) for k, v in metrics.items()},
        # Why a metric is NaN (e.g. "FCD off"), as the task recorded it; the report shows it.
        "notes": dict(metrics.notes) if isinstance(metrics, Metrics) else {},
        "steps": result.steps,
        "train_seconds": result.history[-1]["seconds"] if result.history else result.seconds,
        "iterations_per_second": (result.steps - (result.resumed_from or 0))
        / max(result.seconds, 1e-9),
        "build_seconds": round(t_build, 3),
        "evaluate_seconds": round(time.perf_counter() - t1, 3),
        "resumed_from": result.resumed_from,
    }
    atomic_write_json(cell_dir / "metrics.json", record)
    summary = ", ".join(f"{m.name} {m.format(metrics[m.name])}" for m in task.metrics)
    console.print(f"    {summary}  ({record['iterations_per_second']:.1f} it/s)")
    return CellRecord(cell, cell_dir, record["metrics"])


def _loss_plot(history: list[dict[str, float]], path: Path, title: str) -> None:
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3))
    for key in ("loss_critic", "loss_generator", "wasserstein"):
        ax.plot(steps, [h[key] for h in history], label=key)
    ax.set_xlabel("generator step")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
