"""Qubit circuit Born machines as latents: z is the measured bit vector of a trainable circuit.

``QubitBornLatent`` keeps the contract of the photonic ``BornLatent`` (``dim``, ``sample(n, *,
generator)``, trainable parameters, ``log_prob`` of raw outcomes, ``output_distribution()``,
``sample_counts``), so :func:`qlatent.train.likelihood.fit_distribution` fits both. The circuit
is :class:`qlatent.quantum.qubits.LayeredAnsatz` (Liu & Wang, arXiv:1804.04168): ``layers``
entangler layers of CNOTs on a "ring", "all" pairs or the Chow–Liu tree of ``data``, between
layers of general one-qubit rotations; P(x) = |<x|ψ(θ)>|^2 exactly, for n <= 16 qubits.

Notation:
    n = ``dim`` = ``n_qubits``; x in {0, 1}^n a raw outcome (qubit 0 first); K = 2^n.

Normalisation, as for the photonic Born machine: ``"center"`` subtracts the exact mean
``E[x_q] = sum_x P(x) x_q`` of the current circuit at every ``sample`` call; ``"standardize"``
also divides by ``sqrt(E[x_q] (1 - E[x_q]))``; ``"none"`` gives raw bits. Computed without
gradient.

Shot mode (hardware-like training): ``shot_distribution(n_shots, generator=...)`` gives the
N-shot histogram over all K outcomes with parameter-shift gradients (see
:mod:`qlatent.quantum.qubits`); ``fit_distribution`` with ``MMD(model_side="shots")`` uses it.
"""

from __future__ import annotations

from typing import Any

import torch

from qlatent._random import check_generator
from qlatent._validation import check_bits_tensor, check_choice, check_int
from qlatent.latents.base import TrainableLatent
from qlatent.latents.normalize import NORMALIZATIONS
from qlatent.quantum import qubits


def check_qubit_born_parameters(*, n_qubits: Any, layers: Any = 10, entangler: Any = "ring",
                                data: Any = None, normalize: Any = "center") -> tuple:
    """Check a qubit Born machine request cheaply (``QubitBornLatent``, ``latents.validate``).

    Returns:
        (n_qubits, layers, entangler, normalize).

    Raises:
        ValueError: n_qubits outside [1, 16] (the memory a larger one needs is named), layers <
            0, an unknown entangler or normalize (the valid ones listed), "chow-liu" without
            data.
    """
    n_qubits = qubits.check_n_qubits(n_qubits)
    layers = check_int("layers", layers, minimum=0)
    check_choice("normalize", normalize, NORMALIZATIONS)
    if isinstance(entangler, str):
        check_choice("entangler", entangler, qubits.ENTANGLERS)
        if entangler == "chow-liu" and data is None:
            raise ValueError("entangler='chow-liu' needs data (bit vectors [N, n_qubits]) to "
                             "learn the tree from, got None")
    return n_qubits, layers, entangler, normalize


