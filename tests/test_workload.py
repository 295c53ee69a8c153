"""Workloads: open-loop arrivals (constant, piecewise, rate function), closed loops, timeouts.

Statistical checks count Poisson arrivals: a count with mean m has standard
deviation sqrt(m), so each is asserted within 5 sqrt(m) of m (a false alarm
has probability below 1e-6 per check; the seeds are fixed anyway).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import hasim as hs


def _poisson_close(count: int, mean: float) -> bool:
    """``count`` within 5 standard deviations of a Poisson mean."""
    return abs(count - mean) <= 5 * math.sqrt(mean)


def _count(issued: np.ndarray, start: float, end: float) -> int:
    return int(((issued >= start) & (issued < end)).sum())


@pytest.fixture
def web(sim):
    """A server that answers at once (service time 0)."""
    return hs.Server(sim, "web")


# --- OpenLoop -------------------------------------------------------------------------------------


def test_constant_rate_gives_about_rate_times_duration(sim, web, assert_conserved):
    """rate = 50/s for 200 s: 10,000 requests expected, within 5 sqrt(10,000) = 500."""
    hs.OpenLoop(sim, "users", target=web, rate=50)
    result = sim.run(until=200)
    assert _poisson_close(result.summary()["issued"], 50 * 200)
    assert result.summary()["availability"] == 1.0
    assert_conserved(result, sim)


def test_piecewise_rate_steps(sim, web, assert_conserved):
    """Steps ``(start, rate)``: 40/s on [0, 50), nothing on [50, 100), 160/s from 100."""
    hs.OpenLoop(sim, "users", target=web, rate=[(0, 40), (50, 0), (100, 160)])
    result = sim.run(until=150)
    issued = result.requests()["issued"].to_numpy()
    assert _count(issued, 50, 100) == 0
    assert _poisson_close(_count(issued, 0, 50), 40 * 50)
    assert _poisson_close(_count(issued, 100, 150), 160 * 50)
    assert_conserved(result, sim)


def test_a_last_step_of_rate_zero_stops_the_arrivals(sim, web, assert_conserved):
    """``[(0, 10), (20, 0)]``: about 200 requests, all before t = 20."""
    hs.OpenLoop(sim, "users", target=web, rate=[(0, 10), (20, 0)])
    result = sim.run(until=100)
    issued = result.requests()["issued"]
    assert issued.max() < 20
    assert _poisson_close(len(issued), 10 * 20)
    assert_conserved(result, sim)


def test_rate_function_by_thinning(sim, web, assert_conserved):
    """rate(t) = 2t on [0, 100], max_rate 200: 2,500 expected in [0, 50), 7,500 in [50, 100)."""
    hs.OpenLoop(sim, "users", target=web, rate=lambda t: 2 * t, max_rate=200)
    result = sim.run(until=100)
    issued = result.requests()["issued"].to_numpy()
    assert _poisson_close(_count(issued, 0, 50), 2500)
    assert _poisson_close(_count(issued, 50, 100), 7500)
    assert_conserved(result, sim)


@pytest.mark.parametrize(("value", "shown"), [(10, "10"), (-1, "-1"), (math.nan, "nan")])
def test_a_rate_function_outside_0_max_rate_stops_the_run(sim, web, value, shown):
    """rate(t) must stay in [0, max_rate]; the run fails loudly when it does not."""
    hs.OpenLoop(sim, "users", target=web, rate=lambda t: value, max_rate=5)
    with pytest.raises(
        hs.ConfigError,
        match=rf"^OpenLoop 'users': rate\([0-9.e+-]+\) must be in \[0, max_rate=5\], got {shown}$",
    ):
        sim.run(until=100)


def test_requests_cannot_be_issued_before_the_run(sim, web):
    """A client issues only while the clock runs."""
    client = hs.Client(sim, "c", target=web)
    with pytest.raises(hs.SimulationError, match=r"^Client 'c': requests can only be issued while"):
        client.issue()


# --- ClosedLoop -----------------------------------------------------------------------------------


def test_closed_loop_users_think_send_and_wait(sim, assert_conserved):
    """3 users, think 1 s, service 0.5 s, one worker each: user requests at 1, 2.5, 4, ..., 10.

    By t = 10.25 each user issued 7 requests; the 7th (10 -> 10.5) is still in flight.
    """
    web = hs.Server(sim, "web", workers=3, service_time=hs.Deterministic(0.5))
    hs.ClosedLoop(sim, "users", target=web, users=3, think_time=hs.Deterministic(1.0))
    result = sim.run(until=10.25)
    summary = result.summary()
    assert (summary["issued"], summary["ok"], summary["in_flight"]) == (21, 18, 3)
    issued = result.requests()["issued"]
    assert sorted(set(issued)) == [1, 2.5, 4, 5.5, 7, 8.5]
    assert (issued.value_counts() == 3).all()
    assert_conserved(result, sim)


def test_closed_loop_users_think_again_after_a_timeout(sim, assert_conserved):
    """1 user, think 1 s, service 3 s, timeout 2 s: requests at 1, 4, 7, each timing out 2 s later.

    The server still does the work (1 -> 4, 4 -> 7): wasted work is real.
    """
    web = hs.Server(sim, "web", service_time=hs.Deterministic(3))
    hs.ClosedLoop(sim, "user", target=web, users=1, think_time=1.0, timeout=2.0)
    result = sim.run(until=10)
    table = result.requests()
    assert list(table["issued"]) == [1, 4, 7]
    assert list(table["ended"]) == [3, 6, 9]
    assert set(table["outcome"]) == {"timeout"}
    assert web.served == 2
    assert_conserved(result, sim)


# --- timeouts -------------------------------------------------------------------------------------


def test_timeout_ends_the_request_and_ignores_the_late_answer(sim, at, assert_conserved):
    """The client records ``timeout`` at issued + timeout; the answer at t = 2 is dropped."""
    web = hs.Server(sim, "web", service_time=hs.Deterministic(2.0))
    client = hs.Client(sim, "c", target=web, timeout="500ms")
    assert client.timeout == 0.5
    at(0, client.issue)
    result = sim.run(until=10)
    table = result.requests()
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["outcome"], row["ended"], row["latency"]) == ("timeout", 0.5, 0.5)
    assert pd.isna(row["responder"])  # nobody answered
    summary = result.summary()
    assert (summary["issued"], summary["timeout"], summary["ok"], summary["in_flight"]) == (
        1,
        1,
        0,
        0,
    )
    assert web.served == 1 and client.outstanding == {}
    assert_conserved(result, sim)


def test_every_open_loop_timeout_ends_exactly_at_issued_plus_timeout(sim, assert_conserved):
    """An overloaded server: requests time out, each at exactly issued + 0.25 s."""
    web = hs.Server(sim, "web", service_time=hs.Deterministic(1.0))
    hs.OpenLoop(sim, "users", target=web, rate=5, timeout=0.25)
    result = sim.run(until=100)
    table = result.requests()
    late = table[table["outcome"] == "timeout"]
    assert len(late) > 100
    assert (late["ended"] == late["issued"] + 0.25).all()
    assert_conserved(result, sim)


# --- validation -----------------------------------------------------------------------------------


def _no_client(sim) -> bool:
    return "users" not in sim and sim.clients == []


@pytest.mark.parametrize("target", ["web", None, 42])
def test_target_must_be_a_service(sim, target):
    """A client sends to a service object, not to a name."""
    with pytest.raises(
        hs.ConfigError,
        match=r"^OpenLoop 'users': target must be a service "
        r"\(a Server or anything with submit\(\)\)",
    ):
        hs.OpenLoop(sim, "users", target=target, rate=1)
    assert _no_client(sim)


def test_a_node_is_not_a_service(sim):
    """A plain Node cannot serve requests."""
    with pytest.raises(hs.ConfigError, match=r"target must be a service"):
        hs.OpenLoop(sim, "users", target=hs.Node(sim, "db"), rate=1)
    assert _no_client(sim)


def test_target_must_belong_to_the_same_simulation(sim):
    """A server of another simulation would never answer: it is refused when the client is built."""
    elsewhere = hs.Server(hs.Simulation(), "web")
    with pytest.raises(hs.ConfigError, match=r"^OpenLoop 'users': target must be"):
        hs.OpenLoop(sim, "users", target=elsewhere, rate=1)
    assert _no_client(sim)


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (0, r"timeout must be a number > 0, got 0$"),
        (-1, r"timeout must be a number > 0, got -1$"),
        (math.inf, r"timeout must be a number > 0, got inf$"),
        (True, r"timeout must be a number > 0, got True$"),
        ("0s", r"timeout must be a number > 0, got 0.0$"),
        ("soon", r"timeout must be .*, got 'soon'$"),
    ],
)
def test_timeout_must_be_positive(sim, web, timeout, message):
    """A timeout is a duration > 0 (or None: wait forever); the message names the client."""
    with pytest.raises(hs.ConfigError, match=r"^OpenLoop 'users': " + message):
        hs.OpenLoop(sim, "users", target=web, rate=1, timeout=timeout)
    assert _no_client(sim)


@pytest.mark.parametrize("rate", [0, -1, math.nan, math.inf, True, "fast", None])
def test_constant_rate_must_be_positive(sim, web, rate):
    """A constant rate is a number of requests per second > 0."""
    with pytest.raises(hs.ConfigError, match=r"^OpenLoop 'users': rate must be a number > 0, got"):
        hs.OpenLoop(sim, "users", target=web, rate=rate)
    assert _no_client(sim)


@pytest.mark.parametrize("max_rate", [None, 0, -5, math.inf])
def test_a_rate_function_needs_max_rate(sim, web, max_rate):
    """Thinning needs a finite upper bound of rate(t)."""
    with pytest.raises(
        hs.ConfigError, match=r"^OpenLoop 'users': max_rate must be a number > 0, got"
    ):
        hs.OpenLoop(sim, "users", target=web, rate=lambda t: 1.0, max_rate=max_rate)
    assert _no_client(sim)


@pytest.mark.parametrize(
    "steps",
    [
        [],
        [(1, 5)],
        [(0, 5), (0, 6)],
        [(0, 5), (10, 6), (5, 1)],
        [(0, 5), (10, -1)],
        [(0, 0), (10, 0)],
        [(0, math.nan)],
        [(0, 5), (math.inf, 1)],
        [(0, 5, 1)],
        [("a", 1)],
        [(0, 10**400)],
        [(0, 5), (10**400, 1)],
    ],
)
def test_rate_steps_validation(sim, web, steps):
    """Steps start at 0, times increase, rates are finite and >= 0, not all 0."""
    with pytest.raises(hs.ConfigError, match=r"^OpenLoop 'users': rate"):
        hs.OpenLoop(sim, "users", target=web, rate=steps)
    assert _no_client(sim)


@pytest.mark.parametrize("users", [0, -1, 2.5, True, None])
def test_closed_loop_needs_at_least_one_user(sim, web, users):
    """``users`` is an integer >= 1."""
    with pytest.raises(
        hs.ConfigError, match=r"^ClosedLoop 'users': users must be an integer >= 1, got"
    ):
        hs.ClosedLoop(sim, "users", target=web, users=users, think_time=1)
    assert _no_client(sim)


@pytest.mark.parametrize(
    ("think_time", "message"),
    [
        (0, r"think_time must be a distribution with mean > 0, got 0$"),
        (hs.Deterministic(0), r"think_time must be a distribution with mean > 0"),
        (-1, r"think_time must be a Distribution, a number >= 0 or a duration string, got -1$"),
        ("soon", r"think_time must be .*, got 'soon'$"),
    ],
)
def test_closed_loop_needs_a_think_time_with_positive_mean(sim, web, think_time, message):
    """Users must pause between requests, or the loop would never let the clock move."""
    with pytest.raises(hs.ConfigError, match=r"^ClosedLoop 'users': " + message):
        hs.ClosedLoop(sim, "users", target=web, users=2, think_time=think_time)
    assert _no_client(sim)


def test_max_rate_is_only_for_a_rate_function(sim):
    web = hs.Server(sim, "web")
    with pytest.raises(
        hs.ConfigError,
        match=r"^OpenLoop 'u': max_rate must be None unless rate is a function of time, got 5",
    ):
        hs.OpenLoop(sim, "u", target=web, rate=2, max_rate=5)
    assert "u" not in sim
