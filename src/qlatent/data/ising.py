"""2-D Ising configurations from a Wolff cluster sampler, with their temperature and
autocorrelation reported: bit data at scale (up to 32 x 32 = 1,024 bits and beyond), offline.

Notation: an L x L lattice with periodic boundaries, N = L^2 spins s_i = ±1 at sites
i = r L + c; energy H(s) = -J sum_{<ij>} s_i s_j over nearest-neighbour bonds (each once),
J = 1, k_B = 1; samples from the Boltzmann distribution exp(-H / T) / Z. A configuration is
stored as bits b_i = (s_i + 1) / 2 (spin up = 1), row-major. T_c = 2 / ln(1 + sqrt 2) ≈ 2.269.

Sampler (Wolff, Phys. Rev. Lett. 62, 361 (1989)): grow a cluster from a random site, adding
each aligned neighbour with probability p_add = 1 - exp(-2 / T), and flip it; rejection-free
and detailed-balanced. A *sweep* is about N flipped spins: the burn-in measures the mean cluster
size C, and samples are then a fixed u = ceil(sweeps_between N / C) cluster updates apart (so
the cost per sample is about the same at every T; a number of updates that depended on the
clusters met while sampling would bias the recorded states towards order). The numba kernel
(``_wolff_kernels.wolff_chain``) and the pure-Python reference (:func:`wolff_reference`) use the
same splitmix64 stream seeded from ``rng``, so they agree bit for bit.

Autocorrelation: the integrated autocorrelation time τ_int = 1/2 + sum_{t=1}^{W} ρ(t) of a
series (in samples), W the smallest window with W >= c τ_int(W), c = 5 (Sokal's automatic
windowing, "Monte Carlo methods in statistical mechanics", 1996); the standard error of a mean
of n samples is then std sqrt(2 τ_int / n).

Known values used by the tests: exact enumeration of the 2^N states for N <= 16; Onsager's
energy per site of the infinite lattice u(T) = -coth(2β) [1 + (2/π)(2 tanh^2(2β) - 1) K(k)],
k = 2 sinh(2β) / cosh^2(2β), K the complete elliptic integral of the first kind; Yang's
spontaneous magnetisation m(T) = (1 - sinh(2β)^-4)^(1/8) below T_c.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import ellipk

from qlatent._random import RngLike, as_generator
from qlatent._validation import check_float, check_int
from qlatent.data._wolff_kernels import wolff_chain
from qlatent.data.discrete import DiscreteData

#: The critical temperature of the infinite square lattice, 2 / ln(1 + sqrt 2).
CRITICAL_TEMPERATURE = 2.0 / math.log(1.0 + math.sqrt(2.0))
#: :func:`exact_observables` enumerates all 2^(L^2) states: at most this many spins.
EXACT_MAX_SPINS = 16
#: Sokal's window constant c.
WINDOW = 5.0

_MASK = (1 << 64) - 1


def _check(side: Any, temperature: Any, name_side: str = "side") -> tuple[int, float]:
    L = check_int(name_side, side, minimum=3)
    T = check_float("temperature", temperature, minimum=0.0)
    if T <= 0:
        raise ValueError(f"temperature must be > 0, got {T}")
    return L, T


def ising_configurations(side: int, temperature: float, n_samples: int, *, rng: RngLike = None,
                         burn_in: int = 100, sweeps_between: int = 1) -> DiscreteData:
    """Configurations of the L x L Ising model at temperature T, as bit rows.

    Args:
        side: L >= 3 (N = L^2 bits per row).
        temperature: T > 0 (T_c ≈ 2.269).
        n_samples: rows (>= 2).
        rng: the only randomness (a random initial state and the chain's seed).
        burn_in: sweeps discarded first (>= 1: they also measure the mean cluster size).
        sweeps_between: sweeps between two kept rows (>= 1), as a fixed number of cluster
            updates (``info["updates_between"]``).

    Returns:
        A :class:`~qlatent.data.discrete.DiscreteData` with ``data`` uint8 [n_samples, N] and
        ``info``: side, temperature, burn_in, sweeps_between, updates_between, energy and
        abs_magnetisation (means per site), their standard errors (``*_se``, from τ_int) and
        integrated autocorrelation times in samples (``tau_energy``,
        ``tau_abs_magnetisation``).
    """
    L, T = _check(side, temperature)
    n = check_int("n_samples", n_samples, minimum=2)
    burn_in = check_int("burn_in", burn_in, minimum=1)
    sweeps_between = check_int("sweeps_between", sweeps_between, minimum=1)
    spins, seed = _start(L, rng)
    out = np.empty((n, L * L), dtype=np.uint8)
    energy = np.empty(n)
    magnetisation = np.empty(n)
    between = wolff_chain(spins, L, -math.expm1(-2.0 / T), np.uint64(seed), burn_in,
                          sweeps_between, out, energy, magnetisation)
    info: dict[str, Any] = {"side": L, "temperature": T, "burn_in": burn_in,
                            "sweeps_between": sweeps_between, "updates_between": int(between)}
    for key, series in (("energy", energy), ("abs_magnetisation", np.abs(magnetisation))):
        tau = integrated_autocorrelation_time(series)
        info[key] = float(series.mean())
        info[f"{key}_se"] = float(series.std(ddof=1) * math.sqrt(2 * tau / n))
        info[f"tau_{key}"] = tau
    return DiscreteData(name=f"ising({L}x{L}, T={T:g})", data=out, info=info)


def _start(L: int, rng: RngLike) -> tuple[np.ndarray, int]:
    gen = as_generator(rng)
    spins = (2 * gen.integers(0, 2, size=L * L) - 1).astype(np.int8)
    return spins, int(gen.integers(0, 2**63))


def wolff_reference(side: int, temperature: float, n_samples: int, *, rng: RngLike = None,
                    burn_in: int = 100, sweeps_between: int = 1) -> np.ndarray:
    """The same chain as :func:`ising_configurations` in pure Python (slow; tests only):
    uint8 [n_samples, N], equal bit for bit for the same arguments."""
    L, T = _check(side, temperature)
    N = L * L
    p_add = -math.expm1(-2.0 / T)
    spins, seed = _start(L, rng)
    spins = [int(s) for s in spins]
    state = [seed]

    def uniform() -> float:
        state[0] = (state[0] + 0x9E3779B97F4A7C15) & _MASK
        z = state[0]
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        return (z >> 11) / 2.0**53

    def cluster() -> int:
        i = int(uniform() * N)
        s0 = spins[i]
        spins[i] = -s0
        todo, size = [i], 1
        while todo:
            j = todo.pop()
            r, c = divmod(j, L)
            for nb in (((r - 1) % L) * L + c, ((r + 1) % L) * L + c, r * L + (c - 1) % L,
                       r * L + (c + 1) % L):
                if spins[nb] == s0 and uniform() < p_add:
                    spins[nb] = -s0
                    todo.append(nb)
                    size += 1
        return size

    flipped = clusters = 0
    while clusters == 0 or flipped < burn_in * N:
        flipped += cluster()
        clusters += 1
    between = math.ceil(sweeps_between * N * clusters / flipped)
    rows = []
    for _ in range(n_samples):
        for _ in range(between):
            cluster()
        rows.append([(s + 1) // 2 for s in spins])
    return np.array(rows, dtype=np.uint8).reshape(n_samples, N)


def integrated_autocorrelation_time(series: Any, *, window: float = WINDOW) -> float:
    """τ_int of a 1-D series with Sokal's automatic window (module notation), in samples.

    ρ(t) from the FFT of the centred series (biased autocovariance / variance); a constant
    series has τ_int = 1/2 by convention. Raises ValueError for fewer than 2 values.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"series must be 1-D with >= 2 values, got shape {x.shape}")
    x = x - x.mean()
    var = float(x @ x)
    if var == 0:
        return 0.5
    n = x.size
    f = np.fft.rfft(x, 2 * n)
    rho = np.fft.irfft(f * np.conj(f))[:n] / var
    tau = 0.5
    for t in range(1, n):
        tau += rho[t]
        if t >= window * tau:
            break
    return float(max(tau, 0.5))


