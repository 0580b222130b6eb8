"""``qlatent run`` -> ``qlatent sample`` -> ``qlatent.load_run``, and ``qlatent evaluate``,
through the installed entry point."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest


def _recorded_seeds(cell):
    return tomllib.loads((cell / "config.toml").read_text())["seeds"]


@pytest.mark.xdist_group("trained_ring")  # one worker trains it once
@pytest.mark.parametrize("latent", ["gaussian", "quantum"])
def test_run_sample_load_run_reproduce_the_cells_own_samples(qlatent, trained_ring, latent,
                                                              monkeypatch):
    import qlatent as ql

    monkeypatch.setenv("QLATENT_CACHE", str(trained_ring["cache"]))  # the run's banks
    cell = trained_ring["out"] / "ring" / f"{latent}-L16" / "seed-0"
    run = ql.load_run(cell)
    assert (run.cell.dataset, run.cell.latent, run.cell.latent_dim, run.cell.seed) == (
        "ring", latent, 16, 0)
    assert run.step == 5 and run.finished and not run.generator.training
    assert run.config.train.steps == 5 and run.latent.dim == 16
    assert next(run.generator.parameters()).device.type == "cpu"
    # The runner scored n_eval draws from the evaluate seed and kept the first n_plot: the
    # rebuilt generator and latent (with its normalisation) give them back bit for bit.
    kept = np.load(cell / "samples.npy", allow_pickle=False)
    again = run.sample(600, seed=int(_recorded_seeds(cell)["evaluate"]))
    assert again.dtype == np.float32 and again.shape == (600, 2)
    np.testing.assert_array_equal(again[: len(kept)], kept)
    if latent == "quantum":  # not the gaussian's: the bank latent really was rebuilt
        gauss = ql.load_run(cell.parent.parent / "gaussian-L16" / "seed-0")
        assert not np.array_equal(gauss.sample(600, seed=1), run.sample(600, seed=1))
        return
    # The command writes what the library draws (atomically: no temporary file left).
    out = trained_ring["root"] / "drawn" / "x.npy"
    result = qlatent("sample", cell, "-n", "50", "-o", out, "--seed", "3",
                     cwd=trained_ring["root"])
    assert result.returncode == 0, result.stderr
    assert "x.npy" in result.stdout and result.stderr == ""
    np.testing.assert_array_equal(np.load(out, allow_pickle=False), run.sample(50, seed=3))
    assert sorted(p.name for p in out.parent.iterdir()) == ["x.npy"]


def _strict_rdkit(smiles):
    """Independent of qlatent.metrics: strict validity by hand with RDKit."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    canon = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s) if s else None
        ok = (mol is not None and mol.GetNumAtoms() > 0 and "." not in s
              and all(a.GetAtomicNum() != 0 for a in mol.GetAtoms())
              and len(Chem.GetMolFrags(mol)) == 1)
        canon.append(Chem.MolToSmiles(mol, isomericSmiles=False) if ok else None)
    return canon


SAMPLES = ["CCO", "OCC", "C(O)C", "c1ccccc1", "C1=CC=CC=C1", "", "C.C", "XYZ", "CC(=O)O",
           "C(C)(C)(C)(C)C", "*C", "C1CC1", "N#N", "CCN", "  ", "O=C=O"]
REFERENCE = ["CCO", "CCC", "C1CC1", "CCN", "COC", "CC(C)O"]


@pytest.mark.slow  # RDKit twice; evaluate's errors stay in test_cli_errors
@pytest.mark.chem
def test_evaluate_matches_an_independent_rdkit_count(qlatent, tmp_path):
    pytest.importorskip("rdkit")
    smi = tmp_path / "mols.smi"
    smi.write_text("SMILES name\n" + "".join(f"{s} sample{i}\n" if s.strip() else "\n"
                                             for i, s in enumerate(SAMPLES)))
    ref = tmp_path / "ref.smi"
    ref.write_text("\n".join(REFERENCE) + "\n")
    out = tmp_path / "m.json"
    result = qlatent("evaluate", smi, "--reference", ref, "--no-fcd", "--json", out,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    m = record["metrics"]
    canon = _strict_rdkit(SAMPLES)
    valid = [c for c in canon if c is not None]
    ref_set = {c for c in _strict_rdkit(REFERENCE) if c is not None}
    assert m["n_samples"] == len(SAMPLES) == 16
    assert m["n_valid"] == len(valid) == 10  # ethanol x3, benzene x2 and five others
    assert m["validity"] == pytest.approx(len(valid) / len(SAMPLES))
    assert m["n_valid_unique"] == len(set(valid))
    assert m["uniqueness"] == pytest.approx(len(set(valid)) / len(valid))
    assert m["n_novel"] == len(set(valid) - ref_set)
    assert m["novelty"] == pytest.approx(len(set(valid) - ref_set) / len(set(valid)))
    assert m["fcd"] is None and "--no-fcd" in record["fcd_note"]
    for label in ("validity", "uniqueness", "novelty", "FCD", "not computed"):
        assert label in result.stdout
    # No valid molecule: the metrics still come, FCD n/a with the reason (ChemNet not run).
    none = tmp_path / "none.smi"
    none.write_text("\nXYZ\nC.C\n")
    result = qlatent("evaluate", none, "--reference", ref, "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["metrics"]["n_samples"] == 3 and record["metrics"]["validity"] == 0
    assert record["metrics"]["fcd"] is None
    assert "at least 2 valid molecules, got 0" in record["fcd_note"]
    assert "n/a" in result.stdout


@pytest.mark.chem
@pytest.mark.slow  # ChemNet twice: ~20 s on a loaded 2-core machine
def test_evaluate_fcd_matches_the_library(qlatent, tmp_path):
    pytest.importorskip("fcd")
    from qlatent.metrics.fcd import fcd

    smi = tmp_path / "mols.smi"
    smi.write_text("\n".join(SAMPLES) + "\n")
    ref = tmp_path / "ref.smi"
    ref.write_text("\n".join(REFERENCE) + "\n")
    out = tmp_path / "m.json"
    result = qlatent("evaluate", smi, "--reference", ref, "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    value = json.loads(out.read_text())["metrics"]["fcd"]
    valid = [c for c in _strict_rdkit(SAMPLES) if c is not None]
    assert value is not None and np.isfinite(value)
    assert value == pytest.approx(fcd(valid, sorted({c for c in _strict_rdkit(REFERENCE)})),
                                  rel=1e-6)


@pytest.mark.chem
@pytest.mark.slow  # processes all of QM9 once (minutes on a cold cache)
def test_evaluate_against_the_qm9_training_split(qlatent, tmp_path):
    pytest.importorskip("rdkit")
    from qlatent.data.qm9 import QM9Graphs

    train = set(QM9Graphs().smiles("train"))   # the same defaults as the qm9 task's
    smi = tmp_path / "mols.smi"
    smi.write_text("\n".join(SAMPLES) + "\n")
    out = tmp_path / "m.json"
    result = qlatent("evaluate", smi, "--no-fcd", "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["reference"] == "QM9 training split"
    valid = {c for c in _strict_rdkit(SAMPLES) if c is not None}
    assert record["metrics"]["n_novel"] == len(valid - train)