class QubitBornLatent(TrainableLatent):
    """A qubit circuit Born machine: the measured bits of a trainable n-qubit circuit.

    Args:
        n_qubits: n (the latent dimension), 1..16.
        layers: entangler layers d (d + 1 rotation layers, 3 (d + 1) n angles).
        entangler: "ring", "all", "chow-liu" (learnt from ``data``) or (control, target) pairs.
        data: bit vectors [N, n] (for "chow-liu").
        normalize: "center" (default), "standardize" or "none" (module docstring).
        seed: initial angles ~ U[0, 2π) (int, numpy Generator or None for OS entropy).
        dtype: torch.float64 (default; complex128 states) or torch.float32.

    Attributes:
        ansatz: the :class:`~qlatent.quantum.qubits.LayeredAnsatz` holding the parameters.
    """

    kind = "qubit"

    def __init__(self, n_qubits: int, *, layers: int = 10, entangler: Any = "ring",
                 data: Any = None, normalize: str = "center", seed: Any = None,
                 dtype: torch.dtype = torch.float64) -> None:
        n_qubits, layers, entangler, normalize = check_qubit_born_parameters(
            n_qubits=n_qubits, layers=layers, entangler=entangler, data=data,
            normalize=normalize)
        super().__init__(n_qubits)
        self.normalize = normalize
        self.ansatz = qubits.LayeredAnsatz(n_qubits, layers, entangler=entangler, data=data,
                                           dtype=dtype, rng=seed)

    @property
    def n_qubits(self) -> int:
        return self.dim

    @property
    def n_states(self) -> int:
        return 1 << self.dim

    def probabilities(self) -> torch.Tensor:
        """P_θ(x) for every x in index order: real Tensor[2^n], differentiable."""
        self._check_finite()
        return self.ansatz.probabilities()

    def _check_finite(self) -> None:
        if not torch.isfinite(self.ansatz.weights).all():
            raise FloatingPointError("the qubit Born machine's weights are not finite")

    def _bits(self, x: Any) -> torch.Tensor:
        x = check_bits_tensor("x", x, width=self.dim, min_rows=1)
        return x.to(device=self.ansatz.weights.device, dtype=torch.long)

    def log_prob(self, x: Any) -> torch.Tensor:
        """Exact log P_θ(x) of raw bit vectors x (int or float 0/1 [B, n]): real Tensor[B].

        Raises:
            ValueError: x not [B, n] with n = ``dim``, or values other than 0 and 1.
        """
        index = qubits.bits_to_index(self._bits(x))
        return torch.log(self.probabilities()[index])

    def output_distribution(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(states int64[2^n, n], probs real[2^n]) of the current circuit (probs differentiable)."""
        return qubits.basis_bits(self.dim, device=self.device), self.probabilities()

    def shot_distribution(self, n_shots: int, *, generator: torch.Generator | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """(states int64[2^n, n], N-shot frequencies real[2^n]); gradients by parameter shift."""
        self._check_finite()
        return (qubits.basis_bits(self.dim, device=self.device),
                self.ansatz.shot_probabilities(n_shots, generator=generator))

    def sample_counts(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n raw measured bit vectors: int64 Tensor[n, dim] (no gradient)."""
        n = check_int("n", n, minimum=0)
        check_generator(generator)
        with torch.no_grad():
            return qubits.sample_bits(self.probabilities(), n, generator=generator)

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(``E[x_q]``, ``E[x_q] (1 - E[x_q])``) float64[n]: the exact moments of the current
        circuit."""
        with torch.no_grad():
            states, p = self.output_distribution()
            mean = (p[:, None] * states.to(p.dtype)).sum(0).to(torch.float64)
        return mean, mean * (1 - mean)

    def extra_repr(self) -> str:
        return (f"n_qubits={self.dim}, layers={self.ansatz.layers}, "
                f"entangler={self.ansatz.entangler!r}, normalize={self.normalize!r}")


#: Keywords of ``latents.get("born", kind="qubit", ...)`` that the photonic kinds do not take.
QUBIT_BORN_KEYWORDS = ("n_qubits", "layers", "entangler", "data")


def qubit_born_request(*, kind: Any, dim: Any = None, circuit: Any = None, n_photons: Any = None,
                       n_qubits: Any = None, layers: Any = None, entangler: Any = None,
                       data: Any = None, normalize: Any = "center") -> dict[str, Any] | None:
    """Sort the keywords of a ``born`` request: the photonic or the qubit Born machine.

    ``circuit`` and ``n_photons`` belong to the photonic kinds, ``n_qubits``, ``layers``,
    ``entangler`` and ``data`` to kind "qubit" (``dim`` may stand for ``n_qubits``; given both,
    they must agree). None means "not given".

    Returns:
        None for a photonic kind (after checking no qubit keyword came), else the checked
        keywords of :class:`QubitBornLatent` (n_qubits, layers, entangler, data, normalize).
    """
    qubit_given = [k for k, v in (("n_qubits", n_qubits), ("layers", layers),
                                  ("entangler", entangler), ("data", data)) if v is not None]
    if kind != "qubit":
        if qubit_given:
            verb = "applies" if len(qubit_given) == 1 else "apply"
            raise ValueError(f"{', '.join(qubit_given)} {verb} to kind='qubit' only, got "
                             f"kind={kind!r}")
        return None
    photonic_given = [k for k, v in (("circuit", circuit), ("n_photons", n_photons))
                      if v is not None]
    if photonic_given:
        verb = "does" if len(photonic_given) == 1 else "do"
        raise ValueError(f"{', '.join(photonic_given)} {verb} not apply to kind='qubit' (use "
                         "n_qubits, layers, entangler)")
    if n_qubits is None and dim is None:
        raise ValueError("n_qubits (or dim) is required for kind='qubit', got None")
    if n_qubits is not None and dim is not None and dim != n_qubits:
        raise ValueError(f"dim must equal n_qubits for kind='qubit', got dim={dim} and "
                         f"n_qubits={n_qubits}")
    n_qubits, layers, entangler, normalize = check_qubit_born_parameters(
        n_qubits=n_qubits if n_qubits is not None else dim,
        layers=10 if layers is None else layers,
        entangler="ring" if entangler is None else entangler, data=data, normalize=normalize)
    return {"n_qubits": n_qubits, "layers": layers, "entangler": entangler, "data": data,
            "normalize": normalize}
