"""RunResult: summary, requests, incidents, timeline and series over the measured window."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import hasim as hs

TEN_TWO = hs.Failures(ttf=hs.Deterministic(10), ttr=hs.Deterministic(2))


def _web(sim, **kwargs) -> hs.Server:
    return hs.Server(sim, "web", service_time=hs.Deterministic(1.0), **kwargs)


# --- requests: counts, in flight, warm-up ---------------------------------------------------------


def test_availability_counts_ok_over_answered(sim, at, assert_conserved):
    """4 requests, one caught by a crash: availability 3/4, throughput 3 ok over 10 s."""
    web = _web(sim)
    client = hs.Client(sim, "c", target=web)
    for t in (0, 2, 4, 6):
        at(t, client.issue)
    at(4.5, web.fail)
    at(5.5, web.recover)
    result = sim.run(until=10)
    s = result.summary()
    assert (s["issued"], s["ok"], s["error"], s["failed"], s["in_flight"]) == (4, 3, 1, 1, 0)
    assert s["availability"] == 0.75
    assert s["nines"] == -math.log10(0.25)
    assert s["throughput"] == 0.3
    assert s["latency_mean"] == 1.0 and s["latency_p50"] == 1.0
    assert_conserved(result, sim)


def test_a_run_without_requests(sim):
    """No traffic: availability is undefined (NaN), throughput 0, uptime still exact."""
    hs.Node(sim, "n", failures=TEN_TWO)
    s = sim.run(until=20).summary()
    assert (s["issued"], s["in_flight"], s["throughput"]) == (0, 0, 0.0)
    assert math.isnan(s["availability"]) and math.isnan(s["latency_p50"])
    assert s["uptime"] == 1 - 2 / 20


def test_requests_still_unanswered_at_the_end_are_in_flight(sim, at, assert_conserved):
    """A request issued at 9.5 that takes 1 s is in flight when the run stops at 10."""
    client = hs.Client(sim, "c", target=_web(sim))
    at(1, client.issue)
    at(9.5, client.issue)
    result = sim.run(until=10)
    s = result.summary()
    assert (s["issued"], s["ok"], s["in_flight"]) == (2, 1, 1)
    assert [r.issued for r in client.outstanding.values()] == [9.5]
    assert list(result.requests()["issued"]) == [1]
    assert_conserved(result, sim)


def test_warmup_excludes_requests_issued_before_it(sim, at, assert_conserved):
    """Warm-up 4.5: requests issued at 5..9 count; the one issued at 4 (answered at 5) does not."""
    client = hs.Client(sim, "c", target=_web(sim))
    for t in range(1, 10):
        at(t, client.issue)
    result = sim.run(until=10, warmup=4.5)
    s = result.summary()
    assert (s["window"], s["issued"], s["ok"], s["in_flight"]) == (5.5, 5, 4, 1)
    assert list(result.requests()["issued"]) == [5, 6, 7, 8]
    assert_conserved(result, sim)


def test_requests_columns_and_dtypes(sim, at, assert_conserved):
    """One row per measured request that ended, in issue order, with typed columns."""
    web = _web(sim, queue_limit=0)
    client = hs.Client(sim, "c", target=web, timeout=5)
    at(0, client.issue)
    at(0.5, client.issue)  # rejected: the worker is busy, no queue
    at(2, client.issue)
    result = sim.run(until=10)
    table = result.requests()
    assert list(table.columns) == [
        "id",
        "client",
        "issued",
        "ended",
        "latency",
        "outcome",
        "responder",
        "attempts",
    ]
    assert table["id"].dtype == np.int64
    for column in ("issued", "ended", "latency"):
        assert table[column].dtype == np.float64
    assert isinstance(table["outcome"].dtype, pd.CategoricalDtype)
    assert list(table["outcome"].cat.categories) == list(hs.OUTCOMES)
    assert pd.api.types.is_integer_dtype(table["attempts"])
    assert list(table["id"]) == sorted(table["id"])
    assert list(table["outcome"]) == ["ok", "rejected", "ok"]
    assert list(table["client"]) == ["c"] * 3 and list(table["responder"]) == ["web"] * 3
    assert list(table["latency"]) == [1.0, 0.0, 1.0]
    assert (table["latency"] == table["ended"] - table["issued"]).all()
    assert list(table["attempts"]) == [1, 1, 1]
    assert_conserved(result, sim)


# --- incidents ------------------------------------------------------------------------------------


def test_incidents_of_a_deterministic_schedule(sim):
    """ttf 10, ttr 2, 35 s: down [10, 12], [22, 24] and from 34 on (ongoing at the end)."""
    hs.Node(sim, "db", failures=TEN_TWO)
    result = sim.run(until=35)
    table = result.incidents()
    assert list(table.columns) == [
        "start", "end", "ttr", "ongoing", "cause", "restored_by", "ttd", "failover", "repair"
    ]  # fmt: skip
    assert table["ttd"].isna().all()  # nobody watches the node: nothing detects its failures
    assert list(table["repair"][:2]) == [2, 2]
    assert list(table["start"]) == [10, 22, 34]
    assert list(table["end"][:2]) == [12, 24] and math.isnan(table["end"][2])
    assert list(table["ttr"][:2]) == [2, 2] and math.isnan(table["ttr"][2])
    assert list(table["ongoing"]) == [False, False, True]
    assert list(table["cause"]) == ["db"] * 3
    assert list(table["restored_by"][:2]) == ["db", "db"] and pd.isna(table["restored_by"][2])
    s = result.summary()
    assert (s["incidents"], s["downtime"], s["mttr"], s["ttr_p50"], s["ttr_p95"]) == (3, 5, 2, 2, 2)
    assert s["uptime"] == 1 - 5 / 35
    assert s["uptime_nines"] == pytest.approx(-math.log10(5 / 35), rel=1e-12)


def test_incidents_that_began_in_the_warmup_are_not_listed(sim):
    """Warm-up 11: the incident [10, 12] belongs to the warm-up, but its last second is downtime."""
    hs.Node(sim, "db", failures=TEN_TWO)
    result = sim.run(until=35, warmup=11)
    assert list(result.incidents()["start"]) == [22, 34]
    s = result.summary()
    assert (s["window"], s["incidents"], s["downtime"], s["mttr"]) == (24, 2, 1 + 2 + 1, 2)
    assert s["uptime"] == 1 - 4 / 24


def test_an_instant_repair_is_no_incident(sim):
    """ttr 0: the node goes down and up at the same instant; no down interval, no incident."""
    hs.Node(sim, "db", failures=hs.Failures(ttf=10, ttr=0))
    s = sim.run(until=35).summary()
    assert (s["incidents"], s["downtime"], s["uptime"]) == (0, 0.0, 1.0)


def test_a_run_without_incidents_has_typed_columns(sim):
    hs.Node(sim, "db")
    table = sim.run(until=5).incidents()
    assert table.empty
    assert table.dtypes["start"] == np.float64 and table.dtypes["ongoing"] == np.bool_


def test_incident_list_gives_objects(sim):
    """``incident_list()`` has the same incidents as objects, with ``ttr`` and ``ongoing``."""
    hs.Node(sim, "db", failures=TEN_TWO)
    first, last = sim.run(until=35).incident_list()[::2]
    assert (first.start, first.end, first.ttr, first.ongoing) == (10, 12, 2, False)
    assert last.ongoing and math.isnan(last.ttr)


# --- aggregate mode -------------------------------------------------------------------------------


def _busy_run(record: str) -> hs.RunResult:
    sim = hs.Simulation(seed=11, record=record)
    web = hs.Server(
        sim,
        "web",
        workers=2,
        service_time=hs.Exponential(mean=0.02),
        failures=hs.Failures(ttf=hs.Exponential(mean=20), ttr=hs.Exponential(mean=1)),
    )
    hs.OpenLoop(sim, "users", target=web, rate=60, timeout=0.2)
    return sim.run(until=100, warmup=5)


def test_aggregate_mode_gives_the_same_counts_and_mean_latency(assert_conserved):
    """Same seed, ``record="aggregate"``: counts and mean latency exact, percentiles to 0.5 %."""
    exact, aggregate = _busy_run("requests"), _busy_run("aggregate")
    e, a = exact.summary(), aggregate.summary()
    assert e["ok"] > 4000 and e["failed"] > 0
    assert_conserved(exact)
    assert_conserved(aggregate)
    for key in (
        "issued",
        "in_flight",
        "failed",
        "availability",
        "uptime",
        "incidents",
        "latency_mean",
    ):
        assert a[key] == e[key], key
    for outcome in hs.OUTCOMES:
        assert a[outcome] == e[outcome], outcome
    for key in ("latency_p50", "latency_p95", "latency_p99", "latency_p999"):
        assert a[key] == pytest.approx(e[key], rel=0.005), key


def test_requests_in_aggregate_mode_is_a_clear_error(assert_conserved):
    """Without per-request records there is no request table."""
    result = _busy_run("aggregate")
    assert result.summary()["issued"] > 0
    assert_conserved(result)
    with pytest.raises(
        hs.SimulationError,
        match=r"^RunResult.requests\(\) needs per-request records; "
        r"run with Simulation\(record='requests'\)$",
    ):
        result.requests()


# --- series and timeline --------------------------------------------------------------------------


def test_series_sums_equal_the_counts(assert_conserved):
    """``series()`` has 1000 buckets over the window whose ok and failed sum to the counts."""
    result = _busy_run("requests")
    assert_conserved(result)
    series, s = result.series(), result.summary()
    assert len(series) == 1000
    assert series["start"].iloc[0] == 5 and series["start"].iloc[1] == pytest.approx(5 + 95 / 1000)
    assert series["ok"].sum() == s["ok"]
    assert series["failed"].sum() == s["failed"]
    assert series["throughput"].sum() * 95 / 1000 == pytest.approx(s["ok"])


def test_series_puts_each_answer_in_the_bucket_of_its_end(sim, at, assert_conserved):
    """Buckets of 10 ms: answers at 1, 9.985 (two) and 9.995 land in buckets 100, 998, 999."""
    client = hs.Client(sim, "c", target=_web(sim, workers=3))
    for t in (0, 8.985, 8.985, 8.995):
        at(t, client.issue)
    result = sim.run(until=10)
    ok = result.series()["ok"].to_numpy()
    assert {int(i): int(ok[i]) for i in np.flatnonzero(ok)} == {100: 1, 998: 2, 999: 1}
    assert_conserved(result, sim)


def _tiles(intervals: pd.DataFrame, start: float, end: float) -> None:
    intervals = intervals.sort_values("start")
    starts, ends = intervals["start"].to_numpy(), intervals["end"].to_numpy()
    assert starts[0] == start and ends[-1] == end
    assert (starts[1:] == ends[:-1]).all()
    assert (intervals["duration"] > 0).all()
    assert intervals["duration"].sum() == pytest.approx(end - start, rel=1e-12)


def test_timeline_intervals_tile_the_window_for_every_component():
    """Each node's (and the system's) intervals cover [warmup, until] without gap or overlap."""
    sim = hs.Simulation(seed=4)
    ops = hs.RepairCrews(sim, "ops", crews=1)
    failures = hs.Failures(ttf=hs.Exponential(mean=15), ttr=hs.Exponential(mean=3), crews=ops)
    nodes = [hs.Server(sim, f"web{i}", failures=failures) for i in range(3)]
    sim.up_when(lambda: sum(n.up for n in nodes) >= 2)
    result = sim.run(until=500, warmup=20)
    timeline = result.timeline()
    assert set(timeline["component"]) == {"web0", "web1", "web2", "system"}
    for name, intervals in timeline.groupby("component"):
        assert len(intervals) > 3, name
        _tiles(intervals, 20, 500)
    down = timeline[(timeline["component"] == "system") & (timeline["state"] == "down")]
    assert down["duration"].sum() == pytest.approx(result.summary()["downtime"])


def test_percentiles_agree_across_record_modes_on_spread_out_latencies():
    """Both modes take the value at rank ceil(q n); only the histogram's 0.5 % bins differ.

    Deterministic service at rho 0.7 gives sorted latencies with large gaps,
    where linear interpolation and the rank definition would differ by more.
    """

    def run(record):
        sim = hs.Simulation(seed=1, record=record)
        server = hs.Server(sim, "s", workers=1, service_time=hs.Deterministic(1.0))
        hs.OpenLoop(sim, "u", target=server, rate=0.7)
        return sim.run(until=2e4, warmup=1e3).summary()

    aggregate, exact = run("aggregate"), run("requests")
    for q in ("latency_p50", "latency_p95", "latency_p99", "latency_p999"):
        assert aggregate[q] == pytest.approx(exact[q], rel=0.005)
