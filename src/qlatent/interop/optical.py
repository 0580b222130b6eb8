"""Linear-optical circuits as component lists (phase shifters, beam splitters, permutations),
from our interferometers and back, and unitaries read from files.

An :class:`OpticalCircuit` is what the photonic exporters produce and the Perceval adapter
(:mod:`qlatent.interop.perceval`) consumes; :meth:`OpticalCircuit.unitary` multiplies its
components in NumPy, so every decomposition here is checked without any SDK.

Notation and conventions (docs/interop.md states them once for every SDK):
    m modes 0..m-1; U[j, k] is the amplitude for a photon entering mode k to leave in mode j
    (the convention of :mod:`qlatent.photonics` and of Perceval's ``compute_unitary``).
    Components, in time order, each left-multiplying U:
      * ``("ps", (k,), φ)``: phase shifter e^{iφ} on mode k (Perceval ``PS(φ)``);
      * ``("bs", (k, k+1), θ)``: beam splitter R(θ) = [[cos θ/2, -sin θ/2], [sin θ/2, cos θ/2]]
        on modes k, k+1 (Perceval ``BS.Ry(θ)``);
      * ``("perm", (k, ..., k+r-1), π)``: the photon in local mode i leaves in local mode π[i]
        (Perceval ``PERM(π)``).
    Clements mesh (``qlatent.quantum.optics.ClementsMesh``): each T(θ, φ) = [[e^{iφ} cos θ,
    -sin θ], [e^{iφ} sin θ, cos θ]] on (k, k+1) is PS(φ) on k then BS.Ry(2θ); the output phases
    α_j are PS(α_j) on every mode at the end.
    Loop circuits (``LoopCircuit``, ``photonics.loop_unitary``): the beam splitter
    [[cos θ, -e^{-iφ} sin θ], [e^{iφ} sin θ, cos θ]] on modes (i, i+d) is diag(1, e^{iφ}) R(2θ)
    diag(1, e^{-iφ}): PS(-φ) on mode i+d, BS.Ry(2θ), PS(φ); for d > 1 a PERM brings mode i+d
    next to mode i first and takes it back after.
    Angles are reduced to [0, 2π) (phases) and [0, 4π) (BS.Ry), which changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qlatent._validation import check_int
from qlatent.latents.born import BornLatent
from qlatent.photonics.unitaries import is_unitary
from qlatent.quantum.optics import ClementsMesh, LoopCircuit

#: Largest max|U^dagger U - I| accepted for an imported unitary (the float64 round-off of a
#: product of a few hundred components is far below it).
UNITARY_ATOL = 1e-9
#: Component kinds of an :class:`OpticalCircuit`.
COMPONENTS = ("ps", "bs", "perm")


@dataclass(frozen=True)
class Component:
    """One optical component: ``kind`` ("ps", "bs", "perm"), the ``modes`` it acts on and its
    ``value`` (φ, θ, or the permutation)."""

    kind: str
    modes: tuple[int, ...]
    value: float | tuple[int, ...]


@dataclass(frozen=True)
class OpticalCircuit:
    """A linear-optical circuit: components applied in order (module docstring).

    Attributes:
        n_modes: m.
        components: in time order.
        input_state: photons per input mode (None: not part of the circuit).
        title: a one-line description.
        distinguishable: the photons are distinguishable (kind "photonic"), not identical.
    """

    n_modes: int
    components: tuple[Component, ...]
    input_state: tuple[int, ...] | None = None
    title: str = ""
    distinguishable: bool = False

    def __post_init__(self) -> None:
        m = check_int("n_modes", self.n_modes, minimum=1)
        for i, c in enumerate(self.components):
            if c.kind not in COMPONENTS:
                raise ValueError(f"components[{i}].kind must be one of {', '.join(COMPONENTS)},"
                                 f" got {c.kind!r}")
            k = c.modes[0] if c.modes else -1
            size = {"ps": 1, "bs": 2}.get(c.kind, len(c.modes))
            if (len(c.modes) != size or size == 0 or k < 0 or k + size > m
                    or tuple(c.modes) != tuple(range(k, k + size))):
                raise ValueError(f"components[{i}] ({c.kind}) must act on {size or 'r'} "
                                 f"consecutive modes in [0, {m}), got {c.modes}")
            if c.kind == "perm":
                if sorted(c.value) != list(range(size)):
                    raise ValueError(f"components[{i}] (perm) must be a permutation of "
                                     f"0..{size - 1}, got {c.value}")
            elif not math.isfinite(c.value):
                raise ValueError(f"components[{i}] ({c.kind}) has a non-finite angle {c.value}")
        if self.input_state is not None:
            if len(self.input_state) != m or any(t < 0 for t in self.input_state):
                raise ValueError(f"input_state must hold {m} non-negative counts, got "
                                 f"{self.input_state}")

    def unitary(self) -> np.ndarray:
        """The product of the components: complex128[m, m] (later components on the left)."""
        U = np.eye(self.n_modes, dtype=np.complex128)
        for c in self.components:
            k = c.modes[0]
            if c.kind == "ps":
                U[k] *= np.exp(1j * c.value)
            elif c.kind == "bs":
                cos, sin = math.cos(c.value / 2), math.sin(c.value / 2)
                top, bottom = U[k].copy(), U[k + 1].copy()
                U[k], U[k + 1] = cos * top - sin * bottom, sin * top + cos * bottom
            else:
                block = U[k:k + len(c.modes)].copy()
                U[[k + j for j in c.value]] = block
        return U


def _ps(k: int, phi: float) -> Component:
    return Component("ps", (k,), float(phi) % (2 * math.pi))


def _bs(k: int, theta: float) -> Component:
    return Component("bs", (k, k + 1), float(theta) % (4 * math.pi))


def mesh_circuit(mesh: ClementsMesh, *, input_state: Sequence[int] | None = None,
                 title: str = "") -> OpticalCircuit:
    """The components of a Clements mesh (module docstring): U equals ``mesh()``."""
    if not isinstance(mesh, ClementsMesh):
        raise TypeError(f"mesh must be a ClementsMesh, got {type(mesh).__name__}")
    theta, phi, alpha = (p.detach().cpu().double().numpy()
                         for p in (mesh.theta, mesh.phi, mesh.output_phase))
    m = mesh.n_modes
    tops = [i for layer in range(m) for i in range(layer % 2, m - 1, 2)]  # ClementsMesh order
    parts: list[Component] = []
    for k, t, p in zip(tops, theta, phi, strict=True):
        parts += [_ps(k, p), _bs(k, 2 * t)]
    parts += [_ps(j, a) for j, a in enumerate(alpha)]
    return OpticalCircuit(m, tuple(parts), _state(input_state), title)


def loop_circuit(loop: LoopCircuit, *, input_state: Sequence[int] | None = None,
                 title: str = "") -> OpticalCircuit:
    """The components of a loop circuit (module docstring): U equals ``loop()``."""
    if not isinstance(loop, LoopCircuit):
        raise TypeError(f"loop must be a LoopCircuit, got {type(loop).__name__}")
    theta, phi = (p.detach().cpu().double().numpy() for p in (loop.theta, loop.phi))
    m, b, parts = loop.n_modes, 0, []
    for d in loop.loop_lengths:
        for i in range(m - d):
            if d > 1:  # local mode d-1 (mode i+d) -> local 0 (mode i+1), the others one down
                parts.append(Component("perm", tuple(range(i + 1, i + d + 1)),
                                       tuple([*range(1, d), 0])))
            parts += [_ps(i + 1, -phi[b]), _bs(i, 2 * theta[b]), _ps(i + 1, phi[b])]
            if d > 1:
                parts.append(Component("perm", tuple(range(i + 1, i + d + 1)),
                                       tuple([d - 1, *range(d - 1)])))
            b += 1
    return OpticalCircuit(m, tuple(parts), _state(input_state), title)


def _state(input_state: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if input_state is None else tuple(int(t) for t in input_state)


# ----------------------------------------------------------------------------------------------
# Unitaries in: checks, files, the Clements decomposition
# ----------------------------------------------------------------------------------------------

def check_unitary(U: Any, *, name: str = "U") -> np.ndarray:
    """``U`` as complex128[m, m] (m >= 2), unitary to ``UNITARY_ATOL``; a clear error otherwise."""
    arr = U.detach().cpu().numpy() if isinstance(U, torch.Tensor) else np.asarray(U)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a numeric square matrix, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 2:
        raise ValueError(f"{name} must be a square matrix [m, m] with m >= 2, got shape "
                         f"{arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.complex128)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got NaN or infinite entries")
    if not is_unitary(arr, UNITARY_ATOL):
        err = float(np.max(np.abs(arr.conj().T @ arr - np.eye(arr.shape[0]))))
        raise ValueError(f"{name} must be unitary (max|U^dagger U - I| <= {UNITARY_ATOL:g}), "
                         f"got deviation {err:.3g}")
    return arr


def load_unitary(path: str | Path) -> np.ndarray:
    """A unitary from a ``.npy`` file (read with ``allow_pickle=False``), checked.

    Raises:
        FileNotFoundError: no such file. ValueError: not a ``.npy`` file, an object array, or
        not a unitary (the deviation is named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"unitary file not found: {path}")
    try:  # memory-mapped: the shape is checked before anything is read
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:  # object arrays need pickle: refused
        raise ValueError(f"{path}: expected a .npy file of a complex matrix, got an array "
                         f"that needs pickle ({err})") from err
    except OSError as err:
        raise ValueError(f"{path}: not a .npy file ({err})") from err
    if not isinstance(arr, np.ndarray):
        getattr(arr, "close", lambda: None)()
        raise ValueError(f"{path}: expected a .npy file holding one matrix, got an archive")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{path}: expected a square matrix [m, m], got shape {arr.shape}")
    return check_unitary(np.array(arr), name=str(path))


