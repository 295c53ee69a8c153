"""ActivePassive(coverage_on="any"): the standby's failures are subject to coverage too.

Deterministic timings as in ``test_failover.py``: members heartbeat at 0, 1, 2, ... (the
default ``heartbeat=1``, ``timeout=3``, ``healthy_after=3``), so a member that crashes at
``t`` is suspected at ``floor(t) + 3`` and, repaired at ``r`` (an integer here), is healthy
again at ``r + 2`` (its heartbeats at r, r + 1, r + 2). As after a failed promotion, the
outage (``up``, the downtime) ends with the failed member's repair, and the manager rejects
requests until it believes that member healthy.
"""

from __future__ import annotations

import pytest

import hasim as hs
from hasim.failover import ActivePassive


def pair(sim, **kw):
    p = hs.Server(sim, "p", service_time=0.01)
    s = hs.Server(sim, "s", service_time=0.01)
    ap = ActivePassive(sim, "ap", primary=p, standby=s, **kw)
    sim.up_when(lambda: ap.up)
    return p, s, ap


def ask(sim, ap, t, replies):
    """Submit a request to ``ap`` at time ``t`` (the request is ``t``)."""
    sim.call_later(t, lambda _: ap.submit(t, replies))


def test_an_uncovered_standby_failure_takes_the_pair_down_until_its_repair(sim, at, replies):
    """c = 0: the standby's crash, once suspected (13), takes the pair down until its repair
    (40); the manager rejects requests until it believes it healthy (42)."""
    p, s, ap = pair(sim, coverage=0.0, coverage_on="any")
    at(10.5, s.fail)
    at(40.0, s.recover)
    for t in (12.0, 30.0, 41.0, 45.0):
        ask(sim, ap, t, replies)
    result = sim.run(until=60)
    assert ap.records == [
        {"member": "s", "suspected": 13.0, "promoted": None, "outcome": "uncovered"}
    ]
    assert ap.failovers == 0 and ap.active_name == "p"
    # Before the suspicion p serves; wedged, the manager rejects; afterwards p serves again.
    got = [(t, outcome, by) for t, _, outcome, by in replies.log]
    assert got == [
        (12.01, "ok", "p"),
        (30.0, "rejected", "ap"),
        (41.0, "rejected", "ap"),
        (45.01, "ok", "p"),
    ]
    assert result.summary()["downtime"] == pytest.approx(40.0 - 13.0)
    incidents = result.incidents()
    assert list(incidents["start"]) == [13.0] and list(incidents["end"]) == [40.0]


@pytest.mark.parametrize("coverage_on", ["active", "any"])
def test_a_covered_standby_failure_costs_nothing(sim, at, coverage_on):
    """c = 1 (or the default "active" mode with c = 0): the pair runs on through it."""
    coverage = 1.0 if coverage_on == "any" else 0.0
    p, s, ap = pair(sim, coverage=coverage, coverage_on=coverage_on)
    at(10.5, s.fail)
    at(40.0, s.recover)
    result = sim.run(until=60)
    assert ap.records == []
    assert result.summary()["downtime"] == 0.0


def test_no_failover_while_wedged_and_one_starts_when_the_standby_heals(sim, at):
    """The active fails while wedged: suspected at 23 but no failover until s heals (42);
    the pair is up again when p is repaired (60)."""
    p, s, ap = pair(sim, coverage=0.0, coverage_on="any", promotion_delay=5.0)
    at(10.5, s.fail)  # suspected at 13: wedged
    at(20.5, p.fail)  # suspected at 23: no failover
    at(40.0, s.recover)  # healthy at 42: the failover starts; promoted at 47 but c = 0
    at(60.0, p.recover)  # up again; healthy at 62: the failed promotion's wait ends
    result = sim.run(until=80)
    assert [(r["member"], r["suspected"], r["outcome"]) for r in ap.records] == [
        ("s", 13.0, "uncovered"),
        ("p", 42.0, "failed"),
    ]
    assert (23.0, "ap", "p", False) in sim.recorder.detections
    assert result.summary()["downtime"] == pytest.approx(60.0 - 13.0)


def test_only_a_trusted_active_is_reconfigured(sim, at):
    """The standby suspected during a failover (the active already suspected): no draw."""
    p, s, ap = pair(sim, coverage=0.0, coverage_on="any", promotion_delay=5.0)
    at(10.5, p.fail)  # suspected at 13, promotion due at 18
    at(14.5, s.fail)  # suspected at 17: the active is suspected, nothing to reconfigure
    at(30.0, s.recover)  # healthy at 32: the retried promotion runs (and fails, c = 0)
    sim.run(until=40)
    assert [r["outcome"] for r in ap.records] == ["failed"]


def test_the_wedge_survives_a_manager_crash(sim, at):
    """A manager crash abandons a pending failover, not the wait for the failed standby."""
    p, s, ap = pair(sim, coverage=0.0, coverage_on="any")
    at(10.5, s.fail)  # wedged at 13
    at(20.0, ap.fail)
    at(25.0, ap.recover)
    at(40.0, s.recover)
    result = sim.run(until=60)
    assert [r["outcome"] for r in ap.records] == ["uncovered"]
    assert result.summary()["downtime"] == pytest.approx(40.0 - 13.0)


