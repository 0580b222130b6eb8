"""Synthetic data sets of the paper's first two experiments.

* ``SevenGaussians``: the ring of Fig. 1–2 (App. C of Bacarreza et al., arXiv:2508.19857).
* ``BosonData``: photon counts of n photons through an m-mode Haar interferometer of its own
  (Table I, "quantum data").
* ``BernoulliData``: uniform {0, 1}^d (Table I, "Bernoulli data").

Each has ``dim``, ``device``, ``to(device)`` and ``sample(n, *, generator) -> float32
Tensor[n, dim]``; randomness comes only from ``generator`` (a ``torch.Generator`` on
``self.device``; ``None`` uses torch's default generator).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from qlatent._random import RngLike, as_seed_sequence, check_generator, seed_int
from qlatent._validation import check_float, check_int
from qlatent.latents.banks import build_bank


class _Synthetic:
    dim: int

    def __init__(self) -> None:
        self.device = torch.device("cpu")

    def to(self, device: str | torch.device) -> _Synthetic:
        """Move the data's tensors to ``device`` (in place); returns ``self``."""
        self.device = torch.device(device)
        return self

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` samples: float32 ``Tensor[n, dim]`` on ``self.device``."""
        n = check_int("n", n, minimum=0)
        check_generator(generator)
        return self._sample(n, generator)

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError


class SevenGaussians(_Synthetic):
    """Blobs on a circle, with noise in polar coordinates.

    Blob k (k = 0..K-1, chosen uniformly) sits at angle θ_k = 2πk/K on the circle of radius R;
    a sample is (r cos θ, r sin θ) with r ~ N(R, σ_r²) and θ ~ N(θ_k, σ_θ²).

    Args:
        radius: R (default 5).
        radial_sd: σ_r (default 0.2).
        angular_sd: σ_θ in radians (default 0.05).
        n_modes: K blobs (default 7).
    """

    dim = 2

    def __init__(self, radius: float = 5.0, radial_sd: float = 0.2, angular_sd: float = 0.05,
                 n_modes: int = 7) -> None:
        super().__init__()
        self.radius = check_float("radius", radius, minimum=0.0)
        self.radial_sd = check_float("radial_sd", radial_sd, minimum=0.0)
        self.angular_sd = check_float("angular_sd", angular_sd, minimum=0.0)
        self.n_modes = check_int("n_modes", n_modes, minimum=1)

    @property
    def centers(self) -> np.ndarray:
        """float64[K, 2]: the blob centres (R cos θ_k, R sin θ_k)."""
        angles = 2 * np.pi * np.arange(self.n_modes) / self.n_modes
        return self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        kw = {"generator": generator, "device": self.device}
        k = torch.randint(0, self.n_modes, (n,), **kw)
        noise = torch.randn(2, n, **kw)
        r = self.radius + self.radial_sd * noise[0]
        theta = k.to(torch.float32) * (2 * math.pi / self.n_modes) + self.angular_sd * noise[1]
        return torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=1)

    def __repr__(self) -> str:
        return (f"SevenGaussians(radius={self.radius}, radial_sd={self.radial_sd}, "
                f"angular_sd={self.angular_sd}, n_modes={self.n_modes})")


class BernoulliData(_Synthetic):
    """Uniform bits: every coordinate independently 0 or 1 with probability 1/2.

    Args:
        dim: d (default 16).
    """

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.dim = check_int("dim", dim, minimum=1)

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.randint(0, 2, (n, self.dim), generator=generator,
                             device=self.device).to(torch.float32)

    def __repr__(self) -> str:
        return f"BernoulliData(dim={self.dim})"


class BosonData(_Synthetic):
    """Boson-sampling data: output counts of n single photons through a Haar interferometer.

    The data is a quantum bank (:func:`qlatent.latents.build_bank`, so the same exact sampler,
    cache and checks as the latents): its Haar unitary U and its ``n_samples`` rows (photons
    in the first n modes) are determined by ``seed``; ``sample`` draws rows of the bank
    uniformly with replacement.

    Args:
        n_modes: m (default 16).
        n_photons: n (default 8).
        seed: determines U and the bank (Generator, SeedSequence, int or None); it is turned
            into the bank's integer seed by ``qlatent._random.seed_int``.
        n_samples: bank size (default 100,000).

    Attributes:
        unitary: complex128[m, m].
        bank: float32 Tensor[n_samples, m] of counts.
        bank_digest: the bank's key, a SHA-256 of everything that determines (U, rows), for the
            run's record.
    """

    def __init__(self, n_modes: int = 16, n_photons: int = 8, seed: RngLike = None,
                 n_samples: int = 100_000) -> None:
        super().__init__()

        self.n_modes = check_int("n_modes", n_modes, minimum=1)
        self.n_photons = check_int("n_photons", n_photons, minimum=1, maximum=self.n_modes)
        self.n_samples = check_int("n_samples", n_samples, minimum=1)
        self.dim = self.n_modes
        bank_seed = seed_int(as_seed_sequence(seed, "seed"))
        bank = build_bank("quantum", "haar", self.n_photons, self.n_samples, bank_seed,
                          n_modes=self.n_modes, progress=False)
        self.unitary = bank.unitary
        self.bank_digest = bank.key
        self.bank = torch.from_numpy(bank.samples.astype(np.float32))

    def to(self, device: str | torch.device) -> BosonData:
        super().to(device)
        self.bank = self.bank.to(self.device)
        return self

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        idx = torch.randint(0, self.bank.shape[0], (n,), generator=generator, device=self.device)
        return self.bank.index_select(0, idx)

    def __repr__(self) -> str:
        return (f"BosonData(n_modes={self.n_modes}, n_photons={self.n_photons}, "
                f"n_samples={self.n_samples})")
