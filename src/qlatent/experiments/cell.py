"""One cell of an experiment, from its directory's point of view: prepare (build the latent,
data and networks; write the resolved config and environment), train (alone, ``run_cell``, or
in a pack, ``run_pack``), finish (evaluate, plot, write ``metrics.json`` last), and read or
rebuild a finished one.

Layout of a cell directory ``OUT/<dataset>/<latent>-L<dim>/seed-<k>/``::

    config.toml, config.json         the cell's resolved config (+ its derived seeds)
    environment.json                 package versions, git sha, latent / data digests
    checkpoint.pt, log.jsonl         from qlatent.train.fit (resume point, loss log)
    loss.png, samples.png, ...       plots
    metrics.json                     written last: its presence marks the cell done
    .lock                            locked while a run trains the cell (``cell_locks``)

``rebuild_cell(cell_dir)`` turns a cell directory back into its config, seeds, networks (with
the trained weights) and latent.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from qlatent._io import atomic_write_json, atomic_write_text, digest
from qlatent.experiments.config import PER_RUN, ExperimentConfig, to_toml
from qlatent.experiments.grid import seeds_of
from qlatent.experiments.plotting import figure
from qlatent.experiments.provenance import environment, latent_record, training_differences
from qlatent.experiments.tasks import (
    Built,
    Cell,
    CellContext,
    CellRecord,
    CellSeeds,
    Metrics,
    Task,
    get_task,
)
from qlatent.models import pack, unpack
from qlatent.train import (
    Config,
    fit,
    fit_pack,
    is_trainable,
    load_checkpoint,
    member_checkpoint,
    save_checkpoint,
)


class CellBusy(RuntimeError):
    """Another run holds the lock of a cell: it is training it (``cell_locks``)."""

    def __init__(self, cell_dirs: Sequence[Path]) -> None:
        self.cell_dirs = list(cell_dirs)
        super().__init__("another run is training " + ", ".join(map(str, self.cell_dirs)))


@contextmanager
def cell_locks(cell_dirs: Sequence[Path]) -> Iterator[None]:
    """Hold an exclusive lock on each cell directory's ``.lock`` (``fcntl.flock``) while the
    block runs, so that two runs on one experiment directory never train one cell twice; the
    locks go when the block ends or the process dies.

    Raises:
        CellBusy: another process holds the lock of some of the cells (none is kept).
    """
    held, busy = [], []
    try:
        for cell_dir in cell_dirs:
            Path(cell_dir).mkdir(parents=True, exist_ok=True)
            fd = os.open(Path(cell_dir) / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                         0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                busy.append(Path(cell_dir))
                continue
            held.append(fd)
        if busy:
            raise CellBusy(busy)
        yield
    finally:
        for fd in held:
            os.close(fd)  # closing the descriptor releases its lock


@dataclass
class Prepared:
    """A cell built and recorded, ready to train: what ``run_cell`` and ``run_pack`` share.

    Attributes:
        task: the cell's task.
        ctx: the cell as the task's hooks see it.
        latent: the cell's latent.
        built: the task's data and networks.
        tables: the resolved config tables written to the cell's ``config.json``.
        build_seconds: wall time of building the latent, data and networks.
    """

    task: Task
    ctx: CellContext
    latent: torch.nn.Module
    built: Built
    tables: dict[str, Any]
    build_seconds: float


def prepare_cell(config: ExperimentConfig, cell: Cell, cell_dir: Path, *, device: str,
                 threads: int, progress: bool = False) -> Prepared:
    """Build the cell's latent, data and networks and write its resolved config and
    environment records."""
    task = get_task(config.task)
    cell_dir = Path(cell_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    seeds = seeds_of(config, cell)
    ctx = CellContext(config, cell, seeds, cell_dir, device, progress)
    t0 = time.perf_counter()
    built = task.build(ctx)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            latent = task.make_latent(ctx, built)
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
        {"latent": latent_record(latent), "task": built.info, "device": device}))
    return Prepared(task, ctx, latent, built, tables, build_seconds)


def finish_cell(p: Prepared, result: Any, console: Console, *, packed: int = 1) -> CellRecord:
    """Evaluate a trained cell, draw its loss plot and write ``metrics.json`` (last)."""
    t1 = time.perf_counter()
    cell, cell_dir = p.ctx.cell, p.ctx.cell_dir
    metrics = p.task.evaluate(p.ctx, p.built, p.latent)
    missing = [m.name for m in p.task.metrics if m.name not in metrics]
    if missing:
        raise RuntimeError(f"task {p.task.name!r} did not return metric(s) {missing}")
    loss_plot(result.history, cell_dir / "loss.png", cell.key)
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
    atomic_write_json(cell_dir / "metrics.json", record)
    summary = ", ".join(f"{m.name} {m.format(metrics[m.name])}" for m in p.task.metrics)
    console.print(f"    {cell.key}: {summary}  ({record['iterations_per_second']:.1f} it/s"
                  + (f", in a pack of {packed})" if packed > 1 else ")"))
    return CellRecord(cell, cell_dir, record["metrics"])


def run_cell(config: ExperimentConfig, cell: Cell, cell_dir: Path, *, device: str = "cpu",
             console: Console | None = None, progress: bool = True,
             threads: int | None = None, log_to: Sequence[str] = ()) -> CellRecord:
    """Build, train (resuming from a checkpoint), evaluate and record one cell.

    ``log_to``: experiment trackers (``qlatent.train.tracking.make_callbacks``, which checks
    the names) given the cell directory; see ``run_experiment`` for the other arguments,
    which it checks before calling this.
    """
    console = console or Console()
    threads = torch.get_num_threads() if threads is None else threads
    cell_dir = Path(cell_dir)
    with cell_locks([cell_dir]):
        if (cell_dir / "metrics.json").exists():  # another run finished it meanwhile
            return CellRecord(cell, cell_dir, read_metrics(cell_dir))
        p = prepare_cell(config, cell, cell_dir, device=device, threads=threads,
                         progress=progress)
        callbacks = cell_callbacks(p, tuple(log_to))
        result = p.task.train(p.ctx, p.built, p.latent)
        if result is None:
            try:
                result = fit(p.built.generator, p.built.critic, p.latent, p.built.data,
                             train_config(config, [cell], [p.latent]), seed=p.ctx.seeds.train,
                             device=device, progress=progress, run_dir=p.ctx.cell_dir,
                             resume=True, callbacks=callbacks)
            except FloatingPointError as err:  # the engine names the step, this the cell
                raise FloatingPointError(f"cell {cell.key}: {err}; its last checkpoint holds "
                                         "finite weights: lower the learning rate(s) and run "
                                         "again") from err
        return finish_cell(p, result, console)


def train_config(config: ExperimentConfig, cells: Sequence[Cell],
                 latents: Sequence[torch.nn.Module]) -> Config:
    """The ``[train]`` table for these cells (one, or a pack's) with these latents: the cells'
    ``ExperimentConfig.train_for`` (a pack's cells share it: ``architecture_groups``), whose
    ``latent_lr`` trains the latents that can be trained (a pack may mix them with fixed ones),
    so cells whose latents are all fixed get ``latent_lr = 0`` (the engine refuses
    ``latent_lr > 0`` with no trainable latent)."""
    train = config.train_for(cells[0].latent)
    if any(config.train_for(c.latent) != train for c in cells):
        raise ValueError(f"the cells of a pack must share their [train] table (latent_lr); got "
                         f"{', '.join(c.key for c in cells)}")
    if train.latent_lr == 0 or any(is_trainable(lat) for lat in latents):
        return train
    return train.replace(latent_lr=0.0)


def cell_callbacks(p: Prepared, log_to: tuple[str, ...]) -> list:
    """The cell's training callbacks: the task's, then the trackers' (in its directory)."""
    callbacks = list(p.task.callbacks(p.ctx, p.built, p.latent))
    if log_to:
        # optional extra: the trackers' packages (tensorboard) load only when asked for
        from qlatent.train.tracking import make_callbacks

        callbacks += list(make_callbacks(log_to, p.ctx.cell_dir))
    return callbacks


def run_pack(config: ExperimentConfig, cells: Sequence[Cell], out_dir: Path, *,
             device: str = "cpu", console: Console | None = None, progress: bool = True,
             threads: int | None = None, log_to: Sequence[str] = ()
             ) -> list[CellRecord | None]:
    """Train cells that share an architecture as one pack (``qlatent.train.fit_pack``), then
    evaluate and record each in its own directory exactly as ``run_cell`` does.

    Member k has everything its solo run has (seeds, latent, data, initialisation; in float64
    it follows that run exactly, in fp32 to round-off at first and then in distribution);
    each cell directory gets its own ``log.jsonl``, the task's callbacks (e.g. QM9's
    intermediate scores in ``progress.jsonl``) and the trackers of ``log_to`` (e.g.
    ``tensorboard/``) fed with its own member's figures, and, at the end, its own solo
    checkpoint (``member_checkpoint``), so ``qlatent report``, ``load_run`` and ``qlatent
    sample`` read it like any cell. The pack's own checkpoint lives in
    ``out_dir/.packs/<digest of the cells>/``: a killed pack resumes from it.

    Returns:
        One record per cell, ``None`` for a member whose loss turned NaN (reported, and its
        cell left without ``metrics.json``; the others are recorded).

    Raises:
        CellBusy: another run is training some of the cells (``cell_locks``).
    """
    out_dir = Path(out_dir)
    with cell_locks([out_dir / c.key for c in cells]):
        done = {c.key: CellRecord(c, out_dir / c.key, read_metrics(out_dir / c.key))
                for c in cells if (out_dir / c.key / "metrics.json").exists()}
        todo = [c for c in cells if c.key not in done]  # another run may have finished some
        trained = _train_pack(config, todo, out_dir, device=device, console=console,
                              progress=progress, threads=threads, log_to=log_to) if todo else []
    by_key = {**done, **{c.key: r for c, r in zip(todo, trained, strict=True)}}
    return [by_key[c.key] for c in cells]


def _train_pack(config: ExperimentConfig, cells: Sequence[Cell], out_dir: Path, *,
                device: str, console: Console | None, progress: bool, threads: int | None,
                log_to: Sequence[str]) -> list[CellRecord | None]:
    # run_pack's work, its cells locked.
    console = console or Console()
    threads = torch.get_num_threads() if threads is None else threads
    prepared = [prepare_cell(config, c, out_dir / c.key, device=device, threads=threads,
                             progress=progress) for c in cells]
    callbacks = [cell_callbacks(p, tuple(log_to)) for p in prepared]
    G = pack([p.built.generator for p in prepared])
    D = pack([p.built.critic for p in prepared])
    pack_dir = out_dir / ".packs" / digest([c.key for c in cells])[:16]
    result = fit_pack(G, D, [p.latent for p in prepared], [p.built.data for p in prepared],
                      train_config(config, cells, [p.latent for p in prepared]),
                      seeds=[p.ctx.seeds.train for p in prepared], device=device,
                      progress=progress, run_dir=pack_dir, resume=True,
                      member_dirs=[p.ctx.cell_dir for p in prepared], callbacks=callbacks)
    state = load_checkpoint(pack_dir / "checkpoint.pt")
    # Every trained member's own checkpoint first, then the evaluations: a run killed while
    # evaluating leaves each cell a solo resume point at the last step, so the rerun evaluates
    # (a new pack of the unfinished cells would have trained them again from step 0).
    for k, p in enumerate(prepared):
        if result.members[k].failed_at is None:
            save_checkpoint(p.ctx.cell_dir / "checkpoint.pt",
                            member_checkpoint(state, k, generator=G, critic=D))
    records: list[CellRecord | None] = []
    for k, (p, G_k, D_k) in enumerate(zip(prepared, unpack(G), unpack(D), strict=True)):
        if result.members[k].failed_at is not None:
            console.print(f"[red]    {p.ctx.cell.key}: failed, its loss turned NaN at step "
                          f"{result.members[k].failed_at}[/red]")
            records.append(None)
            continue
        p.built.generator, p.built.critic = G_k.eval(), D_k.eval()
        records.append(finish_cell(p, result.members[k], console, packed=len(cells)))
    return records


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
        train = {k: v for k, v in tables["train"].items() if k not in PER_RUN}
        config = ExperimentConfig.from_dict(
            {**{k: v for k, v in tables.items() if k not in ("cell", "seeds")}, "train": train})
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{path}: not a cell's config ({type(err).__name__}: {err})") from err
    return config, cell, recorded


def rebuild_cell(cell_dir: str | Path, *, weights: bool = True) -> RebuiltCell:
    """Rebuild a cell of ``run_experiment`` from its directory: the config from its resolved
    ``config.json`` (``read_cell``), the networks with ``task.build`` and
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
    ctx = CellContext(config, cell, seeds, cell_dir)
    built = task.build(ctx)
    latent = task.make_latent(ctx, built)
    step = steps = None
    if weights:
        step, steps = task.load_trained(ctx, built, latent, ckpt)
    return RebuiltCell(config, cell, seeds, built, latent, step, steps)


def loss_plot(history: list[dict[str, float]], path: Path, title: str) -> None:
    """The losses of a training ``history`` (``FitResult.history``) against the step."""
    if not history:
        return
    steps = [h["step"] for h in history]
    with figure(path, figsize=(5, 3)) as (_, axes):
        ax = axes[0][0]
        for key in ("loss_critic", "loss_generator", "wasserstein", "loss", "mmd2",
                    "free_energy_gap"):
            if key in history[0]:
                ax.plot(steps, [h[key] for h in history], label=key)
        ax.set_xlabel("generator step")
        ax.set_title(title)
        ax.legend()


def _bad(path: Path, what: str) -> ValueError:
    return ValueError(f"{path}: {what}; a cell's metrics.json is written by `qlatent run` "
                      "(delete the file to rerun that cell)")


def read_record(path: Path) -> tuple[CellRecord, int]:
    """A finished cell's record and its training steps, from its ``metrics.json`` at
    ``path``; a damaged file raises a one-line ValueError naming it."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise _bad(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from err
    except json.JSONDecodeError as err:
        raise _bad(path, f"invalid JSON ({err.msg}: line {err.lineno}, column "
                         f"{err.colno})") from err
    if not isinstance(rec, dict):
        raise _bad(path, f"expected a JSON object, got {type(rec).__name__}")
    missing = [k for k in ("cell", "metrics", "steps") if k not in rec]
    if missing:
        raise _bad(path, f"missing key(s) {', '.join(map(repr, missing))}")
    c = rec["cell"]
    types = {"dataset": str, "latent": str, "latent_dim": int, "seed": int}
    if not isinstance(c, dict) or any(
            not isinstance(c.get(k), t) or isinstance(c.get(k), bool) for k, t in types.items()):
        raise _bad(path, "'cell' must hold dataset (str), latent (str), latent_dim (int) and "
                         f"seed (int), got {c!r}"[:300])
    metrics = rec["metrics"]
    if not isinstance(metrics, dict) or any(
            not isinstance(v, int | float) or isinstance(v, bool) for v in metrics.values()):
        raise _bad(path, "'metrics' must map metric names to numbers, got "
                         f"{metrics!r}"[:300])
    steps = rec["steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise _bad(path, f"'steps' must be a non-negative int, got {steps!r}")
    notes = rec.get("notes", {})
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise _bad(path, f"'notes' must map metric names to text, got {notes!r}"[:300])
    cell = Cell(c["dataset"], c["latent"], c["latent_dim"], c["seed"])
    return CellRecord(cell, path.parent, {k: float(v) for k, v in metrics.items()},
                      dict(notes)), steps


def read_metrics(cell_dir: Path) -> dict[str, float]:
    """The metrics a finished cell recorded (its ``metrics.json``, written last; checked by
    ``read_record``)."""
    return read_record(Path(cell_dir) / "metrics.json")[0].metrics


def check_trained_alike(config: ExperimentConfig, records: Sequence[CellRecord]) -> None:
    """Raise if a finished cell was trained differently from ``config`` (its resolved
    ``config.json`` against the experiment's, ``training_differences``): such cells must
    not be summarised or paired together. A cell without ``config.json`` is not checked.

    Raises:
        ValueError: names the first such cell and every differing field.
    """
    for record in records:
        if not (record.run_dir / "config.json").is_file():
            continue
        cell_config, _, _ = read_cell(record.run_dir)
        differences = training_differences(cell_config, config)
        if differences:
            raise ValueError(
                f"{record.run_dir} was trained differently from its experiment's "
                "config.toml: "
                + "; ".join(f"{key} = {cell!r} in the cell, {exp!r} in the experiment"
                            for key, (cell, exp) in differences.items())
                + "; cells trained differently are not paired: move it to an experiment of "
                "its own")

