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
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from qlatent._random import check_generator
from qlatent._validation import check_float, check_int
from qlatent.models.vae import DiscreteVAE

#: Default temperature of the binary concrete relaxation (Maddison et al. 2017: 2/3 for bits).
TEMPERATURE = 2.0 / 3.0


@dataclass
class VAEFit:
    """What ``fit_vae`` returns: ``history`` rows {"step", "elbo" (mean over the minibatch,
    nats), "seconds"} and, where ``test_data`` was given, "test_elbo" (exact KL, one sample of
    the reconstruction term); ``seconds`` in total."""

    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


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


def fit_vae(model: DiscreteVAE, data: Any, *, steps: int = 2000, batch_size: int = 64,
            lr: float = 1e-3, prior_lr: float | None = None,
            temperature: float = TEMPERATURE, generator: torch.Generator,
            test_data: Any = None, log_every: int = 100) -> VAEFit:
    """Train encoder, decoder and prior together by Adam on the negative ELBO.

    Args:
        model: a ``DiscreteVAE``.
        data: 0/1 rows [N, D] (tensor or array).
        steps: Adam steps (>= 0); batch_size: rows per step, drawn with replacement.
        lr: Adam's learning rate for the networks; prior_lr: for the prior (None: ``lr``).
        temperature: τ > 0 of the relaxation.
        generator: the ``torch.Generator`` of the minibatches and the relaxation noise.
        test_data: optional 0/1 rows [M, D] whose ELBO is logged every ``log_every`` steps.
        log_every: history interval (>= 1).

    Raises:
        TypeError / ValueError: a bad argument, checked before the first step.
        FloatingPointError: the loss became non-finite.
    """
    if not isinstance(model, DiscreteVAE):
        raise TypeError(f"model must be a DiscreteVAE, got {type(model).__name__}")
    check_generator(generator)
    data = model.check_data(data, "data")
    test = None if test_data is None else model.check_data(test_data, "test_data")
    steps = check_int("steps", steps, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr = check_float("lr", lr, minimum=0.0)
    prior_lr = lr if prior_lr is None else check_float("prior_lr", prior_lr, minimum=0.0)
    temperature = check_float("temperature", temperature, minimum=0.0)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_every = check_int("log_every", log_every, minimum=1)
    prior_params = [p for p in model.prior.parameters() if p.requires_grad]
    prior_ids = {id(p) for p in prior_params}
    net_params = [p for p in model.parameters() if p.requires_grad and id(p) not in prior_ids]
    groups = [{"params": net_params, "lr": lr}]
    if prior_params:
        groups.append({"params": prior_params, "lr": prior_lr})
    opt = torch.optim.Adam(groups)
    result = VAEFit()
    start = time.perf_counter()
    for step in range(1, steps + 1):
        idx = torch.randint(0, data.shape[0], (batch_size,), generator=generator)
        loss = -elbo(model, data[idx], temperature=temperature, generator=generator).mean()
        if not math.isfinite(float(loss.detach())):
            raise FloatingPointError(f"fit_vae: the negative ELBO is {float(loss.detach())} at "
                                     f"step {step} (lower lr?)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps:
            row = {"step": step, "elbo": -float(loss.detach()),
                   "seconds": time.perf_counter() - start}
            if test is not None:
                with torch.no_grad():
                    row["test_elbo"] = float(elbo(model, test, temperature=temperature,
                                                  generator=generator).mean())
            result.history.append(row)
    result.seconds = time.perf_counter() - start
    return result
