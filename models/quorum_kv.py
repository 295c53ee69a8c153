"""A Dynamo-style key-value store: N replicas, writes on W of them, reads from R.

A ``hasim.replication.QuorumStore`` named ``db`` with replicas ``db0``,
``db1``, ... (Cassandra, Riak, DynamoDB-style): a coordinator sends each
write to every replica it believes up and acknowledges it after ``w``
acknowledgements; a read waits for ``r`` replies and returns the newest
version among them (repairing stale replicas on the way, with
``read_repair``). ``r + w > replicas`` makes every read see the latest
acknowledged write; smaller quorums trade that for availability and
latency. The replicas fail and are repaired; the coordinator does not fail
(it stands for the client library).

Parameters (``PARAMS`` holds the defaults):

- ``replicas``: how many replicas, each holding every key (N, integer >= 1).
- ``r``: replies a read waits for (integer in [1, replicas]).
- ``w``: acknowledgements a write waits for (integer in [1, replicas]).
- ``read_repair``: push the newest version to replicas a read found stale.
- ``coordinator_timeout``: seconds an operation waits for its R or W
  answers before it ends ``timeout`` (and the silent replicas are
  suspected and left out until they answer a probe).
- ``service_time``: mean time a replica takes to serve one message,
  seconds (exponential).
- ``mttf``: a replica's mean time to failure, seconds (exponential).
- ``mttr``: a replica's median time to repair, seconds (lognormal with
  ``repair_sigma``; a crew per replica).
  Data is on disk and survives a crash.
- ``repair_sigma``: spread of the repair time (sigma of its logarithm).
- ``latency``: mean one-way network latency between any two components,
  seconds (exponential).
- ``zone``: the replicas' zone (a label: no zone fails in this design).

Failures modelled: crashes of each replica. Operations sent to a replica
that has just crashed wait for the coordinator's timeout; once it is
suspected, operations go to the others, and are ``rejected`` at once if
fewer than R (reads) or W (writes) replicas are believed up.

Up (the structure predicate): at least ``max(r, w)`` replicas are up, so
that both reads and writes can be served. (With ``r != w`` one kind may
still be served below that; request availability counts each operation.)
"""

from __future__ import annotations

import hasim as hs
from hasim.errors import check_int
from hasim.models import failures, settings
from hasim.replication import QuorumStore

PARAMS = {
    "replicas": 3,
    "r": 2,
    "w": 2,
    "read_repair": True,
    "coordinator_timeout": 1.0,
    "service_time": 1 * hs.ms,
    "mttf": 30 * hs.days,
    "mttr": 20 * hs.minutes,
    "repair_sigma": 0.6,
    "latency": 0.5 * hs.ms,
    "zone": "az1",
}

#: The default workload of ``hasim run``: 10 operations/s, 90 % reads over 100 keys.
WORKLOAD = {"rate": 10, "timeout": 2.0, "read_share": 0.9, "keys": 100}


def build(sim: hs.Simulation, **params) -> QuorumStore:
    """Build the design in ``sim`` and return its entry service (the coordinator).

    Args:
        sim: the Simulation to build in.
        **params: overrides of ``PARAMS`` (unknown names are an error).
    """
    p = settings("quorum_kv", PARAMS, params)
    count = check_int("quorum_kv", "replicas", p["replicas"], minimum=1)
    hs.Network(sim, latency=hs.Exponential(mean=p["latency"]))
    store = QuorumStore(
        sim,
        "db",
        n=count,
        r=p["r"],
        w=p["w"],
        read_repair=p["read_repair"],
        coordinator_timeout=p["coordinator_timeout"],
        service_time=hs.Exponential(mean=p["service_time"]),
        zone=p["zone"],
        failures=failures(p["mttf"], p["mttr"], p["repair_sigma"]),
    )
    quorum = max(store.r, store.w)
    sim.up_when(hs.k_of_n(quorum, store.replicas))
    return store
