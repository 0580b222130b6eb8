"""Experiment tasks: one module per task (``ring``, ``table1``, ``qm9``), the ``Task`` base class
and the registry in ``base``.

``get_task(name)`` imports a built-in task's module on first use.
"""

from qlatent.experiments.tasks.base import (
    LATENT_LR_KEY,
    STREAM_DATA,
    STREAM_EVALUATE,
    STREAM_LATENT,
    STREAM_MODEL,
    STREAM_TRAIN,
    VARIANT_KEY,
    Built,
    Cell,
    CellContext,
    CellRecord,
    CellSeeds,
    Metrics,
    MetricSpec,
    NoParams,
    Params,
    ReferenceBudget,
    Task,
    TaskFit,
    cell_seeds,
    check_datasets,
    check_keys,
    check_latent_request,
    field_docs,
    get_task,
    latent_request,
    make_latent,
    param,
    register_task,
    task_names,
    torch_generator,
)

__all__ = [
    "STREAM_DATA", "STREAM_EVALUATE", "STREAM_LATENT", "STREAM_MODEL", "STREAM_TRAIN",
    "LATENT_LR_KEY", "VARIANT_KEY", "Built", "Cell", "CellContext", "CellRecord", "CellSeeds",
    "MetricSpec", "Metrics", "NoParams", "Params", "ReferenceBudget", "Task", "TaskFit",
    "cell_seeds", "check_datasets", "check_keys", "check_latent_request", "field_docs", "get_task",
    "latent_request", "make_latent", "param", "register_task", "task_names", "torch_generator",
]
