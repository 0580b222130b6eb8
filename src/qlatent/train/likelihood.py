"""Fitting a trainable discrete distribution to samples: ``fit_distribution`` with a loss
object (``NLL``, ``KL``, ``MMD``, ``Bound``) and an optimiser object (``Adam``, ``LBFGS``) in
a typed ``LikelihoodConfig``.

The model is anything with parameters and ``log_prob(counts) -> Tensor[B]`` (e.g.
``qlatent.latents.BornLatent`` on photon counts, ``qlatent.latents.QubitBornLatent`` on bit
vectors). MMD also uses ``output_distribution() -> (states, probs)`` (exact model side, small
Fock spaces, every qubit model), ``sample_counts(n, *, generator)`` (samples; the gradient then
goes through ``log_prob`` by the score function) or ``shot_distribution(n_shots, *, generator)``
(qubit models: N-shot histograms, gradients by the parameter-shift rule, as on hardware).

Notation:
    x_i (i = 1..N): data count vectors int[m]; p_θ: the model; B the batch size; w_i optional
    weights of the data rows (normalised to sum 1); q the (weighted) empirical distribution of
    the data; k the house kernel of ``qlatent.metrics.kernels`` (a mixture of Gaussians,
    bandwidths σ_1..σ_L).

The loop is the skeleton's (``qlatent.train.skeleton``: checkpoint + bit-identical resume,
``log.jsonl``, callbacks, progress, a guard naming the step of a non-finite loss); every random
draw (minibatches, model samples, shots) comes from one ``torch.Generator`` seeded with
``seed`` and saved in the checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.optimize import minimize

from qlatent._random import torch_generator
from qlatent._validation import check_bits_tensor, check_choice, check_float, check_int
from qlatent.metrics.kernels import DEFAULT_BANDWIDTHS, check_bandwidths, gaussian_kernel
from qlatent.train.checkpoint import check_resumable
from qlatent.train.skeleton import (
    Callback,
    FitResult,
    LoopConfig,
    NonFiniteError,
    Trainer,
    restoring,
    train,
)

MODEL_SIDES = ("auto", "exact", "samples", "shots")
#: the exact model side builds a K x K kernel matrix; "auto" uses it up to this many states.
MMD_EXACT_MAX_STATES = 5_000

Objective = Callable[[], tuple[torch.Tensor, torch.Tensor]]
"""A bound loss: ``() -> (objective to differentiate, value to log)``."""


def _plain(obj: Any) -> dict[str, Any]:
    """A loss or optimiser object as plain values (tuples as lists), its class as ``kind``."""
    return {"kind": type(obj).__name__,
            **{k: list(v) if isinstance(v, tuple) else v
               for k, v in dataclasses.asdict(obj).items()}}


def _batches(data: torch.Tensor, batch_size: int | None,
             generator: torch.Generator) -> Callable[[], torch.Tensor]:
    """Minibatches of ``batch_size`` rows drawn with replacement (``None``: all the data)."""
    def draw() -> torch.Tensor:
        if batch_size is None:
            return data
        return data[torch.randint(0, data.shape[0], (batch_size,), generator=generator)]
    return draw


# --------------------------------------------------------------------------- losses
@dataclass(frozen=True)
class NLL:
    """Negative log-likelihood: NLL(θ) = -(1/B) sum_i log p_θ(x_i) on minibatches of
    ``batch_size`` rows drawn with replacement (``None``: all of the data every step);
    minimising it minimises KL(data || p_θ).

    With weights w (e.g. data = every state and w = a target distribution) it is the exact
    cross-entropy -sum_i w_i log p_θ(x_i) over all rows every step, and
    KL(w || p_θ) = that - H(w).
    """

    name: ClassVar[str] = "nll"

    def bind(self, model: Any, data: torch.Tensor, weights: torch.Tensor | None, *,
             batch_size: int | None, generator: torch.Generator) -> tuple[Objective, bool]:
        """``(objective, deterministic)``: the loss of ``model`` on ``data`` and whether it
        is exact (the same value at the same θ: what L-BFGS needs)."""
        dtype = _dtype(model)
        if weights is not None:
            def weighted() -> tuple[torch.Tensor, torch.Tensor]:
                objective = -(model.log_prob(data) * weights.to(dtype)).sum()
                return objective, objective
            return weighted, True
        draw = _batches(data, batch_size, generator)

        def batch() -> tuple[torch.Tensor, torch.Tensor]:
            objective = -model.log_prob(draw()).mean()
            return objective, objective
        return batch, batch_size is None


@dataclass(frozen=True)
class KL:
    """Exact KL(q || p_θ) = sum_x q(x) log(q(x) / p_θ(x)) every step, over the distinct data
    rows (``batch_size`` is not used); the same minimiser as full-batch NLL, logged as KL. No
    clip: a data row of probability 0 makes it infinite, which stops the fit with
    ``FloatingPointError``."""

    name: ClassVar[str] = "kl"

    def bind(self, model: Any, data: torch.Tensor, weights: torch.Tensor | None, *,
             batch_size: int | None, generator: torch.Generator) -> tuple[Objective, bool]:
        """See ``NLL.bind``."""
        dtype = _dtype(model)
        distinct, inverse = torch.unique(data, dim=0, return_inverse=True)
        q = torch.bincount(inverse, minlength=distinct.shape[0], weights=weights).to(
            torch.float64)
        q = q / q.sum()
        entropy = float(-(q * q.log()).sum())

        def kl() -> tuple[torch.Tensor, torch.Tensor]:
            objective = -(model.log_prob(distinct) * q.to(dtype)).sum()
            return objective, objective - entropy
        return kl, True


@dataclass(frozen=True)
class Bound:
    """The mean of ``model.bound_loss(batch)``, an upper bound on the NLL (Boltzmann machines:
    Amin et al.'s bound, ``qlatent.latents.BoltzmannLatent.bound_loss``), on the minibatches
    of ``NLL``; weights are not supported."""

    name: ClassVar[str] = "bound"

    def bind(self, model: Any, data: torch.Tensor, weights: torch.Tensor | None, *,
             batch_size: int | None, generator: torch.Generator) -> tuple[Objective, bool]:
        """See ``NLL.bind``."""
        if not hasattr(model, "bound_loss"):
            raise TypeError(f"loss Bound() needs model.bound_loss(batch), "
                            f"{type(model).__name__} has none")
        if weights is not None:
            raise ValueError("weights apply to NLL, KL and MMD, not to Bound()")
        draw = _batches(data, batch_size, generator)

        def bound() -> tuple[torch.Tensor, torch.Tensor]:
            objective = model.bound_loss(draw())
            return objective, objective
        return bound, batch_size is None


@dataclass(frozen=True)
class MMD:
    """Squared maximum mean discrepancy MMD^2(p_θ, q) with the house kernel k
    (``qlatent.metrics.kernels``): MMD^2(p, q) = E_{x,x'~p} k(x, x') - 2 E_{x~p,y~q} k(x, y)
    + E_{y,y'~q} k(y, y') (Gretton et al., JMLR 13, 723 (2012)).

    The model side:

    * ``"exact"`` (needs ``model.output_distribution()``; ``"auto"`` picks it up to
      ``MMD_EXACT_MAX_STATES`` states): (p_θ - q)^T K (p_θ - q) with q the empirical
      distribution of *all* of the data on the model's states (V-statistic), exact gradients.
    * ``"samples"``: per step M = ``n_model_samples`` exact samples x_i of p_θ
      (``model.sample_counts``) and a data minibatch y; since ∇_θ E_p[f] = E_p[f ∇ log p_θ],
      ∇ MMD^2 = 2 E_x[h(x) ∇ log p_θ(x)] with h(x) = E_{x'} k(x, x') - E_y k(x, y);
      ``mmd_score_surrogate`` backpropagates it with a leave-one-out baseline. No weights.
    * ``"shots"`` (needs ``model.shot_distribution(n, generator=...)``, a qubit Born machine):
      (p̂ - q)^T K (p̂ - q) with p̂ the histogram of N = ``n_model_samples`` shots, its gradient
      the parameter-shift rule on fresh histograms (Liu & Wang's hardware estimator,
      arXiv:1804.04168).
    """

    name: ClassVar[str] = "mmd"

    bandwidths: tuple[float, ...] = DEFAULT_BANDWIDTHS
    """σ_1..σ_L > 0 of the kernel (``qlatent.metrics.kernels.LIU_WANG_BANDWIDTHS``: Liu &
    Wang's)."""
    model_side: str = "auto"
    """``"auto"``, ``"exact"``, ``"samples"`` or ``"shots"`` (see above)."""
    n_model_samples: int = 256
    """Model samples (or shots) per step, >= 2 (``"samples"`` and ``"shots"``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "bandwidths", check_bandwidths(self.bandwidths))
        check_choice("model_side", self.model_side, MODEL_SIDES)
        check_int("n_model_samples", self.n_model_samples, minimum=2)

    def bind(self, model: Any, data: torch.Tensor, weights: torch.Tensor | None, *,
             batch_size: int | None, generator: torch.Generator) -> tuple[Objective, bool]:
        """See ``NLL.bind``."""
        side, has_dist = self.model_side, hasattr(model, "output_distribution")
        if side == "exact" and not has_dist:
            raise TypeError("model_side='exact' needs model.output_distribution()")
        if side == "samples" and not hasattr(model, "sample_counts"):
            raise TypeError("model_side='samples' needs model.sample_counts(n, generator=...)")
        if side == "shots" and not hasattr(model, "shot_distribution"):
            raise TypeError("model_side='shots' needs model.shot_distribution(n, generator=...) "
                            f"(a qubit Born machine), {type(model).__name__} has none")
        if side == "auto":
            size = getattr(model, "n_states", None)
            if size is None and has_dist and hasattr(model, "dim") and hasattr(model,
                                                                              "n_photons"):
                size = math.comb(model.dim + model.n_photons - 1, model.n_photons)
            side = ("exact" if has_dist and size is not None and size <= MMD_EXACT_MAX_STATES
                    else "samples")
        if side == "samples":
            if weights is not None:
                raise ValueError("weights apply to NLL, KL and MMD with the exact or shots "
                                 "model side, not to MMD by samples")
            draw = _batches(data, batch_size, generator)

            def by_samples() -> tuple[torch.Tensor, torch.Tensor]:
                x = model.sample_counts(self.n_model_samples, generator=generator)
                return mmd_score_surrogate(model, x, draw(), self.bandwidths)
            return by_samples, False
        with torch.no_grad():
            states, _ = (model.output_distribution() if side == "exact"
                         else model.shot_distribution(1, generator=generator))
        q = torch.bincount(_state_index(states, data), minlength=states.shape[0],
                           weights=weights).to(torch.float64)
        q = q / q.sum()
        kernel = gaussian_kernel(states, states, self.bandwidths)

        def on_states() -> tuple[torch.Tensor, torch.Tensor]:
            _, p = (model.output_distribution() if side == "exact"
                    else model.shot_distribution(self.n_model_samples, generator=generator))
            d = p - q.to(p.dtype)
            objective = d @ (kernel.to(p.dtype) @ d)
            return objective, objective
        return on_states, side == "exact"


Loss = NLL | KL | MMD | Bound
LIKELIHOOD_LOSSES = (NLL, KL, MMD, Bound)
"""The loss classes of ``LikelihoodConfig.loss``."""


def mmd_score_surrogate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                        bandwidths: Any = DEFAULT_BANDWIDTHS
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Score-function surrogate whose gradient estimates ∇_θ MMD^2(p_θ, data), unbiasedly.

    With model samples x_1..x_M ~ p_θ and data samples y_1..y_N:
    h_i = 1/(M-1) sum_{j≠i} k(x_i, x_j) - 1/N sum_l k(x_i, y_l), b_i = 1/(M-1) sum_{j≠i} h_j
    (leave-one-out baseline), surrogate = (2/M) sum_i stopgrad(h_i - b_i) log p_θ(x_i).
    E[∇ surrogate] = ∇ MMD^2 because ∇ E_p[f] = E_p[f ∇ log p] and E[∇ log p] = 0.

    Args:
        model: with ``log_prob``; x (int [M, m], M >= 2) model samples; y (int [N, m]) data.

    Returns:
        (surrogate scalar with gradient, unbiased MMD^2 estimate without gradient).
    """
    M, N = x.shape[0], y.shape[0]
    kxx = gaussian_kernel(x, x, bandwidths)
    kxx.fill_diagonal_(0.0)
    kxy = gaussian_kernel(x, y, bandwidths)
    h = kxx.sum(1) / (M - 1) - kxy.mean(1)
    baseline = (h.sum() - h) / (M - 1)
    surrogate = 2.0 * ((h - baseline).detach() * model.log_prob(x)).mean()
    kyy = gaussian_kernel(y, y, bandwidths)
    value = (kxx.sum() / (M * (M - 1)) - 2 * kxy.mean()
             + (kyy.sum() - kyy.diagonal().sum()) / max(N * (N - 1), 1))
    return surrogate, value


# --------------------------------------------------------------------------- optimisers
@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba, arXiv:1412.6980) on every trainable parameter; one step per
    evaluation of the loss."""

    lr: float = 0.02
    """Learning rate (>= 0)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", check_float("lr", self.lr, minimum=0.0))


@dataclass(frozen=True)
class LBFGS:
    """SciPy's L-BFGS-B (``scipy.optimize.minimize``, as Liu & Wang) on the flattened
    parameters in float64, the loss and its gradient by autograd; one step is one iteration (a
    line search of one or more evaluations). ftol = gtol = 0, so the scale of the loss (MMD^2
    reaches 1e-8) never stops it; SciPy stops early only when the line search can make no more
    progress, and the later steps keep its last point. It needs an exact, deterministic loss:
    ``KL()``, ``NLL()`` on all the data (``batch_size=None`` or weights), or ``MMD()`` with the
    exact model side. (``torch.optim.LBFGS`` was tried: with its default tolerances it stalled
    a 9-qubit MMD fit at its second iteration, and with tolerances 0 it reached a valid
    fraction of 0.950 where SciPy reaches 0.988 in 100 iterations.)

    SciPy's internal state cannot be saved, so the iterations are computed at the first step
    from the starting parameters, which the checkpoint holds: a resumed L-BFGS fit computes
    them again from there and ends bit-identical to an uninterrupted one (it saves no time).
    """


Optimizer = Adam | LBFGS


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class LikelihoodConfig(LoopConfig):
    """What ``fit_distribution`` trains: the loss, the optimiser and the budget (``steps``,
    ``checkpoint_every`` and ``log_every`` as every loop of ``qlatent.train.skeleton``).

    How this process runs it (seed, run directory, progress) are arguments of
    ``fit_distribution``.
    """

    log_every: int = 10
    """Steps between log rows; a row holds the loss averaged over the steps since the previous
    one."""
    loss: Loss = NLL()
    """``NLL()``, ``KL()``, ``MMD(...)`` or ``Bound()``."""
    optimizer: Optimizer = Adam()
    """``Adam(lr=...)`` or ``LBFGS()``."""
    batch_size: int | None = 256
    """Data rows per step, drawn with replacement (``None``: all of them; not used by ``KL``,
    by weighted ``NLL`` or by the exact MMD side)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.loss, LIKELIHOOD_LOSSES):
            raise TypeError(f"loss must be one of NLL(), KL(), MMD(...), Bound(), got "
                            f"{self.loss!r}")
        if not isinstance(self.optimizer, Adam | LBFGS):
            raise TypeError(f"optimizer must be Adam(lr=...) or LBFGS(), got "
                            f"{self.optimizer!r}")
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, minimum=1)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the loss and the optimiser as dicts with their ``kind``)."""
        return {**super().to_dict(), "loss": _plain(self.loss),
                "optimizer": _plain(self.optimizer)}


# --------------------------------------------------------------------------- fit
def fit_distribution(model: torch.nn.Module, data: Any, config: LikelihoodConfig, *, seed: int,
                     weights: Any = None, run_dir: str | Path | None = None,
                     resume: bool = True, progress: bool = False,
                     callbacks: Sequence[Callback] = ()) -> FitResult:
    """Fit ``model``'s parameters to samples ``data`` with ``config``, in place.

    ``config.loss`` says what is minimised (``NLL``, ``KL``, ``MMD``, ``Bound``: each class
    states its formula), ``config.optimizer`` how (``Adam`` or ``LBFGS``). A log row holds the
    loss averaged over the steps since the previous row: with ``Adam`` each step's loss on its
    batch before the update (``KL``: the KL; ``MMD`` by samples: the unbiased estimate), with
    ``LBFGS`` the loss after each iteration. The loop is ``qlatent.train.skeleton.train``.

    Args:
        model: an ``nn.Module`` with parameters and ``log_prob(counts)`` (trained in place).
        data (int [N, m] counts or 0/1 bits, tensor or array).
        config: a ``LikelihoodConfig``.
        seed: seeds the one ``torch.Generator`` of minibatches, model samples and shots.
        weights (float [N] >= 0, optional): weights of the data rows (``NLL``: the full
            weighted batch; ``KL`` and the exact or shots ``MMD`` side: the weighted
            histogram q).
        run_dir: folder of ``checkpoint.pt`` and ``log.jsonl`` (``None``: neither is written).
        resume: continue from ``run_dir/checkpoint.pt`` when it exists (same seed; the config
            may differ only in ``steps``, ``log_every`` and ``checkpoint_every``).
        progress: show progress (a bar on a terminal, plain lines otherwise).
        callbacks: ``f(step, info)`` after every step, ``info`` holding ``row`` (the log row on
            log steps, else ``None``) and ``figures``; an exception there stops training (the
            last checkpoint stays).

    Returns:
        A ``FitResult``.

    Raises:
        NonFiniteError (a FloatingPointError): the loss or a parameter turned non-finite;
            names the step (and the parameter). The loss is checked before the update.
    """
    trainer = LikelihoodTrainer(model, data, config, seed=seed, weights=weights)
    (result,) = train(trainer, config, run_dir=run_dir, resume=resume, progress=progress,
                      callbacks=callbacks)
    return result


class LikelihoodTrainer(Trainer):
    """``fit_distribution``'s step on the loop skeleton: made (and every argument checked)
    before anything trains, so a config can be checked against a model without training.

    Args: those of ``fit_distribution``.
    """

    keys = ("loss",)
    description = "fit_distribution"
    checkpoint_keys = ("seed", "model")

    def __init__(self, model: torch.nn.Module, data: Any, config: LikelihoodConfig, *,
                 seed: int, weights: Any = None) -> None:
        if not isinstance(config, LikelihoodConfig):
            raise TypeError(f"config must be a LikelihoodConfig, got {type(config).__name__}")
        self.seed = check_int("seed", seed, minimum=0)
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "log_prob"):
            raise TypeError(f"model must be an nn.Module with a log_prob method, got "
                            f"{type(model).__name__}")
        data = _check_counts_data(data, model)
        if weights is not None:
            weights = torch.as_tensor(weights, dtype=torch.float64)
            if weights.shape != (data.shape[0],) or not torch.isfinite(weights).all() or bool(
                    (weights < 0).any()) or float(weights.sum()) <= 0:
                raise ValueError(f"weights must be {data.shape[0]} finite non-negative numbers "
                                 f"with a positive sum (one per data row), got shape "
                                 f"{tuple(weights.shape)}")
            weights = weights / weights.sum()
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError(f"model must have trainable parameters, {type(model).__name__} "
                             "has none")
        self.model, self.loss = model, config.loss
        self.device = self.params[0].device
        self.generator = torch_generator(self.seed)
        self.objective, deterministic = config.loss.bind(
            model, data, weights, batch_size=config.batch_size, generator=self.generator)
        self.lbfgs = isinstance(config.optimizer, LBFGS)
        if self.lbfgs and not deterministic:
            raise ValueError("LBFGS() needs an exact, deterministic loss: KL(), NLL() with "
                             "batch_size=None (or weights), or MMD() with the exact model "
                             f"side; got {config.loss!r} with batch_size={config.batch_size}")
        if self.lbfgs:
            self.start = self._flat()
            self.iterates: list[np.ndarray] | None = None
            self.steps = config.steps
        else:
            self.optimizer = torch.optim.Adam(self.params, lr=config.optimizer.lr)

    def _evaluate(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        objective, value = self.objective()
        if not bool(torch.isfinite(objective.detach())):
            raise NonFiniteError(self.description, step,
                                 f"the {self.loss.name} loss ({float(objective.detach())}: "
                                 "data outside the model's support, or a diverging step)")
        return objective, value

    def _check_parameters(self, step: int) -> None:
        for name, p in self.model.named_parameters():
            if not bool(torch.isfinite(p.detach()).all()):
                raise NonFiniteError(self.description, step, f"the model's parameter {name!r}")

    def step(self, step: int) -> torch.Tensor:
        if self.lbfgs:
            if self.iterates is None:
                self.iterates = self._lbfgs()
            self._load(self.iterates[min(step, len(self.iterates)) - 1])
            self._check_parameters(step)
            with torch.no_grad():
                _, value = self._evaluate(step)
        else:
            self.optimizer.zero_grad(set_to_none=True)
            objective, value = self._evaluate(step)
            objective.backward()
            self.optimizer.step()
            self._check_parameters(step)
        return value.detach().to(torch.float64).reshape(1)

    def state_dict(self) -> dict[str, Any]:
        state = {"seed": self.seed, "model": self.model.state_dict()}
        if self.lbfgs:
            return {**state, "start": torch.from_numpy(self.start)}
        return {**state, "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any], path: Path) -> None:
        with restoring(path, "model and optimiser"):
            self.model.load_state_dict(state["model"])
            if self.lbfgs:
                self.start = state["start"].numpy().copy()
                self.iterates = None
            else:
                self.optimizer.load_state_dict(state["optimizer"])
                self.generator.set_state(state["generator"])

    def check_resumable(self, state: Mapping[str, Any], config: Any, path: Path) -> None:
        check_resumable(state, config, self.seed, path)  # the seed too, as fit's

    # ---- L-BFGS: SciPy's run, computed at the first step
    def _flat(self) -> np.ndarray:
        return np.concatenate([p.detach().cpu().double().numpy().ravel() for p in self.params])

    def _load(self, x: np.ndarray) -> None:
        sizes = [p.numel() for p in self.params]
        with torch.no_grad():
            for p, chunk in zip(self.params, np.split(x, np.cumsum(sizes)[:-1]), strict=True):
                p.copy_(torch.from_numpy(chunk).reshape(p.shape).to(p.dtype))

    def _lbfgs(self) -> list[np.ndarray]:
        """The iterates of SciPy's L-BFGS-B from ``start`` (at most ``steps``)."""
        iterates: list[np.ndarray] = []

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            self._load(x)
            for p in self.params:
                p.grad = None
            objective, _ = self._evaluate(len(iterates) + 1)
            objective.backward()
            grad = np.concatenate([(p.grad if p.grad is not None else torch.zeros_like(p))
                                   .detach().cpu().double().numpy().ravel()
                                   for p in self.params])
            return float(objective.detach()), grad

        def on_iteration(intermediate_result: Any) -> None:
            iterates.append(np.array(intermediate_result.x, dtype=np.float64))

        res = minimize(fun, self.start.copy(), jac=True, method="L-BFGS-B",
                       callback=on_iteration,
                       options={"maxiter": self.steps, "maxfun": 50 * self.steps,
                                "ftol": 0.0, "gtol": 0.0})
        last = np.asarray(res.x, dtype=np.float64)
        if not iterates or not np.array_equal(iterates[-1], last):
            iterates.append(last)
        return iterates


def _dtype(model: Any) -> torch.dtype:
    return next(p.dtype for p in model.parameters() if p.requires_grad)


def _check_counts_data(data: Any, model: Any = None) -> torch.Tensor:
    t = data if isinstance(data, torch.Tensor) else torch.as_tensor(np.asarray(data))
    if getattr(model, "kind", None) == "qubit":  # bit vectors: say so before anything else
        # the width is checked below, in the words used for every model
        t = check_bits_tensor("data", t, min_rows=1).to(torch.long)
    if t.dtype.is_floating_point:
        if not torch.equal(t, t.round()):
            raise ValueError("data must hold integer photon counts, got non-integer values")
        t = t.to(torch.long)
    if t.dtype == torch.bool or t.dtype.is_complex:
        raise TypeError(f"data must be integer counts [N, m], got dtype {t.dtype}")
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(f"data must have shape (N, m) with N >= 1, got {tuple(t.shape)}")
    dim = getattr(model, "dim", None)
    if isinstance(dim, int) and t.shape[1] != dim:
        raise ValueError(f"data must have {dim} columns (the model's dim), got shape "
                         f"{tuple(t.shape)}")
    return t.to(torch.long)


def _state_index(states: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    index = {tuple(s): k for k, s in enumerate(states.tolist())}
    out = []
    for row in data.tolist():
        k = index.get(tuple(row))
        if k is None:
            raise ValueError(f"data holds a count vector that is not an output state of the "
                             f"model: {row}")
        out.append(k)
    return torch.tensor(out, dtype=torch.long)
