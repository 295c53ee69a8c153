"""QuorumStore: Dynamo-style N, R, W over replica nodes, judged from the client history."""

from __future__ import annotations

import math

import pytest

import hasim as hs
from hasim.analytic import k_staleness, stale_probability, t_visibility
from hasim.replication import KVWorkload, checker
from hasim.replication.checker import operation_availability
from hasim.replication.quorum import FANOUTS, WARS, QuorumStore


def _run(seed, *, n=3, r=2, w=2, until=30.0, faults=True, chaos=(), rate=200, **store):
    sim = hs.Simulation(seed=seed)
    hs.Network(sim, latency=hs.LogNormal(median=1 * hs.ms, sigma=0.8))
    failures = hs.Failures(ttf=hs.Exponential(mean=10), ttr=hs.Exponential(mean=2))
    kv = QuorumStore(
        sim, "kv", n=n, r=r, w=w, coordinator_timeout=0.1,
        service_time=hs.Exponential(mean=0.2 * hs.ms), failures=failures if faults else None,
        **store,
    )  # fmt: skip
    users = KVWorkload(sim, "users", target=kv, rate=rate, keys=5, read_share=0.5, timeout=1.0)
    if chaos:
        hs.Chaos(sim, list(chaos))
    result = sim.run(until=until)
    return sim, kv, users, result


@pytest.mark.parametrize(
    "seed", [1, 2, 3, *(pytest.param(s, marks=pytest.mark.slow) for s in range(4, 40))]
)
def test_strict_quorums_never_read_stale_under_crashes_and_latency(seed):
    """N=3, R=W=2 (R + W > N), every replica crashing (MTTF 10 s, MTTR 2 s) and lognormal
    latencies with a long tail: no ok read misses a write acknowledged before it began, no
    acknowledged write is lost, reads never go back in time, in runs with 3+ replica crashes."""
    sim, kv, users, result = _run(seed)
    history = users.history
    stale = checker.stale_reads(history)
    assert stale.checked > 2000
    assert stale.fraction == 0.0, str(stale)[:500]
    assert checker.lost_writes(history, kv.final_state()).ok
    assert checker.monotonic_reads(history, per_client=False).ok
    assert (result.faults()["kind"] == "crash").sum() >= 3
    assert 0.5 < operation_availability(history)["write"] <= 1.0


def test_partial_quorums_do_read_stale():
    """The same runs with R = W = 1 (R + W <= N): some reads are stale, so the check above is
    not vacuous; each stale read says how far behind and how long after the write it was."""
    sim, kv, users, result = _run(1, r=1, w=1)
    stale = checker.stale_reads(users.history)
    assert 0.0 < stale.fraction < 0.5
    assert all(s.behind >= 1 and s.since > 0 for s in stale.reads if s.stale)


def test_versions_are_the_coordinators_per_key_counter():
    """Each acknowledged write's version is unique for its key, and versions grow with the
    order in which writes reached the coordinator."""
    sim, kv, users, result = _run(2, faults=False, until=5)
    writes = [op for op in users.history if op.kind == "write" and op.ok]
    by_key = {}
    for op in writes:
        by_key.setdefault(op.key, []).append(op)
    for ops in by_key.values():
        versions = [op.version for op in ops]
        assert len(set(versions)) == len(versions)
    assert all(isinstance(op.version, int) for op in writes)


def test_the_preference_list_is_n_distinct_replicas_from_the_ring():
    """With 6 replicas and N=3, each key lives on 3 of them (the first of its ring order), and
    only those ever hold it; different keys spread over every replica."""
    sim, kv, users, result = _run(4, replicas=6, faults=False, until=5)
    assert [x.name for x in kv.replicas] == [f"kv{i}" for i in range(6)]
    owners = set()
    for key in range(5):
        pref = kv.preference(key)
        assert sorted(pref) == sorted(x.name for x in kv.replicas)
        owners.update(pref[:3])
        for replica in kv.replicas:
            if replica.name not in pref[:3]:
                assert key not in replica.store
    assert len(owners) >= 4
    assert kv.preference(0) == kv.preference(0)  # cached, stable


def test_replica_names_can_be_given():
    """``replicas`` may be a list of names (at least n, distinct)."""
    sim = hs.Simulation(seed=1)
    kv = QuorumStore(sim, "kv", replicas=["a", "b", "c", "d"])
    assert [x.name for x in kv.replicas] == ["a", "b", "c", "d"]
    assert kv.replica("c") is sim["c"]


