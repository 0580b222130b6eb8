"""Transverse-field Ising models: exact Gibbs states, probabilities, samples and analytic
gradients in torch (float64), the quantum Boltzmann machine of Amin et al.

Notation:
    n (``n_units``) visible units, N = 2^n basis states. A bit vector v in {0, 1}^n is the basis
    state |v>; its index is k = sum_i v_i 2^(n-1-i) (unit 0 is the most significant bit, so
    states are in lexicographic order; ``qubits.bits_to_index`` and ``qubits.basis_bits``).
    Spins s_i = 2 v_i - 1 in {-1, +1}: σᶻ_i |v> = s_i |v>.
    b (float64[n]) biases, W (float64[n, n]) couplings (symmetric, zero diagonal), Γ >= 0 the
    transverse field.
    H = - sum_i b_i σᶻ_i - sum_{i<j} W_ij σᶻ_i σᶻ_j - Γ sum_i σˣ_i   (Amin et al., PRX 8,
    021050 (2018), arXiv:1601.02036). In the Z basis H is real symmetric: the diagonal is the
    classical energy E(s) = -b.s - s^T W s / 2 and σˣ_i links v to v with bit i flipped (-Γ).
    ρ = e^{-H} / Z, Z = Tr e^{-H}; the model is P(v) = <v|ρ|v>. At Γ = 0, P(v) = e^{-E(s)} / Z,
    the classical Boltzmann machine.

Method: H = U diag(λ) U^T (``torch.linalg.eigh``, float64). With λ_0 = min λ and
w_k = e^{-(λ_k - λ_0)} in (0, 1] (no overflow), log Z = -λ_0 + log sum_k w_k and
P(v) = sum_k U_vk^2 w_k / sum_k w_k.

Gradients are analytic (autograd through ``eigh`` returns NaN at degenerate spectra, which zero
biases create). d log Z = -Tr(ρ dH). For p̃_v = <v|e^{-H}|v> the Fréchet derivative of the
exponential in the eigenbasis gives dp̃_v = -sum_kl U_vk U_vl Φ_kl (U^T dH U)_kl with
Φ_kl = (e^{-λ_k} - e^{-λ_l}) / (λ_l - λ_k) and the degenerate limit Φ_kk = e^{-λ_k}; we
evaluate Φ_kl = e^{-min(λ_k, λ_l)} (1 - e^{-|λ_k - λ_l|}) / |λ_k - λ_l| with ``expm1``, which
is exact at and accurate near degeneracy. So for L = sum_v c_v log P(v) the gradient with
respect to H is G = -U K U^T, K = Φ ∘ (U^T diag(c / p̃) U) - (sum_v c_v) diag(w / sum w), and
dL/db_i = -sum_v G_vv s_i(v), dL/dW_ij = -sum_v G_vv s_i(v) s_j(v) / 2,
dL/dΓ = -sum_i sum_v G_{v, v xor e_i}.

Costs (dense): memory 8 N^2 bytes per N x N matrix (128 MiB at n = 12; the gradient holds
about four); time one eigendecomposition O(N^3) for the state, two N x N matrix products more
for the gradient of the exact log-likelihood; the gradient of log Z (the bound) is O(n N^2).
P(v) and log Z alone (sampling, normalisation) also come without eigenvectors, by a Chebyshev
series of e^{-H} on every basis vector (:func:`gibbs_diagonal`, O(K N^2 n) for a series of
degree K ~ the spectral width). The slow, independent reference is
:mod:`qlatent.quantum.ising_reference` (scipy's ``expm``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse.linalg
import scipy.special
import torch

from qlatent._random import check_generator
from qlatent._validation import check_bits_tensor, check_choice, check_int
from qlatent.quantum._ising_kernels import chebyshev_diagonal
from qlatent.quantum.qubits import basis_bits, bits_to_index

#: The exact method refuses more visible units: it diagonalises a dense 2^n x 2^n float64
#: matrix (128 MiB of eigenvectors at n = 12, 2 GiB at 14; time grows as 8^n).
MAX_ISING_UNITS = 12
#: Largest |W - W^T| accepted as symmetric.
SYMMETRY_ATOL = 1e-12


def _matrix_mib(n_units: int) -> float:
    return 8.0 * 4.0**n_units / 2**20


def check_n_units(n_units: Any, name: str = "n_units") -> int:
    """An integer in [1, MAX_ISING_UNITS]; the message names the limit and its memory."""
    n_units = check_int(name, n_units, minimum=1)
    if n_units > MAX_ISING_UNITS:
        raise ValueError(
            f"{name} must be <= {MAX_ISING_UNITS} for the exact Gibbs state (a dense 2^n x 2^n "
            f"float64 eigendecomposition: {_matrix_mib(MAX_ISING_UNITS):,.0f} MiB per matrix at "
            f"n = {MAX_ISING_UNITS}), got {n_units} ({_matrix_mib(n_units):,.0f} MiB per matrix)")
    return n_units


def check_ising_parameters(biases: Any, couplings: Any, gamma: Any
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check (b, W, Γ) and return them as float64 tensors (gradients kept).

    Raises:
        TypeError: not real numbers.
        ValueError: b not 1-D, n above ``MAX_ISING_UNITS``, W not n x n, not symmetric or with a
            non-zero diagonal, Γ not a finite scalar >= 0, non-finite entries.
    """
    b = _as_float64("biases", biases)
    W = _as_float64("couplings", couplings)
    g = _as_float64("gamma", gamma)
    if b.ndim != 1:
        raise ValueError(f"biases must be 1-D (one per unit), got shape {tuple(b.shape)}")
    n = check_n_units(b.shape[0], name="len(biases)")
    if W.shape != (n, n):
        raise ValueError(f"couplings must have shape ({n}, {n}) for {n} units, got "
                         f"{tuple(W.shape)}")
    if g.ndim != 0:
        raise ValueError(f"gamma must be a scalar, got shape {tuple(g.shape)}")
    for name, t in (("biases", b), ("couplings", W), ("gamma", g)):
        if not bool(torch.isfinite(t.detach()).all()):
            raise ValueError(f"{name} must be finite, got {t.detach().tolist()}")
    Wd = W.detach()
    asym = float((Wd - Wd.T).abs().max()) if n > 1 else 0.0
    if asym > SYMMETRY_ATOL:
        raise ValueError(f"couplings must be symmetric (W = W^T), got max |W - W^T| = {asym:.3g}")
    if bool((Wd.diagonal() != 0).any()):
        raise ValueError(f"couplings must have a zero diagonal, got {Wd.diagonal().tolist()}")
    if float(g.detach()) < 0:
        raise ValueError(f"gamma must be >= 0 (the transverse field Γ), got {float(g.detach())}")
    return b, W, g


