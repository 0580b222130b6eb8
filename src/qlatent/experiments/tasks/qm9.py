"""The paper's QM9 experiment (Table II) as a runner task: ``qm9``.

Bacarreza et al., "Quantum latent distributions in deep generative models", arXiv:2508.19857,
App. E / Table II: MolGAN-style graph GAN on QM9 with a latent-injected widening generator and
an R-GCN critic, WGAN-GP; metrics over 10,000 generated samples: FCD (ChemNet), number of
valid & unique molecules, number of those novel.

Tables: ``QM9Model`` ([model]; defaults = the paper's generator, MolGAN's critic) and
``QM9Params`` ([task]).

The relaxation of the generator's output fed to the critic defaults to the Gumbel-softmax: at
the paper's settings it gives the Gaussian latent 1,171 valid & unique of 10,000 and FCD 1.75
after 20k iterations, against 579 and 3.26 with the plain softmax, whose generator collapses
onto a few hundred molecules (``results/table2_gumbel/``, ``results/table2_probes/``). The
paper does not say which it used.

Every cell directory gets ``samples.smi`` (the n_eval samples exactly as decoded: one line per
sample, fragments joined by ".", an EMPTY line where the graph is not a molecule),
``molecules.png`` and, through the runner, ``metrics.json``; intermediate scores go to
``progress.jsonl`` and to the console.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qlatent._io import atomic_write_text
from qlatent._validation import check_choice
from qlatent.data.qm9 import QM9Graphs, graphs_to_smiles
from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.stats import summarize
from qlatent.experiments.tasks.base import (
    Built,
    CellContext,
    CellRecord,
    Metrics,
    MetricSpec,
    Params,
    ReferenceBudget,
    Task,
    param,
    register_task,
    torch_generator,
)
from qlatent.metrics.fcd import fcd_to_reference, heldout_fcd, reference_statistics
from qlatent.metrics.molecules import canonical_valid, evaluate_molecules
from qlatent.metrics.properties import grid_image, property_means
from qlatent.models.mlp import ACTIVATIONS
from qlatent.models.molgan import RELAXATIONS, MolGANGenerator, RGCNCritic, decode

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"hidden": (64, 176, 288, 400, 512), "activation": "leaky_relu",
              "latent_injection": True},
    "molgan": {"hidden": (128, 256, 512), "activation": "tanh", "latent_injection": False},
}


@dataclass(frozen=True)
class QM9Model(Params):
    """The ``[model]`` table of ``qm9``: the MolGAN generator (a preset and its overrides) and
    the R-GCN critic. ``hidden``, ``activation`` and ``latent_injection`` left out take the
    preset's values (the resolved table holds them)."""

    TABLE = "model"

    generator: str = param("paper", choices=tuple(PRESETS))
    """Generator preset: ``paper`` (latent-injected 64-176-288-400-512, LeakyReLU) or
    ``molgan`` (128-256-512, tanh, no injection)."""
    hidden: tuple[int, ...] | None = param(None, minimum=1)
    """Widths of the generator's trunk (default: the preset's)."""
    activation: str | None = param(None, choices=ACTIVATIONS)
    """Activation of the generator's trunk (default: the preset's)."""
    latent_injection: bool | None = None
    """Concatenate z to every hidden layer's input (default: the preset's)."""
    relaxation: str = param("gumbel", choices=RELAXATIONS)
    """How the generator's logits reach the critic in training: ``gumbel`` (Gumbel-softmax)
    or ``softmax``."""
    temperature: float = param(1.0, minimum=1e-6)
    """Temperature τ > 0 of the relaxation."""
    graph_units: tuple[int, ...] = param((128, 64), minimum=1)
    """Widths of the critic's R-GCN layers."""
    aggregation_units: int = param(128, minimum=1)
    """Width of the critic's graph aggregation."""
    dense_units: tuple[int, ...] = param((128, 64), minimum=1)
    """Widths of the critic's dense layers after the aggregation."""
    critic_activation: str = param("tanh", choices=ACTIVATIONS)
    """Activation of the critic."""

    def __post_init__(self) -> None:
        if self.generator in PRESETS:  # else the check below names it
            for key, value in PRESETS[self.generator].items():
                if getattr(self, key) is None:
                    object.__setattr__(self, key, value)
        super().__post_init__()


