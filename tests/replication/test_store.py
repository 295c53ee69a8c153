"""VersionedStore, and SingleCopy end to end: workload, history and checkers together."""

from __future__ import annotations

import pytest

import hasim as hs
from hasim.replication import (
    WRITE,
    SingleCopy,
    VersionedStore,
    answer,
    apply_operation,
    linearizable,
    lost_writes,
    monotonic_reads,
    perform,
    stale_reads,
)

# -- the versioned store --------------------------------------------------------------------


def test_versions_grow_per_key_and_a_new_key_is_at_version_zero():
    store = VersionedStore()
    assert store.get("a") == (0, None) and "a" not in store
    assert [store.write("a", v) for v in "xyz"] == [1, 2, 3]
    assert store.write("b", "q") == 1
    assert store.get("a") == (3, "z") and len(store) == 2


def test_a_replicated_write_applies_only_if_newer():
    store = VersionedStore()
    assert store.apply("a", 5, "new")
    assert not store.apply("a", 4, "old") and not store.apply("a", 5, "same version")
    assert store.get("a") == (5, "new")
    assert store.write("a", "next") == 6


def test_behind_and_merge_compare_and_catch_up():
    primary, backup = VersionedStore(), VersionedStore()
    for v in range(3):
        primary.write("a", v)
    primary.write("b", 1)
    backup.apply("a", 1, 0)
    backup.apply("c", 4, "only here")
    assert backup.behind(primary) == {"a": 2, "b": 1}
    assert backup.merge(primary) == 2
    assert backup.behind(primary) == {} and primary.behind(backup) == {"c": 4}
    assert backup.get("c") == (4, "only here")


def test_snapshot_restore_clear_and_size():
    store = VersionedStore(record_bytes=100, keep_log=True)
    store.write("a", 1)
    store.write("a", 2)
    snap = store.snapshot()
    store.write("a", 3)
    assert store.log("a") == [(1, 1), (2, 2), (3, 3)]
    store.restore(snap)
    assert store.get("a") == (2, 2) and store.log("a") == [(2, 2)]
    assert store.size_bytes() == 1 * (16 + 8 + 100)
    store.clear()
    assert len(store) == 0 and store.log("a") == [] and store.size_bytes() == 0
    assert VersionedStore().log("a") is None


def test_bad_settings_are_refused():
    with pytest.raises(hs.ConfigError, match="record_bytes must be an integer >= 0"):
        VersionedStore(record_bytes=-1)
    with pytest.raises(hs.ConfigError, match="SingleCopy 'db': volatile must be True or False"):
        SingleCopy(hs.Simulation(), "db", volatile="yes")


# -- SingleCopy end to end -------------------------------------------------------------------


def crashing_store(seed, *, cls=SingleCopy, volatile=False, until=40.0, **kw):
    """A single copy that crashes every 4 s on average (down 0.5 s), 20 keys, 100 ops/s."""
    sim = hs.Simulation(seed=seed)
    db = cls(
        sim,
        "db",
        service_time=hs.Exponential(mean=2 * hs.ms),
        volatile=volatile,
        keep_log=True,
        failures=hs.Failures(ttf=hs.Exponential(mean=4.0), ttr=hs.Exponential(mean=0.5)),
        **kw,
    )
    # Retries only of tries that certainly did nothing (refused or cut by a crash):
    # a retried write that timed out could apply twice, which no register allows.
    kv = hs.KVWorkload(
        sim,
        "kv",
        target=db,
        rate=100,
        read_share=0.7,
        keys=20,
        timeout=0.1,
        retry=hs.Retry(attempts=3, retry_on=(hs.ERROR,), backoff=hs.ConstantBackoff(0.3)),
    )
    result = sim.run(until=until)
    return sim, db, kv.history, result


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_durable_single_copy_is_linearizable_under_crashes(seed, assert_conserved):
    sim, db, history, result = crashing_store(seed)
    assert_conserved(result, sim)
    log = sim.recorder.state_log
    crashes = sum(1 for _, name, state in log if (name, state) == ("db", "down"))
    outcomes = {o.outcome for o in history}
    assert hs.ERROR in outcomes and hs.OK in outcomes  # the crashes hit operations
    assert crashes >= 5
    assert linearizable(history).ok
    assert lost_writes(history, db.final_state()).ok
    assert monotonic_reads(history, per_client=False).ok
    assert stale_reads(history).ok


def test_a_volatile_single_copy_loses_acknowledged_writes(assert_conserved):
    sim, db, history, result = crashing_store(1, volatile=True)
    assert_conserved(result, sim)
    lost = lost_writes(history, db.final_state())
    assert not lost.ok and len(lost.violations) >= 5
    assert "is lost: the final version is" in str(lost.violations[0])
    assert not linearizable(history).ok  # reads after a crash see keys forgotten
    assert not stale_reads(history).ok


