"""The adversarial training loop (WGAN-GP / non-saturating), checkpoints and resume."""

from qlatent.train.checkpoint import CHECKPOINT, check_resumable, load_checkpoint, save_checkpoint
from qlatent.train.config import LOSSES, OPTIMIZERS, PRECISIONS, Config
from qlatent.train.loop import FitResult, LossWindow, fit
from qlatent.train.pack import (
    PackResult,
    PackState,
    fit_pack,
    member_checkpoint,
    packed_training_step,
)
from qlatent.train.step import (
    Adversaries,
    StepLosses,
    gradient_penalty,
    interpolate,
    make_optimizer,
    training_step,
)
from qlatent.train.streams import STREAMS, RandomStreams, stream_seeds
from qlatent.train.vae import TEMPERATURE, VAEFit, elbo, fit_vae, relaxed_bernoulli

__all__ = ["Adversaries", "CHECKPOINT", "Config", "FitResult", "LOSSES", "LossWindow",
           "OPTIMIZERS", "PRECISIONS", "PackResult", "PackState", "RandomStreams", "STREAMS",
           "StepLosses", "check_resumable", "fit", "fit_pack", "gradient_penalty", "interpolate",
           "load_checkpoint", "make_optimizer", "member_checkpoint", "packed_training_step",
           "save_checkpoint", "stream_seeds", "training_step", "TEMPERATURE", "VAEFit", "elbo",
           "fit_vae", "relaxed_bernoulli"]
