"""Metric directions: declared once per metric, read through qlatent.metrics.direction by the
tasks' MetricSpecs and the reports."""

import pytest

from qlatent import metrics
from qlatent.experiments.tasks import MetricSpec, get_task, task_names
from qlatent.metrics import direction, direction_arrow, fcd, molecules, properties, synthetic


def test_every_module_table_is_merged_and_agrees_with_the_function_attributes():
    for table in (synthetic.HIGHER_IS_BETTER, molecules.HIGHER_IS_BETTER,
                  properties.HIGHER_IS_BETTER, fcd.HIGHER_IS_BETTER):
        for name, better in table.items():
            assert direction(name) is better
    for fn in (metrics.integer_distance, metrics.interpolation_rate, metrics.modes_covered,
               metrics.mmd):
        assert direction(fn.__name__) is fn.higher_is_better


def test_known_directions():
    assert direction("fcd") is False and direction("n_valid_unique") is True
    assert direction("logp") is None  # a property, not a quality: no better direction
    assert (direction_arrow("fcd"), direction_arrow("qed"), direction_arrow("logp")) == (
        "↓", "↑", "")
    with pytest.raises(ValueError, match="'fdc' declares no direction; known metrics: .*fcd"):
        direction("fdc")
    with pytest.raises(TypeError, match="name"):
        direction(3)


def test_merging_refuses_two_directions_for_one_name():
    with pytest.raises(RuntimeError, match="'x' declares two directions"):
        metrics._merge({"x": True}, {"x": False})


@pytest.mark.parametrize("task", task_names())
def test_every_task_metric_reads_its_direction_from_the_metrics(task):
    for spec in get_task(task).metrics:
        assert spec.higher_is_better is direction(spec.name)
        assert spec.heading.endswith(direction_arrow(spec.name))
        assert "↑" not in spec.label and "↓" not in spec.label  # no second declaration


def test_metric_spec_refuses_an_undeclared_metric():
    with pytest.raises(ValueError, match="'novel_score' declares no direction"):
        MetricSpec("novel_score", "novel score")
    assert MetricSpec("logp", "logP").heading == "logP"
    assert MetricSpec("sa", "SA").heading == "SA ↓"
