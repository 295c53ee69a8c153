"""Who sends requests: open-loop arrivals and closed-loop users, with client resilience.

The request life cycle (what a client records for each request, with and without
resilience) is documented in ``hasim.workload.client``. The package:

- ``request``: ``Request`` (one per issue) and ``Attempt`` (one try of it);
- ``client``: ``Client``, the base every workload shares (timeouts, deadlines,
  retries, hedges, the circuit breaker and the adaptive throttle at work);
- ``loops``: ``OpenLoop`` (Poisson arrivals, constant, stepped or a function of
  time) and ``ClosedLoop`` (users who think between requests).
"""

from __future__ import annotations

from hasim.workload.client import Client
from hasim.workload.loops import ClosedLoop, OpenLoop
from hasim.workload.request import Attempt, Request

__all__ = ["Request", "Attempt", "Client", "OpenLoop", "ClosedLoop"]