def test_write_availability_under_a_partition_and_rejection_once_detected():
    """N=3, W=2: cutting one replica off keeps writes available; cutting two makes the first
    writes time out, and once the coordinator suspects both, it rejects writes at once
    (rejected), while reads with R=1 stay ok from the last replica."""
    cut_one = [hs.Partition(["kv0"], at=2, duration=3)]
    sim, kv, users, result = _run(1, r=1, faults=False, until=5, chaos=cut_one)
    during = [op for op in users.history if 2.2 < op.invoked < 4.9]
    assert operation_availability(during)["write"] == 1.0

    cut_two = [hs.Partition(["kv0", "kv1"], at=2, duration=3)]
    sim, kv, users, result = _run(1, r=1, faults=False, until=5, chaos=cut_two)
    writes = [op for op in users.history if op.kind == "write" and 2.2 < op.invoked < 4.9]
    assert {op.outcome for op in writes} == {hs.REJECTED}
    early = [op for op in users.history if op.kind == "write" and 2.0 < op.invoked < 2.05]
    assert hs.TIMEOUT in {op.outcome for op in early}
    reads = [op for op in users.history if op.kind == "read" and 2.2 < op.invoked < 4.9]
    assert operation_availability(reads)["read"] == 1.0


def test_suspicion_ends_when_a_probe_is_answered():
    """After the partition heals, pings reach the replicas again and writes are ok again."""
    chaos = [hs.Partition(["kv0", "kv1"], at=2, duration=1)]
    sim, kv, users, result = _run(1, faults=False, until=6, chaos=chaos, probe_interval=0.5)
    late = [op for op in users.history if op.invoked > 4.5]
    assert operation_availability(late)["all"] == 1.0
    assert kv.suspected == {}


def test_sloppy_quorum_keeps_writes_available_and_hands_hints_back():
    """5 replicas, N=3, W=2, R=1: with two of a key's preference list cut off, a strict quorum
    rejects its writes, a sloppy one writes to the next replicas on the ring with hints; after
    the heal, hinted handoff brings every intended replica up to date and no hint is left."""

    def run(sloppy):
        sim = hs.Simulation(seed=3)
        hs.Network(sim, latency=1 * hs.ms)
        kv = QuorumStore(sim, "kv", n=3, r=1, w=2, replicas=5, coordinator_timeout=0.05,
                         sloppy=sloppy, hinted_handoff=0.5, probe_interval=0.5)  # fmt: skip
        pref = kv.preference(0)
        users = KVWorkload(sim, "users", target=kv, rate=100, keys=1, read_share=0.2)
        hs.Chaos(sim, [hs.Partition(pref[:2], at=1, duration=3)])
        sim.run(until=8)
        return kv, users, pref

    kv, users, pref = run(False)
    writes = [op for op in users.history if op.kind == "write" and 1.2 < op.invoked < 4]
    assert operation_availability(writes)["write"] == 0.0

    kv, users, pref = run(True)
    writes = [op for op in users.history if op.kind == "write" and 1.2 < op.invoked < 4]
    assert operation_availability(writes)["write"] == 1.0
    assert checker.lost_writes(users.history, kv.final_state()).ok
    newest = kv.final_state().version(0)
    assert all(kv.replica(x).store.version(0) == newest for x in pref[:3])
    assert all(not x.hints for x in kv.replicas)


def test_without_handoff_hints_stay_with_the_substitutes():
    """``hinted_handoff=None``: the substitutes keep the hints, the intended replicas stay
    behind, and reads at a substitute still see hinted data (final_state includes it)."""
    sim = hs.Simulation(seed=3)
    hs.Network(sim, latency=1 * hs.ms)
    kv = QuorumStore(sim, "kv", n=3, r=1, w=2, replicas=5, coordinator_timeout=0.05,
                     sloppy=True, hinted_handoff=None)  # fmt: skip
    pref = kv.preference(0)
    users = KVWorkload(sim, "users", target=kv, rate=100, keys=1, read_share=0.2)
    hs.Chaos(sim, [hs.Partition(pref[:2], at=1, duration=2)])
    sim.run(until=4)
    assert any(x.hints for x in kv.replicas)
    assert checker.lost_writes(users.history, kv.final_state()).ok


