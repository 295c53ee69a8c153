"""Every ready model builds, runs, and honours its PARAMS contract; each design does what it says.

The generic tests run every model with the experiment's own workload adapter (an open loop,
which becomes reads and writes of keys for a design holding a replicated store). The
per-model tests drive faults by hand (``hs.Chaos`` at fixed times) with random failures made
too rare to happen (``QUIET``), so the structure predicates and failovers are checked at exact
times.
"""

import importlib
import pkgutil

import pytest

import hasim as hs
import hasim.models
from hasim.experiment.design import as_workload
from hasim.models import (
    active_passive,
    lb_cluster,
    quorum_kv,
    raft_cluster,
    redundant_lb,
    single_server,
    three_tier,
    zone_spread,
)
from hasim.replication import KVWorkload

MODEL_NAMES = sorted(m.name for m in pkgutil.iter_modules(hasim.models.__path__))

#: Random failures that never come within a test's horizon (every server-like node).
QUIET = {"mttf": 1e12}


def system_down(result: hs.RunResult) -> list[tuple[float, float]]:
    """The ``(start, end)`` intervals in which the system was down."""
    t = result.timeline()
    rows = t[(t["component"] == "system") & (t["state"] == "down")].sort_values("start")
    return [(float(s), float(e)) for s, e in zip(rows["start"], rows["end"], strict=True)]


def outcomes(result: hs.RunResult, after: float = 0.0, before: float = float("inf")) -> set:
    """The outcomes of the requests issued in ``(after, before)``."""
    r = result.requests()
    return set(r[(r["issued"] > after) & (r["issued"] < before)]["outcome"])


# -- every model -----------------------------------------------------------------------------


def test_models_are_found():
    assert {
        "single_server",
        "active_passive",
        "lb_cluster",
        "zone_spread",
        "three_tier",
        "quorum_kv",
        "raft_cluster",
        "redundant_lb",
    } <= set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_builds_an_entry_service_and_runs(name):
    """build(sim, **PARAMS) returns a service that a client can load; the run conserves requests."""
    model = importlib.import_module(f"hasim.models.{name}")
    assert isinstance(model.PARAMS, dict) and model.__doc__
    for param in model.PARAMS:  # the docstring says what every parameter means
        assert f"``{param}``" in model.__doc__, param
    sim = hs.Simulation(seed=1)
    entry = model.build(sim, **model.PARAMS)
    assert callable(entry.submit)
    as_workload(getattr(model, "WORKLOAD", None) or {"rate": 50, "timeout": 1.0})(sim, entry)
    s = sim.run(until=120, warmup=10).summary()
    assert s["issued"] > 0 and s["ok"] > 0
    assert s["issued"] == s["ok"] + s["failed"] + s["in_flight"]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_rejects_unknown_parameters(name):
    model = importlib.import_module(f"hasim.models.{name}")
    with pytest.raises(hs.ConfigError, match=f"{name}: unknown parameter.*no_such_knob"):
        model.build(hs.Simulation(seed=1), no_such_knob=3)


def test_a_server_fails_at_the_same_times_in_every_design_that_has_it():
    """Common random numbers: web0..web2 and lb draw the same failures in every design."""

    def crashes(model, **params):
        sim = hs.Simulation(seed=5)
        model.build(sim, mttf=400.0, mttr=30.0, lb_mttf=900.0, **params)
        f = sim.run(until=3000).faults()
        f = f[~f["derived"] & f["target"].isin(["web0", "web1", "web2", "lb"])]
        return sorted(zip(f["target"], f["start"].round(9), strict=True))

    reference = crashes(lb_cluster)
    assert len(reference) >= 10
    assert crashes(zone_spread, zones=3) == reference
    assert crashes(redundant_lb) == reference
    assert crashes(three_tier, db_mttf=1e12) == reference


# -- single_server ---------------------------------------------------------------------------


def test_single_server_parameters_reach_the_server():
    sim = hs.Simulation(seed=1)
    web = single_server.build(sim, workers=3, queue_limit=5, mttf=100.0)
    assert (web.workers, web.queue_limit) == (3, 5)
    assert web.failures.ttf == hs.Exponential(mean=100.0)


# -- lb_cluster ------------------------------------------------------------------------------


