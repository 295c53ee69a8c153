"""Network: one latency draw per hop, each way; a default and per-pair overrides."""

from __future__ import annotations

import pytest

import hasim as hs
from hasim.network import Link


@pytest.fixture
def web(sim):
    """A server whose every request takes exactly 1 s."""
    return hs.Server(sim, "web", service_time=hs.Deterministic(1.0))


def _latencies(sim, at, web, assert_conserved, issue_times=(0, 2, 4.5)) -> list[float]:
    client = hs.Client(sim, "c", target=web)
    for t in issue_times:
        at(t, client.issue)
    result = sim.run(until=10)
    assert result.summary()["ok"] == len(issue_times)
    assert_conserved(result, sim)
    return list(result.requests()["latency"])


def test_without_a_network_messages_take_no_time(sim, at, web, assert_conserved):
    """No Network: latency is only the service time (a zero-latency network is made at run)."""
    assert _latencies(sim, at, web, assert_conserved) == [1.0, 1.0, 1.0]
    assert isinstance(sim.network, hs.Network)


def test_a_network_defaults_to_zero_latency(sim, at, web, assert_conserved):
    """``Network(sim)`` without a latency is instantaneous."""
    net = hs.Network(sim)
    assert net.latency == hs.Deterministic(0.0)
    assert _latencies(sim, at, web, assert_conserved) == [1.0, 1.0, 1.0]


def test_a_deterministic_latency_is_paid_on_both_hops(sim, at, web, assert_conserved):
    """0.25 s each way and 1 s of service: every request takes 1.5 s."""
    hs.Network(sim, latency=hs.Deterministic(0.25))
    client = hs.Client(sim, "c", target=web)
    at(0, client.issue)
    at(3, client.issue)
    result = sim.run(until=10)
    table = result.requests()
    assert list(table["issued"]) == [0, 3]
    assert list(table["ended"]) == [1.5, 4.5]
    assert list(table["latency"]) == [1.5, 1.5]
    assert_conserved(result, sim)


def test_latency_accepts_seconds_and_strings(sim):
    """The default latency may be a number of seconds or a string such as ``"250ms"``."""
    assert hs.Network(sim, latency="250ms").latency == hs.Deterministic(0.25)


def test_a_symmetric_pair_override(sim, at, web, assert_conserved):
    """``set_latency(a, b, d)`` sets both directions; other pairs keep the default."""
    net = hs.Network(sim, latency=0.25)
    net.set_latency("c", "web", 0.125)
    assert (
        net.latency_between("c", "web")
        == net.latency_between("web", "c")
        == hs.Deterministic(0.125)
    )
    assert net.latency_between("c", "db") == hs.Deterministic(0.25)
    assert _latencies(sim, at, web, assert_conserved) == [1.25, 1.25, 1.25]


def test_a_one_way_pair_override(sim, at, web, assert_conserved):
    """``symmetric=False`` sets only a -> b: 0.5 s out, the default 0.25 s back."""
    net = hs.Network(sim, latency=0.25)
    net.set_latency("c", "web", 0.5, symmetric=False)
    assert net.latency_between("web", "c") == hs.Deterministic(0.25)
    assert _latencies(sim, at, web, assert_conserved) == [1.75, 1.75, 1.75]


def test_a_random_latency_draws_per_message(sim, at, assert_conserved):
    """With an instantaneous server, latency is the sum of two independent draws, each >= 0.1."""
    web = hs.Server(sim, "web")
    hs.Network(sim, latency=hs.Uniform(0.1, 0.2))
    client = hs.Client(sim, "c", target=web)
    for t in range(20):
        at(t, client.issue)
    result = sim.run(until=30)
    latency = result.requests()["latency"]
    assert len(latency) == 20 and latency.nunique() == 20
    assert latency.between(0.2, 0.4).all()
    assert_conserved(result, sim)


@pytest.mark.parametrize("latency", [-1, "soon", None, float("nan")])
def test_latency_validation(sim, latency):
    """A latency is a Distribution, seconds >= 0 or a duration string; nothing is registered."""
    with pytest.raises(
        hs.ConfigError,
        match=r"^Network: latency must be a Distribution, a number >= 0 or a duration",
    ):
        hs.Network(sim, latency=latency)
    assert sim.network is None and "network" not in sim