def _repair_run(read_repair):
    """kv2 is down while key 0 is written, comes back, then the key is read with R=3."""
    sim = hs.Simulation(seed=5)
    hs.Network(sim, latency=1 * hs.ms)
    kv = QuorumStore(sim, "kv", n=3, r=3, w=2, coordinator_timeout=0.05, read_repair=read_repair,
                     probe_interval=0.2)  # fmt: skip
    users = KVWorkload(sim, "users", target=kv, rate=[(0.0, 0.0), (1e9, 1.0)])
    for i in range(5):
        sim.call_later(1.0 + 0.1 * i, lambda _: users.issue(0, "write"))
    sim.call_later(3.0, lambda _: users.issue(0, "read"))
    hs.Chaos(sim, [hs.Crash("kv2", at=0.5, duration=1.5)])
    sim.run(until=4)
    return kv, users


def test_read_repair_brings_a_stale_replica_up_to_date():
    """A replica that missed writes while down is repaired by the first read that finds it
    behind; without read repair it stays behind (no anti-entropy)."""
    kv, users = _repair_run(True)
    read = [op for op in users.history if op.kind == "read"][0]
    assert read.ok and read.version == 5
    assert kv.behind() == {"kv0": 0, "kv1": 0, "kv2": 0}
    kv, users = _repair_run(False)
    assert kv.behind()["kv2"] == 1


def test_same_seed_same_history():
    """Determinism: the same seed gives the same outcomes and versions."""
    a = _run(7, until=5)[2].history
    b = _run(7, until=5)[2].history
    assert [(op.outcome, op.version) for op in a] == [(op.outcome, op.version) for op in b]


def test_closed_forms():
    """PBS: p = C(N-W, R)/C(N, R); k-staleness p**k; t-visibility at t = 0 is p times the
    chance the read's replicas get the write later than the read, and falls with t."""
    assert stale_probability(3, 2, 2) == 0.0
    assert stale_probability(3, 1, 1) == pytest.approx(2 / 3)
    assert stale_probability(5, 2, 2) == pytest.approx(0.3)
    assert k_staleness(5, 2, 2, 2) == pytest.approx(0.09)
    assert t_visibility(3, 1, 1, 0.0, 0.01, fanout="quorum") == pytest.approx(1 / 3)
    assert t_visibility(3, 1, 1, 0.0, 0.01) == pytest.approx(2 / 3 * 3 / 4)
    assert t_visibility(3, 1, 1, 0.01, 0.01) == pytest.approx(0.5 * math.exp(-1))
    assert t_visibility(3, 2, 2, 0.0, 0.01) == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"r": 4}, r"^QuorumStore 'kv': r must be an integer in \[1, n=3\], got 4$"),
        ({"w": 0}, r"^QuorumStore 'kv': w must be an integer >= 1, got 0$"),
        ({"replicas": 2}, r"^QuorumStore 'kv': replicas must be an integer >= 3, got 2$"),
        ({"replicas": ["a", "a", "b"]}, r"replicas must be at least n=3 distinct names"),
        ({"read_fanout": "some"}, r"read_fanout must be \"all\" or \"quorum\", got 'some'"),
        ({"hinted_handoff": 0}, r"hinted_handoff must be a number > 0, got 0"),
        ({"coordinator_timeout": -1}, r"coordinator_timeout must be a number > 0, got -1"),
        ({"sloppy": "yes"}, r"sloppy must be True or False, got 'yes'"),
        ({"wars": "fast"}, r"^QuorumStore 'kv': wars must be a WARS or None, got 'fast'$"),
        ({"read_service_time": -1}, r"read_service_time must be a Distribution, a number >= 0"),
        ({"write_service_time": "soon"}, r"write_service_time must be a Distribution"),
    ],
)
def test_bad_configuration_is_refused_before_anything_is_registered(kwargs, match):
    """Every parameter is checked, with the one error style; nothing is left registered."""
    sim = hs.Simulation(seed=1)
    with pytest.raises(hs.ConfigError, match=match):
        QuorumStore(sim, "kv", **kwargs)
    assert "kv" not in sim and "kv0" not in sim


def test_closed_forms_check_their_arguments():
    """The closed forms refuse impossible quorums."""
    with pytest.raises(hs.ConfigError, match=r"^stale_probability: r must be an integer in"):
        stale_probability(3, 4, 1)


