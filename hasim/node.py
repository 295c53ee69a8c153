"""Nodes (things that are up, down or degraded) and Servers (nodes that serve).

Failure semantics of a Server (the same in every model):

* a request sent to a down server ends at once with ``error`` (connection
  refused);
* when a server crashes, every request queued or in service there ends with
  ``error`` at the crash time, in the order it arrived;
* a request that finds every worker busy and the queue full ends at once
  with ``rejected``;
* a degraded server serves, with every service time multiplied by its
  ``slowdown``; work already in service keeps the time it drew.
* the server does not know whether its caller still waits: a request whose
  client timed out is still served (wasted work is real).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import TYPE_CHECKING, Any

from hasim.dist import Distribution, as_distribution
from hasim.errors import check_int, check_positive, config_error
from hasim.metrics.recorder import ERROR, OK, REJECTED
from hasim.sim import _NORMAL, Component, Simulation

if TYPE_CHECKING:
    import simpy

__all__ = ["UP", "DEGRADED", "DOWN", "STATES", "Node", "Server", "Service", "Reply", "Forwarder"]

UP = "up"
DEGRADED = "degraded"
DOWN = "down"
STATES = (UP, DEGRADED, DOWN)

#: ``reply(request, outcome, responder_name)``: how a service ends an attempt.
Reply = Callable[[Any, str, "str | None"], None]


class Service:
    """Anything a request can be sent to.

    The one method a service must have is ``submit(request, reply)``: start
    work on ``request`` and call ``reply(request, outcome, responder)``
    exactly once, when the attempt ends, with one outcome of
    ``hasim.OUTCOMES``. It is plain callbacks so that the per-request path
    needs no SimPy process; ``handle`` wraps it for process-style code.
    """

    name: str
    env: simpy.Environment

    def submit(self, request: Any, reply: Reply) -> None:  # pragma: no cover - interface
        """Start work on ``request``; call ``reply`` once when the attempt ends."""
        raise NotImplementedError

    def handle(self, request: Any) -> simpy.Event:
        """The attempt as a SimPy event whose value is the outcome.

        Example:
            ``outcome = yield server.handle(request)`` inside a SimPy process.
        """
        event = self.env.event()
        self.submit(request, lambda _req, outcome, _by: event.succeed(outcome))
        return event

    @property
    def up(self) -> bool:  # pragma: no cover - interface
        """Whether the service is up (truth, for the structure predicate only)."""
        raise NotImplementedError


class Node(Component):
    """A component that is up, down or degraded, in a zone (its failure domain).

    Args:
        sim: the Simulation.
        name: unique name; also names its random streams.
        zone: the failure domain, e.g. ``"az1"`` (None: no zone).
        failures: a ``hasim.Failures(ttf, ttr)`` that fails and repairs the
            node at random; None: the node fails only when told to.

    Listeners registered with ``on_change`` are called as
    ``listener(node, old_state, new_state)`` after every change.
    """

    def __init__(
        self, sim: Simulation, name: str, *, zone: str | None = None, failures: Any = None
    ) -> None:
        owner = f"{type(self).__name__} {name!r}"
        if zone is not None and (not isinstance(zone, str) or not zone):
            raise config_error(owner, "zone", "a non-empty string or None", zone)
        if failures is not None:
            if not callable(getattr(failures, "attach", None)):
                raise config_error(
                    owner, "failures", "a hasim.Failures(ttf, ttr) or None", failures
                )
            failures.check(owner, sim)
        super().__init__(sim, name)
        self.zone = zone
        self.state = UP
        self.slowdown = 1.0
        self.failures = failures
        #: Absolute time of the next scheduled random failure (inf if none).
        self.next_failure_at = math.inf
        self._listeners: list[Callable[[Node, str, str], None]] = []
        sim.nodes.append(self)
        if failures is not None:
            failures.attach(self)

    @property
    def up(self) -> bool:
        """True unless the node is down (a degraded node is up)."""
        return self.state != DOWN

    def on_change(self, listener: Callable[[Node, str, str], None]) -> None:
        """Call ``listener(node, old, new)`` after every state change."""
        self._listeners.append(listener)

    def fail(self) -> None:
        """Crash the node now (nothing happens if it is already down)."""
        if self.state != DOWN:
            self._set(DOWN)

    def recover(self) -> None:
        """Bring the node back up, at full speed."""
        if self.state != UP:
            self.slowdown = 1.0
            self._set(UP)

    def degrade(self, slowdown: float) -> None:
        """Make an up node slow: its work takes ``slowdown`` (>= 1) times longer.

        ``degrade(1)`` restores full speed. A down node stays down.
        """
        slowdown = check_positive(self.label, "slowdown", slowdown)
        if slowdown < 1.0:
            raise config_error(self.label, "slowdown", "a number >= 1", slowdown)
        if self.state == DOWN:
            return
        self.slowdown = slowdown
        state = DEGRADED if slowdown != 1.0 else UP
        if state != self.state:
            self._set(state)

    def _set(self, state: str) -> None:
        old, self.state = self.state, state
        # Recorded first, so the work the crash ends is attributed to a down node.
        self.sim.recorder.state(self.env.now, self.name, state)
        if state == DOWN:
            self._crashed()
        for listener in self._listeners:
            listener(self, old, state)
        self.sim._state_changed(self.name)

    def _crashed(self) -> None:
        """Hook: end the work in flight (subclasses)."""


class _Job:
    """A request in service: the event of its completion (see ``sim._Call``)."""

    __slots__ = ("callbacks", "_ok", "request", "reply", "alive")

    def __init__(self, finish: Callable[[_Job], None], request: Any, reply: Reply) -> None:
        self.callbacks = [finish]
        self._ok = True
        self.request = request
        self.reply = reply
        self.alive = True


class Server(Node, Service):
    """A node that serves requests with ``workers`` in parallel, FIFO.

    Args:
        sim: the Simulation.
        name: unique name.
        workers: how many requests are served at once (an integer >= 1).
        service_time: a Distribution (or seconds, or ``"5ms"``) of the time
            one request takes at full speed.
        queue_limit: how many requests may wait for a worker (None:
            unlimited; 0: none wait). M/M/c/K has ``queue_limit = K - c``.
        zone: failure domain.
        failures: a ``hasim.Failures``.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        workers: int = 1,
        service_time: Distribution | float | str = 0.0,
        queue_limit: int | None = None,
        zone: str | None = None,
        failures: Any = None,
    ) -> None:
        owner = f"Server {name!r}"
        self.workers = check_int(owner, "workers", workers, minimum=1)
        self.service_time = as_distribution(service_time, owner, "service_time")
        self.queue_limit = (
            None if queue_limit is None else check_int(owner, "queue_limit", queue_limit, minimum=0)
        )
        super().__init__(sim, name, zone=zone, failures=failures)
        self._draw = sim.sampler(self.service_time, name, "service")
        self._queue: deque[tuple[Any, Reply]] = deque()
        self._in_service: dict[_Job, None] = {}
        self._limit = math.inf if self.queue_limit is None else self.queue_limit
        #: Requests served to completion (ok), for load accounting.
        self.served = 0
        #: Requests submitted, whatever became of them (the load offered, retries included).
        self.received = 0

    @property
    def busy(self) -> int:
        """Requests in service now."""
        return len(self._in_service)

    @property
    def queued(self) -> int:
        """Requests waiting for a worker now."""
        return len(self._queue)

    def submit(self, request: Any, reply: Reply) -> None:
        """Serve ``request``, queue it, or answer ``rejected``/``error`` at once."""
        self.received += 1
        if self.state == DOWN:
            reply(request, ERROR, self.name)
        elif len(self._in_service) < self.workers:
            self._start(request, reply)
        elif len(self._queue) < self._limit:
            self._queue.append((request, reply))
        else:
            reply(request, REJECTED, self.name)

    def _start(self, request: Any, reply: Reply) -> None:
        job = _Job(self._finish, request, reply)
        self._in_service[job] = None
        env = self.env
        delay = self._draw() * self.slowdown
        heappush(env._queue, (env._now + delay, _NORMAL, next(env._eid), job))

    def _finish(self, job: _Job) -> None:
        if not job.alive:  # the server crashed while serving it
            return
        del self._in_service[job]
        self.served += 1
        # Start the next waiting request before replying: work the reply submits
        # (a forwarded retry, a closed-loop user) must queue behind it (FIFO).
        if self._queue:
            self._start(*self._queue.popleft())
        job.reply(job.request, OK, self.name)

    def _crashed(self) -> None:
        jobs = list(self._in_service)
        waiting = list(self._queue)
        self._in_service.clear()
        self._queue.clear()
        for job in jobs:
            job.alive = False
            job.reply(job.request, ERROR, self.name)
        for request, reply in waiting:
            reply(request, ERROR, self.name)


