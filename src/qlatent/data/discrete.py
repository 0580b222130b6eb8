"""Discrete benchmark data for the model zoo: raw bit (or count) vectors and their targets.

Every builder returns a :class:`DiscreteData`: the training rows ``data`` (uint8 [N, n], one raw
bit or count vector per row), and, where the target distribution is known exactly, its support
``states`` (uint8 [K, n]) with probabilities ``probs`` (float64 [K], summing to 1). Models are
scored against ``probs`` (exact KL, TVD, MMD; ``qlatent.metrics.discrete``); ``held_out`` holds
valid strings kept out of training (cardinality) to measure generalisation.

Notation: n bits per row (n_rows x n_cols pixels for images, row-major), N training rows,
K states in the target's support; a bit string b = (b_0, ..., b_{n-1}) stands for the integer
x = sum_j b_j 2^(n-1-j) (most significant bit first).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from qlatent import photonics
from qlatent._io import file_digest
from qlatent._random import RngLike, as_generator, check_generator
from qlatent._validation import check_bits, check_float, check_int
from qlatent.data.synthetic import BosonData
from qlatent.latents.banks.hardware import read_counts

#: bars_and_stripes refuses images with more pixels than this (2^n_rows + 2^n_cols patterns).
BAS_MAX_PIXELS = 64
#: cardinality enumerates all 2^n strings: at most this many bits.
CARDINALITY_MAX_BITS = 24
#: gaussian_mixture lists all 2^n states: at most this many bits.
MIXTURE_MAX_BITS = 20
#: Suffixes of the files ``load_bits`` reads.
BIT_FILE_SUFFIXES = (".npy", ".csv")
#: boson_counts attaches the exact target up to this many Fock states.
BOSON_EXACT_MAX_STATES = 20_000


@dataclass(eq=False)
class DiscreteData:
    """A discrete data set: training rows, and its exact target distribution where defined.

    It is also a data source for ``qlatent.train.fit`` (a classical or quantum GAN on the same
    rows), with the interface of the synthetic sets: ``dim``, ``device``, ``to(device)`` and
    ``sample(n, *, generator) -> float32 Tensor[n, dim]``.

    Attributes:
        name: the builder and its parameters, e.g. ``"bars_and_stripes(3x3)"``.
        data: uint8 [N, n]: the training rows (raw bits or photon counts).
        states: uint8 [K, n] or None: the support of the exact target distribution, sorted
            (lexicographically, i.e. by the integer x of the module notation for bits).
        probs: float64 [K] or None: the target probabilities of ``states`` (sum 1).
        held_out: uint8 [H, n] or None: valid rows kept out of ``data`` (generalisation).
        info: the parameters that determine the data (JSON-able).
    """

    name: str
    data: np.ndarray
    states: np.ndarray | None = None
    probs: np.ndarray | None = None
    held_out: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.device = torch.device("cpu")

    @property
    def dim(self) -> int:
        """n: the number of bits (or modes) per row."""
        return int(self.data.shape[1])

    def to(self, device: str | torch.device) -> DiscreteData:
        """Draw ``sample``'s batches on ``device`` from now on (in place); returns ``self``."""
        self.device = torch.device(device)
        return self

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` rows: float32 Tensor[n, dim] on ``self.device``.

        From the target (``torch.multinomial`` over ``probs``) where one is defined, else
        uniformly from ``data`` with replacement; ``generator`` (a ``torch.Generator`` on
        ``self.device``, or None for torch's default) is the only randomness.
        """
        n = check_int("n", n, minimum=0)
        check_generator(generator)
        rows = self.states if self.probs is not None else self.data
        table = torch.from_numpy(rows).to(self.device, torch.float32)
        if n == 0:
            return table[:0]
        if self.probs is not None:
            weights = torch.from_numpy(self.probs).to(self.device)
            idx = torch.multinomial(weights, n, replacement=True, generator=generator)
        else:
            idx = torch.randint(0, len(rows), (n,), generator=generator, device=self.device)
        return table.index_select(0, idx)

    def __repr__(self) -> str:
        parts = [f"{self.name}: data {self.data.shape}"]
        if self.states is not None:
            parts.append(f"target on {len(self.states)} states")
        if self.held_out is not None:
            parts.append(f"held_out {self.held_out.shape}")
        return f"DiscreteData({', '.join(parts)})"


def _sorted_rows(rows: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(rows, dtype=np.uint8), axis=0)  # lexicographic, duplicates gone


def _all_bit_strings(n_bits: int) -> np.ndarray:
    """uint8 [2^n, n]: every bit string, row x = the binary digits of x (MSB first); the numpy
    twin of ``quantum.qubits.basis_bits`` (torch, at most 16 bits) for data sets up to 24 bits.
    """
    x = np.arange(2**n_bits, dtype=np.int64)
    shifts = np.arange(n_bits - 1, -1, -1, dtype=np.int64)
    return ((x[:, None] >> shifts[None, :]) & 1).astype(np.uint8)


def bars_and_stripes(n_rows: int = 3, n_cols: int | None = None) -> DiscreteData:
    """Every bars-and-stripes pattern of an n_rows x n_cols image, each once; target uniform.

    A *stripes* pattern sets each row to all-0 or all-1 (2^n_rows patterns), a *bars* pattern
    each column (2^n_cols patterns). The empty image and the full image are both a bars and a
    stripes pattern; they are kept ONCE, so there are K = 2^n_rows + 2^n_cols - 2 distinct
    patterns (14 for 3 x 3, 6 for 2 x 2; Benedetti et al., npj Quantum Inf. 5, 45 (2019); Liu &
    Wang, arXiv:1804.04168), and the target is uniform over them (probability 1/K each).
    ``data`` and ``states`` are the same K patterns, pixels row-major (pixel (r, c) is bit
    r * n_cols + c), sorted as bit strings. Training on all of them is memorisation; use
    :func:`cardinality` to measure generalisation.

    Args:
        n_rows: image height (>= 1).
        n_cols: image width (>= 1; default n_rows). n_rows * n_cols <= ``BAS_MAX_PIXELS``.

    Raises:
        ValueError: a size < 1, or more than ``BAS_MAX_PIXELS`` pixels, or a 1 x 1 image (whose
            only two patterns are not a benchmark).
    """
    n_rows = check_int("n_rows", n_rows, minimum=1)
    n_cols = n_rows if n_cols is None else check_int("n_cols", n_cols, minimum=1)
    if n_rows * n_cols > BAS_MAX_PIXELS:
        raise ValueError(f"n_rows * n_cols must be <= {BAS_MAX_PIXELS} pixels, got "
                         f"{n_rows} x {n_cols} = {n_rows * n_cols}")
    if n_rows * n_cols < 2:
        raise ValueError(f"n_rows * n_cols must be >= 2 pixels, got {n_rows} x {n_cols}")
    stripes = np.repeat(_all_bit_strings(n_rows)[:, :, None], n_cols, axis=2)  # [2^r, r, c]
    bars = np.repeat(_all_bit_strings(n_cols)[:, None, :], n_rows, axis=1)     # [2^c, r, c]
    patterns = _sorted_rows(np.concatenate([stripes, bars]).reshape(-1, n_rows * n_cols))
    k = len(patterns)
    return DiscreteData(name=f"bars_and_stripes({n_rows}x{n_cols})", data=patterns,
                        states=patterns.copy(), probs=np.full(k, 1.0 / k),
                        info={"n_rows": n_rows, "n_cols": n_cols, "n_patterns": k})


def sample_bars_and_stripes(n_rows: int, n_cols: int | None = None, n_samples: int = 1000, *,
                            rng: RngLike = None) -> DiscreteData:
    """Rows drawn uniformly from the bars-and-stripes patterns of an n_rows x n_cols image,
    for images too large to list (16 x 16 has 2^16 + 2^16 - 2 = 131,070 patterns).

    The same target as :func:`bars_and_stripes` (uniform over its K = 2^n_rows + 2^n_cols - 2
    distinct patterns, pixel (r, c) = bit r * n_cols + c): a uniform index u in [0, K) is a
    stripes pattern (row bits = the binary digits of u) for u < 2^n_rows, else the bars pattern
    of column bits u - 2^n_rows + 1 (so the empty and the full image, which are both, come
    once). ``states`` and ``probs`` are left unset (K may be large); test membership with
    :func:`is_bars_and_stripes`.

    Args:
        n_rows, n_cols: image size (1 <= each <= 30, n_rows * n_cols >= 2; n_cols defaults to
            n_rows).
        n_samples: rows to draw (>= 1).
        rng: the only randomness.
    """
    n_rows = check_int("n_rows", n_rows, minimum=1, maximum=30)
    n_cols = n_rows if n_cols is None else check_int("n_cols", n_cols, minimum=1, maximum=30)
    if n_rows * n_cols < 2:
        raise ValueError(f"n_rows * n_cols must be >= 2 pixels, got {n_rows} x {n_cols}")
    n = check_int("n_samples", n_samples, minimum=1)
    k = 2**n_rows + 2**n_cols - 2
    u = as_generator(rng).integers(0, k, size=n)
    stripes = u < 2**n_rows
    code = np.where(stripes, u, u - 2**n_rows + 1)
    row_bits = (code[:, None] >> np.arange(n_rows - 1, -1, -1)) & 1       # [n, n_rows]
    col_bits = (code[:, None] >> np.arange(n_cols - 1, -1, -1)) & 1       # [n, n_cols]
    image = np.where(stripes[:, None, None], row_bits[:, :, None], col_bits[:, None, :])
    image = np.broadcast_to(image, (n, n_rows, n_cols)).reshape(n, n_rows * n_cols)
    return DiscreteData(name=f"bars_and_stripes_sample({n_rows}x{n_cols})",
                        data=image.astype(np.uint8),
                        info={"n_rows": n_rows, "n_cols": n_cols, "n_patterns": k,
                              "n_samples": n})


def is_bars_and_stripes(bits: Any, n_rows: int, n_cols: int | None = None) -> np.ndarray:
    """bool [N]: whether each row of ``bits`` (0/1 [N, n_rows * n_cols], row-major) is a
    bars-and-stripes pattern (every row constant, or every column constant)."""
    n_rows = check_int("n_rows", n_rows, minimum=1)
    n_cols = n_rows if n_cols is None else check_int("n_cols", n_cols, minimum=1)
    x = check_bits("bits", bits, width=n_rows * n_cols).reshape(-1, n_rows, n_cols)
    rows_constant = (x == x[:, :, :1]).all(axis=(1, 2))
    cols_constant = (x == x[:, :1, :]).all(axis=(1, 2))
    return rows_constant | cols_constant


def cardinality(n_bits: int = 12, k: int | None = None, *, train_fraction: float = 0.3,
                rng: Any = 0) -> DiscreteData:
    """Bit strings with exactly k ones ("cardinality k"), split into training and held-out ones.

    The solution space S is every string of n bits with k ones (|S| = C(n, k); 924 for n = 12,
    k = 6, the 12-qubit example of Gili et al., arXiv:2207.13645, who train on 30 % of S).
    A seeded permutation of S (``rng``) puts the first round(train_fraction * |S|) strings (at
    least 1, and at most |S| - 1 when train_fraction < 1) into ``data``; the others are
    ``held_out``: valid strings the model never sees, the denominator of the coverage of
    :func:`qlatent.metrics.discrete.generalization_metrics`. The target (``states``,
    ``probs``) is the training distribution, uniform over ``data``; :func:`solutions` gives
    S back (``data`` and ``held_out`` together).

    Args:
        n_bits: n (2 <= n <= 24).
        k: the number of ones, 1 <= k <= n - 1 (default n // 2).
        train_fraction: fraction of S used for training, in (0, 1].
        rng: seed of the split (numpy Generator, SeedSequence, int; default 0).

    Raises:
        ValueError: n, k or train_fraction out of range.
    """
    n_bits = check_int("n_bits", n_bits, minimum=2, maximum=CARDINALITY_MAX_BITS)
    k = n_bits // 2 if k is None else check_int("k", k, minimum=1, maximum=n_bits - 1)
    train_fraction = check_float("train_fraction", train_fraction, minimum=0.0, maximum=1.0)
    if train_fraction <= 0:
        raise ValueError(f"train_fraction must be > 0, got {train_fraction}")
    everything = _all_bit_strings(n_bits)
    solutions = everything[everything.sum(axis=1) == k]
    size = len(solutions)
    n_train = int(round(train_fraction * size))
    n_train = max(1, min(n_train, size if train_fraction == 1.0 else size - 1))
    order = as_generator(rng).permutation(size)
    train = _sorted_rows(solutions[order[:n_train]])
    held_out = _sorted_rows(solutions[order[n_train:]]) if n_train < size else \
        np.zeros((0, n_bits), dtype=np.uint8)
    return DiscreteData(name=f"cardinality(n={n_bits}, k={k})", data=train,
                        states=train.copy(), probs=np.full(len(train), 1.0 / len(train)),
                        held_out=held_out,
                        info={"n_bits": n_bits, "k": k, "train_fraction": train_fraction,
                              "n_solutions": size, "n_train": n_train})


def solutions(data: DiscreteData) -> np.ndarray:
    """uint8 [|S|, n]: the valid strings of a data set with held-out rows (``data`` and
    ``held_out`` together, sorted)."""
    if data.held_out is None:
        raise ValueError(f"data must have held_out rows (e.g. cardinality), got {data.name}")
    return _sorted_rows(np.concatenate([data.data, data.held_out]))


def gaussian_mixture(n_bits: int = 10) -> DiscreteData:
    """Liu & Wang's discretised Gaussian mixture over the 2^n integers, as n-bit strings.

    The recipe of arXiv:1804.04168 (Sec. IV A, n = 10): x = 0, 1, ..., N - 1 with N = 2^n and

        p(x) ∝ exp(-(x - μ_1)^2 / (2σ^2)) + exp(-(x - μ_2)^2 / (2σ^2)),
        μ_1 = 2N/7, μ_2 = 5N/7, σ = N/8,

    normalised over the N integers (nothing else is truncated or rounded). Each x is written
    as n bits, most significant first (as their code's ``unpacknbits``). ``states`` is every
    string (K = N, sorted, so row x is the integer x), ``probs`` is p; ``data`` is ``states``
    too: fit with the exact target as weights (``fit_distribution(..., weights=probs)``) or draw
    samples with ``sample``.

    Args:
        n_bits: n (1 <= n <= 20).
    """
    n_bits = check_int("n_bits", n_bits, minimum=1, maximum=MIXTURE_MAX_BITS)
    size = 2**n_bits
    x = np.arange(size, dtype=np.float64)
    sigma = size / 8
    p = sum(np.exp(-((x - mu) ** 2) / (2 * sigma**2)) for mu in (2 * size / 7, 5 * size / 7))
    p = p / p.sum()
    states = _all_bit_strings(n_bits)
    return DiscreteData(name=f"gaussian_mixture(n={n_bits})", data=states, states=states.copy(),
                        probs=p, info={"n_bits": n_bits, "means": [2 * size / 7, 5 * size / 7],
                                       "sigma": sigma})


def log_normal(n_bits: int = 3, *, mu: float = 1.0, sigma: float = 1.0, low: float = 0.0,
               high: float | None = None) -> DiscreteData:
    """A log-normal discretised on 2^n equally spaced grid points: Zoufal et al.'s 1-D target.

    Zoufal, Lucchi & Woerner (arXiv:1904.00043) learn a log-normal (μ = 1, σ = 1 of the
    underlying normal) on 3 qubits, the values truncated to [0, 7] and rounded to the grid
    0, 1, ..., 7. Exactly: with grid points g_j = low + j (high - low) / (2^n - 1) and spacing
    Δ, bin j collects the probability of [g_j - Δ/2, g_j + Δ/2) under the log-normal, and the
    bins are renormalised (samples outside [low - Δ/2, high + Δ/2) are dropped, as the QGAN
    tutorials drop them). Bit strings encode j, most significant bit first.

    Args:
        n_bits: n (1 <= n <= 12); mu, sigma: the parameters of log X ~ N(mu, sigma^2);
        low, high: the grid's ends (default 0 and 2^n - 1).
    """
    n_bits = check_int("n_bits", n_bits, minimum=1, maximum=12)
    mu = check_float("mu", mu)
    sigma = check_float("sigma", sigma, minimum=0.0)
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    size = 2**n_bits
    low = check_float("low", low)
    high = float(size - 1) if high is None else check_float("high", high)
    if not high > low:
        raise ValueError(f"high must be > low, got low={low}, high={high}")
    grid = np.linspace(low, high, size)
    half = (high - low) / (size - 1) / 2
    cdf = stats.lognorm(s=sigma, scale=np.exp(mu)).cdf
    p = cdf(grid + half) - cdf(grid - half)
    if p.sum() <= 0:
        raise ValueError(f"the grid [{low}, {high}] holds no probability of the log-normal")
    p = p / p.sum()
    states = _all_bit_strings(n_bits)
    return DiscreteData(name=f"log_normal(n={n_bits})", data=states, states=states.copy(),
                        probs=p, info={"n_bits": n_bits, "mu": mu, "sigma": sigma, "low": low,
                                       "high": high, "grid": grid.tolist()})


def binarized_digits(*, threshold: int = 8, digits: Any = None) -> DiscreteData:
    """scikit-learn's 8 x 8 digits (1,797 images, shipped inside its wheel), binarised.

    Pixels of ``sklearn.datasets.load_digits`` are integers 0..16; bit = 1 where
    pixel >= ``threshold`` (default 8, half the range), row-major (pixel (r, c) is bit
    8 r + c). No target distribution is defined (``states``, ``probs`` are None): score models
    by sample metrics or held-out likelihood. ``info["labels"]`` holds the digit of each row.

    Args:
        threshold: 1..16.
        digits: keep only these digit classes (an int or a list of ints 0..9; default all), e.g.
            0 for the patch-QGAN demo of Huang et al. (arXiv:2010.06201).

    Raises:
        ImportError: scikit-learn is not installed (``pip install 'qlatent[digits]'``).
    """
    threshold = check_int("threshold", threshold, minimum=1, maximum=16)
    if digits is not None:
        classes = [digits] if np.isscalar(digits) else list(digits)
        classes = [check_int("digits[i]", d, minimum=0, maximum=9) for d in classes]
        if not classes:
            raise ValueError("digits must name at least one class 0..9, got an empty list")
    try:
        from sklearn.datasets import load_digits  # optional extra: digits (scikit-learn)
    except ImportError as err:
        raise ImportError("binarized_digits needs scikit-learn (it ships the 8x8 digits): "
                          "pip install 'qlatent[digits]'") from err
    bunch = load_digits()
    images, labels = np.asarray(bunch.data), np.asarray(bunch.target)
    if digits is not None:
        keep = np.isin(labels, classes)
        images, labels = images[keep], labels[keep]
    bits = (images >= threshold).astype(np.uint8)
    return DiscreteData(name=f"binarized_digits(threshold={threshold})", data=bits,
                        info={"threshold": threshold, "digits": None if digits is None
                              else classes, "labels": labels.tolist()})


def _bit_file(path: Any, name: str) -> tuple[np.ndarray, dict[str, Any]]:
    """uint8 [N, n] 0/1 rows of a ``.npy`` / ``.csv`` file and its record (path, SHA-256)."""
    rows = read_counts(path, suffixes=BIT_FILE_SUFFIXES, name=name)
    if rows.max() > 1:
        i, j = np.argwhere(rows > 1)[0]
        raise ValueError(f"{name}: {path}: row {int(i) + 1}, column {int(j) + 1}: "
                         f"{int(rows[i, j])} is not a bit (expected 0 or 1)")
    resolved = Path(path).resolve()
    return rows.astype(np.uint8, copy=False), {"file": str(resolved),
                                               "sha256": file_digest(resolved),
                                               "rows": int(rows.shape[0])}


def load_bits(path: str | os.PathLike, *, held_out: str | os.PathLike | None = None
              ) -> DiscreteData:
    """Your own bit strings as a data set: the rows of a ``.npy`` or ``.csv`` file of 0/1.

    A ``.npy`` holds a 2-D array [N, n] of integers, floats or bools equal to 0 or 1, read with
    ``allow_pickle=False`` (memory-mapped); a ``.csv`` holds one row per line, values separated
    by commas (or semicolons, tabs, spaces), with an optional header line and ``#`` comments,
    read line by line. Both pass the memory guard of bank building
    (:func:`qlatent.latents.banks.check_bank_size`) before their rows are read. No target
    distribution is defined (``states``, ``probs`` are None): models are scored against the
    empirical distribution of ``data``, as for :func:`binarized_digits`. Rows keep their order
    and their repeats (a repeat weighs the empirical distribution).

    ``held_out``: a second file of the same width, valid rows kept out of training; with it,
    the valid set is S = ``data`` ∪ ``held_out`` (:func:`solutions`) and the zoo scores
    generalisation (Gili et al.). It must hold a row that ``data`` does not.

    ``info`` records each file's absolute path, SHA-256 and row count (``"train"``,
    ``"held_out"``).

    Raises:
        ValueError: one line naming the file (and the row and column): no such file, another
            suffix, not a 2-D array, a value that is not 0 or 1, rows of unequal width, a file
            too large for memory, a held-out file of another width or with no new row.
    """
    rows, train = _bit_file(path, "path")
    info = {"train": train}
    kept = None
    if held_out is not None:
        kept, info["held_out"] = _bit_file(held_out, "held_out")
        if kept.shape[1] != rows.shape[1]:
            raise ValueError(f"held_out: {held_out}: rows of {kept.shape[1]} bits, the training "
                             f"rows of {path} have {rows.shape[1]}")
        seen = {row.tobytes() for row in np.unique(rows, axis=0)}
        if all(row.tobytes() in seen for row in np.unique(kept, axis=0)):
            raise ValueError(f"held_out: {held_out}: every row is also a training row of "
                             f"{path}; held-out rows must include one the model never sees")
    return DiscreteData(name=f"file({Path(path).name})", data=rows, held_out=kept, info=info)


def boson_counts(n_modes: int = 16, n_photons: int = 8, *, seed: Any = None,
                 n_samples: int = 100_000) -> DiscreteData:
    """The Table I "quantum data": photon counts of :class:`qlatent.data.BosonData` (same bank,
    same seed, so the same rows), as uint8 [n_samples, n_modes].

    The exact target (``states`` with |Perm(U_{S,T})|^2 / prod s!, the photonics oracle
    ``photonics.exact_distribution``) is attached when the Fock space has at most
    ``BOSON_EXACT_MAX_STATES`` states (e.g. 4 photons in 8 modes: 330), else it is None (16
    modes, 8 photons: 490,314 states).

    Args:
        n_modes, n_photons, seed, n_samples: as in ``BosonData``.
    """
    source = BosonData(n_modes=n_modes, n_photons=n_photons, seed=seed, n_samples=n_samples)
    counts = source.bank.numpy().astype(np.uint8)
    states = probs = None
    if photonics.fock_space_size(source.n_modes, source.n_photons) <= BOSON_EXACT_MAX_STATES:
        t = photonics.standard_input(source.n_modes, source.n_photons)
        all_states, all_probs = photonics.exact_distribution(source.unitary, t)
        order = np.lexsort(all_states.T[::-1])
        states, probs = all_states[order].astype(np.uint8), all_probs[order]
    return DiscreteData(name=f"boson_counts(m={source.n_modes}, n={source.n_photons})",
                        data=counts, states=states, probs=probs,
                        info={"n_modes": source.n_modes, "n_photons": source.n_photons,
                              "n_samples": source.n_samples, "bank_digest": source.bank_digest})


__all__ = ["BAS_MAX_PIXELS", "BIT_FILE_SUFFIXES", "BOSON_EXACT_MAX_STATES", "CARDINALITY_MAX_BITS",
           "MIXTURE_MAX_BITS", "DiscreteData", "bars_and_stripes", "binarized_digits",
           "boson_counts", "cardinality", "gaussian_mixture", "is_bars_and_stripes",
           "load_bits", "log_normal", "solutions"]
