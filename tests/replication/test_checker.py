"""The safety checkers on histories made by hand: what they accept and what they catch.

``w(id, key, value, invoked, completed)`` and ``r(...)`` build operations;
``completed=None`` is an open-ended (timed-out) operation.
"""

from __future__ import annotations

import numpy as np
import pytest

from hasim.replication import (
    READ,
    WRITE,
    HistoryTooLarge,
    Operation,
    VersionedStore,
    at_most_one_leader_per_term,
    linearizable,
    lost_writes,
    monotonic_reads,
    stale_reads,
)

from .helpers import r, w

# -- linearizability -----------------------------------------------------------------------


def test_a_sequential_history_is_linearizable():
    check = linearizable([w(1, "x", 1, 0, 1), r(2, "x", 1, 2, 3), w(3, "x", 3, 4, 5)])
    assert check.ok and bool(check) and check.checked == 3


def test_a_read_after_a_completed_write_must_see_it():
    check = linearizable([w(1, "x", 1, 0, 1), r(2, "x", None, 2, 3)])
    assert not check.ok
    (v,) = check.violations
    assert v.key == "x" and 2 in v.ops
    assert "read 2" in str(v) and "returned None" in str(v)


def test_a_read_concurrent_with_a_write_may_see_either_value():
    history = [w(1, "x", 1, 0, 10), r(2, "x", None, 1, 2), r(3, "x", 1, 3, 4), r(4, "x", 1, 5, 6)]
    assert linearizable(history).ok


def test_new_old_inversion_is_not_linearizable():
    """Lamport's regular-but-not-atomic register: a later read sees the older value."""
    history = [w(1, "x", 1, 0, 10), r(2, "x", 1, 1, 2), r(3, "x", None, 3, 4)]
    check = linearizable(history)
    assert not check.ok
    assert "read 3" in str(check.violations[0])


def test_concurrent_writes_fix_one_order_for_later_reads():
    both = [w(1, "x", 1, 0, 5), w(2, "x", 2, 0, 5)]
    assert linearizable([*both, r(3, "x", 2, 6, 7), r(4, "x", 2, 8, 9)]).ok
    assert linearizable([*both, r(3, "x", 1, 6, 7), r(4, "x", 1, 8, 9)]).ok
    assert not linearizable([*both, r(3, "x", 2, 6, 7), r(4, "x", 1, 8, 9)]).ok


def test_an_open_ended_write_may_take_effect_late_or_never():
    late = [w(1, "x", 1, 0, None), r(2, "x", None, 1, 2), r(3, "x", 1, 30, 31)]
    never = [w(1, "x", 1, 0, None), r(2, "x", None, 100, 101)]
    assert linearizable(late).ok and linearizable(never).ok


def test_an_open_ended_write_once_seen_cannot_be_undone():
    history = [w(1, "x", 1, 0, None), r(2, "x", 1, 1, 2), r(3, "x", None, 3, 4)]
    assert not linearizable(history).ok


def test_a_failed_write_is_indeterminate_and_a_failed_read_ignored():
    history = [
        w(1, "x", 1, 0, 1, outcome="error"),
        r(2, "x", 1, 2, 3),
        r(3, "x", "junk", 4, 5, outcome="timeout"),
    ]
    assert linearizable(history).ok


def test_a_value_never_written_is_caught():
    assert not linearizable([w(1, "x", 1, 0, 1), r(2, "x", 99, 2, 3)]).ok


def test_operations_that_touch_at_one_instant_are_concurrent():
    assert linearizable([w(1, "x", 1, 0, 1), r(2, "x", None, 1, 2)]).ok


def test_keys_are_checked_one_by_one():
    history = [
        w(1, "a", 1, 0, 1),
        r(2, "a", None, 2, 3),
        w(3, "b", 3, 0, 1),
        r(4, "b", 3, 2, 3),
    ]
    check = linearizable(history)
    assert [v.key for v in check.violations] == ["a"]


