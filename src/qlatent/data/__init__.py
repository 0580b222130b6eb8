"""Data sets: the seven-Gaussian ring, synthetic boson and Bernoulli data."""

from qlatent.data.qm9 import QM9Graphs, graphs_to_smiles, qm9_spec
from qlatent.data.synthetic import BernoulliData, BosonData, SevenGaussians

__all__ = ["BernoulliData", "BosonData", "SevenGaussians", "QM9Graphs", "graphs_to_smiles",
           "qm9_spec"]
