"""The paper's Table I as a runner task: ``table1``.

Bacarreza et al., "Quantum latent distributions in deep generative models", arXiv:2508.19857,
App. D: synthetic data of integer photon counts, either boson samples of n_photons photons in
an n_modes Haar interferometer ("quantum") or independent Bernoulli bits ("bernoulli"); MLP
generator and critic (2 x 512, ReLU), WGAN-GP with RMSprop. Scored by the integer distance of
the generated coordinates (0 for integers, 0.25 for continuous noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from qlatent._io import atomic_save_array
from qlatent.data import BernoulliData, BosonData
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.plotting import figure
from qlatent.experiments.tasks._mlp import MLPModel, networks
from qlatent.experiments.tasks.base import (
    Built,
    CellContext,
    CellRecord,
    MetricSpec,
    Params,
    ReferenceBudget,
    Task,
    generate,
    param,
    register_task,
)
from qlatent.metrics import integer_distance
from qlatent.models.mlp import ACTIVATIONS


@dataclass(frozen=True)
class Table1Model(MLPModel):
    """The ``[model]`` table of ``table1``: the paper's 2 x 512 ReLU MLPs by default."""

    hidden: tuple[int, ...] = param((512, 512), minimum=1)
    """Widths of the hidden layers (generator and critic alike)."""
    activation: str = param("relu", choices=ACTIVATIONS)
    """Activation after each hidden layer: ``leaky_relu``, ``relu``, ``tanh`` or ``sigmoid``."""


@dataclass(frozen=True)
class Table1Params(Params):
    """The ``[task]`` table of ``table1``: the data and the evaluation size."""

    TABLE = "task"

    n_modes: int = param(16, minimum=1)
    """Modes of the data's interferometer (= coordinates of a data point)."""
    n_photons: int = param(8, minimum=1)
    """Photons of the ``quantum`` data (at most ``n_modes``)."""
    data_samples: int = param(100_000, minimum=1)
    """Rows of the ``quantum`` data's sample bank (batches are drawn from it)."""
    n_eval: int = param(10_000, minimum=1)
    """Generated samples scored by the integer distance."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_photons > self.n_modes:
            raise ValueError(f"task.n_photons must be <= task.n_modes ({self.n_modes}), "
                             f"got {self.n_photons}")


class Table1Task(Task):
    """Synthetic quantum (boson-sampling) and Bernoulli data (paper Table I, App. D).

    Datasets: ``quantum`` (``BosonData``: n_photons photons in an n_modes Haar interferometer
    of its own, drawn from the cell's data stream, so every latent of a seed sees the same
    data) and ``bernoulli`` (``BernoulliData``). Tables: ``Table1Model``, ``Table1Params``.
    """

    name = "table1"
    datasets = ("quantum", "bernoulli")
    metrics = (MetricSpec("integer_distance", "integer distance", "{:.4f}"),)
    reference = {
        (ds, lat, 16): {"integer_distance": v}
        for ds, row in (
            ("quantum", {"gaussian": (0.061, 0.001), "bernoulli": (0.065, 0.001),
                         "photonic": (0.041, 0.002), "quantum": (0.036, 0.001)}),
            ("bernoulli", {"gaussian": (0.012, 0.002), "bernoulli": (0.020, 0.013),
                           "photonic": (0.017, 0.002), "quantum": (0.015, 0.002)}),
        )
        for lat, v in row.items()
    }
    reference_label = "paper Table I (12 runs, 40k iterations)"
    reference_budget = ReferenceBudget(steps=40_000, batch_size=500, seeds=12)  # paper App. D
    model_table = Table1Model
    task_table = Table1Params

    def build(self, ctx: CellContext) -> Built:
        config, cell, seeds = ctx.config, ctx.cell, ctx.seeds
        p = config.task_params
        if cell.dataset == "quantum":
            data = BosonData(p.n_modes, p.n_photons, seed=seeds.data,
                             n_samples=p.data_samples)
            info = {"data": repr(data), "data_digest": data.bank_digest}
        else:
            data = BernoulliData(p.n_modes)
            info = {"data": repr(data)}
        generator, critic = networks(config.model, cell.latent_dim, p.n_modes, seeds.model)
        return Built(data=data, generator=generator, critic=critic, info=info)

    def evaluate(self, ctx: CellContext, built: Built, latent: nn.Module) -> dict[str, float]:
        x = generate(built.generator, latent, ctx.config.task_params.n_eval, ctx.seeds.evaluate)
        atomic_save_array(ctx.cell_dir / "samples.npy", x[:1000].astype(np.float32))
        return {"integer_distance": integer_distance(x)}

    def figures(self, records: list[CellRecord], config: ExperimentConfig,
                out_dir: Path) -> list[tuple[str, Path]]:
        """Histogram of generated coordinates (all cells of a latent pooled), per dataset."""
        have = [r for r in records if (r.run_dir / "samples.npy").exists()]
        datasets = [d for d in config.datasets if any(r.cell.dataset == d for r in have)]
        if not datasets:
            return []
        path = out_dir / "table1_values.png"
        with figure(path, ncols=len(datasets), figsize=(5 * len(datasets), 3.2)) as (_, axes):
            for ax, ds in zip(axes[0], datasets, strict=True):
                for lat in config.latents:
                    xs = [np.load(r.run_dir / "samples.npy").ravel() for r in have
                          if r.cell.dataset == ds and r.cell.latent == lat]
                    if xs:
                        ax.hist(np.concatenate(xs), bins=np.linspace(-0.5, 4.5, 101),
                                histtype="step", density=True, label=lat)
                ax.set_title(f"{ds} data: generated coordinates")
                ax.set_yscale("log")
                ax.legend()
        return [("Distribution of generated coordinate values (integers are the data's support)",
                 path)]


TABLE1 = register_task(Table1Task())
