"""One server that fails and is repaired, serving every request.

The simplest design, and the baseline every other design is compared with:
one server with ``workers`` parallel workers and a FIFO queue, failing at
random and repaired by a crew of its own. While it is down every request
fails with ``error`` (connection refused); a crash ends the requests queued
and in service with ``error``.

Parameters (``PARAMS`` holds the defaults):

- ``workers``: requests served at once (integer >= 1).
- ``service_time``: mean service time per request, seconds (exponential).
- ``queue_limit``: requests allowed to wait for a worker; None for no limit.
- ``mttf``: mean time to failure, seconds (exponential).
- ``mttr``: median time to repair, seconds (lognormal with ``repair_sigma``).
- ``repair_sigma``: spread of the repair time (sigma of its logarithm).
- ``zone``: the server's failure domain.

Failures modelled: crash of the whole server; repair by its own crew.
The system is up while the server is up.
"""

from __future__ import annotations

import hasim as hs
from hasim.models import failures, settings

PARAMS = {
    "workers": 8,
    "service_time": 5 * hs.ms,
    "queue_limit": None,
    "mttf": 30 * hs.days,
    "mttr": 20 * hs.minutes,
    "repair_sigma": 0.6,
    "zone": "az1",
}


def build(sim: hs.Simulation, **params) -> hs.Server:
    """Build the design in ``sim`` and return its entry service (the server).

    Args:
        sim: the Simulation to build in.
        **params: overrides of ``PARAMS`` (unknown names are an error).
    """
    p = settings("single_server", PARAMS, params)
    server = hs.Server(
        sim,
        "web0",
        workers=p["workers"],
        service_time=hs.Exponential(mean=p["service_time"]),
        queue_limit=p["queue_limit"],
        zone=p["zone"],
        failures=failures(p["mttf"], p["mttr"], p["repair_sigma"]),
    )
    sim.up_when(hs.all_of(server))
    return server
