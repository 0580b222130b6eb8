"""Issue 23 F7: work that would run for hours or exhaust memory is refused up front with its
estimated cost and the keyword that raises the limit; each refusal takes well under a second."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from qlatent import latents, photonics


def _refused_fast(fn, match):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match) as err:
        fn()
    assert time.perf_counter() - start < 5.0
    message = str(err.value)
    assert "\n" not in message and "pass a larger" in message
    return message


def test_a_40_by_40_permanent_is_refused_with_its_cost():
    A = np.ones((40, 40))
    _refused_fast(lambda: photonics.permanent(A),
                  r"the permanent of a 40 x 40 matrix \(glynn\) would cost ~2.2e\+13 "
                  r"multiply-adds, more than max_operations=1e\+12")
    small = np.ones((6, 6))
    assert photonics.permanent(small, max_operations=6 * 2**5) == pytest.approx(720)
    with pytest.raises(ValueError, match="max_operations=100"):
        photonics.permanent(small, max_operations=100)


def test_40_photon_sampling_is_refused_with_its_cost():
    U = photonics.haar_unitary(80, np.random.default_rng(0))
    t = photonics.standard_input(80, 40)
    _refused_fast(lambda: photonics.boson_sample(U, t, 1000, rng=0),
                  r"boson sampling 1,000 samples of 40 photons in 80 modes \(clifford\) would "
                  r"cost ~4.4e\+16 multiply-adds, more than max_operations=1e\+14")
    _refused_fast(lambda: latents.build_bank("quantum", U, 40, 1000, seed=0, progress=False),
                  r"a quantum bank of 1,000 samples of 40 photons in 80 modes would cost")
    assert not list(latents.banks.store.banks_root().iterdir())[1:]  # only .locks, if any


def test_a_huge_born_latent_is_refused_before_building_its_circuit():
    _refused_fast(lambda: latents.get("born", dim=10**6, seed=0),
                  r"a born latent of dim=1000000 .* would cost ~2.4e\+13 bytes, more than "
                  r"max_bytes=1.07e\+09")
    _refused_fast(lambda: latents.validate("born", dim=10**6), "max_bytes")


def test_a_huge_made_is_refused_before_allocating():
    _refused_fast(lambda: latents.get("made", dim=16, hidden_sizes=(50_000, 50_000), seed=0),
                  r"a made latent of dim=16, hidden_sizes=\(50000, 50000\) \(2,501,600,000 "
                  r"weights\) would cost ~4e\+10 bytes, more than max_bytes=1.07e\+09")
    _refused_fast(lambda: latents.validate("made", dim=16, hidden_sizes=(50_000, 50_000)),
                  "max_bytes")


def test_a_billion_row_log_prob_batch_is_refused_before_any_copy():
    made = latents.get("made", dim=8, seed=0)
    rows = torch.zeros((1, 8), dtype=torch.uint8).expand(10**9, 8)  # no memory behind it
    _refused_fast(lambda: made.log_prob(rows),
                  r"log_prob of 1,000,000,000 rows would cost ~.* bytes, more than "
                  r"max_bytes=4.29e\+09")
    assert made.log_prob(rows[:4]).shape == (4,)
    born = latents.get("born", dim=6, seed=0)
    counts = torch.tensor([[1, 1, 1, 0, 0, 0]]).expand(10**9, 6)
    _refused_fast(lambda: born.log_prob(counts), r"log_prob of 1,000,000,000 rows")
    assert born.log_prob(counts[:3]).shape == (3,)
