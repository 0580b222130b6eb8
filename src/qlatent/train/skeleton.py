"""The loop skeleton under every trainer: what gives a training loop its powers, written once.

A trainer (the adversarial engine, likelihood fitting, the Born-machine GAN, the VAE) says what
ONE step is and what its state is, by subclassing ``Trainer``; ``train`` runs the steps and
gives it, for free:

* a frozen typed config (``LoopConfig``, or any frozen dataclass with ``steps``,
  ``checkpoint_every``, ``log_every`` and ``to_dict``; ``ConfigBase`` gives ``replace``,
  ``to_dict`` and ``from_dict``), a docstring per field;
* checkpoints written atomically to ``run_dir/checkpoint.pt`` (``save_checkpoint``) every
  ``checkpoint_every`` steps and at the end, read back weights-only (``load_checkpoint``: a
  file that needs unpickling is refused), and a resume that ends bit-identical to an
  uninterrupted run, SIGKILL included: the checkpoint holds the trainer's state (weights,
  optimisers, random generators), the step, the history and the unlogged part of the log
  window;
* ``log.jsonl``: one JSON row per logged step (``log_every``), each figure the mean over the
  steps since the previous row (sums kept on the device, read back only then);
* callbacks ``f(step, info)`` after every step (``info["row"]``: the log row on logging
  steps), closed (``close()``) however training ends;
* a progress bar on a terminal, plain periodic lines otherwise (``qlatent._progress``);
* a guard against non-finite figures that names the step (``NonFiniteError``): a single run
  stops there, leaving its last checkpoint (never a non-finite state) as the resume point;
* one result type for every trainer (``FitResult``).

Members: a trainer may train K runs at once (a *pack*, ``members = K``): its step returns one
column of figures per member, each member has its own history, log folder and callbacks, and a
member whose figures turn non-finite is *failed* (its steps are no longer logged, its callbacks
no longer called; the trainer freezes it) while the others go on. ``members = None`` is a
single run: its checkpoint holds one history (``history``: a list of rows), a pack's a list of
K (with ``members`` and ``failed``, see ``qlatent.train.checkpoint``).

A minimal trainer (plain SGD on a least-squares fit, its batches from its own generator)::

    class Mean(Trainer):
        keys = ("loss",)

        def __init__(self, data, lr):
            self.mu = torch.zeros(1, requires_grad=True)
            self.opt = torch.optim.SGD([self.mu], lr=lr)
            self.data, self.rng = data, torch.Generator().manual_seed(0)

        def step(self, step):
            x = self.data[torch.randint(len(self.data), (8,), generator=self.rng)]
            loss = (x - self.mu).pow(2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            return loss.detach().reshape(1)

        def state_dict(self):
            return {"mu": self.mu.detach().clone(), "opt": self.opt.state_dict(),
                    "rng": self.rng.get_state()}

        def load_state_dict(self, state, path):
            with torch.no_grad():
                self.mu.copy_(state["mu"])
            self.opt.load_state_dict(state["opt"])
            self.rng.set_state(state["rng"])

    result = train(Mean(data, 0.1), LoopConfig(steps=100, log_every=10), run_dir="runs/mean")
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from qlatent._io import atomic_write
from qlatent._progress import progress_bar
from qlatent._validation import check_int
from qlatent.train.checkpoint import (
    CHECKPOINT,
    check_config_resumable,
    load_checkpoint,
    save_checkpoint,
)
from qlatent.train.config import ConfigBase

__all__ = ["LOG", "LOOP_KEYS", "Callback", "ConfigBase", "FitResult", "LoopConfig",
           "LossWindow", "NonFiniteError", "Trainer", "per_member", "restoring", "train"]

LOG = "log.jsonl"
"""The log's file name in a run (or member) directory."""
LOOP_KEYS = ("step", "seconds", "config", "history", "window")
"""The keys ``train`` writes in every checkpoint, beside the trainer's own state."""

Callback = Callable[[int, dict[str, Any]], None]


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class LoopConfig(ConfigBase):
    """What every training loop is told: how long it runs, how often it logs and saves.

    A trainer's own config may subclass it (adding its fields, each with a default) or be any
    frozen dataclass with these three fields and ``to_dict``.
    """

    steps: int = 1000
    """Number of steps (optimiser updates, or whatever the trainer calls one step), >= 1."""
    checkpoint_every: int = 1000
    """Steps between checkpoints when a run directory is given (0: only at the end)."""
    log_every: int = 100
    """Steps between log rows; a row holds the figures averaged over the steps since the
    previous one."""

    def __post_init__(self) -> None:
        check_int("steps", self.steps, minimum=1)
        check_int("checkpoint_every", self.checkpoint_every, minimum=0)
        check_int("log_every", self.log_every, minimum=1)


