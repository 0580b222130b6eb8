"""IQP circuits in torch: closed-form Pauli-Z expectation values (exact or unbiased Monte-Carlo
estimates), their bit-flip control, and the squared MMD to data without samples of the model.

References: Recio-Armengol, Ahmed & Bowles, "Train on classical, deploy on quantum: scaling
generative quantum machine learning to a thousand qubits", arXiv:2503.02934; the IQPopt method,
arXiv:2501.04776. Gates live in :mod:`qlatent.quantum.iqp_gates`; the slow NumPy reference
(dense matrices, enumeration) in :mod:`qlatent.quantum.iqp_reference`.

Notation:
    n qubits (bit order of :mod:`qlatent.quantum.qubits`: qubit 0 is the most significant bit
    of a basis index); G gates, gate j = exp(iθ_j X_{g_j}) with X_g = prod_{i in g} X_i;
    θ (``theta``) real [G] (float32 or float64; every result follows its dtype).
    U(θ) = exp(i sum_j θ_j X_{g_j}) (the gates commute); the model is p_θ(x) = |<x|U|0...0>|^2.
    An operator a is a bit string (0/1 [n]); Z_a = prod_{i: a_i = 1} Z_i, Z_a(x) = (-1)^{a.x}.
    P[a, j] = |g_j ∩ a| mod 2 (the parity matrix, [K, G] for K operators): X_{g_j}
    anticommutes with Z_a iff P[a, j] = 1.
    s_j(z) = (-1)^{g_j . z} for z in {0, 1}^n (the gates' signs, [S, G] for S strings).

Closed form (arXiv:2501.04776, eq. 4; derive: U = H^n D H^n with D(z) = exp(i sum_j θ_j s_j(z))):
    <Z_a> = E_{z uniform on {0,1}^n} cos( 2 sum_j θ_j P[a, j] s_j(z) ),
so for K operators and S strings the arguments are one matrix product
    A = (2 θ ⊙ P) [K, G] @ s^T [G, S],
and <Z_a> is the mean of cos(A) over its row: exact with all 2^n strings
(:func:`expval_exact`), unbiased with S uniform strings, standard error std / sqrt(S)
(:func:`expval_estimate`). P and s are gathers over the gates' qubits (G x w entries per row),
never an n-wide product, so cost and memory are linear in each of K, S, G and n.

Amplitudes: <x|U|0> = 2^{-n} sum_z (-1)^{x.z} D(z), a Walsh-Hadamard transform, and
φ(z) = sum_j θ_j s_j(z) is itself the Walsh transform of the vector that holds θ_j at the index
of g_j: :func:`probabilities` costs O(n 2^n) (up to ``MAX_STATE_QUBITS``).

Bit-flip control (arXiv:2503.02934, sec. on the bit-flip model): gate j flips the bits g_j with
probability sin^2 θ_j, independently; x = XOR of the flipped g_j. Then
    <Z_a> = prod_j cos(2 θ_j)^{P[a, j]}
(:func:`bitflip_expval`, exact at any size), and it samples at any size (:func:`bitflip_sample`).
A single gate on |0> gives the same marginal sin^2 θ_j in both models; the circuit differs by
interference between gates.

MMD^2 without samples. The Gaussian kernel of ``qlatent.metrics.kernels`` (one bandwidth σ)
on bit strings is k(x, y) = exp(-|x - y|^2 / (2 σ^2)) = q^{Hamming(x, y)}, q = exp(-1/(2σ^2)),
and k(x, y) = E_a[Z_a(x) Z_a(y)] with a_i ~ Bernoulli(p) independently, p = (1 - q)/2 (the
kernel's spectral distribution; arXiv:2503.02934 eq. 9). Hence
    MMD^2(p_θ, q_data) = E_a[ (<Z_a>_θ - <Z_a>_data)^2 ],
estimated (:func:`mmd2_estimate`) from K operators a_k by the mean of
    f_k = U_k - 2 μ_k d_k + D_k,
μ_k the estimate of <Z_{a_k}>_θ from S strings c_ks = cos(A_ks), U_k = (S^2 μ_k^2 - sum_s c_ks^2)
/ (S (S - 1)) (unbiased for <Z_a>^2: the square of an estimate is not), d_k = mean over the M
data rows of Z_a(y_m), D_k = (M d_k^2 - 1) / (M - 1). Its expectation (over operators and
strings) is the unbiased MMD^2 between p_θ and the data sample, E k(x, x') - 2/M sum_m E k(x, y_m)
+ 1/(M(M-1)) sum_{m != m'} k(y_m, y_m'): unbiased for MMD^2 to the data's distribution.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from qlatent._random import RngLike, as_generator, check_generator
from qlatent._validation import check_bits_tensor, check_choice, check_float, check_int
from qlatent.quantum.iqp_gates import GateSet, gate_set

#: Largest number of qubits for the probabilities (a state holds 2^n amplitudes), and of
#: qubits *touched* by a batch of operators for the exact closed form (see
#: :func:`expval_exact`: it averages over 2^T strings of the T touched qubits).
MAX_STATE_QUBITS = 20
#: A request whose tensors would hold more bytes is refused before anything is allocated (the
#: figure is named): the arguments, their cosines and their gradients (3 K S), the gates'
#: signs (S G') and the weighted parity matrix with its gradient (2 K G') in the parameters'
#: dtype, G' the gates that anticommute with at least one operator of the batch.
MAX_BYTES = 2 * 2**30
#: Below this share of nonzero entries, the parity matrix is used entry by entry (an
#: ``index_add``), above it in one matrix product (BLAS).
_SPARSE_DENSITY = 1 / 16
#: The same switch for the data's <Z_a> (a gather of M x nnz(ops) entries against a matrix
#: product of M x n x K): the gather loses earlier.
_SPARSE_DATA_DENSITY = 1 / 64
#: Models of :func:`mmd2_estimate`.
MODELS = ("iqp", "bitflip")


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------

def _check_theta(theta: Any, gates: GateSet) -> torch.Tensor:
    if not isinstance(theta, torch.Tensor):
        raise TypeError(f"theta must be a float32 or float64 torch.Tensor [G], got "
                        f"{type(theta).__name__}")
    if theta.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"theta must be float32 or float64, got dtype {theta.dtype}")
    if theta.shape != (gates.n_gates,):
        raise ValueError(f"theta must have shape ({gates.n_gates},) (one angle per gate), got "
                         f"{tuple(theta.shape)}")
    return theta


def _as_bits(name: str, value: Any, n: int, device: Any, *, min_rows: int = 0) -> torch.Tensor:
    """A checked 0/1 tensor [B, n] as uint8 on ``device``."""
    value = check_bits_tensor(name, value, width=n, min_rows=min_rows)
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(np.asarray(value))
    return value.to(device=device, dtype=torch.uint8)


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"  # pragma: no cover


def estimate_bytes(n_ops: int, n_samples: int, n_gates: int, *,
                   dtype: torch.dtype = torch.float32) -> int:
    """Bytes the tensors of one batch of K operators over S strings and G' gates hold with
    autograd: (3 K S + S G' + 2 K G') x the dtype's size (see ``MAX_BYTES``)."""
    size = torch.tensor([], dtype=dtype).element_size()
    return size * (3 * n_ops * n_samples + n_samples * n_gates + 2 * n_ops * n_gates)


