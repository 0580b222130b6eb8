"""Strict molecule metrics against hand-counted answers."""

from __future__ import annotations

import pytest

pytest.importorskip("rdkit")

from qlatent.metrics.molecules import (  # noqa: E402
    HIGHER_IS_BETTER,
    canonical_valid,
    count_novel,
    count_valid_unique,
    evaluate_molecules,
    novelty,
    uniqueness,
    validity,
)

pytestmark = pytest.mark.chem

# 10 samples: valid are CCO, OCC (= CCO), c1ccccc1, C1=CC=CC=C1 (= benzene), N#N, CC(=O)O.
SAMPLES = ["CCO", "CCO", "C.C", "", "c1ccccc1", "*C", "OCC", "C1=CC=CC=C1", "C(C)(C)(C)(C)C",
           "N#N"]
TRAIN = ["CCO", "N#N", "CCCC"]


def test_strict_validity_by_hand():
    canon = canonical_valid(SAMPLES)
    assert [c is not None for c in canon] == [True, True, False, False, True, False, True, True,
                                              False, True]
    assert canon[0] == canon[6] == "CCO" and canon[4] == canon[7] == "c1ccccc1"
    assert validity(SAMPLES) == 6 / 10


def test_uniqueness_novelty_and_counts_by_hand():
    # distinct valid: CCO, c1ccccc1, N#N -> 3 of 6 valid; novel: benzene only -> 1 of 3
    assert uniqueness(SAMPLES) == 3 / 6
    assert count_valid_unique(SAMPLES) == 3
    assert novelty(SAMPLES, TRAIN) == 1 / 3
    assert count_novel(SAMPLES, TRAIN) == 1


def test_evaluate_agrees_with_the_single_metrics():
    m = evaluate_molecules(SAMPLES, train=TRAIN)
    assert m == {"n_samples": 10, "n_valid": 6, "validity": 0.6, "n_valid_unique": 3,
                 "uniqueness": 0.5, "n_novel": 1, "novelty": 1 / 3}
    assert set(m) <= set(HIGHER_IS_BETTER)
    assert "novelty" not in evaluate_molecules(SAMPLES)


def test_edge_cases():
    assert validity(["", "", "C.C"]) == 0.0
    assert uniqueness(["", "C.C"]) == 0.0 and novelty([""], TRAIN) == 0.0
    assert evaluate_molecules([])["validity"] == 0.0
    with pytest.raises(TypeError, match="smiles"):
        validity("CCO")
    with pytest.raises(TypeError, match=r"smiles\[1\]"):
        validity(["CCO", None])


def test_diversity_by_hand():
    pytest.importorskip("rdkit")
    from qlatent.metrics.molecules import diversity

    smiles = ["CCO", "OCC", "C.CCO", "", "CCO", "c1ccccc1", "xyz", "CCN"]
    d = diversity(smiles, train={"CCO"}, sizes=(2, 8, 100), top=1)
    # Lenient: every parsed SMILES, fragments included: CCO, C.CCO, benzene, CCN.
    assert d["unique_with_fragments"] == 4 and d["novel_with_fragments"] == 3
    assert d["unique_largest_fragment"] == 3               # C.CCO's largest fragment is CCO
    assert d["distinct_valid_by_samples"] == {2: 1, 8: 3}  # 100 > 8 samples: left out
    assert d["top"] == [("CCO", 3)] and d["top_share_of_valid"] == pytest.approx(3 / 5)
