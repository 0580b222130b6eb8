import numpy as np
import pytest
import torch

from qlatent.data import log_normal
from qlatent.metrics.discrete import ks_statistic, relative_entropy
from qlatent.models import MLP
from qlatent.quantum.qubits import LayeredAnsatz
from qlatent.train import BornGANConfig, fit_born_gan, near_uniform_weights


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
        runs.append(fit_born_gan(born, D, rows, BornGANConfig(steps=8, batch_size=500,
                                                               log_every=4), seed=seed))
        assert runs[-1].extra["probabilities"][-1] == born.probabilities().tolist()
    assert runs[0].steps == 8 and [h["step"] for h in runs[0].history] == [4, 8]
    assert not torch.allclose(torch.tensor(runs[0].extra["probabilities"][-1],
                                           dtype=torch.float64), start)
    assert runs[0].extra["probabilities"] == runs[1].extra["probabilities"]
    assert runs[0].extra["probabilities"][-1] != runs[2].extra["probabilities"][-1]


@pytest.mark.slow
def test_learns_the_log_normal_at_zoufals_budget():
    # 20,000 samples, 20 epochs of batch 2,000: KS <= 0.1 on seeds 0-2 (measured 0.045, 0.067,
    # 0.038; seed 4 ends at 0.109, so the bound is not universal; see
    # results/zoo/zoufal_qgan), from KS 0.18-0.21 at the near-uniform start
    target = log_normal(3)
    for seed in (0, 1, 2):
        born, D = _setup(seed)
        rows = target.sample(20_000, generator=_gen(seed))
        result = fit_born_gan(born, D, rows, BornGANConfig(steps=200, log_every=10), seed=seed)
        p = np.array(result.extra["probabilities"][-1])
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
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        BornGANConfig(steps=0)
    with pytest.raises(ValueError, match="lr_generator must be >= 0.0, got -1.0"):
        BornGANConfig(lr_generator=-1.0)
    with pytest.raises(ValueError, match="betas must hold two numbers"):
        BornGANConfig(betas=(0.9,))
    with pytest.raises(TypeError, match="config must be a BornGANConfig, got dict"):
        fit_born_gan(born, D, rows, {"steps": 1}, seed=0)
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
    result = fit_born_gan(born, D, rows, BornGANConfig(steps=2, batch_size=100), seed=0)
    assert result.steps == 2
    assert not torch.equal(born.probabilities().detach(), start)


class Stop(Exception):
    pass


def test_resume_is_bit_identical(tmp_path):
    """Stopped by a callback after step 7 (checkpoints every 3 steps: resumes from 6) and run
    again from fresh modules on the same run directory: the final Born machine, discriminator,
    log and probability curve equal an uninterrupted run's exactly. 150 rows in batches of 40
    (the last batch of a pass has 30 rows), so the stop falls inside an epoch."""
    rows = log_normal(3).sample(150, generator=_gen(0))
    config = BornGANConfig(steps=12, batch_size=40, log_every=2, checkpoint_every=3)
    born, D = _setup(0)
    whole = fit_born_gan(born, D, rows, config, seed=3, run_dir=tmp_path / "a")

    def stop(step, info):
        if step == 7:
            raise Stop

    with pytest.raises(Stop):
        fit_born_gan(*_setup(0), rows, config, seed=3, run_dir=tmp_path / "b", callbacks=[stop])
    born2, D2 = _setup(0)
    again = fit_born_gan(born2, D2, rows, config, seed=3, run_dir=tmp_path / "b")
    assert again.resumed_from == 6
    for a, b in zip([*born.parameters(), *D.parameters()], [*born2.parameters(),
                                                           *D2.parameters()], strict=True):
        assert torch.equal(a, b)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in whole.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in again.history] == strip
    assert again.extra["probabilities"] == whole.extra["probabilities"]
    with pytest.raises(ValueError, match="was written with seed 3, not 4"):
        fit_born_gan(born2, D2, rows, config, seed=4, run_dir=tmp_path / "b")
