"""Compare two photon-count banks (hardware against simulation, or any two): ``qlatent bank
compare A B``.

Notation: A int[N_A, m] and B int[N_B, m] the rows of two banks over the same m modes; s_j the
count in mode j; P_A(s_j = c) the fraction of A's rows with c photons in mode j.

Statistics (each for A and B, and how they differ):
    count histogram     h(c) = P(s_j = c) pooled over modes, c = 0..max count of either bank;
    total photons       P(sum_j s_j = n);
    mode marginals      TVD_j = 1/2 sum_c |P_A(s_j = c) - P_B(s_j = c)| per mode, its mean and
                        maximum over modes;
    mean occupancy      <s_j>, and max_j |<s_j>_A - <s_j>_B|;
    correlators         C_jk = <s_j s_k> - <s_j><s_k> (j != k), and max_{j<k} |C^A_jk - C^B_jk|;
    Fano factor         mean over occupied modes of Var(s_j) / <s_j> (photonics.fano_factor);
    bunching            P(max_j s_j >= 2) (photonics.bunching_probability).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qlatent._validation import check_choice
from qlatent.experiments.plotting import figure
from qlatent.photonics.statistics import bunching_probability, fano_factor, mean_occupancy


def _marginals(rows: np.ndarray, size: int) -> np.ndarray:
    """P(s_j = c): float64[m, size]."""
    out = np.zeros((rows.shape[1], size))
    for j in range(rows.shape[1]):
        out[j] = np.bincount(rows[:, j], minlength=size)[:size] / rows.shape[0]
    return out


def _correlators(rows: np.ndarray) -> np.ndarray:
    x = rows.astype(np.float64)
    x -= x.mean(0)
    return x.T @ x / rows.shape[0]


def compare_samples(a: Any, b: Any) -> dict[str, Any]:
    """The statistics of the module docstring for two count arrays int[N, m] (same m).

    Returns:
        A dict of plain floats and lists (JSON-ready): ``count_histogram`` and
        ``total_histogram`` ({"a": [...], "b": [...]}), ``marginal_tvd`` (per mode),
        ``marginal_tvd_mean``, ``marginal_tvd_max``, ``mean_occupancy`` ({"a", "b"}),
        ``max_mean_difference``, ``correlators`` ({"a", "b"}: m x m), ``max_correlator_difference``,
        ``fano`` ({"a", "b"}), ``bunching`` ({"a", "b"}), ``n_samples``, ``n_modes``.
    """
    rows = {}
    for name, x in (("a", a), ("b", b)):
        arr = np.asarray(x)
        if arr.ndim != 2 or arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.integer) \
                or (arr < 0).any():
            raise ValueError(f"{name} must be non-negative integer counts [N, m] with N >= 1, got "
                             f"{arr.dtype} {arr.shape}")
        rows[name] = arr.astype(np.int64)
    A, B = rows["a"], rows["b"]
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"the banks must have the same number of modes, got {A.shape[1]} and "
                         f"{B.shape[1]}")
    size = int(max(A.max(), B.max())) + 1
    marg = {k: _marginals(v, size) for k, v in rows.items()}
    tvd = 0.5 * np.abs(marg["a"] - marg["b"]).sum(1)
    totals = {k: v.sum(1) for k, v in rows.items()}
    n_max = int(max(t.max() for t in totals.values())) + 1
    corr = {k: _correlators(v) for k, v in rows.items()}
    off = ~np.eye(A.shape[1], dtype=bool)
    mean = {k: mean_occupancy(v) for k, v in rows.items()}
    return {
        "n_samples": {"a": int(A.shape[0]), "b": int(B.shape[0])},
        "n_modes": int(A.shape[1]),
        "count_histogram": {k: v.mean(0).tolist() for k, v in marg.items()},
        "total_histogram": {k: (np.bincount(t, minlength=n_max) / t.size).tolist()
                            for k, t in totals.items()},
        "marginal_tvd": tvd.tolist(),
        "marginal_tvd_mean": float(tvd.mean()),
        "marginal_tvd_max": float(tvd.max()),
        "mean_occupancy": {k: v.tolist() for k, v in mean.items()},
        "max_mean_difference": float(np.abs(mean["a"] - mean["b"]).max()),
        "correlators": {k: v.tolist() for k, v in corr.items()},
        "max_correlator_difference": float(np.abs(corr["a"] - corr["b"])[off].max())
        if A.shape[1] > 1 else 0.0,
        "fano": {k: _fano(v) for k, v in rows.items()},
        "bunching": {k: bunching_probability(v) for k, v in rows.items()},
    }


def _fano(rows: np.ndarray) -> float | None:
    try:
        return fano_factor(rows)
    except ValueError:  # no occupied mode
        return None


def comparison_figure(stats: dict[str, Any], path: str | Path, *, labels: tuple[str, str] = (
        "A", "B")) -> Path:
    """Save a 2 x 2 figure of :func:`compare_samples`' output with the house style
    (``experiments.plotting.figure``; the format from the suffix: .png, .svg or .pdf): count
    histograms, mean occupancy per mode, marginal TVD per mode, and the off-diagonal correlators
    of B against those of A.

    Raises:
        ValueError: a suffix other than .png, .svg, .pdf.
    """
    path = Path(path)
    fmt = check_choice("figure suffix", path.suffix.lstrip("."), ("png", "svg", "pdf"))
    la, lb = labels
    h = stats["count_histogram"]
    c = np.arange(len(h["a"]))
    modes = np.arange(stats["n_modes"])
    off = ~np.eye(stats["n_modes"], dtype=bool)
    ca, cb = np.asarray(stats["correlators"]["a"])[off], np.asarray(stats["correlators"]["b"])[off]
    with figure(path, nrows=2, ncols=2, figsize=(9, 7), formats=(fmt,)) as (_, axes):
        ax = axes[0][0]
        ax.bar(c - 0.2, h["a"], 0.4, label=la)
        ax.bar(c + 0.2, h["b"], 0.4, label=lb)
        ax.set(yscale="log", xlabel="photons in a mode c", ylabel="P(s_j = c), all modes",
               title="count histogram")
        ax.legend()
        ax = axes[0][1]
        ax.plot(modes, stats["mean_occupancy"]["a"], "o-", label=la)
        ax.plot(modes, stats["mean_occupancy"]["b"], "s--", label=lb)
        ax.set(xlabel="mode j", ylabel="<s_j>", title="mean occupancy")
        ax.legend()
        ax = axes[1][0]
        ax.bar(modes, stats["marginal_tvd"])
        ax.set(xlabel="mode j", ylabel="TVD of P(s_j)",
               title=f"mode marginals: mean TVD {stats['marginal_tvd_mean']:.4f}")
        ax = axes[1][1]
        ax.scatter(ca, cb, s=8)
        lim = [min(ca.min(initial=0), cb.min(initial=0)), max(ca.max(initial=0),
                                                               cb.max(initial=0))]
        ax.plot(lim, lim, "k:", lw=1)
        ax.set(xlabel=f"C_jk of {la}", ylabel=f"C_jk of {lb}",
               title="two-mode correlators <s_j s_k> - <s_j><s_k>")
    return path
