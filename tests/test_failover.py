"""ActivePassive: heartbeats, suspicion, promotion, coverage, failback, split brain.

The scenarios use deterministic timings: members heartbeat at 0, 1, 2, ... (``heartbeat=1``),
so a member that crashes at ``t`` sent its last heartbeat at ``floor(t)``; the manager
suspects it ``timeout`` later and promotes the standby ``promotion_delay`` after that.
"""

from __future__ import annotations

import math

import pytest

import hasim as hs
from hasim.failover import ACTIVE, STANDBY, ActivePassive


def pair(sim, **kw):
    p = hs.Server(sim, "p", service_time=0.01)
    s = hs.Server(sim, "s", service_time=0.01)
    ap = ActivePassive(sim, "ap", primary=p, standby=s, **kw)
    return p, s, ap


def ask(sim, ap, t, replies):
    """Submit a request to ``ap`` at time ``t``."""
    sim.call_later(t, lambda _: ap.submit(t, replies))


def test_detection_and_promotion_times(sim, at):
    """Suspicion at last heartbeat + timeout; promotion promotion_delay later."""
    p, s, ap = pair(sim, heartbeat=1.0, timeout=3.0, promotion_delay=5.0)
    crash = 10.5
    at(crash, p.fail)
    sim.run(until=30)
    suspected = math.floor(crash) + 3.0  # last heartbeat at 10, within one interval of crash
    assert crash + 3.0 - 1.0 < suspected <= crash + 3.0
    assert (suspected, "ap", "p", False) in sim.recorder.detections
    assert ap.records == [
        {"member": "p", "suspected": suspected, "promoted": suspected + 5.0, "outcome": "promoted"}
    ]
    assert ap.failovers == 1
    assert ap.active_name == "s"
    assert (suspected + 5.0, "s", ACTIVE) in ap.roles


def test_requests_fail_in_the_window_then_the_standby_serves(sim, at, replies):
    """Before detection: error (down primary); until promotion: rejected; then s serves."""
    p, s, ap = pair(sim)
    at(10.5, p.fail)
    for t in (5.0, 11.0, 15.0, 19.0):
        ask(sim, ap, t, replies)
    sim.run(until=30)
    got = {req: (outcome, by) for _, req, outcome, by in replies.log}
    assert got == {
        5.0: ("ok", "p"),
        11.0: ("error", "p"),
        15.0: ("rejected", "ap"),
        19.0: ("ok", "s"),
    }


@pytest.mark.parametrize(("failback", "active"), [("auto", "p"), ("stay", "s")])
def test_failback_policies(sim, at, failback, active):
    """auto: back to the primary after healthy_after heartbeats; stay: the standby keeps it."""
    p, s, ap = pair(sim, failback=failback, healthy_after=3)
    at(10.5, p.fail)
    at(40.0, p.recover)
    sim.run(until=60)
    assert ap.active_name == active
    assert ap.failovers == 1
    assert ap.failbacks == (failback == "auto")
    roles = {m.name: m.role for m in ap.members}
    assert roles == {active: ACTIVE, ({"p", "s"} - {active}).pop(): STANDBY}
    if failback == "auto":  # heartbeats at 40, 41, 42: healthy (and switched back) at 42
        assert (42.0, "ap", "p", True) in sim.recorder.detections
        assert (42.0, "p", ACTIVE) in ap.roles


def test_coverage_zero_never_fails_over(sim, at, replies):
    """A failed promotion leaves the service down until the primary heals."""
    p, s, ap = pair(sim, coverage=0.0)
    sim.up_when(lambda: ap.up)
    at(10.5, p.fail)
    at(40.0, p.recover)
    ask(sim, ap, 30.0, replies)
    ask(sim, ap, 45.0, replies)
    result = sim.run(until=60)
    assert ap.failovers == 0
    assert [r["outcome"] for r in ap.records] == ["failed"]
    assert ap.active_name == "p"
    assert [(o, by) for _, _, o, by in replies.log] == [("rejected", "ap"), ("ok", "p")]
    assert result.summary()["downtime"] == pytest.approx(40.0 - 10.5)


def test_manager_crash_ends_forwards_with_error(sim, at, replies):
    """In-flight forwards end with error at the crash; a down manager refuses."""
    p = hs.Server(sim, "p", service_time=1.0)
    s = hs.Server(sim, "s", service_time=1.0)
    ap = ActivePassive(sim, "ap", primary=p, standby=s)
    ask(sim, ap, 1.0, replies)
    at(1.5, ap.fail)
    ask(sim, ap, 2.0, replies)
    sim.run(until=5)
    assert [(t, o, by) for t, _, o, by in replies.log] == [
        (1.5, "error", "ap"),
        (2.0, "error", "ap"),
    ]


