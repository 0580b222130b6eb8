"""Differentiable linear optics in torch: trainable interferometers, exact log-probabilities and
small-system output distributions, all with autograd.

Notation:
    m (``n_modes``): number of optical modes; n (``n_photons``): number of photons.
    U: complex[m, m] unitary, U[j, k] the amplitude for input mode k -> output mode j
    (complex128 for float64 parameters, complex64 for float32).
    input_state T = (t_1..t_m), output state S = (s_1..s_m): photon counts, sum n.
    U_{S,T}: the n x n matrix of U with row j repeated s_j times and column k repeated t_k times.
    Perm(A) = sum over permutations s of prod_i A[i, s(i)].
    Indistinguishable photons: P(S) = |Perm(U_{S,T})|^2 / (prod_j s_j! prod_k t_k!).
    Distinguishable photons: P(S) = Perm(|U|^2_{S,T}) / prod_j s_j! (|U|^2 entrywise; each
    photon is labelled, so there is no 1 / prod t_k!: see ``photonics.reference``).
    K = C(m + n - 1, n): the number of output states, bunched ones included.

Everything here is checked against :mod:`qlatent.photonics` (NumPy + numba, no torch): the
permutation-sum references of ``photonics.reference`` and the dynamic programme of
``photonics.exact_distribution``; gradients against finite differences (``gradcheck``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from qlatent._random import RngLike, as_generator
from qlatent._validation import check_int
from qlatent.photonics.unitaries import loop_settings

#: :func:`output_distribution` refuses Fock spaces with more states (8 photons in 16 modes have
#: 490,314; autograd keeps a few tensors of about 5 K entries each).
MAX_DISTRIBUTION_STATES = 600_000
#: :func:`log_prob` refuses more photons (Glynn's formula has 2^(n-1) terms per outcome).
MAX_PERMANENT_PHOTONS = 20
#: Distinguishable photons use the cancellation-free subset recursion up to this many photons.
MAX_SUBSET_DP_PHOTONS = 14
#: Largest max|U^dagger U - I| accepted, per complex dtype.
UNITARY_ATOL = {torch.complex128: 1e-9, torch.complex64: 1e-4}
#: Row-sum entries (outcomes x 2^(n-1) terms x n) per chunk of outcomes: bounds memory and keeps
#: a chunk in cache (measured best near 2^16-2^18); never changes the result.
_TERMS_PER_CHUNK_ENTRIES = 1 << 17
#: Row sums are kept from the forward pass for the backward one up to this many entries (else
#: recomputed).
_SAVED_ROW_SUM_ENTRIES = 1 << 22


# ----------------------------------------------------------------------------------------------
# Interferometers
# ----------------------------------------------------------------------------------------------

class Interferometer(nn.Module):
    """Base class of parametrised interferometers: ``forward() -> U(θ)`` (complex[m, m]).

    Subclasses hold their angles as real ``nn.Parameter``s (float64 by default, giving a
    complex128 U; float32 gives complex64) and build U as an ordered product of layer matrices
    (disjoint 2 x 2 blocks), so U is unitary to rounding for every θ and autograd flows from U
    to θ.
    """

    def __init__(self, n_modes: int, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.n_modes = check_int("n_modes", n_modes, minimum=2)
        if dtype not in (torch.float64, torch.float32):
            raise TypeError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
        self.param_dtype = dtype

    @property
    def complex_dtype(self) -> torch.dtype:
        return torch.complex128 if self.param_dtype == torch.float64 else torch.complex64

    def forward(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_layout(self, top: np.ndarray, bottom: np.ndarray, layer: np.ndarray) -> None:
        """Beam splitter b acts on rows (top[b], bottom[b]) in layer[b]; a layer's pairs are
        disjoint. Stores the scatter indices of the blocks into L stacked m x m layer matrices
        and those matrices' identity part (the modes a layer leaves alone)."""
        m, L = self.n_modes, int(layer.max()) + 1 if layer.size else 0
        rows = np.stack([top, top, bottom, bottom], axis=1)
        cols = np.stack([top, bottom, top, bottom], axis=1)
        flat = (layer[:, None] * m + rows) * m + cols
        base = np.zeros((L, m, m))
        base[:, np.arange(m), np.arange(m)] = 1.0
        base[layer, top, top] = 0.0
        base[layer, bottom, bottom] = 0.0
        self.register_buffer("_flat", torch.from_numpy(flat.reshape(-1)), persistent=False)
        self.register_buffer("_base", torch.from_numpy(base).to(self.param_dtype),
                             persistent=False)
        self.n_layers = L
        self.n_beam_splitters = len(top)

    def _compose(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor
                 ) -> torch.Tensor:
        """U = L_last ... L_1, layer matrices holding the blocks [[a, b], [c, d]] per beam
        splitter (each block left-multiplies its two rows). The ordered product is a tree of
        batched matmuls (log2 L rounds), not L sequential row updates."""
        m = self.n_modes
        vals = torch.stack([a, b, c, d], dim=1).reshape(-1)
        mats = torch.zeros(self.n_layers * m * m, dtype=vals.dtype, device=vals.device)
        mats = mats.index_add(0, self._flat, vals).view(self.n_layers, m, m) + self._base
        while mats.shape[0] > 1:
            if mats.shape[0] % 2:  # an identity applied last changes nothing
                eye = torch.eye(m, dtype=mats.dtype, device=mats.device)[None]
                mats = torch.cat([mats, eye])
            mats = mats[1::2] @ mats[0::2]
        return mats[0]

    def check_finite(self) -> None:
        """Raise ``FloatingPointError`` naming the first parameter that holds NaN or inf."""
        for name, p in self.named_parameters():
            if not torch.isfinite(p).all():
                bad = int((~torch.isfinite(p)).nonzero()[0, 0])
                raise FloatingPointError(
                    f"parameter {name!r} of {type(self).__name__} holds a non-finite value "
                    f"(first at index {bad}); a training step diverged")


