"""The adversarial training loop: WGAN-GP (or the non-saturating loss), checkpoints, resume.

Notation: B batch size, k = ``n_critic``, G generator, D critic, z latent vectors.

Contracts (duck-typed, so the synthetic sets, QM9 and any later task plug in):

* ``latent``: a ``qlatent.latents.LatentDistribution`` (``dim``;
  ``sample(n, *, generator) -> Tensor[n, dim]``).
* ``data``: any object with ``sample(n, *, generator) -> Tensor | tuple[Tensor, ...]``, a real
  batch with the same structure as the generator's output (every tensor has n rows). If it has
  a ``to(device)`` method it is moved to the training device; its batches are drawn from a
  ``torch.Generator`` on ``data.device`` if it has that attribute, else on the CPU, and moved.
* ``generator``: ``G(z: Tensor[B, L]) -> Tensor | tuple[Tensor, ...]`` (one row per sample in
  every tensor).
* ``critic``: ``D(x) -> Tensor[B]`` or ``Tensor[B, 1]``, where ``x`` has the structure of G's
  output (a tuple is passed as ONE argument). D must treat samples independently (no batch
  normalisation, which WGAN-GP forbids anyway): the real and generated batches are scored
  in one call, concatenated along the batch dimension, and the interpolated batch in a call of
  its own, so the penalty's double backward runs over B rows only.

The pieces: ``RandomStreams`` (``streams.py``: the four ``torch.Generator``s a step draws from,
seeded from ``fit``'s ``seed``), ``training_step`` (``step.py``: k critic updates with
``gradient_penalty``, then one generator update), ``save_checkpoint`` /
``load_checkpoint`` / ``check_resumable`` (``checkpoint.py``), and here the loop that runs the
steps, averages the losses over each logging window, logs, checkpoints and calls the callbacks.
Nothing touches torch's global random state, so on the CPU a run is a deterministic function of
its inputs and the seed, and a run resumed from a checkpoint ends bit-identical to an
uninterrupted one.

References: Gulrajani et al., "Improved Training of Wasserstein GANs", arXiv:1704.00028 (WGAN-GP);
Goodfellow et al., arXiv:1406.2661 (non-saturating loss).

Experiment vs execution: ``Config`` says what is trained; ``seed``, ``device`` and ``progress``
are arguments of ``fit``. The seed is recorded in the checkpoint, and a resume with another seed
is refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qlatent._io import atomic_write, notice
from qlatent._progress import progress_bar
from qlatent._validation import check_device, check_int
from qlatent.train.checkpoint import (
    CHECKPOINT,
    check_resumable,
    load_checkpoint,
    save_checkpoint,
)
from qlatent.train.config import Config
from qlatent.train.latent import latent_trainer
from qlatent.train.step import Adversaries, StepLosses, training_step
from qlatent.train.streams import RandomStreams

Callback = Callable[[int, dict[str, Any]], None]

LOG = "log.jsonl"
LOSS_KEYS = ("loss_critic", "loss_generator", "gradient_penalty", "wasserstein")
"""The averaged figures of a log row, in ``StepLosses.stacked`` order."""


@dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
        history: one dict per logged step (every ``config.log_every`` steps and the last):
            ``step``; ``loss_critic``, ``loss_generator``, ``gradient_penalty`` and
            ``wasserstein`` (E[D(real)] − E[D(fake)]), each the mean over the logging window,
            i.e. over every step since the previous log line (the critic's figures of a step
            are those of its last critic update); ``seconds`` (training wall time so far).
            The sums are accumulated on the device in float64 and read back only at log steps;
            an interrupted window is saved in the checkpoint, so a resumed run logs the same
            means as an uninterrupted one.
        steps: generator steps done.
        seconds: wall time of this call's training.
        resumed_from: the checkpoint step this call started from (``None``: from scratch).
        run_dir: where the checkpoint and ``log.jsonl`` are (``None`` if not given).
        failed_at: for a member of a pack (``fit_pack``), the step whose loss turned
            non-finite (NaN or ±inf); the member was frozen at that update (its parameters
            are the last finite ones) and its history ends before it. ``None``: it did not fail.
    """

    history: list[dict[str, float]]
    steps: int
    seconds: float
    resumed_from: int | None = None
    run_dir: Path | None = None
    failed_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class LossWindow:
    """The running sums of ``StepLosses`` since the last log line, kept on the device.

    For a pack of K members (``members=K``, losses ``[K]`` each) the sums are ``float64[4, K]``
    and ``member_means`` gives one row per member.
    """

    def __init__(self, device: torch.device, *, members: int | None = None) -> None:
        lead = () if members is None else (members,)
        self.sum = torch.zeros(len(LOSS_KEYS), *lead, dtype=torch.float64, device=device)
        self.count = 0

    def add(self, losses: StepLosses) -> None:
        self.sum += losses.stacked()
        self.count += 1

    def mean(self) -> dict[str, float]:
        """The means since the last call (one read-back from the device); starts a new window."""
        if not self.count:
            raise ValueError("the loss window is empty")
        if self.sum.dim() != 1:
            raise ValueError("a pack's loss window has one mean per member: use member_means")
        means = (self.sum / self.count).tolist()
        self.sum.zero_()
        self.count = 0
        return dict(zip(LOSS_KEYS, means, strict=True))

    def member_means(self) -> list[dict[str, float]]:
        """A pack's means since the last call, one dict per member; starts a new window."""
        if not self.count:
            raise ValueError("the loss window is empty")
        if self.sum.dim() != 2:
            raise ValueError("a solo loss window has one mean: use mean")
        means = (self.sum / self.count).T.tolist()
        self.sum.zero_()
        self.count = 0
        return [dict(zip(LOSS_KEYS, m, strict=True)) for m in means]

    def state_dict(self) -> dict[str, Any]:
        return {"sum": self.sum.cpu(), "count": self.count}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sum.copy_(state["sum"])
        self.count = int(state["count"])


