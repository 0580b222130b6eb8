"""Latent distributions (torch-facing), sample banks, normalisation and the registry."""

from qlatent.latents.base import LatentDistribution

__all__ = ["LatentDistribution"]
