"""Qubit circuits as plain gate lists, written to and read from OpenQASM 3 text.

A :class:`QubitCircuit` is what every qubit exporter produces and every SDK adapter consumes:
``n_qubits`` and a list of :class:`Gate` (name, qubits, angles), an angle being a number or the
name of a circuit *input* (the patch generator's z). It is simulated by
:mod:`qlatent.quantum.qubits` (:meth:`QubitCircuit.probabilities`), written as OpenQASM 3 by
:func:`to_qasm` and read back by :func:`from_qasm`, our own parser of the subset below (no SDK
needed in either direction).

Notation and conventions (docs/interop.md states them once for every SDK):
    Qubit q of our models is ``q[q]`` of the OpenQASM register, qubit q of Qiskit and wire q of
    PennyLane. Our probability vectors put qubit 0 in the most significant bit, index(x) =
    sum_q x_q 2^(n-1-q) (PennyLane's order); Qiskit's ``Statevector.probabilities()`` puts
    qubit 0 in the least significant bit, so ours = Qiskit's with the bits of the index
    reversed (``Statevector.reverse_qargs()``).
    Gates are the OpenQASM 3 ``stdgates.inc`` ones: RX(a) = exp(-i a X/2), RY, RZ likewise,
    P(a) = diag(1, e^{ia}), U(θ, φ, λ) = [[cos θ/2, -e^{iλ} sin θ/2], [e^{iφ} sin θ/2,
    e^{i(φ+λ)} cos θ/2]]; cx(c, t), cz, cy, swap, crx, cry, crz, cp with the control first.

The OpenQASM 3 subset (what :func:`to_qasm` writes, and a little more, as Qiskit writes it):
``OPENQASM 3[.0];``, ``include "stdgates.inc";``, ``qubit[n] name;`` (several registers are
concatenated in declaration order), ``bit[n] name;``, ``input float[64] name;`` or ``input angle
name;``, the gates of :data:`GATES` on ``name[i]`` operands with angles that are arithmetic of
numbers and ``pi``/``tau``/``euler`` (or one input name), ``barrier``, and measurements after the
last gate (``c = measure q;``, ``c[i] = measure q[i];``, ``measure q -> c;``). Anything else
(gate definitions, modifiers, control flow, resets, mid-circuit measurement) is refused with
the line number.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from qlatent._validation import check_int
from qlatent.quantum import qubits

#: name -> (number of qubits, number of angles) of the gates we export, simulate and parse.
GATES: dict[str, tuple[int, int]] = {
    "id": (1, 0), "x": (1, 0), "y": (1, 0), "z": (1, 0), "h": (1, 0), "s": (1, 0),
    "sdg": (1, 0), "t": (1, 0), "tdg": (1, 0), "sx": (1, 0),
    "rx": (1, 1), "ry": (1, 1), "rz": (1, 1), "p": (1, 1), "U": (1, 3),
    "cx": (2, 0), "cy": (2, 0), "cz": (2, 0), "swap": (2, 0),
    "crx": (2, 1), "cry": (2, 1), "crz": (2, 1), "cp": (2, 1),
}
#: Constants an angle may use (OpenQASM 3 names, with the Unicode ones).
_CONSTANTS = {"pi": math.pi, "π": math.pi, "tau": math.tau, "τ": math.tau, "euler": math.e,
              "ℇ": math.e}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Longest angle expression read (a bound on the parser's work per angle).
_MAX_ANGLE_CHARS = 200


@dataclass(frozen=True)
class Gate:
    """One gate: ``name`` (a key of :data:`GATES`), ``qubits`` (control first) and ``params``
    (angles in radians: floats, or the name of a circuit input)."""

    name: str
    qubits: tuple[int, ...]
    params: tuple[float | str, ...] = ()


@dataclass(frozen=True)
class QubitCircuit:
    """A qubit circuit as a gate list, applied in order to |0...0>.

    Attributes:
        n_qubits: n (1..``qlatent.quantum.qubits.MAX_QUBITS`` to simulate; any n to export).
        gates: the gates in application order.
        inputs: names of the free angles (``input float[64]`` in OpenQASM), in order.
        title: a one-line description written as a comment.
    """

    n_qubits: int
    gates: tuple[Gate, ...]
    inputs: tuple[str, ...] = ()
    title: str = ""

    def __post_init__(self) -> None:
        n = check_int("n_qubits", self.n_qubits, minimum=1)
        for name in self.inputs:
            if not isinstance(name, str) or not _NAME.match(name) or name in _CONSTANTS:
                raise ValueError(f"inputs must be identifiers, got {name!r}")
        for i, gate in enumerate(self.gates):
            if gate.name not in GATES:
                raise ValueError(f"gates[{i}].name must be one of {', '.join(GATES)}, got "
                                 f"{gate.name!r}")
            arity, n_params = GATES[gate.name]
            if len(gate.qubits) != arity or len(set(gate.qubits)) != arity or any(
                    not isinstance(q, int) or not 0 <= q < n for q in gate.qubits):
                raise ValueError(f"gates[{i}] ({gate.name}) must act on {arity} distinct qubits "
                                 f"in [0, {n}), got {gate.qubits}")
            if len(gate.params) != n_params:
                raise ValueError(f"gates[{i}] ({gate.name}) takes {n_params} angle(s), got "
                                 f"{len(gate.params)}")
            for a in gate.params:
                if isinstance(a, str):
                    if a not in self.inputs:
                        raise ValueError(f"gates[{i}] ({gate.name}) uses the angle {a!r}, "
                                         f"which is not an input ({', '.join(self.inputs)})")
                elif not math.isfinite(a):
                    raise ValueError(f"gates[{i}] ({gate.name}) has a non-finite angle {a}")

    def bind(self, values: Mapping[str, float]) -> QubitCircuit:
        """The circuit with its inputs replaced by numbers (every input must be given)."""
        missing = [k for k in self.inputs if k not in values]
        extra = [k for k in values if k not in self.inputs]
        if missing or extra:
            raise ValueError(f"values must give exactly the inputs {list(self.inputs)}, "
                             f"missing {missing}, unknown {extra}")
        gates = tuple(Gate(g.name, g.qubits, tuple(float(values[a]) if isinstance(a, str)
                                                   else a for a in g.params))
                      for g in self.gates)
        return QubitCircuit(self.n_qubits, gates, (), self.title)

    def state(self, values: Mapping[str, float] | None = None) -> np.ndarray:
        """The final state vector: complex128[2^n] (qubit 0 most significant), simulated with
        :mod:`qlatent.quantum.qubits`."""
        circuit = self.bind(values or {}) if self.inputs or values else self
        state = qubits.zero_state(qubits.check_n_qubits(self.n_qubits, name="n_qubits"))
        for g in circuit.gates:
            state = _apply(state, g)
        return state[0].numpy()

    def probabilities(self, values: Mapping[str, float] | None = None) -> np.ndarray:
        """|<x|ψ>|^2 for every x in index order: float64[2^n] (qubit 0 most significant)."""
        amp = self.state(values)
        return amp.real ** 2 + amp.imag ** 2


def _matrix(name: str, params: Sequence[float]) -> np.ndarray:
    """The 2x2 matrix of a one-qubit gate (or of the target part of a controlled one)."""
    s2 = 1 / math.sqrt(2)
    fixed = {"id": [[1, 0], [0, 1]], "x": [[0, 1], [1, 0]], "y": [[0, -1j], [1j, 0]],
             "z": [[1, 0], [0, -1]], "h": [[s2, s2], [s2, -s2]], "s": [[1, 0], [0, 1j]],
             "sdg": [[1, 0], [0, -1j]], "t": [[1, 0], [0, np.exp(1j * math.pi / 4)]],
             "tdg": [[1, 0], [0, np.exp(-1j * math.pi / 4)]],
             "sx": [[(1 + 1j) / 2, (1 - 1j) / 2], [(1 - 1j) / 2, (1 + 1j) / 2]]}
    if name in fixed:
        return np.array(fixed[name], dtype=np.complex128)
    a = params[0]
    c, s = math.cos(a / 2), math.sin(a / 2)
    if name == "rx":
        return np.array([[c, -1j * s], [-1j * s, c]])
    if name == "ry":
        return np.array([[c, -s], [s, c]], dtype=np.complex128)
    if name == "rz":
        return np.array([[np.exp(-0.5j * a), 0], [0, np.exp(0.5j * a)]])
    if name == "p":
        return np.array([[1, 0], [0, np.exp(1j * a)]])
    theta, phi, lam = params  # U
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    return np.array([[c, -np.exp(1j * lam) * s],
                     [np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c]])


def _apply(state: torch.Tensor, g: Gate) -> torch.Tensor:
    if g.name == "swap":
        a, b = g.qubits
        for c, t in ((a, b), (b, a), (a, b)):
            state = qubits.cnot(state, c, t)
        return state
    if len(g.qubits) == 1:
        return qubits.apply_gate(state, torch.from_numpy(_matrix(g.name, g.params)),
                                 g.qubits[0])
    target = {"cx": "x", "cy": "y", "cz": "z", "crx": "rx", "cry": "ry", "crz": "rz",
              "cp": "p"}[g.name]
    return qubits.apply_controlled(state, torch.from_numpy(_matrix(target, g.params)),
                                   g.qubits[0], g.qubits[1])


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

def _angle_text(a: float | str) -> str:
    return a if isinstance(a, str) else repr(float(a))  # repr: the shortest exact decimal


def to_qasm(circuit: QubitCircuit, *, measure: bool = True) -> str:
    """OpenQASM 3 text of ``circuit``: register ``q`` (``q[k]`` is our qubit k), inputs as
    ``input float[64]``, angles as exact decimals (``repr``), then ``c = measure q;``.

    Args:
        circuit: the circuit.
        measure: end with the measurement of every qubit into ``bit[n] c``.
    """
    if not isinstance(circuit, QubitCircuit):
        raise TypeError(f"circuit must be a QubitCircuit, got {type(circuit).__name__}")
    lines = ["OPENQASM 3.0;", 'include "stdgates.inc";']
    if circuit.title:
        lines.append(f"// {circuit.title}")
    lines.append("// qlatent convention: q[k] is qubit k; probabilities index qubit 0 as the "
                 "most significant bit")
    lines += [f"input float[64] {name};" for name in circuit.inputs]
    lines.append(f"qubit[{circuit.n_qubits}] q;")
    if measure:
        lines.append(f"bit[{circuit.n_qubits}] c;")
    for g in circuit.gates:
        args = f"({', '.join(map(_angle_text, g.params))})" if g.params else ""
        lines.append(f"{g.name}{args} {', '.join(f'q[{k}]' for k in g.qubits)};")
    if measure:
        lines.append("c = measure q;")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

class QasmError(ValueError):
    """OpenQASM text outside the supported subset; the message names the line."""


_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
           ast.Pow: lambda a, b: a ** b}
_FUNCTIONS = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "exp": math.exp,
              "log": math.log, "sqrt": math.sqrt, "arcsin": math.asin, "arccos": math.acos,
              "arctan": math.atan}


def _evaluate(node: ast.AST, where: str) -> float:
    """A numeric angle expression (an AST of numbers, constants, + - * / **, unary minus and
    the functions above); anything else is refused (nothing is ever ``eval``-ed)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, where)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        try:
            value = _BINARY[type(node.op)](_evaluate(node.left, where),
                                           _evaluate(node.right, where))
        except (ZeroDivisionError, OverflowError) as err:
            raise QasmError(f"{where}: {err}") from err
        if isinstance(value, complex):  # (-8) ** (1/3)
            raise QasmError(f"{where}: the angle {ast.unparse(node)!r} is not real")
        return float(value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in _FUNCTIONS and len(node.args) == 1 and not node.keywords:
        try:
            return float(_FUNCTIONS[node.func.id](_evaluate(node.args[0], where)))
        except (ValueError, OverflowError) as err:
            raise QasmError(f"{where}: {node.func.id}: {err}") from err
    raise QasmError(f"{where}: unsupported angle expression {ast.unparse(node)!r} (numbers, "
                    f"pi, tau, euler, + - * / **, {', '.join(_FUNCTIONS)}, or one input name)")


def _angle(text: str, inputs: Sequence[str], where: str) -> float | str:
    text = text.strip()
    if text in inputs:
        return text
    if len(text) > _MAX_ANGLE_CHARS:
        raise QasmError(f"{where}: an angle must be at most {_MAX_ANGLE_CHARS} characters, got "
                        f"{len(text)}")
    for uni, name in (("π", "pi"), ("τ", "tau"), ("ℇ", "euler")):
        text = text.replace(uni, name)
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise QasmError(f"{where}: cannot read the angle {text!r}") from err
    value = _evaluate(tree.body, where)
    if not math.isfinite(value):
        raise QasmError(f"{where}: the angle {text!r} is not finite")
    return value


def _split_args(text: str) -> list[str]:
    """Split on top-level commas (an angle may hold a function call)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _strip_comments(text: str) -> str:
    # Block comments keep their line breaks, so line numbers stay right.
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


_DECL = re.compile(r"^(qubit|bit)\s*(?:\[\s*(\d+)\s*\])?\s+([A-Za-z_]\w*)$")
_INPUT = re.compile(r"^input\s+(?:float(?:\s*\[\s*\d+\s*\])?|angle(?:\s*\[\s*\d+\s*\])?)\s+"
                    r"([A-Za-z_]\w*)$")
_CALL = re.compile(r"^([A-Za-z_]\w*)\s*(?:\((.*)\))?\s+(.+)$", re.S)
_OPERAND = re.compile(r"^([A-Za-z_]\w*)\s*(?:\[\s*(\d+)\s*\])?$")


def from_qasm(text: str) -> QubitCircuit:
    """Parse OpenQASM 3 text of the supported subset (module docstring) into a circuit.

    Args:
        text: the program (e.g. ``Path("circuit.qasm").read_text()``).

    Returns:
        A :class:`QubitCircuit`: the qubit registers concatenated in declaration order (so
        ``q[k]`` of :func:`to_qasm` text is qubit k), measurements dropped (they must come
        after the last gate on their qubits, and measure in the computational basis).

    Raises:
        QasmError (a ValueError): anything outside the subset, with its line number.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be OpenQASM 3 source (str), got {type(text).__name__}")
    body = _strip_comments(text)
    registers: dict[str, tuple[int, int]] = {}  # name -> (offset, size)
    bits: set[str] = set()
    inputs: list[str] = []
    gates: list[Gate] = []
    measured: set[int] = set()
    n_qubits, version_seen, line = 0, False, 1
    for raw in body.split(";"):
        stmt_line = line + raw[:len(raw) - len(raw.lstrip())].count("\n")
        line += raw.count("\n")
        stmt = " ".join(raw.split())
        if not stmt:
            continue
        where = f"line {stmt_line}"
        if stmt.startswith("OPENQASM"):
            if version_seen or stmt not in ("OPENQASM 3", "OPENQASM 3.0"):
                raise QasmError(f"{where}: expected one 'OPENQASM 3.0;' header, got {stmt!r}")
            version_seen = True
            continue
        if stmt.startswith("include"):
            if stmt not in ('include "stdgates.inc"',):
                raise QasmError(f"{where}: only include \"stdgates.inc\" is supported, got "
                                f"{stmt!r}")
            continue
        if stmt.startswith(("qubit", "bit")) and (m := _DECL.match(stmt)):
            kind, size, name = m.group(1), int(m.group(2) or 1), m.group(3)
            if name in registers or name in bits or name in inputs:
                raise QasmError(f"{where}: {name!r} is declared twice")
            if kind == "bit":
                bits.add(name)
            else:
                if gates:
                    raise QasmError(f"{where}: qubits must be declared before the first gate")
                registers[name] = (n_qubits, size)
                n_qubits += size
            continue
        if stmt.startswith("input"):
            m = _INPUT.match(stmt)
            if m is None:
                raise QasmError(f"{where}: only 'input float[64] name;' or 'input angle name;'"
                                f" inputs are supported, got {stmt!r}")
            if m.group(1) in inputs or m.group(1) in registers:
                raise QasmError(f"{where}: {m.group(1)!r} is declared twice")
            inputs.append(m.group(1))
            continue
        if "measure" in stmt:
            if m := re.match(r"^(.+?)\s*=\s*measure\s+(.+)$", stmt):
                target = m.group(2)
            elif m := re.match(r"^measure\s+(.+?)\s*->\s*(.+)$", stmt):
                target = m.group(1)
            else:
                raise QasmError(f"{where}: cannot read the measurement {stmt!r}")
            measured.update(_operand_qubits(target, registers, where))
            continue
        if stmt.startswith("barrier"):
            continue
        m = _CALL.match(stmt)
        if m is None or m.group(1) in ("gate", "def", "if", "for", "while", "reset", "ctrl",
                                       "inv", "pow", "negctrl", "let", "const", "box"):
            raise QasmError(f"{where}: unsupported statement {stmt!r} (gate definitions, "
                            "modifiers, control flow and resets are outside the subset)")
        name, args, operands = m.group(1), m.group(2), m.group(3)
        if "@" in stmt:
            raise QasmError(f"{where}: gate modifiers are not supported, got {stmt!r}")
        if name not in GATES:
            raise QasmError(f"{where}: unknown gate {name!r} (supported: "
                            f"{', '.join(GATES)})")
        arity, n_params = GATES[name]
        params = tuple(_angle(a, inputs, where) for a in _split_args(args)) if args else ()
        if len(params) != n_params:
            raise QasmError(f"{where}: {name} takes {n_params} angle(s), got {len(params)}")
        targets = []
        for operand in _split_args(operands):
            found = _operand_qubits(operand, registers, where)
            if len(found) != 1:
                raise QasmError(f"{where}: {name} needs single-qubit operands like q[0], got "
                                f"{operand!r} (register broadcasting is not supported)")
            targets.append(found[0])
        if len(targets) != arity or len(set(targets)) != arity:
            raise QasmError(f"{where}: {name} acts on {arity} distinct qubit(s), got "
                            f"{operands!r}")
        if measured.intersection(targets):
            raise QasmError(f"{where}: a gate after a measurement of its qubit (mid-circuit "
                            "measurement is not supported)")
        gates.append(Gate(name, tuple(targets), params))
    if not version_seen:
        raise QasmError("line 1: expected the header 'OPENQASM 3.0;'")
    if n_qubits == 0:
        raise QasmError("the program declares no qubits (expected e.g. 'qubit[4] q;')")
    return QubitCircuit(n_qubits, tuple(gates), tuple(inputs))


def _operand_qubits(text: str, registers: Mapping[str, tuple[int, int]],
                    where: str) -> list[int]:
    m = _OPERAND.match(text.strip())
    if m is None or m.group(1) not in registers:
        raise QasmError(f"{where}: unknown qubit operand {text.strip()!r} (registers: "
                        f"{', '.join(registers) or 'none'})")
    offset, size = registers[m.group(1)]
    if m.group(2) is None:
        return list(range(offset, offset + size))
    index = int(m.group(2))
    if index >= size:
        raise QasmError(f"{where}: {text.strip()!r} is out of range (register "
                        f"{m.group(1)!r} has {size} qubits)")
    return [offset + index]


def circuit_from(source: Any) -> QubitCircuit:
    """A :class:`QubitCircuit` as given, or parsed from OpenQASM text."""
    if isinstance(source, QubitCircuit):
        return source
    if isinstance(source, str):
        return from_qasm(source)
    raise TypeError(f"circuit must be a QubitCircuit or OpenQASM 3 text, got "
                    f"{type(source).__name__}")
