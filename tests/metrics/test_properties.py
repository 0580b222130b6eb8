"""QED / logP / SA means and the molecule grid image."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("rdkit")

from qlatent.metrics import properties as P  # noqa: E402

pytestmark = pytest.mark.chem


def test_logp_is_additive_crippen_and_means_are_means():
    # Crippen contributions: ethane = 2 x C(H3) ; the mean of a list is the mean of its values
    values = P.logp(["CC", "CCO", "c1ccccc1"])
    assert values[0] == pytest.approx(1.0262, abs=1e-4)          # published Crippen: 1.0262
    assert values[2] == pytest.approx(1.6866, abs=1e-4)          # benzene
    means = P.property_means(["CC", "CCO", "c1ccccc1"])
    assert means["logp"] == pytest.approx(sum(values) / 3)
    assert means["qed"] == pytest.approx(sum(P.qed(["CC", "CCO", "c1ccccc1"])) / 3)
    assert 0 < means["qed"] < 1


def test_sa_score_is_available_and_ranks_simple_below_complex():
    assert P.sa_available()
    simple, caged = P.sa_score(["CCO", "C1N2C3C4C5C2C13CN45"])
    assert 1.0 <= simple < 2.5 and simple < caged <= 10.0


def test_empty_and_invalid_inputs():
    assert all(math.isnan(v) for v in P.property_means([]).values())
    with pytest.raises(ValueError, match=r"smiles\[1\]"):
        P.qed(["CC", ""])
    with pytest.raises(TypeError):
        P.qed("CCO")


def test_grid_image_writes_a_png(tmp_path):
    path = P.grid_image(["CCO", "c1ccccc1", "N#N"], tmp_path / "grid.png", per_row=2,
                        legend="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="at least one"):
        P.grid_image([], tmp_path / "empty.png")
