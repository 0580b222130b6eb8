"""Latents trained jointly with the generator: the score-function estimator.

Notation: B batch size, z ~ p_θ a latent draw (raw counts), ℓ(z) = ℓ(G(z)) the generator's
per-sample loss (WGAN: −D(G(z)); non-saturating: softplus(−D(G(z)))).

The latent's draws are discrete (photon counts), so no gradient flows through sampling. The
gradient of the generator's objective with respect to the latent's parameters θ is taken by
the score function (REINFORCE; Williams 1992):

    ∇θ E_z[ℓ(z)] = E_z[(ℓ(z) − b) ∇θ log p_θ(z)],

unbiased for any b independent of z. We use the leave-one-out batch mean
b_i = (Σ_j ℓ_j − ℓ_i) / (B − 1), which depends only on the other draws of the batch, so the
estimator stays unbiased while most of ℓ's common level cancels (Kool et al., "Buy 4 REINFORCE
samples, get a baseline for free!", ICLR 2019 workshop). Its sample version is the gradient of
the surrogate ``mean_i((ℓ_i − b_i) · log p_θ(z_i))`` with ℓ and b held constant
(``score_function_surrogate``).

Normalisation: a trainable latent centres its draws with the exact mean of its *current*
distribution (``born``: Σ_k t_k |U_jk|²; ``multinomial``: n·p_j), recomputed from θ whenever it
samples, not a mean frozen at the start. The shift is applied without gradient: the estimator
is the gradient of E[ℓ] with the centring held at its current value (the pathwise term through
the shift, ∂ℓ/∂z · ∂shift/∂θ, is left out; the generator's first-layer bias absorbs any shift).

A trainable latent (``qlatent.latents.BornLatent``, ``MultinomialLatent``) has parameters and
``sample_counts(n, *, generator) -> int64[n, L]``, ``normalized(counts) -> float32[n, L]``
(``sample`` is ``normalized(sample_counts(...))``, same draws) and ``log_prob(counts)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from qlatent.train.config import Config

__all__ = ["LatentTrainer", "is_trainable", "latent_trainer", "score_function_surrogate"]

_METHODS = ("sample_counts", "normalized", "log_prob")


def is_trainable(latent: Any) -> bool:
    """True if ``latent`` has parameters that require gradients and the trainable methods."""
    return (isinstance(latent, nn.Module)
            and any(p.requires_grad for p in latent.parameters())
            and all(callable(getattr(latent, m, None)) for m in _METHODS))


def score_function_surrogate(losses: torch.Tensor, log_prob: torch.Tensor) -> torch.Tensor:
    """The surrogate whose gradient is the score-function estimate of ∇θ E_z[ℓ(z)].

    surrogate = (1/B) Σ_i (ℓ_i − b_i) log p_θ(z_i),  b_i = (Σ_j ℓ_j − ℓ_i) / (B − 1)

    Args:
        losses (float Tensor[B]): ℓ_i, the per-sample losses (detached here).
        log_prob (float Tensor[B]): log p_θ(z_i), differentiable in θ.

    Returns:
        A 0-d tensor in ``log_prob``'s dtype.
    """
    if losses.dim() != 1 or losses.shape != log_prob.shape:
        raise ValueError(f"losses and log_prob must be 1-D of one length, got "
                         f"{tuple(losses.shape)} and {tuple(log_prob.shape)}")
    B = losses.shape[0]
    if B < 2:
        raise ValueError(f"the leave-one-out baseline needs a batch of at least 2, got {B}")
    ell = losses.detach().to(log_prob.dtype)
    baseline = (ell.sum() - ell) / (B - 1)
    return ((ell - baseline) * log_prob).mean()


class LatentTrainer:
    """A trainable latent with its own optimiser: what ``fit`` adds when ``latent_lr > 0``.

    The optimiser is ``config.optimizer`` (Adam with ``config.betas``, or RMSprop) at
    ``config.latent_lr``, over the latent's parameters that require gradients.
    """

    def __init__(self, latent: nn.Module, config: Config) -> None:
        from qlatent.train.step import make_optimizer

        if not is_trainable(latent):
            raise TypeError(f"latent must be trainable (parameters and "
                            f"{', '.join(_METHODS)}), got {type(latent).__name__}")
        self.latent = latent
        named = [(n, p) for n, p in latent.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.optimizer = make_optimizer(self.params, config, lr=config.latent_lr)

    def draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(counts int64[n, L], z float32[n, L]): the same draws ``latent.sample`` makes."""
        counts = self.latent.sample_counts(n, generator=generator)
        return counts, self.latent.normalized(counts)

    def step(self, losses: torch.Tensor, counts: torch.Tensor, step: int, *,
             strict: bool = True) -> str | None:
        """One optimiser step along the score-function estimate.

        Args:
            losses (float Tensor[B]): the generator's per-sample losses ℓ(G(z_i)).
            counts (int Tensor[B, L]): the raw draws z_i those losses came from.
            step: the training step (named in the error).
            strict: raise on a non-finite parameter after the step (solo runs); False: put the
                parameters back as they were and return the bad parameter's name (packs).

        Returns:
            ``None``, or (``strict=False``) the name of the parameter that turned non-finite.

        Raises:
            FloatingPointError: (``strict``) naming the step and the parameter.
        """
        saved = None if strict else [p.detach().clone() for p in self.params]
        surrogate = score_function_surrogate(losses, self.latent.log_prob(counts))
        grads = torch.autograd.grad(surrogate, self.params, allow_unused=True)
        for p, g in zip(self.params, grads, strict=True):
            p.grad = None if g is None else g.contiguous()
        self.optimizer.step()
        bad = next((n for n, p in zip(self.names, self.params, strict=True)
                    if not bool(torch.isfinite(p).all())), None)
        if bad is None:
            return None
        if strict:
            raise FloatingPointError(
                f"the latent's parameter {bad!r} turned non-finite (NaN or inf) at step {step}; "
                "the last checkpoint holds the last finite state (lower [train] latent_lr)")
        with torch.no_grad():
            for p, old in zip(self.params, saved, strict=True):
                p.copy_(old)
        return bad

    def state_dict(self) -> dict[str, Any]:
        """``{"latent": latent.state_dict(), "opt_latent": optimiser state}``."""
        return {"latent": self.latent.state_dict(), "opt_latent": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.latent.load_state_dict(state["latent"])
        self.optimizer.load_state_dict(state["opt_latent"])


def latent_trainer(latent: Any, config: Config) -> LatentTrainer | None:
    """A ``LatentTrainer`` if ``config.latent_lr > 0`` and the latent is trainable, else
    ``None`` (the latent stays fixed)."""
    if config.latent_lr > 0 and is_trainable(latent):
        return LatentTrainer(latent, config)
    return None
