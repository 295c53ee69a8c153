"""The history of client operations on a replicated store: what each client asked and saw.

One ``Operation`` per client operation (a read or a write of one key), recorded
by the ``History`` of the simulation: its *invocation* when the client issues
it, its *response* when the client gets the final answer (after retries). The
checkers (``hasim.replication.checker``) read nothing else.

Open-ended operations (as in Jepsen and Knossos): an operation whose client
timed out, or that is still in flight when the run ends, has no completion
time (``completed`` None): its effect is unknown, it may take effect at any
time after its invocation, or never. A write that ended ``error``,
``rejected`` or ``lost`` is also treated as indeterminate by the checkers (a
crash in flight may have applied it); a read that did not end ``ok`` tells
nothing and is ignored by them.

How a result travels back (the carrier): the request a client sends carries
its ``Operation`` as its ``key`` (``attempt.key`` is the Operation for a
plain request and for every retry or hedge alike; ``str(operation)`` is the
data key, so ``hasim.ConsistentHash`` still routes by data key). A service
reads what to do with ``operation(attempt)`` and, before it answers ``ok``,
records what this *attempt* returned with ``answer(attempt, value, version)``.
Answers are kept per attempt number, and the workload notes which attempt
settled the request, so an abandoned try's late answer never overwrites
what the client saw.
"""

from __future__ import annotations

import weakref
from typing import Any

from hasim.errors import SimulationError
from hasim.metrics.recorder import OK, TIMEOUT

__all__ = ["READ", "WRITE", "KINDS", "Operation", "History", "operation", "answer", "history_of"]

READ = "read"
WRITE = "write"
KINDS = (READ, WRITE)


class Operation:
    """One client operation (one row of ``History.to_frame()``).

    Attributes:
        id: unique in the history, in invocation order (1, 2, ...).
        client: the client's name.
        kind: ``"read"`` or ``"write"``.
        key: the data key.
        value: for a write, the value written (unique: the operation id); for a
            read, the value the client saw (None until it completes ok, if the
            key was never written, or if the service recorded no answer).
        version: the version the client saw: the version read, or the version
            the store gave the write it acknowledged (None until answered ok).
        invoked: when the client issued it.
        completed: when the client got the final answer; None while in flight
            and for timeouts (open-ended: the effect is unknown).
        outcome: the final outcome (one of ``hasim.OUTCOMES``), None in flight.
        responder: who gave the final answer.
        request: the id of the client Request that carried it.
    """

    #: The attributes a row of ``History.to_frame()`` shows, in order.
    COLUMNS = (
        "id",
        "client",
        "kind",
        "key",
        "value",
        "version",
        "invoked",
        "completed",
        "outcome",
        "responder",
        "request",
    )
    __slots__ = (*COLUMNS, "_answers", "_settled")

    def __init__(
        self,
        id: int,
        client: str,
        kind: str,
        key: Any,
        value: Any = None,
        invoked: float = 0.0,
        *,
        version: Any = None,
        completed: float | None = None,
        outcome: str | None = None,
        responder: str | None = None,
    ) -> None:
        self.id = id
        self.client = client
        self.kind = kind
        self.key = key
        self.value = value
        self.version = version
        self.invoked = invoked
        self.completed = completed
        self.outcome = outcome
        self.responder = responder
        self.request: int | None = None
        self._answers: dict[int, tuple[Any, Any]] | None = None
        self._settled = 1

    @property
    def ok(self) -> bool:
        """Whether the client got an ``ok`` answer."""
        return self.outcome == OK

    @property
    def open(self) -> bool:
        """Whether the operation has no known completion (timed out or in flight)."""
        return self.completed is None

    def __str__(self) -> str:
        # What hasim.ConsistentHash hashes: the data key, not the operation.
        return str(self.key)

    def __repr__(self) -> str:
        end = "open" if self.completed is None else f"{self.completed:g}"
        return (
            f"Operation(id={self.id}, client={self.client!r}, {self.kind} {self.key!r}="
            f"{self.value!r} v{self.version}, [{self.invoked:g}, {end}], {self.outcome})"
        )


def operation(attempt: Any) -> Operation:
    """The Operation an attempt (or a plain request) carries: what the service must do.

    Raises:
        SimulationError: the request carries none (it came from a client other
            than a ``KVWorkload``).
    """
    op = attempt.key
    if not isinstance(op, Operation):
        raise SimulationError(
            f"{attempt!r} carries no Operation (its key is {op!r}): a replicated store "
            "serves the requests of a hasim.KVWorkload"
        )
    return op


def answer(attempt: Any, value: Any, version: Any) -> None:
    """Record what ``attempt`` returns (call it before replying ``ok``).

    For a read: the value and version read. For a write: the value written
    and the version the store gave it.
    """
    op = attempt.key
    if op._answers is None:
        op._answers = {}
    op._answers[attempt.number] = (value, version)


class History:
    """Every operation of a simulation's key-value clients, in invocation order.

    Workloads share one history per simulation (``history_of(sim)``) unless
    given their own. ``invoke`` and ``complete`` are what a workload calls;
    checkers read ``operations`` (or any list of Operations made by hand).
    """

    def __init__(self) -> None:
        #: The operations, in invocation order.
        self.operations: list[Operation] = []

    def __len__(self) -> int:
        return len(self.operations)

    def __iter__(self):
        return iter(self.operations)

    def invoke(self, client: str, kind: str, key: Any, now: float) -> Operation:
        """Record the invocation of a new operation; a write's value is its id."""
        op_id = len(self.operations) + 1
        op = Operation(op_id, client, kind, key, op_id if kind == WRITE else None, now)
        self.operations.append(op)
        return op

    def complete(self, op: Operation, outcome: str, responder: str | None, now: float) -> None:
        """Record the final answer to ``op`` (a timeout leaves it open-ended)."""
        op.outcome = outcome
        op.responder = responder
        if outcome == TIMEOUT:
            return
        op.completed = now
        if outcome == OK and op._answers is not None:
            result = op._answers.get(op._settled)
            if result is not None:
                value, op.version = result
                if op.kind == READ:
                    op.value = value
        op._answers = None

    def to_frame(self):
        """One row per operation (pandas DataFrame), columns as ``Operation``'s attributes."""
        import pandas as pd  # not at import hasim time

        columns = Operation.COLUMNS
        rows = [[getattr(op, c) for c in columns] for op in self.operations]
        return pd.DataFrame(rows, columns=list(columns))


_HISTORIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def history_of(sim: Any) -> History:
    """The shared History of ``sim`` (made on first use)."""
    history = _HISTORIES.get(sim)
    if history is None:
        history = _HISTORIES[sim] = History()
    return history
