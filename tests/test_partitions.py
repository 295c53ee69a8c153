"""Partitions: who cannot reach whom, messages in flight, and what observers conclude.

``net.partition(side_a, side_b=None, oneway=False)`` cuts the paths between two sets of
component names (``side_b`` None: everyone else) until ``net.heal(handle)``. A message sent
across an active cut is dropped at once; one already on its way when the cut begins is dropped
on arrival. Drops are silent: senders learn of them by their own timers (or are told ``lost``
when they have none).

Scenarios are deterministic: ``Deterministic`` latencies, messages sent at chosen times with
``path.send`` (``send_at``), and ``net.guard()`` before the run wherever a message may be in
flight when the first cut begins (the network checks messages on arrival only from the first
``guard()``; ``partition`` calls it, but a message sent before that took the fast path).
"""

from __future__ import annotations

import pytest

import hasim as hs


class Echo(hs.Component):
    """A service that answers ok at once and logs when each request reached it."""

    def __init__(self, sim, name):
        super().__init__(sim, name)
        self.arrivals: list[float] = []

    def submit(self, request, reply):
        self.arrivals.append(self.sim.now)
        reply(request, hs.OK, self.name)


def send_at(sim, t, src, dst, log, label=None):
    """At ``t``, send one message ``src -> dst``; on arrival, log ``(label, sent, arrived)``."""

    def go(_):
        sent = sim.now
        sim.network.path(src, dst).send(lambda m: log.append((m, sent, sim.now)), label)

    sim.call_later(t - sim.now, go)


def delivered(log):
    return [label for label, _, _ in log]


# --- who cannot reach whom -------------------------------------------------------------------


def test_a_symmetric_partition_cuts_both_directions_and_nothing_else(sim, at):
    """a|b: a->b and b->a are dropped; a->c, c->b still go; drops are counted as partitions."""
    net = hs.Network(sim, latency=0.1)
    at(1.0, net.partition, ["a"], ["b"])
    log = []
    for i, (src, dst) in enumerate([("a", "b"), ("b", "a"), ("a", "c"), ("c", "b")]):
        send_at(sim, 2.0, src, dst, log, i)
    sim.run(until=5)
    assert sorted(delivered(log)) == [2, 3]
    assert net.stats() == {"sent": 4, "dropped_loss": 0, "dropped_partition": 2, "dropped_link": 0}


def test_a_one_way_partition_cuts_only_from_side_a(sim, at):
    """a>b: a->b is dropped, b->a still arrives (an asymmetric partition)."""
    net = hs.Network(sim, latency=0.1)
    at(1.0, lambda: net.partition(["a"], ["b"], oneway=True))
    log = []
    send_at(sim, 2.0, "a", "b", log, "a->b")
    send_at(sim, 2.0, "b", "a", log, "b->a")
    sim.run(until=5)
    assert delivered(log) == ["b->a"]
    assert net.partitions[0].label == "a>b"


def test_side_b_none_cuts_side_a_off_from_everyone_else(sim, at):
    """side_b None: members of side_a still talk to each other, but to nobody outside."""
    net = hs.Network(sim, latency=0.1)
    at(1.0, net.partition, ["a", "b"])
    log = []
    pairs = [("a", "b"), ("b", "a"), ("a", "x"), ("x", "b"), ("x", "y")]
    for src, dst in pairs:
        send_at(sim, 2.0, src, dst, log, f"{src}->{dst}")
    sim.run(until=5)
    assert sorted(delivered(log)) == ["a->b", "b->a", "x->y"]
    assert net.partitions[0].label == "a,b|*"


def test_a_one_way_partition_from_everyone_else(sim, at):
    """oneway with side_b None: side_a cannot send out, but still hears everyone."""
    net = hs.Network(sim)
    at(1.0, lambda: net.partition("a", oneway=True))
    log = []
    send_at(sim, 2.0, "a", "x", log, "a->x")
    send_at(sim, 2.0, "x", "a", log, "x->a")
    sim.run(until=5)
    assert delivered(log) == ["x->a"]


