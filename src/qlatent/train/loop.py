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

One step (k critic updates, then one generator update) draws its randomness in blocks:
(1 + k)·B latent vectors, k·B real samples and k·B interpolation weights, each from its own
``torch.Generator`` seeded from ``Config.seed``; the k generated critic batches come from one
forward pass of G (G does not change during the critic updates). If G's ``forward`` takes a
``generator`` keyword (G draws noise of its own, e.g. the Gumbel-softmax relaxation), it gets a
fourth stream, saved in the checkpoint like the others. Nothing touches torch's global
random state, so on the CPU a run is a deterministic function of its inputs and the seed, and a
run resumed from a checkpoint ends bit-identical to an uninterrupted one.

References: Gulrajani et al., "Improved Training of Wasserstein GANs", arXiv:1704.00028 (WGAN-GP);
Goodfellow et al., arXiv:1406.2661 (non-saturating loss).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qlatent._io import atomic_write
from qlatent.train.config import Config

Sample = torch.Tensor | tuple[torch.Tensor, ...]
Callback = Callable[[int, dict[str, Any]], None]

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
# Config fields that may change between a run and its resumption.
_RESUMABLE_CHANGES = ("steps", "checkpoint_every", "log_every", "progress", "device")


@dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
        history: one dict per logged step: ``step``, ``loss_critic``, ``loss_generator``,
            ``gradient_penalty``, ``wasserstein`` (E[D(real)] − E[D(fake)] on the last critic
            batch), ``seconds`` (training wall time so far).
        steps: generator steps done.
        seconds: wall time of this call's training.
        resumed_from: the checkpoint step this call started from (``None``: from scratch).
        run_dir: where the checkpoint and ``log.jsonl`` are (``None`` if not given).
    """

    history: list[dict[str, float]]
    steps: int
    seconds: float
    resumed_from: int | None = None
    run_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- structure helpers
def _as_tuple(x: Sample, name: str) -> tuple[torch.Tensor, ...]:
    if isinstance(x, torch.Tensor):
        return (x,)
    if isinstance(x, (tuple, list)) and x and all(isinstance(t, torch.Tensor) for t in x):
        return tuple(x)
    raise TypeError(f"{name} must be a Tensor or a tuple of Tensors, got {type(x).__name__}")


def _restore(parts: Sequence[torch.Tensor], like_tuple: bool) -> Sample:
    return tuple(parts) if like_tuple else parts[0]


def interpolate(real: Sample, fake: Sample, epsilon: torch.Tensor) -> Sample:
    """x̂ = ε·real + (1 − ε)·fake with ONE ε per sample, shared by every tensor of a tuple.

    Args:
        real, fake: Tensors (or tuples of Tensors) of equal structure, ``B`` rows each.
        epsilon: ``Tensor[B]`` of weights in [0, 1].
    """
    r, f = _as_tuple(real, "real"), _as_tuple(fake, "fake")
    if len(r) != len(f):
        raise ValueError(f"real has {len(r)} tensors but fake has {len(f)}")
    out = []
    for a, b in zip(r, f, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"real and fake tensors differ in shape: {tuple(a.shape)} vs "
                             f"{tuple(b.shape)}")
        e = epsilon.reshape((-1,) + (1,) * (a.dim() - 1)).to(a.dtype)
        out.append(torch.lerp(b, a, e))
    return _restore(out, isinstance(real, (tuple, list)))


def _penalty_from(scores_hat: torch.Tensor, x_hat: tuple[torch.Tensor, ...]) -> torch.Tensor:
    grads = torch.autograd.grad(scores_hat.sum(), x_hat, create_graph=True)
    sq = sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads)
    return (sq.sqrt() - 1.0).pow(2).mean()


def gradient_penalty(critic: Callable[[Sample], torch.Tensor], real: Sample, fake: Sample, *,
                     epsilon: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The WGAN-GP penalty E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] (without the weight λ).

    x̂ = ε·real + (1 − ε)·fake, ε ~ U[0, 1] per sample. For tuple samples the gradient is taken
    w.r.t. every tensor and one norm per sample runs over all of them:
    ‖∇‖₂² = Σ_tensors Σ_entries (∂D/∂x̂)². The result is differentiable w.r.t. D's parameters.

    Args:
        critic: ``D(x) -> Tensor[B]`` or ``Tensor[B, 1]``.
        real, fake: samples of equal structure (B rows).
        epsilon: ``Tensor[B]`` of interpolation weights; drawn from ``generator`` if ``None``.
        generator: the ``torch.Generator`` for ε.

    Returns:
        A scalar tensor.

    Reference: Gulrajani et al., arXiv:1704.00028, eq. (3).
    """
    r = _as_tuple(real, "real")
    n = r[0].shape[0]
    if epsilon is None:
        epsilon = torch.rand(n, generator=generator, device=r[0].device)
    if epsilon.shape != (n,):
        raise ValueError(f"epsilon must have shape ({n},), got {tuple(epsilon.shape)}")
    x_hat = tuple(t.detach().requires_grad_(True)
                  for t in _as_tuple(interpolate(real, fake, epsilon), "x_hat"))
    scores = critic(_restore(x_hat, isinstance(real, (tuple, list))))
    return _penalty_from(_scores(scores, n), x_hat)


