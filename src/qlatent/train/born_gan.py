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

The discriminator is updated first on each batch, then the generator (one each): one *step*.
The training rows are taken in shuffled passes (epochs) in batches of B; the last batch of a
pass may be smaller, so an epoch is ceil(N / B) steps (Zoufal et al.: 20 epochs of 20,000 rows
in batches of 2,000 = 200 steps). Both optimisers are Adam (AMSGrad by default, as Zoufal et
al.). The loop is the skeleton's (``qlatent.train.skeleton``: checkpoint + bit-identical
resume, ``log.jsonl``, callbacks, progress, a guard naming the step of a non-finite loss).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qlatent._random import RngLike, as_generator, seed_int, torch_generator
from qlatent._validation import check_bits, check_float, check_int
from qlatent.quantum.qubits import basis_bits, sample_indices
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


@dataclass(frozen=True)
class BornGANConfig(LoopConfig):
    """What ``fit_born_gan`` trains (its defaults are Zoufal et al.'s, but for ``steps``: their
    budget is 20 epochs, i.e. ``steps = 20 * ceil(N / batch_size)``).

    How this process runs it (seed, run directory, progress) are arguments of
    ``fit_born_gan``.
    """

    steps: int = 200
    """Steps, each one discriminator and one generator update (>= 1)."""
    log_every: int = 10
    """Steps between log rows (set it to the steps of an epoch for one row per epoch)."""
    batch_size: int = 2000
    """B: training rows per step, and as many samples of the Born machine."""
    lr_generator: float = 3e-3
    """Adam's learning rate of the Born machine's parameters (> 0)."""
    lr_discriminator: float = 1e-3
    """Adam's learning rate of the discriminator (> 0)."""
    betas: tuple[float, float] = (0.9, 0.999)
    """Adam's (β₁, β₂), both optimisers."""
    amsgrad: bool = True
    """Use AMSGrad (Zoufal et al. do)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("lr_generator", self.lr_generator, minimum=0.0)
        check_float("lr_discriminator", self.lr_discriminator, minimum=0.0)
        betas = tuple(self.betas)
        if len(betas) != 2:
            raise ValueError(f"betas must hold two numbers (beta1, beta2), got {self.betas!r}")
        object.__setattr__(self, "betas", tuple(
            check_float(f"betas[{i}]", b, minimum=0.0, maximum=1.0) for i, b in enumerate(betas)))
        if not isinstance(self.amsgrad, bool):
            raise TypeError(f"amsgrad must be true or false, got {self.amsgrad!r}")


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


def fit_born_gan(born: nn.Module, discriminator: nn.Module, data: Any,
                 config: BornGANConfig = BornGANConfig(), *, seed: int,
                 run_dir: str | Path | None = None, resume: bool = True,
                 progress: bool = False, callbacks: Sequence[Callback] = ()) -> FitResult:
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
        config: a ``BornGANConfig``.
        seed: seeds the shuffling and the generator's samples (two streams spawned from
            ``SeedSequence([seed, 0x2B06])``).
        run_dir: folder of ``checkpoint.pt`` and ``log.jsonl`` (``None``: neither is written).
        resume: continue from ``run_dir/checkpoint.pt`` when it exists (same seed; the config
            may differ only in ``steps``, ``log_every`` and ``checkpoint_every``).
        progress: show progress (a bar on a terminal, plain lines otherwise).
        callbacks: ``f(step, info)`` after every step (``info["row"]``: the log row on log
            steps); an exception there stops training (the last checkpoint stays).

    Returns:
        A ``FitResult``: ``history`` rows hold ``step``, ``loss_discriminator`` and
        ``loss_generator`` (means over the steps since the previous row) and ``seconds``;
        ``extra["probabilities"]`` holds p_θ after each row's step (a list of K floats in
        basis order per row).

    Raises:
        NonFiniteError (a FloatingPointError): a loss turned non-finite; names the step (the
            update that would have used it is not made).
    """
    trainer = BornGANTrainer(born, discriminator, data, config, seed=seed)
    (result,) = train(trainer, config, run_dir=run_dir, resume=resume, progress=progress,
                      callbacks=callbacks)
    result.extra["probabilities"] = [p for _, p in trainer.curve]
    return result


