"""Training speed of the GAN engine: generator iterations per second, FLOPs, fraction of peak.

    .venv/bin/python benchmarks/train.py [--threads 2] [--seconds 20]

For the paper's Table I settings (batch 500, 2x512 ReLU MLPs, 5 critic steps with gradient
penalty, RMSprop) and the ring (batch 32, 2x256 LeakyReLU, Adam) it prints generator
iterations/s, the FLOPs of one iteration counted analytically, the reached GFLOP/s as a
fraction of this machine's fp32 matmul ceiling (155 GFLOP/s on 2 threads,
docs/benchmarks.md), and a matmul measured now in this process, since the machine is
shared), and projects the wall time of the full Table I (96 runs x 40k iterations).

FLOP count (multiply-add = 2 FLOPs; elementwise work ignored). For an MLP with layers
(in_l, out_l), F = Σ in_l·out_l and one forward of b samples costs f(b) = 2·b·F. As
implemented in qlatent.train.fit, with f = f_D(B), g = f_G(B):

* one critic update: D forward on [real; fake] and on x̂ (3f), input gradient on x̂ with
  create_graph (f), backward to D's weights and activations (≈ 2·3f) and through the penalty's
  gradient graph (≈ 2f): 12f;
* the k generated critic batches: one forward of G on k·B samples (k·g);
* the generator update: G forward (g), D forward (f), D input gradients (f), G backward (2g):
  3g + 2f.

Total per generator iteration: k·(12f + g) + 3g + 2f.
"""

from __future__ import annotations

import argparse
import time

import torch

from qlatent.data import BernoulliData, SevenGaussians
from qlatent.latents import get
from qlatent.models import MLP
from qlatent.train import Config, fit

CEILING_GFLOPS = 155.0  # docs/benchmarks.md (reference tools): [500,512]@[512,512], 2 threads


def mlp_macs(dims: list[int]) -> int:
    return sum(a * b for a, b in zip(dims, dims[1:], strict=False))


def iteration_flops(batch: int, n_critic: int, g_dims: list[int], d_dims: list[int]) -> float:
    f = 2.0 * batch * mlp_macs(d_dims)
    g = 2.0 * batch * mlp_macs(g_dims)
    return n_critic * (12 * f + g) + 3 * g + 2 * f


def matmul_gflops(m: int, k: int, n: int, seconds: float = 2.0) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(5):
        a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    return 2.0 * m * k * n * reps / (time.perf_counter() - t0) / 1e9


def measure(name: str, *, latent_dim: int, data, hidden: tuple[int, ...], activation: str,
            config: Config, seconds: float) -> float:
    gen = torch.Generator().manual_seed(0)
    out_dim = data.dim
    G = MLP(latent_dim, out_dim, hidden=hidden, activation=activation, generator=gen)
    D = MLP(out_dim, 1, hidden=hidden, activation=activation, generator=gen)
    latent = get("gaussian", dim=latent_dim)
    fit(G, D, latent, data, config.replace(steps=5), seed=0)  # warm-up
    steps = 10
    while True:  # grow until one timed run lasts `seconds`
        t0 = time.perf_counter()
        fit(G, D, latent, data, config.replace(steps=steps), seed=0)
        dt = time.perf_counter() - t0
        if dt >= seconds or steps >= 100_000:
            return steps / dt
        steps = int(steps * max(2.0, 1.2 * seconds / dt))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    now = matmul_gflops(1500, 512, 512)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); fp32 matmul "
          f"[1500,512]@[512,512] measured now: {now:.0f} GFLOP/s "
          f"(ceiling on record: {CEILING_GFLOPS:.0f} GFLOP/s)")

    cases = [
        ("Table I (batch 500, 2x512 ReLU, n_critic 5, RMSprop)", 16, BernoulliData(16),
         (512, 512), "relu", Config(batch_size=500, n_critic=5, optimizer="rmsprop",
                                    log_every=10**6)),
        ("ring (batch 32, 2x256 LeakyReLU, n_critic 5, Adam)", 16, SevenGaussians(),
         (256, 256), "leaky_relu", Config(batch_size=32, n_critic=5, optimizer="adam",
                                          log_every=10**6)),
    ]
    for name, L, data, hidden, act, cfg in cases:
        before = matmul_gflops(1500, 512, 512)
        its = measure(name, latent_dim=L, data=data, hidden=hidden, activation=act,
                      config=cfg, seconds=args.seconds)
        now = 0.5 * (before + matmul_gflops(1500, 512, 512))  # the machine is shared
        dims_g = [L, *hidden, data.dim]
        dims_d = [data.dim, *hidden, 1]
        gflop = iteration_flops(cfg.batch_size, cfg.n_critic, dims_g, dims_d) / 1e9
        rate = its * gflop
        print(f"\n{name}")
        print(f"  generator iterations/s: {its:.2f}")
        print(f"  FLOPs per iteration:    {gflop:.2f} GFLOP")
        print(f"  reached:                {rate:.1f} GFLOP/s = {rate / CEILING_GFLOPS:.0%} of "
              f"{CEILING_GFLOPS:.0f} (recorded ceiling), {rate / now:.0%} of the "
              f"{now:.0f} GFLOP/s matmul measured around it")
        if name.startswith("Table I"):
            runs, steps = 96, 40_000
            hours = runs * steps / its / 3600
            print(f"  full Table I ({runs} runs x {steps} it) on this CPU: {hours:.0f} h "
                  f"({hours / 24:.1f} days)")
            # GPU: FLOPs are negligible (19 GFLOP at ~50 TFLOP/s TF32 is 0.4 ms); eager PyTorch
            # is bound by ~450 kernel launches per iteration at ~8-10 µs each -> ~4 ms.
            gpu_its = 250.0
            print(f"  full Table I on one GPU (assumed ~{gpu_its:.0f} it/s per run, launch-bound "
                  f"eager PyTorch, runs sequential): {runs * steps / gpu_its / 3600:.1f} h; "
                  "several runs per GPU in parallel divide this further")


if __name__ == "__main__":
    main()
