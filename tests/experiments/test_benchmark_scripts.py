"""The statistics of benchmark scripts whose output is committed under results/, against
numpy and scipy computed here from the same numbers: benchmarks/compare_runs.py --pairs (the
paired differences per run and their change between two runs) and
benchmarks/fcd_eval_noise.py (the FCD's within-cell and seed-to-seed spread)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compare_runs():
    return script("compare_runs")


def write_run(root: Path, values: dict[tuple[str, int], float]) -> None:
    for (latent, seed), value in values.items():
        cell = root / "qm9" / f"{latent}-L16" / f"seed-{seed}"
        cell.mkdir(parents=True)
        (cell / "metrics.json").write_text(json.dumps(
            {"cell": {"dataset": "qm9", "latent": latent, "seed": seed},
             "metrics": {"fcd": value}}))


def rows(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")]
            for line in table.splitlines() if line.startswith("| qm9")]


def test_pair_table_matches_scipy(compare_runs, tmp_path):
    rng = np.random.default_rng(7)
    quick = {(lat, s): float(rng.normal(6.0, 1.0)) for lat in ("quantum", "photonic")
             for s in range(12)}
    mid = {(lat, s): float(rng.normal(2.5 if lat == "quantum" else 3.5, 0.3))
           for lat in ("quantum", "photonic") for s in range(8)}
    del mid["photonic", 7]  # a seed run B has for one latent only: not a pair
    write_run(tmp_path / "a", quick)
    write_run(tmp_path / "b", mid)
    a = compare_runs.cells(tmp_path / "a", "fcd")
    b = compare_runs.cells(tmp_path / "b", "fcd")
    table = compare_runs.pair_table(a, b, [("quantum", "photonic")], "fcd")
    got = rows(table)
    assert [r[2] for r in got] == ["run A, all its seeds", "run B, all its seeds",
                                   "run A, the common seeds",
                                   "change (run B − run A), the common seeds"]
    gap_a = np.array([quick["quantum", s] - quick["photonic", s] for s in range(12)])
    gap_b = np.array([mid["quantum", s] - mid["photonic", s] for s in range(7)])
    expected = [gap_a, gap_b, gap_a[:7], gap_b - gap_a[:7]]
    for row, d in zip(got, expected, strict=True):
        assert int(row[3]) == d.size
        mean, ci = row[4].split(" ", 1)
        assert float(mean) == pytest.approx(d.mean(), rel=5e-3)
        half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
        low, high = (float(x) for x in ci.strip("[]").split(","))
        assert low == pytest.approx(d.mean() - half, rel=5e-3, abs=1e-3)
        assert high == pytest.approx(d.mean() + half, rel=5e-3, abs=1e-3)
        p = stats.ttest_1samp(d, 0.0).pvalue
        assert float(row[5]) == pytest.approx(p, rel=5e-3, abs=1e-12)
        assert float(row[6]) == pytest.approx(p, rel=5e-3, abs=1e-12)  # one comparison
    # run B's quantum is ~1 lower by construction: resolved, and the change too
    assert got[1][8] == "quantum lower"
    assert got[3][8] == "quantum − photonic lower in run B"


def test_holm_is_per_row_kind(compare_runs, tmp_path):
    rng = np.random.default_rng(3)
    lat = ("quantum", "photonic", "gaussian")
    quick = {(x, s): float(rng.normal(6.0, 1.0)) for x in lat for s in range(10)}
    mid = {(x, s): float(rng.normal(3.0, 1.0)) for x in lat for s in range(6)}
    write_run(tmp_path / "a", quick)
    write_run(tmp_path / "b", mid)
    a = compare_runs.cells(tmp_path / "a", "fcd")
    b = compare_runs.cells(tmp_path / "b", "fcd")
    got = rows(compare_runs.pair_table(a, b, [("quantum", "photonic"), ("quantum", "gaussian")],
                                       "fcd"))
    for kind in {r[2] for r in got}:
        mine = [r for r in got if r[2] == kind]
        assert len(mine) == 2
        p = sorted(float(r[5]) for r in mine)
        adjusted = sorted(float(r[6]) for r in mine)
        assert adjusted[0] == pytest.approx(min(1.0, 2 * p[0]), rel=5e-3)
        assert adjusted[1] == pytest.approx(min(1.0, max(2 * p[0], p[1])), rel=5e-3)


def test_one_pair_is_no_test_and_bad_pairs_are_refused(compare_runs, tmp_path):
    write_run(tmp_path / "a", {("quantum", 0): 6.0, ("photonic", 0): 5.0,
                               ("quantum", 1): 6.5, ("photonic", 1): 5.2})
    write_run(tmp_path / "b", {("quantum", 0): 2.0, ("photonic", 0): 3.0})
    a = compare_runs.cells(tmp_path / "a", "fcd")
    b = compare_runs.cells(tmp_path / "b", "fcd")
    got = rows(compare_runs.pair_table(a, b, [("quantum", "photonic")], "fcd"))
    assert [r[8] for r in got[1:]] == ["no test (n < 2)"] * 3
    assert got[3][4].startswith("-2 ")  # (2 - 3) - (6 - 5)
    with pytest.raises(SystemExit, match="--pairs takes A:B with two latents"):
        compare_runs.check_pair("quantum:classical", set(a))
    with pytest.raises(SystemExit, match="got 'quantum'"):
        compare_runs.check_pair("quantum", set(a))


def test_fcd_eval_noise_summary():
    noise = script("fcd_eval_noise")
    rng = np.random.default_rng(11)
    latents, seeds, draws = ["quantum", "photonic"], [0, 1, 2], 4
    done, finished = {}, {}
    for lat in latents:
        for s in range(6):  # seed-to-seed spread over every finished cell, redraws on 0-2
            finished[lat, s] = float(rng.normal(6.0, 1.5))
        for s in seeds:
            done[lat, s, -1] = finished[lat, s]
            for r in range(draws):
                done[lat, s, r] = finished[lat, s] + float(rng.normal(0.0, 0.1))
    text = noise.summarize(done, finished, latents, seeds, draws)
    variances = [np.var([done[lat, s, r] for r in range(draws)], ddof=1)
                 for lat in latents for s in seeds]
    sd_eval = np.sqrt(np.mean(variances))  # equal draws: pooling = mean of the variances
    assert f"pooled, {len(variances) * (draws - 1)} dof): **{sd_eval:.4f}**" in text
    x = np.array([finished["quantum", s] for s in range(6)])
    assert f"| quantum | {x.std(ddof=1):.3f} (6) | {sd_eval**2 / x.var(ddof=1):.3g} |" in text
    d = np.array([finished["quantum", s] - finished["photonic", s] for s in range(6)])
    assert (f"| quantum − photonic | {d.std(ddof=1):.3f} (6) | {np.sqrt(2) * sd_eval:.4f} | "
            f"{2 * sd_eval**2 / d.var(ddof=1):.3g} |") in text


def test_select_latent_lr_chooses_on_a_real_run_and_refuses_test_seeds(tmp_path, capsys,
                                                                      monkeypatch):
    # benchmarks/select_latent_lr.py on a tiny selection run (one trained family at two rates,
    # plus a fixed latent it must ignore): its numbers are the cells' own, its choice numpy's.
    from rich.console import Console

    from qlatent.experiments.config import load_config, to_toml
    from qlatent.experiments.executors import run_experiment

    select = script("select_latent_lr")
    base = load_config(ROOT / "configs" / "paper" / "fig2_ring_quick.toml")
    mult = {"latent": "multinomial", "normalize": "center"}
    config = base.replace(
        latents=("m.lr1e-3", "m.lr3e-2", "gaussian"), seeds=(100, 101), latent_dims=(4,),
        latent_params={"m.lr1e-3": {**mult, "latent_lr": 1e-3},
                       "m.lr3e-2": {**mult, "latent_lr": 3e-2}},
        model={"hidden": [8]}, task_params={"n_eval": 300, "n_mmd": 50, "n_plot": 50},
        train=base.train.replace(steps=3, batch_size=8, log_every=1, checkpoint_every=3))
    run = tmp_path / "select"
    run_experiment(config, run, console=Console(quiet=True), progress=False)
    metric = "interpolation_rate"
    values = select.scores(run, load_config(run / "config.toml"), metric)
    fam = "multinomial(normalize='center')"
    expected = {rate: [json.loads((run / f"ring/m.lr{name}-L4/seed-{s}/metrics.json")
                                  .read_text())["metrics"][metric] for s in (100, 101)]
                for rate, name in ((1e-3, "1e-3"), (3e-2, "3e-2"))}
    assert values == {("ring", fam, rate): xs for rate, xs in expected.items()}
    means = {rate: float(np.mean(xs)) for rate, xs in expected.items()}
    best = min(sorted(means), key=lambda r: means[r])  # lower is better; ties: smaller rate
    assert select.choose(values, False) == {("ring", fam): best}
    assert select.choose_over_datasets(values, False) == {fam: best}
    # --apply-to: the test config's multinomial gets the chosen rate; shared seeds are refused
    test = config.replace(latents=("multinomial", "gaussian"), seeds=(0, 1),
                          latent_params={"multinomial": {"normalize": "center"}})
    (tmp_path / "test.toml").write_text(to_toml(test.to_dict()))
    monkeypatch.setattr("sys.argv", ["select", str(run), "--apply-to", str(tmp_path / "test.toml")])
    select.main()
    out = capsys.readouterr().out
    assert f"latent_lr = {best:g}    # in [latent_params.multinomial]: {fam}\n" in out
    assert "gaussian" not in out.split("For ")[1]
    (tmp_path / "test.toml").write_text(to_toml(test.replace(seeds=(0, 101)).to_dict()))
    with pytest.raises(SystemExit, match=r"runs seeds \[101\] that the selection used"):
        select.main()
