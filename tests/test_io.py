"""Atomic writes: all or nothing, and the permissions a plain open() gives."""

import os
import re

import pytest

from qlatent._io import atomic_write, atomic_write_text


def test_atomic_write_gives_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "x")
        plain = tmp_path / "b.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_litter(tmp_path):
    path = atomic_write_text(tmp_path / "a.txt", "old")

    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_atomic_save_array_replaces_a_planted_link_never_writes_through_it(tmp_path):
    # issue 23 F12, in process (the installed-command version is slow: tests/cli/test_run.py)
    import numpy as np

    from qlatent._io import atomic_save_array

    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "samples.npy").symlink_to(victim)
    atomic_save_array(tmp_path / "samples.npy", np.arange(6, dtype=np.float32).reshape(3, 2))
    assert victim.read_text() == "precious"
    assert not (tmp_path / "samples.npy").is_symlink()
    assert np.load(tmp_path / "samples.npy", allow_pickle=False).tolist() == [[0, 1], [2, 3],
                                                                               [4, 5]]


def test_progress_off_a_terminal_is_plain_lines(capsys, monkeypatch):
    # issue 23 item 4.4: a bank build piped to a file printed nothing until it ended
    from qlatent import _progress

    bar, task = _progress.progress_bar("quantum bank 2/4", 500)  # pytest's stderr: no terminal
    assert isinstance(bar, _progress.PlainProgress)
    monkeypatch.setattr(_progress, "PLAIN_SECONDS", 0.0)  # a line at every update
    with bar:
        bar.update(task, completed=250, extra="D +0.1")
        bar.update(task, completed=500)
    lines = capsys.readouterr().err.splitlines()
    pace = r"(, [\d,.]+/s, ETA 0 s)?"  # the rate of a few microseconds' work
    assert re.fullmatch(rf"quantum bank 2/4: 250 / 500 \(50 %\), 0 s{pace}  D \+0.1", lines[0])
    assert lines[-1].startswith("quantum bank 2/4: 500 / 500 (100 %), ")
    assert all("\x1b" not in line and "\r" not in line for line in lines)
    silent, task = _progress.progress_bar("quiet", 10, enabled=False)
    with silent:
        silent.update(task, completed=10)
    assert capsys.readouterr().err == ""
