"""Summaries of a bank: provenance, moments, bunching, collisions and a TVD self-check.

The statistics themselves (TVD, collision probability, Fano factor...) live in
:mod:`qlatent.photonics.statistics`; this module picks the exact reference and assembles them.

Notation: rows int[N, m] of a bank; states int[K, m] and probs float64[K] an exact distribution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln

from qlatent import photonics
from qlatent.latents.banks import Bank
from qlatent.photonics.noise import NoiseModel, noisy_output_distribution

__all__ = ["summarize_bank", "expected_tvd", "exact_reference"]

#: ``bank info`` compares an ideal quantum bank with the exact distribution (fast dynamic
#: programming) up to this many Fock states, and any other bank (enumeration over noise
#: patterns) up to INFO_MAX_STATES_NOISY states and 5 photons.
INFO_MAX_STATES = 1_000_000
INFO_MAX_STATES_NOISY = 20_000


def expected_tvd(probs: np.ndarray, n: int) -> float:
    """E[TVD] of N exact samples: 1/2 sum_s E|X_s / N - p_s| with X_s ~ Binomial(N, p_s).

    De Moivre's mean absolute deviation of a binomial (Diaconis & Zabell 1991):
    E|X - Np| = 2 (k + 1) C(N, k + 1) p^(k+1) (1 - p)^(N-k), k = floor(Np); exact for every p,
    unlike the normal approximation, which overstates it for states with Np << 1.
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    p = p[(p > 0) & (p < 1)]
    k = np.floor(n * p)
    log_mad = (np.log(2.0) + np.log(k + 1) + gammaln(n + 1) - gammaln(k + 2) - gammaln(n - k)
               + (k + 1) * np.log(p) + (n - k) * np.log1p(-p))
    return float(0.5 * np.exp(log_mad).sum() / n)


def exact_reference(bank: Bank) -> tuple[str, np.ndarray, np.ndarray] | None:
    """(label, states, probs) of the exact distribution the bank should follow, if small."""
    meta = bank.metadata
    if bank.unitary is None or meta.get("input_state") is None:
        return None
    t = np.asarray(meta["input_state"], dtype=np.int64)
    n, m = int(t.sum()), bank.n_modes
    size = photonics.fock_space_size(m, n)
    if size > INFO_MAX_STATES:
        return None
    noise = bank.noise
    if noise is None:
        return None
    if noise.is_ideal:
        states, probs = photonics.exact_distribution(bank.unitary, t)
        return "exact quantum distribution", states, probs
    if n > 5 or size > INFO_MAX_STATES_NOISY:
        return None  # the enumeration over 3^n noise patterns is for small systems only
    states, probs = noisy_output_distribution(bank.unitary, t, **noise.as_dict())
    only_x = not noise.deviations(NoiseModel(indistinguishability=noise.indistinguishability))
    label = ("exact distribution of this noise model" if not only_x else
             "exact photonic distribution" if noise.indistinguishability == 0.0 else
             "exact partially distinguishable")
    return label, states, probs


def summarize_bank(bank: Bank) -> dict[str, Any]:
    """Provenance and statistics of a bank (what ``qlatent bank info`` prints).

    Keys: key, path, kind, shape, dtype, circuit, seed, input_state, noise, acceptance_rate,
    created, versions, source, mean_occupancy, mode_variance, fano_factor, bunching_probability,
    p_max_count_at_least_3, collision_probability, photon_number_histogram,
    total_photon_histogram and, when the exact distribution is small enough, tvd = {reference,
    value, expected_for_exact_sampler, n_states}.
    """
    rows = bank.samples
    totals = rows.sum(axis=1, dtype=np.int64)
    meta = bank.metadata
    summary: dict[str, Any] = {
        "key": bank.key, "path": str(bank.path), "kind": bank.kind,
        "shape": list(rows.shape), "dtype": rows.dtype.name,
        "circuit": meta.get("circuit"), "seed": meta.get("seed"),
        "input_state": meta.get("input_state"), "noise": meta.get("noise"),
        "acceptance_rate": meta.get("acceptance_rate"), "created": meta.get("created"),
        "versions": meta.get("versions"), "source": meta.get("source"),
        "mean_occupancy": photonics.mean_occupancy(rows).tolist(),
        "mode_variance": photonics.mode_variance(rows).tolist(),
        "fano_factor": photonics.fano_factor(rows) if rows.any() else None,
        "bunching_probability": photonics.bunching_probability(rows),
        "p_max_count_at_least_3": photonics.probability_of_count(rows, 3),
        "collision_probability": photonics.collision_probability(rows),
        "photon_number_histogram": photonics.photon_number_histogram(rows).tolist(),
        "total_photon_histogram": (np.bincount(totals) / rows.shape[0]).tolist(),
    }
    if (reference := exact_reference(bank)) is not None:
        label, states, probs = reference
        tvd = photonics.total_variation_distance(rows, states, probs)
        floor = expected_tvd(probs, rows.shape[0])
        summary["tvd"] = {"reference": label, "value": tvd, "expected_for_exact_sampler": floor,
                          "n_states": int(states.shape[0])}
    return summary
