"""Packs: K independent copies of one network evaluated as one batched model.

Notation: K members of the pack, B batch size (per member), ``in``/``out`` layer widths.

A *pack* of K members is a model whose every parameter carries a leading member axis, so one
batched matrix product (``torch.baddbmm``) evaluates all K members at once. Member k of a pack
computes exactly what the solo model holding member k's weights computes: the members share the
arithmetic, never a number (no reduction crosses the member axis).

Storage convention (the same for every class in ``qlatent.models``):

* K > 1: ``weight float[K, out, in]``, ``bias float[K, out]``;
* K = 1: the member axis is not stored, ``weight float[out, in]``, ``bias float[out]``, the
  shapes of a plain ``nn.Linear``; so a solo checkpoint (and its optimiser state) loads
  unchanged into a K = 1 model, and a K = 1 model *is* the solo model.

In both cases ``tensor.view(K, -1)`` is the per-member view of a parameter, of its gradient and
of any optimiser state shaped like it (member k is row k). Every model runs one forward code
for all K; only the innermost product of ``PackedLinear`` picks its kernel (``baddbmm`` over
the stacked view for K > 1, torch's fused ``linear`` for K = 1, which is the same product and
cheaper for small layers), and the tests hold the two to round-off of each other.

Inputs and outputs carry the member axis first: a layer maps ``float[K, ..., in]`` to
``float[K, ..., out]``. A K = 1 layer also takes the solo form ``float[..., in]`` (no member
axis), as ``nn.Linear`` does.

Randomness: the weights of member k come from its own ``torch.Generator`` (``generator=`` a
sequence of K generators), drawn in the order the solo model draws them, so member k equals
the solo model built from the same generator. :func:`pack` and :func:`unpack` convert between
K solo models and one pack.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from qlatent._validation import check_int

__all__ = ["PackedLinear", "packed_affine", "pack", "unpack", "member", "members_of",
           "check_generators", "with_member_axis"]

M = TypeVar("M", bound=nn.Module)
GeneratorArg = torch.Generator | Sequence[torch.Generator] | None


def check_generators(name: str, generator: Any, members: int) -> list[torch.Generator | None]:
    """Validate a ``generator=`` argument of a K-member model; return one entry per member.

    Accepted: ``None`` (torch's global random state, every member), a ``torch.Generator``
    (only when ``members == 1``), or a sequence of ``members`` generators (member k draws from
    the k-th).
    """
    if generator is None:
        return [None] * members
    if isinstance(generator, torch.Generator):
        if members != 1:
            raise ValueError(f"{name} must be a sequence of {members} torch.Generators (one per "
                             f"member), got a single torch.Generator for a pack of {members}")
        return [generator]
    if isinstance(generator, (str, bytes)) or not isinstance(generator, Sequence):
        raise TypeError(f"{name} must be a torch.Generator, a sequence of them or None, "
                        f"got {type(generator).__name__}")
    gens = list(generator)
    if len(gens) != members:
        raise ValueError(f"{name} must hold one torch.Generator per member ({members}), "
                         f"got {len(gens)}")
    for i, g in enumerate(gens):
        if not isinstance(g, torch.Generator):
            raise TypeError(f"{name}[{i}] must be a torch.Generator, got {type(g).__name__}")
    return gens


def with_member_axis(name: str, x: Any, members: int, sample: tuple[int, ...]
                     ) -> tuple[torch.Tensor, bool]:
    """Check a model input and give it the member axis.

    Args:
        name: the argument's name, for the error message.
        x: ``float[K, B, *sample]``, or for K = 1 also the solo form ``float[B, *sample]``.
        members: K.
        sample: the shape of one sample.

    Returns:
        ``(x as float[K, B, *sample], solo)``, ``solo`` true when ``x`` came without the member
        axis (the model then returns its output without it too).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    dims = ", ".join(str(d) for d in sample)
    if members == 1 and x.dim() == len(sample) + 1 and tuple(x.shape[1:]) == sample:
        return x.unsqueeze(0), True
    if x.dim() == len(sample) + 2 and x.shape[0] == members and tuple(x.shape[2:]) == sample:
        return x, False
    solo = f"[B, {dims}] or " if members == 1 else ""
    raise ValueError(f"{name} must have shape {solo}[K={members}, B, {dims}], "
                     f"got {list(x.shape)}")


def packed_affine(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                  members: int) -> torch.Tensor:
    """``y_k = x_k W_kᵀ + b_k`` for every member k: what ``PackedLinear`` computes, for
    weights stored as it stores them (``weight [K, out, in]``, ``bias [K, out]``; K = 1:
    ``[out, in]``, ``[out]``) but given as tensors (e.g. two layers' weights stacked).

    Shapes: ``x float[K, ..., in] -> float[K, ..., out]`` (K = 1: also ``float[..., in]``).
    """
    n_out, n_in = weight.shape[-2:]
    if members == 1:
        # the same product through torch's fused linear: for the ring's small layers the
        # critic step (penalty double backward included) costs ~20 % less than with a
        # one-matrix baddbmm (benchmarks/pack.py); tests compare both against each other
        return nn.functional.linear(x, weight, bias)
    x3 = x.reshape(members, -1, n_in)
    w = weight.view(members, n_out, n_in).transpose(1, 2)
    if bias is None:
        y = torch.bmm(x3, w)
    else:
        y = torch.baddbmm(bias.view(members, 1, n_out), x3, w)
    return y.view(*x.shape[:-1], n_out)


class PackedLinear(nn.Linear):
    """K affine maps ``y_k = x_k W_k^T + b_k`` evaluated with one ``torch.baddbmm``.

    A subclass of ``nn.Linear`` (``in_features``, ``out_features``, ``weight``, ``bias``) whose
    parameters carry the member axis when K > 1 (see the module docstring for the storage).

    Weights and biases are drawn from U(-1/sqrt(in), 1/sqrt(in)) (torch's default for
    ``nn.Linear``), member k from ``generator[k]``: weight, then bias, as a solo ``nn.Linear``.

    Args:
        in_features: in.
        out_features: out.
        bias: learn a bias.
        members: K >= 1.
        generator: ``None``, a ``torch.Generator`` (K = 1) or a sequence of K of them.

    Shapes: ``forward(x: float[K, ..., in]) -> float[K, ..., out]``; for K = 1 also
    ``float[..., in] -> float[..., out]``.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 members: int = 1, generator: GeneratorArg = None) -> None:
        nn.Module.__init__(self)  # nn.Linear.__init__ would draw from the global state
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        self.members = check_int("members", members, minimum=1)
        gens = check_generators("generator", generator, self.members)
        lead = () if self.members == 1 else (self.members,)
        self.weight = nn.Parameter(torch.empty(*lead, out_features, in_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(*lead, out_features))
        else:
            self.register_parameter("bias", None)
        bound = 1.0 / math.sqrt(in_features)
        with torch.no_grad():
            w = self.weight.view(self.members, out_features, in_features)
            b = None if self.bias is None else self.bias.view(self.members, out_features)
            for k, g in enumerate(gens):
                nn.init.uniform_(w[k], -bound, bound, generator=g)
                if b is not None:
                    nn.init.uniform_(b[k], -bound, bound, generator=g)

    def reset_parameters(self) -> None:  # nn.Linear's would draw from the global state
        raise NotImplementedError("PackedLinear draws its weights in __init__ from generator=")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        K, n_in = self.members, self.in_features
        if x.shape[-1:] != (n_in,):
            raise ValueError(f"input must have shape [K, ..., {n_in}], got {list(x.shape)}")
        if K > 1 and (x.dim() < 2 or x.shape[0] != K):
            raise ValueError(f"input must have the member axis first, [K={K}, ..., {n_in}], "
                             f"got {list(x.shape)}")
        return packed_affine(x, self.weight, self.bias, K)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, members={self.members}")


def members_of(model: nn.Module) -> int:
    """K of a model of ``qlatent.models`` (its ``members`` attribute)."""
    k = getattr(model, "members", None)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise TypeError(f"model must be a network of qlatent.models with a members count, got "
                        f"{type(model).__name__}")
    return k


def _architecture(model: nn.Module) -> dict[str, Any]:
    arch = getattr(model, "architecture", None)
    if not callable(arch):
        raise TypeError(f"models must be networks of qlatent.models (MLP, LatentInjectedMLP, "
                        f"MolGANGenerator, RGCNCritic), got {type(model).__name__}")
    return arch()


def _check_same(models: Sequence[nn.Module]) -> dict[str, Any]:
    first = models[0]
    arch0 = _architecture(first)
    p0 = next(iter(first.parameters()))
    for i, m in enumerate(models[1:], start=1):
        if type(m) is not type(first):
            raise ValueError(f"models[{i}] is a {type(m).__name__}, models[0] a "
                             f"{type(first).__name__}: a pack holds one architecture")
        arch = _architecture(m)
        for key in arch0:
            if arch[key] != arch0[key]:
                raise ValueError(f"models[{i}] differs from models[0] in {key}: "
                                 f"{arch[key]!r} vs {arch0[key]!r}")
        p = next(iter(m.parameters()))
        if (p.dtype, p.device) != (p0.dtype, p0.device):
            raise ValueError(f"models[{i}] is {p.dtype} on {p.device}, models[0] {p0.dtype} on "
                             f"{p0.device}")
        if m.training != first.training:
            raise ValueError(f"models[{i}] is in {'train' if m.training else 'eval'} mode, "
                             f"models[0] in {'train' if first.training else 'eval'} mode")
    return arch0


def _build(model: nn.Module, members: int) -> nn.Module:
    """An uninitialised-in-effect copy of ``model``'s architecture with ``members`` members.

    The throwaway generators keep torch's global random state untouched.
    """
    gens = [torch.Generator().manual_seed(0) for _ in range(members)]
    new = type(model)(**_architecture(model), members=members, generator=gens)
    p = next(iter(model.parameters()))
    return new.to(device=p.device, dtype=p.dtype).train(model.training)


def pack(models: Sequence[M]) -> M:
    """Stack models of one architecture into one pack (member order = list order).

    Args:
        models: networks of one class and architecture (same constructor arguments apart from
            ``generator``), each solo or itself a pack; dtype, device and train/eval mode must
            agree.

    Returns:
        A model of the same class with K = Σ members; member k's parameters are copies of the
        k-th member's (no storage is shared with ``models``).

    Raises:
        ValueError: empty list, or models that differ in class, an architecture argument,
            dtype, device or mode (the message names what differs).
    """
    if isinstance(models, nn.Module) or not isinstance(models, Sequence):
        raise TypeError(f"models must be a sequence of networks, got {type(models).__name__}")
    if len(models) == 0:
        raise ValueError("models must hold at least one network, got an empty sequence")
    _check_same(models)
    counts = [members_of(m) for m in models]
    K = sum(counts)
    packed = _build(models[0], K)
    with torch.no_grad():
        for name, target in packed.named_parameters():
            parts = [dict(m.named_parameters())[name].view(k, -1)
                     for m, k in zip(models, counts, strict=True)]
            target.view(K, -1).copy_(torch.cat(parts))
    return packed


def unpack(packed: M) -> list[M]:
    """The K solo models of a pack (copies; member k is the k-th), each with K = 1.

    ``unpack(pack(models))`` equals ``models`` parameter for parameter.
    """
    K = members_of(packed)
    _architecture(packed)
    solos = [_build(packed, 1) for _ in range(K)]
    params = dict(packed.named_parameters())
    with torch.no_grad():
        for k, solo in enumerate(solos):
            for name, target in solo.named_parameters():
                target.view(1, -1).copy_(params[name].view(K, -1)[k:k + 1])
    return solos


def member(packed: M, k: int) -> M:
    """Member ``k`` of a pack as a solo model (a copy with K = 1, on the pack's device and in
    its mode): ``unpack(packed)[k]`` without copying the other members."""
    K = members_of(packed)
    k = check_int("k", k, minimum=0)
    if k >= K:
        raise ValueError(f"k must be below the pack's size {K}, got {k}")
    _architecture(packed)
    solo = _build(packed, 1)
    params = dict(packed.named_parameters())
    with torch.no_grad():
        for name, target in solo.named_parameters():
            target.view(1, -1).copy_(params[name].view(K, -1)[k:k + 1])
    return solo
