"""`qlatent export` and `qlatent bank compare` through the installed command, in a subprocess:
the exported files give the trained cell's probabilities back (our parser, or the SDK when
installed), the comparison table and JSON agree with a direct NumPy computation."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from qlatent.interop import from_qasm

# One worker builds this module's shared fixture once (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("export_cells")

ZOO = """[experiment]
name = "export test"
task = "zoo"
datasets = ["bas"]
latents = ["qgan"]
seeds = 1

[latent_params.qgan]
train = "adversarial"
latent = "uniform"
latent_dim = 2
generator = "quantum"
generator_params = {n_qubits = 2, n_ancillas = 1, n_patches = 2, layers = 2}

[model]
hidden = [8]
activation = "leaky_relu"
generator = "mlp"

[train]
steps = 2
batch_size = 8
n_critic = 1
gp_weight = 10.0
loss = "wgan-gp"
optimizer = "adam"
lr = 1e-3
betas = [0.5, 0.9]
checkpoint_every = 1
log_every = 1

[task]
bas_rows = 2
bas_cols = 2
n_eval = 50
"""

RING = """[experiment]
name = "export ring"
task = "ring"
datasets = ["ring"]
latents = ["born", "quantum"]
seeds = 1
latent_dims = [6]

[latent_params.born]
kind = "quantum"
circuit = "1-1"
n_photons = 3

[latent_params.quantum]
circuit = "1-1"
n_samples = 500

[model]
hidden = [8]
activation = "leaky_relu"
generator = "mlp"

[train]
steps = 2
batch_size = 8
n_critic = 1
gp_weight = 10.0
loss = "wgan-gp"
optimizer = "adam"
lr = 5e-4
betas = [0.0, 0.9]
latent_lr = 1e-2
checkpoint_every = 1
log_every = 1

[task]
n_eval = 100
n_mmd = 50
n_plot = 50
"""


def _qlatent(*args, cache: Path, cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("qlatent", path=str(Path(sys.executable).parent)) or shutil.which(
        "qlatent")
    if exe is None:
        pytest.skip("the qlatent entry point is not installed (pip install -e .)")
    env = {**os.environ, "QLATENT_CACHE": str(cache), "COLUMNS": "120"}
    env.pop("QLATENT_DEBUG", None)
    return subprocess.run([exe, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def _in_process(*args):
    """The same command through typer's CliRunner (checks that need no fresh process)."""
    from typer.testing import CliRunner

    from qlatent.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    """Two tiny experiments trained for 2 steps in this process: a zoo cell with the patch
    quantum generator, and ring cells with a trained photonic Born machine and a fixed
    quantum bank latent."""
    from rich.console import Console

    from qlatent.experiments.config import load_config
    from qlatent.experiments.executors import run_experiment

    root = tmp_path_factory.mktemp("export")
    cache = root / "cache"
    old = os.environ.get("QLATENT_CACHE")
    os.environ["QLATENT_CACHE"] = str(cache)
    try:
        for name, text in (("zoo", ZOO), ("ring", RING)):
            (root / f"{name}.toml").write_text(text)
            run_experiment(load_config(root / f"{name}.toml"), root / name, progress=False,
                           console=Console(quiet=True))
    finally:
        if old is None:
            os.environ.pop("QLATENT_CACHE")
        else:
            os.environ["QLATENT_CACHE"] = old
    return {"root": root, "cache": cache, "qgan": root / "zoo/bas/qgan/seed-0",
            "born": root / "ring/ring/born-L6/seed-0",
            "quantum": root / "ring/ring/quantum-L6/seed-0"}


def test_export_qasm_of_the_quantum_generator(cells, monkeypatch):
    out = cells["root"] / "gen.qasm"
    result = _qlatent("export", cells["qgan"], "--to", "qasm", "-o", out, cache=cells["cache"],
                      cwd=cells["root"])
    assert result.returncode == 0, result.stderr
    paths = [cells["root"] / f"gen.generator.patch{p}.qasm" for p in range(2)]
    assert result.stdout.splitlines() == [f"{path}: generator.patch{p} (qasm)"
                                          for p, path in enumerate(paths)]
    monkeypatch.setenv("QLATENT_CACHE", str(cells["cache"]))
    from qlatent.experiments.reuse import load_run

    generator = load_run(cells["qgan"]).generator.double()
    z = torch.tensor([[0.3, 1.1]], dtype=torch.float64)
    joint = generator.joint_probabilities(z)[0].detach().numpy()  # [P, D]
    values = {f"z_{q}": float(z[0, q]) for q in range(2)}
    for p, path in enumerate(paths):
        circuit = from_qasm(path.read_text())
        np.testing.assert_allclose(circuit.probabilities(values)[:2], joint[p], atol=1e-12)


