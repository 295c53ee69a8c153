"""The lean state-only engine gives the general engine's numbers, bit for bit, faster."""

from __future__ import annotations

import pickle

import pytest

import hasim as hs
from hasim.lean import SystemLog, check_lean

HOUR = hs.hours
EXP = hs.Failures(ttf=hs.Exponential(mean=100 * HOUR), ttr=hs.Exponential(mean=5 * HOUR))


def _summary(build, engine: str, until: float = 3 * hs.years, warmup: float = 0.0):
    sim = hs.Simulation(seed=11, record="aggregate")
    build(sim)
    result = sim.run(until=until, warmup=warmup, engine=engine)
    return sim, result, dict(result.summary())


def _same(build, **kw) -> dict:
    """Run ``build`` on both engines; the summaries must be identical (NaN == NaN)."""
    _, _, events = _summary(build, "events", **kw)
    _, _, lean = _summary(build, "lean", **kw)
    assert events.keys() == lean.keys()
    for key in events:
        a, b = events[key], lean[key]
        assert a == b or (a != a and b != b), (key, a, b)
    return lean


def k_of_n_lambda(sim):
    nodes = [hs.Node(sim, f"n{i}", failures=EXP) for i in range(3)]
    sim.up_when(lambda: sum(n.up for n in nodes) >= 2)


def k_of_n_expression(sim):
    nodes = [hs.Node(sim, f"n{i}", failures=EXP) for i in range(3)]
    sim.up_when(hs.k_of_n(2, nodes))


def series_default(sim):
    for i in range(3):
        hs.Node(sim, f"n{i}", failures=EXP)


def nested_shared_leaf(sim):
    """A tree with a component under two branches, a node outside the structure."""
    lb = hs.Node(sim, "lb", failures=EXP)
    app = [hs.Server(sim, f"app{i}", failures=EXP) for i in range(2)]
    db = [hs.Node(sim, f"db{i}", failures=EXP) for i in range(3)]
    hs.Node(sim, "spare", failures=EXP)  # fails, but the structure does not read it
    sim.up_when(lb & (hs.any_of(app) | db[0]) & hs.k_of_n(2, db))


def by_name(sim):
    for name in ("a", "b", "c"):
        hs.Node(sim, name, failures=EXP)
    sim.up_when(hs.any_of("a", "b") & "c")


def two_causes_and_a_crew(sim):
    """Software crashes with a fast restart beside hardware faults repaired by one crew."""
    crew = hs.RepairCrews(sim, "ops", crews=1)
    software = hs.Failures(ttf=hs.Weibull(shape=1.5, scale=50 * HOUR), ttr="10m", cause="sw")
    hardware = hs.Failures(
        ttf=hs.Exponential(mean=200 * HOUR), ttr=hs.LogNormal(median=8 * HOUR, sigma=0.5),
        crews=crew, cause="hw",
    )  # fmt: skip
    nodes = [hs.Node(sim, f"n{i}", failures=[software, hardware]) for i in range(4)]
    sim.up_when(hs.k_of_n(3, nodes))


@pytest.mark.parametrize(
    "build",
    [k_of_n_lambda, k_of_n_expression, series_default, nested_shared_leaf, by_name,
     two_causes_and_a_crew],
)  # fmt: skip
def test_lean_engine_gives_the_general_engines_summary(build):
    """Same seed, same draws, same event times: every summary number is identical."""
    lean = _same(build)
    assert lean["incidents"] > 10  # the comparison saw many outages
    assert 0 < lean["uptime"] < 1


def test_lean_engine_clips_to_the_warmup_like_the_general_engine():
    _same(k_of_n_expression, warmup=0.5 * hs.years)


def test_auto_picks_lean_for_state_only_aggregate_runs():
    sim, result, _ = _summary(k_of_n_expression, "auto")
    assert not result.history_kept
    assert isinstance(result.system_log, SystemLog)
    assert sim.nodes[0].next_failure_at > sim.now  # published, as the general engine does


