"""Links: a network link between two components is a node that fails, slows and queues.

``Link(sim, a, b, latency=, loss=, bandwidth=, symmetric=, failures=)`` carries the messages of
the pair (both directions unless one-way). While it is down or stalled, messages on it are
dropped (counted as ``dropped_link``), those in flight included; a degraded link is slower
(``degrade(k)`` multiplies its latency) or lossier (``set_errors(p)`` adds loss ``p``). With a
bandwidth, messages of ``size`` bytes are serialised one after another, FIFO.

Messages are sent by hand (``send_at``) at chosen times, so every arrival time is known.
"""

from __future__ import annotations

import pytest

import hasim as hs
from hasim.network import Link


def send_at(sim, t, src, dst, log, label=None, size=0.0):
    """At ``t``, send one message ``src -> dst`` of ``size`` bytes; log ``(label, arrived)``."""

    def go(_):
        sim.network.path(src, dst).send(lambda m: log.append((m, sim.now)), label, size=size)

    sim.call_later(t - sim.now, go)


# --- what a link is -------------------------------------------------------------------------------


def test_a_link_is_a_named_node(sim):
    """Default names ``a<->b`` and ``a->b`` (one-way); a link is a Node with a state history."""
    both = Link(sim, "a", "b")
    one = Link(sim, "c", "d", symmetric=False)
    named = Link(sim, "e", "f", name="wan")
    assert (both.name, one.name, named.name) == ("a<->b", "c->d", "wan")
    assert isinstance(both, hs.Node) and sim["a<->b"] is both
    assert both.up and both.state == hs.UP


def test_link_latency_sits_between_pair_overrides_and_zone_rules(sim):
    """Pair override > the link's latency > zone rules > the default."""
    hs.Server(sim, "x", zone="az1")
    hs.Server(sim, "y", zone="az2")
    net = hs.Network(sim, latency=1.0, cross_zone=2.0)
    Link(sim, "x", "y", latency=3.0)
    Link(sim, "p", "q")  # no latency of its own: the network's rules
    net.set_latency("y", "x", 4.0, symmetric=False)
    assert net.latency_between("x", "y") == hs.Deterministic(3.0)
    assert net.latency_between("y", "x") == hs.Deterministic(4.0)
    assert net.latency_between("p", "q") == hs.Deterministic(1.0)


def test_a_one_way_link_carries_one_direction(sim):
    """``symmetric=False``: b -> a is not on the link (its failure does not cut it)."""
    net = hs.Network(sim, latency=0.5)
    link = Link(sim, "a", "b", latency=0.1, symmetric=False)
    sim.call_later(1.0, lambda _: link.fail())
    log = []
    send_at(sim, 0.0, "a", "b", log, "a->b")
    send_at(sim, 0.0, "b", "a", log, "b->a")
    send_at(sim, 2.0, "a", "b", log, "a->b cut")
    send_at(sim, 2.0, "b", "a", log, "b->a")
    sim.run(until=5)
    assert log == [("a->b", 0.1), ("b->a", 0.5), ("b->a", 2.5)]
    assert net.dropped["link"] == 1


# --- failures cut and restore -------------------------------------------------------------------


def test_a_down_link_drops_messages_and_a_repaired_one_carries_them(sim, at):
    """Down in [1, 3): the message sent at 2 is dropped, in both directions; those at 0 and 4
    arrive; the drops are ``dropped_link``."""
    net = hs.Network(sim)
    link = Link(sim, "a", "b", latency=0.1)
    at(1.0, link.fail)
    at(3.0, link.recover)
    log = []
    for t in (0.0, 2.0, 4.0):
        send_at(sim, t, "a", "b", log, f"a->b@{t:g}")
        send_at(sim, t, "b", "a", log, f"b->a@{t:g}")
    result = sim.run(until=5)
    assert [m for m, _ in log] == ["a->b@0", "b->a@0", "a->b@4", "b->a@4"]
    assert net.stats() == {"sent": 6, "dropped_loss": 0, "dropped_partition": 0, "dropped_link": 2}
    assert [(t, s) for t, n, s in result.state_log if n == "a<->b"] == [
        (0.0, hs.UP),
        (1.0, hs.DOWN),
        (3.0, hs.UP),
    ]


