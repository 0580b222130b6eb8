"""Networks only: MLPs and the latent-injected generator trunk (z arrives as a tensor).

Every network is a pack of ``members`` = K independent copies (default 1, the solo model):
inputs ``[K, B, ...]``, one batched matrix product per layer; ``pack``/``unpack`` convert K solo
models to one pack and back (``qlatent.models.packed``).
"""

from qlatent.models.mlp import MLP, LatentInjectedMLP, linear, make_activation
from qlatent.models.molgan import MolGANGenerator, RGCNCritic, decode
from qlatent.models.packed import PackedLinear, pack, unpack
from qlatent.models.vae import VAE_MAX_LATENT, DiscreteVAE

__all__ = ["MLP", "DiscreteVAE", "LatentInjectedMLP", "linear", "make_activation",
           "MolGANGenerator", "RGCNCritic", "VAE_MAX_LATENT", "decode", "PackedLinear", "pack",
           "unpack"]
