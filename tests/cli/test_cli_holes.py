"""Issue 23's holes reproduced through the installed ``qlatent`` (F2, F5, F13, F14)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile

import numpy as np
import pytest


def qlatent_executable() -> str:
    found = shutil.which("qlatent", path=str(os.path.dirname(sys.executable)))
    if found is None:
        pytest.skip("the qlatent entry point is not installed (pip install -e .)")
    return found


def write_npz_bomb(path, shape, data_bytes):
    """A .npz whose uint8 member claims ``shape`` but holds ``data_bytes`` zeros (deflated)."""
    header = {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("samples.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_2_0(member, header)
            for _ in range(data_bytes >> 20):
                member.write(bytes(1 << 20))


def _bank(*args, cache, umask=None):
    """``qlatent bank ARGS`` with its cache in ``cache`` (and ``umask`` if given)."""
    env = {**os.environ, "QLATENT_CACHE": str(cache), "COLUMNS": "200"}
    return subprocess.run([qlatent_executable(), "bank", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600,
                          preexec_fn=None if umask is None else (lambda: os.umask(umask)))


def _one_line(text):
    return " ".join(text.split())


def test_an_npz_bomb_is_refused_with_its_size_and_little_memory(tmp_path):
    """F2: a 100 GB array deflated into a few KB; the child's peak memory is measured by a
    wrapper process whose only child is the command."""
    bomb = tmp_path / "bomb.npz"
    write_npz_bomb(bomb, (10**11, 1), data_bytes=16 << 20)
    wrapper = ("import resource, subprocess, sys; "
               "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "print(r.stderr, file=sys.stderr)")
    env = {**os.environ, "QLATENT_CACHE": str(tmp_path / "cache"), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", wrapper, qlatent_executable(), "bank", "import",
                           str(bomb)], capture_output=True, text=True, env=env, timeout=600)
    code, max_rss_kb = map(int, done.stdout.split())
    assert code != 0, done.stderr
    said = _one_line(done.stderr)
    assert f"{bomb}[samples]: 100,000,000,000 shots x 1 modes x 1 byte(s) = 100 GB" in said
    assert "refused before reading the rows" in said and "Traceback" not in said
    assert max_rss_kb < 1_000_000, max_rss_kb  # torch and numpy imported, no rows
    assert not (tmp_path / "cache" / "banks").exists() or not [
        p for p in (tmp_path / "cache" / "banks").iterdir() if p.name != ".locks"]


@pytest.mark.slow  # in process: test_import_limits.py's test_counts_are_plain_ascii_digits
def test_counts_with_underscores_or_other_digits_are_refused(tmp_path):
    """F13: ``int`` reads ``1_0`` as 10 and ``٣`` as 3; a count is ASCII digits."""
    for text, field in (("1,0\n1_0,2\n", "1_0"), ("1,0\n\u0663,2\n", "\u0663")):
        path = tmp_path / "odd.csv"
        path.write_text(text, encoding="utf-8")
        done = _bank("import", path, cache=tmp_path / "cache")
        assert done.returncode != 0
        assert (f"{path}: row 2: column 1: {field!r} is not a non-negative integer"
                in _one_line(done.stderr)), done.stderr


@pytest.mark.slow  # in process: test_banks.py's test_bank_folders_honour_the_umask_in_process
def test_bank_folders_honour_the_umask(tmp_path):
    """F14: under umask 077 a bank's folder and files are private (they were 0755)."""
    shots = tmp_path / "shots.csv"
    shots.write_text("1,0,2\n0,1,1\n")
    cache = tmp_path / "cache"
    done = _bank("import", shots, cache=cache, umask=0o077)
    assert done.returncode == 0, done.stderr
    folder = re.search(r"path (\S+)\n", done.stdout).group(1)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [cache / "banks", *
             [p for p in (cache / "banks").rglob("*") if ".locks" not in p.parts]]}
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, oct(os.stat(folder).st_mode)
    assert all(mode & 0o077 == 0 for mode in modes.values()), {k: oct(v) for k, v in
                                                                modes.items()}
    done = _bank("quantum", "--modes", 4, "--photons", 2, "--samples", 500, "--seed", 1, "-q",
                 cache=cache, umask=0o027)
    assert done.returncode == 0, done.stderr
    built = [p for p in (cache / "banks").iterdir() if p.is_dir() and p.name != ".locks"
             and str(p) != folder]
    assert [stat.S_IMODE(p.stat().st_mode) for p in built] == [0o750]


