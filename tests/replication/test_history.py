"""The History: what each client asked and saw, through timeouts and retries."""

from __future__ import annotations

import pytest

import hasim as hs
from hasim.replication import READ, WRITE, History, SingleCopy, history_of

from .helpers import Scripted


def test_each_operation_is_recorded_at_invocation_and_response(sim, at):
    """A write then a read: invocation when issued, response when answered, the value seen."""
    db = SingleCopy(sim, "db", service_time=0.1)
    kv = hs.KVWorkload(sim, "kv", target=db, rate=1e-9, timeout=5)
    at(1.0, kv.issue, 7, WRITE)
    at(2.0, kv.issue, 7, READ)
    at(3.0, kv.issue, 8, READ)
    sim.run(until=10)
    ops = kv.history.operations
    assert [(o.kind, o.key) for o in ops] == [(WRITE, 7), (READ, 7), (READ, 8)]
    write, read, empty = ops
    assert (write.invoked, write.completed, write.version, write.value) == (1.0, 1.1, 1, 1)
    assert (read.invoked, read.completed, read.version, read.value) == (2.0, 2.1, 1, 1)
    assert (empty.version, empty.value) == (0, None)  # never written: version 0, no value
    assert all(o.outcome == hs.OK and o.responder == "db" for o in ops)
    assert [o.request for o in ops] == [1, 2, 3]


def test_a_timed_out_operation_stays_open_ended(sim, at):
    """The client stops waiting: no completion time, outcome timeout; the store still applies it."""
    db = SingleCopy(sim, "db", service_time=2.0)
    kv = hs.KVWorkload(sim, "kv", target=db, rate=1e-9, timeout=1.0)
    at(1.0, kv.issue, 3, WRITE)
    sim.run(until=10)
    (op,) = kv.history.operations
    assert op.outcome == hs.TIMEOUT and op.completed is None and op.open
    assert op.version is None  # the client never saw a version
    assert db.final_state().get(3) == (1, op.value)  # ... but the write took effect


def test_an_operation_in_flight_at_the_end_is_open_ended(sim, at):
    db = SingleCopy(sim, "db", service_time=50.0)
    kv = hs.KVWorkload(sim, "kv", target=db, rate=1e-9)
    at(1.0, kv.issue, 0, READ)
    sim.run(until=10)
    (op,) = kv.history.operations
    assert op.outcome is None and op.completed is None


def test_an_error_has_a_completion_but_no_version(sim, at):
    db = SingleCopy(sim, "db", service_time=1.0)
    kv = hs.KVWorkload(sim, "kv", target=db, rate=1e-9)
    at(1.0, kv.issue, 0, WRITE)
    at(1.5, db.fail)
    sim.run(until=10)
    (op,) = kv.history.operations
    assert (op.outcome, op.completed, op.version) == (hs.ERROR, 1.5, None)
    assert db.final_state().get(0) == (0, None)  # a crash in service: never applied


def test_the_answer_recorded_is_the_one_of_the_try_the_client_accepted(sim, at):
    """Try 1 times out and answers late (at 3 s), after try 2's answer (1.5 s) was accepted."""
    store = Scripted(sim, "db", delays=[3.0, 0.5])
    kv = hs.KVWorkload(
        sim,
        "kv",
        target=store,
        rate=1e-9,
        timeout=1.0,
        retry=hs.Retry(attempts=2, backoff=hs.ConstantBackoff(0.0)),
    )
    at(0.0, kv.issue, 5, READ)
    sim.run(until=10)
    (op,) = kv.history.operations
    assert store.seen == [(1, READ, 5), (2, READ, 5)]
    assert (op.outcome, op.value, op.version, op.completed) == (hs.OK, "value2", 2, 1.5)


def test_with_hedges_the_first_ok_wins(sim, at):
    """A hedge sent at 0.2 s answers at 0.3 s, before the first try (at 1 s)."""
    store = Scripted(sim, "db", delays=[1.0, 0.1])
    kv = hs.KVWorkload(sim, "kv", target=store, rate=1e-9, hedge=hs.Hedge(after=0.2))
    at(0.0, kv.issue, 5, READ)
    sim.run(until=10)
    (op,) = kv.history.operations
    assert (op.value, op.version) == ("value2", 2)
    assert op.completed == pytest.approx(0.3)


def test_written_values_are_unique_and_ids_follow_invocation_order(sim):
    db = SingleCopy(sim, "db", workers=4, service_time=hs.Exponential(mean=0.01))
    kv = hs.KVWorkload(sim, "kv", target=db, rate=100, read_share=0.5, keys=5)
    sim.run(until=20)
    ops = kv.history.operations
    assert [o.id for o in ops] == list(range(1, len(ops) + 1))
    assert all(a.invoked <= b.invoked for a, b in zip(ops, ops[1:], strict=False))
    values = [o.value for o in ops if o.kind == WRITE]
    assert len(values) > 500 and len(set(values)) == len(values)


def test_workloads_share_the_simulation_history_unless_given_their_own(sim):
    db = SingleCopy(sim, "db")
    a = hs.KVWorkload(sim, "a", target=db, rate=1)
    b = hs.KVWorkload(sim, "b", target=db, rate=1)
    own = History()
    c = hs.KVWorkload(sim, "c", target=db, rate=1, history=own)
    assert a.history is b.history is history_of(sim)
    assert c.history is own


def test_to_frame_has_one_row_per_operation(sim):
    db = SingleCopy(sim, "db", service_time=0.001)
    kv = hs.KVWorkload(sim, "kv", target=db, rate=50, keys=3, timeout=1)
    sim.run(until=5)
    frame = kv.history.to_frame()
    assert len(frame) == len(kv.history) > 100
    assert list(frame.columns) == [
        "id", "client", "kind", "key", "value", "version", "invoked", "completed", "outcome",
        "responder", "request",
    ]  # fmt: skip
    assert set(frame["kind"]) == {READ, WRITE}
    assert (frame["completed"] >= frame["invoked"]).all()


def test_the_operation_routes_by_its_data_key():
    """ConsistentHash hashes ``str(request.key)``: an operation's str is its data key."""
    op = History().invoke("c", WRITE, 42, 0.0)
    assert str(op) == "42"
    assert "write 42" in repr(op)
