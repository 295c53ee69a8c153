"""The linearizability checker: hand-made histories, a brute-force oracle, real stores, bugs.

``w(id, key, value, invoked, completed)`` and ``r(...)`` (from ``helpers``) build
operations; ``completed=None`` is an open-ended (timed-out) one.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

import hasim as hs
from hasim.replication import READ, WRITE, KVWorkload, SingleCopy, VersionedStore
from hasim.replication.linearizability import (
    Counterexample,
    HistoryTooLarge,
    Linearizability,
    check_linearizability,
)
from hasim.replication.raft_kv import RaftKV

from .helpers import r, w

# -- hand-made histories ------------------------------------------------------------------------


def test_concurrent_writes_and_a_read_of_either_value_pass():
    both = [w(1, "x", 1, 0, 10), w(2, "x", 2, 1, 9)]
    for seen in (1, 2):
        result = check_linearizability([*both, r(3, "x", seen, 2, 3), r(4, "x", seen, 11, 12)])
        assert result.ok and result.verdict == "linearizable" and bool(result)
        assert (result.keys, result.operations, result.counterexamples) == (1, 4, ())
    # A read concurrent with the first write may still see the initial value.
    assert check_linearizability([*both, r(3, "x", None, 0.5, 0.8)]).ok


def test_a_stale_read_after_a_completed_write_fails_and_points_at_the_read():
    history = [w(1, "k", 1, 0, 1), w(2, "k", 2, 2, 3), r(3, "k", 1, 4, 5)]
    result = check_linearizability(history)
    assert not result.ok and result.verdict == "not linearizable"
    (example,) = result.counterexamples
    assert example.key == "k" and example.stuck.id == 3
    assert [op.id for op in example.prefix] == [1, 2] and example.register == 2
    assert [op.id for op in example.core] == [1, 2, 3] and example.minimal


def test_a_read_of_a_value_never_written_fails_without_a_search():
    result = check_linearizability([w(1, "k", 1, 0, 1), r(2, "k", 99, 2, 3)])
    (example,) = result.counterexamples
    assert example.never_written and example.stuck.id == 2 and result.steps == 0
    assert [op.id for op in example.core] == [2]
    assert "returned 99 (ok): a value no write of this key wrote" in str(example)


def test_two_readers_seeing_two_writes_in_opposite_orders_fail():
    """Concurrent writes 1 and 2; reader a sees 1 then 2, reader b sees 2 then 1."""
    history = [
        w(1, "k", 1, 0, 10),
        w(2, "k", 2, 0, 10),
        r(3, "k", 1, 1, 2, client="a"),
        r(4, "k", 2, 3, 4, client="a"),
        r(5, "k", 2, 1, 2, client="b"),
        r(6, "k", 1, 3, 4, client="b"),
    ]
    (example,) = check_linearizability(history).counterexamples
    assert example.key == "k" and example.minimal
    # Every operation is needed: drop any one and an order exists.
    assert sorted(op.id for op in example.core) == [1, 2, 3, 4, 5, 6]
    assert example.stuck.id in (4, 6)


def test_the_core_drops_what_the_violation_does_not_need():
    """A long clean history, then one stale read: the core is the stale read and two writes."""
    clean = [w(i, "k", i, 2 * i, 2 * i + 1) for i in range(1, 30)]
    stale = r(100, "k", 28, 100, 101)  # write 29 completed at 59
    (example,) = check_linearizability([*clean, stale]).counterexamples
    assert [op.id for op in example.core] == [28, 29, 100]
    assert example.stuck is stale and len(example.prefix) == 29


def test_a_counterexample_prints_the_prefix_tail_the_stuck_operation_and_the_core():
    history = [w(i, "k", i, 2 * i, 2 * i + 1) for i in range(1, 10)] + [r(99, "k", 3, 50, 51)]
    result = check_linearizability(history)
    text = str(result)
    assert text.startswith("linearizability: not linearizable (10 operations on 1 key(s)")
    assert "longest linearizable prefix: 9 operations" in text
    assert "... 4 before" in text and "write 9 by 'c' [18, 19] wrote 9 (ok)" in text
    assert "register after it: 9" in text
    assert "cannot come next: read 99 by 'c' [50, 51] returned 3 (ok)" in text
    assert "a non-linearizable subset (minimal, 3 operations):" in text
    summary = result.counterexamples[0].summary()
    assert summary.startswith("key 'k': no linearization of its 10 operations")
    assert re.search(r"a minimal failing subset: ops \[3, [4-9], 99\]$", summary)


def test_keys_are_checked_apart_and_each_failure_names_its_key():
    history = [
        w(1, "a", 1, 0, 1),
        r(2, "a", 1, 2, 3),
        w(3, "b", 3, 0, 1),
        r(4, "b", None, 2, 3),
        w(5, 7, 5, 0, 1),
        r(6, 7, 9, 2, 3),
    ]
    result = check_linearizability(history)
    assert [c.key for c in result.counterexamples] == ["b", 7]
    assert result.keys == 3


# -- outcomes ----------------------------------------------------------------------------------


def test_an_indeterminate_write_may_take_effect_late_or_never():
    late = [w(1, "x", 1, 0, None), r(2, "x", None, 1, 2), r(3, "x", 1, 30, 31)]
    never = [w(1, "x", 1, 0, None), r(2, "x", None, 100, 101)]
    error = [w(1, "x", 1, 0, 1, outcome="error"), r(2, "x", None, 2, 3), r(3, "x", 1, 4, 5)]
    for history in (late, never, error):
        assert check_linearizability(history).ok
    # Never seen: left out of the search.
    assert check_linearizability(never).dropped == 1


def test_an_indeterminate_write_once_seen_cannot_be_undone():
    history = [w(1, "x", 1, 0, None), r(2, "x", 1, 1, 2), r(3, "x", None, 3, 4)]
    (example,) = check_linearizability(history).counterexamples
    assert example.stuck.id == 3 and [op.id for op in example.core] == [1, 2, 3]


def test_no_effect_outcomes_drop_writes_and_catch_a_read_that_saw_one():
    history = [w(1, "x", 1, 0, 1, outcome="rejected"), r(2, "x", 1, 2, 3)]
    assert check_linearizability(history).ok  # rejected: indeterminate by default
    (example,) = check_linearizability(history, no_effect=("rejected",)).counterexamples
    assert example.never_written and example.stuck.id == 2


def test_reads_that_did_not_end_ok_say_nothing():
    history = [w(1, "x", 1, 0, 1), r(2, "x", "junk", 2, 3, outcome="error"), r(3, "x", 5, 2, None)]
    result = check_linearizability(history)
    assert result.ok and result.operations == 1 and result.dropped == 2


# -- limits and bad input ----------------------------------------------------------------------


def crowd(values=2):
    """15 concurrent writes (of ``values`` values; None: unique), then reads of 1, 2, 1:
    no order explains them, and every subset of the writes must be tried to say so."""
    writes = [w(i, "x", i if values is None else 1 + i % values, 0, 100) for i in range(1, 16)]
    return writes + [r(97, "x", 1, 101, 102), r(98, "x", 2, 103, 104), r(99, "x", 1, 105, 106)]


def test_a_search_past_its_step_limit_is_unknown_or_an_error():
    history = [*crowd(), w(200, "y", 1, 0, 1), r(201, "y", None, 2, 3)]
    result = check_linearizability(history, max_steps=500)
    assert result.verdict == "not linearizable" and not result.ok  # key y is decided
    assert result.unknown == (("x", "needed more than max_steps=500 search states"),)
    assert "key 'x': unknown, it needed more than max_steps=500" in str(result)
    unknown_only = check_linearizability(crowd(), max_steps=500)
    assert unknown_only.verdict == "unknown" and not unknown_only.ok
    with pytest.raises(HistoryTooLarge, match=r"key 'x' needed more than max_steps=500"):
        check_linearizability(crowd(), max_steps=500, on_limit="raise")
    with pytest.raises(HistoryTooLarge, match=r"key 'x' has 18 operations, more than max_ops=10"):
        check_linearizability(crowd(), max_ops=10, on_limit="raise")


def test_with_unique_values_the_zones_decide_when_the_search_is_slow():
    """Gibbons and Korach's zones settle in O(n log n) what the search could not in 500 states;
    the counterexample keeps the deepest prefix the search found and a minimal core."""
    result = check_linearizability(crowd(values=None), max_steps=500)
    (example,) = result.counterexamples
    assert result.unknown == () and result.steps > 500 - 1 and result.zones == ("x",)
    assert ", 1 key(s) by zones, " in str(result)
    assert example.minimal and example.stuck.kind == READ
    # Writes 1 and 2 and two reads that see them in opposite orders after both completed.
    assert sorted(op.id for op in example.core) in ([1, 2, 97, 98], [1, 2, 98, 99])


def test_a_time_limit_leaves_the_undecided_keys_unknown():
    result = check_linearizability(crowd(), time_limit=1e-9)
    assert result.verdict == "unknown" and result.unknown[0][0] == "x"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"max_steps": 0}, "max_steps must be an integer >= 1, got 0"),
        ({"max_ops": 0}, "max_ops must be an integer >= 1, got 0"),
        ({"time_limit": -1}, "time_limit must be"),
        ({"no_effect": ("ok",)}, r"no_effect must be outcomes among \['error', 'lost', "),
        ({"shrink": "yes"}, "shrink must be True or False, got 'yes'"),
        ({"on_limit": "ignore"}, 'on_limit must be "unknown" or "raise", got \'ignore\''),
    ],
)
def test_bad_settings_are_refused(kw, message):
    with pytest.raises(hs.ConfigError, match=f"^check_linearizability: {message}"):
        check_linearizability([], **kw)


# -- against a brute-force oracle --------------------------------------------------------------


def brute_force(ops):
    """Every order of the operations, no memo, no shortcut: whether one is legal."""
    required = [op for op in ops if op.ok and op.completed is not None]
    optional = [op for op in ops if op.kind == WRITE and not op.ok]
    for extra in range(len(optional) + 1):
        for chosen in itertools.combinations(optional, extra):
            todo = [*required, *chosen]
            for order in itertools.permutations(todo):
                if _legal(order):
                    return True
    return False


def _legal(order):
    value = None
    for i, op in enumerate(order):
        if any(o.completed is not None and o.ok and o.completed < op.invoked for o in order[i:]):
            return False  # an operation that returned before this one began comes after it
        if op.kind == READ:
            if op.value != value:
                return False
        else:
            value = op.value
    return True


def random_history(rng, n):
    """Up to ``n`` operations on one key, integer times (many ties), some open writes."""
    ops = []
    written = []
    for i in range(1, n + 1):
        start = int(rng.integers(0, 6))
        end = start + int(rng.integers(0, 4))
        if rng.random() < 0.5:
            written.append(i)
            if rng.random() < 0.2:
                ops.append(w(i, "k", i, start, None))
            else:
                ops.append(w(i, "k", i, start, end))
        else:
            ops.append(r(i, "k", rng.choice([None, *written, *written]), start, end))
    return ops


@pytest.mark.parametrize("seed", range(300))
def test_the_search_agrees_with_brute_force_and_its_cores_are_minimal(seed):
    """Small random histories (up to 6 operations), about half of them not linearizable."""
    rng = np.random.default_rng(seed)
    ops = random_history(rng, int(rng.integers(1, 7)))
    result = check_linearizability(ops)
    assert result.ok == brute_force(ops)
    for example in result.counterexamples:
        core = list(example.core)
        assert not brute_force(core)
        for op in core:  # 1-minimal: without it (and writes only it read), an order exists
            rest = [o for o in core if o is not op]
            seen = {o.value for o in rest if o.kind == READ}
            if op.kind == WRITE and op.value in seen:
                continue  # kept: a read of its value remains
            assert brute_force(rest), (seed, op)


@pytest.mark.parametrize("seed", range(300))
def test_the_zones_agree_with_brute_force(seed):
    """With ``max_steps=1`` the search gives up at once and the zones decide (values are
    unique); their evidence, shrunk, is still a failing subset."""
    rng = np.random.default_rng(10_000 + seed)
    ops = random_history(rng, int(rng.integers(1, 7)))
    result = check_linearizability(ops, max_steps=1)
    assert result.unknown == () and result.ok == brute_force(ops)
    for example in result.counterexamples:
        assert not brute_force(list(example.core))


# -- histories of correct stores: no false alarm -----------------------------------------------


def single_copy_history(seed, until=10.0):
    """One copy, 16 workers, crashes (MTTF 2 s), 400 ops/s on 5 keys (Zipf), 25 ms timeout:
    plenty of concurrency per key, errors, timeouts and retries of refused tries."""
    sim = hs.Simulation(seed=seed)
    db = SingleCopy(
        sim,
        "db",
        workers=16,
        service_time=hs.Exponential(mean=10 * hs.ms),
        failures=hs.Failures(ttf=hs.Exponential(mean=2.0), ttr=hs.Exponential(mean=0.2)),
    )
    kv = KVWorkload(
        sim,
        "kv",
        target=db,
        rate=400,
        read_share=0.5,
        keys=5,
        popularity=hs.Zipf(1.0),
        timeout=0.025,
        retry=hs.Retry(attempts=3, retry_on=(hs.ERROR,), backoff=hs.ConstantBackoff(0.01)),
    )
    sim.run(until=until)
    return kv.history


def raft_history(seed, until=20.0):
    """RaftKV, 5 nodes, crashes (MTTF 20 s each), a 2|3 partition, 2 % message loss."""
    sim = hs.Simulation(seed=seed)
    hs.Network(sim, latency=hs.Exponential(mean=2 * hs.ms), loss=0.02)
    kv = RaftKV(
        sim, "kv", nodes=5, disk_write="0.5ms", timeout=0.5,
        failures=hs.Failures(ttf=hs.Exponential(mean=20), ttr=hs.Exponential(mean=2)),
    )  # fmt: skip
    users = KVWorkload(sim, "users", target=kv, rate=60, keys=3, read_share=0.5, timeout=1.0)
    hs.Chaos(sim, [hs.Partition(["kv0", "kv1"], at=5, duration=5)])
    sim.run(until=until)
    return users.history


def assert_no_false_alarm(history):
    result = check_linearizability(history, max_steps=200_000)
    assert result.ok, str(result)
    outcomes = {op.outcome for op in history}
    return result, outcomes


@pytest.mark.parametrize("seed", range(20))
def test_no_false_alarm_on_a_single_copy_under_crashes(seed):
    result, outcomes = assert_no_false_alarm(single_copy_history(seed))
    assert {hs.OK, hs.ERROR, hs.TIMEOUT} <= outcomes and result.operations > 2000
    assert result.steps <= 2 * result.operations  # the first guess is nearly always right


@pytest.mark.parametrize("seed", range(3))
def test_no_false_alarm_on_raft_kv_under_crashes_partition_and_loss(seed):
    result, outcomes = assert_no_false_alarm(raft_history(seed))
    assert result.operations > 500 and hs.OK in outcomes


@pytest.mark.slow
def test_no_false_alarm_over_200_seeds_of_each_correct_store():
    """200 seeds of the single copy and 200 of RaftKV: not one false alarm."""
    alarms = []
    for seed in range(200):
        for make in (single_copy_history, raft_history):
            result = check_linearizability(make(seed), max_steps=200_000)
            if not result.ok:
                alarms.append((make.__name__, seed, result.verdict))
    assert alarms == []


# -- injected bugs: caught, and the key named --------------------------------------------------


class LaggingReads(SingleCopy):
    """Bug: serves reads from a copy of the store refreshed every 0.5 s (a lagging replica)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.copy = VersionedStore()
        self.refreshed = -1.0

    def perform(self, store, attempt):
        op = attempt.key
        if op.kind == WRITE:
            return super().perform(store, attempt)
        if self.env.now - self.refreshed >= 0.5:
            self.copy.restore(store.snapshot())
            self.refreshed = self.env.now
        version, value = self.copy.get(op.key)
        return value, version


