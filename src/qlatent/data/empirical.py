"""The empirical distribution of a fixed set of rows, as training data for ``qlatent.train.fit``.

``fit`` draws real batches with ``data.sample(n, *, generator)`` from a ``torch.Generator``;
:class:`EmpiricalData` does that for any table of rows (bit vectors of ``qlatent.data.discrete``,
grey-scale images, counts): rows drawn uniformly with replacement.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from qlatent._random import check_generator
from qlatent._validation import check_int


class EmpiricalData:
    """Rows drawn uniformly, with replacement, from a fixed table ``rows`` [N, d].

    Args:
        rows: a real array or tensor [N, d], N >= 1 (e.g. ``DiscreteData.data`` or images
            flattened row-major); stored as float32.

    Attributes:
        rows: float32 Tensor[N, d] on ``device``; dim: d.
    """

    def __init__(self, rows: Any) -> None:
        if isinstance(rows, torch.Tensor):
            t = rows.detach().to("cpu")
        else:
            try:
                arr = np.asarray(rows)
            except (TypeError, ValueError) as err:
                raise TypeError(f"rows must be a real array [N, d], got "
                                f"{type(rows).__name__}") from err
            if arr.dtype == object or arr.dtype.kind not in "biuf":
                raise TypeError(f"rows must be a real array [N, d], got dtype {arr.dtype}")
            t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        if t.is_complex():
            raise TypeError(f"rows must be real, got {t.dtype}")
        if t.dim() != 2 or t.shape[0] == 0 or t.shape[1] == 0:
            raise ValueError(f"rows must have shape [N, d] with N, d >= 1, got {list(t.shape)}")
        self.rows = t.to(torch.float32).contiguous()
        if not bool(torch.isfinite(self.rows).all()):
            raise ValueError("rows must be finite (no NaN or inf)")
        self.dim = int(self.rows.shape[1])
        self.device = torch.device("cpu")

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def to(self, device: str | torch.device) -> EmpiricalData:
        """Move the rows to ``device`` (in place); returns ``self``."""
        self.device = torch.device(device)
        self.rows = self.rows.to(self.device)
        return self

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` rows drawn uniformly with replacement: float32 Tensor[n, d] on ``device``."""
        n = check_int("n", n, minimum=0)
        check_generator(generator)
        index = torch.randint(0, len(self), (n,), generator=generator, device=self.device)
        return self.rows.index_select(0, index)

    def __repr__(self) -> str:
        return f"EmpiricalData(rows={len(self)}, dim={self.dim})"
