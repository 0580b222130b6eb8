"""Fitting a trainable discrete distribution to samples: exact NLL / KL or MMD, with Adam or
L-BFGS.

The model is anything with parameters and ``log_prob(counts) -> Tensor[B]`` (e.g.
``qlatent.latents.BornLatent`` on photon counts, ``qlatent.latents.QubitBornLatent`` on bit
vectors). MMD also uses ``output_distribution() -> (states, probs)`` (exact model side, small
Fock spaces, every qubit model), ``sample_counts(n, *, generator)`` (samples; the gradient then
goes through ``log_prob`` by the score function) or ``shot_distribution(n_shots, *, generator)``
(qubit models: N-shot histograms, gradients by the parameter-shift rule, as on hardware).

Notation:
    x_i (i = 1..N): data count vectors int[m]; p_θ: the model; B the batch size.
    NLL(θ) = -(1/B) sum_i log p_θ(x_i) (minimising it minimises KL(data || p_θ)).
    KL(q || p_θ) = sum_x q(x) log(q(x) / p_θ(x)), q the empirical distribution of the data
        (exact, over the distinct data rows; no clip in training: a data row of probability 0
        makes it infinite, which stops the fit with FloatingPointError).
    Kernel (a mixture of Gaussians on count or bit vectors, bandwidths σ_1..σ_L, declared here):
        k(x, y) = (1/L) sum_l exp(-||x - y||^2 / (2 σ_l^2)),
        ``DEFAULT_BANDWIDTHS`` σ = (0.5, 1, 2, 4) (||x - y||^2 is 2 when one photon moves; on
        bit vectors it is the Hamming distance).
        Liu & Wang (arXiv:1804.04168; their code ``gbm/mmd.py``) write the exponent as
        -γ ||x - y||^2 with γ = 1/(2σ'), σ' in (0.5, 1, 2, 4) for bars and stripes: the same
        kernel as ours with σ = sqrt(σ'), i.e. ``LIU_WANG_BANDWIDTHS``, and a sum where we take
        the mean (a factor L = 4 on the loss, none on the minimiser).
    MMD^2(p, q) = E_{x,x'~p} k(x, x') - 2 E_{x~p, y~q} k(x, y) + E_{y,y'~q} k(y, y')
    (Gretton et al., JMLR 13, 723 (2012)).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from qlatent._validation import check_bits_tensor, check_choice, check_float, check_int

DEFAULT_BANDWIDTHS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
#: Liu & Wang's bars-and-stripes kernel in our convention: σ = sqrt(σ'), σ' = 0.5, 1, 2, 4.
LIU_WANG_BANDWIDTHS: tuple[float, ...] = tuple(math.sqrt(s) for s in (0.5, 1.0, 2.0, 4.0))
LIKELIHOOD_LOSSES = ("nll", "kl", "mmd", "bound")
MODEL_SIDES = ("auto", "exact", "samples", "shots")
OPTIMIZERS = ("adam", "lbfgs")
#: the exact model side builds a K x K kernel matrix; "auto" uses it up to this many states.
MMD_EXACT_MAX_STATES = 5_000


def _check_bandwidths(bandwidths: Any) -> tuple[float, ...]:
    if isinstance(bandwidths, (int, float)):
        bandwidths = (bandwidths,)
    bw = tuple(check_float("bandwidths[i]", b, minimum=0.0) for b in bandwidths)
    if not bw or min(bw) <= 0:
        raise ValueError(f"bandwidths must be one or more positive numbers, got {bandwidths!r}")
    return bw


def gaussian_kernel(x: torch.Tensor, y: torch.Tensor,
                    bandwidths: Any = DEFAULT_BANDWIDTHS) -> torch.Tensor:
    """k(x_i, y_j) = (1/L) sum_l exp(-||x_i - y_j||^2 / (2 σ_l^2)): float64 Tensor[N, M].

    Args:
        x (Tensor[N, m]), y (Tensor[M, m]): count vectors (any real or integer dtype).
        bandwidths: σ_1..σ_L > 0.
    """
    bw = _check_bandwidths(bandwidths)
    x, y = x.to(torch.float64), y.to(torch.float64)
    d2 = (x.square().sum(1)[:, None] + y.square().sum(1)[None, :] - 2 * x @ y.T).clamp_min(0)
    return sum(torch.exp(-d2 / (2 * s * s)) for s in bw) / len(bw)


def mmd2(x: Any, y: Any, bandwidths: Any = DEFAULT_BANDWIDTHS) -> float:
    """Unbiased estimate of MMD^2 between two samples (the U-statistic, may be slightly < 0).

    MMD^2_u = 1/(N(N-1)) sum_{i≠i'} k(x_i, x_i') + 1/(M(M-1)) sum_{j≠j'} k(y_j, y_j')
              - 2/(NM) sum_{i,j} k(x_i, y_j)   (Gretton et al. 2012, eq. 3).

    Args:
        x (int or float [N, m]), y ([M, m]): N, M >= 2.
    """
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(len(x), len(y)) < 2:
        raise ValueError(f"x and y must be [N, m] and [M, m] with N, M >= 2, got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    N, M = len(x), len(y)
    kxx = gaussian_kernel(x, x, bandwidths)
    kyy = gaussian_kernel(y, y, bandwidths)
    kxy = gaussian_kernel(x, y, bandwidths)
    return float((kxx.sum() - kxx.diagonal().sum()) / (N * (N - 1))
                 + (kyy.sum() - kyy.diagonal().sum()) / (M * (M - 1)) - 2 * kxy.mean())


def exact_mmd2(states: torch.Tensor, p: torch.Tensor, q: torch.Tensor,
               bandwidths: Any = DEFAULT_BANDWIDTHS) -> torch.Tensor:
    """MMD^2 between two distributions on the same states: (p - q)^T K (p - q).

    Args:
        states (int Tensor[K, m]); p, q (float Tensor[K]); differentiable in p and q.
    """
    K = gaussian_kernel(states, states, bandwidths).to(p.dtype)
    d = p - q.to(p.dtype)
    return d @ (K @ d)


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


@dataclass
class LikelihoodFit:
    """What :func:`fit_distribution` returns.

    Attributes:
        history: one dict per logged step: step, loss (NLL of the batch, or the MMD^2 estimate),
            seconds since the start.
        seconds: wall time of the whole fit.
    """

    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


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


def _check_finite_parameters(model: torch.nn.Module, step: int) -> None:
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise FloatingPointError(f"fit_distribution: parameter {name!r} became non-finite "
                                     f"at step {step} (lower lr?)")


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


def fit_distribution(model: torch.nn.Module, data: Any, *, loss: str = "nll", steps: int,
                     lr: float | None = None, batch_size: int | None = 256, weights: Any = None,
                     n_model_samples: int = 256, bandwidths: Any = DEFAULT_BANDWIDTHS,
                     model_side: str = "auto", optimizer: str = "adam",
                     generator: torch.Generator | None = None, log_every: int = 10,
                     callback: Callable[[int, torch.nn.Module], None] | None = None
                     ) -> LikelihoodFit:
    """Fit ``model``'s parameters to samples ``data`` with Adam or L-BFGS, in place.

    loss="nll": minimise NLL on minibatches of ``batch_size`` rows drawn with replacement
    (``None``: the whole data every step). With ``weights`` w (e.g. ``data`` = every state and
    w = a target distribution) the loss is the exact cross-entropy -sum_i w_i log p_θ(x_i) /
    sum_i w_i over all rows every step, and KL(w || p_θ) = that - H(w).

    loss="bound": minimise the mean of ``model.bound_loss(batch)``, an upper bound on the NLL
    (Boltzmann machines: Amin et al.'s bound, ``qlatent.latents.BoltzmannLatent.bound_loss``);
    same minibatches as "nll"; ``weights`` are not supported.
    loss="kl": exact KL(q || p_θ) every step, q the (weighted) empirical distribution of all of
    ``data`` (``batch_size`` is not used); the same minimiser as full-batch NLL, logged as KL.

    loss="mmd": minimise MMD^2(p_θ, data) with the kernel of the module docstring.
      * model side "exact" (needs ``model.output_distribution()``; "auto" picks it up to
        ``MMD_EXACT_MAX_STATES`` states): the loss is (p_θ - q)^T K (p_θ - q) with q the
        empirical distribution of *all* of ``data`` on the model's states (V-statistic), exact
        gradients by autograd.
      * model side "samples": per step M = ``n_model_samples`` exact samples x_i of p_θ
        (``model.sample_counts``) and a data minibatch y; since ∇_θ E_p[f] = E_p[f ∇ log p_θ],
        ∇ MMD^2 = 2 E_x[h(x) ∇ log p_θ(x)] with h(x) = E_{x'} k(x, x') - E_y k(x, y); we
        backpropagate (2/M) sum_i (h_i - b_i) log p_θ(x_i) with h_i from the other samples and
        the leave-one-out baseline b_i (mean of h over the other samples) to cut variance.
        ``weights`` are not supported here (use the exact side).
      * model side "shots" (needs ``model.shot_distribution(n, generator=...)``, e.g. a qubit
        Born machine): the loss is (p̂ - q)^T K (p̂ - q) with p̂ the histogram of
        N = ``n_model_samples`` shots, and its gradient the parameter-shift rule on fresh N-shot
        histograms of the shifted circuits (Liu & Wang's hardware-compatible estimator).

    optimizer="adam" (lr default 0.02) or "lbfgs": SciPy's L-BFGS-B (``scipy.optimize.minimize``,
    as Liu & Wang; no lr; ``steps`` iterations at most, each a line search of one or more
    evaluations; ftol = gtol = 0, so it stops early only when the line search can make no more
    progress, and the scale of the loss (MMD^2 reaches 1e-8) never stops it). L-BFGS needs an
    exact, deterministic loss: "kl", "nll" on all the data (``batch_size=None`` or
    ``weights``), or "mmd" with the exact model side. (``torch.optim.LBFGS`` was tried first: its
    absolute tolerances stalled a 9-qubit MMD fit at its second iteration.)

    Args:
        model: an ``nn.Module`` with parameters and ``log_prob(counts)``.
        data (int [N, m] counts, tensor or array).
        loss: "nll", "kl", "mmd" or "bound".
        steps: optimiser steps (>= 0; L-BFGS: iterations).
        lr: Adam's learning rate (None: 0.02); not taken by L-BFGS.
        batch_size: data rows per step (None: all).
        weights (float [N] >= 0, optional): weights of the data rows (NLL: full weighted batch;
            MMD exact side: the weighted histogram q).
        n_model_samples: model samples per step (MMD by samples).
        bandwidths: kernel σ's (MMD).
        model_side: "auto", "exact", "samples" or "shots" (MMD).
        optimizer: "adam" or "lbfgs".
        generator: torch.Generator for minibatches and model samples (None: torch's default).
        log_every: record the loss every this many steps (and at the last).
        callback: called as callback(step, model) after each logged step.

    Returns:
        :class:`LikelihoodFit`.

    Raises:
        FloatingPointError: the loss or a parameter is not finite; names the step (and the
            parameter).
    """
    check_choice("loss", loss, LIKELIHOOD_LOSSES)
    check_choice("model_side", model_side, MODEL_SIDES)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    steps = check_int("steps", steps, minimum=0)
    if optimizer == "lbfgs" and lr is not None:
        raise ValueError(f"lr does not apply to optimizer='lbfgs' (L-BFGS-B chooses its steps by "
                         f"a line search), got lr={lr}")
    lr = check_float("lr", 0.02 if lr is None else lr, minimum=0.0)
    log_every = check_int("log_every", log_every, minimum=1)
    n_model_samples = check_int("n_model_samples", n_model_samples, minimum=2)
    bandwidths = _check_bandwidths(bandwidths)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got "
                        f"{type(generator).__name__}")
    if not hasattr(model, "log_prob"):
        raise TypeError(f"model must have a log_prob method, got {type(model).__name__}")
    if loss == "bound" and not hasattr(model, "bound_loss"):
        raise TypeError(f"loss='bound' needs model.bound_loss(batch), {type(model).__name__} has "
                        "none")
    data = _check_counts_data(data, model)
    if loss == "bound" and weights is not None:
        raise ValueError("weights apply to loss='nll' and to MMD, not to loss='bound'")
    if weights is not None:
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != (data.shape[0],) or not torch.isfinite(weights).all() or bool(
                (weights < 0).any()) or float(weights.sum()) <= 0:
            raise ValueError(f"weights must be {data.shape[0]} finite non-negative numbers with "
                             f"a positive sum (one per data row), got shape "
                             f"{tuple(weights.shape)}")
        weights = weights / weights.sum()
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"model must have trainable parameters, {type(model).__name__} has none")
    dtype = params[0].dtype
    N = data.shape[0]

    exact = False
    if loss == "mmd":
        has_dist = hasattr(model, "output_distribution")
        if model_side == "exact" and not has_dist:
            raise TypeError("model_side='exact' needs model.output_distribution()")
        if model_side == "samples" and not hasattr(model, "sample_counts"):
            raise TypeError("model_side='samples' needs model.sample_counts(n, generator=...)")
        if model_side == "shots" and not hasattr(model, "shot_distribution"):
            raise TypeError("model_side='shots' needs model.shot_distribution(n, generator=...) "
                            f"(a qubit Born machine), {type(model).__name__} has none")
        if model_side == "auto":
            size = getattr(model, "n_states", None)
            if size is None and has_dist and hasattr(model, "dim") and hasattr(model,
                                                                              "n_photons"):
                size = math.comb(model.dim + model.n_photons - 1, model.n_photons)
            exact = has_dist and size is not None and size <= MMD_EXACT_MAX_STATES
        else:
            exact = model_side == "exact"
        shots = model_side == "shots"
        if not exact and weights is not None and not shots:
            raise ValueError("weights apply to loss='nll' and to MMD with the exact model side, "
                             "not to MMD by samples")
        if exact or shots:
            with torch.no_grad():
                states, _ = (model.output_distribution() if exact
                             else model.shot_distribution(1, generator=generator))
            q = torch.bincount(_state_index(states, data), minlength=states.shape[0],
                               weights=weights).to(torch.float64)
            q = q / q.sum()
            kernel = gaussian_kernel(states, states, bandwidths)
    if loss == "kl":
        distinct, inverse = torch.unique(data, dim=0, return_inverse=True)
        q_kl = torch.bincount(inverse, minlength=distinct.shape[0], weights=weights).to(
            torch.float64)
        q_kl = q_kl / q_kl.sum()
        entropy = float(-(q_kl * q_kl.log()).sum())
    if optimizer == "lbfgs":
        deterministic = (loss == "kl" or (loss == "nll" and (batch_size is None
                                                             or weights is not None))
                         or (loss == "mmd" and exact))
        if not deterministic:
            raise ValueError("optimizer='lbfgs' needs an exact, deterministic loss: loss='kl', "
                             "loss='nll' with batch_size=None (or weights), or loss='mmd' with "
                             f"the exact model side; got loss={loss!r}, model_side="
                             f"{model_side!r}, batch_size={batch_size}")
    else:
        opt = torch.optim.Adam(params, lr=lr)

    def draw_batch() -> torch.Tensor:
        if batch_size is None:
            return data
        idx = torch.randint(0, N, (batch_size,), generator=generator)
        return data[idx]

    def evaluate() -> tuple[torch.Tensor, torch.Tensor]:
        """(objective to differentiate, value to log)."""
        if loss == "kl":
            objective = -(model.log_prob(distinct) * q_kl.to(dtype)).sum()
            return objective, objective - entropy
        if loss == "nll" and weights is not None:
            objective = -(model.log_prob(data) * weights.to(dtype)).sum()
            return objective, objective
        if loss == "nll":
            objective = -model.log_prob(draw_batch()).mean()
            return objective, objective
        if loss == "bound":
            objective = model.bound_loss(draw_batch())
            return objective, objective
        if exact or shots:
            _, p = (model.output_distribution() if exact
                    else model.shot_distribution(n_model_samples, generator=generator))
            d = p - q.to(p.dtype)
            objective = d @ (kernel.to(p.dtype) @ d)
            return objective, objective
        return mmd_score_surrogate(
            model, model.sample_counts(n_model_samples, generator=generator), draw_batch(),
            bandwidths)

    def check_finite(objective: torch.Tensor, step: int) -> None:
        if not torch.isfinite(objective.detach()):
            raise FloatingPointError(f"fit_distribution: the {loss} loss is "
                                     f"{float(objective.detach())} at step {step} (data outside "
                                     "the model's support, or a diverging step)")

    if optimizer == "lbfgs":
        return _fit_lbfgs(model, params, evaluate, check_finite, steps=steps,
                          log_every=log_every, callback=callback)
    result = LikelihoodFit()
    start = time.perf_counter()
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        objective, value = evaluate()
        check_finite(objective, step)
        objective.backward()
        opt.step()
        _check_finite_parameters(model, step)
        if step % log_every == 0 or step == steps:
            result.history.append({"step": step, "loss": float(value.detach()),
                                   "seconds": time.perf_counter() - start})
            if callback is not None:
                callback(step, model)
    result.seconds = time.perf_counter() - start
    return result


def _fit_lbfgs(model: torch.nn.Module, params: list[torch.Tensor],
               evaluate: Callable[[], tuple[torch.Tensor, torch.Tensor]],
               check_finite: Callable[[torch.Tensor, int], None], *, steps: int,
               log_every: int, callback: Callable[[int, torch.nn.Module], None] | None
               ) -> LikelihoodFit:
    """SciPy's L-BFGS-B on the flattened parameters (float64), the loss and its gradient by
    autograd; logs the loss after each ``log_every``-th iteration (and after the last)."""
    from scipy.optimize import minimize

    sizes = [p.numel() for p in params]
    state: dict[str, Any] = {"step": 0, "last": (None, None)}  # last evaluated (x, value)

    def load(x: np.ndarray) -> None:
        with torch.no_grad():
            for p, chunk in zip(params, np.split(x, np.cumsum(sizes)[:-1]), strict=True):
                p.copy_(torch.from_numpy(chunk).reshape(p.shape).to(p.dtype))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        load(x)
        for p in params:
            p.grad = None
        objective, value = evaluate()
        check_finite(objective, state["step"] + 1)
        objective.backward()
        grad = np.concatenate([(p.grad if p.grad is not None else torch.zeros_like(p)).detach()
                               .cpu().double().numpy().ravel() for p in params])
        state["last"] = (x.copy(), float(value.detach()))
        return float(objective.detach()), grad

    result = LikelihoodFit()
    start = time.perf_counter()

    def log(step: int, x: np.ndarray) -> None:
        if state["last"][0] is None or not np.array_equal(state["last"][0], x):
            fun(x)  # the accepted point is usually the last one evaluated; if not, evaluate it
        result.history.append({"step": step, "loss": state["last"][1],
                               "seconds": time.perf_counter() - start})
        if callback is not None:
            load(x)
            callback(step, model)

    def on_iteration(intermediate_result: Any) -> None:
        state["step"] += 1
        x = np.asarray(intermediate_result.x, dtype=np.float64)
        if not np.isfinite(x).all():
            load(x)
            _check_finite_parameters(model, state["step"])
        if state["step"] % log_every == 0:
            log(state["step"], x)

    if steps > 0:
        x0 = np.concatenate([p.detach().cpu().double().numpy().ravel() for p in params])
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", callback=on_iteration,
                       options={"maxiter": steps, "maxfun": 50 * steps, "ftol": 0.0,
                                "gtol": 0.0})
        x = np.asarray(res.x, dtype=np.float64)
        load(x)
        if not result.history or result.history[-1]["step"] != state["step"]:
            log(state["step"], x)
    result.seconds = time.perf_counter() - start
    return result