def test_one_network_per_simulation(sim):
    """A Simulation has at most one Network, and it is not a named component."""
    first = hs.Network(sim)
    with pytest.raises(
        hs.ConfigError, match=r"^Network: sim must be a Simulation without a network yet"
    ):
        hs.Network(sim, latency=1.0)
    assert sim.network is first and sim.components == {}


def test_network_needs_a_simulation():
    with pytest.raises(hs.ConfigError, match=r"^Network: sim must be a hasim.Simulation, got 3"):
        hs.Network(3)


@pytest.mark.parametrize(("a", "b"), [("", "web"), ("c", None), (3, "web")])
def test_set_latency_endpoints_are_component_names(sim, a, b):
    """The ends of a pair are component names (non-empty strings)."""
    net = hs.Network(sim)
    with pytest.raises(
        hs.ConfigError, match=r"^Network: set_latency endpoints must be component names"
    ):
        net.set_latency(a, b, 0.1)


def test_set_latency_validates_the_latency(sim):
    """The message names the pair."""
    net = hs.Network(sim)
    with pytest.raises(hs.ConfigError, match=r"^Network: latency of c->web must be"):
        net.set_latency("c", "web", -0.1)
    assert net.latency_between("c", "web") == hs.Deterministic(0.0)


def test_set_latency_after_run_is_an_error(sim):
    """Latencies are part of the design, fixed before the run."""
    net = hs.Network(sim)
    sim.run(until=1)
    with pytest.raises(hs.SimulationError, match=r"^Network: set latencies before run\(\)$"):
        net.set_latency("c", "web", 0.1)


def test_a_component_named_network_does_not_break_the_default_network(sim, at, assert_conserved):
    """The zero-latency network made at run time must not collide with a user's component name."""
    web = hs.Server(sim, "network", service_time=hs.Deterministic(1.0))
    client = hs.Client(sim, "c", target=web)
    at(0, client.issue)
    result = sim.run(until=10)
    assert list(result.requests()["latency"]) == [1.0]
    assert_conserved(result, sim)


# --- zone rules ---------------------------------------------------------------------------------


def test_zone_rules_choose_the_latency_by_placement(sim):
    """Both ends with a zone: same zone, cross zone; no zone at either end: the default."""
    for name, zone in (("a1", "az1"), ("b1", "az1"), ("c2", "az2"), ("n", None)):
        hs.Server(sim, name, zone=zone)
    net = hs.Network(sim, latency=1.0, same_zone=0.25, cross_zone=2.0)
    assert net.latency_between("a1", "b1") == hs.Deterministic(0.25)
    assert net.latency_between("a1", "c2") == hs.Deterministic(2.0)
    assert net.latency_between("c2", "a1") == hs.Deterministic(2.0)
    assert net.latency_between("a1", "n") == hs.Deterministic(1.0)
    assert net.latency_between("a1", "nobody") == hs.Deterministic(1.0)
    net.set_latency("a1", "c2", 5.0)  # a pair override beats the zone rule
    assert net.latency_between("a1", "c2") == hs.Deterministic(5.0)


def test_an_unset_zone_rule_falls_back_to_the_default(sim):
    """Only ``cross_zone`` given: two nodes of one zone pay the default latency."""
    hs.Server(sim, "a", zone="az1")
    hs.Server(sim, "b", zone="az1")
    net = hs.Network(sim, latency=1.0, cross_zone=2.0)
    assert net.latency_between("a", "b") == hs.Deterministic(1.0)


def test_clients_have_zones_and_requests_pay_the_zone_latency(sim, at, assert_conserved):
    """A client in az1 and a server in az2: 2 x 0.5 s cross-zone plus 1 s of service."""
    hs.Network(sim, latency=0.1, same_zone=0.01, cross_zone=0.5)
    web = hs.Server(sim, "web", zone="az2", service_time=hs.Deterministic(1.0))
    near = hs.Server(sim, "near", zone="az1", service_time=hs.Deterministic(1.0))
    far_client = hs.Client(sim, "far", target=web, zone="az1")
    near_client = hs.Client(sim, "close", target=near, zone="az1")
    at(0, far_client.issue)
    at(0, near_client.issue)
    result = sim.run(until=10)
    latency = dict(zip(result.requests()["client"], result.requests()["latency"], strict=True))
    assert latency == {"far": 2.0, "close": pytest.approx(1.02)}
    assert_conserved(result, sim)


