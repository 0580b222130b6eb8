"""How much memory a pack needs, how much a device has, and so how large a pack fits.

Notation: K members, B batch size (per member), k = ``n_critic``, L latent length, P_G and P_D
the parameter counts of one member's G and D, s the optimiser's state slots per parameter.

The estimate of one member (``estimate_member_memory``), in bytes:

    M = 4 (P_G + P_D) (2 + s + 1)                 weights, gradients, optimiser state and the
                                                  foreach optimiser's temporaries (fp32)
      + B · max(c_D · a_D, a_G + a_D)             activations kept for backward
      + B · (2k + 1) · x + B · (k + 1) · L · 4    a step's real and generated batches, and z
      + the latent's own tensors (a bank's rows)

with s = 2 for Adam (two moments), 1 for RMSprop; ``a_G`` and ``a_D`` the bytes that one
sample's forward pass through G and D leaves saved for backward (counted, not guessed: the
difference between forwards of 2n and n samples under
``torch.autograd.graph.saved_tensors_hooks``, in the training precision, D's input requiring
grad as in the gradient penalty), ``x`` the bytes of one real
sample (every tensor of ``data.sample``), and c_D = 14. Why about 14: a critic update holds
D's activations of the real and generated batch (2 B rows), of the interpolates x̂ (B rows)
and the graph of the penalty's input gradient (``create_graph=True``, about two forwards
more), and its backward then allocates a gradient beside each of them (×2), with the
allocator's slack on top. The constant is measured, not derived: the growth of peak RSS per
member between packs of 1 and 9-33 members on this development CPU was 1.0× (ring 2×256),
1.0-1.2× (Table I 2×512) and 0.8× (MolGAN with R-GCN, batch 256) of the estimate with
c_D = 12 (2026-12-02), and 14 leaves a margin; ``tests/train/test_memory.py`` holds the
estimate against the peak a pack really takes (RSS on a CPU, ``max_memory_allocated`` on a
GPU) within a tolerance.

A pack of K needs about K · M (every tensor above carries the member axis; nothing else grows
with K). ``pack_size_that_fits`` takes the largest K with K · M ≤ ``FILL`` × the device's free
memory (``available_memory``: the kernel's ``MemAvailable`` on a CPU, ``cudaMemGetInfo``'s
free bytes on a GPU), leaving the rest for what does not scale with K (the data set, the
interpreter, torch's own buffers, other processes).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from qlatent._validation import check_device, check_int
from qlatent.train.config import Config

__all__ = ["FILL", "MemberMemory", "available_memory", "estimate_member_memory",
           "pack_size_that_fits"]

FILL = 0.8
"""Share of the device's free memory a pack may take (``pack_size_that_fits``)."""
CRITIC_FACTOR = 14
"""c_D of the module docstring: D's activations a critic update holds at once, in forwards of
B rows."""
OPTIMIZER_SLOTS = {"adam": 2, "rmsprop": 1}
"""s of the module docstring: optimiser state tensors per parameter."""


@dataclass(frozen=True)
class MemberMemory:
    """The estimated bytes of one member of a pack (see the module docstring).

    Attributes:
        parameters: weights, gradients and optimiser state of G and D.
        activations: activations kept for backward at the peak of a step.
        batches: a step's real and generated batches and latent vectors.
        latent: the latent's own tensors (parameters and buffers, e.g. a bank).
    """

    parameters: int
    activations: int
    batches: int
    latent: int

    @property
    def total(self) -> int:
        """Bytes per member (the sum of the four)."""
        return self.parameters + self.activations + self.batches + self.latent

    def describe(self) -> str:
        """One line: the total and its parts, in MiB."""
        def mib(n: int) -> str:
            return f"{n / 2.0**20:.3g}"

        return (f"{mib(self.total)} MiB per member (parameters and optimiser "
                f"{mib(self.parameters)}, activations {mib(self.activations)}, "
                f"batches {mib(self.batches)}, latent {mib(self.latent)})")