def test_a_store_serving_stale_reads_is_caught_per_key():
    sim = hs.Simulation(seed=3)
    db = LaggingReads(sim, "db", workers=4, service_time=hs.Exponential(mean=2 * hs.ms))
    kv = KVWorkload(sim, "kv", target=db, rate=200, read_share=0.5, keys=4, timeout=1.0)
    sim.run(until=5.0)
    result = check_linearizability(kv.history)
    assert result.verdict == "not linearizable"
    assert {c.key for c in result.counterexamples} == {0, 1, 2, 3}
    for example in result.counterexamples:
        assert example.stuck.kind == READ and all(op.key == example.key for op in example.core)


def rewind_one_read(ops, after=0):
    """A copy of ``ops`` where the first ok read from ``ops[after]`` on returns the value of
    a write that another write, completed before the read began, certainly overwrote."""
    writes = [op for op in ops if op.kind == WRITE and op.ok]
    for read in ops[after:]:
        if read.kind != READ or not read.ok:
            continue
        done = [x for x in writes if x.key == read.key and x.completed < read.invoked]
        older = [x for x in done if any(x.completed < y.invoked for y in done)]
        if older:
            old = older[-1]
            mutated = hs.replication.Operation(
                read.id, read.client, READ, read.key, old.value, read.invoked,
                version=old.version, completed=read.completed, outcome=read.outcome,
            )  # fmt: skip
            return [mutated if op is read else op for op in ops], mutated
    raise AssertionError("no read to rewind")


