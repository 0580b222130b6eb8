"""Summary statistics of photon-count samples (pure NumPy).

Notation: samples int[N, m], N samples of counts over m modes; states int[K, m] and probs
float64[K] an exact distribution (e.g. from ``reference.output_distribution``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qlatent._validation import check_int


def _check_samples(samples: Any, name: str = "samples") -> np.ndarray:
    arr = np.asarray(samples)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array of counts, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n_samples, n_modes), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must hold non-negative counts")
    return arr


def mean_occupancy(samples: Any) -> np.ndarray:
    """Mean count per mode, float64[m]: <s_j>."""
    return _check_samples(samples).mean(axis=0, dtype=np.float64)


def mode_variance(samples: Any) -> np.ndarray:
    """Variance of the count per mode (population, ddof=0), float64[m]."""
    return _check_samples(samples).astype(np.float64).var(axis=0)


def fano_factor(samples: Any) -> float:
    """Mean over modes of var(s_j) / <s_j> (modes never occupied are skipped)."""
    arr = _check_samples(samples)
    mean = arr.mean(axis=0, dtype=np.float64)
    var = arr.astype(np.float64).var(axis=0)
    occupied = mean > 0
    if not np.any(occupied):
        raise ValueError("samples must have at least one occupied mode for a Fano factor")
    return float(np.mean(var[occupied] / mean[occupied]))


def probability_of_count(samples: Any, k: int) -> float:
    """Fraction of samples in which some mode holds at least k photons: P(max_j s_j >= k)."""
    k = check_int("k", k, minimum=0)
    return float(np.mean(_check_samples(samples).max(axis=1) >= k))


def bunching_probability(samples: Any) -> float:
    """Fraction of samples with at least two photons in one mode: P(max_j s_j >= 2)."""
    return probability_of_count(samples, 2)


def photon_number_histogram(samples: Any, max_count: int | None = None) -> np.ndarray:
    """P(s_j = c) pooled over modes and samples, float64[max_count + 1] (c = 0..max_count).

    Counts above ``max_count`` (default: the largest count seen) are not included.
    """
    arr = _check_samples(samples)
    top = int(arr.max()) if max_count is None else check_int("max_count", max_count, minimum=0)
    flat = arr.ravel()
    hist = np.bincount(flat[flat <= top], minlength=top + 1).astype(np.float64)
    return hist / flat.size


def _check_distribution(states: Any, probs: Any, n_modes: int) -> tuple[np.ndarray, np.ndarray]:
    states = np.asarray(states)
    probs = np.asarray(probs, dtype=np.float64)
    if not np.issubdtype(states.dtype, np.integer) or states.ndim != 2:
        raise ValueError(f"states must be an integer array [K, m], got {states.dtype} "
                         f"{states.shape}")
    if states.shape[1] != n_modes:
        raise ValueError(f"states must have {n_modes} columns (one per mode), got "
                         f"{states.shape[1]}")
    if probs.shape != (states.shape[0],):
        raise ValueError(f"probs must have shape ({states.shape[0]},), got {probs.shape}")
    return states, probs


def empirical_distribution(samples: Any, states: Any) -> np.ndarray:
    """Fraction of samples equal to each of ``states``: float64[K].

    Raises if a sample is not among ``states`` (the state list must be complete).
    """
    arr = _check_samples(samples)
    states = np.asarray(states)
    if states.ndim != 2 or states.shape[1] != arr.shape[1]:
        raise ValueError(f"states must have shape (K, {arr.shape[1]}), got {states.shape}")
    index = {row.tobytes(): k for k, row in enumerate(states.astype(np.int64))}
    if len(index) != states.shape[0]:
        raise ValueError("states must not repeat a state")
    unique, counts = np.unique(arr.astype(np.int64), axis=0, return_counts=True)
    freq = np.zeros(states.shape[0], dtype=np.float64)
    for row, c in zip(unique, counts, strict=True):
        k = index.get(row.tobytes())
        if k is None:
            raise ValueError(f"samples contain a state that is not in states: {row.tolist()}")
        freq[k] += c
    return freq / arr.shape[0]


def total_variation_distance(samples: Any, states: Any, probs: Any) -> float:
    """TVD = 1/2 sum_S |f(S) - p(S)| between the samples' frequencies f and exact probs p.

    The sum runs over every state: samples outside ``states`` (probability 0 there) count in
    full, so an impossible sample raises the distance instead of being dropped.
    """
    arr = _check_samples(samples)
    states, probs = _check_distribution(states, probs, arr.shape[1])
    values, counts = np.unique(arr.astype(np.int64), axis=0, return_counts=True)
    freq = {row.tobytes(): c / arr.shape[0] for row, c in zip(values, counts, strict=True)}
    total = 0.0
    for row, p in zip(states.astype(np.int64), probs, strict=True):
        total += abs(freq.pop(row.tobytes(), 0.0) - p)
    return float(0.5 * (total + sum(freq.values())))


def collision_probability(samples: Any) -> float:
    """Unbiased estimate of sum_S p(S)^2 from N samples: sum_S c_S (c_S - 1) / (N (N - 1)),
    c_S the number of samples equal to S (NaN for a single sample)."""
    arr = _check_samples(samples)
    _, counts = np.unique(arr, axis=0, return_counts=True)
    n = arr.shape[0]
    return float((counts * (counts - 1.0)).sum() / (n * (n - 1.0))) if n > 1 else float("nan")