def test_separates_matches_the_definition():
    """``Partition.separates(src, dst)`` for every kind of partition, on a grid of names."""
    net_sim = hs.Simulation()
    net = hs.Network(net_sim)
    names = ["a", "b", "c"]
    cases = {
        (("a",), ("b",), False): {("a", "b"), ("b", "a")},
        (("a",), ("b",), True): {("a", "b")},
        (("a",), None, False): {("a", "b"), ("a", "c"), ("b", "a"), ("c", "a")},
        (("a",), None, True): {("a", "b"), ("a", "c")},
        (("a", "b"), ("c",), False): {("a", "c"), ("b", "c"), ("c", "a"), ("c", "b")},
    }
    for (side_a, side_b, oneway), cut in cases.items():
        part = net.partition(side_a, side_b, oneway=oneway)
        got = {(s, d) for s in names for d in names if s != d and part.separates(s, d)}
        assert got == cut, (side_a, side_b, oneway)
        net.heal(part)


def test_heal_restores_traffic_and_healing_twice_is_no_change(sim, at):
    """Messages sent after heal arrive; ``partitions`` lists only the active ones."""
    net = hs.Network(sim, latency=0.1)
    cuts = []
    at(1.0, lambda: cuts.append(net.partition(["a"], ["b"])))
    at(3.0, lambda: net.heal(cuts[0]))
    at(3.5, lambda: net.heal(cuts[0]))
    log = []
    for t in (0.5, 2.0, 4.0):
        send_at(sim, t, "a", "b", log, t)
    sim.run(until=5)
    assert delivered(log) == [0.5, 4.0]
    assert net.partitions == [] and not cuts[0].active
    assert "healed" in repr(cuts[0])


def test_overlapping_partitions_each_hold_until_healed(sim, at):
    """Two partitions over the same pair: traffic comes back only when both are healed."""
    net = hs.Network(sim)
    cuts = []
    at(1.0, lambda: cuts.append(net.partition(["a"], ["b"])))
    at(2.0, lambda: cuts.append(net.partition(["a"])))
    at(3.0, lambda: net.heal(cuts[0]))
    at(5.0, lambda: net.heal(cuts[1]))
    log = []
    for t in (0.5, 1.5, 2.5, 4.0, 6.0):
        send_at(sim, t, "a", "b", log, t)
    sim.run(until=7)
    assert delivered(log) == [0.5, 6.0]


# --- nothing is delivered across an active partition ---------------------------------------


def test_nothing_reaches_a_server_across_an_active_partition(sim, at, assert_conserved):
    """Heavy traffic with random latencies: the server sees no arrival while it is cut off,
    not even of requests that were on their way when the partition began."""
    net = hs.Network(sim, latency=hs.Uniform(0.05, 0.3))
    net.guard()  # messages sent before the first cut are checked on arrival too
    echo = Echo(sim, "echo")
    users = hs.OpenLoop(sim, "users", target=echo, rate=200, timeout=1.0)
    cuts = []
    at(10.0, lambda: cuts.append(net.partition(["users"], ["echo"])))
    at(20.0, lambda: net.heal(cuts[0]))
    result = sim.run(until=30)
    during = [t for t in echo.arrivals if 10.0 <= t < 20.0]
    assert during == []
    assert any(9.7 < t < 10.0 for t in echo.arrivals)  # traffic right up to the cut...
    assert any(20.0 <= t < 20.3 for t in echo.arrivals)  # ... and right after the heal
    s = result.summary()
    # Every request issued in [10 - 0.3, 20) fails: before 10 - 0.3 its answer was back in time.
    table = result.requests()
    timed_out = table[table["outcome"] == hs.TIMEOUT]
    assert timed_out["issued"].between(10.0 - 0.6, 20.0).all()
    assert (table[table["issued"].between(10.0, 20.0 - 1e-9)]["outcome"] == hs.TIMEOUT).all()
    assert s["lost"] == 0 and s["error"] == 0  # the client has a timeout: drops are timeouts
    assert net.dropped["partition"] > 0 and users.requests == s["issued"]
    assert_conserved(result, sim)