def _scores(out: torch.Tensor, n: int) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.numel() != n:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the critic must return one score per sample ({n}), got {shape}")
    return out.reshape(n).float()


def _float(sample: Sample) -> Sample:
    # Generated samples leave a mixed-precision forward pass as float32, like real ones.
    if isinstance(sample, (tuple, list)):
        return tuple(t.float() for t in sample)
    return sample.float() if isinstance(sample, torch.Tensor) else sample


# --------------------------------------------------------------------------- random streams
def _stream_seeds(seed: int) -> list[int]:
    # Independent streams: latent draws, real batches, interpolation weights, G's own noise
    # (spawned children are indexed, so adding the fourth left the first three unchanged).
    ss = np.random.SeedSequence([seed, 0x6A17])
    return [int(s.generate_state(1, np.uint64)[0] >> 1) for s in ss.spawn(4)]


def _make_generator(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def _make_optimizer(params: list[nn.Parameter], config: Config) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        fused = {"fused": True} if _fused_ok(params) else {"foreach": True}
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas, **fused)
    return torch.optim.RMSprop(params, lr=config.lr, foreach=True)


def _fused_ok(params: list[nn.Parameter]) -> bool:
    return all(p.dtype == torch.float32 and p.device.type in ("cpu", "cuda") for p in params)


def _set_grads(params: list[nn.Parameter], grads: Sequence[torch.Tensor | None]) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = g


