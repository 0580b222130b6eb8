"""Bank integrity: required checksums, verified statistics, checksummed chunks, photon numbers,
size guards and concurrent builders (two builds and a reader in separate processes)."""

import json
import multiprocessing as mp
import os
import time

import numpy as np
import pytest

from qlatent import latents
from qlatent._io import file_digest
from qlatent.latents import BankError
from qlatent.latents.banks import build as bank_build
from qlatent.latents.normalize import column_statistics

KW = dict(n_modes=6, progress=False)


def _meta(bank):
    return json.loads((bank.path / "meta.json").read_text())


def _write_meta(bank, meta):
    (bank.path / "meta.json").write_text(json.dumps(meta))


def _replace_rows(bank, rows):
    """Rewrite samples.npy with ``rows`` and make checksum and statistics agree with it, so that
    only the photon-number check can notice."""
    path = bank.path / "samples.npy"
    path.chmod(0o644)
    np.save(path, rows.astype(bank.samples.dtype), allow_pickle=False)
    meta = _meta(bank)
    meta["checksums"]["samples.npy"] = file_digest(path)
    meta["statistics"] = column_statistics(rows)
    _write_meta(bank, meta)


def test_missing_samples_checksum_entry_is_a_corrupt_bank():
    bank = latents.build_bank("quantum", "haar", 3, 500, seed=1, **KW)
    meta = _meta(bank)
    del meta["checksums"]["samples.npy"]
    _write_meta(bank, meta)
    with pytest.raises(BankError, match=r"meta.json is corrupted: it has no SHA-256 entry for "
                                        r"samples.npy"):
        latents.load_bank(bank.path)
    meta["checksums"] = {}
    _write_meta(bank, meta)
    with pytest.raises(BankError, match="no SHA-256 entry for samples.npy"):
        latents.build_bank("quantum", "haar", 3, 500, seed=1, **KW)  # a cache hit checks too


def test_missing_unitary_checksum_entry_is_a_corrupt_bank():
    bank = latents.build_bank("quantum", "haar", 3, 500, seed=1, **KW)
    meta = _meta(bank)
    del meta["checksums"]["unitary.npy"]
    _write_meta(bank, meta)
    with pytest.raises(BankError, match="no SHA-256 entry for unitary.npy"):
        latents.load_bank(bank.path)


def test_edited_statistics_are_detected():
    bank = latents.build_bank("quantum", "haar", 3, 2000, seed=1, **KW)
    meta = _meta(bank)
    meta["statistics"]["mean"][2] += 0.1
    _write_meta(bank, meta)
    with pytest.raises(BankError, match=r"meta.json is corrupted: statistics mean of mode 2 is "
                                        r"[0-9.]+, the rows of samples.npy give"):
        latents.get("bank", bank=bank.path)
    meta["statistics"]["mean"][2] -= 0.1
    meta["statistics"]["std"] = meta["statistics"]["std"][:-1]
    _write_meta(bank, meta)
    with pytest.raises(BankError, match="statistics std has 5 entries"):
        latents.load_bank(bank.path)
    del meta["statistics"]
    _write_meta(bank, meta)
    with pytest.raises(BankError, match="no statistics"):
        latents.load_bank(bank.path)


@pytest.mark.parametrize("noise, edit, message", [
    (None, lambda r: r.__setitem__(4, 0), r"row 5 \(1-based\) has 0 photons, expected exactly 3"),
    ({"transmission": 0.8}, lambda r: r.__setitem__((0, 5), 4),
     r"row 1 \(1-based\) has \d photons, expected between 0 and 3"),
    ({"threshold": True}, lambda r: r.__setitem__((7, slice(None)), [2, 1, 0, 0, 0, 0]),
     r"row 8 \(1-based\) has a count of 2 in one mode, expected at most 1"),
    ({"min_photons": 2, "transmission": 0.7}, lambda r: r.__setitem__(3, [1, 0, 0, 0, 0, 0]),
     r"row 4 \(1-based\) has 1 photons, expected between 2 and 3"),
    ({"dark_count_probability": 0.1}, lambda r: r.__setitem__(0, [2, 2, 2, 2, 2, 2]),
     r"row 1 \(1-based\) has 12 photons, expected between 3 and 9"),
])
def test_rows_with_an_impossible_photon_number_are_refused(noise, edit, message):
    bank = latents.build_bank("quantum", "haar", 3, 400, seed=2, noise=noise, **KW)
    rows = bank.samples.copy()
    edit(rows)
    _replace_rows(bank, rows)
    with pytest.raises(BankError, match=f"samples.npy is corrupted: {message} for a quantum bank "
                                        "of 3 photons"):
        latents.load_bank(bank.path)


