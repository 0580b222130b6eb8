"""Training a restricted Boltzmann machine by persistent contrastive divergence (PCD).

Tieleman, "Training restricted Boltzmann machines using approximations to the likelihood
gradient", ICML 2008. The NLL gradient of an RBM (``qlatent.latents.rbm``) is
    ∂NLL/∂θ = E_data[∂F/∂θ] - E_model[∂F/∂θ],
F the free energy; PCD estimates the model term on C persistent chains, each advanced by k
block-Gibbs steps per update and never restarted. So one step: a batch of B data rows, k Gibbs
steps of the chains, then Adam on the surrogate mean F(batch) - mean F(chains), whose gradient
is that estimate. It runs on the loop skeleton (checkpoint + bit-identical resume, log,
non-finite guard); the logged figure is that free-energy gap. Works at any number of hidden
units (no partition function).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from qlatent._validation import check_bits, check_float, check_int
from qlatent.latents.rbm import RBMLatent
from qlatent.train.skeleton import FitResult, LoopConfig, Trainer, restoring, train

__all__ = ["RBMConfig", "fit_rbm"]


@dataclass(frozen=True)
class RBMConfig(LoopConfig):
    """How an RBM is trained by PCD."""

    lr: float = 0.01
    """Adam's learning rate."""
    batch_size: int = 64
    """B: data rows per step (drawn with replacement)."""
    n_chains: int = 64
    """C: persistent chains."""
    gibbs_steps: int = 1
    """k: block-Gibbs steps of the chains per update."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("lr", self.lr, minimum=0.0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("n_chains", self.n_chains, minimum=1)
        check_int("gibbs_steps", self.gibbs_steps, minimum=1)


class _PCD(Trainer):
    keys = ("free_energy_gap",)
    checkpoint_keys = ("model", "optimizer", "generator", "chains")

    def __init__(self, model: RBMLatent, data: torch.Tensor, config: RBMConfig,
                 seed: int) -> None:
        self.model, self.data, self.config = model, data, config
        self.description = f"rbm {model.dim}x{model.n_hidden}"
        self.generator = torch.Generator().manual_seed(seed)
        dtype = model.weight.dtype
        start = torch.randint(len(data), (config.n_chains,), generator=self.generator)
        self.chains = data[start].to(dtype)                      # chains start on data rows
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def step(self, step: int) -> torch.Tensor:
        c = self.config
        rows = torch.randint(len(self.data), (c.batch_size,), generator=self.generator)
        self.chains = self.model.gibbs(self.chains, c.gibbs_steps, generator=self.generator)
        gap = (self.model.free_energy(self.data[rows]).mean()
               - self.model.free_energy(self.chains).mean())
        self.optimizer.zero_grad()
        gap.backward()
        self.optimizer.step()
        return gap.detach().reshape(1)

    def state_dict(self) -> dict[str, Any]:
        return {"model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(),
                "chains": self.chains.clone()}

    def load_state_dict(self, state: Mapping[str, Any], path: Path) -> None:
        with restoring(path, "RBM"):
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.generator.set_state(state["generator"])
            self.chains = state["chains"].clone()


def fit_rbm(model: RBMLatent, data: Any, config: RBMConfig, *, seed: int,
            run_dir: str | Path | None = None, resume: bool = True, progress: bool = False,
            callbacks: Any = None) -> FitResult:
    """Train ``model`` (in place) on ``data`` (0/1 [M, n]) by PCD; returns the ``FitResult``.

    ``seed`` seeds the one generator that draws the batches, the chains' starts and the Gibbs
    steps (its state is checkpointed, so a resumed run is bit-identical)."""
    if not isinstance(model, RBMLatent):
        raise TypeError(f"model must be an RBMLatent, got {type(model).__name__}")
    if not isinstance(config, RBMConfig):
        raise TypeError(f"config must be an RBMConfig, got {type(config).__name__}")
    seed = check_int("seed", seed, minimum=0)
    y = torch.as_tensor(check_bits("data", data, width=model.dim, min_rows=1))
    trainer = _PCD(model, y.to(model.weight.device), config, seed)
    (result,) = train(trainer, config, run_dir=run_dir, resume=resume, progress=progress,
                      callbacks=callbacks)
    return result