@dataclass(frozen=True)
class QM9Params(Params):
    """The ``[task]`` table of ``qm9``: data options and evaluation sizes."""

    TABLE = "task"

    n_eval: int = param(10_000, minimum=1)
    """Samples generated and scored at the end of training."""
    progress_every: int = param(2000, minimum=0)
    """Steps between intermediate scores (``progress.jsonl``); 0 switches them off."""
    n_progress: int = param(2000, minimum=1)
    """Samples per intermediate score."""
    fcd: bool = True
    """Compute the FCD (ChemNet; the training split's statistics are cached)."""
    permutation_p: float = param(0.3, minimum=0.0, maximum=1.0)
    """Probability that a real graph's atoms are randomly permuted when it is drawn."""
    kekulize: bool = True
    """Encode kekulized molecules (single / double bonds, no aromatic type)."""
    charged: bool = False
    """Keep molecules with charged atoms (and their charge as atom types)."""
    test_fraction: float = param(0.1, minimum=0.0, maximum=0.5)
    """Share of QM9 held out as the test split."""
    split_seed: int = param(0, minimum=0)
    """Seed of the train / test split."""
    n_grid: int = param(24, minimum=0)
    """Molecules drawn in ``molecules.png`` (0: no picture)."""


# Paper Table II (mean ± standard error over 20 seeds, 10k samples).
_TABLE2 = {
    ("quantum", 16): (1.160, 0.06, 2522, 65, 1331, 37),
    ("photonic", 16): (1.333, 0.07, 1954, 103, 1067, 54),
    ("gaussian", 16): (1.529, 0.08, 1814, 115, 1017, 64),
    ("bernoulli", 16): (1.822, 0.09, 1244, 102, 702, 56),
    ("quantum", 32): (1.536, 0.08, 1791, 106, 951, 37),
    ("gaussian", 32): (1.823, 0.07, 1320, 53, 768, 35),
    ("quantum", 48): (1.696, 0.08, 1528, 65, 856, 40),
    ("photonic", 48): (1.713, 0.06, 1307, 77, 746, 43),
}


_DATA_CACHE: dict[tuple, Any] = {}


def load_data(p: QM9Params):
    """The QM9Graphs of the task parameters (one instance per process and options)."""
    key = (p.kekulize, p.charged, p.test_fraction, p.split_seed, p.permutation_p)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = QM9Graphs(kekulize=p.kekulize, charged=p.charged,
                                     test_fraction=p.test_fraction, split_seed=p.split_seed,
                                     permutation_p=p.permutation_p)
    return _DATA_CACHE[key]


_TRAIN_SETS: dict[int, tuple[Any, frozenset[str]]] = {}


def _train_set(data: Any) -> frozenset[str]:
    """The training split's SMILES as a set, made once per data object."""
    entry = _TRAIN_SETS.get(id(data))
    if entry is None or entry[0] is not data:
        entry = _TRAIN_SETS[id(data)] = (data, frozenset(data.smiles("train")))
    return entry[1]


def build_networks(model: QM9Model, latent_dim: int, spec: Any,
                   seed: int) -> tuple[nn.Module, nn.Module]:
    """Generator and critic of the ``[model]`` table, weights drawn from ``seed``."""
    g = torch_generator(seed)
    generator = MolGANGenerator(latent_dim, spec=spec, hidden=model.hidden,
                                activation=model.activation,
                                latent_injection=model.latent_injection,
                                relaxation=model.relaxation,
                                temperature=model.temperature, generator=g)
    critic = RGCNCritic(spec=spec, graph_units=model.graph_units,
                        aggregation_units=model.aggregation_units,
                        dense_units=model.dense_units,
                        activation=model.critic_activation, generator=g)
    return generator, critic


