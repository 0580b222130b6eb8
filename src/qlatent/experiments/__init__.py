"""Experiments: configs (``config``), tasks (``tasks``: one module per task), the runner in
rooms named for their jobs (``grid``: cells, seeds, selection; ``packing``: packs and memory;
``cell``: prepare, train, finish, read and rebuild one cell; ``executors``: local and Ray;
``provenance``: what a run records), reports (``report``) and the QM9 diagnostics
(``diagnose``).

The names most code needs are importable from here.
"""

from qlatent.experiments.cell import RebuiltCell, rebuild_cell, run_cell
from qlatent.experiments.config import ExperimentConfig, load_config
from qlatent.experiments.executors import run_experiment
from qlatent.experiments.grid import cells, parse_seeds, select
from qlatent.experiments.tasks import Cell, CellRecord, Task, get_task, register_task, task_names

__all__ = ["Cell", "CellRecord", "ExperimentConfig", "RebuiltCell", "Task", "cells", "get_task",
           "load_config", "parse_seeds", "rebuild_cell", "register_task", "run_cell",
           "run_experiment", "select", "task_names"]
