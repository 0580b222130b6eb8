"""Import of recorded hardware samples: formats, validation naming the row, post-selection."""

import numpy as np
import pytest
import torch

from qlatent import latents


def test_csv_with_header_and_comments(tmp_path):
    path = tmp_path / "shots.csv"
    path.write_text("# PT-2, 1-1 loops\nm0,m1,m2,m3\n1,0,2,0\n0,1,1,1\n3,0,0,0\n")
    bank = latents.import_bank(path, description="test device")
    np.testing.assert_array_equal(bank.samples, [[1, 0, 2, 0], [0, 1, 1, 1], [3, 0, 0, 0]])
    assert bank.kind == "hardware" and bank.samples.dtype == np.uint8
    src = bank.metadata["source"]
    assert src["raw_shots"] == 3 and src["description"] == "test device"
    assert len(src["sha256"]) == 64
    assert latents.import_bank(path).key == bank.key  # cache hit
    latent = latents.get("bank", bank=bank.path, normalize="center")
    z = latent.sample(10_000, generator=torch.Generator().manual_seed(0))
    assert z.shape == (10_000, 4) and abs(float(z.mean())) < 0.05


def test_post_selection_keeps_enough_photons(tmp_path):
    arr = np.array([[1, 0, 0], [1, 1, 0], [2, 1, 1], [0, 0, 0]])
    np.save(tmp_path / "s.npy", arr)
    bank = latents.import_bank(tmp_path / "s.npy", min_photons=2)
    np.testing.assert_array_equal(bank.samples, arr[[1, 2]])
    assert bank.metadata["acceptance_rate"] == 0.5
    with pytest.raises(ValueError, match="kept none of the 4 shots"):
        latents.import_bank(tmp_path / "s.npy", min_photons=5)


@pytest.mark.parametrize("text, message", [
    ("1,0,1\n0,2,0\n1,-1,0\n", "row 3: column 2: -1 is negative"),
    ("1,0,1\n0,2\n", r"row 2: expected 3 values \(as in the first row\), got 2"),
    ("a,b,c\n1,0,1\n0,1.5,0\n", "row 3: column 2: '1.5' is not a non-negative integer"),
    ("1,0,1\n0,x,0\n", "row 2: column 2: 'x' is not a non-negative integer"),
])
def test_bad_csv_names_the_row(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        latents.import_bank(path)


def test_bad_arrays_name_the_row(tmp_path):
    np.save(tmp_path / "f.npy", np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="row 3: column 1: 0.5 is not an integer count"):
        latents.import_bank(tmp_path / "f.npy")
    np.save(tmp_path / "n.npy", np.array([[1, 0], [0, -2]]))
    with pytest.raises(ValueError, match="row 2: column 2: -2 is negative"):
        latents.import_bank(tmp_path / "n.npy")
    np.save(tmp_path / "v.npy", np.array([1, 0, 2]))
    with pytest.raises(ValueError, match="one row per shot"):
        latents.import_bank(tmp_path / "v.npy")


def test_npz_choice_of_array(tmp_path):
    np.savez(tmp_path / "two.npz", counts=np.eye(3, dtype=int), other=np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="array_name must be one of 'counts', 'other'"):
        latents.import_bank(tmp_path / "two.npz")
    bank = latents.import_bank(tmp_path / "two.npz", array_name="counts")
    np.testing.assert_array_equal(bank.samples, np.eye(3))
    np.savez(tmp_path / "one.npz", np.full((2, 2), 300))
    assert latents.import_bank(tmp_path / "one.npz").samples.dtype == np.uint16


def test_unknown_format_and_missing_file(tmp_path):
    (tmp_path / "x.dat").write_text("1,0\n")
    with pytest.raises(ValueError, match=r"the suffix of .*x.dat must be one of '.csv'"):
        latents.import_bank(tmp_path / "x.dat")
    with pytest.raises(ValueError, match=r"path must be an existing .*nope.csv.*no such file"):
        latents.import_bank(tmp_path / "nope.csv")


@pytest.mark.parametrize("name, text", [
    ("bom.csv", "\ufeff1,0,2\n0,1,1\n"),
    ("bomheader.csv", "\ufeffm0,m1,m2\n1,0,2\n0,1,1\n"),
    ("semi.csv", "1;0;2\n0;1;1\n"),
    ("tabs.tsv", "m0\tm1\tm2\n1\t0\t2\n0\t1\t1\n"),
    ("spaces.txt", "# recorded\n 1  0 2\n0 1   1\n"),
    ("quoted.csv", '"1","0","2"\n"0","1","1"\n'),
])
def test_text_formats_byte_order_mark_and_delimiters(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    bank = latents.import_bank(path)
    np.testing.assert_array_equal(bank.samples, [[1, 0, 2], [0, 1, 1]])


@pytest.mark.parametrize("text, message", [
    ("1|0|2\n0|1|1\n", r"line 1: cannot tell the delimiter, found '\|'; expected comma"),
    ("1,0;2\n", "line 1: cannot tell the delimiter, the line has both comma and semicolon"),
    ("1,0,2\n0;1;1\n", "row 2: column 1: '0;1;1' holds a semicolon, but the file's delimiter "
                        "is comma"),
    ("1,0,2\n0,70000,1\n", r"row 2: column 2: 70000 is larger than a bank holds \(65535\)"),
    ("1,0,2\n0,99999999999999999999999,1\n", "row 2: column 2: 99999999999999999999999 is "
                                             "larger than a bank holds"),
])
def test_text_errors_name_the_file_and_row(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"^{path}: {message}"):
        latents.import_bank(path)


def test_binary_errors_name_the_file(tmp_path):
    (tmp_path / "latin.csv").write_bytes(b"1,0\n\xe9,1\n")
    with pytest.raises(ValueError, match=r"latin.csv: not UTF-8 text"):
        latents.import_bank(tmp_path / "latin.csv")
    (tmp_path / "junk.npy").write_bytes(b"not an npy file")
    with pytest.raises(ValueError, match=r"junk.npy: not a NPY file \(it does not start with"):
        latents.import_bank(tmp_path / "junk.npy")
    (tmp_path / "junk.npz").write_bytes(b"PK but not a zip")
    with pytest.raises(ValueError, match=r"junk.npz: not a readable NPZ file of counts"):
        latents.import_bank(tmp_path / "junk.npz")
    np.save(tmp_path / "obj.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"obj.npy: not a readable NPY file of counts "
                                         r"\(Object arrays cannot be loaded"):
        latents.import_bank(tmp_path / "obj.npy")
    np.save(tmp_path / "big.npy", np.array([[1, 0], [2**40, 0]], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"big.npy: row 2: column 1: 1099511627776 is larger "
                                         r"than a bank holds \(65535\)"):
        latents.import_bank(tmp_path / "big.npy")
    np.save(tmp_path / "huge.npy", np.array([[1.0, 0.0], [1e30, 0.0]]))
    with pytest.raises(ValueError, match=r"huge.npy: row 2: column 1: 1e\+30 is larger"):
        latents.import_bank(tmp_path / "huge.npy")
