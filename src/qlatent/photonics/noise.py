"""Exact noise models of a boson sampler: loss, partial distinguishability, threshold
detectors, dark counts and post-selection on the number of detected photons.

Notation:
    m modes, n photons, U complex128[m, m] the interferometer, t int64[m] the input state,
    eta the transmission (probability that a photon survives), x the indistinguishability
    (pairwise overlap of the photons' internal states), p the dark-count probability per mode.

Every model is exact (no truncation), and each is a parameter of the sampler:

* **Uniform loss** commutes with a linear interferometer (a loss of eta on every mode is the
  same before and after U), so each input photon is dropped independently with probability
  1 - eta before sampling (Oszmaniec & Brod, arXiv:1801.06166; García-Patrón et al.,
  arXiv:1712.10037).
* **Partial distinguishability** with Gram matrix S_jk = <phi_j|phi_k> = x (j != k). The output
  probability of count vector s is (Tichy, arXiv:1410.7687; Shchesnovich, arXiv:1410.1506)

      P(s) = 1 / prod_j s_j! * sum_{sigma, tau in S_n}
                 prod_k U[d_sigma(k), i_k] conj(U[d_tau(k), i_k])
                 * prod_l S_{tau^-1(l), sigma^-1(l)}

  with d the list of output modes of s and i_k the input mode of photon k, so S enters only
  through x^(number of points moved by sigma^-1 tau). The mixed state in which photon k is,
  independently with probability x, in one common internal state and otherwise in a private
  state orthogonal to all others gives each permutation pair exactly the same weight x^(#moved
  points) (the pair survives only if every moved photon is in the common state), so the two
  models have the same output distribution (Renema et al., arXiv:1707.02793). Per shot we
  therefore draw which photons are common: those go through the exact boson sampler together,
  the rest are routed independently (distinguishable), and the counts add. Note that x is the
  overlap of the states, so a Hong-Ou-Mandel dip between two photons has visibility x^2.
* **Threshold detectors** report min(count, 1) per mode; **dark counts** add one count (or a
  click) to each mode independently with probability p, before thresholding.
* **Post-selection** keeps only shots with at least ``min_photons`` detected counts, by
  rejection; the acceptance rate is reported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qlatent import UserError
from qlatent._random import RngLike, as_generator
from qlatent._validation import check_float, check_int, check_keys
from qlatent.photonics import _noise_kernels, reference
from qlatent.photonics._checks import check_state, check_unitary, input_columns
from qlatent.photonics.sampler import TABLE_MAX_STATES, boson_sample, fock_space_size

__all__ = ["NOISE_FIELDS", "NoiseModel", "check_feasible", "describe_bad_count_row",
           "max_detected", "noisy_output_distribution", "noisy_sample"]

#: The fields of a :class:`NoiseModel`, in order (the keys of a noise mapping).
NOISE_FIELDS: tuple[str, ...] = ("transmission", "indistinguishability", "threshold",
                                 "dark_count_probability", "min_photons")

#: Groups of common photons with fewer shots than this are sampled on one thread.
PARALLEL_MIN_SHOTS = 4096
#: Rejection sampling gives up after this many attempted shots per accepted one (very rare events).
MAX_ATTEMPTS_PER_SAMPLE = 100_000


@dataclass(frozen=True)
class NoiseModel:
    """The noise of one photonic source + interferometer + detectors (all exact).

    Attributes:
        transmission: eta in [0, 1], probability that each photon reaches the detectors.
        indistinguishability: x in [0, 1], pairwise overlap of internal states (1 = ideal).
        threshold: click detectors (report min(count, 1)) instead of photon-number resolving.
        dark_count_probability: p in [0, 1], per mode and shot.
        min_photons: keep only shots with at least this many detected counts (None = all).
    """

    transmission: float = 1.0
    indistinguishability: float = 1.0
    threshold: bool = False
    dark_count_probability: float = 0.0
    min_photons: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "transmission",
                           check_float("transmission", self.transmission, minimum=0.0, maximum=1.0))
        object.__setattr__(self, "indistinguishability",
                           check_float("indistinguishability", self.indistinguishability,
                                       minimum=0.0, maximum=1.0))
        if not isinstance(self.threshold, (bool, np.bool_)):
            raise TypeError(f"threshold must be a bool, got {self.threshold!r} "
                            f"({type(self.threshold).__name__})")
        object.__setattr__(self, "threshold", bool(self.threshold))
        object.__setattr__(self, "dark_count_probability",
                           check_float("dark_count_probability", self.dark_count_probability,
                                       minimum=0.0, maximum=1.0))
        if self.min_photons is not None:
            # min_photons = 0 accepts every shot: the same model as None, stored as None.
            object.__setattr__(self, "min_photons",
                               check_int("min_photons", self.min_photons, minimum=0) or None)

    @property
    def is_ideal(self) -> bool:
        """True when nothing deviates from a lossless, perfect, number-resolving sampler."""
        return not self.deviations()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, noise: Any) -> NoiseModel:
        """The model of a mapping of :data:`NOISE_FIELDS` (None values and missing keys take the
        defaults), of a NoiseModel (returned as is) or of None (the ideal sampler).

        Raises:
            ValueError: an unknown key (the valid ones are listed) or a value out of range.
            TypeError: ``noise`` is none of these, or a value has the wrong type.
        """
        if noise is None:
            return cls()
        if isinstance(noise, NoiseModel):
            return noise
        if not isinstance(noise, Mapping):
            raise TypeError(f"noise must be a mapping, a NoiseModel or None, got "
                            f"{type(noise).__name__}")
        check_keys(noise, NOISE_FIELDS, "noise")
        return cls(**{k: v for k, v in noise.items() if v is not None})

    def deviations(self, reference: NoiseModel | None = None) -> dict[str, Any]:
        """The fields whose value differs from ``reference`` (default: the ideal sampler)."""
        base = (reference or NoiseModel()).as_dict()
        return {k: v for k, v in self.as_dict().items() if base[k] != v}

    def count_bounds(self, n_photons: int, n_modes: int) -> tuple[int, int, int]:
        """What a shot of n photons in m modes can show: ``(min total, max total, max count)``.

        Exact bounds of the support: the detected total lies in [min total, max total] and
        every mode's count is at most max count. Ideal: (n, n, n); loss lowers the minimum to
        0; dark counts add up to one count per mode; threshold detectors report at most 1 per
        mode; post-selection raises the minimum to ``min_photons``.
        """
        n = check_int("n_photons", n_photons, minimum=0)
        m = check_int("n_modes", n_modes, minimum=1)
        p = self.dark_count_probability
        arrive = (n if self.transmission == 1.0 else 0, n if self.transmission > 0 else 0)
        dark = (m if p == 1.0 else 0, m if p > 0 else 0)
        if self.threshold:
            # Clicks: at least one when a photon surely arrives (all may share a mode).
            least = m if p == 1.0 else min(arrive[0], 1)
            most = min(arrive[1] + dark[1], m)
            max_count = min(arrive[1] + dark[1], 1)
        else:
            least, most = arrive[0] + dark[0], arrive[1] + dark[1]
            max_count = arrive[1] + (1 if p > 0 else 0)
        if self.min_photons:
            least = max(least, self.min_photons)
        return least, most, max_count

    def check_counts(self, rows: np.ndarray, n_photons: int) -> str | None:
        """The first row of ``rows`` (int[N, m]) outside :meth:`count_bounds`, described in
        words (``"row 12 (1-based) has 0 photons, expected exactly 3"``), or None if all fit."""
        least, most, max_count = self.count_bounds(n_photons, rows.shape[1])
        return describe_bad_count_row(rows, least, most, max_count)


def describe_bad_count_row(rows: np.ndarray, least: int, most: int | None = None,
                           max_count: int | None = None) -> str | None:
    """The first row whose total is outside [least, most] or whose largest count exceeds
    ``max_count`` (None: no bound), described in words, or None when every row fits."""
    if rows.shape[0] == 0:
        return None
    totals = rows.sum(axis=1, dtype=np.int64)
    bad = totals < least
    if most is not None:
        bad |= totals > most
    if max_count is not None:
        bad |= rows.max(axis=1) > max_count
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    expected = (f"exactly {least}" if least == most else f"at least {least}" if most is None
                else f"between {least} and {most}")
    if least <= totals[i] and (most is None or totals[i] <= most):
        return (f"row {i + 1} (1-based) has a count of {int(rows[i].max())} in one mode, "
                f"expected at most {max_count}")
    return f"row {i + 1} (1-based) has {int(totals[i])} photons, expected {expected}"


def max_detected(n_photons: int, n_modes: int, noise: NoiseModel) -> int:
    """Largest possible number of detected counts in one shot under ``noise``."""
    most = n_photons if noise.transmission > 0 else 0
    if noise.dark_count_probability > 0:
        most += n_modes
    if noise.threshold:
        most = min(most, n_modes)
    return most


def check_feasible(n: int, m: int, noise: NoiseModel) -> None:
    """Refuse a post-selection (``min_photons``) that no shot of n photons in m modes meets."""
    if noise.min_photons and noise.min_photons > max_detected(n, m, noise):
        raise ValueError(
            f"min_photons must be <= {max_detected(n, m, noise)} (the most counts a shot can "
            f"have with {n} photons, {m} modes and this noise), got {noise.min_photons}")


def _cdfs(U: np.ndarray) -> np.ndarray:
    """Row k: cumulative sum of |U[:, k]|^2 with the last entry forced to 1."""
    cdfs = np.cumsum(np.abs(U.T) ** 2, axis=1)
    cdfs[:, -1] = 1.0
    return np.ascontiguousarray(cdfs)


def _method(n_shots: int, sub_input: np.ndarray) -> str:
    """Exact method for ``n_shots`` shots of one group of common photons.

    Enumerating the distribution costs ~0.3 us per Fock state once, Clifford & Clifford ~2-15 us
    per shot at these sizes, so the table pays off from about K / 50 shots. The choice depends
    only on (shots, input), so a seeded call is still reproducible.
    """
    k = int(sub_input.sum())
    if np.any(sub_input > 1):
        return "table"  # Clifford & Clifford needs at most one photon per input mode
    size = fock_space_size(sub_input.shape[0], k)
    return "table" if 50 * n_shots >= size and size <= TABLE_MAX_STATES else "clifford"


def _group_patterns(common: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``common`` (bool[k, n]) in lexicographic order, and each row's group.

    Rows are packed into integers (photon 0 most significant) so that sorting the codes is the
    lexicographic order of the rows; above 62 photons ``np.unique(axis=0)`` does it directly.
    """
    n = common.shape[1]
    if n > 62:
        patterns, inverse = np.unique(common, axis=0, return_inverse=True)
        return patterns, inverse.reshape(-1)
    shifts = np.arange(n - 1, -1, -1, dtype=np.int64)
    codes = common.astype(np.int64) @ (np.int64(1) << shifts)
    unique, inverse = np.unique(codes, return_inverse=True)
    patterns = ((unique[:, None] >> shifts[None, :]) & 1).astype(bool)
    return patterns, inverse.reshape(-1)