@pytest.mark.slow  # in process: test_export.py and test_optical.py (the circuits)
def test_export_perceval_of_a_trained_born_machine_and_a_bank(cells, monkeypatch):
    out = cells["root"] / "born.py"
    result = _qlatent("export", cells["born"], "--to", "perceval", "-o", out,
                      cache=cells["cache"], cwd=cells["root"])
    assert result.returncode == 0, result.stderr
    assert f"{out}: latent (perceval)" in result.stdout
    monkeypatch.setenv("QLATENT_CACHE", str(cells["cache"]))
    from qlatent.experiments.reuse import load_run

    latent = load_run(cells["born"]).latent
    assert not torch.allclose(latent.unitary(), type(latent)(
        6, kind="quantum", circuit="1-1", n_photons=3, seed=0).unitary())  # trained angles
    pytest.importorskip("perceval")
    namespace = runpy.run_path(str(out))
    np.testing.assert_allclose(np.array(namespace["circuit"].compute_unitary()),
                               latent.unitary().detach().numpy(), atol=1e-12)
    assert list(namespace["input_state"]) == [1, 1, 1, 0, 0, 0]


def test_export_of_a_fixed_bank_latent_in_process(cells, monkeypatch):
    monkeypatch.setenv("QLATENT_CACHE", str(cells["cache"]))
    result = _in_process("export", cells["quantum"], "--to", "perceval", "-o",
                         cells["root"] / "bank.py")
    assert result.exit_code == 0, result.output
    pytest.importorskip("perceval")
    from qlatent.experiments.reuse import load_run
    from qlatent.latents.banks import load_bank

    bank = load_bank(load_run(cells["quantum"]).latent.bank_key)
    namespace = runpy.run_path(str(cells["root"] / "bank.py"))
    np.testing.assert_allclose(np.array(namespace["circuit"].compute_unitary()), bank.unitary,
                               atol=1e-12)


def test_export_refusals_name_what_fits(cells, monkeypatch):
    monkeypatch.setenv("QLATENT_CACHE", str(cells["cache"]))
    result = _in_process("export", cells["born"], "--to", "qasm")
    assert result.exit_code == 2
    assert result.output.strip() == ("error: --to qasm takes qubit circuits, but the cell "
                                     "ring/born-L6/seed-0 holds optical ones (latent): use --to "
                                     "perceval")
    result = _in_process("export", cells["born"], "--to", "perceval", "-o", "x.qasm")
    assert result.exit_code == 2 and "-o: --to perceval writes .py files" in result.output
    result = _in_process("export", cells["born"], "--to", "cirq")
    assert result.exit_code == 2 and "--to must be one of" in result.output
    result = _in_process("export", cells["qgan"], "--to", "pennylane")
    assert result.exit_code == 2 and ("the cell holds 2 circuits (generator.patch0, "
                                      "generator.patch1): give -o FILE.py") in result.output


@pytest.mark.slow  # in process: test_compare.py (the statistics)
def test_bank_compare_table_json_and_figure(cells, monkeypatch):
    monkeypatch.setenv("QLATENT_CACHE", str(cells["cache"]))
    from qlatent import latents

    quantum = latents.load_bank(latents.list_banks()[0]["key"])
    photonic = latents.build_bank("photonic", quantum.unitary, n_photons=3, n_samples=400,
                                  seed=1, progress=False)
    result = _qlatent("bank", "compare", quantum.key[:12], photonic.key[:12], "--json",
                      "--figure", cells["root"] / "cmp.png", cache=cells["cache"],
                      cwd=cells["root"])
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    a, b = quantum.samples, photonic.samples
    assert stats["bunching"]["a"] == pytest.approx(np.mean(a.max(1) >= 2))
    assert stats["bunching"]["b"] == pytest.approx(np.mean(b.max(1) >= 2))
    np.testing.assert_allclose(stats["correlators"]["b"], np.cov(b.T, bias=True), atol=1e-12)
    assert (cells["root"] / "cmp.png").stat().st_size > 10_000
    result = _in_process("bank", "compare", quantum.key[:12], photonic.key[:12])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "bunching" in x)
    assert f"{stats['bunching']['a']:.4f}" in line and f"{stats['bunching']['b']:.4f}" in line


def test_help_of_the_new_commands():
    for command, words in ((("export",), ("--to", "qasm", "perceval", "-o")),
                           (("bank", "compare"), ("--figure", "--json", "Fano", "bunching"))):
        result = _in_process(*command, "--help")
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        assert all(w in text for w in words), (command, text)


def test_bank_from_a_unitary_file(tmp_path, monkeypatch):
    """A user's interferometer (.npy) as the circuit of a fixed bank, in process."""
    import re

    from qlatent import latents, photonics

    monkeypatch.chdir(tmp_path)
    U = photonics.haar_unitary(5, rng=2)
    np.save("U.npy", U)
    result = _in_process("bank", "quantum", "--circuit", "U.npy", "--photons", "2",
                         "--samples", "300", "--quiet")
    assert result.exit_code == 0, result.output
    key = re.search(r"key\s+([0-9a-f]{64})", result.output).group(1)
    bank = latents.load_bank(key)
    np.testing.assert_array_equal(bank.unitary, U)
    assert bank.n_modes == 5 and set(bank.samples.sum(1)) == {2}
    np.save("bad.npy", 1.1 * U)
    result = _in_process("bank", "quantum", "--circuit", "bad.npy", "--quiet")
    assert result.exit_code == 2 and "must be unitary" in result.output
    result = _in_process("bank", "quantum", "--circuit", "U.npy", "--modes", "6", "--quiet")
    assert result.exit_code == 2 and "--modes must match the unitary in U.npy (5 modes)" in (
        result.output)
