"""IQP circuit Born machines as latents: z is the measured bit vector of a trainable IQP circuit.

The circuit is exp(i sum_j θ_j X_{g_j}) on |0...0>, measured in Z (:mod:`qlatent.quantum.iqp`,
arXiv:2503.02934); its gates come from :func:`qlatent.quantum.iqp_gates.gate_set` ("local": all
single and pair gates, "line", "lattice" or a list). ``log_prob``, ``output_distribution`` and
``sample`` need the 2^n probabilities and stop at n = ``MAX_STATE_QUBITS`` (20) with a one-line
error; training by MMD^2 works at any size (``qlatent.train.iqp.fit_iqp`` on ``latent.gates``
and ``latent.theta``), and so do the moments used by the normalisation (E[x_q] =
(1 - <Z_q>) / 2 by the exact closed form, which only involves the gates near q).

``kind="bitflip"`` is the classical control with the same parameters (each gate flips its
qubits with probability sin^2 θ_j): it is to ``iqp`` what ``photonic`` is to ``quantum``, and it
samples at any size (``log_prob`` still needs the 2^n probabilities, n <= 20).

Notation: n = ``dim`` = ``n_qubits``; x in {0, 1}^n a raw outcome (qubit 0 first).
Normalisation as for the other Born machines: "center" (default), "standardize", "none".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from qlatent._random import as_generator, check_generator
from qlatent._validation import check_bits_tensor, check_choice, check_int
from qlatent.latents.base import TrainableLatent
from qlatent.latents.normalize import NORMALIZATIONS
from qlatent.quantum import iqp, qubits
from qlatent.quantum.iqp_gates import GateSet, gate_set

#: Keywords of ``latents.get("born", kind="iqp" | "bitflip", ...)``.
IQP_BORN_KEYWORDS = ("n_qubits", "gates", "data")
#: The kinds of :class:`IQPBornLatent`: the circuit and its classical control.
IQP_KINDS = ("iqp", "bitflip")


def check_iqp_born_parameters(*, n_qubits: Any, gates: Any = "local", data: Any = None,
                              normalize: Any = "center") -> tuple[int, GateSet, str]:
    """Check an IQP Born machine request: returns (n_qubits, the GateSet, normalize).

    Raises:
        ValueError: n_qubits < 1, bad gates (see ``gate_set``), data not [N, n_qubits] bits,
            an unknown normalize.
    """
    n = check_int("n_qubits", n_qubits, minimum=1)
    check_choice("normalize", normalize, NORMALIZATIONS)
    if data is not None:
        check_bits_tensor("data", data, width=n, min_rows=2)
    return n, gate_set(gates, n), normalize


class IQPBornLatent(TrainableLatent):
    """A trainable IQP circuit Born machine, or its bit-flip control.

    Args:
        n_qubits: n (the latent dimension).
        kind: "iqp" (the circuit) or "bitflip" (the classical control, same parameters).
        gates: a layout name ("local", "line", "lattice"), a list of qubit lists, or a GateSet.
        data: bit rows [N, n]: initial angles from the data (``iqp.init_from_data``); None:
            θ_j ~ U[-π, π) drawn by ``seed``.
        normalize: "center" (default), "standardize" or "none".
        seed: the initial angles' randomness (int, numpy Generator or None).
        dtype: torch.float64 (default) or torch.float32.

    Attributes:
        gates: the :class:`~qlatent.quantum.iqp_gates.GateSet`.
        theta (nn.Parameter [G]): the angles.
    """

    def __init__(self, n_qubits: int, *, kind: str = "iqp", gates: Any = "local",
                 data: Any = None, normalize: str = "center", seed: Any = None,
                 dtype: torch.dtype = torch.float64) -> None:
        self.kind = check_choice("kind", kind, IQP_KINDS)
        n, self.gates, normalize = check_iqp_born_parameters(
            n_qubits=n_qubits, gates=gates, data=data, normalize=normalize)
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
        super().__init__(n)
        self.normalize = normalize
        if data is not None:
            start = iqp.init_from_data(self.gates, data, dtype=dtype)
        else:
            u = as_generator(seed).uniform(-np.pi, np.pi, self.gates.n_gates)
            start = torch.tensor(u, dtype=dtype)
        self.theta = nn.Parameter(start)

    @property
    def n_qubits(self) -> int:
        return self.dim

    @property
    def n_states(self) -> int:
        """2^n: the number of outcomes (``fit_distribution`` picks its exact MMD side by it)."""
        return 1 << self.dim

    def _check_size(self, what: str) -> None:
        if self.dim > iqp.MAX_STATE_QUBITS:
            raise ValueError(f"{what} of an IQP latent needs n_qubits <= {iqp.MAX_STATE_QUBITS} "
                             f"(2^n probabilities), got {self.dim}; train it by MMD^2 "
                             "(qlatent.train.iqp) and sample it on hardware")

    def probabilities(self) -> torch.Tensor:
        """p_θ(x) for every x in index order: Tensor[2^n], differentiable (n <= 20)."""
        self._check_size("probabilities")
        if not torch.isfinite(self.theta).all():
            raise FloatingPointError("the IQP latent's angles are not finite")
        if self.kind == "bitflip":
            return iqp.bitflip_probabilities(self.theta, self.gates)
        return iqp.probabilities(self.theta, self.gates)

    def log_prob(self, x: Any) -> torch.Tensor:
        """Exact log p_θ(x) of raw bit rows x (0/1 [B, n]): Tensor[B] (n <= 20)."""
        self._check_size("log_prob")
        x = check_bits_tensor("x", x, width=self.dim, min_rows=1)
        index = qubits.bits_to_index(x.to(device=self.theta.device, dtype=torch.long))
        return torch.log(self.probabilities()[index])

    def output_distribution(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(states int64[2^n, n], probs [2^n]) of the current circuit (n <= 20)."""
        self._check_size("output_distribution")
        return qubits.basis_bits(self.dim, device=self.theta.device), self.probabilities()

    def sample_counts(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n raw measured bit rows: int64 Tensor[n, dim] (no gradient; the circuit up to
        n_qubits = 20, the bit-flip control at any size)."""
        n = check_int("n", n, minimum=0)
        check_generator(generator)
        if self.kind == "bitflip":
            return iqp.bitflip_sample(self.theta.detach(), self.gates, n,
                                      generator=generator).long()
        self._check_size("sample")
        with torch.no_grad():
            return qubits.sample_bits(self.probabilities(), n, generator=generator)

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(``E[x_q]``, ``E[x_q] (1 - E[x_q])``) float64[n], exactly:
        ``E[x_q] = (1 - <Z_q>) / 2``."""
        with torch.no_grad():
            ops = torch.eye(self.dim, dtype=torch.uint8, device=self.theta.device)
            expval = iqp.bitflip_expval if self.kind == "bitflip" else iqp.expval_exact
            mean = ((1 - expval(self.theta, self.gates, ops)) / 2).double()
        return mean, mean * (1 - mean)

    def extra_repr(self) -> str:
        return (f"kind={self.kind!r}, n_qubits={self.dim}, gates={self.gates.name!r}, "
                f"normalize={self.normalize!r}")