def test_lb_cluster_parameters_reach_the_balancer_and_servers():
    sim = hs.Simulation(seed=1)
    lb = lb_cluster.build(
        sim, servers=4, workers=2, policy="least_outstanding", check_interval=7.0,
        check_timeout=0.5, unhealthy_after=3, lb_timeout=1.5, lb_mttf=1000.0,
    )  # fmt: skip
    assert [b.name for b in lb.backends] == ["web0", "web1", "web2", "web3"]
    assert all(b.service.workers == 2 for b in lb.backends)
    assert lb.health_check == hs.HealthCheck(
        interval=7.0, timeout=0.5, unhealthy_after=3, healthy_after=3
    )
    assert isinstance(lb.policy, hs.LeastOutstanding) and lb.timeout == 1.5
    assert lb.failures.ttf == hs.Exponential(mean=1000.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"servers": 3, "needed": 4}, r"lb_cluster: needed must be None or an integer in \[1, "),
        ({"needed": 0}, "lb_cluster: needed must be"),
        ({"servers": 0}, "lb_cluster: servers must be an integer >= 1, got 0"),
        ({"policy": "fastest"}, "lb_cluster: policy must be one of .*got 'fastest'"),
        ({"check_interval": 0}, "HealthCheck: interval must be"),
        ({"workers": 0}, "Server 'web0': workers must be"),
    ],
)
def test_lb_cluster_rejects_bad_values(params, message):
    with pytest.raises(hs.ConfigError, match=message):
        lb_cluster.build(hs.Simulation(seed=1), **params)


def test_lb_cluster_is_down_exactly_while_fewer_than_needed_servers_are_up():
    """3 servers, 2 needed: one crash costs nothing, the second overlapping one is downtime,
    and so is the balancer's crash."""
    sim = hs.Simulation(seed=1)
    lb_cluster.build(sim, lb_mttf=1e12, **QUIET)
    hs.Chaos(sim, [hs.Crash("web0", at=10, duration=20), hs.Crash("web1", at=20, duration=20),
                   hs.Crash("lb", at=50, duration=5)])  # fmt: skip
    assert system_down(sim.run(until=60)) == [(20.0, 30.0), (50.0, 55.0)]


def test_lb_cluster_needed_sets_the_predicate():
    sim = hs.Simulation(seed=1)
    lb_cluster.build(sim, servers=3, needed=1, lb_mttf=1e12, **QUIET)
    hs.Chaos(sim, [hs.Crash("web0", at=10, duration=20), hs.Crash("web1", at=20, duration=20)])
    assert system_down(sim.run(until=60)) == []


def test_lb_cluster_takes_a_crashed_server_out_of_rotation():
    """Requests to the crashed server fail until unhealthy_after probes have failed; then
    the other two serve everything."""
    sim = hs.Simulation(seed=1)
    lb = lb_cluster.build(sim, check_interval=1.0, unhealthy_after=2, lb_mttf=1e12, **QUIET)
    hs.Chaos(sim, [hs.Crash("web0", at=10, duration=100)])
    hs.OpenLoop(sim, "users", target=lb, rate=30, timeout=1.0)
    result = sim.run(until=30)
    assert outcomes(result, before=9.9) == {"ok"}
    assert "error" in outcomes(result, 10, 12)
    assert outcomes(result, after=12.5) == {"ok"}


# -- zone_spread -----------------------------------------------------------------------------


def _zone_outage(zones: int) -> hs.RunResult:
    sim = hs.Simulation(seed=1)
    lb = zone_spread.build(sim, zones=zones, zone_mttf=1e12, lb_mttf=1e12, **QUIET)
    hs.Chaos(sim, [hs.ZoneOutage("az1", at=100, duration=60)])
    hs.OpenLoop(sim, "users", target=lb, rate=20, timeout=1.0)
    return sim.run(until=200)


def test_zone_spread_over_three_zones_survives_a_zone_outage_one_zone_does_not():
    spread, single = _zone_outage(3), _zone_outage(1)
    assert system_down(spread) == []
    assert system_down(single) == [(100.0, 160.0)]
    # Spread: web0 fails its share until the checks take it out (<= 10 s of 1/3 of 20 req/s).
    assert spread.summary()["availability"] > 0.98
    assert outcomes(single, 101, 159) <= {"error", "rejected"}
    assert single.summary()["availability"] < 0.75