def _tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _saved_bytes(fn: Callable[[], Any]) -> int:
    """Bytes of the distinct tensors autograd saves for backward while ``fn`` runs."""
    seen: dict[tuple[int, int], int] = {}

    def keep(t: torch.Tensor) -> torch.Tensor:
        if t.device.type != "meta" and t.numel():
            key = (t.untyped_storage().data_ptr(), t.storage_offset())
            seen[key] = max(seen.get(key, 0), _tensor_bytes(t))
        return t

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        fn()
    return sum(seen.values())


def _as_tuple(x: Any) -> tuple[torch.Tensor, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def estimate_member_memory(generator: nn.Module, critic: nn.Module, latent: nn.Module,
                           data: Any, config: Config, *, probe: int = 4) -> MemberMemory:
    """The estimated memory of one member of a pack of these networks (module docstring).

    Args:
        generator, critic: one member's (solo) networks, on the CPU; not changed (a few
            samples go through them once, without touching their weights or gradients).
        latent: its latent distribution (``dim``, ``sample``).
        data: its data (``sample(n, *, generator)``).
        config: the training config (batch size, ``n_critic``, optimiser, precision).
        probe: n of the counting forward passes (n and 2n samples: the difference is what a
            forward saves per sample; activations scale with B from there).

    Returns:
        A ``MemberMemory``.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a qlatent.train.Config, got {type(config).__name__}")
    probe = check_int("probe", probe, minimum=1)
    B, k = config.batch_size, config.n_critic
    n_params = sum(p.numel() for m in (generator, critic) for p in m.parameters()
                   if p.requires_grad)
    parameters = 4 * n_params * (2 + OPTIMIZER_SLOTS[config.optimizer] + 1)
    data_device = torch.device(getattr(data, "device", "cpu"))
    real = _as_tuple(data.sample(2 * probe, generator=torch.Generator(
        device=data_device).manual_seed(0)))
    real = tuple(t.cpu() for t in real)
    x_bytes = sum(_tensor_bytes(t) for t in real) / (2 * probe)
    z = latent.sample(2 * probe, generator=torch.Generator(
        device=getattr(latent, "device", "cpu")).manual_seed(0)).float().cpu()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision == "bf16")

    def per_sample(forward: Callable[[int], Any]) -> float:
        # The slope between n and 2n samples: what a forward saves per sample, without what it
        # saves once whatever the batch (the weights a linear layer keeps for backward).
        return (_saved_bytes(lambda: forward(2 * probe)) - _saved_bytes(lambda: forward(probe))
                ) / probe

    def critic_forward(n: int) -> Any:
        x = tuple(t[:n].float().requires_grad_() for t in real)
        return critic(x if len(x) > 1 else x[0])

    was = generator.training, critic.training
    generator.train()
    critic.train()
    try:
        with autocast:
            a_g = per_sample(lambda n: generator(z[:n]))
            a_d = per_sample(critic_forward)
    finally:
        generator.train(was[0])
        critic.train(was[1])
    activations = B * max(CRITIC_FACTOR * a_d, a_g + a_d)
    batches = B * (2 * k + 1) * x_bytes + B * (k + 1) * latent.dim * 4
    latent_bytes = sum(_tensor_bytes(t) for t in (*latent.parameters(), *latent.buffers()))
    return MemberMemory(parameters=int(parameters), activations=int(math.ceil(activations)),
                        batches=int(math.ceil(batches)), latent=int(latent_bytes))


def available_memory(device: str | torch.device = "cpu") -> int:
    """Free memory of ``device`` in bytes: on a CPU the kernel's ``MemAvailable``
    (``/proc/meminfo``; elsewhere the free physical pages), on a GPU the free bytes
    ``torch.cuda.mem_get_info`` reports (other processes' allocations are not free)."""
    device = torch.device(check_device(device))
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass

    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def pack_size_that_fits(member_bytes: int, available: int, *, fill: float = FILL) -> int:
    """The largest K with K · ``member_bytes`` ≤ ``fill`` · ``available`` (at least 1: a single
    run is never refused by an estimate)."""
    member_bytes = check_int("member_bytes", member_bytes, minimum=1)
    available = check_int("available", available, minimum=0)
    return max(1, int(fill * available // member_bytes))
