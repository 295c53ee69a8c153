"""The node foundation faults build on: causes, error rates, stalls and the fault history.

A node is down while any cause holds; degraded while any gray condition (slow, errors,
stalled) holds and it is not down. Every condition is a row of ``sim.recorder.faults``:
``[kind, target, start, end, cause, value, derived]``, ``end`` None while it holds.
"""

from __future__ import annotations

import math

import pytest

import hasim as hs


def _web(sim, **kwargs):
    """A server whose requests take exactly 1 s (unless told)."""
    kwargs.setdefault("service_time", hs.Deterministic(1.0))
    return hs.Server(sim, "web", **kwargs)


def _answers(replies):
    return [(t, request, outcome) for t, request, outcome, _ in replies.log]


def _faults(sim):
    """The fault history as tuples, in the order the faults began."""
    return [tuple(row) for row in sim.recorder.faults.values()]


# --- causes ----------------------------------------------------------------------------------


def test_a_node_is_down_while_any_cause_holds(sim):
    """Two causes: recovering one leaves the node down; recovering the other brings it up."""
    node = hs.Node(sim, "n")
    node.fail("power")
    node.fail("disk")
    assert (node.state, node.causes) == (hs.DOWN, ("power", "disk"))
    node.recover("power")
    assert (node.state, node.causes) == (hs.DOWN, ("disk",))
    node.recover("disk")
    assert (node.state, node.causes) == (hs.UP, ())


def test_failing_twice_for_the_same_cause_is_one_fault(sim):
    """A cause that already holds adds nothing: one row in the history, one recover ends it."""
    node = hs.Node(sim, "n")
    node.fail("disk")
    node.fail("disk")
    assert len(sim.recorder.faults) == 1
    node.recover("disk")
    assert node.up


def test_recovering_a_cause_that_does_not_hold_changes_nothing(sim):
    """``recover(cause)`` of an absent cause leaves the other causes alone."""
    node = hs.Node(sim, "n")
    node.fail("disk")
    node.recover("power")
    assert (node.state, node.causes) == (hs.DOWN, ("disk",))


def test_recover_without_a_cause_clears_every_condition(sim):
    """``recover()``: no cause left, full speed, no errors, not stalled."""
    node = hs.Node(sim, "n")
    node.fail("a")
    node.fail("b")
    node.degrade(3.0, "gc")
    node.set_errors(0.5, "bug")
    node.stall("disk")
    node.recover()
    assert (node.state, node.causes, node.slowdown, node.error_rate, node.stalled) == (
        hs.UP,
        (),
        1.0,
        0.0,
        False,
    )
    assert all(row[3] is not None for row in sim.recorder.faults.values())


def test_gray_causes_combine(sim):
    """Slowdowns multiply; error rates combine as independent refusals."""
    node = hs.Node(sim, "n")
    node.degrade(2.0, "gc")
    node.degrade(3.0, "noisy neighbour")
    node.set_errors(0.5, "bug")
    node.set_errors(0.2, "disk")
    assert node.slowdown == 6.0
    assert node.error_rate == pytest.approx(1 - 0.5 * 0.8)
    node.degrade(1.0, "gc")
    node.set_errors(0.0, "bug")
    assert (node.state, node.slowdown) == (hs.DEGRADED, 3.0)
    assert node.error_rate == pytest.approx(0.2)
    node.degrade(1.0, "noisy neighbour")
    node.set_errors(0.0, "disk")
    assert (node.state, node.slowdown, node.error_rate) == (hs.UP, 1.0, 0.0)


def test_down_wins_over_gray_and_gray_shows_again_after_recovery(sim):
    """A down node with a gray condition is down; when the cause ends it is degraded."""
    node = hs.Node(sim, "n")
    node.degrade(2.0, "gc")
    node.fail("crash")
    assert node.state == hs.DOWN
    node.recover("crash")
    assert (node.state, node.slowdown) == (hs.DEGRADED, 2.0)


# --- error rates ------------------------------------------------------------------------------


def test_a_server_with_an_error_rate_refuses_that_share(sim, at, replies):
    """``set_errors(0.3)``: about 30 % of requests end ``error`` at once, the rest are served.

    Tolerance: the error count of N = 4,000 requests is Binomial(N, 0.3) if each refusal is an
    independent draw at the stated rate; it must lie within 3.29 standard deviations (a
    99.9 % normal interval, the binomial is close to normal at this N) of N * 0.3. Seed fixed.
    """
    web = _web(sim, service_time=0.0)
    n, rate = 4000, 0.3
    at(0, web.set_errors, rate)
    for i in range(n):
        at(1 + i * 1e-3, web.submit, i, replies)
    sim.run(until=10)
    errors = [t for t, _, outcome in _answers(replies) if outcome == "error"]
    assert len(replies.log) == n
    sd = math.sqrt(n * rate * (1 - rate))
    assert abs(len(errors) - n * rate) <= 3.29 * sd
    assert web.state == hs.DEGRADED
    # Refused at once: an error ends at the time it was submitted (the service time is 0
    # anyway, so check the served ones too are served at their submission time).
    assert all(t == pytest.approx(1 + i * 1e-3) for t, i, _ in _answers(replies))


