"""One training step: k critic updates with the gradient penalty, then one generator update.

Notation: B batch size, k = ``n_critic``, G generator, D critic, z latent vectors, ε
interpolation weights, x̂ = ε·real + (1 − ε)·fake.

A step draws its randomness in blocks, each from its own stream (``RandomStreams``):
(1 + k)·B latent vectors, k·B real samples and k·B weights ε; the k generated critic batches
come from one forward pass of G (G does not change during the critic updates). The real and
generated batches are scored in one call of D, concatenated along the batch dimension; x̂ in a
call of its own, so that the penalty's input gradient and its double backward run over B rows,
not over all 3B.

References: Gulrajani et al., "Improved Training of Wasserstein GANs", arXiv:1704.00028 (WGAN-GP);
Goodfellow et al., arXiv:1406.2661 (non-saturating loss).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qlatent.train.config import Config
from qlatent.train.streams import RandomStreams

Sample = torch.Tensor | tuple[torch.Tensor, ...]


# --------------------------------------------------------------------------- structure helpers
def _as_tuple(x: Sample, name: str) -> tuple[torch.Tensor, ...]:
    if isinstance(x, torch.Tensor):
        return (x,)
    if isinstance(x, (tuple, list)) and x and all(isinstance(t, torch.Tensor) for t in x):
        return tuple(x)
    raise TypeError(f"{name} must be a Tensor or a tuple of Tensors, got {type(x).__name__}")


def _restore(parts: Sequence[torch.Tensor], like_tuple: bool) -> Sample:
    return tuple(parts) if like_tuple else parts[0]


def _scores(out: torch.Tensor, n: int | tuple[int, ...]) -> torch.Tensor:
    # n: B rows (solo), or (K, B) for a pack of K members
    shape = (n,) if isinstance(n, int) else tuple(n)
    if not isinstance(out, torch.Tensor) or out.numel() != math.prod(shape):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        want = shape[0] if len(shape) == 1 else "x".join(map(str, shape))
        raise ValueError(f"the critic must return one score per sample ({want}), got {got}")
    return _upcast(out.reshape(shape))


def _upcast(t: torch.Tensor) -> torch.Tensor:
    # half precision to float32; float32 and float64 (the round-off tests) stay as they are
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def _float(sample: Sample) -> Sample:
    # Generated samples leave a mixed-precision forward pass as float32, like real ones.
    if isinstance(sample, (tuple, list)):
        return tuple(_upcast(t) for t in sample)
    return _upcast(sample) if isinstance(sample, torch.Tensor) else sample


# --------------------------------------------------------------------------- the penalty
def interpolate(real: Sample, fake: Sample, epsilon: torch.Tensor) -> Sample:
    """x̂ = ε·real + (1 − ε)·fake with ONE ε per sample, shared by every tensor of a tuple.

    Args:
        real, fake: Tensors (or tuples of Tensors) of equal structure, ``B`` rows each (a pack
            of K members: ``[K, B, ...]``).
        epsilon: ``Tensor[B]`` of weights in [0, 1] (a pack: ``Tensor[K, B]``).
    """
    r, f = _as_tuple(real, "real"), _as_tuple(fake, "fake")
    if len(r) != len(f):
        raise ValueError(f"real has {len(r)} tensors but fake has {len(f)}")
    out = []
    for a, b in zip(r, f, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"real and fake tensors differ in shape: {tuple(a.shape)} vs "
                             f"{tuple(b.shape)}")
        lead = tuple(epsilon.shape)
        e = epsilon.reshape(lead + (1,) * (a.dim() - len(lead))).to(a.dtype)
        out.append(torch.lerp(b, a, e))
    return _restore(out, isinstance(real, (tuple, list)))


def gradient_penalty(critic: Callable[[Sample], torch.Tensor], real: Sample, fake: Sample, *,
                     epsilon: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """The WGAN-GP penalty E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] (without the weight λ).

    x̂ = ε·real + (1 − ε)·fake, ε ~ U[0, 1] per sample. For tuple samples the gradient is taken
    w.r.t. every tensor and one norm per sample runs over all of them:
    ‖∇‖₂² = Σ_tensors Σ_entries (∂D/∂x̂)². The result is differentiable w.r.t. D's parameters.
    A pack of K members (samples ``[K, B, ...]``, ``epsilon`` ``[K, B]``, D returning
    ``[K, B]``) gets one penalty per member, ``Tensor[K]``: the members share no number, so
    member k's penalty (and its gradient) is the one its solo critic would compute.
    Only ``critic`` is called inside the caller's context: to score x̂ under mixed precision,
    pass a critic that enters ``torch.autocast`` itself, so the input gradient and its norm
    are computed outside it, in float32 (as ``training_step`` does).

    Args:
        critic: ``D(x) -> Tensor[B]`` or ``Tensor[B, 1]``.
        real, fake: samples of equal structure (B rows).
        epsilon: ``Tensor[B]`` of interpolation weights; drawn from ``generator`` if ``None``.
            For a pack, ``Tensor[K, B]`` (it must then be given).
        generator: the ``torch.Generator`` for ε.

    Returns:
        A scalar float32 tensor (a pack: ``float32[K]``).

    Reference: Gulrajani et al., arXiv:1704.00028, eq. (3).
    """
    r = _as_tuple(real, "real")
    n = r[0].shape[0]
    if epsilon is None:
        epsilon = torch.rand(n, generator=generator, device=r[0].device)
    lead = tuple(epsilon.shape)
    if epsilon.dim() not in (1, 2) or lead != tuple(r[0].shape[:epsilon.dim()]):
        packed = f" or, for a pack, {tuple(r[0].shape[:2])}" if r[0].dim() > 2 else ""
        raise ValueError(f"epsilon must have shape ({n},){packed}, got {lead}")
    x_hat = tuple(t.detach().requires_grad_(True)
                  for t in _as_tuple(interpolate(real, fake, epsilon), "x_hat"))
    scores = _scores(critic(_restore(x_hat, isinstance(real, (tuple, list)))), lead)
    grads = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    sq = sum(g.reshape(*lead, -1).pow(2).sum(-1) for g in grads)
    return (sq.sqrt() - 1.0).pow(2).mean(-1)


# --------------------------------------------------------------------------- the adversaries
def make_optimizer(params: list[nn.Parameter], config: Config, *,
                   lr: float | None = None) -> torch.optim.Optimizer:
    """``config.optimizer`` over ``params`` (Adam fused where every parameter allows it), with
    learning rate ``lr`` (``None``: ``config.lr``)."""
    lr = config.lr if lr is None else lr
    if config.optimizer == "adam":
        fused = {"fused": True} if _fused_ok(params) else {"foreach": True}
        return torch.optim.Adam(params, lr=lr, betas=config.betas, **fused)
    return torch.optim.RMSprop(params, lr=lr, foreach=True)


def _fused_ok(params: list[nn.Parameter]) -> bool:
    return all(p.dtype == torch.float32 and p.device.type in ("cpu", "cuda") for p in params)


class Adversaries:
    """G and D with their optimisers: what a step updates and a checkpoint saves.

    The step works on a member axis: every tensor it hands G and D is ``[K, n, ...]``, every
    score it takes back ``[K, n]``. ``packed=True`` (a pack of ``qlatent.models`` networks,
    ``members=K``): the models take and give those shapes themselves. ``packed=False`` (one
    run, any ``nn.Module``): K = 1 and the axis is removed on the way in and put back on the
    way out (``generate`` and ``score``), so G and D see exactly the solo shapes
    ``[n, ...]``, and a run is what a solo training loop would compute, bit for bit.

    Build it after the models are on the training device (the optimisers' states follow their
    parameters). Only parameters with ``requires_grad`` are trained.
    """

    def __init__(self, generator: nn.Module, critic: nn.Module, config: Config, *,
                 packed: bool = False) -> None:
        self.generator, self.critic, self.packed = generator, critic, packed
        for name, model in (("generator", generator), ("critic", critic)):
            K = getattr(model, "members", 1)
            if not packed and isinstance(K, int) and K > 1:
                raise ValueError(f"{name} is a pack of {K} members: pass packed=True")
        self.generator_params = [p for p in generator.parameters() if p.requires_grad]
        self.critic_params = [p for p in critic.parameters() if p.requires_grad]
        self.opt_generator = make_optimizer(self.generator_params, config,
                                            lr=config.lr_generator)
        self.opt_critic = make_optimizer(self.critic_params, config)
        self._noisy = "generator" in inspect.signature(generator.forward).parameters

    def generate(self, z: torch.Tensor, noise: Sequence[torch.Generator]) -> Sample:
        """G(z) for ``z`` ``[K, n, L]``, with ``noise`` (K generators) as G's ``generator``
        keyword if its ``forward`` takes one; every output tensor ``[K, n, ...]``."""
        if self.packed:
            return self.generator(z, generator=noise) if self._noisy else self.generator(z)
        out = (self.generator(z[0], generator=noise[0]) if self._noisy
               else self.generator(z[0]))
        if isinstance(out, (tuple, list)):
            return tuple(t.unsqueeze(0) for t in out)
        return out.unsqueeze(0) if isinstance(out, torch.Tensor) else out

    def score(self, x: Sample) -> torch.Tensor:
        """D(x) for samples ``[K, n, ...]``: what D returns (one score per sample)."""
        if self.packed:
            return self.critic(x)
        if isinstance(x, (tuple, list)):
            return self.critic(tuple(t[0] for t in x))
        return self.critic(x[0])

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.state_dict(), "critic": self.critic.state_dict(),
                "opt_generator": self.opt_generator.state_dict(),
                "opt_critic": self.opt_critic.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.opt_generator.load_state_dict(state["opt_generator"])
        self.opt_critic.load_state_dict(state["opt_critic"])


class PackState:
    """Which members are still training, and the freezing of those that are not.

    A member *fails* at the first update whose loss or gradient is not finite (NaN or ±inf):
    from that update on its gradients are zeroed and its parameters restored after every
    optimiser step (Adam's momentum would move them even so), so its weights and optimiser
    state stay at their last finite values while the others go on. Detecting it reads one
    boolean per member back from the device per update.

    Attributes:
        failed_at: per member, the step it failed at (``None``: alive).
        what: per member, what turned non-finite (``None``: alive).
    """

    def __init__(self, members: int) -> None:
        self.members = members
        self.failed_at: list[int | None] = [None] * members
        self.what: list[str | None] = [None] * members

    @property
    def dead(self) -> list[int]:
        return [k for k, s in enumerate(self.failed_at) if s is not None]

    def fail(self, k: int, step: int, what: str) -> None:
        """Mark member ``k`` failed at ``step`` (the first failure counts)."""
        if self.failed_at[k] is None:
            self.failed_at[k], self.what[k] = step, what

    def update(self, params: list[nn.Parameter], loss: torch.Tensor,
               grads: Sequence[torch.Tensor | None], optimizer: torch.optim.Optimizer,
               step: int, name: str) -> None:
        """Check ``loss`` (``[K]``) and ``grads`` per member, then set the gradients and step
        ``optimizer`` with the failed members frozen. ``name`` says whose update it is."""
        K = self.members
        grads = [_dense(g) for g in grads]
        total = loss.detach().double()
        for g in grads:
            if g is not None:
                total = total + g.view(K, -1).sum(1, dtype=torch.float64)
        if not bool(torch.isfinite(total).all()):
            finite = torch.isfinite(loss.detach()).tolist()
            for k in torch.nonzero(~torch.isfinite(total)).flatten().tolist():
                self.fail(k, step, f"the {name}'s " + ("gradient" if finite[k] else "loss"))
        dead = self.dead
        saved = []
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


def _dense(grad: torch.Tensor | None) -> torch.Tensor | None:
    # torch 2.13's fused CPU Adam reads a gradient in its parameter's memory order, whatever
    # the gradient's strides: a transposed one (a packed layer's weight gradient out of bmm)
    # would be applied to the wrong entries. Contiguous costs nothing when it already is.
    return None if grad is None else grad.contiguous()


# --------------------------------------------------------------------------- one step
@dataclass(frozen=True)
class StepLosses:
    """One step's figures, ``float[K]`` tensors on the training device (nothing read back).

    Attributes:
        critic: the last critic update's loss, penalty term λ·GP included.
        generator: the generator's loss.
        gradient_penalty: the last critic update's penalty GP (0 when λ = 0).
        wasserstein: E[D(real)] − E[D(fake)] on the last critic batch.
    """

    critic: torch.Tensor
    generator: torch.Tensor
    gradient_penalty: torch.Tensor
    wasserstein: torch.Tensor

    def stacked(self) -> torch.Tensor:
        """``float64[4, K]``: critic, generator, gradient_penalty, wasserstein."""
        return torch.stack((self.critic, self.generator, self.gradient_penalty,
                            self.wasserstein)).double()


def _autocast(device: torch.device, config: Config) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")


def training_step(adversaries: Adversaries, latents: Sequence[Any], data: Sequence[Any],
                  streams: Sequence[RandomStreams], config: Config, state: PackState,
                  step: int, trainers: Sequence[Any] | None = None) -> StepLosses:
    """One step of K ≥ 1 members: draw the step's randomness, run ``config.n_critic`` critic
    updates, then one generator update (only G's gradients are computed there).

    Member k draws from ``streams[k]`` exactly what its solo run draws (latent block, real
    block, ε block, G's noise), in the same order and shapes. The losses are ``[K]``, one per
    member, and the gradients come from the backward pass of their SUM, so member k receives
    exactly the gradient of its own loss (no number crosses the member axis). A member whose
    loss or gradient turns non-finite fails (``PackState``).

    With ``trainers[k]`` (a ``qlatent.train.latent.LatentTrainer``), member k's latent
    parameters take one step too, after G's: along the score-function estimate built from the
    generator batch's per-sample losses (the same numbers G's loss averages) and its raw draws;
    if they turn non-finite the member fails (its θ put back).

    Args:
        adversaries: G, D and their optimisers (updated in place).
        latents: K latents (``sample(n, *, generator) -> Tensor[n, L]``, one L, on
            ``streams[k].device``).
        data: K data objects (``sample(n, *, generator)``, one structure), drawn with
            ``streams[k].data`` and moved to the training device if they live elsewhere.
        streams: K ``RandomStreams`` (advanced).
        config: the training config (B, k, λ, loss, precision).
        state: the members' failures (updated).
        step: the step's number (recorded for a failure).
        trainers: per member, its latent's trainer or ``None`` (fixed latent).

    Returns:
        ``StepLosses`` whose four fields are ``float[K]``.
    """
    K = len(streams)
    device = streams[0].device
    B, n_critic, lam = config.batch_size, config.n_critic, config.gp_weight
    wgan = config.loss == "wgan-gp"

    def critic(x: Sample) -> torch.Tensor:
        with _autocast(device, config):
            return adversaries.score(x)

    # ---- randomness for the whole step, each member from its own streams, drawn in blocks
    trainers = list(trainers) if trainers is not None else [None] * K
    counts_all: list[torch.Tensor | None] = []
    draws = []
    for lat, s, tr in zip(latents, streams, trainers, strict=True):
        counts, z = ((None, lat.sample((1 + n_critic) * B, generator=s.latent)) if tr is None
                     else tr.draw((1 + n_critic) * B, s.latent))
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
        state.update(adversaries.critic_params, loss_d,
                     torch.autograd.grad(loss_d.sum(), adversaries.critic_params),
                     adversaries.opt_critic, step, "critic")
    # ---- one generator update
    with _autocast(device, config):
        fake = _float(adversaries.generate(z_all[:, n_critic * B:], noise))
    d_g = _scores(critic(fake), (K, B))
    per_sample = -d_g if wgan else F.softplus(-d_g)
    loss_g = per_sample.mean(1)
    state.update(adversaries.generator_params, loss_g,
                 torch.autograd.grad(loss_g.sum(), adversaries.generator_params),
                 adversaries.opt_generator, step, "generator")
    for k, tr in enumerate(trainers):
        if tr is not None and state.failed_at[k] is None:
            bad = tr.step(per_sample[k].detach(), counts_all[k][n_critic * B:])
            if bad is not None:
                state.fail(k, step, f"the latent's parameter {bad!r}")
    return StepLosses(
        critic=loss_d.detach(), generator=loss_g.detach(),
        gradient_penalty=(gp.detach() if gp is not None
                          else torch.zeros(K, device=device)),
        wasserstein=(d_real.mean(1) - d_fake.mean(1)).detach())
