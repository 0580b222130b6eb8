"""QM9 / MolGAN benchmarks: data processing, round trip, training cycle, decoding, FCD.

Targets (issue 5); reference figures (MolGAN-pytorch here) in docs/benchmarks.md:

* cold processing of all 130,831 QM9 molecules <= 20 s and <= 1.5 GB peak (reference 93 s,
  3.9 GB); warm load <= 2 s;
* round trip encode -> decode -> canonical SMILES identical for >= 99.9 % of QM9;
* one cycle of 5 critic + 1 generator updates at batch 256 on 2 threads <= 0.18 s (reference
  0.54 s), and the projected wall time of a 20k-iteration run, in fp32 and in bf16 mixed
  precision (``Config.precision``);
* FCD of 10k molecules <= 20 s with the reference statistics cached; the held-out floor.

Run (sections: data, roundtrip, cycle, decode, fcd; default all but fcd's one-off reference):

    .venv/bin/python benchmarks/qm9.py [--sections data,roundtrip,cycle,decode,fcd]

Timings are wall-clock on a machine that may be shared: the load average is printed with each
section, and CPU seconds beside wall seconds where that tells more.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD_BUILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from qlatent.data.qm9 import QM9Graphs
t_import = time.perf_counter() - t0
t1 = time.perf_counter()
d = QM9Graphs()
t = time.perf_counter() - t1
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": t, "import_seconds": t_import, "from_cache": d.report.from_cache,
                  "rss_main_mb": self_kb / 1024, "rss_worker_mb": child_kb / 1024,
                  "n_encoded": d.report.n_encoded, "unencodable": d.report.unencodable,
                  "n_train": d.report.n_train, "n_test": d.report.n_test}))
"""


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def section_data() -> None:
    print(f"== data: processing all of QM9 ({load()})")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "QLATENT_CACHE": cache}
        for label in ("cold", "warm"):
            out = subprocess.run([sys.executable, "-c", CHILD_BUILD], env=env, check=True,
                                 capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"  {label}: {r['seconds']:.2f} s (from cache: {r['from_cache']}); peak RSS "
                  f"main {r['rss_main_mb']:.0f} MB, largest worker {r['rss_worker_mb']:.0f} MB "
                  f"(sum <= {r['rss_main_mb'] + r['rss_worker_mb']:.0f} MB); imports "
                  f"{r['import_seconds']:.2f} s")
        print(f"  encoded {r['n_encoded']} (train {r['n_train']}, test {r['n_test']}); "
              f"unencodable {sum(r['unencodable'].values())}: {r['unencodable']}")


def section_roundtrip(full: bool) -> None:
    from qlatent.data.qm9 import qm9_spec, read_qm9_smiles, round_trip

    print(f"== round trip encode -> decode -> canonical SMILES ({load()})")
    smiles = read_qm9_smiles()
    step = 1 if full else 10
    for opts in ({"kekulize": True}, {"kekulize": True, "charged": True},
                 {"kekulize": False}):
        t0 = time.perf_counter()
        r = round_trip(smiles[::step], qm9_spec(**opts))
        enc = r["n"] - r["unencodable"]
        print(f"  {opts}: {r['n']} molecules{' (every 10th)' if step > 1 else ''}: identical "
              f"{r['identical']} = {100 * r['identical'] / r['n']:.3f} % of all, "
              f"{100 * r['identical'] / max(enc, 1):.3f} % of the {enc} encodable; "
              f"unencodable {r['unencodable']}; {time.perf_counter() - t0:.1f} s")
        if r["examples"]:
            print(f"    e.g. {r['examples'][:3]}")