def _check_bytes(n_ops: int, n_samples: int, n_gates: int, dtype: torch.dtype,
                 what: str) -> None:
    need = estimate_bytes(n_ops, n_samples, n_gates, dtype=dtype)
    if need > MAX_BYTES:
        raise ValueError(f"{what} with {n_ops:,} operators x {n_samples:,} strings x {n_gates:,} "
                         f"gates would need {_format_bytes(need)}, more than MAX_BYTES = "
                         f"{_format_bytes(MAX_BYTES)}; split the operators into batches")


def _check_state_qubits(n: int, what: str) -> None:
    if n > MAX_STATE_QUBITS:
        raise ValueError(f"{what} needs n_qubits <= {MAX_STATE_QUBITS} (it holds all 2^n "
                         f"outcomes), got {n}; use expval_estimate / mmd2_estimate beyond")


def _qubit_index(gates: GateSet, device: Any) -> torch.Tensor:
    return torch.from_numpy(gates.qubits).to(device)


def _require_gate_set(gates: Any) -> GateSet:
    if not isinstance(gates, GateSet):
        raise TypeError(f"gates must be a GateSet (see qlatent.quantum.iqp_gates), got "
                        f"{type(gates).__name__}")
    return gates


def _gates(gates: Any, ops: Any) -> GateSet:
    if isinstance(gates, GateSet):
        return gates
    shape = getattr(ops, "shape", None) or np.shape(ops)
    if len(shape) != 2:
        raise ValueError(f"ops must have shape (K, n), got {tuple(shape)}")
    return gate_set(gates, shape[1])


