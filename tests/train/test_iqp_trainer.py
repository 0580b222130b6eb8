"""Training IQP circuits by MMD^2 on the loop skeleton: it learns, it resumes bit-identical."""

import json

import numpy as np
import pytest
import torch

from qlatent.data import bars_and_stripes
from qlatent.quantum import iqp
from qlatent.quantum import iqp_reference as ref
from qlatent.quantum.iqp_gates import local_gates
from qlatent.train.iqp import IQPConfig, fit_iqp


@pytest.fixture(scope="module")
def bas():
    return bars_and_stripes(2, 3).data                      # 10 patterns on 6 bits


@pytest.mark.parametrize("model, init, factor", [("iqp", "data", 0.5),
                                                  ("bitflip", "uniform", 0.7)])
def test_training_lowers_the_exact_mmd2(bas, model, init, factor):
    """(The bit-flip model starts from uniform angles: on data with marginals 1/2 the data's
    single-gate angles are π/4, where each bit is flipped with probability 1/2, the model is
    the uniform distribution and every gradient vanishes.)"""
    gates = local_gates(6)
    config = IQPConfig(steps=60, lr=0.05, n_ops=200, n_samples=200, sigma=1.0, model=model,
                       init=init, dtype="float64", log_every=20)
    probs = iqp.probabilities if model == "iqp" else iqp.bitflip_probabilities
    start = (iqp.init_from_data(gates, bas, dtype=torch.float64) if init == "data" else
             (2 * torch.rand(gates.n_gates, generator=torch.Generator().manual_seed(0),
                             dtype=torch.float64) - 1) * torch.pi)
    # MMD^2 to the empirical distribution (V-statistic, >= 0, 0 at p = data): the unbiased
    # U-form of the estimator minus the data's diagonal correction, which does not depend on θ
    y = bas.astype(int)
    kyy = np.exp(-np.abs(y[:, None] - y[None]).sum(-1) / 2.0)
    M = len(y)
    shift = kyy.sum() / M**2 - (kyy.sum() - np.trace(kyy)) / (M * (M - 1))
    before = ref.mmd2_u(probs(start, gates).numpy(), bas, 1.0) + shift
    theta, result = fit_iqp(gates, bas, config, seed=0)
    after = ref.mmd2_u(probs(theta, gates).numpy(), bas, 1.0) + shift
    assert 0 <= after < factor * before
    assert [row["step"] for row in result.history] == [20, 40, 60]
    assert result.extra["sigma"] == 1.0


def test_resume_is_bit_identical(tmp_path, bas):
    gates = local_gates(6)
    config = IQPConfig(steps=8, lr=0.05, n_ops=50, n_samples=40, checkpoint_every=4,
                       log_every=2)
    whole, _ = fit_iqp(gates, bas, config, seed=3, run_dir=tmp_path / "whole")
    fit_iqp(gates, bas, config.replace(steps=4), seed=3, run_dir=tmp_path / "split")
    resumed, result = fit_iqp(gates, bas, config, seed=3, run_dir=tmp_path / "split")
    assert result.resumed_from == 4
    assert torch.equal(whole, resumed)
    log = (tmp_path / "split" / "log.jsonl").read_text()
    rows = [json.loads(line) for line in log.splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6, 8]


def test_config_and_input_errors(bas):
    with pytest.raises(ValueError, match="n_ops must be a multiple of n_groups = 3"):
        IQPConfig(n_ops=10, n_groups=3)
    with pytest.raises(ValueError, match="model"):
        IQPConfig(model="classical")
    with pytest.raises(ValueError, match=r"data must have shape \(B, 5\)"):
        fit_iqp(local_gates(5), bas, IQPConfig(steps=1), seed=0)


def test_median_heuristic_is_used_by_default(bas):
    theta, result = fit_iqp(local_gates(6), bas, IQPConfig(steps=1, n_ops=10, n_samples=10),
                            seed=0)
    assert result.extra["sigma"] == pytest.approx(iqp.median_bandwidth(bas, rng=0))
    assert theta.dtype == torch.float32 and np.isfinite(theta.numpy()).all()