def test_zone_spread_places_servers_round_robin_and_prices_cross_zone_hops():
    sim = hs.Simulation(seed=1)
    zone_spread.build(sim, servers=4, zones=3, same_zone_latency=0.001, cross_zone_latency=0.01)
    assert [sim[f"web{i}"].zone for i in range(4)] == ["az1", "az2", "az3", "az1"]
    assert all(isinstance(sim[z], hs.Domain) for z in ("az1", "az2", "az3"))
    net = hs.network.get(sim)
    assert net.latency_between("lb", "web0") == hs.Exponential(mean=0.001)
    assert net.latency_between("lb", "web1") == hs.Exponential(mean=0.01)
    assert net.latency_between("web1", "web2") == hs.Exponential(mean=0.01)


def test_zone_spread_zones_draw_the_same_outages_whatever_their_number():
    def outages(zones):
        sim = hs.Simulation(seed=3)
        zone_spread.build(sim, zones=zones, zone_mttf=500.0, zone_mttr=50.0, **QUIET)
        f = sim.run(until=5000).faults()
        return list(f[f["target"] == "az1"]["start"])

    assert len(outages(1)) >= 3 and outages(1) == outages(3)


@pytest.mark.parametrize("zones", [0, 4, 1.5])
def test_zone_spread_rejects_more_zones_than_servers(zones):
    with pytest.raises(hs.ConfigError, match=r"zone_spread: zones must be an integer in \[1, "):
        zone_spread.build(hs.Simulation(seed=1), servers=3, zones=zones)


# -- active_passive --------------------------------------------------------------------------


def test_active_passive_parameters_reach_the_pair():
    sim = hs.Simulation(seed=1)
    pair = active_passive.build(
        sim, heartbeat=2.0, heartbeat_timeout=7.0, promotion_delay=4.0, coverage=0.5,
        failback="auto", workers=3,
    )  # fmt: skip
    assert (pair.heartbeat, pair.timeout, pair.coverage, pair.failback) == (2.0, 7.0, 0.5, "auto")
    assert pair.promotion_delay.mean == 4.0
    assert (pair.primary.name, pair.standby.name) == ("web0", "web1")
    assert sim["web1"].workers == 3


def test_active_passive_promotes_the_standby_when_the_primary_crashes():
    """web0 crashes at 50.5: suspected 3 s after its last heartbeat (at 50), promoted 5 s
    later; the system is down exactly from the crash to the promotion, then web1 serves."""
    sim = hs.Simulation(seed=1)
    pair = active_passive.build(sim, coverage=1.0, **QUIET)
    hs.Chaos(sim, [hs.Crash("web0", at=50.5, duration=1000)])
    hs.OpenLoop(sim, "users", target=pair, rate=20, timeout=1.0)
    result = sim.run(until=100)
    (record,) = pair.records
    assert record["outcome"] == "promoted" and record["promoted"] == pytest.approx(58.0)
    assert pair.active_name == "web1"
    assert system_down(result) == [(50.5, pytest.approx(58.0))]
    assert outcomes(result, 51, 57.9) <= {"error", "rejected"}
    assert outcomes(result, after=58.1) == {"ok"}
    assert result.requests().query("issued > 58.1")["responder"].eq("web1").all()


def test_active_passive_a_failed_promotion_waits_for_the_repair():
    """coverage=0: the promotion fails and the pair is down until web0 is back."""
    sim = hs.Simulation(seed=1)
    pair = active_passive.build(sim, coverage=0.0, **QUIET)
    hs.Chaos(sim, [hs.Crash("web0", at=50.5, duration=30)])
    result = sim.run(until=100)
    assert [r["outcome"] for r in pair.records] == ["failed"] and pair.active_name == "web0"
    assert system_down(result) == [(50.5, 80.5)]


def test_active_passive_a_standby_crash_costs_nothing():
    sim = hs.Simulation(seed=1)
    pair = active_passive.build(sim, **QUIET)
    hs.Chaos(sim, [hs.Crash("web1", at=10, duration=30)])
    hs.OpenLoop(sim, "users", target=pair, rate=20, timeout=1.0)
    result = sim.run(until=60)
    assert system_down(result) == [] and outcomes(result) == {"ok"}


# -- redundant_lb ----------------------------------------------------------------------------


def test_redundant_lb_survives_the_active_balancers_crash():
    """lb crashes at 50.5 for good: lb2 takes over after detection (3 s) and promotion (2 s)."""
    sim = hs.Simulation(seed=1)
    pair = redundant_lb.build(sim, coverage=1.0, lb_mttf=1e12, **QUIET)
    hs.Chaos(sim, [hs.Crash("lb", at=50.5, duration=1000)])
    hs.OpenLoop(sim, "users", target=pair, rate=20, timeout=1.0)
    result = sim.run(until=100)
    assert pair.active_name == "lb2" and pair.failovers == 1
    assert system_down(result) == [(50.5, pytest.approx(55.0))]
    assert outcomes(result, after=55.1) == {"ok"}
    assert sum(b.sent for b in sim["lb2"].backends) > 0
    # Both balancers probe the servers, and a server crash is still covered by N+1.
    assert sim["lb"].health_check == sim["lb2"].health_check


