"""Packed training: K independent runs of one architecture trained as one batched model.

Notation: K members, B batch size (per member), k = ``n_critic``, G generator, D critic.

``fit_pack`` trains a pack (``qlatent.models`` networks with ``members=K``, see
``qlatent.models.packed``) against a pack of critics. Member k keeps everything its solo run
``fit(G_k, D_k, latents[k], data[k], config, seed=seeds[k])`` has: its own four
``RandomStreams`` seeded from ``seeds[k]`` (latent draws, real batches, penalty weights ε, G's
own noise), its own latent and data object, its own initial weights (``pack(models)``) and its
own optimiser state. Only the arithmetic is shared: the losses are ``[K]``, one per member, and
the gradients come from the backward pass of their SUM, so member k receives exactly the
gradient of its own loss (no number crosses the member axis). One optimiser runs over the
packed parameters: Adam and RMSprop are elementwise, so row k of every state tensor is the
solo run's state (Adam's step count is shared, and equal, since every member steps together).

A member with a trainable latent and ``config.latent_lr > 0`` trains it as its solo run does
(``qlatent.train.latent``): its own ``LatentTrainer`` (optimiser state in the pack's checkpoint
under ``latents``), fed row k of the generator batch's per-sample losses. Members then follow
their solo runs to round-off (tested in float64); in float32, round-off differences in the
losses can flip the sign of Adam's normalised step for a parameter whose gradient is near
zero, so a trained latent's θ follows its solo run only statistically.

A member whose loss (critic or generator, any update) turns non-finite is *failed*: from that
update on its gradients are zeroed and its parameters restored after every optimiser step, so
it stays frozen at its last finite state while the others go on; it is reported with the step
(``FitResult.failed_at``). Detecting it reads one boolean back from the device per update.

Why a function beside ``fit`` rather than one code path: ``fit`` is the solo runner's engine
with its own checkpoint format (``seed`` an int, one history) that existing runs resume from;
``fit_pack`` shares every piece of it (``RandomStreams``, ``Adversaries``, ``gradient_penalty``,
``LossWindow``, ``save_checkpoint`` / ``load_checkpoint``, ``Config``) and a pack of K = 1 is
the solo run (the tests hold ``fit_pack`` with K = 1 bit-identical to ``fit``).

References: Gulrajani et al., "Improved Training of Wasserstein GANs", arXiv:1704.00028.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qlatent._io import atomic_write, notice
from qlatent._progress import progress_bar
from qlatent._validation import check_device, check_int
from qlatent.models.packed import member, members_of
from qlatent.train.checkpoint import (
    CHECKPOINT,
    check_config_resumable,
    load_checkpoint,
    save_checkpoint,
)
from qlatent.train.config import Config
from qlatent.train.latent import latent_trainer
from qlatent.train.loop import LOG, Callback, FitResult, LossWindow
from qlatent.train.step import (
    Adversaries,
    StepLosses,
    _as_tuple,
    _autocast,
    _dense,
    _float,
    _restore,
    _scores,
    gradient_penalty,
)
from qlatent.train.streams import RandomStreams

__all__ = ["PackResult", "PackState", "fit_pack", "member_checkpoint", "packed_training_step"]


@dataclass
class PackResult:
    """What ``fit_pack`` returns.

    Attributes:
        members: one ``FitResult`` per member (member k's ``history``, ``steps`` — the steps
            it trained, ``failed_at - 1`` for a failed member —, ``failed_at``, ``run_dir``
            — its log folder from ``member_dirs``, or ``None``), in member order.
        steps: generator steps the pack ran.
        seconds: wall time of this call's training (shared by every member).
        resumed_from: the checkpoint step this call started from (``None``: from scratch).
        run_dir: where the pack's checkpoint is (``None`` if not given).
    """

    members: list[FitResult]
    steps: int
    seconds: float
    resumed_from: int | None = None
    run_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> dict[int, int]:
        """``{member: step it failed at}`` for the failed members."""
        return {k: m.failed_at for k, m in enumerate(self.members) if m.failed_at is not None}


class PackState:
    """Which members of a pack are still training, and the freezing of those that are not.

    Attributes:
        failed_at: per member, the step its loss turned non-finite (``None``: alive).
    """

    def __init__(self, members: int) -> None:
        self.members = members
        self.failed_at: list[int | None] = [None] * members

    @property
    def dead(self) -> list[int]:
        return [k for k, s in enumerate(self.failed_at) if s is not None]

    def check(self, loss: torch.Tensor, step: int) -> None:
        """Mark the members whose ``loss[k]`` is not finite as failed at ``step``."""
        finite = torch.isfinite(loss)
        if bool(finite.all()):
            return
        for k in torch.nonzero(~finite).flatten().tolist():
            if self.failed_at[k] is None:
                self.failed_at[k] = step

    def update(self, params: list[nn.Parameter], grads: Sequence[torch.Tensor | None],
               optimizer: torch.optim.Optimizer) -> None:
        """Set the gradients and step ``optimizer``, keeping the failed members frozen (their
        gradients zeroed, so the optimiser's state stays finite, and their parameter rows
        restored after the step, since Adam's momentum would move them even so)."""
        dead = self.dead
        K = self.members
        saved = []
        grads = [_dense(g) for g in grads]
        for p, g in zip(params, grads, strict=True):
            if dead and g is not None:
                g.view(K, -1)[dead] = 0.0
                saved.append(p.detach().view(K, -1)[dead].clone())
            p.grad = g
        optimizer.step()
        if dead:
            with torch.no_grad():
                for p, rows in zip((p for p, g in zip(params, grads, strict=True)
                                    if g is not None), saved, strict=True):
                    p.view(K, -1)[dead] = rows


def packed_training_step(adversaries: Adversaries, latents: Sequence[Any], data: Sequence[Any],
                         streams: Sequence[RandomStreams], config: Config, state: PackState,
                         step: int, trainers: Sequence[Any] | None = None) -> StepLosses:
    """One step of a pack: what ``training_step`` does for one run, for K members at once.

    Member k draws from ``streams[k]`` exactly what its solo step draws (latent block, real
    block, ε block, G's noise), in the same order and shapes; the losses are ``[K]``.

    Args:
        adversaries: the packed G, D and their optimisers (updated in place).
        latents: K latents (``sample(n, *, generator) -> Tensor[n, L]``, one L).
        data: K data objects (``sample(n, *, generator)``, one structure).
        streams: K ``RandomStreams`` (advanced).
        config: the training config.
        state: the pack's failures (updated: members whose loss turns non-finite).
        step: the step's number (recorded for a failure).
        trainers: per member, its latent's ``LatentTrainer`` or ``None`` (fixed latent); a
            member's latent steps after G exactly as in its solo step. A member whose latent
            parameters turn non-finite fails at ``step`` (its θ put back, frozen from then on).

    Returns:
        ``StepLosses`` whose four fields are ``float32[K]``.
    """
    K = len(streams)
    device = streams[0].device
    B, n_critic, lam = config.batch_size, config.n_critic, config.gp_weight
    wgan = config.loss == "wgan-gp"

    def critic(x: Any) -> torch.Tensor:
        with _autocast(device, config):
            return adversaries.critic(x)

    # ---- randomness for the whole step, each member from its own streams
    trainers = list(trainers) if trainers is not None else [None] * K
    counts_all: list[torch.Tensor | None] = []
    draws = []
    for lat, s, tr in zip(latents, streams, trainers, strict=True):
        if tr is None:
            counts_all.append(None)
            draws.append(lat.sample((1 + n_critic) * B, generator=s.latent))
        else:
            counts, z = tr.draw((1 + n_critic) * B, s.latent)
            counts_all.append(counts)
            draws.append(z)
    z_all = torch.stack(draws)
    reals = []
    for d, s in zip(data, streams, strict=True):
        parts = _as_tuple(d.sample(n_critic * B, generator=s.data), "data.sample(...)")
        if s.data_device != device:
            parts = tuple(t.to(device, non_blocking=True) for t in parts)
        reals.append(parts)
    if len({len(r) for r in reals}) != 1:
        raise ValueError("the members' data objects return different numbers of tensors")
    real_all = tuple(torch.stack(parts) for parts in zip(*reals, strict=True))
    eps_all = (torch.stack([torch.rand(n_critic, B, generator=s.epsilon, device=device)
                            for s in streams]) if lam > 0 else None)     # [K, k, B]
    noise = [s.noise for s in streams]
    with torch.no_grad(), _autocast(device, config):
        fake_out = _float(adversaries.generate(z_all[:, : n_critic * B], noise))
    tuple_out = isinstance(fake_out, (tuple, list))
    fake_all = _as_tuple(fake_out, "generator output")
    if len(fake_all) != len(real_all):
        raise ValueError(f"the generator returns {len(fake_all)} tensor(s) but "
                         f"data.sample returns {len(real_all)}")
    real_chunks = [t.split(B, dim=1) for t in real_all]
    fake_chunks = [t.split(B, dim=1) for t in fake_all]
    # ---- k critic updates
    for i in range(n_critic):
        real = tuple(c[i] for c in real_chunks)
        fake = tuple(c[i] for c in fake_chunks)
        batch = tuple(torch.cat((r, f), dim=1) for r, f in zip(real, fake, strict=True))
        d_real, d_fake = _scores(critic(_restore(batch, tuple_out)), (K, 2 * B)).split(B, 1)
        gp = None
        if lam > 0:
            gp = gradient_penalty(critic, _restore(real, tuple_out), _restore(fake, tuple_out),
                                  epsilon=eps_all[:, i])
        if wgan:
            loss_d = d_fake.mean(1) - d_real.mean(1)
        else:
            loss_d = F.softplus(-d_real).mean(1) + F.softplus(d_fake).mean(1)
        if gp is not None:
            loss_d = loss_d + lam * gp
        state.check(loss_d.detach(), step)
        state.update(adversaries.critic_params,
                     torch.autograd.grad(loss_d.sum(), adversaries.critic_params),
                     adversaries.opt_critic)
    # ---- one generator update
    with _autocast(device, config):
        fake = _float(adversaries.generate(z_all[:, n_critic * B:], noise))
    d_g = _scores(critic(fake), (K, B))
    per_sample = -d_g if wgan else F.softplus(-d_g)
    loss_g = per_sample.mean(1)
    state.check(loss_g.detach(), step)
    state.update(adversaries.generator_params,
                 torch.autograd.grad(loss_g.sum(), adversaries.generator_params),
                 adversaries.opt_generator)
    for k, tr in enumerate(trainers):
        if tr is not None and state.failed_at[k] is None:
            bad = tr.step(per_sample[k].detach(), counts_all[k][n_critic * B:], step,
                          strict=False)
            if bad is not None:
                state.failed_at[k] = step
    return StepLosses(
        critic=loss_d.detach(), generator=loss_g.detach(),
        gradient_penalty=(gp.detach() if gp is not None
                          else torch.zeros(K, device=device)),
        wasserstein=(d_real.mean(1) - d_fake.mean(1)).detach())


def _check_members(name: str, values: Any, K: int) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of {K} (one per member), "
                        f"got {type(values).__name__}")
    values = list(values)
    if len(values) != K:
        raise ValueError(f"{name} must hold one entry per member of the pack ({K}), "
                         f"got {len(values)}")
    return values


