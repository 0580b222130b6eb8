"""Sample banks: cache hits, chunk/job independence, resume bit-identity, corruption, no copy."""

import json
import os

import numpy as np
import pytest
import torch

from qlatent import latents, photonics
from qlatent.latents import BankError
from qlatent.latents.banks import build as bank_build

KW = dict(n_modes=6, progress=False)


def _count_blocks(monkeypatch):
    calls = []
    real = bank_build._sample_block

    def counting(*args, **kwargs):
        calls.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(bank_build, "_sample_block", counting)
    return calls


def test_bank_rows_metadata_and_statistics():
    bank = latents.build_bank("quantum", "haar", 3, 3000, seed=4, **KW)
    assert bank.samples.dtype == np.uint8 and bank.samples.shape == (3000, 6)
    assert np.all(bank.samples.sum(axis=1) == 3)
    assert not bank.samples.flags.writeable
    meta = json.loads((bank.path / "meta.json").read_text())
    assert meta["kind"] == "quantum" and meta["seed"] == 4 and meta["circuit"] == "haar"
    assert meta["input_state"] == [1, 1, 1, 0, 0, 0]
    assert meta["noise"]["transmission"] == 1.0 and meta["versions"]["qlatent"]
    np.testing.assert_allclose(meta["statistics"]["mean"], bank.samples.mean(0), rtol=1e-12)
    np.testing.assert_allclose(meta["statistics"]["std"], bank.samples.std(0), rtol=1e-10)
    # The circuit is the one drawn from the seed, and stored with the bank.
    U = photonics.circuit_unitary("haar", 6, np.random.SeedSequence(4).spawn(3)[0])
    np.testing.assert_array_equal(bank.unitary, U)


def test_same_request_is_a_cache_hit_and_others_are_not(monkeypatch):
    calls = _count_blocks(monkeypatch)
    a = latents.build_bank("quantum", "haar", 3, 2000, seed=1, **KW)
    assert len(calls) == 1
    b = latents.build_bank("quantum", "haar", 3, 2000, seed=1, **KW)
    assert len(calls) == 1 and b.key == a.key
    np.testing.assert_array_equal(a.samples, b.samples)
    others = [latents.build_bank("quantum", "haar", 3, 2000, seed=2, **KW),
              latents.build_bank("photonic", "haar", 3, 2000, seed=1, **KW),
              latents.build_bank("quantum", "haar", 2, 2000, seed=1, **KW),
              latents.build_bank("quantum", "1-1", 3, 2000, seed=1, **KW),
              latents.build_bank("quantum", "haar", 3, 2000, seed=1,
                                 noise={"transmission": 0.9}, **KW)]
    assert len({a.key, *(o.key for o in others)}) == 6
    assert len(latents.list_banks()) == 6


def test_user_unitary_and_named_circuit_agree():
    U = latents.build_bank("photonic", "1-3-9", 4, 500, seed=9, n_modes=10, progress=False).unitary
    a = latents.build_bank("photonic", U, 4, 500, seed=9, progress=False)
    b = latents.build_bank("photonic", "1-3-9", 4, 500, seed=9, n_modes=10, progress=False)
    np.testing.assert_array_equal(a.samples, b.samples)


def test_rows_do_not_depend_on_chunk_size_or_jobs(tmp_path, monkeypatch):
    results = []
    for i, (chunk, jobs) in enumerate([(300, 1), (700, 2), (10_000, 1)]):
        monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / str(i)))
        bank = latents.build_bank("quantum", "haar", 3, 2500, seed=5, block_size=100,
                                  chunk_size=chunk, n_jobs=jobs, **KW)
        results.append(bank.samples)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_resume_after_interrupt_is_bit_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "clean"))
    clean = latents.build_bank("quantum", "haar", 3, 1000, seed=8, block_size=100,
                               chunk_size=200, noise={"transmission": 0.8}, **KW)

    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "killed"))
    real = bank_build._sample_block
    calls = []

    def dies_in_chunk_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # first block of the third chunk (two blocks per chunk)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(bank_build, "_sample_block", dies_in_chunk_3)
    with pytest.raises(KeyboardInterrupt):
        latents.build_bank("quantum", "haar", 3, 1000, seed=8, block_size=100, chunk_size=200,
                           noise={"transmission": 0.8}, **KW)
    partial = [p for p in (tmp_path / "killed" / "banks").iterdir() if p.name.endswith(".partial")]
    assert len(partial) == 1 and len(list(partial[0].glob("blocks-*.npz"))) == 2
    with pytest.raises(BankError, match="not a finished bank"):
        latents.load_bank(partial[0].with_name(partial[0].name[:-len(".partial")]))

    monkeypatch.setattr(bank_build, "_sample_block", real)
    calls2 = _count_blocks(monkeypatch)
    # Resume with another chunk size: only the 6 missing blocks are generated.
    resumed = latents.build_bank("quantum", "haar", 3, 1000, seed=8, block_size=100,
                                 chunk_size=300, noise={"transmission": 0.8}, **KW)
    assert len(calls2) == 6
    np.testing.assert_array_equal(resumed.samples, clean.samples)
    assert resumed.key == clean.key
    assert not partial[0].exists()
    assert json.loads((resumed.path / "meta.json").read_text())["checksums"] == \
        json.loads((clean.path / "meta.json").read_text())["checksums"]


