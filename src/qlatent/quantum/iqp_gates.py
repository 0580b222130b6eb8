"""Gate sets of IQP circuits: which qubits each gate exp(iθ_j X_{g_j}) acts on.

Notation (as in :mod:`qlatent.quantum.iqp`): n qubits, G gates; gate j acts on the set of
qubits g_j (1 <= |g_j| <= w, w the largest gate's weight). The generator matrix is the 0/1
matrix [G, n] whose row j is the indicator of g_j (IQPopt's ``generators``, arXiv:2501.04776).

A :class:`GateSet` stores g_j as a padded index table ``qubits`` (int64 [G, w], unused slots
hold n, a qubit that does not exist): every computation over the gates is then a gather of
G x w entries, linear in the gates, whatever n. ``generators()`` gives the same content as a
sparse torch matrix.

Builders: :func:`local_gates` (every single and every pair gate: n + n(n-1)/2 gates),
:func:`line_gates` (singles and nearest neighbours on a line: 2n - 1),
:func:`lattice_gates` (singles and nearest neighbours on an n_rows x n_cols lattice, qubit
r * n_cols + c at row r, column c: n + r(c-1) + (r-1)c gates open, 3n periodic; 32 x 32 open
has 3,008), and :func:`gate_set` for any user list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from qlatent._validation import check_choice, check_int

#: Names accepted by :func:`gate_set` for the built-in layouts.
LAYOUTS = ("local", "line", "lattice")


@dataclass(frozen=True, eq=False)
class GateSet:
    """The gates of an IQP circuit.

    Attributes:
        n_qubits: n.
        qubits: int64 [G, w]: row j lists the qubits of g_j in ascending order, padded with n.
        name: how it was built, e.g. ``"lattice(32x32)"``.
    """

    n_qubits: int
    qubits: np.ndarray
    name: str = "custom"

    @property
    def n_gates(self) -> int:
        """G."""
        return int(self.qubits.shape[0])

    @property
    def weights(self) -> np.ndarray:
        """int64 [G]: |g_j|."""
        return (self.qubits < self.n_qubits).sum(1)

    @cached_property
    def incidence(self) -> tuple[np.ndarray, np.ndarray]:
        """Which gates act on each qubit, as CSR: (start int64 [n + 1], gate int64 [nnz]);
        the gates on qubit i are ``gate[start[i]:start[i + 1]]``, ascending."""
        rows, cols = np.nonzero(self.qubits < self.n_qubits)
        qubit = self.qubits[rows, cols]
        order = np.lexsort((rows, qubit))
        start = np.zeros(self.n_qubits + 1, dtype=np.int64)
        np.cumsum(np.bincount(qubit, minlength=self.n_qubits), out=start[1:])
        return start, rows[order].astype(np.int64)

    def lists(self) -> list[list[int]]:
        """The gates as lists of qubits (the input form of :func:`gate_set`)."""
        return [[int(q) for q in row if q < self.n_qubits] for row in self.qubits]

    def generators(self, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The generator matrix as a sparse COO tensor [G, n] of 0/1."""
        rows, cols = np.nonzero(self.qubits < self.n_qubits)
        index = torch.from_numpy(np.stack([rows, self.qubits[rows, cols]]))
        return torch.sparse_coo_tensor(index, torch.ones(len(rows), dtype=dtype),
                                       (self.n_gates, self.n_qubits),
                                       check_invariants=True).coalesce()

    def dense(self) -> np.ndarray:
        """The generator matrix as uint8 [G, n] (small circuits, tests)."""
        out = np.zeros((self.n_gates, self.n_qubits + 1), dtype=np.uint8)
        np.put_along_axis(out, self.qubits, 1, axis=1)
        return out[:, :self.n_qubits]

    def __repr__(self) -> str:
        return (f"GateSet({self.name}, n_qubits={self.n_qubits}, n_gates={self.n_gates}, "
                f"max_weight={self.qubits.shape[1]})")


