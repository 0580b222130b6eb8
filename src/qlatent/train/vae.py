"""Training the discrete VAE (``qlatent.models.vae.DiscreteVAE``): ``fit_vae``.

Objective: maximise the ELBO  E_q[log p(x | z)] - KL(q(z | x) || p(z))  with Adam, minibatches
drawn from a torch generator.

* Reconstruction term: one sample per row by the straight-through binary concrete (Gumbel)
  estimator (Maddison et al. 2017; Jang et al. 2017): with u ~ U(0, 1) and
  g = log u - log(1 - u), the hard sample z = [l + g > 0] is exactly Bernoulli(sigmoid(l)),
  the relaxed sample is z~ = sigmoid((l + g) / τ), and the decoder reads
  z = hard + (z~ - stop_grad(z~)): forward the hard bits, backward the relaxation's gradient
  (temperature τ, default ``TEMPERATURE`` = 2/3, Maddison et al.'s advice for binary
  variables). Why this one and not Rolfe's spike-and-exponential: the decoder then sees hard
  bits in training as in the IWAE evaluation, so nothing changes between the two, and the prior
  is only ever asked about bit vectors.
* Prior term: with n <= 12 units, KL(q || p) = sum_s q(s | x) (log q(s | x) - log p(s)) is summed
  exactly over the 2^n states from one ``prior.log_prob`` call on all of them. So the encoder
  gets the exact gradient of the KL (no sampling noise in it) and the prior's parameters the
  exact gradient of E_q[log p(z)] = sum_s q(s | x) log p(s), through the prior's own
  differentiable ``log_prob``: for ``qbm``/``bm`` the analytic derivative of log P
  (``qlatent.quantum.ising``), for a qubit Born machine autograd through the state vector, for
  ``bernoulli_fit`` the closed form. The prior has its own learning rate (``prior_lr``).

The loop is the skeleton's (``qlatent.train.skeleton``: checkpoint + bit-identical resume,
``log.jsonl``, callbacks, progress, a guard naming the step of a non-finite loss).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qlatent._random import torch_generator
from qlatent._validation import check_float, check_int
from qlatent.models.vae import DiscreteVAE
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

#: Default temperature of the binary concrete relaxation (Maddison et al. 2017: 2/3 for bits).
TEMPERATURE = 2.0 / 3.0


@dataclass(frozen=True)
class VAEConfig(LoopConfig):
    """What ``fit_vae`` trains: Adam on the negative ELBO, minibatches drawn with replacement.

    How this process runs it (seed, run directory, progress) are arguments of ``fit_vae``.
    """

    steps: int = 2000
    """Adam steps (>= 1)."""
    log_every: int = 100
    """Steps between log rows; a row holds the ELBO averaged over the steps since the previous
    one."""
    batch_size: int = 64
    """Rows per step, drawn with replacement."""
    lr: float = 1e-3
    """Adam's learning rate of the encoder and decoder."""
    prior_lr: float | None = None
    """Adam's learning rate of the prior's parameters (``None``: ``lr``)."""
    temperature: float = TEMPERATURE
    """τ > 0 of the binary concrete relaxation."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("lr", self.lr, minimum=0.0)
        if self.prior_lr is not None:
            check_float("prior_lr", self.prior_lr, minimum=0.0)
        if not check_float("temperature", self.temperature) > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")


def relaxed_bernoulli(logits: torch.Tensor, temperature: float, *,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Straight-through binary concrete sample: float32 [B, n] equal to hard 0/1 bits
    z ~ Bernoulli(sigmoid(logits)), whose gradient is that of sigmoid((logits + g) / τ),
    g logistic noise."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device)
    u = u.clamp(1e-7, 1 - 1e-7)
    noisy = logits + torch.log(u) - torch.log1p(-u)
    soft = torch.sigmoid(noisy / temperature)
    hard = (noisy > 0).to(soft.dtype)
    return hard + (soft - soft.detach())


def elbo(model: DiscreteVAE, x: torch.Tensor, *, temperature: float = TEMPERATURE,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """One-sample ELBO of each row (float64 [B], nats): log p(x | z) at a straight-through
    relaxed sample z, minus the exact KL(q(z | x) || p(z)). Differentiable in every parameter,
    the prior's included."""
    logits = model.encode(x)
    z = relaxed_bernoulli(logits, temperature, generator=generator)
    recon = model.decoder_log_prob(x, z).to(torch.float64)
    return recon - model.kl_to_prior(logits, model.prior_log_probs())


