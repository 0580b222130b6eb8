"""Randomness as an argument (DESIGN.md): never a global seed.

``rng`` arguments accept a ``numpy.random.Generator``, a ``SeedSequence``, an int seed, or
``None`` (fresh OS entropy). Parallel work splits a ``SeedSequence`` with ``spawn`` so that
results do not depend on the number of workers. Torch code takes a ``torch.Generator``
(``generator`` arguments), made here by ``torch_generator``.

An integer seed derived from a ``SeedSequence`` (for a ``torch.Generator`` or a child stream
named by an int) is always ``seed_int(sequence)``.

``photonics`` imports this module and must never import torch, so torch is imported inside
``torch_generator`` and ``check_generator`` only.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from qlatent._validation import check_int

if TYPE_CHECKING:
    import torch

RngLike = np.random.Generator | np.random.SeedSequence | int | None


def as_generator(rng: RngLike, name: str = "rng") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng`` (see module docstring)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{name} must be a non-negative seed, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy Generator, SeedSequence, non-negative int or None; "
        f"got {rng!r} ({type(rng).__name__})"
    )


def as_seed_sequence(rng: RngLike, name: str = "rng") -> np.random.SeedSequence:
    """Return a ``SeedSequence`` for ``rng``; a Generator contributes fresh draws from itself."""
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())
    if rng is None:
        return np.random.SeedSequence()
    as_generator(rng, name)  # validates the int
    return np.random.SeedSequence(int(rng))


def seed_int(seed_sequence: np.random.SeedSequence) -> int:
    """The int seed in [0, 2**63) that ``seed_sequence`` stands for: the top 63 bits of its first
    64-bit word of state (``generate_state(1, uint64)[0] >> 1``), so it fits a signed int64
    (torch's ``manual_seed``, JSON, a config) as well as numpy's seeds."""
    if not isinstance(seed_sequence, np.random.SeedSequence):
        raise TypeError(f"seed_sequence must be a numpy SeedSequence, got "
                        f"{type(seed_sequence).__name__}")
    return int(seed_sequence.generate_state(1, np.uint64)[0] >> 1)


def torch_generator(seed: int, device: Any = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (a name like ``"cuda:0"`` or a ``torch.device``)
    seeded with ``seed``, an int in [0, 2**64)."""
    import torch  # torch-free: photonics imports this module

    seed = check_int("seed", seed, minimum=0, maximum=2**64 - 1)
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def check_generator(generator: object, name: str = "generator") -> None:
    """Raise ``TypeError`` unless ``generator`` is a ``torch.Generator`` or None (torch's default
    generator): the one check of every ``sample(n, *, generator)``."""
    if generator is None:
        return
    import torch  # torch-free: photonics imports this module

    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got "
                        f"{type(generator).__name__}")
