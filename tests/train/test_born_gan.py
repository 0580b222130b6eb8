import numpy as np
import pytest
import torch

from qlatent.data import log_normal
from qlatent.metrics.discrete import ks_statistic, relative_entropy
from qlatent.models import MLP
from qlatent.quantum.qubits import LayeredAnsatz
from qlatent.train import fit_born_gan, near_uniform_weights


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _setup(seed, layers=2):
    born = near_uniform_weights(LayeredAnsatz(3, layers, entangler="ring"), rng=seed)
    D = MLP(3, 1, hidden=(50, 20), generator=_gen(seed))
    return born, D


def test_near_uniform_start():
    born = near_uniform_weights(LayeredAnsatz(3, 2), spread=0.0)
    torch.testing.assert_close(born.probabilities().detach(),
                               torch.full((8,), 1 / 8, dtype=torch.float64))
    p = near_uniform_weights(LayeredAnsatz(3, 2), rng=0).probabilities().detach()
    assert float((p - 1 / 8).abs().max()) < 0.05


def test_training_is_a_function_of_the_seed():
    rows = log_normal(3).sample(2000, generator=_gen(0))
    runs = []
    for seed in (0, 0, 1):
        born, D = _setup(0)
        start = born.probabilities().detach().clone()
        runs.append(fit_born_gan(born, D, rows, seed=seed, epochs=2, batch_size=500))
    assert runs[0].steps == 8 and [h["epoch"] for h in runs[0].history] == [1, 2]
    assert not torch.allclose(torch.tensor(runs[0].history[-1]["probabilities"],
                                           dtype=torch.float64), start)
    assert runs[0].history[-1]["probabilities"] == runs[1].history[-1]["probabilities"]
    assert runs[0].history[-1]["probabilities"] != runs[2].history[-1]["probabilities"]


@pytest.mark.slow
def test_learns_the_log_normal_at_zoufals_budget():
    # 20,000 samples, 20 epochs of batch 2,000: KS <= 0.1 on seeds 0-2 (measured 0.045, 0.067,
    # 0.038; seed 4 ends at 0.109, so the bound is not universal; see
    # results/zoo/zoufal_qgan), from KS 0.18-0.21 at the near-uniform start
    target = log_normal(3)
    for seed in (0, 1, 2):
        born, D = _setup(seed)
        rows = target.sample(20_000, generator=_gen(seed))
        result = fit_born_gan(born, D, rows, seed=seed)
        p = np.array(result.history[-1]["probabilities"])
        assert ks_statistic(p, target.probs) <= 0.1, seed
        assert relative_entropy(p, target.probs) <= 0.1, seed


def test_bad_input():
    born, D = _setup(0)
    rows = log_normal(3).sample(10, generator=_gen(0))
    with pytest.raises(ValueError, match=r"data must have shape \(B, 3\) with B >= 1, got "):
        fit_born_gan(born, D, np.zeros((10, 4)), seed=0)
    with pytest.raises(ValueError, match="data must hold only 0/1 values, got 2"):
        fit_born_gan(born, D, np.full((10, 3), 2), seed=0)
    with pytest.raises(TypeError, match="born must have `n_qubits` and `probabilities"):
        fit_born_gan(D, D, rows, seed=0)
    with pytest.raises(ValueError, match="epochs"):
        fit_born_gan(born, D, rows, seed=0, epochs=0)
    with pytest.raises(ValueError, match="lr_generator"):
        fit_born_gan(born, D, rows, seed=0, lr_generator=-1.0)
    with pytest.raises(ValueError, match="one logit per sample"):
        fit_born_gan(born, MLP(3, 2, hidden=(4,)), rows, seed=0)
    with pytest.raises(TypeError, match="LayeredAnsatz"):
        near_uniform_weights(D)


def test_trains_the_qubit_born_latent():
    import qlatent as ql

    born = ql.latents.get("born", kind="qubit", n_qubits=3, layers=1, seed=0)
    near_uniform_weights(born.ansatz, rng=0)
    start = born.probabilities().detach().clone()
    D = MLP(3, 1, hidden=(8,), generator=_gen(0))
    rows = log_normal(3).sample(200, generator=_gen(0))
    result = fit_born_gan(born, D, rows, seed=0, epochs=1,
                          batch_size=100)
    assert result.steps == 2
    assert not torch.equal(born.probabilities().detach(), start)