def fit_vae(model: DiscreteVAE, data: Any, config: VAEConfig = VAEConfig(), *, seed: int,
            test_data: Any = None, run_dir: str | Path | None = None, resume: bool = True,
            progress: bool = False, callbacks: Sequence[Callback] = ()) -> FitResult:
    """Train encoder, decoder and prior together by Adam on the negative ELBO.

    Args:
        model: a ``DiscreteVAE`` (trained in place).
        data: 0/1 rows [N, D] (tensor or array).
        config: a ``VAEConfig``.
        seed: seeds the ``torch.Generator`` of the minibatches and the relaxation noise.
        test_data: optional 0/1 rows [M, D] whose ELBO is computed after every log row's
            step (``extra["test_elbo"]``: exact KL, one sample of the reconstruction term
            drawn from a generator of its own, seeded by ``seed`` and the step, so it never
            changes the training).
        run_dir: folder of ``checkpoint.pt`` and ``log.jsonl`` (``None``: neither is written).
        resume: continue from ``run_dir/checkpoint.pt`` when it exists (same seed; the config
            may differ only in ``steps``, ``log_every`` and ``checkpoint_every``).
        progress: show progress (a bar on a terminal, plain lines otherwise).
        callbacks: ``f(step, info)`` after every step (``info["row"]``: the log row on log
            steps); an exception there stops training (the last checkpoint stays).

    Returns:
        A ``FitResult``: ``history`` rows hold ``step``, ``elbo`` (the minibatch ELBO in nats,
        averaged over the steps since the previous row) and ``seconds``;
        ``extra["test_elbo"]`` one number per row when ``test_data`` is given.

    Raises:
        TypeError / ValueError: a bad argument, checked before the first step.
        NonFiniteError (a FloatingPointError): the loss turned non-finite (names the step).
    """
    trainer = VAETrainer(model, data, config, seed=seed, test_data=test_data)
    (result,) = train(trainer, config, run_dir=run_dir, resume=resume, progress=progress,
                      callbacks=callbacks)
    if trainer.test is not None:
        result.extra["test_elbo"] = [v for _, v in trainer.test_curve]
    return result


class VAETrainer(Trainer):
    """``fit_vae``'s step on the loop skeleton (every argument checked when it is made).

    Args: those of ``fit_vae``.
    """

    keys = ("elbo",)
    description = "fit_vae"
    checkpoint_keys = ("seed", "model")

    def __init__(self, model: DiscreteVAE, data: Any, config: VAEConfig, *, seed: int,
                 test_data: Any = None) -> None:
        if not isinstance(model, DiscreteVAE):
            raise TypeError(f"model must be a DiscreteVAE, got {type(model).__name__}")
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        self.seed = check_int("seed", seed, minimum=0)
        self.data = model.check_data(data, "data")
        self.test = None if test_data is None else model.check_data(test_data, "test_data")
        self.model, self.config = model, config
        self.device = next(model.parameters()).device
        prior_params = [p for p in model.prior.parameters() if p.requires_grad]
        prior_ids = {id(p) for p in prior_params}
        net_params = [p for p in model.parameters() if p.requires_grad and id(p) not in prior_ids]
        groups = [{"params": net_params, "lr": config.lr}]
        if prior_params:
            groups.append({"params": prior_params,
                           "lr": config.lr if config.prior_lr is None else config.prior_lr})
        self.optimizer = torch.optim.Adam(groups)
        self.generator = torch_generator(self.seed)
        self.test_curve: list[tuple[int, float]] = []

    def step(self, step: int) -> torch.Tensor:
        idx = torch.randint(0, self.data.shape[0], (self.config.batch_size,),
                            generator=self.generator)
        value = elbo(self.model, self.data[idx], temperature=self.config.temperature,
                     generator=self.generator).mean()
        if not bool(torch.isfinite(value.detach())):
            raise NonFiniteError(self.description, step, "the negative ELBO")
        self.optimizer.zero_grad(set_to_none=True)
        (-value).backward()
        self.optimizer.step()
        if self.test is not None and (step % self.config.log_every == 0
                                      or step == self.config.steps):
            noise = torch_generator(int(np.random.SeedSequence([self.seed, 0x7E57, step])
                                        .generate_state(1, np.uint64)[0] >> 1))
            with torch.no_grad():
                self.test_curve.append((step, float(elbo(
                    self.model, self.test, temperature=self.config.temperature,
                    generator=noise).mean())))
        return value.detach().double().reshape(1)

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(),
                "test_curve": [[s, v] for s, v in self.test_curve]}

    def load_state_dict(self, state: Mapping[str, Any], path: Path) -> None:
        with restoring(path, "VAE"):
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.generator.set_state(state["generator"])
        self.test_curve = [(int(s), float(v)) for s, v in state.get("test_curve", [])]

    def check_resumable(self, state: Mapping[str, Any], config: Any, path: Path) -> None:
        check_resumable(state, config, self.seed, path)  # the seed too, as fit's