def atomic_register_history(rng, n, keys=1, slack=1.0, completed_share=1.0):
    """Operations of a true atomic register: each takes effect at a point inside its interval."""
    points = np.sort(rng.uniform(0, n, n))
    value = {k: None for k in range(keys)}
    ops = []
    for i, t in enumerate(points, start=1):
        key = int(rng.integers(keys))
        start, end = t - rng.uniform(0, slack), t + rng.uniform(0, slack)
        if rng.random() < 0.5:
            value[key] = i
            if rng.random() < completed_share:
                ops.append(w(i, key, i, start, end))
            else:  # the client timed out, but the write took effect
                ops.append(w(i, key, i, start, None))
        else:
            ops.append(r(i, key, value[key], start, end))
    return ops


@pytest.mark.parametrize("seed", range(20))
def test_no_false_alarm_on_histories_of_a_true_atomic_register(seed):
    """Heavy overlap (each op spans up to +-3 average gaps around its point), open ends too."""
    rng = np.random.default_rng(seed)
    ops = atomic_register_history(rng, 120, keys=2, slack=3.0, completed_share=0.8)
    assert linearizable(ops).ok


@pytest.mark.parametrize("seed", range(20))
def test_a_read_moved_to_before_the_write_it_saw_is_caught(seed):
    """Shift one read that saw write i to begin and end before write i began."""
    rng = np.random.default_rng(seed)
    ops = atomic_register_history(rng, 60, slack=0.3)
    writes = {o.value: o for o in ops if o.kind == WRITE}
    target = next(o for o in ops[10:] if o.kind == READ and o.value is not None)
    seen = writes[target.value]
    moved = Operation(target.id, "c", READ, target.key, target.value, seen.invoked - 2)
    moved.completed, moved.outcome = seen.invoked - 1, "ok"
    assert not linearizable([moved if o is target else o for o in ops]).ok


def test_the_size_caps_are_loud():
    ops = [w(i, "x", i, i, i + 0.5) for i in range(1, 12)]
    with pytest.raises(HistoryTooLarge, match=r"key 'x' has 11 operations, more than max_ops=10"):
        linearizable(ops, max_ops=10)
    # 15 concurrent writes of 1 or 2, then reads of 1, 2, 1 that no order explains: the
    # search must try every subset of the writes before it can say no.
    writes = [w(i, "x", 1 + i % 2, 0, 100) for i in range(1, 16)]
    crowd = writes + [r(97, "x", 1, 101, 102), r(98, "x", 2, 103, 104), r(99, "x", 1, 105, 106)]
    with pytest.raises(HistoryTooLarge, match="more than max_steps=500"):
        linearizable(crowd, max_steps=500)
    # A read of a value nobody wrote needs no search at all.
    (junk,) = linearizable([*writes, r(99, "x", "junk", 101, 102)], max_steps=500).violations
    assert junk.ops == (99,) and "a value no write of the key wrote" in str(junk)
    # With unique values (as a KVWorkload writes), the zones decide when the search is slow.
    unique = [w(i, "x", i, 0, 100) for i in range(1, 16)] + crowd[15:]
    assert not linearizable(unique, max_steps=500).ok


# -- lost writes -------------------------------------------------------------------------------


def acked(id, key, value, version):
    return w(id, key, value, id, id + 0.5, version=version)


def test_an_acknowledged_write_present_or_overwritten_is_not_lost():
    history = [acked(1, "x", 1, 1), acked(2, "x", 2, 2), acked(3, "y", 3, 1)]
    check = lost_writes(history, {"x": (2, 2), "y": (1, 3)})
    assert check.ok and check.checked == 3


def test_a_rolled_back_write_is_lost():
    history = [acked(1, "x", 1, 1), acked(2, "x", 2, 2), acked(3, "y", 3, 1)]
    check = lost_writes(history, {"x": (1, 1)})
    assert [v.ops for v in check.violations] == [(2,), (3,)]
    assert "final version is 1" in str(check.violations[0])
    assert "final version is 0" in str(check.violations[1])


def test_a_write_whose_version_another_took_is_lost():
    """After a failover the new primary gave version 2 to another value."""
    check = lost_writes([acked(1, "x", 1, 1), acked(2, "x", 2, 2)], {"x": (2, 99)})
    assert [v.ops for v in check.violations] == [(2,)]
    assert "version 2 holds 99" in str(check.violations[0])


