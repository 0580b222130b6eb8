"""The trained classical control of the born latents: a learnable multinomial over the modes.

Notation: m = ``dim`` modes, n = ``n_photons`` photons, p = softmax(λ) float64[m] the learnt
mode probabilities (λ the parameters), a sample S int[m] with sum n.

Each of the n photons lands in mode j with probability p_j, independently of the others:

    P(S) = n! / prod_j s_j! · prod_j p_j^{s_j}      (a multinomial)

Why it is the fair control for a trained ``born`` latent: it has the same support (every count
vector of n photons over m modes), the same latent dimension, the same raw draws fed to the
generator (counts, centred by the exact current mean n·p_j), and it is trained the same way
(the score-function estimator with the same baseline and learning rate, ``fit`` with
``latent_lr``). What it lacks is exactly what the quantum question is about: no interference
and no correlations between photons beyond the fixed total (the counts of two modes are
always negatively correlated, Cov = −n p_i p_j), i.e. the i.i.d.-photon limit of the
distinguishable-photon (``photonic``) latent, with its m − 1 free probabilities learnt
directly. A trained born latent that beats it shows that what the circuit learns is more than
the mode occupancies.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from qlatent._validation import check_choice, check_int
from qlatent.latents.base import TrainableLatent
from qlatent.latents.normalize import NORMALIZATIONS


def check_multinomial_parameters(*, dim: Any, n_photons: Any = None,
                                 normalize: Any = "center") -> tuple[int, int, str]:
    """Check a ``multinomial`` request cheaply: (dim, n_photons (default dim // 2), normalize)."""
    dim = check_int("dim", dim, minimum=2)
    check_choice("normalize", normalize, NORMALIZATIONS)
    n_photons = (max(dim // 2, 1) if n_photons is None
                 else check_int("n_photons", n_photons, minimum=1))
    return dim, n_photons, normalize


class MultinomialLatent(TrainableLatent):
    """n independent photons over m modes with learnt mode probabilities (see the module).

    Args:
        dim: m modes (the latent dimension), at least 2.
        n_photons: n (default dim // 2).
        normalize: "center" (default: subtract the exact current mean n·p), "standardize"
            (also divide by sqrt(n p (1 − p))) or "none".

    The start is the uniform distribution (λ = 0, p_j = 1/m), whatever the seed (the registry's
    ``seed`` is accepted for the common signature and unused).

    Attributes:
        logits: ``nn.Parameter`` float64[m], λ.
    """

    def __init__(self, dim: int, *, n_photons: int | None = None,
                 normalize: str = "center") -> None:
        dim, n_photons, normalize = check_multinomial_parameters(
            dim=dim, n_photons=n_photons, normalize=normalize)
        super().__init__(dim)
        self.n_photons, self.normalize = n_photons, normalize
        self.logits = nn.Parameter(torch.zeros(dim, dtype=torch.float64))

    def probabilities(self) -> torch.Tensor:
        """p = softmax(λ): float64[m], differentiable."""
        return torch.softmax(self.logits, 0)

    def log_prob(self, counts: Any) -> torch.Tensor:
        """Exact log P(S) of raw count vectors: float64 Tensor[B], differentiable in λ.

        Args:
            counts (int Tensor or array [B, m]): rows summing to n_photons (else ValueError).
        """
        counts = torch.as_tensor(counts, device=self.logits.device)
        if counts.dim() != 2 or counts.shape[1] != self.dim:
            raise ValueError(f"counts must have shape [B, {self.dim}], got "
                             f"{tuple(counts.shape)}")
        if counts.dtype.is_floating_point or counts.dtype.is_complex or counts.dtype == \
                torch.bool:
            raise TypeError(f"counts must be integers, got {counts.dtype}")
        if bool((counts < 0).any()):
            raise ValueError("counts must be non-negative")
        totals = counts.sum(1)
        if bool((totals != self.n_photons).any()):
            bad = int(totals[totals != self.n_photons][0])
            raise ValueError(f"counts must sum to n_photons = {self.n_photons} in every row, "
                             f"got a row summing to {bad}")
        c = counts.to(torch.float64)
        log_p = torch.log_softmax(self.logits, 0)
        return (math.lgamma(self.n_photons + 1) - torch.lgamma(c + 1).sum(1)
                + (c * log_p).sum(1))

    def sample_counts(self, n: int, *, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
        """Exact draws: int64 Tensor[n, m] (no gradient). Photon i of a draw lands in the first
        mode j whose cumulative probability exceeds a uniform u_i (``torch.rand`` from
        ``generator``, float64[n, n_photons])."""
        n = check_int("n", n, minimum=0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        with torch.no_grad():
            cdf = torch.cumsum(self.probabilities(), 0)
            u = torch.rand(n, self.n_photons, generator=generator, dtype=torch.float64,
                           device=self.logits.device)
            modes = torch.searchsorted(cdf, u, right=True).clamp_(max=self.dim - 1)
            counts = torch.zeros(n, self.dim, dtype=torch.long, device=self.logits.device)
            counts.scatter_add_(1, modes, torch.ones_like(modes))
        return counts

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(n p_j, n p_j (1 - p_j)) float64[m]: the exact moments of the current λ."""
        p = self.probabilities()
        return self.n_photons * p, self.n_photons * p * (1 - p)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_photons={self.n_photons}, normalize={self.normalize!r}"
