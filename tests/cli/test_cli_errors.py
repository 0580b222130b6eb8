"""The installed ``qlatent``: --version, help texts, and bad input as ONE line on stderr.

Every bad input must exit with code 2, print exactly one stderr line ``error: ...`` that names
what was wrong, show no traceback, and leave the working folder as it was (no output folder).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import json
import shutil
from pathlib import Path

import pytest
import torch

from qlatent.experiments.executors import run_experiment

PAPER = Path(__file__).resolve().parents[2] / "configs" / "paper"
QUICK = PAPER / "fig2_ring_quick.toml"


def _snapshot(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def _assert_one_line_error(result, *fragments: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_version_is_the_installed_distributions(qlatent, tmp_path):
    result = qlatent("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"qlatent {importlib.metadata.version('qlatent')}"
    import qlatent as ql

    assert ql.__version__ == importlib.metadata.version("qlatent")


# Bracketed words and names that rich markup used to swallow, per command.
HELP = {
    (): ("run", "report", "sample", "evaluate", "bank", "demo", "--version", "--debug",
         "--install-completion", "--show-completion"),
    ("run",): ("[train] precision", "[train] steps", "[cluster] extra", "gaussian", "quantum",
               "dirichlet_multinomial", "fp32|bf16", "local|ray", "--log-to", "tensorboard",
               "cuda:K"),
    ("report",): ("RUN_DIR",),
    ("sample",): (".smi", ".npy", "-n", "--seed", "EMPTY line"),
    ("evaluate",): ("[chem] extra", "--no-fcd", "--json", "--reference"),
    ("demo",): ("--out",),
    ("bank",): ("build", "info", "import", "list"),
    ("bank", "build"): ("--transmission", "--photons"),
    ("bank", "info"): ("--json",),
    ("bank", "import"): ("--min-photons",),
    ("bank", "list"): ("$QLATENT_CACHE/banks",),
}
# Run through the installed entry point (each start costs a torch import); the others in-process.
HELP_INSTALLED = ((), ("run",))


def _check_help(command, text):
    text = " ".join(text.split())  # undo the line wrapping
    for word in HELP[command]:
        assert word in text, (command, word, text)


@pytest.mark.parametrize("command", HELP_INSTALLED, ids=lambda c: " ".join(c) or "qlatent")
def test_installed_help_shows_bracketed_words(qlatent, tmp_path, command):
    result = qlatent(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _check_help(command, result.stdout)


def test_every_commands_help():
    from typer.testing import CliRunner

    from qlatent.cli import app

    for command in HELP:
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        _check_help(command, result.stdout)


def test_shell_completion(qlatent, tmp_path):
    # What the installed bash script asks: complete "qlatent ru" (typer's protocol).
    result = qlatent(cwd=tmp_path, env={"_QLATENT_COMPLETE": "complete_bash",
                                        "COMP_WORDS": "qlatent ru", "COMP_CWORD": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["run"]
    # The script itself (no shell to detect under pytest: name it).
    result = qlatent("--show-completion", "bash", cwd=tmp_path,
                     env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert result.returncode == 0, result.stderr
    assert "_QLATENT_COMPLETE" in result.stdout and "complete" in result.stdout


def _bad_toml(tmp: Path) -> Path:
    path = tmp / "bad.toml"
    path.write_text("[experiment\nname = 1\n")
    return path


def _edited(tmp: Path, old: str, new: str) -> Path:
    text = QUICK.read_text()
    assert old in text
    path = tmp / "edited.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.smi"
    path.write_text("")
    return path


def _smiles(tmp: Path) -> Path:
    path = tmp / "ok.smi"
    path.write_text("CCO\nC1CC1\n")
    return path


def _binary(tmp: Path) -> Path:
    path = tmp / "binary.smi"
    path.write_bytes(b"\xff\xfe\x00\x81")
    return path


# (id, arguments given the input folder, fragments the one line must contain, installed?)
CASES = [
    ("typo latent", lambda t: ["run", QUICK, "--latents", "gausian"],
     ("--latents", "'gausian'", "gaussian"), True),
    ("bad device", lambda t: ["run", QUICK, "--device", "gpu"], ("--device", "'gpu'", "cuda:k"),
     True),
    ("missing config", lambda t: ["run", t / "nothere.toml"], ("nothere.toml", "not found"),
     True),
    ("invalid toml", lambda t: ["run", _bad_toml(t)], ("bad.toml", "invalid TOML"), True),
    ("seeds 3-1", lambda t: ["run", QUICK, "--seeds", "3-1"], ("--seeds", "'3-1'"), True),
    ("steps -1", lambda t: ["run", QUICK, "--steps", "-1"], ("--steps", ">= 1", "-1"), True),
    ("pack 0", lambda t: ["run", QUICK, "--pack", "0"], ("--pack", "positive integer",
                                                          "got 0"), True),
    ("pack -3", lambda t: ["run", QUICK, "--pack", "-3"], ("--pack", "positive integer",
                                                           "got -3"), True),
    ("pack many", lambda t: ["run", QUICK, "--pack", "many"], ("--pack", "'auto'",
                                                               "got 'many'"), True),
    ("pack too big", lambda t: ["run", _edited(t, "hidden = [256, 256]", "hidden = [4096, 4096]"),
                                "--seeds", "0-99", "--latents", "gaussian,bernoulli",
                                "--pack", "200"],
     ("pack 200 does not fit in memory", "MiB per member", "GiB available", "at most"), True),
    ("gpus-per-task local", lambda t: ["run", QUICK, "--gpus-per-task", "0.25"],
     ("--gpus-per-task", "executor 'ray'", "'local'"), True),
    ("gpus-per-task cpu", lambda t: ["run", QUICK, "--executor", "ray", "--gpus-per-task",
                                     "0.25"], ("--gpus-per-task=0.25 needs a GPU", "'cpu'"),
     True),
    ("gpus-per-task 0", lambda t: ["run", QUICK, "--executor", "ray", "--device", "cuda",
                                   "--gpus-per-task", "0"], ("--gpus-per-task", "> 0"), False),
    ("gpus-per-task 1.5", lambda t: ["run", QUICK, "--executor", "ray", "--device", "cuda",
                                     "--gpus-per-task", "1.5"], ("whole number", "1.5"),
     False),
    ("typo train key", lambda t: ["run", _edited(t, "lr =", "lr_g =")], ("lr_g", "[train]"),
     True),
    ("bad circuit", lambda t: ["run", _edited(t, 'circuit = "1-3-9"', 'circuit = "1-3-8"')],
     ("latent_params.quantum", "circuit", "'1-3-8'"), True),
    ("empty smiles", lambda t: ["evaluate", _empty(t), "--no-fcd"], ("empty.smi", "empty"),
     True),
    ("steps 0", lambda t: ["run", QUICK, "--steps", "0"], ("--steps", ">= 1", "got 0"), False),
    ("threads 0", lambda t: ["run", QUICK, "--threads", "0"], ("--threads", ">= 1"), False),
    ("empty latents", lambda t: ["run", QUICK, "--latents", ","], ("--latents",), False),
    ("unknown dataset", lambda t: ["run", QUICK, "--datasets", "moon"], ("'moon'", "ring"),
     False),
    ("report missing", lambda t: ["report", t / "nothing"], ("RUN_DIR", "nothing"), False),
    ("bank info unknown", lambda t: ["bank", "info", "deadbeef"], ("deadbeef",), False),
    ("evaluate missing", lambda t: ["evaluate", t / "none.smi"], ("none.smi", "not found"),
     False),
    ("evaluate binary", lambda t: ["evaluate", _binary(t), "--no-fcd"],
     ("binary.smi", "UTF-8"), False),
    ("evaluate folder", lambda t: ["evaluate", t, "--no-fcd"], ("folder",), False),
    ("evaluate empty reference", lambda t: ["evaluate", _smiles(t), "--reference", _empty(t),
                                            "--no-fcd"], ("reference", "empty.smi", "empty"),
     False),
]
if importlib.util.find_spec("ray") is None:
    CASES.append(("ray not installed", lambda t: ["run", QUICK, "--executor", "ray"],
                  ("--executor ray", "qlatent[cluster]"), False))
if "log_to" not in inspect.signature(run_experiment).parameters:
    CASES.append(("log-to unsupported", lambda t: ["run", QUICK, "--log-to", "tensorboard"],
                  ("--log-to tensorboard", "cannot log"), False))
elif importlib.util.find_spec("tensorboard") is None:
    CASES.append(("tensorboard missing", lambda t: ["run", QUICK, "--log-to", "tensorboard"],
                  ("--log-to tensorboard", "pip install"), False))
if not torch.cuda.is_available():
    CASES.append(("cuda without CUDA", lambda t: ["run", QUICK, "--device", "cuda"],
                  ("--device is 'cuda'", "CUDA is not available"), True))


# Every case in-process; the cases marked "installed" also through the installed entry point (a
# fresh process that imports torch: seconds each), one of them in the default suite.
INSTALLED_DEFAULT = ("typo latent",)
PARAMS = [pytest.param(case, False, id=case[0]) for case in CASES] + [
    pytest.param(case, True, id=f"{case[0]} (installed)",
                 marks=() if case[0] in INSTALLED_DEFAULT else pytest.mark.slow)
    for case in CASES if case[3]]


@pytest.mark.parametrize("case, installed", PARAMS)
def test_bad_input_is_one_line_and_writes_nothing(qlatent, in_process, tmp_path, case,
                                                    installed):
    _, make_args, fragments, _ = case
    inputs, work = tmp_path / "inputs", tmp_path / "work"
    inputs.mkdir()
    work.mkdir()
    args = make_args(inputs)
    before = _snapshot(work)
    result = qlatent(*args, cwd=work) if installed else in_process(*args, cwd=work)
    _assert_one_line_error(result, *fragments)
    assert _snapshot(work) == before  # no runs/<name>, no partial files


def test_debug_shows_the_traceback(qlatent, tmp_path, monkeypatch):
    result = qlatent("--debug", "run", QUICK, "--latents", "gausian", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr
    assert "ValueError" in result.stderr and not (tmp_path / "runs").exists()
    from typer.testing import CliRunner

    from qlatent.cli import app

    monkeypatch.setenv("QLATENT_DEBUG", "1")  # the error propagates instead of one line
    result = CliRunner().invoke(app, ["run", str(QUICK), "--steps", "0"])
    assert isinstance(result.exception, ValueError) and "--steps" in str(result.exception)


def test_click_usage_errors_keep_their_format(in_process, tmp_path):
    result = in_process("run", QUICK, "--precision", "fp16", cwd=tmp_path)
    assert result.returncode == 2 and "Usage:" in result.stderr and "fp16" in result.stderr
    result = in_process("run", cwd=tmp_path)  # missing CONFIG
    assert result.returncode == 2 and "Usage:" in result.stderr


def _cell_copy(trained_ring, tmp: Path, latent: str = "gaussian") -> Path:
    src = trained_ring["out"] / "ring" / f"{latent}-L16" / "seed-0"
    dst = tmp / "runs" / "ring" / f"{latent}-L16" / "seed-0"
    shutil.copytree(src, dst)
    return dst


class _Planted:
    """Unpickling this runs ``open(target, "w")``: what a planted checkpoint could do."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.xdist_group("trained_ring")  # one worker trains it once
