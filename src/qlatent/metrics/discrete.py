"""Metrics of discrete generative models (bit strings, photon counts), as pure functions.

Distributions are float vectors over one list of K distinct states (rows of uint8 [K, n]);
samples are rows [N, n] of raw bits or counts. ``empirical_probs`` turns samples into a vector
on a state list (samples on no listed state count in no entry: their share is 1 - sum).
Each function declares ``higher_is_better`` (collected in ``HIGHER_IS_BETTER``, read through
``qlatent.metrics.direction``); ``generalization_metrics`` returns several named values, each
declared in ``GENERALIZATION_DIRECTIONS``.

Notation:
    p (float64[K]): the target (data) distribution; q (float64[K]): the model's, on the same
    states; N samples x_1..x_N of the model; S the valid strings (solution space),
    D the training strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qlatent._validation import check_bits, check_float, check_int

#: The clip of KL(p || q): q is floored at this value where p > 0 (declared in every result
#: that uses it). Liu & Wang's code floors at 1e-15; any floor is a convention.
KL_EPSILON = 1e-12
#: How far from 1 a probability vector's sum may be (float round-off of exact distributions).
SUM_TOLERANCE = 1e-6
#: Photon counts up to this value per mode are accepted as sample rows (stored as uint8).
MAX_COUNT = 255


def _mark(higher: bool | None):
    def wrap(fn):
        fn.higher_is_better = higher
        return fn
    return wrap


def _rows(name: str, x: Any, *, width: int | None = None, bits: bool = False) -> np.ndarray:
    return check_bits(name, x, width=width, max_value=1 if bits else MAX_COUNT)


def _probs(name: str, x: Any, *, size: int | None = None, complete: bool = True) -> np.ndarray:
    """float64[K] >= 0, finite; summing to 1 (``complete``) or to at most 1."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a vector of probabilities, got "
                        f"{type(x).__name__}") from err
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector of probabilities, got shape "
                         f"{arr.shape}")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} must have {size} entries (one per state), got {arr.size}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must hold finite non-negative probabilities, got min "
                         f"{np.nanmin(arr)!r}")
    total = float(arr.sum())
    if complete and abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"{name} must sum to 1 (within {SUM_TOLERANCE}), got {total!r}")
    if not complete and total > 1.0 + SUM_TOLERANCE:
        raise ValueError(f"{name} must sum to at most 1, got {total!r}")
    return arr


def _index(states: np.ndarray, name: str = "states") -> dict[bytes, int]:
    index = {row.tobytes(): k for k, row in enumerate(states)}
    if len(index) != len(states):
        raise ValueError(f"{name} must not repeat a row (distinct states), got "
                         f"{len(states) - len(index)} repeat(s)")
    return index


def _unique_counts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.unique(x, axis=0, return_counts=True)


def _state_counts(samples: Any, states: Any) -> tuple[np.ndarray, int]:
    """(int64[K] number of samples equal to each state, N)."""
    states = _rows("states", states)
    x = _rows("samples", samples, width=states.shape[1])
    index = _index(states)
    counts = np.zeros(len(states), dtype=np.int64)
    for row, count in zip(*_unique_counts(x), strict=True):
        k = index.get(row.tobytes())
        if k is not None:
            counts[k] = count
    return counts, len(x)


def empirical_probs(samples: Any, states: Any) -> np.ndarray:
    """Fraction of the N samples equal to each state: float64[K].

    f_k = #{i : x_i = s_k} / N. Samples equal to no listed state count in no entry, so
    sum_k f_k = 1 - (share of samples outside the list); the metrics below read that deficit
    as mass where the target has none.

    Args:
        samples (uint8/int [N, n]): raw bit or count vectors, N >= 1.
        states (uint8/int [K, n]): distinct states.
    """
    counts, n = _state_counts(samples, states)
    return counts / n


@_mark(False)
def kl_divergence(p: Any, q: Any, *, epsilon: float = KL_EPSILON) -> float:
    """KL(p || q) = sum_{k: p_k > 0} p_k log(p_k / max(q_k, ε)), in nats (lower is better).

    The data-to-model divergence that maximum likelihood minimises. It is infinite where the
    model puts no mass on data; q is floored at ``epsilon`` (declared, default ``KL_EPSILON``)
    and NOT renormalised, so a missed state costs p_k log(p_k / ε) (27.6 p_k nats at 1e-12).
    Terms with p_k = 0 contribute 0.

    Args:
        p (float[K]): the target, summing to 1.
        q (float[K]): the model on the same states, summing to at most 1 (mass elsewhere is
            allowed: it only lowers q on p's states).
        epsilon: the floor, 0 < ε < 1.
    """
    p = _probs("p", p)
    q = _probs("q", q, size=p.size, complete=False)
    epsilon = check_float("epsilon", epsilon, minimum=0.0, maximum=1.0)
    if not 0 < epsilon < 1:
        raise ValueError(f"epsilon must be in (0, 1), got {epsilon}")
    on = p > 0
    return float(np.sum(p[on] * (np.log(p[on]) - np.log(np.maximum(q[on], epsilon)))))


