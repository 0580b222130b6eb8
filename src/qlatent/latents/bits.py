"""Classical trainable distributions over bit strings: the model zoo's baselines.

Both keep the trainable-latent contract of ``BornLatent``: ``dim``, ``sample(n, *, generator)``
(normalised float32 z), ``sample_counts`` (raw bits, int64), ``log_prob(bits)`` (exact,
differentiable, float64), ``nn.Parameter``s, and ``output_distribution()`` over all 2^n strings
for small n; so ``qlatent.train.likelihood.fit_distribution`` fits them (exact NLL, or MMD).

* ``BernoulliFitLatent`` ("bernoulli_fit"): independent bits, P(x) = prod_j p_j^x_j
  (1 - p_j)^(1 - x_j), p_j = sigmoid(θ_j). Its maximum-likelihood fit has a closed form,
  p_j = the data's mean of bit j (``fit_closed_form``).
* ``MADELatent`` ("made"): the masked autoencoder for distribution estimation of Germain et al.
  (ICML 2015, arXiv:1502.03509): P(x) = prod_j P(x_j | x_<j), each conditional a Bernoulli
  whose logit is output j of an MLP whose weight masks cut every path from inputs j, j+1, ...
  to output j.

Notation: n = ``dim`` bits, x in {0, 1}^n (bit j is column j), θ the parameters.
Normalisation uses the exact mean (and standard deviation) of each bit under the current θ,
without gradient, recomputed at every ``sample`` as ``BornLatent`` does: p_j (and
sqrt(p_j (1 - p_j))) for the Bernoulli model; for MADE the marginals of the whole distribution,
which needs n <= ``BITS_EXACT_MAX`` unless ``normalize="none"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from qlatent._random import as_seed_sequence, torch_generator
from qlatent._validation import (
    check_batch_memory,
    check_bits_tensor,
    check_choice,
    check_cost,
    check_float,
    check_int,
)
from qlatent.latents.base import TrainableLatent
from qlatent.latents.normalize import NORMALIZATIONS
from qlatent.quantum.qubits import basis_bits

#: output_distribution (and MADE's exact normalisation) enumerate the 2^n strings up to this n.
BITS_EXACT_MAX = 16
#: A made latent whose weights and masks would take more bytes than this is refused unless
#: given a larger ``max_bytes`` (16 bytes per weight: float64 weight and mask).
MADE_MAX_BYTES = float(2**30)
#: ``log_prob`` refuses a batch whose working memory would exceed this (``max_bytes``).
LOG_PROB_MAX_BYTES = float(2**32)
#: MADE's default hidden layer widths.
MADE_HIDDEN_SIZES: tuple[int, ...] = (64,)


class _BitLatent(TrainableLatent):
    """Shared part: checks, exact distribution, sampling (normalisation: ``moments``)."""

    def __init__(self, dim: int, normalize: str) -> None:
        super().__init__(dim)
        self.normalize = check_choice("normalize", normalize, NORMALIZATIONS)

    @property
    def n_states(self) -> int:
        """2^n: the size of the sample space (``fit_distribution`` reads it)."""
        return 2**self.dim

    def log_prob(self, bits: Any, *, max_bytes: float = LOG_PROB_MAX_BYTES) -> torch.Tensor:
        """Exact log P_θ(x) of raw bit strings: float64 Tensor[B], differentiable in θ.

        Args:
            bits (0/1 tensor or array [B, dim]).
            max_bytes: the most working memory accepted (``_row_bytes`` per row: the float64
                copy and the network's activations); a larger batch is refused before any copy.
        """
        check_batch_memory(bits, self._row_bytes(), max_bytes)
        bits = check_bits_tensor("bits", bits, width=self.dim)
        return self._log_prob(bits.to(device=self.device, dtype=torch.float64))

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _row_bytes(self) -> float:
        """Working memory of ``log_prob`` per row: float64 copies of the row (3 dim values)."""
        return 24.0 * self.dim

    def output_distribution(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(states int64[2^n, n], probs float64[2^n]) under the current θ (n <= BITS_EXACT_MAX),
        states in the order of ``quantum.qubits.basis_bits`` (string x = the bits of x, most
        significant first); differentiable in θ."""
        if self.dim > BITS_EXACT_MAX:
            raise ValueError(f"output_distribution enumerates 2^dim strings: dim must be <= "
                             f"{BITS_EXACT_MAX}, got {self.dim}")
        states = basis_bits(self.dim, device=self.device)
        return states, self._log_prob(states.to(torch.float64)).exp()

    def marginals(self) -> torch.Tensor:
        """float64[n]: the exact P_θ(x_j = 1) (no gradient)."""
        raise NotImplementedError

    def sample_counts(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact raw samples x ~ P_θ: int64 Tensor[n, dim] of 0/1 (no gradient).

        The randomness is ``torch.rand(n, dim, generator=generator)`` (uniforms u, drawn first)
        and bit j is 1 when u_j < P(x_j = 1 | x_<j): a seeded generator gives identical bits.
        """
        n = check_int("n", n, minimum=0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        u = torch.rand(n, self.dim, generator=generator, device=self.device,
                       dtype=torch.float64)
        with torch.no_grad():
            return self._draw(u).to(torch.long)

    def _draw(self, u: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(p_j, p_j (1 - p_j)) float64[n]: the exact mean and variance of each bit."""
        p = self.marginals()
        return p, p * (1 - p)


class BernoulliFitLatent(_BitLatent):
    """Independent Bernoulli bits with trainable probabilities p_j = sigmoid(θ_j).

    log P_θ(x) = sum_j [x_j log p_j + (1 - x_j) log(1 - p_j)]. Starts at p_j = 1/2 (θ = 0).

    Args:
        dim: n bits.
        normalize: "center" (default: subtract p_j), "standardize" (also divide by
            sqrt(p_j (1 - p_j))) or "none" (raw bits).
        seed: accepted for the registry's uniform signature; the start is deterministic.
    """

    def __init__(self, dim: int, *, normalize: str = "center", seed: Any = None) -> None:
        super().__init__(dim, normalize)
        self.logits = nn.Parameter(torch.zeros(self.dim, dtype=torch.float64))

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(
            self.logits.expand_as(x), x, reduction="none").sum(1)

    def marginals(self) -> torch.Tensor:
        return torch.sigmoid(self.logits.detach())

    def _draw(self, u: torch.Tensor) -> torch.Tensor:
        return u < torch.sigmoid(self.logits)

    @torch.no_grad()
    def fit_closed_form(self, data: Any, *, clip: float = 1e-6) -> BernoulliFitLatent:
        """Set θ to the maximum-likelihood fit, in place: p_j = mean of bit j over ``data``,
        clipped to [clip, 1 - clip] (a bit never or always on has its optimum at θ = ∓∞).

        Args:
            data (0/1 [N, dim]), N >= 1; clip: in (0, 1/2).

        Returns:
            self.
        """
        clip = check_float("clip", clip, minimum=0.0, maximum=0.5)
        if not 0 < clip < 0.5:
            raise ValueError(f"clip must be in (0, 0.5), got {clip}")
        x = check_bits_tensor("data", data, width=self.dim, min_rows=1)
        x = x.to(device=self.device, dtype=torch.float64)
        p = x.mean(0).clamp(clip, 1 - clip)
        self.logits.copy_(torch.log(p) - torch.log1p(-p))
        return self

    def extra_repr(self) -> str:
        return f"dim={self.dim}, normalize={self.normalize!r}"


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask (a buffer)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor) -> None:
        super().__init__(in_features, out_features, dtype=torch.float64)
        self.register_buffer("mask", mask.to(torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


def made_masks(dim: int, hidden_sizes: tuple[int, ...]) -> list[torch.Tensor]:
    """The MADE masks (Germain et al. 2015, Sec. 4) for the natural order x_1, ..., x_n.

    Input j (1-based) has degree j; hidden unit k of every layer has degree
    m(k) = (k mod (n - 1)) + 1 in 1..n-1 (assigned cyclically, so every degree is used while
    the layer has >= n - 1 units). A hidden unit of degree m sees the units of the layer below
    with degree <= m (inputs: j <= m); output j sees the last hidden units with degree < j. So
    output j depends only on x_1..x_{j-1}, and output 1 on nothing (its bias).

    Returns:
        One float mask [out, in] per layer (len(hidden_sizes) + 1 of them).
    """
    degrees = [torch.arange(1, dim + 1)]
    for size in hidden_sizes:
        degrees.append(torch.arange(size) % max(dim - 1, 1) + 1)
    masks = [(d_out[:, None] >= d_in[None, :]).to(torch.float64)
             for d_in, d_out in zip(degrees[:-1], degrees[1:], strict=True)]
    masks.append((degrees[0][:, None] > degrees[-1][None, :]).to(torch.float64))
    return masks


class MADELatent(_BitLatent):
    """A small MADE over n bits: P(x) = prod_j sigmoid(±l_j(x_<j)), exact and normalised.

    The network: masked linear layers of ``hidden_sizes`` with ReLU, then a masked linear layer
    to n logits l_1..l_n (masks from ``made_masks``); log P(x) = sum_j [x_j log σ(l_j) +
    (1 - x_j) log σ(-l_j)]. Sampling runs n passes, bit j drawn from σ(l_j) given the bits
    already drawn. Parameters are float64, initialised as ``nn.Linear`` does (uniform in
    ±1/sqrt(fan_in)) from ``seed``.

    Args:
        dim: n bits (>= 2).
        hidden_sizes: widths of the hidden layers (each >= 1; default (64,)).
        normalize: "center" (default), "standardize" or "none"; the first two need the exact
            marginals, so dim <= ``BITS_EXACT_MAX`` (use "none" beyond).
        seed: the initial weights (int, SeedSequence, numpy Generator or None for OS entropy).
        max_bytes: the most memory the weights and masks may take (16 bytes per weight;
            default ``MADE_MAX_BYTES``, 1 GiB); a larger network is refused before allocating.
    """

    def __init__(self, dim: int, *, hidden_sizes: Any = MADE_HIDDEN_SIZES,
                 normalize: str = "center", seed: Any = None,
                 max_bytes: float = MADE_MAX_BYTES) -> None:
        dim, hidden_sizes, normalize = check_made_parameters(
            dim=dim, hidden_sizes=hidden_sizes, normalize=normalize, max_bytes=max_bytes)
        super().__init__(dim, normalize)
        self.hidden_sizes = hidden_sizes
        sizes = (dim, *hidden_sizes, dim)
        masks = made_masks(dim, hidden_sizes)
        self.layers = nn.ModuleList(MaskedLinear(a, b, m) for a, b, m in
                                    zip(sizes[:-1], sizes[1:], masks, strict=True))
        # The whole first 64-bit word, not seed_int: the committed zoo MADE cells were
        # initialised from it, and reruns must reproduce them.
        g = torch_generator(int(as_seed_sequence(seed, "seed").generate_state(1, np.uint64)[0]))
        with torch.no_grad():
            for layer in self.layers:
                bound = 1.0 / np.sqrt(layer.in_features)
                for p in (layer.weight, layer.bias):
                    p.copy_((torch.rand(p.shape, generator=g, dtype=torch.float64) * 2 - 1)
                            * bound)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """float64[B, n]: l_j(x_<j), the logit of P(x_j = 1 | x_<j)."""
        h = x
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h)

    def _row_bytes(self) -> float:
        return 8.0 * (3 * self.dim + 2 * sum(self.hidden_sizes))

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(self.logits(x), x, reduction="none").sum(1)

    def marginals(self) -> torch.Tensor:
        with torch.no_grad():
            states, probs = self.output_distribution()
            return probs @ states.to(torch.float64)

    def _draw(self, u: torch.Tensor) -> torch.Tensor:
        x = torch.zeros_like(u)
        for j in range(self.dim):
            x[:, j] = (u[:, j] < torch.sigmoid(self.logits(x)[:, j])).to(x.dtype)
        return x

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, hidden_sizes={self.hidden_sizes}, "
                f"normalize={self.normalize!r}")


def check_made_parameters(*, dim: Any, hidden_sizes: Any = MADE_HIDDEN_SIZES,
                          normalize: Any = "center", max_bytes: float = MADE_MAX_BYTES
                          ) -> tuple[int, tuple[int, ...], str]:
    """Check a ``made`` request cheaply (used by ``MADELatent`` and ``latents.validate``).

    Raises:
        ValueError: dim < 2, an empty or non-positive hidden size, an unknown normalize, or an
            exact normalisation asked beyond ``BITS_EXACT_MAX`` bits, weights above
            ``max_bytes``.
    """
    dim = check_int("dim", dim, minimum=2)
    if isinstance(hidden_sizes, (int, np.integer)):
        hidden_sizes = (hidden_sizes,)
    if not isinstance(hidden_sizes, (tuple, list)) or not hidden_sizes:
        raise ValueError(f"hidden_sizes must be one or more layer widths, got {hidden_sizes!r}")
    hidden_sizes = tuple(check_int("hidden_sizes[i]", h, minimum=1) for h in hidden_sizes)
    sizes = (dim, *hidden_sizes, dim)
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    check_cost(f"a made latent of dim={dim}, hidden_sizes={hidden_sizes} ({weights:,} weights)",
               16.0 * weights, max_bytes, unit="bytes", knob="max_bytes")
    check_choice("normalize", normalize, NORMALIZATIONS)
    if normalize != "none" and dim > BITS_EXACT_MAX:
        raise ValueError(f"normalize={normalize!r} needs the exact marginals of a made latent "
                         f"(dim <= {BITS_EXACT_MAX}), got dim={dim}; use normalize='none'")
    return dim, hidden_sizes, normalize
