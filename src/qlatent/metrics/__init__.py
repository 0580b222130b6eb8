"""Functional metrics; each declares ``higher_is_better``."""

from qlatent.metrics.molecules import evaluate_molecules
from qlatent.metrics.synthetic import (
    integer_distance,
    interpolation_rate,
    median_bandwidth,
    mmd,
    modes_covered,
)

__all__ = ["integer_distance", "interpolation_rate", "median_bandwidth", "mmd", "modes_covered",
           "evaluate_molecules"]
