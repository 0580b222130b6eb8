"""Networks only: MLPs, the latent-injected generator trunk, the MolGAN networks, the patch
quantum generator and the bit generator of the classical discrete GAN (z arrives as a tensor).

The classical networks are packs of ``members`` = K independent copies (default 1, solo;
``QuantumGenerator`` and ``BitGenerator`` are solo only):
inputs ``[K, B, ...]``, one batched matrix product per layer; ``pack``/``unpack`` convert K solo
models to one pack and back (``qlatent.models.packed``).
"""

from qlatent.models.bits import BitGenerator
from qlatent.models.mlp import MLP, LatentInjectedMLP, linear, make_activation
from qlatent.models.molgan import MolGANGenerator, RGCNCritic, decode
from qlatent.models.packed import PackedLinear, pack, unpack
from qlatent.models.quantum_generator import QuantumGenerator
from qlatent.models.vae import VAE_MAX_LATENT, DiscreteVAE

__all__ = ["BitGenerator", "MLP", "DiscreteVAE", "LatentInjectedMLP", "linear", "make_activation",
           "MolGANGenerator", "RGCNCritic", "VAE_MAX_LATENT", "decode", "PackedLinear",
           "QuantumGenerator", "pack",
           "unpack"]
