"""A stand-in for the shared loop skeleton (``train/skeleton.py``, being written in parallel):
the loop that drives a *stepper* (an object with ``step``, ``row``, ``state_dict``,
``load_state_dict`` and ``modules``), with checkpoint + bit-identical resume, ``log.jsonl``,
callbacks, a progress bar and a NaN guard naming the step.

A stepper draws all its randomness from generators whose states are in its ``state_dict``, so
a run resumed from a checkpoint ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from qlatent._io import atomic_write
from qlatent._progress import progress_bar
from qlatent._validation import check_int

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
RESUMABLE = ("steps", "log_every", "checkpoint_every")
"""Config fields that may change between a run and its resumption."""

Callback = Callable[[int, dict[str, Any]], None]


class Stepper(Protocol):
    """What ``run_steps`` drives."""

    def step(self, step: int) -> None:
        """One update (``step`` counts from 1); raises ``FloatingPointError`` naming ``step``
        on a non-finite loss, before it changes any parameter."""

    def row(self) -> dict[str, Any]:
        """The figures of a log row (the loop adds ``step`` and ``seconds``)."""

    def state_dict(self) -> dict[str, Any]:
        """Everything the next steps depend on (weights, optimiser and generator states)."""

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...

    def modules(self) -> dict[str, nn.Module]:
        """The trained modules by name (their parameters are checked after every step)."""


@dataclass
class TrainResult:
    """What a trainer returns: ``history`` (one dict per log row), ``steps`` done, ``seconds``
    of this call, ``resumed_from`` (checkpoint step, ``None``: from scratch), ``run_dir``,
    ``failed_at`` (always ``None`` here: a solo run raises), ``extra``."""

    history: list[dict[str, Any]]
    steps: int
    seconds: float
    resumed_from: int | None = None
    run_dir: Path | None = None
    failed_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def check_finite(name: str, what: str, value: torch.Tensor, step: int, hint: str = "") -> None:
    """Raise ``FloatingPointError`` ("<name>: <what> is nan at step 7 (hint)") unless
    ``value`` is finite."""
    value = value.detach()
    if not bool(torch.isfinite(value).all()):
        shown = float(value) if value.numel() == 1 else "not finite"
        raise FloatingPointError(f"{name}: {what} is {shown} at step {step}"
                                 + (f" ({hint})" if hint else ""))


def _check_parameters(name: str, modules: Mapping[str, nn.Module], step: int) -> None:
    for label, module in modules.items():
        for pname, p in module.named_parameters():
            if not bool(torch.isfinite(p.detach()).all()):
                raise FloatingPointError(f"{name}: parameter {pname!r} of the {label} became "
                                         f"non-finite at step {step} (lower lr?)")


def run_steps(stepper: Stepper, *, name: str, steps: int, log_every: int,
              checkpoint_every: int, config: Mapping[str, Any], seed: int,
              run_dir: str | Path | None = None, resume: bool = True, progress: bool = False,
              callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Run ``stepper`` from step 1 (or its checkpoint) to ``steps``.

    Args:
        name: the trainer's name in messages (e.g. ``"fit_distribution"``).
        steps, log_every, checkpoint_every: as the trainer's config (0: checkpoint at the end).
        config: the trainer's config as plain values (recorded; a resume may change only
            ``RESUMABLE``).
        seed: recorded; a resume with another seed is refused.
        run_dir: where ``checkpoint.pt`` and ``log.jsonl`` go (``None``: nowhere).
        resume: continue from ``run_dir/checkpoint.pt`` when it exists.
        callbacks: ``f(step, info)`` after every step, ``info`` holding ``modules`` and ``row``
            (the log row on log steps, else ``None``); an exception there stops training.
    """
    steps = check_int("steps", steps, minimum=0)
    log_every = check_int("log_every", log_every, minimum=1)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, minimum=0)
    callbacks = tuple(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables f(step, info), got {cb!r}")
    run_dir = None if run_dir is None else Path(run_dir)
    config = dict(config)
    ckpt = None if run_dir is None else run_dir / CHECKPOINT
    history: list[dict[str, Any]] = []
    start, resumed_from, prior_seconds = 0, None, 0.0
    if ckpt is not None and resume and ckpt.exists():
        state = _load(ckpt)
        _check_resumable(state, config, seed, ckpt)
        stepper.load_state_dict(state["trainer"])
        start = resumed_from = int(state["step"])
        history = list(state["history"])
        prior_seconds = float(state["seconds"])
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / LOG, lambda p: p.write_text(
            "".join(json.dumps(h) + "\n" for h in history)))

    def save(step: int, seconds: float) -> None:
        if ckpt is not None:
            state = {"step": step, "seconds": seconds, "seed": seed, "config": config,
                     "history": history, "trainer": stepper.state_dict()}
            atomic_write(ckpt, lambda p: torch.save(state, p))

    modules = stepper.modules()
    log_file = None if run_dir is None else open(run_dir / LOG, "a")  # noqa: SIM115
    bar = None
    if progress:
        bar, task = progress_bar(name, steps, completed=start, transient=True)
        bar.start()
    t0 = time.perf_counter()
    try:
        for step in range(start + 1, steps + 1):
            stepper.step(step)
            _check_parameters(name, modules, step)
            row = None
            if step % log_every == 0 or step == steps:
                row = {"step": step, **stepper.row(),
                       "seconds": round(prior_seconds + time.perf_counter() - t0, 3)}
                history.append(row)
                if log_file is not None:
                    log_file.write(json.dumps(row) + "\n")
                    log_file.flush()
            if bar is not None:
                bar.update(task, completed=step)
            if step == steps or (checkpoint_every and step % checkpoint_every == 0):
                save(step, prior_seconds + time.perf_counter() - t0)
            for cb in callbacks:
                cb(step, {"modules": modules, "row": None if row is None else dict(row)})
    finally:
        if bar is not None:
            bar.stop()
        if log_file is not None:
            log_file.close()
    return TrainResult(history=history, steps=max(start, steps),
                       seconds=time.perf_counter() - t0, resumed_from=resumed_from,
                       run_dir=run_dir)


def _load(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # refused pickles and damaged files alike: never unpickled
        raise ValueError(f"{path} is not a readable weights-only checkpoint "
                         f"({type(err).__name__}); delete it or use another run_dir") from err
    keys = ("step", "seconds", "seed", "config", "history", "trainer")
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise ValueError(f"{path} is not a checkpoint of this trainer (it needs "
                         f"{', '.join(keys)})")
    return state


def _check_resumable(state: Mapping[str, Any], config: Mapping[str, Any], seed: int,
                     path: Path) -> None:
    if int(state["seed"]) != seed:
        raise ValueError(f"{path} was written with seed {state['seed']}, not {seed}; resume "
                         f"with seed={state['seed']}, or use another run_dir or resume=False")
    saved = state["config"]
    diff = sorted(k for k in set(config) | set(saved)
                  if k not in RESUMABLE and saved.get(k) != config.get(k))
    if diff:
        raise ValueError(f"{path} was written with a different config ("
                         + ", ".join(f"{k}: {saved.get(k)!r} -> {config.get(k)!r}"
                                     for k in diff)
                         + "); use another run_dir or resume=False")