class ClementsMesh(Interferometer):
    """Universal rectangular mesh of m(m-1)/2 beam splitters plus m output phases.

    Clements et al., "Optimal design for universal multiport interferometers", Optica 3, 1460
    (2016), arXiv:1603.08788. Layer l = 0..m-1 acts on the mode pairs (i, i+1) with
    i = l mod 2, l mod 2 + 2, ... (a brick pattern, m(m-1)/2 pairs in all). Each beam splitter
    (Clements' eq. 1) is

        T(θ, φ) = [[e^{iφ} cos θ, -sin θ], [e^{iφ} sin θ, cos θ]]

    on its two rows, and U(θ, φ, α) = D(α) T_last ... T_1 with D = diag(e^{iα_j}). The m^2
    real parameters match the dimension of U(m): every unitary is reached (Clements et al.).

    Args:
        n_modes: m >= 2.
        rng: initial angles θ ~ U[0, π/2], φ ~ U[0, 2π), α ~ U[0, 2π) (numpy Generator, int
            seed or None).
        dtype: torch.float64 (complex128 U, default) or torch.float32 (complex64 U).

    Parameters:
        theta, phi (float[m(m-1)/2]): beam splitters in layer order, pairs ascending in a layer.
        output_phase (float[m]): α.
    """

    def __init__(self, n_modes: int, rng: RngLike = None, *,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__(n_modes, dtype)
        m = self.n_modes
        top = np.array([i for layer in range(m) for i in range(layer % 2, m - 1, 2)],
                       dtype=np.int64)
        layer = np.array([layer for layer in range(m) for _ in range(layer % 2, m - 1, 2)],
                         dtype=np.int64)
        self._set_layout(top, top + 1, layer)
        n_bs = top.shape[0]
        gen = as_generator(rng)
        theta = gen.uniform(0.0, np.pi / 2, size=n_bs)
        phi = gen.uniform(0.0, 2 * np.pi, size=n_bs)
        alpha = gen.uniform(0.0, 2 * np.pi, size=m)
        self.theta = nn.Parameter(torch.tensor(theta, dtype=dtype))
        self.phi = nn.Parameter(torch.tensor(phi, dtype=dtype))
        self.output_phase = nn.Parameter(torch.tensor(alpha, dtype=dtype))

    def forward(self) -> torch.Tensor:
        """U(θ, φ, α): complex[m, m]."""
        cos, sin = torch.cos(self.theta), torch.sin(self.theta)
        e = torch.polar(torch.ones_like(self.phi), self.phi)
        U = self._compose(e * cos, -sin.to(e.dtype), e * sin, cos.to(e.dtype))
        return torch.polar(torch.ones_like(self.output_phase), self.output_phase)[:, None] * U

    def extra_repr(self) -> str:
        return f"n_modes={self.n_modes}, n_beam_splitters={self.n_beam_splitters}"


class LoopCircuit(Interferometer):
    """ORCA-style time-bin loop circuit with trainable beam splitters.

    Same circuit as :func:`qlatent.photonics.loop_unitary`: a loop of delay d applies the beam
    splitter [[cos θ, -e^{-iφ} sin θ], [e^{iφ} sin θ, cos θ]] on modes (i, i + d) for
    i = 0..m-1-d in that order, loops in the order given, U = B_last ... B_1. Beam splitters
    i in [g d, (g+1) d) of one loop touch disjoint modes and commute, so each such group is one
    layer matrix (ceil((m - d) / d) layers per loop).

    Args:
        n_modes: m > max(loop_lengths).
        loop_lengths: the delays, e.g. (1, 1) for "1-1", (1, 3, 9) for "1-3-9".
        rng: initial settings θ ~ U[0, π/2], φ ~ U[0, 2π) drawn exactly as ``loop_unitary``
            draws them (so ``LoopCircuit(m, d, rng=s)()`` equals ``loop_unitary(m, d, rng=s)``).
        angles: optional float64[n_bs, 2] of (θ, φ) instead of rng (n_bs = sum(m - d)).
        dtype: torch.float64 (default) or torch.float32.

    Parameters:
        theta, phi (float[n_bs]): beam-splitter settings in ``loop_unitary``'s order.
    """

    def __init__(self, n_modes: int, loop_lengths: Any, rng: RngLike = None, *,
                 angles: Any = None, dtype: torch.dtype = torch.float64) -> None:
        super().__init__(n_modes, dtype)
        m = self.n_modes
        # the same checks and the same draws as photonics.loop_unitary (one source)
        self.loop_lengths, settings = loop_settings(m, loop_lengths, rng, angles=angles)
        self.theta = nn.Parameter(torch.tensor(settings[:, 0], dtype=dtype))
        self.phi = nn.Parameter(torch.tensor(settings[:, 1], dtype=dtype))
        top, bottom, layer = [], [], []
        for d in self.loop_lengths:
            first = max(layer, default=-1) + 1
            for i in range(m - d):
                top.append(i)
                bottom.append(i + d)
                layer.append(first + i // d)
        self._set_layout(np.array(top, dtype=np.int64), np.array(bottom, dtype=np.int64),
                         np.array(layer, dtype=np.int64))

    def forward(self) -> torch.Tensor:
        """U(θ, φ): complex[m, m]."""
        cos, sin = torch.cos(self.theta), torch.sin(self.theta)
        e = torch.polar(torch.ones_like(self.phi), self.phi)
        c = cos.to(e.dtype)
        return self._compose(c, -e.conj() * sin, e * sin, c)

    def extra_repr(self) -> str:
        return f"n_modes={self.n_modes}, loop_lengths={self.loop_lengths}"


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------

def _check_unitary_tensor(U: Any) -> torch.Tensor:
    if isinstance(U, np.ndarray):
        U = torch.from_numpy(np.ascontiguousarray(U, dtype=np.complex128))
    if not isinstance(U, torch.Tensor):
        raise TypeError(f"U must be a complex torch.Tensor [m, m], got {type(U).__name__}")
    if U.dtype not in UNITARY_ATOL:
        raise TypeError(f"U must be complex128 or complex64, got dtype {U.dtype}")
    if U.ndim != 2 or U.shape[0] != U.shape[1] or U.shape[0] == 0:
        raise ValueError(f"U must be a non-empty square matrix [m, m], got shape "
                         f"{tuple(U.shape)}")
    if U.device.type == "meta":
        return U
    with torch.no_grad():
        if not torch.isfinite(torch.view_as_real(U)).all():
            raise ValueError("U must be finite, got NaN or infinite entries")
        eye = torch.eye(U.shape[0], dtype=U.dtype, device=U.device)
        err = float((U.conj().T @ U - eye).abs().max())
    atol = UNITARY_ATOL[U.dtype]
    if err > atol:
        raise ValueError(f"U must be unitary to within max|U^dagger U - I| <= {atol:g}, got "
                         f"deviation {err:.3g}")
    return U


def _as_int_tensor(name: str, value: Any, device: torch.device) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    if t.dtype == torch.bool or t.dtype.is_floating_point or t.dtype.is_complex:
        raise TypeError(f"{name} must hold integer photon counts, got dtype {t.dtype}")
    return t.to(device=device, dtype=torch.long)


def _check_input_state(input_state: Any, m: int, device: torch.device) -> torch.Tensor:
    t = _as_int_tensor("input_state", input_state, device)
    if t.ndim != 1 or t.shape[0] != m:
        raise ValueError(f"input_state must have shape ({m},) (one count per mode), got shape "
                         f"{tuple(t.shape)}")
    if (t < 0).any():
        raise ValueError(f"input_state must hold non-negative counts, got {t.tolist()}")
    n = int(t.sum())
    if n > m:
        raise ValueError(f"input_state must hold at most n_modes = {m} photons, got {n}")
    return t


def _check_counts(counts: Any, m: int, n: int, device: torch.device) -> torch.Tensor:
    c = _as_int_tensor("counts", counts, device)
    if c.ndim != 2 or c.shape[1] != m:
        raise ValueError(f"counts must have shape (batch, {m}) (one count per mode), got shape "
                         f"{tuple(c.shape)}")
    if (c < 0).any():
        row = int((c < 0).any(1).nonzero()[0, 0])
        raise ValueError(f"counts must be non-negative, got row {row}: {c[row].tolist()}")
    totals = c.sum(1)
    bad = (totals != n).nonzero()
    if bad.numel():
        row = int(bad[0, 0])
        raise ValueError(f"counts must hold the input's {n} photons in every row, got "
                         f"{int(totals[row])} in row {row}: {c[row].tolist()}")
    return c


def _log_factorial_sum(counts: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """sum_j log(c_j!) along the last axis, in ``dtype``."""
    return torch.lgamma(counts.to(dtype) + 1).sum(-1)


def _input_columns(t: torch.Tensor) -> torch.Tensor:
    return torch.repeat_interleave(torch.arange(t.shape[0], device=t.device), t)


def mean_occupancy(U: Any, input_state: Any) -> torch.Tensor:
    """Exact mean count per output mode, the same for both kinds of photons.

    E[s_j] = sum_k t_k |U_jk|^2 (each photon from mode k reaches j with probability |U_jk|^2,
    with or without interference).

    Args:
        U (complex[m, m]): unitary; input_state (int[m]).

    Returns:
        real Tensor[m] (differentiable in U).
    """
    U = _check_unitary_tensor(U)
    t = _check_input_state(input_state, U.shape[0], U.device)
    return (U.real.square() + U.imag.square()) @ t.to(U.real.dtype)


def occupancy_variance(U: Any, input_state: Any, *, distinguishable: bool = False
                       ) -> torch.Tensor:
    """Exact variance of the count in each output mode.

    With p_jk = |U_jk|^2 and μ_j = sum_k t_k p_jk:
    distinguishable: Var s_j = μ_j - sum_k t_k p_jk^2 (a sum of independent Bernoulli counts);
    indistinguishable: Var s_j = μ_j + μ_j^2 - sum_k t_k (t_k + 1) p_jk^2, from
    <b_j^†2 b_j^2> = 2(μ_j^2 - sum_k t_k^2 p_jk^2) + sum_k t_k (t_k - 1) p_jk^2 for a Fock input
    (b_j = sum_k U_jk a_k). Single photons: μ + μ^2 - 2 sum p^2 (Hong–Ou–Mandel: var 1, not 1/2).

    Returns:
        real Tensor[m] (differentiable in U).
    """
    U = _check_unitary_tensor(U)
    t = _check_input_state(input_state, U.shape[0], U.device).to(U.real.dtype)
    p = U.real.square() + U.imag.square()
    mu = p @ t
    if distinguishable:
        return mu - p.square() @ t
    return mu + mu.square() - p.square() @ (t * (t + 1))


# ----------------------------------------------------------------------------------------------
# Batched permanents (Glynn) and log-probabilities
# ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _sign_patterns(k: int, fix_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """All sign vectors over k rows: (D int8[T, k], prod of each row int8[T]).

    T = 2^k, or 2^(k-1) with ``fix_first`` (d_1 = +1).
    """
    free = k - 1 if fix_first and k > 0 else k
    g = np.arange(1 << free, dtype=np.int64)[:, None]
    bits = (g >> np.arange(free, dtype=np.int64)[None, :]) & 1
    D = np.ones((1 << free, k), dtype=np.int8)
    D[:, k - free:] = 1 - 2 * bits
    return D, np.prod(D, axis=1, dtype=np.int8)


def _glynn_halves(n: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Sign tables of the two halves of the rows: (D_a, s_a, D_b, s_b) with d_1 = +1 in D_a."""
    h = (n + 1) // 2
    out = []
    for k, fix in ((h, True), (n - h, False)):
        D, sign = _sign_patterns(k, fix)
        out += [torch.from_numpy(D).to(device=device, dtype=dtype),
                torch.from_numpy(sign).to(device=device, dtype=dtype)]
    return tuple(out)


def _batch_chunk(n: int) -> int:
    """Outcomes per chunk so that a chunk's row sums hold at most _TERMS_PER_CHUNK_ENTRIES."""
    return max(1, _TERMS_PER_CHUNK_ENTRIES // max(1, (1 << max(n - 1, 0)) * max(n, 1)))


def _row_sums(M: torch.Tensor, Da: torch.Tensor, Db: torch.Tensor) -> torch.Tensor:
    """r[b, ta, tb, j] = sum_i d_i M[b, i, j] for the sign vector d = (D_a[ta], D_b[tb])."""
    h = Da.shape[1]
    X = torch.matmul(Da, M[:, :h])  # [B, Ta, n]
    Y = torch.matmul(Db, M[:, h:])  # [B, Tb, n]
    return X[:, :, None, :] + Y[:, None, :, :]


class _GlynnPermanent(torch.autograd.Function):
    """Batched Glynn permanent with its analytic gradient (meet in the middle over the signs).

    The 2^(n-1) sign vectors are pairs (first half of the rows, second half), so the row sums
    r_d = sum_i d_i M_i. are sums X[ta] + Y[tb] of two small products: O(B 2^(n-1) n) work
    instead of a full O(B 2^(n-1) n^2) matmul. The gradient,
    d Perm / d M_ij = 2^{-(n-1)} sum_d (prod d) d_i prod_{k != j} r_dk, sums the products of all
    row sums but one, prod(r) / r_dj (or, where some product is exactly zero, exclusive prefix
    times suffix products) over the other half's signs first.
    Perm is holomorphic in M, so the vector-Jacobian product for complex M is
    grad * conj(dPerm/dM) (torch's convention).
    """

    @staticmethod
    def forward(ctx, M):
        B, n = M.shape[0], M.shape[1]
        Da, sa, Db, sb = _glynn_halves(n, M.dtype, M.device)
        weight = sa[:, None] * sb[None, :]  # [Ta, Tb]
        per = _batch_chunk(n)
        keep = B * n << max(n - 1, 0) <= _SAVED_ROW_SUM_ENTRIES
        parts, saved = [], []
        for start in range(0, B, per):
            R = _row_sums(M[start:start + per], Da, Db)  # [b, Ta, Tb, n]
            P = R.prod(-1)
            parts.append((P * weight).sum((1, 2)))
            if keep:
                saved += [R, P]
        ctx.save_for_backward(M, *saved)
        return torch.cat(parts) / float(1 << (n - 1))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        M, *saved = ctx.saved_tensors
        B, n = M.shape[0], M.shape[1]
        Da, sa, Db, sb = _glynn_halves(n, M.dtype, M.device)
        weight = sa[:, None] * sb[None, :]  # [Ta, Tb]
        parts = []
        per = _batch_chunk(n)
        for k, start in enumerate(range(0, B, per)):
            if saved:
                R, P = saved[2 * k], saved[2 * k + 1]
            else:
                R = _row_sums(M[start:start + per], Da, Db)
                P = R.prod(-1)
            W = (P * weight)[..., None] / R  # products of all row sums but one, weighted
            zero = P == 0
            if bool(zero.any()):
                # a row sum is exactly zero (repeated rows cancel, sparse M) or the product
                # underflowed: those terms from exclusive prefix and suffix products
                idx = zero.nonzero(as_tuple=True)
                Rz = R[idx]  # [z, n]
                one = torch.ones_like(Rz[:, :1])
                prefix = torch.cat([one, Rz[:, :-1].cumprod(-1)], dim=-1)
                suffix = torch.cat([Rz[:, 1:].flip(-1).cumprod(-1).flip(-1), one], dim=-1)
                W = W.index_put(idx, prefix * suffix * weight[idx[1], idx[2]][:, None])
            Ga = torch.matmul(Da.T, W.sum(2))  # [b, h, n]
            Gb = torch.matmul(Db.T, W.sum(1))  # [b, n - h, n]
            parts.append(torch.cat([Ga, Gb], dim=1))
        G = torch.cat(parts) / float(1 << (n - 1))
        if M.is_complex():
            G = G.conj()
        return grad[:, None, None] * G


def batched_permanent(M: torch.Tensor) -> torch.Tensor:
    """Permanents of a batch of square matrices by Glynn's formula, differentiable.

    Perm(M) = 2^{-(n-1)} sum_{d in {±1}^n, d_1 = +1} (prod_i d_i) prod_j (sum_i d_i M_ij)
    (Glynn, European J. Combin. 31, 1887 (2010)). All 2^(n-1) sign vectors are one matrix D, so
    the row sums of the whole batch are sums of two half-size products (meet in the middle,
    see ``_GlynnPermanent``), and the gradient is analytic; the batch goes in chunks to bound
    memory. Cost O(B 2^(n-1) n), like a Gray-code loop, but in a few large torch calls (a
    Gray-code loop would be 2^(n-1) small ones; a plain D @ M matmul is O(B 2^(n-1) n^2) and
    measured 5-10x slower at n = 8-12; Ryser's formula has twice the terms).

    Args:
        M (real or complex Tensor[B, n, n]).

    Returns:
        Tensor[B] of M's dtype (1 for n = 0).
    """
    if M.ndim != 3 or M.shape[1] != M.shape[2]:
        raise ValueError(f"M must have shape (batch, n, n), got {tuple(M.shape)}")
    if M.shape[1] == 0:
        return torch.ones(M.shape[0], dtype=M.dtype, device=M.device)
    return _GlynnPermanent.apply(M)


@lru_cache(maxsize=32)
def _subset_plan(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each k = 1..n: (parent positions int64[C(n,k), k], columns int64[C(n,k), k]) of the
    k-subsets of columns in bitmask order: subset S at position r has parents S - {j}."""
    by_size: list[list[int]] = [[] for _ in range(n + 1)]
    for mask in range(1 << n):
        by_size[bin(mask).count("1")].append(mask)
    position = {mask: r for size in by_size for r, mask in enumerate(size)}
    plan = []
    for k in range(1, n + 1):
        cols = np.array([[j for j in range(n) if mask >> j & 1] for mask in by_size[k]],
                        dtype=np.int64).reshape(-1, k)
        parents = np.array([[position[mask & ~(1 << j)] for j in range(n) if mask >> j & 1]
                            for mask in by_size[k]], dtype=np.int64).reshape(-1, k)
        plan.append((parents, cols))
    return plan


def nonnegative_permanent(M: torch.Tensor) -> torch.Tensor:
    """Permanents of a batch of real non-negative matrices without cancellation (autograd).

    Row by row over subsets of columns: f_0(∅) = 1, f_k(S) = sum_{j in S} f_{k-1}(S - {j})
    M[k, j] for |S| = k, Perm(M) = f_n({1..n}). Every term is >= 0, so tiny permanents keep
    their relative precision (Glynn's and Ryser's signed sums can round them to 0 or below).
    Cost O(B n 2^(n-1)), memory O(B C(n, n/2) n).

    Args:
        M (real Tensor[B, n, n]), entries >= 0 (|U|^2 for distinguishable photons).

    Returns:
        Tensor[B].
    """
    B, n = M.shape[0], M.shape[1]
    f = torch.ones(B, 1, dtype=M.dtype, device=M.device)
    for k, (parents, cols) in enumerate(_subset_plan(n)):
        p = torch.from_numpy(parents).to(M.device)
        c = torch.from_numpy(cols).to(M.device)
        f = (f[:, p] * M[:, k, :][:, c]).sum(-1)
    return f[:, 0]


def log_prob(U: Any, input_state: Any, counts: Any, *, distinguishable: bool = False
             ) -> torch.Tensor:
    """Exact, differentiable log-probabilities of a batch of output count vectors.

    Indistinguishable photons: log P(S) = log |Perm(U_{S,T})|^2 - sum_j log s_j! - sum_k log t_k!
    (Scheel, arXiv:quant-ph/0406127; Aaronson & Arkhipov, arXiv:1011.3245).
    Distinguishable photons: log P(S) = log Perm(|U|^2_{S,T}) - sum_j log s_j!.
    Repeated output (input) modes are repeated rows (columns) of U_{S,T}; the permanents of the
    whole batch come from one batched Glynn evaluation (:func:`batched_permanent`),
    O(B 2^(n-1) n); for distinguishable photons (non-negative matrices, n <=
    MAX_SUBSET_DP_PHOTONS) from the cancellation-free :func:`nonnegative_permanent`, so tiny
    probabilities never round to zero or below. An outcome of probability zero gives -inf.

    Args:
        U (complex128 or complex64 Tensor[m, m]): unitary (checked, max|U^†U - I| within
            ``UNITARY_ATOL``), e.g. ``ClementsMesh(m)()``; gradients flow into it.
        input_state (int[m]): t, n = sum t <= m photons.
        counts (int Tensor or array [B, m]): output states, every row summing to n.
        distinguishable: photons distinguishable (no interference) instead of identical.

    Returns:
        real Tensor[B] (float64 for complex128 U).

    Raises:
        ValueError: U not square/unitary/finite, input_state of the wrong shape or with more
            photons than modes, counts of the wrong shape, negative, or a row whose total is not
            the input's photon number (never a silent zero probability), n > MAX_PERMANENT_PHOTONS.
        TypeError: U not a complex tensor, counts or input_state not integers.
    """
    U = _check_unitary_tensor(U)
    m = U.shape[0]
    t = _check_input_state(input_state, m, U.device)
    n = int(t.sum())
    if n > MAX_PERMANENT_PHOTONS:
        raise ValueError(f"input_state must hold at most {MAX_PERMANENT_PHOTONS} photons for "
                         f"exact permanents (2^(n-1) terms each), got {n}")
    c = _check_counts(counts, m, n, U.device)
    real = U.real.dtype
    B = c.shape[0]
    if B == 0:
        return torch.zeros(0, dtype=real, device=U.device)
    cols = _input_columns(t)
    A = U[:, cols]  # [m, n]
    if distinguishable:
        A = A.real.square() + A.imag.square()
    # row indices of U_{S,T}: mode j repeated s_j times, every row has exactly n of them
    modes = torch.arange(m, device=U.device).expand(B, m).reshape(-1)
    rows = torch.repeat_interleave(modes, c.reshape(-1)).reshape(B, n)
    if distinguishable and n <= MAX_SUBSET_DP_PHOTONS:
        perm = nonnegative_permanent(A[rows])  # no cancellation: tiny probabilities stay > 0
    else:
        perm = batched_permanent(A[rows])  # [B]
    log_norm = _log_factorial_sum(c, real)
    if distinguishable:
        return torch.log(perm) - log_norm
    return torch.log(perm.real.square() + perm.imag.square()) - log_norm \
        - _log_factorial_sum(t, real)


# ----------------------------------------------------------------------------------------------
# Whole output distribution (SLOS-style dynamic programme)
# ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _binomials(size: int) -> np.ndarray:
    C = np.zeros((size + 1, size + 1), dtype=np.int64)
    for a in range(size + 1):
        C[a, 0] = 1
        for b in range(1, a + 1):
            C[a, b] = C[a - 1, b - 1] + C[a - 1, b]
    return C


def _colex_rank(lists: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Colex rank sum_t C(r_t + t, t + 1) of sorted mode lists int64[K, k]."""
    k = lists.shape[1]
    rank = np.zeros(lists.shape[0], dtype=np.int64)
    for t in range(k):
        rank += C[lists[:, t] + t, t + 1]
    return rank


@lru_cache(maxsize=8)
def _slos_plan(m: int, n: int) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]]]:
    """Index plan of the dynamic programme for n photons in m modes.

    Level k holds the C(m+k-1, k) sorted mode lists R of size k in colex order (the order of
    ``photonics.exact_distribution``). For each list and each distinct mode r in it, an edge
    (child = rank R, parent = rank of R - {r}, mode r, multiplicity mu_r(R)).

    Returns:
        (states int64[K, m] of level n, [(child, parent, mode, mult) int64 arrays per level]).
    """
    C = _binomials(m + n + 1)
    lists = np.arange(m, dtype=np.int64)[:, None]  # level 1, already in colex order
    levels = []
    for k in range(1, n + 1):
        if k > 1:
            last = lists[:, -1]
            reps = m - last
            base = np.repeat(lists, reps, axis=0)
            offsets = np.arange(base.shape[0]) - np.repeat(np.cumsum(reps) - reps, reps)
            new = np.repeat(last, reps) + offsets
            grown = np.concatenate([base, new[:, None]], axis=1)
            lists = np.empty_like(grown)
            lists[_colex_rank(grown, C)] = grown
        edges = []
        for p in range(k):
            first = np.ones(lists.shape[0], dtype=bool) if p == 0 else (
                lists[:, p] != lists[:, p - 1])
            child = np.nonzero(first)[0]
            sub = lists[child]
            mult = (sub == sub[:, p:p + 1]).sum(1)
            parent = _colex_rank(np.delete(sub, p, axis=1), C) if k > 1 else np.zeros_like(child)
            edges.append((child, parent, sub[:, p], mult))
        levels.append(tuple(np.concatenate([e[i] for e in edges]) for i in range(4)))
    states = np.zeros((lists.shape[0] if n > 0 else 1, m), dtype=np.int64)
    if n > 0:
        np.add.at(states, (np.repeat(np.arange(lists.shape[0]), n), lists.reshape(-1)), 1)
    return states, levels


def output_distribution(U: Any, input_state: Any, *, distinguishable: bool = False
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact output distribution over the whole Fock space, differentiable (small systems).

    A SLOS-style dynamic programme, photon by photon (Heurtel et al., "Strong simulation of linear
    optical processes", arXiv:2206.10549): with A = U[:, input columns] (photon k from its input
    mode), the permanent of the first k columns on a sorted output multiset R satisfies
    Laplace's expansion along the last photon,

        Q_k(R) = sum over distinct r in R of mu_r(R) A[r, k] Q_{k-1}(R - {r}),  Q_0 = 1,

    so all C(m+n-1, n) amplitudes cost O(K n) vectorised scatter-adds (``index_add``), and
    P(S) = |Q_n(S)|^2 / (prod s! prod t!). Distinguishable photons run the same recursion on
    |A|^2 entrywise: P(S) = Q_n(S) / prod s!. The states come in the colex order of the sorted
    mode lists, the order of :func:`qlatent.photonics.exact_distribution`.

    Args:
        U (complex128 or complex64 Tensor[m, m]): unitary (checked).
        input_state (int[m]): t, n = sum t <= m.
        distinguishable: distinguishable photons instead of identical ones.

    Returns:
        (states int64 Tensor[K, m], probs real Tensor[K]) on U's device; probs sum to 1 up to
        rounding and carry gradients to U.

    Raises:
        ValueError: as :func:`log_prob`, and K > MAX_DISTRIBUTION_STATES (the count is named).
    """
    U = _check_unitary_tensor(U)
    m = U.shape[0]
    t = _check_input_state(input_state, m, U.device)
    n = int(t.sum())
    K = math.comb(m + n - 1, n)
    if K > MAX_DISTRIBUTION_STATES:
        raise ValueError(f"n_modes = {m} with {n} photons has {K:,} output states, more than "
                         f"output_distribution holds ({MAX_DISTRIBUTION_STATES:,}); use log_prob "
                         "on the outcomes you need")
    states_np, levels = _slos_plan(m, n)
    states = torch.from_numpy(states_np).to(U.device)
    real = U.real.dtype
    cols = _input_columns(t)
    A = U[:, cols]
    if distinguishable:
        A = A.real.square() + A.imag.square()
    amp = torch.ones(1, dtype=A.dtype, device=U.device)
    for k, (child, parent, mode, mult) in enumerate(levels):
        size = math.comb(m + k, k + 1)
        child_t = torch.from_numpy(child).to(U.device)
        weight = A[torch.from_numpy(mode).to(U.device), k] \
            * torch.from_numpy(mult).to(device=U.device, dtype=real)
        amp = torch.zeros(size, dtype=A.dtype, device=U.device).index_add(
            0, child_t, weight * amp[torch.from_numpy(parent).to(U.device)])
    factorials = torch.tensor([math.factorial(i) for i in range(n + 1)], dtype=real,
                              device=U.device)
    norm = factorials[states].prod(1)
    if distinguishable:
        return states, amp / norm
    return states, (amp.real.square() + amp.imag.square()) / (
        norm * math.prod(math.factorial(int(x)) for x in t.tolist()))
