"""Multilayer perceptrons: the generator and critic of the synthetic experiments, and the
latent-injected generator trunk of the paper (also the trunk of the QM9 generator).

Notation: K members of a pack, B batch size, L latent length (``in_dim`` of a generator),
d output length.

Models never see a latent distribution: ``z`` arrives as a tensor (DESIGN.md). Weights are
initialised from an explicit ``torch.Generator`` (``generator=``), never from torch's global
random state, so a model built twice with generators seeded alike is identical.

Every network here is a pack of ``members`` = K independent copies (``qlatent.models.packed``):
inputs ``[K, B, ...]``, outputs ``[K, B, ...]``, member k drawn from ``generator[k]``. The
default K = 1 is the solo model and also takes inputs without the member axis (``[B, ...]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from qlatent._validation import check_choice, check_int
from qlatent.models.packed import GeneratorArg, PackedLinear, check_generators

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


def linear(in_dim: int, out_dim: int, *, bias: bool = True, members: int = 1,
           generator: GeneratorArg = None) -> PackedLinear:
    """A (packed) linear layer initialised like torch's default, from ``generator``.

    Weights and bias are drawn from U(-1/sqrt(in_dim), 1/sqrt(in_dim)) (torch's default for
    ``nn.Linear``), but from the given generator(s) (member k from ``generator[k]``); the
    module is created without touching the global random state. With ``members=1`` it holds
    the parameters of an ``nn.Linear`` (``weight [out_dim, in_dim]``) and is one.
    """
    return PackedLinear(in_dim, out_dim, bias=bias, members=members, generator=generator)


def check_hidden(hidden: Sequence[int]) -> tuple[int, ...]:
    """``hidden`` (a sequence of layer widths, each >= 1) as a tuple of ints."""
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of layer widths, got {hidden!r}")
    return tuple(check_int(f"hidden[{i}]", h, minimum=1) for i, h in enumerate(hidden))


def _check_input(name: str, x: Any, members: int, width: int) -> None:
    """MLP inputs: ``[K, ..., width]`` with at least one batch axis; K = 1 also ``[..., width]``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    if members == 1:
        if x.dim() < 1 or x.shape[-1] != width:
            raise ValueError(f"{name} must have shape [B, {width}] or [K=1, B, {width}], "
                             f"got {list(x.shape)}")
    elif x.dim() < 3 or x.shape[0] != members or x.shape[-1] != width:
        raise ValueError(f"{name} must have shape [K={members}, B, {width}], "
                         f"got {list(x.shape)}")


class MLP(nn.Module):
    """A fully connected network ``in_dim -> hidden... -> out_dim``.

    Args:
        in_dim: input length.
        out_dim: output length.
        hidden: widths of the hidden layers (default two of 256, the ring's networks).
        activation: ``"leaky_relu"`` (slope 0.2), ``"relu"``, ``"tanh"`` or ``"sigmoid"``.
        output_activation: ``None`` (linear output, the default for generators and critics) or
            ``"tanh"``, ``"sigmoid"``, ``"softplus"``.
        members: K, the number of independent copies evaluated at once (default 1: solo).
        generator: the ``torch.Generator`` the weights are drawn from (K = 1), or a sequence
            of K (member k from the k-th, exactly as the solo model built from it).

    Shapes: ``forward(x: Tensor[K, B, in_dim]) -> Tensor[K, B, out_dim]``; for K = 1 also
    ``Tensor[B, in_dim] -> Tensor[B, out_dim]`` (any leading axes, as ``nn.Linear``).
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: Sequence[int] = (256, 256),
                 activation: str = "leaky_relu", output_activation: str | None = None,
                 members: int = 1, generator: GeneratorArg = None) -> None:
        super().__init__()
        self.in_dim = check_int("in_dim", in_dim, minimum=1)
        self.out_dim = check_int("out_dim", out_dim, minimum=1)
        self.hidden = check_hidden(hidden)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.output_activation = check_choice("output_activation", output_activation,
                                              OUTPUT_ACTIVATIONS)
        self.members = check_int("members", members, minimum=1)
        check_generators("generator", generator, self.members)
        layers: list[nn.Module] = []
        width = self.in_dim
        for h in self.hidden:
            layers += [linear(width, h, members=members, generator=generator),
                       make_activation(activation)]
            width = h
        layers.append(linear(width, self.out_dim, members=members, generator=generator))
        if output_activation is not None:
            layers.append(make_activation(output_activation, argname="output_activation"))
        self.net = nn.Sequential(*layers)

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments that fix the architecture (all but members, generator)."""
        return {"in_dim": self.in_dim, "out_dim": self.out_dim, "hidden": self.hidden,
                "activation": self.activation, "output_activation": self.output_activation}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input("x", x, self.members, self.in_dim)
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
        members: K, as for ``MLP``.
        generator: as for ``MLP``.

    Shapes: ``forward(z: Tensor[K, B, L]) -> Tensor[K, B, out_dim]`` (or
    ``Tensor[K, B, hidden[-1]]``); for K = 1 also without the member axis.
    """

    def __init__(self, in_dim: int, out_dim: int | None, *,
                 hidden: Sequence[int] = (64, 176, 288, 400, 512),
                 activation: str = "leaky_relu", output_activation: str | None = None,
                 inject_output: bool = False, members: int = 1,
                 generator: GeneratorArg = None) -> None:
        super().__init__()
        self.in_dim = check_int("in_dim", in_dim, minimum=1)
        self.out_dim = None if out_dim is None else check_int("out_dim", out_dim, minimum=1)
        self.hidden = check_hidden(hidden)
        if not self.hidden:
            raise ValueError("hidden must hold at least one layer width, got ()")
        if any(b < a for a, b in zip(self.hidden, self.hidden[1:], strict=False)):
            raise ValueError(f"hidden must be non-decreasing (Theorem 1), got {self.hidden}")
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.output_activation = check_choice("output_activation", output_activation,
                                              OUTPUT_ACTIVATIONS)
        if output_activation is not None and self.out_dim is None:
            raise ValueError("output_activation needs an output layer (out_dim is None)")
        self.members = check_int("members", members, minimum=1)
        check_generators("generator", generator, self.members)
        self.inject_output = bool(inject_output) and self.out_dim is not None
        widths = [self.in_dim, *self.hidden]
        self.layers = nn.ModuleList(
            linear(a, b, members=members, generator=generator)
            for a, b in zip(widths, widths[1:], strict=False))
        inj = sum(self.hidden) + (self.out_dim if self.inject_output else 0)
        self.inject = linear(self.in_dim, inj, bias=False, members=members, generator=generator)
        self.act = make_activation(activation)
        self.out = None if self.out_dim is None else linear(widths[-1], self.out_dim,
                                                            members=members,
                                                            generator=generator)
        self.out_act = (None if output_activation is None
                        else make_activation(output_activation, argname="output_activation"))
        self._splits = list(self.hidden) + ([self.out_dim] if self.inject_output else [])

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments that fix the architecture (all but members, generator)."""
        return {"in_dim": self.in_dim, "out_dim": self.out_dim, "hidden": self.hidden,
                "activation": self.activation, "output_activation": self.output_activation,
                "inject_output": self.inject_output}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_input("z", z, self.members, self.in_dim)
        injected = self.inject(z).split(self._splits, dim=-1)
        h = z
        for layer, a_z in zip(self.layers, injected, strict=False):
            h = self.act(layer(h) + a_z)
        if self.out is None:
            return h
        h = self.out(h)
        if self.inject_output:
            h = h + injected[-1]
        return h if self.out_act is None else self.out_act(h)
