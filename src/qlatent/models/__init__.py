"""Networks only: MLPs and the latent-injected generator trunk (z arrives as a tensor)."""

from qlatent.models.mlp import MLP, LatentInjectedMLP, linear, make_activation
from qlatent.models.molgan import MolGANGenerator, RGCNCritic, decode

__all__ = ["MLP", "LatentInjectedMLP", "linear", "make_activation", "MolGANGenerator",
           "RGCNCritic", "decode"]
