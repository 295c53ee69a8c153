"""Replicated data services: versioned stores, client histories, workloads and safety checks.

``history`` records what clients asked and saw, ``store`` holds a replica's
data and the shape every protocol shares, ``workload`` issues reads and
writes, ``checker`` judges a history (lost writes, monotonic and stale reads,
linearizability, one leader per term), ``linearizability`` holds the
linearizability check with its counterexamples, and ``wing_gong`` the search it
runs on each key (Wing & Gong with Lowe's memoisation, Gibbons and Korach's zones).
"""

from __future__ import annotations

from hasim.replication.backup import (
    FULL,
    INCREMENTAL,
    Backups,
    BackupStore,
    Recovery,
    Snapshot,
)
from hasim.replication.checker import (
    Check,
    HistoryTooLarge,
    Staleness,
    StaleRead,
    Violation,
    at_most_one_leader_per_term,
    linearizable,
    lost_writes,
    monotonic_reads,
    operation_availability,
    stale_reads,
)
from hasim.replication.disaster import DisasterRecovery
from hasim.replication.history import (
    READ,
    WRITE,
    History,
    Operation,
    answer,
    history_of,
    operation,
)
from hasim.replication.linearizability import (
    Counterexample,
    Linearizability,
    check_linearizability,
)
from hasim.replication.pbs import Visibility, visibility_trials
from hasim.replication.primary_backup import DataLoss, PrimaryBackup, Replica
from hasim.replication.quorum import WARS, QuorumReplica, QuorumStore
from hasim.replication.raft import RaftCluster, RaftNode
from hasim.replication.raft_kv import RaftKV
from hasim.replication.store import (
    ReplicatedService,
    SingleCopy,
    VersionedStore,
    apply_operation,
    perform,
)
from hasim.replication.workload import KVWorkload, Zipf, popularity_pmf

__all__ = [
    "READ",
    "WRITE",
    "Operation",
    "History",
    "history_of",
    "operation",
    "answer",
    "VersionedStore",
    "ReplicatedService",
    "SingleCopy",
    "perform",
    "apply_operation",
    "Zipf",
    "KVWorkload",
    "popularity_pmf",
    "Check",
    "Violation",
    "StaleRead",
    "Staleness",
    "HistoryTooLarge",
    "lost_writes",
    "monotonic_reads",
    "stale_reads",
    "linearizable",
    "check_linearizability",
    "Linearizability",
    "Counterexample",
    "WARS",
    "Visibility",
    "visibility_trials",
    "at_most_one_leader_per_term",
    "PrimaryBackup",
    "Replica",
    "DataLoss",
    "RaftCluster",
    "RaftNode",
    "RaftKV",
    "BackupStore",
    "Backups",
    "DisasterRecovery",
    "Snapshot",
    "Recovery",
    "FULL",
    "INCREMENTAL",
    "QuorumStore",
    "QuorumReplica",
    "operation_availability",
]
