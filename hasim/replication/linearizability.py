"""Linearizability of key-value histories: each key checked as one atomic register.

The engine (Wing & Gong's search with Lowe's memoisation, and Gibbons and Korach's zones
for keys whose writes have unique values) is in ``hasim.replication.wing_gong``, with
what keeps the search small; this module selects each key's operations, decides what a
limit means, shrinks counterexamples and holds the results.

**Outcomes** (what ``hasim.replication.history.Operation`` records; as in Jepsen's
Knossos):

* ``ok`` with a completion time: took effect once, between its invocation and its
  completion (strictly: operations that touch at one instant are concurrent);
* a write that did not end ``ok`` (``timeout`` or still in flight: no completion;
  ``error``: a crash in flight or a leader stepping down, and Raft may still commit
  it; ``lost``: the request or its answer was dropped; ``rejected``: final outcome
  after retries whose earlier tries may have timed out) is *indeterminate*: it may
  take effect at any time after its invocation, or never (its return is at
  infinity). One that no read observed is left out (never placing it is always
  possible). A caller who knows an outcome means "did nothing" in its system says
  so with ``no_effect`` (e.g. ``("rejected",)`` for a store without retries): such
  writes are dropped, and a read that saw one is caught;
* a read that did not end ``ok`` says nothing and is left out.

**Limits.** For keys whose writes repeat values, the search is the only judge.
``max_steps`` caps the states it visits per key, ``time_limit`` the wall time of the
whole check; past either (a step cap: unless the zones decide), the key is
``unknown`` (or, with ``on_limit="raise"``, ``HistoryTooLarge`` is raised).

**Counterexample.** For a key that fails: the longest linearizable prefix the search
found (before it gave up, when the zones decided), the register's value after it
and the operation that cannot come next (the first to return among those left, as
Porcupine shows), and a small non-linearizable subset of the key's operations,
shrunk until removing any one operation makes it linearizable (1-minimal; a write
some kept read observed is kept with it).

Compare-and-set is not modelled: hasim's stores have reads and writes only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hasim.errors import HasimError, check_int, check_positive, config_error
from hasim.metrics.recorder import OK, OUTCOMES
from hasim.replication.history import READ, WRITE, Operation
from hasim.replication.wing_gong import _Key, _Limit, _search, _zones

__all__ = [
    "describe",
    "HistoryTooLarge",
    "Counterexample",
    "Linearizability",
    "check_linearizability",
    "UNKNOWN",
]

#: ``Linearizability.verdict`` when a search hit a limit and nothing else failed.
UNKNOWN = "unknown"

_OWNER = "check_linearizability"
# With unique values, the search hands over to the zones past this many states per op (+ base).
_ZONES_AFTER, _ZONES_BASE = 10, 10_000


class HistoryTooLarge(HasimError):
    """The linearizability search needed more states or time than it was allowed."""


def _fmt(t: float | None) -> str:
    return "open" if t is None else f"{t:.6g}"


def describe(op: Operation) -> str:
    """One operation in one line: ``read 7 by 'kv' [1.5, 1.52] returned 3 (ok)``."""
    what = f"returned {op.value!r}" if op.kind == READ else f"wrote {op.value!r}"
    return (
        f"{op.kind} {op.id} by {op.client!r} [{_fmt(op.invoked)}, {_fmt(op.completed)}] "
        f"{what} ({op.outcome})"
    )


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counterexample:
    """Why one key is not linearizable.

    Attributes:
        key: the key.
        operations: how many of its operations the search took.
        prefix: the longest linearizable prefix the search found (before it handed over
            to the zones, if it did), in linearization order.
        register: the register's value after ``prefix``.
        stuck: the operation that cannot come next (the first to return of those left).
        core: a non-linearizable subset of the key's operations, in invocation order.
        minimal: whether ``core`` is 1-minimal (removing any one of its operations, and
            the writes only it observed, makes it linearizable); False when the shrinking
            ran out of its budget.
        never_written: whether ``stuck`` is a read of a value no write of the key wrote
            (found without a search: ``prefix`` is empty, ``core`` is the read).
    """

    key: Any
    operations: int
    prefix: tuple[Operation, ...]
    register: Any
    stuck: Operation
    core: tuple[Operation, ...]
    minimal: bool = True
    never_written: bool = False

    def summary(self) -> str:
        """One line: the key, the prefix's length, the operation that breaks it."""
        if self.never_written:
            return f"key {self.key!r}: {describe(self.stuck)}, a value no write of the key wrote"
        return (
            f"key {self.key!r}: no linearization of its {self.operations} operations; after the "
            f"longest valid prefix ({len(self.prefix)} ops, register {self.register!r}) "
            f"{describe(self.stuck)} cannot be placed; a {'minimal ' if self.minimal else ''}"
            f"failing subset: ops {[op.id for op in self.core]}"
        )

    def __str__(self) -> str:
        return self.render()

    def render(self, tail: int = 5) -> str:
        """Several lines: the prefix's last ``tail`` operations, the stuck one, the core."""
        lines = [f"key {self.key!r}: not linearizable ({self.operations} operations)"]
        if self.never_written:
            lines.append(f"  {describe(self.stuck)}: a value no write of this key wrote")
            return "\n".join(lines)
        lines.append(f"  longest linearizable prefix: {len(self.prefix)} operations")
        if len(self.prefix) > tail:
            lines.append(f"    ... {len(self.prefix) - tail} before")
        lines += [f"    {describe(op)}" for op in self.prefix[-tail:]]
        lines.append(f"  register after it: {self.register!r}")
        lines.append(f"  cannot come next: {describe(self.stuck)}")
        label = "minimal" if self.minimal else "not shrunk to the minimum"
        lines.append(f"  a non-linearizable subset ({label}, {len(self.core)} operations):")
        lines += [f"    {describe(op)}" for op in self.core]
        return "\n".join(lines)


