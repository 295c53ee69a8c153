"""Backups: snapshots to a backup store, and the restore after a total loss.

Replication keeps copies *now*; a backup keeps copies *of the past*, somewhere
else. Replication gives a small RPO and RTO against the loss of some
replicas, but a disaster that takes every replica (a region, an operator's
``DROP TABLE`` replicated everywhere) leaves only the backups. This module
measures what they give:

* ``BackupStore``: a node (object storage, a tape library) that receives
  snapshots over a pipe of ``bandwidth`` bytes/s and serves restores at
  ``restore_bandwidth``. It can fail (see its failure semantics).
* ``Backups``: periodic snapshots of one data source to one store: a *full*
  every ``full_every`` seconds (the whole store) and, optionally, an
  *incremental* every ``incremental_every`` seconds (the keys whose version
  changed since the newest complete snapshot). A snapshot captures the
  source at the instant it is taken (its ``point``, as a copy-on-write or
  filesystem snapshot does) and counts once its transfer has finished.
* ``Recovery``: one restore (``Backups.restore``): RPO, RTO, bytes restored
  and the restored store. ``hasim.replication.disaster.DisasterRecovery``
  strikes a service and restores it, one ``Recovery`` per disaster.

Definitions (the contract the tests check):

* **RPO** = disaster time - ``point`` of the newest snapshot in the chain
  restored. Every write acknowledged after that point and before the
  disaster is lost (``Recovery.lost_writes``); the bound is ``interval +
  transfer time``: the snapshot that would have captured a write is taken at
  most one interval later and counts only once transferred.
* **RTO** = disaster time -> the service is up again with the restored data:
  ``setup`` (detection, decision, provisioning) + any wait for the backup
  store to be up + ``restore_time`` = chain bytes / ``restore_bandwidth``.

Sampled over a run, ``Backups.rpo()`` (the RPO a loss *now* would give) averages
``interval / 2`` + the mean transfer time. Sizes are those of
``VersionedStore.size_bytes``: per key, ``key_bytes`` + a version + a record.

Example::

    db = hs.SingleCopy(sim, "db", service_time="1ms")
    vault = BackupStore(sim, "vault", bandwidth=10e6, zone="other-region")
    backups = Backups(sim, "nightly", source=db, target=vault,
                      full_every=24 * hs.hours, incremental_every=1 * hs.hours)
    # a total loss: hasim.replication.disaster.DisasterRecovery(..., backups=backups)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hasim import units
from hasim.errors import ConfigError, check_int, check_positive, config_error
from hasim.node import DOWN, Node
from hasim.replication.checker import Check, lost_writes
from hasim.replication.store import VERSION_BYTES, VersionedStore
from hasim.sim import Component, Simulation

__all__ = [
    "FULL",
    "INCREMENTAL",
    "Snapshot",
    "Recovery",
    "BackupStore",
    "Backups",
]

FULL = "full"
INCREMENTAL = "incremental"

#: Snapshot statuses.
IN_FLIGHT, COMPLETE, FAILED, LOST, EXPIRED = "in flight", "complete", "failed", "lost", "expired"


def _seconds(owner: str, param: str, value: Any, *, positive: bool = False) -> float:
    """A duration (seconds or ``"30min"``), >= 0 (> 0 if ``positive``)."""
    allowed = f"a duration {'> 0' if positive else '>= 0'} in seconds or like '30min'"
    try:
        seconds = units.parse(value)
    except ConfigError:
        raise config_error(owner, param, allowed, value) from None
    if positive and not seconds > 0:
        raise config_error(owner, param, allowed, value)
    return seconds


#: Two due times closer than this are one (a full and an incremental due together: the full).
_EPS = 1e-9


@dataclass(slots=True, eq=False)
class Snapshot:
    """One snapshot of a source (one row of ``Backups.to_frame()``).

    Attributes:
        id: 1, 2, ... per ``Backups``, in the order taken.
        kind: ``"full"`` or ``"incremental"``.
        point: the instant whose state it captures (when it was taken).
        start: when its transfer began (later than ``point`` if the store's pipe was busy).
        end: when it finished (complete) or failed; None while in flight.
        bytes: its size.
        keys: how many keys it holds.
        status: ``"in flight"``, ``"complete"``, ``"failed"`` (never stored),
            ``"lost"`` (stored, then lost with a non-durable backup store) or
            ``"expired"`` (deleted by the retention policy).
        reason: why it failed or was lost (None otherwise).
    """

    id: int
    kind: str
    point: float
    start: float
    end: float | None
    bytes: int
    keys: int
    status: str = IN_FLIGHT
    reason: str | None = None
    data: dict = field(default_factory=dict, repr=False)
    # key -> version of the whole source at ``point``: the base of the next incremental.
    versions: dict | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        """Whether it is stored and usable for a restore."""
        return self.status == COMPLETE


@dataclass(slots=True, eq=False)
class Recovery:
    """One restore after a disaster (one row of ``DisasterRecovery.to_frame()``).

    Attributes:
        disaster: when every replica was lost.
        restore_start: when the last (successful) restore transfer began.
        restored: when the service was up again with the data (None while restoring).
        point: the instant the restored data captures (None: no backup, nothing restored).
        rpo: ``disaster - point`` (inf with no backup).
        rto: ``restored - disaster`` (None while restoring).
        bytes: bytes restored (the chain's).
        restore_time: ``bytes / restore_bandwidth``.
        snapshots: ids of the snapshots restored, in order.
        attempts: restore transfers begun (more than 1 if the backup store failed during one).
        state: the restored store (a copy; the checkers compare histories with it).
    """

    disaster: float
    restore_start: float | None = None
    restored: float | None = None
    point: float | None = None
    rpo: float = math.inf
    rto: float | None = None
    bytes: int = 0
    restore_time: float = 0.0
    snapshots: tuple[int, ...] = ()
    attempts: int = 0
    state: VersionedStore | None = field(default=None, repr=False)

    def lost_writes(self, history: Any) -> Check:
        """``checker.lost_writes`` of the writes acknowledged by the disaster, against ``state``."""
        ops = [
            op
            for op in getattr(history, "operations", history)
            if op.completed is not None and op.completed <= self.disaster
        ]
        return lost_writes(ops, self.state if self.state is not None else {})


_COLUMNS = ("id", "kind", "point", "start", "end", "bytes", "keys", "status", "reason")


class BackupStore(Node):
    """Where snapshots are kept: a node with an upload pipe and a restore pipe.

    Args:
        sim, name, zone, failures: as for ``hasim.Node``.
        bandwidth: bytes per second of the upload pipe. Transfers share it one
            after another, first come first served (a transfer due while
            another runs waits for it).
        restore_bandwidth: bytes per second a restore reads (default: ``bandwidth``).
            Restores have their own pipe and do not wait for uploads.
        durable: whether snapshots survive a failure of the store (replicated
            object storage) or are lost with it (a single disk).

    Failure semantics: while the store is down, a snapshot that falls due
    fails at once (``reason="target down"``); a crash fails every transfer
    in flight or queued (``"target crashed"``); with ``durable=False`` it
    also loses every stored snapshot (status ``"lost"``). A restore waits
    for the store to be up; a crash during a restore restarts it from the
    beginning once the store is back, with what is stored then.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        bandwidth: float,
        restore_bandwidth: float | None = None,
        durable: bool = True,
        zone: str | None = None,
        failures: Any = None,
    ) -> None:
        owner = f"BackupStore {name!r}"
        bandwidth = check_positive(owner, "bandwidth", bandwidth)
        if restore_bandwidth is not None:
            restore_bandwidth = check_positive(owner, "restore_bandwidth", restore_bandwidth)
        if not isinstance(durable, bool):
            raise config_error(owner, "durable", "True or False", durable)
        super().__init__(sim, name, zone=zone, failures=failures)
        self.bandwidth = bandwidth
        self.restore_bandwidth = bandwidth if restore_bandwidth is None else restore_bandwidth
        self.durable = durable
        #: Stored snapshots (complete, or lost), per ``Backups`` name, in the order stored.
        self.held: dict[str, list[Snapshot]] = {}
        self._free_at = 0.0  # when the upload pipe is free
        self._inflight: list[Snapshot] = []
        self._waiting: list[Any] = []  # events of restores waiting for the store to be up
        #: Crashes so far (a restore begun before one is restarted).
        self.crashes = 0
        self.on_change(self._changed)

    def _upload(self, snap: Snapshot, done: Any) -> None:
        """Queue ``snap``'s transfer; call ``done(snap)`` when it is stored (not if it fails)."""
        now = self.env.now
        snap.start = max(now, self._free_at)
        self._free_at = snap.start + snap.bytes / self.bandwidth
        self._inflight.append(snap)
        self.sim.call_later(self._free_at - now, self._uploaded, (snap, done))

    def _uploaded(self, item: tuple[Snapshot, Any]) -> None:
        snap, done = item
        if snap.status != IN_FLIGHT:  # failed meanwhile (a crash, the source lost)
            return
        self._inflight.remove(snap)
        snap.status, snap.end = COMPLETE, self.env.now
        done(snap)

    def _abort(self, snap: Snapshot, reason: str) -> None:
        # The pipe time it had reserved is not given back to transfers queued behind it.
        if snap.status == IN_FLIGHT:
            snap.status, snap.end, snap.reason = FAILED, self.env.now, reason
            snap.versions = None
            snap.data = {}
            self._inflight.remove(snap)

    def _crashed(self) -> None:
        self.crashes += 1
        for snap in list(self._inflight):
            self._abort(snap, "target crashed")
        self._free_at = self.env.now
        if not self.durable:
            for snaps in self.held.values():
                for snap in snaps:
                    if snap.status == COMPLETE:
                        snap.status, snap.reason = LOST, "target crashed"
                        snap.data, snap.versions = {}, None

    def _changed(self, node: Node, old: str, new: str) -> None:
        if new != DOWN and self._waiting:
            waiting, self._waiting = self._waiting, []
            for event in waiting:
                event.succeed()

    def _when_up(self) -> Any:
        event = self.env.event()
        if self.up:
            event.succeed()
        else:
            self._waiting.append(event)
        return event


class Backups(Component):
    """Periodic full and incremental snapshots of one data source to a ``BackupStore``.

    Args:
        sim: the Simulation.
        name: unique name.
        source: what is backed up: a ``VersionedStore``, or a replicated
            service (its ``final_state()`` is read when a snapshot is taken).
            A snapshot due while the service is down (``source.up`` False)
            fails (``reason="source down"``).
        target: the ``BackupStore``.
        full_every: seconds between full snapshots (> 0).
        incremental_every: seconds between incrementals, or None for fulls only.
            An incremental due with a full is skipped (the full covers it); one
            due when the store holds no complete snapshot is taken as a full.
        start: when the first full is taken (fulls at ``start + k * full_every``,
            incrementals at ``start + j * incremental_every``).
        key_bytes: bytes per key in sizes (as ``VersionedStore.size_bytes``).
        retention: how many complete fulls the store keeps, each with the
            incrementals after it (None: all). When a full completes, the
            oldest chains beyond that are deleted (status ``"expired"``) and
            their data freed; only the newest chain is ever restored.

    Attributes:
        snapshots: every snapshot taken, in order (``to_frame()`` for a DataFrame).
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        source: Any,
        target: BackupStore,
        full_every: float | str,
        incremental_every: float | str | None = None,
        start: float | str = 0.0,
        key_bytes: int = 16,
        retention: int | None = None,
    ) -> None:
        owner = f"Backups {name!r}"
        if not (isinstance(source, VersionedStore) or callable(getattr(source, "final_state", 0))):
            raise config_error(
                owner, "source", "a VersionedStore or a service with final_state()", source
            )
        if not isinstance(target, BackupStore):
            raise config_error(owner, "target", "a BackupStore", target)
        full_every = _seconds(owner, "full_every", full_every, positive=True)
        if incremental_every is not None:
            incremental_every = _seconds(
                owner, "incremental_every", incremental_every, positive=True
            )
        start = _seconds(owner, "start", start)
        key_bytes = check_int(owner, "key_bytes", key_bytes, minimum=0)
        if retention is not None:
            retention = check_int(owner, "retention", retention, minimum=1)
        super().__init__(sim, name)
        self.source = source
        self.target = target
        self.full_every = full_every
        self.incremental_every = incremental_every
        self.start = start
        self.key_bytes = key_bytes
        self.retention = retention
        self.snapshots: list[Snapshot] = []
        self._base: Snapshot | None = None  # the newest complete snapshot: incrementals' base
        self._next_full = 0
        self._next_incremental = 0
        target.held.setdefault(name, [])

    # -- taking snapshots -----------------------------------------------------------------

    def _prepare(self) -> None:
        self.sim.call_later(self.start, self._tick)

    def _due(self) -> tuple[float, float]:
        full = self.start + self._next_full * self.full_every
        every = self.incremental_every
        incremental = math.inf if every is None else self.start + self._next_incremental * every
        return full, incremental

    def _tick(self, _: Any = None) -> None:
        full, incremental = self._due()
        if full <= incremental + _EPS:
            self._next_full += 1
            if abs(incremental - full) <= _EPS:
                self._next_incremental += 1
            self.take(FULL)
        else:
            self._next_incremental += 1
            self.take(INCREMENTAL)
        self.sim.call_later(max(0.0, min(self._due()) - self.env.now), self._tick)

    def _state(self) -> VersionedStore:
        source = self.source
        return source if isinstance(source, VersionedStore) else source.final_state()

    def take(self, kind: str = FULL) -> Snapshot:
        """Take a snapshot now (the schedule calls this; tests and users may too)."""
        if kind not in (FULL, INCREMENTAL):
            raise config_error(self.label, "kind", '"full" or "incremental"', kind)
        now, target = self.env.now, self.target
        base = self._base if self._base is not None and self._base.complete else None
        if kind == INCREMENTAL and base is None:
            kind = FULL  # nothing to be incremental to
        snap = Snapshot(len(self.snapshots) + 1, kind, now, now, None, 0, 0)
        self.snapshots.append(snap)
        if not getattr(self.source, "up", True):
            return self._fail_now(snap, "source down")
        if not target.up:
            return self._fail_now(snap, "target down")
        data = self._state().snapshot()
        versions = {key: entry[0] for key, entry in data.items()}
        if kind == INCREMENTAL:
            old = base.versions
            data = {k: e for k, e in data.items() if old.get(k, 0) != e[0]}
        record = self._state().record_bytes
        snap.data, snap.versions, snap.keys = data, versions, len(data)
        snap.bytes = len(data) * (self.key_bytes + VERSION_BYTES + record)
        target._upload(snap, self._stored)
        return snap

    def _fail_now(self, snap: Snapshot, reason: str) -> Snapshot:
        snap.status, snap.end, snap.reason = FAILED, snap.point, reason
        return snap

    def _stored(self, snap: Snapshot) -> None:
        self.target.held[self.name].append(snap)
        old, self._base = self._base, snap  # uploads finish in the order taken
        if old is not None:
            old.versions = None  # only the newest is a base: keep memory flat
        if snap.kind == FULL and self.retention is not None:
            held = self.target.held[self.name]
            fulls = [i for i, s in enumerate(held) if s.kind == FULL and s.complete]
            if len(fulls) > self.retention:
                cut = fulls[-self.retention]
                for old in held[:cut]:
                    if old.complete:
                        old.status, old.reason, old.data = EXPIRED, "retention", {}
                del held[:cut]

    def abort(self, reason: str = "source lost") -> int:
        """Fail every transfer in flight (the source was destroyed); return how many."""
        inflight = [s for s in self.target._inflight if s in self.snapshots]
        for snap in inflight:
            self.target._abort(snap, reason)
        return len(inflight)

    # -- what can be restored -------------------------------------------------------------

    def chain(self, until: float | None = None) -> list[Snapshot]:
        """What a restore reads now: the newest complete full, then the incrementals after it.

        Args:
            until: consider only snapshots whose point is at or before it (a
                point-in-time restore); None: all.
        """
        held = [
            s
            for s in self.target.held[self.name]
            if s.complete and (until is None or s.point <= until)
        ]
        fulls = [i for i, s in enumerate(held) if s.kind == FULL]
        if not fulls:
            return []
        return held[fulls[-1] :]

    def rpo(self) -> float:
        """The RPO a total loss now would give: now - the chain's point (inf with no chain).

        Sampled over a run it shows the exposure: with fulls only, every
        ``F`` s taking ``T`` s to transfer, it averages ``F / 2 + T``.
        """
        chain = self.chain()
        return self.env.now - chain[-1].point if chain else math.inf

    def restore_time(self, size: float | None = None) -> float:
        """Seconds to read ``size`` bytes (default: the chain's) at the restore bandwidth."""
        if size is None:
            size = sum(s.bytes for s in self.chain())
        return size / self.target.restore_bandwidth

    def rebuild(self, chain: Sequence[Snapshot] | None = None) -> VersionedStore:
        """A store holding the data of ``chain`` (default: the current chain), instantly."""
        chain = self.chain() if chain is None else chain
        store = VersionedStore(record_bytes=self._state().record_bytes)
        for snap in chain:
            for key, (version, value) in snap.data.items():
                store._put(key, version, value)
        return store

    def restore(self, recovery: Recovery | None = None, *, setup: float | str = 0.0) -> Any:
        """A SimPy process: after ``setup`` s, wait for the store, read the chain, rebuild a store.

        Args:
            recovery: the record to fill (default: a new one whose ``disaster`` is now).
            setup: seconds before the restore starts.

        It reads the chain as stored when its transfer starts, of snapshots taken
        at or before ``recovery.disaster`` (any taken later are not of the lost data).

        Returns:
            the process; its value is the ``Recovery`` with ``point``, ``rpo``,
            ``bytes``, ``restore_time``, ``snapshots``, ``attempts`` and ``state``
            (the rebuilt store) set, but not ``restored`` nor ``rto``: when the
            data serves again is the caller's to decide (``DisasterRecovery`` does).
        """
        setup = _seconds(self.label, "setup", setup)
        if recovery is None:
            recovery = Recovery(self.env.now)
        return self.env.process(self._restore(recovery, setup))

    def _restore(self, recovery: Recovery, setup: float) -> Any:
        env, target = self.env, self.target
        if setup:
            yield env.timeout(setup)
        while True:
            yield target._when_up()
            chain = self.chain(until=recovery.disaster)
            size = sum(s.bytes for s in chain)
            crashes = target.crashes
            recovery.restore_start = env.now
            recovery.attempts += 1
            yield env.timeout(size / target.restore_bandwidth)
            if target.crashes == crashes:
                break
        recovery.bytes = size
        recovery.restore_time = size / target.restore_bandwidth
        recovery.snapshots = tuple(s.id for s in chain)
        recovery.state = self.rebuild(chain)
        if chain:
            recovery.point = chain[-1].point
            recovery.rpo = recovery.disaster - recovery.point
        return recovery

    def to_frame(self):
        """One row per snapshot (pandas DataFrame), columns as ``Snapshot``'s attributes."""
        import pandas as pd  # not at import hasim time

        return pd.DataFrame(
            [[getattr(s, c) for c in _COLUMNS] for s in self.snapshots], columns=list(_COLUMNS)
        )


def __getattr__(name: str) -> Any:
    # ``DisasterRecovery`` moved to ``hasim.replication.disaster``, which imports this module:
    # re-exported lazily (PEP 562) so that ``from hasim.replication.backup import
    # DisasterRecovery`` keeps working without an import cycle.
    if name == "DisasterRecovery":
        from hasim.replication.disaster import DisasterRecovery

        return DisasterRecovery
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
