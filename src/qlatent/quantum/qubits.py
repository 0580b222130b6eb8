"""Qubit state vectors in torch: gates, layered ansätze, exact probabilities, samples and shots.

A small, batched, differentiable state-vector simulator for up to ``MAX_QUBITS`` qubits (Born
machines, quantum GAN generators). Everything is plain torch with autograd (complex64 for float32
angles, complex128 for float64); :mod:`qlatent.quantum.qubits_reference` is the independent
slow reference (dense Kronecker products in NumPy) the tests compare it with.

Notation:
    n (``n_qubits``) qubits, numbered 0..n-1; K = 2^n basis states.
    Bit order: qubit 0 is the most significant bit, index(x) = sum_q x_q 2^(n-1-q) (the
    order of PennyLane and of most textbooks); a bit vector x is int64[n] with x[q] = x_q.
    A state is complex Tensor[B, K] (B circuits side by side); probabilities are real [B, K].
    RX(a) = exp(-i a X/2), RY(a) = exp(-i a Y/2), RZ(a) = exp(-i a Z/2);
    Rot(φ, θ, ω) = RZ(ω) RY(θ) RZ(φ) (the general rotation, as PennyLane's ``Rot``).
    CNOT(c, t) flips t where c is 1; CZ(a, b) multiplies by -1 where both are 1; a controlled
    gate applies a 2x2 matrix to t where c is 1.

Public API (kept small; everything else is private):
    * gates: :func:`rx`, :func:`ry`, :func:`rz`, :func:`rot` -> complex[..., 2, 2] (batched over
      the angles' shape, differentiable);
    * states: :func:`zero_state`, :func:`apply_gate` (one qubit), :func:`apply_controlled`
      (controlled-U, so CRX = ``apply_controlled(s, rx(a), c, t)``), :func:`cnot`, :func:`cz`,
      :func:`probabilities`;
    * measurement: :func:`sample_indices`, :func:`sample_bits`, :func:`bits_to_index`,
      :func:`index_to_bits`, :func:`basis_bits`;
    * ansätze: :class:`LayeredAnsatz` (an ``nn.Module``: rotation layers and entanglers on a
      "ring", "all" pairs or a Chow–Liu tree, :func:`chow_liu_tree`, :func:`entangler_edges`),
      with ``probabilities(weights=None)`` (exact, autograd) and
      ``shot_probabilities(n_shots, generator=...)`` (a histogram of N shots whose backward pass
      is the parameter-shift rule on fresh shots: what hardware can do);
    * :func:`check_n_qubits`: the size check (names the memory a larger request would need).

The layered ansatz (Liu & Wang, arXiv:1804.04168, Fig. 1), ``layers`` = d entangler layers:
    |ψ(w)> = R_d E R_{d-1} E ... E R_0 |0...0>,  R_l = ⊗_q Rot(w[l, q, 0], w[l, q, 1], w[l, q, 2]),
    E = the CNOTs of the entangler's edges (control, target), applied in the listed order.
    So ``weights`` is float[d + 1, n, 3] (a leading batch dimension evaluates B circuits at once).

Shot mode: forward p̂(x) = (number of the N shots equal to x) / N; backward, for a loss L(p̂),
    ∂L/∂w_j ≈ sum_x ∂L/∂p̂(x) (p̂_{w + π/2 e_j}(x) - p̂_{w - π/2 e_j}(x)) / 2,
with fresh N-shot histograms of the 2P shifted circuits (P = weights.numel()). The rule is exact
for every gate exp(-i a P/2) with a Pauli P, so each angle of Rot qualifies (Mitarai et al.,
arXiv:1803.00745; Schuld et al., arXiv:1811.11184). Since the forward and backward shots are
independent, the estimate is unbiased for every loss linear in p and for a quadratic one such as
MMD^2 = (p - q)^T K (p - q) (Liu & Wang's estimator); it tends to the autograd gradient as N grows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from qlatent._random import RngLike, as_generator, check_generator
from qlatent._validation import check_bits_tensor, check_choice, check_int

#: Largest number of qubits accepted (K = 65,536 amplitudes per state).
MAX_QUBITS = 16
#: The ansatz applies a rotation layer as Kronecker products of this many one-qubit gates at a
#: time (one matmul of a 2^k x 2^k matrix each): fewer, larger operations (measured fastest on
#: 12 qubits among k = 1, 3, 4, 6); never changes the result beyond rounding.
_GROUP_QUBITS = 4
#: Entangler layouts of :class:`LayeredAnsatz` (or an explicit list of (control, target) edges).
ENTANGLERS = ("ring", "all", "chow-liu")
_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}
_REAL = {torch.complex64: torch.float32, torch.complex128: torch.float64}


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def check_n_qubits(n_qubits: Any, *, name: str = "n_qubits") -> int:
    """Return ``n_qubits`` as an int in [1, MAX_QUBITS]; above, say what memory it would need.

    Raises:
        ValueError: e.g. ``n_qubits must be <= 16, got 40 (one complex128 state vector of 2^40
            amplitudes would need 16 TiB, and training keeps one per gate)``; raised before
            anything is allocated.
    """
    if isinstance(n_qubits, bool) or not isinstance(n_qubits, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {n_qubits!r} "
                        f"({type(n_qubits).__name__})")
    n_qubits = int(n_qubits)
    if n_qubits > MAX_QUBITS:
        need = _format_bytes(16.0 * 2.0 ** n_qubits)
        raise ValueError(f"{name} must be <= {MAX_QUBITS}, got {n_qubits} (one complex128 state "
                         f"vector of 2^{n_qubits} amplitudes would need {need}, and training "
                         "keeps one per gate)")
    return check_int(name, n_qubits, minimum=1)


def _n_of(state: torch.Tensor) -> int:
    if not isinstance(state, torch.Tensor) or not state.is_complex() or state.ndim != 2:
        got = (f"{state.dtype} {tuple(state.shape)}" if isinstance(state, torch.Tensor)
               else type(state).__name__)
        raise TypeError(f"state must be a complex Tensor[B, 2^n], got {got}")
    K = state.shape[1]
    n = K.bit_length() - 1
    if K < 2 or (1 << n) != K:
        raise ValueError(f"state must have 2^n columns, got {K}")
    return n


def _check_qubit(name: str, q: Any, n: int) -> int:
    return check_int(name, q, minimum=0, maximum=n - 1)


# ----------------------------------------------------------------------------------------------
# Gates
# ----------------------------------------------------------------------------------------------

def _angle(a: Any) -> torch.Tensor:
    """Angles as a real tensor (Python and NumPy numbers become float64, so complex128 gates)."""
    if not isinstance(a, torch.Tensor):
        return torch.as_tensor(np.asarray(a, dtype=np.float64))
    return a if a.dtype.is_floating_point else a.to(torch.float64)


def _matrix(m00, m01, m10, m11) -> torch.Tensor:
    return torch.stack([torch.stack([m00, m01], -1), torch.stack([m10, m11], -1)], -2)


def rx(theta: Any) -> torch.Tensor:
    """RX(θ) = [[cos θ/2, -i sin θ/2], [-i sin θ/2, cos θ/2]]: complex[..., 2, 2]."""
    t = _angle(theta) / 2
    c, s = torch.cos(t), torch.sin(t)
    z = torch.zeros_like(c)
    return _matrix(torch.complex(c, z), torch.complex(z, -s), torch.complex(z, -s),
                   torch.complex(c, z))


def ry(theta: Any) -> torch.Tensor:
    """RY(θ) = [[cos θ/2, -sin θ/2], [sin θ/2, cos θ/2]]: complex[..., 2, 2]."""
    t = _angle(theta) / 2
    c, s = torch.cos(t), torch.sin(t)
    z = torch.zeros_like(c)
    return _matrix(torch.complex(c, z), torch.complex(-s, z), torch.complex(s, z),
                   torch.complex(c, z))


def rz(theta: Any) -> torch.Tensor:
    """RZ(θ) = diag(e^{-iθ/2}, e^{iθ/2}): complex[..., 2, 2]."""
    t = _angle(theta) / 2
    c, s = torch.cos(t), torch.sin(t)
    z = torch.zeros_like(c)
    return _matrix(torch.complex(c, -s), torch.complex(z, z), torch.complex(z, z),
                   torch.complex(c, s))


def rot(phi: Any, theta: Any, omega: Any) -> torch.Tensor:
    """Rot(φ, θ, ω) = RZ(ω) RY(θ) RZ(φ): complex[..., 2, 2] (angles broadcast together).

    Rot = [[e^{-i(φ+ω)/2} cos θ/2, -e^{i(φ-ω)/2} sin θ/2],
           [e^{-i(φ-ω)/2} sin θ/2,  e^{i(φ+ω)/2} cos θ/2]].
    """
    phi, theta, omega = torch.broadcast_tensors(_angle(phi), _angle(theta), _angle(omega))
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    a, b = (phi + omega) / 2, (phi - omega) / 2
    ca, sa, cb, sb = torch.cos(a), torch.sin(a), torch.cos(b), torch.sin(b)
    return _matrix(torch.complex(ca * c, -sa * c), torch.complex(-cb * s, -sb * s),
                   torch.complex(cb * s, -sb * s), torch.complex(ca * c, sa * c))


# ----------------------------------------------------------------------------------------------
# States
# ----------------------------------------------------------------------------------------------

def zero_state(n_qubits: int, *, batch: int = 1, dtype: torch.dtype = torch.complex128,
               device: Any = None) -> torch.Tensor:
    """|0...0> repeated ``batch`` times: complex Tensor[batch, 2^n]."""
    n = check_n_qubits(n_qubits)
    batch = check_int("batch", batch, minimum=1)
    if dtype not in _REAL:
        raise TypeError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
    state = torch.zeros(batch, 1 << n, dtype=dtype, device=device)
    state[:, 0] = 1
    return state


def _check_matrix(matrix: Any, state: torch.Tensor) -> torch.Tensor:
    if not isinstance(matrix, torch.Tensor) or matrix.shape[-2:] != (2, 2) or matrix.ndim > 3:
        shape = tuple(matrix.shape) if isinstance(matrix, torch.Tensor) else type(matrix).__name__
        raise ValueError(f"matrix must be a Tensor[2, 2] or [B, 2, 2], got {shape}")
    if matrix.ndim == 3 and matrix.shape[0] not in (1, state.shape[0]):
        raise ValueError(f"matrix must have batch size 1 or {state.shape[0]} (the state's), got "
                         f"{matrix.shape[0]}")
    return matrix.to(state.dtype)


def _apply(state: torch.Tensor, matrix: torch.Tensor, qubit: int, n: int) -> torch.Tensor:
    # [B, 2^q, 2, 2^(n-q-1)]: the middle axis is the qubit; one (batched) matmul applies the gate.
    B = state.shape[0]
    view = state.reshape(B, 1 << qubit, 2, 1 << (n - qubit - 1))
    m = matrix if matrix.ndim == 2 else matrix.reshape(-1, 1, 2, 2)
    return torch.matmul(m, view).reshape(B, -1)


def apply_gate(state: torch.Tensor, matrix: torch.Tensor, qubit: int) -> torch.Tensor:
    """Apply a one-qubit gate: ``matrix`` complex[2, 2] (or [B, 2, 2], one per circuit).

    Args:
        state (complex Tensor[B, 2^n]); qubit in [0, n).

    Returns:
        complex Tensor[B, 2^n] (a new tensor; differentiable in both).
    """
    n = _n_of(state)
    return _apply(state, _check_matrix(matrix, state), _check_qubit("qubit", qubit, n), n)


def apply_controlled(state: torch.Tensor, matrix: torch.Tensor, control: int,
                     target: int) -> torch.Tensor:
    """Apply ``matrix`` to ``target`` where ``control`` is 1 (e.g. CRX(a) with ``rx(a)``).

    Args:
        state (complex Tensor[B, 2^n]); matrix complex[2, 2] or [B, 2, 2]; control != target.
    """
    n = _n_of(state)
    c, t = _check_qubit("control", control, n), _check_qubit("target", target, n)
    if c == t:
        raise ValueError(f"control and target must differ, got {c} and {t}")
    matrix = _check_matrix(matrix, state)
    B = state.shape[0]
    view = state.reshape(B, 1 << c, 2, 1 << (n - c - 1))
    zero, one = view[:, :, 0, :], view[:, :, 1, :]
    # The control=1 half is a state of n-1 qubits (c removed); t keeps its place if t < c.
    sub = one.reshape(B, -1)
    sub = _apply(sub, matrix, t if t < c else t - 1, n - 1).reshape(one.shape)
    return torch.stack([zero, sub], 2).reshape(B, -1)


def _cnot_map(n: int, control: int, target: int) -> np.ndarray:
    i = np.arange(1 << n)
    flip = (i >> (n - 1 - control)) & 1
    return i ^ (flip << (n - 1 - target))


class _Permute(torch.autograd.Function):
    """state[:, perm] whose backward is a gather with the inverse permutation (not a scatter)."""

    @staticmethod
    def forward(ctx, state, perm, inverse):
        ctx.save_for_backward(inverse)
        return state.index_select(1, perm)

    @staticmethod
    def backward(ctx, grad):
        (inverse,) = ctx.saved_tensors
        return grad.index_select(1, inverse), None, None


def _permute(state: torch.Tensor, perm: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    return _Permute.apply(state, perm, inverse)


def _edges_permutation(n: int, edges: Sequence[tuple[int, int]]) -> np.ndarray:
    """perm with (E ψ)[y] = ψ[perm[y]] for E = CNOT(edges[-1]) ... CNOT(edges[0])."""
    # Each CNOT is an involution f: (G ψ)[y] = ψ[f(y)]; for G_k ... G_1 the index seen is
    # f_1(f_2(...f_k(y))), so compose starting from the last gate.
    perm = np.arange(1 << n)
    for c, t in reversed(list(edges)):
        perm = _cnot_map(n, c, t)[perm]
    return perm


def cnot(state: torch.Tensor, control: int, target: int) -> torch.Tensor:
    """CNOT(control, target) on complex Tensor[B, 2^n] (a permutation of amplitudes)."""
    n = _n_of(state)
    c, t = _check_qubit("control", control, n), _check_qubit("target", target, n)
    if c == t:
        raise ValueError(f"control and target must differ, got {c} and {t}")
    perm = torch.from_numpy(_cnot_map(n, c, t)).to(state.device)
    return _permute(state, perm, perm)


def cz(state: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """CZ(a, b) on complex Tensor[B, 2^n]: amplitudes with both bits 1 change sign."""
    n = _n_of(state)
    a, b = _check_qubit("a", a, n), _check_qubit("b", b, n)
    if a == b:
        raise ValueError(f"a and b must differ, got {a} and {b}")
    i = torch.arange(1 << n, device=state.device)
    both = ((i >> (n - 1 - a)) & 1) & ((i >> (n - 1 - b)) & 1)
    return state * (1 - 2 * both).to(_REAL[state.dtype])


def probabilities(state: torch.Tensor) -> torch.Tensor:
    """|ψ(x)|^2: real Tensor[B, 2^n] (float32 for complex64, float64 for complex128)."""
    _n_of(state)
    return torch.view_as_real(state).square().sum(-1)


# ----------------------------------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------------------------------

def index_to_bits(index: Any, n_qubits: int) -> torch.Tensor:
    """Basis indices int[...] -> bit vectors int64[..., n] (qubit 0 = most significant)."""
    n = check_n_qubits(n_qubits)
    index = torch.as_tensor(index)
    shifts = torch.arange(n - 1, -1, -1, device=index.device)
    return (index.to(torch.long)[..., None] >> shifts) & 1


def bits_to_index(bits: Any) -> torch.Tensor:
    """Bit vectors int[..., n] (0/1 only) -> basis indices int64[...]."""
    bits = torch.as_tensor(bits)
    if bits.ndim == 0:
        raise ValueError("bits must have a last dimension of n qubits, got a scalar")
    n = check_n_qubits(bits.shape[-1], name="bits.shape[-1]")
    if bits.is_complex():
        raise TypeError(f"bits must be a real 0/1 array [..., n], got dtype {bits.dtype}")
    bad = (bits != 0) & (bits != 1)
    if bool(bad.any()):
        raise ValueError(f"bits must hold only 0/1 values, got {bits[bad][0].item()!r}")
    weights = 2 ** torch.arange(n - 1, -1, -1, device=bits.device)
    return (bits.to(torch.long) * weights).sum(-1)


def basis_bits(n_qubits: int, *, device: Any = None) -> torch.Tensor:
    """Every basis state's bit vector, in index order: int64[2^n, n]."""
    n = check_n_qubits(n_qubits)
    return index_to_bits(torch.arange(1 << n, device=device), n)


