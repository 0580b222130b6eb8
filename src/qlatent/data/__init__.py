"""Data sets: the seven-Gaussian ring, synthetic boson and Bernoulli data, QM9 graphs, the
discrete benchmarks of the model zoo (``qlatent.data.discrete``) and 2-D Ising configurations
from a Wolff sampler (``qlatent.data.ising``)."""

from qlatent.data import discrete, ising
from qlatent.data.discrete import (
    DiscreteData,
    bars_and_stripes,
    binarized_digits,
    boson_counts,
    cardinality,
    gaussian_mixture,
    is_bars_and_stripes,
    log_normal,
    sample_bars_and_stripes,
)
from qlatent.data.empirical import EmpiricalData
from qlatent.data.ising import ising_configurations
from qlatent.data.qm9 import QM9Graphs, graphs_to_smiles, qm9_spec
from qlatent.data.synthetic import BernoulliData, BosonData, SevenGaussians

__all__ = ["BernoulliData", "BosonData", "DiscreteData", "EmpiricalData", "SevenGaussians",
           "QM9Graphs", "bars_and_stripes", "binarized_digits", "boson_counts", "cardinality",
           "discrete", "gaussian_mixture", "graphs_to_smiles", "is_bars_and_stripes",
           "ising", "ising_configurations", "log_normal", "qm9_spec", "sample_bars_and_stripes"]
