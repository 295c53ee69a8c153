"""Primary-backup replication: sync, async and semi-sync, heartbeat failover, fencing.

``PrimaryBackup`` makes ``replicas`` ``Replica`` nodes (``"<name>0"``, ``"<name>1"``, ... or
the names given) and is itself the group's entry point: a manager node that clients send
requests to, that forwards each one to the replica it *believes* primary, and that runs the
failure detector. The manager never fails (``failures`` are the replicas').

**Replicas.** Each holds a durable ``VersionedStore`` (``keep_log=True``): a crash keeps the
data, the epoch, the role it believes it has and its replication position ``(epoch, lsn)``;
it loses its lease, its replication pipelines and the work in flight. An operation takes
``service_time`` at the primary (no queueing: each runs on its own), then takes effect. A
read answers what the primary holds. A write is stored at the key's next version and
appended to the primary's log (log sequence number ``lsn``), then acknowledged:

* ``"async"``: at once; the log is shipped to each backup in batches, a batch leaving
  ``replication_lag`` (a Distribution: the shipping delay or batch interval) after there is
  something to send;
* ``"sync"``: once every backup the manager last told the primary was live has applied it
  (the manager's live set rides on its lease messages), and at least ``acks`` of them (it
  waits while fewer are live: with ``acks=0`` it would acknowledge alone, and lose the write
  if it then crashed and a backup that missed it were promoted);
* ``"semi-sync"``: once ``acks`` backups have applied it (it waits while fewer can).

Shipping is one message in flight per backup (so a backup applies the log in order); a
message not acknowledged within ``timeout`` is sent again. Every (re)start of a primary
re-seeds each backup with a snapshot of its store (size ``store.size_bytes()``) before the
log that follows it (real systems send only the difference; what is lost is the same).
A primary keeps the last 10,000 to 20,000 entries of its log; a backup that falls
further behind is re-seeded with a snapshot. Messages have sizes (a log entry is
``16 + 8 + record_bytes`` bytes) and go through the network paths between replicas, with
their latency, loss and partitions; a message that reaches a down replica is lost.

**Failure detector and failover** (as ``hasim.ActivePassive``; no oracle): every replica
sends a heartbeat to the manager every ``heartbeat`` seconds while it is up, carrying the
role it believes it has, its epoch and its position. The manager suspects a replica after
``timeout`` seconds of silence and believes it healthy at its next heartbeat. When it
suspects the primary it waits ``promotion_delay``; then, if the primary is still suspected,
it promotes the most up-to-date replica it is not suspecting (the highest position it last
heard, ties to the first in order; with none, it tries again a heartbeat later): the epoch
grows by one, *promote* goes to the new primary and *demote* to the old (network messages;
a lost one is repaired when a heartbeat shows a role the manager does not expect). While
the manager suspects its primary, or a failover is pending, requests end ``rejected``.

**Fencing.** With ``fencing=True``: (1) epochs: a replica ignores role messages of an older
epoch; a backup rejects replication from an older epoch, and a primary that hears of a newer
one steps down; (2) a lease: the primary accepts operations only until ``timeout`` after the
sending of its last heartbeat the manager answered (the manager answers only the primary it
believes in), and steps down when the lease runs out. The manager suspects a primary no
sooner than ``timeout`` after that heartbeat arrived, so a cut-off old primary has stopped
accepting writes before a new one is promoted, and one that restarts after a crash has no
lease. With ``fencing=False`` a replica's role changes only by the manager's messages: a
cut-off or restarted old primary goes on accepting writes (from clients that reach it, such
as one holding its address: ``group.replica(name)`` is a Service) until it is demoted, and
its writes are lost when it is re-seeded: split brain.

**Failure semantics.** A request sent to a down replica ends ``error``; a replica that does
not believe it is primary (or whose lease ran out) answers ``rejected``. A crash ends the
operations in service and the writes waiting for acknowledgements with ``error`` (a waiting
write is already in the primary's store: its effect is unknown); so does a step-down for the
waiting writes. A degraded replica's service times are multiplied by its slowdown; error
rates and stalls are not modelled for replicas (it serves and sends heartbeats as usual).
The manager forwards as a ``hasim.Forwarder`` (a dropped message ends the
request ``lost``).

**Measures.** ``records`` (one dict per failover attempt), ``roles`` ``(time, replica, role,
why)``, ``split_brain_time`` (time two up replicas believed they were primary),
``split_brain_writes`` (writes performed by a replica the manager did not take for primary),
and ``data_loss(history)``: acknowledged writes missing from the final primary's store, and
the RPO of each failover.

This module holds the group: ``PrimaryBackup`` (the manager, failure detector, failover
and measures) and ``DataLoss``. A replica (``Replica``, its write path and log shipping)
is in ``hasim.replication.primary_backup_replica``; its names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hasim import network
from hasim.dist import Distribution, as_distribution
from hasim.errors import ConfigError, check_choice, check_int, check_positive, config_error
from hasim.failover import split_brain_seconds
from hasim.metrics.recorder import ERROR, REJECTED
from hasim.node import DOWN, Forwarder, Reply, _fault_models, member_zones
from hasim.replication.checker import Check, lost_writes
from hasim.replication.history import WRITE
from hasim.replication.primary_backup_replica import (
    _EPS,
    ASYNC,  # noqa: F401 (re-exported: was defined here)
    BACKUP,
    MODES,
    PRIMARY,
    SEMI_SYNC,  # noqa: F401 (re-exported: was defined here)
    SYNC,
    Replica,
)
from hasim.replication.store import ReplicatedService, VersionedStore
from hasim.sim import Simulation

__all__ = ["PrimaryBackup", "Replica", "DataLoss", "PRIMARY", "BACKUP", "MODES"]


class _View:
    """The manager's view of one replica."""

    __slots__ = ("replica", "name", "up_hop", "down_hop", "due", "suspected", "position", "at")

    def __init__(self, replica: Replica) -> None:
        self.replica = replica
        self.name = replica.name
        self.up_hop: Any = None
        self.down_hop: Any = None
        self.due = 0.0
        self.suspected = False
        self.position = replica.position
        self.at = 0.0  # the write time of the last entry it reported


