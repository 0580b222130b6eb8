"""The model zoo as a runner task: ``zoo``, generative model families x discrete data sets x seeds.

A cell is (data set, family, seed). Every family is a trainable distribution over bit strings
(or photon counts) or a generator fed by a latent:

* **likelihood families** (``train = "likelihood"``, the default): a trainable latent of the
  registry (``qlatent.latents.get``: the qubit or photonic Born machine ``born``, the
  Boltzmann machines ``qbm`` / ``bm`` / ``rbm``, the classical ``bernoulli_fit`` and ``made``),
  built at the data's width and fitted as its ``fit`` table, a ``ZooFit``, says: by
  ``qlatent.train.fit_distribution`` (NLL, KL, MMD or the Boltzmann bound), by
  ``qlatent.train.iqp.fit_iqp`` (``loss = "mmd-estimator"``: an IQP circuit or its bit-flip
  control, sample-free MMD^2, any size) or by ``qlatent.train.rbm.fit_rbm`` (``loss = "pcd"``:
  an RBM, any size); samples are its raw outcomes (``sample_counts``). This task scores
  samples, so it refuses an IQP circuit past 20 qubits; ``zoo-scale``
  (``qlatent.experiments.tasks.zoo_scale``) scores every family by held-out MMD^2 instead.
* **adversarial families** (``train = "adversarial"``): a generator network fed by a latent
  (``latent``, default ``gaussian``, of length ``latent_dim``), trained by ``qlatent.train.fit``
  against the MLP critic of the ``[model]`` table with the ``[train]`` table (a GAN on bits);
  a sample is the generator's output thresholded at 1/2.

Each family is one ``[latent_params.<family>]`` table (its label is the name in
``experiment.latents``)::

    [latent_params.qubit-ring]
    latent = "born"                   # the registry name (default: the label)
    kind = "qubit"                    # the latent's own keywords ...
    layers = 6
    entangler = "ring"                # "chow-liu": the tree is learnt from the training rows
    datasets = ["bas", "gmm"]         # where the family applies (default: every data set)
    fit = {loss = "mmd", steps = 300, lr = 0.05}   # a typed table: ZooFit

    [latent_params.gan]
    train = "adversarial"
    latent = "gaussian"
    latent_dim = 8

Data sets (``[task]`` sets their sizes): ``bas`` (every n x m bars-and-stripes pattern, uniform
target), ``cardinality`` (k-of-n strings, a fixed 30 % trained on, the rest held out),
``gmm`` (Liu & Wang's Gaussian mixture over 2^n integers), ``digits`` (scikit-learn's 8 x 8
digits binarised; no exact target), and your own files of 0/1 rows, each named in
``[task.files]`` (``name = {train = "a.npy", held_out = "b.csv"}``, ``ZooParams.files``; read
by ``qlatent.data.discrete.load_bits``, no exact target, their SHA-256 in the cell's
environment.json).

Scoring: ``n_eval`` samples are drawn (``seeds.evaluate``), saved as ``samples.npy`` (uint8,
one raw vector per row) and every metric is computed from them alone, so anyone can recompute
it (``score_samples``):

* ``exact_mmd`` (primary; every data set): MMD^2 = (p - q)^T K (p - q) between the target p
  (the exact target where defined; for ``digits`` the empirical distribution of the training
  rows) and the samples' empirical distribution q, over the union of both supports, with the
  house kernel (``qlatent.metrics.exact_mmd``, bandwidths ``mmd_bandwidths``);
* ``kl_divergence`` KL(p || q) with q floored at ``qlatent.metrics.discrete.KL_EPSILON`` and
  ``total_variation`` (data sets with an exact target);
* ``valid_fraction`` (``bas``: BAS patterns; ``cardinality``: strings with k ones) and
  ``qbas_score`` (``bas``; recall over n_eval samples);
* ``generalization_fidelity``, ``generalization_rate``, ``generalization_coverage``
  (``cardinality``; Gili et al., arXiv:2201.08770).

A metric that does not apply to a data set is NaN with the reason in metrics.json ``notes``.

Packs do not apply: likelihood families are distributions fitted in a few seconds, not the
packable generator/critic networks of ``qlatent.train.fit_pack`` (``packable = False``). Every
cell writes ``log.jsonl`` and ``checkpoint.pt`` and a killed one resumes from its checkpoint
(a likelihood cell checkpoints every ``fit.checkpoint_every`` steps and at the end); done cells
(``metrics.json``) are skipped. A finished cell reloads (``load_trained``: the fitted latent,
or the generator and critic) and samples as ``evaluate`` does (``sample``: uint8 outcomes).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qlatent import latents
from qlatent import metrics as M
from qlatent._io import atomic_write
from qlatent._validation import check_choice, check_int, check_keys
from qlatent.data import discrete
from qlatent.data.discrete import is_bars_and_stripes, solutions
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.tasks._mlp import MLPModel, networks
from qlatent.experiments.tasks.base import (
    Built,
    Cell,
    CellContext,
    Metrics,
    MetricSpec,
    Params,
    Task,
    check_folder_name,
    param,
    register_task,
    torch_generator,
)
from qlatent.latents.iqp_born import IQPBornLatent
from qlatent.latents.rbm import RBMLatent
from qlatent.models import QuantumGenerator
from qlatent.quantum import iqp
from qlatent.train import fit, fit_distribution
from qlatent.train import likelihood as lk
from qlatent.train.checkpoint import load_checkpoint
from qlatent.train.iqp import IQPConfig, IQPTrainer, fit_iqp
from qlatent.train.likelihood import LikelihoodTrainer
from qlatent.train.rbm import RBMConfig, fit_rbm

DATASETS = ("bas", "cardinality", "gmm", "digits")
#: Keys of a ``[task.files]`` entry.
FILE_KEYS = ("train", "held_out")
TRAININGS = ("likelihood", "adversarial")
ADVERSARIAL_GENERATORS = ("mlp", "quantum")
#: Keys of a family table that are the zoo's, not the latent's.
FAMILY_KEYS = ("latent", "train", "datasets", "fit", "latent_dim", "generator",
               "generator_params", "classical")
#: Rows standing for an exact target when a fit needs rows without weights.
TARGET_ROWS = 10_000
#: Registry names of classical latents: a family built on one is a classical baseline unless
#: its table says ``classical = false``.
CLASSICAL_LATENTS = ("bernoulli_fit", "made", "bm", "rbm", "gaussian", "bernoulli",
                     "uniform")
#: Losses of a ``fit`` table (``ZooFit``).
LOSSES = ("nll", "kl", "mmd", "bound", "mmd-estimator", "pcd")
#: Keys of a ``fit`` table that apply to one loss only.
_LOSS_ONLY = {"mmd": ("model_side", "n_model_samples", "bandwidths"),
              "mmd-estimator": ("n_ops", "n_samples", "sigma", "init"),
              "pcd": ("n_chains", "gibbs_steps")}
#: Keywords of a latent that the zoo sets itself.
_LATENT_RESERVED = ("dim", "seed", "data", "n_qubits", "n_units")


@dataclass(frozen=True)
class ZooModel(MLPModel):
    """The ``[model]`` table of ``zoo``: generator and critic MLPs of the adversarial families."""

    hidden: tuple[int, ...] = param((64, 64), minimum=1)
    """Widths of the hidden layers (generator and critic alike)."""


@dataclass(frozen=True)
class ZooParams(Params):
    """The ``[task]`` table of ``zoo``: the data sets' sizes and the evaluation."""

    TABLE = "task"

    bas_rows: int = param(3, minimum=1)
    """Rows of the bars-and-stripes images."""
    bas_cols: int = param(3, minimum=1)
    """Columns of the bars-and-stripes images."""
    cardinality_bits: int = param(10, minimum=2, maximum=24)
    """n: bits of the cardinality strings."""
    cardinality_k: int = param(5, minimum=1)
    """k: ones per cardinality string (1 <= k <= n - 1)."""
    cardinality_train_fraction: float = param(0.3, minimum=0.0, maximum=1.0)
    """Fraction of the k-of-n strings trained on (the rest is held out)."""
    cardinality_split_seed: int = param(0, minimum=0)
    """Seed of the train / held-out split (the same for every cell: one target)."""
    gmm_bits: int = param(10, minimum=1, maximum=20)
    """n: bits of the Gaussian mixture's integers (2^n states)."""
    digits_threshold: int = param(8, minimum=1, maximum=16)
    """A digits pixel (0..16) is 1 where it is >= this."""
    n_eval: int = param(5000, minimum=2)
    """Samples drawn, saved (samples.npy) and scored per cell."""
    mmd_bandwidths: tuple[float, ...] = param((0.5, 1.0, 2.0, 4.0), minimum=0.0)
    """σ's of the Gaussian-mixture kernel of ``exact_mmd``."""
    files: dict | None = param(None)
    """Your own data sets: name -> ``{train = "FILE", held_out = "FILE"}`` (``.npy`` or
    ``.csv`` of 0/1 rows, ``qlatent.data.discrete.load_bits``; ``held_out`` optional; a
    relative path is taken from the current directory and recorded absolute). A name is listed
    in ``experiment.datasets`` like a built-in one and names its folder."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.cardinality_k < self.cardinality_bits:
            raise ValueError(f"task.cardinality_k must be < task.cardinality_bits "
                             f"({self.cardinality_bits}), got {self.cardinality_k}")
        if self.cardinality_train_fraction <= 0:
            raise ValueError(f"task.cardinality_train_fraction must be > 0, got "
                             f"{self.cardinality_train_fraction}")
        if min(self.mmd_bandwidths) <= 0:
            raise ValueError(f"task.mmd_bandwidths must be > 0, got {list(self.mmd_bandwidths)}")
        if self.files is not None:
            object.__setattr__(self, "files", _check_files(self.files))


def _check_files(files: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``task.files`` with each name checked (a folder name, not a built-in data set) and each
    path made absolute; the files themselves are read by ``dataset`` (``load_bits``)."""
    out = {}
    for name, table in files.items():
        where = f"task.files.{name}"
        check_folder_name("task.files", name)
        if name in DATASETS:
            raise ValueError(f"task.files: {name!r} is a built-in data set; give your file "
                             "another name")
        if not isinstance(table, Mapping):
            raise TypeError(f"{where} must be a table {{train = \"FILE\", held_out = "
                            f"\"FILE\"}}, got {table!r}")
        check_keys(table, FILE_KEYS, where)
        if "train" not in table:
            raise ValueError(f"{where} must set train (the file of training rows)")
        out[name] = {}
        for key, path in table.items():
            if not isinstance(path, str) or not path:
                raise TypeError(f"{where}.{key} must be a file path (a string), got {path!r}")
            if Path(path).suffix.lower() not in discrete.BIT_FILE_SUFFIXES:
                raise ValueError(f"{where}.{key} must be a .npy or .csv file of 0/1 rows, got "
                                 f"{path!r}")
            out[name][key] = str(Path(path).expanduser().absolute())
    return out


