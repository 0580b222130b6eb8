"""Photonic Born machines as latents: a trainable interferometer whose photon counts are z.

``BornLatent`` keeps the latent contract (``dim``, ``sample(n, *, generator)``) and adds what a
trainable distribution needs: its circuit angles are ``nn.Parameter``s, ``log_prob(counts)``
gives exact, differentiable log-probabilities of raw count vectors, and ``output_distribution()``
the whole distribution for small Fock spaces.

Notation:
    m = ``dim`` = ``n_modes`` modes, n = ``n_photons`` photons in the first n modes
    (T = (1, ..., 1, 0, ..., 0)); U(θ) complex128[m, m] the circuit; a sample S int[m] with
    sum n. kind "quantum": indistinguishable photons, P(S) = |Perm(U_{S,T})|^2 / prod s!;
    kind "photonic": distinguishable photons, P(S) = Perm(|U|^2_{S,T}) / prod s!.

Normalisation (a distribution that moves during training): ``normalize="center"`` subtracts the
*exact* mean occupancy of the *current* circuit, E[s_j] = sum_k t_k |U_jk|^2 (the same formula
for both kinds), recomputed from θ at every ``sample`` call; ``"standardize"`` also divides by
the exact standard deviation (``qlatent.quantum.optics.occupancy_variance``). So z has mean 0
(unit variance) under the current θ at every step, as the fixed latents do under their bank; the
shift follows θ without sampling noise and no statistic is ever stale. The shift is computed
without gradient: the generator sees z as data, and θ is trained through ``log_prob``.
"""

from __future__ import annotations

from typing import Any

import torch

from qlatent import photonics
from qlatent._validation import check_batch_memory, check_choice, check_cost, check_int
from qlatent.latents.base import TrainableLatent
from qlatent.latents.normalize import NORMALIZATIONS
from qlatent.quantum import optics

#: kind -> photons distinguishable?
BORN_KINDS: dict[str, bool] = {"quantum": False, "photonic": True}
#: circuit -> loop delays (None: the universal Clements mesh).
BORN_CIRCUITS: dict[str, tuple[int, ...] | None] = {"mesh": None, "1-1": (1, 1),
                                                     "1-3-9": (1, 3, 9)}
#: Indistinguishable samples come from the alias table of the whole distribution up to this many
#: states (recomputed whenever θ changes), else from Clifford & Clifford's algorithm; the choice
#: depends only on (m, n).
BORN_TABLE_MAX_STATES = 20_000
#: A born latent whose circuit would take more bytes than this is refused unless given a larger
#: ``max_bytes``: m^2 float64 angles and an m x m complex128 unitary, 24 m^2 bytes (dim 6,688).
BORN_MAX_BYTES = float(2**30)
#: ``log_prob`` refuses a batch whose working memory would exceed this (``max_bytes``).
LOG_PROB_MAX_BYTES = float(2**32)


def check_born_parameters(*, dim: Any, kind: Any = "quantum", circuit: Any = "mesh",
                          n_photons: Any = None, normalize: Any = "center",
                          max_bytes: float = BORN_MAX_BYTES) -> tuple:
    """Check a ``born`` request cheaply (used by ``BornLatent`` and ``latents.validate``).

    Returns:
        (dim, kind, circuit, n_photons, normalize) with n_photons defaulting to dim // 2.

    Raises:
        ValueError: unknown kind/circuit/normalize (valid ones listed), a dimension the circuit
            cannot have (a loop of delay d needs dim > d; every circuit needs dim >= 2),
            n_photons outside [1, dim], a circuit above ``max_bytes`` (24 dim^2 bytes).
    """
    dim = check_int("dim", dim, minimum=1)
    check_cost(f"a born latent of dim={dim} (an m x m circuit: m^2 angles and a complex "
               "unitary)", 24.0 * dim * dim, max_bytes, unit="bytes", knob="max_bytes")
    check_choice("kind", kind, tuple(BORN_KINDS))
    if not isinstance(circuit, str):
        raise TypeError(f"circuit must be one of {', '.join(map(repr, BORN_CIRCUITS))} (a "
                        f"trainable circuit), got {type(circuit).__name__}")
    check_choice("circuit", circuit, tuple(BORN_CIRCUITS))
    check_choice("normalize", normalize, NORMALIZATIONS)
    delays = BORN_CIRCUITS[circuit]
    smallest = 2 if delays is None else max(delays) + 1
    if dim < smallest:
        raise ValueError(f"dim must be >= {smallest} for a born latent with circuit "
                         f"{circuit!r}, got {dim}")
    n_photons = dim // 2 if n_photons is None else check_int("n_photons", n_photons, minimum=1,
                                                             maximum=dim)
    return dim, kind, circuit, n_photons, normalize


