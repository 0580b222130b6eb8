"""Decoding a MolGAN generator's output by sampling (Gumbel-max) against an independent path:
the relaxation in training mode, whose argmax is the same draw (no RDKit needed)."""

from types import SimpleNamespace

import pytest
import torch

from qlatent.experiments.tasks.qm9 import _gumbel_max_graphs
from qlatent.models.molgan import MolGANGenerator, decode


@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_gumbel_max_is_the_argmax_of_the_gumbel_relaxation(temperature):
    spec = SimpleNamespace(n_atoms=6, n_atom_types=4, n_bond_types=3)
    G = MolGANGenerator(5, spec=spec, hidden=(16,), relaxation="gumbel",
                        temperature=temperature, generator=torch.Generator().manual_seed(0))
    z = torch.randn(64, 5, generator=torch.Generator().manual_seed(1))
    x, a = _gumbel_max_graphs(G.eval(), z, torch.Generator().manual_seed(2))
    G.train()  # argmax(softmax((l + g) / T)) = argmax(l + g), same noise stream and order
    x_ref, a_ref = decode(*G(z, generator=torch.Generator().manual_seed(2)))
    assert torch.equal(x, x_ref) and torch.equal(a, a_ref)
    assert torch.equal(a, a.transpose(1, 2)) and not a.diagonal(dim1=1, dim2=2).any()
    G.eval()
    x_max, _ = decode(*G(z))
    assert not torch.equal(x, x_max)  # sampling differs from the argmax