def _noisy_batch(U, t, photon_modes, cdfs, k, gen, noise, n_jobs):
    """k shots without post-selection: int64[k, m]."""
    m = U.shape[0]
    n = photon_modes.shape[0]
    # Every random choice is drawn up front, in a fixed order.
    survive = gen.random((k, n)) < noise.transmission
    common = survive & (gen.random((k, n)) < noise.indistinguishability)
    distinct = survive & ~common
    route = gen.random((k, n))
    out = np.zeros((k, m), dtype=np.int64)
    if n > 0 and k > 0:
        patterns, inverse = _group_patterns(common)
        order = np.argsort(inverse, kind="stable")  # shots of one pattern, in shot order
        bounds = np.searchsorted(inverse[order], np.arange(patterns.shape[0] + 1))
        for g, pattern in enumerate(patterns):
            if not pattern.any():
                continue
            rows = order[bounds[g]:bounds[g + 1]]
            sub = np.bincount(photon_modes[pattern], minlength=m).astype(np.int64)
            method = _method(rows.shape[0], sub)
            # Threads only pay for large groups (n_jobs never changes the samples).
            jobs = n_jobs if rows.shape[0] >= PARALLEL_MIN_SHOTS else 1
            out[rows] += boson_sample(U, sub, rows.shape[0], rng=gen, n_jobs=jobs,
                                                method=method)
        _noise_kernels.add_distinguishable(out, distinct, photon_modes, cdfs, route)
    if noise.dark_count_probability > 0:
        _noise_kernels.add_dark_counts(out, gen.random((k, m)), noise.dark_count_probability)
    if noise.threshold:
        np.minimum(out, 1, out=out)
    return out


