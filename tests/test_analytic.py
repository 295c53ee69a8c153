"""Closed forms of hasim.analytic, each checked against an independent computation.

Independent means: a direct textbook formula (exact rationals or factorials),
or the numerical null space of the CTMC generator, never the same recursion
again. Tolerances are floating-point ones (1e-9 to 1e-12), not statistical.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hasim.analytic import (
    QueueMetrics,
    availability,
    birth_death,
    erlang_b,
    erlang_c,
    k_of_n,
    k_of_n_repair,
    mmc,
    mmck,
    nines,
    repair_chain,
)
from hasim.errors import ConfigError

# ---------------------------------------------------------------- independent references


def stationary(q: np.ndarray) -> np.ndarray:
    """Solve pi Q = 0, sum(pi) = 1 by least squares on the stacked system."""
    m = q.shape[0]
    lhs = np.vstack([q.T, np.ones(m)])
    rhs = np.zeros(m + 1)
    rhs[-1] = 1.0
    pi, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
    return pi


def generator(births: list[float], deaths: list[float]) -> np.ndarray:
    """The generator of a birth-death chain, built transition by transition."""
    m = len(births)
    q = np.zeros((m + 1, m + 1))
    for i in range(m):
        q[i, i + 1] = births[i]
        q[i + 1, i] = deaths[i]
    q -= np.diag(q.sum(axis=1))
    return q


def erlang_b_direct(c: int, a: Fraction) -> float:
    """(a^c / c!) / sum_k a^k / k!, in exact rational arithmetic."""
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return float(terms[-1] / sum(terms))


def erlang_c_direct(c: int, a: Fraction) -> float:
    """The textbook M/M/c waiting probability, in exact rational arithmetic."""
    top = a**c / math.factorial(c) * c / (c - a)
    return float(top / (sum(a**k / math.factorial(k) for k in range(c)) + top))


# ---------------------------------------------------------------- Erlang B and C

ERLANG_CASES = [(1, "1/2"), (2, "3/2"), (5, "4"), (10, "7"), (20, "31/2"), (40, "39")]


@pytest.mark.parametrize(("c", "a"), ERLANG_CASES + [(3, "10"), (15, "0")])
def test_erlang_b_matches_direct_formula(c, a):
    a = Fraction(a)
    assert erlang_b(c, float(a)) == pytest.approx(erlang_b_direct(c, a), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("c", "a"), ERLANG_CASES + [(3, "10")])
def test_erlang_b_is_mmck_blocking_with_no_waiting_room(c, a):
    lam, mu = float(Fraction(a)) * 2.5, 2.5
    assert mmck(lam, mu, c, c).blocking == pytest.approx(erlang_b(c, lam / mu), rel=1e-12)


def test_erlang_b_is_stable_for_many_servers():
    """The recursion neither overflows nor loses the answer where a^c / c! would."""
    b = erlang_b(2000, 1900.0)
    assert 0.0 < b < 0.05
    assert b == pytest.approx(mmck(1900.0, 1.0, 2000, 2000).blocking, rel=1e-9)


@pytest.mark.parametrize(("c", "a"), ERLANG_CASES + [(3, "299/100")])
def test_erlang_c_matches_direct_formula(c, a):
    a = Fraction(a)
    assert erlang_c(c, float(a)) == pytest.approx(erlang_c_direct(c, a), rel=1e-12)


# ---------------------------------------------------------------- M/M/c


@pytest.mark.parametrize("rho", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_mm1_closed_forms(rho):
    mu = 3.0
    lam = rho * mu
    m = mmc(lam, mu)
    assert m.utilisation == pytest.approx(rho)
    assert m.p_wait == pytest.approx(rho)
    assert m.mean_response == pytest.approx(1.0 / (mu - lam), rel=1e-12)
    assert m.mean_wait == pytest.approx(rho / (mu - lam), rel=1e-12)
    assert m.mean_in_system == pytest.approx(rho / (1.0 - rho), rel=1e-12)
    assert m.mean_queue_length == pytest.approx(rho**2 / (1.0 - rho), rel=1e-12)
    assert m.throughput == lam
    assert m.blocking == 0.0
    assert m.probabilities == ()


@pytest.mark.parametrize(("c", "rho"), [(1, 0.7), (2, 0.5), (4, 0.9), (16, 0.8), (100, 0.95)])
def test_mmc_is_the_limit_of_mmck(c, rho):
    mu = 0.5
    lam = rho * c * mu
    inf, fin = mmc(lam, mu, c), mmck(lam, mu, c, c + 2000)
    assert fin.blocking < 1e-40
    for name in ("mean_response", "mean_wait", "p_wait", "mean_in_system", "utilisation"):
        assert getattr(fin, name) == pytest.approx(getattr(inf, name), rel=1e-9, abs=1e-12), name


def test_mmc_littles_law_and_response_split():
    m = mmc(7.0, 1.0, 9)
    assert m.mean_response == pytest.approx(m.mean_wait + 1.0)
    assert m.mean_in_system == pytest.approx(7.0 * m.mean_response)
    assert m.mean_queue_length == pytest.approx(7.0 * m.mean_wait)
    assert isinstance(m, QueueMetrics)


# ---------------------------------------------------------------- M/M/c/K


@pytest.mark.parametrize(
    ("c", "k", "rho"),
    [(1, 1, 0.5), (1, 10, 0.8), (2, 7, 1.0), (3, 12, 1.7), (5, 5, 3.0), (4, 30, 0.6), (8, 20, 5.0)],
)
def test_mmck_matches_the_ctmc_generator(c, k, rho):
    mu = 1.3
    lam = rho * c * mu
    births = [lam] * k
    deaths = [min(n, c) * mu for n in range(1, k + 1)]
    pi = stationary(generator(births, deaths))
    m = mmck(lam, mu, c, k)
    p = np.array(m.probabilities)
    np.testing.assert_allclose(p, pi, rtol=1e-9, atol=1e-14)
    n = np.arange(k + 1)

    # Every measure from pi, by its definition.
    assert m.blocking == pytest.approx(pi[-1], rel=1e-9)
    x = lam * (1 - pi[-1])
    assert m.throughput == pytest.approx(x, rel=1e-9)
    assert m.mean_in_system == pytest.approx(n @ pi, rel=1e-9)
    assert m.mean_queue_length == pytest.approx(np.maximum(n - c, 0) @ pi, rel=1e-9, abs=1e-15)
    assert m.p_wait == pytest.approx(pi[c:k].sum() / (1 - pi[-1]), rel=1e-9, abs=1e-15)
    assert m.utilisation == pytest.approx(np.minimum(n, c) @ pi / c, rel=1e-9)

    # Little's law over admitted customers, and W = Wq + 1/mu.
    assert m.mean_in_system == pytest.approx(x * m.mean_response, rel=1e-9)
    assert m.mean_queue_length == pytest.approx(x * m.mean_wait, rel=1e-9, abs=1e-15)
    assert m.mean_response == pytest.approx(m.mean_wait + 1 / mu, rel=1e-9)


def test_mmck_is_stable_for_large_systems():
    """c = 100, K = 1000, light to heavy overload: no overflow, sane numbers."""
    for rho in (0.5, 0.99, 1.0, 2.0, 50.0):
        m = mmck(rho * 100, 1.0, 100, 1000)
        p = np.array(m.probabilities)
        assert np.all(np.isfinite(p)) and np.all(p >= 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert 0 <= m.blocking <= 1 and 0 <= m.p_wait <= 1 and 0 < m.utilisation <= 1
        assert m.mean_response == pytest.approx(m.mean_wait + 1.0, rel=1e-9)
    # Heavy overload: nearly always full, servers always busy, blocking -> 1 - 1/rho.
    m = mmck(5000.0, 1.0, 100, 1000)
    assert m.blocking == pytest.approx(1 - 1 / 50, rel=1e-9)
    assert m.utilisation == pytest.approx(1.0, rel=1e-9)


def test_mmck_without_arrivals():
    m = mmck(0.0, 2.0, 2, 5)
    assert m.probabilities == (1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert (m.throughput, m.mean_wait, m.mean_response, m.blocking) == (0.0, 0.0, 0.5, 0.0)


# ---------------------------------------------------------------- availability, nines, k-of-n


def test_availability_and_nines():
    assert availability(999.0, 1.0) == pytest.approx(0.999)
    assert nines(0.999) == pytest.approx(3.0)
    assert nines(1.0) == math.inf
    assert nines(0.0) == 0.0 and math.copysign(1, nines(0.0)) == 1


@pytest.mark.parametrize(("k", "n", "a"), [(1, 1, 0.9), (1, 3, 0.9), (2, 3, 0.99), (3, 5, 0.7)])
def test_k_of_n_is_the_binomial_tail(k, n, a):
    direct = math.fsum(math.comb(n, i) * a**i * (1 - a) ** (n - i) for i in range(k, n + 1))
    assert k_of_n(k, n, a) == pytest.approx(direct, rel=1e-12)


def test_k_of_n_edges():
    assert k_of_n(1, 2, 0.9) == pytest.approx(1 - 0.1**2)  # parallel
    assert k_of_n(3, 3, 0.9) == pytest.approx(0.9**3)  # series
    assert k_of_n(2, 4, 0.0) == 0.0
    assert k_of_n(4, 4, 1.0) == 1.0


# ---------------------------------------------------------------- birth-death and repair


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_birth_death_matches_the_generator(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 15))
    births = rng.uniform(0.1, 10.0, m).tolist()
    deaths = rng.uniform(0.1, 10.0, m).tolist()
    np.testing.assert_allclose(
        birth_death(births, deaths), stationary(generator(births, deaths)), rtol=1e-9, atol=1e-14
    )


def test_birth_death_single_state_and_extreme_ratios():
    np.testing.assert_array_equal(birth_death([], []), [1.0])
    # Ratios of 1e200 per step would overflow a naive product in two steps.
    p = birth_death([1e200, 1e200, 1.0], [1.0, 1.0, 1e200])
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0)
    assert p[2] == pytest.approx(1.0)


@pytest.mark.parametrize(("k", "n"), [(1, 1), (1, 2), (2, 3), (3, 5), (5, 5), (4, 10)])
def test_k_of_n_repair_with_a_crew_each_is_independent(k, n):
    mttf, mttr = 100.0, 7.0
    a = availability(mttf, mttr)
    assert k_of_n_repair(k, n, mttf, mttr) == pytest.approx(k_of_n(k, n, a), rel=1e-12)
    assert k_of_n_repair(k, n, mttf, mttr, crews=n + 3) == k_of_n_repair(k, n, mttf, mttr)


def test_k_of_n_repair_single_component_is_availability():
    for crews in (None, 1, 5):
        assert k_of_n_repair(1, 1, 30.0, 2.0, crews) == pytest.approx(availability(30.0, 2.0))


def test_parallel_pair_with_one_crew_textbook_value():
    # 1-of-2, one shared crew, failure rate lam, repair rate mu; j = number failed:
    #   0 -> 1 at 2 lam, 1 -> 2 at lam, 1 -> 0 at mu, 2 -> 1 at mu (one crew).
    # Detailed balance: pi1 = (2 lam / mu) pi0, pi2 = (lam / mu) pi1 = (2 lam^2 / mu^2) pi0,
    # so U = pi2 = (2 lam^2 / mu^2) / (1 + 2 lam / mu + 2 lam^2 / mu^2)
    #          = 2 lam^2 / (mu^2 + 2 lam mu + 2 lam^2)  =  2 / 122 for lam = 1, mu = 10.
    lam, mu = 1.0, 10.0
    u = 2 * lam**2 / (mu**2 + 2 * lam * mu + 2 * lam**2)
    assert 1 - k_of_n_repair(1, 2, 1 / lam, 1 / mu, crews=1) == pytest.approx(u, rel=1e-12)
    assert repair_chain(2, 1 / lam, 1 / mu, crews=1)[2] == pytest.approx(u, rel=1e-12)


def test_repair_chain_matches_the_generator():
    n, crews, mttf, mttr = 6, 2, 5.0, 3.0
    births = [(n - j) / mttf for j in range(n)]
    deaths = [min(j + 1, crews) / mttr for j in range(n)]
    pi = stationary(generator(births, deaths))
    np.testing.assert_allclose(repair_chain(n, mttf, mttr, crews), pi, rtol=1e-9, atol=1e-14)
    assert k_of_n_repair(4, n, mttf, mttr, crews) == pytest.approx(pi[:3].sum(), rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 12),
    data=st.data(),
    mttf=st.floats(0.01, 1e4),
    mttr=st.floats(0.01, 1e4),
)
def test_k_of_n_repair_is_monotone(n, data, mttf, mttr):
    """A probability; more components needed -> less available; more crews -> more."""
    k = data.draw(st.integers(1, n), label="k")
    crews = data.draw(st.integers(1, n), label="crews")
    a = k_of_n_repair(k, n, mttf, mttr, crews)
    assert 0.0 <= a <= 1.0
    tol = 1e-12  # summation rounding; the exact values are monotone
    if k < n:
        assert k_of_n_repair(k + 1, n, mttf, mttr, crews) <= a + tol
    assert k_of_n_repair(k, n, mttf, mttr, crews + 1) >= a - tol


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: erlang_b(0, 1.0), r"^erlang_b: servers must be an integer >= 1, got 0$"),
        (lambda: erlang_b(2, -1.0), r"^erlang_b: offered_load must be a number >= 0, got -1\.0$"),
        (lambda: erlang_b(True, 1.0), r"erlang_b: servers must be an integer >= 1, got True"),
        (lambda: erlang_c(2, 2.0), r"erlang_c: offered_load must be < servers \(2\)"),
        (lambda: mmc(2.0, 1.0), r"^mmc: arrival_rate must be < servers \* service_rate .*got 2\.0"),
        (lambda: mmc(3.0, 1.0, 2), r"mmc: arrival_rate .*utilisation < 1"),
        (lambda: mmc(-1.0, 1.0), r"mmc: arrival_rate must be a number >= 0"),
        (lambda: mmc(1.0, 0.0, 2), r"mmc: service_rate must be a number > 0, got 0\.0"),
        (lambda: mmc(1.0, 2.0, 1.5), r"mmc: servers must be an integer >= 1, got 1\.5"),
        (lambda: mmck(1.0, 1.0, 3, 2), r"^mmck: capacity must be an integer >= servers \(3\)"),
        (lambda: mmck(1.0, -2.0, 1, 2), r"mmck: service_rate must be a number > 0, got -2\.0"),
        (lambda: availability(0.0, 1.0), r"^availability: mttf must be a number > 0, got 0\.0$"),
        (lambda: availability(1.0, math.inf), r"availability: mttr must be a number > 0"),
        (lambda: nines(1.5), r"^nines: a must be a probability in \[0, 1\], got 1\.5$"),
        (lambda: nines(True), r"nines: a must be a probability in \[0, 1\], got True"),
        (
            lambda: k_of_n(3, 2, 0.9),
            r"^k_of_n: k must be an integer in \[1, n\] = \[1, 2\], got 3$",
        ),
        (lambda: k_of_n(0, 2, 0.9), r"k_of_n: k must be an integer >= 1, got 0"),
        (lambda: k_of_n(1, 2, 1.5), r"k_of_n: a must be a probability in \[0, 1\], got 1\.5"),
        (lambda: k_of_n(1, 2, float("nan")), r"k_of_n: a must be a probability"),
        (lambda: birth_death([1.0, -1.0], [1.0, 1.0]), r"birth_rates\[1\] must be a number > 0"),
        (lambda: birth_death([1.0], [0.0]), r"^birth_death: death_rates\[0\] must be a number > 0"),
        (lambda: birth_death([1.0], [1.0, 2.0]), r"death_rates must be a sequence as long as"),
        (lambda: birth_death(3.0, [1.0]), r"birth_rates must be a sequence of numbers > 0"),
        (lambda: k_of_n_repair(3, 2, 1.0, 1.0), r"^k_of_n_repair: k must be an integer in"),
        (lambda: k_of_n_repair(1, 2, 1.0, 1.0, 0), r"k_of_n_repair: crews must be .* >= 1, got 0"),
        (lambda: k_of_n_repair(1, 2, -1.0, 1.0), r"k_of_n_repair: mttf must be a number > 0"),
        (lambda: k_of_n_repair(1, 2, 1.0, 1.0, True), r"k_of_n_repair: crews .*got True"),
        (lambda: repair_chain(0, 1.0, 1.0), r"^repair_chain: n must be an integer >= 1, got 0$"),
    ],
)
def test_bad_arguments_raise_config_error(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        mmc(1.0, 1.0)