# ----------------------------------------------------------------------------------------------
# Parities, active gates and signs: gathers over the gates' qubits
# ----------------------------------------------------------------------------------------------

def _odd_pairs(gates: GateSet, ops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The nonzero entries (k, j) of the parity matrix, sorted by k then j: int64 [nnz] twice.

    Each nonzero a_ki lists the gates on qubit i (the gate set's incidence); P[k, j] is the
    parity of how often (k, j) is listed. Cost nnz(ops) x (gates per qubit), never K x n x G.
    """
    G = gates.n_gates
    start_np, gate_np = gates.incidence
    start = torch.from_numpy(start_np).to(ops.device)
    gate = torch.from_numpy(gate_np).to(ops.device)
    k, i = ops.nonzero(as_tuple=True)
    degree = start[i + 1] - start[i]
    first = torch.repeat_interleave(start[i] - (torch.cumsum(degree, 0) - degree), degree)
    listed = torch.arange(int(degree.sum()), device=ops.device) + first
    key = torch.repeat_interleave(k, degree) * G + gate[listed]
    key, count = torch.unique(key, return_counts=True)
    key = key[count % 2 == 1]
    return key // G, key % G


def parities(gates: GateSet, ops: Any) -> torch.Tensor:
    """P[k, j] = |g_j ∩ a_k| mod 2: the parity matrix, uint8 [K, G] (dense; for inspection and
    tests: the estimators work from its nonzero entries).

    Args:
        gates: the circuit's gates (n qubits).
        ops (0/1 [K, n]): the operators a_k.
    """
    ops = _as_bits("ops", ops, _require_gate_set(gates).n_qubits, None)
    k, j = _odd_pairs(gates, ops)
    out = torch.zeros(ops.shape[0], gates.n_gates, dtype=torch.uint8)
    out[k, j] = 1
    return out


class _Batch:
    """The gates that matter to a batch of operators, renumbered: the active gates (those with a
    nonzero parity column, G' of them) and the qubits they touch (T of them).

    Attributes:
        k, j (int64 [nnz]): nonzero entries of P, j renumbered among the active gates.
        gate (int64 [G']): the active gates' indices in the gate set.
        table (int64 [G', w]): their qubits renumbered among the touched ones, padded with T.
        n_touched: T.
    """

    def __init__(self, gates: GateSet, ops: torch.Tensor) -> None:
        k, j = _odd_pairs(gates, ops)
        self.n_ops = ops.shape[0]
        self.gate, self.j = torch.unique(j, return_inverse=True)
        self.k = k
        qubits = torch.from_numpy(gates.qubits).to(ops.device)[self.gate]      # [G', w]
        real = qubits < gates.n_qubits
        touched, local = torch.unique(qubits[real], return_inverse=True)
        self.n_touched = int(touched.numel())
        self.table = torch.full_like(qubits, self.n_touched)
        self.table[real] = local

    @property
    def n_active(self) -> int:
        return int(self.gate.numel())

    def cosines(self, theta: torch.Tensor, spins: torch.Tensor) -> torch.Tensor:
        """cos(A), A = (2 θ ⊙ P) @ s^T over the active gates: [K, S], from the touched qubits'
        spins (-1)^z (±1 [S, T]).

        Dense P: one matrix product (BLAS). Sparse P (a narrow kernel's operators touch few
        qubits, so few gates anticommute with each): A[k, :] = sum_{j: P[k, j] = 1} 2 θ_j s_j,
        an ``index_add`` over the nonzero entries, S x nnz(P); the same to rounding.
        """
        pad = torch.ones(spins.shape[0], 1, dtype=spins.dtype, device=spins.device)
        signs = torch.cat([spins, pad], 1)[:, self.table].prod(-1)              # [S, G']
        angles = 2 * theta[self.gate]
        if self.k.numel() > _SPARSE_DENSITY * self.n_ops * self.n_active:
            weighted = torch.zeros(self.n_ops, self.n_active, dtype=theta.dtype,
                                   device=theta.device)
            weighted = weighted.index_put((self.k, self.j), angles[self.j])
            return torch.cos(weighted @ signs.T)
        A = torch.zeros(spins.shape[0], self.n_ops, dtype=theta.dtype, device=theta.device)
        return torch.cos(A.index_add(1, self.k, signs[:, self.j] * angles[self.j])).T


def _random_spins(n_samples: int, n: int, dtype: torch.dtype, device: Any,
                  generator: torch.Generator | None) -> torch.Tensor:
    z = torch.randint(0, 2, (n_samples, n), generator=generator, device=device)
    return (1 - 2 * z).to(dtype)


def _all_spins(n: int, dtype: torch.dtype, device: Any) -> torch.Tensor:
    index = torch.arange(1 << n, device=device)
    bits = (index[:, None] >> torch.arange(n - 1, -1, -1, device=device)) & 1
    return (1 - 2 * bits).to(dtype)


# ----------------------------------------------------------------------------------------------
# Expectation values
# ----------------------------------------------------------------------------------------------

def expval_exact(theta: torch.Tensor, gates: Any, ops: Any) -> torch.Tensor:
    """<Z_a> for K operators, exactly: the closed form averaged over all strings z.

    Only the T_a qubits touched by the gates that anticommute with Z_a enter its closed form,
    so each operator's average runs over the 2^{T_a} strings of its own touched qubits (all
    operators of the batch over 2^{max T_a} strings, the unused qubits averaging out): exact at
    any n when the operators are local (e.g. one-qubit <Z_i> on a lattice: T = 5).

    Args:
        theta (float Tensor[G]): the gates' angles (autograd flows through).
        gates: a :class:`GateSet` (or anything :func:`~qlatent.quantum.iqp_gates.gate_set`
            takes, with n = ops.shape[1]).
        ops (0/1 [K, n]): the operators.

    Returns:
        Tensor[K] in θ's dtype.

    Raises:
        ValueError: max T_a > ``MAX_STATE_QUBITS``, or more than ``MAX_BYTES`` of tensors.
    """
    gates = _gates(gates, ops)
    theta = _check_theta(theta, gates)
    ops = _as_bits("ops", ops, gates.n_qubits, theta.device)
    n, K = gates.n_qubits, ops.shape[0]
    k, j = _odd_pairs(gates, ops)
    qubits = _qubit_index(gates, theta.device)[j]                             # [nnz, w]
    real = qubits < n
    # each operator's touched qubits, numbered 0..T_a - 1 in ascending order
    key = (k[:, None] * (n + 1) + qubits)[real]
    touched = torch.unique(key)
    first = torch.zeros(K + 1, dtype=torch.int64, device=theta.device)
    first[1:] = torch.cumsum(torch.bincount(touched // (n + 1), minlength=K), 0)
    T = int((first[1:] - first[:-1]).max()) if K else 0
    if T > MAX_STATE_QUBITS:
        raise ValueError(f"expval_exact averages over the 2^T strings of the T qubits an "
                         f"operator's gates touch and needs T <= {MAX_STATE_QUBITS}, got "
                         f"T = {T}; use expval_estimate")
    _check_bytes(K, 1 << T, k.numel(), theta.dtype, "expval_exact")
    local = torch.full_like(qubits, T)                                        # T: padding
    local[real] = torch.searchsorted(touched, key) - first[k[:, None].expand_as(qubits)[real]]
    spins = torch.cat([_all_spins(T, theta.dtype, theta.device),
                       torch.ones(1 << T, 1, dtype=theta.dtype, device=theta.device)], 1)
    signs = spins[:, local].prod(-1)                                          # [2^T, nnz]
    A = torch.zeros(1 << T, K, dtype=theta.dtype, device=theta.device)
    return torch.cos(A.index_add(1, k, signs * (2 * theta[j]))).mean(0)


def expval_estimate(theta: torch.Tensor, gates: Any, ops: Any, n_samples: int, *,
                    generator: torch.Generator | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Unbiased Monte-Carlo estimates of <Z_a> for K operators and their standard errors.

    The closed form averaged over S uniform strings z of the touched qubits (one draw shared by
    the K operators, so the estimates of one call are correlated across operators; each is
    unbiased).

    Args:
        theta (float Tensor[G]), gates, ops (0/1 [K, n]): as :func:`expval_exact`.
        n_samples: S >= 2.
        generator: the only randomness (a ``torch.Generator`` on θ's device, or None).

    Returns:
        (mean, standard error): Tensor[K] each; mean carries autograd, the standard error
        (sample standard deviation / sqrt(S)) does not.

    Raises:
        ValueError: more than ``MAX_BYTES`` of tensors (K, S and G' named).
    """
    gates = _gates(gates, ops)
    theta = _check_theta(theta, gates)
    S = check_int("n_samples", n_samples, minimum=2)
    check_generator(generator)
    batch = _Batch(gates, _as_bits("ops", ops, gates.n_qubits, theta.device))
    _check_bytes(batch.n_ops, S, batch.n_active, theta.dtype, "expval_estimate")
    spins = _random_spins(S, batch.n_touched, theta.dtype, theta.device, generator)
    c = batch.cosines(theta, spins)
    return c.mean(1), c.detach().std(1) / math.sqrt(S)


def _walsh(v: torch.Tensor, n: int) -> torch.Tensor:
    """sum_z (-1)^{x.z} v[z] for every x: the unnormalised Walsh-Hadamard transform of v[2^n]."""
    for i in range(n):
        v = v.reshape(1 << i, 2, 1 << (n - i - 1))
        v = torch.stack([v[:, 0] + v[:, 1], v[:, 0] - v[:, 1]], 1)
    return v.reshape(1 << n)


def _generator_index(gates: GateSet, device: torch.device) -> torch.Tensor:
    """The basis index of each g_j as a bit string: int64 [G]."""
    n = gates.n_qubits
    weight = torch.zeros(n + 1, dtype=torch.int64, device=device)
    weight[:n] = 2 ** torch.arange(n - 1, -1, -1, device=device)
    return weight[_qubit_index(gates, device)].sum(1)


def probabilities(theta: torch.Tensor, gates: Any) -> torch.Tensor:
    """p_θ(x) = |<x|U(θ)|0...0>|^2 for every x in index order: Tensor[2^n] in θ's dtype.

    Two Walsh transforms (module notation): φ = W c with c[index(g_j)] += θ_j, then
    amplitudes 2^{-n} W e^{iφ}. O(n 2^n) time, autograd through both.

    Raises:
        ValueError: n > ``MAX_STATE_QUBITS``.
    """
    theta = _check_theta(theta, _require_gate_set(gates))
    n = gates.n_qubits
    _check_state_qubits(n, "probabilities")
    c = torch.zeros(1 << n, dtype=theta.dtype, device=theta.device)
    phase = _walsh(c.index_add(0, _generator_index(gates, theta.device), theta), n)
    amplitude = _walsh(torch.polar(torch.ones_like(phase), phase), n) / (1 << n)
    return torch.view_as_real(amplitude).square().sum(-1)


# ----------------------------------------------------------------------------------------------
# The bit-flip control
# ----------------------------------------------------------------------------------------------

def bitflip_expval(theta: torch.Tensor, gates: Any, ops: Any) -> torch.Tensor:
    """<Z_a> = prod_j cos(2 θ_j)^{P[a, j]} of the bit-flip model, exactly: Tensor[K].

    Any n; cost K x (the largest number of gates anticommuting with one operator).
    """
    gates = _gates(gates, ops)
    theta = _check_theta(theta, gates)
    ops = _as_bits("ops", ops, gates.n_qubits, theta.device)
    return _bitflip_expval(theta, gates, ops)


def _bitflip_expval(theta: torch.Tensor, gates: GateSet, ops: torch.Tensor) -> torch.Tensor:
    k, j = _odd_pairs(gates, ops)
    K = ops.shape[0]
    per_op = torch.bincount(k, minlength=K)
    width = int(per_op.max()) if K else 0
    _check_bytes(K, 0, width, theta.dtype, "bitflip_expval")
    slot = torch.arange(k.numel(), device=k.device) - (torch.cumsum(per_op, 0) - per_op)[k]
    factors = torch.ones(K, width, dtype=theta.dtype, device=theta.device)
    factors = factors.index_put((k, slot), torch.cos(2 * theta[j]))
    return factors.prod(1)


def bitflip_sample(theta: torch.Tensor, gates: GateSet, n: int, *,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """n samples of the bit-flip model: uint8 Tensor[n, n_qubits] (no gradient).

    Gate j fires with probability sin^2 θ_j (independently per sample); a sample is the XOR of
    the fired gates' bit strings. Cost n x G x w.
    """
    theta = _check_theta(theta, _require_gate_set(gates))
    n = check_int("n", n, minimum=0)
    check_generator(generator)
    _check_bytes(n, 0, gates.n_gates, theta.dtype, "bitflip_sample")
    fire = torch.rand(n, gates.n_gates, generator=generator, dtype=theta.dtype,
                      device=theta.device) < torch.sin(theta.detach()).square()
    index = _qubit_index(gates, theta.device)                      # [G, w]
    counts = torch.zeros(n, gates.n_qubits + 1, dtype=torch.int32, device=theta.device)
    w = index.shape[1]
    counts.index_add_(1, index.reshape(-1),
                      fire.to(torch.int32).repeat_interleave(w, dim=1))
    return (counts[:, :gates.n_qubits] % 2).to(torch.uint8)


def bitflip_probabilities(theta: torch.Tensor, gates: GateSet) -> torch.Tensor:
    """The bit-flip model's p(x) for every x in index order: Tensor[2^n] in θ's dtype.

    p(x) = 2^{-n} sum_a (-1)^{a.x} <Z_a> over all 2^n operators (a Walsh transform of
    :func:`bitflip_expval`). Raises ValueError for n > ``MAX_STATE_QUBITS``.
    """
    theta = _check_theta(theta, _require_gate_set(gates))
    n = gates.n_qubits
    _check_state_qubits(n, "bitflip_probabilities")
    ops = ((1 - _all_spins(n, torch.int64, theta.device)) // 2).to(torch.uint8)
    return _walsh(_bitflip_expval(theta, gates, ops), n) / (1 << n)


# ----------------------------------------------------------------------------------------------
# Kernel, data and MMD^2
# ----------------------------------------------------------------------------------------------

def operator_probability(sigma: float) -> float:
    """p = (1 - exp(-1/(2σ^2))) / 2: each qubit's probability to be in an operator drawn from
    the spectral distribution of the Gaussian kernel of bandwidth σ (module notation)."""
    sigma = check_float("sigma", sigma, minimum=0.0)
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return float(-math.expm1(-1.0 / (2.0 * sigma * sigma)) / 2.0)


def spectral_operators(n_ops: int, n_qubits: int, sigma: float, *,
                       generator: torch.Generator | None = None,
                       device: Any = None) -> torch.Tensor:
    """K operators a_k with a_ki ~ Bernoulli(p(σ)) independently: uint8 Tensor[K, n]."""
    p = operator_probability(sigma)
    K = check_int("n_ops", n_ops, minimum=1)
    n = check_int("n_qubits", n_qubits, minimum=1)
    check_generator(generator)
    u = torch.rand(K, n, generator=generator, device=device)
    return (u < p).to(torch.uint8)


def data_expval(data: Any, ops: Any) -> torch.Tensor:
    """<Z_a>_data = (1/M) sum_m (-1)^{a.y_m} for K operators: float64 Tensor[K].

    a.y_m is summed over the nonzero entries of the operators only (an ``index_add`` of the
    data's columns, M x nnz(ops)) when they are sparse (the spectral operators of a narrow
    kernel touch few qubits), else by one matrix product.

    Args:
        data (0/1 [M, n]), ops (0/1 [K, n]).
    """
    ops = _as_bits("ops", ops, None, None)
    return _data_expval(_as_bits("data", data, ops.shape[1], ops.device, min_rows=1), ops)


def _data_expval(y: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    k, i = ops.nonzero(as_tuple=True)
    if k.numel() > _SPARSE_DATA_DENSITY * ops.numel():           # dense operators: BLAS
        counts = y.to(torch.float32) @ ops.to(torch.float32).T   # exact integers below 2^24
        return (1 - 2 * torch.remainder(counts, 2)).to(torch.float64).mean(0)
    counts = torch.zeros(y.shape[0], ops.shape[0], dtype=torch.int32, device=y.device)
    counts.index_add_(1, k, y[:, i].to(torch.int32))                  # [M, K] of a.y_m
    return (1 - 2 * (counts % 2)).to(torch.float64).mean(0)


def median_bandwidth(data: Any, *, max_rows: int = 1000, rng: RngLike = 0) -> float:
    """The median heuristic: σ = median over pairs m < m' of |y_m - y_m'| (Euclidean, i.e. the
    square root of the Hamming distance), over at most ``max_rows`` rows drawn without
    replacement by ``rng`` (all rows if fewer).

    Raises:
        ValueError: fewer than 2 rows, or a median of 0 (more than half the pairs identical;
            give sigma yourself).
    """
    y = check_bits_tensor("data", data, min_rows=2)
    y = (y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))).to(torch.float64)
    max_rows = check_int("max_rows", max_rows, minimum=2)
    if y.shape[0] > max_rows:
        keep = as_generator(rng).choice(y.shape[0], size=max_rows, replace=False)
        y = y[torch.from_numpy(np.sort(keep))]
    ones = y.sum(1)
    hamming = ones[:, None] + ones[None, :] - 2 * y @ y.T
    i, j = torch.triu_indices(len(y), len(y), offset=1)
    sigma = float(hamming[i, j].clamp_min(0).sqrt().median())
    if sigma <= 0:
        raise ValueError("data must have a non-zero median pairwise distance for the median "
                         "heuristic, got 0 (mostly duplicate rows); pass sigma explicitly")
    return sigma


def mmd2_estimate(theta: torch.Tensor, gates: Any, data: Any, *, sigma: float, n_ops: int,
                  n_samples: int = 1000, model: str = "iqp", n_groups: int = 10,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, float]:
    """Unbiased estimate of MMD^2(p_θ, data) under the Gaussian kernel of bandwidth σ, from
    operators drawn from the kernel's spectral distribution (module notation), and its
    standard error.

    The K operators are split into R = ``n_groups`` groups of K / R; each group draws its own
    S strings, so the R group means are independent and identically distributed: the estimate
    is their mean, its standard error their standard deviation / sqrt(R) (NaN for R = 1). The
    arithmetic is the same K x S x G as one shared draw.

    Args:
        theta (float Tensor[G]): angles (autograd flows through the estimate).
        gates: a :class:`GateSet` on n qubits.
        data (0/1 [M, n], M >= 2): the data rows.
        sigma: the kernel's bandwidth σ > 0 (e.g. :func:`median_bandwidth`).
        n_ops: K, a multiple of ``n_groups``.
        n_samples: S >= 2 strings per group (unused by the bit-flip model, which is exact).
        model: "iqp" (the circuit) or "bitflip" (its classical control, same θ).
        n_groups: R >= 1.
        generator: the only randomness (operators and strings).

    Returns:
        (estimate: 0-d Tensor in θ's dtype with autograd, standard error: float).
    """
    theta = _check_theta(theta, _require_gate_set(gates))
    model = check_choice("model", model, MODELS)
    K = check_int("n_ops", n_ops, minimum=1)
    R = check_int("n_groups", n_groups, minimum=1)
    if K % R:
        raise ValueError(f"n_ops must be a multiple of n_groups = {R}, got {K}")
    S = check_int("n_samples", n_samples, minimum=2)
    check_generator(generator)
    n = gates.n_qubits
    y = _as_bits("data", data, n, theta.device, min_rows=2)
    ops = spectral_operators(K, n, sigma, generator=generator, device=theta.device)
    M = y.shape[0]
    d = _data_expval(y, ops).to(theta.dtype)
    data_square = (M * d.square() - 1) / (M - 1)
    group_means = []
    for r, group in enumerate(ops.split(K // R)):
        rows = slice(r * (K // R), (r + 1) * (K // R))
        if model == "iqp":
            batch = _Batch(gates, group)
            _check_bytes(K // R, S, batch.n_active, theta.dtype, "mmd2_estimate")
            spins = _random_spins(S, batch.n_touched, theta.dtype, theta.device, generator)
            c = batch.cosines(theta, spins)
            mu = c.mean(1)
            model_square = (S * S * mu.square() - c.square().sum(1)) / (S * (S - 1))
        else:
            mu = _bitflip_expval(theta, gates, group)
            model_square = mu.square()
        f = model_square - 2 * mu * d[rows] + data_square[rows]
        group_means.append(f.mean())
    means = torch.stack(group_means)
    se = float(means.detach().std() / math.sqrt(R)) if R > 1 else float("nan")
    return means.mean(), se


# ----------------------------------------------------------------------------------------------
# Initialisation from data
# ----------------------------------------------------------------------------------------------

def init_from_data(gates: GateSet, data: Any, *, dtype: torch.dtype = torch.float32
                   ) -> torch.Tensor:
    """Data-dependent initial angles (arXiv:2503.02934, sec. on initialisation; IQPopt's
    heuristic), so that training does not start on a barren plateau:

    * a single gate on qubit i: θ = arcsin(sqrt(ȳ_i)), so that alone it gives qubit i the data's
      marginal P(y_i = 1) = sin^2 θ;
    * a pair gate on (i, j): θ = C_ij sqrt(2n / sum_{i' != j'} C_i'j'^2), C the covariance of the
      data's spins 1 - 2y (so the pair angles have sum of squares n over the n(n-1)/2 pairs of
      the full matrix; 0 when the data's bits are uncorrelated);
    * larger gates: 0.

    Returns:
        Tensor[G] in ``dtype`` (wrap in ``nn.Parameter`` to train).
    """
    _require_gate_set(gates)
    y = check_bits_tensor("data", data, width=gates.n_qubits, min_rows=2)
    y = (y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y))
    y = y.astype(np.float64)
    n = gates.n_qubits
    spins = 1 - 2 * y
    cov = np.cov(spins.T).reshape(n, n)
    np.fill_diagonal(cov, 0.0)
    total = float(np.square(cov).sum())
    scale = math.sqrt(2 * n / total) if total > 0 else 0.0
    theta = np.zeros(gates.n_gates)
    w = gates.weights
    single = w == 1
    theta[single] = np.arcsin(np.sqrt(y.mean(0)[gates.qubits[single, 0]]))
    pair = w == 2
    if pair.any():
        theta[pair] = cov[gates.qubits[pair, 0], gates.qubits[pair, 1]] * scale
    return torch.tensor(theta, dtype=dtype)
