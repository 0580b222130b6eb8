import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from qlatent.experiments.config import load_config
from qlatent.experiments.report import build_report, paired_test, summarize
from qlatent.experiments.runner import run_experiment

PAPER = Path(__file__).resolve().parents[2] / "configs" / "paper"


def _tiny_ring(steps=3):
    config = load_config(PAPER / "fig2_ring_quick.toml")
    return config.replace(
        latents=("gaussian", "bernoulli"), seeds=(0, 1),
        model={"hidden": [8, 8]},
        train=config.train.replace(steps=steps, batch_size=8, checkpoint_every=2, log_every=1),
        task_params={"n_eval": 200, "n_mmd": 50, "n_plot": 50})


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ring")
    config = _tiny_ring()
    records = run_experiment(config, out, console=Console(quiet=True), progress=False)
    return config, out, records


def test_runner_writes_cells_and_skips_done_ones(ring_run):
    config, tmp_path, records = ring_run
    assert len(records) == 4
    cell = tmp_path / "ring" / "gaussian-L16" / "seed-0"
    for name in ("config.toml", "config.json", "environment.json", "checkpoint.pt",
                 "log.jsonl", "metrics.json", "samples.png", "loss.png"):
        assert (cell / name).exists(), name
    record = json.loads((cell / "metrics.json").read_text())
    assert record["steps"] == 3 and set(record["metrics"]) == {
        "interpolation_rate", "modes_covered", "mmd"}
    env = json.loads((cell / "environment.json").read_text())
    assert env["versions"]["torch"] and "latent" in env
    mtime = (cell / "metrics.json").stat().st_mtime_ns
    console = Console(record=True, width=200)
    again = run_experiment(config, tmp_path, console=console, progress=False)
    assert (cell / "metrics.json").stat().st_mtime_ns == mtime
    assert console.export_text().count("done, skipped") == 4
    assert [r.metrics for r in again] == [r.metrics for r in records]


def test_runner_resumes_an_interrupted_cell(tmp_path):
    config = _tiny_ring(steps=4)
    run_experiment(config.replace(seeds=(0,), latents=("gaussian",)), tmp_path / "a",
                   console=Console(quiet=True), progress=False)
    # Interrupted: the checkpoint of step 2 exists but no metrics.json.
    short = config.replace(seeds=(0,), latents=("gaussian",),
                           train=config.train.replace(steps=2))
    run_experiment(short, tmp_path / "b", console=Console(quiet=True), progress=False)
    (tmp_path / "b" / "ring" / "gaussian-L16" / "seed-0" / "metrics.json").unlink()
    console = Console(record=True, width=200)
    run_experiment(config.replace(seeds=(0,), latents=("gaussian",)), tmp_path / "b",
                   console=console, progress=False)
    assert "resuming" in console.export_text()
    rec = [json.loads((tmp_path / d / "ring/gaussian-L16/seed-0/metrics.json").read_text())
           for d in ("a", "b")]
    assert rec[1]["resumed_from"] == 2
    assert rec[0]["metrics"] == rec[1]["metrics"]  # bit-identical training -> same metrics


def test_summarize_and_paired_test_by_hand():
    s = summarize([1.0, 2.0, 3.0])
    assert (s.mean, s.n) == (2.0, 3) and s.se == pytest.approx(1 / math.sqrt(3))
    a = {0: 3.0, 1: 5.0, 2: 7.0, 5: 1.0}
    b = {0: 2.0, 1: 3.0, 2: 4.0}  # differences 1, 2, 3 over the common seeds 0-2
    t = paired_test(a, b)
    assert t["n"] == 3 and t["mean_difference"] == pytest.approx(2.0)
    assert t["t_statistic"] == pytest.approx(2.0 / (1.0 / math.sqrt(3)))
    assert t["wilcoxon_pvalue"] == pytest.approx(0.25)  # exact: 2 / 2^3
    assert math.isnan(paired_test({0: 1.0}, {0: 1.0})["t_pvalue"])


def test_report_layout(ring_run):
    text, numbers = build_report(ring_run[1])
    assert "| dataset | gaussian | bernoulli |" in text
    assert "0.383" in text  # the reference number beside ours
    assert "(λ = 10.0), fp32." in text  # the training precision is part of the setup line
    rows = [s for s in numbers["summaries"] if s["metric"] == "interpolation_rate"]
    assert {r["n"] for r in rows} == {2}
    assert "ring_samples.png" in text


def test_executor_is_validated(tmp_path):
    with pytest.raises(ValueError, match="executor"):
        run_experiment(_tiny_ring(), tmp_path, executor="slurm", console=Console(quiet=True))


class _FailingFor:
    """A latent factory that fails for one latent (a crashing cell), picklable for Ray."""

    def __init__(self, bad):
        self.bad = bad

    def __call__(self, name, **kw):
        if name == self.bad:
            raise RuntimeError(f"no {name} today")
        from qlatent.experiments.runner import make_latent

        return make_latent(name, **kw)


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    import sys

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # test module, by value
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.cluster
def test_ray_executor_gives_the_local_results(ring_run, local_ray, tmp_path):
    # Same grid, same seeds: every cell's metrics are bit-identical to the local run's, the
    # cell directories complete, and a second call skips them all.
    config, _, local_records = ring_run
    records = run_experiment(config, tmp_path, executor="ray", console=Console(quiet=True))
    assert [r.cell for r in records] == [r.cell for r in local_records]
    assert [r.metrics for r in records] == [r.metrics for r in local_records]
    for r in records:
        assert (r.run_dir / "checkpoint.pt").exists() and (r.run_dir / "metrics.json").exists()
    console = Console(record=True, width=200)
    run_experiment(config, tmp_path, executor="ray", console=console)
    assert console.export_text().count("done, skipped") == len(records)


@pytest.mark.cluster
def test_ray_executor_reports_failed_cells_and_keeps_the_others(local_ray, tmp_path):
    config = _tiny_ring()
    with pytest.raises(RuntimeError, match=r"2 cell\(s\) failed") as err:
        run_experiment(config, tmp_path, executor="ray", latent_factory=_FailingFor("bernoulli"),
                       console=Console(quiet=True))
    for seed in (0, 1):
        assert f"ring/bernoulli-L16/seed-{seed}: RuntimeError: no bernoulli today" in str(err.value)
    assert sorted(p.parent.name for p in tmp_path.glob("ring/gaussian-L16/*/metrics.json")) == [
        "seed-0", "seed-1"]
    assert not list(tmp_path.glob("ring/bernoulli-L16/*/metrics.json"))
