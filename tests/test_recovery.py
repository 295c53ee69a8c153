"""Recovery phases of component failures: time to detect, to fail over, to repair."""

import math

import pytest

import hasim as hs


@pytest.fixture
def pair(sim):
    """Two servers behind a balancer probing every second, no jitter, 2 failed probes to eject."""
    web = [hs.Server(sim, f"web{i}", service_time=hs.Deterministic(0.1)) for i in range(2)]
    check = hs.HealthCheck(interval=1.0, timeout=0.5, unhealthy_after=2, jitter=False)
    lb = hs.LoadBalancer(sim, "lb", backends=web, health_check=check)
    client = hs.Client(sim, "c", target=lb)
    return web, lb, client


def test_detect_fail_over_and_repair_of_one_crash(sim, at, pair, assert_conserved):
    """web0 crashes at 10.3: probes at 11 and 12 are refused -> unhealthy at 12 (TTD 1.7);
    a request at 12.5 goes to web1 and is answered at 12.6 (failover 2.3); repair at 30."""
    (web0, web1), lb, client = pair
    at(10.3, web0.fail)
    at(12.5, client.issue)
    at(30.0, web0.recover)
    result = sim.run(until=40)
    (f,) = result.failure_list()
    assert (f.component, f.detected_by) == ("web0", "lb")
    assert f.ttd == pytest.approx(1.7)
    assert f.failover == pytest.approx(2.3)
    assert f.repair == pytest.approx(19.7)
    s = result.summary()
    assert s["mttd"] == pytest.approx(1.7) and s["failover_time"] == pytest.approx(2.3)
    table = result.failures()
    assert list(table.columns) == [
        "component",
        "failed",
        "ttd",
        "detected_by",
        "failover",
        "repair",
    ]
    assert_conserved(result, sim)


def test_a_failure_repaired_before_detection_has_no_ttd(sim, at, pair):
    """Down from 10.3 to 10.8: no probe saw it; TTD and failover are undefined, repair 0.5."""
    (web0, _), _, _ = pair
    at(10.3, web0.fail)
    at(10.8, web0.recover)
    (f,) = sim.run(until=20).failure_list()
    assert math.isnan(f.ttd) and math.isnan(f.failover) and f.detected_by is None
    assert f.repair == pytest.approx(0.5)


def test_failover_waits_for_an_ok_answer_from_another_component(sim, at, pair):
    """No traffic after the detection: the failover never completes (NaN), TTD still counts."""
    (web0, _), _, _ = pair
    at(10.3, web0.fail)
    (f,) = sim.run(until=20).failure_list()
    assert f.ttd == pytest.approx(1.7)
    assert math.isnan(f.failover) and math.isnan(f.repair)


def test_incidents_carry_the_phases_of_the_failure_that_caused_them(sim, at, pair):
    """The system is down while web0 is (series predicate): the incident has web0's phases."""
    (web0, _), lb, client = pair
    sim.up_when(lambda: web0.up)
    at(10.3, web0.fail)
    at(12.5, client.issue)
    at(30.0, web0.recover)
    table = sim.run(until=40).incidents()
    row = table.iloc[0]
    assert row["cause"] == "web0"
    assert (row["ttd"], row["failover"], row["repair"]) == pytest.approx((1.7, 2.3, 19.7))