def test_corrupted_bank_is_rejected():
    bank = latents.build_bank("quantum", "haar", 3, 2000, seed=1, **KW)
    path = bank.path / "samples.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(BankError, match="corrupted: SHA-256 of samples.npy"):
        latents.load_bank(bank.path)
    with pytest.raises(BankError, match="corrupted"):  # a cache hit never uses it silently
        latents.build_bank("quantum", "haar", 3, 2000, seed=1, **KW)
    with pytest.raises(BankError, match="corrupted"):
        latents.get("bank", bank=bank.path)


def test_truncated_bank_is_rejected_even_with_matching_checksum():
    bank = latents.build_bank("quantum", "haar", 3, 2000, seed=1, **KW)
    path = bank.path / "samples.npy"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(BankError, match="corrupted"):
        latents.load_bank(bank.path)
    meta = json.loads((bank.path / "meta.json").read_text())
    meta["checksums"]["samples.npy"] = __import__("qlatent._io", fromlist=["x"]).file_digest(path)
    (bank.path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BankError, match="corrupted"):
        latents.load_bank(bank.path)


def test_load_by_key_prefix_and_errors():
    bank = latents.build_bank("quantum", "haar", 3, 500, seed=1, **KW)
    assert latents.load_bank(bank.key[:10]).key == bank.key
    with pytest.raises(BankError, match="no bank at"):
        latents.load_bank("ffffffffffffffff")


def test_bank_latent_draws_rows_uniformly_without_copying():
    bank = latents.build_bank("quantum", "haar", 2, 4, seed=3, n_modes=4, progress=False)
    latent = latents.get("bank", bank=bank, normalize="none")
    # The buffer shares memory with the bank: no copy of the rows.
    assert latent.bank.data_ptr() == bank.samples.__array_interface__["data"][0]
    n = 40_000
    z = latent.sample(n, generator=torch.Generator().manual_seed(0)).to(torch.uint8).numpy()
    rows = bank.samples
    index = np.array([np.flatnonzero((rows == r).all(1))[0] for r in z])
    # Distinct identical rows map to one index: compare row-value frequencies with the bank's.
    values, counts = np.unique(rows, axis=0, return_counts=True)
    for v, c in zip(values, counts, strict=False):
        freq = np.mean((z == v).all(1))
        assert abs(freq - c / 4) <= 5 * np.sqrt(0.25 * 0.75 / n)
    assert index.shape == (n,)


def test_bad_requests_raise_naming_the_argument():
    with pytest.raises(ValueError, match="kind must be one of"):
        latents.build_bank("bosons", "haar", 2, 10, seed=0, n_modes=4)
    with pytest.raises(ValueError, match="n_modes is required"):
        latents.build_bank("quantum", "haar", 2, 10, seed=0)
    with pytest.raises(ValueError, match="not unitary"):
        latents.build_bank("quantum", np.ones((3, 3)), 2, 10, seed=0)
    with pytest.raises(ValueError, match="unknown key"):
        latents.build_bank("quantum", "haar", 2, 10, seed=0, n_modes=4, noise={"los": 0.5})
    with pytest.raises(ValueError, match="indistinguishability is fixed to 0"):
        latents.build_bank("photonic", "haar", 2, 10, seed=0, n_modes=4,
                           noise={"indistinguishability": 0.5})
    with pytest.raises(ValueError, match="seed must be >= 0"):
        latents.build_bank("quantum", "haar", 2, 10, seed=-1, n_modes=4)


