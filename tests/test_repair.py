"""Failures with causes, repair on detection, spare parts, and the beta-factor split.

``Failures(ttf, ttr, crews=None, cause="failure", repair="immediate", spares=None)``: the node
is down under ``cause``; the repair waits for detection (``repair="on_detection"``), then a
spare part, then a crew, then takes ``ttr``.
"""

from __future__ import annotations

import math

import pytest

import hasim as hs


def _states(result: hs.RunResult, name: str) -> list[tuple]:
    """``(state, start, end)`` of one component, in time order."""
    timeline = result.timeline()
    rows = timeline[timeline["component"] == name].sort_values("start")
    return list(rows[["state", "start", "end"]].itertuples(index=False, name=None))


def _first_down(result: hs.RunResult, name: str) -> float:
    return next(start for state, start, _ in _states(result, name) if state == hs.DOWN)


# --- causes and streams ------------------------------------------------------------------------


def test_the_default_cause_is_failure_and_is_in_the_history(sim, at):
    """A random failure holds the node down under cause 'failure', recorded as a crash."""
    node = hs.Node(sim, "n", failures=hs.Failures(ttf=10, ttr=2))
    seen = []
    at(11, lambda: seen.append(node.causes))
    sim.run(until=15)
    assert seen == [("failure",)]
    assert [tuple(f) for f in sim.recorder.faults.values()] == [
        ("crash", "n", 10, 12, "failure", None, False)
    ]


def test_cause_failure_keeps_the_historical_streams(sim):
    """Cause 'failure' draws from ``(name, "ttf")`` and ``(name, "ttr")``, as it always did: the
    first failure and repair are the first values of those streams (batch of 64)."""
    ttf, ttr = hs.Exponential(mean=100), hs.Exponential(mean=10)
    hs.Node(sim, "n", failures=hs.Failures(ttf=ttf, ttr=ttr))
    result = sim.run(until=1e4)
    first_ttf = ttf.sample(sim.rng("n", "ttf"), 64)[0]
    first_ttr = ttr.sample(sim.rng("n", "ttr"), 64)[0]
    _, start, end = next(row for row in _states(result, "n") if row[0] == hs.DOWN)
    assert start == first_ttf
    assert end - start == pytest.approx(first_ttr, rel=1e-12)


def test_another_cause_draws_from_its_own_streams(sim):
    """Cause 'software' draws from ``(name, "software:ttf")`` and ``(name, "software:ttr")``."""
    ttf, ttr = hs.Exponential(mean=100), hs.Exponential(mean=10)
    hs.Node(sim, "n", failures=hs.Failures(ttf=ttf, ttr=ttr, cause="software"))
    result = sim.run(until=1e4)
    _, start, end = next(row for row in _states(result, "n") if row[0] == hs.DOWN)
    assert start == ttf.sample(sim.rng("n", "software:ttf"), 64)[0]
    assert end - start == pytest.approx(ttr.sample(sim.rng("n", "software:ttr"), 64)[0])


def test_adding_a_second_cause_does_not_shift_the_first(sim):
    """Common random numbers: the 'failure' history of a node is the same with or without a
    'hardware' model beside it (until the hardware fault overlaps it)."""
    exp = hs.Failures(ttf=hs.Exponential(mean=100), ttr=hs.Exponential(mean=10))
    alone = hs.Simulation(seed=3)
    hs.Node(alone, "n", failures=exp)
    alone.run(until=2000)
    both = hs.Simulation(seed=3)
    hardware = hs.Failures(ttf=hs.Exponential(mean=1e9), ttr=1, cause="hardware")
    hs.Node(both, "n", failures=[exp, hardware])
    both.run(until=2000)
    rows = [tuple(f) for f in alone.recorder.faults.values()]
    assert len(rows) > 5
    assert rows == [tuple(f) for f in both.recorder.faults.values()]


def test_a_restart_and_a_repair_run_their_own_clocks(sim, at):
    """Software (ttf 10, restart 1) and hardware (ttf 20, repair 5) on one node. The software
    clock keeps running during the hardware repair: its crash at 21 overlaps the hardware
    outage 20-25, so the node is down 20-25 in one piece, and software fails next at 32."""
    software = hs.Failures(ttf=10, ttr=1, cause="software")
    hardware = hs.Failures(ttf=20, ttr=5, cause="hardware")
    node = hs.Node(sim, "n", failures=[software, hardware])
    seen = []
    at(21.5, lambda: seen.append(node.causes))
    result = sim.run(until=40)
    assert seen == [("hardware", "software")]
    assert _states(result, "n") == [
        ("up", 0, 10),
        ("down", 10, 11),
        ("up", 11, 20),
        ("down", 20, 25),
        ("up", 25, 32),
        ("down", 32, 33),
        ("up", 33, 40),
    ]
    assert node.next_failure_at == min(43, 45)


