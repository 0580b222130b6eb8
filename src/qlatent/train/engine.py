"""The adversarial engine: WGAN-GP (or the non-saturating loss) for K >= 1 members, on the loop
skeleton. ``fit`` trains one run, ``fit_pack`` a pack of K; a run is a pack of one.

Notation: K members, B batch size (per member), k = ``n_critic``, G generator, D critic,
z latent vectors.

Contracts (duck-typed, so the synthetic sets, QM9 and any later task plug in):

* ``latent``: a ``qlatent.latents.LatentDistribution`` (``dim``;
  ``sample(n, *, generator) -> Tensor[n, dim]``).
* ``data``: any object with ``sample(n, *, generator) -> Tensor | tuple[Tensor, ...]``, a real
  batch with the same structure as the generator's output (every tensor has n rows). If it has
  a ``to(device)`` method it is moved to the training device; its batches are drawn from a
  ``torch.Generator`` on ``data.device`` if it has that attribute, else on the CPU, and moved.
* ``generator``: ``G(z: Tensor[B, L]) -> Tensor | tuple[Tensor, ...]`` (one row per sample in
  every tensor); for a pack, a ``qlatent.models`` network with ``members=K`` (``[K, B, ...]``).
* ``critic``: ``D(x) -> Tensor[B]`` or ``Tensor[B, 1]``, where ``x`` has the structure of G's
  output (a tuple is passed as ONE argument). D must treat samples independently (no batch
  normalisation, which WGAN-GP forbids anyway): the real and generated batches are scored
  in one call, concatenated along the batch dimension, and the interpolated batch in a call of
  its own, so the penalty's double backward runs over B rows only.

The pieces: ``RandomStreams`` (``streams.py``: the four ``torch.Generator``s a member draws
from, seeded from its seed), ``training_step`` (``step.py``: k critic updates with
``gradient_penalty``, then one generator update, for K members on a member axis; one run's
models see their own shapes, ``Adversaries``), and the loop skeleton (``skeleton.py``:
checkpoints, resume, log, callbacks, progress, the non-finite guard). Nothing touches torch's
global random state, so on the CPU a run is a deterministic function of its inputs and seed,
and a run resumed from a checkpoint ends bit-identical to an uninterrupted one.

Packs: member k of ``fit_pack`` keeps everything its solo run ``fit(G_k, D_k, latents[k],
data[k], config, seed=seeds[k])`` has: its own four random streams, its own latent and data
object, its own initial weights (``qlatent.models.pack``) and its own optimiser state. Only the
arithmetic is shared: no number crosses the member axis; one optimiser runs over the packed
parameters (Adam and RMSprop are elementwise, so row k of every state tensor is the solo
run's; Adam's step count is shared, and equal). What holds, measured by the tests:

* float64: member k follows its solo run to the last bits (the batched products sum in
  another order; measured: equal);
* float32 (and bf16 mixed precision): member k follows its solo run to round-off at first,
  then, as GAN training is chaotic and amplifies round-off, in distribution only: how soon
  depends on the seed (at the quick ring budget, 7 of 12 members' first logged windows of 100
  steps equalled their solo runs' bit for bit, the others differed by 0.1 % to 16 %); over
  many seeds the metrics of packed and solo runs should not differ (the slow paired test of
  tests/train/test_pack_contract.py); a trained latent's θ likewise (a round-off difference
  can flip the sign of Adam's normalised step for a parameter whose gradient is near zero);
* a pack of one (``fit_pack`` with K = 1) is ``fit``, bit for bit.

Non-finite figures: a member fails at the first update whose loss or gradient is not finite,
or whose latent's parameters turn non-finite (``PackState``). In a pack it is frozen at its
last finite state while the others go on (``FitResult.failed_at``); ``fit`` stops at once with
a ``NonFiniteError`` naming the step and what diverged. No checkpoint ever holds a non-finite
state: the last one written stays the resume point.

Experiment vs execution: ``Config`` says what is trained; seed(s), device and progress are
arguments. The seeds are recorded in the checkpoint, and a resume with others is refused.

References: Gulrajani et al., "Improved Training of Wasserstein GANs", arXiv:1704.00028 (WGAN-GP);
Goodfellow et al., arXiv:1406.2661 (non-saturating loss).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qlatent._io import notice
from qlatent._validation import check_device, check_int
from qlatent.models.packed import member, members_of
from qlatent.train.checkpoint import REQUIRED_KEYS, check_resumable
from qlatent.train.config import Config
from qlatent.train.latent import is_trainable, latent_trainer
from qlatent.train.precision import warn_if_emulated_bf16
from qlatent.train.skeleton import Callback, FitResult, Trainer, per_member, train
from qlatent.train.step import Adversaries, PackState, StepLosses, training_step
from qlatent.train.streams import STREAMS, RandomStreams

__all__ = ["LOSS_KEYS", "AdversarialTrainer", "PackResult", "fit", "fit_pack",
           "member_checkpoint"]

LOSS_KEYS = ("loss_critic", "loss_generator", "gradient_penalty", "wasserstein")
"""The averaged figures of a log row, in ``StepLosses.stacked`` order."""


@dataclass
class PackResult:
    """What ``fit_pack`` returns.

    Attributes:
        members: one ``FitResult`` per member (member k's ``history``, ``steps`` — the steps
            it trained, ``failed_at - 1`` for a failed member —, ``failed_at``, ``run_dir``
            — its log folder from ``member_dirs``, or ``None``), in member order.
        steps: generator steps the pack ran.
        seconds: wall time of this call's training (shared by every member).
        resumed_from: the checkpoint step this call started from (``None``: from scratch).
        run_dir: where the pack's checkpoint is (``None`` if not given).
    """

    members: list[FitResult]
    steps: int
    seconds: float
    resumed_from: int | None = None
    run_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> dict[int, int]:
        """``{member: step it failed at}`` for the failed members."""
        return {k: m.failed_at for k, m in enumerate(self.members) if m.failed_at is not None}


class AdversarialTrainer(Trainer):
    """The adversarial engine as a trainer of the loop skeleton: K members' G, D, latents, data
    and random streams, one ``training_step`` per step.

    Args:
        generator, critic: G and D on ``device`` (a pack: ``members=K`` networks).
        latents, data, seeds: one per member.
        config: the training config.
        device: the training device.
        packed: a pack (``fit_pack``'s checkpoint format, member-axis models) or one run
            (``fit``'s format, the models see solo shapes).
    """

    keys = LOSS_KEYS
    checkpoint_keys = REQUIRED_KEYS

    def __init__(self, generator: nn.Module, critic: nn.Module, latents: list[Any],
                 data: list[Any], config: Config, seeds: list[int], *, device: torch.device,
                 packed: bool) -> None:
        K = len(seeds)
        self.members = K if packed else None
        self.description = f"train pack of {K}" if packed else "train"
        self.device, self.config, self.seeds = device, config, seeds
        self.latents, self.data = latents, data
        # latent_lr trains the latents that can be trained; a pack may mix them with fixed
        # ones (a grid's cells), a run must have one (else latent_trainer names it)
        trainable = [is_trainable(lat) for lat in latents]
        self.trainers = [latent_trainer(lat, config, name="latents[0]" if packed else "latent")
                         if ok or not any(trainable) else None
                         for lat, ok in zip(latents, trainable, strict=True)]
        self.adversaries = Adversaries(generator, critic, config, packed=packed)
        self.streams = [RandomStreams(s, device=device,
                                      data_device=torch.device(getattr(d, "device", "cpu")))
                        for s, d in zip(seeds, data, strict=True)]
        self.state = PackState(K)
        self.losses: StepLosses | None = None

    def step(self, step: int) -> torch.Tensor:
        self.losses = training_step(self.adversaries, self.latents, self.data, self.streams,
                                    self.config, self.state, step, self.trainers)
        figures = self.losses.stacked()
        return figures if self.members is not None else figures[:, 0]

    def failures(self, figures: torch.Tensor, step: int) -> dict[int, str]:
        return {k: self.state.what[k] or "" for k, s in enumerate(self.state.failed_at)
                if s == step}

    # ---- checkpoints
    def state_dict(self) -> dict[str, Any]:
        trained = {str(k): tr.state_dict() for k, tr in enumerate(self.trainers)
                   if tr is not None}
        if self.members is None:
            return {"seed": self.seeds[0], **self.adversaries.state_dict(),
                    "rng": self.streams[0].get_state(), **trained.get("0", {})}
        return {"seed": self.seeds, **self.adversaries.state_dict(),
                "rng": {str(k): s.get_state() for k, s in enumerate(self.streams)},
                "latents": trained}

    def check_resumable(self, state: Mapping[str, Any], config: Any, path: Path) -> None:
        saved_lr = state["config"].get("latent_lr", 0.0)
        if config.latent_lr == 0 and saved_lr and not (state.get("latents")
                                                       or "opt_latent" in state):
            # written by a grid that passed its latent_lr to a fixed latent, which it did not
            # change: the run is the same one
            config = config.replace(latent_lr=saved_lr)
        if self.members is None:
            check_resumable(state, config, self.seeds[0], path)
            return
        super().check_resumable(state, config, path)
        saved = [int(s) for s in state["seed"]]
        if saved != self.seeds:
            raise ValueError(f"{path} was written with seeds {saved}, not {self.seeds}; resume "
                             "with those seeds, or use another run_dir or resume=False")

    def load_state_dict(self, state: Mapping[str, Any], path: Path) -> None:
        single = self.members is None
        rng = [state["rng"]] if single else [state["rng"][str(k)]
                                             for k in range(len(self.streams))]
        moved_any = {name for s, r in zip(self.streams, rng, strict=True)
                     for name in s.set_state(r)}
        moved = [name for name in STREAMS if name in moved_any]
        if moved:
            notice(f"{path} was written on another kind of device than {self.device}: its "
                   f"random stream(s) {', '.join(moved)} continue from seeds derived from "
                   "their saved states (deterministic, but not the draws of the first device)")
        self.adversaries.load_state_dict(state)
        for k, tr in enumerate(self.trainers):
            if tr is None:
                continue
            saved = state if single else state.get("latents", {}).get(str(k))
            if saved is None or "opt_latent" not in saved:
                whose = "" if single else f" for member {k}"
                raise ValueError(f"{path} holds no latent state{whose} (it trained a fixed "
                                 "latent); use another run_dir or resume=False")
            tr.load_state_dict(saved)
        if not single:
            for k, f in enumerate(state["failed"]):
                if int(f):
                    self.state.fail(k, int(f), "an earlier step")

    # ---- what callbacks and the progress bar see
    def callback_info(self, member: int, figures: torch.Tensor,
                      row: dict[str, float] | None) -> dict[str, Any]:
        values = {"config": self.config, "seed": self.seeds[member], "row": row,
                  "loss_generator": self.losses.generator[member]}
        if self.members is None:
            return {"generator": self.adversaries.generator,
                    "critic": self.adversaries.critic, **values}
        return _MemberInfo(self.adversaries.generator, self.adversaries.critic, member,
                           {**values, "member": member})

    def progress_text(self, row: dict[str, float]) -> str:
        return (f"D {row['loss_critic']:+.3f}  G {row['loss_generator']:+.3f}  "
                f"W {row['wasserstein']:.3f}")


class _MemberInfo(dict):
    """The ``info`` a member's callbacks get: ``generator`` and ``critic`` are member k's solo
    copies, made on first use (most steps no callback reads them)."""

    def __init__(self, generator: nn.Module, critic: nn.Module, k: int,
                 values: dict[str, Any]) -> None:
        super().__init__(values)
        self._packed = {"generator": generator, "critic": critic}
        self._k = k

    def __missing__(self, key: str) -> Any:
        if key not in self._packed:
            raise KeyError(key)
        self[key] = member(self._packed[key], self._k)
        return self[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self or key in self._packed else default


# --------------------------------------------------------------------------- fit, fit_pack
def _run(generator: nn.Module, critic: nn.Module, latents: list[Any], data: list[Any],
         config: Config, seeds: list[int], *, packed: bool, device: Any, **loop: Any
         ) -> list[FitResult]:
    """Check what ``fit`` and ``fit_pack`` share, build the trainer, run the loop."""
    if not isinstance(config, Config):
        raise TypeError(f"config must be a qlatent.train.Config, got {type(config).__name__}")
    for name, mod in (("generator", generator), ("critic", critic)):
        if not isinstance(mod, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(mod).__name__}")
    for k, (lat, d) in enumerate(zip(latents, data, strict=True)):
        lname, dname = (f"latents[{k}]", f"data[{k}]") if packed else ("latent", "data")
        if (not isinstance(lat, nn.Module) or not callable(getattr(lat, "sample", None))
                or not hasattr(lat, "dim")):
            raise TypeError(f"{lname} must be a latent distribution (an nn.Module with `dim` "
                            f"and `sample(n, *, generator)`), got {type(lat).__name__}")
        if lat.dim != latents[0].dim:
            raise ValueError(f"{lname} has dim {lat.dim}, latents[0] {latents[0].dim}: the "
                             "members of a pack share one latent dimension")
        if not callable(getattr(d, "sample", None)):
            what = ("an array: wrap its rows as qlatent.data.EmpiricalData(rows)"
                    if isinstance(d, (np.ndarray, torch.Tensor)) else type(d).__name__)
            raise TypeError(f"{dname} must be a data object with `sample(n, *, generator)` "
                            f"(e.g. qlatent.data.EmpiricalData), got {what}")
    device = torch.device(check_device(device))
    warn_if_emulated_bf16(config.precision, device, stacklevel=3)  # at the call of fit
    generator.to(device).train()
    critic.to(device).train()
    for lat in latents:
        lat.to(device)
    data = [(d.to(device) or d) if callable(getattr(d, "to", None)) else d for d in data]
    trainer = AdversarialTrainer(generator, critic, latents, data, config, seeds,
                                 device=device, packed=packed)
    _probe_generator(trainer.adversaries, len(latents), latents[0].dim, device)
    try:
        return train(trainer, config, **loop)
    finally:
        generator.eval()
        critic.eval()


def _probe_generator(step: Any, K: int, L: int, device: torch.device) -> None:
    """Run G once, in eval mode without gradients, on z = 0 of shape [K, 2, L] in G's own
    float dtype (nothing random is drawn: the latent and the training streams are untouched),
    and raise a one-line ValueError naming both widths when it fails or does not return 2
    rows per member."""
    dtype = next((p.dtype for p in step.generator.parameters() if p.is_floating_point()),
                 torch.get_default_dtype())
    z = torch.zeros(K, 2, L, device=device, dtype=dtype)
    noise = [torch.Generator(device=device).manual_seed(0) for _ in range(K)]
    was_training = step.generator.training
    step.generator.eval()
    try:
        with torch.no_grad():
            out = step.generate(z, noise)
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        first = (str(err).splitlines() or [""])[0][:200]
        raise ValueError(f"generator must take latent rows of width {L} (the latent's dim): "
                         f"G(z[2, {L}]) raised {type(err).__name__}: {first}") from err
    finally:
        step.generator.train(was_training)
    for t in out if isinstance(out, (tuple, list)) else (out,):
        if not isinstance(t, torch.Tensor) or tuple(t.shape[:2]) != (K, 2):
            got = list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"generator must return one row per latent row: G(z[2, {L}]) "
                             f"gave {got}")


def fit(generator: nn.Module, critic: nn.Module, latent: nn.Module, data: Any, config: Config,
        *, seed: int, device: str | torch.device = "cpu", progress: bool = False,
        run_dir: str | Path | None = None, resume: bool = True,
        callbacks: Sequence[Callback] = ()) -> FitResult:
    """Train ``generator`` against ``critic`` on ``data`` with z drawn from ``latent``.

    See the module docstring for the contracts of the four objects. A trainable latent
    (``born``, ``multinomial``) is trained with the generator when ``config.latent_lr > 0``
    (the score-function estimator of ``qlatent.train.latent``, its own optimiser, saved in the
    checkpoint as ``latent`` and ``opt_latent``); ``latent_lr > 0`` with a latent that cannot
    be trained raises. With ``run_dir``, a checkpoint (models, optimisers, random states,
    seed, step, history) is written atomically to ``run_dir/checkpoint.pt`` every
    ``config.checkpoint_every`` steps and at the end, and the log rows go to
    ``run_dir/log.jsonl``; with ``resume=True`` an existing checkpoint is loaded
    (weights-only) and training continues from it: the seed must be the one it was written
    with, the config may differ only in ``steps``, ``checkpoint_every`` and ``log_every``; the
    device may change (the checkpoint is read onto the CPU and the models and optimiser states
    moved to ``device``): between two CUDA devices the run goes on bit for bit, between a CPU
    and a GPU the random streams, whose states differ in kind, go on from seeds derived from
    their saved states (``RandomStreams.set_state``).

    Args:
        generator: G, an ``nn.Module`` (trained in place).
        critic: D, an ``nn.Module`` (trained in place).
        latent: the latent distribution.
        data: the real data.
        config: a ``qlatent.train.Config`` (what is trained).
        seed: seed of the training streams (latent draws, real batches, penalty weights,
            G's own noise), a non-negative int.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:k"`` (models, latent and batches move there).
        progress: show progress (a bar on a terminal, plain lines otherwise).
        run_dir: folder for the checkpoint and the log (``None``: neither is written).
        resume: continue from ``run_dir/checkpoint.pt`` if it exists.
        callbacks: functions ``f(step, info)`` called after every generator step, ``info``
            holding ``generator``, ``critic``, ``config``, ``seed``, ``loss_generator`` (the
            step's, a 0-d tensor on the device) and ``row`` (the averaged log row on logging
            steps, ``None`` otherwise); an exception raised there stops training (the last
            checkpoint stays). A callback with a ``close()`` method is closed when fit ends,
            however it ends (``qlatent.train.tracking`` builds such callbacks).

    Returns:
        A ``FitResult``.

    Raises:
        NonFiniteError: a loss, a gradient or the latent's parameters turned non-finite; it
            names the step (nothing of it is saved: the last checkpoint stays).
    """
    seed = check_int("seed", seed, minimum=0)
    if isinstance(callbacks, Mapping) or not isinstance(callbacks, Sequence):
        raise TypeError(f"callbacks must be a sequence of callables f(step, info), "
                        f"got {type(callbacks).__name__}")
    [result] = _run(generator, critic, [latent], [data], config, [seed], packed=False,
                    device=device, progress=progress, run_dir=run_dir, resume=resume,
                    callbacks=callbacks)
    return result


def fit_pack(generator: nn.Module, critic: nn.Module, latents: Sequence[nn.Module],
             data: Sequence[Any], config: Config, *, seeds: Sequence[int],
             device: str | torch.device = "cpu", progress: bool = False,
             run_dir: str | Path | None = None, resume: bool = True,
             member_dirs: Sequence[str | Path] | None = None,
             callbacks: Sequence[Sequence[Callback]] | None = None) -> PackResult:
    """Train a pack of K runs: member k as ``fit(G_k, D_k, latents[k], data[k], config,
    seed=seeds[k])`` would (see the module docstring for what holds).

    With ``run_dir``, the pack's checkpoint (packed models, optimisers, every member's random
    states, seeds, failures, histories, step) is written atomically to
    ``run_dir/checkpoint.pt`` every ``config.checkpoint_every`` steps and at the end; with
    ``resume=True`` an existing one is loaded and the pack continues from it (the seeds must be
    those it was written with, the config may differ only in ``steps``, ``checkpoint_every``
    and ``log_every``). With ``member_dirs``, member k's log rows go to
    ``member_dirs[k]/log.jsonl``, exactly as a solo run's (rewritten at the start with the
    history up to the resume point, then appended at every log step).

    Args:
        generator: the packed G (``members=K``, a ``qlatent.models`` network; trained in place).
        critic: the packed D (``members=K``).
        latents: K latent distributions of one ``dim`` (they may differ in kind).
        data: K data objects (``sample(n, *, generator)``) of one structure.
        config: a ``qlatent.train.Config``, shared by the members.
        seeds: K non-negative ints, member k's seed (its solo run's ``fit(seed=...)``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:k"``.
        progress: show progress (a bar on a terminal, plain lines otherwise).
        run_dir: folder of the pack's checkpoint (``None``: none is written).
        resume: continue from ``run_dir/checkpoint.pt`` if it exists.
        member_dirs: K folders for the members' ``log.jsonl`` (``None``: no logs written).
        callbacks: K sequences of callbacks, member k's called as its solo ``fit`` would call
            them: ``f(step, info)`` after every generator step, ``info`` holding
            ``generator`` and ``critic`` (member k as a solo model, copied out of the pack
            only when a callback reads them), ``config``, ``seed`` (``seeds[k]``),
            ``loss_generator`` (member k's, a 0-d tensor), ``row`` (member k's averaged log
            row on logging steps, else ``None``) and ``member`` (k). A failed member's
            callbacks are not called from its failure on; an exception stops the pack; every
            callback with a ``close()`` is closed when the pack ends.

    Returns:
        A ``PackResult``: per member a ``FitResult`` (history, steps, failed_at).
    """
    for name, mod in (("generator", generator), ("critic", critic)):
        if not isinstance(getattr(mod, "members", None), int):
            raise TypeError(f"{name} must be a packable network of qlatent.models (with "
                            f"members=K), got {type(mod).__name__}")
    K = members_of(generator)
    if members_of(critic) != K:
        raise ValueError(f"critic must have as many members as generator ({K}), "
                         f"got {members_of(critic)}")
    latents = per_member("latents", latents, K)
    data = per_member("data", data, K)
    seeds = [check_int(f"seeds[{k}]", s, minimum=0)
             for k, s in enumerate(per_member("seeds", seeds, K))]
    members = _run(generator, critic, latents, data, config, seeds, packed=True, device=device,
                   progress=progress, run_dir=run_dir, resume=resume, member_dirs=member_dirs,
                   callbacks=callbacks)
    return PackResult(members=members, steps=max(m.steps if m.failed_at is None
                                                  else m.failed_at for m in members),
                      seconds=members[0].seconds, resumed_from=members[0].resumed_from,
                      run_dir=None if run_dir is None else Path(run_dir))


# --------------------------------------------------------------------------- member checkpoint
def member_checkpoint(state: Mapping[str, Any], member: int, *, generator: nn.Module,
                      critic: nn.Module) -> dict[str, Any]:
    """Member k's solo checkpoint, cut out of a pack's: what ``fit(seed=seeds[k])`` writes at
    the same step (models, optimiser states, random streams, seed, history, loss window), so
    a cell's own directory can hold it and everything that reads a solo run (``load_run``,
    ``qlatent sample``, a solo resume with ``fit``) works unchanged.

    Args:
        state: a pack checkpoint (``load_checkpoint(run_dir / "checkpoint.pt")`` of a
            ``fit_pack`` run).
        member: k, ``0 <= k < K``.
        generator, critic: the packed models of the run (their parameter names and order;
            their values are not read).

    Returns:
        A dict with the keys of a solo checkpoint (``save_checkpoint`` writes it), plus
        ``failed_at`` (the step member k failed at, or ``None``).
    """
    if not isinstance(state, Mapping) or "members" not in state:
        raise ValueError("state must be a pack checkpoint (fit_pack's; it has `members`)")
    K = int(state["members"])
    k = check_int("member", member, minimum=0)
    if k >= K:
        raise ValueError(f"member must be below the pack's size {K}, got {k}")
    out: dict[str, Any] = {
        "step": state["step"], "seconds": state.get("seconds", 0.0),
        "seed": int(state["seed"][k]), "config": dict(state["config"]),
        "history": list(state["history"][k]),
        "window": {"sum": state["window"]["sum"][:, k].clone(),
                   "count": state["window"]["count"]},
        "rng": dict(state["rng"][str(k)]),
        "failed_at": int(state["failed"][k]) or None}
    if str(k) in state.get("latents", {}):  # member k's latent trained with its generator
        out.update(state["latents"][str(k)])
    for name, model in (("generator", generator), ("critic", critic)):
        if members_of(model) != K:
            raise ValueError(f"{name} has {members_of(model)} members, the checkpoint {K}")
        params = dict(model.named_parameters())
        out[name] = {key: (_row(t, K, k) if key in params else t.clone())
                     for key, t in state[name].items()}
        trained = [p for p in model.parameters() if p.requires_grad]
        opt = state[f"opt_{name}"]
        rows = {}
        for i, entry in opt["state"].items():
            n = trained[int(i)].numel()
            rows[i] = {key: (_row(v, K, k) if isinstance(v, torch.Tensor) and v.numel() == n
                             else v.clone() if isinstance(v, torch.Tensor) else v)
                       for key, v in entry.items()}
        out[f"opt_{name}"] = {"state": rows, "param_groups": opt["param_groups"]}
    return out


def _row(t: torch.Tensor, K: int, k: int) -> torch.Tensor:
    # a packed tensor [K, ...] (K > 1) or a solo-shaped one (K = 1): member k in the solo shape
    shape = t.shape if K == 1 else t.shape[1:]
    return t.reshape(K, -1)[k].clone().view(shape)
