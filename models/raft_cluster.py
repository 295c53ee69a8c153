"""A key-value store replicated by Raft over N nodes that fail and are repaired.

A ``hasim.replication.RaftKV`` named ``db`` with nodes ``db0``, ``db1``, ...
(etcd, Consul, a Raft-replicated database): a leader elected by
randomized timeouts orders every read and write in its log and answers once
a majority has the entry on disk. Clients go through the cluster's router
(``db``), which follows redirects to the leader. The nodes fail and are
repaired; an election follows every crash of the leader.

Parameters (``PARAMS`` holds the defaults):

- ``nodes``: how many Raft nodes (integer >= 1; odd numbers are the useful
  ones).
- ``election_timeout``: the shortest election timeout, seconds; each timer
  draws uniformly from ``[election_timeout, 2 * election_timeout]`` (the
  Raft paper's range).
- ``heartbeat``: seconds between two AppendEntries of the leader to each
  follower.
- ``disk_write``: mean time of one disk write (an fsync), seconds
  (exponential).
- ``request_timeout``: seconds the router waits for a node's answer before
  giving up on it (the request ends ``timeout``).
- ``mttf``: a node's mean time to failure, seconds (exponential).
- ``mttr``: a node's median time to repair, seconds (lognormal with
  ``repair_sigma``; a crew per node).
- ``repair_sigma``: spread of the repair time (sigma of its logarithm).
- ``latency``: mean one-way network latency between any two components,
  seconds (exponential).
- ``zone``: the nodes' zone (a label: no zone fails in this design).

Failures modelled: crashes of each node (its term, vote and log survive on
disk); the elections they cause; the requests a crashed or deposed leader
held end ``error``.

Up (the structure predicate): a majority of the nodes is up. This is the
upper bound the protocol can reach: after a leader crash the cluster has no
leader until an election ends, so the request availability the simulation
measures is lower than the uptime, and that difference is the price of the
elections. The cluster also starts without a leader: the first election ends
some ``election_timeout`` to ``2 * election_timeout`` seconds into the run,
so give short runs a warm-up.
"""

from __future__ import annotations

import hasim as hs
from hasim.errors import check_int, check_positive
from hasim.models import failures, settings
from hasim.replication import RaftKV

PARAMS = {
    "nodes": 3,
    "election_timeout": 5.0,
    "heartbeat": 0.5,
    "disk_write": 2 * hs.ms,
    "request_timeout": 1.0,
    "mttf": 30 * hs.days,
    "mttr": 20 * hs.minutes,
    "repair_sigma": 0.6,
    "latency": 0.5 * hs.ms,
    "zone": "az1",
}

#: The default workload of ``hasim run``: 10 operations/s, 90 % reads over 100 keys.
WORKLOAD = {"rate": 10, "timeout": 2.0, "read_share": 0.9, "keys": 100}


def build(sim: hs.Simulation, **params) -> RaftKV:
    """Build the design in ``sim`` and return its entry service (the cluster's router).

    Args:
        sim: the Simulation to build in.
        **params: overrides of ``PARAMS`` (unknown names are an error).
    """
    p = settings("raft_cluster", PARAMS, params)
    count = check_int("raft_cluster", "nodes", p["nodes"], minimum=1)
    low = check_positive("raft_cluster", "election_timeout", p["election_timeout"])
    hs.Network(sim, latency=hs.Exponential(mean=p["latency"]))
    kv = RaftKV(
        sim,
        "db",
        nodes=count,
        election_timeout=(low, 2 * low),
        heartbeat=p["heartbeat"],
        disk_write=hs.Exponential(mean=p["disk_write"]),
        timeout=p["request_timeout"],
        zone=p["zone"],
        failures=failures(p["mttf"], p["mttr"], p["repair_sigma"]),
    )
    sim.up_when(hs.k_of_n(kv.majority, kv.nodes))
    return kv
