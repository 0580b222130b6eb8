"""The adversarial training loop (WGAN-GP / non-saturating), checkpoints and resume."""

from qlatent.train.checkpoint import CHECKPOINT, check_resumable, load_checkpoint, save_checkpoint
from qlatent.train.config import LOSSES, OPTIMIZERS, PRECISIONS, Config
from qlatent.train.latent import (
    LatentTrainer,
    is_trainable,
    latent_trainer,
    score_function_surrogate,
)
from qlatent.train.loop import FitResult, LossWindow, fit
from qlatent.train.memory import (
    MemberMemory,
    available_memory,
    estimate_member_memory,
    pack_size_that_fits,
)
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

__all__ = ["Adversaries", "CHECKPOINT", "Config", "FitResult", "LOSSES", "LatentTrainer",
           "LossWindow", "OPTIMIZERS", "PRECISIONS", "PackResult", "PackState",
           "RandomStreams", "STREAMS", "StepLosses", "check_resumable", "fit", "fit_pack",
           "gradient_penalty", "interpolate", "is_trainable", "latent_trainer",
           "load_checkpoint", "make_optimizer", "member_checkpoint", "packed_training_step",
           "save_checkpoint", "score_function_surrogate", "stream_seeds", "training_step",
           "MemberMemory", "available_memory", "estimate_member_memory", "pack_size_that_fits"]
