"""The zoo at scale (task ``zoo-scale``, issue 21): the IQP-at-scale path end to end on a tiny
problem, the two ways of scoring held-out MMD^2 (the IQP estimator and model samples) against
each other and against an exact sum, Holm's correction, and the checks a config gets before
anything is written."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch

from qlatent.experiments.config import ExperimentConfig
from qlatent.experiments.stats import holm
from qlatent.metrics.kernels import mmd2, mmd2_by_groups
from qlatent.quantum import iqp
from qlatent.quantum.iqp_gates import lattice_gates

FAMILIES = {
    "iqp": {"latent": "born", "kind": "iqp", "gates": "lattice",
            "fit": {"loss": "mmd-estimator", "steps": 3, "n_ops": 60, "n_samples": 50,
                    "log_every": 1, "checkpoint_every": 2}},
    "bitflip": {"latent": "born", "kind": "bitflip", "gates": "lattice",
                "fit": {"loss": "mmd-estimator", "steps": 3, "n_ops": 60}},
    "rbm": {"latent": "rbm", "n_hidden": 3,
            "fit": {"loss": "pcd", "steps": 3, "batch_size": 20, "n_chains": 8}},
    "made": {"latent": "made", "hidden_sizes": [8], "fit": {"steps": 3, "batch_size": 20}},
    "bernoulli": {"latent": "bernoulli_fit", "fit": {"steps": 3, "batch_size": 20}},
}
TASK = {"ising_sides": [4], "n_train": 60, "n_held_out": 50, "n_eval": 400,
        "eval_ops": 400, "eval_strings": 200, "eval_groups": 10}


def _config(families=FAMILIES, task=TASK, datasets=("ising4",)) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "experiment": {"task": "zoo-scale", "datasets": list(datasets),
                       "latents": list(families), "seeds": [0]},
        "latent_params": families, "task": task})


def _exact_mmd2(states, p, held_out, sigma) -> float:
    """E_{x, x' ~ p} k - (2/M) sum_m E_x k(x, y_m) + U-statistic of the held-out rows, by
    explicit sums over the states (k = exp(-Hamming / (2 σ^2)))."""
    def k(a, b):
        return np.exp(-np.abs(a[:, None, :] - b[None, :, :]).sum(-1) / (2 * sigma**2))
    y = held_out.astype(np.float64)
    kyy = k(y, y)
    M = len(y)
    return float(p @ k(states, states) @ p - 2 * (p @ k(states, y)).mean()
                 + (kyy.sum() - np.trace(kyy)) / (M * (M - 1)))


# --------------------------------------------------------------------------- end to end
def test_the_scale_zoo_trains_scores_and_reports_every_family_on_a_tiny_problem(tmp_path):
    from rich.console import Console

    import qlatent as ql
    from qlatent.experiments.executors import run_experiment
    from qlatent.experiments.report import build_report

    families = {k: FAMILIES[k] for k in ("iqp", "bitflip", "rbm")}  # the new trainers
    config = _config(families)
    records = run_experiment(config, tmp_path, console=Console(quiet=True), progress=False)
    assert len(records) == len(families)
    by = {r.cell.latent: r.metrics for r in records}
    for family, m in by.items():
        assert math.isfinite(m["held_out_mmd"]) and m["held_out_mmd_se"] > 0, family
    # the IQP circuit (16 qubits) is scored both ways, and they agree within the errors
    m = by["iqp"]
    gap = abs(m["held_out_mmd"] - m["held_out_mmd_samples"])
    assert gap < 4 * math.hypot(m["held_out_mmd_se"], m["held_out_mmd_samples_se"])
    assert math.isnan(by["rbm"]["held_out_mmd_samples"])
    # the trained angles are in the checkpoint, and the cell reloads them
    cell = tmp_path / "ising4" / "iqp" / "seed-0"
    assert [json.loads(line)["step"] for line in (cell / "log.jsonl").read_text().splitlines()] \
        == [1, 2, 3]
    run = ql.load_run(cell)
    state = torch.load(cell / "checkpoint.pt", weights_only=True)
    assert run.finished and torch.equal(run.latent.theta, state["theta"].double())
    assert run.sample(5, seed=0).shape == (5, 16)
    # the report: the data set's bandwidth and the Holm-corrected IQP comparisons
    text = build_report(tmp_path)[0]
    sigma = iqp.median_bandwidth(_train_rows(config), rng=0)
    assert f"| ising4 | 16 | 60 | 50 | {sigma:.3f} |" in text
    assert "| iqp − rbm | 1 |" in text and "| iqp − bitflip | 1 |" in text and "Holm" in text
    p = config.task_params  # the opening paragraph says how each family is scored
    assert (f"an IQP circuit by its sample-free estimator ({p.eval_ops:,} operators" in text
            and f"every other family on {p.n_eval:,} samples" in text)
    assert (tmp_path / "iqp_tests.csv").read_text().count("\n") == 1 + 2
    assert (tmp_path / "mmd_vs_bits.png").is_file()


def _train_rows(config):
    from qlatent.experiments.tasks.zoo_scale import scale_dataset

    return scale_dataset("ising4", config.task_params).data


def test_a_killed_iqp_cell_resumes_to_the_uninterrupted_metrics(tmp_path, monkeypatch):
    """Stopped at step 3 of 3 (checkpoints every 2 steps) and rerun, an IQP cell resumes from
    step 2 and ends with the angles and metrics of an uninterrupted run."""
    from rich.console import Console

    from qlatent.experiments.executors import run_experiment
    from qlatent.train.iqp import IQPTrainer

    config = _config({"iqp": FAMILIES["iqp"]}, datasets=("ising4",))
    whole = run_experiment(config, tmp_path / "a", console=Console(quiet=True), progress=False)
    step = IQPTrainer.step

    def stop_at_3(self, n):
        if n == 3:
            raise KeyboardInterrupt  # as a kill: nothing after the last checkpoint is kept
        return step(self, n)

    monkeypatch.setattr(IQPTrainer, "step", stop_at_3)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, tmp_path / "b", console=Console(quiet=True), progress=False)
    monkeypatch.setattr(IQPTrainer, "step", step)
    resumed = run_experiment(config, tmp_path / "b", console=Console(quiet=True),
                             progress=False)
    cell = tmp_path / "b" / "ising4" / "iqp" / "seed-0"
    assert json.loads((cell / "metrics.json").read_text())["resumed_from"] == 2
    assert [r.metrics for r in resumed] == [r.metrics for r in whole]


# --------------------------------------------------------------------------- the two scorings
@pytest.mark.parametrize("n_qubits", [4, 9])
def test_estimator_and_sample_mmd2_agree_with_the_exact_value(n_qubits):
    """At <= 12 qubits: the IQP estimator, the samples' grouped U-statistic and the exact sum
    over all 2^n states agree within 4 standard errors (α fixed in advance)."""
    side = int(math.isqrt(n_qubits))
    gates = lattice_gates(side, side)
    gen = torch.Generator().manual_seed(n_qubits)
    theta = (torch.rand(gates.n_gates, generator=gen, dtype=torch.float64) - 0.5) * 1.5
    rng = np.random.default_rng(n_qubits)
    held_out = (rng.random((300, n_qubits)) < 0.3).astype(np.uint8)
    sigma = iqp.median_bandwidth(held_out, rng=0)
    probs = iqp.probabilities(theta, gates).numpy()
    states = np.array(list(itertools.product((0, 1), repeat=n_qubits)), dtype=np.float64)
    exact = _exact_mmd2(states, probs, held_out, sigma)
    est, se = iqp.mmd2_estimate(theta, gates, held_out, sigma=sigma, n_ops=4000,
                                n_samples=400, n_groups=20, generator=gen)
    x = states[rng.choice(len(states), size=4000, p=probs / probs.sum())]
    by_samples, se_samples = mmd2_by_groups(x, held_out, sigma, 20)
    assert abs(float(est) - exact) < 4 * se
    assert abs(by_samples - exact) < 4 * se_samples
    assert abs(float(est) - by_samples) < 4 * math.hypot(se, se_samples)
    assert exact > 10 * max(se, se_samples)  # a test that can fail: the value is resolved


def test_mmd2_by_groups_is_the_mean_of_the_groups_u_statistics():
    rng = np.random.default_rng(0)
    x = (rng.random((40, 6)) < 0.4).astype(np.uint8)
    y = (rng.random((25, 6)) < 0.6).astype(np.uint8)
    value, se = mmd2_by_groups(x, y, 1.5, 4)
    groups = [mmd2(x[r * 10:(r + 1) * 10], y, [1.5]) for r in range(4)]
    assert value == pytest.approx(np.mean(groups), rel=1e-12)
    assert se == pytest.approx(np.std(groups, ddof=1) / 2, rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 rows per group"):
        mmd2_by_groups(x[:7], y, 1.5, 4)


def test_holm_adjusts_step_down_and_keeps_nan():
    # sorted 0.01, 0.03, 0.04 (m = 3): 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 1 x 0.04)
    assert holm([0.04, 0.01, 0.03, math.nan])[:3] == pytest.approx([0.06, 0.03, 0.06])
    assert math.isnan(holm([0.04, 0.01, 0.03, math.nan])[3])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("family, message", [
    ({"latent": "made", "fit": {"steps": 2, "loss": "mmd-estimator"}},
     "fit.loss = 'mmd-estimator' trains an IQP circuit"),
    ({"latent": "born", "kind": "iqp", "gates": "lattice", "fit": {"steps": 2, "loss": "pcd"}},
     "fit.loss = 'pcd' trains a restricted Boltzmann machine"),
    ({"latent": "born", "kind": "iqp", "gates": "lattice", "fit": {"steps": 2}},
     "needs the IQP latent's exact probabilities (n_qubits <= 20), got n_qubits = 25"),
    ({"latent": "made", "fit": {"steps": 2, "n_ops": 10}},
     "fit.n_ops applies to loss = 'mmd-estimator' only"),
    ({"latent": "rbm", "fit": {"steps": 2, "loss": "pcd", "optimizer": "lbfgs"}},
     "optimizer = 'lbfgs' needs an exact loss"),
    ({"latent": "born", "kind": "iqp", "gates": "lattice",
      "fit": {"steps": 2, "loss": "mmd-estimator", "n_ops": 400_000, "n_samples": 1000}},
     "more than qlatent.quantum.iqp.MAX_BYTES"),
    ({"train": "adversarial"}, "every family has train = 'likelihood'"),
])
def test_bad_scale_families_are_refused_in_one_line(family, message):
    with pytest.raises((ValueError, TypeError)) as err:
        _config({"fam": family}, task={**TASK, "ising_sides": [5]}, datasets=("ising5",))
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "latent_params.fam" in str(err.value)


@pytest.mark.parametrize("task, datasets, message", [
    ({"eval_ops": 401}, ("ising4",), "task.eval_ops must be a multiple of task.eval_groups"),
    ({"n_train": 1796}, ("ising4",), "task.n_train must be <= 1795"),
    ({}, ("ising12",), "ising12"),
])
def test_bad_scale_task_tables_are_refused(task, datasets, message):
    with pytest.raises(ValueError) as err:
        _config({"bernoulli": FAMILIES["bernoulli"]}, task={**TASK, **task}, datasets=datasets)
    assert message in str(err.value)


def test_the_sample_scored_zoo_refuses_an_iqp_circuit_it_cannot_sample():
    config = {"experiment": {"task": "zoo", "datasets": ["digits"], "latents": ["iqp"],
                             "seeds": 1},
              "latent_params": {"iqp": {"latent": "born", "kind": "iqp", "gates": "lattice",
                                        "fit": {"steps": 2, "loss": "mmd-estimator"}}}}
    with pytest.raises(ValueError, match="the zoo scores samples, and an IQP circuit samples up "
                                         "to n_qubits = 20, got 64; run it with task = "
                                         "'zoo-scale'"):
        ExperimentConfig.from_dict(config)