# --------------------------------------------------------------------------- result
@dataclass
class FitResult:
    """What a training run returns (every trainer; a pack returns one per member).

    Attributes:
        history: one dict per logged step (every ``config.log_every`` steps and the last):
            ``step``, the trainer's figures (``Trainer.keys``), each the mean over the logging
            window, i.e. over every step since the previous row, and ``seconds`` (training
            wall time so far). The sums are accumulated on the device in float64 and read
            back only at log steps; an interrupted window is saved in the checkpoint, so a
            resumed run logs the same means as an uninterrupted one.
        steps: steps done (a failed member: the last step before its failure).
        seconds: wall time of this call's training.
        resumed_from: the checkpoint step this call started from (``None``: from scratch).
        run_dir: where the checkpoint is (a pack's member: its log folder, or ``None``).
        failed_at: for a member of a pack, the step whose figures turned non-finite (NaN or
            ±inf); its history ends before it. ``None``: it did not fail.
        extra: what a trainer adds (its own figures, final evaluations).
    """

    history: list[dict[str, float]]
    steps: int
    seconds: float
    resumed_from: int | None = None
    run_dir: Path | None = None
    failed_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class NonFiniteError(FloatingPointError):
    """A single run's figures (or weights) turned non-finite: training stopped at ``step``.

    Attributes:
        step: the step that produced them (nothing of it was kept).
        what: what turned non-finite (e.g. "the loss", "the latent's parameter 'logits'").
    """

    def __init__(self, description: str, step: int, what: str) -> None:
        self.step, self.what = step, what
        super().__init__(
            f"{description}: {what} turned non-finite (NaN or inf) at step {step}; training "
            "stopped there (the last checkpoint, if any, holds the last finite state: lower "
            "the learning rate, or change what diverged)")


# --------------------------------------------------------------------------- log window
class LossWindow:
    """The running sums of a trainer's figures since the last log row, kept on the device.

    Figures are ``float[n]`` (a single run) or ``float[n, K]`` (a pack of K members: then
    ``members=K`` and ``member_means`` gives one row per member).

    Args:
        device: where the sums live.
        members: K, or ``None`` for a single run.
        keys: the figures' names, in the order of a step's figures (default: the adversarial
            engine's ``loss_critic``, ``loss_generator``, ``gradient_penalty``,
            ``wasserstein``).
    """

    def __init__(self, device: torch.device, *, members: int | None = None,
                 keys: Sequence[str] = ("loss_critic", "loss_generator", "gradient_penalty",
                                        "wasserstein")) -> None:
        self.keys = tuple(keys)
        lead = () if members is None else (members,)
        self.sum = torch.zeros(len(self.keys), *lead, dtype=torch.float64, device=device)
        self.count = 0

    def add(self, figures: Any) -> None:
        """Add one step's figures (a tensor, or an object with ``stacked()`` giving one)."""
        if not isinstance(figures, torch.Tensor):
            figures = figures.stacked()
        self.sum += figures.double()
        self.count += 1

    def mean(self) -> dict[str, float]:
        """The means since the last call (one read-back from the device); starts a new window."""
        if self.sum.dim() != 1:
            raise ValueError("a pack's loss window has one mean per member: use member_means")
        return self._take()[0]

    def member_means(self) -> list[dict[str, float]]:
        """A pack's means since the last call, one dict per member; starts a new window."""
        if self.sum.dim() != 2:
            raise ValueError("a solo loss window has one mean: use mean")
        return self._take()

    def _take(self) -> list[dict[str, float]]:
        if not self.count:
            raise ValueError("the loss window is empty")
        means = (self.sum / self.count).reshape(len(self.keys), -1).T.tolist()
        self.sum.zero_()
        self.count = 0
        return [dict(zip(self.keys, m, strict=True)) for m in means]

    def state_dict(self) -> dict[str, Any]:
        return {"sum": self.sum.cpu(), "count": self.count}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sum.copy_(state["sum"])
        self.count = int(state["count"])


