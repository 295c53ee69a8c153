"""Simulation: seed and named random streams, the registry, the run, the structure predicate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import hasim as hs

# --- seed and random streams ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [-1, 1.5, True, "7", None])
def test_seed_must_be_a_nonnegative_integer(seed):
    """The root seed is an integer >= 0; anything else is refused with the one message template."""
    with pytest.raises(hs.ConfigError, match=r"Simulation: seed must be an integer >= 0, got"):
        hs.Simulation(seed=seed)


def test_seed_accepts_numpy_and_big_integers():
    """Any integer >= 0 is a seed, numpy integers and ones beyond 64 bits included."""
    assert hs.Simulation(seed=np.int64(3)).seed == 3
    assert hs.Simulation(seed=2**80).seed == 2**80


def test_record_must_be_requests_or_aggregate():
    """``record`` picks per-request rows or streaming aggregates; nothing else."""
    with pytest.raises(hs.ConfigError, match=r"record must be one of 'requests', 'aggregate'"):
        hs.Simulation(record="all")


def test_rng_is_stable_for_the_same_seed_name_and_purpose():
    """``sim.rng(name, purpose)`` gives the same numbers in a fresh Simulation with that seed."""
    first = hs.Simulation(seed=7).rng("web1", "ttf").random(5)
    again = hs.Simulation(seed=7).rng("web1", "ttf").random(5)
    assert np.array_equal(first, again)


@pytest.mark.parametrize(
    "other", [(7, "web2", "ttf"), (7, "web1", "ttr"), (8, "web1", "ttf"), (7, "web1", "")]
)
def test_rng_differs_by_seed_name_or_purpose(other):
    """Another seed, another component name or another purpose is another stream."""
    seed, name, purpose = other
    base = hs.Simulation(seed=7).rng("web1", "ttf").random(5)
    assert not np.array_equal(base, hs.Simulation(seed=seed).rng(name, purpose).random(5))


def test_rng_names_whose_crc32_collide_still_get_different_streams():
    """Two different names never share a stream, even when a 32-bit hash of them is equal.

    ``"plumless"`` and ``"buckeroo"`` have the same CRC-32; two servers so named
    must not fail at the same times.
    """
    sim = hs.Simulation(seed=7)
    assert not np.array_equal(
        sim.rng("plumless", "ttf").random(5), sim.rng("buckeroo", "ttf").random(5)
    )


# --- the registry ---------------------------------------------------------------------------------


def test_duplicate_name_is_rejected_naming_component_parameter_and_value(sim):
    """Names are unique across every kind of component; the message says who holds the name."""
    hs.Server(sim, "web")
    with pytest.raises(
        hs.ConfigError,
        match=r"^Node 'web': name must be unique in the simulation "
        r"\(already used by Server 'web'\), got 'web'$",
    ):
        hs.Node(sim, "web")
    assert type(sim["web"]) is hs.Server


def test_lookup_by_name(sim):
    """``sim["name"]`` returns the component; ``in`` tells whether a name is used."""
    web = hs.Server(sim, "web")
    crews = hs.RepairCrews(sim, "ops")
    assert sim["web"] is web and sim["ops"] is crews
    assert "web" in sim and "db" not in sim


def test_lookup_of_an_unknown_name_lists_the_known_ones(sim):
    """An unknown name is a ConfigError that lists the names there are."""
    hs.Server(sim, "web")
    hs.Node(sim, "db")
    with pytest.raises(hs.ConfigError, match=r"no component named 'cache' \(known: 'web', 'db'\)"):
        sim["cache"]


def test_lookup_in_an_empty_simulation(sim):
    """With no components the message says so."""
    with pytest.raises(hs.ConfigError, match=r"no component named 'web' \(known: none\)"):
        sim["web"]


@pytest.mark.parametrize("name", ["", None, 3])
def test_component_name_must_be_a_nonempty_string(sim, name):
    """Every component needs a non-empty string name."""
    with pytest.raises(hs.ConfigError, match=r"Node: name must be a non-empty string"):
        hs.Node(sim, name)
    assert sim.components == {} and sim.nodes == []


def test_component_needs_a_simulation():
    """The first argument of every component is the Simulation it lives in."""
    with pytest.raises(hs.ConfigError, match=r"Server 'web': sim must be a hasim.Simulation"):
        hs.Server(None, "web")


def test_call_later_calls_with_its_argument_at_the_time(sim):
    """``call_later(delay, fn, arg)`` is a cheap timer: ``fn(arg)`` at ``now + delay``."""
    seen = []
    sim.call_later(2.5, lambda arg: seen.append((sim.now, arg)), "tick")
    sim.run(until=10)
    assert seen == [(2.5, "tick")]


# --- run() ----------------------------------------------------------------------------------------


def test_run_accepts_duration_strings(sim):
    """``until`` and ``warmup`` take seconds or strings such as ``"1h"``."""
    result = sim.run(until="1h", warmup="10m")
    assert (result.warmup, result.until, result.window) == (600.0, 3600.0, 3000.0)


def test_run_until_zero_is_rejected(sim):
    """A run must last some time."""
    with pytest.raises(
        hs.ConfigError, match=r"Simulation.run: until must be a finite duration > 0, got 0"
    ):
        sim.run(until=0)


@pytest.mark.parametrize("until", [-1, math.inf, math.nan, "soon", "-5s", None, True])
def test_run_until_must_be_a_duration(sim, until):
    """Negative, infinite, non-numeric or unparseable horizons are refused."""
    with pytest.raises(hs.ConfigError, match=r"Simulation.run: until must be"):
        sim.run(until=until)


@pytest.mark.parametrize(("until", "warmup"), [(10, 10), (10, 11), ("1h", "60m"), ("1h", "2h")])
def test_warmup_must_end_before_until(sim, until, warmup):
    """The measured window ``[warmup, until]`` must not be empty."""
    with pytest.raises(
        hs.ConfigError, match=r"Simulation.run: warmup must be smaller than until \((10|3600) s\)"
    ):
        sim.run(until=until, warmup=warmup)


@pytest.mark.parametrize("warmup", [-1, "soon", None])
def test_warmup_must_be_a_duration(sim, warmup):
    """A negative or unparseable warm-up is refused."""
    with pytest.raises(hs.ConfigError, match=r"Simulation.run: warmup must be a duration >= 0"):
        sim.run(until=10, warmup=warmup)


def test_a_rejected_run_can_be_retried(sim):
    """Bad arguments to ``run`` leave the simulation unstarted."""
    with pytest.raises(hs.ConfigError):
        sim.run(until=0)
    assert sim.run(until=5).until == 5


def test_run_twice_is_an_error(sim):
    """A Simulation runs once; build a new one for another run."""
    sim.run(until=10)
    with pytest.raises(
        hs.SimulationError, match=r"run\(\) was already called; build a new Simulation"
    ):
        sim.run(until=20)


def test_components_cannot_be_added_after_the_run(sim):
    """A finished run is a record: nothing joins it."""
    sim.run(until=10)
    with pytest.raises(
        hs.SimulationError, match=r"^Node 'late': the run is over; build a new Simulation$"
    ):
        hs.Node(sim, "late")
    assert "late" not in sim


def test_a_component_made_during_the_run_joins_it(sim, at):
    """A replacement built at t = 5 serves, fails at random and shows in the results."""
    made = []

    def build():
        made.append(hs.Server(sim, "late", service_time=1.0, failures=hs.Failures(ttf=3, ttr=1)))
        client.target = made[0]
        client._prepare()

    old = hs.Server(sim, "old", service_time=1.0)
    client = hs.Client(sim, "c", target=old)
    at(5, build)
    at(5.5, client.issue)
    result = sim.run(until=12)
    assert result.requests()["responder"].tolist() == ["late"]
    assert [(t, s) for t, n, s in result.state_log if n == "late"] == [
        (5, "up"),
        (8, "down"),
        (9, "up"),
    ]


# --- the structure predicate ----------------------------------------------------------------------


def test_up_when_needs_a_callable(sim):
    """The structure predicate is a function of component states."""
    with pytest.raises(
        hs.ConfigError,
        match=r"Simulation: up_when predicate must be a structure expression or a callable "
        r"returning bool, got 5",
    ):
        sim.up_when(5)


def test_up_when_after_run_is_an_error(sim):
    """The predicate is part of the design, fixed before the run."""
    sim.run(until=1)
    with pytest.raises(hs.SimulationError, match=r"up_when\(\) must be called before run\(\)"):
        sim.up_when(lambda: True)


def _two_nodes(sim):
    """a is down [10, 14], [24, 28]; b is down [13, 17] (before t = 29)."""
    a = hs.Node(sim, "a", failures=hs.Failures(ttf=hs.Deterministic(10), ttr=hs.Deterministic(4)))
    b = hs.Node(sim, "b", failures=hs.Failures(ttf=hs.Deterministic(13), ttr=hs.Deterministic(4)))
    return a, b


def _rows(incidents: pd.DataFrame) -> list[tuple]:
    return list(
        incidents[["start", "end", "cause", "restored_by"]].itertuples(index=False, name=None)
    )


def test_without_a_predicate_the_system_is_up_while_every_node_is_up(sim):
    """The default structure is a series system: any node down takes the system down."""
    _two_nodes(sim)
    result = sim.run(until=29)
    assert _rows(result.incidents()) == [(10, 17, "a", "b"), (24, 28, "a", "a")]
    assert result.summary()["downtime"] == 7 + 4


def test_an_explicit_predicate_decides_when_the_system_is_up(sim):
    """``up_when(lambda: a.up or b.up)`` is a parallel pair: down only while both are."""
    a, b = _two_nodes(sim)
    sim.up_when(lambda: a.up or b.up)
    result = sim.run(until=29)
    assert _rows(result.incidents()) == [(13, 14, "b", "a")]
    assert result.summary()["uptime"] == 1 - 1 / 29


def test_system_up_reads_the_predicate_now(sim):
    """``sim.system_up()`` evaluates the structure predicate on the current states."""
    a = hs.Node(sim, "a")
    b = hs.Node(sim, "b")
    assert sim.system_up()
    b.fail()
    assert not sim.system_up()
    sim.up_when(lambda: a.up)
    assert sim.system_up()


def test_a_node_that_starts_down_is_an_incident_from_time_zero(sim, at):
    """Failing a node before ``run()`` starts the run with the system down."""
    node = hs.Node(sim, "n")
    node.fail()
    at(5, node.recover)
    incident = sim.run(until=10).incident_list()
    assert [(i.start, i.end, i.restored_by) for i in incident] == [(0, 5, "n")]


def test_fail_and_recover_before_run_leave_no_incident(sim):
    """State changes before the clock starts are no history: a node up at 0 has had no incident."""
    node = hs.Node(sim, "n")
    node.fail()
    node.recover()
    result = sim.run(until=10)
    assert result.incidents().empty
    assert result.summary()["incidents"] == 0


# --- determinism and common random numbers (DESIGN rules 1-2) -------------------------------------


def _model(seed: int, record: str = "requests") -> hs.RunResult:
    sim = hs.Simulation(seed=seed, record=record)
    hs.Network(sim, latency=hs.LogNormal(median=2 * hs.ms, sigma=0.5))
    web = hs.Server(
        sim,
        "web",
        workers=2,
        service_time=hs.Exponential(mean=0.05),
        failures=hs.Failures(ttf=hs.Exponential(mean=30), ttr=hs.Exponential(mean=3)),
    )
    hs.OpenLoop(sim, "users", target=web, rate=20, timeout=0.5)
    return sim.run(until=300, warmup=10)


def test_same_seed_gives_bit_identical_results(assert_conserved):
    """Same seed, same code: the summary and the request table are equal, floats included."""
    first, again = _model(seed=5), _model(seed=5)
    summary, summary_again = first.summary(), again.summary()

    def undefined(s):
        return {k for k, v in s.items() if isinstance(v, float) and math.isnan(v)}

    # Nobody watches these servers (no balancer), so there is nothing to detect.
    nothing = {"mttd", "failover_time", "performability"}  # no reward declared either
    assert undefined(summary) == undefined(summary_again) == nothing
    assert summary["incidents"] > 0 and summary["ok"] > 0 and summary["failed"] > 0
    defined = set(summary) - undefined(summary)
    assert {k: summary[k] for k in defined} == {k: summary_again[k] for k in defined}
    pd.testing.assert_frame_equal(first.requests(), again.requests(), check_exact=True)
    assert first.timeline().equals(again.timeline())
    assert_conserved(first)
    assert_conserved(again)


def test_another_seed_gives_other_results(assert_conserved):
    """The seed is what makes two replications independent."""
    first, other = _model(seed=5), _model(seed=6)
    assert_conserved(other)
    assert first.summary() != other.summary()
    assert not first.requests()["issued"].equals(other.requests()["issued"])


def _failure_times(extra: bool, check) -> pd.DataFrame:
    sim = hs.Simulation(seed=3)
    failures = hs.Failures(ttf=hs.Exponential(mean=20), ttr=hs.LogNormal(median=2, sigma=0.5))
    if extra:  # built in another order, with more components
        hs.Node(sim, "cache", failures=failures)
        db = hs.Node(sim, "db", failures=hs.Failures(ttf=hs.Weibull(1.5, mean=30), ttr=3))
        web1 = hs.Server(sim, "web1", service_time=hs.Exponential(mean=0.01), failures=failures)
        web2 = hs.Server(sim, "web2", service_time=hs.Exponential(mean=0.01), failures=failures)
        hs.OpenLoop(sim, "users", target=web1, rate=5)
        hs.OpenLoop(sim, "batch", target=web2, rate=5)
        sim.up_when(lambda: db.up and (web1.up or web2.up))
    else:
        hs.Server(sim, "web1", service_time=hs.Exponential(mean=0.01), failures=failures)
        hs.Node(sim, "db", failures=hs.Failures(ttf=hs.Weibull(1.5, mean=30), ttr=3))
    result = sim.run(until=500)
    check(result, sim)
    timeline = result.timeline()
    rows = timeline[timeline["component"].isin(["web1", "db"])]
    return rows.sort_values(["component", "start"]).reset_index(drop=True)


def test_adding_components_never_shifts_another_nodes_failure_times(assert_conserved):
    """Common random numbers: ``web1`` and ``db`` fail at the same times in both designs."""
    alone = _failure_times(extra=False, check=assert_conserved)
    crowded = _failure_times(extra=True, check=assert_conserved)
    assert (alone["state"] == "down").sum() >= 10  # enough history to compare
    pd.testing.assert_frame_equal(alone, crowded, check_exact=True)


def test_the_name_system_is_reserved(sim):
    """Results name the whole system "system"; no component may take that name."""
    with pytest.raises(
        hs.ConfigError, match=r"^Node: name must be a non-empty string other than 'system'"
    ):
        hs.Node(sim, "system")
    assert sim.components == {}


def test_next_failure_at_is_the_earliest_scheduled_failure(sim):
    """Failure times are drawn in advance; the simulation knows the next one."""
    a = hs.Node(sim, "a", failures=hs.Failures(ttf=10, ttr=2))
    b = hs.Node(sim, "b", failures=hs.Failures(ttf=4, ttr=1))
    sim.run(until=5.5)  # b failed at 4 and was repaired at 5: its next failure is at 9
    assert (a.next_failure_at, b.next_failure_at) == (10, 9)
    assert sim.next_failure_at == 9
