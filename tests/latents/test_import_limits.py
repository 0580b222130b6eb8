"""Hardware import under hostile input (issue 23, F2 and F13): bounded memory, a refusal
before decompressing past the memory guard, streamed text, strict ASCII digits."""

import re
import tracemalloc
import zipfile

import numpy as np
import pytest

from qlatent import latents
from qlatent.latents.banks import store


def write_npz_bomb(path, shape, dtype=np.uint8, data_bytes=1 << 20):
    """A .npz whose member header claims ``shape`` but holds only ``data_bytes`` zeros
    (deflated: a few KB), like a zip bomb cut short."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(shape)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("samples.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_2_0(member, header)
            block = bytes(1 << 20)
            for _ in range(data_bytes >> 20):
                member.write(block)


def _peak(fn):
    """(result or exception, peak bytes traced by tracemalloc while fn ran; numpy's buffers
    are traced)."""
    tracemalloc.start()
    try:
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - returned for the caller to check
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_npz_bomb_is_refused_from_its_header_before_decompressing(tmp_path):
    bomb = tmp_path / "bomb.npz"
    write_npz_bomb(bomb, (10**11, 1), data_bytes=16 << 20)
    assert bomb.stat().st_size < 100_000
    out, peak = _peak(lambda: latents.import_bank(bomb))
    assert isinstance(out, ValueError), out
    text = str(out)
    assert text.startswith(f"{bomb}[samples]: 100,000,000,000 shots x 1 modes")
    assert "100 GB" in text and "refused before reading the rows" in text
    assert peak < 4 << 20, peak
    assert latents.list_banks() == []


def test_a_whole_bomb_is_refused_by_the_memory_guard_of_bank_building(tmp_path, monkeypatch):
    # 32 MB of zeros deflate to ~32 KB; the guard (capped at 4 MB here) refuses before a byte
    # of the rows is decompressed.
    monkeypatch.setattr(store, "MAX_BANK_BYTES", 4 << 20)
    np.savez_compressed(tmp_path / "zeros.npz", samples=np.zeros((4 << 20, 8), np.uint8))
    out, peak = _peak(lambda: latents.import_bank(tmp_path / "zeros.npz"))
    assert isinstance(out, ValueError) and "more than the cap of 4.19 MB per bank" in str(out)
    assert peak < 2 << 20, peak
    np.save(tmp_path / "zeros.npy", np.zeros((1 << 20, 8), np.int64))
    # int64 counts: the guard counts 2 bytes a count (uint16) until the rows show less.
    with pytest.raises(ValueError, match=r"zeros.npy: 1,048,576 shots x 8 modes x 2 byte\(s\) "
                                         r"= 16.8 MB, more than the cap of 4.19 MB"):
        latents.import_bank(tmp_path / "zeros.npy")


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_binary_import_holds_about_the_bank_and_no_more(tmp_path, suffix):
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 3, size=(1 << 18, 8)).astype(np.int64)  # 16 MB as int64
    path = tmp_path / f"shots{suffix}"
    if suffix == ".npz":
        np.savez_compressed(path, samples=rows)
    else:
        np.save(path, rows)
    out, peak = _peak(lambda: latents.import_bank(path))
    assert not isinstance(out, Exception), out
    np.testing.assert_array_equal(out.samples, rows)
    assert out.samples.dtype == np.uint8
    # The bank is 2 MB (uint8); reading the file whole held 16 MB and more.
    assert peak < (2 << 20) + (6 << 20), peak


def test_text_is_streamed(tmp_path):
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 4, size=(40_000, 10))
    path = tmp_path / "shots.csv"
    with open(path, "w") as handle:
        handle.write("m0,m1,m2,m3,m4,m5,m6,m7,m8,m9\n")
        np.savetxt(handle, rows, fmt="%d", delimiter=",")
    size = path.stat().st_size
    out, peak = _peak(lambda: latents.import_bank(path))
    assert not isinstance(out, Exception), out
    np.testing.assert_array_equal(out.samples, rows)
    # 800 KB of text, a 400 KB bank: a list of Python rows took ~12 times the file.
    assert peak < size // 2 + (2 << 20), (peak, size)


@pytest.mark.parametrize("field", ["1_0", "\u0661", "\uff11", "\u00b2", "+1", " 1 0"])
def test_counts_are_plain_ascii_digits(tmp_path, field):
    path = tmp_path / "odd.csv"
    path.write_text(f"1,0\n{field},1\n", encoding="utf-8")
    expected = f"{path}: row 2: column 1: {field.strip()!r} is not a non-negative integer"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}"):
        latents.import_bank(path)


def test_text_rows_beyond_the_guard_are_refused_while_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "MAX_BANK_BYTES", 1 << 20)
    path = tmp_path / "long.csv"
    path.write_text("1 0 1 0\n" * 300_000)
    with pytest.raises(ValueError, match=r"long.csv: .* shots x 4 modes x 1 byte\(s\) = .*, more "
                                         r"than the cap of 1.05 MB per bank"):
        latents.import_bank(path)
