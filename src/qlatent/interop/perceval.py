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
    """Python source that builds ``circuit`` (a ``perceval.Circuit``) and ``input_state`` (a
    ``BasicState``, when known); run as a script it prints the exact output distribution
    (SLOS backend)."""
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
    state = circuit.input_state
    lines.append(f"input_state = {'None' if state is None else f'pcvl.BasicState({list(state)})'}")
    lines += ["", "if __name__ == '__main__' and input_state is not None:",
              "    backend = pcvl.SLOSBackend()",
              "    backend.set_circuit(circuit)",
              "    backend.set_input_state(input_state)",
              "    for state, p in backend.prob_distribution().items():",
              "        print(state, repr(float(p)))"]
    return "\n".join(lines) + "\n"