def test_a_read_rewound_to_an_older_value_in_a_raft_history_is_caught():
    """A correct RaftKV history (3 keys) with one read made to return an overwritten value."""
    ops = list(raft_history(1))
    assert check_linearizability(ops).ok
    mutated_ops, mutated = rewind_one_read(ops)
    result = check_linearizability(mutated_ops)
    (example,) = result.counterexamples
    assert example.key == mutated.key and mutated in example.core
    assert isinstance(result, Linearizability) and isinstance(example, Counterexample)


def hot_key_history(seed, until=3.0):
    """One key, a single copy with 16 workers (10 ms), 1,000 ops/s: ~10 operations in flight."""
    sim = hs.Simulation(seed=seed)
    db = SingleCopy(sim, "db", workers=16, service_time=hs.Exponential(mean=10 * hs.ms))
    kv = KVWorkload(sim, "kv", target=db, rate=1000, read_share=0.5, keys=1, timeout=1.0)
    sim.run(until=until)
    return list(kv.history)


def test_a_read_rewound_in_the_middle_of_a_busy_hot_key_is_caught():
    """Midway through ~3,000 operations on one key with ~10 in flight: the search alone would
    have to rule out every earlier order; the zones decide, and the core is a handful of
    operations around the read (the write it saw, and what overwrote it before it began)."""
    ops = hot_key_history(2)
    assert check_linearizability(ops).ok
    mutated_ops, mutated = rewind_one_read(ops, after=len(ops) // 2)
    (example,) = check_linearizability(mutated_ops).counterexamples
    assert example.key == 0 and example.minimal and 3 <= len(example.core) <= 5
    assert mutated in example.core and brute_force(list(example.core)) is False
    assert any(op.kind == WRITE and op.value == mutated.value for op in example.core)
