"""Data sets: the seven-Gaussian ring, synthetic boson and Bernoulli data, QM9 graphs, and the
discrete benchmarks of the model zoo (``qlatent.data.discrete``)."""

from qlatent.data import discrete
from qlatent.data.discrete import (
    DiscreteData,
    bars_and_stripes,
    binarized_digits,
    boson_counts,
    cardinality,
    gaussian_mixture,
    is_bars_and_stripes,
    log_normal,
)
from qlatent.data.empirical import EmpiricalData
from qlatent.data.qm9 import QM9Graphs, graphs_to_smiles, qm9_spec
from qlatent.data.synthetic import BernoulliData, BosonData, SevenGaussians

__all__ = ["BernoulliData", "BosonData", "DiscreteData", "EmpiricalData", "SevenGaussians", "QM9Graphs",
           "bars_and_stripes", "binarized_digits", "boson_counts", "cardinality", "discrete",
           "gaussian_mixture", "graphs_to_smiles", "is_bars_and_stripes", "log_normal",
           "qm9_spec"]
