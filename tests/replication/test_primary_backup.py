"""PrimaryBackup: data loss by replication mode, failover to the most up-to-date backup, fencing.

Every scenario runs a KVWorkload against the group over a network with ~1 ms hops and
judges the recorded history with ``lost_writes`` against the final primary's store
(``group.data_loss(history)``). Seeds are fixed; comparisons between modes or lags are
paired: same seed, same clients, same fault history.
"""

from __future__ import annotations

import numpy as np
import pytest

import hasim as hs
from hasim.replication import linearizable, lost_writes


def group(sim, mode, **kw):
    """A 3-replica group with 100 ms heartbeats, a 300 ms timeout and a 200 ms promotion."""
    params = dict(
        replicas=3,
        mode=mode,
        service_time=hs.Exponential(mean=1 * hs.ms),
        heartbeat=0.1,
        timeout=0.3,
        promotion_delay=0.2,
    )
    params.update(kw)
    return hs.PrimaryBackup(sim, "db", **params)


def crash_primaries(sim, g, seed, *, every=3.0, down=1.0):
    """Crash whichever replica the group takes for primary, every ~``every`` s, for ``down`` s.

    The crash times come from the test's own generator, so runs that differ only in the
    group's settings meet the same fault history.
    """
    rng = np.random.default_rng(seed)

    def crash(_):
        victim = g.primary
        victim.fail("chaos")
        sim.call_later(down, lambda _: victim.recover("chaos"))
        sim.call_later(down + rng.exponential(every), crash)

    sim.call_later(rng.exponential(every), crash)


def under_primary_crashes(mode, seed, *, until=60.0, **kw):
    sim = hs.Simulation(seed=seed)
    hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    g = group(sim, mode, **kw)
    kv = hs.KVWorkload(sim, "kv", target=g, rate=200, read_share=0.5, keys=50, timeout=1.0)
    crash_primaries(sim, g, seed)
    result = sim.run(until=until)
    return sim, g, kv.history, result


def write_latencies(history):
    return np.array([op.completed - op.invoked for op in history if op.kind == "write" and op.ok])


# -- data loss by mode ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sync_loses_no_acknowledged_write_across_many_failovers(seed, assert_conserved):
    sim, g, history, result = under_primary_crashes("sync", seed)
    assert_conserved(result, sim)
    loss = g.data_loss(history)
    assert loss.failovers >= 8 and loss.acknowledged > 4000
    assert loss.lost == 0 and loss.check.ok and loss.max_rpo == 0.0
    assert lost_writes(history, g.final_state()).ok
    assert g.split_brain_time() == 0.0 and g.split_brain_writes == 0
    # Each failover promoted a replica the manager had heard from, at a new epoch.
    promoted = [r for r in g.records if r["outcome"] == "promoted"]
    assert [r["epoch"] for r in promoted] == list(range(2, 2 + len(promoted)))
    assert all(r["new"] != r["old"] for r in promoted)


@pytest.mark.parametrize("seed", [1, 2])
def test_sync_loses_nothing_when_every_replica_fails_at_random(seed):
    """Backups crash too; sync waits for every live backup and at least ``acks=1`` of them."""
    sim = hs.Simulation(seed=seed)
    hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    failures = hs.Failures(ttf=hs.Exponential(mean=4.0), ttr=hs.Exponential(mean=1.0))
    g = group(sim, "sync", failures=failures)
    kv = hs.KVWorkload(sim, "kv", target=g, rate=200, read_share=0.5, keys=50, timeout=1.0)
    sim.run(until=40)
    loss = g.data_loss(kv.history)
    assert loss.failovers >= 4 and loss.lost == 0


