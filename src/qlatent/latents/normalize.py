"""Normalisation of latent coordinates: ``center`` (the paper), ``standardize``, ``none``.

The paper centres every latent "to have a mean value of 0 before being injected into the
generator" (arXiv:2508.19857, App. B); we read that as subtracting the per-coordinate mean of
the sample bank. The statistics are computed once, over the whole bank in float64, and stored
in the bank's metadata, so training and evaluation apply exactly the same shift.

For a latent vector ``z`` (float32[dim]) with bank mean ``mu`` and standard deviation ``sigma``:

* ``center``:      z' = z - mu
* ``standardize``: z' = (z - mu) / sigma   (a coordinate with sigma = 0 is only centred)
* ``none``:        z' = z
"""

from __future__ import annotations

import numpy as np

from qlatent._validation import check_choice

NORMALIZATIONS: tuple[str, ...] = ("center", "standardize", "none")


def column_statistics(samples: np.ndarray, *, chunk_rows: int = 1 << 16) -> dict[str, list[float]]:
    """Per-coordinate mean and standard deviation of a sample array, in float64.

    Args:
        samples (integer or float array [N, dim]): the rows of a bank.
        chunk_rows: rows converted to float64 at a time (bounds the temporary memory).

    Returns:
        ``{"mean": [dim floats], "std": [dim floats]}`` (population standard deviation).
    """
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise ValueError(f"samples must be a non-empty 2-D array, got shape {samples.shape}")
    n, dim = samples.shape
    total = np.zeros(dim)
    total_sq = np.zeros(dim)
    for start in range(0, n, chunk_rows):
        block = samples[start:start + chunk_rows].astype(np.float64)
        total += block.sum(axis=0)
        total_sq += np.square(block).sum(axis=0)
    mean = total / n
    var = np.maximum(total_sq / n - mean**2, 0.0)
    return {"mean": mean.tolist(), "std": np.sqrt(var).tolist()}


def normalization_constants(mean, std, normalize: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(shift, scale)`` (float64[dim]) so that ``z' = (z - shift) / scale``.

    Args:
        mean, std (float[dim]): per-coordinate statistics of the distribution.
        normalize: one of ``"center"``, ``"standardize"``, ``"none"``.
    """
    check_choice("normalize", normalize, NORMALIZATIONS)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if mean.shape != std.shape or mean.ndim != 1:
        raise ValueError(f"mean and std must be 1-D of equal length, got {mean.shape}, {std.shape}")
    if normalize == "none":
        return np.zeros_like(mean), np.ones_like(mean)
    if normalize == "center":
        return mean, np.ones_like(mean)
    scale = np.where(std > 0, std, 1.0)
    return mean, scale
