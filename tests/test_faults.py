"""Random failures and repairs: Failures(ttf, ttr) on a node, RepairCrews shared by nodes."""

from __future__ import annotations

import math

import pytest

import hasim as hs

TEN_TWO = hs.Failures(ttf=hs.Deterministic(10), ttr=hs.Deterministic(2))


def _states(result: hs.RunResult, name: str) -> list[tuple]:
    """``(state, start, end)`` of one component, in time order."""
    timeline = result.timeline()
    rows = timeline[timeline["component"] == name].sort_values("start")
    return list(rows[["state", "start", "end"]].itertuples(index=False, name=None))


def test_deterministic_failures_alternate_exactly(sim):
    """ttf = 10, ttr = 2: down at 10, up at 12, down at 22, ... (a new ttf at each repair)."""
    hs.Node(sim, "n", failures=TEN_TWO)
    result = sim.run(until=50)
    assert _states(result, "n") == [
        ("up", 0, 10),
        ("down", 10, 12),
        ("up", 12, 22),
        ("down", 22, 24),
        ("up", 24, 34),
        ("down", 34, 36),
        ("up", 36, 46),
        ("down", 46, 48),
        ("up", 48, 50),
    ]


def test_next_failure_is_published_in_advance(sim, at):
    """``node.next_failure_at``: the time of the next failure while up, inf while down."""
    node = hs.Node(sim, "n", failures=TEN_TWO)
    seen = []
    for t in (5, 11, 13, 23, 25):
        at(t, lambda: seen.append((sim.now, node.next_failure_at)))
    sim.run(until=30)
    assert seen == [(5, 10), (11, math.inf), (13, 22), (23, math.inf), (25, 34)]


def test_a_node_without_failures_never_fails(sim):
    """No failure model: the node fails only when told, and nothing is scheduled."""
    node = hs.Node(sim, "n")
    result = sim.run(until=1e6)
    assert node.next_failure_at == math.inf
    assert _states(result, "n") == [("up", 0, 1e6)]


def test_failures_accept_seconds_and_strings():
    """ttf and ttr take Distributions, seconds or duration strings."""
    failures = hs.Failures(ttf="30d", ttr="20m")
    assert failures.ttf == hs.Deterministic(30 * hs.days)
    assert failures.ttr == hs.Deterministic(20 * hs.minutes)


def test_failures_availability_is_mttf_over_mttf_plus_mttr():
    """The steady-state availability of a node with a crew of its own."""
    assert TEN_TWO.availability == 10 / 12
    assert hs.Failures(ttf=hs.Exponential(mean=9), ttr=1).availability == 0.9


def test_one_failures_object_on_many_nodes_draws_each_nodes_own_times(sim):
    """Each node has its own streams, so sharing a Failures shares the model, not the times."""
    failures = hs.Failures(ttf=hs.Exponential(mean=10), ttr=hs.Exponential(mean=1))
    hs.Node(sim, "a", failures=failures)
    hs.Node(sim, "b", failures=failures)
    result = sim.run(until=200)
    a, b = _states(result, "a"), _states(result, "b")
    assert len(a) > 5 and len(b) > 5
    assert [start for _, start, _ in a] != [start for _, start, _ in b]


def test_each_node_has_its_own_crew_by_default(sim):
    """Without shared crews, two nodes failing together are repaired together."""
    hs.Node(sim, "a", failures=TEN_TWO)
    hs.Node(sim, "b", failures=TEN_TWO)
    result = sim.run(until=15)
    assert (
        _states(result, "a")
        == _states(result, "b")
        == [("up", 0, 10), ("down", 10, 12), ("up", 12, 15)]
    )


