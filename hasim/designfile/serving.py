"""What ``replicas(store)`` and ``serving(store)`` mean in a design file's up expression."""

from __future__ import annotations

from typing import Any

from hasim.designfile.expr import ExprError

__all__ = ["replicas", "serving", "PrimaryServing"]


def replicas(store: Any) -> list[Any]:
    """A store's replicas (or a Raft cluster's nodes)."""
    for attr in ("replicas", "nodes"):
        members = getattr(store, attr, None)
        if isinstance(members, (list, tuple)) and members:
            return list(members)
    raise ExprError(f"replicas() takes a replicated store, got {getattr(store, 'name', store)!r}")


def serving(store: Any) -> Any:
    """The store can serve reads and writes: its natural up structure (see the docs)."""
    from hasim.replication import PrimaryBackup, QuorumStore, RaftCluster, SingleCopy
    from hasim.structure import k_of_n

    if isinstance(store, QuorumStore):
        return k_of_n(max(store.r, store.w), store.replicas)
    if isinstance(store, RaftCluster):
        return k_of_n(store.majority, store.nodes)
    if isinstance(store, PrimaryBackup):
        return PrimaryServing(store)
    if isinstance(store, SingleCopy):
        return store
    raise ExprError(f"serving() takes a store, got {getattr(store, 'name', store)!r}")


class PrimaryServing:
    """A primary-backup store serves while its believed primary is up with enough live backups.

    Enough: ``acks`` backups (sync and semi-sync writes wait for them), none for async.
    Which replica is primary changes with failovers, so this is a predicate, not a structure.
    """

    __slots__ = ("store", "acks")

    def __init__(self, store: Any) -> None:
        self.store = store
        self.acks = 0 if store.mode == "async" else store.acks

    def __call__(self) -> bool:
        """Whether the store serves now."""
        primary = self.store.primary
        backups = sum(r.up for r in self.store.replicas if r is not primary)
        return primary.up and backups >= self.acks

    def __repr__(self) -> str:
        return f"serving({self.store.name})"