def test_the_default_mode_is_active_and_any_with_full_coverage_is_the_same_run():
    """Omitting coverage_on is "active"; "any" with c = 1 never wedges and, since its draws
    come from a stream of their own, leaves every other draw where it was: the same run."""

    def run(**kw):
        sim = hs.Simulation(seed=5)
        hs.Network(sim, latency=hs.LogNormal(median=0.05, sigma=1.0))
        f = hs.Failures(ttf=hs.Exponential(mean=60.0), ttr=hs.Exponential(mean=20.0))
        p = hs.Server(sim, "p", service_time=hs.Exponential(mean=0.02), failures=f)
        s = hs.Server(sim, "s", service_time=hs.Exponential(mean=0.02), failures=f)
        ap = ActivePassive(sim, "ap", primary=p, standby=s, timeout=1.5, **kw)
        sim.up_when(lambda: ap.up)
        hs.OpenLoop(sim, "users", target=ap, rate=20, timeout=1.0)
        result = sim.run(until=900)
        return result.summary(), list(ap.records), list(ap.roles)

    default = run(coverage=1.0)
    assert default[1]  # failovers happened
    assert run(coverage=1.0, coverage_on="active") == default
    assert run(coverage=1.0, coverage_on="any") == default
    assert run(coverage=0.5) == run(coverage=0.5, coverage_on="active")
    wedged = run(coverage=0.5, coverage_on="any")
    assert "uncovered" in [r["outcome"] for r in wedged[1]]
    assert wedged[0]["downtime"] > run(coverage=0.5)[0]["downtime"]


def test_a_pair_covering_any_failure_fast_forwards_to_the_full_runs_downtime():
    """Fast-forward skips the wedged stretches too (they end with a repair, a fault event).

    Tolerance: the difference of the two means within 4 standard errors of the
    replications' spread (as in ``test_fastforward_failover.py``).
    """
    import math

    import numpy as np

    def share(seed, ff):
        sim = hs.Simulation(seed=seed, record="aggregate")
        f = hs.Failures(ttf=hs.Exponential(mean=2000.0), ttr=hs.Exponential(mean=300.0))
        p, s = hs.Server(sim, "p", failures=f), hs.Server(sim, "s", failures=f)
        ap = ActivePassive(sim, "ap", primary=p, standby=s, heartbeat=1.0, timeout=2.5,
                           promotion_delay=hs.Exponential(mean=5.0), coverage=0.5,
                           coverage_on="any", healthy_after=1)  # fmt: skip
        sim.up_when(ap)
        summary = sim.run(until=2e5, fast_forward=hs.FastForward() if ff else None).summary()
        return summary["downtime"] / summary["window"], sim.skipped, ap

    full = np.array([share(seed, False)[0] for seed in range(1, 7)])
    runs = [share(seed, True) for seed in range(1, 7)]
    fast = np.array([r[0] for r in runs])
    se = math.sqrt(full.var(ddof=1) / 6 + fast.var(ddof=1) / 6)
    assert abs(full.mean() - fast.mean()) <= 4 * se, (full.mean(), fast.mean(), se)
    assert np.mean([r[1] for r in runs]) > 0.9 * 2e5
    assert any(r["outcome"] == "uncovered" for _, _, ap in runs for r in ap.records)


def test_coverage_on_is_validated(sim):
    p, s = hs.Server(sim, "p"), hs.Server(sim, "s")
    with pytest.raises(
        hs.ConfigError,
        match=r"ActivePassive 'ap': coverage_on must be one of 'active', 'any', got 'both'",
    ):
        ActivePassive(sim, "ap", primary=p, standby=s, coverage_on="both")
    assert "ap" not in sim


def test_a_failback_ends_the_wait_of_a_failed_promotion(sim, at):
    """A failback while a failed promotion waits (``_stuck``) must not leave the wait set:
    the new active's next failure fails over as usual (it used to keep the pair down until
    that member's repair). Coverage is scripted: 1 for the first failover, 0 for the
    promotion back to p (33 -> 38: failed, stuck on s), 1 again before p's second crash."""
    p, s, ap = pair(sim, coverage=1.0, promotion_delay=5.0)
    at(10.5, p.fail)  # suspected at 13, promoted s at 18
    at(20.0, lambda: setattr(ap, "coverage", 0.0))
    at(30.5, s.fail)  # suspected at 33; p still down: the promotion retries
    at(40.0, p.recover)  # p healthy at 42; the retried promotion fails (c = 0): stuck on s
    at(50.5, p.fail)
    at(60.0, p.recover)  # p healthy at 62: failback to p (s still down)
    at(65.0, s.recover)  # s healthy at 67
    at(70.0, lambda: setattr(ap, "coverage", 1.0))
    at(80.5, p.fail)  # suspected at 83: fails over to s at 88
    at(200.0, p.recover)
    sim.run(until=220)
    outcomes = [(r["member"], r["outcome"]) for r in ap.records]
    assert ("s", "failed") in outcomes and ap.failbacks >= 1
    assert ap.records[-1]["member"] == "p" and ap.records[-1]["outcome"] == "promoted"
    assert ap.records[-1]["promoted"] == pytest.approx(88.0)
