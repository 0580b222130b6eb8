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
    (tmp_path / "x.txt").write_text("1,0\n")
    with pytest.raises(ValueError, match="file suffix must be one of"):
        latents.import_bank(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError, match="path must be an existing"):
        latents.import_bank(tmp_path / "nope.csv")