def test_removing_the_error_rate_stops_the_errors(sim, at, replies):
    """``set_errors(0)`` ends the condition: every request is served again."""
    web = _web(sim, service_time=0.0)
    at(0, web.set_errors, 1.0)
    at(1, web.submit, "a", replies)
    at(2, web.set_errors, 0.0)
    at(3, web.submit, "b", replies)
    sim.run(until=10)
    assert _answers(replies) == [(1, "a", "error"), (3, "b", "ok")]
    assert web.state == hs.UP


# --- stalls -----------------------------------------------------------------------------------


def test_a_stalled_server_queues_and_resumes_the_remaining_time(sim, at, replies):
    """Stalled at 1 with 3 s of 'a' left; 'b' arrives at 2 and waits; resumed at 5 'a' ends at
    8 (5 + 3) and 'b' starts then, ending at 12."""
    web = _web(sim, service_time=hs.Deterministic(4.0))
    at(0, web.submit, "a", replies)
    at(1, web.stall)
    at(2, web.submit, "b", replies)
    states = []
    at(3, lambda: states.append((web.state, web.stalled, web.busy, web.queued)))
    at(5, web.resume)
    sim.run(until=20)
    assert states == [(hs.DEGRADED, True, 0, 1)]
    assert _answers(replies) == [(8, "a", "ok"), (12, "b", "ok")]
    assert web.state == hs.UP


def test_a_stall_holds_until_its_last_cause_resumes(sim, at, replies):
    """Two stall causes: the server stays frozen until both are lifted."""
    web = _web(sim)
    at(0, web.stall, "gc")
    at(0, web.stall, "disk")
    at(1, web.submit, "a", replies)
    at(2, web.resume, "gc")
    at(4, web.resume, "disk")
    sim.run(until=10)
    assert _answers(replies) == [(5, "a", "ok")]


def test_a_crash_while_stalled_errors_the_frozen_and_queued_work(sim, at, replies):
    """The crash ends the frozen request in service and the queued one with ``error``, at the
    crash; after recovery and resume the server serves again, from scratch."""
    web = _web(sim, service_time=hs.Deterministic(4.0))
    at(0, web.submit, "a", replies)
    at(1, web.stall)
    at(2, web.submit, "b", replies)
    at(3, web.fail)
    at(5, web.recover, "crash")
    at(6, web.resume)
    at(7, web.submit, "c", replies)
    sim.run(until=20)
    assert _answers(replies) == [(3, "a", "error"), (3, "b", "error"), (11, "c", "ok")]
    assert (web.busy, web.queued, web.served) == (0, 0, 1)


# --- the fault history ------------------------------------------------------------------------


def test_every_condition_is_a_row_of_the_fault_history(sim, at):
    """``[kind, target, start, end, cause, value, derived]``; end None while it holds."""
    web = _web(sim)
    at(1, web.fail, "power")
    at(2, web.recover, "power")
    at(3, web.degrade, 2.5, "gc")
    at(4, web.degrade, 4.0, "gc")  # a new size for the same cause: a new row
    at(5, web.set_errors, 0.1, "bug")
    at(6, web.stall, "disk")
    at(7, web.resume, "disk")
    at(8, lambda: web.fail("zone", derived=True))
    sim.run(until=10)
    assert _faults(sim) == [
        ("crash", "web", 1, 2, "power", None, False),
        ("slow", "web", 3, 4, "gc", 2.5, False),
        ("slow", "web", 4, None, "gc", 4.0, False),
        ("errors", "web", 5, None, "bug", 0.1, False),
        ("stall", "web", 6, 7, "disk", None, False),
        ("crash", "web", 8, None, "zone", None, True),
    ]


def test_a_fault_that_holds_when_the_run_starts_begins_at_zero(sim):
    """Built down (before ``run``): the fault is in the history from time 0; closed ones are not."""
    node = hs.Node(sim, "n")
    node.fail("old")
    node.recover("old")
    node.fail("maintenance")
    sim.run(until=5)
    assert _faults(sim) == [("crash", "n", 0.0, None, "maintenance", None, False)]


def test_a_retired_node_stays_down_and_schedules_no_failure(sim, at):
    """``retire()``: down for good; its random faults no longer fail, repair or slow it."""
    node = hs.Node(sim, "n", failures=[hs.Failures(ttf=4, ttr=1),
                                       hs.Slowdowns(every=2, lasting=1, factor=3)])  # fmt: skip
    at(6, node.retire)
    at(7, node.recover)
    seen = []
    at(6.5, lambda: seen.append((node.next_failure_at, sim.next_failure_at)))
    result = sim.run(until=30)
    assert seen == [(math.inf, math.inf)]
    assert node.state == hs.DOWN and node.retired
    assert result.faults()["start"].max() == 6  # nothing began after the retirement
