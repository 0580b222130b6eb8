"""``BankLatent``: a latent that draws rows of a sample bank uniformly, with replacement.

The bank is held once, as a non-persistent buffer in its compact integer dtype (uint8: a
1M x 48 bank is 48 MB; uint16 banks are widened to int32 because torch indexes no uint16);
each draw converts only the drawn batch to float32 and applies the bank's normalisation
``z = (s - shift) / scale`` (see :mod:`qlatent.latents.normalize`). The bank is shared with the
:class:`~qlatent.latents.banks.Bank` (``torch.from_numpy``), never copied per draw.

Notation: N bank rows, dim = m modes; a draw is z = (bank[i] - shift) / scale with
i ~ Uniform{0, ..., N - 1} independently per row of the batch.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from qlatent._validation import check_choice
from qlatent.latents.banks import Bank, load_bank
from qlatent.latents.base import LatentDistribution
from qlatent.latents.normalize import NORMALIZATIONS, normalization_constants


def _as_tensor(rows: np.ndarray) -> torch.Tensor:
    if rows.dtype == np.uint16:
        return torch.from_numpy(rows.astype(np.int32))
    with warnings.catch_warnings():
        # The bank's rows are read-only for NumPy; torch never writes to this buffer.
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return torch.from_numpy(rows)


class BankLatent(LatentDistribution):
    """Uniform draws with replacement from the rows of a bank.

    Args:
        bank: a :class:`Bank`, a bank folder or a cache key (prefix).
        normalize: ``"center"`` (subtract the bank's per-coordinate mean, the paper),
            ``"standardize"`` or ``"none"``; statistics come from the bank's metadata.

    Buffers: ``bank`` (uint8/int32 [N, dim], non-persistent: checkpoints record
    ``bank_key`` instead of 48 MB of rows), ``shift`` and ``scale`` (float32[dim]).
    """

    def __init__(self, bank: Bank | str | os.PathLike, *, normalize: str = "center") -> None:
        bank = load_bank(bank)
        check_choice("normalize", normalize, NORMALIZATIONS)
        super().__init__(bank.n_modes)
        self.normalize = normalize
        self.bank_key = bank.key
        self.kind = bank.kind
        self.metadata = bank.metadata
        stats = bank.statistics
        shift, scale = normalization_constants(stats["mean"], stats["std"], normalize)
        self.register_buffer("bank", _as_tensor(bank._rows), persistent=False)
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self._identity_scale = normalize != "standardize"

    @property
    def device(self) -> torch.device:
        return self.bank.device

    @property
    def n_samples(self) -> int:
        return int(self.bank.shape[0])

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        idx = torch.randint(0, self.bank.shape[0], (n,), generator=generator,
                            device=self.bank.device)
        z = self.bank.index_select(0, idx).to(torch.float32)
        if self.normalize == "none":
            return z
        z.sub_(self.shift)
        return z if self._identity_scale else z.div_(self.scale)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, kind={self.kind!r}, n_samples={self.n_samples}, "
                f"normalize={self.normalize!r}, bank_key={self.bank_key[:12]!r}")
