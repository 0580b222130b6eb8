"""Qubit circuit Born machines: registry, exact log-probabilities against the NumPy reference,
samples against exact probabilities, normalisation, fits (KL and MMD, Adam and L-BFGS, exact and
shots) and bad input."""

import numpy as np
import pytest
import torch
from scipy import stats

from qlatent import latents
from qlatent.data import bars_and_stripes
from qlatent.latents.qubit_born import QubitBornLatent
from qlatent.metrics.kernels import exact_mmd2
from qlatent.quantum import qubits_reference as ref
from qlatent.train.likelihood import KL, LBFGS, MMD, Adam, LikelihoodConfig, fit_distribution

ALPHA = 1e-3  # chi-square level, fixed in advance


def bas(rows, cols):
    """Every bars-and-stripes image once (row-major, most significant bit first): int64 Tensor."""
    return torch.from_numpy(bars_and_stripes(rows, cols).data.astype(np.int64))


def _valid_fraction(model, patterns):
    with torch.no_grad():
        states, p = model.output_distribution()
    valid = {tuple(r) for r in patterns.tolist()}
    mask = torch.tensor([tuple(s) in valid for s in states.tolist()])
    return float(p[mask].sum())


def test_registry_builds_a_qubit_born_machine():
    born = latents.get("born", kind="qubit", n_qubits=5, layers=3, seed=0)
    assert isinstance(born, QubitBornLatent) and born.dim == 5 and born.kind == "qubit"
    assert sum(p.numel() for p in born.parameters()) == 4 * 5 * 3
    again = latents.get("born", kind="qubit", dim=5, layers=3, seed=0)
    assert torch.equal(born.ansatz.weights, again.ansatz.weights)
    assert born.ansatz.edges == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)]
    data = bas(2, 2)
    tree = latents.get("born", kind="qubit", n_qubits=4, layers=1, entangler="chow-liu",
                       data=data, seed=1)
    assert len(tree.ansatz.edges) == 3
    latents.validate("born", kind="qubit", n_qubits=9, layers=10, entangler="all")
    # the photonic kinds still work as before
    assert latents.get("born", dim=4, seed=0).n_photons == 2


def test_log_prob_is_the_reference_probability():
    born = latents.get("born", kind="qubit", n_qubits=4, layers=2, entangler="all", seed=3,
                       normalize="none")
    want = ref.layered_ansatz_probabilities(born.ansatz.weights.detach().numpy(),
                                            born.ansatz.edges)
    x = torch.from_numpy(ref.bits(4))
    np.testing.assert_allclose(born.log_prob(x).exp().detach().numpy(), want, atol=1e-12)
    np.testing.assert_allclose(born.log_prob(x.float()).exp().detach().numpy(), want,
                               atol=1e-12)
    assert float(born.log_prob(x).detach().exp().sum()) == pytest.approx(1.0, abs=1e-12)