class _Forward:
    """A request a Forwarder is passing on: where it went and whom to answer."""

    __slots__ = ("owner", "via", "back", "request", "reply", "alive", "outcome", "by")

    def __init__(self, owner: Forwarder, via: Any, back: Any, request: Any, reply: Reply) -> None:
        self.owner = owner
        self.via = via
        self.back = back
        self.request = request
        self.reply = reply
        self.alive = True

    def answer(self, request: Any, outcome: str, by: str | None) -> None:
        if self.back is None:
            self.owner._answered(self, outcome, by)
        else:
            self.outcome, self.by = outcome, by
            self.owner.sim.call_later(self.back(), self._arrive)

    def _arrive(self, _: Any = None) -> None:
        self.owner._answered(self, self.outcome, self.by)


class Forwarder(Node, Service):
    """A node that passes requests on to other services (a balancer, a failover manager).

    Failure semantics, the same for every forwarder: when it crashes, every
    request it is forwarding ends with ``error`` (responder: the forwarder)
    at the crash time, and the late answers are dropped. Each hop to the
    service and back pays its network latency.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inflight: dict[_Forward, None] = {}

    def _forward(
        self, via: Any, service: Any, out: Any, back: Any, request: Any, reply: Reply
    ) -> None:
        """Send ``request`` to ``service`` over the hops ``out`` and ``back`` (None: 0 s).

        ``via`` is the forwarder's own record of where it sent it, handed back
        to ``_released``.
        """
        forward = _Forward(self, via, back, request, reply)
        self._inflight[forward] = None
        if out is None:
            service.submit(request, forward.answer)
        else:
            self.sim.call_later(out(), _send, (service, forward))

    def _answered(self, forward: _Forward, outcome: str, by: str | None) -> None:
        if not forward.alive:  # the forwarder crashed meanwhile
            return
        del self._inflight[forward]
        self._released(forward.via, outcome)
        forward.reply(forward.request, outcome, by)

    def _released(self, via: Any, outcome: str | None) -> None:
        """Hook: a forwarded request came back with ``outcome`` (None: the forwarder crashed)."""

    def _crashed(self) -> None:
        forwards = list(self._inflight)
        self._inflight.clear()
        for forward in forwards:
            forward.alive = False
            self._released(forward.via, None)
            forward.reply(forward.request, ERROR, self.name)


def _send(item: tuple[Any, _Forward]) -> None:
    service, forward = item
    service.submit(forward.request, forward.answer)