@pytest.mark.skipif(not hasattr(hs, "Domain"), reason="hasim.Domain not built yet")
def test_cross_region_latency_follows_the_region_domains(sim):
    """Zones inside ``Domain(kind="region")``: zones of different regions pay ``cross_region``,
    zones of one region ``cross_zone``; without a cross_region rule, cross_zone applies."""
    hs.Domain(sim, "eu", kind="region")
    hs.Domain(sim, "us", kind="region")
    hs.Domain(sim, "eu-1", parent="eu")
    hs.Domain(sim, "eu-2", parent="eu")
    hs.Domain(sim, "us-1", parent="us")
    for name, zone in (("a", "eu-1"), ("b", "eu-2"), ("c", "us-1"), ("d", "eu-1"), ("x", "az9")):
        hs.Server(sim, name, zone=zone)
    net = hs.Network(sim, latency=9.0, same_zone=0.1, cross_zone=1.0, cross_region=50.0)
    assert net.latency_between("a", "d") == hs.Deterministic(0.1)
    assert net.latency_between("a", "b") == hs.Deterministic(1.0)
    assert net.latency_between("a", "c") == hs.Deterministic(50.0)
    assert net.latency_between("c", "b") == hs.Deterministic(50.0)
    # A zone that is no Domain has no region: cross zone, not cross region.
    assert net.latency_between("a", "x") == hs.Deterministic(1.0)


@pytest.mark.skipif(not hasattr(hs, "Domain"), reason="hasim.Domain not built yet")
def test_cross_region_without_its_own_rule_is_cross_zone(sim):
    hs.Domain(sim, "eu", kind="region")
    hs.Domain(sim, "us", kind="region")
    hs.Domain(sim, "eu-1", parent="eu")
    hs.Domain(sim, "us-1", parent="us")
    hs.Server(sim, "a", zone="eu-1")
    hs.Server(sim, "c", zone="us-1")
    net = hs.Network(sim, cross_zone=1.0)
    assert net.latency_between("a", "c") == hs.Deterministic(1.0)


@pytest.mark.parametrize("param", ["same_zone", "cross_zone", "cross_region"])
def test_zone_rules_are_validated(sim, param):
    with pytest.raises(hs.ConfigError, match=rf"^Network: {param} must be a Distribution"):
        hs.Network(sim, **{param: "soon"})
    assert sim.network is None


# --- loss ---------------------------------------------------------------------------------------


def _send_many(sim, src, dst, n, log, every=0.01):
    """Send ``n`` messages ``src -> dst``, one every ``every`` seconds; arrivals go to ``log``."""

    def go(i):
        sim.network.path(src, dst).send(log.append, i)
        if i + 1 < n:
            sim.call_later(every, go, i + 1)

    sim.call_later(0.0, go, 0)


def test_a_network_with_loss_one_drops_everything_and_counts_it(sim):
    net = hs.Network(sim, loss=1.0)
    log = []
    _send_many(sim, "a", "b", 10, log)
    sim.run(until=1)
    assert log == [] and net.stats() == {
        "sent": 10,
        "dropped_loss": 10,
        "dropped_partition": 0,
        "dropped_link": 0,
    }


def test_loss_counters_match_arrivals(sim):
    """sent = arrived + dropped; the share lost is near p (binomial, 2,000 messages, 5 sd)."""
    net = hs.Network(sim, loss=0.3)
    log = []
    _send_many(sim, "a", "b", 2000, log, every=0.001)
    sim.run(until=5)
    assert net.sent == 2000 and len(log) + net.dropped["loss"] == 2000
    assert abs(net.dropped["loss"] / 2000 - 0.3) < 5 * (0.3 * 0.7 / 2000) ** 0.5


