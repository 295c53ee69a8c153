"""N servers behind a redundant pair of load balancers: an active and a standby one.

``servers`` servers (``web0``, ``web1``, ...) behind two load balancers,
``lb`` (active at the start) and ``lb2`` (standby), each with its own health
checks of every server. The pair is a ``hasim.ActivePassive`` behind a
floating address ``vip``: both balancers heartbeat every ``heartbeat``
seconds; after ``heartbeat_timeout`` seconds of silence from the active one
the manager waits ``promotion_delay`` seconds and moves the address to the
other, which works with probability ``coverage``. The balancer ``lb`` fails
at the same times as ``lb_cluster``'s (same name, same random streams), so
the two designs compare paired.

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
- ``lb_timeout``: each balancer's upstream timeout, seconds (None: none).
- ``lb_mttf``: each balancer's mean time to failure, seconds (exponential).
- ``lb_mttr``: each balancer's median time to repair, seconds (lognormal).
- ``zone``: the servers' zone (a label here: no zone fails in this design;
  see ``zone_spread``).

- ``heartbeat``: seconds between two heartbeats of a balancer.
- ``heartbeat_timeout``: seconds of silence after which the manager
  suspects a balancer.
- ``promotion_delay``: seconds from suspicion to moving the address.
- ``coverage``: probability that a promotion succeeds (0 to 1).
- ``failback``: ``"auto"`` (back to ``lb`` once it is healthy) or
  ``"stay"``.

Failures modelled: crashes of each server and of each balancer, each
repaired by its own crew; imperfect failover. The manager (the floating
address) does not fail. Requests sent to a crashed active balancer end
``error`` until it is suspected, then ``rejected`` until the promotion.

Up (the structure predicate): the balancer the manager believes active is
up and at least ``needed`` servers are up.
"""

from __future__ import annotations

import hasim as hs
from hasim.errors import check_int
from hasim.models import failover_pair, lb_cluster, settings

PARAMS = {
    **lb_cluster.PARAMS,
    "heartbeat": 1.0,
    "heartbeat_timeout": 3.0,
    "promotion_delay": 2.0,
    "coverage": 0.99,
    "failback": "stay",
}


def build(sim: hs.Simulation, **params) -> hs.ActivePassive:
    """Build the design in ``sim`` and return its entry service (the balancer pair).

    Args:
        sim: the Simulation to build in.
        **params: overrides of ``PARAMS`` (unknown names are an error).
    """
    p = settings("redundant_lb", PARAMS, params)
    count = check_int("redundant_lb", "servers", p["servers"], minimum=1)
    needed = lb_cluster.sizing("redundant_lb", count, p["needed"])
    web = lb_cluster.web_tier(sim, count, p, [p["zone"]])
    active = lb_cluster.balancer("redundant_lb", sim, "lb", web, p)
    standby = lb_cluster.balancer("redundant_lb", sim, "lb2", web, p)
    pair = failover_pair(sim, active, standby, p)
    sim.up_when(pair & hs.k_of_n(needed, web))
    return pair