def test_with_a_log_a_reused_version_is_caught_even_when_overwritten():
    store = VersionedStore(keep_log=True)
    store.write("x", 1)
    store.apply("x", 2, 99)  # the value of a write the client never saw acknowledged
    store.write("x", 3)  # version 3 overwrites both
    history = [acked(1, "x", 1, 1), acked(2, "x", 2, 2)]
    assert lost_writes(history, store.snapshot()).ok  # from the final state alone: looks fine
    check = lost_writes(history, store)
    assert [v.ops for v in check.violations] == [(2,)]
    assert "reused by 99" in str(check.violations[0])


def test_unacknowledged_writes_are_not_counted():
    history = [w(1, "x", 1, 0, None), w(2, "x", 2, 0, 1, outcome="error")]
    check = lost_writes(history, {})
    assert check.ok and check.checked == 0


# -- monotonic reads ---------------------------------------------------------------------------


def test_reads_going_back_in_time_are_caught_per_client_and_system_wide():
    history = [
        r(1, "x", 5, 0, 1, version=5, client="a"),
        r(2, "x", 3, 2, 3, version=3, client="b"),  # b never read before: fine for b
        r(3, "x", 4, 4, 5, version=4, client="a"),  # a goes back: 4 after 5
        r(4, "x", 4, 0.5, 6, version=4, client="a"),  # concurrent with read 1: fine
    ]
    session = monotonic_reads(history)
    assert [v.ops for v in session.violations] == [(1, 3)]
    assert "saw version 4 after read 1" in str(session.violations[0])
    system = monotonic_reads(history, per_client=False)
    assert sorted(v.ops for v in system.violations) == [(1, 2), (1, 3)]


def test_monotonic_reads_are_per_key():
    history = [r(1, "x", 5, 0, 1, version=5), r(2, "y", 1, 2, 3, version=1)]
    assert monotonic_reads(history).ok


# -- stale reads --------------------------------------------------------------------------------


def stale_history():
    return [
        w(1, "k", 1, 0.5, 1.0, version=1),
        w(2, "k", 2, 1.5, 2.0, version=2),
        w(3, "k", 3, 4.0, 5.0, version=3),
        w(4, "k", 4, 5.5, 7.0, version=4),  # not acknowledged before read 7 began
        r(5, "k", 2, 3.0, 3.5, version=2),  # fresh
        r(6, "k", 1, 3.0, 3.2, version=1),  # 1 behind version 2, acknowledged 1 s before
        r(7, "k", 1, 6.0, 6.5, version=1),  # 2 behind version 3, acknowledged 1 s before
        r(8, "k", 3, 6.0, 8.0, version=3),  # fresh: write 4 was not acknowledged at 6 s
    ]


def test_stale_reads_measure_versions_behind_and_time_since_the_write():
    check = stale_reads(stale_history())
    by_op = {s.op: s for s in check.reads}
    assert (by_op[5].behind, by_op[5].since, by_op[5].stale) == (0, None, False)
    assert (by_op[6].behind, by_op[6].newest, by_op[6].since) == (1, 2, pytest.approx(1.0))
    assert (by_op[7].behind, by_op[7].newest, by_op[7].since) == (2, 3, pytest.approx(1.0))
    assert by_op[8].behind == 0
    assert [v.ops for v in check.violations] == [(6,), (7,)]
    assert "2 behind version 3" in str(check.violations[1])
    assert check.fraction == 0.5 and check.checked == 4 and not check.ok


def test_a_fresh_history_has_no_stale_read():
    check = stale_reads([w(1, "k", 1, 0, 1, version=1), r(2, "k", 1, 2, 3, version=1)])
    assert check.ok and check.fraction == 0.0
    assert np.isnan(stale_reads([]).fraction)


# -- one leader per term ------------------------------------------------------------------------


def test_two_leaders_in_one_term_are_caught():
    log = [(1.0, 1, "a"), (2.0, 2, "b"), (2.5, 2, "b"), (3.0, 2, "c"), (4.0, 3, "a")]
    check = at_most_one_leader_per_term(log)
    assert check.checked == 3
    (v,) = check.violations
    assert v.key == 2 and str(v) == "term 2 has 2 leaders: 'b' (from 2 s), 'c' (from 3 s)"
    assert at_most_one_leader_per_term(log[:3]).ok


def test_a_check_prints_its_verdict():
    text = str(linearizable([w(1, "x", 1, 0, 1), r(2, "x", None, 2, 3)]))
    assert text.startswith("linearizable: 1 violation(s) (2 checked)\n  key 'x'")