@dataclass(frozen=True)
class DataLoss:
    """Acknowledged writes lost, and the RPO of each failover (``PrimaryBackup.data_loss``).

    Attributes:
        lost: acknowledged writes missing from the final primary's store.
        acknowledged: writes acknowledged ``ok``.
        failovers: promotions.
        rpo: per promotion, seconds from the write time of the newest entry the promoted
            replica held to the acknowledgement of the newest lost write attributed to it
            (0 when it lost none). A lost write is attributed to the first promotion at or
            after its acknowledgement, else (split brain) to the last one.
        max_rpo: the largest of ``rpo`` (0 without failovers).
        check: the ``lost_writes`` check itself (its violations name the writes).
    """

    lost: int
    acknowledged: int
    failovers: int
    rpo: tuple[float, ...]
    max_rpo: float
    check: Check


class PrimaryBackup(Forwarder, ReplicatedService):
    """A primary-backup group behind a manager with a heartbeat failure detector.

    Args:
        sim: the Simulation.
        name: the manager's name (clients send requests there).
        replicas: how many replicas (an integer >= 2, named ``"<name>0"``...), or their names.
            The first starts as primary (epoch 1).
        mode: ``"sync"``, ``"async"`` or ``"semi-sync"``.
        acks: semi-sync: how many backups must apply a write before it is acknowledged;
            sync: the fewest live backups it waits for (0: it may acknowledge alone).
        replication_lag: async: the delay before a batch of the log is shipped (a
            Distribution, seconds or ``"100ms"``; stream ``(replica, "lag")``).
        service_time: time one operation takes at the primary.
        heartbeat: seconds between two heartbeats of a replica (> 0).
        timeout: silence after which the manager suspects a replica, the lease, and the wait
            before a replication message is sent again (> 0).
        promotion_delay: time from suspecting the primary to promoting (stream
            ``(name, "promotion")``).
        fencing: epochs and leases (see the module docstring), or neither.
        record_bytes: the size of one value, for message sizes.
        zone: the replicas' zone: a name, a list of names cycled over them, or None.
        failures: a fault model every replica gets (each draws its own times), or None.

    Attributes:
        replicas: the Replica nodes, in order.
        epoch: the manager's epoch (grows by one per promotion).
        failovers: promotions done.
        records: one dict per failover attempt: ``old``, ``new``, ``suspected``, ``promoted``
            (times), ``epoch``, ``position`` and ``written_at`` (the new primary's, as last
            heard), ``positions`` (every candidate's), ``outcome`` (``"promoted"`` or
            ``"cancelled"``).
        roles: ``(time, replica, role, why)`` for every role change a replica made.
        split_brain_writes: writes performed by a replica the manager did not take for primary.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        replicas: int | Sequence[str] = 3,
        mode: str = SYNC,
        acks: int = 1,
        replication_lag: Distribution | float | str = 0.0,
        service_time: Distribution | float | str = 0.0,
        heartbeat: float = 0.1,
        timeout: float = 0.3,
        promotion_delay: Distribution | float | str = 0.0,
        fencing: bool = True,
        record_bytes: int = 1024,
        zone: str | Sequence[str] | None = None,
        failures: Any = None,
    ) -> None:
        owner = f"PrimaryBackup {name!r}"
        if isinstance(replicas, int) and not isinstance(replicas, bool):
            names = [f"{name}{i}" for i in range(check_int(owner, "replicas", replicas, minimum=2))]
        elif (
            isinstance(replicas, (list, tuple))
            and len(replicas) >= 2
            and all(isinstance(n, str) and n and n != name for n in replicas)
            and len(set(replicas)) == len(replicas)
        ):
            names = list(replicas)
        else:
            allowed = "an integer >= 2 or a list of >= 2 distinct names (not the group's)"
            raise config_error(owner, "replicas", allowed, replicas)
        self.mode = check_choice(owner, "mode", mode, MODES)
        self.acks = check_int(owner, "acks", acks, minimum=0)
        low = 0 if mode == SYNC else 1
        if not low <= self.acks <= len(names) - 1:
            allowed = f"an integer in [{low}, {len(names) - 1}] (the backups)"
            raise config_error(owner, "acks", allowed, acks)
        self.replication_lag = as_distribution(replication_lag, owner, "replication_lag")
        self.service_time = as_distribution(service_time, owner, "service_time")
        self.heartbeat = check_positive(owner, "heartbeat", heartbeat)
        self.timeout = check_positive(owner, "timeout", timeout)
        self.promotion_delay = as_distribution(promotion_delay, owner, "promotion_delay")
        if not isinstance(fencing, bool):
            raise config_error(owner, "fencing", "True or False", fencing)
        self.fencing = fencing
        self.record_bytes = check_int(owner, "record_bytes", record_bytes, minimum=0)
        zones = member_zones(owner, zone)
        _fault_models(owner, sim, failures)  # checked before anything is registered
        super().__init__(sim, name)
        self.epoch = 1
        self.failovers = 0
        self.records: list[dict[str, Any]] = []
        self.roles: list[tuple[float, str, str, str]] = [(0.0, names[0], PRIMARY, "initial")]
        self.split_brain_writes = 0
        self.replicas = [
            Replica(self, n, zones[i % len(zones)], failures) for i, n in enumerate(names)
        ]
        first = self.replicas[0]
        first.role = PRIMARY
        for r in self.replicas:
            r.epoch = r.log_epoch = 1
        self._views = {r.name: _View(r) for r in self.replicas}
        self._believed = first
        self._pending: dict[str, Any] | None = None
        self._retrying = False  # the pending promotion waits for a replica to heal
        self._delay = sim.sampler(self.promotion_delay, name, "promotion", batch=64)

    # -- what users and tests read ---------------------------------------------------------

    def replica(self, name: str) -> Replica:
        """The group's replica called ``name`` (a Service: a client may target it directly)."""
        view = self._views.get(name)
        if view is None:
            raise config_error(self.label, "replica", f"one of {list(self._views)}", name)
        return view.replica

    @property
    def primary(self) -> Replica:
        """The replica the manager believes primary."""
        return self._believed

    @property
    def up(self) -> bool:
        """Whether the replica the manager believes primary takes operations (truth)."""
        return self._believed.accepts()

    def final_state(self) -> VersionedStore:
        """The store of the replica the manager believes primary."""
        return self._believed.store

    def data_loss(self, history: Any) -> DataLoss:
        """Acknowledged writes lost (checked against ``final_state()``) and RPO per failover."""
        check = lost_writes(history, self.final_state())
        ops = list(getattr(history, "operations", history))
        by_id = {op.id: op for op in ops}
        acknowledged = sum(1 for op in ops if op.kind == WRITE and op.ok)
        promotions = [r for r in self.records if r["outcome"] == "promoted"]
        newest = [None] * len(promotions)
        for v in check.violations:
            done = by_id[v.ops[0]].completed
            i = next(
                (j for j, r in enumerate(promotions) if r["promoted"] >= done),
                len(promotions) - 1,
            )
            if i >= 0 and (newest[i] is None or done > newest[i]):
                newest[i] = done
        rpo = tuple(
            0.0 if t is None else max(0.0, t - r["written_at"])
            for t, r in zip(newest, promotions, strict=True)
        )
        return DataLoss(
            len(check.violations), acknowledged, len(promotions), rpo, max(rpo, default=0.0), check
        )

    def split_brain_time(
        self, result: Any = None, *, start: float = 0.0, end: float | None = None
    ) -> float:
        """Seconds in which two or more up replicas believed they were primary.

        Args:
            result: a RunResult; its window ``[warmup, until]`` is used.
            start: without a result, the start of the window.
            end: without a result, the end of the window (default: now).
        """
        if result is not None:
            start, end = result.warmup, result.until
        elif end is None:
            end = self.sim.now
        roles = [(t, n, r) for t, n, r, _ in self.roles]
        return split_brain_seconds(self.sim, self._views, roles, BACKUP, PRIMARY, start, end)

    # -- failure detector ------------------------------------------------------------------

    def _prepare(self) -> None:
        super()._prepare()
        net = network.get(self.sim)
        for r in self.replicas:  # over an instantaneous network the first primary's snapshot
            r._net = net  # reaches a backup within the primary's own _prepare
        for v in self._views.values():
            v.up_hop = net.path(v.name, self.name)
            v.down_hop = net.path(self.name, v.name)
            v.due = self.timeout
            self.sim.call_later(self.timeout, self._watch, v)

    def _live(self) -> frozenset[str]:
        return frozenset(
            n for n, v in self._views.items() if not v.suspected and v is not self._view_of_primary
        )

    @property
    def _view_of_primary(self) -> _View:
        return self._views[self._believed.name]

    def _on_heartbeat(self, beat: tuple[Replica, str, int, tuple[int, int], float, float]) -> None:
        replica, role, epoch, position, written_at, sent = beat
        v = self._views[replica.name]
        v.due = self.env._now + self.timeout
        v.position, v.at = position, written_at
        if v.suspected:
            v.suspected = False
            self.sim.detected(self.name, v.name, True)
        if replica is self._believed:
            if role != PRIMARY or epoch != self.epoch:
                v.down_hop.send(replica._on_promote, (self.epoch, sent, self._live()))
            else:
                v.down_hop.send(replica._on_lease, (self.epoch, sent, self._live()))
        elif role == PRIMARY:
            v.down_hop.send(replica._on_demote, self.epoch)

    def _watch(self, v: _View) -> None:
        now = self.env._now
        if now < v.due - _EPS:  # heard meanwhile
            self.sim.call_later(v.due - now, self._watch, v)
            return
        if not v.suspected:
            v.suspected = True
            self.sim.detected(self.name, v.name, False)
            if v.replica is self._believed:
                self._start_failover(v)
        v.due = now + self.timeout
        self.sim.call_later(self.timeout, self._watch, v)

    def _start_failover(self, v: _View) -> None:
        if self._pending is not None:
            return
        record = {
            "old": v.name,
            "new": None,
            "suspected": self.env._now,
            "promoted": None,
            "epoch": None,
            "position": None,
            "written_at": None,
            "positions": None,
            "outcome": None,
        }
        self.records.append(record)
        self._pending = record
        self.sim.call_later(self._delay(), self._promote, record)

    def _promote(self, record: dict[str, Any]) -> None:
        old = self._view_of_primary
        if not old.suspected:
            record["outcome"] = "cancelled"
            self._pending = None
            self._retrying = False
            return
        candidates = [v for v in self._views.values() if v is not old and not v.suspected]
        if not candidates:  # nobody to promote: try again a heartbeat later
            self._retrying = True
            self.sim.call_later(self.heartbeat, self._promote, record)
            return
        new = max(candidates, key=lambda v: v.position)  # max keeps the first of equals
        self._pending = None
        self._retrying = False
        self.epoch += 1
        self.failovers += 1
        self._believed = new.replica
        now = self.env._now
        record.update(
            new=new.name,
            promoted=now,
            epoch=self.epoch,
            position=new.position,
            written_at=new.at,
            positions={v.name: v.position for v in candidates},
            outcome="promoted",
        )
        new.down_hop.send(new.replica._on_promote, (self.epoch, now, self._live()))
        old.down_hop.send(old.replica._on_demote, self.epoch)
        self.sim._state_changed(self.name)

    # -- fast-forward (hasim.fastforward) ------------------------------------------------------

    @property
    def _ff_period(self) -> float:
        return self.heartbeat

    def _ff_check(self) -> None:
        """Refuse fast-forward where a quiet stretch could hold more than bookkeeping.

        Heartbeats and lease renewals must beat the timeout on every path (no loss,
        bounded latency); with fencing the paths must also be instantaneous, since a
        heartbeat in flight during a jump would carry its old send time into the
        lease it renews.
        """
        from hasim import network
        from hasim.fastforward import check_timing

        names = list(self._views)
        paths = [(n, self.name) for n in names] + [(self.name, n) for n in names]
        paths += [(a, b) for a in names for b in names if a != b]
        check_timing(self.sim, self.label, paths, self.heartbeat, self.timeout)
        net = network.get(self.sim)
        if self.fencing:
            for src, dst in paths:
                dist = net.latency_between(src, dst)
                if dist.mean > 0:
                    raise ConfigError(
                        f"fast-forward: {self.label}: with fencing the lease rides on heartbeat "
                        f"send times; the path {src} -> {dst} has latency {dist!r}, so a "
                        "heartbeat in flight at a jump would renew a stale lease (use zero "
                        "latency, or fencing=False)"
                    )

    def _ff_quiet(self) -> bool:
        """Whether only deterministic bookkeeping is left until the next fault event.

        The manager's belief about every replica is the truth (up and trusted, or
        down and suspected); no failover is under way except one retrying because
        every other replica is down; the replica it believes primary is up, primary
        of the current epoch and (with fencing) holds its lease, or is down; no
        other up replica believes it is primary; no operation is in service or
        waiting; and each up backup has applied the whole log, with nothing in
        flight or scheduled to it. Then heartbeats, lease renewals, empty
        replication and resends to down replicas repeat unchanged until a fault.
        """
        if self._pending is not None and not (
            self._retrying
            and all(v.suspected for v in self._views.values() if v is not self._view_of_primary)
        ):
            return False
        believed = self._believed
        for v in self._views.values():
            replica = v.replica
            up = replica.state != DOWN
            if v.suspected == up:
                return False
            if not up:
                continue
            if replica._jobs or replica._waiting:
                return False
            if replica is believed:
                if replica.role != PRIMARY or replica.epoch != self.epoch:
                    return False
                if self.fencing and not replica.accepts():
                    return False
            elif replica.role == PRIMARY:
                return False
        if believed.state != DOWN:
            for pipe in believed._pipes.values():
                if pipe.backup.state == DOWN:
                    continue  # resends to a down backup are lost: bookkeeping
                if pipe.inflight or pipe.scheduled or pipe.snapshot or pipe.next <= believed.lsn:
                    return False
        return True

    def _ff_shift(self, shift: float) -> None:
        """The clock jumped by ``shift``: move the deadlines kept as absolute times."""
        for v in self._views.values():
            v.due += shift

    # -- client traffic ----------------------------------------------------------------------

    def submit(self, request: Any, reply: Reply) -> None:
        """Forward ``request`` to the replica believed primary, or refuse it."""
        if self.state == DOWN:
            reply(request, ERROR, self.name)
            return
        v = self._view_of_primary
        if v.suspected or self._pending is not None:
            reply(request, REJECTED, self.name)
            return
        self._forward(v, v.replica, v.down_hop, v.up_hop, request, reply)
