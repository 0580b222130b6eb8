"""Packed networks vs solo ones: critic-step and training-step throughput of K members.

    .venv/bin/python benchmarks/pack.py [--threads 2] [--seconds 0.5] [--repeats 3]
        [--cases ring,table1,molgan,train-ring,train-table1,train-qm9,table2]
        [--precision fp32|bf16] [--solo-precision fp32|bf16] [--clock wall|cpu] [--ks 1,4]
        [--device cpu|cuda]
        [--table2-pack 80] [--table2-steps 200]

``train-qm9``: the QM9 training step (the paper's latent-injected MolGAN generator with the
Gumbel-softmax relaxation, R-GCN critic, real QM9 graphs from ``QM9Graphs``, batch 256,
n_critic 5, Adam), solo vs packed as for the ring and Table I, and (unless
``--no-reference``) a third column timed in the same rounds: the K solo cells with the
networks' arithmetic before the fast R-GCN critic and Gumbel relaxation
(``reference_molgan.py``: same weights, same random draws), with the ratios solo/ref and
packed/ref; before timing, one step of the first reference and fast cells is compared (the
four losses' largest relative difference is printed). A K whose pack the memory
estimate (``qlatent.train.memory``) says will not fit on the device is skipped and says so.

``table2``: one pack of ``--table2-pack`` QM9 cells (Gaussian latents, L = 16) trained for
``--table2-steps`` steps with ``fit_pack`` after a short warm-up, timed, and the full
Table II projected from it: 4 latents x 20 seeds x 3 latent lengths = 240 runs of 20,000
iterations are three packs of 80 (one per latent length; packs never mix lengths), so the
projection is 3 x 20,000 x the measured seconds per step of a pack of 80 (more precisely
ceil(80 / K) packs of K per length). The latent length changes only G's first layers, and the
latent's kind only how z is drawn, so L = 16 Gaussian stands for all. ``--device cuda`` runs
everything on the GPU (``benchmarks/gpu_pack.sh`` runs the whole GPU set in one command).

Training steps (cases ``train-ring``, ``train-table1``): the real step code of the two loops,
``qlatent.train.training_step`` for K solo cells one after the other (K = 1 each, what ``fit``
runs per step) vs one pack of K (what ``fit_pack`` runs),
each cell with its own seed streams, latent and data object: n_critic = 5 critic updates with
the gradient penalty and the optimiser steps, then one generator update. The ring: 2x256
LeakyReLU, L = 16, SevenGaussians, batch 32, Adam; Table I: 2x512 ReLU, L = 16, 16 Bernoulli
bits, batch 500, RMSprop. Columns: cell-iterations/s (K generator iterations / seconds per
round) solo and packed, their ratio, and the GFLOP/s reached (FLOPs counted analytically as in
``benchmarks/train.py``: the ring is ~0.30 GFLOP per cell-iteration, so on a CPU whose fp32
ceiling is C GFLOP/s no packing exceeds C / 0.30 cell-iterations/s). The loops' bookkeeping
around the step (a float64 add per step, logging) is not timed.

Notation: K members, B batch per member.

For each case and K it times one "critic step" per member, the WGAN-GP update's core:
G forward without gradients, D forward on real, fake and the interpolate x̂, the penalty's
input gradient ∂D/∂x̂ with ``create_graph=True`` (the double backward), and the backward of
``mean D(fake) - mean D(real) + 10 (‖∂D/∂x̂‖ - 1)²`` to D's weights (no optimiser step). Three
ways to run K members:

* ``solo``: K models with ``members=1`` run one after the other on ``[B, ...]`` inputs (what
  training cell after cell does);
* ``packed``: one model with ``members=K`` (``qlatent.models``: stacked weights, ``baddbmm``)
  on ``[K, B, ...]`` inputs;
* ``vmap``: ``torch.func.stack_module_state`` of the K solo models, ``functional_call`` under
  ``torch.func.vmap``;

and, for the MLP cases, ``nn.Linear``: the solo networks rebuilt from ``torch.nn.Linear`` (the
models before packs), to show that K = 1 costs what it cost before.

Cases: the ring (2x256 LeakyReLU MLPs, L = 16, d = 2, B = 32), Table I (2x512 ReLU MLPs,
L = 16, d = 16, B = 500), MolGAN (the paper's latent-injected generator with the softmax
relaxation, R-GCN critic, QM9 shapes, B = 256). Before timing, the weight gradients of
``packed`` and ``vmap`` are compared with the solo models' (max relative difference printed):
both must carry the penalty's double backward exactly.

On a machine shared with other jobs, run it as ``OMP_WAIT_POLICY=PASSIVE .venv/bin/python
benchmarks/pack.py``: with more runnable threads than cores, OpenMP's spin-waiting threads make
every small op 20-30x slower (measured here: a ring critic step 8 ms passive vs 210-340 ms
spinning, 2 threads, load 8 on 2 cores), which would flatter packing.

Columns: cell-steps/s (K / seconds per round, wall or ``--clock cpu``; median of ``--repeats``
interleaved rounds, since the machine may be shared) and the ratio to ``solo`` at the same K.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from qlatent.models import MLP, MolGANGenerator, RGCNCritic
from qlatent.models.packed import pack

Batch = tuple[torch.Tensor, ...]
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def gens(seed: int, k: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed + i) for i in range(k)]


def step(G: Callable, D: Callable, z: torch.Tensor, real: Batch, eps: torch.Tensor,
         params: list[torch.Tensor], autocast: Callable) -> list[torch.Tensor]:
    """One critic step on a member axis of any length (or none); returns D's weight grads."""
    with torch.no_grad(), autocast():
        fake = G(z)
    fake = (fake,) if isinstance(fake, torch.Tensor) else tuple(fake)
    fake = tuple(f.float() for f in fake)
    x_hat = tuple((eps.view(*eps.shape, *[1] * (r.dim() - eps.dim())) * r
                   + (1 - eps.view(*eps.shape, *[1] * (r.dim() - eps.dim()))) * f)
                  .requires_grad_() for r, f in zip(real, fake, strict=True))
    arg = (lambda x: x[0]) if len(real) == 1 else tuple
    with autocast():
        s_real, s_fake, s_hat = D(arg(real)), D(arg(fake)), D(arg(x_hat))
    s_real, s_fake, s_hat = (s.float().reshape(*eps.shape) for s in (s_real, s_fake, s_hat))
    grads = torch.autograd.grad(s_hat.sum(), x_hat, create_graph=True)
    sq = sum(g.reshape(*eps.shape, -1).pow(2).sum(-1) for g in grads)
    penalty = (sq.sqrt() - 1).pow(2).mean(-1)
    loss = (s_fake.mean(-1) - s_real.mean(-1) + 10 * penalty).sum()
    return list(torch.autograd.grad(loss, params))


