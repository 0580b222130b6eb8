"""Exact samplers: indistinguishable photons (boson sampling) and distinguishable photons.

Notation:
    m modes, n photons; U complex128[m, m] unitary; input_state int64[m] counts t (sum n);
    a sample is an output count vector int64[m] (sum n), photon-number resolving.

Reproducibility: the uniforms of sample i are drawn from ``rng`` before any sample is computed,
in sample order, so the output for a seed is bit-identical whatever ``n_jobs`` is and however a
stream of samples is split into calls with one Generator (for a fixed ``method``).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from typing import Any

import numba
import numpy as np

from qlatent._random import RngLike, as_generator
from qlatent._validation import check_choice, check_cost, check_int
from qlatent.photonics import _sampler_kernels as _k
from qlatent.photonics._checks import check_state, check_unitary, input_columns

SAMPLE_METHODS = ("auto", "clifford", "table")
#: "auto" enumerates the distribution when the Fock space has at most this many states.
TABLE_MAX_STATES = 4_000_000
#: The table method refuses larger Fock spaces (memory: about K * (m + 24) bytes).
TABLE_HARD_MAX_STATES = 20_000_000
#: Gray-code loops count terms in int64: far beyond any feasible run, but checked.
CLIFFORD_MAX_PHOTONS = 60
#: ``boson_sample`` refuses a call estimated above this many multiply-adds unless given a larger
#: ``max_operations`` (the paper's largest bank, 24 photons x 200,000 samples, is 8e13).
SAMPLE_MAX_OPERATIONS = 1e14
_CHUNK_UNIFORMS = 1 << 21  # uniforms drawn per chunk (bounds memory, does not change output)
_TABLE_CACHE: OrderedDict[bytes, tuple[np.ndarray, ...]] = OrderedDict()
_TABLE_CACHE_SIZE = 2


def standard_input(n_modes: int, n_photons: int) -> np.ndarray:
    """One photon in each of the first n modes: int64[m] = (1, ..., 1, 0, ..., 0)."""
    m = check_int("n_modes", n_modes, minimum=1)
    n = check_int("n_photons", n_photons, minimum=0, maximum=m)
    state = np.zeros(m, dtype=np.int64)
    state[:n] = 1
    return state


def fock_space_size(n_modes: int, n_photons: int) -> int:
    """Number of output states C(m + n - 1, n), bunched ones included."""
    m = check_int("n_modes", n_modes, minimum=1)
    n = check_int("n_photons", n_photons, minimum=0)
    return math.comb(m + n - 1, n)


def sampling_cost(n_modes: int, n_photons: int, n_samples: int, method: str) -> float:
    """Estimated multiply-adds of ``boson_sample``: Clifford & Clifford costs about
    n 2^n per sample; the table method K n^2 once (K = C(m + n - 1, n) states) plus O(1) per
    sample."""
    if method == "clifford":
        return float(n_samples) * n_photons * 2.0**n_photons
    return float(fock_space_size(n_modes, n_photons)) * n_photons**2 + n_samples


def _check_common(U: Any, input_state: Any, n_samples: Any, n_jobs: Any
                  ) -> tuple[np.ndarray, np.ndarray, int, int]:
    U = check_unitary("U", U)
    m = U.shape[0]
    t = check_state("input_state", input_state, m)
    n = int(t.sum())
    if n > m:
        raise ValueError(f"input_state must hold at most n_modes = {m} photons, got {n}")
    n_samples = check_int("n_samples", n_samples, minimum=0)
    max_threads = numba.config.NUMBA_NUM_THREADS
    n_jobs = check_int("n_jobs", n_jobs, minimum=1, maximum=max_threads)
    return U, t, n_samples, n_jobs


def _draw_chunks(gen: np.random.Generator, n_samples: int, per_sample: int):
    """Yield (start, uniforms float64[rows, per_sample]) covering samples 0..n_samples-1.

    Consecutive ``Generator.random`` calls continue one stream, so the chunking does not change
    which uniforms a sample gets.
    """
    rows = max(1, _CHUNK_UNIFORMS // max(per_sample, 1))
    for start in range(0, n_samples, rows):
        stop = min(n_samples, start + rows)
        yield start, gen.random((stop - start, per_sample))


def _run_threads(n_jobs: int, fn, *args) -> None:
    previous = numba.get_num_threads()
    numba.set_num_threads(n_jobs)
    try:
        fn(*args)
    finally:
        numba.set_num_threads(previous)


def _table(U: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """(states int8[K, m], probs float64[K], threshold float64[K], alias int64[K]), cached."""
    key = hashlib.sha256(U.tobytes() + t.tobytes()).digest()
    hit = _TABLE_CACHE.get(key)
    if hit is not None:
        _TABLE_CACHE.move_to_end(key)
        return hit
    A = np.ascontiguousarray(U[:, input_columns(t)])
    tf = float(math.prod(math.factorial(int(x)) for x in t))
    states, probs = _k.exact_table(A, tf)
    threshold, alias = _k.alias_table(probs)
    entry = (states, probs, threshold, alias)
    _TABLE_CACHE[key] = entry
    while len(_TABLE_CACHE) > _TABLE_CACHE_SIZE:
        _TABLE_CACHE.popitem(last=False)
    return entry


def exact_distribution(U: Any, input_state: Any) -> tuple[np.ndarray, np.ndarray]:
    """Exact output distribution by dynamic programming over output multisets (fast).

    Same quantity as :func:`qlatent.photonics.reference.output_distribution`,
    P(S) = |Perm(U_{S,T})|^2 / (prod s! prod t!), computed in O(K n^2) for K = C(m+n-1, n)
    states by Laplace expansion along the input photons (see ``_sampler_kernels.exact_table``).

    Returns:
        (states int64[K, m], probs float64[K]); the state order is colex in the sorted list of
        occupied modes (not the reference's order).

    Raises:
        ValueError: K > TABLE_HARD_MAX_STATES (checked before anything is allocated).
    """
    U = check_unitary("U", U)
    t = check_state("input_state", input_state, U.shape[0])
    m, n = U.shape[0], int(t.sum())
    if n > m:
        raise ValueError(f"input_state must hold at most n_modes = {m} photons, got {n}")
    if fock_space_size(m, n) > TABLE_HARD_MAX_STATES:
        raise ValueError(f"n_modes = {m} and {n} photons give {fock_space_size(m, n):,} output "
                         f"states, more than exact_distribution holds "
                         f"({TABLE_HARD_MAX_STATES:,}, about K * (m + 24) bytes)")
    states, probs, _, _ = _table(U, t)
    return states.astype(np.int64), probs.copy()


def boson_sample(U: Any, input_state: Any, n_samples: int, rng: RngLike = None, *,
                 n_jobs: int = 1, method: str = "auto",
                 max_operations: float = SAMPLE_MAX_OPERATIONS) -> np.ndarray:
    """Exact samples of indistinguishable single photons through U (photon-number resolving).

    P(S) = |Perm(U_{S,T})|^2 / (prod_j s_j! prod_k t_k!).

    Methods:
        "clifford": Clifford & Clifford algorithm B (arXiv:1706.01260): about two n x n
            permanents' work per sample; 2n uniforms per sample; needs at most one photon per
            input mode.
        "table": enumerate all K = C(m+n-1, n) output probabilities once (cached in memory for the
            last few (U, input_state)), then draw from Walker's alias table: two uniforms and
            O(1) work per sample.
        "auto": "table" when K <= TABLE_MAX_STATES or the input has a mode with two or more
            photons (then at most TABLE_HARD_MAX_STATES states), else "clifford". The choice
            depends only on (m, n, input_state), never on n_samples or n_jobs.

    Args:
        U: complex128[m, m] unitary (checked to max|U^dagger U - I| <= 1e-10).
        input_state: int[m] input counts t, sum n <= m.
        n_samples: number of samples (>= 0).
        rng: Generator, SeedSequence, int seed or None.
        n_jobs: threads (1 .. numba.config.NUMBA_NUM_THREADS); does not change the output.
        method: "auto", "clifford" or "table".
        max_operations: the most multiply-adds accepted (``sampling_cost``); a larger request
            (e.g. 40 photons) is refused before any work starts.

    Returns:
        int64[n_samples, m] output counts.
    """
    check_choice("method", method, SAMPLE_METHODS)
    U, t, n_samples, n_jobs = _check_common(U, input_state, n_samples, n_jobs)
    m = U.shape[0]
    n = int(t.sum())
    bunched_input = bool(np.any(t > 1))
    if method == "auto":
        method = ("table" if bunched_input or fock_space_size(m, n) <= TABLE_MAX_STATES
                  else "clifford")
    if method == "table" and fock_space_size(m, n) > TABLE_HARD_MAX_STATES:
        raise ValueError(f"n_modes = {m} and {n} photons give {fock_space_size(m, n):,} output "
                         f"states, more than the table method holds ({TABLE_HARD_MAX_STATES:,}); "
                         "use method='clifford' (one photon per input mode)")
    if method == "clifford" and n > CLIFFORD_MAX_PHOTONS:
        raise ValueError(f"input_state must hold at most {CLIFFORD_MAX_PHOTONS} photons for "
                         f"method='clifford' (2^(n-1)-term loops), got {n}")
    if method == "clifford" and bunched_input:
        raise ValueError("input_state must have at most one photon per mode for "
                         f"method='clifford' (got {t.tolist()}); use method='table'")
    if n_samples > 0 and n > 0:
        check_cost(f"boson sampling {n_samples:,} samples of {n} photons in {m} modes "
                   f"({method})", sampling_cost(m, n, n_samples, method), max_operations,
                   unit="multiply-adds", knob="max_operations")
    gen = as_generator(rng)
    out = np.zeros((n_samples, m), dtype=np.int64)
    if n_samples == 0 or n == 0:
        return out
    if method == "table":
        states, _, threshold, alias = _table(U, t)
        for start, u in _draw_chunks(gen, n_samples, 2):
            _run_threads(n_jobs, _k.table_sample, states, threshold, alias, u,
                         out[start:start + u.shape[0]], 4096)
        return out
    A = np.ascontiguousarray(U[:, input_columns(t)])
    block = 1 << max(0, min(12, 16 - n))  # samples per parallel work item; output unaffected
    for start, u in _draw_chunks(gen, n_samples, 2 * n):
        _run_threads(n_jobs, _k.clifford_sample, A, u, out[start:start + u.shape[0]], block)
    if out.min() < 0:  # pragma: no cover - needs weights that underflow to zero
        raise FloatingPointError("boson_sample: every candidate weight underflowed to zero")
    return out


def distinguishable_sample(U: Any, input_state: Any, n_samples: int, rng: RngLike = None, *,
                           n_jobs: int = 1) -> np.ndarray:
    """Exact samples of distinguishable photons (the classical control, "photonic" latent).

    Each photon from input mode k lands in mode j with probability |U[j, k]|^2, independently
    of the others; one uniform per photon, photons in input-mode order.

    Args:
        U, input_state, n_samples, rng, n_jobs: as in :func:`boson_sample`.

    Returns:
        int64[n_samples, m] output counts.
    """
    U, t, n_samples, n_jobs = _check_common(U, input_state, n_samples, n_jobs)
    m = U.shape[0]
    cols = input_columns(t)
    out = np.zeros((n_samples, m), dtype=np.int64)
    gen = as_generator(rng)
    if n_samples == 0 or cols.shape[0] == 0:
        return out
    cdfs = np.ascontiguousarray(np.cumsum(np.abs(U.T) ** 2, axis=1))  # [input k, output j]
    for start, u in _draw_chunks(gen, n_samples, cols.shape[0]):
        _run_threads(n_jobs, _k.distinguishable_sample, cdfs, cols, u,
                     out[start:start + u.shape[0]])
    return out
