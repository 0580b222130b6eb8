"""Your own data through the installed ``qlatent``: bit files in the zoo (``[task.files]``) and an
imported hardware bank named by its key in a config (issue 23, part 4, items 1 and 2)."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from qlatent.experiments.config import load_config

ZOO = """[experiment]
task = "zoo"
datasets = ["mybits"{extra}]
latents = ["bernoulli", "gan"]
seeds = 1

[task]
n_eval = 400
bas_rows = 2
bas_cols = 2

[task.files]
mybits = {files}

[latent_params.bernoulli]
latent = "bernoulli_fit"
fit = {{loss = "nll", steps = 40, lr = 0.1}}

[latent_params.gan]
train = "adversarial"
latent_dim = 2

[model]
hidden = [8]

[train]
steps = 3
batch_size = 16
"""


def _bits(rng, n):
    """Rows of 5 independent bits with P(1) = (0.1, 0.3, 0.5, 0.7, 0.9)."""
    return (rng.random((n, 5)) < np.array([0.1, 0.3, 0.5, 0.7, 0.9])).astype(np.uint8)


def test_a_bit_file_runs_through_the_zoo_and_its_report(in_process, tmp_path):
    # In this process; the installed command reads a bit file in the test below.
    rng = np.random.default_rng(0)
    train, held = _bits(rng, 300), _bits(rng, 100)
    np.save(tmp_path / "mybits.npy", train.astype(np.int64))
    np.savetxt(tmp_path / "held.csv", held, fmt="%d", delimiter=",", header="a,b,c,d,e",
               comments="")
    (tmp_path / "zoo.toml").write_text(ZOO.format(
        extra=', "bas"', files='{train = "mybits.npy", held_out = "held.csv"}'))
    result = in_process("run", "zoo.toml", "--out", "out", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for family in ("bernoulli", "gan"):
        cell = tmp_path / "out" / "mybits" / family / "seed-0"
        metrics = json.loads((cell / "metrics.json").read_text())["metrics"]
        assert np.isfinite(metrics["exact_mmd"]) and np.isfinite(metrics["generalization_rate"])
        assert np.isnan(metrics["kl_divergence"])  # no exact target: the empirical one
        files = json.loads((cell / "environment.json").read_text())["task"]["data_files"]
        for key, name in (("train", "mybits.npy"), ("held_out", "held.csv")):
            want = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
            assert files[key]["sha256"] == want and files[key]["file"].endswith(name)
    # The fitted product of Bernoullis learnt the file's bit frequencies (300 rows: each within
    # 0.1 of the data's, far below the 0.2 spacing of the true ones).
    samples = np.load(tmp_path / "out/mybits/bernoulli/seed-0/samples.npy")
    assert samples.shape == (400, 5)
    np.testing.assert_allclose(samples.mean(0), train.mean(0), atol=0.1)
    assert (tmp_path / "out/bas/bernoulli/seed-0/metrics.json").is_file()
    result = in_process("report", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mybits" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("files, write, message", [
    ('{train = "missing.npy"}', {}, "task.files.mybits.train must be an existing NPY/CSV file"),
    ('{train = "a.txt"}', {"a.txt": "0,1\n"}, "train must be a .npy or .csv file"),
    ('{train = "a.csv"}', {"a.csv": "0,1,1\n1,2,0\n"}, "row 2, column 2: 2 is not a bit"),
    ('{train = "a.csv"}', {"a.csv": "0,1,1\n1,0\n"}, "expected 3 values"),
    ('{train = "a.npy"}', {"a.npy": np.zeros(4)}, "expected a 2-D array"),
    ('{train = "a.npy"}', {"a.npy": np.array([[0.5, 1.0]])}, "is not an integer count"),
    ('{train = "a.npy"}', {"a.npy": np.array([[None, 1]], dtype=object)}, "Object arrays"),
    ('{train = "a.csv", held_out = "b.csv"}', {"a.csv": "0,1\n", "b.csv": "0,1,1\n"},
     "rows of 3 bits, the training rows"),
    ('{train = "a.csv", held_out = "b.csv"}', {"a.csv": "0,1\n1,1\n", "b.csv": "1,1\n"},
     "every row is also a training row"),
    ('{train = "a.csv", extra = "b.csv"}', {"a.csv": "0,1\n"}, "extra"),
    ('{held_out = "a.csv"}', {"a.csv": "0,1\n"}, "task.files.mybits must set train"),
])
def test_every_bad_bit_file_is_one_line_when_the_config_is_read(tmp_path, monkeypatch, files,
                                                                  write, message):
    for name, content in write.items():
        if isinstance(content, str):
            (tmp_path / name).write_text(content)
        else:
            np.save(tmp_path / name, content, allow_pickle=True)
    (tmp_path / "zoo.toml").write_text(ZOO.format(extra="", files=files))
    monkeypatch.chdir(tmp_path)  # relative paths are taken from the current directory
    with pytest.raises((ValueError, TypeError)) as err:
        load_config("zoo.toml")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*write, "zoo.toml"])


def test_a_bad_bit_file_stops_qlatent_run_in_one_line_before_writing(in_process, tmp_path):
    # In process; the installed command's one-line config errors: test_cli_errors.py's
    # "typo latent (installed)".
    (tmp_path / "a.csv").write_text("0,1,1\n1,2,0\n")
    (tmp_path / "zoo.toml").write_text(ZOO.format(extra="", files='{train = "a.csv"}'))
    result = in_process("run", "zoo.toml", "--out", "out", "--no-progress", cwd=tmp_path)
    said = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(said) == 1, result.stderr
    assert "task.files.mybits.train: " in said[0] and "row 2, column 2: 2 is not a bit" in said[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../x", ".hidden", "a/b", "bas"])
def test_a_file_data_set_name_that_is_no_safe_folder_is_refused(tmp_path, monkeypatch, name):
    (tmp_path / "a.csv").write_text("0,1\n1,0\n")
    text = ZOO.format(extra="", files='{train = "a.csv"}').replace('"mybits"', f'"{name}"')
    (tmp_path / "zoo.toml").write_text(text.replace("\nmybits =", f'\n"{name}" ='))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="folder|built-in") as err:
        load_config("zoo.toml")
    assert repr(name) in str(err.value)


@pytest.mark.slow  # bad bank requests stay, in process; the bit-file run shows the CLI path
def test_an_imported_bank_runs_by_its_key_with_its_provenance(qlatent, ring_config, tmp_path,
                                                               monkeypatch):
    cache = {"QLATENT_CACHE": str(tmp_path / "cache")}
    counts = np.random.default_rng(1).poisson(0.5, size=(400, 16))
    np.savetxt(tmp_path / "shots.csv", counts, fmt="%d", delimiter=",")
    result = qlatent("bank", "import", "shots.csv", "--description", "chip A", cwd=tmp_path,
                     env=cache)
    assert result.returncode == 0, result.stdout + result.stderr
    key = re.search(r"\b([0-9a-f]{64})\b", result.stdout + result.stderr).group(1)
    text = ring_config.read_text()
    start, end = text.index("latents = "), text.index("\n", text.index("latents = "))
    text = text[:start] + 'latents = ["hw", "shuffled"]' + text[end:]
    head, tail = text.split("[model]")
    head = head[:head.index("[latent_params.")]
    head += (f'[latent_params.hw]\nlatent = "bank"\nbank = "{key[:8]}"\n\n'
             f'[latent_params.shuffled]\nbank = "{key[:8]}"\n\n')
    (tmp_path / "hw.toml").write_text(head + "[model]" + tail)
    result = qlatent("run", "hw.toml", "--steps", "2", "--seeds", "0", "--out", "out",
                     "--no-progress", cwd=tmp_path, env=cache)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((tmp_path / "out/ring/hw-L16/seed-0/environment.json").read_text())
    latent = record["latent"]
    assert latent["bank_key"] == key and latent["bank_kind"] == "hardware"
    assert latent["bank_source"]["sha256"] == hashlib.sha256(
        (tmp_path / "shots.csv").read_bytes()).hexdigest()
    assert latent["bank_source"]["description"] == "chip A"
    shuffled = json.loads((tmp_path / "out/ring/shuffled-L16/seed-0/environment.json"
                           ).read_text())["latent"]
    assert shuffled["bank_source"]["key"] == key
    # A key not in the cache, a bad value, no key, a bank of another width: one line.
    monkeypatch.setenv("QLATENT_CACHE", cache["QLATENT_CACHE"])
    good = f'latent = "bank"\nbank = "{key[:8]}"'
    for old, new, message in (
            (good, 'latent = "bank"\nbank = "ffffffff"', "no bank with key 'ffffffff'"),
            (good, 'latent = "bank"\nbank = "../x"', "4 to 64 lowercase hex digits"),
            (good, good + '\nnormalize = "nope"', "normalize"),
            (good, 'latent = "bank"', "must set bank"),
            ("latent_dims = [16]", "latent_dims = [8]", f"bank {key[:8]} has 16 modes")):
        (tmp_path / "bad.toml").write_text((tmp_path / "hw.toml").read_text().replace(old, new))
        with pytest.raises((ValueError, TypeError)) as err:
            load_config(tmp_path / "bad.toml")
        assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
