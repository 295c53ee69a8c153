"""Fast-forward through failover managers: ActivePassive, PrimaryBackup and Raft.

A manager's quiet stretch (every belief is the truth, nothing under way) holds only
heartbeats, watchdog re-arms and resends to down members; the skipper jumps over it and
the manager moves its absolute deadlines with the clock (``_ff_shift``). The jump changes
which draws a run uses (fewer heartbeats, a random phase), so a fast-forwarded run is
not the full run bit for bit: the checks compare means over replications, with
tolerances from the replications' spread (a difference of means within 4 standard errors,
a false alarm once in ~16,000 seed sets), and assert what must hold exactly (the same
faults, the same failure count, the same deterministic structure).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import hasim as hs
from hasim.replication import PrimaryBackup, RaftCluster

FAIL = {"ttf": hs.Exponential(mean=2000.0), "ttr": hs.Exponential(mean=300.0)}


def pair(sim, **kw):
    f = hs.Failures(**FAIL)
    p, s = hs.Server(sim, "p", failures=f), hs.Server(sim, "s", failures=f)
    options = {"heartbeat": 1.0, "timeout": 2.5, "promotion_delay": hs.Exponential(mean=5.0)}
    options.update(kw)
    ap = hs.ActivePassive(sim, "ap", primary=p, standby=s, **options)
    sim.up_when(ap)
    return ap


def group(sim, **kw):
    options = {"replicas": 3, "heartbeat": 0.5, "timeout": 1.5, "failures": hs.Failures(**FAIL)}
    options.update(kw)
    g = PrimaryBackup(sim, "pb", promotion_delay=hs.Exponential(mean=3.0), **options)
    sim.up_when(g)
    return g


def raft(sim, **kw):
    hs.Network(sim, latency=0.001)
    options = {"nodes": 3, "election_timeout": (0.3, 0.6), "heartbeat": 0.1}
    options.update(kw)
    r = RaftCluster(sim, "r", disk_write=0.002, failures=hs.Failures(**FAIL), **options)
    sim.up_when(hs.k_of_n(2, r.nodes))
    return r


def downtime(build, seed, horizon, ff, **kw):
    sim = hs.Simulation(seed=seed, record="aggregate")
    manager = build(sim, **kw)
    summary = sim.run(until=horizon, fast_forward=hs.FastForward() if ff else None).summary()
    return summary["downtime"] / summary["window"], sim, manager


def agree(build, horizon, reps, **kw):
    """Mean downtime share with and without fast-forward over ``reps`` seeds, and the skip."""
    full = np.array([downtime(build, s, horizon, False, **kw)[0] for s in range(1, reps + 1)])
    runs = [downtime(build, s, horizon, True, **kw) for s in range(1, reps + 1)]
    fast = np.array([r[0] for r in runs])
    se = math.sqrt(full.var(ddof=1) / reps + fast.var(ddof=1) / reps)
    assert abs(full.mean() - fast.mean()) <= 4 * se, (full.mean(), fast.mean(), se)
    skipped = np.mean([r[1].skipped / horizon for r in runs])
    assert skipped > 0.9  # most of the run is quiet and skipped
    return full, fast


def test_an_active_passive_pair_fast_forwards_to_the_full_runs_downtime():
    full, fast = agree(pair, 2e5, 6, coverage=0.9, failback="auto", healthy_after=3)
    assert fast.mean() > 0


def test_a_failing_manager_is_fast_forwarded_too():
    failures = hs.Failures(ttf=hs.Exponential(mean=5000.0), ttr=hs.Exponential(mean=100.0))
    agree(pair, 2e5, 6, failures=failures)


def test_a_primary_backup_group_fast_forwards_to_the_full_runs_downtime():
    agree(group, 1e5, 6)


def test_an_async_group_without_fencing_over_a_jittery_network():
    def build(sim, **kw):
        hs.Network(sim, latency=hs.Uniform(0.001, 0.01))
        return group(sim, replicas=2, mode="async", fencing=False)

    agree(build, 1e5, 6)


def test_a_raft_cluster_fast_forwards_and_keeps_electing_leaders():
    horizon = 2e4
    for seed in (1, 2):
        full_down, full_sim, full = downtime(raft, seed, horizon, False)
        fast_down, fast_sim, fast = downtime(raft, seed, horizon, True)
        assert fast_sim.skipped > 0.8 * horizon
        assert not fast.violations and not full.violations
        # Faults are drawn in advance and never moved: a majority of nodes is down at the
        # same instants, so the structure's downtime is the full run's exactly.
        assert fast_down == full_down
        assert len(fast.leaders) >= len(fast.leader_crashes)
        lengths = [i["duration"] for i in fast.leaderless_intervals(horizon) if i["duration"]]
        assert lengths and max(lengths) < 1e3  # every leader crash was followed by a leader


def test_the_faults_are_the_full_runs_and_the_same_seed_repeats():
    _, a_sim, a = downtime(pair, 3, 1e5, True)
    _, b_sim, b = downtime(pair, 3, 1e5, True)
    _, c_sim, c = downtime(pair, 3, 1e5, False)
    assert a.records == b.records and a_sim.skipped == b_sim.skipped
    # Fault times are drawn in advance and never moved: the same failures as the full run.
    fails = [len([r for r in x.records if r["outcome"] == "promoted"]) for x in (a, c)]
    assert abs(fails[0] - fails[1]) <= 2  # only the detection phase differs


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda sim: (hs.Network(sim, latency=hs.Exponential(mean=0.01)), pair(sim)),
         r"ActivePassive 'ap': the latency of p -> ap is unbounded"),
        (lambda sim: pair(sim, heartbeat=1.0, timeout=1.0),
         r"ActivePassive 'ap': a period of 1 s plus up to 0 s of latency reaches the shortest"),
        (lambda sim: (hs.Network(sim, latency=0.001), group(sim)),
         r"PrimaryBackup 'pb': with fencing the lease rides on heartbeat send times"),
        (lambda sim: raft(sim, election_timeout=(0.05, 0.3)),
         r"RaftCluster 'r': a period of 0.1 s plus up to 0.002 s of latency reaches"),
    ],
)  # fmt: skip
def test_a_timer_that_could_fire_in_a_quiet_stretch_is_refused(build, message):
    sim = hs.Simulation(seed=1, record="aggregate")
    build(sim)
    with pytest.raises(hs.ConfigError, match=f"fast-forward: {message}"):
        sim.run(until=100, fast_forward=hs.FastForward())
    assert sim.env.now == 0


def test_rare_event_estimation_still_refuses_a_failover_manager():
    sim = hs.Simulation(seed=1, record="aggregate")
    pair(sim)
    with pytest.raises(hs.ConfigError, match=r"ActivePassive 'ap'.*fast_forward"):
        hs.rare.estimate(sim, hs.FailureBiasing(cycles=10))
