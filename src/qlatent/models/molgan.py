"""MolGAN-style graph generator and relational-GCN critic for small molecules (QM9).

Notation: K members of a pack, B batch size, L latent length, n atom slots (9 for QM9), a atom
types (padding included), b bond types ("no bond" included), R = b - 1 relations (the real bond
types).

A generated molecule is a pair of relaxed one-hot tensors

* ``edges`` (float[B, n, n, b]): symmetric in the two atom axes, diagonal = "no bond";
* ``nodes`` (float[B, n, a]);

the same layout as ``qlatent.data.qm9.QM9Graphs.sample``. Models only see tensors (no RDKit, no
latent distribution); ``decode`` turns them into argmax index graphs for the chemistry layer.

Both networks are packs of ``members`` = K independent copies (``qlatent.models.packed``): a
K-member generator maps ``z float[K, B, L]`` to ``edges float[K, B, n, n, b]`` and
``nodes float[K, B, n, a]``, the critic maps those to ``float[K, B]``. The default K = 1 is
the solo model and also takes and returns tensors without the member axis.

References: De Cao & Kipf, "MolGAN: An implicit generative model for small molecular graphs",
arXiv:1805.11973; Schlichtkrull et al., "Modeling Relational Data with Graph Convolutional
Networks", arXiv:1703.06103 (R-GCN); Li et al., arXiv:1511.05493 (gated graph aggregation);
Bacarreza et al., arXiv:2508.19857, App. E (the latent-injected, widening generator).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import torch
from torch import nn

from qlatent._validation import check_choice, check_float, check_int
from qlatent.models.mlp import (
    ACTIVATIONS,
    MLP,
    LatentInjectedMLP,
    check_hidden,
    linear,
    make_activation,
)
from qlatent.models.packed import (
    GeneratorArg,
    check_generators,
    packed_affine,
    with_member_axis,
)

__all__ = ["MolGANGenerator", "RGCNCritic", "decode", "RELAXATIONS"]

RELAXATIONS = ("softmax", "gumbel")


class _Spec(Protocol):
    n_atoms: int
    n_atom_types: int
    n_bond_types: int


class _SpecTuple(NamedTuple):
    """The three numbers of a graph spec that fix a network's shapes."""

    n_atoms: int
    n_atom_types: int
    n_bond_types: int


def _check_spec(spec: object) -> tuple[int, int, int]:
    try:
        n, a, b = int(spec.n_atoms), int(spec.n_atom_types), int(spec.n_bond_types)
    except AttributeError as exc:
        raise TypeError("spec must have n_atoms, n_atom_types and n_bond_types (e.g. "
                        f"QM9Graphs().spec), got {type(spec).__name__}") from exc
    check_int("spec.n_atoms", n, minimum=2)
    check_int("spec.n_atom_types", a, minimum=2)
    check_int("spec.n_bond_types", b, minimum=2)
    return n, a, b


