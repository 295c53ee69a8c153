"""The search behind ``check_linearizability``: Wing & Gong with Lowe's memoisation, and zones.

This module decides one key's coded sub-history; ``hasim.replication.linearizability``
selects the operations, calls it, and builds the results and counterexamples.

The engine is Wing & Gong's search for a linearization with Lowe's memoisation, as
Porcupine implements it (A. Athalye, "Porcupine: a fast linearizability checker in
Go", 2017; G. Lowe, "Testing for linearizability", 2017): the history is a doubly
linked list of call and return entries in time order; the search linearizes a call
that comes before the first return still in the list (its operation may take effect
now), lifts it and its return out of the list, and backtracks when it meets a return
entry (that operation can no longer be placed). A state (the set of operations
linearized, as a bitset, and the register's value) met before is not explored again:
its outcome is known. Keys are independent registers, so each key's sub-history is
checked on its own (P-compositionality: A. Horn and D. Kroening, "Faster
linearizability checking via P-compositionality", FORTE 2015).

What keeps the search small on the histories stores produce:

* a read whose value the register holds, and that may come next, is linearized at
  once, with no alternative tried (a read changes nothing, so placing it earlier
  never costs a later choice);
* the writes that may come next are tried earliest return first (Porcupine tries
  them in call order): a store's operation takes effect close to its answer, so the
  first guess is nearly always right and a linearizable history costs about one
  state per operation;
* the values no read returned share one code (after such a write only another
  write can come), so the orders of these blind writes fold into one state;
* a read of a value no write of its key wrote (and not the initial ``None``) is a
  violation found without a search.

**Unique values.** When every write of a key writes a distinct value (a
``KVWorkload`` writes its operation id) and the search needs more than
``10 * operations + 10,000`` states, the key is decided in O(n log n) by Gibbons
and Korach's zones instead (P. B. Gibbons and E. Korach, "Testing shared memories",
SIAM J. Comput. 26(4), 1997), exact for such registers: the search is exponential in
the worst case, typically on a key that is *not* linearizable deep into a long
history with many operations in flight (it must rule out every earlier order). The
zones' evidence (two clusters of a write and its reads) seeds the counterexample.
"""

from __future__ import annotations

import bisect
import math
import time
from typing import Any

from hasim.replication.history import READ, WRITE, Operation

_INF = math.inf
_HEAD, _TAIL = 0, 1  # the list's sentinels; op k (1, 2, ...) has call 2k and return 2k + 1
_EVERY = 1024  # search states between two looks at the clock


class _Limit(Exception):
    """The search of one key ran out of steps or time (internal)."""

    def __init__(self, why: str, steps: int, timed_out: bool = False) -> None:
        super().__init__(why)
        self.why = why
        self.steps = steps
        self.timed_out = timed_out
        self.best: Any = None  # the deepest prefix found before (as ``_search``'s detail)


class _Key:
    """One key's operations coded for the search: reads and writes, values as integers."""

    __slots__ = ("ops", "calls", "returns", "reads", "codes")

    def __init__(self, ops: list[Operation], open_: set[int]) -> None:
        # open_: ids of the operations whose return is at infinity (indeterminate writes).
        self.ops = ops
        self.calls = [op.invoked for op in ops]
        self.returns = [_INF if op.id in open_ else op.completed for op in ops]
        self.reads = [op.kind == READ for op in ops]
        # Values as small integers: None (the initial value) is 0, each value a read
        # returned has its own code, and every value no read returned shares -1.
        # NOTE: merging the unread values is exact (no read can follow such a write
        # before another write) and folds the orders of blind writes into one state.
        code: dict[Any, int] = {None: 0}
        for op in ops:
            if op.kind == READ and op.value not in code:
                code[op.value] = len(code)
        self.codes = [code.get(op.value, -1) for op in ops]