def test_async_loses_acknowledged_writes_and_more_with_more_lag():
    """Paired runs (same seeds and crash times), lags 50 ms and 500 ms.

    Expected: a crash loses what was acknowledged but not yet shipped, a window of about one
    to two lags (a batch leaves a lag after the previous one is acknowledged), so at ~100
    writes/s ~5-10 writes per failover at 500 ms against ~0.5-1 at 50 ms. The RPO (from the
    newest write the promoted replica held to the newest lost one) stays below two lags plus
    a round trip plus the idle time before the first unshipped write: a batch is scheduled
    only once there is something to ship (seed 1 at 50 ms: 92 ms without a write, then a
    write lost 35 ms later: RPO 0.128 s).
    """
    lost, rpo = {}, {}
    for lag in (0.05, 0.5):
        lost[lag], rpo[lag] = 0, []
        for seed in (1, 2):
            _, g, history, _ = under_primary_crashes("async", seed, replication_lag=lag)
            loss = g.data_loss(history)
            assert loss.failovers >= 8
            lost[lag] += loss.lost
            rpo[lag].extend(loss.rpo)
            assert loss.max_rpo <= 2 * lag + 0.02 + 0.1
    assert lost[0.05] > 0
    assert lost[0.5] > 3 * lost[0.05]
    assert np.mean(rpo[0.5]) > 3 * np.mean(rpo[0.05])


def zone_outage(mode, seed):
    """db0 (primary) and db1 in az1, db2 in az2 (20 ms away); az1 loses power at t = 5 s."""
    sim = hs.Simulation(seed=seed)
    hs.Network(
        sim,
        latency=hs.Exponential(mean=1 * hs.ms),
        same_zone=hs.Exponential(mean=0.5 * hs.ms),
        cross_zone=hs.Exponential(mean=20 * hs.ms),
    )
    g = group(sim, mode, replication_lag=0.2, zone=["az1", "az1", "az2"])
    kv = hs.KVWorkload(sim, "kv", target=g, rate=400, read_share=0.5, keys=50, timeout=1.0)

    def outage(_):
        for name in ("db0", "db1"):
            g.replica(name).fail("az1 power")

    sim.call_later(5.0, outage)
    sim.run(until=8)
    assert g.primary.name == "db2" and g.failovers == 1
    return g.data_loss(kv.history)


def test_semi_sync_loses_less_than_async_and_more_than_sync_when_a_zone_fails():
    """Semi-sync (acks=1) is acknowledged by the near backup: losing its zone with the primary
    loses the last cross-zone round trip (~40 ms of writes); async loses ~one lag (200 ms);
    sync nothing. Paired over three seeds.
    """
    lost = {mode: 0 for mode in hs.replication.primary_backup.MODES}
    for seed in (1, 2, 3):
        for mode in lost:
            lost[mode] += zone_outage(mode, seed).lost
    assert lost["sync"] == 0
    assert 0 < lost["semi-sync"] < lost["async"] / 2


def test_sync_writes_are_slower_than_async_and_semi_sync_in_between():
    """No faults. Sync waits for the slower of two backups' round trips (~2 x 1 ms hops more
    than async, whose write is answered at once); semi-sync for the faster one. Thousands of
    writes: the standard error of each mean is ~0.05 ms.
    """
    means = {}
    for mode in ("sync", "semi-sync", "async"):
        sim = hs.Simulation(seed=4)
        hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
        g = group(sim, mode, replication_lag=0.1)
        kv = hs.KVWorkload(sim, "kv", target=g, rate=400, read_share=0.5, keys=50, timeout=1.0)
        sim.run(until=10)
        means[mode] = write_latencies(kv.history).mean()
        assert linearizable(kv.history.operations[:60]).ok
    assert means["sync"] > means["semi-sync"] + 0.5 * hs.ms
    assert means["semi-sync"] > means["async"] + 1.0 * hs.ms
    assert 4 * hs.ms < means["async"] < 6 * hs.ms  # 4 hops of 1 ms and 1 ms of service


# -- failover ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("slow", "expected"), [("db1", "db2"), ("db2", "db1")])
def test_promotion_picks_the_most_up_to_date_backup(slow, expected):
    """One backup hears the primary 300 ms late. Semi-sync (acks=1) acknowledges writes once
    the near backup has them, so promoting it loses nothing, whichever of the two it is.
    """
    sim = hs.Simulation(seed=3)
    net = hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    net.set_latency("db0", slow, 0.3)
    g = group(sim, "semi-sync", acks=1)
    kv = hs.KVWorkload(sim, "kv", target=g, rate=200, read_share=0.5, keys=20, timeout=1.0)
    sim.call_later(5.0, lambda _: g.replica("db0").fail("crash"))
    sim.run(until=8)
    (record,) = g.records
    assert record["new"] == expected == g.primary.name
    assert record["positions"][expected] > record["positions"][slow]
    assert 5.3 <= record["suspected"] <= 5.45 and record["promoted"] == record["suspected"] + 0.2
    loss = g.data_loss(kv.history)
    assert loss.lost == 0 and loss.acknowledged > 400