def fit_pack(generator: nn.Module, critic: nn.Module, latents: Sequence[nn.Module],
             data: Sequence[Any], config: Config, *, seeds: Sequence[int],
             device: str | torch.device = "cpu", progress: bool = False,
             run_dir: str | Path | None = None, resume: bool = True,
             member_dirs: Sequence[str | Path] | None = None,
             callbacks: Sequence[Sequence[Callback]] | None = None) -> PackResult:
    """Train a pack of K runs: member k as ``fit(G_k, D_k, latents[k], data[k], config,
    seed=seeds[k])`` would (see the module docstring).

    With ``run_dir``, the pack's checkpoint (packed models, optimisers, every member's random
    states, seeds, failures, histories, step) is written atomically to
    ``run_dir/checkpoint.pt`` every ``config.checkpoint_every`` steps and at the end; with
    ``resume=True`` an existing one is loaded and the pack continues from it (the seeds must be
    those it was written with, the config may differ only in ``steps``, ``checkpoint_every``
    and ``log_every``). With ``member_dirs``, member k's log rows go to
    ``member_dirs[k]/log.jsonl``, exactly as a solo run's (rewritten at the start with the
    history up to the resume point, then appended at every log step).

    Args:
        generator: the packed G (``members=K``, a ``qlatent.models`` network; trained in place).
        critic: the packed D (``members=K``).
        latents: K latent distributions of one ``dim`` (they may differ in kind).
        data: K data objects (``sample(n, *, generator)``) of one structure.
        config: a ``qlatent.train.Config``, shared by the members.
        seeds: K non-negative ints, member k's seed (its solo run's ``fit(seed=...)``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:k"``.
        progress: show a rich progress bar.
        run_dir: folder of the pack's checkpoint (``None``: none is written).
        resume: continue from ``run_dir/checkpoint.pt`` if it exists.
        member_dirs: K folders for the members' ``log.jsonl`` (``None``: no logs written).
        callbacks: K sequences of callbacks, member k's called as its solo ``fit`` would call
            them: ``f(step, info)`` after every generator step, ``info`` holding
            ``generator`` and ``critic`` (member k as a solo model, copied out of the pack
            only when a callback reads them), ``config``, ``seed`` (``seeds[k]``),
            ``loss_generator`` (member k's, a 0-d tensor), ``row`` (member k's averaged log
            row on logging steps, else ``None``) and ``member`` (k). A failed member's
            callbacks are not called from its failure on; an exception stops the pack; every
            callback with a ``close()`` is closed when the pack ends.

    Returns:
        A ``PackResult``: per member a ``FitResult`` (history, steps, failed_at).
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a qlatent.train.Config, got {type(config).__name__}")
    for name, mod in (("generator", generator), ("critic", critic)):
        if not isinstance(mod, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(mod).__name__}")
    for name, mod in (("generator", generator), ("critic", critic)):
        if not isinstance(getattr(mod, "members", None), int):
            raise TypeError(f"{name} must be a packable network of qlatent.models (with "
                            f"members=K), got {type(mod).__name__}")
    K = members_of(generator)
    if members_of(critic) != K:
        raise ValueError(f"critic must have as many members as generator ({K}), "
                         f"got {members_of(critic)}")
    latents = _check_members("latents", latents, K)
    data = _check_members("data", data, K)
    seeds = [check_int(f"seeds[{k}]", s, minimum=0)
             for k, s in enumerate(_check_members("seeds", seeds, K))]
    for k, lat in enumerate(latents):
        if not isinstance(lat, nn.Module) or not callable(getattr(lat, "sample", None)):
            raise TypeError(f"latents[{k}] must be a latent distribution (an nn.Module with "
                            f"`dim` and `sample(n, *, generator)`), got {type(lat).__name__}")
        if lat.dim != latents[0].dim:
            raise ValueError(f"latents[{k}] has dim {lat.dim}, latents[0] {latents[0].dim}: "
                             "the members of a pack share one latent dimension")
    for k, d in enumerate(data):
        if not callable(getattr(d, "sample", None)):
            raise TypeError(f"data[{k}] must have `sample(n, *, generator)`, "
                            f"got {type(d).__name__}")
    device = torch.device(check_device(device))
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be a bool, got {progress!r}")
    dirs = (None if member_dirs is None
            else [Path(p) for p in _check_members("member_dirs", member_dirs, K)])
    member_callbacks = ([() for _ in range(K)] if callbacks is None
                        else [tuple(c) for c in _check_members("callbacks", callbacks, K)])
    for k, cbs in enumerate(member_callbacks):
        for cb in cbs:
            if not callable(cb):
                raise TypeError(f"callbacks[{k}] must hold callables f(step, info), got {cb!r}")
    run_dir = None if run_dir is None else Path(run_dir)

    generator.to(device).train()
    critic.to(device).train()
    for lat in latents:
        lat.to(device)
    data = [(d.to(device) or d) if callable(getattr(d, "to", None)) else d for d in data]
    adversaries = Adversaries(generator, critic, config)
    trainers = [latent_trainer(lat, config) for lat in latents]
    streams = [RandomStreams(s, device=device,
                             data_device=torch.device(getattr(d, "device", "cpu")))
               for s, d in zip(seeds, data, strict=True)]
    state = PackState(K)
    window = LossWindow(device, members=K)
    histories: list[list[dict[str, float]]] = [[] for _ in range(K)]
    start_step, resumed_from, prior_seconds = 0, None, 0.0
    ckpt_path = None if run_dir is None else run_dir / CHECKPOINT
    if ckpt_path is not None and resume and ckpt_path.exists():
        saved = load_checkpoint(ckpt_path)
        _check_pack_resumable(saved, config, seeds, ckpt_path)
        moved = sorted({name for k, s in enumerate(streams)
                        for name in s.set_state(saved["rng"][str(k)])})
        if moved:
            notice(f"{ckpt_path} was written on another kind of device than {device}: its "
                   f"random stream(s) {', '.join(moved)} continue from seeds derived from "
                   "their saved states (deterministic, but not the draws of the first device)")
        adversaries.load_state_dict(saved)
        for k, tr in enumerate(trainers):
            if tr is not None:
                if str(k) not in saved.get("latents", {}):
                    raise ValueError(f"{ckpt_path} holds no latent state for member {k} (it "
                                     "trained a fixed latent); use another run_dir or "
                                     "resume=False")
                tr.load_state_dict(saved["latents"][str(k)])
        window.load_state_dict(saved["window"])
        state.failed_at = [int(f) or None for f in saved["failed"]]
        start_step = resumed_from = int(saved["step"])
        histories = [list(h) for h in saved["history"]]
        prior_seconds = float(saved.get("seconds", 0.0))
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    if dirs is not None:
        for d, history in zip(dirs, histories, strict=True):
            d.mkdir(parents=True, exist_ok=True)
            atomic_write(d / LOG, lambda p, h=history: p.write_text(
                "".join(json.dumps(r) + "\n" for r in h)))

    def save(step: int, seconds: float) -> None:
        if ckpt_path is not None:
            save_checkpoint(ckpt_path, {
                "step": step, "seconds": seconds, "seed": seeds, "members": K,
                "config": config.to_dict(), "history": histories,
                "window": window.state_dict(), "failed": [f or 0 for f in state.failed_at],
                **adversaries.state_dict(),
                "rng": {str(k): s.get_state() for k, s in enumerate(streams)},
                "latents": {str(k): tr.state_dict() for k, tr in enumerate(trainers)
                            if tr is not None}})

    logs = None if dirs is None else [open(d / LOG, "a") for d in dirs]  # noqa: SIM115
    bar = None
    if progress:
        bar, bar_task = progress_bar(f"train pack of {K}", config.steps,
                                     completed=start_step, transient=True)
        bar.start()
    t0 = time.perf_counter()
    step = start_step
    seconds = 0.0
    try:
        for step in range(start_step + 1, config.steps + 1):
            losses = packed_training_step(adversaries, latents, data, streams, config, state,
                                          step, trainers)
            window.add(losses)
            logged: list[dict[str, float] | None] = [None] * K
            if step % config.log_every == 0 or step == config.steps:
                seconds = prior_seconds + time.perf_counter() - t0
                rows = window.member_means()
                for k, row in enumerate(rows):
                    if state.failed_at[k] is not None:
                        continue  # a failed member's window holds non-finite losses
                    row = {"step": step, **row, "seconds": round(seconds, 3)}
                    histories[k].append(row)
                    logged[k] = row
                    if logs is not None:
                        logs[k].write(json.dumps(row) + "\n")
                        logs[k].flush()
            if bar is not None and step % 10 == 0:
                bar.update(bar_task, completed=step)
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                save(step, prior_seconds + time.perf_counter() - t0)
            for k, cbs in enumerate(member_callbacks):
                if not cbs or state.failed_at[k] is not None:
                    continue
                info = _MemberInfo(generator, critic, k, {
                    "config": config, "seed": seeds[k], "member": k,
                    "loss_generator": losses.generator[k],
                    "row": None if logged[k] is None else dict(logged[k])})
                for cb in cbs:
                    cb(step, info)
        seconds = time.perf_counter() - t0
        if start_step < config.steps and (not config.checkpoint_every
                                          or config.steps % config.checkpoint_every):
            save(config.steps, prior_seconds + seconds)
    finally:
        for f in logs or ():
            f.close()
        if bar is not None:
            bar.stop()
        for cbs in member_callbacks:
            for cb in cbs:
                close = getattr(cb, "close", None)
                if callable(close):
                    close()
    generator.eval()
    critic.eval()
    steps = max(step, start_step)
    members = [FitResult(history=histories[k], seconds=seconds, resumed_from=resumed_from,
                         run_dir=None if dirs is None else dirs[k],
                         steps=steps if state.failed_at[k] is None else state.failed_at[k] - 1,
                         failed_at=state.failed_at[k])
               for k in range(K)]
    return PackResult(members=members, steps=steps, seconds=seconds,
                      resumed_from=resumed_from, run_dir=run_dir)


class _MemberInfo(dict):
    """The ``info`` a member's callbacks get: ``generator`` and ``critic`` are member k's solo
    copies, made on first use (most steps no callback reads them)."""

    def __init__(self, generator: nn.Module, critic: nn.Module, k: int,
                 values: dict[str, Any]) -> None:
        super().__init__(values)
        self._packed = {"generator": generator, "critic": critic}
        self._k = k

    def __missing__(self, key: str) -> Any:
        if key not in self._packed:
            raise KeyError(key)
        self[key] = member(self._packed[key], self._k)
        return self[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self or key in self._packed else default


def _check_pack_resumable(state: dict[str, Any], config: Config, seeds: list[int],
                          path: Path) -> None:
    if "members" not in state:
        raise ValueError(f"{path} holds a solo run, not a pack; resume it with fit, or use "
                         "another run_dir or resume=False")
    if int(state["members"]) != len(seeds):
        raise ValueError(f"{path} holds a pack of {state['members']} members, not "
                         f"{len(seeds)}; use another run_dir or resume=False")
    saved = [int(s) for s in state["seed"]]
    if saved != seeds:
        raise ValueError(f"{path} was written with seeds {saved}, not {seeds}; resume with "
                         "those seeds, or use another run_dir or resume=False")
    check_config_resumable(state, config, path)


def member_checkpoint(state: Mapping[str, Any], member: int, *, generator: nn.Module,
                      critic: nn.Module) -> dict[str, Any]:
    """Member k's solo checkpoint, cut out of a pack's: what ``fit(seed=seeds[k])`` writes at
    the same step (models, optimiser states, random streams, seed, history, loss window), so
    a cell's own directory can hold it and everything that reads a solo run (``load_run``,
    ``qlatent sample``, a solo resume with ``fit``) works unchanged.

    Args:
        state: a pack checkpoint (``load_checkpoint(run_dir / "checkpoint.pt")`` of a
            ``fit_pack`` run).
        member: k, ``0 <= k < K``.
        generator, critic: the packed models of the run (their parameter names and order;
            their values are not read).

    Returns:
        A dict with the keys of a solo checkpoint (``save_checkpoint`` writes it), plus
        ``failed_at`` (the step member k failed at, or ``None``).
    """
    if not isinstance(state, Mapping) or "members" not in state:
        raise ValueError("state must be a pack checkpoint (fit_pack's; it has `members`)")
    K = int(state["members"])
    k = check_int("member", member, minimum=0)
    if k >= K:
        raise ValueError(f"member must be below the pack's size {K}, got {k}")
    out: dict[str, Any] = {
        "step": state["step"], "seconds": state.get("seconds", 0.0),
        "seed": int(state["seed"][k]), "config": dict(state["config"]),
        "history": list(state["history"][k]),
        "window": {"sum": state["window"]["sum"][:, k].clone(),
                   "count": state["window"]["count"]},
        "rng": dict(state["rng"][str(k)]),
        "failed_at": int(state["failed"][k]) or None}
    if str(k) in state.get("latents", {}):  # member k's latent trained with its generator
        out.update(state["latents"][str(k)])
    for name, model in (("generator", generator), ("critic", critic)):
        if members_of(model) != K:
            raise ValueError(f"{name} has {members_of(model)} members, the checkpoint {K}")
        params = dict(model.named_parameters())
        out[name] = {key: (_row(t, K, k) if key in params else t.clone())
                     for key, t in state[name].items()}
        trained = [p for p in model.parameters() if p.requires_grad]
        opt = state[f"opt_{name}"]
        rows = {}
        for i, entry in opt["state"].items():
            n = trained[int(i)].numel()
            rows[i] = {key: (_row(v, K, k) if isinstance(v, torch.Tensor) and v.numel() == n
                             else v.clone() if isinstance(v, torch.Tensor) else v)
                       for key, v in entry.items()}
        out[f"opt_{name}"] = {"state": rows, "param_groups": opt["param_groups"]}
    return out


def _row(t: torch.Tensor, K: int, k: int) -> torch.Tensor:
    # a packed tensor [K, ...] (K > 1) or a solo-shaped one (K = 1): member k in the solo shape
    shape = t.shape if K == 1 else t.shape[1:]
    return t.reshape(K, -1)[k].clone().view(shape)