def test_two_models_with_the_same_cause_on_one_node_are_refused(sim):
    """They would draw from the same streams: ConfigError naming the node and the cause.

    (Checked when the run starts, where the node's models first meet.)
    """
    with pytest.raises(
        hs.ConfigError,
        match=r"^Node 'n': failures must be fault models with distinct causes .*, got 'failure'$",
    ):
        hs.Node(sim, "n", failures=[hs.Failures(ttf=10, ttr=1), hs.Failures(ttf=20, ttr=1)])
        sim.run(until=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cause": ""}, r"^Failures: cause must be a non-empty string, got ''$"),
        ({"cause": 3}, r"^Failures: cause must be a non-empty string, got 3$"),
        (
            {"repair": "later"},
            r"^Failures: repair must be one of 'immediate', 'on_detection', got 'later'$",
        ),
        ({"spares": 2}, r"^Failures: spares must be a hasim.Spares or None, got 2$"),
    ],
)
def test_failures_validation_of_cause_repair_and_spares(kwargs, message):
    """A cause is a non-empty string, repair one of two modes, spares a Spares."""
    with pytest.raises(hs.ConfigError, match=message):
        hs.Failures(ttf=10, ttr=1, **kwargs)


# --- repair on detection -----------------------------------------------------------------------


def test_repair_on_detection_waits_for_an_unhealthy_verdict(sim, at):
    """Failed at 10, declared unhealthy at 15: repaired 15 + 2 = 17. The observer then says
    healthy at 18; the next failure (27) waits for a new verdict (40) and ends at 42."""
    failures = hs.Failures(ttf=10, ttr=2, repair="on_detection")
    hs.Node(sim, "n", failures=failures)
    at(15, sim.detected, "ops", "n", False)
    at(18, sim.detected, "ops", "n", True)
    at(40, sim.detected, "ops", "n", False)
    result = sim.run(until=45)
    assert _states(result, "n") == [
        ("up", 0, 10),
        ("down", 10, 17),
        ("up", 17, 27),
        ("down", 27, 42),
        ("up", 42, 45),
    ]


def test_a_node_already_believed_unhealthy_is_repaired_at_once(sim, at):
    """An observer whose latest verdict is 'unhealthy' when the node fails starts the repair
    at once: the alarm is already up."""
    hs.Node(sim, "n", failures=hs.Failures(ttf=10, ttr=2, repair="on_detection"))
    at(5, sim.detected, "ops", "n", False)
    result = sim.run(until=15)
    assert _states(result, "n") == [("up", 0, 10), ("down", 10, 12), ("up", 12, 15)]


def test_verdicts_about_other_targets_do_not_start_the_repair(sim, at):
    """Only verdicts about the failed node count."""
    hs.Node(sim, "n", failures=hs.Failures(ttf=10, ttr=2, repair="on_detection"))
    hs.Node(sim, "m")
    at(11, sim.detected, "ops", "m", False)
    result = sim.run(until=20)
    assert _states(result, "n") == [("up", 0, 10), ("down", 10, 20)]


def test_without_any_detector_the_node_stays_down(sim):
    """Nothing watches the node: its failure is never seen, so never repaired."""
    node = hs.Node(sim, "n", failures=hs.Failures(ttf=10, ttr=2, repair="on_detection"))
    result = sim.run(until=1000)
    assert _states(result, "n") == [("up", 0, 10), ("down", 10, 1000)]
    assert node.next_failure_at == math.inf


def test_a_health_check_starts_the_repair(sim):
    """A balancer probes every 1 s (no jitter, unhealthy after 2 failed probes). The server
    crashes at 10.5; the probes at 11 and 12 are refused, so the verdict comes at 12 and the
    repair (2 s) ends at 14."""
    web = hs.Server(
        sim,
        "web",
        service_time=0.0,
        failures=hs.Failures(ttf=10.5, ttr=2, repair="on_detection"),
    )
    check = hs.HealthCheck(interval=1, timeout=0.5, unhealthy_after=2, jitter=False)
    hs.LoadBalancer(sim, "lb", backends=[web], health_check=check)
    result = sim.run(until=15)
    assert _states(result, "web") == [("up", 0, 10.5), ("down", 10.5, 14), ("up", 14, 15)]
    assert (12, "lb", "web", False) in result.detections


# --- spare parts ----------------------------------------------------------------------------


