"""The registry of latents by name: ``get(name, *, dim, seed=None, **params)``, ``names()`` and
``trainable(name)``.

=======================  ==================================================================
name                     latent
=======================  ==================================================================
gaussian                 N(0, I_dim)
bernoulli                uniform on {0, 1}^dim (``p`` = 1/2)
uniform                  uniform on [low, high)^dim (default [0, 1))
quantum                  boson sampling: n = dim // 2 indistinguishable photons in the first
                         modes of a dim-mode circuit, photon-number counts (from a bank)
photonic                 the same with distinguishable photons (the paper's classical control)
dirichlet_multinomial    challenger: Dirichlet-multinomial fitted to the quantum bank's mean
                         occupancy and mean Fano factor, photon numbers drawn from the bank
shuffled                 challenger: the quantum bank with each column permuted independently
bank                     any bank: ``get("bank", bank=Bank | folder | key)``
born                     trainable photonic Born machine: ``kind`` "quantum" | "photonic",
                         ``circuit`` "mesh" | "1-1" | "1-3-9", dim modes, ``n_photons``
                         (default dim // 2); parameters are the circuit's angles (``born.py``).
                         ``kind="qubit"``: a qubit circuit Born machine, ``n_qubits`` (or dim),
                         ``layers`` (10), ``entangler`` "ring" | "all" | "chow-liu" (learnt
                         from ``data``) (``qubit_born.py``).
                         ``kind="iqp"``: an IQP circuit Born machine, ``n_qubits`` (or dim),
                         ``gates`` "local" | "line" | "lattice" | a list, ``data`` for the
                         data-dependent initial angles (``iqp_born.py``; exact log_prob and
                         sample up to 20 qubits, trained by MMD^2 at any size);
                         ``kind="bitflip"``: its classical control (samples at any size)
bernoulli_fit            trainable independent bits, p_j = sigmoid(θ_j) (``bits.py``)
made                     trainable autoregressive bits, a MADE with ``hidden_sizes``
                         (default (64,)) (``bits.py``)
multinomial              trainable classical control of ``born``: n photons placed
                         independently over dim modes with learnt probabilities
                         (``multinomial.py``)
qbm                      trainable quantum Boltzmann machine (transverse field Γ > 0, ``gamma``
                         default 1.0) on ``n_units`` (= dim) bits, exact Gibbs state
                         (``boltzmann.py``, ``quantum/ising.py``)
bm                       the classical Boltzmann machine (Γ = 0), the QBM's baseline
rbm                      trainable restricted Boltzmann machine, ``n_hidden`` (16) hidden bits:
                         exact log_prob and samples at any dim for n_hidden <= 16 (``rbm.py``;
                         trained by PCD with ``qlatent.train.rbm.fit_rbm``, or exact NLL)

The challengers can also be derived from any existing bank, e.g. imported hardware samples:
``get("shuffled", bank=hardware_bank, seed=0)``.
=======================  ==================================================================

Photonic latents (quantum, photonic and the two challengers) take ``seed`` (the circuit and the
bank), ``circuit`` ("haar", "1-1", "1-3-9" or a unitary), ``n_samples`` (bank rows, default
200,000), ``n_photons`` (default dim // 2), ``input_state``, ``n_jobs``, ``progress`` and the
noise keywords ``transmission``, ``indistinguishability`` (not for photonic), ``threshold``,
``dark_count_probability``, ``min_photons``. With ``seed=None`` a fresh seed is drawn from OS
entropy and recorded in the bank's metadata (a new bank each call). Every latent takes
``normalize`` in {"center" (default, the paper), "standardize", "none"}.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from qlatent import photonics
from qlatent._validation import check_choice, check_float, check_int
from qlatent.latents.bank_latent import BankLatent
from qlatent.latents.banks import build_bank, check_bank_size, default_seed, derive_bank
from qlatent.latents.base import LatentDistribution
from qlatent.latents.bits import (
    MADE_HIDDEN_SIZES,
    MADE_MAX_BYTES,
    BernoulliFitLatent,
    MADELatent,
    check_made_parameters,
)
from qlatent.latents.boltzmann import BoltzmannLatent, check_boltzmann_parameters
from qlatent.latents.born import BORN_MAX_BYTES, BornLatent, check_born_parameters
from qlatent.latents.classical import BernoulliLatent, GaussianLatent, UniformLatent
from qlatent.latents.iqp_born import IQP_KINDS, IQPBornLatent, check_iqp_born_parameters
from qlatent.latents.multinomial import MultinomialLatent, check_multinomial_parameters
from qlatent.latents.normalize import NORMALIZATIONS
from qlatent.latents.qubit_born import QubitBornLatent, qubit_born_request
from qlatent.latents.rbm import RBMLatent, check_rbm_parameters
from qlatent.photonics.noise import NoiseModel

DEFAULT_BANK_SAMPLES = 200_000


def _gaussian(*, dim: int, seed: int | None = None, normalize: str = "center"):
    return GaussianLatent(dim, normalize=normalize)


def _bernoulli(*, dim: int, seed: int | None = None, normalize: str = "center", p: float = 0.5):
    return BernoulliLatent(dim, p=p, normalize=normalize)


def _uniform(*, dim: int, seed: int | None = None, normalize: str = "center",
             low: float = 0.0, high: float = 1.0):
    return UniformLatent(dim, low=low, high=high, normalize=normalize)


def _photonic_factory(kind: str, allow_indistinguishability: bool) -> Callable[..., BankLatent]:
    def factory(*, dim: int, seed: int | None = None, circuit: Any = "haar",
                n_samples: int = DEFAULT_BANK_SAMPLES, n_photons: int | None = None,
                normalize: str = "center", input_state: Any = None, n_jobs: int = 1,
                progress: bool = False, transmission: float = 1.0,
                indistinguishability: float | None = None, threshold: bool = False,
                dark_count_probability: float = 0.0, min_photons: int | None = None,
                block_size: int | None = None) -> BankLatent:
        if indistinguishability is not None and not allow_indistinguishability:
            raise ValueError(f"indistinguishability is not a parameter of latent {kind!r} "
                             "(its photons are distinguishable); use 'quantum' with "
                             f"indistinguishability={indistinguishability}")
        dim = check_int("dim", dim, minimum=1)
        if not isinstance(circuit, str):
            U = np.asarray(circuit)
            if U.ndim != 2 or U.shape[0] != dim:
                raise ValueError(f"circuit must be a {dim} x {dim} unitary for dim={dim}, got "
                                 f"shape {U.shape}")
        noise = {"transmission": transmission, "threshold": threshold,
                 "dark_count_probability": dark_count_probability, "min_photons": min_photons}
        if indistinguishability is not None:
            noise["indistinguishability"] = indistinguishability
        extra = {} if block_size is None else {"block_size": block_size}
        threads = torch.get_num_threads()
        try:
            bank = build_bank(kind, circuit, n_photons, n_samples,
                              default_seed() if seed is None else seed, n_modes=dim,
                              input_state=input_state, noise=noise, n_jobs=n_jobs,
                              progress=progress, **extra)
        finally:
            # numba's OpenMP layer can change the thread count torch sees; give it back.
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
        return BankLatent(bank, normalize=normalize)

    factory.__name__ = f"_{kind}"
    return factory


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    simple = (str, int, float, bool)
    return isinstance(value, simple) and type(value) is type(default) and value == default


def _challenger_factory(kind: str) -> Callable[..., BankLatent]:
    """Challengers are built from the quantum bank of a request, or from any ``bank=``."""
    simulate = _photonic_factory(kind, True)
    defaults = {name: p.default for name, p in inspect.signature(simulate).parameters.items()
                if name not in ("dim", "seed", "normalize")}

    def factory(*, dim: int | None = None, seed: int | None = None, circuit: Any = "haar",
                n_samples: int = DEFAULT_BANK_SAMPLES, n_photons: int | None = None,
                normalize: str = "center", input_state: Any = None, n_jobs: int = 1,
                progress: bool = False, transmission: float = 1.0,
                indistinguishability: float | None = None, threshold: bool = False,
                dark_count_probability: float = 0.0, min_photons: int | None = None,
                block_size: int | None = None, bank: Any = None) -> BankLatent:
        given = {"circuit": circuit, "n_samples": n_samples, "n_photons": n_photons,
                 "input_state": input_state, "n_jobs": n_jobs, "progress": progress,
                 "transmission": transmission, "indistinguishability": indistinguishability,
                 "threshold": threshold, "dark_count_probability": dark_count_probability,
                 "min_photons": min_photons, "block_size": block_size}
        if bank is None:
            return simulate(dim=dim, seed=seed, normalize=normalize, **given)
        changed = sorted(k for k, v in given.items() if not _is_default(v, defaults[k]))
        if changed:
            raise ValueError(f"{', '.join(changed)} do not apply to a {kind!r} latent derived "
                             "from bank=...: the source bank fixes them")
        latent = BankLatent(derive_bank(kind, bank, default_seed() if seed is None else seed),
                            normalize=normalize)
        if dim is not None and dim != latent.dim:
            raise ValueError(f"dim must match the bank's width {latent.dim}, got {dim}")
        return latent

    factory.__name__ = f"_{kind}"
    return factory


def _bank(*, bank: Any, dim: int | None = None, seed: int | None = None,
          normalize: str = "center") -> BankLatent:
    latent = BankLatent(bank, normalize=normalize)
    if dim is not None and dim != latent.dim:
        raise ValueError(f"dim must match the bank's width {latent.dim}, got {dim}")
    return latent


def _iqp_request(dim: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The checked keywords of ``IQPBornLatent`` from a ``born`` request of kind "iqp"."""
    kind = given.get("kind", "iqp")
    foreign = [k for k in ("circuit", "n_photons", "layers", "entangler")
               if given.get(k) is not None]
    if foreign:
        raise ValueError(f"{', '.join(foreign)} do(es) not apply to kind={kind!r} (use "
                         "n_qubits, gates, data)")
    n_qubits = given.get("n_qubits")
    if n_qubits is None and dim is None:
        raise ValueError(f"n_qubits (or dim) is required for kind={kind!r}, got None")
    if n_qubits is not None and dim is not None and dim != n_qubits:
        raise ValueError(f"dim must equal n_qubits for kind={kind!r}, got dim={dim} and "
                         f"n_qubits={n_qubits}")
    gates = "local" if given.get("gates") is None else given["gates"]
    n, gates, normalize = check_iqp_born_parameters(
        n_qubits=dim if n_qubits is None else n_qubits, gates=gates, data=given.get("data"),
        normalize=given.get("normalize", "center"))
    return {"kind": kind, "n_qubits": n, "gates": gates, "data": given.get("data"),
            "normalize": normalize}