class BornLatent(TrainableLatent):
    """A photonic Born machine: counts of n photons through a trainable m-mode circuit.

    Args:
        dim: m modes (the latent dimension).
        kind: "quantum" (indistinguishable photons) or "photonic" (distinguishable ones).
        circuit: "mesh" (universal Clements mesh, m^2 parameters) or the loop circuits "1-1",
            "1-3-9" (trainable θ, φ per beam splitter).
        n_photons: n (default dim // 2), one photon in each of the first n modes.
        normalize: "center" (default), "standardize" or "none" (see the module docstring).
        seed: initial angles (int, numpy Generator or None for OS entropy); the loop circuits
            start at ``photonics.circuit_unitary(circuit, dim, rng=seed)``.
        max_bytes: the most memory the circuit may take (24 dim^2 bytes; default
            ``BORN_MAX_BYTES``, 1 GiB); a larger dim is refused before anything is built.

    Attributes:
        interferometer: the ``qlatent.quantum.optics`` module holding the parameters.
        input_state: int64 buffer [m].
    """

    def __init__(self, dim: int, *, kind: str = "quantum", circuit: str = "mesh",
                 n_photons: int | None = None, normalize: str = "center", seed: Any = None,
                 max_bytes: float = BORN_MAX_BYTES) -> None:
        dim, kind, circuit, n_photons, normalize = check_born_parameters(
            dim=dim, kind=kind, circuit=circuit, n_photons=n_photons, normalize=normalize,
            max_bytes=max_bytes)
        super().__init__(dim)
        self.kind, self.circuit, self.n_photons, self.normalize = kind, circuit, n_photons, \
            normalize
        delays = BORN_CIRCUITS[circuit]
        self.interferometer = (optics.ClementsMesh(dim, rng=seed) if delays is None
                               else optics.LoopCircuit(dim, delays, rng=seed))
        state = torch.zeros(dim, dtype=torch.long)
        state[:n_photons] = 1
        self.register_buffer("input_state", state)

    @property
    def distinguishable(self) -> bool:
        return BORN_KINDS[self.kind]

    def unitary(self) -> torch.Tensor:
        """U(θ): complex128[m, m], differentiable."""
        self.interferometer.check_finite()
        return self.interferometer()

    def log_prob(self, counts: Any, *, max_bytes: float = LOG_PROB_MAX_BYTES) -> torch.Tensor:
        """Exact log P_θ(S) of raw count vectors (before normalisation): float64 Tensor[B].

        Args:
            counts (int Tensor or array [B, m]): rows summing to n_photons (else ValueError).
            max_bytes: the most working memory accepted (about B (m + n^2) 16 bytes: the rows
                and their n x n submatrices); a larger batch is refused before any copy.
        """
        check_batch_memory(counts, 16.0 * (self.dim + self.n_photons**2), max_bytes)
        return optics.log_prob(self.unitary(), self.input_state, counts,
                        distinguishable=self.distinguishable)

    def output_distribution(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(states int64[K, m], probs float64[K]) of the current circuit (small Fock spaces)."""
        return optics.output_distribution(self.unitary(), self.input_state,
                                   distinguishable=self.distinguishable)

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(E[s_j], Var[s_j]) float64[m]: the exact occupancy moments of the current circuit."""
        with torch.no_grad():
            U = self.unitary()
            return (optics.mean_occupancy(U, self.input_state),
                    optics.occupancy_variance(U, self.input_state,
                                              distinguishable=self.distinguishable))

    def sample_counts(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact raw samples from the current U(θ): int64 Tensor[n, m] (no gradient).

        A numpy seed is drawn with ``torch.randint(0, 2**62, (1,), generator=generator)``; the
        numba samplers of :mod:`qlatent.photonics` (``boson_sample``: alias table up to
        ``BORN_TABLE_MAX_STATES`` states, else Clifford & Clifford; ``distinguishable_sample``)
        then draw the counts, so a seeded generator gives identical samples.
        """
        n = check_int("n", n, minimum=0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        seed = int(torch.randint(0, 2**62, (1,), generator=generator,
                                 device=generator.device if generator is not None else "cpu"))
        with torch.no_grad():
            U = self.unitary().cpu().numpy()
        t = self.input_state.cpu().numpy()
        threads = torch.get_num_threads()
        try:
            if self.distinguishable:
                counts = photonics.distinguishable_sample(U, t, n, rng=seed)
            else:
                method = ("table" if photonics.fock_space_size(self.dim, self.n_photons)
                          <= BORN_TABLE_MAX_STATES else "clifford")
                counts = photonics.boson_sample(U, t, n, rng=seed, method=method)
        finally:
            # numba's OpenMP layer can change the thread count torch sees; give it back.
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
        return torch.from_numpy(counts).to(self.input_state.device)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, kind={self.kind!r}, circuit={self.circuit!r}, "
                f"n_photons={self.n_photons}, normalize={self.normalize!r}")
