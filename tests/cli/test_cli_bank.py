"""`qlatent bank ...` run end to end with typer's CliRunner on small banks."""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from qlatent import latents
from qlatent.cli import app

runner = CliRunner()


def _run(*args):
    result = runner.invoke(app, ["bank", *args])
    return result, result.output


def _fails_with(result, text):
    """The command failed and said ``text``: in its output (a usage error), or in the library
    error it raised (the central handler of ``qlatent.cli.main`` prints it as one line)."""
    said = result.output + (str(result.exception) if result.exception else "")
    return result.exit_code != 0 and text in said


def _key(output):
    return re.search(r"key\s+([0-9a-f]{64})", output).group(1)


def test_issue_spelling_builds_a_noisy_quantum_bank_and_info_reports_it():
    result, out = _run("quantum", "--modes", "5", "--photons", "2", "--samples", "20000",
                       "--seed", "7", "--circuit", "1-1", "--transmission", "0.9",
                       "--indistinguishability", "0.8", "--threshold", "--jobs", "2", "-q")
    assert result.exit_code == 0, out
    key = _key(out)
    bank = latents.load_bank(key)
    assert bank.samples.shape == (20000, 5) and bank.samples.max() == 1
    assert bank.metadata["noise"] == {"transmission": 0.9, "indistinguishability": 0.8,
                                      "threshold": True, "dark_count_probability": 0.0,
                                      "min_photons": None}
    assert bank.metadata["circuit"] == "1-1" and bank.metadata["seed"] == 7
    # The same request again is a cache hit with the same key.
    result, out2 = _run("build", "quantum", "--modes", "5", "--photons", "2", "--samples",
                        "20000", "--seed", "7", "--circuit", "1-1", "--transmission", "0.9",
                        "-x", "0.8", "--threshold", "-q")
    assert result.exit_code == 0 and _key(out2) == key

    result, out = _run("info", key[:12], "--json")
    assert result.exit_code == 0, out
    summary = json.loads(out)
    assert summary["shape"] == [20000, 5] and summary["kind"] == "quantum"
    np.testing.assert_allclose(summary["mean_occupancy"], bank.samples.mean(0))
    assert summary["bunching_probability"] == 0.0  # click detectors
    tvd = summary["tvd"]
    assert tvd["reference"] == "exact distribution of this noise model"
    assert tvd["value"] < 3 * tvd["expected_for_exact_sampler"]

    result, out = _run("info", str(bank.path))
    assert result.exit_code == 0
    for field in ("Fano factor", "bunching", "collision", "histogram", "TVD to exact"):
        assert field in out, field


def test_every_kind_builds_and_lists():
    keys = []
    for kind in ("quantum", "photonic", "dirichlet_multinomial", "shuffled"):
        result, out = _run(kind, "--modes", "6", "--samples", "3000", "--seed", "1", "-q")
        assert result.exit_code == 0, out
        keys.append(_key(out))
    assert len(set(keys)) == 4
    result, out = _run("list")
    assert result.exit_code == 0
    for key in keys:
        assert key[:8] in out
    result, out = _run("info", keys[1], "--json")
    tvd = json.loads(out)["tvd"]
    assert tvd["reference"] == "exact photonic distribution"
    assert tvd["value"] < 3 * tvd["expected_for_exact_sampler"]
    # The shuffled challenger is far from the quantum distribution (totals are no longer 3).
    result, out = _run("info", keys[3], "--json")
    tvd = json.loads(out)["tvd"]
    assert tvd["reference"] == "exact quantum distribution" and tvd["value"] > 0.3


def test_import_and_its_errors(tmp_path):
    good = tmp_path / "shots.csv"
    good.write_text("0,1,1\n2,0,0\n1,1,0\n0,0,1\n")
    result, out = _run("import", str(good), "--min-photons", "2", "--description", "PT-2")
    assert result.exit_code == 0, out
    bank = latents.load_bank(_key(out))
    assert bank.n_samples == 3 and bank.metadata["source"]["description"] == "PT-2"
    assert "acceptance 0.7500" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("0,1,1\n2,0\n")
    result, out = _run("import", str(bad))
    assert _fails_with(result, f"{bad}: row 2")


