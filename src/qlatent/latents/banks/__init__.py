"""Sample banks: content-addressed, resumable, verified arrays of photon-count samples.

The package has four parts, one job each:

* :mod:`~qlatent.latents.banks.store`: the :class:`Bank`, verified loading (checksums,
  statistics, photon numbers), listing and atomic, idempotent publication with a build lock;
* :mod:`~qlatent.latents.banks.build`: simulated banks (``quantum``, ``photonic``) built in
  seeded blocks and checksummed chunks that resume bit-identically;
* :mod:`~qlatent.latents.banks.challengers`: ``dirichlet_multinomial`` and ``shuffled`` banks
  derived from any bank;
* :mod:`~qlatent.latents.banks.hardware`: import of recorded samples (text, NPY, NPZ).

One :class:`~qlatent.photonics.noise.NoiseModel` describes a simulated bank's noise from the
request to the sampler, the key, the metadata and the checks on load (``Bank.noise``).
"""

from qlatent.latents.banks.build import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_CHUNK_SIZE,
    build_bank,
    default_seed,
    noise_model,
    resolve_circuit,
    unfinished_builds,
)
from qlatent.latents.banks.challengers import derive_bank, fit_dirichlet_concentration
from qlatent.latents.banks.hardware import import_bank
from qlatent.latents.banks.store import (
    BANK_KINDS,
    DERIVED_KINDS,
    FORMAT_VERSION,
    IDEAL_NOISE,
    MAX_BANK_BYTES,
    SAMPLER_VERSION,
    SIMULATED_KINDS,
    Bank,
    BankError,
    check_bank_size,
    find_bank,
    list_banks,
    load_bank,
)

__all__ = [
    "BANK_KINDS", "DEFAULT_BLOCK_SIZE", "DEFAULT_CHUNK_SIZE", "DERIVED_KINDS", "FORMAT_VERSION",
    "IDEAL_NOISE", "MAX_BANK_BYTES", "SAMPLER_VERSION", "SIMULATED_KINDS", "Bank", "BankError",
    "build_bank", "check_bank_size", "default_seed", "derive_bank", "find_bank",
    "fit_dirichlet_concentration", "import_bank", "list_banks", "load_bank", "noise_model",
    "resolve_circuit", "unfinished_builds",
]
