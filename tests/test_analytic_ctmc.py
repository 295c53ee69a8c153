"""The CTMC toolkit, series/parallel and detection formulas against independent computations."""

import math

import numpy as np
import pytest

import hasim as hs
from hasim.analytic import (
    CTMC,
    active_passive_chain,
    detection_bounds,
    detection_time,
    detection_unavailability,
    k_of_n,
    k_of_n_chain,
    k_of_n_repair,
    parallel,
    series,
)

LAM, MU = 1 / 1000.0, 1 / 10.0


def two_state():
    return CTMC(["up", "down"], {("up", "down"): LAM, ("down", "up"): MU})


def test_a_repairable_component_is_the_alternating_renewal_closed_form():
    chain = two_state()
    assert chain.availability(["up"]) == pytest.approx(MU / (LAM + MU), rel=1e-12)
    assert chain.failure_frequency(["up"]) == pytest.approx(1 / 1010.0, rel=1e-12)
    assert chain.outage_duration(["up"]) == pytest.approx(10.0, rel=1e-9)
    assert chain.mttff(["up"], "up") == pytest.approx(1000.0, rel=1e-12)
    assert chain.mean_time_to(["up"], "down") == pytest.approx(10.0, rel=1e-12)
    assert np.allclose(chain.generator.sum(axis=1), 0.0)


@pytest.mark.parametrize("t", [0.0, 5.0, 30.0, 1e5])
def test_point_availability_is_the_two_state_transient_solution(t):
    """A(t) = mu/(lam+mu) + lam/(lam+mu) exp(-(lam+mu) t), starting up."""
    expected = MU / (LAM + MU) + LAM / (LAM + MU) * math.exp(-(LAM + MU) * t)
    assert two_state().transient(t, "up")["up"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("k", "n", "crews"), [(1, 2, 1), (2, 3, 1), (2, 3, None), (3, 5, 2)])
def test_the_k_of_n_chain_agrees_with_the_birth_death_product_form(k, n, crews):
    chain, up = k_of_n_chain(k, n, 100.0, 10.0, crews=crews)
    assert chain.availability(up) == pytest.approx(k_of_n_repair(k, n, 100.0, 10.0, crews), 1e-10)
    if crews is None:  # own crews: independent components, the binomial tail
        assert chain.availability(up) == pytest.approx(k_of_n(k, n, 100 / 110), rel=1e-10)


def test_a_parallel_pair_fails_as_its_closed_forms_say():
    """1-of-2, a crew each: frequency 2a(1-a)lam, outage 1/(2 mu), MTTFF (3 lam + mu)/(2 lam^2)."""
    chain, up = k_of_n_chain(1, 2, 1 / LAM, 1 / MU)
    a = MU / (LAM + MU)
    assert chain.failure_frequency(up) == pytest.approx(2 * a * (1 - a) * LAM, rel=1e-9)
    assert chain.outage_duration(up) == pytest.approx(1 / (2 * MU), rel=1e-9)
    assert chain.mttff(up, 0) == pytest.approx((3 * LAM + MU) / (2 * LAM**2), rel=1e-9)


def test_an_ideal_active_passive_pair_is_a_parallel_pair():
    """Instant detection and switchover, full coverage: down only when both members are."""
    chain, up = active_passive_chain(1 / LAM, 1 / MU)
    assert 1 - chain.availability(up) == pytest.approx((LAM / (LAM + MU)) ** 2, rel=1e-6)
    a = MU / (LAM + MU)
    assert chain.availability(up) == pytest.approx(parallel(a, a), rel=1e-6)


def test_detection_switchover_and_coverage_each_cost_availability():
    """Slower detection, slower switchover, lower coverage: each lowers the pair's uptime; with
    coverage 0 every failure of the active waits for its repair: about one MTTR per failure."""
    base = active_passive_chain(200.0, 40.0, detection=1.0, switchover=10.0, coverage=1.0)
    values = [
        active_passive_chain(200.0, 40.0, **kw)
        for kw in (
            {"detection": 5.0, "switchover": 10.0},
            {"detection": 1.0, "switchover": 30.0},
            {"detection": 1.0, "switchover": 10.0, "coverage": 0.5},
        )
    ]
    a0 = base[0].availability(base[1])
    assert all(chain.availability(up) < a0 for chain, up in values)
    none, up = active_passive_chain(1e4, 10.0, coverage=0.0)
    assert 1 - none.availability(up) == pytest.approx(hs.analytic.availability(10.0, 1e4), 0.01)