def test_set_loss_is_per_pair_and_direction(sim):
    """``set_loss(a, b, 1)`` loses a->b and b->a; ``symmetric=False`` only a->b."""
    net = hs.Network(sim)
    net.set_loss("a", "b", 1.0)
    net.set_loss("c", "d", 1.0, symmetric=False)
    log = []
    for src, dst in (("a", "b"), ("b", "a"), ("c", "d"), ("d", "c"), ("a", "c")):
        sim.call_later(0.0, lambda _, s=src, d=dst: net.path(s, d).send(log.append, f"{s}{d}"))
    sim.run(until=1)
    assert sorted(log) == ["ac", "dc"]
    assert net.dropped["loss"] == 3


def test_losses_of_a_link_and_an_impairment_combine_as_independent_chances(sim, at):
    """Link loss 0.5 and an impairment's 0.5: a message survives with chance 0.25."""
    net = hs.Network(sim)
    Link(sim, "a", "b", loss=0.5)
    at(0.0, net.impair, "a", "b")  # no change: loss 0
    path = net.path("a", "b")
    handles = []
    at(0.5, lambda: handles.append(net.impair("a", "b", loss=0.5)))
    sim.run(until=1)
    assert path.loss == pytest.approx(0.75)
    assert net.path("b", "a").loss == pytest.approx(0.75)


def test_loss_draws_are_reproducible_and_per_path(at):
    """Same seed, same drops; traffic on another pair does not shift a path's draws."""

    def drops(extra_traffic):
        sim = hs.Simulation(seed=5)
        hs.Network(sim, loss=0.5)
        log = []
        _send_many(sim, "a", "b", 200, log)
        if extra_traffic:
            _send_many(sim, "x", "y", 300, [], every=0.003)
        sim.run(until=5)
        return log

    first = drops(False)
    assert first == drops(False) == drops(True)
    assert 50 < len(first) < 150


@pytest.mark.parametrize(
    ("retry", "timeout", "outcome", "attempts"),
    [
        (None, None, hs.LOST, 1),
        (None, 1.0, hs.TIMEOUT, 1),
        (hs.Retry(attempts=3), None, hs.LOST, 3),
        (hs.Retry(attempts=3, retry_on=("timeout", "error")), None, hs.LOST, 1),
        (hs.Retry(attempts=3, backoff=hs.ConstantBackoff(0.5)), 1.0, hs.TIMEOUT, 3),
    ],
    ids=["plain-lost", "plain-timeout", "retry-lost", "retry-not-on-lost", "retry-timeout"],
)
def test_what_a_client_sees_of_a_lost_message(sim, at, assert_conserved, retry, timeout, outcome,
                                              attempts):  # fmt: skip
    """Loss 1: a client with no timer (no timeout, no deadline) is told ``lost`` at the moment
    of the drop (and retries it if ``lost`` is in ``retry_on``, as it is by default); with a
    timeout, the drop is silent and the try ends ``timeout``."""
    hs.Network(sim, latency=0.1, loss=1.0)
    web = hs.Server(sim, "web")
    client = hs.Client(sim, "c", target=web, timeout=timeout, retry=retry)
    at(1.0, client.issue)
    result = sim.run(until=20)
    table = result.requests()
    assert list(table["outcome"]) == [outcome]
    assert list(table["attempts"]) == [attempts]
    if outcome == hs.LOST and attempts == 1:
        assert list(table["ended"]) == [1.0]  # told at once, no latency paid
    assert web.received == 0
    assert_conserved(result, sim)


def test_a_deadline_is_a_timer_too(sim, at, assert_conserved):
    """A client with only a deadline sees a drop as ``timeout`` at the deadline."""
    hs.Network(sim, loss=1.0)
    web = hs.Server(sim, "web")
    client = hs.Client(sim, "c", target=web, deadline=3.0, retry=hs.Retry(attempts=2))
    at(1.0, client.issue)
    result = sim.run(until=10)
    assert list(result.requests()["outcome"]) == [hs.TIMEOUT]
    assert list(result.requests()["ended"]) == [4.0]
    assert_conserved(result, sim)


@pytest.mark.parametrize("loss", [-0.1, 1.5, "x", float("nan")])
def test_loss_validation(sim, loss):
    with pytest.raises(
        hs.ConfigError, match=r"^Network: loss must be a probability in \[0, 1\], got "
    ):
        hs.Network(sim, loss=loss)
    net = hs.Network(sim)
    with pytest.raises(
        hs.ConfigError, match=r"^Network: loss of a->b must be a probability in \[0, 1\], got "
    ):
        net.set_loss("a", "b", loss)
    with pytest.raises(hs.ConfigError, match=r"^Network: set_loss endpoints must be component"):
        net.set_loss("a", "", 0.1)