def test_a_message_in_flight_when_a_cut_begins_is_dropped_even_if_it_heals_first(sim, at):
    """Latency 1 s; the cut lasts from 0.2 to 0.5. The message sent at 0 was on its way when
    the cut began: it is dropped on arrival at 1 s, though the path is whole again by then."""
    net = hs.Network(sim, latency=1.0)
    net.guard()
    cuts = []
    at(0.2, lambda: cuts.append(net.partition(["a"], ["b"])))
    at(0.5, lambda: net.heal(cuts[0]))
    log = []
    send_at(sim, 0.0, "a", "b", log, "in flight")
    send_at(sim, 0.6, "a", "b", log, "after heal")
    sim.run(until=5)
    assert log == [("after heal", 0.6, 1.6)]
    assert net.dropped["partition"] == 1


def test_a_message_in_flight_on_an_unaffected_path_arrives(sim, at):
    """A cut between a and b does not touch a message a -> c already on its way."""
    net = hs.Network(sim, latency=1.0)
    net.guard()
    at(0.5, net.partition, ["a"], ["b"])
    log = []
    send_at(sim, 0.0, "a", "c", log, "a->c")
    send_at(sim, 0.0, "b", "a", log, "b->a")
    sim.run(until=5)
    assert delivered(log) == ["a->c"]


def test_a_partition_made_before_the_run_holds_from_time_zero(sim):
    """A partition made while building the design is a fault from time 0 of the run."""
    net = hs.Network(sim, latency=0.1)
    part = net.partition(["a"], ["b"], cause="firewall")
    log = []
    send_at(sim, 0.0, "a", "b", log, "x")
    result = sim.run(until=1)
    assert log == []
    assert list(sim.recorder.faults.values()) == [
        ["partition", "a|b", 0.0, None, "firewall", {"sides": (("a",), ("b",)), "oneway": False},
         False]
    ]  # fmt: skip
    assert part.active
    assert len(result.faults()) == 1


# --- what senders see --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "outcome", "ended"),
    [(None, hs.LOST, 1.0), (2.0, hs.TIMEOUT, 3.0)],
    ids=["no-timer-lost", "timeout"],
)
def test_a_client_across_a_partition(sim, at, assert_conserved, timeout, outcome, ended):
    """A client with no timer is told ``lost`` at the moment of the drop; with a timeout it
    sees ``timeout`` when the timer expires (the drop is silent)."""
    net = hs.Network(sim, latency=0.1)
    web = hs.Server(sim, "web")
    client = hs.Client(sim, "c", target=web, timeout=timeout)
    at(0.5, net.partition, ["c"], ["web"])
    at(1.0, client.issue)
    result = sim.run(until=5)
    table = result.requests()
    assert list(table["outcome"]) == [outcome]
    assert list(table["ended"]) == [ended]
    assert list(table["responder"]) == [None]
    assert web.received == 0
    assert_conserved(result, sim)


def test_a_lost_answer_is_lost_for_a_client_without_a_timer(sim, at, assert_conserved):
    """The request reached the server at 0.1, was served by 1.1; the answer is sent into the
    cut that began at 1.0: the client is told ``lost`` at 1.1, and the server did the work."""
    net = hs.Network(sim, latency=0.1)
    web = hs.Server(sim, "web", service_time=hs.Deterministic(1.0))
    client = hs.Client(sim, "c", target=web)
    at(0.0, client.issue)
    at(1.0, lambda: net.partition(["web"], ["c"], oneway=True))
    result = sim.run(until=5)
    table = result.requests()
    assert list(table["outcome"]) == [hs.LOST] and list(table["ended"]) == [1.1]
    assert web.served == 1
    assert_conserved(result, sim)


def test_a_client_without_a_timer_learns_of_an_in_flight_drop_on_arrival(sim, at, assert_conserved):
    """Latency 1 s; the request leaves at 0 and the cut begins at 0.5: it is dropped when it
    would have arrived, at 1.0, and the client is told ``lost`` then."""
    net = hs.Network(sim, latency=1.0)
    net.guard()
    web = hs.Server(sim, "web")
    client = hs.Client(sim, "c", target=web)
    at(0.0, client.issue)
    at(0.5, net.partition, ["c"], ["web"])
    result = sim.run(until=5)
    table = result.requests()
    assert list(table["outcome"]) == [hs.LOST] and list(table["ended"]) == [1.0]
    assert web.received == 0
    assert_conserved(result, sim)


# --- a balancer and one backend ----------------------------------------------------------------