def test_a_crashed_coordinator_answers_error():
    """Chaos can crash the coordinator itself: operations in flight and those that arrive while
    it is down end ``error``; once it is back, operations are ok again."""
    chaos = [hs.Crash("kv", at=1, duration=1)]
    sim, kv, users, result = _run(1, faults=False, until=3, chaos=chaos)
    down = [op for op in users.history if 1.01 < op.invoked < 1.9]
    assert {op.outcome for op in down} == {hs.ERROR}
    after = [op for op in users.history if 2.1 < op.invoked < 2.9]
    assert operation_availability(after)["all"] == 1.0


def test_the_closed_forms_know_the_store_s_fanouts():
    """``hasim.analytic.t_visibility`` repeats the store's fanout names (analytic never
    imports the core): the two lists must agree."""
    from hasim.analytic import staleness

    assert staleness.FANOUTS == FANOUTS


def _timed_run(**store):
    """Fixed delays everywhere: 1 ms each way between the store and its replicas, none between
    the client and the store; R = W = 1, so the first answer completes."""
    sim = hs.Simulation(seed=1)
    net = hs.Network(sim, latency=1 * hs.ms)
    kv = QuorumStore(sim, "kv", n=3, r=1, w=1, read_repair=False, **store)
    net.set_latency("users", "kv", 0.0)
    users = KVWorkload(sim, "users", target=kv, rate=[(0.0, 0.0), (1e12, 1.0)])
    for i in range(20):  # one operation every 50 ms: replicas never queue
        sim.call_later(0.05 * i, lambda i: users.issue(i % 3, ("read", "write")[i % 2]), i)
    sim.run(until=2)
    done = [op for op in users.history if op.ok]
    return {kind: {round(op.completed - op.invoked, 12) for op in done if op.kind == kind}
            for kind in ("read", "write")}  # fmt: skip


def test_wars_latencies_and_service_times_are_per_message_kind():
    """PBS's W, A, R, S are added to the network path of their own messages, and reads and
    writes take their own service times: with fixed values, a write takes 1 + W + service_w +
    1 + A ms and a read 1 + R + service_r + 1 + S ms, exactly; without them both take 2 ms."""
    assert _timed_run() == {"read": {0.002}, "write": {0.002}}
    wars = WARS(write="3ms", ack="1ms", read="2ms", response=0.0005)
    timed = _timed_run(wars=wars, read_service_time="0.7ms", write_service_time="0.2ms")
    assert timed == {"read": {0.0052}, "write": {0.0062}}
    only_reads = _timed_run(service_time="0.1ms", read_service_time="0.7ms")
    assert only_reads == {"read": {0.0027}, "write": {0.0021}}


def test_a_zero_wars_changes_nothing():
    """``WARS()`` (every latency 0) draws nothing and delays nothing: the same history as
    without it, on the lognormal network with crashes."""
    a = _run(7, until=5, r=1, w=1)[2].history
    b = _run(7, until=5, r=1, w=1, wars=WARS())[2].history
    assert [(op.outcome, op.version, op.completed) for op in a] == [
        (op.outcome, op.version, op.completed) for op in b
    ]


def test_slow_write_propagation_makes_partial_quorums_staler():
    """N=3, R=W=1: with writes that take 20 ms to reach a replica (and everything else 1 ms),
    more reads miss the last acknowledged write than when writes take 1 ms."""

    def stale(write_mean):
        fast = hs.Exponential(mean=0.001)
        wars = WARS(write=hs.Exponential(mean=write_mean), ack=fast, read=fast, response=fast)
        sim = hs.Simulation(seed=3)
        hs.Network(sim)
        kv = QuorumStore(sim, "kv", n=3, r=1, w=1, wars=wars, read_repair=False)
        users = KVWorkload(sim, "users", target=kv, rate=500, keys=5, read_share=0.5)
        sim.run(until=10)
        return checker.stale_reads(users.history).fraction

    assert stale(0.020) > 2 * stale(0.001) > 0.0


def test_wars_is_a_validated_value_object():
    """Each latency is a Distribution, seconds or a duration string; 0 by default."""
    wars = WARS(write="2ms", read=hs.Exponential(mean=0.004))
    assert wars.write == hs.Deterministic(0.002)
    assert wars.ack == hs.Deterministic(0.0)
    assert wars == WARS(write=0.002, read=hs.Exponential(rate=250))
    with pytest.raises(hs.ConfigError, match=r"^WARS: response must be a Distribution"):
        WARS(response=-1.0)