def exact_observables(side: int, temperature: float) -> dict[str, float]:
    """<H>/N and <|M|>/N of the L x L periodic lattice by enumerating all 2^(L^2) states
    (L^2 <= ``EXACT_MAX_SPINS``): {"energy": ..., "abs_magnetisation": ...}."""
    L, T = _check(side, temperature)
    N = L * L
    if N > EXACT_MAX_SPINS:
        raise ValueError(f"side must give at most {EXACT_MAX_SPINS} spins for exact "
                         f"enumeration, got {L} x {L} = {N}")
    index = np.arange(2**N, dtype=np.int64)
    s = (1 - 2 * ((index[:, None] >> np.arange(N)) & 1)).astype(np.int8).reshape(-1, L, L)
    bonds = (s * np.roll(s, -1, 2)).sum((1, 2)) + (s * np.roll(s, -1, 1)).sum((1, 2))
    energy = -bonds.astype(np.float64)
    weight = np.exp(-(energy - energy.min()) / T)
    weight /= weight.sum()
    return {"energy": float(weight @ energy) / N,
            "abs_magnetisation": float(weight @ np.abs(s.sum((1, 2)))) / N}


def onsager_energy(temperature: float) -> float:
    """Energy per site of the infinite square lattice (Onsager 1944; module notation)."""
    T = check_float("temperature", temperature, minimum=0.0)
    beta = 1.0 / T
    k = 2.0 * math.sinh(2 * beta) / math.cosh(2 * beta) ** 2
    factor = 2.0 * math.tanh(2 * beta) ** 2 - 1.0
    # at T_c, k = 1: K diverges logarithmically while the factor vanishes linearly (limit 0)
    term = 0.0 if k * k >= 1.0 else factor * float(ellipk(k * k))
    return float(-1.0 / math.tanh(2 * beta) * (1.0 + 2.0 / math.pi * term))


def spontaneous_magnetisation(temperature: float) -> float:
    """Yang's spontaneous magnetisation per site, (1 - sinh(2/T)^-4)^(1/8) below T_c, else 0."""
    T = check_float("temperature", temperature, minimum=0.0)
    if T >= CRITICAL_TEMPERATURE:
        return 0.0
    return float((1.0 - math.sinh(2.0 / T) ** -4) ** 0.125)