# --------------------------------------------------------------------------- fit
def fit(generator: nn.Module, critic: nn.Module, latent: nn.Module, data: Any, config: Config,
        *, run_dir: str | Path | None = None, resume: bool = True,
        callbacks: Sequence[Callback] = ()) -> FitResult:
    """Train ``generator`` against ``critic`` on ``data`` with z drawn from ``latent``.

    See the module docstring for the contracts of the four objects. With ``run_dir``, a
    checkpoint (models, optimisers, random states, step, history) is written atomically to
    ``run_dir/checkpoint.pt`` every ``config.checkpoint_every`` steps and at the end, and the
    log lines go to ``run_dir/log.jsonl``; with ``resume=True`` an existing checkpoint is
    loaded and training continues from it (the config may differ only in ``steps``,
    ``checkpoint_every``, ``log_every``, ``progress`` and ``device``).

    Args:
        generator: G, an ``nn.Module`` (trained in place).
        critic: D, an ``nn.Module`` (trained in place).
        latent: the latent distribution.
        data: the real data.
        config: a ``qlatent.train.Config``.
        run_dir: folder for the checkpoint and the log (``None``: neither is written).
        resume: continue from ``run_dir/checkpoint.pt`` if it exists.
        callbacks: functions ``f(step, info)`` called after every generator step, ``info``
            holding ``generator``, ``critic``, ``loss_generator`` (a tensor) and ``config``;
            an exception raised there stops training (the last checkpoint stays).

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
    callbacks = tuple(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables f(step, info), got {cb!r}")
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch.cuda.is_available() is False")
    run_dir = None if run_dir is None else Path(run_dir)

    generator.to(device).train()
    critic.to(device).train()
    latent.to(device)
    if callable(getattr(data, "to", None)):
        data = data.to(device) or data
    data_device = torch.device(getattr(data, "device", "cpu"))
    g_params = [p for p in generator.parameters() if p.requires_grad]
    d_params = [p for p in critic.parameters() if p.requires_grad]
    opt_g = _make_optimizer(g_params, config)
    opt_d = _make_optimizer(d_params, config)
    s_lat, s_data, s_eps, s_noise = _stream_seeds(config.seed)
    gen_lat = _make_generator(device, s_lat)
    gen_data = _make_generator(data_device, s_data)
    gen_eps = _make_generator(device, s_eps)
    gen_noise = _make_generator(device, s_noise)
    if "generator" in inspect.signature(generator.forward).parameters:
        def generate(z: torch.Tensor) -> Any:
            return generator(z, generator=gen_noise)
    else:
        generate = generator

    history: list[dict[str, float]] = []
    start_step = 0
    resumed_from = None
    ckpt_path = None if run_dir is None else run_dir / CHECKPOINT
    if ckpt_path is not None and resume and ckpt_path.exists():
        # On the CPU: generator states must stay CPU tensors; load_state_dict moves the rest.
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        _check_resumable(state["config"], config)
        generator.load_state_dict(state["generator"])
        critic.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["opt_generator"])
        opt_d.load_state_dict(state["opt_critic"])
        gen_lat.set_state(state["rng"]["latent"])
        gen_data.set_state(state["rng"]["data"])
        gen_eps.set_state(state["rng"]["epsilon"])
        if "noise" in state["rng"]:  # checkpoints written before the fourth stream lack it
            gen_noise.set_state(state["rng"]["noise"])
        start_step = resumed_from = int(state["step"])
        history = list(state["history"])
        prior_seconds = float(state.get("seconds", 0.0))
    else:
        prior_seconds = 0.0
    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        # The log holds exactly the history up to the starting point (a killed run may have
        # logged past its last checkpoint).
        atomic_write(run_dir / LOG, lambda p: p.write_text(
            "".join(json.dumps(h) + "\n" for h in history)))

    def save(step: int, seconds: float) -> None:
        if ckpt_path is None:
            return
        state = {
            "step": step, "seconds": seconds, "history": history, "config": config.to_dict(),
            "generator": generator.state_dict(), "critic": critic.state_dict(),
            "opt_generator": opt_g.state_dict(), "opt_critic": opt_d.state_dict(),
            "rng": {"latent": gen_lat.get_state(), "data": gen_data.get_state(),
                    "epsilon": gen_eps.get_state(), "noise": gen_noise.get_state()},
        }
        atomic_write(ckpt_path, lambda p: torch.save(state, p))

    B, k = config.batch_size, config.n_critic
    lam = config.gp_weight

    def autocast() -> torch.autocast:
        return torch.autocast(device.type, dtype=torch.bfloat16,
                              enabled=config.precision == "bf16")

    wgan = config.loss == "wgan-gp"
    log_file = None if run_dir is None else open(run_dir / LOG, "a")  # noqa: SIM115
    progress = _Progress(config, start_step) if config.progress else None
    t0 = time.perf_counter()
    step = start_step
    try:
        for step in range(start_step + 1, config.steps + 1):
            # ---- randomness for the whole step, drawn in blocks
            z_all = latent.sample((1 + k) * B, generator=gen_lat)
            real_all = _as_tuple(data.sample(k * B, generator=gen_data), "data.sample(...)")
            if data_device != device:
                real_all = tuple(t.to(device, non_blocking=True) for t in real_all)
            eps_all = torch.rand(k, B, generator=gen_eps, device=device) if lam > 0 else None
            with torch.no_grad(), autocast():
                fake_out = _float(generate(z_all[: k * B]))
            tuple_out = isinstance(fake_out, (tuple, list))
            fake_all = _as_tuple(fake_out, "generator output")
            if len(fake_all) != len(real_all):
                raise ValueError(f"the generator returns {len(fake_all)} tensor(s) but "
                                 f"data.sample returns {len(real_all)}")
            real_chunks = [t.split(B) for t in real_all]
            fake_chunks = [t.split(B) for t in fake_all]
            # ---- k critic updates
            for i in range(k):
                real = tuple(c[i] for c in real_chunks)
                fake = tuple(c[i] for c in fake_chunks)
                batch = tuple(torch.cat((r, f)) for r, f in zip(real, fake, strict=True))
                with autocast():
                    out = critic(_restore(batch, tuple_out))
                d_real, d_fake = _scores(out, 2 * B).split(B)
                gp = None
                if lam > 0:
                    # x̂ is scored in a call of its own: the penalty's input gradient and its
                    # double backward then run over B rows, not over all 3B.
                    e = eps_all[i]
                    x_hat = tuple(
                        torch.lerp(f, r, e.reshape((-1,) + (1,) * (r.dim() - 1)))
                        .requires_grad_(True) for r, f in zip(real, fake, strict=True))
                    with autocast():
                        out = critic(_restore(x_hat, tuple_out))
                    gp = _penalty_from(_scores(out, B), x_hat)
                if wgan:
                    loss_d = d_fake.mean() - d_real.mean()
                else:
                    loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
                if gp is not None:
                    loss_d = loss_d + lam * gp
                _set_grads(d_params, torch.autograd.grad(loss_d, d_params))
                opt_d.step()
            # ---- one generator update (only G's gradients are computed)
            with autocast():
                d_g = _scores(critic(_float(generate(z_all[k * B:]))), B)
            loss_g = -d_g.mean() if wgan else F.softplus(-d_g).mean()
            _set_grads(g_params, torch.autograd.grad(loss_g, g_params))
            opt_g.step()

            if step % config.log_every == 0 or step == config.steps:
                seconds = prior_seconds + time.perf_counter() - t0
                row = {
                    "step": step,
                    "loss_critic": float(loss_d.detach()),
                    "loss_generator": float(loss_g.detach()),
                    "gradient_penalty": float(gp.detach()) if gp is not None else 0.0,
                    "wasserstein": float((d_real.mean() - d_fake.mean()).detach()),
                    "seconds": round(seconds, 3),
                }
                history.append(row)
                if log_file is not None:
                    log_file.write(json.dumps(row) + "\n")
                    log_file.flush()
                if progress is not None:
                    progress.update(step, row)
            elif progress is not None and step % 10 == 0:
                progress.update(step, None)
            if config.checkpoint_every and step % config.checkpoint_every == 0:
                save(step, prior_seconds + time.perf_counter() - t0)
            if callbacks:
                info = {"generator": generator, "critic": critic, "loss_generator": loss_g,
                        "config": config}
                for cb in callbacks:
                    cb(step, info)
        seconds = time.perf_counter() - t0
        if start_step < config.steps and (not config.checkpoint_every
                                          or config.steps % config.checkpoint_every):
            save(config.steps, prior_seconds + seconds)
    finally:
        if log_file is not None:
            log_file.close()
        if progress is not None:
            progress.close()
    generator.eval()
    critic.eval()
    return FitResult(history=history, steps=max(step, start_step), seconds=seconds,
                     resumed_from=resumed_from, run_dir=run_dir)


def _check_resumable(saved: dict[str, Any], config: Config) -> None:
    now = config.to_dict()
    # A key a checkpoint lacks was added later; it held the default when the run was written.
    saved = {**Config().to_dict(), **saved}
    diff = sorted(k for k in now if k not in _RESUMABLE_CHANGES and saved[k] != now[k])
    if diff:
        raise ValueError(
            "the checkpoint was written with a different config ("
            + ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in diff)
            + "); use another run_dir or resume=False")


class _Progress:
    """A rich progress bar showing the losses and the ETA."""

    def __init__(self, config: Config, start: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                             TextColumn("{task.fields[losses]}"), transient=True)
        self._task = self._bar.add_task("train", total=config.steps, completed=start, losses="")
        self._bar.start()

    def update(self, step: int, row: dict[str, float] | None) -> None:
        fields = {}
        if row is not None:
            fields["losses"] = (f"D {row['loss_critic']:+.3f}  G {row['loss_generator']:+.3f}  "
                                f"W {row['wasserstein']:.3f}")
        self._bar.update(self._task, completed=step, **fields)

    def close(self) -> None:
        self._bar.stop()
