"""Functional metrics; each declares its direction once, read through ``direction``.

Every metrics module declares ``HIGHER_IS_BETTER``: the name a metric has in a run's
``metrics.json`` -> ``True`` (higher is better), ``False`` (lower is better) or ``None`` (no
better direction, e.g. logP). ``direction(name)`` is the one place tasks and reports read it.
"""

from collections.abc import Mapping
from types import MappingProxyType

from qlatent.metrics import discrete as _discrete
from qlatent.metrics import fcd as _fcd
from qlatent.metrics import molecules as _molecules
from qlatent.metrics import properties as _properties
from qlatent.metrics import synthetic as _synthetic
from qlatent.metrics.discrete import (
    bits_to_integers,
    empirical_probs,
    exact_mmd,
    generalization_metrics,
    kl_divergence,
    ks_statistic,
    qbas_score,
    relative_entropy,
    total_variation,
    valid_fraction,
)
from qlatent.metrics.molecules import evaluate_molecules
from qlatent.metrics.synthetic import (
    integer_distance,
    interpolation_rate,
    median_bandwidth,
    mmd,
    modes_covered,
)


def _merge(*tables: Mapping[str, bool | None]) -> Mapping[str, bool | None]:
    out: dict[str, bool | None] = {}
    for table in tables:
        for name, value in table.items():
            if name in out and out[name] is not value:
                raise RuntimeError(f"metric {name!r} declares two directions")
            out[name] = value
    return MappingProxyType(out)


#: Every declared metric direction, by metric name (read-only).
HIGHER_IS_BETTER = _merge(_synthetic.HIGHER_IS_BETTER, _molecules.HIGHER_IS_BETTER,
                          _properties.HIGHER_IS_BETTER, _fcd.HIGHER_IS_BETTER,
                          _discrete.HIGHER_IS_BETTER)


def direction(name: str) -> bool | None:
    """Whether higher values of the metric ``name`` are better: ``True``, ``False``, or
    ``None`` when neither is (a property such as logP). Unknown names raise and list the
    known ones."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a metric name (str), got {type(name).__name__}")
    if name not in HIGHER_IS_BETTER:
        raise ValueError(f"metric {name!r} declares no direction; known metrics: "
                         f"{', '.join(sorted(HIGHER_IS_BETTER))} (declare a new one in its "
                         "module's HIGHER_IS_BETTER)")
    return HIGHER_IS_BETTER[name]


def direction_arrow(name: str) -> str:
    """``"↑"`` (higher is better), ``"↓"`` (lower is better) or ``""`` (no direction)."""
    better = direction(name)
    return "" if better is None else ("↑" if better else "↓")


__all__ = ["HIGHER_IS_BETTER", "bits_to_integers", "direction", "direction_arrow",
           "empirical_probs", "evaluate_molecules", "exact_mmd", "generalization_metrics",
           "integer_distance", "interpolation_rate", "kl_divergence", "ks_statistic",
           "median_bandwidth", "mmd", "modes_covered", "qbas_score", "relative_entropy",
           "total_variation", "valid_fraction"]