def test_redundant_lb_parameters_reach_the_pair_and_both_balancers():
    sim = hs.Simulation(seed=1)
    pair = redundant_lb.build(sim, servers=5, heartbeat=0.5, heartbeat_timeout=2.0, lb_mttf=99.0)
    assert (pair.primary.name, pair.standby.name) == ("lb", "lb2")
    assert (pair.heartbeat, pair.timeout, pair.failback) == (0.5, 2.0, "stay")
    for lb in (sim["lb"], sim["lb2"]):
        assert len(lb.backends) == 5 and lb.failures.ttf == hs.Exponential(mean=99.0)


def test_redundant_lb_is_down_while_too_few_servers_are_up():
    sim = hs.Simulation(seed=1)
    redundant_lb.build(sim, lb_mttf=1e12, **QUIET)
    hs.Chaos(sim, [hs.Crash("web0", at=10, duration=20), hs.Crash("web2", at=20, duration=20),
                   hs.Crash("lb2", at=40, duration=20)])  # fmt: skip
    assert system_down(sim.run(until=60)) == [(20.0, 30.0)]


# -- quorum_kv -------------------------------------------------------------------------------


def test_quorum_kv_parameters_reach_the_store():
    sim = hs.Simulation(seed=1)
    store = quorum_kv.build(sim, replicas=5, r=1, w=3, coordinator_timeout=0.4)
    assert (store.n, store.r, store.w, store.coordinator_timeout) == (5, 1, 3, 0.4)
    assert [r.name for r in store.replicas] == [f"db{i}" for i in range(5)]
    with pytest.raises(hs.ConfigError, match=r"QuorumStore 'db': r must be an integer in \[1, n=3"):
        quorum_kv.build(hs.Simulation(seed=1), r=4)


def test_quorum_kv_serves_with_one_replica_down_not_with_two():
    """2-of-3: db0 down from 20 s costs the operations until it is suspected (one coordinator
    timeout), then nothing; db1 down as well from 60 s takes the system down."""
    sim = hs.Simulation(seed=1)
    store = quorum_kv.build(sim, **QUIET)
    hs.Chaos(sim, [hs.Crash("db0", at=20, duration=1000), hs.Crash("db1", at=60, duration=1000)])
    KVWorkload(sim, "users", target=store, rate=50, read_share=0.5, keys=20, timeout=2.0)
    result = sim.run(until=80)
    assert system_down(result) == [(60.0, 80.0)]
    assert outcomes(result, before=20) == {"ok"}
    assert outcomes(result, 22, 60) == {"ok"}
    assert "ok" not in outcomes(result, 62, 78)


def test_quorum_kv_up_needs_max_of_r_and_w():
    sim = hs.Simulation(seed=1)
    quorum_kv.build(sim, r=1, w=3, **QUIET)
    hs.Chaos(sim, [hs.Crash("db2", at=10, duration=5)])
    assert system_down(sim.run(until=20)) == [(10.0, 15.0)]


# -- raft_cluster ----------------------------------------------------------------------------


def test_raft_cluster_elects_a_leader_and_serves_writes():
    """The first election starts within [election_timeout, 2 election_timeout]; once a leader
    is elected every write commits."""
    sim = hs.Simulation(seed=1)
    kv = raft_cluster.build(sim, nodes=5, election_timeout=0.5, heartbeat=0.05, **QUIET)
    KVWorkload(sim, "users", target=kv, rate=50, read_share=0.0, keys=20, timeout=2.0)
    result = sim.run(until=20)
    assert 0.5 <= kv.elections[0]["start"] <= 1.0 + 0.01
    elected = kv.leaders[0][0]
    assert elected < 2.0 and kv.majority == 3
    assert outcomes(result, after=elected) == {"ok"}
    assert len(kv.committed) > 0.9 * 50 * (20 - elected)
    assert not kv.violations