def test_a_message_in_flight_when_the_link_fails_is_dropped(sim, at):
    """Latency 1 s; the link is down in [0.5, 0.7): the message sent at 0 is dropped on arrival."""
    net = hs.Network(sim)
    link = Link(sim, "a", "b", latency=1.0)
    at(0.5, link.fail)
    at(0.7, link.recover)
    log = []
    send_at(sim, 0.0, "a", "b", log, "in flight")
    send_at(sim, 0.8, "a", "b", log, "after")
    sim.run(until=5)
    assert log == [("after", 1.8)]
    assert net.dropped["link"] == 1


def test_a_link_with_random_failures_cuts_requests_while_down(sim, assert_conserved):
    """``failures=`` as for any node: requests sent while the link is down fail (the client's
    timeout), and only then; the link's downtime is in the run's uptime by default."""
    hs.Network(sim)
    web = hs.Server(sim, "web")
    link = Link(
        sim, "users", "web", latency=0.01,
        failures=hs.Failures(ttf=hs.Exponential(mean=20.0), ttr=hs.Deterministic(2.0)),
    )  # fmt: skip
    hs.OpenLoop(sim, "users", target=web, rate=20, timeout=0.5)
    result = sim.run(until=400)
    log = [(t, s) for t, n, s in result.state_log if n == link.name]
    down = [(t, log[i + 1][0] if i + 1 < len(log) else 400.0) for i, (t, s) in enumerate(log)
            if s == hs.DOWN]  # fmt: skip
    assert len(down) >= 5
    table = result.requests()
    failed = table[table["outcome"] != hs.OK]
    assert set(failed["outcome"]) == {hs.TIMEOUT}

    def in_outage(t):  # sent into the cut, or answer sent into it (latency 0.01 each way)
        return any(a - 0.02 <= t < b for a, b in down)

    assert failed["issued"].map(in_outage).all()
    assert (
        not table[table["outcome"] == hs.OK]["issued"]
        .map(lambda t: any(a <= t < b for a, b in down))
        .any()
    )
    assert result.summary()["uptime"] < 1.0  # the link is a node of the default predicate
    assert_conserved(result, sim)


# --- gray links ---------------------------------------------------------------------------------


def test_a_degraded_link_is_slower_and_an_erroring_one_is_lossier(sim, at):
    """``degrade(4)``: latency x4; ``set_errors(1)``: every message lost (as ``loss``)."""
    net = hs.Network(sim)
    link = Link(sim, "a", "b", latency=0.25)
    at(1.0, link.degrade, 4)
    at(2.0, link.degrade, 1)
    at(3.0, link.set_errors, 1.0)
    at(4.0, link.set_errors, 0.0)
    log = []
    for t in (0.0, 1.5, 2.5, 3.5, 4.5):
        send_at(sim, t, "a", "b", log, t)
    sim.run(until=10)
    assert log == [(0.0, 0.25), (1.5, 2.5), (2.5, 2.75), (4.5, 4.75)]
    assert net.dropped == {"loss": 1, "partition": 0, "link": 0}


def test_a_stalled_link_drops_and_resumes(sim, at):
    """A stalled link carries nothing (``dropped_link``) until ``resume``."""
    net = hs.Network(sim)
    link = Link(sim, "a", "b", latency=0.1)
    at(1.0, link.stall)
    at(2.0, link.resume)
    log = []
    for t in (0.5, 1.5, 2.5):
        send_at(sim, t, "a", "b", log, t)
    sim.run(until=5)
    assert [m for m, _ in log] == [0.5, 2.5]
    assert net.dropped["link"] == 1 and link.state == hs.UP


def test_link_faults_are_in_the_fault_history(sim, at):
    """A link's crash and gray conditions are rows like any node's."""
    hs.Network(sim)
    link = Link(sim, "a", "b")
    at(1.0, link.fail, "cable")
    at(2.0, link.recover, "cable")
    at(3.0, link.degrade, 2.0, "congestion")
    sim.run(until=5)
    assert [f[:5] for f in sim.recorder.faults.values()] == [
        ["crash", "a<->b", 1.0, 2.0, "cable"],
        ["slow", "a<->b", 3.0, None, "congestion"],
    ]


# --- bandwidth ----------------------------------------------------------------------------------