def _born(*, dim: int | None = None, seed: Any = None, kind: str = "quantum",
          circuit: str | None = None, n_photons: int | None = None, normalize: str = "center",
          n_qubits: int | None = None, layers: int | None = None, entangler: Any = None,
          data: Any = None, gates: Any = None, max_bytes: float = BORN_MAX_BYTES
          ) -> BornLatent | QubitBornLatent | IQPBornLatent:
    if kind in IQP_KINDS:
        request = _iqp_request(dim, {"kind": kind, "circuit": circuit, "n_photons": n_photons,
                                     "layers": layers, "entangler": entangler,
                                     "n_qubits": n_qubits, "gates": gates, "data": data,
                                     "normalize": normalize})
        return IQPBornLatent(**request, seed=seed)
    if gates is not None:
        raise ValueError(f"gates applies to kind='iqp' or 'bitflip' only, got kind={kind!r}")
    qubit = qubit_born_request(kind=kind, dim=dim, circuit=circuit, n_photons=n_photons,
                               n_qubits=n_qubits, layers=layers, entangler=entangler, data=data,
                               normalize=normalize)
    if qubit is not None:
        return QubitBornLatent(**qubit, seed=seed)
    return BornLatent(dim, kind=kind, circuit="mesh" if circuit is None else circuit,
                      n_photons=n_photons, normalize=normalize, seed=seed, max_bytes=max_bytes)