@dataclass(frozen=True)
class Linearizability:
    """The result of ``check_linearizability``.

    Attributes:
        counterexamples: one per key that is not linearizable, keys in order of first use.
        unknown: the keys whose search hit ``max_steps`` or ``time_limit`` (with why).
        keys: how many keys the history has.
        operations: how many operations the searches took (ok reads, and writes that are
            ok or indeterminate and observed).
        dropped: how many they left out (reads not ok, indeterminate writes no read
            observed, writes with a ``no_effect`` outcome).
        steps: search states visited, over every key (shrinking not counted).
        zones: the keys Gibbons and Korach's zones decided (their search was slow).
        seconds: the wall time of the check (not compared).
    """

    counterexamples: tuple[Counterexample, ...] = ()
    unknown: tuple[tuple[Any, str], ...] = ()
    keys: int = 0
    operations: int = 0
    dropped: int = 0
    steps: int = 0
    zones: tuple[Any, ...] = ()
    seconds: float = field(default=0.0, compare=False)

    @property
    def ok(self) -> bool:
        """Whether every key was found linearizable."""
        return not self.counterexamples and not self.unknown

    @property
    def verdict(self) -> str:
        """``"linearizable"``, ``"not linearizable"`` or ``"unknown"``."""
        if self.counterexamples:
            return "not linearizable"
        return UNKNOWN if self.unknown else "linearizable"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = (
            f"linearizability: {self.verdict} ({self.operations} operations on {self.keys} "
            f"key(s), {self.dropped} left out, {self.steps} search states"
            f"{f', {len(self.zones)} key(s) by zones' if self.zones else ''}, {self.seconds:.3g} s)"
        )
        lines = [head]
        lines += [f"  key {key!r}: unknown, it {why}" for key, why in self.unknown]
        lines += [str(c) for c in self.counterexamples]
        return "\n".join(lines)


# -- selection and shrinking ----------------------------------------------------------------------


def _select(ops: list[Operation], no_effect: frozenset[str]) -> tuple[list[Operation], set[int]]:
    """The operations the search takes, in invocation order, and the ids of the open ones."""
    reads = [op for op in ops if op.kind == READ and op.ok and op.completed is not None]
    observed = {op.value for op in reads}
    chosen: list[Operation] = []
    open_: set[int] = set()
    for op in ops:
        if op.kind == READ:
            if op.ok and op.completed is not None:
                chosen.append(op)
        elif op.ok and op.completed is not None:
            chosen.append(op)
        elif op.outcome not in no_effect and op.value in observed:
            chosen.append(op)
            open_.add(op.id)
    chosen.sort(key=lambda o: (o.invoked, o.id))
    return chosen, open_