def test_bad_arguments_fail_with_a_message():
    result, out = _run("build", "bosons", "--samples", "10", "-q")
    assert result.exit_code != 0 and "KIND must be one of" in out
    result, out = _run("quantum", "--modes", "4", "--samples", "10", "--circuit", "1-2", "-q")
    assert _fails_with(result, "circuit must be one of")
    result, out = _run("info", "0123456789abcdef")
    assert _fails_with(result, "no bank at")



def test_challengers_from_an_imported_bank(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "hw.npy", rng.multinomial(6, rng.dirichlet(np.ones(5), 4000)))
    result, out = _run("import", str(tmp_path / "hw.npy"))
    hw_key = _key(out)
    for kind in ("shuffled", "dirichlet_multinomial"):
        result, out = _run(kind, "--from", hw_key[:12], "--seed", "3", "-q")
        assert result.exit_code == 0, out
        derived = latents.load_bank(_key(out))
        assert derived.kind == kind and derived.metadata["source"]["key"] == hw_key
        assert derived.samples.shape == (4000, 5)
    result, out = _run("quantum", "--from", hw_key[:12], "-q")
    assert result.exit_code != 0 and "--from applies to" in out
    result, out = _run("shuffled", "--from", hw_key[:12], "--modes", "8", "--transmission",
                       "0.5")
    assert result.exit_code != 0 and "--modes, --transmission do not apply with --from" in out


def _flat(output):
    """The text of a usage error without rich's box and line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def test_zero_where_zero_means_nothing_and_the_old_loss_option_are_usage_errors():
    for option in ("--samples", "--photons", "--chunk-size", "--modes", "--jobs"):
        result, out = _run("quantum", option, "0", "-q")
        out = _flat(out)
        assert result.exit_code == 2 and f"Invalid value for '{option}'" in out, out
        assert "Input should be greater than or equal to 1" in out
    result, out = _run("quantum", "--transmission", "1.5", "-q")
    assert result.exit_code == 2
    assert "'--transmission': Input should be less than or equal to 1" in _flat(out)
    result, out = _run("quantum", "--loss", "0.9", "-q")
    assert result.exit_code == 2 and "No such option: --loss" in _flat(out)
    assert not list(latents.list_banks())  # nothing was built


@pytest.mark.slow  # installed runs (torch each); test_cli_errors' installed cases stay
def test_library_errors_from_the_installed_command(tmp_path):
    """The real entry point: a corrupt bank and a bad hardware file fail with the library's
    one-line message naming the file (no per-command handler; exit code non-zero)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    qlatent = Path(sys.executable).with_name("qlatent")
    # A long cache path: the printed path must stay on one line (rich wrapped it at 120).
    env = {**os.environ, "QLATENT_CACHE": str(tmp_path / ("long-" * 24))}

    def run(*args):
        return subprocess.run([str(qlatent), "bank", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    pipes = tmp_path / "pipes.csv"
    pipes.write_text("1|0|2\n")
    done = run("import", str(pipes))
    assert done.returncode != 0
    assert f"{pipes}: line 1: cannot tell the delimiter, found '|'" in done.stderr
    shots = tmp_path / "shots.csv"
    shots.write_text("1,0,2\n0,1,1\n")
    done = run("import", str(shots))
    assert done.returncode == 0, done.stderr
    folder = re.search(r"path (\S+)\n", done.stdout).group(1)  # never wrapped
    assert Path(folder).name == _key(done.stdout)[:32]
    meta = json.loads(Path(folder, "meta.json").read_text())
    meta["statistics"]["mean"][0] = 7.0
    Path(folder, "meta.json").write_text(json.dumps(meta))
    done = run("info", folder)
    assert done.returncode != 0
    assert (f"bank metadata {folder}/meta.json is corrupted: statistics mean of mode 0 is 7.0"
            in done.stderr)