def sample_indices(probs: torch.Tensor, n: int, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """n basis indices per row of ``probs`` (real [K] or [B, K]): int64 [n] or [B, n].

    Draws with ``torch.multinomial`` (with replacement) from ``generator``; no gradient.
    """
    n = check_int("n", n, minimum=0)
    check_generator(generator)
    p = probs.detach()
    if n == 0:
        return torch.zeros((*p.shape[:-1], 0), dtype=torch.long, device=p.device)
    flat = p.reshape(-1, p.shape[-1]).clamp_min(0)
    idx = torch.multinomial(flat, n, replacement=True, generator=generator)
    return idx.reshape(*p.shape[:-1], n)


def sample_bits(probs: torch.Tensor, n: int, *,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """n measured bit vectors from a distribution ``probs`` real [2^n_qubits]: int64 [n, n_q]."""
    if probs.ndim != 1:
        raise ValueError(f"probs must be one distribution [2^n], got shape {tuple(probs.shape)}")
    n_q = probs.shape[0].bit_length() - 1
    return index_to_bits(sample_indices(probs, n, generator=generator), n_q)


def _histogram(index: torch.Tensor, K: int, dtype: torch.dtype) -> torch.Tensor:
    """Rows of indices int64[B, N] -> frequencies [B, K] (sum 1 per row)."""
    B, N = index.shape
    counts = torch.zeros(B, K, dtype=dtype, device=index.device)
    counts.scatter_add_(1, index, torch.ones(B, N, dtype=dtype, device=index.device))
    return counts / N


# ----------------------------------------------------------------------------------------------
# Entanglers and the layered ansatz
# ----------------------------------------------------------------------------------------------

def mutual_information(data: Any) -> np.ndarray:
    """Plug-in mutual information I(x_i; x_j) in nats of bit columns: float64[n, n] (diag 0).

    I(x_i; x_j) = sum_{a,b} p_ij(a, b) log(p_ij(a, b) / (p_i(a) p_j(b))), empirical frequencies.
    """
    x = check_bits_tensor("data", data, min_rows=1).cpu().numpy().astype(np.float64)
    N, n = x.shape
    mi = np.zeros((n, n))
    for a in (0, 1):
        xa = x if a == 1 else 1 - x
        for b in (0, 1):
            xb = x if b == 1 else 1 - x
            pab = xa.T @ xb / N
            pa, pb = xa.mean(0), xb.mean(0)
            with np.errstate(divide="ignore", invalid="ignore"):
                term = np.where(pab > 0, pab * np.log(pab / np.outer(pa, pb)), 0.0)
            mi += term
    np.fill_diagonal(mi, 0.0)
    return np.maximum(mi, 0.0)


def chow_liu_tree(data: Any, *, root: int = 0) -> list[tuple[int, int]]:
    """The Chow–Liu tree of bit data: a maximum spanning tree of the mutual information.

    Chow & Liu (IEEE Trans. Inf. Theory 14, 462 (1968)); Liu & Wang (arXiv:1804.04168) place
    the CNOTs on its edges. Prim's algorithm from ``root``; ties go to the smaller index, so the
    tree is a deterministic function of the data.

    Returns:
        n - 1 edges (parent, child), in the order the children joined the tree (parents first):
        the (control, target) pairs of the entangler.
    """
    mi = mutual_information(data)
    n = mi.shape[0]
    root = check_int("root", root, minimum=0, maximum=n - 1)
    in_tree = np.zeros(n, dtype=bool)
    in_tree[root] = True
    best = mi[root].copy()
    parent = np.full(n, root)
    edges = []
    for _ in range(n - 1):
        score = np.where(in_tree, -np.inf, best)
        child = int(np.argmax(score))
        edges.append((int(parent[child]), child))
        in_tree[child] = True
        better = (mi[child] > best) & ~in_tree
        best = np.where(better, mi[child], best)
        parent = np.where(better, child, parent)
    return edges


def entangler_edges(entangler: Any, n_qubits: int, *, data: Any = None
                    ) -> list[tuple[int, int]]:
    """The (control, target) CNOT pairs of one entangler layer, in order.

    "ring": (0, 1), (1, 2), ..., (n-2, n-1), (n-1, 0) (one edge for n = 2, none for n = 1);
    "all": every (i, j) with i < j, lexicographically; "chow-liu": :func:`chow_liu_tree` of
    ``data`` (required); or an explicit list of pairs.
    """
    n = check_n_qubits(n_qubits)
    if isinstance(entangler, str):
        check_choice("entangler", entangler, ENTANGLERS)
        if entangler == "ring":
            return [(q, (q + 1) % n) for q in range(n)] if n > 2 else [(0, 1)] * (n == 2)
        if entangler == "all":
            return [(i, j) for i in range(n) for j in range(i + 1, n)]
        if data is None:
            raise ValueError("entangler='chow-liu' needs data (bit vectors [N, n_qubits]) to "
                             "learn the tree from, got None")
        return chow_liu_tree(check_bits_tensor("data", data, width=n, min_rows=1))
    try:
        edges = [(int(c), int(t)) for c, t in entangler]
    except (TypeError, ValueError):
        raise TypeError(f"entangler must be one of {', '.join(map(repr, ENTANGLERS))} or a list "
                        f"of (control, target) pairs, got {entangler!r}") from None
    for c, t in edges:
        if not (0 <= c < n and 0 <= t < n) or c == t:
            raise ValueError(f"entangler edges must be pairs of distinct qubits in [0, {n}), got "
                             f"({c}, {t})")
    return edges


def _groups(n: int, size: int) -> list[tuple[int, int]]:
    """Cut qubits 0..n-1 into ceil(n / size) runs of consecutive qubits of near-equal sizes."""
    count = -(-n // size)
    base, extra = divmod(n, count)
    out, start = [], 0
    for i in range(count):
        stop = start + base + (i < extra)
        out.append((start, stop))
        start = stop
    return out


class _ShotProbabilities(torch.autograd.Function):
    """Forward: an N-shot histogram; backward: the parameter-shift rule on fresh N-shot runs."""

    @staticmethod
    def forward(ctx, weights, ansatz, n_shots, generator):
        with torch.no_grad():
            p = ansatz._probabilities(weights[None])[0]
            freq = _histogram(sample_indices(p[None], n_shots, generator=generator),
                              p.shape[0], p.dtype)[0]
        ctx.ansatz, ctx.n_shots, ctx.generator = ansatz, n_shots, generator
        ctx.save_for_backward(weights)
        return freq

    @staticmethod
    def backward(ctx, grad):
        (weights,) = ctx.saved_tensors
        P = weights.numel()
        shift = torch.eye(P, dtype=weights.dtype, device=weights.device) * (math.pi / 2)
        shifted = torch.cat([weights.reshape(1, P) + shift, weights.reshape(1, P) - shift])
        with torch.no_grad():
            p = ctx.ansatz._probabilities(shifted.reshape(2 * P, *weights.shape))
            freq = _histogram(sample_indices(p, ctx.n_shots, generator=ctx.generator),
                              p.shape[1], p.dtype)
            dp = (freq[:P] - freq[P:]) / 2  # [P, K]: the shot estimate of ∂p/∂w_j
            g = (dp @ grad.to(dp.dtype)).reshape(weights.shape)
        return g, None, None, None


class LayeredAnsatz(nn.Module):
    """Layers of general rotations and CNOT entanglers (see the module docstring).

    Args:
        n_qubits: n in [1, MAX_QUBITS].
        layers: d >= 0 entangler layers (d + 1 rotation layers).
        entangler: "ring", "all", "chow-liu" (needs ``data``) or a list of (control, target).
        data: bit vectors [N, n] for the Chow–Liu tree.
        dtype: torch.float32 (complex64 states) or torch.float64 (complex128, default).
        rng: initial weights ~ U[0, 2π) from this seed / numpy Generator (None: OS entropy).

    Attributes:
        weights: nn.Parameter float[d + 1, n, 3] (φ, θ, ω of Rot per layer and qubit).
        edges: the entangler's (control, target) pairs, in order.
    """

    def __init__(self, n_qubits: int, layers: int, *, entangler: Any = "ring", data: Any = None,
                 dtype: torch.dtype = torch.float64, rng: RngLike = None) -> None:
        super().__init__()
        self.n_qubits = check_n_qubits(n_qubits)
        self.layers = check_int("layers", layers, minimum=0)
        if dtype not in _COMPLEX:
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.entangler = entangler if isinstance(entangler, str) else "edges"
        self.edges = entangler_edges(entangler, self.n_qubits, data=data)
        w = as_generator(rng).uniform(0, 2 * np.pi, (self.layers + 1, self.n_qubits, 3))
        self.weights = nn.Parameter(torch.from_numpy(w).to(dtype))
        perm = torch.from_numpy(_edges_permutation(self.n_qubits, self.edges))
        self.register_buffer("_perm", perm, persistent=False)
        self.register_buffer("_inverse", torch.argsort(perm), persistent=False)
        # The last group's transpose followed by the next layer's CNOTs, as one gather: rolled =
        # y.T.flatten() is y_flat[roll], then the CNOTs read rolled[perm] = y_flat[roll[perm]].
        first, last = _groups(self.n_qubits, _GROUP_QUBITS)[-1]
        k = 1 << (last - first)
        roll = torch.arange(1 << self.n_qubits).reshape(k, -1).T.reshape(-1)
        fused = roll[perm]
        self.register_buffer("_fused", fused, persistent=False)
        self.register_buffer("_fused_inverse", torch.argsort(fused), persistent=False)

    @property
    def n_states(self) -> int:
        return 1 << self.n_qubits

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of ``weights``: (layers + 1, n_qubits, 3)."""
        return (self.layers + 1, self.n_qubits, 3)

    def _weights(self, weights: Any) -> tuple[torch.Tensor, bool]:
        if weights is None:
            return self.weights[None], False
        if not isinstance(weights, torch.Tensor):
            raise TypeError(f"weights must be a Tensor {list(self.shape)} or [B, "
                            f"{', '.join(map(str, self.shape))}], got {type(weights).__name__}")
        if tuple(weights.shape[-3:]) != self.shape or weights.ndim not in (3, 4):
            raise ValueError(f"weights must have shape {self.shape} or (B, "
                             f"{', '.join(map(str, self.shape))}), got {tuple(weights.shape)}")
        if not weights.dtype.is_floating_point:
            raise TypeError(f"weights must be real floating point, got {weights.dtype}")
        return (weights, True) if weights.ndim == 4 else (weights[None], False)

    def _state(self, w: torch.Tensor) -> torch.Tensor:
        """w float[B, d+1, n, 3] -> states complex[B, 2^n].

        A rotation layer is applied group by group: the qubits are cut into groups of at most
        ``_GROUP_QUBITS`` consecutive qubits, and a group's gates become one Kronecker product
        (built for every layer at once). The group in front (the most significant qubits) is
        applied by one matmul on the view [B, 2^k, 2^(n-k)], and the transpose to [B, 2^(n-k),
        2^k] moves it behind the others; after all groups the order is the original one again.
        """
        n, B = self.n_qubits, w.shape[0]
        gates = rot(w[..., 0], w[..., 1], w[..., 2])  # [B, d+1, n, 2, 2]
        mats = []
        for first, last in _groups(n, _GROUP_QUBITS):
            M = gates[:, :, first]
            for q in range(first + 1, last):  # M ⊗ gate_q, for every layer at once
                G, d = gates[:, :, q], M.shape[-1]
                M = (M[..., :, None, :, None] * G[..., None, :, None, :]).reshape(
                    B, -1, 2 * d, 2 * d)
            mats.append(M)  # [B, d+1, 2^k, 2^k]
        # The first rotation layer acts on |0...0>: the product of the groups' first columns.
        state = mats[0][:, 0, :, 0]
        for M in mats[1:]:
            state = (state[:, :, None] * M[:, 0, None, :, 0]).reshape(B, -1)
        if self.layers and self.edges:
            state = _permute(state, self._perm, self._inverse)
        for layer in range(1, self.layers + 1):
            for i, M in enumerate(mats):
                m = M[:, layer]
                y = torch.matmul(m, state.reshape(B, m.shape[-1], -1))
                if i == len(mats) - 1 and layer < self.layers and self.edges:
                    state = _permute(y.reshape(B, -1), self._fused, self._fused_inverse)
                else:
                    state = y.transpose(1, 2).reshape(B, -1)
        return state

    def _probabilities(self, w: torch.Tensor) -> torch.Tensor:
        return torch.view_as_real(self._state(w)).square().sum(-1)

    def state(self, weights: Any = None) -> torch.Tensor:
        """ψ(w): complex[2^n], or [B, 2^n] for weights [B, d+1, n, 3] (default: the module's)."""
        w, batched = self._weights(weights)
        s = self._state(w)
        return s if batched else s[0]

    def probabilities(self, weights: Any = None) -> torch.Tensor:
        """Exact |ψ(w)|^2: real[2^n] (or [B, 2^n]), differentiable by autograd."""
        w, batched = self._weights(weights)
        p = self._probabilities(w)
        return p if batched else p[0]

    def forward(self, weights: Any = None) -> torch.Tensor:
        return self.probabilities(weights)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n measured bit vectors of the current circuit: int64[n, n_qubits] (no gradient)."""
        with torch.no_grad():
            return sample_bits(self.probabilities(), n, generator=generator)

    def shot_probabilities(self, n_shots: int, *,
                           generator: torch.Generator | None = None) -> torch.Tensor:
        """The N-shot histogram p̂ real[2^n], whose gradient is the shot parameter-shift rule.

        Backpropagating a loss L(p̂) costs 2P fresh circuits of ``n_shots`` shots each
        (P = weights.numel()), drawn from ``generator`` (see the module docstring).
        """
        n_shots = check_int("n_shots", n_shots, minimum=1)
        check_generator(generator)
        return _ShotProbabilities.apply(self.weights, self, n_shots, generator)

    def operations(self) -> list[tuple]:
        """The circuit as a list: ("rot", qubit, (φ, θ, ω)) and ("cnot", control, target), in
        application order (floats from the current weights; used by the reference tests)."""
        w = self.weights.detach().cpu().double().numpy()
        ops: list[tuple] = []
        for layer in range(self.layers + 1):
            if layer:
                ops += [("cnot", c, t) for c, t in self.edges]
            ops += [("rot", q, tuple(map(float, w[layer, q]))) for q in range(self.n_qubits)]
        return ops

    def extra_repr(self) -> str:
        return (f"n_qubits={self.n_qubits}, layers={self.layers}, entangler={self.entangler!r}, "
                f"edges={len(self.edges)}")
