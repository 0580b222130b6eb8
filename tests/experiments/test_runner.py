import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

from qlatent._validation import check_device
from qlatent.experiments.cell import rebuild_cell
from qlatent.experiments.config import load_config
from qlatent.experiments.executors import run_experiment
from qlatent.experiments.grid import cells, select
from qlatent.experiments.packing import pack_plan, plan_packs
from qlatent.experiments.report import build_report, paired_test, summarize
from qlatent.experiments.tasks import Cell, register_task
from qlatent.experiments.tasks.base import generate
from qlatent.experiments.tasks.ring import RingTask

# One worker builds this module's shared fixture once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("ring_run")

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
                 "log.jsonl", "metrics.json", "samples.png", "loss.png", "samples.svg",
                 "loss.svg"):
        assert (cell / name).exists(), name
    from PIL import Image  # matplotlib's own dependency

    for name in ("samples.png", "loss.png"):  # every figure: >= 150 dpi PNG beside its SVG
        dpi = Image.open(cell / name).info["dpi"]
        assert min(dpi) >= 149.9, (name, dpi)
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


def test_runner_resumes_an_interrupted_cell(tmp_path, monkeypatch):
    config = _tiny_ring(steps=4).replace(seeds=(0,), latents=("gaussian",))
    run_experiment(config, tmp_path / "a", console=Console(quiet=True), progress=False)

    def interrupted(self, ctx, built, latent):  # stops the run right after step 2's checkpoint
        def stop(step, info):
            if step == 2:
                raise KeyboardInterrupt
        return [stop]

    with monkeypatch.context() as patch:
        patch.setattr(RingTask, "callbacks", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_experiment(config, tmp_path / "b", console=Console(quiet=True), progress=False)
    cell = tmp_path / "b" / "ring" / "gaussian-L16" / "seed-0"
    assert not (cell / "metrics.json").exists()
    assert torch.load(cell / "checkpoint.pt", weights_only=True)["step"] == 2
    console = Console(record=True, width=200)
    run_experiment(config, tmp_path / "b", console=console, progress=False)
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


class _FailingRing(RingTask):
    """The ring task, failing to build one latent's cells (a crashing cell); registered in this
    process only, so a Ray worker learns it from the task the runner sends along."""

    name = "ring-failing-test"

    def build(self, ctx):
        if ctx.cell.latent == "bernoulli":
            raise RuntimeError(f"no {ctx.cell.latent} today")
        return super().build(ctx)


def test_failed_validation_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    quiet = Console(quiet=True)
    for kwargs, error, match in [
        ({"executor": "slurm"}, ValueError, "executor must be one of 'local', 'ray'"),
        ({"device": "gpu"}, ValueError, "device must be 'cpu', 'cuda' or 'cuda:k'"),
        ({"device": "cuda:x"}, ValueError, "device must be 'cpu', 'cuda' or 'cuda:k'"),
        ({"device": 0}, TypeError, "device must be a string"),
        ({"threads": 0}, ValueError, "threads must be >= 1, got 0"),
        ({"log_to": "tensorboard"}, TypeError, "log_to must be a list of tracker names"),
        ({"progress": "yes"}, TypeError, "progress must be true or false"),
    ]:
        with pytest.raises(error, match=match):
            run_experiment(_tiny_ring(), out, console=quiet, **kwargs)
        assert not out.exists(), kwargs
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device is 'cuda' but CUDA is not available"):
            run_experiment(_tiny_ring(), out, device="cuda", console=quiet)
        assert not out.exists()
    with pytest.raises(TypeError, match="config must be an ExperimentConfig"):
        run_experiment({"experiment": {}}, out, console=quiet)
    assert not out.exists()


def test_an_experiment_of_another_task_is_not_overwritten(tmp_path, ring_run):
    import shutil

    out = tmp_path / "out"
    out.mkdir()
    shutil.copyfile(ring_run[1] / "config.toml", out / "config.toml")
    before = (out / "config.toml").read_text()
    table1 = load_config(PAPER / "table1_quick.toml")
    with pytest.raises(ValueError, match="holds an experiment of task 'ring', not 'table1'"):
        run_experiment(table1, out, console=Console(quiet=True))
    assert (out / "config.toml").read_text() == before and len(list(out.iterdir())) == 1


def test_check_device(monkeypatch):
    assert check_device("cpu") == "cpu"
    assert check_device("cuda:3", require_available=False) == "cuda:3"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda") == "cuda" and check_device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError, match=r"has 2 CUDA device\(s\) \(cuda:0 .. cuda:1\)"):
        check_device("cuda:2")


def test_log_to_feeds_the_trackers_callbacks(tmp_path, monkeypatch):
    import sys
    import types

    calls = []
    tracking = types.ModuleType("qlatent.train.tracking")
    tracking.TRACKERS = ("fake",)

    def make_callbacks(names, run_dir):
        return [lambda step, info: calls.append((tuple(names), Path(run_dir).name, step))]

    tracking.make_callbacks = make_callbacks
    monkeypatch.setitem(sys.modules, "qlatent.train.tracking", tracking)
    with pytest.raises(ValueError, match="log_to must be one of 'fake'; got 'wandb'"):
        run_experiment(_tiny_ring(), tmp_path / "x", log_to=["wandb"],
                       console=Console(quiet=True))
    assert not (tmp_path / "x").exists()
    config = _tiny_ring(steps=2).replace(seeds=(0,), latents=("gaussian",))
    run_experiment(config, tmp_path / "y", log_to=["fake"], console=Console(quiet=True),
                   progress=False)
    assert calls and {c[:2] for c in calls} == {(("fake",), "seed-0")}
    assert max(c[2] for c in calls) == 2


def test_log_to_without_the_tracking_module(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "qlatent.train.tracking", None)  # import fails
    with pytest.raises(ValueError, match="needs qlatent.train.tracking"):
        run_experiment(_tiny_ring(), tmp_path / "x", log_to=["tensorboard"],
                       console=Console(quiet=True))
    assert not (tmp_path / "x").exists()


def test_rebuild_cell_gives_the_trained_generator_and_latent(ring_run):
    config, out, _ = ring_run
    cell_dir = out / "ring" / "bernoulli-L16" / "seed-1"
    rebuilt = rebuild_cell(cell_dir)
    assert rebuilt.cell == Cell("ring", "bernoulli", 16, 1) and rebuilt.step == 3
    assert rebuilt.config.to_dict()["model"] == config.to_dict()["model"]
    # The evaluation's draw again: the first n_plot samples are those the cell kept.
    x = generate(rebuilt.built.generator, rebuilt.latent, config.task_params.n_plot,
                 rebuilt.seeds.evaluate)
    np.testing.assert_array_equal(x.astype(np.float32), np.load(cell_dir / "samples.npy"))
    untrained = rebuild_cell(cell_dir, weights=False)
    assert untrained.step is None
    assert not np.array_equal(generate(untrained.built.generator, untrained.latent, 10, 0),
                              generate(rebuilt.built.generator, rebuilt.latent, 10, 0))


def test_rebuild_cell_refuses_what_is_not_a_cell(tmp_path, ring_run):
    import shutil

    with pytest.raises(ValueError, match="not a cell directory"):
        rebuild_cell(tmp_path)
    cell_dir = tmp_path / "cell"
    shutil.copytree(ring_run[1] / "ring" / "gaussian-L16" / "seed-0", cell_dir)
    (cell_dir / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="checkpoint.pt is not a readable checkpoint"):
        rebuild_cell(cell_dir)
    (cell_dir / "config.json").write_text('{"cell": {}}')
    with pytest.raises(ValueError, match="config.json: not a cell's config"):
        rebuild_cell(cell_dir)


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
    register_task(_FailingRing())
    config = _tiny_ring().replace(task="ring-failing-test")
    with pytest.raises(RuntimeError, match=r"2 cell\(s\) failed") as err:
        run_experiment(config, tmp_path, executor="ray", console=Console(quiet=True))
    for seed in (0, 1):
        assert f"ring/bernoulli-L16/seed-{seed}: RuntimeError: no bernoulli today" in str(err.value)
    assert sorted(p.parent.name for p in tmp_path.glob("ring/gaussian-L16/*/metrics.json")) == [
        "seed-0", "seed-1"]
    assert not list(tmp_path.glob("ring/bernoulli-L16/*/metrics.json"))


@pytest.mark.parametrize("edit, overrides, run_kwargs, match", [
    (("[latent_params.gaussian]", "[latent_params.gausian]"), {}, {},
     r"\[latent_params.gausian\] is for a latent not in experiment.latents"),
    (('latents = ["gaussian", "bernoulli", "photonic", "quantum"]', 'latents = "quantum"'),
     {}, {}, r"experiment.latents must be a non-empty list of names, got 'quantum'"),
    (None, {"latents": ("gausian",)}, {}, r"experiment.latents: name must be one of .*"
                                          r"got 'gausian'"),
    (None, {"datasets": ("moons",)}, {}, r"unknown dataset\(s\) 'moons' for task 'ring'"),
    (("circuit = \"1-3-9\"", "circuit = \"1-3-8\""), {}, {},
     r"latent_params.quantum \(latent_dim 16\): circuit must be one of"),
    (None, {}, {"device": "cuda:x"}, r"device must be 'cpu', 'cuda' or 'cuda:k'"),
])
def test_the_issues_bad_inputs_fail_before_anything_is_written(tmp_path, edit, overrides,
                                                              run_kwargs, match):
    # Config file -> command-line overrides -> run: the steps of `qlatent run`.
    text = (PAPER / "fig2_ring_quick.toml").read_text()
    if edit:
        assert edit[0] in text
        text = text.replace(edit[0], edit[1], 1)
    path = tmp_path / "c.toml"
    path.write_text(text)
    out = tmp_path / "out"
    with pytest.raises((ValueError, TypeError), match=match):
        config = select(load_config(path), seeds=(0,), steps=1, **overrides)
        run_experiment(config, out, console=Console(quiet=True), **run_kwargs)
    assert not out.exists()


def test_packed_cells_follow_their_solo_runs_and_read_like_solo_cells(tmp_path, ring_run):
    """--pack 4: the four cells of the tiny ring grid train as one pack; each cell directory
    then holds what a solo run writes (same metrics to fp32 round-off, its own log and a solo
    checkpoint that load_run reads), and a second run skips every cell."""
    import qlatent as ql

    config, solo_dir, solo_records = ring_run
    console = Console(record=True)
    records = run_experiment(config, tmp_path, console=console, progress=False, pack=4)
    assert "a pack of 4" in console.export_text()
    assert [r.cell for r in records] == [r.cell for r in solo_records]
    n_eval = config.task_params.n_eval
    for packed, solo in zip(records, solo_records, strict=True):
        assert packed.metrics["mmd"] == pytest.approx(solo.metrics["mmd"], rel=1e-4, abs=1e-6)
        assert abs(packed.metrics["interpolation_rate"]
                   - solo.metrics["interpolation_rate"]) <= 2 / n_eval
        record = json.loads((packed.run_dir / "metrics.json").read_text())
        assert record["pack"] == 4 and record["steps"] == config.train.steps
        solo_log = (solo.run_dir / "log.jsonl").read_text().splitlines()
        packed_log = (packed.run_dir / "log.jsonl").read_text().splitlines()
        for a, b in zip(map(json.loads, packed_log), map(json.loads, solo_log), strict=True):
            assert a["step"] == b["step"]
            assert a["loss_critic"] == pytest.approx(b["loss_critic"], rel=1e-4, abs=1e-5)
    run = ql.load_run(records[1].run_dir)
    assert run.finished and run.cell == records[1].cell
    again = Console(record=True)
    run_experiment(config, tmp_path, console=again, progress=False, pack=4)
    assert again.export_text().count("done, skipped") == len(records)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"pack": 0}, ValueError, r"pack must be a positive integer \(>= 1\) or 'auto', got 0"),
    ({"pack": -3}, ValueError, "pack must be a positive integer .* got -3"),
    ({"pack": "many"}, ValueError, "pack must be a positive integer or 'auto', got 'many'"),
    ({"pack": 2.5}, TypeError, "pack must be a positive integer or 'auto', got 2.5"),
    ({"gpus_per_task": 0.25}, ValueError, "gpus_per_task .* needs executor 'ray'"),
    ({"gpus_per_task": 0.25, "executor": "ray"}, ValueError,
     "gpus_per_task=0.25 needs a GPU: device must be 'cuda' or 'cuda:k', got 'cpu'"),
    ({"gpus_per_task": 0, "executor": "ray", "device": "cuda"}, ValueError,
     "gpus_per_task must be > 0"),
    ({"gpus_per_task": "half", "executor": "ray", "device": "cuda"}, TypeError,
     "gpus_per_task must be a real number"),
])
def test_bad_pack_requests_write_nothing(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        run_experiment(_tiny_ring(), tmp_path / "out", console=Console(quiet=True), **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_trained_latents_in_a_pack_record_and_rebuild_their_theta(tmp_path):
    # Named born variants and the multinomial control, trained with the generator
    # (latent_lr > 0) as one pack; each cell's own checkpoint holds its trained θ, and
    # rebuild_cell loads it.
    base = _tiny_ring()
    config = base.replace(
        latents=("born_quantum", "born_photonic", "multinomial"), seeds=(0,),
        latent_dims=(4,),
        latent_params={"born_quantum": {"latent": "born", "kind": "quantum"},
                       "born_photonic": {"latent": "born", "kind": "photonic"}},
        train=base.train.replace(latent_lr=0.05))
    records = run_experiment(config, tmp_path, console=Console(quiet=True), progress=False,
                             pack=3)
    assert len(records) == 3
    for r in records:
        state = torch.load(r.run_dir / "checkpoint.pt", weights_only=True)
        rebuilt = rebuild_cell(r.run_dir)
        assert rebuilt.latent.state_dict().keys() == state["latent"].keys()
        for key, value in state["latent"].items():
            assert torch.equal(rebuilt.latent.state_dict()[key], value)
        fresh = rebuild_cell(r.run_dir, weights=False).latent
        assert any(not torch.equal(a, b) for a, b in zip(
            fresh.parameters(), rebuilt.latent.parameters(), strict=True))  # θ trained


def test_a_latent_trains_at_its_own_latent_lr_and_packs_only_with_its_rate(tmp_path):
    # [latent_params.X] latent_lr overrides [train] latent_lr for X's cells: "same" asks for
    # [train]'s rate and packs with "fast"; "fixed" asks for 0 and trains alone, its θ as built.
    base = _tiny_ring(steps=2)
    born = {"latent": "born", "kind": "quantum"}
    config = base.replace(
        latents=("fast", "fixed", "same"), seeds=(0,), latent_dims=(4,),
        latent_params={"fast": born, "fixed": {**born, "latent_lr": 0.0},
                       "same": {**born, "latent_lr": 0.05}},
        train=base.train.replace(latent_lr=0.05))
    grid = cells(config)
    plan = pack_plan(config, grid, range(len(grid)), tmp_path, 3)
    assert sorted([grid[i].latent for i in members] for members in plan) == [
        ["fast", "same"], ["fixed"]]
    records = run_experiment(config, tmp_path, console=Console(quiet=True), progress=False,
                             pack=3)
    by_latent = {r.cell.latent: r.run_dir for r in records}
    for name, lr in (("fast", 0.05), ("same", 0.05), ("fixed", 0.0)):
        state = torch.load(by_latent[name] / "checkpoint.pt", weights_only=True)
        assert state["config"]["latent_lr"] == lr, name
        fresh = rebuild_cell(by_latent[name], weights=False).latent.parameters()
        trained = rebuild_cell(by_latent[name]).latent.parameters()
        moved = any(not torch.equal(a, b) for a, b in zip(fresh, trained, strict=True))
        assert moved == (lr > 0), name


def _member_bytes(config):
    from qlatent.experiments.grid import seeds_of
    from qlatent.experiments.tasks import CellContext, get_task, make_latent
    from qlatent.train.memory import estimate_member_memory

    cell = cells(config)[0]
    seeds = seeds_of(config, cell)
    built = get_task(config.task).build(CellContext(config, cell, seeds, Path("unused")))
    return estimate_member_memory(built.generator, built.critic,
                                  make_latent(config, cell, seeds), built.data,
                                  config.train).total


def test_pack_auto_takes_what_memory_holds_and_a_pack_too_big_is_refused(tmp_path, monkeypatch):
    from qlatent.experiments import packing

    config = _tiny_ring()
    grid = cells(config)
    console = Console(record=True, width=300)
    assert pack_plan(config, grid, range(4), tmp_path, "auto", console=console) == [[0, 1, 2, 3]]
    assert "packs of 4 for ring L=16" in console.export_text()
    # A device with room for 2.5 members (after the 80 % fill): auto packs 2, 3 is refused.
    member = _member_bytes(config)
    monkeypatch.setattr(packing, "available_memory", lambda device: int(2.5 * member / 0.8))
    assert pack_plan(config, grid, range(4), tmp_path, "auto") == [[0, 1], [2, 3]]
    assert pack_plan(config, grid, range(4), tmp_path, 2) == [[0, 1], [2, 3]]
    out = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        run_experiment(config, out, console=Console(quiet=True), pack=3)
    message = str(err.value)
    assert "\n" not in message and not out.exists()
    assert message.startswith("pack 3 does not fit in memory for ring L=16")
    assert "at most 2 members" in message and "MiB per member" in message
    # Ray tasks get a share of the device: with 2 threads of this machine's CPUs, fewer fit.
    monkeypatch.setattr(packing, "available_memory", lambda device: int(8.5 * member / 0.8))
    assert pack_plan(config, grid, range(4), tmp_path, "auto", threads=2, share=0.25) == [
        [0, 1], [2, 3]]


def test_cells_of_different_architectures_never_share_a_pack(tmp_path):
    # Two latent lengths: two architectures, however large the pack.
    config = _tiny_ring().replace(latent_dims=(8, 16), seeds=(0, 1, 2))
    grid = cells(config)
    for size in (2, 4, 100, "auto"):
        plan = pack_plan(config, grid, range(len(grid)), tmp_path, size)
        assert sorted(i for members in plan for i in members) == list(range(len(grid)))
        for members in plan:
            assert len({(grid[i].dataset, grid[i].latent_dim) for i in members}) == 1, members
        assert max(map(len, plan)) == (6 if size in (100, "auto") else size)
    t1 = load_config(PAPER / "table1_quick.toml").replace(seeds=(0, 1),
                                                          datasets=("quantum", "bernoulli"))
    grid = cells(t1)
    plan = plan_packs(t1, grid, range(len(grid)), tmp_path, 100)
    assert {tuple(grid[i].dataset for i in members) for members in plan} == {
        ("quantum",) * (len(grid) // 2), ("bernoulli",) * (len(grid) // 2)}
    # A run over two latent lengths writes packs of one length each.
    console = Console(record=True, width=300)
    run_experiment(config.replace(seeds=(0,)), tmp_path / "run", console=console,
                   progress=False, pack=4)
    text = console.export_text()
    assert text.count("] a pack of 2: ") == 2
    assert "a pack of 2: ring/gaussian-L8/seed-0, ring/bernoulli-L8/seed-0" in text


class _WatchedRing(RingTask):
    """The ring task with a callback that records, at every step, what the generator it is
    handed makes of fixed latent vectors (so a packed member can be compared with its solo
    run), in the cell's own directory."""

    name = "ring-watched-test"

    def callbacks(self, ctx, built, latent):
        run_dir = ctx.cell_dir
        z = torch.randn(5, ctx.cell.latent_dim, generator=torch.Generator().manual_seed(3))

        def watch(step, info):
            with torch.no_grad():
                x = info["generator"](z).tolist()
            with open(Path(run_dir) / "watch.jsonl", "a") as handle:
                handle.write(json.dumps({"step": step, "seed": info["seed"], "x": x}) + "\n")

        return [watch]


@pytest.mark.slow  # a packed grid vs its solo runs; tests/train/test_pack.py stays
def test_packs_feed_each_cells_task_callbacks_and_trackers_as_its_solo_run(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def scalars(log_dir):
        acc = EventAccumulator(str(log_dir))
        acc.Reload()
        return {tag: [(e.step, e.value) for e in acc.Scalars(tag)]
                for tag in acc.Tags()["scalars"]}

    register_task(_WatchedRing())
    config = _tiny_ring().replace(task="ring-watched-test")
    kwargs = dict(console=Console(quiet=True), progress=False, log_to=("tensorboard",))
    solo = run_experiment(config, tmp_path / "solo", **kwargs)
    packed = run_experiment(config, tmp_path / "packed", pack=4, **kwargs)
    for a, b in zip(solo, packed, strict=True):
        rows_a = [json.loads(x) for x in (a.run_dir / "watch.jsonl").read_text().splitlines()]
        rows_b = [json.loads(x) for x in (b.run_dir / "watch.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows_b] == [1, 2, 3] == [r["step"] for r in rows_a]
        assert [r["seed"] for r in rows_b] == [r["seed"] for r in rows_a]
        for ra, rb in zip(rows_a, rows_b, strict=True):
            np.testing.assert_allclose(rb["x"], ra["x"], rtol=1e-4, atol=1e-5)
        sa, sb = scalars(a.run_dir / "tensorboard"), scalars(b.run_dir / "tensorboard")
        assert set(sb) == set(sa) and len(sb["train/loss_critic"]) == 3
        for tag in ("train/loss_critic", "train/wasserstein"):
            assert [s for s, _ in sb[tag]] == [s for s, _ in sa[tag]]
            np.testing.assert_allclose([v for _, v in sb[tag]], [v for _, v in sa[tag]],
                                       rtol=1e-4, atol=1e-5)


@pytest.mark.cluster
def test_packs_on_ray_give_the_local_packs_cells(ring_run, local_ray, tmp_path):
    # The same grid packed in this process and as Ray tasks: every cell directory holds the
    # same files and metrics (packs are deterministic functions of their cells), and a second
    # run skips them all.
    config = ring_run[0]
    quiet = Console(quiet=True)
    local = run_experiment(config, tmp_path / "local", console=quiet, progress=False, pack=2)
    console = Console(record=True, width=300)
    remote = run_experiment(config, tmp_path / "ray", executor="ray", console=console, pack=2)
    assert "2 task(s) of 4 cell(s) submitted to Ray" in console.export_text()
    assert [r.cell for r in remote] == [r.cell for r in local]
    assert [r.metrics for r in remote] == [r.metrics for r in local]
    for a, b in zip(local, remote, strict=True):
        assert _snapshot(a.run_dir) == _snapshot(b.run_dir)
        ra, rb = (json.loads((r.run_dir / "metrics.json").read_text()) for r in (a, b))
        assert ra["pack"] == rb["pack"] == 2 and ra["steps"] == rb["steps"]
        assert (a.run_dir / "log.jsonl").read_text().splitlines()[0].split('"seconds"')[0] == \
            (b.run_dir / "log.jsonl").read_text().splitlines()[0].split('"seconds"')[0]
    again = Console(record=True, width=300)
    run_experiment(config, tmp_path / "ray", executor="ray", console=again, pack=2)
    assert again.export_text().count("done, skipped") == len(remote)


def _snapshot(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.cluster
def test_ray_warms_the_tasks_caches_once_in_the_driver(local_ray, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(RingTask, "warm", lambda self, config, device="cpu": calls.append(
        device), raising=False)
    config = _tiny_ring(steps=1).replace(seeds=(0,))
    run_experiment(config, tmp_path, executor="ray", console=Console(quiet=True), pack=2)
    assert calls == ["cpu"]


def test_a_pack_stopped_while_evaluating_resumes_without_training_again(tmp_path, monkeypatch):
    # Every member's own checkpoint is written before the first evaluation, so a run that
    # dies while evaluating leaves solo resume points at the last step: the rerun evaluates
    # the unfinished cells from those (their step count and training time unchanged) instead
    # of training them again in a new pack.
    from qlatent.experiments import cell as cell_module

    config = _tiny_ring(steps=4)
    finish = cell_module.finish_cell
    calls = []

    def dies_on_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed while evaluating")
        return finish(*args, **kwargs)

    monkeypatch.setattr(cell_module, "finish_cell", dies_on_the_second)
    with pytest.raises(RuntimeError, match="killed while evaluating"):
        run_experiment(config, tmp_path, console=Console(quiet=True), progress=False, pack=4)
    monkeypatch.setattr(cell_module, "finish_cell", finish)
    grid = cells(config)
    saved = {c.key: torch.load(tmp_path / c.key / "checkpoint.pt", weights_only=True)
             for c in grid}
    assert all(s["step"] == 4 for s in saved.values())
    assert sum((tmp_path / c.key / "metrics.json").exists() for c in grid) == 1
    records = run_experiment(config, tmp_path, console=Console(quiet=True), progress=False,
                             pack=4)
    assert len(records) == 4 and all(r is not None for r in records)
    for c in grid:
        after = torch.load(tmp_path / c.key / "checkpoint.pt", weights_only=True)
        assert after["step"] == 4 and after["seconds"] == saved[c.key]["seconds"]
    assert len(list((tmp_path / ".packs").iterdir())) == 1  # no second pack was trained


def test_a_latent_that_cannot_be_built_names_its_cell(tmp_path, monkeypatch):
    # A latent that fails for one seed only (a bank without a matching challenger) must say
    # which cell, or the user cannot find it among a grid's hundreds.
    from qlatent import latents

    config = _tiny_ring()
    get = latents.get

    def fails_for_seed_1(name, **kwargs):
        if name == "bernoulli" and kwargs.get("seed") is not None and len(calls) == 3:
            raise ValueError("no Dirichlet-multinomial matches it")
        calls.append(name)
        return get(name, **kwargs)

    calls: list[str] = []
    monkeypatch.setattr(latents, "get", fails_for_seed_1)
    with pytest.raises(ValueError) as err:
        run_experiment(config, tmp_path, console=Console(quiet=True), progress=False)
    message = str(err.value)
    assert message == "ring/bernoulli-L16/seed-1: no Dirichlet-multinomial matches it"


def test_a_warning_while_building_a_latent_names_its_cell(tmp_path, monkeypatch):
    # A challenger that falls back (a bank less bunched than a multinomial) warns; among a
    # grid's cells the warning must say which one, and the cell still runs.
    import warnings

    from qlatent import latents

    config = _tiny_ring()
    get = latents.get
    calls: list[str] = []

    def warns_for_seed_1(name, **kwargs):
        calls.append(name)
        if name == "bernoulli" and len(calls) == 4:
            warnings.warn("the challenger is its multinomial limit", UserWarning, stacklevel=2)
        return get(name, **kwargs)

    monkeypatch.setattr(latents, "get", warns_for_seed_1)
    with pytest.warns(UserWarning) as record:
        run_experiment(config, tmp_path, console=Console(quiet=True), progress=False)
    messages = [str(w.message) for w in record if "multinomial limit" in str(w.message)]
    assert messages == ["ring/bernoulli-L16/seed-1: the challenger is its multinomial limit"]
    assert (tmp_path / "ring/bernoulli-L16/seed-1/metrics.json").exists()


def test_the_report_refuses_to_pair_cells_trained_differently(ring_run, tmp_path):
    # issue 23 F4: a cell trained with another lr (e.g. merged by an older version) must not
    # be summarised or paired with the others.
    import shutil

    _, out, _ = ring_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert len(build_report(copy)[1]["summaries"]) > 0  # alike: reported
    cell = copy / "ring/bernoulli-L16/seed-1/config.json"
    tables = json.loads(cell.read_text())
    tables["train"]["lr"] = 0.01
    cell.write_text(json.dumps(tables))
    with pytest.raises(ValueError) as err:
        build_report(copy)
    message = str(err.value)
    assert str(cell.parent) in message and "train.lr = 0.01 in the cell" in message
    assert "0.0005 in the experiment" in message and "\n" not in message


def test_a_non_finite_step_names_its_cell_and_leaves_a_finite_checkpoint(tmp_path, monkeypatch):
    # issue 23 F3: the generator's weights turn NaN after step 2 (as a diverging lr would)
    config = _tiny_ring(steps=4).replace(seeds=(0,), latents=("gaussian",))

    def poison(self, ctx, built, latent):
        def nan_after_step_2(step, info):
            if step == 2:
                with torch.no_grad():
                    next(info["generator"].parameters()).fill_(float("nan"))
        return [nan_after_step_2]

    with monkeypatch.context() as patch:
        patch.setattr(RingTask, "callbacks", poison)
        with pytest.raises(FloatingPointError, match=r"cell ring/gaussian-L16/seed-0: .*step 3"):
            run_experiment(config, tmp_path, console=Console(quiet=True), progress=False)
    cell = tmp_path / "ring" / "gaussian-L16" / "seed-0"
    state = torch.load(cell / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2
    assert all(torch.isfinite(t).all() for t in state["generator"].values())
    # the rerun (nothing poisons it now) resumes from the finite step-2 state and finishes
    records = run_experiment(config, tmp_path, console=Console(quiet=True), progress=False)
    assert json.loads((cell / "metrics.json").read_text())["resumed_from"] == 2
    assert len(records) == 1


def test_a_cell_locked_by_another_process_is_busy_and_released_when_it_ends(tmp_path):
    # issue 23 F8, in process (the installed-command version is slow: tests/cli/test_run.py)
    import subprocess
    import sys

    from qlatent.experiments.cell import CellBusy, cell_locks

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
         str(a / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CellBusy) as err, cell_locks([b, a]):
            pass
        assert err.value.cell_dirs == [a]
        with cell_locks([b]):  # the free cell alone is not busy
            pass
    finally:
        holder.kill()
        holder.wait()
    with cell_locks([a, b]):  # the holder died: its lock went with it
        pass


def test_a_rerun_that_trains_differently_is_refused_naming_the_fields(ring_run, tmp_path):
    # issue 23 F4, in process (the installed-command version is slow: tests/cli/test_run.py)
    import shutil

    config, out, _ = ring_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    before = sorted(p.relative_to(copy) for p in copy.rglob("*"))
    other = config.replace(train=config.train.replace(lr=config.train.lr * 2))
    with pytest.raises(ValueError, match=rf"train.lr = {config.train.lr!r} there, "
                                         rf"{other.train.lr!r} here"):
        run_experiment(other, copy, console=Console(quiet=True), progress=False)
    assert sorted(p.relative_to(copy) for p in copy.rglob("*")) == before
    more_seeds = config.replace(seeds=(*config.seeds, 2), latents=("gaussian",))
    records = run_experiment(more_seeds, copy, console=Console(quiet=True), progress=False)
    assert (copy / "ring/gaussian-L16/seed-2/metrics.json").is_file() and len(records) == 3


@pytest.mark.parametrize("content", ["{}", "[]", '{"metrics": 3}', "not json"])
def test_a_damaged_metrics_file_is_one_error_naming_it(ring_run, tmp_path, content):
    # issue 23 F10, in process (the installed-command version is slow: tests/cli/test_run.py)
    import shutil

    config, out, _ = ring_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    metrics = copy / "ring/gaussian-L16/seed-0/metrics.json"
    metrics.write_text(content)
    with pytest.raises(ValueError, match=rf"{metrics}.*delete the file"):
        run_experiment(config, copy, console=Console(quiet=True), progress=False)
