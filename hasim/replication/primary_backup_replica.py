"""A primary-backup ``Replica``: its roles, lease, write path and log shipping to backups.

``Replica`` is one member of a ``PrimaryBackup`` group: it sends heartbeats to the manager,
serves operations while it believes it is primary (and, with fencing, holds a lease), stores
writes and appends them to its log, acknowledges them as its mode says (``SYNC``, ``ASYNC``,
``SEMI_SYNC``), ships the log (after a snapshot) to each backup over one pipe per backup, and
applies what it is shipped while it is a backup. The group, its manager, failure detector,
failover and measures are ``PrimaryBackup`` in ``hasim.replication.primary_backup``, whose
module docstring describes the whole protocol.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hasim import network
from hasim.metrics.recorder import ERROR, OK, REJECTED
from hasim.node import DOWN, Node, Reply, Service
from hasim.replication.history import WRITE, answer, operation
from hasim.replication.store import VERSION_BYTES, VersionedStore

if TYPE_CHECKING:
    from hasim.replication.primary_backup import PrimaryBackup

__all__ = ["Replica", "PRIMARY", "BACKUP", "SYNC", "ASYNC", "SEMI_SYNC", "MODES"]


PRIMARY = "primary"
BACKUP = "backup"
SYNC, ASYNC, SEMI_SYNC = "sync", "async", "semi-sync"
MODES = (SYNC, ASYNC, SEMI_SYNC)

_EPS = 1e-9  # tolerance on timer deadlines (the clock adds delays in floating point)
# A primary keeps at most twice this many log entries; a backup further behind gets a snapshot.
_LOG_KEEP = 10_000
_KEY_BYTES = 16


class _Pipe:
    """A primary's replication stream to one backup: one message in flight at a time."""

    __slots__ = ("backup", "next", "acked", "snapshot", "seq", "inflight", "scheduled")

    def __init__(self, backup: Replica, lsn: int) -> None:
        self.backup = backup
        self.next = lsn + 1  # the first lsn not yet shipped
        self.acked = 0  # the backup has applied the log up to here
        self.snapshot = True  # a snapshot goes first
        self.seq = 0
        self.inflight = False
        self.scheduled = False


class _Waiting:
    """A write stored at the primary, waiting for backups before it is acknowledged."""

    __slots__ = ("lsn", "request", "reply", "value", "version")

    def __init__(self, lsn: int, request: Any, reply: Reply, value: Any, version: int) -> None:
        self.lsn = lsn
        self.request = request
        self.reply = reply
        self.value = value
        self.version = version


