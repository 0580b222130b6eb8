"""The adversarial training loop (WGAN-GP / non-saturating), checkpoints and resume."""

from qlatent.train.config import LOSSES, OPTIMIZERS, Config
from qlatent.train.loop import FitResult, fit, gradient_penalty, interpolate

__all__ = ["Config", "FitResult", "LOSSES", "OPTIMIZERS", "fit", "gradient_penalty",
           "interpolate"]
