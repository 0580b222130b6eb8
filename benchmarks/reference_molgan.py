"""The QM9 networks as they computed before the fast path (main at d06ae8c), for side-by-side
timing in one process (``benchmarks/pack.py --cases train-qm9``) and as the tests' vectorised
reference (``tests/models/test_molgan_fast.py``).

Same classes, same parameters and random draws; only the arithmetic differs:

* ``ReferenceRGCNCritic``: every layer as Ã-first products ([Ã_1 x | ... | Ã_R x] by a bmm
  over relations stacked on the rows, transposed, one GEMM against [W_1; ...; W_R], a separate
  self GEMM and a degree product for the biases), gate and value as two products;
* ``ReferenceMolGANGenerator``: the Gumbel noise drawn per member and stacked, transformed out
  of place, the logits always divided by the temperature.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from qlatent.models.molgan import MolGANGenerator, RGCNCritic
from qlatent.models.packed import with_member_axis


class ReferenceMolGANGenerator(MolGANGenerator):
    """``MolGANGenerator`` with the relaxation as it was computed before."""

    def _relax(self, logits: torch.Tensor, generators: list[torch.Generator | None]
               ) -> torch.Tensor:
        if logits.dtype != torch.float64:
            logits = logits.float()
        if self.relaxation == "gumbel" and self.training:
            u = torch.stack([torch.rand(logits.shape[1:], generator=g, device=logits.device)
                             for g in generators])
            u = u.clamp(1e-20, 1.0 - 1e-7)
            logits = logits - torch.log(-torch.log(u))
        return torch.softmax(logits / self.temperature, dim=-1)


class ReferenceRGCNCritic(RGCNCritic):
    """``RGCNCritic`` with the forward pass as it was computed before."""

    def forward(self, edges: torch.Tensor | Sequence[torch.Tensor],
                nodes: torch.Tensor | None = None) -> torch.Tensor:
        if nodes is None:
            edges, nodes = edges
        K, n, a, b = self.members, self.n_atoms, self.n_atom_types, self.n_bond_types
        nodes, solo = with_member_axis("nodes", nodes, K, (n, a))
        B = nodes.shape[1]
        edges, _ = with_member_axis("edges", edges, K, (n, n, b))
        R = self.n_relations
        rel = edges[..., 1:]                                       # [K, B, n, n, R]
        adj = rel.permute(0, 1, 4, 2, 3).reshape(K * B, R * n, n)
        degree = rel.sum(3).reshape(K, B * n, R)                   # Σ_j Ã_r[i, j]
        h = None
        for conv, units in zip(self.convs, self.graph_units, strict=True):
            x = nodes if h is None else torch.cat((h, nodes), dim=-1)   # [K, B, n, d]
            d = x.shape[-1]
            ax = (torch.bmm(adj, x.reshape(K * B, n, d)).view(K, B, R, n, d)
                  .transpose(2, 3).reshape(K, B * n, R * d))
            W = conv.weight.view(K, R + 1, units, d)
            c = conv.bias.view(K, R + 1, units)
            out = torch.baddbmm(c[:, :1], x.reshape(K, B * n, d), W[:, 0].transpose(1, 2))
            out = out + torch.bmm(ax, W[:, 1:].transpose(2, 3).reshape(K, R * d, units))
            h = self.act((out + torch.bmm(degree, c[:, 1:])).view(K, B, n, units))
        x = torch.cat((h, nodes), dim=-1)
        g = (torch.sigmoid(self.gate(x)) * self.act(self.value(x))).sum(dim=2)   # [K, B, agg]
        scores = self.dense(self.act(g)).squeeze(-1)                            # [K, B]
        return scores[0] if solo else scores
