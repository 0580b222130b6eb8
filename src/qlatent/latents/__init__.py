"""Latent distributions (torch-facing), sample banks, normalisation and the registry.

>>> import qlatent as ql
>>> z = ql.latents.get("quantum", dim=16, seed=7).sample(256)   # float32[256, 16], centred
>>> bank = ql.latents.build_bank("quantum", "haar", 8, 200_000, seed=7, n_modes=16)
>>> latent = ql.latents.get("bank", bank=bank, normalize="center")
"""

from qlatent.latents.bank_latent import BankLatent
from qlatent.latents.banks import (
    BANK_KINDS,
    Bank,
    BankError,
    build_bank,
    derive_bank,
    fit_dirichlet_concentration,
    import_bank,
    list_banks,
    load_bank,
)
from qlatent.latents.base import LatentDistribution, TrainableLatent
from qlatent.latents.bits import BernoulliFitLatent, MADELatent
from qlatent.latents.boltzmann import BOLTZMANN_KINDS, BoltzmannLatent
from qlatent.latents.born import BORN_CIRCUITS, BORN_KINDS, BornLatent
from qlatent.latents.classical import BernoulliLatent, GaussianLatent, UniformLatent
from qlatent.latents.iqp_born import IQPBornLatent
from qlatent.latents.multinomial import MultinomialLatent
from qlatent.latents.normalize import NORMALIZATIONS, column_statistics, normalization_constants
from qlatent.latents.qubit_born import QubitBornLatent
from qlatent.latents.rbm import RBMLatent
from qlatent.latents.registry import get, names, parameters, trainable, validate
from qlatent.latents.summary import summarize_bank

__all__ = [
    "BANK_KINDS", "BOLTZMANN_KINDS", "BORN_CIRCUITS", "BORN_KINDS", "NORMALIZATIONS", "Bank",
    "BankError", "BankLatent", "BernoulliFitLatent", "BernoulliLatent", "BoltzmannLatent",
    "BornLatent", "GaussianLatent", "IQPBornLatent", "LatentDistribution", "MADELatent",
    "MultinomialLatent", "QubitBornLatent", "RBMLatent", "TrainableLatent", "UniformLatent",
    "build_bank", "column_statistics",
    "derive_bank", "fit_dirichlet_concentration", "get", "import_bank", "list_banks", "load_bank",
    "names", "normalization_constants", "parameters", "summarize_bank", "trainable", "validate",
]
