"""Seconds per Table I training step: a fixed latent vs a latent trained with the generator.

Issue 12's target: a joint step (generator + critic + the latent's score-function update) at
8 photons / 16 modes costs <= 1.3x a fixed-latent step. Table I's step: batch 500, n_critic 5,
gradient penalty 10, RMSprop, 2 x 512 ReLU MLPs (16 -> 16 counts), data = exact boson samples.

Cases, each ``qlatent.train.training_step`` as ``fit`` runs it:
  * ``fixed``: the paper's fixed quantum latent (a bank of ``--bank`` exact boson samples of a
    Haar circuit; a draw is a row lookup);
  * ``born-fixed``: a born latent (quantum, mesh) with latent_lr = 0 (exact sampling from U(θ)
    every step, no update);
  * ``joint-quantum`` / ``joint-photonic`` / ``joint-multinomial``: the trained latents
    (latent_lr > 0: exact draws from the current θ, then log_prob + backward of the generator
    batch and the latent's optimiser step).
Rounds are interleaved (one step of each case per round) so load on a shared machine hits
every case alike; the figure is the median over rounds of the process CPU time per step (all
threads; on a shared machine the better measure of cost) and of the wall time.

    .venv/bin/python benchmarks/joint.py [--rounds 15] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import torch  # noqa: E402

from qlatent import latents, photonics  # noqa: E402
from qlatent.models import MLP  # noqa: E402
from qlatent.train import (  # noqa: E402
    Adversaries,
    Config,
    PackState,
    RandomStreams,
    latent_trainer,
)
from qlatent.train.step import training_step  # noqa: E402

M, N = 16, 8
TARGET = 1.3


class Counts:
    """Table I's data in miniature: rows of a fixed array of exact boson samples."""

    def __init__(self, rows: torch.Tensor) -> None:
        self.rows = rows

    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        return self.rows[torch.randint(len(self.rows), (n,), generator=generator)]


def make_case(latent, config: Config, data: Counts, seed: int):
    g = torch.Generator().manual_seed(seed)
    G = MLP(M, M, hidden=(512, 512), activation="relu", generator=g)
    D = MLP(M, 1, hidden=(512, 512), activation="relu", generator=g)
    adversaries = Adversaries(G, D, config)
    trainer = latent_trainer(latent, config)
    streams = RandomStreams(seed)
    counter = {"step": 0}

    def step() -> None:
        counter["step"] += 1
        training_step(adversaries, [latent], [data], [streams], config, PackState(1),
                      counter["step"], [trainer])

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bank", type=int, default=20_000, help="rows of the fixed bank")
    parser.add_argument("--latent-lr", type=float, default=1e-2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = Config(steps=1, batch_size=500, n_critic=5, gp_weight=10.0, optimizer="rmsprop",
                    lr=5e-4, latent_lr=args.latent_lr)
    U = photonics.haar_unitary(M, rng=1)
    data = Counts(torch.from_numpy(photonics.boson_sample(
        U, photonics.standard_input(M, N), 20_000, rng=2, method="clifford")).float())
    with tempfile.TemporaryDirectory() as cache:
        os.environ["QLATENT_CACHE"] = cache
        fixed = latents.get("quantum", dim=M, seed=3, circuit="haar", n_samples=args.bank)
        torch.set_num_threads(args.threads)
        cases = {
            "fixed": make_case(fixed, config.replace(latent_lr=0.0), data, 0),
            "born-fixed": make_case(latents.get("born", dim=M, seed=3), config.replace(
                latent_lr=0.0), data, 0),
            "joint-quantum": make_case(latents.get("born", dim=M, seed=3), config, data, 0),
            "joint-photonic": make_case(latents.get("born", dim=M, kind="photonic", seed=3),
                                        config, data, 0),
            "joint-multinomial": make_case(latents.get("multinomial", dim=M), config, data, 0),
        }
        for step in cases.values():
            step()  # warm-up: numba kernels, caches
        wall = {k: [] for k in cases}
        cpu = {k: [] for k in cases}
        for _ in range(args.rounds):
            for name, step in cases.items():
                w0, c0 = time.perf_counter(), time.process_time()
                step()
                wall[name].append(time.perf_counter() - w0)
                cpu[name].append(time.process_time() - c0)
    out = {"machine": platform.processor() or platform.machine(), "threads": args.threads,
           "rounds": args.rounds, "torch": torch.__version__, "cases": {}}
    base_cpu, base_wall = statistics.median(cpu["fixed"]), statistics.median(wall["fixed"])
    print(f"Table I step (B 500, n_critic 5, 2x512), {N} photons / {M} modes, "
          f"{args.threads} thread(s), median of {args.rounds} interleaved rounds")
    print(f"{'case':<20}{'cpu s/step':>12}{'wall s/step':>13}{'cpu ratio':>11}{'wall ratio':>12}")
    for name in cases:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        out["cases"][name] = {"cpu_seconds": c, "wall_seconds": w,
                              "cpu_ratio": c / base_cpu, "wall_ratio": w / base_wall}
        print(f"{name:<20}{c:>12.4f}{w:>13.4f}{c / base_cpu:>11.2f}{w / base_wall:>12.2f}")
    worst = max(v["cpu_ratio"] for k, v in out["cases"].items() if k.startswith("joint"))
    print(f"worst joint / fixed (cpu): {worst:.2f} (target <= {TARGET})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