@pytest.mark.slow  # in process: test_bank_integrity.py's test_a_cache_hit_checks_the_stored_key
def test_swapped_bank_folders_are_refused_not_served(tmp_path):
    """F5: the quantum and photonic banks of one request swapped in the cache: the next
    quantum request fails naming both keys (it trained on photonic rows before)."""
    cache = tmp_path / "cache"
    common = ("--modes", 6, "--photons", 3, "--samples", 1000, "--seed", 4, "-q")
    folders = {}
    for kind in ("quantum", "photonic"):
        done = _bank(kind, *common, cache=cache)
        assert done.returncode == 0, done.stderr
        folders[kind] = cache / "banks" / re.search(r"key\s+([0-9a-f]{64})",
                                                    done.stdout).group(1)[:32]
    keys = {k: json.loads((f / "meta.json").read_text())["key"] for k, f in folders.items()}
    os.rename(folders["quantum"], tmp_path / "aside")
    os.rename(folders["photonic"], folders["quantum"])
    os.rename(tmp_path / "aside", folders["photonic"])
    done = _bank("quantum", *common, cache=cache)
    assert done.returncode != 0
    assert (f"bank {folders['quantum']} holds bank {keys['photonic'][:16]}... (photonic), not "
            f"the requested {keys['quantum'][:16]}..." in _one_line(done.stderr)), done.stderr
    rows = np.load(folders["quantum"] / "samples.npy")
    assert rows.shape == (1000, 6)  # nothing was rewritten


@pytest.mark.chem
@pytest.mark.slow  # ChemNet in three runs of the installed command: ~1 min on a loaded machine
def test_a_tampered_fcd_cache_entry_is_not_used_by_evaluate(tmp_path):
    """F6: the attack scaled the cached reference statistics and the FCD went 1.71 -> 52.18."""
    pytest.importorskip("fcd")
    smiles = ["CCO", "CC(=O)O", "c1ccccc1", "CCN", "C1CC1", "OC1CCOC1", "N#CC#N", "CC(C)C"]
    reference = ["O=C1CCC1", "CC#CC", "C1=CNC=C1", "FC(F)F", "CCOC", "NCC(N)=O", "c1ccncc1",
                 "CCCO", "CCO", "CCN"]
    (tmp_path / "mols.smi").write_text("\n".join(smiles) + "\n")
    (tmp_path / "ref.smi").write_text("\n".join(reference) + "\n")
    cache = tmp_path / "cache"
    env = {**os.environ, "QLATENT_CACHE": str(cache)}

    def evaluate():
        out = tmp_path / "m.json"
        done = subprocess.run([qlatent_executable(), "evaluate", tmp_path / "mols.smi",
                               "--reference", tmp_path / "ref.smi", "--json", out],
                              capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        return json.loads(out.read_text())["metrics"]["fcd"], done.stderr

    clean, _ = evaluate()
    (entry,) = (cache / "fcd").glob("reference-*.npz")
    with np.load(entry) as f:
        arrays = dict(f)
    arrays["outer"] = arrays["outer"] * 30
    with open(entry, "wb") as handle:
        np.savez(handle, **arrays)
    again, err = evaluate()
    assert again == pytest.approx(clean, rel=1e-9)
    assert f"the FCD cache entry {entry} does not match its checksum" in _one_line(err)
