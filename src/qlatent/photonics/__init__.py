"""qlatent.photonics: the physics layer (NumPy + numba only, never torch).

Unitaries (Haar, ORCA time-bin loops), permanents, exact output distributions, the exact boson
sampler (Clifford & Clifford algorithm B, or a table of the whole distribution for small Fock
spaces), the distinguishable-photon sampler, and count statistics.

Notation:
    m (``n_modes``): number of optical modes (time bins); n (``n_photons``): number of photons.
    U: complex128[m, m] unitary; U[j, k] is the amplitude for input mode k -> output mode j.
    input_state T, output state S: int64[m] photon counts with sum n.
    U_{S,T}: the n x n matrix of U with row j repeated s_j times and column k repeated t_k times.
    Perm(A) = sum over permutations s of prod_i A[i, s(i)].
    Indistinguishable photons: P(S) = |Perm(U_{S,T})|^2 / (prod s_j! prod t_k!).
    Distinguishable photons: P(S) = Perm(|U|^2_{S,T}) / prod s_j!.
"""

from qlatent.photonics import reference
from qlatent.photonics._checks import UNITARY_ATOL
from qlatent.photonics.permanent import (
    PERMANENT_MAX_OPERATIONS,
    PERMANENT_MAX_SIZE,
    PERMANENT_METHODS,
    PERMANENT_WARN_SIZE,
    permanent,
)
from qlatent.photonics.sampler import (
    SAMPLE_MAX_OPERATIONS,
    SAMPLE_METHODS,
    TABLE_MAX_STATES,
    boson_sample,
    distinguishable_sample,
    exact_distribution,
    fock_space_size,
    sampling_cost,
    standard_input,
)
from qlatent.photonics.statistics import (
    bunching_probability,
    collision_probability,
    empirical_distribution,
    fano_factor,
    mean_occupancy,
    mode_variance,
    photon_number_histogram,
    probability_of_count,
    total_variation_distance,
)
from qlatent.photonics.unitaries import (
    CIRCUITS,
    beam_splitter,
    circuit_unitary,
    haar_unitary,
    is_unitary,
    loop_unitary,
)

__all__ = [
    "CIRCUITS", "PERMANENT_MAX_OPERATIONS", "PERMANENT_MAX_SIZE", "PERMANENT_METHODS",
    "PERMANENT_WARN_SIZE", "SAMPLE_MAX_OPERATIONS", "SAMPLE_METHODS", "TABLE_MAX_STATES",
    "UNITARY_ATOL",
    "beam_splitter", "boson_sample", "bunching_probability", "circuit_unitary",
    "collision_probability",
    "distinguishable_sample", "empirical_distribution", "exact_distribution", "fano_factor",
    "fock_space_size", "haar_unitary", "is_unitary", "loop_unitary", "mean_occupancy",
    "mode_variance", "permanent", "photon_number_histogram", "probability_of_count",
    "reference", "sampling_cost", "standard_input", "total_variation_distance",
]