# --------------------------------------------------------------------------- fit
def fit(generator: nn.Module, critic: nn.Module, latent: nn.Module, data: Any, config: Config,
        *, seed: int, device: str | torch.device = "cpu", progress: bool = False,
        run_dir: str | Path | None = None, resume: bool = True,
        callbacks: Sequence[Callback] = ()) -> FitResult:
    """Train ``generator`` against ``critic`` on ``data`` with z drawn from ``latent``.

    See the module docstring for the contracts of the four objects. A trainable latent
    (``born``, ``multinomial``) is trained with the generator when ``config.latent_lr > 0``
    (the score-function estimator of ``qlatent.train.latent``, its own optimiser, saved in the
    checkpoint as ``latent`` and ``opt_latent``); a non-finite latent parameter after a step
    raises ``FloatingPointError`` naming the step and the parameter. With ``run_dir``, a
    checkpoint (models, optimisers, random states, seed, step, history) is written atomically
    to ``run_dir/checkpoint.pt`` every ``config.checkpoint_every`` steps and at the end, and
    the log lines go to ``run_dir/log.jsonl``; with ``resume=True`` an existing checkpoint is
    loaded (weights-only) and training continues from it: the seed must be the one it was
    written with, the config may differ only in ``steps``, ``checkpoint_every`` and
    ``log_every``; the device may change (the checkpoint is read onto the CPU and the models
    and optimiser states moved to ``device``): between two CUDA devices the run goes on
    bit for bit, between a CPU and a GPU the random streams, whose states differ in kind, go
    on from seeds derived from their saved states (``RandomStreams.set_state``).

    Args:
        generator: G, an ``nn.Module`` (trained in place).
        critic: D, an ``nn.Module`` (trained in place).
        latent: the latent distribution.
        data: the real data.
        config: a ``qlatent.train.Config`` (what is trained).
        seed: seed of the training streams (latent draws, real batches, penalty weights,
            G's own noise), a non-negative int.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:k"`` (models, latent and batches move there).
        progress: show a rich progress bar with the losses and the ETA.
        run_dir: folder for the checkpoint and the log (``None``: neither is written).
        resume: continue from ``run_dir/checkpoint.pt`` if it exists.
        callbacks: functions ``f(step, info)`` called after every generator step, ``info``
            holding ``generator``, ``critic``, ``config``, ``seed``, ``loss_generator`` (the
            step's, a 0-d tensor on the device) and ``row`` (the averaged log row on logging
            steps, ``None`` otherwise); an exception raised there stops training (the last
            checkpoint stays). A callback with a ``close()`` method is closed when fit ends,
            however it ends (``qlatent.train.tracking`` builds such callbacks).

    Returns:
        A ``FitResult``.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a qlatent.train.Config, got {type(config).__name__}")
    for name, mod in (("generator", generator), ("critic", critic), ("latent", latent)):
        if not isinstance(mod, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(mod).__name__}")
    if not callable(getattr(latent, "sample", None)) or not hasattr(latent, "dim"):
        raise TypeError("latent must have `dim` and `sample(n, *, generator)`")
    if not callable(getattr(data, "sample", None)):
        raise TypeError(f"data must have `sample(n, *, generator)`, got {type(data).__name__}")
    seed = check_int("seed", seed, minimum=0)
    device = torch.device(check_device(device))
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {progress!r}")
    callbacks = tuple(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables f(step, info), got {cb!r}")
    run_dir = None if run_dir is None else Path(run_dir)

    generator.to(device).train()
    critic.to(device).train()
    latent.to(device)
    if callable(getattr(data, "to", None)):
        data = data.to(device) or data
    adversaries = Adversaries(generator, critic, config)
    trainer = latent_trainer(latent, config)
    streams = RandomStreams(seed, device=device,
                            data_device=torch.device(getattr(data, "device", "cpu")))
    window = LossWindow(device)
    history: list[dict[str, float]] = []
    start_step, resumed_from, prior_seconds = 0, None, 0.0
    ckpt_path = None if run_dir is None else run_dir / CHECKPOINT
    if ckpt_path is not None and resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        check_resumable(state, config, seed, ckpt_path)
        moved = streams.set_state(state["rng"])
        if moved:
            notice(f"{ckpt_path} was written on another kind of device than {device}: its "
                   f"random stream(s) {', '.join(moved)} continue from seeds derived from "
                   "their saved states (deterministic, but not the draws of the first device)")
        adversaries.load_state_dict(state)
        if trainer is not None:
            if "opt_latent" not in state:
                raise ValueError(f"{ckpt_path} holds no latent state (it trained a fixed "
                                 "latent); use another run_dir or resume=False")
            trainer.load_state_dict(state)
        if "window" in state:  # older checkpoints were written at log steps only
            window.load_state_dict(state["window"])
        start_step = resumed_from = int(state["step"])
        history = list(state["history"])
        prior_seconds = float(state.get("seconds", 0.0))
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        # The log holds exactly the history up to the starting point (a killed run may have
        # logged past its last checkpoint).
        atomic_write(run_dir / LOG, lambda p: p.write_text(
            "".join(json.dumps(h) + "\n" for h in history)))

    def save(step: int, seconds: float) -> None:
        if ckpt_path is not None:
            save_checkpoint(ckpt_path, {
                "step": step, "seconds": seconds, "seed": seed, "config": config.to_dict(),
                "history": history, "window": window.state_dict(),
                **adversaries.state_dict(), "rng": streams.get_state(),
                **(trainer.state_dict() if trainer is not None else {})})

    log_file = None if run_dir is None else open(run_dir / LOG, "a")  # noqa: SIM115
    bar = None
    if progress:
        bar, bar_task = progress_bar("train", config.steps, completed=start_step,
                                     transient=True)
        bar.start()
    t0 = time.perf_counter()
    step = start_step
    try:
        for step in range(start_step + 1, config.steps + 1):
            losses = training_step(adversaries, latent, data, streams, config, trainer=trainer,
                                   step=step)
            window.add(losses)
            row = None
            if step % config.log_every == 0 or step == config.steps:
                seconds = prior_seconds + time.perf_counter() - t0
                row = {"step": step, **window.mean(), "seconds": round(seconds, 3)}
                history.append(row)
                if log_file is not None:
                    log_file.write(json.dumps(row) + "\n")
                    log_file.flush()
                if bar is not None:
                    bar.update(bar_task, completed=step, extra=(
                        f"D {row['loss_critic']:+.3f}  G {row['loss_generator']:+.3f}  "
                        f"W {row['wasserstein']:.3f}"))
            elif bar is not None and step % 10 == 0:
                bar.update(bar_task, completed=step)
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                save(step, prior_seconds + time.perf_counter() - t0)
            if callbacks:
                info = {"generator": generator, "critic": critic, "config": config,
                        "seed": seed, "loss_generator": losses.generator,
                        "row": None if row is None else dict(row)}
                for cb in callbacks:
                    cb(step, info)
        seconds = time.perf_counter() - t0
        if start_step < config.steps and (not config.checkpoint_every
                                          or config.steps % config.checkpoint_every):
            save(config.steps, prior_seconds + seconds)
    finally:
        if log_file is not None:
            log_file.close()
        if bar is not None:
            bar.stop()
        for cb in callbacks:
            close = getattr(cb, "close", None)
            if callable(close):
                close()
    generator.eval()
    critic.eval()
    return FitResult(history=history, steps=max(step, start_step), seconds=seconds,
                     resumed_from=resumed_from, run_dir=run_dir)
