"""Experiments: configs (``config``), tasks (``tasks``: one module per task), the runner
(``runner``: run directories, executors, ``rebuild_cell``), reports (``report``) and the QM9
diagnostics (``diagnose``).

The names most code needs are importable from here.
"""

from qlatent.experiments.config import ExperimentConfig, load_config
from qlatent.experiments.runner import (
    RebuiltCell,
    cells,
    parse_seeds,
    rebuild_cell,
    run_cell,
    run_experiment,
    select,
)
from qlatent.experiments.tasks import Cell, CellRecord, Task, get_task, register_task, task_names

__all__ = ["Cell", "CellRecord", "ExperimentConfig", "RebuiltCell", "Task", "cells", "get_task",
           "load_config", "parse_seeds", "rebuild_cell", "register_task", "run_cell",
           "run_experiment", "select", "task_names"]