def test_challengers_are_checked_against_their_source():
    quantum = latents.build_bank("quantum", "haar", 3, 2000, seed=3, **KW)
    dm = latents.derive_bank("dirichlet_multinomial", quantum, seed=0)
    assert np.all(dm.samples.sum(1) == 3)
    rows = dm.samples.copy()
    rows[9] = [1, 1, 1, 1, 0, 0]
    _replace_rows(dm, rows)
    with pytest.raises(BankError, match=r"row 10 \(1-based\) has 4 photons, expected exactly 3"):
        latents.load_bank(dm.path)
    shuffled = latents.derive_bank("shuffled", quantum, seed=0)
    rows = shuffled.samples.copy()
    rows[0, 0] = 4
    _replace_rows(shuffled, rows)
    with pytest.raises(BankError, match=r"row 1 \(1-based\) has a count of 4 in one mode, "
                                        r"expected at most 3"):
        latents.load_bank(shuffled.path)


def test_hardware_banks_keep_their_post_selection(tmp_path):
    np.save(tmp_path / "s.npy", np.array([[1, 0, 0], [1, 1, 0], [2, 1, 1]]))
    bank = latents.import_bank(tmp_path / "s.npy", min_photons=2)
    _replace_rows(bank, np.array([[1, 1, 0], [0, 0, 1]]))
    with pytest.raises(BankError, match=r"row 2 \(1-based\) has 1 photons, expected at least 2 "
                                        r"for min_photons=2"):
        latents.load_bank(bank.path)


def _interrupted_build(monkeypatch, after_blocks, **args):
    """Start a build that dies after ``after_blocks`` blocks; return its .partial folder."""
    real = bank_build._sample_block
    calls = []

    def dies(*a, **k):
        calls.append(1)
        if len(calls) > after_blocks:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(bank_build, "_sample_block", dies)
    with pytest.raises(KeyboardInterrupt):
        latents.build_bank("quantum", "haar", **args, **KW)
    monkeypatch.setattr(bank_build, "_sample_block", real)
    (partial,) = [p for p in bank_build.banks_root().iterdir() if p.name.endswith(".partial")]
    return partial


def _zeros_chunk(path, rows):
    with open(path, "wb") as handle:
        np.savez(handle, rows=np.zeros((rows, 6), dtype=np.uint8), attempts=np.int64(rows))


ARGS = dict(n_photons=3, n_samples=1000, seed=8, block_size=100, chunk_size=200)


def test_planted_zero_chunks_are_refused_and_regenerated(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "clean"))
    clean = latents.build_bank("quantum", "haar", **ARGS, **KW)
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "planted"))
    partial = _interrupted_build(monkeypatch, 4, **ARGS)  # chunks 0-2 and 2-4 written
    assert sorted(p.name for p in partial.iterdir()) == [
        "blocks-000000-000002.npz", "blocks-000000-000002.npz.sha256",
        "blocks-000002-000004.npz", "blocks-000002-000004.npz.sha256"]
    # 1. a valid NPZ of zeros where no chunk was written, with no checksum file;
    _zeros_chunk(partial / "blocks-000004-000006.npz", 200)
    # 2. one with a checksum file that matches it (only the photon numbers can tell);
    _zeros_chunk(partial / "blocks-000006-000008.npz", 200)
    (partial / "blocks-000006-000008.npz.sha256").write_text(bank_build.chunk_checksum(
        clean.key, partial / "blocks-000006-000008.npz"))
    # 3. a real chunk overwritten by zeros, its checksum file left as it was.
    _zeros_chunk(partial / "blocks-000002-000004.npz", 200)
    capfd.readouterr()
    calls = []
    real = bank_build._sample_block
    monkeypatch.setattr(bank_build, "_sample_block",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = latents.build_bank("quantum", "haar", **ARGS, **KW)
    err = capfd.readouterr().err
    assert "chunk blocks-000004-000006.npz has no checksum file; generating its blocks again" \
        in err
    assert ("chunk blocks-000006-000008.npz chunk row 1 (1-based) has 0 photons, expected "
            "exactly 3; generating its blocks again") in err
    assert "chunk blocks-000002-000004.npz does not match its checksum for this build" in err
    assert len(err.strip().splitlines()) == 3
    assert len(calls) == 8  # only the first chunk (2 blocks) was kept
    np.testing.assert_array_equal(resumed.samples, clean.samples)
    assert np.all(resumed.samples.sum(1) == 3)


def test_rows_of_the_sampler_are_checked_before_a_chunk_is_written(monkeypatch):
    """A sampler that returned impossible rows would stop the build, not poison the cache."""
    real = bank_build._sample_block

    def broken(*a, **k):
        rows, attempts = real(*a, **k)
        rows[0] = 0
        return rows, attempts

    monkeypatch.setattr(bank_build, "_sample_block", broken)
    with pytest.raises(RuntimeError, match="impossible row: row 1 .* has 0 photons"):
        latents.build_bank("quantum", "haar", 3, 100, seed=1, **KW)
    assert not any(bank_build.banks_root().glob("*/meta.json"))


def test_size_guards_refuse_before_allocating():
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"n_samples must give a bank that fits in memory: "
                                         r"10,000,000,000,000 rows x 16 modes x 1 byte\(s\) = "
                                         r"160 TB, more than"):
        latents.build_bank("quantum", "haar", 8, 10**13, seed=0, n_modes=16, progress=False)
    with pytest.raises(ValueError, match="n_samples must give a bank that fits in memory"):
        latents.validate("quantum", dim=16, n_samples=10**13)
    with pytest.raises(ValueError, match="n_samples must give a bank that fits in memory"):
        latents.get("quantum", dim=16, seed=0, n_samples=10**13)
    assert time.perf_counter() - start < 5
    assert not list(bank_build.banks_root().iterdir())  # nothing written