def test_set_loss_after_run_is_an_error(sim):
    net = hs.Network(sim)
    sim.run(until=1)
    with pytest.raises(hs.SimulationError, match=r"^Network: set losses before run\(\)$"):
        net.set_loss("a", "b", 0.1)


# --- impairments --------------------------------------------------------------------------------


def test_impair_adds_latency_and_loss_until_restored(sim, at):
    """Latency 0.1; impaired in [1, 3) with +0.4 s: messages sent then take 0.5 s (both ways,
    symmetric by default); after restore, 0.1 s again."""
    net = hs.Network(sim, latency=0.1)
    handles = []
    at(1.0, lambda: handles.append(net.impair("a", "b", latency=0.4)))
    at(3.0, lambda: net.restore(handles[0]))
    at(3.5, lambda: net.restore(handles[0]))  # twice: no change
    log = []
    for t in (0.5, 2.0, 4.0):
        for src, dst in (("a", "b"), ("b", "a")):
            sim.call_later(
                t, lambda _, s=src, d=dst: net.path(s, d).send(lambda m: log.append((m, sim.now)),
                                                             (s, sim.now))
            )  # fmt: skip
    sim.run(until=10)
    delays = sorted((sent, src, round(arrived - sent, 9)) for (src, sent), arrived in log)
    assert delays == [
        (0.5, "a", 0.1), (0.5, "b", 0.1), (2.0, "a", 0.5), (2.0, "b", 0.5),
        (4.0, "a", 0.1), (4.0, "b", 0.1),
    ]  # fmt: skip
    assert not handles[0].active


def test_a_one_way_impairment_and_its_loss(sim, at):
    """``symmetric=False`` impairs only src -> dst; loss 1 drops every message there."""
    net = hs.Network(sim)
    at(0.5, lambda: net.impair("a", "b", loss=1.0, symmetric=False))
    log = []
    for src, dst in (("a", "b"), ("b", "a")):
        sim.call_later(1.0, lambda _, s=src, d=dst: net.path(s, d).send(log.append, s + d))
    sim.run(until=2)
    assert log == ["ba"] and net.dropped["loss"] == 1


def test_impairments_are_rows_of_the_fault_history(sim, at):
    """Kind ``link``, target ``a<->b`` (``a->b`` one-way), the cause, loss and latency."""
    net = hs.Network(sim)
    handles = []
    at(1.0, lambda: handles.append(net.impair("a", "b", loss=0.2, cause="chaos[1]")))
    at(2.0, lambda: net.impair("c", "d", latency=0.5, symmetric=False))
    at(3.0, lambda: net.restore(handles[0]))
    sim.run(until=5)
    assert list(sim.recorder.faults.values()) == [
        ["link", "a<->b", 1.0, 3.0, "chaos[1]", {"loss": 0.2, "latency": None}, False],
        ["link", "c->d", 2.0, None, "impair", {"loss": 0.0, "latency": hs.Deterministic(0.5)},
         False],
    ]  # fmt: skip


def test_restoring_one_impairment_does_not_replay_anothers_draws(sim, at):
    """Two impairments on one path; restoring one must not restart the other's latency stream
    (its draws would repeat); a later impairment of the same cause does not repeat the earlier
    one's draws either."""
    net = hs.Network(sim)
    path = net.path("a", "b")
    draws = []
    handles = {}

    def first(_):
        handles["x"] = net.impair("a", "b", latency=hs.Exponential(1.0), cause="x", symmetric=False)
        handles["y"] = net.impair("a", "b", latency=0.0, cause="y", symmetric=False)
        draws.append([path.latency() for _ in range(5)])
        net.restore(handles["y"])
        draws.append([path.latency() for _ in range(5)])
        net.restore(handles["x"])
        assert path.latency() == 0.0
        net.impair("a", "b", latency=hs.Exponential(1.0), cause="x", symmetric=False)
        draws.append([path.latency() for _ in range(5)])

    sim.call_later(1.0, first)
    sim.run(until=2)
    flat = [d for batch in draws for d in batch]
    assert len(set(flat)) == 15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"src": "", "dst": "b"}, r"^Network: impair endpoints must be component names, got ''$"),
        ({"loss": 2.0}, r"^Network: loss of a->b must be a probability in \[0, 1\], got 2.0$"),
        ({"latency": -1}, r"^Network: latency must be a Distribution, a number >= 0"),
    ],
)  # fmt: skip
def test_impair_rejects_bad_input(sim, kwargs, message):
    net = hs.Network(sim)
    args = {"src": "a", "dst": "b", **kwargs}
    with pytest.raises(hs.ConfigError, match=message):
        net.impair(args.pop("src"), args.pop("dst"), **args)
    assert sim.recorder.faults == {}


