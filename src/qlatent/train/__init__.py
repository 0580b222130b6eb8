"""Training: the loop skeleton every trainer runs on (``skeleton``), the adversarial engine
(WGAN-GP / non-saturating) for one run or a pack of K (``fit``, ``fit_pack``), checkpoints and
resume; fitting a trainable distribution by likelihood or MMD (``fit_distribution`` with loss
objects); adversarial training of a Born machine (the QGAN of Zoufal et al.); discrete VAEs."""

from qlatent.train.born_gan import BornGANConfig, fit_born_gan, near_uniform_weights
from qlatent.train.checkpoint import CHECKPOINT, check_resumable, load_checkpoint, save_checkpoint
from qlatent.train.config import LOSSES, OPTIMIZERS, PRECISIONS, Config, ConfigBase
from qlatent.train.engine import PackResult, fit, fit_pack, member_checkpoint
from qlatent.train.latent import (
    LatentTrainer,
    is_trainable,
    latent_trainer,
    score_function_surrogate,
)
from qlatent.train.likelihood import (
    KL,
    LBFGS,
    MMD,
    NLL,
    Adam,
    Bound,
    LikelihoodConfig,
    fit_distribution,
)
from qlatent.train.memory import (
    MemberMemory,
    available_memory,
    estimate_member_memory,
    pack_size_that_fits,
)
from qlatent.train.precision import native_bf16
from qlatent.train.skeleton import (
    FitResult,
    LoopConfig,
    LossWindow,
    NonFiniteError,
    Trainer,
)
from qlatent.train.step import (
    Adversaries,
    PackState,
    StepLosses,
    gradient_penalty,
    interpolate,
    make_optimizer,
    training_step,
)
from qlatent.train.streams import STREAMS, RandomStreams, stream_seeds
from qlatent.train.vae import TEMPERATURE, VAEConfig, elbo, fit_vae, relaxed_bernoulli

__all__ = ["Adam", "Adversaries", "BornGANConfig", "Bound", "CHECKPOINT", "Config", "ConfigBase",
           "FitResult", "KL", "LBFGS", "LOSSES", "LatentTrainer", "LikelihoodConfig", "LoopConfig",
           "LossWindow", "MMD", "MemberMemory", "NLL", "NonFiniteError", "OPTIMIZERS",
           "PRECISIONS", "PackResult", "PackState", "RandomStreams", "STREAMS", "StepLosses",
           "TEMPERATURE", "Trainer", "VAEConfig", "available_memory", "check_resumable", "elbo",
           "estimate_member_memory", "fit", "fit_born_gan", "fit_distribution", "fit_pack",
           "fit_vae", "gradient_penalty", "interpolate", "is_trainable", "latent_trainer",
           "load_checkpoint", "make_optimizer", "member_checkpoint", "native_bf16",
           "near_uniform_weights", "pack_size_that_fits", "relaxed_bernoulli", "save_checkpoint",
           "score_function_surrogate", "stream_seeds", "training_step"]