def test_lean_result_keeps_incidents_and_causes_but_no_component_history():
    _, result, summary = _summary(k_of_n_expression, "lean")
    incidents = result.incidents()
    assert len(incidents) == summary["incidents"]
    assert set(incidents["cause"]) <= {"n0", "n1", "n2"}
    assert result.downtime_by_cause()["downtime"].sum() == pytest.approx(summary["downtime"])
    for table in ("timeline", "failures", "faults", "fault_history"):
        with pytest.raises(hs.SimulationError, match=rf"RunResult.{table}\(\) needs every"):
            getattr(result, table)()


def test_lean_result_pickles_with_its_compact_log():
    _, result, summary = _summary(k_of_n_expression, "lean")
    again = pickle.loads(pickle.dumps(result))
    assert repr(again.summary()) == repr(hs.Summary(summary))
    assert again.summary()["uptime"] == summary["uptime"]


def test_requests_mode_and_traffic_use_the_general_engine():
    sim = hs.Simulation(seed=1)
    hs.Node(sim, "n0", failures=EXP)
    assert "record" in check_lean(sim)
    sim = hs.Simulation(seed=1, record="aggregate")
    web = hs.Server(sim, "web", failures=EXP)
    hs.OpenLoop(sim, "users", target=web, rate=1)
    with pytest.raises(hs.ConfigError, match=r"lean engine cannot run this: OpenLoop 'users'"):
        sim.run(until=100, engine="lean")


def test_lean_refuses_what_it_cannot_run_with_the_reason():
    sim = hs.Simulation(seed=1, record="aggregate")
    node = hs.Node(sim, "n0", failures=hs.Failures(ttf="10h", ttr="1h", repair="on_detection"))
    assert "detection" in check_lean(sim)
    node2 = hs.Node(sim, "n1", failures=EXP)
    node2.on_change(lambda *_: None)
    hs.Domain(sim, "az1")
    with pytest.raises(hs.ConfigError, match=r"lean engine cannot run this: Node 'n0'"):
        sim.run(until=100, engine="lean")
    del node


def test_unknown_engine_and_unknown_leaf_are_refused():
    sim = hs.Simulation(seed=1, record="aggregate")
    hs.Node(sim, "a", failures=EXP)
    with pytest.raises(hs.ConfigError, match=r"engine must be one of"):
        sim.run(until=10, engine="fast")
    sim = hs.Simulation(seed=1, record="aggregate")
    hs.Node(sim, "a", failures=EXP)
    sim.up_when(hs.all_of("a", "b"))
    with pytest.raises(hs.ConfigError, match=r"structure must be an expression over .*unknown: b"):
        sim.run(until=10)


# -- the vectorised engine ---------------------------------------------------------------


def mixed_distributions(sim):
    """Weibull failures, fixed and lognormal repairs, two causes on one node."""
    lb = hs.Node(sim, "lb", failures=hs.Failures(ttf=hs.Weibull(shape=2, scale=300 * HOUR),
                                                 ttr=hs.Deterministic(2 * HOUR)))  # fmt: skip
    web = [hs.Node(sim, f"web{i}", failures=[
        EXP, hs.Failures(ttf="30d", ttr=hs.LogNormal(median=1 * HOUR, sigma=1), cause="sw")])
        for i in range(3)]  # fmt: skip
    sim.up_when(lb & hs.k_of_n(2, web))


@pytest.mark.parametrize(
    "build", [k_of_n_expression, series_default, nested_shared_leaf, by_name, mixed_distributions]
)
def test_vector_engine_gives_the_event_engines_summary(build):
    """Same streams, same sums: the vectorised engine's numbers are the lean engine's."""
    _, _, lean = _summary(build, "lean", until=20 * hs.years, warmup=1 * hs.years)
    _, result, vector = _summary(build, "vector", until=20 * hs.years, warmup=1 * hs.years)
    assert not result.history_kept
    assert lean["incidents"] > 10
    for key in lean:
        a, b = lean[key], vector[key]
        assert a == b or (a != a and b != b), (key, a, b)


