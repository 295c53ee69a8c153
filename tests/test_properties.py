"""Property tests: every public constructor builds, or refuses with ConfigError and leaves no trace.

Arguments are thrown from a pool of the usual mistakes: NaN, inf, negative
and huge numbers, ints too large for a float, bools, None, strings
(durations, garbage), lists. Whatever they are, the only exception allowed
is ``hasim.ConfigError`` (DESIGN rule 5), and a rejected component must
leave the Simulation as it was: its name still free, no node, client or
network registered.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

import hasim as hs

HUGE = 10**400  # an int no float can hold

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=5),
    st.integers(),
    st.just(HUGE),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from(["1h", "250ms", "0", "2 days", "-1s", "soon", "1e999", ""]),
    st.lists(st.integers(-1, 3), max_size=3),
)
distributions = st.sampled_from(
    [
        hs.Deterministic(0.0),
        hs.Deterministic(0.5),
        hs.Exponential(mean=1.0),
        hs.LogNormal(median=1.0, sigma=0.5),
        hs.Pareto(0.8, 1.0),  # infinite mean
    ]
)
durations = st.one_of(values, distributions)
names = st.one_of(st.sampled_from(["web", "db", "ops", "target"]), values)


class Make:
    """A placeholder for an argument that must be built inside the example's Simulation."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"Make({self.kind!r})"


TARGET = Make("target")
OWN, SHARED, FOREIGN = Make("own crew"), Make("shared crew"), Make("crew of another simulation")
failures_args = st.one_of(values, st.sampled_from([OWN, SHARED, FOREIGN]))
targets = st.one_of(st.just(TARGET), values)
rates = st.one_of(
    values,
    st.lists(st.tuples(values, values), max_size=3),
    st.lists(st.tuples(st.floats(0, 100), st.floats(-1, 100)), max_size=3),
    st.just(lambda t: 1.0),
)


def _sim() -> hs.Simulation:
    """A simulation that already holds a shared crew ``ops`` and a server ``target``."""
    sim = hs.Simulation(seed=0)
    hs.RepairCrews(sim, "ops")
    hs.Server(sim, "target")
    return sim


def _resolve(sim: hs.Simulation, value):
    """Build a placeholder argument in ``sim``; pass anything else through."""
    if value is TARGET:
        return sim["target"]
    if value is OWN:
        return hs.Failures(ttf=hs.Exponential(mean=10), ttr=1)
    if value is SHARED:
        return hs.Failures(ttf=hs.Exponential(mean=10), ttr=1, crews=sim["ops"])
    if value is FOREIGN:
        return hs.Failures(ttf=10, ttr=1, crews=hs.RepairCrews(hs.Simulation(), "ops"))
    return value


def _registry(sim: hs.Simulation) -> tuple:
    return dict(sim.components), list(sim.nodes), list(sim.clients), sim.network


def _builds_or_refuses(sim: hs.Simulation, name, build) -> None:
    """``build()`` returns a registered component or raises ConfigError and changes nothing."""
    before = _registry(sim)
    try:
        component = build()
    except hs.ConfigError:
        assert _registry(sim) == before
        if isinstance(name, str) and name and name != "system" and name not in before[0]:
            assert hs.Node(sim, name).name == name  # the name is still free
    else:
        assert sim[component.name] is component


@settings(max_examples=100, deadline=None)
@given(seed=values, record=st.one_of(values, st.sampled_from(["requests", "aggregate"])))
def test_simulation_builds_or_refuses(seed, record):
    """Simulation(seed, record): an integer seed >= 0 and a known record mode, or ConfigError."""
    try:
        sim = hs.Simulation(seed=seed, record=record)
    except hs.ConfigError:
        return
    assert sim.seed == seed and record in ("requests", "aggregate")


@settings(max_examples=100, deadline=None)
@given(name=names, zone=values, failures=failures_args)
@example(name="db", zone=None, failures=FOREIGN)
def test_node_builds_or_refuses(name, zone, failures):
    """Node(sim, name, zone=, failures=)."""
    sim = _sim()
    failures = _resolve(sim, failures)
    _builds_or_refuses(sim, name, lambda: hs.Node(sim, name, zone=zone, failures=failures))


@settings(max_examples=100, deadline=None)
@given(
    name=names,
    workers=values,
    service_time=durations,
    queue_limit=values,
    zone=values,
    failures=failures_args,
)
@example(name="web", workers=1, service_time=0.1, queue_limit=None, zone=None, failures=FOREIGN)
def test_server_builds_or_refuses(name, workers, service_time, queue_limit, zone, failures):
    """Server(sim, name, workers=, service_time=, queue_limit=, zone=, failures=)."""
    sim = _sim()
    failures = _resolve(sim, failures)
    _builds_or_refuses(
        sim,
        name,
        lambda: hs.Server(
            sim,
            name,
            workers=workers,
            service_time=service_time,
            queue_limit=queue_limit,
            zone=zone,
            failures=failures,
        ),
    )