DECODINGS = ("argmax", "sample")


@torch.no_grad()
def generate_smiles(generator: nn.Module, latent: nn.Module, n: int, seed: int, spec: Any,
                    chunk: int = 2500, *, decoding: str = "argmax") -> list[str]:
    """Draw ``n`` graphs (latents from ``seed``), decode them, and return SMILES as decoded.

    ``decoding``: ``"argmax"`` (each atom and bond its most likely type: how every score of a
    run is made) or ``"sample"`` (each type drawn from the generator's softmax by Gumbel-max,
    after the chunk's latents, from the same stream; a diagnostic).
    """
    check_choice("decoding", decoding, DECODINGS)
    was_training = generator.training
    generator.eval()
    gen = torch_generator(seed, latent.device)
    out: list[str] = []
    try:
        for start in range(0, n, chunk):
            z = latent.sample(min(chunk, n - start), generator=gen)
            if decoding == "argmax":
                x, a = decode(*generator(z))
            else:
                x, a = _gumbel_max_graphs(generator, z, gen)
            out.extend(graphs_to_smiles(x.cpu().numpy(), a.cpu().numpy(), spec))
    finally:
        generator.train(was_training)
    return out


def _gumbel_max_graphs(generator: nn.Module, z: torch.Tensor,
                       gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    # Types drawn from softmax(logits) as argmax(logits + Gumbel noise): edges, then nodes.
    edge_logits, node_logits = generator.logits(z)

    def draw(logits: torch.Tensor) -> torch.Tensor:
        u = torch.rand(logits.shape, generator=gen, device=logits.device).clamp(1e-20, 1 - 1e-7)
        return (logits.float() - torch.log(-torch.log(u))).argmax(-1)

    bonds, x = draw(edge_logits), draw(node_logits)
    n = x.shape[1]
    rows, cols = torch.triu_indices(n, n, offset=1, device=x.device)
    a = torch.zeros(x.shape[0], n, n, dtype=torch.long, device=x.device)
    a[:, rows, cols] = bonds
    a[:, cols, rows] = bonds
    return x, a


class QM9Task(Task):
    """Paper Table II: QM9 molecule generation (see the module docstring)."""

    name = "qm9"
    datasets = ("qm9",)
    metrics = (
        MetricSpec("fcd", "FCD", "{:.3f}"),
        MetricSpec("n_valid_unique", "# valid & unique", "{:.0f}"),
        MetricSpec("n_novel", "# novel", "{:.0f}"),
        MetricSpec("validity", "validity", "{:.3f}"),
        MetricSpec("uniqueness", "uniqueness", "{:.3f}"),
        MetricSpec("novelty", "novelty", "{:.3f}"),
        MetricSpec("qed", "QED", "{:.3f}"),
        MetricSpec("logp", "logP", "{:.2f}"),
        MetricSpec("sa", "SA", "{:.2f}"),
    )
    reference = {("qm9", lat, dim): {"fcd": (v[0], v[1]), "n_valid_unique": (v[2], v[3]),
                                     "n_novel": (v[4], v[5])}
                 for (lat, dim), v in _TABLE2.items()}
    reference_label = "paper Table II (mean ± s.e., 20 seeds)"
    reference_budget = ReferenceBudget(steps=20_000, batch_size=256, seeds=20)  # paper App. E
    model_table = QM9Model
    task_table = QM9Params

    def build(self, ctx: CellContext) -> Built:
        data = load_data(ctx.config.task_params)
        generator, critic = build_networks(ctx.config.model, ctx.cell.latent_dim, data.spec,
                                           ctx.seeds.model)
        return Built(data=data, generator=generator, critic=critic,
                     info={"data": repr(data), "qm9": data.report.as_dict()})

    def warm(self, config: ExperimentConfig, device: str = "cpu") -> None:
        """Build the processed QM9 cache and, with ``task.fcd``, the FCD statistics of the
        training split (ChemNet on ``device``), so tasks sent elsewhere only read them."""
        p = config.task_params
        data = load_data(p)
        if p.fcd:
            reference_statistics(data.smiles("train"), device=device)

    def callbacks(self, ctx: CellContext, built: Built, latent: nn.Module) -> list:
        """Intermediate scores every ``progress_every`` steps (validity, unique, novel of
        ``n_progress`` samples), appended to ``cell_dir/progress.jsonl`` and printed."""
        p, cell, seeds = ctx.config.task_params, ctx.cell, ctx.seeds
        if not p.progress_every:
            return []
        data = built.data
        train = _train_set(data)  # one set per data set: a pack's cells share it
        path = ctx.cell_dir / "progress.jsonl"

        def score(step: int, info: dict[str, Any]) -> None:
            if step % p.progress_every:
                return
            t0 = time.perf_counter()
            smiles = generate_smiles(info["generator"], latent, p.n_progress,
                                     seeds.evaluate + step, data.spec)
            m = evaluate_molecules(smiles, train=train)
            row = {"step": step, **{k: m[k] for k in ("n_samples", "validity",
                                                         "n_valid_unique", "n_novel")},
                   "fragments": sum("." in s for s in smiles) / len(smiles),
                   "not_molecule": sum(not s for s in smiles) / len(smiles),
                   "seconds": round(time.perf_counter() - t0, 2)}
            with open(path, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"    [{cell.key}] step {step}: validity {row['validity']:.3f}, "
                  f"valid&unique {row['n_valid_unique']}/{row['n_samples']}, novel "
                  f"{row['n_novel']}, fragments {row['fragments']:.3f}", flush=True)

        return [score]

    def evaluate(self, ctx: CellContext, built: Built, latent: nn.Module) -> dict[str, float]:
        cell = ctx.cell
        return evaluate_generator(built.generator, latent, built.data, ctx.config.task_params,
                                  ctx.seeds.evaluate, ctx.cell_dir,
                                  title=f"{cell.latent}-L{cell.latent_dim}, seed {cell.seed}")

    def sample(self, built: Built, latent: nn.Module, config: ExperimentConfig, n: int,
               seed: int) -> list[str]:
        """One SMILES per sample exactly as decoded (fragments joined by ``"."``, ``""`` where
        the graph is not a molecule), as in a cell's ``samples.smi``."""
        return generate_smiles(built.generator, latent, n, seed, built.data.spec)

    def report_sections(self, records: list[CellRecord], config: ExperimentConfig,
                        run_dir: Path) -> list[str]:
        """Table II as the paper lays it out (ours beside the paper's), the held-out FCD floor,
        and the latest intermediate scores of unfinished cells."""
        return table2_sections(records, config, Path(run_dir))

    def figures(self, records: list[CellRecord], config: ExperimentConfig,
                out_dir: Path) -> list[tuple[str, Path]]:
        """The molecule grid of the first finished cell of each latent."""
        out = []
        seen = set()
        for r in records:
            key = (r.cell.latent, r.cell.latent_dim)
            png = r.run_dir / "molecules.png"
            if key in seen or not png.exists():
                continue
            seen.add(key)
            dst = out_dir / f"molecules_{r.cell.latent}-L{r.cell.latent_dim}.png"
            shutil.copyfile(png, dst)
            out.append((f"Sampled molecules, {r.cell.latent} L={r.cell.latent_dim}, "
                        f"seed {r.cell.seed}", dst))
        return out


def evaluate_generator(generator: nn.Module, latent: nn.Module, data: Any,
                       p: QM9Params, seed: int, run_dir: Path, *,
                       title: str = "") -> Metrics:
    """Score ``p.n_eval`` samples; write samples.smi and molecules.png into ``run_dir``.
    NaN metrics carry their reason in the result's ``notes``."""
    smiles = generate_smiles(generator, latent, p.n_eval, seed, data.spec)
    atomic_write_text(run_dir / "samples.smi", "".join(s + "\n" for s in smiles))
    out: dict[str, float] = dict(evaluate_molecules(smiles, train=set(data.smiles("train"))))
    valid = [c for c in canonical_valid(smiles) if c is not None]
    out.update(property_means(valid))
    out["fcd"] = float("nan")
    notes: dict[str, str] = {}  # why a metric is NaN (metrics.json "notes", shown in reports)
    if not p.fcd:
        notes["fcd"] = "FCD off (task.fcd = false)"
    elif len(valid) < 2:
        notes["fcd"] = f"FCD needs >= 2 valid molecules; {len(valid)} of {len(smiles)} valid"
    else:
        # FCD over the valid samples (FCD needs molecules; the count of valid ones is reported
        # beside it), against the cached statistics of the training split; ChemNet runs on
        # the device the generator trained on.
        out["fcd"] = fcd_to_reference(valid, data.smiles("train"),
                                      device=str(getattr(latent, "device", "cpu")))
    if not valid:
        notes.update(dict.fromkeys(("qed", "logp", "sa"), "no valid molecule to average over"))
    elif math.isnan(out["sa"]):
        notes["sa"] = "RDKit's Contrib SA scorer is not in this RDKit install"
    if p.n_grid and valid:
        grid_image(sorted(set(valid), key=valid.index)[: p.n_grid],
                   run_dir / "molecules.png", legend=title)
    return Metrics({k: float(v) for k, v in out.items()}, notes=notes)


QM9 = register_task(QM9Task())


def table2_sections(records: list[CellRecord], config: ExperimentConfig,
                    run_dir: Path) -> list[str]:
    """Markdown lines: Table II layout, the held-out floor, cells in progress."""
    p = config.task_params
    spec = {m.name: m for m in QM9Task.metrics}
    lines = ["## Table II layout: ours (mean ± SE, n seeds) | paper", "",
             "| latent | d_z | " + " | ".join(f"{spec[k].heading} | paper" for k in (
                 "fcd", "n_valid_unique", "n_novel"))
             + " | validity | uniqueness | novelty | n |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r.cell.latent, r.cell.latent_dim) for r in records},
                  key=lambda k: (k[1], config.latents.index(k[0])
                                 if k[0] in config.latents else 99))
    for lat, dim in keys:
        rs = [r for r in records if (r.cell.latent, r.cell.latent_dim) == (lat, dim)]
        ref = QM9Task.reference.get(("qm9", lat, dim), {})
        row = [lat, str(dim)]
        for name, fmt in (("fcd", "{:.3f}"), ("n_valid_unique", "{:.0f}"),
                          ("n_novel", "{:.0f}")):
            row.append(summarize([float(r.metrics[name]) for r in rs]).format(fmt))
            row.append(f"{fmt.format(ref[name][0])} ± {fmt.format(ref[name][1])}"
                       if name in ref else "–")
        for name in ("validity", "uniqueness", "novelty"):
            row.append(summarize([float(r.metrics[name]) for r in rs]).format("{:.3f}"))
        row.append(str(len(rs)))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    running = []
    done = {r.run_dir.resolve() for r in records}
    for prog in sorted(run_dir.glob("*/*/seed-*/progress.jsonl")):
        if prog.parent.resolve() in done or not prog.stat().st_size:
            continue
        last = json.loads(prog.read_text().strip().splitlines()[-1])
        running.append(f"| {prog.parent.relative_to(run_dir)} | {last['step']} | "
                       f"{last['validity']:.3f} | {last['n_valid_unique']} / "
                       f"{last['n_samples']} | {last['n_novel']} |")
    if p.fcd and (records or running):
        data = load_data(p)
        floor = heldout_fcd(data.smiles("test"), data.smiles("train"), n=p.n_eval)
        lines += [f"Held-out floor: FCD of {floor['n']} QM9 test molecules against the training "
                  f"statistics = **{floor['fcd']:.3f}** (a generator indistinguishable from QM9 "
                  "would score about this; the paper does not state its reference set).", ""]
    if running:
        lines += ["## Unfinished cells: latest intermediate score", "",
                  "| cell | step | validity | valid & unique | novel |", "|---|---|---|---|---|",
                  *running, ""]
    return lines
