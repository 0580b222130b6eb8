"""Numba kernels of the noise models (see :mod:`qlatent.photonics.noise`).

Kernels only compute: inputs are validated by the public wrappers, and every random choice
arrives as a pre-drawn uniform (STYLE.md rule 3), so results do not depend on threads.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def add_distinguishable(out, mask, photon_modes, cdfs, uniforms):  # pragma: no cover - numba
    """Add independently routed photons to ``out``.

    For shot i and photon p with ``mask[i, p]``, the photon leaves in the first mode j with
    ``uniforms[i, p] < cdfs[photon_modes[p], j]`` (inverse-CDF draw from |U[:, k]|^2).

    Args:
        out (int64[N, m]): counts, updated in place.
        mask (bool[N, n]): which photons of each shot are routed independently.
        photon_modes (int64[n]): input mode k of every photon.
        cdfs (float64[m, m]): row k is the cumulative sum of |U[:, k]|^2, last entry forced to 1.
        uniforms (float64[N, n]): uniforms in [0, 1).
    """
    n_shots, n_photons = mask.shape
    m = cdfs.shape[1]
    for i in range(n_shots):
        for p in range(n_photons):
            if mask[i, p]:
                row = cdfs[photon_modes[p]]
                u = uniforms[i, p]
                j = 0
                while j < m - 1 and u >= row[j]:
                    j += 1
                out[i, j] += 1


@njit(cache=True)
def add_dark_counts(out, uniforms, probability):  # pragma: no cover - numba
    """Add one count to mode j of shot i where ``uniforms[i, j] < probability`` (in place)."""
    n_shots, m = out.shape
    for i in range(n_shots):
        for j in range(m):
            if uniforms[i, j] < probability:
                out[i, j] += 1
