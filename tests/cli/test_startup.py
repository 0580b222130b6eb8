"""The installed ``qlatent`` starts without torch: ``--version``, ``--help``, every command's
``--help``, click's usage errors and the one-line errors of the checks made before the library
is needed. And the error policy: a user error is one line, a bug keeps its traceback.

Whether torch was imported is read from ``PYTHONPROFILEIMPORTTIME`` (Python's ``-X importtime``
as an environment variable: one stderr line per imported module), so the installed entry point
runs unchanged. The CPU time of each start (user + system, ``getrusage(RUSAGE_CHILDREN)``) is
printed, not asserted (a shared machine); on an idle machine it is about 0.2 s.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

QUICK = Path(__file__).resolve().parents[2] / "configs" / "paper" / "fig2_ring_quick.toml"


def qlatent_executable() -> str:
    """``qlatent`` beside this Python (the .venv's), else the one on PATH."""
    found = shutil.which("qlatent", path=str(Path(sys.executable).parent)) or shutil.which(
        "qlatent")
    if found is None:
        pytest.skip("the qlatent entry point is not installed (pip install -e .)")
    return found


def _start(args, cwd: Path) -> tuple[subprocess.CompletedProcess, set[str], float]:
    """Run the installed ``qlatent ARGS``: (result with the import lines removed from stderr,
    the imported top-level packages, CPU seconds)."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "COLUMNS": "100"}
    env.pop("QLATENT_DEBUG", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([qlatent_executable(), *map(str, args)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = result.stderr.splitlines()
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in lines
                if line.startswith("import time:")}
    result.stderr = "".join(line + "\n" for line in lines if not line.startswith("import time:"))
    return result, imported, cpu


def _commands() -> list[tuple[str, ...]]:
    """Every command and group of the app, as the words that name it (the root is ())."""
    import typer

    from qlatent.cli import app

    found = []

    def walk(command, words):
        found.append(words)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, (*words, name))

    walk(typer.main.get_command(app), ())
    return found


def test_every_command_is_covered():
    assert {("run",), ("report",), ("sample",), ("evaluate",), ("demo",), ("bank",),
            ("bank", "build"), ("bank", "info"), ("bank", "import"),
            ("bank", "list")} <= set(_commands())


# (id, arguments given a work folder, exit code, a fragment of stderr)
ERRORS = [
    ("steps 0", lambda t: ["run", QUICK, "--steps", "0"], 2, "error: --steps must be >= 1"),
    ("threads 0", lambda t: ["run", QUICK, "--threads", "0"], 2, "error: --threads must be >= 1"),
    ("report missing", lambda t: ["report", t / "nothing"], 2, "error: RUN_DIR: no such folder"),
    ("sample -n 0", lambda t: ["sample", t, "-n", "0", "-o", "x.npy"], 2, "error: -n must be >= 1"),
    ("sample suffix", lambda t: ["sample", t, "-n", "5", "-o", "x.csv"], 2, "error: -o must end"),
    ("evaluate json folder", lambda t: ["evaluate", t / "m.smi", "--json", t], 2,
     "error: --json must be a file"),
    ("bank kind", lambda t: ["bank", "build", "bogus"], 2, "KIND must be one of"),
    ("demo part", lambda t: ["demo", "--part", "bogus"], 2, "--part"),
    ("precision", lambda t: ["run", QUICK, "--precision", "fp16"], 2, "fp16"),
    ("unknown command", lambda t: ["nosuchcommand"], 2, "No such command"),
    ("missing argument", lambda t: ["run"], 2, "Missing argument"),
]


@pytest.mark.parametrize("words", _commands(), ids=lambda w: " ".join(w) or "qlatent")
def test_help_starts_without_torch(tmp_path, words):
    result, imported, cpu = _start([*words, "--help"], tmp_path)
    print(f"qlatent {' '.join(words)} --help: {cpu:.2f} s CPU")
    assert result.returncode == 0, result.stderr
    assert "Usage: qlatent" in result.stdout
    assert "torch" not in imported


def test_version_starts_without_torch(tmp_path):
    result, imported, cpu = _start(["--version"], tmp_path)
    print(f"qlatent --version: {cpu:.2f} s CPU")
    assert result.returncode == 0 and result.stdout.startswith("qlatent "), result.stderr
    assert "torch" not in imported and "qlatent" in imported  # the hook saw our imports


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_usage_and_early_errors_start_without_torch(tmp_path, case):
    _, make_args, code, fragment = case
    result, imported, cpu = _start(make_args(tmp_path), tmp_path)
    print(f"{case[0]}: {cpu:.2f} s CPU")
    assert result.returncode == code, (result.stdout, result.stderr)
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "torch" not in imported


def test_the_clis_copies_of_library_names_are_the_librarys():
    from qlatent import latents, train
    from qlatent.cli.choices import LATENT_NAMES, PRECISIONS

    assert LATENT_NAMES == latents.names()
    assert PRECISIONS == train.PRECISIONS


@pytest.fixture()
def failing_command():
    """A hidden ``qlatent fail KIND`` that raises a UserError, a ValueError or a RuntimeError."""
    from qlatent import UserError
    from qlatent.cli import app

    errors = {"user": UserError("the request cannot be met"), "value": ValueError("bad value"),
              "bug": RuntimeError("an internal invariant broke")}

    @app.command("fail", hidden=True)
    def fail(kind: str) -> None:
        raise errors[kind]

    yield
    app.registered_commands[:] = [c for c in app.registered_commands if c.name != "fail"]


@pytest.mark.parametrize("kind", ["user", "value"])
def test_user_errors_are_one_line(failing_command, capsys, monkeypatch, kind):
    from qlatent.cli import main

    monkeypatch.setattr(sys, "argv", ["qlatent", "fail", kind])
    monkeypatch.delenv("QLATENT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


def test_a_bug_keeps_its_traceback_and_says_how_to_report_it(failing_command, capsys,
                                                              monkeypatch):
    from qlatent.cli import main

    monkeypatch.setattr(sys, "argv", ["qlatent", "fail", "bug"])
    monkeypatch.delenv("QLATENT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert "Traceback" in err and "RuntimeError: an internal invariant broke" in err
    assert "this is a bug in qlatent" in err and "please report it" in err
