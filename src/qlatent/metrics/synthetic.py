"""Metrics of the synthetic experiments, as pure functions of sample arrays.

Every function takes NumPy arrays or torch tensors (converted to float64 NumPy) and returns a
Python float; each declares ``higher_is_better`` as a function attribute, collected in
``HIGHER_IS_BETTER`` (read through ``qlatent.metrics.direction``).

Notation: N samples, d coordinates; for the ring, K blobs at angles θ_k = 2πk/K on the circle
of radius R with polar noise (σ_r, σ_θ) (``qlatent.data.SevenGaussians``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qlatent._validation import check_float, check_int


def _as_array(name: str, x: Any, *, ndim: int = 2, cols: int | None = None) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}") from err
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if cols is not None and arr.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (it holds NaN or inf)")
    return arr


def _mark(higher: bool):
    def wrap(fn):
        fn.higher_is_better = higher
        return fn
    return wrap


@_mark(False)
def integer_distance(samples: Any) -> float:
    """Mean distance to the nearest integer (paper Table I; lower is better).

    integer_distance = (1 / (N·d)) Σ_i Σ_j |x_ij − round(x_ij)|: numerator the summed distances
    over every coordinate of every sample, denominator N·d. Values lie in [0, 0.5]; uniform
    noise gives 0.25.

    Args:
        samples: float[N, d].
    """
    x = _as_array("samples", samples)
    return float(np.mean(np.abs(x - np.round(x))))


def _blob_membership(samples: Any, radius: float, radial_sd: float, angular_sd: float,
                     n_modes: int, n_sigma: float) -> np.ndarray:
    x = _as_array("samples", samples, cols=2)
    radius = check_float("radius", radius, minimum=0.0)
    radial_sd = check_float("radial_sd", radial_sd, minimum=0.0)
    angular_sd = check_float("angular_sd", angular_sd, minimum=0.0)
    n_modes = check_int("n_modes", n_modes, minimum=1)
    n_sigma = check_float("n_sigma", n_sigma, minimum=0.0)
    r = np.hypot(x[:, 0], x[:, 1])
    theta = np.arctan2(x[:, 1], x[:, 0])
    centers = 2 * np.pi * np.arange(n_modes) / n_modes
    # Angular offset to each blob, wrapped to (-π, π].
    d_theta = np.angle(np.exp(1j * (theta[:, None] - centers[None, :])))
    in_radius = np.abs(r - radius) <= n_sigma * radial_sd
    return in_radius[:, None] & (np.abs(d_theta) <= n_sigma * angular_sd)  # bool[N, K]


@_mark(False)
def interpolation_rate(samples: Any, *, radius: float = 5.0, radial_sd: float = 0.2,
                       angular_sd: float = 0.05, n_modes: int = 7, n_sigma: float = 3.0
                       ) -> float:
    """Fraction of samples outside every blob's n_sigma region (lower is better).

    The region of blob k is defined in the polar coordinates the data's noise lives in
    (``SevenGaussians``): a point (r, θ) belongs to blob k when
    |r − R| ≤ n_sigma·σ_r and |wrap(θ − θ_k)| ≤ n_sigma·σ_θ (wrap to (−π, π]). With the
    defaults (3σ) a true data point lies in its blob's region with probability
    0.9973² ≈ 0.9946, so real data scores ≈ 0.005.

    interpolation_rate = (#samples in no region) / N.

    Args:
        samples: float[N, 2].
        radius, radial_sd, angular_sd, n_modes: the ring (R, σ_r, σ_θ, K).
        n_sigma: half-width of a region in standard deviations (default 3).
    """
    inside = _blob_membership(samples, radius, radial_sd, angular_sd, n_modes, n_sigma)
    return float(np.mean(~inside.any(axis=1)))


@_mark(True)
def modes_covered(samples: Any, *, radius: float = 5.0, radial_sd: float = 0.2,
                  angular_sd: float = 0.05, n_modes: int = 7, n_sigma: float = 3.0,
                  min_fraction: float | None = None) -> int:
    """Number of blobs that receive a fair share of the samples (higher is better, at most K).

    Blob k is covered when the fraction of ALL N samples inside its n_sigma region (as in
    ``interpolation_rate``) is at least ``min_fraction``, by default a quarter of its fair
    share, 1/(4K).

    Args:
        samples: float[N, 2].
        radius, radial_sd, angular_sd, n_modes, n_sigma: as in ``interpolation_rate``.
        min_fraction: threshold on (#samples in blob k) / N; default 1/(4K).
    """
    inside = _blob_membership(samples, radius, radial_sd, angular_sd, n_modes, n_sigma)
    k = inside.shape[1]
    threshold = 0.25 / k if min_fraction is None else check_float(
        "min_fraction", min_fraction, minimum=0.0, maximum=1.0)
    return int(np.sum(inside.mean(axis=0) >= threshold))


def median_bandwidth(x: Any, y: Any) -> float:
    """Median heuristic: the median Euclidean distance over distinct pairs of the pooled set."""
    x = _as_array("x", x)
    y = _as_array("y", y, cols=x.shape[1])
    z = np.concatenate([x, y])
    d2 = _sq_dists(z, z)
    iu = np.triu_indices(z.shape[0], k=1)
    return float(np.sqrt(np.median(d2[iu])))


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


@_mark(False)
def mmd(x: Any, y: Any, *, bandwidth: Any = None) -> float:
    """Squared maximum mean discrepancy with a Gaussian kernel (unbiased; lower is better).

    k(a, b) = (1/L) sum_l exp(−‖a − b‖² / (2h_l²)), the house kernel of
    ``qlatent.metrics.kernels.gaussian_kernel`` (one MMD for fitting and scoring), with
    h = ``bandwidth`` (one number, or several for a mixture such as Liu & Wang's
    σ = (0.5, 1, 2, 4) on bit strings) or the median heuristic (``median_bandwidth(x, y)``).
    The unbiased U-statistic of Gretton et al. (JMLR 13, 2012, eq. 3):

        MMD²_u = Σ_{i≠j} k(x_i, x_j) / (n(n−1)) + Σ_{i≠j} k(y_i, y_j) / (m(m−1))
                 − 2 Σ_{i,j} k(x_i, y_j) / (n m)

    It can be slightly negative when the two sets come from one distribution.

    Args:
        x: float[n, d] (e.g. generated samples), n >= 2.
        y: float[m, d] (e.g. held-out data), m >= 2.
        bandwidth: h > 0, a sequence of them, or ``None`` for the median heuristic.
    """
    # Imported here: kernels imports torch, which ``import qlatent.metrics`` (CLI start-up)
    # must not.
    import torch

    from qlatent.metrics.kernels import check_bandwidths, mmd2

    x = _as_array("x", x)
    y = _as_array("y", y, cols=x.shape[1])
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"x and y must hold at least 2 samples each, got {n} and {m}")
    bandwidths = check_bandwidths(median_bandwidth(x, y) if bandwidth is None else bandwidth,
                                  name="bandwidth")
    return mmd2(torch.from_numpy(x), torch.from_numpy(y), bandwidths)


#: Direction of each metric of this module, by its name (``qlatent.metrics.direction`` reads it).
HIGHER_IS_BETTER = {f.__name__: f.higher_is_better
                    for f in (integer_distance, interpolation_rate, modes_covered, mmd)}