def test_bandwidth_serialises_messages_fifo(sim):
    """1,000 B/s and 0.1 s of latency. Three 500 B messages at 0 leave at 0.5, 1.0, 1.5 and
    arrive 0.1 s later; a 250 B message at 1.0 queues behind them (leaves at 1.75); one at 5,
    on an idle link, takes 0.25 + 0.1; a zero-size message only waits for the queue."""
    net = hs.Network(sim)
    Link(sim, "a", "b", latency=0.1, bandwidth=1000)
    log = []
    for i in range(3):
        send_at(sim, 0.0, "a", "b", log, f"m{i}", size=500)
    send_at(sim, 1.0, "a", "b", log, "m3", size=250)
    send_at(sim, 1.0, "a", "b", log, "empty", size=0)
    send_at(sim, 5.0, "a", "b", log, "idle", size=250)
    sim.run(until=10)
    assert [(m, pytest.approx(t)) for m, t in log] == [
        ("m0", 0.6),
        ("m1", 1.1),
        ("m2", 1.6),
        ("m3", 1.85),
        ("empty", 1.85),
        ("idle", 5.35),
    ]
    assert net.stats()["sent"] == 6


def test_bandwidth_queueing_scales_with_the_link_slowdown_only_in_latency(sim, at):
    """A degraded link multiplies its latency, not its serialisation time."""
    hs.Network(sim)
    link = Link(sim, "a", "b", latency=0.1, bandwidth=100)
    at(0.5, link.degrade, 3)
    log = []
    send_at(sim, 1.0, "a", "b", log, "m", size=50)
    sim.run(until=5)
    assert log == [("m", pytest.approx(1.0 + 0.3 + 0.5))]


def test_dropped_messages_take_no_bandwidth(sim, at):
    """A message lost or cut does not occupy the link: the next one does not queue behind it."""
    hs.Network(sim)
    link = Link(sim, "a", "b", latency=0.0, bandwidth=100)
    at(0.5, link.fail)
    at(0.75, link.recover)
    log = []
    send_at(sim, 0.6, "a", "b", log, "cut", size=100)
    send_at(sim, 1.0, "a", "b", log, "next", size=100)
    sim.run(until=5)
    assert log == [("next", 2.0)]


def test_an_infinite_bandwidth_is_no_limit(sim):
    link = Link(sim, "a", "b", bandwidth=float("inf"))
    assert link.bandwidth is None


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("", "b"), {}, r"^Link '<->b': a must be a component name, got ''$"),
        (("a", 3), {}, r"^Link None: b must be a component name, got 3$"),
        (("a", "a"), {}, r"^Link 'a<->a': b must be another component than a, got 'a'$"),
        (("a", "b"), {"loss": 2}, r"^Link 'a<->b': loss must be a probability in \[0, 1\], got 2$"),
        (("a", "b"), {"bandwidth": 0},
         r"^Link 'a<->b': bandwidth must be a number > 0 or inf, got 0$"),
        (("a", "b"), {"latency": -1},
         r"^Link 'a<->b': latency must be a Distribution, a number >= 0"),
        (("a", "b"), {"failures": 3}, r"^Link 'a<->b': failures must be a hasim.Failures"),
    ],
)  # fmt: skip
def test_link_rejects_bad_arguments(sim, args, kwargs, message):
    """The standard template; a rejected link registers nothing."""
    with pytest.raises(hs.ConfigError, match=message):
        Link(sim, *args, **kwargs)
    assert sim.components == {}


def test_link_needs_a_simulation():
    with pytest.raises(hs.ConfigError, match=r"^Link 'a<->b': sim must be a hasim.Simulation"):
        Link(3, "a", "b")


def test_a_pair_is_carried_by_one_link(sim):
    """A second link over the same pair (either direction of a symmetric one) is refused."""
    Link(sim, "a", "b")
    with pytest.raises(
        hs.ConfigError, match=r"^Link 'b->a': ends must be a pair no other link carries, got 'b->a'"
    ):
        Link(sim, "b", "a", symmetric=False)
    Link(sim, "c", "d", symmetric=False)
    Link(sim, "d", "c", symmetric=False)  # the other direction is free


def test_links_are_made_before_the_run(sim):
    hs.Network(sim)
    sim.run(until=1)
    with pytest.raises(hs.SimulationError, match=r"add links before run\(\)"):
        Link(sim, "a", "b")