class Replica(Node, Service):
    """One replica of a ``PrimaryBackup`` group (made by the group; see ``primary_backup``).

    Attributes:
        store: its data (durable).
        role: ``"primary"`` or ``"backup"``: what it believes (durable).
        epoch: the newest epoch it knows (durable).
        lsn: the last log entry it holds; ``position`` is ``(epoch of that log, lsn)``.
        written_at: when the primary wrote the last entry it holds.
    """

    def __init__(self, group: PrimaryBackup, name: str, zone: str | None, failures: Any) -> None:
        super().__init__(group.sim, name, zone=zone, failures=failures)
        self.group = group
        self.store = VersionedStore(record_bytes=group.record_bytes, keep_log=True)
        self.role = BACKUP
        self.epoch = 0
        self.log_epoch = 0
        self.lsn = 0
        self.written_at = 0.0
        self.lease_until = -math.inf
        #: The backups the manager last said were live (the sync primary waits for these).
        self.live: frozenset[str] = frozenset()
        self._gen = 0  # bumped at every crash and role change: stale timers and acks do nothing
        self._pipes: dict[str, _Pipe] = {}
        self._log: list[tuple[int, Any, int, Any, float]] = []  # (lsn, key, version, value, t)
        self._base = 0  # the lsn before _log[0]
        self._jobs: dict[tuple[Any, Reply], None] = {}
        self._waiting: list[_Waiting] = []
        self.on_change(self._changed)

    @property
    def position(self) -> tuple[int, int]:
        """``(epoch, lsn)`` of the log it holds: what promotion compares."""
        return (self.log_epoch, self.lsn)

    def _prepare(self) -> None:
        super()._prepare()
        self._net = network.get(self.sim)
        self._to_manager = self._net.path(self.name, self.group.name)
        self._draw = self.sim.sampler(self.group.service_time, self.name, "service")
        self._lag = self.sim.sampler(self.group.replication_lag, self.name, "lag")
        self.sim.call_later(0.0, self._tick)
        if self.role == PRIMARY:
            self._lease(0.0)
            self._start_pipes()

    # -- fast-forward: the group judges quiet; the replica moves its lease with a jump ----------

    def _ff_quiet(self) -> bool:
        return True

    def _ff_shift(self, shift: float) -> None:
        self.lease_until += shift  # -inf stays -inf

    def _send(self, dst: Replica, fn: Any, msg: Any, size: float = 0.0) -> None:
        self._net.path(self.name, dst.name).send(fn, msg, size=size)

    # -- heartbeats, roles, lease ----------------------------------------------------------

    def _tick(self, _: Any = None) -> None:
        if self.state != DOWN:
            beat = (self, self.role, self.epoch, self.position, self.written_at, self.env._now)
            self._to_manager.send(self.group._on_heartbeat, beat)
        self.sim.call_later(self.group.heartbeat, self._tick)

    def _set_role(self, role: str, why: str) -> None:
        self._gen += 1
        self.role = role
        self.group.roles.append((self.env._now, self.name, role, why))
        if role == PRIMARY:
            self.log_epoch = self.epoch
            self._start_pipes()
        else:
            self.lease_until = -math.inf
            self._pipes = {}
            self._fail_waiting()
        self.sim._state_changed(self.group.name)  # the group's ``up`` may have changed

    def _on_promote(self, msg: tuple[int, float, frozenset[str]]) -> None:
        epoch, granted, live = msg
        if self.state == DOWN or (self.group.fencing and epoch < self.epoch):
            return
        if self.role != PRIMARY or self.epoch != epoch:
            self.epoch = epoch
            self._set_role(PRIMARY, "promoted")
        self._on_lease(msg)

    def _on_demote(self, epoch: int) -> None:
        if self.state == DOWN or (self.group.fencing and epoch < self.epoch):
            return
        self.epoch = max(self.epoch, epoch)
        if self.role == PRIMARY:
            self._set_role(BACKUP, "demoted")

    def _on_lease(self, msg: tuple[int, float, frozenset[str]]) -> None:
        epoch, granted, live = msg
        if self.state == DOWN or self.role != PRIMARY or epoch != self.epoch:
            return
        self._lease(granted)
        self.live = live
        self._check_waiting()

    def _lease(self, granted: float) -> None:
        until = granted + self.group.timeout
        if until > self.lease_until:
            accepted = self.accepts()
            self.lease_until = until
            if self.accepts() is not accepted:  # a new lease: the group's ``up`` changed
                self.sim._state_changed(self.group.name)
            if self.group.fencing:
                self.sim.call_later(until - self.env._now, self._lease_check, self._gen)

    def _lease_check(self, gen: int) -> None:
        if gen == self._gen and self.role == PRIMARY and self.env._now >= self.lease_until - _EPS:
            self._set_role(BACKUP, "lease expired")

    def accepts(self) -> bool:
        """Whether it takes operations now: up, primary and (with fencing) holding a lease."""
        if self.state == DOWN or self.role != PRIMARY:
            return False
        return not self.group.fencing or self.env._now < self.lease_until

    # -- client operations -------------------------------------------------------------------

    def submit(self, request: Any, reply: Reply) -> None:
        """Serve ``request`` if it is the primary; else ``error`` (down) or ``rejected``."""
        if self.state == DOWN:
            reply(request, ERROR, self.name)
        elif not self.accepts():
            reply(request, REJECTED, self.name)
        else:
            job = (request, reply)
            self._jobs[job] = None
            self.sim.call_later(self._draw() * self.slowdown, self._serve, job)

    def _serve(self, job: tuple[Any, Reply]) -> None:
        if job not in self._jobs:  # ended by a crash
            return
        del self._jobs[job]
        request, reply = job
        if not self.accepts():
            reply(request, REJECTED, self.name)
            return
        op = operation(request)
        if op.kind != WRITE:
            version, value = self.store.get(op.key)
            answer(request, value, version)
            reply(request, OK, self.name)
            return
        group, now = self.group, self.env._now
        version = self.store.write(op.key, op.value)
        self.lsn += 1
        self.written_at = now
        self._log.append((self.lsn, op.key, version, op.value, now))
        if len(self._log) > 2 * _LOG_KEEP:  # bound the memory of long runs
            del self._log[:_LOG_KEEP]
            self._base += _LOG_KEEP
        if group._believed is not self:  # an observer's count (split brain), not a decision
            group.split_brain_writes += 1
        if group.mode == ASYNC:
            answer(request, op.value, version)
            reply(request, OK, self.name)
        else:
            self._waiting.append(_Waiting(self.lsn, request, reply, op.value, version))
            self._check_waiting()
        for pipe in self._pipes.values():
            self._kick(pipe)

    def _check_waiting(self) -> None:
        if not self._waiting:
            return
        pipes = self._pipes.values()
        if self.group.mode == SYNC:
            live = [p.acked for p in pipes if p.backup.name in self.live]
            floor = min(live, default=math.inf) if len(live) >= self.group.acks else 0
        else:
            acked = sorted((p.acked for p in pipes), reverse=True)
            k = self.group.acks
            floor = acked[k - 1] if len(acked) >= k else 0
        waiting = self._waiting
        i = 0
        while i < len(waiting) and waiting[i].lsn <= floor:
            w = waiting[i]
            answer(w.request, w.value, w.version)
            w.reply(w.request, OK, self.name)
            i += 1
        del waiting[:i]

    def _fail_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for w in waiting:
            w.reply(w.request, ERROR, self.name)

    # -- shipping the log ----------------------------------------------------------------------

    def _start_pipes(self) -> None:
        self._base = self.lsn
        self._log = []
        self.live = frozenset(r.name for r in self.group.replicas if r is not self)
        self._pipes = {r.name: _Pipe(r, self.lsn) for r in self.group.replicas if r is not self}
        for pipe in self._pipes.values():
            self._ship(pipe)

    def _kick(self, pipe: _Pipe) -> None:
        if pipe.inflight or pipe.scheduled or (not pipe.snapshot and pipe.next > self.lsn):
            return
        if self.group.mode == ASYNC and not pipe.snapshot:
            pipe.scheduled = True
            self.sim.call_later(self._lag(), self._ship_later, (pipe, self._gen))
        else:
            self._ship(pipe)

    def _ship_later(self, item: tuple[_Pipe, int]) -> None:
        pipe, gen = item
        if gen == self._gen:
            pipe.scheduled = False
            self._ship(pipe)

    def _ship(self, pipe: _Pipe) -> None:
        if pipe.next <= self._base:  # what it needs next was trimmed from the log
            pipe.snapshot = True
        pipe.seq += 1
        pipe.inflight = True
        if pipe.snapshot:
            payload: Any = (
                (self.store.snapshot(), self.store.lineage()),
                self.lsn,
                self.written_at,
            )
            size = self.store.size_bytes(_KEY_BYTES)
        else:
            payload = self._log[pipe.next - self._base - 1 :]
            size = len(payload) * (_KEY_BYTES + VERSION_BYTES + self.store.record_bytes)
        msg = (self, self._gen, pipe.seq, self.epoch, pipe.snapshot, payload)
        self._send(pipe.backup, pipe.backup._on_replicate, msg, size)
        self.sim.call_later(self.group.timeout, self._resend, (pipe, pipe.seq, self._gen))

    def _resend(self, item: tuple[_Pipe, int, int]) -> None:
        pipe, seq, gen = item
        if gen == self._gen and pipe.seq == seq and pipe.inflight:
            self._ship(pipe)

    def _on_replicate(self, msg: tuple[Replica, int, int, int, bool, Any]) -> None:
        primary, gen, seq, epoch, snapshot, payload = msg
        if self.state == DOWN:
            return
        fencing = self.group.fencing
        if self.role == PRIMARY and fencing and epoch > self.epoch:
            self.epoch = epoch
            self._set_role(BACKUP, "fenced")
        if self.role == PRIMARY or (fencing and epoch < self.epoch):
            self._send(primary, primary._on_nack, (self, gen, seq, self.epoch))
            return
        self.epoch = max(self.epoch, epoch)
        self.log_epoch = epoch
        if snapshot:
            (data, lineage), self.lsn, self.written_at = payload
            self.store.restore(data, lineage)
        elif payload:
            for _, key, version, value, _ in payload:
                self.store.apply(key, version, value)
            self.lsn, self.written_at = payload[-1][0], payload[-1][4]
        self._send(primary, primary._on_ack, (self, gen, seq, self.lsn))

    def _on_ack(self, msg: tuple[Replica, int, int, int]) -> None:
        backup, gen, seq, lsn = msg
        pipe = self._pipes.get(backup.name)
        if self.state == DOWN or gen != self._gen or pipe is None or seq != pipe.seq:
            return
        pipe.inflight = False
        pipe.snapshot = False
        pipe.acked = lsn
        pipe.next = lsn + 1
        self._check_waiting()
        self._kick(pipe)

    def _on_nack(self, msg: tuple[Replica, int, int, int]) -> None:
        backup, gen, seq, epoch = msg
        if self.state == DOWN or gen != self._gen:
            return
        if self.group.fencing and epoch > self.epoch:
            self.epoch = epoch
            self._set_role(BACKUP, "fenced")
        # Otherwise the backup believes it is primary itself: the resend timer tries again.

    # -- crash and recovery ---------------------------------------------------------------------

    def _crashed(self) -> None:
        self._gen += 1
        self.lease_until = -math.inf
        self._pipes = {}
        jobs = list(self._jobs)
        self._jobs.clear()
        for request, reply in jobs:
            reply(request, ERROR, self.name)
        self._fail_waiting()

    def _changed(self, node: Node, old: str, new: str) -> None:
        if old == DOWN and new != DOWN and self.role == PRIMARY:
            if self.group.fencing:  # the lease did not survive the crash
                self._set_role(BACKUP, "lease expired")
            else:
                self._start_pipes()