def test_one_shared_crew_repairs_one_node_after_the_other(sim, at):
    """A crew of 1 takes failed nodes first come, first served: a is up at 12, b waits, up at 14."""
    ops = hs.RepairCrews(sim, "ops", crews=1)
    failures = hs.Failures(ttf=hs.Deterministic(10), ttr=hs.Deterministic(2), crews=ops)
    hs.Node(sim, "a", failures=failures)
    hs.Node(sim, "b", failures=failures)
    load = []
    for t in (11, 13, 14.5):
        at(t, lambda: load.append((sim.now, ops.busy, ops.waiting)))
    result = sim.run(until=15)
    assert _states(result, "a") == [("up", 0, 10), ("down", 10, 12), ("up", 12, 15)]
    assert _states(result, "b") == [("up", 0, 10), ("down", 10, 14), ("up", 14, 15)]
    assert load == [(11, 1, 1), (13, 1, 0), (14.5, 0, 0)]


def test_two_crews_repair_two_nodes_at_once(sim):
    """With 2 crews neither node waits."""
    ops = hs.RepairCrews(sim, "ops", crews=2)
    failures = hs.Failures(ttf=hs.Deterministic(10), ttr=hs.Deterministic(2), crews=ops)
    hs.Node(sim, "a", failures=failures)
    hs.Node(sim, "b", failures=failures)
    result = sim.run(until=15)
    assert (
        _states(result, "a")
        == _states(result, "b")
        == [("up", 0, 10), ("down", 10, 12), ("up", 12, 15)]
    )


def test_a_failing_server_errors_its_work(sim, at, assert_conserved):
    """A random failure is a crash like ``fail()``: the request in service ends with ``error``."""
    web = hs.Server(sim, "web", service_time=hs.Deterministic(4), failures=TEN_TWO)
    client = hs.Client(sim, "c", target=web)
    at(8, client.issue)  # in service at 10
    at(11, client.issue)  # refused: down until 12
    at(12.5, client.issue)  # served 12.5 -> 16.5
    result = sim.run(until=20)
    table = result.requests()
    assert list(zip(table["ended"], table["outcome"], strict=True)) == [
        (10, "error"),
        (11, "error"),
        (16.5, "ok"),
    ]
    assert_conserved(result, sim)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttf": 0, "ttr": 1}, r"^Failures: ttf must be a distribution with mean > 0, got 0$"),
        (
            {"ttf": hs.Deterministic(0), "ttr": 1},
            r"^Failures: ttf must be a distribution with mean > 0, got Deterministic\(value=0.0\)$",
        ),
        (
            {"ttf": -1, "ttr": 1},
            r"^Failures: ttf must be a Distribution, a number >= 0 or a duration string, got -1$",
        ),
        ({"ttf": 1, "ttr": "soon"}, r"^Failures: ttr must be .*, got 'soon'$"),
        (
            {"ttf": 1, "ttr": 1, "crews": 3},
            r"^Failures: crews must be a hasim.RepairCrews or None, got 3$",
        ),
        (
            {"ttf": 1, "ttr": 1, "crews": "ops"},
            r"^Failures: crews must be a hasim.RepairCrews or None",
        ),
    ],
)
def test_failures_validation(kwargs, message):
    """A failure model needs a ttf with mean > 0, a ttr, and crews that are a RepairCrews."""
    with pytest.raises(hs.ConfigError, match=message):
        hs.Failures(**kwargs)


@pytest.mark.parametrize("crews", [0, -1, 1.5, True, None])
def test_repair_crews_need_a_positive_integer(sim, crews):
    """A pool has at least one crew; a rejected pool is not registered."""
    with pytest.raises(
        hs.ConfigError, match=r"^RepairCrews 'ops': crews must be an integer >= 1, got"
    ):
        hs.RepairCrews(sim, "ops", crews=crews)
    assert "ops" not in sim


def test_crews_of_another_simulation_are_rejected_and_nothing_registered(sim):
    """Crews must belong to the node's simulation; the rejected node leaves no trace."""
    other = hs.RepairCrews(hs.Simulation(), "ops")
    failures = hs.Failures(ttf=10, ttr=2, crews=other)
    with pytest.raises(
        hs.ConfigError,
        match=r"^Node 'n': failures.crews must be a RepairCrews of the same Simulation",
    ):
        hs.Node(sim, "n", failures=failures)
    assert "n" not in sim and sim.nodes == []