HC = hs.HealthCheck(interval=1.0, timeout=0.5, unhealthy_after=2, healthy_after=2, jitter=False)


def cut_backend(sim, at, lb_timeout, *, start=10.0, end=30.0, rate=30.0, latency=0.001):
    """users -> lb -> web0..web2 (RoundRobin, health check ``HC``); lb|web0 cut in [start, end)."""
    net = hs.Network(sim, latency=latency)
    web = [
        hs.Server(sim, f"web{i}", workers=4, service_time=hs.Deterministic(0.01)) for i in range(3)
    ]
    lb = hs.LoadBalancer(sim, "lb", backends=web, health_check=HC, timeout=lb_timeout)
    hs.OpenLoop(sim, "users", target=lb, rate=rate, timeout=2.0)
    cuts = []
    at(start, lambda: cuts.append(net.partition(["lb"], ["web0"])))
    at(end, lambda: net.heal(cuts[0]))
    return net, web, lb


@pytest.mark.parametrize(
    ("lb_timeout", "outcome", "waited"),
    [(0.5, hs.TIMEOUT, 0.5), (None, hs.LOST, None)],
    ids=["lb-timeout", "no-lb-timeout"],
)
def test_a_partition_between_balancer_and_backend(
    sim, at, assert_conserved, lb_timeout, outcome, waited
):
    """Requests sent to web0 across the cut fail (``timeout`` from the balancer's upstream
    timeout, or ``lost`` at once without one) until the health check sees web0 down; then
    web1 and web2 take everything; after the heal web0 is believed healthy and serves again.

    Verdicts (probes at 0, 1, 2 ...; timeout 0.5): the probes of 10 and 11 get no answer, so
    web0 is unhealthy at 11.5; after the heal at 30, the probes of 30 and 31 succeed: healthy
    at 31 + the round trip.
    """
    net, web, lb = cut_backend(sim, at, lb_timeout)
    result = sim.run(until=50)
    verdicts = [(t, healthy) for t, obs, target, healthy in result.detections if target == "web0"]
    assert [h for _, h in verdicts] == [False, True]
    assert verdicts[0][0] == 11.5
    assert verdicts[1][0] == pytest.approx(31.0 + 0.012)
    assert sim.recorder.detections == list(result.detections)
    table = result.requests()
    failed = table[table["outcome"] != hs.OK]
    assert len(failed) > 0 and set(failed["outcome"]) == {outcome}
    # Only requests routed to web0 between the cut and the verdict fail.
    assert failed["issued"].between(10.0 - 0.02, 11.5).all()
    if waited is not None:
        assert (failed["latency"] - 0.001).round(9).eq(waited + 0.001).all()
        assert set(failed["responder"]) == {"lb"}
    else:
        assert failed["responder"].isna().all()
    # Traffic shifts: web0 takes nothing from the verdict to the heal, its share before and after.
    assert lb.healthy_backends == ["web0", "web1", "web2"]
    served = table[table["outcome"] == hs.OK]
    by_web0 = served[served["responder"] == "web0"]["issued"]
    assert not by_web0.between(11.5, 31.0).any()
    assert by_web0.between(32.0, 50.0).sum() > 0.25 * served["issued"].between(32.0, 50.0).sum()
    assert served["issued"].between(12.0, 30.0).sum() > 0.9 * 30.0 * 18.0  # the others serve
    assert net.dropped["partition"] > 0
    assert_conserved(result, sim)


def test_a_backend_cut_off_from_the_balancer_is_not_down(sim, at):
    """The partition is a belief of the balancer, not a state of web0 (DESIGN rule 7): web0 is
    up all along, and reaches other components."""
    net, web, lb = cut_backend(sim, at, 0.5)
    result = sim.run(until=20)
    assert all(name != "web0" for _, name, _ in result.state_log[3:])
    assert web[0].up and not net.path("web0", "users").cut and net.path("web0", "lb").cut