def _bernoulli_fit(*, dim: int, seed: Any = None,
                   normalize: str = "center") -> BernoulliFitLatent:
    return BernoulliFitLatent(dim, normalize=normalize, seed=seed)


def _made(*, dim: int, seed: Any = None, hidden_sizes: Any = MADE_HIDDEN_SIZES,
          normalize: str = "center", max_bytes: float = MADE_MAX_BYTES) -> MADELatent:
    return MADELatent(dim, hidden_sizes=hidden_sizes, normalize=normalize, seed=seed,
                      max_bytes=max_bytes)


def _multinomial(*, dim: int, seed: Any = None, n_photons: int | None = None,
                 normalize: str = "center") -> MultinomialLatent:
    return MultinomialLatent(dim, n_photons=n_photons, normalize=normalize)


def _rbm(*, dim: int, seed: Any = None, n_hidden: int = 16,
         normalize: str = "center") -> RBMLatent:
    return RBMLatent(dim, n_hidden=n_hidden, normalize=normalize, seed=seed)


def _boltzmann_factory(kind: str) -> Callable[..., BoltzmannLatent]:
    def factory(*, dim: int | None = None, n_units: int | None = None, seed: Any = None,
                gamma: float | None = None,
                normalize: str = "center") -> BoltzmannLatent:
        n_units, gamma, normalize = check_boltzmann_parameters(
            kind=kind, dim=dim, n_units=n_units, gamma=gamma, normalize=normalize)
        return BoltzmannLatent(n_units, kind=kind, gamma=gamma, normalize=normalize, seed=seed)

    factory.__name__ = f"_{kind}"
    return factory


