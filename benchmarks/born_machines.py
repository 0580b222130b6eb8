"""Born machines trained on data (issue 12, part 3): the Table I boson data, 8 photons in 16 modes.

Target: n photons in the first n of m modes through a Haar unitary of its own (data seed); the
exact target distribution p over all C(m+n-1, n) states (``photonics.exact_distribution``, 490,314
states at 8/16) gives its entropy H(p) exactly. Training and held-out samples are exact boson
samples of the target. Models: ``BornLatent`` with a trainable Clements mesh and
indistinguishable ("quantum") or distinguishable ("photonic") photons, initial angles from the
model seed, trained by exact NLL with Adam on minibatches (``train.likelihood.fit_distribution``).

Reported per run: held-out NLL (nats per sample, the mean of -log q(x) over the held-out samples;
it estimates the cross-entropy H(p) + KL(p || q)), H(p), exact KL(p || q) and exact
TVD(p, q) = 1/2 sum |p - q| (the model's whole distribution by ``quantum.output_distribution``),
and an unbiased MMD^2 estimate between model samples and held-out samples (kernel:
``metrics.kernels.DEFAULT_BANDWIDTHS``). References: the untrained model, and distinguishable
photons through the *target* unitary (what the best no-interference model with the right circuit
would reach).

    .venv/bin/python benchmarks/born_machines.py --seeds 0,1,2 --steps 2000 \
        --out results/born_machines
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # see benchmarks/optics.py

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from qlatent import photonics  # noqa: E402
from qlatent._io import atomic_write_json, atomic_write_text  # noqa: E402
from qlatent.latents import BornLatent  # noqa: E402
from qlatent.metrics.kernels import mmd2  # noqa: E402
from qlatent.quantum import output_distribution  # noqa: E402
from qlatent.train.likelihood import Adam, LikelihoodConfig, fit_distribution  # noqa: E402


def make_target(n_modes: int, n_photons: int, data_seed: int, n_train: int, n_test: int
                ) -> dict:
    """Haar target: unitary, exact distribution, entropy, train and held-out samples."""
    ss_u, ss_train, ss_test = np.random.SeedSequence(data_seed).spawn(3)
    U = photonics.haar_unitary(n_modes, rng=ss_u)
    t = photonics.standard_input(n_modes, n_photons)
    states, p = photonics.exact_distribution(U, t)
    nz = p > 0
    entropy = float(-(p[nz] * np.log(p[nz])).sum())
    return {"U": U, "input_state": t, "states": states, "p": p, "entropy": entropy,
            "train": photonics.boson_sample(U, t, n_train, rng=ss_train),
            "test": photonics.boson_sample(U, t, n_test, rng=ss_test)}


def _divergences(p: np.ndarray, q: np.ndarray) -> tuple[float, float]:
    """(exact KL(p || q) in nats, exact TVD)."""
    nz = p > 0
    kl = float((p[nz] * (np.log(p[nz]) - np.log(np.maximum(q[nz], 1e-300)))).sum())
    return kl, float(0.5 * np.abs(p - q).sum())


def evaluate(model: BornLatent, target: dict, n_mmd: int, seed: int) -> dict:
    with torch.no_grad():
        test = torch.from_numpy(target["test"])
        nll = float(torch.cat([-model.log_prob(test[i:i + 4096])
                               for i in range(0, len(test), 4096)]).mean())
        _, q = model.output_distribution()
        kl, tvd = _divergences(target["p"], q.numpy())
        samples = model.sample_counts(n_mmd, generator=torch.Generator().manual_seed(seed))
    return {"heldout_nll": nll, "kl_exact": kl, "tvd_exact": tvd,
            "mmd2_estimate": mmd2(samples, test[:n_mmd])}


def run(kind: str, seed: int, target: dict, *, steps: int, lr: float, batch_size: int,
        n_mmd: int) -> dict:
    m, n = target["U"].shape[0], int(target["input_state"].sum())
    model = BornLatent(m, kind=kind, n_photons=n, seed=seed)
    before = evaluate(model, target, n_mmd, seed)
    start = time.perf_counter()
    config = LikelihoodConfig(steps=steps, optimizer=Adam(lr=lr), batch_size=batch_size,
                              log_every=max(1, steps // 20))
    fit = fit_distribution(model, target["train"], config, seed=seed)
    seconds = time.perf_counter() - start
    after = evaluate(model, target, n_mmd, seed + 1)
    return {"kind": kind, "seed": seed, "steps": steps, "lr": lr, "batch_size": batch_size,
            "train_seconds": seconds, "initial": before, "final": after,
            "curve": fit.history}


def references(target: dict, n_mmd: int) -> dict:
    U = torch.from_numpy(target["U"])
    _, q = output_distribution(U, target["input_state"], distinguishable=True)
    q = q.numpy()
    kl, tvd = _divergences(target["p"], q)
    index = {tuple(s): i for i, s in enumerate(target["states"].tolist())}
    idx = np.array([index[tuple(x)] for x in target["test"].tolist()])
    return {"distinguishable_through_target_U": {
        "heldout_nll": float(-np.log(q[idx]).mean()), "kl_exact": kl, "tvd_exact": tvd},
        "target_heldout_nll": float(-np.log(target["p"][idx]).mean())}


def report_markdown(result: dict) -> str:
    lines = [
        "# Born machines on the Table I boson data (8 photons, 16 modes)", "",
        f"Command: `{result['command']}`", "",
        f"Target: Haar unitary from data seed {result['data_seed']}, exact entropy "
        f"H(p) = {result['entropy']:.4f} nats over {result['n_states']:,} states; "
        f"{result['n_train']:,} training and {result['n_test']:,} held-out exact samples. "
        f"The target's own held-out NLL is {result['references']['target_heldout_nll']:.4f}.",
        "",
        f"Distinguishable photons through the *target* unitary: held-out NLL "
        f"{result['references']['distinguishable_through_target_U']['heldout_nll']:.4f}, "
        f"KL {result['references']['distinguishable_through_target_U']['kl_exact']:.4f}, "
        f"TVD {result['references']['distinguishable_through_target_U']['tvd_exact']:.4f}.", "",
        "| model | seed | steps | held-out NLL (init → final) | exact KL(p‖q) | exact TVD | "
        "MMD² est. | train s |", "|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        i, f = r["initial"], r["final"]
        lines.append(f"| mesh, {r['kind']} | {r['seed']} | {r['steps']} | "
                     f"{i['heldout_nll']:.3f} → {f['heldout_nll']:.3f} | "
                     f"{i['kl_exact']:.3f} → {f['kl_exact']:.4f} | "
                     f"{i['tvd_exact']:.3f} → {f['tvd_exact']:.4f} | "
                     f"{f['mmd2_estimate']:.2e} | {r['train_seconds']:.0f} |")
    lines += ["", "Summary (mean ± sd over seeds, final):", ""]
    for kind in ("quantum", "photonic"):
        rows = [r["final"] for r in result["runs"] if r["kind"] == kind]
        if rows:
            def ms(key, rows=rows):
                v = np.array([x[key] for x in rows])
                return f"{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0:.4f}"
            lines.append(f"- {kind}: held-out NLL {ms('heldout_nll')}, KL {ms('kl_exact')}, "
                         f"TVD {ms('tvd_exact')} ({len(rows)} seeds)")
    lines += ["", f"Machine: {result['machine']}; torch {result['torch']}, 1 torch thread, "
              "NUMBA_NUM_THREADS=1, shared with other jobs (timings are wall clock).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--kinds", default="quantum,photonic")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--n-mmd", type=int, default=2_000)
    parser.add_argument("--data-seed", type=int, default=1234)
    parser.add_argument("--modes", type=int, default=16)
    parser.add_argument("--photons", type=int, default=8)
    parser.add_argument("--out", default="results/born_machines")
    parser.add_argument("--name", default="table1", help="file stem of the JSON and Markdown")
    args = parser.parse_args()
    torch.set_num_threads(1)
    target = make_target(args.modes, args.photons, args.data_seed, args.n_train, args.n_test)
    result = {"command": " ".join(["python"] + [shlex.quote(a) for a in sys.argv]),
              "data_seed": args.data_seed, "n_modes": args.modes, "n_photons": args.photons,
              "n_states": int(len(target["p"])), "entropy": target["entropy"],
              "n_train": args.n_train, "n_test": args.n_test, "n_mmd": args.n_mmd,
              "references": references(target, args.n_mmd), "runs": [],
              "machine": platform.machine(), "torch": torch.__version__}
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1), flush=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for kind in args.kinds.split(","):
            r = run(kind, seed, target, steps=args.steps, lr=args.lr,
                    batch_size=args.batch_size, n_mmd=args.n_mmd)
            result["runs"].append(r)
            print(kind, seed, json.dumps(r["final"]), f"{r['train_seconds']:.0f} s", flush=True)
            atomic_write_json(os.path.join(args.out, f"{args.name}.json"), result)
            atomic_write_text(os.path.join(args.out, f"{args.name}.md"), report_markdown(result))


if __name__ == "__main__":
    main()
