"""The random streams of a training run: four ``torch.Generator``s derived from one seed.

A step draws its latent vectors, its real batches, its penalty weights ε and the generator's
own noise (if G takes a ``generator`` keyword, e.g. the Gumbel-softmax relaxation) each from
its own stream, so none of them depends on how much another one consumed, and nothing touches
torch's global random state. The streams' states travel in the checkpoint, so a resumed run
draws exactly what the uninterrupted one would have drawn.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import torch

from qlatent._random import seed_int, torch_generator
from qlatent._validation import check_int

STREAMS = ("latent", "data", "epsilon", "noise")
"""The streams, in the order their seeds are spawned."""


def stream_seeds(seed: int) -> dict[str, int]:
    """The seeds of the four streams: children of ``SeedSequence([seed, 0x6A17])``.

    Spawned children are indexed, so the fourth stream (added later) left the seeds of the
    first three, and therefore every earlier run, unchanged.
    """
    seed = check_int("seed", seed, minimum=0)
    children = np.random.SeedSequence([seed, 0x6A17]).spawn(len(STREAMS))
    return {name: seed_int(ss)
            for name, ss in zip(STREAMS, children, strict=True)}


class RandomStreams:
    """The four generators of a run, on the training device (``data`` on the data's device).

    Attributes:
        latent: draws the latent vectors z.
        data: draws the real batches (on ``data_device``).
        epsilon: draws the penalty's interpolation weights.
        noise: passed to G's ``generator`` keyword when G takes one.
        device, data_device: where they live (``torch.device``).
    """

    def __init__(self, seed: int, *, device: torch.device | str = "cpu",
                 data_device: torch.device | str | None = None) -> None:
        self.device = torch.device(device)
        self.data_device = self.device if data_device is None else torch.device(data_device)
        seeds = stream_seeds(seed)
        self.latent = torch_generator(seeds["latent"], self.device)
        self.data = torch_generator(seeds["data"], self.data_device)
        self.epsilon = torch_generator(seeds["epsilon"], self.device)
        self.noise = torch_generator(seeds["noise"], self.device)

    def get_state(self) -> dict[str, torch.Tensor]:
        """The four states (CPU ``uint8`` tensors), keyed by stream name."""
        return {name: getattr(self, name).get_state() for name in STREAMS}

    def set_state(self, states: Mapping[str, torch.Tensor]) -> list[str]:
        """Restore states from ``get_state``. ``noise`` may be missing (checkpoints written
        before the fourth stream): it then keeps its freshly seeded state.

        A state written on the other kind of device (a CPU generator's Mersenne Twister state
        is 5,056 bytes, a CUDA one's Philox seed and offset 16) cannot be restored as it is:
        the stream is seeded instead from a digest of that state (``moved_seed``), so a run
        moved between a CPU and a GPU continues deterministically (the same checkpoint resumed
        twice on the same kind of device draws the same numbers), though not along the draws
        it would have made on its first device, which no other device can reproduce.

        Returns:
            The names of the streams seeded that way (empty when the states fit).
        """
        missing = [n for n in STREAMS[:3] if n not in states]
        if missing:
            raise ValueError(f"random states lack stream(s) {', '.join(missing)}; "
                             f"expected {', '.join(STREAMS)}")
        moved = []
        for name in STREAMS:
            if name not in states:
                continue
            generator = getattr(self, name)
            state = states[name]
            if state.numel() != generator.get_state().numel():
                generator.manual_seed(moved_seed(state))
                moved.append(name)
            else:
                generator.set_state(state)
        return moved


def moved_seed(state: torch.Tensor) -> int:
    """The seed of a stream whose saved ``state`` comes from another kind of device: the first
    63 bits of the SHA-256 of the state's bytes."""
    data = state.detach().cpu().contiguous().numpy().tobytes()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "little") >> 1