class BornGANTrainer(Trainer):
    """``fit_born_gan``'s step on the loop skeleton (every argument checked when it is made).

    Args: those of ``fit_born_gan``.
    """

    keys = ("loss_discriminator", "loss_generator")
    description = "fit_born_gan"
    checkpoint_keys = ("seed", "born", "discriminator")

    def __init__(self, born: nn.Module, discriminator: nn.Module, data: Any,
                 config: BornGANConfig, *, seed: int) -> None:
        if not isinstance(config, BornGANConfig):
            raise TypeError(f"config must be a BornGANConfig, got {type(config).__name__}")
        for name, mod in (("born", born), ("discriminator", discriminator)):
            if not isinstance(mod, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(mod).__name__}")
        if not callable(getattr(born, "probabilities", None)) or not hasattr(born, "n_qubits"):
            raise TypeError("born must have `n_qubits` and `probabilities()` (exact Born "
                            f"probabilities), got {type(born).__name__}")
        n = int(born.n_qubits)
        rows = check_bits("data", data, width=n)
        self.seed = check_int("seed", seed, minimum=0)
        probs = born.probabilities()
        K = 1 << n
        if not isinstance(probs, torch.Tensor) or tuple(probs.shape) != (K,):
            got = tuple(probs.shape) if isinstance(probs, torch.Tensor) else type(probs).__name__
            raise ValueError(f"born.probabilities() must return a Tensor[{K}] (2^n_qubits), "
                             f"got {got}")
        self.device = device = probs.device
        dtype = next((p.dtype for p in discriminator.parameters()), torch.float32)
        discriminator.to(device)
        self.born, self.discriminator, self.config = born, discriminator, config
        self.states = basis_bits(n, device=device).to(dtype)  # [K, n], basis order
        self.rows = torch.from_numpy(rows).to(device=device, dtype=dtype)
        shuffle_seed, fake_seed = (seed_int(s) for s in
                                   np.random.SeedSequence([self.seed, 0x2B06]).spawn(2))
        self.shuffle = torch_generator(shuffle_seed)
        self.fake_stream = torch_generator(fake_seed, device)
        self.opt_g = torch.optim.Adam([p for p in born.parameters() if p.requires_grad],
                                      lr=config.lr_generator, betas=config.betas,
                                      amsgrad=config.amsgrad)
        self.opt_d = torch.optim.Adam([p for p in discriminator.parameters() if p.requires_grad],
                                      lr=config.lr_discriminator, betas=config.betas,
                                      amsgrad=config.amsgrad)
        self.order = torch.zeros(0, dtype=torch.long)
        self.position = 0  # the next row of ``order`` (0: a new pass begins)
        self.curve: list[tuple[int, list[float]]] = []

    def _check(self, loss: torch.Tensor, step: int, what: str) -> None:
        if not bool(torch.isfinite(loss.detach())):
            raise NonFiniteError(self.description, step, what)

    def step(self, step: int) -> torch.Tensor:
        N, B = self.rows.shape[0], self.config.batch_size
        if self.position == 0:
            self.order = torch.randperm(N, generator=self.shuffle).to(self.device)
        real = self.rows.index_select(0, self.order[self.position:self.position + B])
        self.position = 0 if self.position + B >= N else self.position + B
        # ---- discriminator: the real batch against as many measured samples of p_θ
        with torch.no_grad():
            p = self.born.probabilities()
        fake = self.states.index_select(0, sample_indices(p, real.shape[0],
                                                          generator=self.fake_stream))
        d = _scores(self.discriminator, torch.cat((real, fake)))
        d_real, d_fake = d[:real.shape[0]], d[real.shape[0]:]
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        self._check(loss_d, step, "the discriminator's loss")
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # ---- generator: the exact expectation over the K basis states
        with torch.no_grad():
            penalty = F.softplus(-_scores(self.discriminator, self.states))
        p = self.born.probabilities()
        loss_g = (p * penalty.to(p.dtype)).sum()
        self._check(loss_g, step, "the generator's loss")
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if step % self.config.log_every == 0 or step == self.config.steps:
            with torch.no_grad():
                self.curve.append((step, self.born.probabilities().detach().cpu().double()
                                   .tolist()))
        return torch.stack((loss_d.detach().double(), loss_g.detach().double()))

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "born": self.born.state_dict(),
                "discriminator": self.discriminator.state_dict(),
                "opt_born": self.opt_g.state_dict(), "opt_discriminator": self.opt_d.state_dict(),
                "shuffle": self.shuffle.get_state(), "fake_stream": self.fake_stream.get_state(),
                "order": self.order.cpu(), "position": self.position,
                "curve": [[s, p] for s, p in self.curve]}

    def load_state_dict(self, state: Mapping[str, Any], path: Path) -> None:
        with restoring(path, "Born machine and discriminator"):
            self.born.load_state_dict(state["born"])
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_g.load_state_dict(state["opt_born"])
            self.opt_d.load_state_dict(state["opt_discriminator"])
            self.shuffle.set_state(state["shuffle"])
            self.fake_stream.set_state(state["fake_stream"])
        self.order = state["order"].to(self.device)
        self.position = int(state["position"])
        step = int(state["step"])  # a killed run may have recorded rows past its checkpoint
        self.curve = [(int(s), list(p)) for s, p in state["curve"] if int(s) <= step]

    def check_resumable(self, state: Mapping[str, Any], config: Any, path: Path) -> None:
        check_resumable(state, config, self.seed, path)  # the seed too, as fit's