@dataclass(frozen=True)
class ZooFit(Params):
    """The ``fit`` table of a likelihood family (``[latent_params.<label>] fit = {...}``): how
    the family is trained, as flat TOML keys.

    * ``loss = "nll" | "kl" | "mmd" | "bound"``: ``qlatent.train.fit_distribution`` with the
      exact (or sampled) loss (``to_config`` makes its ``LikelihoodConfig``); needs the model's
      probabilities or samples at the data's width (an IQP circuit: n <= 20 qubits).
    * ``loss = "mmd-estimator"``: ``qlatent.train.iqp.fit_iqp`` (an IQP circuit or its bit-flip
      control, ``born`` with ``kind = "iqp" | "bitflip"``): MMD^2 without model samples from
      ``n_ops`` spectral operators and ``n_samples`` strings per step, data-dependent initial
      angles (``init``), any number of qubits (``to_iqp_config``).
    * ``loss = "pcd"``: ``qlatent.train.rbm.fit_rbm`` (an ``rbm``): persistent contrastive
      divergence on ``n_chains`` chains, ``gibbs_steps`` per update, any size
      (``to_rbm_config``).
    """

    TABLE = "fit"

    steps: int | None = param(None, minimum=1)
    """Optimiser steps (L-BFGS: iterations); required."""
    loss: str = param("nll", choices=LOSSES)
    """``"nll"`` (``NLL()``), ``"kl"`` (``KL()``), ``"mmd"`` (``MMD(...)``), ``"bound"``
    (``Bound()``, Boltzmann machines), ``"mmd-estimator"`` (``fit_iqp``: IQP / bit-flip) or
    ``"pcd"`` (``fit_rbm``: RBM)."""
    optimizer: str = param("adam", choices=("adam", "lbfgs"))
    """``"adam"`` (``Adam(lr)``) or ``"lbfgs"`` (``LBFGS()``, exact losses only)."""
    lr: float | None = param(None, minimum=0.0)
    """Adam's learning rate (unset: 0.02); not taken by L-BFGS."""
    batch_size: int = param(256, minimum=1)
    """Data rows per step (NLL, Bound, MMD by samples, PCD; a data set with an exact target is
    fitted on all of its states, weighted, and does not use it; the MMD estimator uses every
    training row each step)."""
    model_side: str | None = param(None, choices=("auto", "exact", "samples", "shots"))
    """MMD only: the model side (unset: ``"auto"``)."""
    n_model_samples: int | None = param(None, minimum=2)
    """MMD only: model samples or shots per step (unset: 256)."""
    bandwidths: tuple[float, ...] | None = param(None, minimum=0.0)
    """MMD only: the kernel's σ's (unset: ``qlatent.metrics.kernels.DEFAULT_BANDWIDTHS``)."""
    n_ops: int | None = param(None, minimum=1)
    """MMD estimator only: operators per step (unset: 1000)."""
    n_samples: int | None = param(None, minimum=2)
    """MMD estimator only: the circuit's strings per step (unset: 1000; the bit-flip control
    is exact and takes none)."""
    sigma: float | None = param(None, minimum=0.0)
    """MMD estimator only: the Gaussian kernel's one bandwidth (unset: the median heuristic on
    the training rows, ``qlatent.quantum.iqp.median_bandwidth(rows, rng=0)``)."""
    init: str | None = param(None, choices=("data", "uniform"))
    """MMD estimator only: initial angles from the data (unset) or U[-π, π)."""
    n_chains: int | None = param(None, minimum=1)
    """PCD only: persistent chains (unset: 64)."""
    gibbs_steps: int | None = param(None, minimum=1)
    """PCD only: block-Gibbs steps of the chains per update (unset: 1)."""
    log_every: int = param(10, minimum=1)
    """Steps between rows of the cell's ``log.jsonl``."""
    checkpoint_every: int = param(100, minimum=0)
    """Steps between checkpoints of the cell (0: at the end only); a killed cell resumes from
    its last one."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.steps is None:
            raise ValueError("fit must set steps (the optimiser steps of the family's trainer)")
        for loss, keys in _LOSS_ONLY.items():
            given = [k for k in keys if getattr(self, k) is not None]
            if given and self.loss != loss:
                raise ValueError(f"fit.{given[0]} applies to loss = {loss!r} only, got loss = "
                                 f"{self.loss!r}")
        if self.optimizer == "lbfgs" and self.loss in ("mmd-estimator", "pcd"):
            raise ValueError(f"fit.optimizer = 'lbfgs' needs an exact loss, got loss = "
                             f"{self.loss!r} (a stochastic estimate; use 'adam')")
        if self.optimizer == "lbfgs" and self.lr is not None:
            raise ValueError(f"fit.lr does not apply to optimizer = 'lbfgs' (L-BFGS chooses its "
                             f"steps by a line search), got lr = {self.lr}")
        if self.bandwidths is not None and min(self.bandwidths) <= 0:
            raise ValueError(f"fit.bandwidths must be > 0, got {list(self.bandwidths)}")
        if self.sigma is not None and self.sigma <= 0:
            raise ValueError(f"fit.sigma must be > 0, got {self.sigma}")

    @property
    def samples_side(self) -> bool:
        """Whether the loss takes rows without weights: MMD on model samples or shots, the MMD
        estimator and PCD."""
        return ((self.loss == "mmd" and self.model_side in ("samples", "shots"))
                or self.loss in ("mmd-estimator", "pcd"))

    def to_config(self):
        """The ``qlatent.train.LikelihoodConfig`` this table describes (``fit_distribution``
        losses only)."""
        if self.loss in ("mmd-estimator", "pcd"):
            raise ValueError(f"fit.loss = {self.loss!r} is not a fit_distribution loss")
        if self.loss == "mmd":
            loss = lk.MMD(**{k: getattr(self, k) for k in ("model_side", "n_model_samples",
                                                           "bandwidths")
                             if getattr(self, k) is not None})
        else:
            loss = {"nll": lk.NLL, "kl": lk.KL, "bound": lk.Bound}[self.loss]()
        optimizer = (lk.LBFGS() if self.optimizer == "lbfgs"
                     else lk.Adam() if self.lr is None else lk.Adam(lr=self.lr))
        return lk.LikelihoodConfig(steps=self.steps, loss=loss, optimizer=optimizer,
                                   batch_size=self.batch_size, log_every=self.log_every,
                                   checkpoint_every=self.checkpoint_every)

    def to_iqp_config(self, model: str, sigma: float) -> IQPConfig:
        """The ``qlatent.train.iqp.IQPConfig`` of ``loss = "mmd-estimator"`` for ``model``
        ("iqp" or "bitflip") at bandwidth ``sigma``."""
        return IQPConfig(steps=self.steps, lr=0.02 if self.lr is None else self.lr,
                         n_ops=1000 if self.n_ops is None else self.n_ops,
                         n_samples=1000 if self.n_samples is None else self.n_samples,
                         sigma=sigma, model=model, init=self.init or "data",
                         log_every=self.log_every, checkpoint_every=self.checkpoint_every)

    def to_rbm_config(self) -> RBMConfig:
        """The ``qlatent.train.rbm.RBMConfig`` of ``loss = "pcd"``."""
        return RBMConfig(steps=self.steps, lr=0.02 if self.lr is None else self.lr,
                         batch_size=self.batch_size,
                         n_chains=64 if self.n_chains is None else self.n_chains,
                         gibbs_steps=1 if self.gibbs_steps is None else self.gibbs_steps,
                         log_every=self.log_every, checkpoint_every=self.checkpoint_every)


# --------------------------------------------------------------------------- data
def dataset(name: str, p: ZooParams):
    """The ``qlatent.data.discrete.DiscreteData`` of data set ``name`` under ``[task]`` ``p``
    (a name of ``task.files``: its files, read and checked now, ``load_bits``)."""
    files = p.files or {}
    if name in files:
        try:
            return discrete.load_bits(files[name]["train"],
                                      held_out=files[name].get("held_out"))
        except (TypeError, ValueError) as err:  # name the table: task.files.<name>.train
            message = str(err)
            if message.startswith("path"):
                message = f".train{message[4:]}"
            elif not message.startswith("held_out"):
                message = f": {message}"
            else:
                message = f".{message}"
            raise type(err)(f"task.files.{name}{message}") from err
    check_choice("dataset", name, DATASETS)
    if name == "bas":
        return discrete.bars_and_stripes(p.bas_rows, p.bas_cols)
    if name == "cardinality":
        return discrete.cardinality(p.cardinality_bits, p.cardinality_k,
                                    train_fraction=p.cardinality_train_fraction,
                                    rng=p.cardinality_split_seed)
    if name == "gmm":
        return discrete.gaussian_mixture(p.gmm_bits)
    return discrete.binarized_digits(threshold=p.digits_threshold)


def width(name: str, p: ZooParams) -> int:
    """Bits per row of data set ``name`` (without building it; a file's is read)."""
    if name in (p.files or {}):
        return dataset(name, p).dim
    return {"bas": p.bas_rows * p.bas_cols, "cardinality": p.cardinality_bits,
            "gmm": p.gmm_bits, "digits": 64}[check_choice("dataset", name, DATASETS)]


class BitData:
    """Training rows for ``qlatent.train.fit``: ``sample(n, *, generator)`` draws rows of the
    target (``probs`` over ``states``) or, without a target, of the training rows, uniformly;
    float32 Tensor[n, width]."""

    def __init__(self, data: Any) -> None:
        rows = data.states if data.probs is not None else data.data
        self.rows = torch.as_tensor(np.asarray(rows, dtype=np.float32))
        self.probs = None if data.probs is None else torch.as_tensor(data.probs)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.probs is None:
            idx = torch.randint(0, len(self.rows), (n,), generator=generator)
        else:
            idx = torch.multinomial(self.probs, n, replacement=True, generator=generator)
        return self.rows[idx]


# --------------------------------------------------------------------------- families
@dataclass(frozen=True)
class Family:
    """One ``[latent_params.<label>]`` table, split into the zoo's keys and the latent's."""

    label: str
    latent: str
    train: str
    datasets: tuple[str, ...] | None
    fit: ZooFit | None
    latent_dim: int | None
    generator: str
    latent_params: dict[str, Any]
    classical: bool
    generator_params: dict[str, Any] | None = None


def family(label: str, table: Mapping[str, Any]) -> Family:
    """Parse a family table (``FAMILY_KEYS`` are the zoo's; every other key goes to
    ``qlatent.latents.get``); a bad key or value raises naming ``latent_params.<label>``."""
    where = f"latent_params.{label}"
    table = dict(table)
    train = table.pop("train", "likelihood")
    if train not in TRAININGS:
        raise ValueError(f"{where}.train must be one of {', '.join(map(repr, TRAININGS))}, "
                         f"got {train!r}")
    latent = table.pop("latent", "gaussian" if train == "adversarial" else label)
    if not isinstance(latent, str):
        raise TypeError(f"{where}.latent must be a latent name (str), got {latent!r}")
    datasets = table.pop("datasets", None)
    if datasets is not None:
        if (isinstance(datasets, str) or not isinstance(datasets, list | tuple) or not datasets
                or not all(isinstance(d, str) for d in datasets)):
            raise ValueError(f"{where}.datasets must be a non-empty list of data set names "
                             f"({', '.join(DATASETS)} or a name of task.files), got "
                             f"{datasets!r}")
        datasets = tuple(check_folder_name(f"{where}.datasets", d) for d in datasets)
    fit = table.pop("fit", None)
    latent_dim = table.pop("latent_dim", None)
    generator = table.pop("generator", "mlp")
    generator_params = table.pop("generator_params", None)
    if generator_params is not None and not isinstance(generator_params, Mapping):
        raise TypeError(f"{where}.generator_params must be a table of QuantumGenerator "
                        f"keywords, got {generator_params!r}")
    if generator_params is not None and generator != "quantum":
        raise ValueError(f"{where}.generator_params apply to generator = 'quantum' only")
    if train == "likelihood":
        if latent_dim is not None or generator != "mlp" or generator_params is not None:
            raise ValueError(f"{where}: latent_dim and generator apply to train = "
                             "'adversarial' only (a likelihood family takes the data's width)")
        try:
            fit = ZooFit.from_table(fit, where=f"{where}.fit")
        except (TypeError, ValueError) as err:
            message = str(err)  # name the table in full: latent_params.<label>.fit
            if message.startswith("fit"):
                message = f"{where}.{message}"
            elif where not in message:
                message = f"{where}.fit: {message}"
            raise type(err)(message) from err
    else:
        if fit is not None:
            raise ValueError(f"{where}.fit applies to train = 'likelihood' only; an "
                             "adversarial family trains with the [train] table")
        latent_dim = check_int(f"{where}.latent_dim", 8 if latent_dim is None else latent_dim,
                               minimum=1)
        if generator not in ADVERSARIAL_GENERATORS:
            raise ValueError(f"{where}.generator must be one of "
                             f"{', '.join(map(repr, ADVERSARIAL_GENERATORS))}, got {generator!r}")
    reserved = sorted(set(table) & set(_LATENT_RESERVED))
    if reserved:
        raise ValueError(f"{where} must not set {', '.join(map(repr, reserved))}: the zoo sets "
                         "it (the data's width, the cell's seed, the training rows)")
    classical = table.pop("classical", latent in CLASSICAL_LATENTS and generator == "mlp")
    if not isinstance(classical, bool):
        raise TypeError(f"{where}.classical must be true or false, got {classical!r}")
    return Family(label, latent, train, datasets, fit, latent_dim, generator, table, classical,
                  dict(generator_params or {}))


def adversaries(fam: Family, model: Any, width: int, seed: int) -> tuple[nn.Module, nn.Module]:
    """Generator and critic of an adversarial family, weights from ``seed``: the MLPs of the
    ``[model]`` table, or ``qlatent.models.QuantumGenerator`` (Huang et al.'s patch circuit;
    ``generator_params`` are its keywords, ``latent_dim`` must equal its ``n_qubits``) with the
    ``[model]`` table's MLP critic."""
    generator, critic = networks(model, fam.latent_dim, width, seed)
    if fam.generator == "quantum":
        params = dict(fam.generator_params or {})
        if params.get("n_qubits", 5) != fam.latent_dim:
            raise ValueError(f"latent_params.{fam.label}.latent_dim must equal the quantum "
                             f"generator's n_qubits ({params.get('n_qubits', 5)}), got "
                             f"{fam.latent_dim}")
        generator = QuantumGenerator(width, generator=torch_generator(seed), **params)
    return generator, critic


def _applies(fam: Family, dataset_name: str) -> bool:
    return fam.datasets is None or dataset_name in fam.datasets


def build_family(fam: Family, data: Any, seed: int) -> nn.Module:
    """The family's latent: a trainable distribution at the data's width (likelihood) or the
    generator's input latent (adversarial), seeded with ``seed``."""
    params = dict(fam.latent_params)
    if fam.train == "adversarial":
        return latents.get(fam.latent, dim=fam.latent_dim, seed=seed, **params)
    # The zoo scores raw outcomes (sample_counts), never normalised z: "none" spares the
    # exact marginals that normalising needs (MADE at 64 bits has none).
    if "normalize" in latents.parameters(fam.latent):
        params.setdefault("normalize", "none")
    if params.get("entangler") == "chow-liu":  # the tree is learnt from the training rows
        params["data"] = np.asarray(data.data, dtype=np.int64)
    return latents.get(fam.latent, dim=data.dim, seed=seed, **params)


# --------------------------------------------------------------------------- scoring
def score_samples(samples: Any, data: Any, dataset_name: str, p: ZooParams) -> Metrics:
    """Every metric of the zoo from ``samples`` (uint8 [N, n]) against data set ``data``
    (see the module docstring); inapplicable metrics are NaN with a note."""
    x = np.asarray(samples, dtype=np.uint8)
    values: dict[str, float] = {}
    notes: dict[str, str] = {}
    nan = math.nan
    # exact_mmd: target vs empirical on the union of supports.
    if data.probs is not None:
        target_states, target_p = data.states, data.probs
    else:
        target_states, counts = np.unique(data.data, axis=0, return_counts=True)
        target_p = counts / counts.sum()
    sample_states, sample_counts = np.unique(x, axis=0, return_counts=True)
    union = np.unique(np.concatenate([target_states, sample_states]), axis=0)
    p_union = np.zeros(len(union))
    index = {row.tobytes(): k for k, row in enumerate(union)}
    for row, prob in zip(target_states, target_p, strict=True):
        p_union[index[row.tobytes()]] += prob
    q_union = np.zeros(len(union))
    for row, count in zip(sample_states, sample_counts, strict=True):
        q_union[index[row.tobytes()]] += count / len(x)
    values["exact_mmd"] = M.exact_mmd(union, p_union / p_union.sum(), q_union,
                                      bandwidths=p.mmd_bandwidths)
    if data.probs is not None:
        q = M.empirical_probs(x, data.states)
        values["kl_divergence"] = M.kl_divergence(data.probs, q)
        values["total_variation"] = M.total_variation(data.probs, q)
    else:
        for name in ("kl_divergence", "total_variation"):
            values[name] = nan
            notes[name] = f"{dataset_name} has no exact target distribution"
    if dataset_name == "bas":
        bits = x.max() <= 1
        values["valid_fraction"] = float(is_bars_and_stripes(x, p.bas_rows, p.bas_cols).mean()) \
            if bits else M.valid_fraction(x, data.states)
        values["qbas_score"] = M.qbas_score(np.minimum(x, 1) if not bits else x, p.bas_rows,
                                            p.bas_cols) if bits else nan
        if not bits:
            notes["qbas_score"] = "samples hold counts > 1"
    else:
        values["qbas_score"] = nan
        notes["qbas_score"] = "bars-and-stripes only"
    if data.held_out is not None:  # cardinality, or a file with held-out rows
        valid = solutions(data)
        if dataset_name == "cardinality":
            values["valid_fraction"] = M.valid_fraction(x, valid)
        g = M.generalization_metrics(x, np.unique(data.data, axis=0), valid)
        for name in ("generalization_fidelity", "generalization_rate",
                     "generalization_coverage"):
            values[name] = g[name]
    else:
        for name in ("generalization_fidelity", "generalization_rate",
                     "generalization_coverage"):
            values[name] = nan
            notes[name] = "needs held-out valid strings (cardinality, or a file's held_out)"
    if dataset_name not in ("bas", "cardinality"):
        values["valid_fraction"] = nan
        notes["valid_fraction"] = f"{dataset_name} has no validity rule"
    return Metrics(values, notes=notes)


# --------------------------------------------------------------------------- the task
class ZooTask(Task):
    """Model families x discrete data sets x seeds (see the module docstring).

    Datasets: ``bas``, ``cardinality``, ``gmm``, ``digits`` and the names of ``task.files``.
    Latents: family labels, each a
    ``[latent_params.<label>]`` table. Tables: ``ZooModel``, ``ZooParams``.
    """

    name = "zoo"
    datasets = DATASETS
    metrics = (
        MetricSpec("exact_mmd", "MMD²", "{:.2e}"),
        MetricSpec("kl_divergence", "KL(data‖model)", "{:.3f}"),
        MetricSpec("total_variation", "TVD", "{:.3f}"),
        MetricSpec("valid_fraction", "χ valid", "{:.3f}"),
        MetricSpec("qbas_score", "qBAS F1", "{:.3f}"),
        MetricSpec("generalization_fidelity", "fidelity", "{:.3f}"),
        MetricSpec("generalization_rate", "rate", "{:.3f}"),
        MetricSpec("generalization_coverage", "coverage", "{:.3f}"),
    )
    model_table = ZooModel
    task_table = ZooParams
    sized_latents = False
    packable = False

    def check_latent(self, name: str, params: Mapping[str, Any],
                     config: ExperimentConfig) -> None:
        """Parse the family and build it (cheap: small circuits and networks) at the width of
        every data set it applies to, then dry-run its fit (0 steps) to check the fit keys."""
        fam = family(name, params)
        valid = self.dataset_names(config.task_params)
        unknown = [d for d in fam.datasets or () if d not in valid]
        if unknown:
            raise ValueError(f"latent_params.{name}.datasets: unknown data set(s) "
                             f"{', '.join(map(repr, unknown))}; valid: {', '.join(valid)}")
        for ds in config.datasets:
            if not _applies(fam, ds):
                continue
            try:
                data = self.data(ds, config.task_params)
                model = build_family(fam, data, 0)
                if fam.train == "adversarial":
                    adversaries(fam, config.model, data.dim, 0)
                if fam.train == "likelihood":  # checks the loss fits the model; trains nothing
                    _fit(model, data, fam.fit, 0, check_only=True)
                    self.check_scored(model)
            except (TypeError, ValueError) as err:
                raise type(err)(f"latent_params.{name} on data set {ds!r}: {err}") from err

    def dataset_names(self, task_params: ZooParams) -> tuple[str, ...]:
        """The built-in data sets and the names of ``task.files``."""
        return DATASETS + tuple(task_params.files or ())

    def data(self, name: str, task_params: Any) -> Any:
        """The ``DiscreteData`` of data set ``name`` (``dataset``)."""
        return dataset(name, task_params)

    def check_scored(self, model: nn.Module) -> None:
        """The zoo scores a likelihood family by its samples: refuse an IQP circuit too wide
        to sample classically (task ``zoo-scale`` scores it by the MMD^2 estimator)."""
        if (isinstance(model, IQPBornLatent) and model.kind == "iqp"
                and model.dim > iqp.MAX_STATE_QUBITS):
            raise ValueError(f"the zoo scores samples, and an IQP circuit samples up to "
                             f"n_qubits = {iqp.MAX_STATE_QUBITS}, got {model.dim}; run it "
                             "with task = 'zoo-scale' (held-out MMD^2 by the estimator)")

    def applies(self, config: ExperimentConfig, cell: Cell) -> bool:
        table = config.latent_params.get(cell.latent, {})
        return _applies(family(cell.latent, table), cell.dataset)

    def build(self, ctx: CellContext) -> Built:
        config, cell, seeds = ctx.config, ctx.cell, ctx.seeds
        data = self.data(cell.dataset, config.task_params)
        fam = family(cell.latent, config.latent_params.get(cell.latent, {}))
        info = {"data": repr(data), "family": fam.label, "registry_name": fam.latent,
                "training": fam.train}
        if cell.dataset in (getattr(config.task_params, "files", None) or {}):
            info["data_files"] = data.info  # provenance: each file's path and SHA-256
        generator = critic = nn.Identity()
        if fam.train == "adversarial":
            generator, critic = adversaries(fam, config.model, data.dim, seeds.model)
        return Built(data=data, generator=generator, critic=critic, info=info)

    def make_latent(self, ctx: CellContext, built: Built) -> nn.Module:
        config, cell, seeds = ctx.config, ctx.cell, ctx.seeds
        fam = family(cell.latent, config.latent_params.get(cell.latent, {}))
        return build_family(fam, built.data, seeds.latent)

    def train(self, ctx: CellContext, built: Built, latent: nn.Module) -> Any:
        config, cell, seeds = ctx.config, ctx.cell, ctx.seeds
        run_dir, device, progress = ctx.cell_dir, ctx.device, ctx.progress
        fam = family(cell.latent, config.latent_params.get(cell.latent, {}))
        if fam.train == "adversarial":
            return fit(built.generator, built.critic, latent, BitData(built.data),
                       config.train, seed=seeds.train, device=device, progress=progress,
                       run_dir=run_dir, resume=True)
        return _fit(latent, built.data, fam.fit, seeds.train, run_dir=run_dir,
                    progress=progress)

    def evaluate(self, ctx: CellContext, built: Built, latent: nn.Module) -> dict[str, float]:
        config, cell, seeds, run_dir = ctx.config, ctx.cell, ctx.seeds, ctx.cell_dir
        p = config.task_params
        fam = family(cell.latent, config.latent_params.get(cell.latent, {}))
        gen = torch_generator(seeds.evaluate)
        with torch.no_grad():
            if fam.train == "adversarial":
                z = latent.sample(p.n_eval, generator=gen)
                x = (built.generator(z) > 0.5).to(torch.uint8).cpu().numpy()
            else:
                x = latent.sample_counts(p.n_eval, generator=gen).cpu().numpy()
        if x.min() < 0 or x.max() > 255:
            raise RuntimeError(f"{cell.key}: samples outside 0..255 cannot be stored as uint8")
        x = x.astype(np.uint8)
        save_samples(run_dir / "samples.npy", x)
        return score_samples(x, built.data, cell.dataset, p)

    def load_trained(self, ctx: CellContext, built: Built, latent: nn.Module,
                     path: Path) -> tuple[int, int]:
        """A likelihood family's fitted latent from its trainer's checkpoint (weights-only:
        ``fit_distribution``'s model, ``fit_iqp``'s angles or ``fit_rbm``'s model); an
        adversarial family's networks as every task's."""
        fam = family(ctx.cell.latent, ctx.config.latent_params.get(ctx.cell.latent, {}))
        if fam.train == "adversarial":
            return super().load_trained(ctx, built, latent, path)
        keys = {"mmd-estimator": IQPTrainer.checkpoint_keys, "pcd": ("model",)}.get(
            fam.fit.loss, LikelihoodTrainer.checkpoint_keys)
        state = load_checkpoint(path, required=("step", "config", "history", *keys))
        try:
            if fam.fit.loss == "mmd-estimator":  # fit_iqp's angles (float32) into the latent
                with torch.no_grad():
                    latent.theta.copy_(state["theta"].to(latent.theta.dtype))
            else:
                latent.load_state_dict(state["model"])
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"{path}: its weights do not fit the cell's {fam.latent} "
                             f"({type(err).__name__}: {str(err).splitlines()[0]})") from err
        return int(state["step"]), fam.fit.steps

    def sample(self, built: Built, latent: nn.Module, config: ExperimentConfig, n: int,
               seed: int) -> np.ndarray:
        """uint8[n, width]: raw outcomes (likelihood families) or the generator's outputs
        thresholded at 1/2 (adversarial), drawn as ``evaluate`` draws its ``samples.npy``."""
        gen = torch_generator(seed)
        with torch.no_grad():
            if isinstance(built.generator, nn.Identity):  # a likelihood family
                x = latent.sample_counts(n, generator=gen)
            else:
                x = built.generator(latent.sample(n, generator=gen)) > 0.5
        return x.to(torch.uint8).cpu().numpy()

    def baselines(self, config: ExperimentConfig) -> tuple[str, ...]:
        """The classical families of ``config`` (``Family.classical``)."""
        return tuple(lat for lat in config.latents
                     if family(lat, config.latent_params.get(lat, {})).classical)