# --------------------------------------------------------------------------- the trainer
@contextmanager
def restoring(path: Path, what: str) -> Iterator[None]:
    """Around a trainer's ``load_state_dict``: a checkpoint that does not fit (torch's
    ``load_state_dict`` raises ``RuntimeError`` or ``ValueError`` on other shapes, a missing
    entry ``KeyError``) becomes one ``ValueError`` that names the file and ``what`` it should
    have fitted, in one line."""
    try:
        yield
    except (KeyError, RuntimeError, ValueError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        said = " ".join(lines[:2])  # torch: a heading, then the first mismatch
        raise ValueError(f"{path} does not fit this {what} ({type(err).__name__}: {said}); "
                         "use another run_dir or resume=False") from err


class Trainer:
    """What a trainer gives ``train``: one step, its state, and how it names things.

    Subclass it and override ``step`` (and, to resume, ``state_dict`` / ``load_state_dict``).
    Every other method has a default that fits a single run.

    Attributes:
        keys: the names of the figures ``step`` returns, in order (the log's columns).
        members: K for a pack of K runs trained at once, ``None`` for a single run.
        description: what trains, in the progress line and error messages.
        checkpoint_keys: keys of ``state_dict`` a checkpoint must hold to be resumed.
        device: where the figures live (the log window's sums are kept there).
    """

    keys: tuple[str, ...] = ("loss",)
    members: int | None = None
    description: str = "train"
    checkpoint_keys: tuple[str, ...] = ()
    device: torch.device = torch.device("cpu")

    def step(self, step: int) -> torch.Tensor:
        """Run step number ``step`` (1-based); return its figures, ``float[len(keys)]`` (a
        pack: ``float[len(keys), K]``), on ``device``, without reading them back."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Everything the next steps depend on (weights, optimiser states, random generator
        states), as tensors, numbers, strings, lists and dicts only (it is saved
        weights-only); its keys must not clash with ``LOOP_KEYS``."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any], path: Path) -> None:
        """Restore what ``state_dict`` gave (``state`` is the whole checkpoint read from
        ``path``; name the file in any error)."""

    def check_resumable(self, state: Mapping[str, Any], config: Any, path: Path) -> None:
        """Refuse (``ValueError`` naming ``path``) a checkpoint this run cannot continue: by
        default one of a pack for a single run (or the reverse), or one written with a config
        that differs in more than ``steps``, ``checkpoint_every`` and ``log_every``."""
        if self.members is None and "members" in state:
            raise ValueError(f"{path} holds a pack of {state['members']} members, not a "
                             "single run; use another run_dir or resume=False")
        if self.members is not None and "members" not in state:
            raise ValueError(f"{path} holds a solo run, not a pack; use another run_dir or "
                             "resume=False")
        if self.members is not None and int(state["members"]) != self.members:
            raise ValueError(f"{path} holds a pack of {state['members']} members, not "
                             f"{self.members}; use another run_dir or resume=False")
        check_config_resumable(state, config, path)

    def failures(self, figures: torch.Tensor, step: int) -> dict[int, str]:
        """The members that failed at ``step``, ``{member: what turned non-finite}``: by
        default those whose figures are not finite (one read-back from the device per step).
        A trainer that detects failures itself (before they reach its weights) overrides this.
        A single run is member 0."""
        finite = torch.isfinite(figures.reshape(len(self.keys), -1)).cpu()
        failed = {}
        for k in torch.nonzero(~finite.all(0)).flatten().tolist():
            names = [key for key, ok in zip(self.keys, finite[:, k].tolist(), strict=True)
                     if not ok]
            failed[k] = f"the figure(s) {', '.join(names)}"
        return failed

    def callback_info(self, member: int, figures: torch.Tensor,
                      row: dict[str, float] | None) -> dict[str, Any]:
        """The ``info`` dict member ``member``'s callbacks get after a step: by default
        ``row`` (the log row on logging steps, else ``None``) and ``figures`` (the step's,
        on the device)."""
        column = figures if self.members is None else figures[:, member]
        return {"row": row, "figures": column}

    def progress_text(self, row: dict[str, float]) -> str:
        """The figures shown beside the progress bar on logging steps (a single run)."""
        return "  ".join(f"{k} {row[k]:+.3g}" for k in self.keys)


# --------------------------------------------------------------------------- the loop
def per_member(name: str, values: Any, K: int) -> list[Any]:
    """``values`` as a list of one entry per member of a pack of ``K`` (a ``TypeError`` or
    ``ValueError`` naming ``name`` otherwise)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of {K} (one per member), "
                        f"got {type(values).__name__}")
    values = list(values)
    if len(values) != K:
        raise ValueError(f"{name} must hold one entry per member of the pack ({K}), "
                         f"got {len(values)}")
    return values


