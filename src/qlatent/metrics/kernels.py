"""The house kernel and the MMD built on it: one kernel for fitting (``qlatent.train``) and for
scoring (``qlatent.metrics``).

Notation:
    x, y: count or bit vectors int[m] (photon counts, or 0/1 bits); σ_1..σ_L > 0 bandwidths.
    Kernel (a mixture of Gaussians):
        k(x, y) = (1/L) sum_l exp(-||x - y||^2 / (2 σ_l^2)),
        ``DEFAULT_BANDWIDTHS`` σ = (0.5, 1, 2, 4) (||x - y||^2 is 2 when one photon moves; on
        bit vectors it is the Hamming distance).
        Liu & Wang (arXiv:1804.04168; their code ``gbm/mmd.py``) write the exponent as
        -γ ||x - y||^2 with γ = 1/(2σ'), σ' in (0.5, 1, 2, 4) for bars and stripes: the same
        kernel as ours with σ = sqrt(σ'), i.e. ``LIU_WANG_BANDWIDTHS``, and a sum where we take
        the mean (a factor L = 4 on the loss, none on the minimiser).
    MMD^2(p, q) = E_{x,x'~p} k(x, x') - 2 E_{x~p, y~q} k(x, y) + E_{y,y'~q} k(y, y')
    (Gretton et al., JMLR 13, 723 (2012)).

This module imports torch; ``import qlatent.metrics`` does not import it (the metric functions
that need it import this module when called).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from qlatent._validation import check_float, check_int

DEFAULT_BANDWIDTHS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
"""The house kernel's σ's."""
LIU_WANG_BANDWIDTHS: tuple[float, ...] = tuple(math.sqrt(s) for s in (0.5, 1.0, 2.0, 4.0))
"""Liu & Wang's bars-and-stripes kernel in our convention: σ = sqrt(σ'), σ' = 0.5, 1, 2, 4."""


def check_bandwidths(bandwidths: Any, *, name: str = "bandwidths") -> tuple[float, ...]:
    """Return ``bandwidths`` (one number, or a sequence of them) as a tuple of floats > 0.

    Raises:
        TypeError / ValueError: naming ``name``, what was expected and what came.
    """
    if isinstance(bandwidths, numbers.Real):
        bandwidths = (bandwidths,)
    if isinstance(bandwidths, str | bytes) or not isinstance(bandwidths, list | tuple
                                                                   | np.ndarray):
        raise TypeError(f"{name} must be a number > 0 or a sequence of them, got "
                        f"{bandwidths!r} ({type(bandwidths).__name__})")
    values = tuple(bandwidths)
    if not values:
        raise ValueError(f"{name} must be one or more numbers > 0, got none")
    out = []
    for b in values:
        b = check_float(name, b)
        if b <= 0:
            raise ValueError(f"{name} must be > 0, got {b}")
        out.append(b)
    return tuple(out)


def gaussian_kernel(x: torch.Tensor, y: torch.Tensor,
                    bandwidths: Any = DEFAULT_BANDWIDTHS) -> torch.Tensor:
    """k(x_i, y_j) = (1/L) sum_l exp(-||x_i - y_j||^2 / (2 σ_l^2)): float64 Tensor[N, M].

    Args:
        x (Tensor[N, m]), y (Tensor[M, m]): count vectors (any real or integer dtype).
        bandwidths: σ_1..σ_L > 0.
    """
    bw = check_bandwidths(bandwidths)
    x, y = x.to(torch.float64), y.to(torch.float64)
    d2 = (x.square().sum(1)[:, None] + y.square().sum(1)[None, :] - 2 * x @ y.T).clamp_min(0)
    return sum(torch.exp(-d2 / (2 * s * s)) for s in bw) / len(bw)


def mmd2(x: Any, y: Any, bandwidths: Any = DEFAULT_BANDWIDTHS) -> float:
    """Unbiased estimate of MMD^2 between two samples (the U-statistic, may be slightly < 0).

    MMD^2_u = 1/(N(N-1)) sum_{i≠i'} k(x_i, x_i') + 1/(M(M-1)) sum_{j≠j'} k(y_j, y_j')
              - 2/(NM) sum_{i,j} k(x_i, y_j)   (Gretton et al. 2012, eq. 3).

    Args:
        x (int or float [N, m]), y ([M, m]): N, M >= 2.
    """
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(len(x), len(y)) < 2:
        raise ValueError(f"x and y must be [N, m] and [M, m] with N, M >= 2, got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    N, M = len(x), len(y)
    kxx = gaussian_kernel(x, x, bandwidths)
    kyy = gaussian_kernel(y, y, bandwidths)
    kxy = gaussian_kernel(x, y, bandwidths)
    return float((kxx.sum() - kxx.diagonal().sum()) / (N * (N - 1))
                 + (kyy.sum() - kyy.diagonal().sum()) / (M * (M - 1)) - 2 * kxy.mean())


def mmd2_by_groups(x: Any, y: Any, sigma: float, n_groups: int) -> tuple[float, float]:
    """MMD^2 between a model's samples and held-out rows, with its standard error.

    The N samples x are split into R = ``n_groups`` consecutive groups of N // R (the rest
    dropped); each group's U-statistic against all M rows y (:func:`mmd2`'s formula, one
    Gaussian bandwidth σ) is unbiased, and the groups are independent given y: the figure is
    their mean, the standard error their standard deviation / sqrt(R). The y-y term is computed
    once.

    Args:
        x (0/1 or counts [N, m]): model samples, N // R >= 2.
        y ([M, m]): held-out rows, M >= 2.
        sigma: σ > 0.
        n_groups: R >= 2.

    Returns:
        (MMD^2 estimate, standard error), floats.
    """
    x, y = torch.as_tensor(np.asarray(x)), torch.as_tensor(np.asarray(y))
    bw = check_bandwidths(sigma)
    R = check_int("n_groups", n_groups, minimum=2)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or len(y) < 2:
        raise ValueError(f"x and y must be [N, m] and [M, m] with M >= 2, got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    size = len(x) // R
    if size < 2:
        raise ValueError(f"x must hold at least 2 rows per group ({2 * R} for n_groups = {R}), "
                         f"got {len(x)}")
    M = len(y)
    kyy = gaussian_kernel(y, y, bw)
    yy = (kyy.sum() - kyy.diagonal().sum()) / (M * (M - 1))
    values = []
    for r in range(R):
        g = x[r * size:(r + 1) * size]
        kxx = gaussian_kernel(g, g, bw)
        values.append(float((kxx.sum() - kxx.diagonal().sum()) / (size * (size - 1)) + yy
                            - 2 * gaussian_kernel(g, y, bw).mean()))
    v = np.asarray(values)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(R))


def exact_mmd2(states: torch.Tensor, p: torch.Tensor, q: torch.Tensor,
               bandwidths: Any = DEFAULT_BANDWIDTHS) -> torch.Tensor:
    """MMD^2 between two distributions on the same states: (p - q)^T K (p - q).

    Args:
        states (int Tensor[K, m]); p, q (float Tensor[K]); differentiable in p and q.
    """
    K = gaussian_kernel(states, states, bandwidths).to(p.dtype)
    d = p - q.to(p.dtype)
    return d @ (K @ d)
