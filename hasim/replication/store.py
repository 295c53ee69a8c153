"""Per-replica state (``VersionedStore``), the shape of a replicated service, and ``SingleCopy``.

Versions are integers, per key, that only grow: a key never written has
version 0 and value None; a local write takes the next version; a
replicated write is applied only if its version is newer than the one held
(last writer wins by version). A protocol may give versions gaps (Raft can
use the log index); the checkers only compare them.

A replicated service (``ReplicatedService``) reads each request's operation
with ``operation(attempt)`` (kind, key and, for a write, the value) and,
before answering ``ok``, records what the client sees with
``answer(attempt, value, version)``; ``respond`` does both. See
``hasim.replication.history`` for how that answer survives retries.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hasim.dist import Distribution
from hasim.errors import SimulationError, check_int, config_error
from hasim.metrics.recorder import OK
from hasim.node import Reply, Server, Service
from hasim.replication.history import WRITE, answer, operation
from hasim.sim import Simulation

__all__ = [
    "VersionedStore",
    "ReplicatedService",
    "SingleCopy",
    "perform",
    "apply_operation",
    "VERSION_BYTES",
]

#: Bytes a version takes in ``VersionedStore.size_bytes``.
VERSION_BYTES = 8


class VersionedStore:
    """One replica's data: key -> (version, value), versions growing per key.

    Args:
        record_bytes: the size of one value in bytes (for transfer and
            restore times: ``size_bytes``).
        keep_log: keep, per key, every (version, value) applied, in order, so
            the lost-write checker can tell a write that was overwritten from
            one that was never there.
    """

    __slots__ = ("_data", "record_bytes", "_log")

    def __init__(self, *, record_bytes: int = 1024, keep_log: bool = False) -> None:
        self.record_bytes = check_int("VersionedStore", "record_bytes", record_bytes, minimum=0)
        self._data: dict[Any, tuple[int, Any]] = {}
        self._log: dict[Any, list[tuple[int, Any]]] | None = {} if keep_log else None

    def get(self, key: Any) -> tuple[int, Any]:
        """``(version, value)`` of ``key``; ``(0, None)`` if it was never written."""
        return self._data.get(key, (0, None))

    def version(self, key: Any) -> int:
        """The version of ``key`` (0 if never written)."""
        entry = self._data.get(key)
        return 0 if entry is None else entry[0]

    def write(self, key: Any, value: Any) -> int:
        """A local write (a primary, a leader): store ``value`` at the next version; return it."""
        version = self.version(key) + 1
        self._put(key, version, value)
        return version

    def apply(self, key: Any, version: int, value: Any) -> bool:
        """Apply a replicated write if ``version`` is newer than the one held; say if it was."""
        if version <= self.version(key):
            return False
        self._put(key, version, value)
        return True

    def _put(self, key: Any, version: int, value: Any) -> None:
        self._data[key] = (version, value)
        if self._log is not None:
            self._log.setdefault(key, []).append((version, value))

    def log(self, key: Any) -> list[tuple[int, Any]] | None:
        """Every (version, value) applied to ``key``, in order (None without ``keep_log``)."""
        return None if self._log is None else list(self._log.get(key, ()))

    def behind(self, other: VersionedStore | Mapping[Any, tuple[int, Any]]) -> dict[Any, int]:
        """Keys where this store holds an older version than ``other``: key -> versions' gap."""
        gaps = {}
        for key, (version, _) in other.items():
            mine = self.version(key)
            if mine < version:
                gaps[key] = version - mine
        return gaps

    def merge(self, other: VersionedStore | Mapping[Any, tuple[int, Any]]) -> int:
        """Apply every newer entry of ``other`` (anti-entropy, catch-up); return how many."""
        return sum(self.apply(key, version, value) for key, (version, value) in other.items())

    def items(self) -> Iterator[tuple[Any, tuple[int, Any]]]:
        """``(key, (version, value))`` pairs."""
        return iter(self._data.items())

    def snapshot(self) -> dict[Any, tuple[int, Any]]:
        """A copy of the data (a backup, a state transfer)."""
        return dict(self._data)

    def lineage(self) -> dict[Any, list[tuple[int, Any]]] | None:
        """A copy of the log (None without ``keep_log``), to send along with a snapshot."""
        return None if self._log is None else {k: list(v) for k, v in self._log.items()}

    def restore(
        self,
        snapshot: Mapping[Any, tuple[int, Any]],
        lineage: Mapping[Any, list[tuple[int, Any]]] | None = None,
    ) -> None:
        """Replace the data with ``snapshot``.

        The log, if kept, becomes ``lineage`` (the source's log, from ``lineage()``),
        so a replica re-seeded from a primary still knows every write its data
        descends from; without one it restarts from the snapshot. The lost-write
        checker needs the lineage to see a version that a later primary reused.
        """
        self.clear()
        for key, (version, value) in snapshot.items():
            self._data[key] = (version, value)
        if self._log is not None:
            if lineage is None:
                lineage = {key: [entry] for key, entry in snapshot.items()}
            self._log.update((k, list(v)) for k, v in lineage.items())

    def clear(self) -> None:
        """Lose everything (volatile state after a crash), the log too: its lineage restarts."""
        self._data.clear()
        if self._log is not None:
            self._log.clear()

    def size_bytes(self, key_bytes: int = 16) -> int:
        """Bytes to transfer or restore: per key, ``key_bytes`` + a version + a record."""
        return len(self._data) * (key_bytes + VERSION_BYTES + self.record_bytes)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Any) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"VersionedStore({len(self._data)} keys, record_bytes={self.record_bytes})"