def partitioned_primary(fencing, mode="async"):
    """The primary db0 and a client holding its address ("cached") are cut off from 5 s to 10 s."""
    sim = hs.Simulation(seed=1)
    net = hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    g = group(sim, mode, replication_lag=0.05, fencing=fencing)
    kv = hs.KVWorkload(sim, "kv", target=g, rate=100, read_share=0.5, keys=20, timeout=1.0)
    hs.KVWorkload(
        sim, "cached", target=g.replica("db0"), rate=50, read_share=0.5, keys=20, timeout=1.0
    )
    cut = []
    sim.call_later(5.0, lambda _: cut.append(net.partition(["db0", "cached"])))
    sim.call_later(10.0, lambda _: net.heal(cut[0]))
    sim.run(until=15)
    (record,) = g.records
    promoted = record["promoted"]
    late = [
        op
        for op in kv.history
        if op.kind == "write" and op.ok and op.responder == "db0" and op.completed > promoted
    ]
    return g, kv.history, record, late


def test_without_fencing_a_cut_off_primary_goes_on_accepting_writes():
    g, history, record, late = partitioned_primary(fencing=False)
    assert record["new"] == "db1" and g.primary.name == "db1"
    # Two primaries from the promotion (~5.5 s) until the heal reaches db0 (10 s).
    assert 4.3 < g.split_brain_time() < 4.7
    assert len(late) > 50 and g.split_brain_writes >= len(late)
    loss = g.data_loss(history)
    late_ids = {op.id for op in late}
    lost_ids = {v.ops[0] for v in loss.check.violations}
    assert late_ids <= lost_ids  # its writes vanish when it is demoted and re-seeded
    assert loss.max_rpo > 4.0  # the split brain, not the replication lag, is the window
    assert ("db0", "backup", "demoted") in [(n, r, why) for _, n, r, why in g.roles]


def test_with_fencing_a_cut_off_primary_steps_down_before_the_promotion():
    g, history, record, late = partitioned_primary(fencing=True)
    assert record["new"] == "db1"
    assert late == [] and g.split_brain_writes == 0 and g.split_brain_time() == 0.0
    (step_down,) = [(t, why) for t, n, r, why in g.roles if n == "db0"][1:]
    # Its lease ran out 300 ms after its last answered heartbeat, before the promotion.
    assert step_down[1] == "lease expired" and 5.0 < step_down[0] < record["promoted"]
    # Async still loses what was acknowledged in the last lag before the cut.
    loss = g.data_loss(history)
    assert 0 < loss.lost < 40 and loss.max_rpo < 0.35


def test_a_cut_off_sync_primary_acknowledges_nothing_even_without_fencing():
    """It performs writes but waits for its backups, which it cannot reach: nothing is lost."""
    g, history, record, late = partitioned_primary(fencing=False, mode="sync")
    assert g.split_brain_writes > 50 and late == []
    assert g.data_loss(history).lost == 0


def test_a_restarted_primary_is_fenced_by_its_lost_lease():
    """A crash longer than detection: db0 comes back believing it is primary, with no lease."""
    sim = hs.Simulation(seed=2)
    hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    g = group(sim, "async", replication_lag=0.05)
    kv = hs.KVWorkload(sim, "kv", target=g, rate=100, read_share=0.5, keys=20, timeout=1.0)
    sim.call_later(2.0, lambda _: g.replica("db0").fail("crash"))
    sim.call_later(4.0, lambda _: g.replica("db0").recover("crash"))
    sim.run(until=8)
    assert [(n, r, why) for t, n, r, why in g.roles if t > 0] == [
        ("db1", "primary", "promoted"),
        ("db0", "backup", "lease expired"),
    ]
    assert g.split_brain_time() == 0.0
    db0 = g.replica("db0")
    assert db0.epoch == 2 and db0.position[0] == 2  # re-seeded by the new primary
    assert not any(op.responder == "db0" and op.invoked > 2.0 for op in kv.history if op.ok)