@settings(max_examples=100, deadline=None)
@given(slowdown=values)
def test_degrade_changes_the_state_or_refuses(slowdown):
    """Node.degrade(slowdown): a finite number > 0, or ConfigError and no change."""
    node = hs.Node(hs.Simulation(), "n")
    try:
        node.degrade(slowdown)
    except hs.ConfigError:
        assert (node.state, node.slowdown) == (hs.UP, 1.0)
    else:
        assert node.state == (hs.UP if slowdown == 1 else hs.DEGRADED)


@settings(max_examples=100, deadline=None)
@given(name=names, crews=values)
def test_repair_crews_build_or_refuse(name, crews):
    """RepairCrews(sim, name, crews=)."""
    sim = _sim()
    _builds_or_refuses(sim, name, lambda: hs.RepairCrews(sim, name, crews=crews))


@settings(max_examples=100, deadline=None)
@given(ttf=durations, ttr=durations, crews=st.one_of(values, st.just(Make("crews"))))
def test_failures_build_or_refuse(ttf, ttr, crews):
    """Failures(ttf, ttr, crews): a ttf with mean > 0, any ttr, crews a RepairCrews or None."""
    sim = _sim()
    if isinstance(crews, Make):
        crews = sim["ops"]
    try:
        failures = hs.Failures(ttf=ttf, ttr=ttr, crews=crews)
    except hs.ConfigError:
        return
    assert isinstance(failures.ttf, hs.Distribution) and failures.ttf.mean > 0
    assert isinstance(failures.ttr, hs.Distribution)


@settings(max_examples=100, deadline=None)
@given(name=names, target=targets, rate=rates, max_rate=values, timeout=durations)
@example(name="users", target=TARGET, rate=[(0, HUGE)], max_rate=None, timeout=None)
@example(name="users", target=TARGET, rate=[(0, 1), (HUGE, 2)], max_rate=None, timeout=None)
def test_open_loop_builds_or_refuses(name, target, rate, max_rate, timeout):
    """OpenLoop(sim, name, target=, rate=, max_rate=, timeout=)."""
    sim = _sim()
    target = _resolve(sim, target)
    _builds_or_refuses(
        sim,
        name,
        lambda: hs.OpenLoop(
            sim, name, target=target, rate=rate, max_rate=max_rate, timeout=timeout
        ),
    )


@settings(max_examples=100, deadline=None)
@given(name=names, target=targets, users=values, think_time=durations, timeout=durations)
def test_closed_loop_builds_or_refuses(name, target, users, think_time, timeout):
    """ClosedLoop(sim, name, target=, users=, think_time=, timeout=)."""
    sim = _sim()
    target = _resolve(sim, target)
    _builds_or_refuses(
        sim,
        name,
        lambda: hs.ClosedLoop(
            sim, name, target=target, users=users, think_time=think_time, timeout=timeout
        ),
    )


@settings(max_examples=100, deadline=None)
@given(latency=durations)
def test_network_builds_or_refuses(latency):
    """Network(sim, latency): installs itself as sim.network, or ConfigError and none."""
    sim = _sim()
    try:
        net = hs.Network(sim, latency)
    except hs.ConfigError:
        assert sim.network is None
        return
    assert sim.network is net and isinstance(net.latency, hs.Distribution)


@settings(max_examples=100, deadline=None)
@given(a=names, b=names, latency=durations, symmetric=values)
def test_set_latency_sets_or_refuses(a, b, latency, symmetric):
    """Network.set_latency(a, b, latency, symmetric=): sets a Distribution, or ConfigError."""
    net = hs.Network(_sim())
    try:
        net.set_latency(a, b, latency, symmetric=symmetric)
    except hs.ConfigError:
        assert net._pairs == {}
        return
    assert isinstance(net.latency_between(a, b), hs.Distribution)


@settings(max_examples=100, deadline=None)
@given(until=durations, warmup=durations)
@example(until=5e-324, warmup=0)
def test_run_runs_or_refuses(until, warmup):
    """Simulation.run(until, warmup=): a window of positive length, or ConfigError and no run."""
    sim = hs.Simulation()
    hs.Node(sim, "n")
    try:
        result = sim.run(until=until, warmup=warmup)
    except hs.ConfigError:
        assert sim.run(until=1).until == 1  # the refused run did not start the simulation
        return
    assert result.window > 0 and result.summary()["uptime"] == 1.0
