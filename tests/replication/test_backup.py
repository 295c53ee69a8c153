"""Backups and disaster recovery: snapshot timing and sizes, RPO and RTO after a total loss.

Sizes follow ``VersionedStore.size_bytes``: a key of a store with ``record_bytes=1000``
takes 16 + 8 + 1000 = 1024 bytes, so with a pipe of 10,240 bytes/s ten keys take 1 s.
"""

from __future__ import annotations

import pytest

import hasim as hs
from hasim.replication import WRITE, SingleCopy, VersionedStore
from hasim.replication.backup import Backups, BackupStore, DisasterRecovery

KEY = 16 + 8 + 1000  # bytes per key with record_bytes=1000


def filled(n, record_bytes=1000):
    store = VersionedStore(record_bytes=record_bytes)
    for k in range(n):
        store.write(k, "v0")
    return store


# -- snapshots: when, how big, how long --------------------------------------------------


def test_fulls_and_incrementals_are_taken_on_schedule_with_the_sizes_of_what_changed(sim, at):
    """Full at 0 and 60, incrementals at 20 and 40; a transfer waits for the one before it."""
    store = filled(100)
    vault = BackupStore(sim, "vault", bandwidth=10 * KEY)  # 10 keys per second
    bk = Backups(sim, "bk", source=store, target=vault, full_every=60, incremental_every=20)
    at(5, lambda: [store.write(k, "v1") for k in range(10)])
    at(25, lambda: [store.write(k, "v2") for k in range(5)])
    at(61, store.write, 50, "v1")
    manual = []
    at(62, lambda: manual.append(bk.take("incremental")))
    sim.run(until=75)
    rows = [(s.kind, s.point, s.start, s.end, s.bytes, s.keys, s.status) for s in bk.snapshots]
    assert rows == [
        ("full", 0, 0, 10, 100 * KEY, 100, "complete"),
        ("incremental", 20, 20, 21, 10 * KEY, 10, "complete"),
        ("incremental", 40, 40, 40.5, 5 * KEY, 5, "complete"),
        ("full", 60, 60, 70, 100 * KEY, 100, "complete"),  # the incremental due at 60 is skipped
        # taken at 62 while the full is on the pipe: its base is the newest *complete* one (t=40),
        # its point is 62, and it goes once the pipe is free
        ("incremental", 62, 70, 70.1, 1 * KEY, 1, "complete"),
    ]
    assert manual[0] is bk.snapshots[-1]
    assert [s.id for s in bk.chain()] == [4, 5]
    assert bk.restore_time() == pytest.approx(10.1)
    rebuilt = bk.rebuild()
    assert rebuilt.snapshot() == store.snapshot()
    # the chain of the full at 0 and both incrementals rebuilds the state at 40 exactly
    at_40 = bk.rebuild(bk.snapshots[:3])
    assert at_40.get(0) == (3, "v2") and at_40.get(7) == (2, "v1") and at_40.get(50) == (1, "v0")
    frame = bk.to_frame()
    assert list(frame["kind"]) == ["full", "incremental", "incremental", "full", "incremental"]


def test_a_restore_reads_the_chain_at_the_restore_bandwidth(sim, at):
    """``restore()`` on its own: 60 s after the call it yields the store rebuilt from the chain."""
    store = filled(100)
    vault = BackupStore(sim, "vault", bandwidth=100 * KEY, restore_bandwidth=5 * KEY)
    bk = Backups(sim, "bk", source=store, target=vault, full_every=60, incremental_every=20)
    at(30, store.write, 3, "new")
    runs = []
    at(50, lambda: runs.append(bk.restore(setup=40)))  # the chain of 50: full at 0, incrementals
    at(50, store.clear)
    sim.run(until=200)
    rec = runs[0].value
    assert (rec.disaster, rec.restore_start, rec.point, rec.rpo) == (50, 90, 40, 10)
    assert rec.snapshots == (1, 2, 3) and rec.bytes == 101 * KEY  # at 20: 0 keys, 0 bytes
    assert rec.restore_time == pytest.approx(101 / 5) and rec.rto is None
    assert rec.state.get(3) == (2, "new") and len(rec.state) == 100