def noisy_sample(U: Any, input_state: Any, n_samples: int, rng: RngLike = None, *,
                 transmission: float = 1.0, indistinguishability: float = 1.0,
                 threshold: bool = False, dark_count_probability: float = 0.0,
                 min_photons: int | None = None, n_jobs: int = 1,
                 return_acceptance: bool = False):
    """Exact samples of a noisy boson sampler (see the module docstring for the models).

    With no noise this is exactly ``boson_sample(U, input_state, n_samples, rng)``.

    Args:
        U (complex128[m, m]): the interferometer.
        input_state (int[m]): photon counts entering each mode.
        n_samples: number of (accepted) shots.
        rng: Generator, SeedSequence, int seed or None.
        transmission, indistinguishability, threshold, dark_count_probability, min_photons:
            the :class:`NoiseModel`.
        n_jobs: workers passed to the exact sampler.
        return_acceptance: also return the post-selection acceptance rate (accepted / attempted).

    Returns:
        int64[n_samples, m] counts (clicks with ``threshold``), or ``(samples, acceptance)``.
    """
    U = check_unitary("U", U)
    m = U.shape[0]
    t = check_state("input_state", input_state, m)
    n_samples = check_int("n_samples", n_samples, minimum=0)
    n_jobs = check_int("n_jobs", n_jobs, minimum=1)
    noise = NoiseModel(transmission, indistinguishability, threshold, dark_count_probability,
                       min_photons)
    gen = as_generator(rng)
    n = int(t.sum())
    check_feasible(n, m, noise)
    if noise.is_ideal:
        samples = boson_sample(U, t, n_samples, rng=gen, n_jobs=n_jobs)
        return (samples, 1.0) if return_acceptance else samples
    photon_modes = input_columns(t)
    cdfs = _cdfs(U)
    if not noise.min_photons:
        samples = _noisy_batch(U, t, photon_modes, cdfs, n_samples, gen, noise, n_jobs)
        return (samples, 1.0) if return_acceptance else samples
    kept: list[np.ndarray] = []
    n_kept = attempts = 0
    while n_kept < n_samples:
        need = n_samples - n_kept
        rate = n_kept / attempts if attempts else 1.0
        # Ask for enough shots to finish in one more round at the observed rate (+10 %).
        batch = need if attempts == 0 else int(min(math.ceil(1.1 * need / max(rate, 1e-4)) + 16,
                                                   max(4 * need, 1 << 16)))
        shots = _noisy_batch(U, t, photon_modes, cdfs, batch, gen, noise, n_jobs)
        good = np.flatnonzero(shots.sum(axis=1) >= noise.min_photons)
        # Attempts are counted up to the shot that completes the request (unbiased rate).
        attempts += int(good[need - 1]) + 1 if good.shape[0] >= need else batch
        kept.append(shots[good[:need]])
        n_kept += min(good.shape[0], need)
        if attempts > MAX_ATTEMPTS_PER_SAMPLE * max(n_samples, 1) and n_kept < n_samples:
            raise UserError(
                f"post-selection on min_photons={noise.min_photons} accepted {n_kept} of "
                f"{attempts} shots; the acceptance rate is too low to reach {n_samples} samples")
    samples = np.concatenate(kept, axis=0) if kept else np.zeros((0, m), dtype=np.int64)
    acceptance = n_kept / attempts if attempts else 1.0
    return (samples, acceptance) if return_acceptance else samples