def _linearizable(
    ops: list[Operation], open_: set[int], budget: list[int], deadline: float | None
) -> bool:
    """Whether ``ops`` is linearizable, charging its steps to ``budget[0]``."""
    found, _, steps = _search(_Key(ops, open_), budget[0], deadline)
    budget[0] -= steps
    return found


def _without(current: list[Operation], chunk: list[Operation]) -> list[Operation]:
    """``current`` minus ``chunk``, keeping the writes a remaining read observed."""
    gone = {op.id for op in chunk}
    observed = {op.value for op in current if op.kind == READ and op.id not in gone}
    gone = {op.id for op in chunk if op.kind == READ or op.value not in observed}
    return [op for op in current if op.id not in gone]


def _shrink(
    ops: list[Operation], open_: set[int], stuck: Operation, steps: int, deadline: float | None
) -> tuple[list[Operation], bool]:
    """A 1-minimal non-linearizable subset of ``ops`` (chunks, then one by one).

    Within ``steps`` search states and ``deadline``; past either, the subset reached so far
    (still non-linearizable) and False.
    """
    budget = [steps]
    current = list(ops)
    try:
        # Most failures need nothing that began after the stuck operation returned.
        if stuck.completed is not None:
            window = [op for op in ops if op.invoked <= stuck.completed]
            if len(window) < len(ops) and not _linearizable(window, open_, budget, deadline):
                current = window
        size = max(1, len(current) // 2)
        while True:
            changed = False
            i = 0
            while i < len(current):
                candidate = _without(current, current[i : i + size])
                if len(candidate) < len(current) and not _linearizable(
                    candidate, open_, budget, deadline
                ):
                    current = candidate
                    changed = True
                else:
                    i += size
            if size > 1:
                size //= 2
            elif not changed:
                return current, True
    except _Limit:
        return current, False


# -- the check ------------------------------------------------------------------------------------


def check_linearizability(
    history: Iterable[Operation],
    *,
    max_steps: int = 1_000_000,
    max_ops: int | None = None,
    time_limit: float | None = None,
    no_effect: Iterable[str] = (),
    shrink: bool = True,
    on_limit: str = UNKNOWN,
) -> Linearizability:
    """Whether each key of ``history`` behaves as one atomic register.

    Args:
        history: a ``History`` or any iterable of ``Operation`` (values written need
            not be unique, but the search is fastest when they are, as a
            ``KVWorkload`` makes them).
        max_steps: the most search states one key may visit.
        max_ops: the most operations one key may bring to the search (None: no cap).
        time_limit: the most wall seconds the whole check may take (None: no limit).
            Keys not decided in time are ``unknown``; the result then depends on the
            machine, so tests should rely on ``max_steps``.
        no_effect: outcomes that, in the system checked, mean a write certainly did not
            take effect (among ``"timeout"``, ``"rejected"``, ``"error"``, ``"lost"``).
            Default: none; every write not ``ok`` is indeterminate.
        shrink: whether to shrink each counterexample's failing subset to a 1-minimal
            one (a budget of ``max_steps`` states per key; cheap next to the check).
        on_limit: ``"unknown"`` (a key past a limit is reported unknown) or ``"raise"``
            (``HistoryTooLarge``).

    Returns:
        A ``Linearizability``: ``ok``, ``verdict``, a ``Counterexample`` per failed key
        and the keys left unknown.

    Raises:
        HistoryTooLarge: with ``on_limit="raise"``, a key needed more than ``max_steps``
            states or the check more than ``time_limit`` seconds.
    """
    max_steps = check_int(_OWNER, "max_steps", max_steps, minimum=1)
    if max_ops is not None:
        max_ops = check_int(_OWNER, "max_ops", max_ops, minimum=1)
    if time_limit is not None:
        time_limit = check_positive(_OWNER, "time_limit", time_limit)
    if isinstance(no_effect, str):
        no_effect = (no_effect,)
    no_effect = frozenset(no_effect)
    failed_outcomes = set(OUTCOMES) - {OK}
    if not no_effect <= failed_outcomes:
        raise config_error(
            _OWNER, "no_effect", f"outcomes among {sorted(failed_outcomes)}", sorted(no_effect)
        )
    if not isinstance(shrink, bool):
        raise config_error(_OWNER, "shrink", "True or False", shrink)
    if on_limit not in (UNKNOWN, "raise"):
        raise config_error(_OWNER, "on_limit", '"unknown" or "raise"', on_limit)
    began = time.perf_counter()
    deadline = None if time_limit is None else began + time_limit
    by_key: dict[Any, list[Operation]] = {}
    for op in getattr(history, "operations", history):
        by_key.setdefault(op.key, []).append(op)
    found: list[Counterexample] = []
    unknown: list[tuple[Any, str]] = []
    zones: list[Any] = []
    operations = dropped = steps = 0
    for key, ops in by_key.items():
        chosen, open_ = _select(ops, no_effect)
        operations += len(chosen)
        dropped += len(ops) - len(chosen)
        if max_ops is not None and len(chosen) > max_ops:
            why = f"has {len(chosen)} operations, more than max_ops={max_ops}"
        elif deadline is not None and time.perf_counter() > deadline:
            why = f"was not reached within time_limit={time_limit:g} s"
        else:
            try:
                example, used, zoned = _check_key(key, chosen, open_, max_steps, deadline, shrink)
            except _Limit as limit:
                why, used, example = limit.why, limit.steps, None
            else:
                steps += used
                if example is not None:
                    found.append(example)
                if zoned:
                    zones.append(key)
                continue
            steps += used
        if on_limit == "raise":
            raise HistoryTooLarge(
                f"linearizability: key {key!r} {why}; check a shorter history or raise the limit"
            )
        unknown.append((key, why))
    return Linearizability(
        tuple(found),
        tuple(unknown),
        len(by_key),
        operations,
        dropped,
        steps,
        tuple(zones),
        time.perf_counter() - began,
    )


def _check_key(
    key: Any,
    ops: list[Operation],
    open_: set[int],
    max_steps: int,
    deadline: float | None,
    shrink: bool,
) -> tuple[Counterexample | None, int, bool]:
    """One key's verdict: ``(counterexample or None, search states, decided by the zones)``."""
    values = [op.value for op in ops if op.kind == WRITE]
    written = set(values)
    unique = len(written) == len(values) and None not in written
    written.add(None)
    ghost = [op for op in ops if op.kind == READ and op.value not in written]
    if ghost:  # a read of a value never written: no search needed
        stuck = min(ghost, key=lambda o: (o.completed, o.id))
        return Counterexample(key, len(ops), (), None, stuck, (stuck,), True, True), 0, False
    coded = _Key(ops, open_)
    evidence = None
    zoned = False
    budget = min(max_steps, _ZONES_AFTER * len(ops) + _ZONES_BASE) if unique else max_steps
    try:
        ok, detail, steps = _search(coded, budget, deadline)
    except _Limit as limit:
        if limit.timed_out or not unique:
            raise
        # The search is slow: with unique values the zones decide, in O(n log n).
        steps = limit.steps
        zoned = True
        evidence = _zones(ops, open_)
        if evidence is None:
            return None, steps, True
        detail = limit.best
    else:
        if ok:
            return None, steps, False
        if unique:  # the zones' evidence is a small failing subset to shrink from
            evidence = _zones(ops, open_)
    if detail is None:  # cut off before it ever backtracked: explain on the evidence
        evidence.sort(key=lambda o: (o.invoked, o.id))
        try:
            _, detail, _ = _search(_Key(evidence, open_), max_steps + _ZONES_BASE, deadline)
        except _Limit:
            detail = None
        if detail is None:
            prefix, stuck = [], max(evidence, key=lambda o: (o.invoked, o.id))
        else:
            position = {op.id: i for i, op in enumerate(ops)}
            prefix = [position[evidence[i].id] for i in detail[0]]
            stuck = evidence[detail[2]]
    else:
        prefix, _, stuck_index = detail
        stuck = ops[stuck_index]
    register = next((ops[i].value for i in reversed(prefix) if not coded.reads[i]), None)
    start = ops if evidence is None else evidence
    if shrink:
        core, minimal = _shrink(start, open_, stuck, max_steps, deadline)
    else:
        core, minimal = start, False
    example = Counterexample(
        key,
        len(ops),
        tuple(ops[i] for i in prefix),
        register,
        stuck,
        tuple(sorted(core, key=lambda o: (o.invoked, o.id))),
        minimal,
    )
    return example, steps, zoned