def test_retention_keeps_the_newest_fulls_and_their_incrementals(sim):
    """Fulls every 60 s, incrementals every 20 s, two fulls kept: the oldest chain expires."""
    vault = BackupStore(sim, "vault", bandwidth=10 * KEY)
    bk = Backups(
        sim,
        "bk",
        source=filled(10),
        target=vault,
        full_every=60,
        incremental_every=20,
        retention=2,
    )
    sim.run(until=125)  # fulls at 0, 60 and 120 (1 s each)
    assert [s.status for s in bk.snapshots] == ["expired"] * 3 + ["complete"] * 4
    assert [s.point for s in vault.held["bk"]] == [60, 80, 100, 120]
    assert [s.id for s in bk.chain()] == [7] and bk.rebuild().snapshot() == filled(10).snapshot()


@pytest.mark.parametrize(
    ("incremental_every", "expected"),
    # interval / 2 + the mean transfer time: a full takes 10 s, an incremental (20 keys) 1 s
    [(None, 120 / 2 + 10), (30.0, 30 / 2 + (10 + 1 + 1 + 1) / 4)],
)
def test_the_exposure_averages_half_the_interval_plus_the_transfer(
    sim, at, incremental_every, expected
):
    """``rpo()`` sampled every 0.5 s (mid-grid) over five full periods; 20 keys change every 30 s.

    Tolerance 0.25 s: the sampling grid's error.
    """
    store = filled(200)
    vault = BackupStore(sim, "vault", bandwidth=200 * KEY / 10)
    bk = Backups(
        sim,
        "bk",
        source=store,
        target=vault,
        full_every=120,
        incremental_every=incremental_every,
    )
    for t in range(15, 800, 30):
        at(t, lambda: [store.write(k, "x") for k in range(20)])
    samples = []
    for i in range(5 * 240):
        at(120 + 0.5 * i + 0.25, lambda: samples.append(bk.rpo()))
    sim.run(until=800)
    assert sum(samples) / len(samples) == pytest.approx(expected, abs=0.25)


def test_the_same_seed_gives_the_same_snapshots_and_recoveries():
    """Determinism (DESIGN rule 1): two runs of one design agree row for row."""
    runs = [disaster(335.0, incremental_every=30.0) for _ in range(2)]
    (a, bk_a, _, _), (b, bk_b, _, _) = runs
    assert bk_a.to_frame().equals(bk_b.to_frame())
    assert (a.point, a.rpo, a.rto, a.bytes) == (b.point, b.rpo, b.rto, b.bytes)


def test_bad_settings_are_refused(sim):
    with pytest.raises(hs.ConfigError, match="BackupStore 'v': bandwidth must be a number > 0"):
        BackupStore(sim, "v", bandwidth=0)
    with pytest.raises(hs.ConfigError, match="BackupStore 'w': durable must be True or False"):
        BackupStore(sim, "w", bandwidth=1, durable="yes")
    vault = BackupStore(sim, "vault", bandwidth=1)
    with pytest.raises(hs.ConfigError, match="Backups 'b': source must be a VersionedStore or"):
        Backups(sim, "b", source={}, target=vault, full_every=1)
    with pytest.raises(
        hs.ConfigError,
        match="Backups 'b': incremental_every must be a duration > 0 .*, got 0",
    ):
        Backups(sim, "b", source=VersionedStore(), target=vault, full_every=1, incremental_every=0)
    with pytest.raises(hs.ConfigError, match="Backups 'b': retention must be an integer >= 1"):
        Backups(sim, "b", source=VersionedStore(), target=vault, full_every=1, retention=0)
    with pytest.raises(hs.ConfigError, match="Backups 'b': target must be a BackupStore"):
        Backups(sim, "b", source=VersionedStore(), target=None, full_every=1)
    bk = Backups(sim, "b", source=VersionedStore(), target=vault, full_every="1h")
    assert bk.full_every == 3600
    with pytest.raises(hs.ConfigError, match="DisasterRecovery 'd': setup must be a duration >= 0"):
        DisasterRecovery(sim, "d", service=SingleCopy(sim, "db"), backups=bk, setup=-1)
    with pytest.raises(hs.ConfigError, match="DisasterRecovery 'dr': replicas must be nodes"):
        DisasterRecovery(sim, "dr", service=VersionedStore(), backups=bk)


# -- disaster recovery end to end -----------------------------------------------------------

FULL_EVERY = 120.0
RATE, KEYS = 20, 200  # 10 writes/s over 200 keys
BANDWIDTH = 200 * KEY / 10  # a full (200 keys) takes 10 s
SETUP = 5.0
DISASTERS = (150.0, 263.0, 335.0, 477.0, 590.0, 700.0)