def _check_callbacks(callbacks: Any, members: int | None) -> list[tuple[Callback, ...]]:
    """``callbacks`` as one tuple per member: a sequence of callables for a single run, a
    sequence of K such sequences (or ``None``) for a pack."""
    K = 1 if members is None else members
    if members is None:
        per = [tuple(callbacks or ())]
    else:
        per = ([() for _ in range(K)] if callbacks is None
               else [tuple(c) for c in per_member("callbacks", callbacks, K)])
    for k, cbs in enumerate(per):
        for cb in cbs:
            if not callable(cb):
                where = "callbacks" if members is None else f"callbacks[{k}]"
                raise TypeError(f"{where} must hold callables f(step, info), got {cb!r}")
    return per


def train(trainer: Trainer, config: Any, *, run_dir: str | Path | None = None,
          resume: bool = True, progress: bool = False, callbacks: Any = None,
          member_dirs: Sequence[str | Path] | None = None) -> list[FitResult]:
    """Run ``trainer`` for ``config.steps`` steps with checkpoints, resume, log, callbacks,
    progress and the non-finite guard (see the module docstring).

    Args:
        trainer: the ``Trainer`` (its state is updated in place).
        config: a frozen config with ``steps``, ``checkpoint_every``, ``log_every`` and
            ``to_dict()`` (saved in the checkpoint; a resume checks it with
            ``trainer.check_resumable``).
        run_dir: folder of the checkpoint (and, for a single run, of ``log.jsonl``);
            ``None``: nothing is written.
        resume: continue from ``run_dir/checkpoint.pt`` if it exists.
        progress: show progress (a bar on a terminal, plain lines otherwise).
        callbacks: a single run: a sequence of ``f(step, info)``; a pack: K such sequences;
            ``None``: none. ``info`` is ``trainer.callback_info(...)``. An exception raised
            there stops training (the last checkpoint stays); every callback with a
            ``close()`` is closed when training ends, however it ends.
        member_dirs: a pack: K folders for the members' ``log.jsonl`` (``None``: none).

    Returns:
        One ``FitResult`` per member (a single run: a list of one).

    Raises:
        NonFiniteError: a single run's figures turned non-finite (names the step); nothing
            of that step is saved.
    """
    steps = check_int("config.steps", config.steps, minimum=1)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {progress!r}")
    single = trainer.members is None
    K = 1 if single else trainer.members
    member_callbacks = _check_callbacks(callbacks, trainer.members)
    run_dir = None if run_dir is None else Path(run_dir)
    if single:
        if member_dirs is not None:
            raise ValueError("member_dirs is for a pack; a single run logs in run_dir")
        dirs = None if run_dir is None else [run_dir]
    else:
        dirs = (None if member_dirs is None
                else [Path(p) for p in per_member("member_dirs", member_dirs, K)])

    loop = _LoopState(trainer, config)
    path = None if run_dir is None else run_dir / CHECKPOINT
    if path is not None and resume and path.exists():
        state = load_checkpoint(path, required=("step", "config", "history",
                                                *trainer.checkpoint_keys))
        trainer.check_resumable(state, config, path)
        trainer.load_state_dict(state, path)
        loop.load_state_dict(state)
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    for d, history in zip(dirs or (), loop.histories, strict=False):
        # The log holds exactly the history up to the starting point (a killed run may have
        # logged past its last checkpoint).
        atomic_write(d / LOG, lambda p, h=history: p.write_text(
            "".join(json.dumps(r) + "\n" for r in h)))

    def save(step: int) -> None:
        if path is not None:
            save_checkpoint(path, {**loop.state_dict(step, t0), **trainer.state_dict()},
                            required=LOOP_KEYS)

    logs = None if dirs is None else [open(d / LOG, "a") for d in dirs]  # noqa: SIM115
    start = loop.start
    bar, task = progress_bar(trainer.description, steps, completed=start, enabled=progress,
                             transient=True)
    bar.start()
    t0 = time.perf_counter()
    step = start
    try:
        for step in range(start + 1, steps + 1):
            if all(f is not None for f in loop.failed_at):
                step -= 1
                break  # every member of the pack has failed: nothing left to train
            figures = trainer.step(step)
            for k, what in trainer.failures(figures, step).items():
                if single:
                    raise NonFiniteError(trainer.description, step, what)
                loop.failed_at[k] = loop.failed_at[k] or step
            loop.window.add(figures)
            rows: list[dict[str, float] | None] = [None] * K
            if step % config.log_every == 0 or step == steps:
                rows = loop.log(step, t0)
                for f, row in zip(logs or [None] * K, rows, strict=True):
                    if f is not None and row is not None:
                        f.write(json.dumps(row) + "\n")
                        f.flush()
            text = trainer.progress_text(rows[0]) if single and rows[0] is not None else ""
            if text or step % 10 == 0 or step == steps:  # a rich bar redraws at each update
                bar.update(task, completed=step, **({"extra": text} if text else {}))
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                save(step)
            for k, cbs in enumerate(member_callbacks):
                if cbs and loop.failed_at[k] is None:
                    info = trainer.callback_info(k, figures, None if rows[k] is None
                                                 else dict(rows[k]))
                    for cb in cbs:
                        cb(step, info)
        if start < steps and (not config.checkpoint_every or step % config.checkpoint_every):
            save(max(step, start))
    finally:
        for f in logs or ():
            f.close()
        bar.stop()
        for cbs in member_callbacks:
            for cb in cbs:
                close = getattr(cb, "close", None)
                if callable(close):
                    close()
    done, seconds = max(step, start), time.perf_counter() - t0
    return [FitResult(history=loop.histories[k], seconds=seconds,
                      resumed_from=loop.resumed_from,
                      run_dir=run_dir if single else (None if dirs is None else dirs[k]),
                      steps=done if loop.failed_at[k] is None else loop.failed_at[k] - 1,
                      failed_at=loop.failed_at[k])
            for k in range(K)]