class Case:
    def __init__(self, name: str, make_g: Callable, make_d: Callable, batch: int,
                 latent_dim: int, draw_real: Callable, ks: list[int], plain: bool) -> None:
        self.name, self.make_g, self.make_d, self.batch = name, make_g, make_d, batch
        self.latent_dim, self.draw_real, self.ks, self.plain = latent_dim, draw_real, ks, plain


def mlp_case(name: str, hidden: tuple[int, ...], act: str, L: int, d: int, B: int,
             ks: list[int]) -> Case:
    return Case(name,
                lambda k, s: MLP(L, d, hidden=hidden, activation=act, members=k,
                                 generator=gens(s, k)),
                lambda k, s: MLP(d, 1, hidden=hidden, activation=act, members=k,
                                 generator=gens(s + 1000, k)),
                B, L, lambda g, lead: (torch.randn(*lead, B, d, generator=g),), ks, True)


def molgan_case(ks: list[int]) -> Case:
    from qlatent.data.qm9 import qm9_spec

    spec = qm9_spec()
    n, a, b = spec.n_atoms, spec.n_atom_types, spec.n_bond_types

    def real(g: torch.Generator, lead: tuple[int, ...]) -> Batch:
        e = torch.softmax(4 * torch.randn(*lead, 256, n, n, b, generator=g), -1)
        e = (e + e.transpose(-2, -3)) / 2
        return e, torch.softmax(4 * torch.randn(*lead, 256, n, a, generator=g), -1)

    return Case("MolGAN (injected G, R-GCN D, batch 256)",
                lambda k, s: MolGANGenerator(16, spec=spec, members=k, generator=gens(s, k)),
                lambda k, s: RGCNCritic(spec=spec, members=k, generator=gens(s + 1000, k)),
                256, 16, real, ks, False)


def as_plain(model: MLP) -> nn.Module:
    """The solo MLP rebuilt from torch.nn.Linear (the layer before packs)."""
    layers = []
    for m in model.net:
        if isinstance(m, nn.Linear):
            lin = nn.Linear(m.in_features, m.out_features)
            lin.load_state_dict(m.state_dict())
            layers.append(lin)
        else:
            layers.append(copy.deepcopy(m))
    return nn.Sequential(*layers)