class MolGANGenerator(nn.Module):
    """Latent vector → relaxed one-hot molecular graph (edges, nodes).

    The trunk maps z to a feature vector h; by default it is the paper's latent-injected
    widening MLP, h_k = act(W_k h_{k-1} + b_k + A_k z) with widths 64, 176, 288, 400, 512 and
    LeakyReLU (Bacarreza et al., App. E); with ``latent_injection=False``, ``hidden=(128, 256,
    512)`` and ``activation="tanh"`` it is MolGAN's original generator. Two linear heads give

    * edge logits for the n(n-1)/2 atom pairs of the upper triangle, × b, mirrored onto the
      lower triangle (so the graph is symmetric by construction), diagonal fixed to "no bond";
    * node logits, n × a.

    Each is relaxed over its last axis: ``softmax(logits / temperature)`` or the Gumbel-softmax
    ``softmax((logits + g) / temperature)``, g ~ Gumbel(0, 1) (Jang et al., arXiv:1611.01144).
    The Gumbel noise is a training device for the critic's input: in eval mode it is off, so
    ``decode`` of an eval-mode output is the argmax of the logits, whatever the relaxation.
    Member k of a pack draws its noise from the k-th of the generators given to ``forward``
    (its edge noise, then its node noise, as the solo model does).

    Args:
        latent_dim: L.
        spec: graph spec (``n_atoms``, ``n_atom_types``, ``n_bond_types``).
        hidden: trunk widths.
        activation: trunk activation (``"leaky_relu"``, ``"relu"``, ``"tanh"``, ``"sigmoid"``).
        latent_injection: inject z at every trunk layer (needs non-decreasing widths).
        relaxation: ``"softmax"`` or ``"gumbel"``.
        temperature: τ > 0 of the relaxation.
        members: K, the number of independent copies evaluated at once (default 1: solo).
        generator: ``torch.Generator`` the weights are drawn from (K = 1), or a sequence of K
            (member k from the k-th, exactly as the solo model built from it).

    Shapes: ``forward(z: float[K, B, L]) -> (edges float[K, B, n, n, b],
    nodes float[K, B, n, a])``; for K = 1 also ``float[B, L] -> (float[B, n, n, b],
    float[B, n, a])``.
    """

    def __init__(self, latent_dim: int, *, spec: _Spec,
                 hidden: Sequence[int] = (64, 176, 288, 400, 512),
                 activation: str = "leaky_relu", latent_injection: bool = True,
                 relaxation: str = "softmax", temperature: float = 1.0,
                 members: int = 1, generator: GeneratorArg = None) -> None:
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)
        self.n_atoms, self.n_atom_types, self.n_bond_types = _check_spec(spec)
        self.hidden = check_hidden(hidden)
        if not self.hidden:
            raise ValueError("hidden must hold at least one layer width, got ()")
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.relaxation = check_choice("relaxation", relaxation, RELAXATIONS)
        self.temperature = check_float("temperature", temperature, minimum=1e-6)
        if not isinstance(latent_injection, bool):
            raise TypeError(f"latent_injection must be a bool, got {latent_injection!r}")
        self.members = K = check_int("members", members, minimum=1)
        check_generators("generator", generator, K)
        self.latent_injection = latent_injection
        width = self.hidden[-1]
        if latent_injection:
            self.trunk = LatentInjectedMLP(self.latent_dim, None, hidden=self.hidden,
                                           activation=activation, members=K,
                                           generator=generator)
        else:
            self.trunk = nn.Sequential(
                MLP(self.latent_dim, width, hidden=self.hidden[:-1], activation=activation,
                    members=K, generator=generator),
                make_activation(activation))
        n, a, b = self.n_atoms, self.n_atom_types, self.n_bond_types
        rows, cols = torch.triu_indices(n, n, offset=1)
        # atom pair (i, j) reads slot pair_index[i, j] of [upper-triangle pairs..., no bond]:
        # mirrored by construction, the diagonal reads the extra "no bond" slot
        pair_index = torch.full((n, n), rows.numel(), dtype=torch.long)
        pair_index[rows, cols] = torch.arange(rows.numel())
        pair_index[cols, rows] = torch.arange(rows.numel())
        self.register_buffer("_pair_index", pair_index, persistent=False)
        no_bond = torch.zeros(b)
        no_bond[0] = 1.0
        self.register_buffer("_no_bond", no_bond, persistent=False)
        self.edge_head = linear(width, rows.numel() * b, members=K, generator=generator)
        self.node_head = linear(width, n * a, members=K, generator=generator)

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments that fix the architecture (all but members, generator)."""
        return {"latent_dim": self.latent_dim, "spec": _SpecTuple(self.n_atoms,
                                                                  self.n_atom_types,
                                                                  self.n_bond_types),
                "hidden": self.hidden, "activation": self.activation,
                "latent_injection": self.latent_injection, "relaxation": self.relaxation,
                "temperature": self.temperature}

    def _logits(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        z, solo = with_member_axis("z", z, self.members, (self.latent_dim,))
        h = self.trunk(z)
        K, B = z.shape[:2]
        edges = self.edge_head(h).view(K, B, -1, self.n_bond_types)
        nodes = self.node_head(h).view(K, B, self.n_atoms, self.n_atom_types)
        return edges, nodes, solo

    def logits(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unrelaxed logits: ``(edges float[K, B, n(n-1)/2, b], nodes float[K, B, n, a])``
        (without the member axis for a solo ``z float[B, L]``)."""
        edges, nodes, solo = self._logits(z)
        return (edges[0], nodes[0]) if solo else (edges, nodes)

    def _relax(self, logits: torch.Tensor, generators: list[torch.Generator | None]
               ) -> torch.Tensor:
        # float32 even under bf16 autocast: bf16 uniforms take ~2k values below 0.996, which
        # caps the Gumbel noise at 5.5 (float32: 16.6) and so drops every category whose logit
        # trails by more than 9.4. float64 stays float64 (the trajectory tests).
        if logits.dtype != torch.float64:
            logits = logits.float()                                # [K, B, ..., categories]
        if self.relaxation == "gumbel" and self.training:
            # member k's noise from its own generator, shaped as its solo draw would be
            # (drawn in place, member by member, and turned into -g = log(-log u) in place:
            # the numbers of torch.rand per member and of the out-of-place formula, bit for bit)
            u = torch.empty(logits.shape, device=logits.device)
            for k, g in enumerate(generators):
                u[k].uniform_(generator=g)
            u = u.clamp_(1e-20, 1.0 - 1e-7).log_().neg_().log_()
            logits = logits - u                         # + Gumbel(0, 1) noise
        if self.temperature != 1.0:
            logits = logits / self.temperature
        return torch.softmax(logits, dim=-1)

    def forward(self, z: torch.Tensor, *, generator: GeneratorArg = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Relaxed graphs.

        Args:
            z: float[K, B, L] (K = 1: also float[B, L]).
            generator: feeds the Gumbel noise: ``None`` (torch's global state), a
                ``torch.Generator`` (K = 1) or a sequence of K (member k draws from the k-th,
                edge noise then node noise, as its solo model).

        Returns:
            ``(edges float[K, B, n, n, b], nodes float[K, B, n, a])``, without the member
            axis when ``z`` came without it.
        """
        generators = check_generators("generator", generator, self.members)
        edge_logits, node_logits, solo = self._logits(z)
        K, B = edge_logits.shape[:2]
        upper = self._relax(edge_logits, generators)                # [K, B, n(n-1)/2, b]
        no_bond = self._no_bond.to(upper.dtype).expand(K, B, 1, self.n_bond_types)
        edges = torch.cat((upper, no_bond), dim=2)[:, :, self._pair_index]   # [K, B, n, n, b]
        nodes = self._relax(node_logits, generators)
        return (edges[0], nodes[0]) if solo else (edges, nodes)

    def extra_repr(self) -> str:
        return (f"latent_dim={self.latent_dim}, n_atoms={self.n_atoms}, "
                f"relaxation={self.relaxation!r}, temperature={self.temperature}")


class RGCNCritic(nn.Module):
    """MolGAN's critic: relational graph convolutions, gated aggregation, dense head.

    Graph convolution layer ℓ, with node features h (h_0 = nodes) and the annotations
    x_ℓ = [h_{ℓ-1}, nodes]:

        h_ℓ = act( Σ_{r=1..R} Ã_r (x_ℓ W_r + c_r)  +  x_ℓ W_0 + c_0 ),

    Ã_r the r-th bond-type channel of ``edges`` (the "no bond" channel is skipped). With the
    identity in place of the "no bond" channel (A_0 = I, ``_self_adjacency``) the self term is
    relation 0 and a layer is ONE sum Σ_s A_s (x W_sᵀ + c_s): no Python loop over relations.
    It is computed without concatenating [h, nodes]: the atom-type and bias part of every
    layer from one shared product A [nodes | 1], the h part as one GEMM and one batched
    product with the adjacency, in the cheaper order (``_relational_conv``). (The weights of
    one layer live in one ``Linear`` of width (R + 1)·units, relation blocks in order.)
    Gated aggregation: g = Σ_i σ(x_i U + u) ⊙ act(x_i V + v), x_i = [h_i, nodes_i];
    then a dense head and a linear scalar output. No normalisation layers (WGAN-GP forbids
    batch coupling).

    Args:
        spec: graph spec.
        graph_units: widths of the R-GCN layers (MolGAN: 128, 64).
        aggregation_units: width of the aggregated graph vector (MolGAN: 128).
        dense_units: widths of the dense head (MolGAN: 128, 64).
        activation: ``"tanh"`` (MolGAN) or another of ``ACTIVATIONS``.
        members: K, the number of independent copies evaluated at once (default 1: solo).
        generator: ``torch.Generator`` the weights are drawn from (K = 1), or a sequence of K
            (member k from the k-th, exactly as the solo model built from it).

    Shapes: ``forward((edges float[K, B, n, n, b], nodes float[K, B, n, a])) -> float[K, B]``;
    for K = 1 also ``(float[B, n, n, b], float[B, n, a]) -> float[B]``; also
    ``forward(edges, nodes)``.
    """

    def __init__(self, *, spec: _Spec, graph_units: Sequence[int] = (128, 64),
                 aggregation_units: int = 128, dense_units: Sequence[int] = (128, 64),
                 activation: str = "tanh", members: int = 1,
                 generator: GeneratorArg = None) -> None:
        super().__init__()
        self.n_atoms, self.n_atom_types, self.n_bond_types = _check_spec(spec)
        self.graph_units = check_hidden(graph_units)
        if not self.graph_units:
            raise ValueError("graph_units must hold at least one layer width, got ()")
        self.aggregation_units = check_int("aggregation_units", aggregation_units, minimum=1)
        self.dense_units = check_hidden(dense_units)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.members = K = check_int("members", members, minimum=1)
        check_generators("generator", generator, K)
        a, R = self.n_atom_types, self.n_bond_types - 1
        self.n_relations = R
        self.convs = nn.ModuleList()
        width = 0
        for units in self.graph_units:
            self.convs.append(linear(width + a, (R + 1) * units, members=K, generator=generator))
            width = units
        agg_in = width + a
        self.gate = linear(agg_in, self.aggregation_units, members=K, generator=generator)
        self.value = linear(agg_in, self.aggregation_units, members=K, generator=generator)
        self.dense = MLP(self.aggregation_units, 1, hidden=self.dense_units,
                         activation=activation, members=K, generator=generator)
        self.act = make_activation(activation)

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments that fix the architecture (all but members, generator)."""
        return {"spec": _SpecTuple(self.n_atoms, self.n_atom_types, self.n_bond_types),
                "graph_units": self.graph_units, "aggregation_units": self.aggregation_units,
                "dense_units": self.dense_units, "activation": self.activation}

    def forward(self, edges: torch.Tensor | Sequence[torch.Tensor],
                nodes: torch.Tensor | None = None) -> torch.Tensor:
        if nodes is None:
            if not isinstance(edges, (tuple, list)) or len(edges) != 2:
                raise TypeError("RGCNCritic takes (edges, nodes) or a tuple (edges, nodes)")
            edges, nodes = edges
        K, n, a, b = self.members, self.n_atoms, self.n_atom_types, self.n_bond_types
        nodes, solo = with_member_axis("nodes", nodes, K, (n, a))
        B = nodes.shape[1]
        edges, _ = with_member_axis("edges", edges, K, (n, n, b))
        if edges.shape[:2] != (K, B):
            raise ValueError(f"edges must have shape [{K}, {B}, {n}, {n}, {b}] (as nodes), "
                             f"got {list(edges.shape)}")
        adjacency = _self_adjacency(edges)                          # [K*B, n, n*b]
        by_relation = (adjacency.view(K * B, n, n, b).transpose(2, 3)
                       .reshape(K * B, n * b, n))                   # [K*B, n*b, n]
        # every layer's atom-type and bias part reads A [nodes | 1], computed once
        nodes1 = torch.cat((nodes, nodes.new_ones(K, B, n, 1)), dim=-1).view(K * B, n, a + 1)
        z = torch.bmm(by_relation, nodes1).view(K, B * n, b * (a + 1))
        h = None
        for conv, units in zip(self.convs, self.graph_units, strict=True):
            h = self.act(_relational_conv(conv, units, h, z, adjacency, by_relation))
        x = torch.cat((h, nodes), dim=-1)                          # [K, B, n, units + a]
        gate, value = _gate_value(self.gate, self.value, x).split(self.aggregation_units, -1)
        g = (torch.sigmoid(gate) * self.act(value)).sum(dim=2)                  # [K, B, agg]
        scores = self.dense(self.act(g)).squeeze(-1)                            # [K, B]
        return scores[0] if solo else scores


def _self_adjacency(edges: torch.Tensor) -> torch.Tensor:
    """``edges float[K, B, n, n, b]`` → ``A float[K·B, n, n·b]`` with A[i, (j, s)] = Ã_s[i, j]
    for the relations s ≥ 1 and the identity δ_ij in place of the "no bond" channel s = 0.

    One ``addcmul``, edges·[0, 1, ..., 1] + δ_ij·[1, 0, ..., 0], exact (edges·1 and δ + 0
    round nothing); its gradient reaches ``edges[..., 1:]`` only.
    """
    K, B, n, _, b = edges.shape
    keep = torch.ones(b, dtype=edges.dtype, device=edges.device)
    keep[0] = 0.0
    eye = torch.zeros(n, n, b, dtype=edges.dtype, device=edges.device)
    eye[..., 0] = torch.eye(n, dtype=edges.dtype, device=edges.device)
    return torch.addcmul(eye, edges, keep).view(K * B, n, n * b)


def _members_bmm(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    # [K, M, k] @ [K, k, N]; one member through mm (a one-matrix bmm is slower)
    return torch.mm(x[0], w[0]).unsqueeze(0) if x.shape[0] == 1 else torch.bmm(x, w)


def _relational_conv(conv: nn.Module, units: int, h: torch.Tensor | None, z: torch.Tensor,
                     adjacency: torch.Tensor, by_relation: torch.Tensor) -> torch.Tensor:
    """One R-GCN layer before its activation, Σ_{s=0..R} Σ_j A_s[i, j] (x_j W_sᵀ + c_s), for
    x = [h, nodes] (the first layer: x = nodes, ``h=None``); returns ``float[K, B, n, units]``.

    A is ``_self_adjacency`` (A_0 the identity, so s = 0 is the self term x_i W_0ᵀ + c_0),
    ``by_relation`` the same numbers ordered ``[K·B, (i, s), j]``, and ``z`` = A [nodes | 1]
    in that order, ``float[K, B·n, b·(a + 1)]``, shared by every layer. ``conv`` holds the
    b = R + 1 blocks, ``weight [K, b·units, d_h + a]``, ``bias [K, b·units]``. The sum splits:

    * atom types and biases: z [W_s[:, nodes] | c_s]ᵀ stacked over s, one small GEMM (the
      column of ones carries the degrees Σ_j A_s[i, j] to the biases);
    * h (d_h wide), contracted in the cheaper order: d_h ≥ units, weights first, y_s = h W_sᵀ
      laid out ``[K·B, (j, s), units]`` as the GEMM leaves it, then A y (no copy, no
      transpose); d_h < units, adjacency first, [A_0 h | ... | A_R h] then one GEMM.

    Splitting h from the atom types leaves out the concatenation [h, nodes] and keeps the
    products' widths those of h (128, 64: the sizes BLAS blocks best).
    """
    K, Bn, _ = z.shape
    KB, n, nb = adjacency.shape
    b, a1 = nb // n, z.shape[-1] // (nb // n)
    d = conv.weight.shape[-1]
    d_h = d - (a1 - 1)
    weight = conv.weight.view(K, b, units, d)
    blocks = torch.cat((weight[..., d_h:], conv.bias.view(K, b, units, 1)), dim=-1)
    out = _members_bmm(z, blocks.transpose(2, 3).reshape(K, b * a1, units))    # [K, B*n, units]
    if h is None:
        return out.view(K, KB // K, n, units)
    w_h = weight[..., :d_h]                                        # [K, b, units, d_h]
    if d_h >= units:
        w_h = w_h.reshape(b * units, d_h) if K == 1 else w_h.reshape(K, b * units, d_h)
        y = packed_affine(h, w_h, None, K).view(KB, nb, units)
        out = torch.baddbmm(out.view(KB, n, units), adjacency, y)
    else:
        zh = torch.bmm(by_relation, h.reshape(KB, n, d_h)).view(K, Bn, b * d_h)
        out = out + _members_bmm(zh, w_h.transpose(2, 3).reshape(K, b * d_h, units))
    return out.view(K, KB // K, n, units)


def _gate_value(gate: nn.Module, value: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``[gate(x) | value(x)]`` from one product (the two layers' weights stacked)."""
    weight = torch.cat((gate.weight, value.weight), dim=-2)
    bias = torch.cat((gate.bias, value.bias), dim=-1)
    return packed_affine(x, weight, bias, gate.members)


def decode(edges: torch.Tensor, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax graphs from (relaxed) one-hot tensors.

    Args:
        edges: float[B, n, n, b]; only the upper triangle is read (mirrored, diagonal 0).
        nodes: float[B, n, a].

    Returns:
        ``(x int64[B, n], a int64[B, n, n])``: atom and bond type indices, ``a`` symmetric with
        a zero diagonal.
    """
    if not isinstance(edges, torch.Tensor) or not isinstance(nodes, torch.Tensor):
        raise TypeError("edges and nodes must be tensors")
    if nodes.dim() != 3 or edges.dim() != 4 or edges.shape[:3] != (nodes.shape[0],
                                                                     nodes.shape[1],
                                                                     nodes.shape[1]):
        raise ValueError(f"expected edges [B, n, n, b] and nodes [B, n, a], got "
                         f"{list(edges.shape)} and {list(nodes.shape)}")
    x = nodes.argmax(dim=-1)
    a = edges.argmax(dim=-1).triu(diagonal=1)
    return x, a + a.transpose(1, 2)