def test_a_failover_manager_cut_off_from_its_primary_promotes_the_standby(sim, at):
    """Heartbeats go through the network: cut the primary off from the manager and it is
    suspected ``timeout`` after its last heartbeat, and the standby is promoted."""
    hs.Network(sim)
    primary, standby = hs.Server(sim, "p"), hs.Server(sim, "s")
    pair = hs.ActivePassive(
        sim, "ap", primary=primary, standby=standby, heartbeat=1.0, timeout=3.0,
        promotion_delay=1.0, failback="stay",
    )  # fmt: skip
    at(10.5, sim.network.partition, ["p"], ["ap"])
    result = sim.run(until=30)
    assert (13.0, "ap", "p", False) in result.detections
    assert pair.active_name == "s" and pair.failovers == 1
    # The demotion message to p is lost in the cut: p still believes it is active.
    assert ("p", "standby") not in [(n, r) for _, n, r in pair.roles[2:]]


def test_a_failover_manager_without_an_upstream_timeout_reports_a_drop_as_lost(
    sim, at, assert_conserved
):
    """ActivePassive has no upstream timeout: a request it forwards into a cut ends ``lost`` at
    the drop (the Forwarder rule), not ``timeout`` after the heartbeat timeout; the answer
    travels back to the client (0.1 s)."""
    net = hs.Network(sim, latency=0.1)
    primary, standby = hs.Server(sim, "p"), hs.Server(sim, "s")
    hs.ActivePassive(sim, "ap", primary=primary, standby=standby, heartbeat=1.0, timeout=3.0)
    client = hs.Client(sim, "c", target=sim["ap"])
    at(1.0, lambda: net.partition(["ap"], ["p"], oneway=True))
    at(1.2, client.issue)
    result = sim.run(until=10)
    table = result.requests()
    assert list(table["outcome"]) == [hs.LOST] and list(table["ended"]) == [pytest.approx(1.4)]
    assert_conserved(result, sim)


# --- the fault history -------------------------------------------------------------------------


def test_partitions_are_rows_of_the_fault_history(sim, at):
    """One row per partition: kind, label, start, end (None while active), cause, sides."""
    net = hs.Network(sim)
    cuts = []
    at(1.0, lambda: cuts.append(net.partition(["b", "a"], ["c"], cause="chaos[0]")))
    at(2.0, lambda: cuts.append(net.partition(["a"], oneway=True)))
    at(4.0, lambda: net.heal(cuts[0]))
    sim.run(until=10)
    rows = list(sim.recorder.faults.values())
    assert rows == [
        ["partition", "a,b|c", 1.0, 4.0, "chaos[0]",
         {"sides": (("a", "b"), ("c",)), "oneway": False}, False],
        ["partition", "a>*", 2.0, None, "partition", {"sides": (("a",), None), "oneway": True},
         False],
    ]  # fmt: skip


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([],), r"^Network: side_a must be a non-empty list of component names, got \[\]$"),
        ((["a", ""],), r"^Network: side_a must be a non-empty list of component names"),
        ((3,), r"^Network: side_a must be a list of component names, got 3$"),
        ((["a"], []), r"^Network: side_b must be a non-empty list of component names, got \[\]$"),
        ((["a", "b"], ["b"]),
         r"^Network: partition sides must be disjoint sets of names, got \['b'\]$"),
    ],
)  # fmt: skip
def test_partition_rejects_bad_sides(sim, args, message):
    """The standard template; a rejected partition changes nothing and records nothing."""
    net = hs.Network(sim)
    with pytest.raises(hs.ConfigError, match=message):
        net.partition(*args)
    assert net.partitions == [] and sim.recorder.faults == {}


def test_heal_needs_a_partition(sim):
    net = hs.Network(sim)
    with pytest.raises(hs.ConfigError, match=r"^Network: heal must be a Partition from partition"):
        net.heal("a|b")


def test_a_chaos_partition_drops_messages_in_flight(sim):
    """``hs.Partition`` in a chaos schedule: a message on its way when the cut begins is dropped
    (the same guarantee as a partition made by hand after ``net.guard()``)."""
    net = hs.Network(sim, latency=1.0)
    echo = Echo(sim, "echo")
    client = hs.Client(sim, "c", target=echo, timeout=5.0)
    sim.call_later(0.0, lambda _: client.issue())
    hs.Chaos(sim, [hs.Partition(["c"], ["echo"], at=0.5, duration=10)])
    sim.run(until=20)
    assert echo.arrivals == []
    assert net.dropped["partition"] == 1