def _convolve(a: dict, b: dict) -> dict:
    out: dict = {}
    for sa, pa in a.items():
        for sb, pb in b.items():
            s = tuple(x + y for x, y in zip(sa, sb, strict=False))
            out[s] = out.get(s, 0.0) + pa * pb
    return out


def noisy_output_distribution(U: Any, input_state: Any, *, transmission: float = 1.0,
                              indistinguishability: float = 1.0, threshold: bool = False,
                              dark_count_probability: float = 0.0,
                              min_photons: int | None = None, return_acceptance: bool = False):
    """Exact output distribution under noise, by enumeration (small systems: the test oracle).

    Each photon is independently lost (1 - eta), in the common internal state (eta x) or in a
    private one (eta (1 - x)); for each of the 3^n assignments the common photons' distribution
    (``reference.output_distribution``) is convolved with the independent photons' single-photon
    distributions |U[:, k]|^2; dark counts are convolved mode by mode, then thresholded, then
    post-selected and renormalised. Cost ~ 3^n times a Fock-space enumeration: n <= ~5.

    Returns:
        (states int64[K, m] in lexicographic order, probs float64[K]) of the states with
        non-zero probability, and the acceptance probability if ``return_acceptance``.
    """
    U = check_unitary("U", U)
    m = U.shape[0]
    t = check_state("input_state", input_state, m)
    noise = NoiseModel(transmission, indistinguishability, threshold, dark_count_probability,
                       min_photons)
    n = int(t.sum())
    check_feasible(n, m, noise)
    photon_modes = input_columns(t)
    single = np.abs(U) ** 2
    eta, x = noise.transmission, noise.indistinguishability
    weights = (1.0 - eta, eta * x, eta * (1.0 - x))  # lost, common, private
    cache: dict = {}
    total: dict = {}
    for status in itertools.product((0, 1, 2), repeat=n):
        w = math.prod(weights[s] for s in status)
        if w == 0.0:
            continue
        common = np.bincount(photon_modes[[s == 1 for s in status]], minlength=m)
        key = tuple(int(c) for c in common)
        if key not in cache:
            states, probs = reference.output_distribution(U, common.astype(np.int64))
            cache[key] = {tuple(int(v) for v in s): float(p)
                          for s, p in zip(states, probs, strict=True)}
        dist = cache[key]
        for p, s in enumerate(status):
            if s == 2:
                one = {tuple(int(j == i) for i in range(m)): float(single[j, photon_modes[p]])
                       for j in range(m)}
                dist = _convolve(dist, one)
        for s, pr in dist.items():
            total[s] = total.get(s, 0.0) + w * pr
    p_dark = noise.dark_count_probability
    if p_dark > 0:
        for j in range(m):
            nxt: dict = {}
            for s, pr in total.items():
                nxt[s] = nxt.get(s, 0.0) + pr * (1.0 - p_dark)
                s2 = s[:j] + (s[j] + 1,) + s[j + 1:]
                nxt[s2] = nxt.get(s2, 0.0) + pr * p_dark
            total = nxt
    if noise.threshold:
        clicks: dict = {}
        for s, pr in total.items():
            c = tuple(min(v, 1) for v in s)
            clicks[c] = clicks.get(c, 0.0) + pr
        total = clicks
    acceptance = 1.0
    if noise.min_photons:
        total = {s: pr for s, pr in total.items() if sum(s) >= noise.min_photons}
        acceptance = float(sum(total.values()))
        total = {s: pr / acceptance for s, pr in total.items()}
    keys = sorted(s for s, pr in total.items() if pr > 0)
    states = np.array(keys, dtype=np.int64).reshape(-1, m)
    probs = np.array([total[s] for s in keys], dtype=np.float64)
    return (states, probs, acceptance) if return_acceptance else (states, probs)
