"""Challenger banks derived from another bank: ``dirichlet_multinomial`` and ``shuffled``.

Both keep what a classical model can copy from the source bank and destroy the rest: the
Dirichlet-multinomial keeps the mean occupancy, the mean Fano factor and the photon-number
distribution; the shuffled bank keeps every column's marginal exactly and no correlation.
A derived bank is cached by (kind, source key, seed) and published like any other bank.

Notation: rows s int[N, m] of the source, N_i = sum_j s_ij its photon numbers, mu float64[m]
the mean occupancy divided by E[N], A the total Dirichlet concentration.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from qlatent import photonics
from qlatent._io import digest
from qlatent._validation import check_choice, check_int
from qlatent.latents.banks.store import (
    DERIVED_KINDS,
    SAMPLER_VERSION,
    Bank,
    banks_root,
    build_lock,
    is_finished,
    load_bank,
    load_folder,
    publish,
)

_PROVENANCE_KEYS = ("circuit", "unitary_sha256", "n_photons", "input_state", "noise",
                    "block_size", "sampler_version")


def fit_dirichlet_concentration(samples: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit a Dirichlet-multinomial to count samples by their mean occupancy and mean Fano factor.

    Model: N ~ the samples' own photon-number distribution, p ~ Dirichlet(A mu), s | N, p ~
    Multinomial(N, p), with mu = mean occupancy / E[N] (sum 1) and A the total concentration.
    Its moments (Mosimann 1962, mixed over N) are E[s_j] = E[N] mu_j and

        Var(s_j) = mu_j (1 - mu_j) (E[N^2] + A E[N]) / (1 + A) + mu_j^2 Var(N),

    so the mean over modes of the Fano factor Var(s_j) / E[s_j] is
    F = (1 - 1/m) (R + A) / (1 + A) + Var(N) / (m E[N]) with R = E[N^2] / E[N]. Solving for the
    samples' F: A = (R - g) / (g - 1), g = (F - Var(N) / (m E[N])) / (1 - 1/m); a fixed photon
    number n gives A = (n - r) / (r - 1), r = F / (1 - 1/m).

    The family spans 1 < g < R, from a multinomial (A = inf) to all photons in one mode
    (A = 0). A bank less bunched than a multinomial with its photon numbers (g <= 1, as an
    interferometer with little bunching can give) gets the nearest member, A = inf: p = mu
    for every row, which matches mean occupancy and photon numbers but not the Fano factor.
    g >= R (every row in one mode) is an error.

    Returns:
        (alpha float64[m] = A mu, A), A in (0, inf]; alpha is all inf at A = inf.
    """
    mu, concentration = _dirichlet_moments(samples)
    return concentration * mu, concentration


def _dirichlet_moments(samples: np.ndarray) -> tuple[np.ndarray, float]:
    """(mu float64[m], A in (0, inf]) of :func:`fit_dirichlet_concentration`."""
    samples = np.asarray(samples)
    m = samples.shape[1]
    totals = samples.sum(axis=1, dtype=np.int64).astype(np.float64)
    mean_n = totals.mean()
    mean = photonics.mean_occupancy(samples)
    if np.any(mean <= 0):
        raise ValueError("every mode must be occupied in the bank to fit a Dirichlet-multinomial")
    fano = photonics.fano_factor(samples)
    ratio = float(np.mean(totals**2) / mean_n)
    g = (fano - totals.var() / (m * mean_n)) / (1.0 - 1.0 / m)
    if g >= ratio:
        raise ValueError(f"the bank's mean Fano factor {fano:.4f} is that of every row in one "
                         "mode; no Dirichlet-multinomial matches it")
    concentration = np.inf if g <= 1.0 else float((ratio - g) / (g - 1.0))
    return mean / mean_n, concentration


def _derive_rows(kind: str, source: Bank, seed: int) -> tuple[np.ndarray, dict]:
    """The derived rows (the source's dtype and shape) and what the fit found."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])
    src = source.samples
    rows = np.empty_like(src)
    if kind == "shuffled":
        # Each column permuted independently: marginals kept exactly, correlations destroyed.
        for j in range(src.shape[1]):
            rows[:, j] = src[rng.permutation(src.shape[0]), j]
        return rows, {}
    mu, concentration = _dirichlet_moments(src)
    source_fano = float(photonics.fano_factor(src))
    matched = bool(np.isfinite(concentration))
    if not matched:
        warnings.warn(f"bank {source.key[:12]}: mean Fano factor {source_fano:.4f} is below a "
                      "multinomial's with its photon numbers; the Dirichlet-multinomial "
                      "challenger is its multinomial limit, which matches mean occupancy and "
                      "photon numbers but not the Fano factor", stacklevel=3)
    totals = src.sum(axis=1, dtype=np.int64)
    step = 1 << 16
    for start in range(0, src.shape[0], step):
        k = min(step, src.shape[0] - start)
        n = totals[rng.integers(0, totals.shape[0], size=k)]  # the bank's photon numbers
        if matched:
            p = rng.dirichlet(concentration * mu, size=k)
        else:
            p = np.broadcast_to(mu, (k, len(mu)))
        rows[start:start + k] = rng.multinomial(n, p)
    fit = {"alpha": (concentration * mu).tolist() if matched else None,
           "concentration": concentration if matched else "inf",
           "source_fano_factor": source_fano, "fano_matched": matched}
    if not matched:
        fit["limit"] = "multinomial"
    return rows, {"fit": fit}


def derive_bank(kind: str, source: Bank | str | os.PathLike, seed: int) -> Bank:
    """A challenger bank derived from any bank (simulated or imported hardware samples).

    Args:
        kind: ``"dirichlet_multinomial"`` (fitted to the source's mean occupancy, mean Fano
            factor and photon-number distribution; see :func:`fit_dirichlet_concentration`) or
            ``"shuffled"`` (each column of the source permuted independently).
        source: a :class:`Bank`, a bank folder or a key.
        seed: non-negative int for the derivation.

    Returns:
        The verified derived bank (cached by kind, source key and seed), as many rows as the
        source, provenance in ``metadata["source"]``.
    """
    check_choice("kind", kind, DERIVED_KINDS)
    seed = check_int("seed", seed, minimum=0)
    source = load_bank(source)
    key = digest("qlatent-bank-derived", kind, source.key, seed, SAMPLER_VERSION)
    folder = banks_root() / key[:32]
    if is_finished(folder):
        return load_folder(folder, key)
    with build_lock(folder.name):
        if is_finished(folder):
            return load_folder(folder, key)
        meta = {k: source.metadata[k] for k in _PROVENANCE_KEYS if k in source.metadata}
        meta.update(key=key, kind=kind, seed=seed)
        rows, extra = _derive_rows(kind, source, seed)
        meta.update(extra)
        meta["source"] = {"key": source.key, "kind": source.kind}
        meta["acceptance_rate"] = source.metadata.get("acceptance_rate", 1.0)
        return publish(folder, rows, meta, source.unitary)