def vmapped(models: list[nn.Module]) -> tuple[Callable, list[torch.Tensor]]:
    params, _ = torch.func.stack_module_state(models)
    buffers = dict(models[0].named_buffers())  # index tables, the same for every member
    base = copy.deepcopy(models[0]).to("meta")

    def call(p: dict, b: dict, x: object) -> torch.Tensor:
        return torch.func.functional_call(base, (p, b), (x,))

    f = torch.func.vmap(call, in_dims=(0, None, 0))
    return (lambda x: f(params, buffers, x)), list(params.values())


SYNC: list[Callable[[], object]] = [lambda: None]  # torch.cuda.synchronize with --device cuda


def timed(fn: Callable[[], object], seconds: float, clock: Callable[[], float]) -> float:
    fn()
    SYNC[0]()
    reps, t0 = 0, clock()
    while True:
        fn()
        reps += 1
        SYNC[0]()
        dt = clock() - t0
        if dt >= seconds:
            return dt / reps


def measure_k(case: Case, k: int, args: argparse.Namespace, autocast: Callable
              ) -> tuple[dict[str, float], list[float]]:
    """Cell-steps/s of every mode at K = k, and the gradient check of packed and vmap."""
    g = torch.Generator().manual_seed(k)
    solos_g = [case.make_g(1, 10 * i) for i in range(k)]
    solos_d = [case.make_d(1, 10 * i) for i in range(k)]
    G, D = pack(solos_g), pack(solos_d)
    z = torch.randn(k, case.batch, case.latent_dim, generator=g)
    real = case.draw_real(g, (k,))
    eps = torch.rand(k, case.batch, generator=g)
    vg, _ = vmapped(solos_g)
    vd, vd_params = vmapped(solos_d)

    def run_solo(models_d: list[nn.Module] = solos_d,
                 models_g: list[nn.Module] = solos_g) -> list[list[torch.Tensor]]:
        return [step(mg, md, z[i], tuple(r[i] for r in real), eps[i],
                     list(md.parameters()), autocast)
                for i, (mg, md) in enumerate(zip(models_g, models_d, strict=True))]

    runs = {"solo": run_solo,
            "packed": lambda: step(G, D, z, real, eps, list(D.parameters()), autocast),
            "vmap": lambda: step(vg, vd, z, real, eps, vd_params, autocast)}
    if case.plain:
        plain_g = [as_plain(m) for m in solos_g]
        plain_d = [as_plain(m) for m in solos_d]
        runs["nn.Linear"] = lambda: run_solo(plain_d, plain_g)

    solo_grads = run_solo()
    diffs = []
    for got in (runs["packed"](), runs["vmap"]()):
        worst = 0.0
        for j, gk in enumerate(got):
            ref = torch.stack([sg[j] for sg in solo_grads]).view_as(gk)
            worst = max(worst, float((gk - ref).abs().max() / ref.abs().max()))
        diffs.append(worst)
    times: dict[str, list[float]] = {c: [] for c in runs}
    for _ in range(args.repeats):
        for c, fn in runs.items():
            times[c].append(timed(fn, args.seconds, CLOCKS[args.clock]))
    return {c: k / statistics.median(t) for c, t in times.items()}, diffs


def run_case(case: Case, args: argparse.Namespace, autocast: Callable) -> None:
    print(f"\n{case.name}")
    cols = ["solo", "packed", "vmap"] + (["nn.Linear"] if case.plain else [])
    print(f"  {'K':>3} " + "".join(f"{c + ' steps/s':>18}" for c in cols)
          + "   packed/solo  vmap/solo  max rel. grad diff (packed, vmap)")
    for k in case.ks:
        rate, diffs = measure_k(case, k, args, autocast)
        print(f"  {k:>3} " + "".join(f"{rate[c]:>18.1f}" for c in cols)
              + f"   {rate['packed'] / rate['solo']:>10.2f}x {rate['vmap'] / rate['solo']:>9.2f}x"
              + f"  {diffs[0]:.1e}, {diffs[1]:.1e}", flush=True)


_QM9: list = []


def qm9_data(device: str):
    """The real QM9 graphs (one instance, as the runner shares it), on ``device``."""
    import os

    from qlatent.data.qm9 import QM9Graphs

    if not _QM9:
        _QM9.append(QM9Graphs(workers=min(16, os.cpu_count() or 1)))
    return _QM9[0].to(device)


