"""The IQP Born machine latent: exact log_prob and samples up to 20 qubits, a one-line error
beyond, exact moments at any size; its registry entry."""

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from qlatent import latents
from qlatent.latents import IQPBornLatent
from qlatent.quantum import iqp, qubits
from qlatent.quantum import iqp_reference as ref


def test_log_prob_is_the_exact_distribution():
    latent = latents.get("born", kind="iqp", n_qubits=5, gates="local", seed=1)
    assert isinstance(latent, IQPBornLatent) and latent.theta.numel() == 15
    states = qubits.basis_bits(5)
    p = latent.log_prob(states).exp()
    expected = np.abs(ref.circuit_state(latent.theta.detach().numpy(),
                                        latent.gates.lists(), 5)) ** 2
    assert np.allclose(p.detach().numpy(), expected, atol=1e-12)
    p.sum().backward()                                           # differentiable
    assert latent.theta.grad is not None


def test_samples_follow_the_probabilities():
    """Chi-square over every outcome with expected count >= 5, alpha = 1e-3 fixed in advance."""
    latent = latents.get("born", kind="iqp", n_qubits=4, gates="line", seed=2, normalize="none")
    N = 40_000
    x = latent.sample(N, generator=torch.Generator().manual_seed(0)).long()
    counts = np.bincount(qubits.bits_to_index(x).numpy(), minlength=16)
    p = latent.probabilities().detach().numpy()
    keep = N * p >= 5
    stat = ((counts[keep] - N * p[keep]) ** 2 / (N * p[keep])).sum()
    assert stat < chi2.ppf(1 - 1e-3, keep.sum() - 1)


def test_beyond_twenty_qubits_one_line_error_but_exact_moments():
    latent = latents.get("born", kind="iqp", n_qubits=1024, gates="lattice", seed=3)
    with pytest.raises(ValueError, match=r"^sample of an IQP latent needs n_qubits <= 20 .* got "
                                         r"1024; train it by MMD\^2"):
        latent.sample(3)
    with pytest.raises(ValueError, match="log_prob of an IQP latent needs n_qubits <= 20"):
        latent.log_prob(torch.zeros(1, 1024))
    mean, var = latent.moments()
    ops = torch.zeros(3, 1024, dtype=torch.uint8)
    ops[0, 0] = ops[1, 500] = ops[2, 1023] = 1
    est, se = iqp.expval_estimate(latent.theta.detach(), latent.gates, ops, 20_000,
                                  generator=torch.Generator().manual_seed(1))
    assert torch.all((((1 - est) / 2 - mean[[0, 500, 1023]]) / (se / 2)).abs() < 4)


def test_data_initialisation_and_registry_errors():
    data = np.array([[0, 1, 1], [1, 1, 0], [0, 1, 0], [1, 1, 1]])
    latent = latents.get("born", kind="iqp", dim=3, data=data, normalize="none")
    assert torch.allclose(latent.moments()[0].float(), torch.tensor(data.mean(0)).float())
    with pytest.raises(ValueError, match="gates applies to kind=.iqp. or .bitflip. only"):
        latents.get("born", dim=4, gates="line")
    with pytest.raises(ValueError, match="layers do.*not apply to kind='iqp'"):
        latents.get("born", kind="iqp", n_qubits=4, layers=2)
    with pytest.raises(ValueError, match="gates must be one of"):
        latents.validate("born", kind="iqp", n_qubits=4, gates="ring")
    latents.validate("born", kind="iqp", n_qubits=9, gates="lattice")


def test_bitflip_kind_samples_at_any_size_and_matches_its_distribution():
    small = latents.get("born", kind="bitflip", n_qubits=5, gates="line", seed=4)
    assert small.kind == "bitflip"
    p = small.log_prob(qubits.basis_bits(5)).exp().detach().numpy()
    theta = small.theta.detach().numpy()
    assert np.allclose(p, ref.bitflip_probabilities(theta, small.gates.lists(), 5), atol=1e-12)
    big = latents.get("born", kind="bitflip", n_qubits=256, gates="lattice", seed=5,
                      normalize="none")
    x = big.sample(500, generator=torch.Generator().manual_seed(0))
    assert x.shape == (500, 256) and set(x.unique().tolist()) <= {0.0, 1.0}
    mean, _ = big.moments()
    z = (x.double().mean(0) - mean) / torch.sqrt(mean * (1 - mean) / 500).clamp_min(1e-9)
    assert z.abs().max() < 5                                    # 256 coordinates