_REGISTRY: dict[str, Callable[..., LatentDistribution]] = {
    "gaussian": _gaussian,
    "bernoulli": _bernoulli,
    "uniform": _uniform,
    "quantum": _photonic_factory("quantum", True),
    "photonic": _photonic_factory("photonic", False),
    "dirichlet_multinomial": _challenger_factory("dirichlet_multinomial"),
    "shuffled": _challenger_factory("shuffled"),
    "bank": _bank,
    "born": _born,
    "bernoulli_fit": _bernoulli_fit,
    "made": _made,
    "multinomial": _multinomial,
    "qbm": _boltzmann_factory("qbm"),
    "bm": _boltzmann_factory("bm"),
    "rbm": _rbm,
}


# The latents with parameters the GAN engine trains together with the generator ([train]
# latent_lr > 0, the score-function estimator of qlatent.train.latent); the others are fixed.
_TRAINABLE = frozenset({"born", "bernoulli_fit", "made", "multinomial", "qbm", "bm", "rbm"})


def names() -> tuple[str, ...]:
    """Names accepted by :func:`get`, in the registry's order."""
    return tuple(_REGISTRY)


def trainable(name: str) -> bool:
    """Whether latent ``name`` has parameters the GAN engine can train with the generator
    (``qlatent.train.is_trainable`` of what :func:`get` builds), without building it."""
    _lookup(name)
    return name in _TRAINABLE


def parameters(name: str) -> tuple[str, ...]:
    """Keyword parameters accepted by latent ``name``."""
    return tuple(inspect.signature(_lookup(name)).parameters)


def _lookup(name: str) -> Callable[..., LatentDistribution]:
    if name not in _REGISTRY:
        raise ValueError(f"name must be one of {', '.join(map(repr, _REGISTRY))}; got {name!r}")
    return _REGISTRY[name]


def _checked_factory(name: str, dim: int | None, params: dict[str, Any]
                     ) -> Callable[..., LatentDistribution]:
    """The factory of ``name`` after checking the parameter names and that ``dim`` is given
    where the latent needs it (every latent but one drawn from ``bank=``)."""
    factory = _lookup(name)
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(f"latent {name!r} takes no parameter {', '.join(map(repr, unknown))}; "
                        f"valid parameters: {', '.join(accepted)}")
    if (dim is None and name != "bank" and params.get("bank") is None
            and params.get("n_units") is None and params.get("n_qubits") is None):
        raise ValueError(f"dim is required for latent {name!r}, got None")
    return factory


