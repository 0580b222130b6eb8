"""Classical latents: ``gaussian``, ``bernoulli``, ``uniform``.

Their moments are known in closed form, so normalisation uses the exact mean and standard
deviation rather than estimates:

=============  ====================  =========================
latent         mean                  standard deviation
=============  ====================  =========================
gaussian       0                     1
bernoulli(p)   p                     sqrt(p (1 - p))
uniform(a, b)  (a + b) / 2           (b - a) / sqrt(12)
=============  ====================  =========================

The paper's Bernoulli latent is uniform on {0, 1}^L (p = 1/2; arXiv:2508.19857).
"""

from __future__ import annotations

import math

import torch

from qlatent._validation import check_float
from qlatent.latents.base import LatentDistribution
from qlatent.latents.normalize import normalization_constants


class _AffineLatent(LatentDistribution):
    """A latent with fixed per-coordinate ``shift``, ``scale`` buffers: z' = (z - shift) / scale."""

    def __init__(self, dim: int, mean: float, std: float, normalize: str) -> None:
        super().__init__(dim)
        shift, scale = normalization_constants([mean] * self.dim, [std] * self.dim, normalize)
        self.normalize = normalize
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def _raw(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        z = self._raw(n, generator)
        if self.normalize == "none":
            return z
        return z.sub_(self.shift).div_(self.scale)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, normalize={self.normalize!r}"


class GaussianLatent(_AffineLatent):
    """Standard normal latent N(0, I_dim); normalisation is a no-op (mean 0, sd 1 exactly)."""

    def __init__(self, dim: int, *, normalize: str = "center") -> None:
        super().__init__(dim, 0.0, 1.0, normalize)

    def _raw(self, n, generator):
        return torch.randn(n, self.dim, generator=generator, device=self.device)


class BernoulliLatent(_AffineLatent):
    """Independent Bernoulli(p) coordinates in {0, 1}; the paper's latent is p = 1/2."""

    def __init__(self, dim: int, *, p: float = 0.5, normalize: str = "center") -> None:
        self.p = check_float("p", p, minimum=0.0, maximum=1.0)
        super().__init__(dim, self.p, math.sqrt(self.p * (1 - self.p)), normalize)

    def _raw(self, n, generator):
        u = torch.rand(n, self.dim, generator=generator, device=self.device)
        return (u < self.p).to(torch.float32)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


class UniformLatent(_AffineLatent):
    """Independent uniform coordinates on [low, high), default [0, 1)."""

    def __init__(self, dim: int, *, low: float = 0.0, high: float = 1.0,
                 normalize: str = "center") -> None:
        self.low = check_float("low", low)
        self.high = check_float("high", high)
        if not self.high > self.low:
            raise ValueError(f"high must be > low, got low={self.low}, high={self.high}")
        width = self.high - self.low
        super().__init__(dim, (self.low + self.high) / 2, width / math.sqrt(12.0), normalize)

    def _raw(self, n, generator):
        u = torch.rand(n, self.dim, generator=generator, device=self.device)
        return u.mul_(self.high - self.low).add_(self.low)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, low={self.low}, high={self.high}"
