"""Boltzmann machines as latents: the classical one ("bm", Γ = 0) and the quantum one ("qbm",
a transverse field Γ > 0; Amin et al., PRX 8, 021050 (2018), arXiv:1601.02036).

``BoltzmannLatent`` keeps the latent contract (``dim``, ``sample(n, *, generator)``) and adds
what a trainable distribution needs: named parameters, exact ``log_prob(bits)`` of raw bit
vectors with analytic gradients, ``output_distribution()`` (every state and its probability,
differentiable), ``sample_counts`` (raw bits) and ``bound_loss`` (the bound of Amin et al.).

Notation: n = ``dim`` = ``n_units`` visible units (no hidden units), v in {0, 1}^n, spins
s = 2v - 1; H = -b.σᶻ - sum_{i<j} W_ij σᶻ_i σᶻ_j - Γ sum σˣ_i; P(v) = <v|e^{-H}|v> / Tr e^{-H}
(see :mod:`qlatent.quantum.ising`, which holds the numerics and the size limit).

Parameters (``named_parameters``):
    ``biases`` float64[n]: b.
    ``couplings`` float64[n (n - 1) / 2]: W_ij for i < j in row-major order; the symmetric,
    zero-diagonal W is built from them (``coupling_matrix()``), so W is symmetric by
    construction.
    ``gamma_raw`` float64[] ("qbm" only): Γ = softplus(gamma_raw) > 0, so no optimiser step can
    make Γ negative; "bm" has no Γ parameter (Γ = 0 exactly).

Training: the exact NLL by ``qlatent.train.fit_distribution`` with ``NLL()`` (all
parameters, Γ included), or the bound (``bound_loss``: b and W only; the bound's gradient in Γ is
sum <σˣ> >= 0 at every Γ, so it would only drive Γ to 0; Γ is held fixed, as Amin et al. do).

Normalisation: ``center`` subtracts the exact mean <v_i> = (1 + <σᶻ_i>) / 2 of the current
parameters, ``standardize`` also divides by sqrt(<v_i>(1 - <v_i>)), both recomputed (without
gradient) when the parameters change, like the Born machines.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from qlatent._random import as_generator
from qlatent._validation import check_choice, check_float
from qlatent.latents.base import TrainableLatent
from qlatent.latents.normalize import NORMALIZATIONS
from qlatent.quantum import ising
from qlatent.quantum.qubits import basis_bits

#: name -> transverse field? ("bm": Γ = 0, the classical baseline).
BOLTZMANN_KINDS: dict[str, bool] = {"qbm": True, "bm": False}
#: Standard deviation of the initial biases and couplings (drawn from ``seed``).
INIT_SCALE = 0.1


def check_boltzmann_parameters(*, kind: Any = "qbm", dim: Any = None, n_units: Any = None,
                               gamma: Any = None, normalize: Any = "center") -> tuple:
    """Check a "qbm" / "bm" request cheaply (used by the latent and by ``latents.validate``).

    gamma None means the kind's default: 1.0 for "qbm", 0.0 for "bm".

    Returns:
        (n_units, gamma, normalize).

    Raises:
        ValueError: unknown kind/normalize, n_units missing, above ``ising.MAX_ISING_UNITS`` or
            different from dim, gamma < 0, gamma = 0 for "qbm", gamma != 0 for "bm".
    """
    check_choice("kind", kind, tuple(BOLTZMANN_KINDS))
    check_choice("normalize", normalize, NORMALIZATIONS)
    if n_units is None and dim is None:
        raise ValueError(f"n_units is required for latent {kind!r} (the number of units), "
                         "got None")
    if n_units is not None and dim is not None and n_units != dim:
        raise ValueError(f"n_units and dim must agree for latent {kind!r}, got n_units={n_units}"
                         f", dim={dim}")
    n_units = ising.check_n_units(n_units if n_units is not None else dim)
    if gamma is None:
        gamma = 1.0 if BOLTZMANN_KINDS[kind] else 0.0
    gamma = check_float("gamma", gamma)
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0 (the transverse field Γ), got {gamma}")
    if BOLTZMANN_KINDS[kind] and gamma == 0:
        raise ValueError("gamma must be > 0 for latent 'qbm' (Γ = softplus(gamma_raw)); use "
                         "'bm' for the classical machine (Γ = 0)")
    if not BOLTZMANN_KINDS[kind] and gamma != 0:
        raise ValueError(f"gamma must be 0 for latent 'bm' (the classical machine), got {gamma}; "
                         "use 'qbm' for a transverse field")
    return n_units, gamma, normalize


class BoltzmannLatent(TrainableLatent):
    """A fully visible (quantum) Boltzmann machine over n bits, sampled exactly.

    Args:
        n_units: n (the latent dimension), 1..``ising.MAX_ISING_UNITS``.
        kind: "qbm" (trainable Γ > 0) or "bm" (Γ = 0).
        gamma: initial Γ ("qbm", > 0; default 1.0) or 0 ("bm").
        normalize: "center" (default), "standardize" or "none".
        seed: initial biases and couplings, N(0, ``INIT_SCALE``^2) (int, numpy Generator or None
            for OS entropy).
    """

    def __init__(self, n_units: int, *, kind: str = "qbm", gamma: float | None = None,
                 normalize: str = "center", seed: Any = None) -> None:
        n_units, gamma, normalize = check_boltzmann_parameters(
            kind=kind, n_units=n_units, gamma=gamma, normalize=normalize)
        super().__init__(n_units)
        self.kind, self.normalize = kind, normalize
        rng = as_generator(seed, "seed")
        n_pairs = n_units * (n_units - 1) // 2
        self.biases = nn.Parameter(torch.from_numpy(rng.normal(0.0, INIT_SCALE, n_units)))
        self.couplings = nn.Parameter(torch.from_numpy(rng.normal(0.0, INIT_SCALE, n_pairs)))
        if BOLTZMANN_KINDS[kind]:
            # softplus^{-1}(Γ) = log(e^Γ - 1), written stably.
            raw = gamma + math.log(-math.expm1(-gamma))
            self.gamma_raw = nn.Parameter(torch.tensor(raw, dtype=torch.float64))
        else:
            self.register_buffer("_gamma_zero", torch.zeros((), dtype=torch.float64))
        rows, cols = torch.triu_indices(n_units, n_units, 1)
        self.register_buffer("_rows", rows, persistent=False)
        self.register_buffer("_cols", cols, persistent=False)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def n_units(self) -> int:
        return self.dim

    @property
    def n_states(self) -> int:
        """2^n: the number of outcomes (``fit_distribution`` reads it for MMD)."""
        return 1 << self.dim

    def gamma(self) -> torch.Tensor:
        """Γ: float64 scalar (differentiable for "qbm", the constant 0 for "bm")."""
        if BOLTZMANN_KINDS[self.kind]:
            return nn.functional.softplus(self.gamma_raw)
        return self._gamma_zero

    def coupling_matrix(self) -> torch.Tensor:
        """W: float64[n, n], symmetric with a zero diagonal, differentiable."""
        W = self.couplings.new_zeros(self.dim, self.dim)
        W = W.index_put((self._rows, self._cols), self.couplings)
        return W + W.T

    def _check_finite(self) -> None:
        for name, p in self.named_parameters():
            if not bool(torch.isfinite(p.detach()).all()):
                raise FloatingPointError(f"BoltzmannLatent: parameter {name!r} is not finite")

    def probabilities(self) -> torch.Tensor:
        """P(v) of the current parameters, float64[2^n] in index order, no gradient (by
        ``ising.gibbs_diagonal``, method "auto"; cached until a parameter changes)."""
        self._check_finite()
        with torch.no_grad():
            key = torch.cat([self.biases.detach().reshape(-1), self.couplings.detach().reshape(-1),
                             self.gamma().detach().reshape(1)])
            if self._cache is not None and self._cache[0].shape == key.shape and torch.equal(
                    self._cache[0], key):
                return self._cache[1]
            probs, _ = ising.gibbs_diagonal(self.biases, self.coupling_matrix(), self.gamma())
        self._cache = (key.clone(), probs)
        return probs

    def gibbs_state(self) -> ising.GibbsState:
        """The exact Gibbs state (eigenpairs) of the current parameters (not cached)."""
        self._check_finite()
        return ising.gibbs_state(self.biases, self.coupling_matrix(), self.gamma())

    def log_prob(self, bits: Any) -> torch.Tensor:
        """Exact log P(v) of raw bit vectors: float64 Tensor[B] with analytic gradients.

        Args:
            bits (int or float {0, 1} [B, n]): data wider or narrower than n is a ValueError.
        """
        self._check_finite()
        return ising.log_prob(self.biases, self.coupling_matrix(), self.gamma(), bits)

    def bound_loss(self, bits: Any) -> torch.Tensor:
        """Mean of Amin et al.'s bound E(v) + log Z >= -log P(v) over the rows of ``bits``: a
        float64 scalar whose gradient is (model - data) statistics <σᶻ>, <σᶻσᶻ>; Γ is held
        fixed (the bound cannot train it; see ``ising.bound_nll``)."""
        self._check_finite()
        return ising.bound_nll(self.biases, self.coupling_matrix(), self.gamma().detach(),
                               bits).mean()

    def output_distribution(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(states int64[2^n, n], probs float64[2^n]) of the current parameters, differentiable.
        """
        states = basis_bits(self.dim, device=self.biases.device)
        return states, self.log_prob(states).exp()

    def sample_counts(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n exact raw samples (bit vectors) of the current parameters: int64 Tensor[n, dim]."""
        index = ising.inverse_cdf_indices(self.probabilities(), n, generator=generator)
        return basis_bits(self.dim, device=index.device)[index]

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(<v_i>, <v_i>(1 - <v_i>)) float64[n], <v_i> = (1 + <σᶻ_i>) / 2: the exact moments."""
        mean = (1.0 + ising.mean_spins(self.probabilities())) / 2
        return mean, mean * (1 - mean)

    def extra_repr(self) -> str:
        gamma = float(self.gamma().detach()) if self.device.type != "meta" else "?"
        return f"n_units={self.dim}, kind={self.kind!r}, gamma={gamma}, " \
               f"normalize={self.normalize!r}"
