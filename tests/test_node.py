"""Nodes (up, degraded, down; listeners) and Servers (workers, FIFO queue, crash semantics)."""

from __future__ import annotations

import math

import pytest

import hasim as hs

# --- Node -----------------------------------------------------------------------------------------


@pytest.fixture
def node(sim):
    """A node whose state changes are logged in ``node.changes`` as (old, new)."""
    node = hs.Node(sim, "n", zone="az1")
    node.changes = []
    node.on_change(lambda n, old, new: node.changes.append((old, new)))
    return node


def test_a_new_node_is_up(node):
    """A node starts up, at full speed, in its zone."""
    assert (node.state, node.up, node.slowdown, node.zone) == (hs.UP, True, 1.0, "az1")


def test_fail_recover_and_degrade_change_the_state(node):
    """Down is not up; degraded is up (only slow)."""
    node.degrade(2.0)
    assert (node.state, node.up, node.slowdown) == (hs.DEGRADED, True, 2.0)
    node.fail()
    assert (node.state, node.up) == (hs.DOWN, False)
    node.recover()
    assert (node.state, node.up, node.slowdown) == (hs.UP, True, 1.0)


def test_listeners_are_called_with_node_old_and_new_state(sim):
    """``on_change(listener)``: ``listener(node, old, new)`` after each change, in order."""
    node = hs.Node(sim, "n")
    calls = []
    node.on_change(lambda *args: calls.append(args))
    node.on_change(lambda n, old, new: calls.append(("second", n.state)))
    node.degrade(3.0)
    node.fail()
    node.recover()
    assert calls == [
        (node, hs.UP, hs.DEGRADED),
        ("second", hs.DEGRADED),
        (node, hs.DEGRADED, hs.DOWN),
        ("second", hs.DOWN),
        (node, hs.DOWN, hs.UP),
        ("second", hs.UP),
    ]


def test_fail_and_recover_are_idempotent(node):
    """Failing a down node or recovering an up one changes nothing and notifies no one."""
    node.recover()
    node.fail()
    node.fail()
    node.recover()
    node.recover()
    assert node.changes == [(hs.UP, hs.DOWN), (hs.DOWN, hs.UP)]


def test_degrading_twice_by_the_same_factor_notifies_once(node):
    """``degrade(2)`` on a node already degraded by 2 is no change."""
    node.degrade(2.0)
    node.degrade(2.0)
    assert node.changes == [(hs.UP, hs.DEGRADED)]


def test_degrade_by_one_is_no_change_for_an_up_node(sim, node):
    """A slowdown of 1 is full speed: an up node stays up and nothing is logged or notified."""
    node.degrade(1.0)
    assert node.state == hs.UP
    assert node.changes == []
    assert sim.recorder.state_log == []


def test_degrade_by_one_restores_a_degraded_node(node):
    """``degrade(1)`` brings a slow node back to full speed."""
    node.degrade(4.0)
    node.degrade(1.0)
    assert (node.state, node.slowdown) == (hs.UP, 1.0)
    assert node.changes == [(hs.UP, hs.DEGRADED), (hs.DEGRADED, hs.UP)]


def test_a_down_node_ignores_degrade(node):
    """A crashed node stays down when degraded; it comes back at full speed."""
    node.fail()
    node.degrade(3.0)
    assert node.state == hs.DOWN
    node.recover()
    assert (node.state, node.slowdown) == (hs.UP, 1.0)
    assert node.changes == [(hs.UP, hs.DOWN), (hs.DOWN, hs.UP)]


@pytest.mark.parametrize("slowdown", [0, -1.0, math.nan, math.inf, True, "2"])
def test_degrade_needs_a_positive_finite_slowdown(node, slowdown):
    """The slowdown multiplies service times: a finite number > 0."""
    with pytest.raises(hs.ConfigError, match=r"^Node 'n': slowdown must be a number > 0, got"):
        node.degrade(slowdown)
    assert node.state == hs.UP and node.changes == []


def test_degrade_cannot_make_a_node_faster(node):
    """A slowdown below 1 would be a speed-up, not a gray failure."""
    with pytest.raises(
        hs.ConfigError, match=r"^Node 'n': slowdown must be a number >= 1, got 0.5$"
    ):
        node.degrade(0.5)
    assert node.state == hs.UP and node.changes == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"zone": ""}, r"Node 'n': zone must be a non-empty string or None, got ''"),
        ({"zone": 5}, r"Node 'n': zone must be a non-empty string or None, got 5"),
        (
            {"failures": "often"},
            r"Node 'n': failures must be a hasim.Failures\(ttf, ttr\), a list of fault models "
            r"or None, got 'often'",
        ),
    ],
)
def test_node_validation(sim, kwargs, message):
    """Bad zones and failure models are refused before the node is registered."""
    with pytest.raises(hs.ConfigError, match=message):
        hs.Node(sim, "n", **kwargs)
    assert "n" not in sim and sim.nodes == []


