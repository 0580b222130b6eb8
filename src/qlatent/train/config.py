"""The training configuration: one frozen dataclass, a docstring per field.

It holds what defines the experiment (sizes, losses, learning rates, steps); how this process
runs it (seed, device, progress bar) are arguments of ``qlatent.train.fit``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from qlatent._validation import check_choice, check_float, check_int, check_keys

LOSSES = ("wgan-gp", "nonsaturating")
OPTIMIZERS = ("adam", "rmsprop")
PRECISIONS = ("fp32", "bf16")
# How a process runs an experiment, not what it is: arguments of ``fit``, never config keys.
EXECUTION_KEYS = ("seed", "device", "progress")
C = TypeVar("C", bound="ConfigBase")


class ConfigBase:
    """The methods a frozen training config shares; subclass it with
    ``@dataclass(frozen=True)``, give each field a default and a docstring, and validate the
    fields in ``__post_init__`` (calling the parent's first, if it has one)."""

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (tuples as lists): what a checkpoint and a config file
        hold."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any], *, where: str = "train",
                  hint: str = "") -> C:
        """Build from a mapping (a TOML table); an unknown key raises and names it (and
        ``[where]``); lists become tuples where the field's default is a tuple."""
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        check_keys(values, set(fields), f"[{where}]", hint=hint)
        values = {k: tuple(v) if isinstance(v, list) and isinstance(fields[k].default, tuple)
                  else v for k, v in values.items()}
        return cls(**values)


@dataclass(frozen=True)
class Config(ConfigBase):
    """How ``fit`` trains a generator against a critic.

    One *step* is one generator update preceded by ``n_critic`` critic updates.
    """

    steps: int = 5000
    """Number of generator updates (the paper's "iterations"), >= 1."""
    batch_size: int = 32
    """Samples per critic and generator update (real and generated alike)."""
    n_critic: int = 5
    """Critic updates per generator update."""
    gp_weight: float = 10.0
    """Weight λ of the gradient penalty λ·E[(‖∇D(x̂)‖₂ − 1)²] (0 switches it off)."""
    loss: str = "wgan-gp"
    """``"wgan-gp"`` (critic: E[D(fake)] − E[D(real)]; generator: −E[D(fake)]) or
    ``"nonsaturating"`` (softplus losses of the original GAN, with the same penalty term)."""
    optimizer: str = "adam"
    """``"adam"`` or ``"rmsprop"``; one of each, generator and critic."""
    lr: float = 5e-4
    """Learning rate of both optimisers (of the critic's only, when ``lr_generator`` is set)."""
    lr_generator: float | None = None
    """Learning rate of the generator's optimiser; ``None``: ``lr``. A generator whose
    parameters are rotation angles (``qlatent.models.QuantumGenerator``) wants steps of another
    size than the critic's weights."""
    betas: tuple[float, float] = (0.0, 0.9)
    """Adam's (β₁, β₂); ignored by RMSprop."""
    latent_lr: float = 0.0
    """Learning rate of the latent's own parameters θ (a trainable latent: ``born``,
    ``multinomial``), trained jointly with the generator by the score-function estimator
    (``qlatent.train.latent``) with an optimiser of its own, of the kind ``optimizer`` names.
    0 (the default) keeps every latent fixed; a latent without parameters (the bank latents,
    ``gaussian``) stays fixed whatever this is."""
    precision: str = "fp32"
    """``"fp32"``, or ``"bf16"``: mixed precision, the forward passes of G and D run under
    ``torch.autocast`` with bfloat16 (matrix products in bfloat16 with float32 accumulation);
    weights, optimiser states, the generated samples, the scores, the penalty's gradient norm
    and the losses stay float32. Only a CPU with native bf16 (AVX512-BF16 or AMX) gains: a QM9
    cycle ran 2x faster on one; on an AVX2 CPU without it, a Table I step ran about 20x slower
    (results/table1_bf16/) and a QM9 step about 10x slower, so ``fit`` warns when bf16 is asked
    for on a device without it (``qlatent.train.native_bf16``); GPUs not measured. It changes
    the numbers a run produces, so it is part of the experiment.
    bfloat16 keeps 8 significant bits: enough for MolGAN's graphs in [0, 1] (the losses follow
    fp32's, see the tests), not for data whose real and generated samples differ by under ~1 %
    of their size (a 2-D cloud of spread 0.05 around (3, -2) that fp32 fits is not learnt in
    bf16)."""
    checkpoint_every: int = 1000
    """Steps between checkpoints when a run directory is given (0: only at the end)."""
    log_every: int = 100
    """Steps between log lines; a line holds the losses averaged over the steps since the
    previous one (read back from the device only then)."""

    def __post_init__(self) -> None:
        check_int("steps", self.steps, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("n_critic", self.n_critic, minimum=1)
        check_float("gp_weight", self.gp_weight, minimum=0.0)
        check_choice("loss", self.loss, LOSSES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("lr", self.lr, minimum=0.0)
        check_float("latent_lr", self.latent_lr, minimum=0.0)
        if self.lr_generator is not None:
            check_float("lr_generator", self.lr_generator, minimum=0.0)
        betas = tuple(self.betas)
        if len(betas) != 2:
            raise ValueError(f"betas must hold two numbers (beta1, beta2), got {self.betas!r}")
        for i, b in enumerate(betas):
            check_float(f"betas[{i}]", b, minimum=0.0, maximum=1.0)
        object.__setattr__(self, "betas", tuple(float(b) for b in betas))
        check_choice("precision", self.precision, PRECISIONS)
        check_int("checkpoint_every", self.checkpoint_every, minimum=0)
        check_int("log_every", self.log_every, minimum=1)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str = "train",
                  hint: str = "") -> Config:
        """Build from a mapping (a TOML table); an unknown key raises and names it."""
        if not hint and set(values) & set(EXECUTION_KEYS):
            hint = "; seed, device and progress are arguments of qlatent.train.fit"
        return super().from_dict(values, where=where, hint=hint)