def test_a_repair_waits_for_a_spare_part_fifo(sim, at):
    """One part, restocked 20 s after it is taken; a and b fail every 10 s, repair 2 s.

    a takes the part at 10 (up at 12); b waits for its restock at 30 (up at 32). a fails
    again at 22 and queues behind b, so the part back at 30 goes to b; a gets the next one, the
    part b took, back at 50: up at 52. b fails at 42 and waits behind a (for 70).
    """
    parts = hs.Spares(sim, "parts", count=1, restock=20)
    failures = hs.Failures(ttf=10, ttr=2, spares=parts)
    hs.Node(sim, "a", failures=failures)
    hs.Node(sim, "b", failures=failures)
    stock = []
    for t in (5, 11, 31, 45, 51):
        at(t, lambda: stock.append((sim.now, parts.in_stock, parts.waiting)))
    result = sim.run(until=60)
    assert _states(result, "a") == [
        ("up", 0, 10),
        ("down", 10, 12),
        ("up", 12, 22),
        ("down", 22, 52),
        ("up", 52, 60),
    ]
    assert _states(result, "b") == [
        ("up", 0, 10),
        ("down", 10, 32),
        ("up", 32, 42),
        ("down", 42, 60),
    ]
    assert stock == [(5, 1, 0), (11, 0, 1), (31, 0, 1), (45, 0, 2), (51, 0, 1)]


def test_a_part_comes_before_the_crew(sim):
    """With a part in stock and one crew busy, the second node holds a part and waits for
    the crew: the part is taken at the failure, so its restock starts then."""
    parts = hs.Spares(sim, "parts", count=2, restock=100)
    ops = hs.RepairCrews(sim, "ops", crews=1)
    failures = hs.Failures(ttf=10, ttr=2, crews=ops, spares=parts)
    hs.Node(sim, "a", failures=failures)
    hs.Node(sim, "b", failures=failures)
    result = sim.run(until=15)
    assert _states(result, "b") == [("up", 0, 10), ("down", 10, 14), ("up", 14, 15)]
    assert (parts.in_stock, parts.waiting) == (0, 0)


def test_restock_times_come_from_the_spares_own_stream(sim):
    """The restock of the first part taken is the first value of ``(name, "restock")``."""
    restock = hs.Exponential(mean=50)
    parts = hs.Spares(sim, "parts", count=1, restock=restock)
    hs.Node(sim, "a", failures=hs.Failures(ttf=10, ttr=1, spares=parts))
    hs.Node(sim, "b", failures=hs.Failures(ttf=10, ttr=1, spares=parts))
    result = sim.run(until=1e4)
    first = restock.sample(sim.rng("parts", "restock"), 64)[0]
    # b waited for the part a took at 10; it came back at 10 + first, b is up 1 s later.
    assert _states(result, "b")[1] == ("down", 10, pytest.approx(11 + first))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0, "restock": 1}, r"^Spares 'parts': count must be an integer >= 1, got 0$"),
        ({"count": 1.5, "restock": 1}, r"^Spares 'parts': count must be an integer >= 1, got 1.5"),
        ({"count": 1, "restock": "soon"}, r"^Spares 'parts': restock must be .*, got 'soon'$"),
    ],
)
def test_spares_validation(sim, kwargs, message):
    """A stock holds at least one part and has a restock time; a rejected one is not registered."""
    with pytest.raises(hs.ConfigError, match=message):
        hs.Spares(sim, "parts", **kwargs)
    assert "parts" not in sim


def test_spares_of_another_simulation_are_refused(sim):
    """Like crews, spares must belong to the node's simulation; nothing is registered."""
    parts = hs.Spares(hs.Simulation(), "parts", count=1, restock=1)
    with pytest.raises(
        hs.ConfigError, match=r"^Node 'n': failures.spares must be a Spares of the same Simulation"
    ):
        hs.Node(sim, "n", failures=hs.Failures(ttf=10, ttr=1, spares=parts))
    assert "n" not in sim and sim.nodes == []


# --- the beta-factor split ----------------------------------------------------------------------


def test_split_divides_the_failure_rate():
    """beta = 0.2 of rate 1/100: 0.8/100 independent, 0.2/100 common; all else is kept."""
    ops_free = hs.Failures(ttf=hs.Exponential(mean=100), ttr=5, cause="hw", repair="on_detection")
    own, common = ops_free.split(0.2)
    assert own.ttf == hs.Exponential(rate=0.8 / 100)
    assert common.ttf == hs.Exponential(rate=0.2 / 100)
    assert own.ttf.mean == pytest.approx(125) and common.ttf.mean == pytest.approx(500)
    for part in (own, common):
        assert (part.ttr, part.cause, part.repair) == (hs.Deterministic(5), "hw", "on_detection")


@pytest.mark.parametrize(
    ("ttf", "beta", "message"),
    [
        (hs.Exponential(mean=10), 0, r"^Failures.split: beta must be a number in \(0, 1\), got 0$"),
        (hs.Exponential(mean=10), 1, r"^Failures.split: beta must be a number in \(0, 1\), got 1$"),
        (hs.Exponential(mean=10), "x", r"^Failures.split: beta must be a finite number, got 'x'$"),
        (hs.Weibull(2.0, mean=10), 0.1, r"^Failures.split: ttf must be an Exponential"),
    ],
)
def test_split_validation(ttf, beta, message):
    """beta is strictly between 0 and 1, and only exponential failure times split."""
    with pytest.raises(hs.ConfigError, match=message):
        hs.Failures(ttf=ttf, ttr=1).split(beta)