# ----------------------------------------------------------------------------- concurrency

CONCURRENT = dict(n_photons=3, n_samples=6000, seed=31, block_size=500, chunk_size=500)


def _builder(cache, queue, delay):
    os.environ["QLATENT_CACHE"] = cache
    from qlatent.latents.banks import build as build_module

    real = build_module._sample_block

    def slow(*a, **k):
        time.sleep(delay)
        return real(*a, **k)

    build_module._sample_block = slow
    try:
        bank = latents.build_bank("quantum", "haar", n_modes=6, progress=False, **CONCURRENT)
        queue.put(("builder", "ok", file_digest(bank.path / "samples.npy"),
                   bank.samples.tobytes()))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        queue.put(("builder", "error", repr(exc), b""))


def _reader(cache, folder, queue, stop):
    """Load the bank over and over until ``stop`` is set; once it has loaded, every later load
    must succeed with the same rows."""
    os.environ["QLATENT_CACHE"] = cache
    seen = None
    loads = 0
    while not stop.is_set():
        try:
            bank = latents.load_bank(folder)
        except BankError as exc:
            if seen is not None or ("not a finished bank" not in str(exc)
                                    and "no bank at" not in str(exc)):
                queue.put(("reader", "error", f"after {loads} loads: {exc}"))
                return
            continue
        loads += 1
        if seen is not None and bank.samples.tobytes() != seen:
            queue.put(("reader", "error", "the rows changed between two loads"))
            return
        seen = bank.samples.tobytes()
    queue.put(("reader", "ok" if seen is not None else "error", f"{loads} loads"))


@pytest.mark.slow  # three fresh interpreters import torch and numba: 5-30 s
def test_two_builders_and_a_reader_at_once(tmp_path):
    probe = latents.build_bank("quantum", "haar", n_modes=6, progress=False, **CONCURRENT)
    cache = str(tmp_path / "shared")
    folder = os.path.join(cache, "banks", probe.path.name)
    ctx = mp.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    builders = [ctx.Process(target=_builder, args=(cache, queue, delay))
                for delay in (0.002, 0.05)]
    reader = ctx.Process(target=_reader, args=(cache, folder, queue, stop))
    for proc in (reader, *builders):
        proc.start()
    messages = []
    while sum(m[0] == "builder" for m in messages) < 2:
        messages.append(queue.get(timeout=120))
    time.sleep(0.5)  # the reader keeps loading the published bank for a while
    stop.set()
    if not any(m[0] == "reader" for m in messages):
        messages.append(queue.get(timeout=60))
    for proc in (reader, *builders):
        proc.join(timeout=60)
    built = [m[1:] for m in messages if m[0] == "builder"]
    (read,) = [m[1:] for m in messages if m[0] == "reader"]
    assert [b[0] for b in built] == ["ok", "ok"], built
    assert built[0][1] == built[1][1] == file_digest(probe.path / "samples.npy")
    assert built[0][2] == built[1][2] == probe.samples.tobytes()
    assert read[0] == "ok", read
    banks = tmp_path / "shared" / "banks"
    assert [p.name for p in banks.iterdir() if not p.name.startswith(".")] == [probe.path.name]
    assert not list(banks.glob(".*.tmp"))


