"""Interferometers: Haar-random unitaries and ORCA-style time-bin loop circuits.

Notation:
    m: number of modes (time bins); U: complex128[m, m] unitary, U[j, k] is the amplitude for a
    photon entering mode k to leave in mode j.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qlatent._random import RngLike, as_generator
from qlatent._validation import check_float, check_int
from qlatent.photonics._checks import UNITARY_ATOL, check_square_matrix

#: Named circuits understood by :func:`circuit_unitary` (name -> loop delays, None for Haar).
CIRCUITS: dict[str, tuple[int, ...] | None] = {"haar": None, "1-1": (1, 1), "1-3-9": (1, 3, 9)}


def haar_unitary(n_modes: int, rng: RngLike = None) -> np.ndarray:
    """Draw a Haar-random unitary.

    QR decomposition of a complex Ginibre matrix Z (entries (a + ib)/sqrt(2), a, b ~ N(0, 1)),
    Z = QR, then U = Q diag(R_ii / |R_ii|): the phase fix makes U exactly Haar distributed
    (Mezzadri, arXiv:math-ph/0609050).

    Args:
        n_modes: m >= 1.
        rng: Generator, SeedSequence, int seed or None.

    Returns:
        complex128[m, m] unitary.
    """
    m = check_int("n_modes", n_modes, minimum=1)
    gen = as_generator(rng)
    z = (gen.standard_normal((m, m)) + 1j * gen.standard_normal((m, m))) / np.sqrt(2.0)
    q, r = np.linalg.qr(z)
    d = np.diagonal(r)
    return np.ascontiguousarray(q * (d / np.abs(d))[None, :])


def beam_splitter(theta: float, phi: float = 0.0) -> np.ndarray:
    """2x2 beam splitter [[cos t, -e^{-i phi} sin t], [e^{i phi} sin t, cos t]] (complex128[2, 2]).

    theta = pi/4 is a 50:50 splitter; theta = 0 is the identity.
    """
    theta = check_float("theta", theta)
    phi = check_float("phi", phi)
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -np.exp(-1j * phi) * s], [np.exp(1j * phi) * s, c]], dtype=np.complex128)


def loop_settings(n_modes: int, loop_lengths: Sequence[int], rng: RngLike = None, *,
                  angles: Any = None) -> tuple[tuple[int, ...], np.ndarray]:
    """The checked delays and beam-splitter settings of a loop circuit (see ``loop_unitary``):
    ``(delays, float64[n_bs, 2] of (theta, phi))``, drawn from ``rng`` (theta ~ U[0, pi/2],
    phi ~ U[0, 2pi)) when ``angles`` is None. One source for the NumPy circuit and the
    trainable one of ``qlatent.quantum``, so both draw the same settings from one seed."""
    m = check_int("n_modes", n_modes, minimum=2)
    if isinstance(loop_lengths, (str, bytes)) or not isinstance(loop_lengths, Sequence):
        raise TypeError(f"loop_lengths must be a sequence of integers, got {loop_lengths!r}")
    if len(loop_lengths) == 0:
        raise ValueError("loop_lengths must hold at least one delay, got an empty sequence")
    delays = tuple(check_int("loop_lengths[i]", d, minimum=1, maximum=m - 1)
                   for d in loop_lengths)
    n_bs = sum(m - d for d in delays)
    if angles is None:
        gen = as_generator(rng)
        settings = np.empty((n_bs, 2))
        settings[:, 0] = gen.uniform(0.0, np.pi / 2, size=n_bs)
        settings[:, 1] = gen.uniform(0.0, 2 * np.pi, size=n_bs)
    else:
        settings = np.asarray(angles, dtype=np.float64)
        if settings.shape != (n_bs, 2):
            raise ValueError(f"angles must have shape ({n_bs}, 2) (theta, phi per beam "
                             f"splitter), got shape {settings.shape}")
        if not np.all(np.isfinite(settings)):
            raise ValueError("angles must be finite, got NaN or infinite entries")
    return delays, settings


def loop_unitary(n_modes: int, loop_lengths: Sequence[int], rng: RngLike = None, *,
                 angles: Any = None) -> np.ndarray:
    """Unitary of an ORCA-style time-bin loop circuit.

    A loop of delay d applies a beam splitter between time bins i and i + d for
    i = 0, ..., m - 1 - d, in that order; loops act in the order given (docs/paper.md). Beam
    splitter b of the circuit (counting across loops in order) has setting (theta_b, phi_b)
    and matrix :func:`beam_splitter` on modes (i, i + d); the circuit unitary is the ordered product
    U = B_last ... B_1.

    Args:
        n_modes: m >= 2.
        loop_lengths: delays d of the loops, each in [1, m - 1].
        rng: source of random settings when ``angles`` is None: theta ~ U[0, pi/2], phi ~ U[0, 2pi)
            for every beam splitter.
        angles: optional float64[n_bs, 2] of (theta, phi), n_bs = sum(m - d); overrides rng.

    Returns:
        complex128[m, m] unitary.
    """
    m = check_int("n_modes", n_modes, minimum=2)
    delays, settings = loop_settings(m, loop_lengths, rng, angles=angles)
    U = np.eye(m, dtype=np.complex128)
    b = 0
    for d in delays:
        for i in range(m - d):
            theta, phi = settings[b]
            c, s = np.cos(theta), np.sin(theta)
            e = np.exp(1j * phi)
            # left-multiply by the beam splitter on rows (i, i + d)
            ri, rj = U[i].copy(), U[i + d].copy()
            U[i] = c * ri - np.conj(e) * s * rj
            U[i + d] = e * s * ri + c * rj
            b += 1
    return U


def circuit_unitary(name: str, n_modes: int, rng: RngLike = None) -> np.ndarray:
    """Unitary of a named circuit: "haar" or a loop circuit "1-1", "1-3-9" with random settings.

    Args:
        name: one of ``CIRCUITS``.
        n_modes: m (loop circuits need m > largest delay).
        rng: randomness for the circuit.

    Returns:
        complex128[m, m] unitary.
    """
    if name not in CIRCUITS:
        raise ValueError(f"name must be one of {', '.join(map(repr, CIRCUITS))}; got {name!r}")
    delays = CIRCUITS[name]
    if delays is None:
        return haar_unitary(n_modes, rng)
    m = check_int("n_modes", n_modes, minimum=2)
    if m <= max(delays):
        raise ValueError(f"n_modes must be > {max(delays)} for circuit {name!r}, got {m}")
    return loop_unitary(m, delays, rng)


def is_unitary(U: Any, atol: float = UNITARY_ATOL) -> bool:
    """True if max|U^dagger U - I| <= atol; False for NaN or infinite entries.

    Raises for what is not a square numeric matrix (that is a type error, not a "no").
    """
    atol = check_float("atol", atol, minimum=0.0)
    arr = np.asarray(U)
    if arr.dtype != object and np.issubdtype(arr.dtype, np.number) and not np.all(
            np.isfinite(arr)):
        return False
    U = check_square_matrix("U", arr)
    if U.shape[0] == 0:
        return True
    return bool(np.max(np.abs(U.conj().T @ U - np.eye(U.shape[0]))) <= atol)