def get(name: str, *, dim: int | None = None, seed: int | None = None,
        **params: Any) -> LatentDistribution:
    """Build the latent ``name`` (see the module docstring for names and parameters).

    Examples:
        >>> get("gaussian", dim=16)
        >>> get("quantum", dim=16, seed=0, circuit="haar", n_samples=200_000, normalize="center")
        >>> get("quantum", dim=16, seed=0, transmission=0.9, indistinguishability=0.95)
        >>> get("bank", bank=bank, normalize="center")

    Raises:
        ValueError: unknown name (the valid ones are listed) or invalid parameter value.
        TypeError: a parameter the latent does not take (the valid ones are listed).
    """
    return _checked_factory(name, dim, params)(dim=dim, seed=seed, **params)


def validate(name: str, *, dim: int | None = None, **params: Any) -> None:
    """Check a latent request without building anything (no bank, no sampling).

    Checks the name, the parameter names and the values that can be checked cheaply (types,
    ranges, choices: ``normalize``, ``circuit``, ``n_samples`` (and that a bank of that many
    rows fits in memory, see :func:`~qlatent.latents.banks.check_bank_size`), ``n_photons``,
    the noise keywords). ``get`` with the same arguments may still fail on what only building shows
    (a bank file that is corrupt, a unitary that is not unitary).

    Raises:
        ValueError: unknown name (the valid ones are listed) or an invalid value.
        TypeError: a parameter the latent does not take (the valid ones are listed).
    """
    _checked_factory(name, dim, params)
    if dim is not None:
        check_int("dim", dim, minimum=1)
    if name in ("qbm", "bm"):
        check_boltzmann_parameters(kind=name, dim=dim, **{k: v for k, v in params.items()
                                                          if k != "seed"})
        return
    if name == "born":
        given = {k: v for k, v in params.items() if k != "seed"}
        if given.get("kind") in IQP_KINDS:
            _iqp_request(dim, given)
            return
        if given.pop("gates", None) is not None:
            raise ValueError(f"gates applies to kind='iqp' or 'bitflip' only, got kind="
                             f"{given.get('kind', 'quantum')!r}")
        photonic_only = {k: v for k, v in given.items() if k != "max_bytes"}
        if qubit_born_request(**{"kind": "quantum", **photonic_only, "dim": dim}) is None:
            check_born_parameters(dim=dim, **given)
        return
    if name == "rbm":
        check_rbm_parameters(dim=dim, **{k: v for k, v in params.items() if k != "seed"})
        return
    if name == "made":
        check_made_parameters(dim=dim, **{k: v for k, v in params.items() if k != "seed"})
        return
    if name == "multinomial":
        check_multinomial_parameters(dim=dim, **{k: v for k, v in params.items()
                                                 if k != "seed"})
        return
    if "normalize" in params:
        check_choice("normalize", params["normalize"], NORMALIZATIONS)
    if name == "bernoulli" and "p" in params:
        check_float("p", params["p"], minimum=0.0, maximum=1.0)
    if name == "uniform":
        low = check_float("low", params.get("low", 0.0))
        check_float("high", params.get("high", 1.0), minimum=low)
    if "circuit" in params and isinstance(params["circuit"], str):
        check_choice("circuit", params["circuit"], tuple(photonics.CIRCUITS))
    if params.get("n_samples") is not None:
        n_samples = check_int("n_samples", params["n_samples"], minimum=1)
        if dim is not None:
            check_bank_size(n_samples, dim)  # before any bank is allocated
    if params.get("n_photons") is not None:
        check_int("n_photons", params["n_photons"], minimum=1, maximum=dim)
    if params.get("n_jobs") is not None:
        check_int("n_jobs", params["n_jobs"], minimum=1)
    noise = {k: params[k] for k in ("transmission", "indistinguishability", "threshold",
                                    "dark_count_probability", "min_photons")
             if params.get(k) is not None}
    if noise:
        NoiseModel(**noise)
    if "indistinguishability" in noise and name == "photonic":
        raise ValueError("indistinguishability is not a parameter of latent 'photonic' (its "
                         "photons are distinguishable); use 'quantum'")