def disaster(at_time, *, incremental_every=None, vault_outage=None, seed=3):
    """A single copy backed up to a vault, a workload, and every replica lost at ``at_time``."""
    sim = hs.Simulation(seed=seed)
    db = SingleCopy(sim, "db", service_time=hs.Exponential(mean=1 * hs.ms), record_bytes=1000)
    vault = BackupStore(sim, "vault", bandwidth=BANDWIDTH, restore_bandwidth=2 * BANDWIDTH)
    bk = Backups(
        sim,
        "bk",
        source=db,
        target=vault,
        full_every=FULL_EVERY,
        incremental_every=incremental_every,
    )
    dr = DisasterRecovery(sim, "dr", service=db, backups=bk, setup=SETUP, at=at_time)
    kv = hs.KVWorkload(sim, "kv", target=db, rate=RATE, read_share=0.5, keys=KEYS, timeout=1)
    if vault_outage is not None:
        down, up = vault_outage
        sim.call_later(down, lambda _: vault.fail("maintenance"))
        sim.call_later(up, lambda _: vault.recover("maintenance"))
    result = sim.run(until=at_time + 40)
    return dr.recoveries[0], bk, kv.history, result


def acknowledged_writes(history, after, until):
    return [op for op in history if op.kind == WRITE and op.ok and after < op.completed <= until]


@pytest.mark.parametrize("incremental_every", [None, 30.0])
def test_rpo_is_bounded_by_the_interval_plus_transfer_and_rto_by_the_restore(incremental_every):
    """After a total loss at five times: exact RPO and RTO, and the lost writes are those after
    the restored point (counted by the lost-write checker against the restored store)."""
    interval = incremental_every or FULL_EVERY
    for t in DISASTERS:
        rec, bk, history, _ = disaster(t, incremental_every=incremental_every)
        transfer = max(s.end - s.point for s in bk.snapshots if s.complete)
        assert rec.point is not None and rec.rpo == t - rec.point
        assert 0 < rec.rpo <= interval + transfer
        # RTO = setup + chain bytes / restore bandwidth, exactly (the vault was up)
        assert rec.bytes == sum(s.bytes for s in bk.snapshots if s.id in rec.snapshots)
        assert rec.restore_time == pytest.approx(rec.bytes / (2 * BANDWIDTH), rel=1e-12)
        assert rec.rto == pytest.approx(SETUP + rec.restore_time, rel=1e-12)
        # writes acknowledged after the point are lost, and only those
        lost = rec.lost_writes(history)
        after_point = acknowledged_writes(history, rec.point, t)
        assert len(lost.violations) == len(after_point) > 0
        assert {v.ops[0] for v in lost.violations} == {op.id for op in after_point}
        assert lost.checked == len(acknowledged_writes(history, 0, t))
        # the service refuses while it is being restored, serves once it is
        during = [op for op in history if t < op.invoked < t + rec.rto]
        after = [op for op in history if op.invoked > t + rec.rto + 1e-3]
        assert during and all(op.outcome == hs.ERROR for op in during)
        assert after and all(op.ok for op in after)


def test_incrementals_shorten_rpo_but_grow_the_restore():
    """Same workload (same seed), same disasters: RPO falls from ~a full period to ~30 s."""
    fulls = [disaster(t)[0] for t in DISASTERS]
    incs = [disaster(t, incremental_every=30.0)[0] for t in DISASTERS]
    mean = lambda recs, attr: sum(getattr(r, attr) for r in recs) / len(recs)  # noqa: E731
    assert mean(incs, "rpo") < mean(fulls, "rpo") / 2
    assert all(i.rpo <= f.rpo for i, f in zip(incs, fulls, strict=True))
    assert mean(incs, "restore_time") > mean(fulls, "restore_time")  # more to read back


@pytest.mark.parametrize("keys", [100, 200, 400, 800])
def test_restore_time_grows_linearly_with_data_size(keys):
    """A store of n keys restores in n * 1024 / bandwidth seconds: RTO = setup + that."""
    sim = hs.Simulation(seed=1)
    db = SingleCopy(sim, "db", record_bytes=1000)
    for k in range(keys):
        db.store.write(k, "v")
    vault = BackupStore(sim, "vault", bandwidth=100 * KEY, restore_bandwidth=50 * KEY)
    bk = Backups(sim, "bk", source=db, target=vault, full_every=60)
    dr = DisasterRecovery(sim, "dr", service=db, backups=bk, setup=2, at=100)
    sim.run(until=150)
    (rec,) = dr.recoveries
    assert rec.bytes == keys * KEY and rec.snapshots == (2,)  # the full taken at 60
    assert rec.restore_time == pytest.approx(keys / 50, rel=1e-12)
    assert rec.rto == pytest.approx(2 + keys / 50, rel=1e-12)
    assert rec.rpo == 40 and db.store.snapshot() == rec.state.snapshot() and len(db.store) == keys