# -- configuration -------------------------------------------------------------------------


def test_bad_settings_are_refused(sim):
    with pytest.raises(hs.ConfigError, match="PrimaryBackup 'g': mode must be one of"):
        hs.PrimaryBackup(sim, "g", mode="eventual")
    with pytest.raises(hs.ConfigError, match=r"acks must be an integer in \[1, 2\]"):
        hs.PrimaryBackup(sim, "g", mode="semi-sync", acks=3)
    with pytest.raises(hs.ConfigError, match="replicas must be an integer >= 2 or a list"):
        hs.PrimaryBackup(sim, "g", replicas=["a", "a"])
    with pytest.raises(hs.ConfigError, match="heartbeat must be"):
        hs.PrimaryBackup(sim, "g", heartbeat=0)
    with pytest.raises(hs.ConfigError, match="fencing must be True or False"):
        hs.PrimaryBackup(sim, "g", fencing="yes")
    g = hs.PrimaryBackup(sim, "g", replicas=["east", "west"], mode="sync", acks=0)
    assert [r.name for r in g.replicas] == ["east", "west"] and g.primary.name == "east"
    with pytest.raises(hs.ConfigError, match="replica must be one of"):
        g.replica("north")


def test_same_seed_same_failovers_and_losses():
    """DESIGN rule 1: a run is a function of its seed."""
    runs = [under_primary_crashes("async", 5, until=20.0, replication_lag=0.2) for _ in range(2)]
    (_, a, ha, _), (_, b, hb, _) = runs
    assert a.records == b.records and a.roles == b.roles
    assert a.data_loss(ha).rpo == b.data_loss(hb).rpo and a.data_loss(ha).lost > 0


def test_writes_lost_at_an_early_failover_are_still_counted_after_later_ones():
    """Two failovers: every write lost at the first (checked against the new primary right
    after it) is still reported lost by data_loss() at the end, though backups were re-seeded
    from snapshots since and later writes reused those versions (the lineage travels with
    the snapshot)."""
    sim = hs.Simulation(seed=1)
    hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    g = group(sim, "async", replication_lag=0.5)
    kv = hs.KVWorkload(sim, "kv", target=g, rate=200, read_share=0.5, keys=50, timeout=1.0)

    def crash(_):
        victim = g.primary
        victim.fail("chaos")
        sim.call_later(1.0, lambda _: victim.recover("chaos"))

    for t in (5.0, 15.0):
        sim.call_later(t, crash)
    early = {}

    def check(_):
        done = [op for op in kv.history if op.ok and op.completed <= 10.0]
        early["lost"] = {v.ops[0] for v in lost_writes(done, g.primary.store).violations}

    sim.call_later(10.0, check)
    sim.run(until=25.0)
    loss = g.data_loss(kv.history)
    assert loss.failovers == 2 and len(early["lost"]) > 20
    assert early["lost"] <= {v.ops[0] for v in loss.check.violations}
    assert loss.lost > len(early["lost"])  # the second failover lost writes too


def test_the_groups_up_is_a_structure_predicate_that_follows_promotions():
    """up_when(lambda: db.up): down at the primary's crash, up again at the promotion (the
    new primary learns its role by message, a hop after the manager decides)."""
    sim = hs.Simulation(seed=1)
    hs.Network(sim, latency=0.001)
    db = hs.PrimaryBackup(sim, "db", replicas=3, heartbeat=1.0, timeout=3.0)
    sim.up_when(lambda: db.up)
    hs.Chaos(sim, [hs.Crash("db0", at=10.5, duration=1000)])
    timeline = sim.run(until=100).timeline().query("component == 'system'")
    assert list(timeline["state"]) == ["up", "down", "up"]
    (promoted,) = [r for r in db.records if r["outcome"] == "promoted"]
    down = timeline.iloc[1]
    assert down["start"] == 10.5
    assert promoted["promoted"] < down["end"] < promoted["promoted"] + 0.01