def test_bank_of_1m_by_48_fits_in_48_mb():
    rows = np.zeros((1_000_000, 48), dtype=np.uint8)
    bank = latents.Bank(rows, {"key": "x" * 64, "kind": "quantum",
                               "statistics": {"mean": [0.0] * 48, "std": [0.0] * 48}})
    latent = latents.BankLatent(bank)
    assert latent.bank.element_size() * latent.bank.nelement() == 48_000_000
    assert latent.bank.data_ptr() == rows.__array_interface__["data"][0]
    assert latent.sample(256).shape == (256, 48)


def test_environment_keeps_cache_isolated():
    assert "QLATENT_CACHE" in os.environ


def test_killed_build_process_resumes_bit_identical(tmp_path, monkeypatch):
    """SIGKILL a real build after its first chunks are on disk; the rerun finishes it."""
    import signal
    import subprocess
    import sys
    import time

    args = dict(n_photons=3, n_samples=60_000, seed=21, block_size=500, chunk_size=500)
    killed = tmp_path / "killed"
    code = (
        "import time\n"
        "from qlatent.latents import banks\nfrom qlatent.latents.banks import build as bank_build\n"
        "real = bank_build._sample_block\n"
        "def slow(*a, **k):\n"
        "    time.sleep(0.05)\n"
        "    return real(*a, **k)\n"
        "bank_build._sample_block = slow\n"
        f"banks.build_bank('quantum', 'haar', n_modes=6, progress=False, **{args!r})\n"
    )
    env = {**os.environ, "QLATENT_CACHE": str(killed)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # a chunk counts once its checksum file is written (after the chunk itself)
            chunks = list((killed / "banks").glob("*.partial/blocks-*.npz.sha256"))
            if len(chunks) >= 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    monkeypatch.setenv("QLATENT_CACHE", str(killed))
    left = latents.banks.unfinished_builds()
    assert len(left) == 1 and 3 <= left[0]["chunks"] < 120
    calls = _count_blocks(monkeypatch)
    resumed = latents.build_bank("quantum", "haar", n_modes=6, progress=False, **args)
    assert len(calls) == 120 - left[0]["chunks"]
    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "clean"))
    clean = latents.build_bank("quantum", "haar", n_modes=6, progress=False, **args)
    np.testing.assert_array_equal(resumed.samples, clean.samples)


def test_blocks_are_independent_streams():
    bank = latents.build_bank("quantum", "haar", 3, 1000, seed=5, block_size=100, **KW)
    blocks = bank.samples.reshape(10, 100, 6)
    for i in range(1, 10):
        assert not np.array_equal(blocks[0], blocks[i])


@pytest.mark.slow
def test_paper_size_bank_matches_the_exact_distribution():
    """8 photons / 16 modes, 300k rows in 19 blocks: TVD to all 490,314 exact probabilities is
    within 3/sqrt(N) of what an exact sampler shows (McDiarmid: fails w.p. <= 2 e^-18)."""
    from qlatent.latents.summary import expected_tvd

    bank = latents.build_bank("quantum", "haar", 8, 300_000, seed=17, n_modes=16,
                              progress=False, n_jobs=2)
    states, probs = photonics.exact_distribution(bank.unitary, photonics.standard_input(16, 8))
    tvd = photonics.total_variation_distance(bank.samples, states, probs)
    floor = expected_tvd(probs, bank.n_samples)
    assert abs(tvd - floor) <= 3 / np.sqrt(bank.n_samples), (tvd, floor)


def test_bank_folders_honour_the_umask_in_process(tmp_path, monkeypatch):
    # issue 23 F14 (the installed-command version is slow: tests/cli/test_cli_holes.py)
    import stat

    monkeypatch.setenv("QLATENT_CACHE", str(tmp_path / "cache"))
    shots = tmp_path / "shots.csv"
    shots.write_text("1,0,2\n0,1,1\n")
    for umask, folder_mode in ((0o077, 0o700), (0o027, 0o750)):
        old = os.umask(umask)
        try:
            bank = (latents.import_bank(shots) if umask == 0o077 else
                    latents.build_bank("quantum", "haar", n_modes=4, n_photons=2,
                                       n_samples=500, seed=1, progress=False))
        finally:
            os.umask(old)
        assert stat.S_IMODE(os.stat(bank.path).st_mode) == folder_mode
        assert all(stat.S_IMODE(p.stat().st_mode) & umask == 0
                   for p in bank.path.rglob("*")), umask