def qm9_cells(k: int, packed: bool, precision: str, device: str,
              reference: bool = False) -> tuple:
    """K QM9 cells as the qm9 task builds them (paper generator, Gumbel, R-GCN critic);
    ``reference``: with the networks' arithmetic before the fast path
    (``reference_molgan.py``: same weights, same draws)."""
    from reference_molgan import ReferenceMolGANGenerator, ReferenceRGCNCritic

    from qlatent.latents import get
    from qlatent.models import MolGANGenerator, RGCNCritic
    from qlatent.train import Adversaries, Config, PackState, RandomStreams

    if reference:
        MolGANGenerator, RGCNCritic = ReferenceMolGANGenerator, ReferenceRGCNCritic  # noqa: N806

    data = qm9_data(device)
    config = Config(batch_size=256, n_critic=5, optimizer="adam", lr=1e-4, betas=(0.5, 0.999),
                    precision=precision)
    gs = [MolGANGenerator(16, spec=data.spec, relaxation="gumbel", generator=gens(10 * i, 1))
          for i in range(k)]
    ds = [RGCNCritic(spec=data.spec, generator=gens(10 * i + 5, 1)) for i in range(k)]
    latents = [get("gaussian", dim=16).to(device) for _ in range(k)]
    datas = [data] * k
    streams = [RandomStreams(i, device=device, data_device=device) for i in range(k)]
    if packed:
        return Adversaries(pack(gs).to(device).train(), pack(ds).to(device).train(), config,
                           packed=True), latents, datas, streams, config, PackState(k)
    return [Adversaries(g.to(device).train(), dd.to(device).train(), config)
            for g, dd in zip(gs, ds, strict=True)], latents, datas, streams, config, None


def training_cells(kind: str, k: int, packed: bool, precision: str,
                   device: str = "cpu", reference: bool = False) -> tuple:
    """K cells of ``kind`` (``ring``, ``table1`` or ``qm9``): solo (K adversaries) or one
    pack, on ``device``; ``reference`` (QM9 only): the networks before the fast path."""
    from qlatent.data import BernoulliData, SevenGaussians
    from qlatent.latents import get
    from qlatent.train import Adversaries, Config, PackState, RandomStreams

    if kind == "qm9":
        return qm9_cells(k, packed, precision, device, reference)
    if kind == "ring":
        hidden, act, data, config = (256, 256), "leaky_relu", SevenGaussians, Config(
            batch_size=32, n_critic=5, optimizer="adam", precision=precision)
    else:
        hidden, act, data, config = (512, 512), "relu", lambda: BernoulliData(16), Config(
            batch_size=500, n_critic=5, optimizer="rmsprop", precision=precision)
    datas = [data() for _ in range(k)]
    datas = [(dd.to(device) or dd) if hasattr(dd, "to") else dd for dd in datas]
    d = datas[0].dim
    gs = [MLP(16, d, hidden=hidden, activation=act, generator=gens(10 * i, 1)) for i in range(k)]
    ds = [MLP(d, 1, hidden=hidden, activation=act, generator=gens(10 * i + 5, 1))
          for i in range(k)]
    latents = [get("gaussian", dim=16).to(device) for _ in range(k)]
    streams = [RandomStreams(i, device=device,
                             data_device=getattr(dd, "device", "cpu")) for i, dd in
               enumerate(datas)]
    if packed:
        return Adversaries(pack(gs).to(device), pack(ds).to(device), config, packed=True), \
            latents, datas, streams, config, PackState(k)
    return [Adversaries(g.to(device), dd.to(device), config)
            for g, dd in zip(gs, ds, strict=True)], latents, datas, streams, config, None


def fits(kind: str, k: int, args: argparse.Namespace) -> str | None:
    """None if a pack of ``k`` fits the device by the runner's memory estimate, else why not."""
    from qlatent.train.memory import FILL, available_memory, estimate_member_memory

    adv, lats, datas, _, config, _ = training_cells(kind, 1, True, args.precision, "cpu")
    member = estimate_member_memory(adv.generator, adv.critic, lats[0], datas[0], config).total
    room = FILL * available_memory(args.device)
    if 2 * k * member > room:  # solo and packed side by side
        return (f"skipped: solo and packed need about {2 * k * member / 2**30:.1f} GiB, "
                f"{args.device} has {room / 2**30:.1f} GiB to give")
    return None


