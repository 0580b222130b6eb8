"""Seconds per exact boson sample: qlatent vs Perceval's CliffordClifford2017, side by side.

Haar-random U on m = 2n modes, one photon in each of the first n modes, photon-number-resolving
output. For each n: qlatent on one core (n_jobs=1, method "auto": the alias table where the Fock
space is small, Clifford & Clifford otherwise; plus method "clifford" where "auto" is the
table), qlatent with n_jobs=2 (speed-up), and, if ``perceval`` is importable (the ``bench``
extra; never a library dependency), Perceval's sampler on one core and on two, in the same
process, interleaved in rounds so that load from other processes hits both alike. "cores busy"
is qlatent's process CPU time / wall time with n_jobs=2 (2.0 = both cores computing). "CPU/sample"
is process CPU time per sample on one core: on a machine shared with other work it is the
better measure of cost (it is what wall time would be on an idle core), while wall-clock speed-up
from a second thread is bounded by the share of the two cores the process gets (cores busy).

One core means the whole process (every thread) is pinned to one CPU with sched_setaffinity.

    .venv/bin/python benchmarks/sampler.py [--sizes 4,8,12,16,20,24] [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import time

from qlatent.photonics import boson_sample, haar_unitary, sampler, standard_input

try:  # benchmark-only comparison
    import perceval as pcvl
    from perceval.backends import Clifford2017Backend
except ImportError:  # pragma: no cover - depends on the environment
    pcvl = None


def pin(cpus: set[int]) -> None:
    """Pin every thread of this process to ``cpus``."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass


def timed(fn, batch: int, seconds: float) -> tuple[float, float, int]:
    """Run fn(batch) until ``seconds`` have passed (at least once); (wall, cpu, samples).

    cpu is the process CPU time (all threads), so cpu / wall shows how many cores were busy.
    """
    start = time.perf_counter()
    cpu = time.process_time()
    done = 0
    while True:
        fn(batch)
        done += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed, time.process_time() - cpu, done


def calibrate(fn, target: float) -> int:
    """Batch size whose call takes about ``target`` seconds (fn is warm)."""
    batch = 1
    while True:
        t = time.perf_counter()
        fn(batch)
        dt = time.perf_counter() - t
        if dt >= target / 4 or batch >= 1 << 22:
            return max(1, int(batch * target / max(dt, 1e-9)))
        batch *= 4


def fmt(sec: float) -> str:
    if sec >= 1:
        return f"{sec:.3g} s"
    if sec >= 1e-3:
        return f"{sec * 1e3:.3g} ms"
    return f"{sec * 1e6:.3g} us"


def measure(contenders: dict, seconds: float, rounds: int) -> dict[str, tuple[float, float]]:
    """Interleave the contenders in ``rounds`` rounds; (seconds per sample, cpu / wall) each."""
    per_round = seconds / rounds
    batches = {name: calibrate(fn, min(per_round, 0.5)) for name, fn in contenders.items()}
    tot = {name: [0.0, 0.0, 0] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            el, cpu, done = timed(fn, batches[name], per_round)
            tot[name][0] += el
            tot[name][1] += cpu
            tot[name][2] += done
    return {name: (el / done, cpu / el) for name, (el, cpu, done) in tot.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4,8,12,16,20,24",
                        help="comma-separated photon numbers n (m = 2n modes)")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="seconds per measurement (split into 4 interleaved rounds; "
                             "one round at n >= 24)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("warning: fewer than two CPUs available; two-core columns are one-core")
    one, two = {cpus[0]}, set(cpus[:2])
    print(f"perceval: {pcvl.__version__ if pcvl else 'not installed'}; cpus {cpus}; "
          f"load average {os.getloadavg()[0]:.1f} (shared machine)")
    header = ("| n | m | method | qlatent 1 core | Perceval 1 core | ratio | qlatent CPU/sample | "
              "Perceval CPU/sample | CPU ratio | qlatent 2 cores | speed-up | cores busy | "
              "Perceval 2 cores | ratio 2 cores |")
    print(header)
    print("|---" * 14 + "|")
    for n in sizes:
        m = 2 * n
        U = haar_unitary(m, rng=n)
        t = standard_input(m, n)
        K = sampler.fock_space_size(m, n)
        methods = ["table", "clifford"] if K <= sampler.TABLE_MAX_STATES else ["clifford"]
        sim = None
        if pcvl is not None:
            sim = Clifford2017Backend()
            sim.set_circuit(pcvl.Unitary(pcvl.Matrix(U)))
            sim.set_input_state(pcvl.BasicState([1] * n + [0] * n))
        rounds = 4 if n < 24 else 1
        secs = args.seconds if n < 24 else max(args.seconds, 1e-9)
        for method in methods:
            build = time.perf_counter()
            boson_sample(U, t, 2, rng=0, method=method)  # compile, and build the table
            build = time.perf_counter() - build
            seed = iter(range(10**9))

            def ours(b, jobs, method=method, seed=seed, U=U, t=t):
                boson_sample(U, t, b, rng=next(seed), method=method, n_jobs=jobs)

            res = {}
            for cores, jobs in ((one, 1), (two, 2)):
                pin(cores)
                cont = {"q": lambda b, jobs=jobs, ours=ours: ours(b, jobs)}
                if sim is not None:
                    cont["p"] = sim.samples
                if n >= 24:
                    # at least one sample per thread in every call
                    cont = {k: (lambda b, f=f, j=jobs: f(max(b, j))) for k, f in cont.items()}
                r = measure(cont, secs, rounds)
                res.update({f"{k}{jobs}": v for k, v in r.items()})
            pin(set(cpus))
            q1, q2 = res["q1"][0], res["q2"][0]
            qc = q1 * res["q1"][1]  # CPU seconds per sample on one core
            busy = res["q2"][1]
            p1, p2 = res.get("p1", (None,))[0], res.get("p2", (None,))[0]
            pc = p1 * res["p1"][1] if p1 else None
            label = method + (f" (build {build:.2f} s)" if method == "table" else "")

            def ratio(a, b):
                return f"{a / b:.1f}x" if a else "-"

            print(f"| {n} | {m} | {label} | {fmt(q1)} | {fmt(p1) if p1 else '-'} | "
                  f"{ratio(p1, q1)} | {fmt(qc)} | {fmt(pc) if pc else '-'} | {ratio(pc, qc)} | "
                  f"{fmt(q2)} | {q1 / q2:.2f}x | {busy:.2f} | {fmt(p2) if p2 else '-'} | "
                  f"{ratio(p2, q2)} |", flush=True)

if __name__ == "__main__":
    main()