def test_vector_engine_over_many_blocks_matches_the_lean_engine(monkeypatch):
    """Blocks of simulated time join seamlessly: tiny blocks give the same numbers."""
    from hasim import vector

    _, _, lean = _summary(nested_shared_leaf, "lean", until=5 * hs.years)
    monkeypatch.setattr(vector, "_BLOCK_EVENTS", 64)
    _, _, small = _summary(nested_shared_leaf, "vector", until=5 * hs.years)
    assert small == lean or all(
        small[k] == lean[k] or (small[k] != small[k] and lean[k] != lean[k]) for k in lean
    )


def test_vector_engine_refuses_dependent_components_and_lambdas():
    with pytest.raises(hs.ConfigError, match=r"vector engine needs .*shares the crews of"):
        _summary(two_causes_and_a_crew, "vector")
    with pytest.raises(hs.ConfigError, match=r"vector engine needs .*Domain 'eu' takes its"):
        _summary(zones_and_a_region, "vector")
    with pytest.raises(hs.ConfigError, match=r"vector engine needs .*up_when was given a lambda"):
        _summary(k_of_n_lambda, "vector")
    with pytest.raises(hs.ConfigError, match=r"vector engine needs .*OpenLoop 'users'"):
        sim = hs.Simulation(seed=1, record="aggregate")
        web = hs.Server(sim, "web", failures=EXP)
        hs.OpenLoop(sim, "users", target=web, rate=1)
        sim.run(until=100, engine="vector")


def zones_and_a_region(sim):
    """Servers in two zones of a region; zones and the region fail; one listed group."""
    slow = hs.Failures(ttf=hs.Exponential(mean=400 * HOUR), ttr=hs.Exponential(mean=10 * HOUR))
    hs.Domain(sim, "eu", kind="region", failures=slow)
    for zone in ("az1", "az2"):
        hs.Domain(sim, zone, parent="eu", failures=slow)
    web = [hs.Server(sim, f"web{i}", zone=("az1", "az2")[i % 2], failures=EXP) for i in range(4)]
    hs.Domain(sim, "psu", kind="group", members=[web[0], web[1]], failures=slow)
    sim.up_when(hs.k_of_n(2, web))


def zones_with_a_lambda(sim):
    hs.Domain(sim, "az1", failures=EXP)
    nodes = [hs.Node(sim, f"n{i}", zone="az1" if i else None, failures=EXP) for i in range(3)]
    sim.up_when(lambda: nodes[0].up or (nodes[1].up and nodes[2].up))


@pytest.mark.parametrize("build", [zones_and_a_region, zones_with_a_lambda])
def test_lean_engine_runs_failure_domains_like_the_general_engine(build):
    """Members follow their domain at the same instant, blamed on the root: same numbers."""
    _same(build)
    _, events, _ = _summary(build, "events")
    _, lean, _ = _summary(build, "lean")
    assert list(events.system_log) == list(lean.system_log)  # same causes, same times


def test_an_experiment_on_every_engine_gives_the_same_table():
    """Experiment(engine=...) picks how runs execute; the numbers do not depend on it."""

    def cluster(sim, mttf=100 * HOUR):
        f = hs.Failures(ttf=hs.Exponential(mean=mttf), ttr=hs.Exponential(mean=5 * HOUR))
        sim.up_when(hs.k_of_n(2, [hs.Node(sim, f"n{i}", failures=f) for i in range(3)]))

    tables = []
    for engine in ("events", "lean", "vector"):
        exp = hs.Experiment({"c": cluster}, horizon="2y", reps=3, engine=engine)
        tables.append(exp.run(executor="serial").runs[["uptime", "incidents", "mttr"]])
    assert tables[0].equals(tables[1]) and tables[1].equals(tables[2])
    with pytest.raises(hs.ConfigError, match=r"Experiment: engine must be one of"):
        hs.Experiment({"c": cluster}, horizon="2y", reps=3, engine="gpu")