def run_training(kind: str, ks: list[int], args: argparse.Namespace) -> None:
    from qlatent.train import PackState, training_step

    names = {"ring": "ring training step (2x256 LeakyReLU, batch 32, n_critic 5, Adam)",
             "table1": "Table I training step (2x512 ReLU, batch 500, n_critic 5, RMSprop)",
             "qm9": "QM9 training step (paper G with Gumbel, R-GCN D, batch 256, n_critic 5, "
                    "Adam)"}
    from train import iteration_flops  # benchmarks/train.py: the analytic FLOP count

    gflop = None
    if kind != "qm9":
        hidden, d = ((256, 256), 2) if kind == "ring" else ((512, 512), 16)
        batch = 32 if kind == "ring" else 500
        gflop = iteration_flops(batch, 5, [16, *hidden, d], [d, *hidden, 1]) / 1e9
    print(f"\n{names[kind]}"
          + (f": {gflop:.2f} GFLOP per cell-iteration" if gflop is not None else ""))
    ref = kind == "qm9" and not args.no_reference
    print(f"  {'K':>3}" + (f" {'reference solo':>16}" if ref else "")
          + f" {'solo fit cell-it/s':>20} {'fit_pack cell-it/s':>20}   packed/solo"
          + ("   solo/ref  packed/ref" if ref else "")
          + ("   GFLOP/s solo, packed" if gflop is not None else ""))
    diffs: list[float] = []
    for k in ks:
        why = fits(kind, k, args)
        if why is not None:
            print(f"  {k:>3} {why}", flush=True)
            continue
        solo = training_cells(kind, k, False, args.solo_precision or args.precision,
                              args.device)
        pk = training_cells(kind, k, True, args.precision, args.device)
        runs = {"solo": solo, "packed": pk}
        if ref:  # the K solo cells before the fast path, timed in this process beside the rest
            runs = {"reference": training_cells(kind, k, False,
                                                args.solo_precision or args.precision,
                                                args.device, reference=True), **runs}
        counter = {"step": 0}

        def run_solo(c: tuple = solo) -> None:
            advs, lats, datas, streams, config, _ = c
            for a, lat, dt, st in zip(advs, lats, datas, streams, strict=True):
                training_step(a, [lat], [dt], [st], config, PackState(1), 1)

        def run_packed(c: tuple = pk, counter: dict = counter) -> None:
            adv, lats, datas, streams, config, state = c
            counter["step"] += 1
            training_step(adv, lats, datas, streams, config, state, counter["step"])

        if ref:
            diffs.append(first_step_difference(runs["reference"], solo))
        fns = {c: (lambda cells=cells: run_solo(cells)) for c, cells in runs.items()
               if c != "packed"}
        fns["packed"] = run_packed
        times: dict[str, list[float]] = {c: [] for c in fns}
        for _ in range(args.repeats):
            for c, fn in fns.items():
                times[c].append(timed(fn, args.seconds, CLOCKS[args.clock]))
        rate = {c: k / statistics.median(t) for c, t in times.items()}
        print(f"  {k:>3}" + (f" {rate['reference']:>16.2f}" if ref else "")
              + f" {rate['solo']:>20.2f} {rate['packed']:>20.2f}   "
              f"{rate['packed'] / rate['solo']:>10.2f}x"
              + (f"   {rate['solo'] / rate['reference']:>7.2f}x "
                 f"{rate['packed'] / rate['reference']:>9.2f}x" if ref else "")
              + (f"   {rate['solo'] * gflop:>7.1f}, {rate['packed'] * gflop:.1f}"
                 if gflop is not None else ""), flush=True)
        del solo, pk, runs, fns
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    if diffs:
        print(f"  correctness: the first training step of the fast networks vs the reference "
              f"(same weights, same draws), max relative difference of the four losses over "
              f"the first cells: {max(diffs):.1e}")


def first_step_difference(reference: tuple, fast: tuple) -> float:
    """One training step of the first cell of ``reference`` and of ``fast`` (built alike):
    the largest relative difference of the step's four losses (the cells go on from there)."""
    from qlatent.train import PackState, training_step

    losses = []
    for advs, lats, datas, streams, config, _ in (reference, fast):
        losses.append(training_step(advs[0], lats[:1], datas[:1], streams[:1], config,
                                    PackState(1), 1).stacked())
    return float(((losses[1] - losses[0]).abs() / losses[0].abs().clamp_min(1e-12)).max())


TABLE2_RUNS, TABLE2_STEPS, TABLE2_LENGTHS = 240, 20_000, 3