def training_rows(data: Any, fit: ZooFit) -> tuple[np.ndarray, np.ndarray | None]:
    """(rows int64 [N, n], weights [N] or None) that ``fit`` trains on: the exact target as
    weights where it exists and the loss takes weights, else rows (the target's states, each
    repeated in proportion to its probability, ``TARGET_ROWS`` rows, deterministic; or the
    training rows of a data set without a target)."""
    if data.probs is None:
        rows, weights = data.data, None
    elif fit.samples_side:
        reps = np.round(data.probs * TARGET_ROWS).astype(np.int64)
        rows, weights = np.repeat(data.states, np.maximum(reps, 0), axis=0), None
    else:  # NLL: the exact cross-entropy; MMD, exact model side: the weighted histogram
        rows, weights = data.states, data.probs
    return np.asarray(rows, dtype=np.int64), weights


def _fit(model: nn.Module, data: Any, fit: ZooFit, seed: int, *, run_dir: Path | None = None,
         progress: bool = False, check_only: bool = False):
    """Train ``model`` on the data set by ``fit``'s trainer (``ZooFit``); returns its
    ``FitResult`` (``check_only``: check every argument, make the trainer and train nothing).

    Raises:
        ValueError: a loss that does not fit the model (``mmd-estimator`` needs an IQP /
            bit-flip latent, ``pcd`` an RBM), or an exact loss on an IQP latent beyond
            ``qlatent.quantum.iqp.MAX_STATE_QUBITS`` qubits.
    """
    rows, weights = training_rows(data, fit)
    if fit.loss == "mmd-estimator":
        if not isinstance(model, IQPBornLatent):
            raise ValueError(f"fit.loss = 'mmd-estimator' trains an IQP circuit or its bit-flip "
                             f"control (latent = 'born', kind = 'iqp' or 'bitflip'), got "
                             f"{type(model).__name__}")
        if fit.sigma is not None:
            sigma = fit.sigma
        elif check_only:  # the checks below do not depend on it: skip the O(N^2) median
            sigma = 1.0
        else:
            sigma = iqp.median_bandwidth(rows, rng=0)
        config = fit.to_iqp_config(model.kind, sigma)
        need = iqp.estimate_bytes(config.n_ops, config.n_samples, model.gates.n_gates)
        if need > iqp.MAX_BYTES:
            raise ValueError(f"fit: n_ops = {config.n_ops} x n_samples = {config.n_samples} x "
                             f"{model.gates.n_gates} gates needs {need / 2**30:.3g} GiB per "
                             f"step, more than qlatent.quantum.iqp.MAX_BYTES = "
                             f"{iqp.MAX_BYTES / 2**30:.3g} GiB; lower n_ops or n_samples")
        if check_only:
            return None
        theta, result = fit_iqp(model.gates, rows, config, seed=seed, run_dir=run_dir,
                                progress=progress)
        with torch.no_grad():
            model.theta.copy_(theta.to(model.theta.dtype))
        return result
    if fit.loss == "pcd":
        if not isinstance(model, RBMLatent):
            raise ValueError(f"fit.loss = 'pcd' trains a restricted Boltzmann machine (latent = "
                             f"'rbm'), got {type(model).__name__}")
        config = fit.to_rbm_config()
        if check_only:
            return None
        return fit_rbm(model, rows, config, seed=seed, run_dir=run_dir, progress=progress)
    if isinstance(model, IQPBornLatent) and model.dim > iqp.MAX_STATE_QUBITS:
        raise ValueError(f"fit.loss = {fit.loss!r} needs the IQP latent's exact probabilities "
                         f"(n_qubits <= {iqp.MAX_STATE_QUBITS}), got n_qubits = {model.dim}; "
                         "use loss = 'mmd-estimator'")
    if check_only:
        LikelihoodTrainer(model, rows, fit.to_config(), seed=seed, weights=weights)
        return None
    return fit_distribution(model, rows, fit.to_config(), seed=seed, weights=weights,
                            run_dir=run_dir, progress=progress)


def save_samples(path: Path, samples: np.ndarray) -> None:
    """Write ``samples`` (uint8 [N, n]) atomically as .npy (no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(samples, dtype=np.uint8), allow_pickle=False)
    data = buffer.getvalue()
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


ZOO = register_task(ZooTask())
