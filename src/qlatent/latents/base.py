"""The one contract every latent distribution keeps (STYLE.md rule 5).

A latent is a small ``torch.nn.Module`` with

* ``dim`` (int): the length L of one latent vector;
* ``sample(n, *, generator=None) -> Tensor[n, dim]`` (float32, on the module's device).

Fixed state (a sample bank, normalisation statistics) lives in buffers, so ``latent.to(device)``
moves it and ``state_dict`` saves it; nothing is a parameter until a latent is meant to be
trained. Randomness comes only from ``generator`` (a ``torch.Generator`` on the module's device);
``generator=None`` uses torch's default generator.
"""

from __future__ import annotations

import torch
from torch import nn

from qlatent._random import check_generator
from qlatent._validation import check_int


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
