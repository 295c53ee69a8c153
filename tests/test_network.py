"""Network: one latency draw per hop, each way; a default and per-pair overrides."""

from __future__ import annotations

import pytest

import hasim as hs


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
