"""metrics.kernels: the house kernel and MMD against slow references; metrics imports no
part of train (the kernel lives in metrics, the layer below)."""

import itertools

import numpy as np
import pytest
import torch

from qlatent import photonics
from qlatent.metrics.kernels import (
    DEFAULT_BANDWIDTHS,
    LIU_WANG_BANDWIDTHS,
    check_bandwidths,
    exact_mmd2,
    gaussian_kernel,
    mmd2,
)


def test_kernel_and_exact_mmd_against_a_slow_reference():
    states = torch.from_numpy(photonics.reference.fock_states(3, 2))
    rng = np.random.default_rng(1)
    p, q = rng.dirichlet(np.ones(len(states))), rng.dirichlet(np.ones(len(states)))
    bw = (0.7, 3.0)
    slow = 0.0
    for (i, s), (j, t) in itertools.product(enumerate(states.tolist()), repeat=2):
        d2 = sum((a - b) ** 2 for a, b in zip(s, t, strict=True))
        k = np.mean([np.exp(-d2 / (2 * b * b)) for b in bw])
        slow += (p[i] - q[i]) * (p[j] - q[j]) * k
    got = exact_mmd2(states, torch.from_numpy(p), torch.from_numpy(q), bw)
    assert float(got) == pytest.approx(slow, rel=1e-12)
    assert float(gaussian_kernel(states[:1], states[:1], bw)) == pytest.approx(1.0)
    # the unbiased sample estimate scatters around the exact value (5 sd of 40 repeats)
    ests = []
    for _ in range(40):
        x = states[rng.choice(len(p), 300, p=p)]
        y = states[rng.choice(len(q), 300, p=q)]
        ests.append(mmd2(x, y, bw))
    assert abs(np.mean(ests) - slow) <= 5 * np.std(ests) / np.sqrt(len(ests))


def test_liu_wang_bandwidths_give_their_exponent():
    """Their kernel exp(-|x - y|^2 / (2 σ')) with σ' = 0.5, 1, 2, 4 is ours with σ = √σ'."""
    x, y = torch.tensor([[0, 1, 1, 0]]), torch.tensor([[1, 1, 0, 1]])  # |x - y|^2 = 3
    theirs = np.mean([np.exp(-3 / (2 * s)) for s in (0.5, 1.0, 2.0, 4.0)])
    assert float(gaussian_kernel(x, y, LIU_WANG_BANDWIDTHS)) == pytest.approx(theirs, rel=1e-14)
    assert DEFAULT_BANDWIDTHS == (0.5, 1.0, 2.0, 4.0)


def test_bandwidths_are_checked():
    assert check_bandwidths(2) == (2.0,)
    assert check_bandwidths([0.5, 1]) == (0.5, 1.0)
    with pytest.raises(ValueError, match="bandwidths must be one or more numbers > 0, got none"):
        check_bandwidths(())
    with pytest.raises(ValueError, match="bandwidths must be > 0, got 0.0"):
        check_bandwidths((1.0, 0.0))
    with pytest.raises(TypeError, match="sigma must be a number > 0 or a sequence of them, got "
                                        "'wide'"):
        check_bandwidths("wide", name="sigma")
