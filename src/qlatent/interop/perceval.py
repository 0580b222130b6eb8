"""Perceval adapter: an :class:`~qlatent.interop.optical.OpticalCircuit` as a Perceval
``Circuit`` (``PS``, ``BS.Ry``, ``PERM`` components), a Perceval circuit back to its unitary, or
the source of a small Python file that builds the circuit.

Mode k of ours is mode k of Perceval, and ``Circuit.compute_unitary()`` equals our U[j, k]
(input k -> output j). Output states are Perceval ``BasicState``s of photon counts per mode,
the count vectors of our samplers and Born machines (docs/interop.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qlatent.interop._sdk import require
from qlatent.interop.optical import OpticalCircuit, check_unitary


def _check(circuit: Any) -> OpticalCircuit:
    if not isinstance(circuit, OpticalCircuit):
        raise TypeError(f"circuit must be an OpticalCircuit (interop.optical_circuit(...)), got "
                        f"{type(circuit).__name__}")
    return circuit


def to_perceval(circuit: OpticalCircuit) -> Any:
    """A ``perceval.Circuit`` with the components of ``circuit``, in order."""
    circuit = _check(circuit)
    pcvl = require("perceval")
    out = pcvl.Circuit(circuit.n_modes, name="qlatent")
    for c in circuit.components:
        if c.kind == "ps":
            out.add(c.modes[0], pcvl.PS(c.value))
        elif c.kind == "bs":
            out.add(c.modes, pcvl.BS.Ry(theta=c.value))
        else:
            out.add(c.modes, pcvl.PERM(list(c.value)))
    return out


def _state_text(circuit: OpticalCircuit) -> str | None:
    """Perceval's text of the input state: ``|1,1,0>``, or with one noise tag per photon
    (``|{0},{1},0>``) when the photons are distinguishable."""
    if circuit.input_state is None:
        return None
    if not circuit.distinguishable:
        return "|" + ",".join(map(str, circuit.input_state)) + ">"
    parts, tag = [], 0
    for t in circuit.input_state:
        parts.append("".join(f"{{{tag + i}}}" for i in range(t)) or "0")
        tag += t
    return "|" + ",".join(parts) + ">"


def perceval_input_state(circuit: OpticalCircuit) -> Any:
    """The input state as Perceval's: a ``BasicState`` of identical photons, or for
    distinguishable ones a ``NoisyFockState`` with a distinct noise tag per photon (simulate it
    with ``Simulator.probs_svd(SVDistribution({state: 1}))``, precision set below 1e-6)."""
    circuit = _check(circuit)
    pcvl = require("perceval")
    text = _state_text(circuit)
    if text is None:
        raise ValueError("circuit has no input state (give input_state to optical_circuit)")
    return pcvl.NoisyFockState(text) if circuit.distinguishable else pcvl.BasicState(text)


def unitary_from_perceval(circuit: Any) -> np.ndarray:
    """The unitary of a Perceval circuit (``compute_unitary()``), checked: complex128[m, m],
    ready for ``latents.build_bank`` (a fixed latent) or ``interop.born_from_unitary`` (the
    initial point of a trainable one)."""
    pcvl = require("perceval")
    if not isinstance(circuit, pcvl.ACircuit):
        raise TypeError(f"circuit must be a perceval circuit, got {type(circuit).__name__}")
    if not circuit.defined:
        raise ValueError("circuit has unset parameters: give every Parameter a value first")
    return check_unitary(np.array(circuit.compute_unitary(), dtype=np.complex128),
                         name="the Perceval circuit's unitary")


def perceval_source(circuit: OpticalCircuit) -> str:
    """Python source that builds ``circuit`` (a ``perceval.Circuit``) and ``input_state`` (as
    :func:`perceval_input_state`, when known); run as a script it prints the exact output
    distribution (SLOS)."""
    circuit = _check(circuit)
    lines = ['"""' + (circuit.title or "An optical circuit exported by qlatent") + ".",
             "",
             "Mode k is mode k of qlatent; compute_unitary() equals qlatent's U[out, in].",
             '"""',
             "import perceval as pcvl",
             "",
             f"circuit = pcvl.Circuit({circuit.n_modes}, name='qlatent')"]
    for c in circuit.components:
        if c.kind == "ps":
            lines.append(f"circuit.add({c.modes[0]}, pcvl.PS({c.value!r}))")
        elif c.kind == "bs":
            lines.append(f"circuit.add({c.modes}, pcvl.BS.Ry(theta={c.value!r}))")
        else:
            lines.append(f"circuit.add({c.modes}, pcvl.PERM({list(c.value)}))")
    text = _state_text(circuit)
    kind = "NoisyFockState" if circuit.distinguishable else "BasicState"
    lines.append(f"input_state = {'None' if text is None else f'pcvl.{kind}({text!r})'}")
    lines += ["", "if __name__ == '__main__' and input_state is not None:",
              "    simulator = pcvl.Simulator(pcvl.SLOSBackend())",
              "    simulator.set_precision(1e-14)",
              "    simulator.set_circuit(circuit)",
              "    exact = simulator.probs_svd(pcvl.SVDistribution({input_state: 1.0}))",
              "    for state, p in exact['results'].items():",
              "        print(state, repr(float(p)))"]
    return "\n".join(lines) + "\n"