def test_samples_follow_the_exact_distribution_and_normalisation():
    born = latents.get("born", kind="qubit", n_qubits=4, layers=3, seed=2, normalize="none")
    n = 30_000
    x = born.sample_counts(n, generator=torch.Generator().manual_seed(0))
    states, p = born.output_distribution()
    index = (x * torch.tensor([8, 4, 2, 1])).sum(1)
    freq = np.bincount(index.numpy(), minlength=16)
    assert stats.chisquare(freq, p.detach().numpy() * n).pvalue > ALPHA
    raw = born.sample(n, generator=torch.Generator().manual_seed(0))
    assert torch.equal(raw, x.float())
    std = latents.get("born", kind="qubit", n_qubits=4, layers=3, seed=2,
                      normalize="standardize")
    mean = (p[:, None] * states).sum(0).detach()
    torch.testing.assert_close(std.shift.double() if hasattr(std, "shift") else
                               std._constants()[0].double(), mean, atol=1e-6, rtol=0)
    z = std.sample(n, generator=torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(z, (x - mean) / (mean * (1 - mean)).sqrt(), atol=1e-5, rtol=0)


def test_lbfgs_on_exact_kl_learns_bars_and_stripes_2x2():
    data = bas(2, 2)
    born = latents.get("born", kind="qubit", n_qubits=4, layers=3, entangler="all", seed=1)
    before = _valid_fraction(born, data)
    fit = fit_distribution(born, data, LikelihoodConfig(steps=40, loss=KL(), optimizer=LBFGS(),
                                                        log_every=20), seed=0)
    assert _valid_fraction(born, data) > 0.99 > before
    assert fit.history[-1]["loss"] < 0.01  # KL(q || p) in nats, q uniform on the 6 patterns


@pytest.mark.parametrize("side,optimizer,steps", [("exact", "lbfgs", 40), ("exact", "adam", 150),
                                                  ("shots", "adam", 150)])
def test_mmd_fits_reduce_the_exact_mmd(side, optimizer, steps):
    data = bas(2, 2)
    born = latents.get("born", kind="qubit", n_qubits=4, layers=2, entangler="chow-liu",
                       data=data, seed=4)
    states, _ = born.output_distribution()
    q = torch.zeros(16, dtype=torch.float64)
    q[(data * torch.tensor([8, 4, 2, 1])).sum(1)] = 1 / 6

    def mmd():
        with torch.no_grad():
            return float(exact_mmd2(states, born.output_distribution()[1], q))

    before = mmd()
    config = LikelihoodConfig(steps=steps, loss=MMD(model_side=side, n_model_samples=500),
                              optimizer=LBFGS() if optimizer == "lbfgs" else Adam(lr=0.1))
    fit_distribution(born, data, config, seed=1)
    assert mmd() < before / 4


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"n_qubits must be <= 16, got 30 .*16 GiB"):
        latents.get("born", kind="qubit", n_qubits=30)
    with pytest.raises(ValueError, match=r"n_qubits must be <= 16, got 30 .*16 GiB"):
        latents.validate("born", kind="qubit", n_qubits=30)
    with pytest.raises(ValueError, match="circuit, n_photons do not apply to kind='qubit'"):
        latents.get("born", kind="qubit", n_qubits=3, circuit="mesh", n_photons=2)
    with pytest.raises(ValueError, match="layers, entangler apply to kind='qubit' only"):
        latents.get("born", dim=4, layers=2, entangler="ring")
    with pytest.raises(ValueError, match="dim must equal n_qubits"):
        latents.get("born", kind="qubit", dim=4, n_qubits=5)
    with pytest.raises(ValueError, match="needs data"):
        latents.get("born", kind="qubit", n_qubits=4, entangler="chow-liu")
    with pytest.raises(ValueError, match="entangler must be one of 'ring', 'all', 'chow-liu'"):
        latents.validate("born", kind="qubit", n_qubits=4, entangler="tree")
    born = latents.get("born", kind="qubit", n_qubits=4, layers=1, seed=0)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 4\) with B >= 1, got \(2, 3\)"):
        born.log_prob(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="x must hold only 0/1 values, got 2"):
        born.log_prob(torch.tensor([[0, 1, 2, 0]]))
    with pytest.raises(ValueError,
                       match="data must have 4 columns .the model's dim., got shape .[0-9]*, 5."):
        fit_distribution(born, torch.zeros(3, 5, dtype=torch.long), LikelihoodConfig(steps=1),
                         seed=0)
    with pytest.raises(ValueError, match="data must hold only 0/1 values, got 3"):
        fit_distribution(born, torch.tensor([[0, 1, 3, 0]]), LikelihoodConfig(steps=1), seed=0)
    with pytest.raises(ValueError, match="bandwidths must be"):
        MMD(bandwidths=(1.0, 0.0))
    with pytest.raises(ValueError, match="weights must have shape"):
        born.ansatz.probabilities(torch.zeros(3, 4, 3, dtype=torch.float64))
