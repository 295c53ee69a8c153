"""Two servers, a primary and a hot standby, behind a heartbeat failover manager.

The servers ``web0`` (primary) and ``web1`` (standby) are paired by a
``hasim.ActivePassive`` manager ``vip`` (a floating address with a failure
detector, as keepalived or Pacemaker give): both servers send it a
heartbeat every ``heartbeat`` seconds; after ``heartbeat_timeout`` seconds
of silence from the active server it waits ``promotion_delay`` seconds and
switches the traffic to the other one, which works with probability
``coverage`` (a failed promotion leaves the service down until the active
server is repaired). With ``failback="auto"`` the traffic goes back to
``web0`` once it is healthy again; with ``"stay"`` the promoted server
keeps it.

Parameters (``PARAMS`` holds the defaults):

- ``workers``: requests a server serves at once (integer >= 1).
- ``service_time``: mean service time per request, seconds (exponential).
- ``queue_limit``: requests allowed to wait at a server; None for no limit.
- ``mttf``: a server's mean time to failure, seconds (exponential).
- ``mttr``: a server's median time to repair, seconds (lognormal with
  ``repair_sigma``; a crew per server).
- ``repair_sigma``: spread of the repair time (sigma of its logarithm).
- ``heartbeat``: seconds between two heartbeats of a server.
- ``heartbeat_timeout``: seconds of silence after which the manager
  suspects a server.
- ``promotion_delay``: seconds from suspicion to switching the traffic.
- ``coverage``: probability that a promotion succeeds (0 to 1).
- ``coverage_on``: which failures coverage applies to: ``"active"`` (promotions only)
  or ``"any"`` (a standby's detected failure too: uncovered, the pair is down until
  that standby is repaired; the classic duplex with imperfect coverage).
- ``failback``: ``"auto"`` or ``"stay"``.
- ``zone``: both servers' zone (a label: no zone fails in this design).

Failures modelled: crashes of each server, repaired by its own crew;
imperfect failover (coverage). The manager itself does not fail. Requests
sent to a crashed active server end ``error`` until it is suspected, then
``rejected`` until the promotion; a failed promotion rejects requests until
the active server is healthy again.

Up (the structure predicate): the server the manager believes active is up
(``ActivePassive.up``). A crash of the active server is therefore downtime
from the crash to the promotion (detection plus ``promotion_delay``), and
a crash of the standby costs nothing unless the active one fails meanwhile.
"""

from __future__ import annotations

import hasim as hs
from hasim.models import failover_pair, failures, settings

PARAMS = {
    "workers": 8,
    "service_time": 5 * hs.ms,
    "queue_limit": None,
    "mttf": 30 * hs.days,
    "mttr": 20 * hs.minutes,
    "repair_sigma": 0.6,
    "heartbeat": 1.0,
    "heartbeat_timeout": 3.0,
    "promotion_delay": 5.0,
    "coverage": 0.99,
    "coverage_on": "active",
    "failback": "stay",
    "zone": "az1",
}


def build(sim: hs.Simulation, **params) -> hs.ActivePassive:
    """Build the design in ``sim`` and return its entry service (the failover manager).

    Args:
        sim: the Simulation to build in.
        **params: overrides of ``PARAMS`` (unknown names are an error).
    """
    p = settings("active_passive", PARAMS, params)
    primary, standby = (
        hs.Server(
            sim,
            f"web{i}",
            workers=p["workers"],
            service_time=hs.Exponential(mean=p["service_time"]),
            queue_limit=p["queue_limit"],
            zone=p["zone"],
            failures=failures(p["mttf"], p["mttr"], p["repair_sigma"]),
        )
        for i in range(2)
    )
    pair = failover_pair(sim, primary, standby, p)
    sim.up_when(hs.all_of(pair))
    return pair