def test_manager_recovery_restarts_a_failover(sim, at):
    """A failover pending at a manager crash is abandoned and restarted after recovery."""
    p, s, ap = pair(sim)
    at(10.5, p.fail)
    at(15.0, ap.fail)  # suspected at 13, promotion due at 18
    at(20.0, ap.recover)
    sim.run(until=40)
    assert [r["outcome"] for r in ap.records] == ["abandoned", "promoted"]
    # the manager still suspects p after recovery: a new failover starts at once
    assert ap.records[1]["suspected"] == 20.0
    assert ap.records[1]["promoted"] == 25.0


def test_false_suspicion_produces_split_brain(sim):
    """A 10 s link p <-> ap: p suspected at 3, s promoted at 8, the demotion reaches p at 18."""
    net = hs.Network(sim)
    net.set_latency("p", "ap", 10.0)
    p, s, ap = pair(sim, failback="stay")
    result = sim.run(until=30)
    assert ap.records[0]["promoted"] == 8.0
    assert (8.0, "s", ACTIVE) in ap.roles
    assert (18.0, "p", STANDBY) in ap.roles
    assert ap.split_brain_time(result) == pytest.approx(10.0)
    assert ap.split_brain_time(start=9.0, end=20.0) == pytest.approx(9.0)
    assert result.summary()["split_brain"] == pytest.approx(10.0)


def test_restart_without_demotion_is_split_brain_until_corrected(sim, at):
    """A repaired ex-active believes it is active until its heartbeat is answered."""
    net = hs.Network(sim)
    net.set_latency("ap", "p", 0.5)  # both ways
    p, s, ap = pair(sim, failback="stay")
    at(10.5, p.fail)
    at(40.2, p.recover)
    result = sim.run(until=60)
    # heartbeat at 41 arrives at 41.5; the demotion reaches p at 42.0
    assert (42.0, "p", STANDBY) in ap.roles
    assert ap.split_brain_time(result) == pytest.approx(42.0 - 40.2)


def test_conservation_and_determinism(assert_conserved):
    """Random failures, lognormal hops: issued = ok + failed + in flight; same seed, same run."""

    def run(seed):
        sim = hs.Simulation(seed=seed)
        hs.Network(sim, latency=hs.LogNormal(median=0.05, sigma=1.0))
        f = hs.Failures(ttf=hs.Exponential(mean=60.0), ttr=hs.Exponential(mean=20.0))
        p = hs.Server(sim, "p", service_time=hs.Exponential(mean=0.02), failures=f)
        s = hs.Server(sim, "s", service_time=hs.Exponential(mean=0.02), failures=f)
        ap = ActivePassive(sim, "ap", primary=p, standby=s, timeout=1.5, coverage=0.8, failures=f)
        sim.up_when(lambda: ap.up)
        hs.OpenLoop(sim, "users", target=ap, rate=20, timeout=1.0)
        result = sim.run(until=600)
        assert_conserved(result, sim)
        return result.summary(), list(ap.records), list(ap.roles), ap.split_brain_time(result)

    a, b = run(3), run(3)
    assert a == b
    assert a[1]  # failovers happened


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"heartbeat": 0}, r"ActivePassive 'ap': heartbeat must be a number > 0, got 0"),
        ({"timeout": -1}, r"timeout must be a number > 0, got -1"),
        ({"coverage": 1.5}, r"coverage must be a probability in \[0, 1\], got 1.5"),
        ({"failback": "never"}, r"failback must be one of 'auto', 'stay', got 'never'"),
        ({"coverage_on": "standby"}, r"coverage_on must be one of 'active', 'any', got 'standby'"),
        ({"healthy_after": 0}, r"healthy_after must be an integer >= 1, got 0"),
        ({"promotion_delay": "soon"}, r"promotion_delay must be a Distribution"),
        ({"primary": "p"}, r"primary must be a service"),
        ({"standby": None}, r"standby must be a service"),
    ],
)
def test_validation(sim, kw, match):
    p = hs.Server(sim, "p")
    s = hs.Server(sim, "s")
    args = {"primary": p, "standby": s} | kw
    with pytest.raises(hs.ConfigError, match=match):
        ActivePassive(sim, "ap", **args)
    assert "ap" not in sim


def test_validation_of_members(sim):
    p = hs.Server(sim, "p")
    with pytest.raises(hs.ConfigError, match="standby must be a service other than the primary"):
        ActivePassive(sim, "ap", primary=p, standby=p)
    other = hs.Server(hs.Simulation(), "q")
    with pytest.raises(hs.ConfigError, match="of the same Simulation"):
        ActivePassive(sim, "ap", primary=p, standby=other)
