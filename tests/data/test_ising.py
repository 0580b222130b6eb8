"""The Wolff sampler of 2-D Ising configurations: kernel against the pure-Python reference, and
energy and magnetisation against exact values (enumeration at 4 x 4, Onsager and Yang at 32 x 32
away from T_c); the autocorrelation time against an AR(1) process."""

import math

import numpy as np
import pytest

from qlatent.data import ising


@pytest.mark.parametrize("side, temperature, seed", [(4, 1.5, 0), (5, 2.3, 1), (3, 4.0, 2)])
def test_kernel_equals_the_reference_bit_for_bit(side, temperature, seed):
    fast = ising.ising_configurations(side, temperature, 60, rng=seed, burn_in=3).data
    slow = ising.wolff_reference(side, temperature, 60, rng=seed, burn_in=3)
    assert fast.shape == (60, side * side) and fast.dtype == np.uint8
    assert np.array_equal(fast, slow)


def test_randomness_is_the_argument():
    a = ising.ising_configurations(6, 2.0, 20, rng=5).data
    assert np.array_equal(a, ising.ising_configurations(6, 2.0, 20, rng=5).data)
    assert not np.array_equal(a, ising.ising_configurations(6, 2.0, 20, rng=6).data)


@pytest.mark.parametrize("temperature", [1.5, ising.CRITICAL_TEMPERATURE, 3.5])
def test_energy_and_magnetisation_match_exact_enumeration_on_4x4(temperature):
    d = ising.ising_configurations(4, temperature, 20_000, rng=7)
    exact = ising.exact_observables(4, temperature)
    for key in ("energy", "abs_magnetisation"):
        assert abs(d.info[key] - exact[key]) < 4 * d.info[f"{key}_se"]
    # the recorded rows are the configurations the figures describe
    s = 2 * d.data.astype(np.int64).reshape(-1, 4, 4) - 1
    e = -((s * np.roll(s, -1, 2)).sum((1, 2)) + (s * np.roll(s, -1, 1)).sum((1, 2))) / 16
    assert e.mean() == pytest.approx(d.info["energy"])


def test_exact_enumeration_limits():
    # T -> 0: the two ground states; T -> inf: uniform (<|M|>/N of 16 fair spins)
    cold = ising.exact_observables(4, 0.05)
    assert cold["energy"] == pytest.approx(-2.0) and cold["abs_magnetisation"] == pytest.approx(1)
    hot = ising.exact_observables(4, 1e6)
    k = np.arange(17)
    binom = np.array([math.comb(16, int(i)) for i in k]) / 2**16
    assert hot["abs_magnetisation"] == pytest.approx(binom @ np.abs(2 * k - 16) / 16, rel=1e-4)
    with pytest.raises(ValueError, match="at most 16 spins"):
        ising.exact_observables(5, 2.0)


def test_onsager_and_yang_closed_forms():
    assert ising.onsager_energy(ising.CRITICAL_TEMPERATURE) == pytest.approx(-math.sqrt(2))
    assert ising.onsager_energy(0.3) == pytest.approx(-2.0, abs=1e-6)
    assert ising.spontaneous_magnetisation(3.0) == 0.0
    assert ising.spontaneous_magnetisation(0.5) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("temperature", [1.8, 3.0])
def test_32x32_against_onsager_and_yang(temperature):
    """Away from T_c the finite-size corrections at L = 32 are far below the errors here."""
    d = ising.ising_configurations(32, temperature, 2000, rng=8)
    assert d.data.shape == (2000, 1024)
    assert abs(d.info["energy"] - ising.onsager_energy(temperature)) < 4 * d.info["energy_se"]
    if temperature < ising.CRITICAL_TEMPERATURE:
        m = ising.spontaneous_magnetisation(temperature)
        assert abs(d.info["abs_magnetisation"] - m) < 4 * d.info["abs_magnetisation_se"]
    assert d.info["tau_energy"] >= 0.5 and d.info["updates_between"] >= 1


def test_integrated_autocorrelation_time_of_an_ar1_process():
    """x_t = ρ x_{t-1} + noise has τ_int = (1 + ρ) / (2 (1 - ρ)) = 4.5 for ρ = 0.8."""
    rng = np.random.default_rng(9)
    rho, n = 0.8, 200_000
    noise = rng.normal(size=n)
    x = np.empty(n)
    x[0] = noise[0]
    for t in range(1, n):
        x[t] = rho * x[t - 1] + noise[t]
    assert ising.integrated_autocorrelation_time(x) == pytest.approx(4.5, rel=0.1)
    assert ising.integrated_autocorrelation_time(rng.normal(size=n)) == pytest.approx(0.5, abs=0.05)
    assert ising.integrated_autocorrelation_time(np.ones(10)) == 0.5


@pytest.mark.parametrize("kwargs, message", [
    ({"side": 2}, "side must be >= 3"), ({"temperature": 0.0}, "temperature must be > 0"),
    ({"n_samples": 1}, "n_samples must be >= 2"), ({"burn_in": 0}, "burn_in must be >= 1")])
def test_bad_arguments(kwargs, message):
    args = {"side": 4, "temperature": 2.0, "n_samples": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        ising.ising_configurations(args.pop("side"), args.pop("temperature"),
                                   args.pop("n_samples"), **args)