@_mark(False)
def relative_entropy(model: Any, target: Any, *, epsilon: float = KL_EPSILON) -> float:
    """Zoufal et al.'s relative entropy, KL(model || target), in nats (lower is better).

    The QGAN of arXiv:1904.00043 (and Qiskit's implementation of it,
    ``scipy.stats.entropy(generated, target)``) scores the model-to-target direction, the
    reverse of :func:`kl_divergence`: RE = sum_{k: q_k > 0} q_k log(q_k / max(p_k, ε)).
    Qiskit floors the model's zero probabilities at 1e-8 before scipy renormalises; we keep
    the limit q_k log q_k -> 0 there (their floor shifts the value by terms of order
    1e-8 |log 1e-8| ~ 2e-7 per empty bin).

    Args:
        model (float[K]): q over the ordered bins, summing to 1.
        target (float[K]): p over the same bins, summing to 1.
        epsilon: floor of the target (where the model puts mass the target has not).
    """
    target = _probs("target", target)
    return kl_divergence(model, target, epsilon=epsilon)


@_mark(False)
def total_variation(p: Any, q: Any) -> float:
    """TVD(p, q) = (1/2) sum_k |p_k - q_k| + (1/2)(1 - sum_k q_k), in [0, 1] (lower is better).

    p lists every state the target can produce (it sums to 1); the model's mass on states not
    listed (1 - sum q, e.g. samples outside the list in ``empirical_probs``) lies where p is 0
    and counts in full.

    Args:
        p (float[K]): the target, summing to 1; q (float[K]): summing to at most 1.
    """
    p = _probs("p", p)
    q = _probs("q", q, size=p.size, complete=False)
    return float(0.5 * np.abs(p - q).sum() + 0.5 * max(0.0, 1.0 - q.sum()))


@_mark(False)
def exact_mmd(states: Any, p: Any, q: Any, *, bandwidths: Any = None) -> float:
    """MMD^2(p, q) = (p - q)^T K (p - q) between two distributions on the same states
    (lower is better; 0 iff p = q for this characteristic kernel).

    K is the house kernel of ``qlatent.metrics.kernels`` (the one fitting uses), a mixture of
    Gaussians on the state vectors: k(x, y) = (1/L) sum_l exp(-||x - y||^2 / (2 σ_l^2)),
    σ = ``bandwidths`` (default ``kernels.DEFAULT_BANDWIDTHS`` = (0.5, 1, 2, 4)); Liu &
    Wang's γ = 1/(2σ^2). Both p and q must sum to 1 on ``states`` (every state either can
    produce). From samples, use ``qlatent.metrics.mmd(x, y, bandwidth=...)`` (same kernel,
    unbiased U-statistic).

    Args:
        states (uint8/int [K, n]); p, q (float[K]).
        bandwidths: σ_1..σ_L > 0 (a number or a sequence).
    """
    # Imported here: kernels imports torch, which ``import qlatent.metrics`` (CLI start-up)
    # must not.
    import torch  # torch-free: import qlatent.metrics loads no torch

    from qlatent.metrics import kernels  # torch-free: kernels imports torch

    states = _rows("states", states)
    _index(states)
    p = _probs("p", p, size=len(states))
    q = _probs("q", q, size=len(states))
    bw = kernels.check_bandwidths(kernels.DEFAULT_BANDWIDTHS if bandwidths is None
                                  else bandwidths)
    value = kernels.exact_mmd2(torch.from_numpy(states.astype(np.int64)),
                               torch.from_numpy(p), torch.from_numpy(q), bw)
    return float(value)


@_mark(True)
def valid_fraction(samples: Any, valid: Any) -> float:
    """χ: the fraction of samples that are valid, #{i : x_i in V} / N (higher is better).

    Liu & Wang's score on bars-and-stripes (V = the BAS patterns, ``data.bars_and_stripes``);
    the precision of :func:`qbas_score`.

    Args:
        samples (uint8/int [N, n]); valid (uint8/int [V, n]): the valid states.
    """
    counts, n = _state_counts(samples, valid)
    return int(counts.sum()) / n


@_mark(True)
def qbas_score(samples: Any, n_rows: int, n_cols: int | None = None) -> float:
    """The qBAS score of Benedetti et al. (npj Quantum Inf. 5, 45 (2019)): F1 = 2 p r / (p + r)
    (higher is better, in [0, 1]).

    Over N samples of an n_rows x n_cols image (bits row-major): precision p = (#samples that
    are bars-and-stripes patterns) / N, recall r = (#distinct patterns among the samples) /
    (2^n_rows + 2^n_cols - 2), the number of patterns (``data.bars_and_stripes``). F1 = 0 when
    p + r = 0. Recall depends on N (Benedetti et al. write qBAS_N, e.g. N = 100 readouts): report
    N with the score.

    Args:
        samples (0/1 [N, n_rows * n_cols]).
        n_rows, n_cols: the image (n_cols defaults to n_rows).
    """
    from qlatent.data.discrete import bars_and_stripes  # torch-free: qlatent.data imports torch

    patterns = bars_and_stripes(n_rows, n_cols).states
    x = _rows("samples", samples, width=patterns.shape[1], bits=True)
    counts, n = _state_counts(x, patterns)
    precision = int(counts.sum()) / n
    recall = int(np.count_nonzero(counts)) / len(patterns)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


