"""qlatent.quantum: differentiable quantum models in torch.

Linear optics (:mod:`qlatent.quantum.optics`): parametrised interferometers as ``nn.Module``s
(a universal Clements mesh, ORCA time-bin loop circuits), exact differentiable log-probabilities
of count vectors and exact small-system output distributions with autograd.

Transverse-field Ising models (:mod:`qlatent.quantum.ising`): exact Gibbs states of quantum
Boltzmann machines, exact samples and analytic gradients (reference: ``ising_reference``).

Qubits (:mod:`qlatent.quantum.qubits`, reference :mod:`qlatent.quantum.qubits_reference`): a
batched state-vector simulator (up to 16 qubits) with rotations, CNOT, CZ, controlled gates,
layered ansätze (ring, all-to-all, Chow–Liu entanglers), exact probabilities, samples and an
N-shot mode whose gradients follow the parameter-shift rule. Import it as a module
(``from qlatent.quantum import qubits``); its docstring lists the public API.

IQP circuits (:mod:`qlatent.quantum.iqp`, gates :mod:`qlatent.quantum.iqp_gates`, reference
:mod:`qlatent.quantum.iqp_reference`): closed-form Pauli-Z expectation values, exact or unbiased
Monte-Carlo estimates to a thousand qubits and beyond, the bit-flip control, MMD^2 to data
without samples of the model (arXiv:2503.02934, arXiv:2501.04776). Import it as a module.

This layer may import :mod:`qlatent.photonics` (samplers, oracles); ``photonics`` never imports
it (nor torch).
"""

from qlatent.quantum import iqp, iqp_gates, ising, qubits
from qlatent.quantum.optics import (
    MAX_DISTRIBUTION_STATES,
    MAX_PERMANENT_PHOTONS,
    ClementsMesh,
    Interferometer,
    LoopCircuit,
    batched_permanent,
    log_prob,
    mean_occupancy,
    nonnegative_permanent,
    occupancy_variance,
    output_distribution,
)

__all__ = [
    "MAX_DISTRIBUTION_STATES", "MAX_PERMANENT_PHOTONS", "ClementsMesh", "Interferometer",
    "LoopCircuit", "batched_permanent", "iqp", "iqp_gates", "ising", "log_prob", "mean_occupancy",
    "nonnegative_permanent", "occupancy_variance", "output_distribution", "qubits",
]