# -- the backup store fails ------------------------------------------------------------------


def test_a_snapshot_due_while_the_backup_store_is_down_is_lost_and_rpo_grows():
    """Vault down over the full due at 240: a disaster at 263 restores the full of 120."""
    base, _, history0, _ = disaster(263.0)
    rec, bk, history, _ = disaster(263.0, vault_outage=(235.0, 245.0))
    assert base.point == 240 and base.rpo == 23
    missed = [s for s in bk.snapshots if s.point == 240]
    assert missed[0].status == "failed" and missed[0].reason == "target down"
    assert rec.point == 120 and rec.rpo == 143 > FULL_EVERY + 10  # beyond the usual bound
    assert len(rec.lost_writes(history).violations) > 5 * len(base.lost_writes(history0).violations)


def test_a_crash_fails_the_transfer_in_flight_and_a_fragile_store_loses_its_snapshots(sim, at):
    """Full at 0 done at 10; the vault crashes at 65 (full of 60 on the pipe)."""
    store = filled(100)
    durable = BackupStore(sim, "durable", bandwidth=10 * KEY)
    fragile = BackupStore(sim, "fragile", bandwidth=10 * KEY, durable=False)
    keep = Backups(sim, "keep", source=store, target=durable, full_every=60, incremental_every=20)
    lose = Backups(sim, "lose", source=store, target=fragile, full_every=60, incremental_every=20)
    for vault in (durable, fragile):
        at(65, vault.fail, "crash")
        at(66, vault.recover, "crash")
    at(70, lambda: [store.write(k, "v1") for k in range(3)])
    sim.run(until=95)
    for bk in (keep, lose):
        at_60 = bk.snapshots[3]
        assert (at_60.kind, at_60.status, at_60.end, at_60.reason) == (
            "full",
            "failed",
            65,
            "target crashed",
        )
    # durable: the chain survives, the incremental at 80 holds the 3 keys written at 70
    assert [(s.kind, s.status) for s in keep.snapshots[:3]] == [
        ("full", "complete"),
        ("incremental", "complete"),
        ("incremental", "complete"),
    ]
    assert (keep.snapshots[4].kind, keep.snapshots[4].keys) == ("incremental", 3)
    # fragile: every stored snapshot is lost, so the incremental due at 80 is taken as a full
    assert {s.status for s in lose.snapshots[:3]} == {"lost"}
    assert (lose.snapshots[4].kind, lose.snapshots[4].keys) == ("full", 100)
    assert [s.id for s in lose.chain()] == [5]


def test_a_restore_waits_for_the_backup_store_and_restarts_after_a_crash(sim, at):
    """The vault is down at the disaster (95-130), then crashes mid-restore (135-140)."""
    db = SingleCopy(sim, "db", record_bytes=1000)
    for k in range(100):
        db.store.write(k, "v")
    vault = BackupStore(sim, "vault", bandwidth=100 * KEY, restore_bandwidth=10 * KEY)
    bk = Backups(sim, "bk", source=db, target=vault, full_every=60)
    dr = DisasterRecovery(sim, "dr", service=db, backups=bk, setup=1, at=100)
    at(95, vault.fail, "crash")
    at(130, vault.recover, "crash")
    at(135, vault.fail, "crash")
    at(140, vault.recover, "crash")
    states = []
    at(145, lambda: states.append(db.up))
    sim.run(until=200)
    (rec,) = dr.recoveries
    assert rec.attempts == 2 and rec.restore_start == 140
    assert rec.restored == 150 and rec.rto == 50 and rec.restore_time == 10
    assert states == [False] and db.up and len(db.store) == 100
    with pytest.raises(hs.SimulationError, match="still being restored"):
        sim2 = hs.Simulation()
        db2 = SingleCopy(sim2, "db")
        vault2 = BackupStore(sim2, "v", bandwidth=1)
        bk2 = Backups(sim2, "bk", source=db2, target=vault2, full_every=9)
        DisasterRecovery(sim2, "dr", service=db2, backups=bk2, setup=5, at=[1, 2])
        sim2.run(until=10)
    row = dr.to_frame().iloc[0]
    assert (row.disaster, row.point, row.rpo, row.rto, row.attempts) == (100, 60, 40, 50, 2)
    assert [(s.point, s.reason) for s in bk.snapshots] == [
        (0, None),
        (60, None),
        (120, "source down"),  # the service is being restored
        (180, None),
    ]