class StaleReads(SingleCopy):
    """Lies: serves reads from a snapshot refreshed only every 2 s (a lagging cache)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.cache = VersionedStore()
        self.refreshed = -1.0

    def perform(self, store, attempt):
        op = attempt.key
        if op.kind == WRITE:
            return super().perform(store, attempt)
        if self.env.now - self.refreshed >= 2.0:
            self.cache.restore(store.snapshot())
            self.refreshed = self.env.now
        version, value = self.cache.get(op.key)
        return value, version


class DropsWrites(SingleCopy):
    """Lies: acknowledges every tenth write without storing it."""

    def perform(self, store, attempt):
        op = attempt.key
        if op.kind == WRITE and op.id % 10 == 0:
            return op.value, store.version(op.key) + 1
        return super().perform(store, attempt)


def test_a_store_serving_stale_reads_is_caught():
    sim, db, history, _ = crashing_store(1, cls=StaleReads, until=20.0)
    stale = stale_reads(history)
    assert not stale.ok and 0.05 < stale.fraction < 0.9
    assert all(s.since is not None and 0 < s.since < 2.5 for s in stale.reads if s.stale)
    assert not linearizable(history).ok
    assert lost_writes(history, db.final_state()).ok  # writes themselves are kept


def test_a_store_dropping_writes_is_caught():
    sim, db, history, _ = crashing_store(2, cls=DropsWrites, until=20.0)
    lost = lost_writes(history, db.final_state())
    dropped = [v.ops[0] for v in lost.violations]
    assert dropped and all(op % 10 == 0 for op in dropped)
    assert not linearizable(history).ok


def test_answer_records_each_tries_result_apart():
    """``answer`` keys results by try number; the History keeps the settled try's."""
    op = hs.History().invoke("c", "read", 1, 0.0)

    class Try:
        key = op
        number = 2

    answer(Try, "v", 7)
    answer(type("First", (), {"key": op, "number": 1}), "old", 3)
    op._settled = 2
    hs.History().complete(op, hs.OK, "db", 1.0)
    assert (op.value, op.version, op.completed) == ("v", 7, 1.0)


class Carrier:
    """What a service receives: ``key`` is the operation, ``number`` the try."""

    def __init__(self, op, number=1):
        self.key, self.number = op, number


def test_a_state_machine_applies_entries_at_the_version_it_chooses():
    """Raft style: the log index is the version; the client's answer is recorded on apply."""
    history = hs.History()
    write = history.invoke("c", WRITE, "k", 0.0)
    read = history.invoke("c", "read", "k", 0.0)
    store = VersionedStore()
    assert apply_operation(store, Carrier(write), version=7) == (write.value, 7)
    assert apply_operation(store, Carrier(read), version=9) == (write.value, 7)  # reads keep it
    history.complete(write, hs.OK, "raft0", 1.0)
    history.complete(read, hs.OK, "raft0", 1.0)
    assert (write.version, read.version, read.value) == (7, 7, write.value)
    assert perform(store, Carrier(history.invoke("c", WRITE, "k", 2.0))) == (3, 8)  # next one
    stale = Carrier(history.invoke("c", WRITE, "k", 3.0))
    with pytest.raises(hs.SimulationError, match=r"write 4 of key 'k' at version 5: not newer"):
        perform(store, stale, version=5)


def test_shards_behind_a_consistent_hash_balancer_route_by_data_key():
    """The operation rides through a balancer: each key lives on one shard, answers come back."""
    sim = hs.Simulation(seed=5)
    hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    shards = [SingleCopy(sim, f"shard{i}", service_time=0.001) for i in range(3)]
    lb = hs.LoadBalancer(sim, "lb", backends=shards, policy=hs.ConsistentHash())
    kv = hs.KVWorkload(sim, "kv", target=lb, rate=200, read_share=0.5, keys=30, timeout=1)
    sim.run(until=10)
    history = kv.history
    homes = {}
    for op in history:
        assert op.ok
        homes.setdefault(op.key, set()).add(op.responder)
    assert all(len(h) == 1 for h in homes.values()) and len(homes) == 30
    assert {s for h in homes.values() for s in h} == {"shard0", "shard1", "shard2"}
    merged = VersionedStore()
    for shard in shards:
        merged.merge(shard.final_state())
    assert lost_writes(history, merged).ok and linearizable(history).ok


def test_a_request_without_an_operation_is_a_loud_error(sim):
    db = SingleCopy(sim, "db", service_time=0.01)
    hs.OpenLoop(sim, "plain", target=db, rate=10)
    with pytest.raises(hs.SimulationError, match=r"carries no Operation \(its key is None\)"):
        sim.run(until=5)


def test_a_restore_keeps_the_sources_lineage_when_given_and_restarts_without():
    from hasim.replication import VersionedStore

    source = VersionedStore(keep_log=True)
    source.write("k", "a")
    source.write("k", "b")
    copy = VersionedStore(keep_log=True)
    copy.restore(source.snapshot(), source.lineage())
    assert copy.get("k") == (2, "b") and copy.log("k") == [(1, "a"), (2, "b")]
    source.write("k", "c")  # the copy's lineage is its own, not a view of the source's
    assert copy.log("k") == [(1, "a"), (2, "b")]
    fresh = VersionedStore(keep_log=True)
    fresh.restore(source.snapshot())
    assert fresh.log("k") == [(3, "c")]