def test_two_builder_threads_and_a_reader_at_once(tmp_path, monkeypatch):
    """The same race in one process (fast): a late builder that started before the early one
    published must not disturb the bank a reader is loading (the old code unlinked its
    meta.json; 5 of 5 runs failed). Each thread opens the lock file itself, so the flock
    serialises threads as it does processes."""
    import threading

    args = dict(n_photons=3, n_samples=3000, seed=32, block_size=250, chunk_size=250)
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "probe"))
    probe = latents.build_bank("quantum", "haar", n_modes=6, progress=False, **args)
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "shared"))
    folder = bank_build.banks_root() / probe.path.name
    real = bank_build._sample_block

    def slow(*a, **k):
        time.sleep(0.02 if threading.current_thread().name == "late" else 0.002)
        return real(*a, **k)

    monkeypatch.setattr(bank_build, "_sample_block", slow)
    results, problems = [], []
    stop = threading.Event()

    def build():
        try:
            bank = latents.build_bank("quantum", "haar", n_modes=6, progress=False, **args)
            results.append(bank.samples.copy())
        except BaseException as exc:  # noqa: BLE001 - reported below
            problems.append(f"builder: {exc!r}")

    def read():
        seen, loads = None, 0
        while not stop.is_set():
            try:
                rows = latents.load_bank(folder).samples
            except BankError as exc:
                if seen is not None or "not a finished bank" not in str(exc) \
                        and "no bank at" not in str(exc):
                    problems.append(f"reader after {loads} loads: {exc}")
                    return
                continue
            loads += 1
            if seen is not None and not np.array_equal(rows, seen):
                problems.append("reader: the rows changed")
                return
            seen = rows
        if seen is None:
            problems.append("reader: never loaded the bank")

    threads = [threading.Thread(target=build, name=name) for name in ("early", "late")]
    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    time.sleep(0.1)
    stop.set()
    reader.join(timeout=60)
    assert not problems, problems
    assert len(results) == 2
    np.testing.assert_array_equal(results[0], probe.samples)
    np.testing.assert_array_equal(results[1], probe.samples)
    assert not list(folder.parent.glob("*.partial")) and not list(folder.parent.glob(".*.tmp"))


def test_a_build_that_fails_before_its_first_chunk_leaves_no_partial_folder(monkeypatch):
    def fails(*a, **k):
        raise RuntimeError("sampler failed")

    monkeypatch.setattr(bank_build, "_sample_block", fails)
    with pytest.raises(RuntimeError, match="sampler failed"):
        latents.build_bank("quantum", "haar", 3, 100, seed=1, **KW)
    assert [p.name for p in bank_build.banks_root().iterdir()] == [".locks"]
    assert latents.banks.unfinished_builds() == []


def test_a_planted_chunk_with_a_plain_checksum_is_not_merged(tmp_path, monkeypatch, capfd):
    """Issue 23 F5: rows that a build could produce (another seed's) planted as a chunk beside
    the SHA-256 of their file: the checksum must be bound to the build's key, so it is not."""
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "clean"))
    clean = latents.build_bank("quantum", "haar", **ARGS, **KW)
    other = latents.build_bank("quantum", "haar", **{**ARGS, "seed": 9}, **KW)
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "planted"))
    partial = _interrupted_build(monkeypatch, 4, **ARGS)
    planted = partial / "blocks-000004-000006.npz"
    with open(planted, "wb") as handle:
        np.savez(handle, rows=other.samples[400:600], attempts=np.int64(200))
    (partial / "blocks-000004-000006.npz.sha256").write_text(file_digest(planted) + "\n")
    capfd.readouterr()
    resumed = latents.build_bank("quantum", "haar", **ARGS, **KW)
    assert ("chunk blocks-000004-000006.npz does not match its checksum for this build"
            in capfd.readouterr().err)
    np.testing.assert_array_equal(resumed.samples, clean.samples)


def test_a_cache_hit_checks_the_stored_key(tmp_path):
    """Issue 23 F5: two bank folders swapped: the request for one gets a refusal, never the
    other's rows."""
    quantum = latents.build_bank("quantum", "haar", **ARGS, **KW)
    photonic = latents.build_bank("photonic", "haar", **ARGS, **KW)
    aside = quantum.path.with_name("aside")
    os.rename(quantum.path, aside)
    os.rename(photonic.path, quantum.path)
    os.rename(aside, photonic.path)
    with pytest.raises(BankError, match=rf"^bank {quantum.path} holds bank "
                                        rf"{photonic.key[:16]}\.\.\. \(photonic\), not the "
                                        rf"requested {quantum.key[:16]}\.\.\."):
        latents.build_bank("quantum", "haar", **ARGS, **KW)
    with pytest.raises(BankError, match=rf"holds bank {quantum.key[:16]}\.\.\. \(quantum\)"):
        latents.get("photonic", dim=6, seed=8, n_photons=3, n_samples=1000, block_size=100)
    with pytest.raises(BankError, match=rf"holds bank {photonic.key[:16]}\.\.\. \(photonic\), "
                                        "but its folder in the cache names"):
        latents.derive_bank("shuffled", quantum.path, 0)
