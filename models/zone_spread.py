"""N servers behind a load balancer, spread round-robin over availability zones that fail.

``servers`` servers (``web0``, ``web1``, ...) behind a balancer ``lb`` with
health checks, as in ``lb_cluster``, placed round-robin over ``zones``
zones ``az1``, ``az2``, ...: ``web0`` in ``az1``, ``web1`` in ``az2``, and so
on. Each zone is a ``hasim.Domain`` with failures of its own (power,
network, a bad deploy of the zone's control plane): a zone outage takes
every server in it down at the same instant. ``zones=1`` is the
single-zone design, so an experiment that varies ``zones`` alone compares
spreading with not spreading under the same zone outages (common random
numbers: the domain ``az1`` and each server draw the same failure times
whatever the number of zones; with one zone only ``az1`` exists).

The balancer is regional, as a cloud provider's managed balancer is: it
has a node in every zone, belongs to no zone and survives a zone outage
(it fails on its own, with ``lb_mttf``). It takes requests in ``az1`` (the
clients' zone): its hop to a server in ``az1`` costs ``same_zone_latency``,
to a server in another zone ``cross_zone_latency``, which is what
spreading costs in latency.

Parameters (``PARAMS`` holds the defaults):

- ``servers``: how many servers (integer >= 1).
- ``needed``: servers the load needs (integer in [1, servers]); None for
  ``servers - 1`` (N+1), or 1 with a single server.
- ``workers``: requests a server serves at once (integer >= 1).
- ``service_time``: mean service time per request, seconds (exponential).
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
- ``lb_timeout``: the balancer's upstream timeout, seconds (None: none).
- ``lb_mttf``: the balancer's mean time to failure, seconds (exponential).
- ``lb_mttr``: the balancer's median time to repair, seconds (lognormal).
- ``zones``: how many zones the servers are spread over (integer in
  [1, servers]).
- ``zone_mttf``: each zone's mean time to failure, seconds (exponential).
- ``zone_mttr``: each zone's median time to recover, seconds (lognormal
  with ``repair_sigma``).
- ``same_zone_latency``: mean one-way latency of a message within a zone,
  seconds (exponential); the clients reach the balancer at this latency.
- ``cross_zone_latency``: mean one-way latency of a message between two
  zones, seconds (exponential).

Failures modelled: crashes of each server and of the balancer (a crew
each), and zone outages (a server down for its zone comes back when the
zone does, unless it is also down for its own crash).

Up (the structure predicate): the balancer is up and at least ``needed``
servers are up. With 3 servers over 3 zones and ``needed=2``, one zone
outage leaves the system up; with one zone it takes it down.
"""

from __future__ import annotations

import hasim as hs
from hasim.errors import check_int, config_error
from hasim.models import failures, lb_cluster, settings

PARAMS = {
    **{k: v for k, v in lb_cluster.PARAMS.items() if k != "zone"},
    "zones": 3,
    "zone_mttf": 90 * hs.days,
    "zone_mttr": 2 * hs.hours,
    "same_zone_latency": 0.25 * hs.ms,
    "cross_zone_latency": 1 * hs.ms,
}


def build(sim: hs.Simulation, **params) -> hs.LoadBalancer:
    """Build the design in ``sim`` and return its entry service (the balancer).

    Args:
        sim: the Simulation to build in.
        **params: overrides of ``PARAMS`` (unknown names are an error).
    """
    p = settings("zone_spread", PARAMS, params)
    count = check_int("zone_spread", "servers", p["servers"], minimum=1)
    needed = lb_cluster.sizing("zone_spread", count, p["needed"])
    zones = p["zones"]
    if isinstance(zones, bool) or not isinstance(zones, int) or not 1 <= zones <= count:
        raise config_error("zone_spread", "zones", f"an integer in [1, servers={count}]", zones)
    names = [f"az{z + 1}" for z in range(zones)]
    same = hs.Exponential(mean=p["same_zone_latency"])
    cross = hs.Exponential(mean=p["cross_zone_latency"])
    net = hs.Network(sim, latency=same, same_zone=same, cross_zone=cross)
    for zone in names:
        hs.Domain(
            sim,
            zone,
            failures=failures(p["zone_mttf"], p["zone_mttr"], p["repair_sigma"]),
        )
    web = lb_cluster.web_tier(sim, count, p, names)
    lb = lb_cluster.balancer("zone_spread", sim, "lb", web, p)
    for server in web:
        net.set_latency(lb.name, server.name, same if server.zone == names[0] else cross)
    sim.up_when(lb & hs.k_of_n(needed, web))
    return lb
