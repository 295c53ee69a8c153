"""RaftKV: a KV workload on a Raft cluster under faults, checked from the history alone."""

from __future__ import annotations

import pytest

import hasim as hs
from hasim.replication import KVWorkload, checker, operation
from hasim.replication.raft_kv import RaftKV


def _run(seed: int, *, partition: bool = True, loss: float = 0.0):
    sim = hs.Simulation(seed=seed)
    hs.Network(sim, latency=hs.Exponential(mean=2 * hs.ms), loss=loss)
    kv = RaftKV(
        sim, "kv", nodes=5, disk_write="0.5ms", timeout=0.5,
        failures=hs.Failures(ttf=hs.Exponential(mean=20), ttr=hs.Exponential(mean=2)),
    )  # fmt: skip
    users = KVWorkload(sim, "users", target=kv, rate=15, keys=4, read_share=0.5, timeout=1.0)
    if partition:
        hs.Chaos(sim, [hs.Partition(["kv0", "kv1"], at=12, duration=6)])
    result = sim.run(until=40)
    return sim, kv, users, result


@pytest.mark.parametrize(
    ("seed", "loss"),
    [(1, 0.0), (2, 0.0), (3, 0.02), (4, 0.02)]
    + [pytest.param(s, p, marks=pytest.mark.slow) for s in range(5, 45) for p in (0.0, 0.02)],
)
def test_raft_kv_histories_are_linearizable_and_lose_no_acknowledged_write(seed, loss):
    """Random node crashes (MTTF 20 s, MTTR 2 s each), a 2|3 partition and, in half the runs,
    2 % message loss: every acknowledged write is in the committed store, each key behaves as
    one atomic register, reads never go back in time, no term has two leaders, and the run had
    failures to survive (several terms). 4 runs by default, 80 with ``-m slow``."""
    sim, kv, users, result = _run(seed, loss=loss)
    history = users.history
    ops = list(history)
    assert sum(op.outcome == hs.OK for op in ops) > 300
    assert len({term for _, term, _ in kv.leaders}) >= 2
    assert checker.lost_writes(history, kv.final_state()).ok
    assert checker.linearizable(history).ok
    assert checker.monotonic_reads(history, per_client=False).ok
    assert checker.at_most_one_leader_per_term(kv.leaders).ok
    assert kv.violations == []


def test_the_checkers_catch_a_store_that_forgets_committed_writes():
    """The same run, with the committed store emptied of one acknowledged key at the end: the
    lost-write check fails (so the checks above are not vacuous)."""
    sim, kv, users, result = _run(1)
    acked = [op for op in users.history if op.kind == "write" and op.outcome == hs.OK]
    victim = acked[-1].key
    kv.store._data.pop(victim)
    assert not checker.lost_writes(users.history, kv.final_state()).ok


def test_versions_are_log_indexes():
    """A write's version is the log index of its entry (so it grows with the log)."""
    sim, kv, users, result = _run(5, partition=False)
    leader = max(kv.nodes, key=lambda n: n.commit_index)
    for op in users.history:
        if op.kind == "write" and op.outcome == hs.OK:
            assert operation(leader.log[op.version - 1].op) is op


def test_apply_is_the_store():
    """RaftKV's state machine is its store: an ``apply`` of one's own is refused."""
    sim = hs.Simulation(seed=1)
    with pytest.raises(hs.ConfigError, match=r"^RaftKV 'kv': apply must be left out"):
        RaftKV(sim, "kv", apply=lambda request, index: None)
    assert "kv" not in sim
