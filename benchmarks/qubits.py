"""Seconds per differentiable qubit-circuit call: probabilities + backward, ours vs PennyLane.

The circuit (issue 13's speed target): 12 qubits, 10 layers of the layered ansatz of
``qlatent.quantum.qubits.LayeredAnsatz`` (a rotation layer Rot(φ, θ, ω) on every qubit, then 10
times: CNOTs on the ring (0,1), (1,2), ..., (11,0) and a rotation layer: 396 angles, float64,
complex128 states), the loss sum_x P(x) r_x with fixed random r, backward to all angles.
Target: <= 20 ms on one core, and >= 5x faster than PennyLane's ``default.qubit`` with the
torch interface (``diff_method="backprop"``) on the same circuit, measured side by side in this
process: the calls alternate, and both see the same weights (their probabilities are checked to
agree first, so the two really compute the same thing).

A second anchor, where PennyLane-Lightning is installed: ``lightning.qubit`` with adjoint
gradients (``diff_method="adjoint"``, its fastest gradient here). Adjoint differentiation does
not take ``qml.probs``, so that circuit returns the same loss as an expectation value,
<H> with H = diag(r) as a ``qml.SparseHamiltonian``: the same number and the same gradient (both
checked), not the probability vector.

Each figure is the median of ``--repeats`` timed calls after warm-up, as wall time and as this
thread's CPU time (``time.thread_time``); on a shared machine the CPU time is the better measure
of cost. Torch threads: ``--threads`` (default 1).
PennyLane is a benchmark-only extra (``pip install -e '.[bench]'``); without it only our figures
are printed.

    .venv/bin/python benchmarks/qubits.py [--repeats 30] [--qubits 12] [--layers 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from qlatent.quantum.qubits import LayeredAnsatz  # noqa: E402

TARGET_SECONDS = 0.020
TARGET_SPEEDUP = 5.0


def _apply_ansatz(qml, w, n_qubits: int, layers: int, edges) -> None:
    """Our LayeredAnsatz as PennyLane gates: Rot on every qubit, then per layer the ring's
    CNOTs and Rot on every qubit."""
    for q in range(n_qubits):
        qml.Rot(w[0, q, 0], w[0, q, 1], w[0, q, 2], wires=q)
    for layer in range(1, layers + 1):
        for c, t in edges:
            qml.CNOT(wires=[c, t])
        for q in range(n_qubits):
            qml.Rot(w[layer, q, 0], w[layer, q, 1], w[layer, q, 2], wires=q)


def pennylane_circuit(n_qubits: int, layers: int, edges):
    import pennylane as qml

    dev = qml.device("default.qubit", wires=n_qubits)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def probs(w):
        _apply_ansatz(qml, w, n_qubits, layers, edges)
        return qml.probs(wires=range(n_qubits))

    return probs, qml.__version__


def lightning_circuit(n_qubits: int, layers: int, edges, r: np.ndarray):
    """The same circuit's loss sum_x P(x) r_x as <diag(r)> on ``lightning.qubit``, adjoint."""
    import pennylane as qml
    import scipy.sparse as sparse

    dev = qml.device("lightning.qubit", wires=n_qubits)
    H = qml.SparseHamiltonian(sparse.csr_matrix(sparse.diags(r)), wires=range(n_qubits))

    @qml.qnode(dev, interface="torch", diff_method="adjoint")
    def loss(w):
        _apply_ansatz(qml, w, n_qubits, layers, edges)
        return qml.expval(H)

    return loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, default=12)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ansatz = LayeredAnsatz(args.qubits, args.layers, entangler="ring", rng=0)
    r = torch.from_numpy(np.random.default_rng(1).standard_normal(2 ** args.qubits))
    w_pl = ansatz.weights.detach().clone().requires_grad_(True)

    def ours():
        ansatz.weights.grad = None
        (ansatz.probabilities() * r).sum().backward()
        return ansatz.weights.grad

    calls = {"qlatent": ours}
    try:
        circuit, pl_version = pennylane_circuit(args.qubits, args.layers, ansatz.edges)
    except ImportError:
        circuit, pl_version = None, None
        print("PennyLane not installed (pip install -e '.[bench]'): our figures only")
    if circuit is not None:
        def theirs():
            w_pl.grad = None
            (circuit(w_pl) * r).sum().backward()
            return w_pl.grad

        p_ours = ansatz.probabilities().detach()
        p_pl = circuit(w_pl).detach()
        gap = float((p_ours - p_pl).abs().max())
        g_gap = float((ours() - theirs()).abs().max())
        print(f"same circuit: max |P_ours - P_pennylane| = {gap:.1e}, max gradient gap "
              f"{g_gap:.1e}")
        if gap > 1e-10 or g_gap > 1e-8:
            raise SystemExit("the two circuits differ: not comparable")
        calls["pennylane"] = theirs
        try:
            lightning = lightning_circuit(args.qubits, args.layers, ansatz.edges, r.numpy())
        except Exception as err:  # noqa: BLE001 (optional device: say why and go on)
            lightning = None
            print(f"lightning.qubit not available ({type(err).__name__}: {err}): one anchor")
        if lightning is not None:
            w_lt = ansatz.weights.detach().clone().requires_grad_(True)

            def lightning_call():
                w_lt.grad = None
                lightning(w_lt).backward()
                return w_lt.grad

            value = float((ansatz.probabilities() * r).sum().detach())
            value_gap = abs(float(lightning(w_lt).detach()) - value) / max(1.0, abs(value))
            lt_gap = float((ours() - lightning_call()).abs().max())
            print(f"same loss on lightning.qubit: relative value gap {value_gap:.1e}, max "
                  f"gradient gap {lt_gap:.1e}")
            if value_gap > 1e-9 or lt_gap > 1e-7:  # its sparse expectation sums differently
                raise SystemExit("lightning.qubit computes another loss: not comparable")
            calls["lightning"] = lightning_call
    for fn in calls.values():
        for _ in range(3):
            fn()
    wall = {k: [] for k in calls}
    cpu = {k: [] for k in calls}
    for _ in range(args.repeats):
        for name, fn in calls.items():  # alternate: both see the same machine load
            t0, c0 = time.perf_counter(), time.thread_time()
            fn()
            cpu[name].append(time.thread_time() - c0)
            wall[name].append(time.perf_counter() - t0)
    out = {"qubits": args.qubits, "layers": args.layers, "threads": args.threads,
           "repeats": args.repeats, "torch": torch.__version__, "pennylane": pl_version,
           "python": platform.python_version(), "load_average": os.getloadavg()}
    for name in calls:
        out[name] = {"wall_median_s": statistics.median(wall[name]),
                     "cpu_median_s": statistics.median(cpu[name]),
                     "wall_min_s": min(wall[name]), "cpu_min_s": min(cpu[name])}
        print(f"{name:10s} probabilities + backward: median {1e3 * out[name]['wall_median_s']:.1f}"
              f" ms wall, {1e3 * out[name]['cpu_median_s']:.1f} ms CPU (min "
              f"{1e3 * out[name]['wall_min_s']:.1f} / {1e3 * out[name]['cpu_min_s']:.1f} ms)")
    ok = out["qlatent"]["cpu_median_s"] <= TARGET_SECONDS
    print(f"target <= {1e3 * TARGET_SECONDS:.0f} ms CPU: {'met' if ok else 'MISSED'}")
    if "pennylane" in calls:
        speedup = {k: out["pennylane"][f"{k}_median_s"] / out["qlatent"][f"{k}_median_s"]
                   for k in ("wall", "cpu")}
        out["speedup"] = speedup
        print(f"speed-up over PennyLane default.qubit (torch, backprop): {speedup['wall']:.1f}x "
              f"wall, {speedup['cpu']:.1f}x CPU (target >= {TARGET_SPEEDUP:.0f}x: "
              f"{'met' if min(speedup.values()) >= TARGET_SPEEDUP else 'MISSED'})")
    if "lightning" in calls:
        speedup = {k: out["lightning"][f"{k}_median_s"] / out["qlatent"][f"{k}_median_s"]
                   for k in ("wall", "cpu")}
        out["speedup_lightning_adjoint"] = speedup
        print(f"speed-up over PennyLane lightning.qubit (torch, adjoint): "
              f"{speedup['wall']:.1f}x wall, {speedup['cpu']:.1f}x CPU")
    print(f"load average {out['load_average']}")
    if args.json:
        from qlatent._io import atomic_write_json

        atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()