def perform(store: VersionedStore, attempt: Any, version: int | None = None) -> tuple[Any, int]:
    """Do the operation ``attempt`` carries on ``store``; return the ``(value, version)`` it gives.

    A read returns what ``store`` holds. A write stores the operation's value at
    ``version`` (Raft: the entry's log index), or at the next version if None.
    Nothing is recorded for the client: ``answer`` (or ``apply_operation``) does that.

    Raises:
        SimulationError: a write's ``version`` is not newer than the key's (a protocol bug).
    """
    op = operation(attempt)
    if op.kind != WRITE:
        held, value = store.get(op.key)
        return value, held
    if version is None:
        return op.value, store.write(op.key, op.value)
    if not store.apply(op.key, version, op.value):
        raise SimulationError(
            f"write {op.id} of key {op.key!r} at version {version}: not newer than the "
            f"version held ({store.version(op.key)})"
        )
    return op.value, version


def apply_operation(
    store: VersionedStore, attempt: Any, version: int | None = None
) -> tuple[Any, int]:
    """``perform`` the attempt's operation and record its result as the client's answer.

    What a replicated state machine calls when it applies a committed entry
    (before the leader replies ``ok``); returns ``(value, version)``.
    """
    value, version = perform(store, attempt, version)
    answer(attempt, value, version)
    return value, version


class ReplicatedService(Service):
    """The shape every replicated store shares (a mixin over ``hasim.Service``).

    ``submit(attempt, reply)`` reads ``operation(attempt)``: ``op.kind`` is
    ``"read"`` or ``"write"``, ``op.key`` the data key, ``op.value`` the value
    to write. A protocol answers ``ok`` with ``respond(attempt, reply, value,
    version)``, so the history records what the client saw; any other
    outcome is a plain ``reply(attempt, outcome, responder)``.

    ``final_state()`` is the data the checkers take as the final state (the store a
    client would read from after the run: the primary's, the leader's).
    """

    def respond(self, attempt: Any, reply: Reply, value: Any, version: int) -> None:
        """Answer ``ok`` with what the client sees: ``(value, version)`` read or written."""
        answer(attempt, value, version)
        reply(attempt, OK, self.name)

    def perform(self, store: VersionedStore, attempt: Any) -> tuple[Any, int]:
        """Do the attempt's operation on ``store``; return ``(value, version)`` to answer."""
        return perform(store, attempt)

    def final_state(self) -> VersionedStore:  # pragma: no cover - interface
        """The data the checkers take as final."""
        raise NotImplementedError


class SingleCopy(Server, ReplicatedService):
    """One replica: a Server whose requests read and write a ``VersionedStore``.

    An operation takes effect when its service ends (reads and writes alike),
    and is answered at that instant. Failure semantics are those of a
    ``hasim.Server`` (a crash ends the work in flight with ``error``, and
    that work never took effect); the store is on disk and survives a crash,
    unless ``volatile``: then a crash loses every key (acknowledged writes
    included: what the lost-write checker must catch).

    Args:
        sim, name, workers, service_time, queue_limit, zone, failures: as for ``hasim.Server``.
        volatile: whether a crash empties the store.
        record_bytes, keep_log: as for ``VersionedStore``.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        workers: int = 1,
        service_time: Distribution | float | str = 0.0,
        queue_limit: int | None = None,
        volatile: bool = False,
        record_bytes: int = 1024,
        keep_log: bool = False,
        zone: str | None = None,
        failures: Any = None,
    ) -> None:
        if not isinstance(volatile, bool):
            raise config_error(f"SingleCopy {name!r}", "volatile", "True or False", volatile)
        store = VersionedStore(record_bytes=record_bytes, keep_log=keep_log)
        super().__init__(
            sim,
            name,
            workers=workers,
            service_time=service_time,
            queue_limit=queue_limit,
            zone=zone,
            failures=failures,
        )
        self.volatile = volatile
        #: The replica's data.
        self.store = store

    def final_state(self) -> VersionedStore:
        """The one copy."""
        return self.store

    def _finish(self, job: Any) -> None:
        # The operation takes effect as its service ends, just before Server replies ok.
        if job.alive:
            answer(job.request, *self.perform(self.store, job.request))
        super()._finish(job)

    def _crashed(self) -> None:
        super()._crashed()
        if self.volatile:
            self.store.clear()
