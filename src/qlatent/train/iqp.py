"""Training IQP circuits (and their bit-flip control) by MMD^2 without samples of the model.

Each step draws K operators from the Gaussian kernel's spectral distribution and S strings,
estimates MMD^2(p_θ, data) without bias (``qlatent.quantum.iqp.mmd2_estimate``), and takes one
Adam step on the angles θ: the method of Recio-Armengol, Ahmed & Bowles (arXiv:2503.02934) with
IQPopt's estimator (arXiv:2501.04776). It runs on the loop skeleton
(``qlatent.train.skeleton``): checkpoint + bit-identical resume, ``log.jsonl``, progress, the
non-finite guard. The bandwidth is the data's median heuristic unless given; the initial angles
come from the data (``iqp.init_from_data``) unless ``init = "uniform"``.

Randomness: one ``torch.Generator`` seeded with ``seed`` draws every operator and string; its
state is in the checkpoint, so a resumed run ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from qlatent._validation import check_bits, check_choice, check_float, check_int
from qlatent.quantum import iqp
from qlatent.quantum.iqp_gates import GateSet
from qlatent.train.skeleton import FitResult, LoopConfig, Trainer, restoring, train

__all__ = ["IQPConfig", "IQPTrainer", "fit_iqp"]

INITS = ("data", "uniform")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class IQPConfig(LoopConfig):
    """How an IQP circuit (or its bit-flip control) is trained by MMD^2."""

    lr: float = 0.01
    """Adam's learning rate on the angles."""
    n_ops: int = 1000
    """K: operators drawn per step from the kernel's spectral distribution."""
    n_samples: int = 1000
    """S: strings per step for the circuit's Monte-Carlo estimate (the bit-flip model is exact)."""
    n_groups: int = 1
    """R: independent groups of operators per step (R > 1 gives a standard error per step, at
    the cost of R separate draws of strings; 1 is fastest)."""
    sigma: float | None = None
    """The kernel's bandwidth σ; None: the median heuristic on the training data."""
    model: str = "iqp"
    """"iqp" (the circuit) or "bitflip" (its classical control, same parameters)."""
    init: str = "data"
    """"data" (arXiv:2503.02934's data-dependent angles) or "uniform" (θ_j ~ U[-π, π), the
    full-range initialisation whose MMD^2 landscape has barren plateaus, arXiv:2603.14576: a
    baseline for the data's). Not zeros: θ = 0 is a stationary point (every gradient
    vanishes there)."""
    dtype: str = "float32"
    """"float32" or "float64" (the angles and every estimate)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("lr", self.lr, minimum=0.0)
        check_int("n_ops", self.n_ops, minimum=1)
        check_int("n_samples", self.n_samples, minimum=2)
        check_int("n_groups", self.n_groups, minimum=1)
        if self.n_ops % self.n_groups:
            raise ValueError(f"n_ops must be a multiple of n_groups = {self.n_groups}, got "
                             f"{self.n_ops}")
        if self.sigma is not None:
            iqp.operator_probability(self.sigma)  # checks sigma > 0
        check_choice("model", self.model, iqp.MODELS)
        check_choice("init", self.init, INITS)
        check_choice("dtype", self.dtype, tuple(DTYPES))


class IQPTrainer(Trainer):
    """One Adam step on θ per training step; the figure is the step's MMD^2 estimate.

    Attributes:
        theta (nn.Parameter [G]): the angles (trained in place).
        sigma: the bandwidth in use.
    """

    keys = ("mmd2",)
    checkpoint_keys = ("theta", "optimizer", "generator")

    def __init__(self, gates: GateSet, data: torch.Tensor, config: IQPConfig, *,
                 seed: int) -> None:
        self.gates, self.data, self.config = gates, data, config
        self.description = f"{config.model} {gates.name}"
        dtype = DTYPES[config.dtype]
        self.sigma = (iqp.median_bandwidth(data, rng=seed) if config.sigma is None
                      else float(config.sigma))
        self.generator = torch.Generator().manual_seed(seed)
        if config.init == "data":
            start = iqp.init_from_data(gates, data, dtype=dtype)
        else:
            u = torch.rand(gates.n_gates, generator=self.generator, dtype=torch.float64)
            start = ((2 * u - 1) * torch.pi).to(dtype)
        self.theta = torch.nn.Parameter(start)
        self.optimizer = torch.optim.Adam([self.theta], lr=config.lr)

    def step(self, step: int) -> torch.Tensor:
        c = self.config
        loss, _ = iqp.mmd2_estimate(self.theta, self.gates, self.data, sigma=self.sigma,
                                    n_ops=c.n_ops, n_samples=c.n_samples, n_groups=c.n_groups,
                                    model=c.model, generator=self.generator)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.detach().reshape(1)

    def state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.detach().clone(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "sigma": self.sigma}

    def load_state_dict(self, state: Mapping[str, Any], path: Path) -> None:
        if tuple(state["theta"].shape) != tuple(self.theta.shape):
            raise ValueError(f"{path} holds {state['theta'].numel()} angles, this circuit has "
                             f"{self.theta.numel()}; use another run_dir or resume=False")
        with restoring(path, f"{self.description} circuit"), torch.no_grad():
            self.theta.copy_(state["theta"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.generator.set_state(state["generator"])
            self.sigma = float(state["sigma"])


def fit_iqp(gates: GateSet, data: Any, config: IQPConfig, *, seed: int,
            run_dir: str | Path | None = None, resume: bool = True, progress: bool = False,
            callbacks: Any = None) -> tuple[torch.Tensor, FitResult]:
    """Train an IQP circuit (or its bit-flip control) on ``data`` by MMD^2.

    Args:
        gates: the circuit's :class:`~qlatent.quantum.iqp_gates.GateSet` (n qubits).
        data (0/1 [M, n], M >= 2): the training rows.
        config: an :class:`IQPConfig`.
        seed: the generator's seed (operators, strings, the median heuristic's rows).
        run_dir, resume, progress, callbacks: as ``qlatent.train.skeleton.train``.

    Returns:
        (θ: the trained angles [G], detached; the run's ``FitResult``, whose ``extra`` holds
        ``sigma``).
    """
    if not isinstance(gates, GateSet):
        raise TypeError(f"gates must be a GateSet, got {type(gates).__name__}")
    if not isinstance(config, IQPConfig):
        raise TypeError(f"config must be an IQPConfig, got {type(config).__name__}")
    seed = check_int("seed", seed, minimum=0)
    y = torch.as_tensor(check_bits("data", data, width=gates.n_qubits, min_rows=2))
    trainer = IQPTrainer(gates, y, config, seed=seed)
    (result,) = train(trainer, config, run_dir=run_dir, resume=resume, progress=progress,
                      callbacks=callbacks)
    result.extra["sigma"] = trainer.sigma
    return trainer.theta.detach().clone(), result