def _null_right(U: np.ndarray, row: int, col: int) -> tuple[float, float]:
    """(θ, φ) with (U T(θ, φ)^†)[row, col] = 0 for T on columns (col, col+1)."""
    a, b = U[row, col], U[row, col + 1]
    return math.atan2(abs(a), abs(b)), (np.angle(a) - np.angle(b)) if abs(a) > 0 else 0.0


def _null_left(U: np.ndarray, row: int, col: int) -> tuple[float, float]:
    """(θ, φ) with (T(θ, φ) U)[row + 1, col] = 0 for T on rows (row, row+1)."""
    a, b = U[row, col], U[row + 1, col]
    return math.atan2(abs(b), abs(a)), (np.angle(-b) - np.angle(a)) if abs(b) > 0 else 0.0


def _t(theta: float, phi: float) -> np.ndarray:
    e, c, s = np.exp(1j * phi), math.cos(theta), math.sin(theta)
    return np.array([[e * c, -s], [e * s, c]])


def _swap_through(T: np.ndarray, d: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Write T^† diag(d) as diag(d') T(θ', φ'): returns (θ', φ', d')."""
    M = T.conj().T * d[None, :]
    theta = math.atan2(abs(M[0, 1]), abs(M[1, 1]))
    c, s = math.cos(theta), math.sin(theta)
    if c > s:  # the better-conditioned pair of entries fixes d' and e^{iφ'}
        d2 = M[1, 1] / c
        d1 = -M[0, 1] / s if s > 1e-12 else M[0, 0] / c
        phi = np.angle(M[0, 0] / (d1 * c))
    else:
        d1 = -M[0, 1] / s
        d2 = M[1, 1] / c if c > 1e-12 else M[1, 0] / s
        phi = np.angle(M[1, 0] / (d2 * s))
    return theta, float(phi), np.array([d1, d2])


def clements_angles(U: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The angles of the Clements mesh that realises U (Clements et al., arXiv:1603.08788, the
    decomposition of their section "Method", in the parametrisation of ``ClementsMesh``).

    Elements below the anti-diagonals are nulled alternately by T^{-1} from the right and T from
    the left, which leaves a diagonal D; the left T's are moved through D (T^† D = D' T'), and
    the 2 x 2 operations, in time order, are placed into the brick layers of the mesh.

    Args:
        U (complex[m, m]): a unitary (checked), m >= 2.

    Returns:
        (theta float64[m(m-1)/2], phi float64[m(m-1)/2], output_phase float64[m]) in
        ``ClementsMesh`` parameter order; the mesh with them equals U to round-off (checked).
    """
    U = check_unitary(U)
    m = U.shape[0]
    W = U.copy()
    right: list[tuple[int, float, float]] = []  # applied first, in this order
    left: list[tuple[int, float, float]] = []
    for i in range(1, m):
        if i % 2:
            for j in range(i):
                col = i - 1 - j
                theta, phi = _null_right(W, m - 1 - j, col)
                W[:, col:col + 2] = W[:, col:col + 2] @ _t(theta, phi).conj().T
                right.append((col, theta, phi))
        else:
            for j in range(1, i + 1):
                row = m + j - i - 2
                theta, phi = _null_left(W, row, j - 1)
                W[row:row + 2] = _t(theta, phi) @ W[row:row + 2]
                left.append((row, theta, phi))
    # W = L_k ... L_1 U R_1^† ... R_p^† is diagonal; U = L_1^† ... L_k^† W R_p ... R_1.
    d = np.diagonal(W).copy()
    moved = []
    for row, theta, phi in reversed(left):  # L_k^† D = D' T' first, then L_{k-1}^†, ...
        t2, p2, d[row:row + 2] = _swap_through(_t(theta, phi), d[row:row + 2])
        moved.append((row, t2, p2))
    # Time order: R_1 ... R_p, then T' of L_k first ... of L_1 last (moved), then D'.
    ops = right + moved
    slots = {(layer, k): None for layer in range(m) for k in range(layer % 2, m - 1, 2)}
    last = [-1] * m
    for k, t, p in ops:
        layer = max(last[k], last[k + 1]) + 1
        layer += (layer % 2) != (k % 2)
        if (layer, k) not in slots or slots[(layer, k)] is not None:
            raise RuntimeError(f"the decomposition of a {m}-mode unitary does not fit the "
                               "rectangular mesh (a bug: please report it)")
        slots[(layer, k)] = (t, p)
        last[k] = last[k + 1] = layer
    order = sorted(slots, key=lambda lk: lk)  # layer order, pairs ascending: ClementsMesh's
    theta = np.array([(slots[s] or (0.0, 0.0))[0] for s in order])
    phi = np.array([(slots[s] or (0.0, 0.0))[1] for s in order]) % (2 * math.pi)
    alpha = np.angle(d) % (2 * math.pi)
    mesh = ClementsMesh(m, rng=0)
    _set_mesh(mesh, theta, phi, alpha)
    with torch.no_grad():
        err = float(np.max(np.abs(mesh().numpy() - U)))
    if err > 1e-8:
        raise RuntimeError(f"the Clements decomposition missed U by {err:.3g} (a bug: please "
                           "report it)")
    return theta, phi, alpha


def _set_mesh(mesh: ClementsMesh, theta: np.ndarray, phi: np.ndarray,
              alpha: np.ndarray) -> None:
    with torch.no_grad():
        for param, value in ((mesh.theta, theta), (mesh.phi, phi),
                             (mesh.output_phase, alpha)):
            param.copy_(torch.from_numpy(np.asarray(value, dtype=np.float64)))


def born_from_unitary(U: Any, *, kind: str = "quantum", n_photons: int | None = None,
                      normalize: str = "center") -> BornLatent:
    """A trainable photonic Born machine (``circuit="mesh"``) that starts at U.

    Args:
        U (complex[m, m]): the interferometer (a ``.npy`` file through :func:`load_unitary`, a
            Perceval circuit through ``interop.perceval.unitary_from_perceval``), checked.
        kind, n_photons, normalize: as :class:`~qlatent.latents.born.BornLatent`.

    Returns:
        A ``BornLatent`` of dimension m whose ``unitary()`` equals U to round-off.
    """
    U = check_unitary(U)
    latent = BornLatent(U.shape[0], kind=kind, circuit="mesh", n_photons=n_photons,
                        normalize=normalize, seed=0)
    _set_mesh(latent.interferometer, *clements_angles(U))
    return latent


def optical_circuit(model: Any, *, input_state: Sequence[int] | None = None) -> OpticalCircuit:
    """The optical circuit of a photonic Born machine, an interferometer module or a unitary.

    Args:
        model: a ``BornLatent`` (its circuit, input state and kind), a ``ClementsMesh``, a
            ``LoopCircuit``, or a unitary complex[m, m] (decomposed into a Clements mesh).
        input_state: photons per input mode (default: the Born machine's; else none).

    Returns:
        An :class:`OpticalCircuit` (``distinguishable`` for a Born machine of kind "photonic";
        ``dataclasses.replace`` sets it for the others).
    """
    if isinstance(model, BornLatent):
        state = model.input_state.tolist() if input_state is None else input_state
        title = (f"photonic Born machine: kind {model.kind!r}, circuit {model.circuit!r}, "
                 f"{model.dim} modes, {model.n_photons} photons")
        model.interferometer.check_finite()
        return replace(optical_circuit(model.interferometer, input_state=state), title=title,
                       distinguishable=model.distinguishable)
    if isinstance(model, ClementsMesh):
        return mesh_circuit(model, input_state=input_state,
                            title=f"Clements mesh, {model.n_modes} modes")
    if isinstance(model, LoopCircuit):
        return loop_circuit(model, input_state=input_state,
                            title=f"loop circuit {model.loop_lengths}, {model.n_modes} modes")
    if isinstance(model, (np.ndarray, torch.Tensor)):
        U = check_unitary(model)
        mesh = ClementsMesh(U.shape[0], rng=0)
        _set_mesh(mesh, *clements_angles(U))
        return mesh_circuit(mesh, input_state=input_state,
                            title=f"fixed interferometer as a Clements mesh, {U.shape[0]} modes")
    raise TypeError(f"model must be a BornLatent, ClementsMesh, LoopCircuit or a unitary "
                    f"matrix, got {type(model).__name__}")
