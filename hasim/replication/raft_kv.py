"""A key-value store replicated by Raft: ``RaftKV``.

The cluster's state machine is one ``VersionedStore``: each committed client
entry is applied to it once, in log order, and a write takes the entry's log
index as its version (so versions grow with the log, with gaps). Reads are
log entries too, so every answer is linearizable: a read returns the value
of the newest write committed before it in the log. The leader answers a
client once the entry is committed and applied, and the history records
what that answer carried (``hasim.replication.history``).

Failure semantics are Raft's (``hasim.replication.raft``): a request whose
leader crashes or steps down before the commit ends ``error`` and may still
commit later (the checkers treat it as indeterminate); a try the router gets
no answer to ends ``timeout`` (open-ended).
"""

from __future__ import annotations

from typing import Any

from hasim.errors import config_error
from hasim.metrics.recorder import OK
from hasim.node import Reply
from hasim.replication.history import WRITE, answer, operation
from hasim.replication.raft import RaftCluster
from hasim.replication.store import ReplicatedService, VersionedStore, perform
from hasim.sim import Simulation

__all__ = ["RaftKV"]


class RaftKV(RaftCluster, ReplicatedService):
    """A Raft cluster whose state machine is a versioned key-value store.

    Args:
        sim, name, nodes, election_timeout, heartbeat, disk_write, timeout, batch,
            zone, failures: as for ``RaftCluster``.
        record_bytes, keep_log: as for ``VersionedStore``.

    Example:
        >>> kv = RaftKV(sim, "kv", nodes=5, disk_write="1ms")
        >>> hs.KVWorkload(sim, "users", target=kv, rate=100, timeout=1.0)
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        record_bytes: int = 1024,
        keep_log: bool = False,
        **cluster: Any,
    ) -> None:
        if "apply" in cluster:
            raise config_error(
                f"RaftKV {name!r}", "apply", "left out (the store is the state machine)", "given"
            )
        store = VersionedStore(record_bytes=record_bytes, keep_log=keep_log)
        super().__init__(sim, name, apply=self._apply, **cluster)
        #: The state machine: every committed operation, applied in log order.
        self.store = store

    def _apply(self, request: Any, index: int) -> tuple[Any, int]:
        version = index if operation(request).kind == WRITE else None
        return perform(self.store, request, version)

    def reply_ok(self, request: Any, reply: Reply, by: str, result: Any) -> None:
        """Record the committed operation's ``(value, version)`` as the client's answer."""
        answer(request, *result)
        reply(request, OK, by)

    def final_state(self) -> VersionedStore:
        """The store built from the committed log."""
        return self.store
