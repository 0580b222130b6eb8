"""A discrete VAE whose prior is any trainable bit-string latent ("QVAE" with a quantum prior).

Model (x in {0, 1}^D the data, z in {0, 1}^n the latent units, n <= ``VAE_MAX_LATENT``):

* prior p(z): any latent of the registry with an exact, differentiable ``log_prob`` on raw bit
  vectors and ``dim == n`` (``qbm``, ``bm``, ``born`` with ``kind="qubit"``,
  ``bernoulli_fit``, ``made``); its parameters are trained with the networks.
* encoder q(z | x) = prod_j Bernoulli(z_j; sigmoid(l_j(x))), l = an MLP's logits;
* decoder p(x | z) = prod_i Bernoulli(x_i; sigmoid(m_i(z))), m = an MLP's logits.

The networks are ``qlatent.models.MLP`` (float32, solo). Every quantity that mixes in the prior
is float64. Because n <= 12, the prior's log-probabilities of all 2^n states are one
``log_prob`` call (``prior_log_probs``), so three things are exact: the KL term of the ELBO
(``kl_to_prior``), log p(x) by enumeration (``exact_log_prob``, the tests' reference), and the
prior's log p(z) of every hard sample (a table look-up). Training is ``qlatent.train.vae``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from qlatent._validation import check_bits_tensor, check_int
from qlatent.models.mlp import MLP
from qlatent.quantum.qubits import basis_bits, bits_to_index

#: Most latent units: the exact KL and log p(x) enumerate the 2^n latent states.
VAE_MAX_LATENT = 12


class DiscreteVAE(nn.Module):
    """Bernoulli encoder and decoder MLPs around a trainable bit-string prior.

    Args:
        data_dim: D, the bits per data row.
        latent_dim: n, the encoder's latent units (1..12).
        prior: the prior p(z), a registry latent with ``dim == latent_dim`` and an exact
            ``log_prob(bits)`` (e.g. ``latents.get("qbm", n_units=8, seed=0)``).
        hidden: hidden widths of both MLPs (encoder D -> hidden -> n, decoder n ->
            reversed(hidden) -> D; default (128,)).
        generator: the ``torch.Generator`` the network weights are drawn from.

    Raises:
        TypeError: prior has no ``log_prob`` or no ``dim``.
        ValueError: n outside 1..12, D < 1, a prior whose dim is not n.
    """

    def __init__(self, data_dim: int, latent_dim: int, prior: nn.Module, *,
                 hidden: Sequence[int] = (128,), generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.data_dim = check_int("data_dim", data_dim, minimum=1)
        if not callable(getattr(prior, "log_prob", None)) or not isinstance(
                getattr(prior, "dim", None), int):
            raise TypeError(f"prior must be a latent with dim and an exact log_prob(bits) (e.g. "
                            f"latents.get('qbm', ...)), got {type(prior).__name__}")
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1, maximum=VAE_MAX_LATENT)
        if prior.dim != self.latent_dim:
            raise ValueError(f"prior must have dim {self.latent_dim} (the encoder's latent_dim), "
                             f"got a {type(prior).__name__} of dim {prior.dim}")
        self.prior = prior
        hidden = tuple(hidden)
        self.encoder = MLP(self.data_dim, self.latent_dim, hidden=hidden, activation="relu",
                           generator=generator)
        self.decoder = MLP(self.latent_dim, self.data_dim, hidden=hidden[::-1],
                           activation="relu", generator=generator)
        self.register_buffer("states", basis_bits(self.latent_dim).to(torch.float32),
                             persistent=False)

    def check_data(self, x: Any, name: str = "x") -> torch.Tensor:
        """``x`` as float32 [B, D] of 0/1; a one-line ValueError/TypeError otherwise."""
        t = check_bits_tensor(name, x, width=self.data_dim, min_rows=1)
        return t.to(device=self.states.device, dtype=torch.float32)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder logits l(x): float32 [B, n]."""
        return self.encoder(x)

    def decoder_log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x | z), summed over the D bits: float32 [...], ``z`` [..., n] (0/1 or relaxed),
        ``x`` broadcastable to [..., D]."""
        logits, x = torch.broadcast_tensors(self.decoder(z), x)
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)

    def prior_log_probs(self) -> torch.Tensor:
        """log p(z) of all 2^n states (rows of ``states``), float64 [2^n], differentiable in the
        prior's parameters."""
        return self.prior.log_prob(self.states.to(torch.long)).to(torch.float64)

    def posterior_log_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """log q(s | x) of every state s: float64 [B, 2^n]."""
        logits = logits.to(torch.float64)
        s = self.states.to(torch.float64)
        return F.logsigmoid(logits) @ s.T + F.logsigmoid(-logits) @ (1 - s).T

    def kl_to_prior(self, logits: torch.Tensor, prior_log_probs: torch.Tensor) -> torch.Tensor:
        """KL(q(z | x) || p(z)) exactly, by the sum over all 2^n states: float64 [B];
        differentiable in the encoder logits and in the prior's parameters."""
        log_q = self.posterior_log_probs(logits)
        return (log_q.exp() * (log_q - prior_log_probs)).sum(-1)

    def sample_posterior(self, logits: torch.Tensor, k: int, *,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        """k hard samples z ~ q(z | x) per row: float32 [k, B, n] of 0/1."""
        u = torch.rand((k, *logits.shape), generator=generator, device=logits.device)
        return (u < torch.sigmoid(logits)).to(torch.float32)

    def iwae(self, x: Any, k: int = 1000, *, generator: torch.Generator | None = None,
             chunk: int = 250) -> torch.Tensor:
        """Burda et al.'s importance-weighted bound, one estimate per row (float64 [B], nats):
        log (1/k) sum_i p(x | z_i) p(z_i) / q(z_i | x), z_i ~ q(z | x) independent. Its
        expectation is <= log p(x) and rises to it as k grows (k = 1: the ELBO). No gradient.
        """
        x = self.check_data(x)
        k = check_int("k", k, minimum=1)
        with torch.no_grad():
            logits = self.encode(x)
            log_prior = self.prior_log_probs()
            parts = []
            for start in range(0, k, chunk):
                z = self.sample_posterior(logits, min(chunk, k - start), generator=generator)
                log_q = (z * F.logsigmoid(logits) + (1 - z) * F.logsigmoid(-logits)).to(
                    torch.float64).sum(-1)
                log_w = (self.decoder_log_prob(x, z).to(torch.float64)
                         + log_prior[bits_to_index(z.round().to(torch.long))] - log_q)
                parts.append(log_w)
            return torch.logsumexp(torch.cat(parts), 0) - math.log(k)

    def exact_log_prob(self, x: Any) -> torch.Tensor:
        """log p(x) = log sum_z p(x | z) p(z) by enumerating all 2^n latent states: float64 [B]
        (no gradient). The reference the IWAE estimate is checked against."""
        x = self.check_data(x)
        with torch.no_grad():
            log_prior = self.prior_log_probs()
            log_px_z = self.decoder_log_prob(x[None], self.states[:, None, :]).to(torch.float64)
            return torch.logsumexp(log_px_z + log_prior[:, None], 0)