def test_the_state_log_is_in_the_timeline(sim, at):
    """``result.timeline()`` has every state interval of every node, and the system's."""
    node = hs.Node(sim, "n")
    at(2, node.fail)
    at(5, node.recover)
    at(7, node.degrade, 2.0)
    timeline = sim.run(until=10).timeline()
    rows = timeline[["component", "state", "start", "end", "duration"]].itertuples(
        index=False, name=None
    )
    assert sorted(rows) == sorted(
        [
            ("n", "up", 0, 2, 2),
            ("n", "down", 2, 5, 3),
            ("n", "up", 5, 7, 2),
            ("n", "degraded", 7, 10, 3),
            ("system", "up", 0, 2, 2),
            ("system", "down", 2, 5, 3),
            ("system", "up", 5, 10, 5),
        ]
    )


# --- Server: queueing -----------------------------------------------------------------------------


def _web(sim, **kwargs) -> hs.Server:
    """A server whose every request takes exactly 1 s."""
    return hs.Server(sim, "web", service_time=hs.Deterministic(1.0), **kwargs)


def _answers(replies) -> list[tuple]:
    return [(t, request, outcome) for t, request, outcome, _ in replies.log]


def test_one_worker_serves_in_arrival_order(sim, at, replies):
    """FIFO: requests that arrive together are served one after the other."""
    web = _web(sim)
    for request in "abc":
        at(0, web.submit, request, replies)
    sim.run(until=10)
    assert _answers(replies) == [(1, "a", "ok"), (2, "b", "ok"), (3, "c", "ok")]
    assert {by for *_, by in replies.log} == {"web"}
    assert web.served == 3


def test_a_request_sent_from_a_reply_queues_behind_waiting_ones(sim, at, replies):
    """FIFO holds when a reply callback submits at once (as a forwarding service does):
    c, sent the moment a is answered, is served after b, which was already waiting."""
    web = _web(sim)

    def reply_and_send(request, outcome, responder):
        replies(request, outcome, responder)
        web.submit("c", replies)

    at(0, web.submit, "a", reply_and_send)
    at(0, web.submit, "b", replies)
    sim.run(until=10)
    assert _answers(replies) == [(1, "a", "ok"), (2, "b", "ok"), (3, "c", "ok")]


def test_workers_serve_in_parallel(sim, at, replies):
    """2 workers, 4 requests at t = 0, 1 s each: they end at 1, 1, 2, 2."""
    web = _web(sim, workers=2)
    for request in "abcd":
        at(0, web.submit, request, replies)
    load = []
    at(0.5, lambda: load.append((web.busy, web.queued)))
    at(1.5, lambda: load.append((web.busy, web.queued)))
    sim.run(until=10)
    assert _answers(replies) == [(1, "a", "ok"), (1, "b", "ok"), (2, "c", "ok"), (2, "d", "ok")]
    assert load == [(2, 2), (2, 0)]


def test_a_full_queue_rejects_at_once(sim, at, replies):
    """1 worker and room for 2: of 5 requests at t = 0, the last 2 are rejected at t = 0."""
    web = _web(sim, queue_limit=2)
    for request in "abcde":
        at(0, web.submit, request, replies)
    sim.run(until=10)
    assert _answers(replies) == [
        (0, "d", "rejected"),
        (0, "e", "rejected"),
        (1, "a", "ok"),
        (2, "b", "ok"),
        (3, "c", "ok"),
    ]


def test_queue_limit_zero_is_a_loss_system(sim, at, replies):
    """With ``queue_limit=0`` nothing waits: a request that finds every worker busy is lost."""
    web = _web(sim, workers=2, queue_limit=0)
    for request in "abc":
        at(0, web.submit, request, replies)
    at(1.5, web.submit, "d", replies)
    sim.run(until=10)
    assert _answers(replies) == [
        (0, "c", "rejected"),
        (1, "a", "ok"),
        (1, "b", "ok"),
        (2.5, "d", "ok"),
    ]


def test_service_time_accepts_seconds_and_strings(sim):
    """A number or a duration string is a Deterministic service time."""
    assert hs.Server(sim, "a", service_time="250ms").service_time == hs.Deterministic(0.25)
    assert hs.Server(sim, "b", service_time=2).service_time == hs.Deterministic(2.0)


# --- Server: failure semantics --------------------------------------------------------------------