def test_series_and_parallel_are_the_all_and_any_k_of_n():
    assert series(0.9, 0.9, 0.9) == pytest.approx(k_of_n(3, 3, 0.9))
    assert parallel(0.9, 0.9, 0.9) == pytest.approx(k_of_n(1, 3, 0.9))
    assert series(0.99, 0.999) == pytest.approx(0.99 * 0.999)
    assert parallel(0.99, 0.9) == pytest.approx(1 - 0.01 * 0.1)


@pytest.mark.parametrize(("interval", "n"), [(5.0, 1), (5.0, 3), (0.5, 2)])
def test_detection_formulas_are_the_health_checks_own(interval, n):
    check = hs.HealthCheck(interval=interval, unhealthy_after=n, timeout=0.2)
    assert detection_time(interval, n) == check.mean_detection_time()
    assert detection_bounds(interval, n) == check.detection_bounds()
    low, high = detection_bounds(interval, n, latency=0.01, timeout=0.2)
    assert (low, high) == pytest.approx(((n - 1) * interval + 0.19, n * interval + 0.19))
    assert detection_time(interval, n, latency=0.01) == pytest.approx((n - 0.5) * interval + 0.01)
    lost = detection_unavailability(600.0, 20.0, interval, n)
    assert lost == pytest.approx((n - 0.5) * interval / 620.0)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CTMC([], {}), r"CTMC: states must be a non-empty sequence"),
        (lambda: CTMC(["a", "a"], {}), r"CTMC: states must be distinct labels, got \['a', 'a'\]"),
        (lambda: CTMC(["a"], {("a", "b"): 1.0}), r"CTMC: rates must be one of the chain's states"),
        (lambda: CTMC(["a", "b"], {("a", "b"): -1}), r"rate 'a' -> 'b' must be a number >= 0"),
        (lambda: CTMC(["a", "b"], {("a", "a"): 1}), r"must be a transition between two states"),
        (lambda: two_state().transient(1.0, {"up": 0.5}), r"start must be probabilities that"),
        (lambda: two_state().availability(["sideways"]), r"CTMC: up must be one of the chain's"),
        (lambda: k_of_n_chain(4, 3, 1.0, 1.0), r"k_of_n_chain: k must be an integer in \[1, n\]"),
        (lambda: active_passive_chain(1.0, 1.0, coverage=2), r"active_passive_chain: coverage"),
        (lambda: detection_time(0, 1), r"detection_time: interval must be a number > 0, got 0"),
        (lambda: detection_time(1, 1, latency=0.5, timeout=0.5), r"timeout must be a number > tw"),
        (lambda: series(), r"series: availabilities must be one or more probabilities"),
        (lambda: parallel(1.5), r"parallel: availabilities\[0\] must be a probability"),
    ],
)
def test_bad_input_is_refused_with_the_function_parameter_and_value(build, message):
    with pytest.raises(hs.ConfigError, match=message):
        build()


def test_a_chain_with_an_absorbing_state_has_no_steady_state_but_a_time_to_absorption():
    """Two components, no repair: absorbed when both are down after 1/(2 lam) + 1/lam."""
    chain = CTMC([2, 1, 0], {(2, 1): 2 * LAM, (1, 0): LAM})
    assert chain.steady_state() == pytest.approx({2: 0.0, 1: 0.0, 0: 1.0})
    two_ends = CTMC(["a", "dead", "lost"], {("a", "dead"): 1.0, ("a", "lost"): 1.0})
    with pytest.raises(hs.ConfigError, match="one closed class for a unique steady state"):
        two_ends.steady_state()
    assert chain.mean_time_to([0], 2) == pytest.approx(1.5 / LAM)
    assert chain.mean_time_to([0], {2: 0.5, 1: 0.5}) == pytest.approx(1.25 / LAM)
    stuck = CTMC(["a", "b", "c"], {("a", "b"): 1.0})  # c is never reached
    assert stuck.mean_time_to(["c"], "a") == math.inf
