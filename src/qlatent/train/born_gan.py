"""Adversarial training of a Born machine: the QGAN of Zoufal, Lucchi & Woerner
(arXiv:1904.00043), a parametrised circuit whose measurement distribution is the generator,
against a classical discriminator that sees samples.

Notation:
    n qubits, K = 2^n basis states x (bit vectors, qubit 0 the most significant bit, as
    ``qlatent.quantum.qubits``); p_θ the Born machine's exact distribution over them; D_φ the
    discriminator, a logit (D = σ(D_φ) the probability "real"); B the batch size.

One update (Zoufal et al.'s losses, the non-saturating GAN of Goodfellow et al.,
arXiv:1406.2661), per batch of B training rows x_i:

    discriminator: L_D(φ) = (1/B) sum_i softplus(-D_φ(x_i)) + (1/B) sum_i softplus(D_φ(g_i)),
                   g_i ~ p_θ (B measured samples of the circuit: D sees samples, never p_θ);
    generator:     L_G(θ) = -E_{x~p_θ} log σ(D_φ(x)) = sum_{x in {0,1}^n} p_θ(x) softplus(-D_φ(x)),

the generator's expectation taken EXACTLY over the K basis states, and its gradient
∂L_G/∂θ = sum_x (∂p_θ(x)/∂θ) softplus(-D_φ(x)) by autograd through the exact probabilities. This
is the estimator Zoufal et al.'s implementation uses in effect (the batch loss weighted by the
generated probabilities) without its sampling noise: exact and honest for a Born machine small
enough to list its states (K evaluations of D per update; here at most 2^16). On hardware the
same gradient would come from the parameter-shift rule on shots
(``LayeredAnsatz.shot_probabilities``).

The discriminator is updated first on each batch, then the generator (one each); an epoch is
one pass over the training rows, shuffled, in batches of B (the last one may be smaller).
Both optimisers are Adam (AMSGrad by default, as Zoufal et al.).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qlatent._random import RngLike, as_generator, seed_int, torch_generator
from qlatent._validation import check_bits, check_float, check_int
from qlatent.quantum.qubits import basis_bits, sample_indices


@dataclass
class BornGANResult:
    """What :func:`fit_born_gan` returns.

    Attributes:
        history: one dict per epoch: ``epoch``, ``step`` (updates so far),
            ``loss_discriminator`` and ``loss_generator`` (means over the epoch's updates),
            ``probabilities`` (p_θ after the epoch, a list of K floats in basis order),
            ``seconds``.
        steps: updates done (each one discriminator and one generator step).
        seconds: wall time.
    """

    history: list[dict[str, Any]]
    steps: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def near_uniform_weights(ansatz: nn.Module, *, spread: float = 0.1,
                         rng: RngLike = None) -> nn.Module:
    """Set a ``LayeredAnsatz``'s weights (in place) so that it starts near the uniform
    distribution, our counterpart of Zoufal et al.'s "uniform initialisation" (Hadamards in
    front of a circuit with small random angles).

    Every angle ~ U[-spread, spread], plus π/2 on the θ of the last rotation layer: at
    spread = 0 the earlier layers leave |0...0> unchanged (CNOTs permute it onto itself) and the
    last one makes |+>^n, the uniform distribution over the 2^n states.

    Args:
        ansatz: a module with ``weights`` float[d + 1, n, 3] (φ, θ, ω per layer and qubit).
        spread: >= 0.
        rng: seed or numpy Generator of the random angles.

    Returns:
        ``ansatz``.
    """
    spread = check_float("spread", spread, minimum=0.0)
    w = getattr(ansatz, "weights", None)
    if not isinstance(w, torch.Tensor) or w.dim() != 3 or w.shape[-1] != 3:
        raise TypeError("ansatz must have weights float[layers + 1, n_qubits, 3] (a "
                        f"LayeredAnsatz), got {type(ansatz).__name__}")
    values = as_generator(rng).uniform(-spread, spread, tuple(w.shape))
    values[-1, :, 1] += np.pi / 2
    with torch.no_grad():
        w.copy_(torch.from_numpy(values))
    return ansatz


def _scores(discriminator: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = discriminator(x)
    if not isinstance(out, torch.Tensor) or out.numel() != x.shape[0]:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the discriminator must return one logit per sample ({x.shape[0]}), "
                         f"got {got}")
    return out.reshape(-1)


def fit_born_gan(born: nn.Module, discriminator: nn.Module, data: Any, *, seed: int,
                 epochs: int = 20, batch_size: int = 2000, lr_generator: float = 3e-3,
                 lr_discriminator: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 amsgrad: bool = True,
                 on_epoch: Callable[[int, dict[str, Any]], None] | None = None
                 ) -> BornGANResult:
    """Train the Born machine ``born`` adversarially against ``discriminator`` on ``data``.

    See the module docstring for the losses and the exact generator expectation.

    Args:
        born: an ``nn.Module`` with ``n_qubits`` and ``probabilities() -> real Tensor[2^n]``
            (exact, differentiable; e.g. ``qlatent.quantum.qubits.LayeredAnsatz``); trained in
            place.
        discriminator: an ``nn.Module`` mapping float bit vectors [B, n] to logits [B] or
            [B, 1] (e.g. ``qlatent.models.MLP(n, 1)``); trained in place.
        data: the training rows, 0/1 [N, n] (e.g. ``qlatent.data.log_normal().sample(20000,
            generator=...)``: Zoufal et al. train on 20,000 samples).
        seed: seeds the shuffling and the generator's samples (two streams spawned from
            ``SeedSequence([seed, 0x2B06])``).
        epochs: passes over the data (Zoufal et al.: 20).
        batch_size: B (Zoufal et al.: 2,000).
        lr_generator, lr_discriminator: Adam's learning rates (> 0).
        betas: Adam's (β₁, β₂).
        amsgrad: use AMSGrad (Zoufal et al. do).
        on_epoch: called as ``on_epoch(epoch, row)`` after each epoch's history row.

    Returns:
        A :class:`BornGANResult`.
    """
    for name, mod in (("born", born), ("discriminator", discriminator)):
        if not isinstance(mod, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(mod).__name__}")
    if not callable(getattr(born, "probabilities", None)) or not hasattr(born, "n_qubits"):
        raise TypeError("born must have `n_qubits` and `probabilities()` (exact Born "
                        f"probabilities), got {type(born).__name__}")
    n = int(born.n_qubits)
    rows = check_bits("data", data, width=n)
    seed = check_int("seed", seed, minimum=0)
    epochs = check_int("epochs", epochs, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr_generator = check_float("lr_generator", lr_generator, minimum=0.0)
    lr_discriminator = check_float("lr_discriminator", lr_discriminator, minimum=0.0)
    betas = tuple(check_float(f"betas[{i}]", b, minimum=0.0, maximum=1.0)
                  for i, b in enumerate(betas))
    if len(betas) != 2:
        raise ValueError(f"betas must hold two numbers (beta1, beta2), got {betas!r}")
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError(f"on_epoch must be a callable f(epoch, row) or None, got {on_epoch!r}")

    probs = born.probabilities()
    K = 1 << n
    if not isinstance(probs, torch.Tensor) or tuple(probs.shape) != (K,):
        got = tuple(probs.shape) if isinstance(probs, torch.Tensor) else type(probs).__name__
        raise ValueError(f"born.probabilities() must return a Tensor[{K}] (2^n_qubits), got "
                         f"{got}")
    device = probs.device
    dtype = next((p.dtype for p in discriminator.parameters()), torch.float32)
    discriminator.to(device)
    states = basis_bits(n, device=device).to(dtype)  # [K, n], basis order
    real_all = torch.from_numpy(rows).to(device=device, dtype=dtype)
    shuffle_seed, fake_seed = (seed_int(s) for s in
                               np.random.SeedSequence([seed, 0x2B06]).spawn(2))
    shuffle, fake_stream = torch_generator(shuffle_seed), torch_generator(fake_seed, device)
    opt_g = torch.optim.Adam([p for p in born.parameters() if p.requires_grad],
                             lr=lr_generator, betas=betas, amsgrad=amsgrad)
    opt_d = torch.optim.Adam([p for p in discriminator.parameters() if p.requires_grad],
                             lr=lr_discriminator, betas=betas, amsgrad=amsgrad)
    history: list[dict[str, Any]] = []
    step, t0 = 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(rows), generator=shuffle).to(device)
        sums, count = [0.0, 0.0], 0
        for start in range(0, len(rows), batch_size):
            real = real_all.index_select(0, order[start:start + batch_size])
            # ---- discriminator: the real batch against as many measured samples of p_θ
            with torch.no_grad():
                p = born.probabilities()
            fake = states.index_select(0, sample_indices(p, real.shape[0],
                                                         generator=fake_stream))
            d = _scores(discriminator, torch.cat((real, fake)))
            d_real, d_fake = d[:real.shape[0]], d[real.shape[0]:]
            loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # ---- generator: the exact expectation over the K basis states
            with torch.no_grad():
                penalty = F.softplus(-_scores(discriminator, states))
            p = born.probabilities()
            loss_g = (p * penalty.to(p.dtype)).sum()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            sums[0] += float(loss_d.detach())
            sums[1] += float(loss_g.detach())
            count += 1
            step += 1
        with torch.no_grad():
            p_end = born.probabilities().detach().cpu().double().tolist()
        row = {"epoch": epoch, "step": step, "loss_discriminator": sums[0] / count,
               "loss_generator": sums[1] / count, "probabilities": p_end,
               "seconds": round(time.perf_counter() - t0, 3)}
        history.append(row)
        if on_epoch is not None:
            on_epoch(epoch, dict(row))
    return BornGANResult(history=history, steps=step, seconds=time.perf_counter() - t0)