class _LoopState:
    """What the loop itself keeps and saves beside the trainer's state: the log window, the
    histories, the failures, where it started (see ``qlatent.train.checkpoint`` for the two
    layouts, a single run's and a pack's)."""

    def __init__(self, trainer: Trainer, config: Any) -> None:
        self.single, self.config = trainer.members is None, config
        K = 1 if self.single else trainer.members
        self.window = LossWindow(trainer.device, members=trainer.members, keys=trainer.keys)
        self.histories: list[list[dict[str, float]]] = [[] for _ in range(K)]
        self.failed_at: list[int | None] = [None] * K
        self.start, self.resumed_from, self.prior_seconds = 0, None, 0.0

    def seconds(self, t0: float) -> float:
        """Training wall time so far, this call's (since ``t0``) and the checkpoint's."""
        return self.prior_seconds + time.perf_counter() - t0

    def log(self, step: int, t0: float) -> list[dict[str, float] | None]:
        """Close the log window: one row per member (``None`` for a failed one, whose window
        holds non-finite figures), appended to the histories."""
        seconds = round(self.seconds(t0), 3)
        means = [self.window.mean()] if self.single else self.window.member_means()
        rows: list[dict[str, float] | None] = []
        for k, m in enumerate(means):
            rows.append(None if self.failed_at[k] is not None
                        else {"step": step, **m, "seconds": seconds})
            if rows[k] is not None:
                self.histories[k].append(rows[k])
        return rows

    def state_dict(self, step: int, t0: float) -> dict[str, Any]:
        state = {"step": step, "seconds": self.seconds(t0), "config": self.config.to_dict(),
                 "history": self.histories[0] if self.single else self.histories,
                 "window": self.window.state_dict()}
        if not self.single:
            state.update(members=len(self.histories), failed=[f or 0 for f in self.failed_at])
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if "window" in state:  # older checkpoints were written at log steps only
            self.window.load_state_dict(state["window"])
        self.start = self.resumed_from = int(state["step"])
        self.histories = ([list(state["history"])] if self.single
                          else [list(h) for h in state["history"]])
        if not self.single:
            self.failed_at = [int(f) or None for f in state["failed"]]
        self.prior_seconds = float(state.get("seconds", 0.0))