def test_raft_cluster_reelects_after_the_leader_crashes_and_is_up_while_a_majority_is():
    sim = hs.Simulation(seed=2)
    kv = raft_cluster.build(sim, election_timeout=0.5, heartbeat=0.05, **QUIET)
    KVWorkload(sim, "users", target=kv, rate=50, read_share=0.0, keys=20, timeout=2.0)
    first = {}
    sim.call_later(5.0, lambda _: first.update(leader=kv.leader.name))
    sim.call_later(5.0, lambda _: kv.leader.fail())
    result = sim.run(until=15)
    assert len(kv.leaders) == 2 and kv.leaders[1][2] != first["leader"]
    assert system_down(result) == []  # 2 of 3 up: a majority, an election notwithstanding
    assert outcomes(result, after=kv.leaders[1][0] + 0.1) == {"ok"}
    assert 0 < result.summary()["availability"] < 1  # the election's price

    sim = hs.Simulation(seed=2)
    raft_cluster.build(sim, **QUIET)
    hs.Chaos(sim, [hs.Crash("db0", at=10, duration=10), hs.Crash("db2", at=15, duration=10)])
    assert system_down(sim.run(until=30)) == [(15.0, 20.0)]


# -- three_tier ------------------------------------------------------------------------------


def test_three_tier_serves_requests_end_to_end():
    """lb -> web (own work, then a database call) -> db primary: the answer is the primary's."""
    sim = hs.Simulation(seed=1)
    lb = three_tier.build(sim, **QUIET, db_mttf=1e12, lb_mttf=1e12)
    KVWorkload(sim, "users", target=lb, rate=50, read_share=0.5, keys=20, timeout=2.0)
    result = sim.run(until=20)
    requests = result.requests()
    assert set(requests["outcome"]) == {"ok"} and set(requests["responder"]) == {"db0"}
    assert all(sim[f"web{i}"].calls > 0 for i in range(3))
    assert len(requests) <= sum(b.sent for b in lb.backends) <= result.summary()["issued"]
    assert requests["latency"].min() > 0


def test_three_tier_parameters_reach_the_tiers():
    sim = hs.Simulation(seed=1)
    lb = three_tier.build(sim, servers=4, app_timeout=0.7, deep_health=True, db_replicas=2,
                          db_mode="sync", db_acks=0, db_heartbeat=0.5)  # fmt: skip
    app = [b.service for b in lb.backends]
    assert [a.name for a in app] == ["web0", "web1", "web2", "web3"]
    assert all(isinstance(a, hs.AppServer) and a.backend is sim["db"] for a in app)
    assert (app[0].timeout, app[0].deep_health) == (0.7, True)
    db = sim["db"]
    assert (len(db.replicas), db.mode, db.acks, db.heartbeat) == (2, "sync", 0, 0.5)


def test_three_tier_fails_over_when_the_database_primary_crashes():
    """db0 crashes at 30.5: the manager suspects it db_timeout after its last heartbeat,
    promotes the most up-to-date backup db_promotion_delay later; the system is down in
    between, and the new primary answers afterwards."""
    sim = hs.Simulation(seed=1)
    lb = three_tier.build(
        sim, db_heartbeat=1.0, db_timeout=3.0, db_promotion_delay=1.0, db_mttf=1e12,
        lb_mttf=1e12, **QUIET,
    )  # fmt: skip
    db = sim["db"]
    assert (db.mode, db.acks, len(db.replicas)) == ("semi-sync", 1, 3)
    hs.Chaos(sim, [hs.Crash("db0", at=30.5, duration=1000)])
    KVWorkload(sim, "users", target=lb, rate=50, read_share=0.5, keys=20, timeout=2.0)
    result = sim.run(until=60)
    (record,) = db.records
    assert record["outcome"] == "promoted" and db.primary.name != "db0"
    assert 33.0 <= record["promoted"] <= 34.6
    (down,) = system_down(result)
    assert down == (30.5, pytest.approx(record["promoted"]))
    assert outcomes(result, after=record["promoted"] + 0.1) == {"ok"}
    assert set(outcomes(result, 31, record["promoted"] - 0.1)) <= {"error", "rejected"}


def test_three_tier_is_down_when_too_few_backups_can_acknowledge():
    sim = hs.Simulation(seed=1)
    three_tier.build(sim, db_mttf=1e12, lb_mttf=1e12, **QUIET)
    hs.Chaos(sim, [hs.Crash("db1", at=10, duration=20), hs.Crash("db2", at=20, duration=20)])
    assert system_down(sim.run(until=50)) == [(20.0, 30.0)]
