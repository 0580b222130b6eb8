"""What the two synthetic tasks (``ring``, ``table1``) share: the MLP ``[model]`` table and the
networks it describes."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from qlatent.experiments.tasks.base import Params, param, torch_generator
from qlatent.models import MLP, LatentInjectedMLP
from qlatent.models.mlp import ACTIVATIONS

GENERATORS = ("mlp", "injected")


@dataclass(frozen=True)
class MLPModel(Params):
    """The ``[model]`` table of the synthetic tasks: generator and critic are MLPs."""

    TABLE = "model"

    hidden: tuple[int, ...] = param((256, 256), minimum=1)
    """Widths of the hidden layers (generator and critic alike)."""
    activation: str = param("leaky_relu", choices=ACTIVATIONS)
    """Activation after each hidden layer: ``leaky_relu``, ``relu``, ``tanh`` or ``sigmoid``."""
    generator: str = param("mlp", choices=GENERATORS)
    """``mlp`` (z enters the first layer only) or ``injected`` (z is also concatenated to
    every hidden layer's input, ``qlatent.models.LatentInjectedMLP``)."""


def networks(model: MLPModel, latent_dim: int, out_dim: int,
             seed: int) -> tuple[nn.Module, nn.Module]:
    """Generator (``latent_dim -> out_dim``) and critic (``out_dim -> 1``), weights drawn from
    ``seed``."""
    g = torch_generator(seed)
    kw = {"hidden": model.hidden, "activation": model.activation, "generator": g}
    if model.generator == "injected":
        generator = LatentInjectedMLP(latent_dim, out_dim, **kw)
    else:
        generator = MLP(latent_dim, out_dim, **kw)
    critic = MLP(out_dim, 1, **kw)
    return generator, critic