def _search(key: _Key, max_steps: int, deadline: float | None) -> tuple[bool, Any, int]:
    """Wing-Gong-Lowe search of one key: ``(found, detail, steps)``.

    ``detail`` is None when a linearization exists, else ``(prefix, register, stuck)`` as
    op indexes and a value code. Raises ``_Limit`` past ``max_steps`` or ``deadline``.
    """
    n = len(key.ops)
    # Entries: (time, 0 call / 1 return, op index). At one instant calls come first:
    # operations that touch are concurrent.
    entries = [(t, 0, i) for i, t in enumerate(key.calls)]
    entries += [(t, 1, i) for i, t in enumerate(key.returns)]
    entries.sort()
    size = 2 * n + 2
    nxt = [0] * size
    prv = [0] * size
    last = _HEAD
    for _, is_return, i in entries:
        node = 2 * (i + 1) + is_return
        nxt[last] = node
        prv[node] = last
        last = node
    nxt[last] = _TAIL
    prv[_TAIL] = last
    # Per op k = i + 1 (a node's op is node >> 1): is it a read, its value code, and the
    # rank of its call node in return order (writes are tried earliest return first:
    # where an operation takes effect near its response, the first guess is right).
    reads = [False, *key.reads]
    codes = [0, *key.codes]
    rank = [0] * size
    for position, (_, is_return, i) in enumerate(entries):
        if is_return:
            rank[2 * (i + 1)] = position
    by_return = rank.__getitem__
    cache: set[tuple[int, int]] = set()
    # The path: (candidates, index tried, register before); candidates is None for a read
    # taken at once (index: its call node), else the writes that may come next.
    stack: list[tuple[list[int] | None, int, int]] = []
    linearized = 0
    state = 0
    steps = 0
    mark = min(max_steps + 1, _EVERY)  # when to look at the budget next
    best_depth = -1
    best: tuple[list[int], int, int] = ([], 0, 0)
    try:
        while True:
            # A new state. Done when the list is empty.
            e = nxt[_HEAD]
            if e == _TAIL:
                return True, None, steps
            # The window: the calls before the first return in the list (they may come next).
            # NOTE: a read of the register's value there is taken at once, no alternative
            # kept (it changes nothing; see the module docstring).
            cands: list[int] | None = []
            while not e & 1:
                k = e >> 1
                if reads[k]:
                    if codes[k] == state:
                        break
                else:
                    cands.append(e)
                e = nxt[e]
            i = 0
            if not e & 1:  # a read that fits
                after = linearized | 1 << ((e >> 1) - 1)
                if (after, state) in cache:
                    cands = []  # a known dead end: backtrack
                else:
                    cache.add((after, state))
                    steps += 1
                    if steps >= mark:
                        mark = _budget(steps, max_steps, deadline)
                    stack.append((None, e, state))
                    linearized = after
                    p, q = prv[e], nxt[e]  # lift the call and its return
                    nxt[p] = q
                    prv[q] = p
                    r = e + 1
                    p, q = prv[r], nxt[r]
                    nxt[p] = q
                    prv[q] = p
                    continue
            elif len(cands) > 1:
                cands.sort(key=by_return)
            # Try the candidate writes from i; backtrack when none is left.
            while True:
                while i < len(cands):
                    node = cands[i]
                    k = node >> 1
                    after = linearized | 1 << (k - 1)
                    value = codes[k]
                    if (after, value) not in cache:
                        break
                    i += 1
                else:
                    if len(stack) > best_depth:  # the deepest prefix yet, for the explanation
                        best_depth = len(stack)
                        first = nxt[_HEAD]
                        while not first & 1:
                            first = nxt[first]
                        path = [(j if c is None else c[j]) >> 1 for c, j, _ in stack]
                        best = ([k - 1 for k in path], state, (first >> 1) - 1)
                    while stack:
                        cands, i, state = stack.pop()
                        node = i if cands is None else cands[i]
                        linearized ^= 1 << ((node >> 1) - 1)
                        r = node + 1  # unlift, in the reverse order
                        nxt[prv[r]] = r
                        prv[nxt[r]] = r
                        nxt[prv[node]] = node
                        prv[nxt[node]] = node
                        if cands is not None:
                            break
                    else:
                        return False, best, steps
                    i += 1
                    continue
                break
            cache.add((after, value))
            steps += 1
            if steps >= mark:
                mark = _budget(steps, max_steps, deadline)
            stack.append((cands, i, state))
            linearized = after
            state = value
            p, q = prv[node], nxt[node]
            nxt[p] = q
            prv[q] = p
            r = node + 1
            p, q = prv[r], nxt[r]
            nxt[p] = q
            prv[q] = p
    except _Limit as limit:
        limit.best = best if best_depth >= 0 else None
        raise


def _budget(steps: int, max_steps: int, deadline: float | None) -> int:
    """Raise ``_Limit`` past a limit; else the step count at which to look again."""
    if steps > max_steps:
        raise _Limit(f"needed more than max_steps={max_steps} search states", steps)
    if deadline is not None and time.perf_counter() > deadline:
        raise _Limit("needed more than the time_limit", steps, timed_out=True)
    return min(max_steps + 1, steps + _EVERY)


def _zones(ops: list[Operation], open_: set[int]) -> list[Operation] | None:
    """Gibbons and Korach's test for a register whose writes have unique values.

    None when the history is linearizable, else the operations that show it is not: a
    read that returned before its write began, or two clusters (a write and the reads of
    its value; the initial value's reads form one with a write at minus infinity) whose
    zones conflict. A cluster's zone runs from the earliest return of its operations
    (``f``) to the latest invocation (``s``); it is *forward* when ``f < s`` (the value
    must be held over all of it) and *backward* otherwise. The history is linearizable
    iff no two forward zones overlap and no backward zone lies inside a forward one
    (P. B. Gibbons and E. Korach, "Testing shared memories", SIAM J. Comput. 26(4),
    1997; in this form, W. Golab, X. Li and M. A. Shah, "Analyzing consistency
    properties for fun and profit", PODC 2011). Touching counts as concurrent.
    """
    writer = {op.value: op for op in ops if op.kind == WRITE}
    members: dict[Any, list[Operation]] = {value: [op] for value, op in writer.items()}
    members.setdefault(None, [])
    s = {value: op.invoked for value, op in writer.items()}
    f = {value: (_INF if op.id in open_ else op.completed) for value, op in writer.items()}
    s[None] = f[None] = -_INF
    for op in ops:
        if op.kind != READ:
            continue
        value = op.value
        write = writer.get(value)
        if write is not None and op.completed < write.invoked:
            return [write, op]
        members[value].append(op)
        s[value] = max(s[value], op.invoked)
        f[value] = min(f[value], op.completed)
    forward = sorted((f[v], s[v], i, v) for i, v in enumerate(members) if f[v] < s[v])
    reach, widest = -_INF, None  # the latest end of the forward zones so far, and whose
    for start, end, _, value in forward:
        if start < reach:
            return members[widest] + members[value]
        if end > reach:
            reach, widest = end, value
    starts = [start for start, _, _, _ in forward]
    for value in members:
        if f[value] < s[value]:
            continue
        # The forward zone that begins last before this backward zone is the only one
        # that can hold it (forward zones are disjoint by now).
        j = bisect.bisect_left(starts, s[value]) - 1
        if j >= 0 and f[value] < forward[j][1]:
            return members[forward[j][3]] + members[value]
    return None
