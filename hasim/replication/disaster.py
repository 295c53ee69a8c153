"""Disaster recovery: lose every replica of a service at once, restore it from its backups.

``DisasterRecovery`` takes every replica of a service down with cause
``"disaster"``, wipes their stores, restores the newest chain of its
``Backups`` (the newest complete full and every complete incremental after
it) and brings the replicas back up with the restored data. Each recovery is
a ``hasim.replication.backup.Recovery`` record: RPO, RTO, bytes restored and
the restored store. RPO and RTO are defined in ``hasim.replication.backup``.

Example::

    db = hs.SingleCopy(sim, "db", service_time="1ms")
    vault = BackupStore(sim, "vault", bandwidth=10e6, zone="other-region")
    backups = Backups(sim, "nightly", source=db, target=vault,
                      full_every=24 * hs.hours, incremental_every=1 * hs.hours)
    dr = DisasterRecovery(sim, "dr", service=db, backups=backups, setup="30min", at=3 * hs.days)
    ...
    rec = dr.recoveries[0]          # rec.rpo, rec.rto, rec.lost_writes(history)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hasim.errors import SimulationError, config_error
from hasim.node import Node
from hasim.replication.backup import Backups, Recovery, _seconds
from hasim.replication.store import VersionedStore
from hasim.sim import Component, Simulation

__all__ = ["DisasterRecovery"]


class DisasterRecovery(Component):
    """Lose every replica of a service at once, then restore it from its backups.

    Args:
        sim: the Simulation.
        name: unique name.
        service: the replicated service (``Backups.source``).
        backups: the ``Backups`` of that service.
        replicas: the nodes that hold its data, each with a ``store``
            (default: ``service.replicas`` if it has them, else ``[service]``).
        setup: seconds from the disaster to the start of the restore
            (detecting it, deciding, provisioning new machines).
        at: a time or times at which to strike (None: only when ``strike()`` is called).

    A strike takes every replica down with cause ``"disaster"`` (work in
    flight ends ``error``, new requests are refused), empties their stores
    (volatile and durable data alike) and fails the backups' transfers in
    flight (``"source lost"``). After ``setup``, the backups' restore runs
    (see ``Backups.restore``: it waits for a down backup store); then every
    replica gets a copy of the restored data and the ``"disaster"`` cause is
    lifted (with no complete chain, they come back empty: ``rpo`` is inf).
    One disaster at a time: a strike during a restore is an error. Only a
    service whose replicas keep all their data in ``store``
    restores faithfully (``SingleCopy``); protocols with more state (logs,
    positions) need their own reset.

    Attributes:
        recoveries: one ``Recovery`` per strike, in order.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        service: Any,
        backups: Backups,
        replicas: Sequence[Any] | None = None,
        setup: float | str = 0.0,
        at: float | str | Sequence[float | str] | None = None,
    ) -> None:
        owner = f"DisasterRecovery {name!r}"
        if not isinstance(backups, Backups):
            raise config_error(owner, "backups", "a Backups", backups)
        if replicas is None:
            replicas = getattr(service, "replicas", None) or [service]
        replicas = list(replicas)
        for node in replicas:
            store = getattr(node, "store", None)
            if not (isinstance(node, Node) and isinstance(store, VersionedStore)):
                raise config_error(owner, "replicas", "nodes with a VersionedStore `store`", node)
        setup = _seconds(owner, "setup", setup)
        times = [] if at is None else list(at) if isinstance(at, (list, tuple)) else [at]
        times = [_seconds(owner, "at", t) for t in times]
        super().__init__(sim, name)
        self.service = service
        self.backups = backups
        self.replicas = replicas
        self.setup = setup
        self.at = tuple(times)
        self.recoveries: list[Recovery] = []

    def _prepare(self) -> None:
        for t in self.at:
            self.sim.call_later(t, lambda _: self.strike())

    def strike(self) -> Recovery:
        """The disaster, now: lose every replica and its data, and start the restore.

        Raises:
            SimulationError: a restore is still running (one disaster at a time).
        """
        if self.recoveries and self.recoveries[-1].restored is None:
            raise SimulationError(
                f"{self.label}: a disaster at {self.env.now:g} s while the one at "
                f"{self.recoveries[-1].disaster:g} s is still being restored"
            )
        recovery = Recovery(self.env.now)
        self.recoveries.append(recovery)
        for node in self.replicas:
            node.fail("disaster")
            node.store.clear()
        self.backups.abort("source lost")
        done = self.backups.restore(recovery, setup=self.setup)
        done.callbacks.append(lambda _: self._restored(recovery))
        return recovery

    def _restored(self, recovery: Recovery) -> None:
        for node in self.replicas:
            node.store.restore(recovery.state.snapshot())
        recovery.restored = self.env.now
        recovery.rto = recovery.restored - recovery.disaster
        for node in self.replicas:
            node.recover("disaster")

    def to_frame(self):
        """One row per recovery (pandas DataFrame), columns as ``Recovery``'s, without ``state``."""
        import pandas as pd  # not at import hasim time

        columns = [c for c in Recovery.__slots__ if c != "state"]
        return pd.DataFrame(
            [[getattr(r, c) for c in columns] for r in self.recoveries], columns=columns
        )