def test_a_crash_errors_everything_queued_and_in_service(sim, at, replies):
    """At the crash every request there ends with ``error``, in arrival order; the stale
    completion of the request that was in service produces no second answer."""
    web = _web(sim, workers=2)
    for request in "abcd":
        at(0, web.submit, request, replies)
    at(0.5, web.fail)
    at(0.7, web.recover)
    at(0.8, web.submit, "e", replies)
    sim.run(until=10)
    assert _answers(replies) == [
        (0.5, "a", "error"),
        (0.5, "b", "error"),
        (0.5, "c", "error"),
        (0.5, "d", "error"),
        (1.8, "e", "ok"),
    ]
    assert (web.served, web.busy, web.queued) == (1, 0, 0)


def test_a_down_server_errors_at_once(sim, at, replies):
    """A request sent to a down server is refused at once (connection refused)."""
    web = _web(sim)
    at(0, web.fail)
    at(1, web.submit, "a", replies)
    at(2, web.recover)
    at(3, web.submit, "b", replies)
    sim.run(until=10)
    assert replies.log == [(1, "a", "error", "web"), (4, "b", "ok", "web")]


def test_a_crash_as_seen_by_clients(sim, at, assert_conserved):
    """Through a client: the crashed requests are ``error`` answered by the server."""
    web = _web(sim)
    client = hs.Client(sim, "c", target=web)
    for _ in range(3):
        at(0, client.issue)
    at(1.5, web.fail)
    result = sim.run(until=10)
    table = result.requests()
    assert list(table["outcome"]) == ["ok", "error", "error"]
    assert list(table["ended"]) == [1, 1.5, 1.5]
    assert list(table["responder"]) == ["web"] * 3
    assert_conserved(result, sim)


def test_a_degraded_server_multiplies_service_times(sim, at, replies):
    """Degraded by 3, a 1 s request takes 3 s."""
    web = _web(sim)
    at(0, web.degrade, 3.0)
    at(0, web.submit, "a", replies)
    sim.run(until=10)
    assert _answers(replies) == [(3, "a", "ok")]


def test_work_in_service_keeps_the_time_it_drew(sim, at, replies):
    """Only work started while degraded is slow; recovery restores full speed."""
    web = _web(sim)
    at(0, web.submit, "a", replies)
    at(0.5, web.degrade, 4.0)
    at(1.5, web.submit, "b", replies)
    at(6, web.recover)
    at(6, web.submit, "c", replies)
    sim.run(until=10)
    assert _answers(replies) == [(1, "a", "ok"), (5.5, "b", "ok"), (7, "c", "ok")]


def test_handle_is_a_simpy_event_whose_value_is_the_outcome(sim):
    """``outcome = yield server.handle(request)`` inside a SimPy process."""
    web = _web(sim)
    seen = []

    def caller(env):
        outcome = yield web.handle("a")
        seen.append((env.now, outcome))
        web.fail()
        outcome = yield web.handle("b")
        seen.append((env.now, outcome))

    sim.env.process(caller(sim.env))
    sim.run(until=10)
    assert seen == [(1, "ok"), (1, "error")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, r"^Server 'web': workers must be an integer >= 1, got 0$"),
        ({"workers": 1.5}, r"^Server 'web': workers must be an integer >= 1, got 1.5$"),
        ({"workers": True}, r"^Server 'web': workers must be an integer >= 1, got True$"),
        ({"queue_limit": -1}, r"^Server 'web': queue_limit must be an integer >= 0, got -1$"),
        (
            {"service_time": -1},
            r"^Server 'web': service_time must be a Distribution, a number >= 0 "
            r"or a duration string, got -1$",
        ),
        ({"service_time": "fast"}, r"^Server 'web': service_time must be .*, got 'fast'$"),
        ({"zone": ""}, r"^Server 'web': zone must be a non-empty string or None, got ''$"),
        (
            {"failures": 3},
            r"^Server 'web': failures must be a hasim.Failures\(ttf, ttr\), a list of fault "
            r"models or None, got 3$",
        ),
    ],
)
def test_server_validation(sim, kwargs, message):
    """Every bad argument names the server, the parameter and the value; nothing is registered."""
    with pytest.raises(hs.ConfigError, match=message):
        hs.Server(sim, "web", **kwargs)
    assert "web" not in sim and sim.nodes == []


def test_received_counts_every_submission_served_counts_ok(sim, at, replies):
    """Load offered (received) vs work done (served): a refusal while down counts as load."""
    web = hs.Server(sim, "web", service_time=hs.Deterministic(1.0))
    at(0.0, web.submit, "a", replies)
    at(2.0, web.fail)
    at(3.0, web.submit, "b", replies)
    sim.run(until=5)
    assert (web.received, web.served) == (2, 1)