def gate_set(gates: Any, n_qubits: int, *, name: str = "custom") -> GateSet:
    """A :class:`GateSet` from a user list, or a built-in layout by name.

    Args:
        gates: a sequence of gates, each a non-empty sequence of distinct qubits in [0, n), e.g.
            ``[[0], [1], [0, 1]]``; or a :class:`GateSet` (returned as is, its n checked); or a
            name in ``LAYOUTS`` ("lattice" needs a square n).
        n_qubits: n >= 1.

    Raises:
        ValueError: an empty list or gate, a qubit out of range, a qubit twice in one gate.
    """
    n = check_int("n_qubits", n_qubits, minimum=1)
    if isinstance(gates, GateSet):
        if gates.n_qubits != n:
            raise ValueError(f"gates must act on n_qubits = {n} qubits, got a GateSet of "
                             f"{gates.n_qubits}")
        return gates
    if isinstance(gates, str):
        layout = check_choice("gates", gates, LAYOUTS)
        if layout == "local":
            return local_gates(n)
        if layout == "line":
            return line_gates(n)
        side = int(round(n ** 0.5))
        if side * side != n:
            raise ValueError(f"gates='lattice' needs a square number of qubits, got n_qubits = "
                             f"{n}; call lattice_gates(n_rows, n_cols) for a rectangle")
        return lattice_gates(side, side)
    if not isinstance(gates, Sequence) or isinstance(gates, (bytes, bytearray)):
        raise TypeError(f"gates must be a list of qubit lists, a GateSet or one of {LAYOUTS}, "
                        f"got {type(gates).__name__}")
    if len(gates) == 0:
        raise ValueError("gates must hold at least one gate, got an empty list")
    rows = []
    for j, gate in enumerate(gates):
        qs = np.asarray(gate)
        if qs.ndim != 1 or qs.size == 0 or qs.dtype.kind not in "iu":
            raise ValueError(f"gates[{j}] must be a non-empty list of qubit indices, got "
                             f"{gate!r}")
        if qs.min() < 0 or qs.max() >= n:
            raise ValueError(f"gates[{j}] must hold qubits in [0, {n}), got {qs.tolist()}")
        if len(np.unique(qs)) != len(qs):
            raise ValueError(f"gates[{j}] must not repeat a qubit, got {qs.tolist()}")
        rows.append(np.sort(qs))
    return _from_rows(rows, n, name)


def _from_rows(rows: list[np.ndarray], n: int, name: str) -> GateSet:
    w = max(len(r) for r in rows)
    table = np.full((len(rows), w), n, dtype=np.int64)
    for j, r in enumerate(rows):
        table[j, :len(r)] = r
    return GateSet(n, table, name)


def local_gates(n_qubits: int) -> GateSet:
    """Every single-qubit gate, then every pair (i < j, lexicographic): n(n+1)/2 gates."""
    n = check_int("n_qubits", n_qubits, minimum=1)
    i, j = np.triu_indices(n, k=1)
    singles = np.stack([np.arange(n), np.full(n, n)], 1)
    return GateSet(n, np.concatenate([singles, np.stack([i, j], 1)]).astype(np.int64),
                   f"local({n})")


def line_gates(n_qubits: int) -> GateSet:
    """Every single-qubit gate, then the pairs (i, i + 1): 2n - 1 gates."""
    n = check_int("n_qubits", n_qubits, minimum=1)
    singles = np.stack([np.arange(n), np.full(n, n)], 1)
    pairs = np.stack([np.arange(n - 1), np.arange(1, n)], 1)
    return GateSet(n, np.concatenate([singles, pairs]).astype(np.int64), f"line({n})")


def lattice_gates(n_rows: int, n_cols: int, *, periodic: bool = False) -> GateSet:
    """Every single-qubit gate, then horizontal then vertical nearest-neighbour pairs.

    Qubit r * n_cols + c sits at row r, column c. Open boundaries give n + r(c-1) + (r-1)c
    gates; ``periodic`` adds the wrap-around pairs (a side of length <= 2 adds none, since its
    wrap-around pair is already a neighbour).
    """
    r = check_int("n_rows", n_rows, minimum=1)
    c = check_int("n_cols", n_cols, minimum=1)
    n = r * c
    site = np.arange(n).reshape(r, c)
    right = site[:, 1:] if not (periodic and c > 2) else np.roll(site, -1, axis=1)
    down = site[1:, :] if not (periodic and r > 2) else np.roll(site, -1, axis=0)
    horizontal = np.stack([site[:, :right.shape[1]].ravel(), right.ravel()], 1)
    vertical = np.stack([site[:down.shape[0], :].ravel(), down.ravel()], 1)
    pairs = np.sort(np.concatenate([horizontal, vertical]), axis=1)
    singles = np.stack([np.arange(n), np.full(n, n)], 1)
    name = f"lattice({r}x{c}{', periodic' if periodic else ''})"
    return GateSet(n, np.concatenate([singles, pairs]).astype(np.int64), name)
