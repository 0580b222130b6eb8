"""Data sets: the seven-Gaussian ring, synthetic boson and Bernoulli data."""

from qlatent.data.synthetic import BernoulliData, BosonData, SevenGaussians

__all__ = ["BernoulliData", "BosonData", "SevenGaussians"]
