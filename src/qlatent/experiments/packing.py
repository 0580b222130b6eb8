"""Packs: which pending cells of a grid train together as one batched model, and how many fit.

With ``pack=N`` (or ``"auto"``) the pending cells that share an architecture (same dataset and
latent length) and a latent learning rate train as packs of up to N cells
(``qlatent.experiments.cell.run_pack``, ``qlatent.train.fit_pack``). ``"auto"`` takes the
largest pack the device's free memory holds (``qlatent.train.memory``: parameters, optimiser
state, activations and batches per member, estimated from one cell's networks); an explicit N
that does not fit is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from qlatent._validation import check_int
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.grid import seeds_of
from qlatent.experiments.tasks import Cell, CellContext, get_task, make_latent
from qlatent.train.memory import (
    FILL,
    available_memory,
    estimate_member_memory,
    pack_size_that_fits,
)

AUTO = "auto"
"""The ``pack`` value that sizes packs from the device's free memory."""
GroupKey = tuple[str, int, float]
"""The cells that may share a pack: ``(dataset, latent_dim, latent_lr)``."""


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


def pack_plan(config: ExperimentConfig, grid: Sequence[Cell], pending: Sequence[int],
              out_dir: Path, pack: int | str, *, device: str = "cpu", threads: int = 1,
              share: float = 1.0, console: Console | None = None) -> list[list[int]]:
    """The packs (lists of grid indices) the ``pending`` cells train in, sized for memory.

    For every architecture (dataset, latent length) with more than one pending cell, one cell
    is built and ``qlatent.train.memory.estimate_member_memory`` gives the bytes of one member;
    ``share`` × ``available_memory(device)`` (the part of this machine's device one pack gets:
    1 with the local executor) bounds the pack: ``pack="auto"`` takes the largest that fits,
    an explicit size that does not fit raises a ValueError naming the size and the estimate.
    Packs never mix architectures (``plan_packs``). ``pack`` arrives checked
    (``check_pack``).
    """
    if pack == 1:
        return plan_packs(config, grid, pending, out_dir, 1)
    groups = architecture_groups(config, grid, pending, out_dir)
    sizes: dict[GroupKey, int] = {}
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
        built = get_task(config.task).build(CellContext(config, cell, seeds, out_dir / cell.key,
                                                        device))
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


def plan_packs(config: ExperimentConfig, grid: Sequence[Cell], pending: Sequence[int],
               out_dir: Path, size: int | Mapping[GroupKey, int]) -> list[list[int]]:
    """Group the ``pending`` cells of ``grid`` into packs of at most ``size`` cells that share
    an architecture and a training table (``architecture_groups``), in grid order; other cells
    never share a pack. ``size`` is one bound for all, or one per group key (``pack_plan``'s).
    A cell with a solo checkpoint of its own (an interrupted solo run) stays alone and resumes
    solo."""
    groups = architecture_groups(config, grid, pending, out_dir)
    grouped = {i for members in groups.values() for i in members}
    packs: list[list[int]] = [[i] for i in pending if i not in grouped]
    for key, members in groups.items():
        n = size if isinstance(size, int) else size.get(key, 1)
        n = check_int("size", n, minimum=1)
        packs.extend(members[j:j + n] for j in range(0, len(members), n))
    return sorted(packs, key=lambda members: members[0])


def architecture_groups(config: ExperimentConfig, grid: Sequence[Cell], pending: Sequence[int],
                        out_dir: Path) -> dict[GroupKey, list[int]]:
    """The pending cells that may pack, by ``(dataset, latent_dim, latent_lr)``: the same
    dataset and latent length build the same networks, and a pack trains at one latent
    learning rate (``ExperimentConfig.train_for``: a latent may set its own). A cell with its
    own solo checkpoint (an interrupted solo run) stays out and resumes solo."""
    groups: dict[GroupKey, list[int]] = {}
    for i in pending:
        cell = grid[i]
        if not (out_dir / cell.key / "checkpoint.pt").exists():
            key = (cell.dataset, cell.latent_dim, config.train_for(cell.latent).latent_lr)
            groups.setdefault(key, []).append(i)
    return groups
