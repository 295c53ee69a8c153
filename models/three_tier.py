"""Three tiers: a load balancer, application servers, a primary-backup database.

Requests reach a balancer ``lb`` with health checks, which spreads them
over ``servers`` application servers (``web0``, ``web1``, ...;
``hasim.AppServer``): each does its own work for ``service_time``, then
calls the database and holds its worker until the answer comes back (or
``app_timeout`` passes), as a thread-per-request application does. The
database ``db`` is a ``hasim.replication.PrimaryBackup`` group of
``db_replicas`` replicas (``db0``, ``db1``, ...): the primary serves every
read and write and replicates writes to the backups (``db_mode``); a
manager with a heartbeat failure detector promotes the most up-to-date
backup when the primary falls silent. A slow or failed database therefore
fills the application servers' workers: the tiers' failures compose as in
production.

Requests must be reads and writes of keys (a ``hasim.replication.KVWorkload``;
an experiment's open-loop workload becomes one for designs with a
replicated store).

Parameters (``PARAMS`` holds the defaults):

- ``servers``: how many application servers (integer >= 1).
- ``needed``: servers the load needs (integer in [1, servers]); None for
  ``servers - 1`` (N+1), or 1 with a single server.
- ``workers``: requests a server serves at once (integer >= 1).
- ``service_time``: mean time of an app server's own work per request,
  seconds (exponential), before it calls the database.
- ``queue_limit``: requests allowed to wait at a server; None for no limit.
- ``mttf``: a server's mean time to failure, seconds (exponential).
- ``mttr``: a server's median time to repair, seconds (lognormal with
  ``repair_sigma``; a crew per server).
- ``repair_sigma``: spread of every repair time (sigma of its logarithm).
- ``policy``: how the balancer picks among the servers it believes healthy:
  ``"round_robin"``, ``"least_outstanding"``, ``"power_of_two"`` or
  ``"random"``.
- ``check_interval``: seconds between two health probes of a server.
- ``check_timeout``: seconds a probe waits for its answer.
- ``unhealthy_after``: failed probes in a row that take a server out of
  rotation (as many good ones in a row put it back).
- ``lb_timeout``: the balancer's upstream timeout, seconds (None: none);
  it should exceed ``app_timeout``.
- ``lb_mttf``: the balancer's mean time to failure, seconds (exponential).
- ``lb_mttr``: the balancer's median time to repair, seconds (lognormal).
- ``zone``: the zone of the app servers and the database replicas (a label:
  no zone fails in this design).
- ``app_timeout``: seconds an app server waits for the database before the
  request ends ``timeout`` (None: as long as it takes).
- ``deep_health``: whether the balancer's health probes go through to the
  database (then a database outage takes every app server out of rotation
  and requests are refused at once) or are answered by the app server.
- ``db_replicas``: database replicas (integer >= 2).
- ``db_mode``: ``"sync"``, ``"semi-sync"`` or ``"async"`` replication.
- ``db_acks``: backups that must apply a write before it is acknowledged
  (semi-sync), or the fewest live backups a sync write waits for.
- ``db_service_time``: mean time of one operation at the primary, seconds
  (exponential).
- ``db_heartbeat``: seconds between two heartbeats of a replica to the
  database's failure detector.
- ``db_timeout``: seconds of silence after which the detector suspects a
  replica (also the primary's lease: with fencing, a cut-off primary stops
  taking writes before a new one is promoted).
- ``db_promotion_delay``: seconds from suspecting the primary to promoting.
- ``db_mttf``: a database replica's mean time to failure, seconds
  (exponential).
- ``db_mttr``: a database replica's median time to repair, seconds
  (lognormal with ``repair_sigma``; a crew per replica).
- ``latency``: mean one-way network latency between any two components,
  seconds (exponential).

Failures modelled: crashes of the balancer, of each app server and of
each database replica, each repaired by its own crew; database failover
(requests are ``rejected`` by the database between suspicion and
promotion; a crashed primary's operations in flight end ``error``).

Up (the structure predicate): the balancer is up, at least ``needed`` app
servers are up, the replica the database's manager believes primary is up,
and, unless ``db_mode`` is ``"async"``, at least ``db_acks`` backups are up
(else writes wait). The time from a primary's crash to the promotion is
downtime; role messages and leases (milliseconds) are not looked at.
"""

from __future__ import annotations

import hasim as hs
from hasim.errors import check_int
from hasim.models import failures, lb_cluster, settings
from hasim.replication import PrimaryBackup

PARAMS = {
    **lb_cluster.PARAMS,
    "app_timeout": 1.0,
    "deep_health": False,
    "db_replicas": 3,
    "db_mode": "semi-sync",
    "db_acks": 1,
    "db_service_time": 2 * hs.ms,
    "db_heartbeat": 5.0,
    "db_timeout": 15.0,
    "db_promotion_delay": 5.0,
    "db_mttf": 30 * hs.days,
    "db_mttr": 20 * hs.minutes,
    "latency": 0.5 * hs.ms,
}

#: The default workload of ``hasim run``: 10 operations/s, 90 % reads over 100 keys.
WORKLOAD = {"rate": 10, "timeout": 2.0, "read_share": 0.9, "keys": 100}


def build(sim: hs.Simulation, **params) -> hs.LoadBalancer:
    """Build the design in ``sim`` and return its entry service (the balancer).

    Args:
        sim: the Simulation to build in.
        **params: overrides of ``PARAMS`` (unknown names are an error).
    """
    p = settings("three_tier", PARAMS, params)
    count = check_int("three_tier", "servers", p["servers"], minimum=1)
    needed = lb_cluster.sizing("three_tier", count, p["needed"])
    hs.Network(sim, latency=hs.Exponential(mean=p["latency"]))
    db = PrimaryBackup(
        sim,
        "db",
        replicas=p["db_replicas"],
        mode=p["db_mode"],
        acks=p["db_acks"],
        service_time=hs.Exponential(mean=p["db_service_time"]),
        heartbeat=p["db_heartbeat"],
        timeout=p["db_timeout"],
        promotion_delay=p["db_promotion_delay"],
        zone=p["zone"],
        failures=failures(p["db_mttf"], p["db_mttr"], p["repair_sigma"]),
    )
    app = [
        hs.AppServer(
            sim,
            f"web{i}",
            backend=db,
            workers=p["workers"],
            service_time=hs.Exponential(mean=p["service_time"]),
            queue_limit=p["queue_limit"],
            timeout=p["app_timeout"],
            deep_health=p["deep_health"],
            zone=p["zone"],
            failures=failures(p["mttf"], p["mttr"], p["repair_sigma"]),
        )
        for i in range(count)
    ]
    lb = lb_cluster.balancer("three_tier", sim, "lb", app, p)

    acks = 0 if db.mode == "async" else db.acks  # async writes wait for no backup

    def up() -> bool:
        primary = db.primary
        backups = sum(r.up for r in db.replicas if r is not primary)
        return lb.up and sum(s.up for s in app) >= needed and primary.up and backups >= acks

    sim.up_when(up)
    return lb