def test_sample_bad_inputs(qlatent, in_process, tmp_path, trained_ring):
    cell = _cell_copy(trained_ring, tmp_path)
    work = tmp_path / "work"
    work.mkdir()

    def bad(*args, fragments=(), installed=False):
        before = _snapshot(work)
        args = ("sample", *args)
        result = qlatent(*args, cwd=work) if installed else in_process(*args, cwd=work)
        line = _assert_one_line_error(result, *fragments)
        assert _snapshot(work) == before
        return line

    bad(cell, "-n", "0", "-o", "x.npy", fragments=("-n", ">= 1"))
    bad(cell, "-n", "10", "-o", "x.csv", fragments=("-o", ".npy", "x.csv"))
    bad(cell, "-n", "10", "-o", "x.smi", fragments=("ring cell writes .npy",))
    bad(trained_ring["out"], "-n", "10", "-o", "x.npy", fragments=("experiment directory",))
    bad(tmp_path / "nowhere", "-n", "10", "-o", "x.npy", fragments=("no such folder",))
    config = cell / "config.json"
    text = config.read_text()
    edited = json.loads(text)
    edited["model"]["hidden"] = [8, 8]  # edited by hand
    config.write_text(json.dumps(edited))
    bad(cell, "-n", "10", "-o", "x.npy", fragments=("checkpoint.pt", "do not fit"))
    config.write_text(text)
    ckpt = cell / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 3])  # truncated
    bad(cell, "-n", "10", "-o", "x.npy", fragments=(str(ckpt), "corrupt"))
    planted = tmp_path / "planted-code-ran"
    torch.save({"generator": {}, "payload": _Planted(str(planted))}, ckpt)
    bad(cell, "-n", "10", "-o", "x.npy", fragments=(str(ckpt), "refused"), installed=True)
    assert not planted.exists()
    ckpt.unlink()
    bad(cell, "-n", "10", "-o", "x.npy", fragments=("no checkpoint.pt", "not trained"))
