"""The zoo task: the installed CLI end to end on configs/zoo/quick.toml (cell directories,
one cell's metrics recomputed from its samples.npy without qlatent, resume after a kill), and
the checks a zoo config gets before anything is written."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

# One worker builds this module's shared fixture once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("finished_zoo")

ROOT = Path(__file__).resolve().parents[2]
QLATENT = Path(sys.executable).parent / "qlatent"
QUICK = ROOT / "configs" / "zoo" / "quick.toml"


def _run(*args, timeout=600):
    return subprocess.run([str(QLATENT), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


# --------------------------------------------------------------------------- independent maths
def _bas_patterns(rows: int, cols: int) -> set[tuple[int, ...]]:
    """Every bars-and-stripes image, written out pixel by pixel (no qlatent)."""
    out = set()
    for bits in itertools.product((0, 1), repeat=rows):  # stripes: each row constant
        out.add(tuple(bits[r] for r in range(rows) for _ in range(cols)))
    for bits in itertools.product((0, 1), repeat=cols):  # bars: each column constant
        out.add(tuple(bits[c] for _ in range(rows) for c in range(cols)))
    return out


def _mmd_v(p: dict, q: dict, bandwidths) -> float:
    """(p - q)^T K (p - q) with k(x, y) = mean_l exp(-|x - y|^2 / (2 σ_l^2)), by a double
    loop over the union of supports."""
    states = sorted(set(p) | set(q))
    d = np.array([p.get(s, 0.0) - q.get(s, 0.0) for s in states])
    x = np.array(states, dtype=float)
    total = 0.0
    for i in range(len(states)):
        for j in range(len(states)):
            h = float(((x[i] - x[j]) ** 2).sum())
            k = np.mean([math.exp(-h / (2 * s * s)) for s in bandwidths])
            total += d[i] * d[j] * k
    return total


# --------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_quick_zoo_runs_end_to_end_resumes_and_its_metrics_recompute(tmp_path):
    out = tmp_path / "zoo"
    config = tomllib.loads(QUICK.read_text())
    seeds = range(config["experiment"]["seeds"])
    # 1) start, kill as soon as the first cell is done: a killed grid
    proc = subprocess.Popen([str(QLATENT), "run", str(QUICK), "--out", str(out),
                             "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not list(out.glob("*/*/seed-*/metrics.json")):
            assert proc.poll() is None, "qlatent run ended before finishing a cell"
            assert time.monotonic() < deadline, "no cell finished in 300 s"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
    first = {p: p.read_bytes() for p in out.glob("*/*/seed-*/metrics.json")}
    assert first
    # 2) rerun: the done cells are skipped (and untouched), the rest run
    done = _run("run", QUICK, "--out", out, "--no-progress")
    assert done.returncode == 0, done.stderr + done.stdout
    assert done.stdout.count("done, skipped") >= len(first)
    for path, text in first.items():
        assert path.read_bytes() == text
    # 3) every applicable cell has its directory, samples and metrics
    expected = [f"{ds}/{fam}/seed-{s}" for ds in config["experiment"]["datasets"]
                for fam in config["experiment"]["latents"] for s in seeds]
    for key in expected:
        cell = out / key
        assert (cell / "metrics.json").is_file(), key
        x = np.load(cell / "samples.npy", allow_pickle=False)
        assert x.dtype == np.uint8 and x.shape == (config["task"]["n_eval"],
                                                    4 if key.startswith("bas") else 6)
        assert (cell / "config.toml").is_file() and (cell / "environment.json").is_file()
    again = _run("run", QUICK, "--out", out, "--no-progress")
    assert again.returncode == 0 and again.stdout.count("done, skipped") == len(expected)
    # 4) one cell's metrics from its samples alone, computed here without qlatent
    cell = out / "bas" / "made" / "seed-1"
    record = json.loads((cell / "metrics.json").read_text())
    x = np.load(cell / "samples.npy", allow_pickle=False)
    patterns = _bas_patterns(2, 2)
    assert len(patterns) == 6
    rows = [tuple(int(v) for v in r) for r in x]
    counts: dict[tuple, int] = {}
    for r in rows:
        counts[r] = counts.get(r, 0) + 1
    q = {s: c / len(rows) for s, c in counts.items()}
    p = {s: 1 / len(patterns) for s in patterns}
    tvd = 0.5 * sum(abs(p.get(s, 0) - q.get(s, 0)) for s in set(p) | set(q))
    kl = sum(p[s] * math.log(p[s] / max(q.get(s, 0.0), 1e-12)) for s in p)
    valid = sum(c for s, c in counts.items() if s in patterns) / len(rows)
    hit = sum(1 for s in patterns if s in counts) / len(patterns)
    f1 = 2 * valid * hit / (valid + hit) if valid + hit else 0.0
    metrics = record["metrics"]
    assert metrics["total_variation"] == pytest.approx(tvd, abs=1e-12)
    assert metrics["kl_divergence"] == pytest.approx(kl, abs=1e-9)
    assert metrics["valid_fraction"] == pytest.approx(valid, abs=1e-12)
    assert metrics["qbas_score"] == pytest.approx(f1, abs=1e-12)
    assert metrics["exact_mmd"] == pytest.approx(_mmd_v(p, q, (0.5, 1.0, 2.0, 4.0)),
                                                 rel=1e-9, abs=1e-14)
    assert math.isnan(metrics["generalization_rate"])
    assert "cardinality only" in record["notes"]["generalization_rate"]
    # 5) the report: one family x data set table, paired tests against the best baseline
    rep = _run("report", out)
    assert rep.returncode == 0, rep.stderr
    text = (out / "report.md").read_text()
    assert "model family × data set" in text
    assert "Paired tests against the best classical baseline" in text
    numbers = json.loads((out / "report.json").read_text())
    vs = numbers["versus_best_baseline"]
    assert {r["dataset"] for r in vs} == {"bas", "cardinality"}
    assert all(r["n"] == len(seeds) for r in vs)


# --------------------------------------------------------------------------- checks up front
def _config(tmp_path, text: str) -> Path:
    path = tmp_path / "zoo.toml"
    path.write_text(text)
    return path


BASE = """
[experiment]
name = "z"
task = "zoo"
datasets = ["bas"]
latents = ["made"]
seeds = 1
[latent_params.made]
{made}
[task]
bas_rows = 2
bas_cols = 2
n_eval = 10
"""


@pytest.mark.parametrize("made, message", [
    ('latent = "made"\nfit = {steps = 5, lrr = 0.1}', "unknown key(s) 'lrr'"),
    ('latent = "made"\nfit = {lr = 0.1}', "must set steps"),
    ('latent = "made"\nfit = {steps = 5}\ndim = 3', "must not set 'dim'"),
    ('latent = "made"\nfit = {steps = 5}\ndatasets = ["mnist"]',
     "datasets: unknown data set(s) 'mnist'"),
    ('latent = "made"\ntrain = "rl"\nfit = {steps = 5}', "train must be one of"),
    ('latent = "nope"\nfit = {steps = 5}', "on data set 'bas'"),
    ('latent = "made"\nfit = {steps = 5, loss = "kl2"}',
     "latent_params.made.fit.loss must be one of 'nll', 'kl', 'mmd', 'bound', "
     "'mmd-estimator', 'pcd'; got 'kl2'"),
    ('latent = "made"\nfit = {steps = 5, lr = -1}', "latent_params.made.fit.lr must be >= 0.0"),
    ('latent = "made"\nfit = {steps = "5"}', "latent_params.made.fit.steps must be an integer"),
    ('latent = "made"\nfit = {steps = 5, model_side = "exact"}',
     "latent_params.made.fit.model_side applies to loss = 'mmd' only"),
    ('latent = "made"\nfit = {steps = 5, optimizer = "lbfgs", lr = 0.1}',
     "latent_params.made.fit.lr does not apply to optimizer = 'lbfgs'"),
    ('latent = "made"\nfit = {steps = 5, optimizer = "lbfgs", loss = "mmd", '
     'model_side = "samples"}', "LBFGS() needs an exact"),
    ('latent = "made"\nfit = {steps = 5, loss = "bound"}', "Bound() needs model.bound_loss"),
    ('latent = "made"\nfit = 3', "latent_params.made.fit must be a table"),
    ('train = "adversarial"\nfit = {steps = 5}', "fit applies to train = 'likelihood'"),
])
def test_bad_family_tables_raise_before_anything_is_written(tmp_path, made, message):
    from qlatent.experiments.config import load_config

    with pytest.raises((ValueError, TypeError), match=None) as err:
        load_config(_config(tmp_path, BASE.format(made=made)))
    assert message in str(err.value)
    assert "latent_params.made" in str(err.value)


@pytest.mark.slow  # installed runs; in-process: test_bad_family_tables_raise_...
def test_cli_refuses_a_bad_zoo_config_and_packs_without_writing(tmp_path):
    bad = _config(tmp_path, BASE.format(made='latent = "made"\nfit = {lr = 0.1}'))
    out = tmp_path / "out"
    res = _run("run", bad, "--out", out)
    assert res.returncode != 0 and "must set steps" in res.stdout + res.stderr
    assert not out.exists()
    good = _config(tmp_path, BASE.format(made='latent = "made"\nfit = {steps = 2}'))
    res = _run("run", good, "--out", out, "--pack", "2")
    assert res.returncode != 0 and "pack does not apply to task 'zoo'" in (res.stdout
                                                                              + res.stderr)
    assert not out.exists()


def test_latent_dims_do_not_apply_to_the_zoo(tmp_path):
    from qlatent.experiments.config import load_config

    text = BASE.format(made='latent = "made"\nfit = {steps = 2}').replace(
        "seeds = 1", "seeds = 1\nlatent_dims = [8]")
    with pytest.raises(ValueError, match="latent_dims does not apply to task 'zoo'"):
        load_config(_config(tmp_path, text))


def test_cells_without_a_latent_length_have_short_directories():
    from qlatent.experiments.tasks import Cell

    assert Cell("bas", "made", 0, 3).key == "bas/made/seed-3"
    assert Cell("ring", "quantum", 16, 3).key == "ring/quantum-L16/seed-3"


def test_families_apply_to_their_data_sets_only():
    from qlatent.experiments.config import ExperimentConfig
    from qlatent.experiments.grid import cells

    config = ExperimentConfig.from_dict({
        "experiment": {"task": "zoo", "datasets": ["bas", "cardinality"],
                       "latents": ["made", "pb"], "seeds": [0, 1]},
        "latent_params": {"made": {"fit": {"steps": 1}},
                          "pb": {"latent": "born", "kind": "quantum", "n_photons": 2,
                                 "datasets": ["cardinality"], "fit": {"steps": 1}}},
        "task": {"bas_rows": 2, "bas_cols": 2, "cardinality_bits": 4, "cardinality_k": 2}})
    keys = [c.key for c in cells(config)]
    assert "cardinality/pb/seed-0" in keys and not any(k.startswith("bas/pb") for k in keys)
    assert len(keys) == 2 * (2 + 1)
    assert get_baselines(config) == ("made",)


def get_baselines(config):
    from qlatent.experiments.tasks import get_task

    return get_task("zoo").baselines(config)


def test_score_samples_of_a_perfect_sampler_is_zero_distance():
    from qlatent.data.discrete import bars_and_stripes
    from qlatent.experiments.tasks.zoo import ZooParams, score_samples

    data = bars_and_stripes(3, 3)
    x = np.repeat(data.states, 10, axis=0)  # the target exactly
    m = score_samples(x, data, "bas", ZooParams())
    assert m["total_variation"] == pytest.approx(0.0, abs=1e-15)
    assert m["kl_divergence"] == pytest.approx(0.0, abs=1e-15)
    assert m["exact_mmd"] == pytest.approx(0.0, abs=1e-15)
    assert m["valid_fraction"] == 1.0 and m["qbas_score"] == 1.0


def test_a_quantum_generator_family_trains_and_scores_in_process(tmp_path):
    from rich.console import Console

    from qlatent.experiments.config import ExperimentConfig
    from qlatent.experiments.executors import run_experiment
    from qlatent.models import QuantumGenerator

    config = ExperimentConfig.from_dict({
        "experiment": {"task": "zoo", "datasets": ["cardinality"], "latents": ["qgan"],
                       "seeds": [0]},
        "latent_params": {"qgan": {"train": "adversarial", "generator": "quantum",
                                   "latent": "uniform", "latent_dim": 2,
                                   "generator_params": {"n_patches": 2, "n_qubits": 2,
                                                        "n_ancillas": 1, "layers": 1}}},
        "model": {"hidden": [8]},
        "train": {"steps": 2, "batch_size": 8, "n_critic": 1, "checkpoint_every": 1,
                  "log_every": 1},
        "task": {"cardinality_bits": 4, "cardinality_k": 2, "n_eval": 50}})
    assert get_baselines(config) == ()  # a quantum generator is not a classical baseline
    (record,) = run_experiment(config, tmp_path, console=Console(quiet=True), progress=False)
    cell = tmp_path / "cardinality" / "qgan" / "seed-0"
    assert record.run_dir == cell and (cell / "checkpoint.pt").is_file()
    x = np.load(cell / "samples.npy", allow_pickle=False)
    assert x.shape == (50, 4) and set(np.unique(x)) <= {0, 1}
    assert 0.0 <= record.metrics["valid_fraction"] <= 1.0
    assert QuantumGenerator  # the generator the family names


def test_a_quantum_generator_family_whose_sizes_do_not_fit_is_refused(tmp_path):
    from qlatent.experiments.config import load_config

    text = BASE.format(made='train = "adversarial"\ngenerator = "quantum"\nlatent_dim = 3\n'
                            'generator_params = {n_patches = 2, n_qubits = 2}')
    with pytest.raises(ValueError, match="latent_dim must equal the quantum generator's "
                                         "n_qubits"):
        load_config(_config(tmp_path, text))


def test_a_killed_likelihood_cell_resumes_to_the_uninterrupted_metrics(tmp_path, monkeypatch):
    """A likelihood cell checkpoints (fit.checkpoint_every) into its directory: stopped at step
    6 of 12 and rerun, it resumes from step 4 and ends with the metrics and log of an
    uninterrupted run."""
    from rich.console import Console

    from qlatent.experiments.config import ExperimentConfig
    from qlatent.experiments.executors import run_experiment
    from qlatent.train import likelihood

    config = ExperimentConfig.from_dict({
        "experiment": {"task": "zoo", "datasets": ["cardinality"], "latents": ["made"],
                       "seeds": [0]},
        "latent_params": {"made": {"fit": {"steps": 12, "batch_size": 16, "log_every": 3,
                                           "checkpoint_every": 4}}},
        "task": {"cardinality_bits": 5, "cardinality_k": 2, "n_eval": 100}})
    (whole,) = run_experiment(config, tmp_path / "a", console=Console(quiet=True),
                              progress=False)
    step = likelihood.LikelihoodTrainer.step

    def stop_at_6(self, n):
        if n == 6:
            raise KeyboardInterrupt  # as a kill: nothing after the last checkpoint is kept
        return step(self, n)

    monkeypatch.setattr(likelihood.LikelihoodTrainer, "step", stop_at_6)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, tmp_path / "b", console=Console(quiet=True), progress=False)
    monkeypatch.setattr(likelihood.LikelihoodTrainer, "step", step)
    cell = tmp_path / "b" / "cardinality" / "made" / "seed-0"
    assert not (cell / "metrics.json").exists() and (cell / "checkpoint.pt").is_file()
    (resumed,) = run_experiment(config, tmp_path / "b", console=Console(quiet=True),
                                progress=False)
    record = json.loads((cell / "metrics.json").read_text())
    assert record["resumed_from"] == 4
    assert resumed.metrics == whole.metrics
    log = [json.loads(line) for line in (cell / "log.jsonl").read_text().splitlines()]
    first = whole.run_dir / "log.jsonl"
    assert [(r["step"], r["loss"]) for r in log] == [
        (r["step"], r["loss"]) for r in map(json.loads, first.read_text().splitlines())]



@pytest.fixture(scope="module")
def finished_zoo(tmp_path_factory):
    """A finished zoo grid: a likelihood family (MADE) and an adversarial one (a GAN)."""
    from rich.console import Console

    from qlatent.experiments.config import ExperimentConfig
    from qlatent.experiments.executors import run_experiment

    out = tmp_path_factory.mktemp("zoo")
    config = ExperimentConfig.from_dict({
        "experiment": {"task": "zoo", "datasets": ["cardinality"], "latents": ["made", "gan"],
                       "seeds": [0]},
        "latent_params": {"made": {"fit": {"steps": 20, "batch_size": 16}},
                          "gan": {"train": "adversarial", "latent_dim": 3}},
        "model": {"hidden": [8]},
        "train": {"steps": 3, "batch_size": 8, "n_critic": 1, "log_every": 1},
        "task": {"cardinality_bits": 5, "cardinality_k": 2, "n_eval": 64}})
    run_experiment(config, out, console=Console(quiet=True), progress=False)
    return out / "cardinality"


def _evaluate_seed(cell: Path) -> int:
    return int(json.loads((cell / "config.json").read_text())["seeds"]["evaluate"])


@pytest.mark.parametrize("family, steps", [("made", 20), ("gan", 3)])
def test_finished_zoo_cells_reload_and_sample_what_they_scored(finished_zoo, family, steps):
    """Issue 23 item 4.3: a finished likelihood cell and an adversarial one reload through
    ``load_run`` with their trained weights: sampling with the cell's evaluation seed gives
    back its samples.npy exactly."""
    import torch

    import qlatent as ql
    from qlatent.experiments.cell import rebuild_cell

    cell = finished_zoo / family / "seed-0"
    run = ql.load_run(cell)
    assert run.finished and run.step == run.steps == steps
    again = run.sample(64, seed=_evaluate_seed(cell))
    assert again.dtype == np.uint8
    assert np.array_equal(again, np.load(cell / "samples.npy", allow_pickle=False))
    trained = run.latent if family == "made" else run.generator
    fresh = rebuild_cell(cell, weights=False)
    untrained = fresh.latent if family == "made" else fresh.built.generator
    assert not all(torch.equal(a, b) for a, b in zip(trained.parameters(),
                                                     untrained.parameters(), strict=True))


@pytest.mark.slow
def test_qlatent_sample_on_a_finished_likelihood_cell(finished_zoo, tmp_path):
    cell = finished_zoo / "made" / "seed-0"
    out = tmp_path / "made.npy"
    res = _run("sample", cell, "-n", 64, "-o", out, "--seed", _evaluate_seed(cell))
    assert res.returncode == 0, res.stderr
    assert "uint8 array 64 x 5" in res.stdout and "unfinished" not in res.stdout
    assert np.array_equal(np.load(out, allow_pickle=False),
                          np.load(cell / "samples.npy", allow_pickle=False))
