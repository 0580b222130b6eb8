"""The installed ``qlatent`` entry point, run as a subprocess (what a user types)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PAPER = Path(__file__).resolve().parents[2] / "configs" / "paper"


def qlatent_executable() -> str:
    """``qlatent`` beside this Python (the .venv's), else the one on PATH."""
    found = shutil.which("qlatent", path=str(Path(sys.executable).parent)) or shutil.which(
        "qlatent")
    if found is None:
        pytest.skip("the qlatent entry point is not installed (pip install -e .)")
    return found


def run_qlatent(*args, cwd: Path, env: dict[str, str] | None = None,
                timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``qlatent ARGS`` in ``cwd``; stdout and stderr captured as text."""
    environ = {**os.environ, "COLUMNS": "100"}
    environ.pop("QLATENT_DEBUG", None)
    environ.update(env or {})
    return subprocess.run([qlatent_executable(), *map(str, args)], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=timeout)


class InProcess:
    """``qlatent ARGS`` through the CLI's root group in this process (``CliRunner``), shaped
    like a CompletedProcess: what the installed command does, without a fresh interpreter
    importing torch (seconds each). Every behaviour tested this way has one installed twin."""

    def __init__(self, *args, cwd: Path) -> None:
        from typer.testing import CliRunner

        from qlatent.cli import app

        old = Path.cwd()
        os.chdir(cwd)
        try:
            result = CliRunner().invoke(app, [str(a) for a in args])
        finally:
            os.chdir(old)
        self.returncode, self.stdout, self.stderr = result.exit_code, result.stdout, result.stderr


def tiny_ring_config(path: Path) -> Path:
    """The quick ring config made tiny: 2k-row banks, 32-wide networks, few evaluation draws."""
    text = (PAPER / "fig2_ring_quick.toml").read_text()
    for old, new in (("n_samples = 20000", "n_samples = 2000"),
                     ("hidden = [256, 256]", "hidden = [32, 32]"),
                     ("n_eval = 5000", "n_eval = 600"), ("n_mmd = 2000", "n_mmd = 200"),
                     ("n_plot = 1000", "n_plot = 300")):
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return path


@pytest.fixture()
def in_process():
    """``in_process(*args, cwd=...)``: ``qlatent ARGS`` in this process (``InProcess``)."""
    return InProcess


@pytest.fixture(scope="session")
def trained_ring(tmp_path_factory):
    """A ring experiment trained for 5 steps by the installed ``qlatent run`` (gaussian and
    quantum latents, seed 0), its cache in a temporary folder."""
    root = tmp_path_factory.mktemp("trained_ring")
    cache = root / "cache"
    config = tiny_ring_config(root / "ring.toml")
    out = root / "runs"
    result = run_qlatent("run", config, "--steps", "5", "--seeds", "0", "--latents",
                         "gaussian,quantum", "--out", out, "--no-progress", cwd=root,
                         env={"QLATENT_CACHE": str(cache)})
    assert result.returncode == 0, result.stdout + result.stderr
    return {"root": root, "out": out, "cache": cache, "config": config}


@pytest.fixture()
def qlatent():
    """``qlatent(*args, cwd=..., env=...)``: run the installed entry point."""
    return run_qlatent


@pytest.fixture()
def ring_config(tmp_path):
    """A tiny ring config file (see ``tiny_ring_config``)."""
    return tiny_ring_config(tmp_path / "ring.toml")