def _as_float64(name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if value.dtype.is_complex or value.dtype == torch.bool:
            raise TypeError(f"{name} must be real numbers, got dtype {value.dtype}")
        return value.to(torch.float64)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be real numbers, got {type(value).__name__}") from None
    return torch.from_numpy(arr)


@lru_cache(maxsize=16)
def _basis_cpu(n_units: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    N = 1 << n_units
    k = torch.arange(N)
    shifts = torch.arange(n_units - 1, -1, -1)
    bits = basis_bits(n_units)
    spins = (2 * bits - 1).to(torch.float64)
    # flips[i, k]: the index of state k with bit i flipped (σˣ_i).
    flips = k[None, :] ^ (1 << shifts)[:, None]
    return bits, spins, flips


def classical_energies(biases: torch.Tensor, couplings: torch.Tensor) -> torch.Tensor:
    """E(s) = -b.s - s^T W s / 2 for every basis state: float64 Tensor[N] (differentiable)."""
    spins = _basis_cpu(biases.shape[0])[1].to(biases.device)
    return -(spins @ biases) - 0.5 * ((spins @ couplings) * spins).sum(1)


def hamiltonian(biases: Any, couplings: Any, gamma: Any) -> torch.Tensor:
    """The dense H in the Z basis: float64 Tensor[N, N] (see the module docstring)."""
    b, W, g = check_ising_parameters(biases, couplings, gamma)
    return _hamiltonian(b.detach(), W.detach(), g.detach())


def _hamiltonian(b: torch.Tensor, W: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    n = b.shape[0]
    N = 1 << n
    flips = _basis_cpu(n)[2].to(b.device)
    H = torch.diag(classical_energies(b, W))
    rows = torch.arange(N, device=b.device).expand(n, N)
    H[rows.reshape(-1), flips.reshape(-1)] = -g
    return H


@dataclass(frozen=True)
class GibbsState:
    """The exact Gibbs state of one (b, W, Γ) (no gradient; see :func:`gibbs_state`).

    Attributes:
        eigenvalues (float64[N]): λ ascending.
        eigenvectors (float64[N, N]): U, column k the eigenvector of λ_k.
        weights (float64[N]): e^{-(λ_k - λ_0)} / sum_k e^{-(λ_k - λ_0)}, the eigenstate
            populations.
        log_partition (float): log Z.
        probabilities (float64[N]): P(v) = <v|ρ|v>, in index order, summing to 1.
    """

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    weights: torch.Tensor
    log_partition: float
    probabilities: torch.Tensor

    @property
    def n_units(self) -> int:
        return int(self.eigenvalues.shape[0]).bit_length() - 1

    def mean_spins(self) -> torch.Tensor:
        """<σᶻ_i> under ρ: float64[n]."""
        return mean_spins(self.probabilities)

    def spin_correlations(self) -> torch.Tensor:
        """<σᶻ_i σᶻ_j> under ρ: float64[n, n] (ones on the diagonal)."""
        s = _basis_cpu(self.n_units)[1].to(self.probabilities.device)
        return (s * self.probabilities[:, None]).T @ s

    def mean_transverse(self) -> torch.Tensor:
        """<σˣ_i> under ρ: float64[n] (sum_k w_k (U^T σˣ_i U)_kk, O(n N^2))."""
        U = self.eigenvectors
        flips = _basis_cpu(self.n_units)[2].to(U.device)
        return torch.stack([((U[f] * U) @ self.weights).sum() for f in flips])


def _gibbs(b: torch.Tensor, W: torch.Tensor, g: torch.Tensor) -> GibbsState:
    lam, U = torch.linalg.eigh(_hamiltonian(b, W, g))
    w = torch.exp(-(lam - lam[0]))
    total = w.sum()
    probs = (U * U) @ (w / total)
    log_z = float(-lam[0] + torch.log(total))
    return GibbsState(lam, U, w / total, log_z, probs)


#: Methods of :func:`gibbs_diagonal`.
DIAGONAL_METHODS = ("auto", "eigh", "chebyshev")
#: The Chebyshev series stops where the first neglected coefficient is below this (relative to
#: the largest Boltzmann weight, 1).
CHEBYSHEV_TOLERANCE = 1e-17


def _extreme_energy(d: np.ndarray, gamma: float, n: int, which: str) -> float:
    """λ_0 (which "SA") or λ_max ("LA") of H by Lanczos (ARPACK, start vector all ones: it
    overlaps the positive ground state of this stoquastic H), to about machine precision."""
    idx = np.arange(d.shape[0])
    flips = [idx ^ (1 << i) for i in range(n)]

    def matvec(x):
        x = np.ravel(x)
        y = d * x
        for f in flips:
            y -= gamma * x[f]
        return y

    op = scipy.sparse.linalg.LinearOperator((d.shape[0], d.shape[0]), matvec=matvec,
                                            dtype=np.float64)
    return float(scipy.sparse.linalg.eigsh(op, k=1, which=which, v0=np.ones(d.shape[0]),
                                           tol=0, return_eigenvectors=False)[0])


def chebyshev_degree(half_width: float, tolerance: float = CHEBYSHEV_TOLERANCE) -> int:
    """Smallest K >= h with 2 I_{K+1}(h) e^{-h} < tolerance: the degree of the Chebyshev series of
    e^{-h(x + 1)} on [-1, 1] (coefficients 2 (-1)^k I_k(h) e^{-h}, decaying super-exponentially
    once k > h)."""
    K = max(1, int(np.ceil(half_width)))
    while 2.0 * scipy.special.ive(K + 1, half_width) >= tolerance:
        K += 1
    return K


def gibbs_diagonal(biases: Any, couplings: Any, gamma: Any, *, method: str = "auto"
                   ) -> tuple[torch.Tensor, float]:
    """P(v) = <v|ρ|v> for every state and log Z, without eigenvectors (no gradient).

    method "eigh": from :func:`gibbs_state`. method "chebyshev": with λ_0 and λ_max from Lanczos
    (ARPACK), x = (λ - c) / h maps [λ_0, λ_max] onto [-1, 1] and
    e^{-(λ - λ_0)} = e^{-h(x + 1)} = sum_k 2 (-1)^k I_k(h) e^{-h} T_k(x) (halved at k = 0),
    truncated at :func:`chebyshev_degree`; <v|T_k|v> by the three-term recurrence on the
    columns e_v with the doubling identities (``_ising_kernels``): about (K / 2) N^2 (n + 1)
    operations and a few N x 16 blocks of memory instead of the O(N^3) eigendecomposition.
    Accuracy: absolute, about 1e-15 on each P(v) (tested against "eigh"); a tiny P(v) can lose
    its relative accuracy (and is clipped at 0). At Γ = 0 both give the classical
    Boltzmann law from the energies directly. "auto": "chebyshev" from 9 units, else "eigh".

    Returns:
        (P float64[N] summing to 1, log Z).
    """
    b, W, g = check_ising_parameters(biases, couplings, gamma)
    check_choice("method", method, DIAGONAL_METHODS)
    n = b.shape[0]
    if method == "auto":
        method = "chebyshev" if n >= 9 else "eigh"
    gamma_value = float(g.detach())
    energies = classical_energies(b.detach(), W.detach()).cpu().numpy()
    if gamma_value == 0.0:  # diagonal H: the classical Boltzmann law
        e0 = energies.min()
        weights = np.exp(-(energies - e0))
        total = weights.sum()
        return torch.from_numpy(weights / total).to(b.device), float(np.log(total) - e0)
    if method == "eigh":
        state = _gibbs(b.detach(), W.detach(), g.detach())
        return state.probabilities, state.log_partition
    if n == 1:  # a 2 x 2 H: eigh
        state = _gibbs(b.detach(), W.detach(), g.detach())
        return state.probabilities, state.log_partition
    lo = _extreme_energy(energies, gamma_value, n, "SA")
    hi = _extreme_energy(energies, gamma_value, n, "LA")
    # margins outside [λ_0, λ_max]: the series converges just outside [-1, 1] as well
    margin = 1e-9 * max(1.0, hi - lo)
    lo, hi = lo - margin, hi + margin
    center, half = (lo + hi) / 2, (hi - lo) / 2

    K = chebyshev_degree(half)
    k = np.arange(K + 1)
    coef = 2.0 * scipy.special.ive(k, half) * np.where(k % 2 == 0, 1.0, -1.0)
    coef[0] /= 2.0
    diag = chebyshev_diagonal((energies - center) / half, gamma_value / half, n, coef)
    diag = np.maximum(diag, 0.0)
    total = diag.sum()
    return torch.from_numpy(diag / total).to(b.device), float(np.log(total) - lo)


def gibbs_state(biases: Any, couplings: Any, gamma: Any) -> GibbsState:
    """The exact Gibbs state ρ = e^{-H}/Z by a float64 eigendecomposition (no gradient).

    Args:
        biases (float[n]), couplings (float[n, n], symmetric, zero diagonal), gamma (float >= 0):
            see the module docstring; n <= ``MAX_ISING_UNITS``.

    Returns:
        :class:`GibbsState`.
    """
    b, W, g = check_ising_parameters(biases, couplings, gamma)
    return _gibbs(b.detach(), W.detach(), g.detach())


# ----------------------------------------------------------------------------------------------
# Analytic gradients
# ----------------------------------------------------------------------------------------------

def _duhamel_weights(lam: torch.Tensor) -> torch.Tensor:
    """Φ_kl = (e^{-λ_k} - e^{-λ_l}) / (λ_l - λ_k), Φ_kk = e^{-λ_k} (λ shifted, >= 0)."""
    lo = torch.minimum(lam[:, None], lam[None, :])
    gap = (lam[:, None] - lam[None, :]).abs()
    safe = torch.where(gap > 0, gap, torch.ones_like(gap))
    ratio = torch.where(gap > 0, -torch.expm1(-safe) / safe, torch.ones_like(gap))
    return torch.exp(-lo) * ratio


def _parameter_grads(state: GibbsState, diag_g: torch.Tensor, A: torch.Tensor | None,
                     need_gamma: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """From G (given by its diagonal and, for Γ, A with G = -A U^T) to (dL/db, dL/dW, dL/dΓ)."""
    n = state.n_units
    _, spins, flips = _basis_cpu(n)
    spins, flips = spins.to(diag_g.device), flips.to(diag_g.device)
    grad_b = -(spins.T @ diag_g)
    grad_W = -0.5 * (spins * diag_g[:, None]).T @ spins
    grad_W.fill_diagonal_(0.0)
    grad_g = None
    if need_gamma:
        U = state.eigenvectors
        grad_g = sum((A * U[f]).sum() for f in flips)  # -sum_i sum_v G_{v, v xor e_i}
    return grad_b, grad_W, grad_g


class _IsingLogProb(torch.autograd.Function):
    """log P(v) for state indices, with the analytic gradient of the module docstring."""

    @staticmethod
    def forward(ctx, b, W, g, index):  # noqa: D102
        state = _gibbs(b.detach(), W.detach(), g.detach())
        p_unnorm = state.probabilities[index]  # P(v), the shift cancels in log P
        ctx.state, ctx.index = state, index
        return torch.log(p_unnorm)

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        state, index = ctx.state, ctx.index
        need_b, need_W, need_g, _ = ctx.needs_input_grad
        if not (need_b or need_W or need_g):
            return None, None, None, None
        N = state.probabilities.shape[0]
        c = torch.zeros(N, dtype=torch.float64, device=grad_out.device)
        c.index_add_(0, index, grad_out.to(torch.float64))
        U, wn = state.eigenvectors, state.weights
        lam = state.eigenvalues - state.eigenvalues[0]
        # Shifted p̃_v = sum_k U_vk^2 e^{-λ'_k} = P(v) * sum_k e^{-λ'_k}; Φ uses the same shift.
        scale = 1.0 / float(wn[0]) if float(wn[0]) > 0 else float(torch.exp(-lam).sum())
        p_shift = state.probabilities * scale
        m = torch.where(c != 0, c / p_shift, torch.zeros_like(c))
        K = _duhamel_weights(lam) * ((U.T * m) @ U)
        K.diagonal().sub_(c.sum() * wn)
        A = U @ K  # G = -A U^T
        diag_g = -(A * U).sum(1)
        grad_b, grad_W, grad_g = _parameter_grads(state, diag_g, A, need_g)
        if grad_g is not None:
            grad_g = grad_g.reshape(())
        return (grad_b if need_b else None, grad_W if need_W else None,
                grad_g if need_g else None, None)


class _IsingLogPartition(torch.autograd.Function):
    """log Z with d log Z = -Tr(ρ dH): d/db = <σᶻ>, d/dW_ij = <σᶻ_i σᶻ_j>/2, d/dΓ = sum <σˣ>."""

    @staticmethod
    def forward(ctx, b, W, g):  # noqa: D102
        state = _gibbs(b.detach(), W.detach(), g.detach())
        ctx.state = state
        return torch.tensor(state.log_partition, dtype=torch.float64, device=b.device)

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        state = ctx.state
        grad_b = grad_out * state.mean_spins()
        grad_W = grad_out * 0.5 * state.spin_correlations()
        grad_W.fill_diagonal_(0.0)
        grad_g = grad_out * state.mean_transverse().sum() if ctx.needs_input_grad[2] else None
        return grad_b, grad_W, grad_g


def log_prob(biases: Any, couplings: Any, gamma: Any, bits: Any) -> torch.Tensor:
    """Exact log P(v) = log <v|ρ|v> of bit vectors: float64 Tensor[B], with analytic gradients
    in biases, couplings and gamma (the Fréchet derivative of exp; exact at degenerate spectra).

    Args:
        biases, couplings, gamma: as :func:`gibbs_state` (tensors may require grad).
        bits (int or float {0, 1} [B, n]): raw bit vectors (unit 0 first).
    """
    b, W, g = check_ising_parameters(biases, couplings, gamma)
    bits = check_bits_tensor("bits", bits, width=b.shape[0])
    index = bits_to_index(bits.to(torch.int64)).to(b.device)
    return _IsingLogProb.apply(b, W, g, index)


def log_partition(biases: Any, couplings: Any, gamma: Any) -> torch.Tensor:
    """log Z = log Tr e^{-H}: float64 scalar Tensor with analytic gradients (d log Z = -Tr ρ dH).
    """
    b, W, g = check_ising_parameters(biases, couplings, gamma)
    return _IsingLogPartition.apply(b, W, g)


def bound_nll(biases: Any, couplings: Any, gamma: Any, bits: Any) -> torch.Tensor:
    """Amin et al.'s upper bound on -log P(v): E(v) + log Z, float64 Tensor[B].

    <v|e^{-H}|v> >= e^{-<v|H|v>} (convexity of exp) and <v|H|v> = E(v) (σˣ has no diagonal), so
    -log P(v) <= E(v) + log Z. Its gradient in b is <σᶻ>_ρ - s(v), in W_ij (i<j)
    <σᶻ_i σᶻ_j>_ρ - s_i s_j: the model minus the data statistics. In Γ it is sum_i <σˣ_i>_ρ >= 0
    at every Γ: the bound always pushes Γ to 0, so Γ cannot be trained through it (Amin et al.
    keep it a hyper-parameter); pass a gamma that does not require grad.
    """
    b, W, g = check_ising_parameters(biases, couplings, gamma)
    bits = check_bits_tensor("bits", bits, width=b.shape[0])
    index = bits_to_index(bits.to(torch.int64)).to(b.device)
    energies = classical_energies(b, W)[index]
    return energies + _IsingLogPartition.apply(b, W, g)


def inverse_cdf_indices(probabilities: torch.Tensor, n: int, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """n exact draws of state indices from ``probabilities`` (float64[N], e.g.
    ``GibbsState.probabilities`` or the first output of :func:`gibbs_diagonal`) by the inverse
    CDF on float64 uniforms from ``generator``: int64[n]. (``qubits.sample_indices`` draws with
    ``torch.multinomial`` instead, batched over rows of a state-vector distribution.)"""
    n = check_int("n", n, minimum=0)
    check_generator(generator)
    cdf = torch.cumsum(probabilities, 0)
    u = torch.rand(n, dtype=torch.float64, generator=generator,
                   device=probabilities.device) * cdf[-1]
    return torch.searchsorted(cdf, u, right=True).clamp_max(probabilities.shape[0] - 1)


def mean_spins(probabilities: torch.Tensor) -> torch.Tensor:
    """<σᶻ_i> = sum_v P(v) s_i(v) from the diagonal P (float64[N]): float64[n]."""
    n = int(probabilities.shape[0]).bit_length() - 1
    return probabilities @ _basis_cpu(n)[1].to(probabilities.device)


def sample(biases: Any, couplings: Any, gamma: Any, n: int, *,
           generator: torch.Generator | None = None, method: str = "auto") -> torch.Tensor:
    """n exact samples v ~ P = diag(ρ): int64 Tensor[n, n_units] (bit vectors, unit 0 first);
    P from :func:`gibbs_diagonal` (``method``)."""
    probabilities, _ = gibbs_diagonal(biases, couplings, gamma, method=method)
    index = inverse_cdf_indices(probabilities, n, generator=generator)
    return _basis_cpu(int(probabilities.shape[0]).bit_length() - 1)[0].to(index.device)[index]
