"""Multilayer perceptrons: the generator and critic of the synthetic experiments, and the
latent-injected generator trunk of the paper (also the trunk of the QM9 generator).

Notation: B batch size, L latent length (``in_dim`` of a generator), d output length.

Models never see a latent distribution: ``z`` arrives as a tensor (DESIGN.md). Weights are
initialised from an explicit ``torch.Generator`` (``generator=``), never from torch's global
random state, so a model built twice with generators seeded alike is identical.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from qlatent._validation import check_choice, check_int

ACTIVATIONS = ("leaky_relu", "relu", "tanh", "sigmoid")
OUTPUT_ACTIVATIONS = (None, "tanh", "sigmoid", "softplus")


def make_activation(name: str, *, argname: str = "activation") -> nn.Module:
    """Return the activation module called ``name`` (one of ``ACTIVATIONS``).

    ``leaky_relu`` uses negative slope 0.2 (the WGAN-GP convention).
    """
    check_choice(argname, name, ACTIVATIONS + ("softplus",))
    return {
        "leaky_relu": lambda: nn.LeakyReLU(0.2),
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "softplus": nn.Softplus,
    }[name]()


def linear(in_dim: int, out_dim: int, *, bias: bool = True,
           generator: torch.Generator | None = None) -> nn.Linear:
    """An ``nn.Linear`` initialised like torch's default, from ``generator``.

    Weights and bias are drawn from U(-1/sqrt(in_dim), 1/sqrt(in_dim)) (torch's default for
    ``nn.Linear``), but from the given generator; the module is created without touching the
    global random state (``torch.nn.utils.skip_init``).
    """
    layer = torch.nn.utils.skip_init(nn.Linear, in_dim, out_dim, bias=bias)
    bound = 1.0 / math.sqrt(in_dim)
    with torch.no_grad():
        nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
        if bias:
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def _check_hidden(hidden: Sequence[int]) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of layer widths, got {hidden!r}")
    return tuple(check_int(f"hidden[{i}]", h, minimum=1) for i, h in enumerate(hidden))


def _check_generator(generator: torch.Generator | None) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}")


class MLP(nn.Module):
    """A fully connected network ``in_dim -> hidden... -> out_dim``.

    Args:
        in_dim: input length.
        out_dim: output length.
        hidden: widths of the hidden layers (default two of 256, the ring's networks).
        activation: ``"leaky_relu"`` (slope 0.2), ``"relu"``, ``"tanh"`` or ``"sigmoid"``.
        output_activation: ``None`` (linear output, the default for generators and critics) or
            ``"tanh"``, ``"sigmoid"``, ``"softplus"``.
        generator: the ``torch.Generator`` the weights are drawn from.

    Shapes: ``forward(x: Tensor[B, in_dim]) -> Tensor[B, out_dim]``.
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: Sequence[int] = (256, 256),
                 activation: str = "leaky_relu", output_activation: str | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_dim = check_int("in_dim", in_dim, minimum=1)
        self.out_dim = check_int("out_dim", out_dim, minimum=1)
        self.hidden = _check_hidden(hidden)
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        _check_generator(generator)
        layers: list[nn.Module] = []
        width = self.in_dim
        for h in self.hidden:
            layers += [linear(width, h, generator=generator), make_activation(activation)]
            width = h
        layers.append(linear(width, self.out_dim, generator=generator))
        if output_activation is not None:
            layers.append(make_activation(output_activation, argname="output_activation"))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LatentInjectedMLP(nn.Module):
    """The paper's generator trunk: z is injected, through its own affine map, at every layer.

    With h_0 = z and widths w_1 <= w_2 <= ... (non-decreasing, as Theorem 1 of
    Bacarreza et al., arXiv:2508.19857, needs for an invertible, Lipschitz generator):

        h_k = act(W_k h_{k-1} + b_k + A_k z),   k = 1..K
        out = W_out h_K + b_out (+ A_out z if ``inject_output``)

    The affine maps of z (``A_k``, without bias: ``b_k`` already is one) are computed in one
    matrix product ``z @ [A_1; ...; A_K]^T`` and split, so injection costs one GEMM.

    Args:
        in_dim: latent length L.
        out_dim: output length d (``None``: no output layer; ``forward`` returns h_K, the trunk
            for a model with its own heads, e.g. the QM9 generator).
        hidden: non-decreasing hidden widths (the paper's QM9 trunk: 64, 176, 288, 400, 512).
        activation: hidden activation, default ``"leaky_relu"`` (slope 0.2).
        output_activation: as for ``MLP``.
        inject_output: also add ``A_out z`` to the output layer.
        generator: the ``torch.Generator`` the weights are drawn from.

    Shapes: ``forward(z: Tensor[B, L]) -> Tensor[B, out_dim]`` (or ``Tensor[B, hidden[-1]]``).
    """

    def __init__(self, in_dim: int, out_dim: int | None, *,
                 hidden: Sequence[int] = (64, 176, 288, 400, 512),
                 activation: str = "leaky_relu", output_activation: str | None = None,
                 inject_output: bool = False, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_dim = check_int("in_dim", in_dim, minimum=1)
        self.out_dim = None if out_dim is None else check_int("out_dim", out_dim, minimum=1)
        self.hidden = _check_hidden(hidden)
        if not self.hidden:
            raise ValueError("hidden must hold at least one layer width, got ()")
        if any(b < a for a, b in zip(self.hidden, self.hidden[1:], strict=False)):
            raise ValueError(f"hidden must be non-decreasing (Theorem 1), got {self.hidden}")
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        if output_activation is not None and self.out_dim is None:
            raise ValueError("output_activation needs an output layer (out_dim is None)")
        _check_generator(generator)
        self.inject_output = bool(inject_output) and self.out_dim is not None
        widths = [self.in_dim, *self.hidden]
        self.layers = nn.ModuleList(
            linear(a, b, generator=generator) for a, b in zip(widths, widths[1:], strict=False))
        inj = sum(self.hidden) + (self.out_dim if self.inject_output else 0)
        self.inject = linear(self.in_dim, inj, bias=False, generator=generator)
        self.act = make_activation(activation)
        self.out = None if self.out_dim is None else linear(widths[-1], self.out_dim,
                                                            generator=generator)
        self.out_act = (None if output_activation is None
                        else make_activation(output_activation, argname="output_activation"))
        self._splits = list(self.hidden) + ([self.out_dim] if self.inject_output else [])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        injected = self.inject(z).split(self._splits, dim=1)
        h = z
        for layer, a_z in zip(self.layers, injected, strict=False):
            h = self.act(torch.addmm(layer.bias, h, layer.weight.t()) + a_z)
        if self.out is None:
            return h
        h = self.out(h)
        if self.inject_output:
            h = h + injected[-1]
        return h if self.out_act is None else self.out_act(h)