def matmul_flops(run, *args) -> float:
    """FLOPs of the matrix products (mm, addmm, bmm; multiply-add = 2) that ``run(*args)``
    executes, counted at the dispatcher, so the double backward of the penalty is included."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    aten = torch.ops.aten
    with_bias = {aten.addmm, aten.baddbmm}
    products = {aten.mm, aten.bmm} | with_bias

    class Count(TorchDispatchMode):
        flops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            packet = func.overloadpacket
            if packet in products:
                a, b = args[-2:] if packet in with_bias else args[:2]
                Count.flops += 2 * a.numel() * b.shape[-1]
            return func(*args, **(kwargs or {}))

    with Count():
        run(*args)
    return Count.flops


def section_cycle(steps: int, threads: int, precisions: list[str]) -> None:
    import torch

    from qlatent.data.qm9 import QM9Graphs
    from qlatent.latents import get
    from qlatent.models.molgan import MolGANGenerator, RGCNCritic
    from qlatent.train import Config, fit

    torch.set_num_threads(threads)
    data = QM9Graphs()
    latent = get("gaussian", dim=16)
    for precision in precisions:
        print(f"== training cycle: 5 critic + 1 generator updates, batch 256, {threads} "
              f"thread(s), {precision} ({load()})")
        g = torch.Generator().manual_seed(0)
        G = MolGANGenerator(16, spec=data.spec, relaxation="gumbel", generator=g)  # Table II's
        D = RGCNCritic(spec=data.spec, generator=g)
        config = Config(steps=2, batch_size=256, lr=1e-4, betas=(0.5, 0.999),
                        precision=precision)
        fit(G, D, latent, data, config, seed=0)                         # warm-up
        gflop = matmul_flops(functools.partial(fit, seed=0), G, D, latent, data,
                             config.replace(steps=1)) / 1e9
        results = []
        for _ in range(3):
            c0, t0 = time.process_time(), time.perf_counter()
            fit(G, D, latent, data, config.replace(steps=steps), seed=0)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            results.append((wall / steps, cpu / steps))
        best = min(r[0] for r in results)
        print("  per cycle: " + ", ".join(f"{w:.3f} s wall ({c:.3f} s CPU)" for w, c in results)
              + f"; best {best:.3f} s (target <= 0.18 s; reference 0.54 s)")
        print(f"  matrix products: {gflop:.1f} GFLOP per cycle, {gflop / best:.0f} GFLOP/s at "
              "the best cycle")
        print(f"  projected 20k-iteration run: {20_000 * best / 3600:.2f} h at the best cycle, "
              f"{20_000 * sorted(r[0] for r in results)[1] / 3600:.2f} h at the median "
              f"({load()})")


def section_decode() -> None:
    import torch

    from qlatent.data.qm9 import QM9Graphs, graphs_to_smiles
    from qlatent.metrics.molecules import evaluate_molecules
    from qlatent.models.molgan import decode

    print(f"== decoding and scoring 10k graphs ({load()})")
    data = QM9Graphs(permutation_p=0.0)
    edges, nodes = data.sample(10_000, generator=torch.Generator().manual_seed(1))
    t0 = time.perf_counter()
    x, a = decode(edges, nodes)
    smiles = graphs_to_smiles(x.numpy(), a.numpy(), data.spec)
    t1 = time.perf_counter()
    m = evaluate_molecules(smiles, train=set(data.smiles("train")))
    t2 = time.perf_counter()
    print(f"  decode + RDKit sanitise 10k real graphs: {t1 - t0:.2f} s; metrics: {t2 - t1:.2f} s;"
          f" validity of real data {m['validity']:.4f} (must be 1)")


def section_fcd() -> None:
    import numpy as np

    from qlatent.data.qm9 import QM9Graphs
    from qlatent.metrics.fcd import fcd_to_reference, reference_statistics

    print(f"== FCD ({load()})")
    data = QM9Graphs()
    train = data.smiles("train")
    t0 = time.perf_counter()
    reference_statistics(train)
    print(f"  training-set reference statistics ({len(train)} molecules): "
          f"{time.perf_counter() - t0:.1f} s (0 s when cached)")
    test = data.smiles("test")
    rng = np.random.default_rng(0)
    pick = sorted(rng.permutation(len(test))[:10_000].tolist())
    sample = [test[i] for i in pick]
    t0 = time.perf_counter()
    value = fcd_to_reference(sample, train)
    t_distinct = time.perf_counter() - t0
    gen_like = [sample[i % 2500] for i in range(10_000)]   # 2,500 distinct, like a generator
    t0 = time.perf_counter()
    fcd_to_reference(gen_like, train)
    t_dup = time.perf_counter() - t0
    print(f"  held-out floor: FCD(10k test molecules, train statistics) = {value:.4f}")
    print(f"  10k molecules, all distinct: {t_distinct:.1f} s; 10k with 2,500 distinct: "
          f"{t_dup:.1f} s (target <= 20 s) ({load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", default="data,roundtrip,cycle,decode,fcd")
    parser.add_argument("--full-roundtrip", action="store_true",
                        help="round trip all 130,831 molecules (default: every 10th)")
    parser.add_argument("--steps", type=int, default=10, help="cycles per timing repeat")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the cycle")
    parser.add_argument("--precision", default="fp32,bf16",
                        help="training precisions timed by the cycle section")
    args = parser.parse_args()
    sections = args.sections.split(",")
    for name in sections:
        if name == "data":
            section_data()
        elif name == "roundtrip":
            section_roundtrip(args.full_roundtrip)
        elif name == "cycle":
            section_cycle(args.steps, args.threads, args.precision.split(","))
        elif name == "decode":
            section_decode()
        elif name == "fcd":
            section_fcd()
        else:
            raise SystemExit(f"unknown section {name!r}; valid: data, roundtrip, cycle, "
                             "decode, fcd")


if __name__ == "__main__":
    main()