def test_restore_needs_an_impairment(sim):
    net = hs.Network(sim)
    with pytest.raises(hs.ConfigError, match=r"^Network: restore must be an Impairment from"):
        net.restore(None)


# --- the fast path and the guard ------------------------------------------------------------------


def test_paths_take_the_fast_path_until_something_can_cut_them(sim):
    """A healthy path is ``plain``; after ``guard()`` (a partition, a link, an impairment) every
    message is checked on arrival, and its arrival time is the same."""
    net = hs.Network(sim, latency=0.2)
    path = net.path("a", "b")
    assert path.plain and not path.cut
    net.guard()
    assert not path.plain
    log = []
    sim.call_later(1.0, lambda _: path.send(lambda m: log.append(sim.now), None))
    sim.run(until=5)
    assert log == [1.2]
    assert "a->b" in repr(path) and "Network" in repr(net)


def test_a_path_made_before_the_configuration_follows_it(sim, at):
    """``impair`` before the run makes the pair's paths; a pair latency, a pair loss and a link
    set up afterwards still apply to them (the link's failure cuts them)."""
    net = hs.Network(sim, latency=1.0)
    net.impair("a", "b", latency=0.5)
    net.set_latency("a", "b", 0.25)
    net.set_loss("b", "a", 1.0, symmetric=False)
    link = Link(sim, "a", "b")
    at(2.0, link.fail)
    log = []
    for t in (0.0, 3.0):
        sim.call_later(t, lambda _: net.path("a", "b").send(lambda m: log.append(sim.now), None))
    sim.call_later(0.0, lambda _: net.path("b", "a").send(log.append, "back"))
    sim.run(until=5)
    assert log == [0.75] and net.path("a", "b").link is link  # 0.25 + the impairment's 0.5
    assert net.dropped == {"loss": 1, "partition": 0, "link": 1}


def _tie_run(guard: bool = False, chaos: bool = False):
    """Zero latency; the second request reaches a 1-worker, no-queue server exactly when the
    first one's service ends. With ``chaos``, a partition of the two is scheduled at 5 s."""
    sim = hs.Simulation(seed=3)
    net = hs.Network(sim)
    if guard:
        net.guard()
    web = hs.Server(sim, "web", workers=1, queue_limit=0, service_time=hs.Deterministic(1.0))
    client = hs.Client(sim, "c", target=web, timeout=2.0)
    for t in (1.0, 2.0, 7.0):
        sim.call_later(t, lambda _: client.issue())
    if chaos:
        hs.Chaos(sim, [hs.Partition(["c"], ["web"], at=5, duration=1)])
    return sim.run(until=10).requests()


def test_guard_does_not_reorder_events():
    """Checking messages on arrival must not change what happens when nothing is cut: a
    message that takes no time is delivered at once, guarded or not, so same-time events keep
    their order (here: the second request meets the busy worker and is rejected in both)."""
    plain, guarded = _tie_run(), _tie_run(guard=True)
    assert list(plain["outcome"]) == [hs.OK, hs.REJECTED, hs.OK]
    assert plain.equals(guarded)


def test_a_chaos_partition_changes_nothing_outside_it():
    """Common random numbers: the same design with a partition scheduled at 5 s (the chaos
    guards the network from the start) behaves exactly as the one without it, outside the
    partition."""
    assert _tie_run().equals(_tie_run(chaos=True))