def run_table2(args: argparse.Namespace) -> None:
    """A measured pack of QM9 cells and the projection of the full Table II from it."""
    import math

    from qlatent.train import fit_pack

    K, steps = args.table2_pack, args.table2_steps
    why = fits("qm9", K // 2 + 1, args)  # fits() counts solo and packed: half of that here
    if why is not None:
        print(f"\nTable II pack of {K}: {why}")
        return
    adv, lats, datas, _, config, _ = qm9_cells(K, True, args.precision, args.device)
    G, D = adv.generator, adv.critic
    warm = config.replace(steps=3, checkpoint_every=0, log_every=3)
    fit_pack(G, D, lats, datas, warm, seeds=list(range(K)), device=args.device)
    run = config.replace(steps=steps, checkpoint_every=0, log_every=steps)
    SYNC[0]()
    t0 = time.perf_counter()
    result = fit_pack(G, D, lats, datas, run, seeds=list(range(K)), device=args.device)
    SYNC[0]()
    seconds = time.perf_counter() - t0
    per_step = seconds / steps
    packs_per_length = math.ceil(TABLE2_RUNS / TABLE2_LENGTHS / K)
    hours = TABLE2_LENGTHS * packs_per_length * TABLE2_STEPS * per_step / 3600
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else "this CPU"
    print(f"\nTable II projection on {where} ({args.precision})")
    print(f"  measured: a pack of {K} QM9 cells (L = 16), {steps} steps in {seconds:.1f} s = "
          f"{per_step * 1e3:.1f} ms per pack step = {K / per_step:.1f} cell-iterations/s "
          f"({len(result.failed)} member(s) failed)")
    print(f"  Table II: {TABLE2_RUNS} runs x {TABLE2_STEPS} iterations = {TABLE2_LENGTHS} latent "
          f"lengths x {packs_per_length} pack(s) of up to {K} x {TABLE2_STEPS} steps x "
          f"{per_step * 1e3:.1f} ms = {hours:.2f} device-hours (training only; evaluation, "
          f"FCD and bank building come on top)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=0.5,
                        help="minimum seconds of one timing round")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per mode")
    parser.add_argument("--cases", default="ring,table1,molgan")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--solo-precision", choices=("fp32", "bf16"), default=None,
                        help="precision of the solo runs in the training cases (default: "
                        "--precision), e.g. fp32 solo vs bf16 packs")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall time, or the process's CPU time (all threads; steadier on a "
                        "shared machine, but blind to how well the threads were used)")
    parser.add_argument("--ks", default=None,
                        help="override every case's K list, e.g. 1,4 (comma separated)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (training cases)")
    parser.add_argument("--no-reference", action="store_true",
                        help="train-qm9: leave out the reference column (the networks' "
                        "arithmetic before the fast path, reference_molgan.py)")
    parser.add_argument("--table2-pack", type=int, default=80,
                        help="cells in the measured Table II pack (case table2)")
    parser.add_argument("--table2-steps", type=int, default=200,
                        help="timed steps of the Table II pack (case table2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        SYNC[0] = torch.cuda.synchronize
    if args.precision == "bf16":
        def autocast() -> contextlib.AbstractContextManager:
            return torch.autocast("cpu", dtype=torch.bfloat16)
    else:
        autocast = contextlib.nullcontext
    ks = None if args.ks is None else [int(k) for k in args.ks.split(",")]
    cases = {
        "ring": lambda: mlp_case("ring (2x256 LeakyReLU, batch 32)", (256, 256), "leaky_relu",
                                 16, 2, 32, ks or [1, 4, 16, 64]),
        "table1": lambda: mlp_case("Table I (2x512 ReLU, batch 500)", (512, 512), "relu",
                                   16, 16, 500, ks or [1, 4, 16]),
        "molgan": lambda: molgan_case(ks or [1, 4]),
    }
    training = {"train-ring": ("ring", ks or [1, 4, 16, 64]),
                "train-table1": ("table1", ks or [1, 4]),
                "train-qm9": ("qm9", ks or [1, 4])}
    solo = f" (solo training runs {args.solo_precision})" if args.solo_precision else ""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.precision}"
          f"{solo}, {args.clock} clock; "
          "critic step = G forward + D on real, fake, x̂ + penalty double backward + backward")
    for name in args.cases.split(","):
        if name == "table2":
            run_table2(args)
            continue
        if name in training:
            run_training(*training[name], args)
            continue
        if name not in cases:
            raise SystemExit(f"--cases: unknown case {name!r}; valid: "
                             f"{', '.join([*cases, *training, 'table2'])}")
        run_case(cases[name](), args, autocast)


if __name__ == "__main__":
    main()
