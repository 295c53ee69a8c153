"""Interval availability of a CTMC (hasim.analytic.interval) against independent answers.

The two-state repairable component has closed forms for A(t), its integral and the
probability of no failure in the window; the distribution of the share of time up is
checked against a vectorised Monte Carlo of the alternating renewal process (numpy only,
seed fixed), with a tolerance of 4.5 binomial standard errors (a false alarm once in
~150,000 seed sets).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import hasim as hs
from hasim.analytic import CTMC, k_of_n, k_of_n_chain
from hasim.analytic import interval as iv

LAM, MU = 1 / 2000.0, 1 / 50.0
T = 10_000.0


def two_state():
    return CTMC(["up", "down"], {("up", "down"): LAM, ("down", "up"): MU})


def monte_carlo(n, seed=5):
    """Shares of [0, T] up of ``n`` alternating renewal paths starting up."""
    rng = np.random.default_rng(seed)
    t, down = np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1 / LAM, idx.size)
        done = t[idx] >= T
        alive[idx[done]] = False
        idx = idx[~done]
        repair = rng.exponential(1 / MU, idx.size)
        down[idx] += np.minimum(repair, T - t[idx])
        t[idx] += repair
        alive[idx[t[idx] >= T]] = False
    return 1 - down / T


def test_point_and_expected_availability_are_the_two_state_closed_forms():
    s = LAM + MU
    times = np.array([0.0, 10.0, 100.0, 5000.0])
    expected = MU / s + LAM / s * np.exp(-s * times)
    got = iv.point_availability(two_state(), ["up"], times, "up")
    assert got == pytest.approx(expected, rel=1e-9)
    mean = MU / s + LAM / (s * s * T) * (1 - math.exp(-s * T))
    assert iv.expected_interval_availability(two_state(), ["up"], T, "up") == pytest.approx(
        mean, rel=1e-9
    )


def test_the_atom_at_one_is_no_failure_in_the_window():
    assert iv.slo_attainment(two_state(), ["up"], T, 1.0, "up") == pytest.approx(
        math.exp(-LAM * T), rel=1e-8
    )
    # From down, the window cannot be all up.
    assert iv.slo_attainment(two_state(), ["up"], T, 1.0, "down") == pytest.approx(0.0, abs=1e-12)


def test_the_distribution_of_the_share_up_matches_monte_carlo():
    shares = monte_carlo(200_000)
    xs = np.array([0.98, 0.99, 0.995, 0.999])
    cdf = iv.interval_availability_cdf(two_state(), ["up"], T, xs, "up")
    for x, p in zip(xs, cdf, strict=True):
        observed = np.mean(shares <= x)
        se = math.sqrt(p * (1 - p) / shares.size)
        assert abs(observed - p) <= 4.5 * se + 1e-12, (x, observed, p)
    assert np.all(np.diff(cdf) >= 0) and np.all((cdf >= 0) & (cdf <= 1))
    assert iv.interval_availability_cdf(two_state(), ["up"], T, 1.0, "up") == 1.0


def test_attainment_and_budget_are_consistent():
    target = 0.995
    p = iv.slo_attainment(two_state(), ["up"], T, target, "up")
    assert p == pytest.approx(
        1 - iv.interval_availability_cdf(two_state(), ["up"], T, target, "up")
    )
    budget = iv.error_budget(two_state(), ["up"], T, target, "up")
    assert budget["budget"] == pytest.approx((1 - target) * T)
    assert budget["p_exhausted"] == pytest.approx(1 - p)
    mean = iv.expected_interval_availability(two_state(), ["up"], T, "up")
    assert budget["spent"] == pytest.approx((1 - mean) * T / ((1 - target) * T))


def test_a_long_window_concentrates_at_the_steady_state():
    """Over 20 T the share up has a standard deviation of about 0.0034 (the renewal-reward
    variance 2 lam mu / ((lam + mu)^3 T)): 0.012 either side is 3.5 of them."""
    a = MU / (LAM + MU)
    long = 20 * T
    assert iv.slo_attainment(two_state(), ["up"], long, a - 0.012, "up") > 0.99
    assert iv.slo_attainment(two_state(), ["up"], long, a + 0.012, "up") < 0.01


def test_performability_of_a_k_of_n_chain_is_the_binomial_mean():
    chain, _ = k_of_n_chain(2, 3, 100.0, 25.0)  # state i = failed components, own crews
    a = 100 / 125

    def share(i):
        return (3 - i) / 3 if i <= 1 else 0.0

    expected = sum((j / 3) * math.comb(3, j) * a**j * (1 - a) ** (3 - j) for j in (2, 3))
    assert iv.performability(chain, share) == pytest.approx(expected, rel=1e-10)
    # Over a window from all up, the interval mean starts higher and tends to the same.
    assert iv.performability(chain, share, 1.0, 0) == pytest.approx(1.0, abs=0.02)
    assert iv.performability(chain, share, 1e6, 0) == pytest.approx(expected, rel=1e-3)
    assert 1 - k_of_n(2, 3, a) > 0  # the chain has downtime: the reward is not trivial


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: iv.slo_attainment(two_state(), ["up"], 0, 0.9, "up"), r"window must be"),
        (lambda: iv.slo_attainment(two_state(), ["up"], T, 1.2, "up"), r"target must be"),
        (lambda: iv.slo_attainment("chain", ["up"], T, 0.9, "up"), r"a hasim.analytic.CTMC"),
        (lambda: iv.point_availability(two_state(), ["up"], [-1.0], "up"), r"times"),
        (lambda: iv.performability(two_state(), {"up": 1}, window=10.0), r"start"),
        (lambda: iv.performability(two_state(), 3), r"reward"),
    ],
)
def test_bad_input_is_refused_by_name(call, message):
    with pytest.raises(hs.ConfigError, match=message):
        call()