#: Direction of each value of :func:`generalization_metrics` (None: no better direction).
GENERALIZATION_DIRECTIONS: dict[str, bool | None] = {
    "exploration": None, "generalization_fidelity": True, "generalization_rate": True,
    "normalized_rate": True, "generalization_coverage": True}


def generalization_metrics(samples: Any, train: Any, solutions: Any) -> dict[str, float]:
    """Sample-based generalisation metrics of Gili et al. (arXiv:2201.08770; used on
    cardinality data in arXiv:2207.13645).

    With N samples (queries), D the training strings, S the valid strings (D ⊂ S):
    G_new = the samples not in D (a multiset), G_sol = the samples in S \\ D (a multiset),
    g_sol = the distinct strings of G_sol, ε = |D| / |S|:

    * exploration = |G_new| / N (no better direction);
    * generalization_fidelity F = |G_sol| / |G_new| (unseen samples that are valid; 0 when
      G_new is empty);
    * generalization_rate R = |G_sol| / N;
    * normalized_rate R~ = R / (1 - ε) (1 for a model that samples S uniformly);
    * generalization_coverage C = |g_sol| / |S \\ D| (the unseen valid strings reached;
      it depends on N: report N).

    Args:
        samples (0/1 or counts [N, n]); train ([|D|, n]), solutions ([|S|, n]): distinct rows,
            every training row valid. ``data.cardinality`` gives ``data`` (D) and
            ``data.solutions(d)`` (S).

    Raises:
        ValueError: a training row that is not a solution, or D = S (nothing left unseen).
    """
    solutions = _rows("solutions", solutions)
    train = _rows("train", train, width=solutions.shape[1])
    x = _rows("samples", samples, width=solutions.shape[1])
    sol_index = _index(solutions, "solutions")
    train_keys = set(_index(train, "train"))
    if not train_keys <= set(sol_index):
        raise ValueError("train must be a subset of solutions (every training row valid)")
    unseen = set(sol_index) - train_keys
    if not unseen:
        raise ValueError("solutions must hold strings outside train (S \\ D is empty: nothing "
                         "to generalise to)")
    n = len(x)
    g_new = g_sol = distinct = 0
    for row, count in zip(*_unique_counts(x), strict=True):
        key = row.tobytes()
        if key in train_keys:
            continue
        g_new += int(count)
        if key in unseen:
            g_sol += int(count)
            distinct += 1
    eps = len(train_keys) / len(sol_index)
    rate = g_sol / n
    return {"exploration": g_new / n,
            "generalization_fidelity": g_sol / g_new if g_new else 0.0,
            "generalization_rate": rate,
            "normalized_rate": rate / (1 - eps),
            "generalization_coverage": distinct / len(unseen)}


@_mark(False)
def ks_statistic(p: Any, q: Any) -> float:
    """Kolmogorov–Smirnov statistic of two distributions on the same ORDERED bins
    0..K-1: max_k |F_p(k) - F_q(k)| with F the cumulative sums (lower is better, in [0, 1]).

    Zoufal et al. (arXiv:1904.00043) score their QGAN's 2^3-bin log-normal with it; for two
    empirical histograms it equals ``scipy.stats.ks_2samp(...).statistic`` of the samples.

    Args:
        p, q (float[K]): probabilities of bins 0..K-1, each summing to 1.
    """
    p = _probs("p", p)
    q = _probs("q", q, size=p.size)
    return float(np.max(np.abs(np.cumsum(p) - np.cumsum(q))))


def bits_to_integers(bits: Any) -> np.ndarray:
    """int64[N]: each row of bits read as a binary number, most significant bit first
    (the order of ``qlatent.data.discrete``); at most 62 bits. The numpy twin of
    ``quantum.qubits.bits_to_index`` (torch, at most 16 bits)."""
    x = _rows("bits", bits, bits=True)
    width = check_int("bits.shape[1]", x.shape[1], minimum=1, maximum=62)
    weights = np.left_shift(np.int64(1), np.arange(width - 1, -1, -1, dtype=np.int64))
    return x.astype(np.int64) @ weights


#: Direction of each metric of this module, by its name (``qlatent.metrics.direction`` reads it).
HIGHER_IS_BETTER: dict[str, bool | None] = {
    **{f.__name__: f.higher_is_better
       for f in (kl_divergence, relative_entropy, total_variation, exact_mmd, valid_fraction,
                 qbas_score, ks_statistic)},
    **GENERALIZATION_DIRECTIONS,
    # held-out MMD^2 at scale (task zoo-scale): one Gaussian bandwidth per data set, by the
    # IQP estimator or by samples (``kernels.mmd2_by_groups``), each with its standard error
    "held_out_mmd": False, "held_out_mmd_se": None, "held_out_mmd_samples": False,
    "held_out_mmd_samples_se": None}
