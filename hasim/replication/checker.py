"""Safety checks over a recorded history: pure functions, no simulation needed.

Each check takes a ``History`` (or any iterable of ``Operation``) and, where
it needs them, protocol facts as plain data (a final state, a leader log),
and returns a ``Check``: ``ok`` and the violations, each explained in one
line. ``bool(check)`` is ``check.ok``.

How operations count (as in Jepsen/Knossos):

* an ``ok`` operation happened between its invocation and its completion;
* a write that did not end ``ok`` (timeout, error, rejected, lost, or in
  flight) is *indeterminate*: it may have taken effect at any time after its
  invocation, or never;
* a read that did not end ``ok`` says nothing and is ignored.

Real-time order: operation a precedes b when ``a.completed < b.invoked``
(strictly; operations that touch at one instant count as concurrent).

Not a check but read off a history the same way: ``operation_availability``,
the share of operations that ended ``ok``.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hasim.metrics.recorder import OK
from hasim.replication.history import READ, WRITE, Operation
from hasim.replication.linearizability import HistoryTooLarge, check_linearizability

__all__ = [
    "Violation",
    "Check",
    "StaleRead",
    "Staleness",
    "HistoryTooLarge",
    "lost_writes",
    "monotonic_reads",
    "stale_reads",
    "linearizable",
    "at_most_one_leader_per_term",
    "operation_availability",
]


@dataclass(frozen=True, slots=True)
class Violation:
    """One violation: a one-line ``message``, the operation ids and the key it concerns."""

    message: str
    ops: tuple[int, ...] = ()
    key: Any = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Check:
    """The result of one check: ``ok`` when there is no violation.

    Attributes:
        name: the check's name.
        violations: what was found, each with a one-line message.
        checked: how many items it examined (operations, reads, terms).
    """

    name: str
    violations: tuple[Violation, ...] = ()
    checked: int = 0

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = f"{self.name}: {'ok' if self.ok else f'{len(self.violations)} violation(s)'}"
        return "\n".join([f"{head} ({self.checked} checked)", *(f"  {v}" for v in self.violations)])


def _ops(history: Iterable[Operation]) -> list[Operation]:
    return list(getattr(history, "operations", history))


def _fmt(t: float | None) -> str:
    return "open" if t is None else f"{t:.6g}"


# -- no acknowledged write lost ----------------------------------------------------------------


def lost_writes(history: Iterable[Operation], final: Any) -> Check:
    """Every write acknowledged ``ok`` is in ``final``: its version or a later one.

    Args:
        history: the operations.
        final: the final state: a ``VersionedStore`` or a mapping key ->
            ``(version, value)``. With a store that keeps a log
            (``keep_log=True``) a write whose version was reused by another
            write is caught even when later writes overwrote both.

    A write acknowledged with version n of key k is lost when the final
    version of k is older than n, or is n with another value, or the log
    holds another value at version n.
    """
    log = getattr(final, "log", None)
    get = final.get if hasattr(final, "snapshot") else (lambda k: final.get(k, (0, None)))
    violations = []
    checked = 0
    for op in _ops(history):
        if op.kind != WRITE or not op.ok or op.version is None:
            continue
        checked += 1
        version, value = get(op.key)
        why = None
        if version < op.version:
            why = f"the final version is {version}"
        elif version == op.version and value != op.value:
            why = f"version {version} holds {value!r}"
        elif callable(log):
            entries = log(op.key)
            if entries is not None:
                other = [v for n, v in entries if n == op.version and v != op.value]
                if other:
                    why = f"version {op.version} was reused by {other[0]!r}"
        if why is not None:
            violations.append(
                Violation(
                    f"write {op.id} of key {op.key!r} = {op.value!r} (version {op.version}, "
                    f"acknowledged at {_fmt(op.completed)}) is lost: {why}",
                    (op.id,),
                    op.key,
                )
            )
    return Check("lost_writes", tuple(violations), checked)


# -- reads never go back in time ----------------------------------------------------------------


def monotonic_reads(history: Iterable[Operation], *, per_client: bool = True) -> Check:
    """A read never returns an older version than a read that completed before it began.

    ``per_client=True`` compares reads of one client (the session guarantee
    *monotonic reads*); ``False`` compares every client's (reads never go back
    in time, system-wide). Reads are compared per key.
    """
    groups: dict[Any, list[Operation]] = defaultdict(list)
    for op in _ops(history):
        if op.kind == READ and op.ok and op.version is not None and op.completed is not None:
            groups[(op.client, op.key) if per_client else op.key].append(op)
    violations = []
    checked = 0
    for reads in groups.values():
        by_start = sorted(reads, key=lambda r: (r.invoked, r.id))
        by_end = sorted(reads, key=lambda r: (r.completed, r.id))
        best: Operation | None = None  # the newest version among reads completed so far
        j = 0
        for read in by_start:
            checked += 1
            while j < len(by_end) and by_end[j].completed < read.invoked:
                done = by_end[j]
                if best is None or done.version > best.version:
                    best = done
                j += 1
            if best is not None and read.version < best.version:
                violations.append(
                    Violation(
                        f"read {read.id} by {read.client!r} of key {read.key!r} at "
                        f"{_fmt(read.invoked)} saw version {read.version} after read {best.id} "
                        f"by {best.client!r} saw version {best.version} "
                        f"(completed at {_fmt(best.completed)})",
                        (best.id, read.id),
                        read.key,
                    )
                )
    name = "monotonic_reads" if per_client else "reads_never_go_back"
    return Check(name, tuple(violations), checked)


# -- stale reads ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaleRead:
    """How stale one ok read was.

    Attributes:
        op: the read's id.
        key, client, invoked: the read's.
        version: the version it returned.
        newest: the newest version acknowledged (to any client) before it began (0: none).
        behind: how many writes acknowledged before it began have a newer version
            than it returned (0: fresh).
        since: seconds from the acknowledgement of the newest such write to the
            read's invocation (None when fresh).
    """

    op: int
    key: Any
    client: str
    invoked: float
    version: int
    newest: int
    behind: int
    since: float | None

    @property
    def stale(self) -> bool:
        """Whether the read missed an acknowledged write."""
        return self.behind > 0


@dataclass(frozen=True)
class Staleness(Check):
    """``stale_reads``' result: a ``Check`` plus every ok read's staleness, fresh ones included."""

    reads: tuple[StaleRead, ...] = field(default=())

    @property
    def fraction(self) -> float:
        """The share of ok reads that were stale (NaN without reads)."""
        if not self.reads:
            return math.nan
        return sum(r.stale for r in self.reads) / len(self.reads)


def stale_reads(history: Iterable[Operation]) -> Staleness:
    """Reads that returned a version older than the newest write acknowledged before they began.

    Every ok read is measured (``Staleness.reads``): versions behind (k-staleness)
    and time since the newest acknowledged write it missed (t-visibility).
    """
    ops = _ops(history)
    writes: dict[Any, list[Operation]] = defaultdict(list)
    reads: dict[Any, list[Operation]] = defaultdict(list)
    for op in ops:
        if not op.ok or op.version is None or op.completed is None:
            continue
        (writes if op.kind == WRITE else reads)[op.key].append(op)
    measured = []
    violations = []
    for key, key_reads in reads.items():
        acked = sorted(writes.get(key, ()), key=lambda w: (w.completed, w.id))
        versions: list[int] = []  # versions acknowledged so far, sorted
        when: dict[int, float] = {}  # version -> when first acknowledged
        j = 0
        for read in sorted(key_reads, key=lambda r: (r.invoked, r.id)):
            while j < len(acked) and acked[j].completed < read.invoked:
                bisect.insort(versions, acked[j].version)
                when.setdefault(acked[j].version, acked[j].completed)
                j += 1
            newest = versions[-1] if versions else 0
            behind = len(versions) - bisect.bisect_right(versions, read.version)
            since = read.invoked - when[newest] if behind else None
            item = StaleRead(
                read.id, key, read.client, read.invoked, read.version, newest, behind, since
            )
            measured.append(item)
            if behind:
                violations.append(
                    Violation(
                        f"read {read.id} of key {key!r} at {_fmt(read.invoked)} returned version "
                        f"{read.version}, {behind} behind version {newest} acknowledged "
                        f"{since:.6g} s before",
                        (read.id,),
                        key,
                    )
                )
    measured.sort(key=lambda r: r.op)
    violations.sort(key=lambda v: v.ops)
    return Staleness("stale_reads", tuple(violations), len(measured), tuple(measured))


# -- linearizability -----------------------------------------------------------------------------


def linearizable(
    history: Iterable[Operation], *, max_ops: int | None = None, max_steps: int = 1_000_000
) -> Check:
    """Whether each key behaves as one register that every operation hit atomically.

    ``hasim.replication.linearizability.check_linearizability`` as a ``Check``: a
    Wing-Gong search with Lowe's memoisation (Porcupine's), per key, exact for
    complete and open-ended operations (see that module for how each outcome
    counts), with Gibbons and Korach's zones deciding a key whose search is slow
    when its values are unique. A key that is not linearizable gives one
    ``Violation``: its message is the counterexample's summary (the longest valid
    prefix and the operation that cannot come next), its ``ops`` the ids of a
    minimal failing subset (and of the stuck operation). For the full
    counterexample, or an ``unknown`` verdict instead of an error, call
    ``check_linearizability``.

    Args:
        history: the operations.
        max_ops: the most operations one key may have (None: no cap); beyond it
            ``HistoryTooLarge``.
        max_steps: the most search states one key may visit before
            ``HistoryTooLarge`` (unless its values are unique: the zones decide).

    Raises:
        HistoryTooLarge: a key has more than ``max_ops`` operations, or the
            search needed more than ``max_steps`` states and the zones could not
            decide (values written twice).
    """
    result = check_linearizability(history, max_steps=max_steps, max_ops=max_ops, on_limit="raise")
    violations = []
    for example in result.counterexamples:
        ids = [op.id for op in example.core]
        if example.stuck.id not in ids:
            ids.append(example.stuck.id)
        violations.append(Violation(example.summary(), tuple(ids), example.key))
    return Check("linearizable", tuple(violations), result.operations)


# -- one leader per term ------------------------------------------------------------------------


def at_most_one_leader_per_term(log: Iterable[tuple[float, Any, Any]]) -> Check:
    """No term has two different leaders (Raft's election safety).

    Args:
        log: ``(time, term, leader)`` for every time a node became leader.
    """
    leaders: dict[Any, dict[Any, float]] = {}
    for time, term, leader in log:
        first = leaders.setdefault(term, {})
        first.setdefault(leader, time)
    violations = []
    for term, who in leaders.items():
        if len(who) > 1:
            names = ", ".join(f"{name!r} (from {t:.6g} s)" for name, t in who.items())
            violations.append(Violation(f"term {term} has {len(who)} leaders: {names}", (), term))
    return Check("at_most_one_leader_per_term", tuple(violations), len(leaders))


def operation_availability(history: Iterable[Operation], *, since: float = 0.0) -> dict:
    """The share of ok operations by kind (``"read"``, ``"write"``, ``"all"``; NaN if none).

    Every operation invoked at or after ``since`` counts once, with its final outcome;
    those still in flight (no outcome) are left out.
    """
    counts = {READ: [0, 0], WRITE: [0, 0]}
    for op in getattr(history, "operations", history):
        if op.invoked < since or op.outcome is None:
            continue
        tally = counts[op.kind]
        tally[0] += op.outcome == OK
        tally[1] += 1
    ok = counts[READ][0] + counts[WRITE][0]
    total = counts[READ][1] + counts[WRITE][1]
    share = {kind: (a / b if b else math.nan) for kind, (a, b) in counts.items()}
    share["all"] = ok / total if total else math.nan
    return share
