"""Atomic writes: all or nothing, and the permissions a plain open() gives."""

import os

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
