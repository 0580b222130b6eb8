"""A restricted Boltzmann machine over bit strings ("rbm"): the energy-based baseline of the IQP
circuits at scale (arXiv:2503.02934 compares with it).

Notation: n visible bits v in {0, 1}^n (``dim``), m hidden bits h (``n_hidden``), parameters
W [m, n], b [n] (visible biases), c [m] (hidden biases);
    E(v, h) = -b.v - c.h - h.W v,  P(v) = sum_h exp(-E(v, h)) / Z,
    free energy F(v) = -b.v - sum_j softplus(c_j + W_j.v), so P(v) = exp(-F(v)) / Z;
    summing over v instead, P(h) ∝ exp(c.h + sum_i softplus(b_i + (W^T h)_i)) and
    P(v | h) = prod_i Bernoulli(sigmoid(b_i + (W^T h)_i)).

With m <= ``RBM_EXACT_HIDDEN`` the 2^m hidden states are enumerated: log Z, ``log_prob``, the
marginals and **exact** samples (h from P(h), then v | h) at any n, visible size included
(1,024 bits with 16 hidden units is cheap). Training by persistent contrastive divergence
(Tieleman, ICML 2008) works at any m: ``qlatent.train.rbm.fit_rbm`` with :meth:`gibbs`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from qlatent._random import as_generator, check_generator
from qlatent._validation import check_bits_tensor, check_choice, check_int
from qlatent.latents.base import TrainableLatent
from qlatent.latents.normalize import NORMALIZATIONS

#: Exact log Z, log_prob, moments and samples enumerate the 2^m hidden states up to this m.
RBM_EXACT_HIDDEN = 16


def _hidden_states(m: int, dtype: torch.dtype, device: Any) -> torch.Tensor:
    index = torch.arange(1 << m, device=device)
    return ((index[:, None] >> torch.arange(m - 1, -1, -1, device=device)) & 1).to(dtype)


class RBMLatent(TrainableLatent):
    """A restricted Boltzmann machine (module notation).

    Args:
        dim: n visible bits.
        n_hidden: m hidden bits (exact log_prob / samples / moments need m <= 16).
        normalize: "center" (default), "standardize" or "none".
        seed: initial W ~ N(0, 0.01^2), b = c = 0 (int, numpy Generator or None).
        dtype: torch.float64 (default) or torch.float32.
    """

    def __init__(self, dim: int, *, n_hidden: int = 16, normalize: str = "center",
                 seed: Any = None, dtype: torch.dtype = torch.float64) -> None:
        dim = check_int("dim", dim, minimum=1)
        self.n_hidden = check_int("n_hidden", n_hidden, minimum=1)
        super().__init__(dim)
        self.normalize = check_choice("normalize", normalize, NORMALIZATIONS)
        w = as_generator(seed).normal(0.0, 0.01, size=(self.n_hidden, dim))
        self.weight = nn.Parameter(torch.tensor(w, dtype=dtype))
        self.visible_bias = nn.Parameter(torch.zeros(dim, dtype=dtype))
        self.hidden_bias = nn.Parameter(torch.zeros(self.n_hidden, dtype=dtype))

    @property
    def n_states(self) -> int:
        return 1 << self.dim

    def _check_exact(self, what: str) -> None:
        if self.n_hidden > RBM_EXACT_HIDDEN:
            raise ValueError(f"{what} of an RBM needs n_hidden <= {RBM_EXACT_HIDDEN} (it sums "
                             f"over 2^n_hidden hidden states), got {self.n_hidden}")

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -b.v - sum_j softplus(c_j + W_j.v) for rows v [B, n]: Tensor[B]."""
        v = v.to(self.weight.dtype)
        return -(v @ self.visible_bias) - F.softplus(v @ self.weight.T + self.hidden_bias).sum(1)

    def _hidden_log_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(all hidden states [2^m, m], log of their unnormalised P(h) [2^m])."""
        h = _hidden_states(self.n_hidden, self.weight.dtype, self.weight.device)
        return h, h @ self.hidden_bias + F.softplus(h @ self.weight + self.visible_bias).sum(1)

    def log_partition(self) -> torch.Tensor:
        """log Z by enumerating the hidden states (m <= 16), differentiable."""
        self._check_exact("log Z")
        return torch.logsumexp(self._hidden_log_weights()[1], 0)

    def log_prob(self, bits: Any) -> torch.Tensor:
        """Exact log P(v) = -F(v) - log Z of rows v (0/1 [B, n]): Tensor[B]."""
        v = check_bits_tensor("bits", bits, width=self.dim, min_rows=1)
        return -self.free_energy(v.to(self.weight.device)) - self.log_partition()

    def output_distribution(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(all 2^n strings int64 [2^n, n], P over them) for n <= 16 (MSB first)."""
        if self.dim > 16:
            raise ValueError(f"output_distribution needs dim <= 16, got {self.dim}")
        states = _hidden_states(self.dim, torch.int64, self.weight.device)
        return states, self.log_prob(states).exp()

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(``E[v_i]``, ``E[v_i] (1 - E[v_i])``) float64[n], exactly (sum over ``P(h)``)."""
        self._check_exact("moments")
        with torch.no_grad():
            h, logw = self._hidden_log_weights()
            p_h = torch.softmax(logw, 0)
            mean = (p_h @ torch.sigmoid(h @ self.weight + self.visible_bias)).double()
        return mean, mean * (1 - mean)

    def sample_counts(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n exact samples v: int64 Tensor[n, dim] (h from P(h), then v | h; m <= 16)."""
        n = check_int("n", n, minimum=0)
        check_generator(generator)
        self._check_exact("sample")
        with torch.no_grad():
            h, logw = self._hidden_log_weights()
            if n == 0:
                return torch.zeros(0, self.dim, dtype=torch.int64, device=self.weight.device)
            pick = torch.multinomial(torch.softmax(logw, 0), n, replacement=True,
                                     generator=generator)
            p_v = torch.sigmoid(h[pick] @ self.weight + self.visible_bias)
            u = torch.rand(p_v.shape, generator=generator, dtype=p_v.dtype, device=p_v.device)
            return (u < p_v).to(torch.int64)

    def gibbs(self, v: torch.Tensor, steps: int, *,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """``steps`` rounds of block Gibbs sampling (h | v, then v | h) from rows v [B, n]:
        the new rows, no gradient (PCD's persistent chains)."""
        with torch.no_grad():
            v = v.to(self.weight.dtype)
            for _ in range(steps):
                p_h = torch.sigmoid(v @ self.weight.T + self.hidden_bias)
                h = (torch.rand(p_h.shape, generator=generator, dtype=p_h.dtype,
                                device=p_h.device) < p_h).to(v.dtype)
                p_v = torch.sigmoid(h @ self.weight + self.visible_bias)
                v = (torch.rand(p_v.shape, generator=generator, dtype=p_v.dtype,
                                device=p_v.device) < p_v).to(v.dtype)
        return v

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_hidden={self.n_hidden}, normalize={self.normalize!r}"


def check_rbm_parameters(*, dim: Any, n_hidden: Any = 16, normalize: Any = "center") -> None:
    """Check an RBM request cheaply (``latents.validate``)."""
    check_int("dim", dim, minimum=1)
    check_int("n_hidden", n_hidden, minimum=1)
    check_choice("normalize", normalize, NORMALIZATIONS)


