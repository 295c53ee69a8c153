"""N servers behind one load balancer with active health checks (N+1 sizing).

The classic web tier: ``servers`` identical servers (``web0``, ``web1``, ...)
behind a balancer ``lb`` that probes each of them every ``check_interval``
seconds and sends requests only to those it believes healthy. The default
is N+1: 3 servers where 2 carry the load and 1 is the spare. The balancer
itself can fail: it is the design's single point of failure
(``redundant_lb`` pairs it).

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
- ``zone``: the servers' zone (a label here: no zone fails in this design;
  see ``zone_spread``).

Failures modelled: crashes of each server and of the balancer, each repaired
by its own crew. A crashed server keeps getting its share of requests (which
end ``error``) until ``unhealthy_after`` probes have failed; a crashed
balancer refuses everything (``error``).

Up (the structure predicate): the balancer is up and at least ``needed``
servers are up. Uptime therefore counts a capacity shortfall as downtime
even though, at a light load, fewer servers still answer every request:
request availability tells the two apart.
"""

from __future__ import annotations

import hasim as hs
from hasim.errors import check_int, config_error
from hasim.models import failures, settings

PARAMS = {
    "servers": 3,
    "needed": None,
    "workers": 8,
    "service_time": 5 * hs.ms,
    "queue_limit": None,
    "mttf": 30 * hs.days,
    "mttr": 20 * hs.minutes,
    "repair_sigma": 0.6,
    "policy": "round_robin",
    "check_interval": 5.0,
    "check_timeout": 1.0,
    "unhealthy_after": 2,
    "lb_timeout": 2.0,
    "lb_mttf": 90 * hs.days,
    "lb_mttr": 20 * hs.minutes,
    "zone": "az1",
}

#: The balancing policies a ``policy`` name stands for.
POLICIES = {
    "round_robin": hs.RoundRobin,
    "least_outstanding": hs.LeastOutstanding,
    "power_of_two": hs.PowerOfTwo,
    "random": hs.Random,
}


def build(sim: hs.Simulation, **params) -> hs.LoadBalancer:
    """Build the design in ``sim`` and return its entry service (the balancer).

    Args:
        sim: the Simulation to build in.
        **params: overrides of ``PARAMS`` (unknown names are an error).
    """
    p = settings("lb_cluster", PARAMS, params)
    count = check_int("lb_cluster", "servers", p["servers"], minimum=1)
    needed = sizing("lb_cluster", count, p["needed"])
    web = web_tier(sim, count, p, [p["zone"]])
    lb = balancer("lb_cluster", sim, "lb", web, p)
    sim.up_when(lb & hs.k_of_n(needed, web))
    return lb


def sizing(model: str, servers: int, needed: int | None) -> int:
    """``needed`` checked against ``servers`` (None: N+1, that is ``servers - 1``, at least 1)."""
    if needed is None:
        return max(1, servers - 1)
    if isinstance(needed, bool) or not isinstance(needed, int) or not 1 <= needed <= servers:
        raise config_error(model, "needed", f"None or an integer in [1, servers={servers}]", needed)
    return needed


def web_tier(sim: hs.Simulation, count: int, p: dict, zones: list[str]) -> list[hs.Server]:
    """Servers ``web0`` .. ``web{count - 1}``, placed round-robin over ``zones``."""
    return [
        hs.Server(
            sim,
            f"web{i}",
            workers=p["workers"],
            service_time=hs.Exponential(mean=p["service_time"]),
            queue_limit=p["queue_limit"],
            zone=zones[i % len(zones)],
            failures=failures(p["mttf"], p["mttr"], p["repair_sigma"]),
        )
        for i in range(count)
    ]


def balancer(model: str, sim: hs.Simulation, name: str, web: list, p: dict) -> hs.LoadBalancer:
    """A balancer over ``web`` with the health check, policy and failures of ``p``."""
    policy = POLICIES.get(p["policy"])
    if policy is None:
        raise config_error(model, "policy", f"one of {sorted(POLICIES)}", p["policy"])
    check = hs.HealthCheck(
        interval=p["check_interval"],
        timeout=p["check_timeout"],
        unhealthy_after=p["unhealthy_after"],
        healthy_after=p["unhealthy_after"],
    )
    return hs.LoadBalancer(
        sim,
        name,
        backends=web,
        policy=policy(),
        health_check=check,
        timeout=p["lb_timeout"],
        failures=failures(p["lb_mttf"], p["lb_mttr"], p["repair_sigma"]),
    )
