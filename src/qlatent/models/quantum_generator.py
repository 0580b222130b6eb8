"""The patch quantum generator of Huang et al. (arXiv:2010.06201): a quantum circuit as a GAN
generator, trained by ``qlatent.train.fit`` against a classical critic like any other generator.

Notation:
    P sub-generators (``n_patches``), each a circuit on N qubits (``n_qubits``) of which the
    first N_A (``n_ancillas``, qubits 0..N_A-1) are ancillas; D = 2^(N - N_A) pixels per patch;
    out_dim = P D; L layers (``layers``); B batch size; z in R^N the generator's input.
    Bit order as :mod:`qlatent.quantum.qubits`: qubit 0 is the most significant bit, so the
    basis states with every ancilla 0 are indices 0..D-1, and index j < D is the data string j.

Sub-generator p (its own weights w_p, float[L, N]; the input z shared by all patches):

    |ψ_p(z)> = U_L ... U_1 (⊗_q RY(z_q)) |0...0>,   U_l = CZ-chain · ⊗_q RY(w_p[l, q]),

with the CZ chain CZ(0, 1) CZ(1, 2) ... CZ(N-2, N-1) after each rotation layer (the circuit of
Huang et al., Fig. 2). Measuring the ancillas and keeping the runs where they all read 0
(post-selection) leaves the conditional distribution of the data qubits,

    P_p(j | ancillas = 0) = |<0_A, j|ψ_p(z)>|^2 / sum_k |<0_A, k|ψ_p(z)>|^2,   j = 0..D-1,

whose dependence on z is non-linear (the renormalisation): the ancilla is what lets a patch
generator be more than a linear map of a fixed state. The pixel values are the conditional
probabilities rescaled by their largest value, per patch and per sample (the paper's
post-processing), so every patch has a pixel of value 1:

    x_p[j] = P_p(j | 0_A) / max_k P_p(k | 0_A) = |<0_A, j|ψ_p>|^2 / max_k |<0_A, k|ψ_p>|^2.

The image is the P patches side by side: pixel p D + j is x_p[j] (for 8 x 8 images and D = 16,
patch p fills rows 2p and 2p + 1, row-major).

The simulation is exact (probabilities, not shots) and batched: the P B circuits of a batch are
one state tensor of the simulator (patch-major), and autograd differentiates through it, in the
weights and in z.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from qlatent._validation import check_int
from qlatent.quantum.qubits import (
    apply_gate,
    basis_bits,
    check_n_qubits,
    cz,
    probabilities,
    ry,
    zero_state,
)

_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


class QuantumGenerator(nn.Module):
    """P post-selected patch circuits whose rescaled probabilities are an image (Huang et al.).

    See the module docstring for the circuit, the post-selection and the rescaling.

    Args:
        out_dim: the image's length in pixels; must equal n_patches x 2^(n_qubits - n_ancillas).
        n_patches: P >= 1 sub-generators (default 4, the paper's 8 x 8 digits).
        n_qubits: N qubits per sub-generator, ancillas included (default 5; at most
            ``qlatent.quantum.qubits.MAX_QUBITS``).
        n_ancillas: N_A in [0, N - 1] post-selected ancillas (default 1; 0: no post-selection,
            the pixels are the rescaled probabilities of all N qubits).
        layers: L >= 1 rotation + CZ layers (default 6).
        dtype: torch.float32 (complex64 states, the default, as the critic's float32) or
            torch.float64 (complex128; the gradient tests).
        generator: the ``torch.Generator`` the initial weights are drawn from, w ~ U[0, π)
            (``None``: torch's default generator).

    Attributes:
        weights: nn.Parameter float[P, L, N], the RY angles.
        in_dim: N, the length of z (one RY angle per qubit, shared by the patches; Huang et
            al. draw z ~ U[0, π/2)^N, ``latents.get("uniform", dim=N, high=pi/2)`` here).

    Shapes: ``forward(z: Tensor[B, N]) -> Tensor[B, out_dim]`` with values in [0, 1].
    """

    def __init__(self, out_dim: int, *, n_patches: int = 4, n_qubits: int = 5,
                 n_ancillas: int = 1, layers: int = 6, dtype: torch.dtype = torch.float32,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.n_qubits = check_n_qubits(n_qubits)
        if self.n_qubits < 2:
            raise ValueError(f"n_qubits must be >= 2 (one CZ at least), got {self.n_qubits}")
        self.n_ancillas = check_int("n_ancillas", n_ancillas, minimum=0,
                                    maximum=self.n_qubits - 1)
        self.n_patches = check_int("n_patches", n_patches, minimum=1)
        self.layers = check_int("layers", layers, minimum=1)
        self.patch_size = 1 << (self.n_qubits - self.n_ancillas)
        out_dim = check_int("out_dim", out_dim, minimum=1)
        if out_dim != self.n_patches * self.patch_size:
            raise ValueError(
                f"out_dim must be n_patches x 2^(n_qubits - n_ancillas) = {self.n_patches} x "
                f"2^({self.n_qubits} - {self.n_ancillas}) = {self.n_patches * self.patch_size},"
                f" got {out_dim}")
        self.out_dim = out_dim
        if dtype not in _COMPLEX:
            raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got "
                            f"{type(generator).__name__}")
        w = torch.rand(self.n_patches, self.layers, self.n_qubits, generator=generator,
                       dtype=torch.float64) * torch.pi
        self.weights = nn.Parameter(w.to(dtype))
        # The CZ chain's signs: (-1)^(number of neighbouring qubit pairs that are both 1).
        bits = basis_bits(self.n_qubits)
        pairs = (bits[:, :-1] * bits[:, 1:]).sum(1)
        self.register_buffer("_cz_signs", (1 - 2 * (pairs % 2)).to(dtype), persistent=False)

    @property
    def in_dim(self) -> int:
        return self.n_qubits

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments that fix the architecture (all but dtype, generator)."""
        return {"out_dim": self.out_dim, "n_patches": self.n_patches,
                "n_qubits": self.n_qubits, "n_ancillas": self.n_ancillas, "layers": self.layers}

    def _check_z(self, z: Any) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z must be a Tensor[B, {self.n_qubits}], got {type(z).__name__}")
        if z.dim() != 2 or z.shape[1] != self.n_qubits or z.shape[0] == 0:
            raise ValueError(f"z must have shape [B, {self.n_qubits}] (one angle per qubit, "
                             f"B >= 1), got {list(z.shape)}")
        if not z.dtype.is_floating_point:
            raise TypeError(f"z must be real floating point, got {z.dtype}")
        return z.to(self.weights.dtype)

    def joint_probabilities(self, z: torch.Tensor) -> torch.Tensor:
        """|<0_A, j|ψ_p(z)>|^2, the probability that the ancillas read 0 and the data qubits j:
        real Tensor[B, P, D] (differentiable; sums to P(ancillas = 0) <= 1 over j).

        RY and CZ are real, so the amplitudes are: the circuit runs in real arithmetic, each
        rotation layer as one 2^N x 2^N Kronecker product per patch (built for every layer and
        patch at once) applied to the whole batch by one batched product, the CZ chain as a
        sign vector. :meth:`simulated_joint_probabilities` is the same circuit gate by gate on
        :mod:`qlatent.quantum.qubits`, the reference the tests compare this with.
        """
        z = self._check_z(z)
        n, P, B, K = self.n_qubits, self.n_patches, z.shape[0], 1 << self.n_qubits
        half = self.weights / 2
        c, s = torch.cos(half), torch.sin(half)
        ry_ = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # [P,L,N,2,2]
        layer = ry_[:, :, 0]
        for q in range(1, n):  # layer ⊗ RY_q (qubit 0 the most significant)
            d = layer.shape[-1]
            layer = (layer[..., :, None, :, None] * ry_[:, :, q, None, :, None, :]).reshape(
                P, self.layers, 2 * d, 2 * d)
        zc, zs = torch.cos(z / 2), torch.sin(z / 2)  # RY(z_q)|0> = (cos z_q/2, sin z_q/2)
        state = torch.stack([zc[:, 0], zs[:, 0]], -1)
        for q in range(1, n):
            state = (state[:, :, None] * torch.stack([zc[:, q], zs[:, q]], -1)[:, None, :]
                     ).reshape(B, -1)
        state = state.T.expand(P, K, B)  # [P, K, B]: the same z for every patch
        signs = self._cz_signs.to(state.dtype)[:, None]
        for index in range(self.layers):
            state = signs * torch.bmm(layer[:, index], state)
        kept = state[:, :self.patch_size].square()  # ancillas (the leading bits) all 0
        return kept.permute(2, 0, 1)

    def simulated_joint_probabilities(self, z: torch.Tensor) -> torch.Tensor:
        """:meth:`joint_probabilities` computed gate by gate with :mod:`qlatent.quantum.qubits`
        (complex states, the P B circuits as one batch): the slow reference."""
        z = self._check_z(z)
        n, P, B = self.n_qubits, self.n_patches, z.shape[0]
        w = self.weights
        state = zero_state(n, batch=P * B, dtype=_COMPLEX[w.dtype], device=w.device)
        encode = ry(z).repeat(P, 1, 1, 1)  # [P B, N, 2, 2]: the same z for every patch
        for q in range(n):
            state = apply_gate(state, encode[:, q], q)
        gates = ry(w).repeat_interleave(B, dim=0)  # [P B, L, N, 2, 2]: patch p's B rows
        for layer in range(self.layers):
            for q in range(n):
                state = apply_gate(state, gates[:, layer, q], q)
            for q in range(n - 1):
                state = cz(state, q, q + 1)
        kept = probabilities(state)[:, :self.patch_size]
        return kept.reshape(P, B, self.patch_size).transpose(0, 1)

    def patch_probabilities(self, z: torch.Tensor) -> torch.Tensor:
        """The post-selected distributions P_p(j | ancillas = 0): real Tensor[B, P, D], each
        row summing to 1 (differentiable)."""
        joint = self.joint_probabilities(z)
        return joint / joint.sum(-1, keepdim=True).clamp_min(torch.finfo(joint.dtype).tiny)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The images: Tensor[B, out_dim], patch p's pixels P_p(j | 0_A) / max_k P_p(k | 0_A).

        (A patch whose ancillas can never read 0 would be 0/0; it is 0 instead.)
        """
        joint = self.joint_probabilities(z)
        top = joint.amax(-1, keepdim=True).clamp_min(torch.finfo(joint.dtype).tiny)
        return (joint / top).reshape(joint.shape[0], self.out_dim)

    def extra_repr(self) -> str:
        return (f"out_dim={self.out_dim}, n_patches={self.n_patches}, n_qubits={self.n_qubits},"
                f" n_ancillas={self.n_ancillas}, layers={self.layers}")
