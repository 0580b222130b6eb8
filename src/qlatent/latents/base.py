"""The one contract every latent distribution keeps (STYLE.md rule 5).

A latent is a small ``torch.nn.Module`` with

* ``dim`` (int): the length L of one latent vector;
* ``sample(n, *, generator=None) -> Tensor[n, dim]`` (float32, on the module's device).

Fixed state (a sample bank, normalisation statistics) lives in buffers, so ``latent.to(device)``
moves it and ``state_dict`` saves it; nothing is a parameter until a latent is meant to be
trained. Randomness comes only from ``generator`` (a ``torch.Generator`` on the module's device);
``generator=None`` uses torch's default generator.

Trainable latents (whose distribution moves while it is trained) share ``TrainableLatent``: they
give their raw draws (``sample_counts``) and the exact per-coordinate mean and variance of the
current distribution (``moments``); the base turns those into ``shift``/``scale`` and normalised
samples, recomputed at every call so no statistic is ever stale.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from qlatent._random import check_generator
from qlatent._validation import check_int
from qlatent.latents.normalize import normalization_constants


class LatentDistribution(nn.Module):
    """Base class: subclasses set ``dim`` and implement ``_sample``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check_int("dim", dim, minimum=1)
        # Marks the module's device for latents that hold no other buffer.
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latent vectors: float32 ``Tensor[n, dim]`` on ``self.device``."""
        n = check_int("n", n, minimum=0)
        check_generator(generator)
        return self._sample(n, generator)

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, n: int) -> torch.Tensor:  # pragma: no cover - convenience alias
        return self.sample(n)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class TrainableLatent(LatentDistribution):
    """Base class of the trainable latents: normalisation from exact moments, and sampling.

    Subclasses set ``dim`` and ``normalize`` ("center", "standardize" or "none", checked by
    them) and implement ``sample_counts(n, *, generator)`` (raw draws, int64 Tensor[n, dim] on
    ``self.device``, no gradient) and ``moments()``. Then

        shift, scale = normalization_constants(mean, sqrt(max(var, 0)), normalize)
        z = (counts - shift) / scale      (float32; "none": z = counts, moments not computed)

    with the mean and variance of the *current* parameters, recomputed at every call.
    """

    trainable = True
    normalize: str

    def moments(self) -> tuple:
        """(mean, var): the exact per-coordinate mean and variance (float[dim] each, torch
        tensors or numpy arrays, no gradient) of the current distribution."""
        raise NotImplementedError

    def sample_counts(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def _constants(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(shift, scale) float32[dim] on ``self.device`` under the current parameters."""
        if self.normalize == "none":  # no moments needed (they may not be computable)
            mean = var = np.zeros(self.dim)
        else:
            with torch.no_grad():
                mean, var = (x.detach().cpu().numpy() if isinstance(x, torch.Tensor)
                             else np.asarray(x) for x in self.moments())
        shift, scale = normalization_constants(
            mean, np.sqrt(np.maximum(np.asarray(var, dtype=np.float64), 0.0)), self.normalize)
        return (torch.from_numpy(shift).to(self.device, torch.float32),
                torch.from_numpy(scale).to(self.device, torch.float32))

    @property
    def shift(self) -> torch.Tensor:
        """float32[dim]: what ``sample`` subtracts under the current parameters."""
        return self._constants()[0]

    @property
    def scale(self) -> torch.Tensor:
        """float32[dim]: what ``sample`` divides by under the current parameters."""
        return self._constants()[1]

    def normalized(self, counts: torch.Tensor) -> torch.Tensor:
        """Raw draws (int Tensor[n, dim]) as latent vectors: float32 ``(counts - shift) /
        scale`` under the current parameters (what ``sample`` returns for those draws)."""
        x = counts.to(self.device, torch.float32)
        if self.normalize == "none":
            return x
        shift, scale = self._constants()
        return (x - shift) / scale

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        if self.device.type == "meta":  # shapes only: no numbers exist to sample from
            return torch.empty((n, self.dim), dtype=torch.float32, device=self.device)
        return self.normalized(self.sample_counts(n, generator=generator))
