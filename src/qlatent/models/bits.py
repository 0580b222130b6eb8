"""The classical GAN baseline for bit data: a latent (e.g. Gaussian) -> MLP -> bits.

Notation: B batch size, L latent length (``in_dim``), n bits (``n_bits``), ℓ logits, σ the
logistic sigmoid.

The network maps z to n logits ℓ(z); the output is one sample of independent bits given z,

    b_i = 1[u_i < σ(ℓ_i(z))],   u_i ~ U[0, 1) (from the ``generator`` keyword),

so the generator's distribution is the mixture p(b) = E_z prod_i σ(ℓ_i)^b_i (1 - σ(ℓ_i))^(1-b_i)
and the critic sees true 0/1 vectors, as it sees the data. The gradient is the straight-through
estimator (Bengio, Léonard & Courville, arXiv:1308.3432): forward b, backward as if the output
were σ(ℓ), i.e. the output is b + σ(ℓ) - stop_gradient(σ(ℓ)) and ∂b_i/∂ℓ_i := σ'(ℓ_i). It is
biased but low-variance; with ``qlatent.train.fit`` the bits' uniforms come from the run's
``noise`` stream (fit passes it as ``generator``), so a run stays a deterministic function of
its seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from qlatent._random import check_generator
from qlatent._validation import check_int
from qlatent.models.mlp import MLP


class BitGenerator(nn.Module):
    """z -> MLP -> logits -> bits with the straight-through gradient (module docstring).

    Args:
        in_dim: latent length L.
        n_bits: n, the number of output bits (the data's width).
        hidden: widths of the MLP's hidden layers (default two of 64).
        activation: hidden activation (as ``qlatent.models.MLP``; default ``"leaky_relu"``).
        generator: the ``torch.Generator`` the weights are drawn from.

    Shapes: ``forward(z: Tensor[B, L], *, generator=None) -> float Tensor[B, n]`` holding 0.0
    and 1.0 only; ``probabilities(z) -> Tensor[B, n]``, the Bernoulli means σ(ℓ(z)).
    """

    def __init__(self, in_dim: int, n_bits: int, *, hidden: Sequence[int] = (64, 64),
                 activation: str = "leaky_relu", generator: torch.Generator | None = None
                 ) -> None:
        super().__init__()
        self.n_bits = check_int("n_bits", n_bits, minimum=1)
        self.net = MLP(in_dim, self.n_bits, hidden=hidden, activation=activation,
                       generator=generator)
        self.in_dim = self.net.in_dim

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments that fix the architecture (all but generator)."""
        return {"in_dim": self.in_dim, "n_bits": self.n_bits, "hidden": self.net.hidden,
                "activation": self.net.activation}

    def _check_z(self, z: Any) -> None:
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z must be a Tensor[B, {self.in_dim}], got {type(z).__name__}")
        if z.dim() != 2 or z.shape[1] != self.in_dim:
            raise ValueError(f"z must have shape [B, {self.in_dim}], got {list(z.shape)}")

    def probabilities(self, z: torch.Tensor) -> torch.Tensor:
        """σ(ℓ(z)): the probability of each bit being 1 given z, Tensor[B, n]."""
        self._check_z(z)
        return torch.sigmoid(self.net(z))

    def forward(self, z: torch.Tensor, *, generator: torch.Generator | None = None
                ) -> torch.Tensor:
        """One bit vector per row of z (values 0.0/1.0), straight-through differentiable."""
        check_generator(generator)
        p = self.probabilities(z)
        u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
        bits = (u < p).to(p.dtype)
        return bits + (p - p.detach())

    def extra_repr(self) -> str:
        return f"in_dim={self.in_dim}, n_bits={self.n_bits}"
