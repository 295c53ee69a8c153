"""Nodes (things that are up, down or degraded) and Servers (nodes that serve).

Failure semantics of a Server (the same in every model):

* a request sent to a down server ends at once with ``error`` (connection
  refused);
* when a server crashes, every request queued or in service there ends with
  ``error`` at the crash time, in the order it arrived;
* a request that finds every worker busy and the queue full ends at once
  with ``rejected``;
* a degraded server serves, with every service time multiplied by its
  ``slowdown``; work already in service keeps the time it drew. With an
  error rate, it answers that share of requests with ``error`` at once; a
  stalled server queues what arrives and finishes nothing until it resumes
  (work in service then finishes what it had left);
* the server does not know whether its caller still waits: a request whose
  client timed out is still served (wasted work is real).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import TYPE_CHECKING, Any

from hasim.dist import Distribution, Uniform, as_distribution
from hasim.errors import check_int, check_positive, check_probability, config_error
from hasim.metrics.recorder import ERROR, LOST, OK, REJECTED, TIMEOUT
from hasim.sim import _NORMAL, Component, Simulation

if TYPE_CHECKING:
    import simpy

__all__ = [
    "UP",
    "DEGRADED",
    "DOWN",
    "STATES",
    "Node",
    "Server",
    "Service",
    "Reply",
    "Forwarder",
    "member_zones",
]

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
        zone: the failure domain, e.g. ``"az1"`` (None: no zone). A
            ``hasim.Domain`` of that name, if there is one, takes the node down
            when it fails.
        failures: what fails and repairs the node at random: a fault model such
            as ``hasim.Failures(ttf, ttr)``, a list of them (a crash that a
            restart fixes beside one that needs a repair, gray episodes), or None:
            the node fails only when told to.

    **Causes.** A node can be down for several reasons at once (its own crash,
    its zone's power, a chaos experiment, maintenance): ``fail(cause)`` adds
    one, ``recover(cause)`` removes it, and the node is down while any is left.
    Gray failures work the same way: ``degrade(slowdown, cause)``,
    ``set_errors(rate, cause)`` and ``stall(cause)`` / ``resume(cause)`` each
    hold a condition under a cause, and the node is *degraded* while any holds
    (and it is not down). ``recover()`` with no cause clears every condition.
    Every cause is recorded in the run's fault history (``RunResult.faults()``).

    Listeners registered with ``on_change`` are called as
    ``listener(node, old_state, new_state)`` after every change.
    """

    #: True while ``up`` is the node's own state (a structure re-reads it only when the
    #: node changes); False in subclasses whose ``up`` derives from others (a failover pair).
    _up_is_state = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "up" in cls.__dict__:
            cls._up_is_state = False

    def __init__(
        self, sim: Simulation, name: str, *, zone: str | None = None, failures: Any = None
    ) -> None:
        owner = f"{type(self).__name__} {name!r}"
        if zone is not None and (not isinstance(zone, str) or not zone):
            raise config_error(owner, "zone", "a non-empty string or None", zone)
        models = _fault_models(owner, sim, failures)
        super().__init__(sim, name)
        self.zone = zone
        self.state = UP
        #: The factor every service time is multiplied by now (>= 1).
        self.slowdown = 1.0
        #: The share of requests the node answers with ``error`` now.
        self.error_rate = 0.0
        #: True while the node is stalled: it starts and finishes no work.
        self.stalled = False
        self.failures = failures
        self._models = models
        #: Absolute time of the next scheduled random failure (inf if none).
        self.next_failure_at = math.inf
        self._next: dict[Any, float] = {}
        self._listeners: list[Callable[[Node, str, str], None]] = []
        # cause -> index of its record in the fault history, per condition.
        self._down: dict[str, int] = {}
        self._slow: dict[str, tuple[float, int]] = {}
        self._errors: dict[str, tuple[float, int]] = {}
        self._stalls: dict[str, int] = {}
        self._blame: str | None = None  # the root cause of a derived failure now holding
        #: True once the node is retired (terminated, decommissioned): down for good.
        self.retired = False
        sim.nodes.append(self)

    @property
    def up(self) -> bool:
        """True unless the node is down (a degraded node is up)."""
        return self.state != DOWN

    @property
    def causes(self) -> tuple[str, ...]:
        """Why the node is down now (empty if it is up)."""
        return tuple(self._down)

    def on_change(self, listener: Callable[[Node, str, str], None]) -> None:
        """Call ``listener(node, old, new)`` after every state change."""
        self._listeners.append(listener)

    # -- crash and recovery ---------------------------------------------------------------

    def fail(self, cause: str = "crash", *, derived: bool = False) -> None:
        """Take the node down for ``cause`` (nothing changes if that cause already holds).

        ``derived`` marks a failure another fault caused (a member of a zone
        that lost power): the fault history keeps it, and a replay of the
        history leaves it to the fault it derives from.
        """
        if cause in self._down or self.retired:
            return
        self._down[cause] = self.sim.recorder.fault_begin(
            self.env.now, "crash", self.name, cause, None, derived
        )
        if self.state != DOWN:
            # A derived failure is blamed on the fault it derives from (the zone, or
            # the region above it), so downtime attribution names the root cause.
            blame = None
            if derived:
                source = self.sim.components.get(cause)
                blame = getattr(source, "_blame", None) or cause
            self._blame = blame
            self._set(DOWN, blame)

    def recover(self, cause: str | None = None) -> None:
        """Remove ``cause``; the node is up again when no cause is left.

        With no cause, clear every condition: the node comes back up at full
        speed, with no errors, not stalled.
        """
        if self.retired:
            return
        now, recorder = self.env.now, self.sim.recorder
        if cause is None:
            for index in self._down.values():
                recorder.fault_end(index, now)
            self._down.clear()
            for _, index in [*self._slow.values(), *self._errors.values()]:
                recorder.fault_end(index, now)
            for index in self._stalls.values():
                recorder.fault_end(index, now)
            self._slow.clear()
            self._errors.clear()
            self._stalls.clear()
            self._gray_changed()
        elif cause in self._down:
            recorder.fault_end(self._down.pop(cause), now)
        self._settle()

    # -- gray failures --------------------------------------------------------------------

    def degrade(self, slowdown: float, cause: str = "slow") -> None:
        """Make the node slow: its work takes ``slowdown`` (>= 1) times longer.

        ``degrade(1, cause)`` removes the slowdown of ``cause``. Several causes
        multiply. Work already in service keeps the time it drew.
        """
        slowdown = check_positive(self.label, "slowdown", slowdown)
        if slowdown < 1.0:
            raise config_error(self.label, "slowdown", "a number >= 1", slowdown)
        self._hold(self._slow, "slow", cause, slowdown, 1.0)

    def set_errors(self, rate: float, cause: str = "errors") -> None:
        """Answer a share ``rate`` of requests with ``error`` (0 removes the condition)."""
        rate = check_probability(self.label, "error rate", rate)
        self._hold(self._errors, "errors", cause, rate, 0.0)

    def stall(self, cause: str = "stall") -> None:
        """Freeze the node (a GC pause, a hung disk): no work starts or finishes.

        Requests still arrive and queue; work in service resumes where it
        stopped when the last stall cause is lifted with ``resume``.
        """
        if cause in self._stalls or self.retired:
            return
        self._stalls[cause] = self.sim.recorder.fault_begin(
            self.env.now, "stall", self.name, cause, None, False
        )
        self._gray_changed()
        self._settle()

    def resume(self, cause: str = "stall") -> None:
        """Lift the stall of ``cause``."""
        if cause not in self._stalls:
            return
        self.sim.recorder.fault_end(self._stalls.pop(cause), self.env.now)
        self._gray_changed()
        self._settle()

    def _hold(self, table: dict, kind: str, cause: str, value: float, neutral: float) -> None:
        if self.retired:
            return
        old = table.get(cause)
        if old is not None and old[0] == value:
            return
        recorder, now = self.sim.recorder, self.env.now
        if old is not None:
            recorder.fault_end(table.pop(cause)[1], now)
        if value != neutral:
            table[cause] = (value, recorder.fault_begin(now, kind, self.name, cause, value, False))
        self._gray_changed()
        self._settle()

    def _gray_changed(self) -> None:
        slowdown = 1.0
        for factor, _ in self._slow.values():
            slowdown *= factor
        self.slowdown = slowdown
        ok = 1.0
        for rate, _ in self._errors.values():
            ok *= 1.0 - rate
        self.error_rate = 1.0 - ok
        stalled = bool(self._stalls)
        if stalled != self.stalled:
            self.stalled = stalled
            self._stall_changed(stalled)

    def _stall_changed(self, stalled: bool) -> None:
        """Hook: the node stalled or resumed (subclasses freeze their work)."""

    @property
    def gray(self) -> bool:
        """True while a gray condition holds (slow, errors or stalled)."""
        return bool(self._slow or self._errors or self._stalls)

    def _settle(self) -> None:
        state = DOWN if self._down else (DEGRADED if self.gray else UP)
        if state != self.state:
            self._set(state)

    def _set(self, state: str, blame: str | None = None) -> None:
        old, self.state = self.state, state
        # Recorded first, so the work the crash ends is attributed to a down node.
        self.sim.recorder.state(self.env.now, self.name, state)
        if state == DOWN:
            self._crashed()
        for listener in self._listeners:
            listener(self, old, state)
        self.sim._state_changed(blame or self.name, self)

    def _crashed(self) -> None:
        """Hook: end the work in flight (subclasses)."""

    # -- random faults --------------------------------------------------------------------

    def _start_faults(self) -> None:
        """Start the random fault models (called by ``run()``; not for replayed nodes)."""
        for model in self._models:
            model.attach(self)

    def retire(self, cause: str = "retired") -> None:
        """Take the node down for good (a terminated instance, a decommissioned server).

        Its random fault models stop mattering: it is never failed, degraded
        or recovered again, and schedules no failure (``next_failure_at`` is inf).
        """
        self.fail(cause)
        self.retired = True
        self._next.clear()
        self.next_failure_at = math.inf

    def _schedule(self, key: Any, at: float) -> None:
        """A fault model ``key`` has its next failure at ``at`` (inf: none scheduled)."""
        if self.retired:
            return
        self._next[key] = at
        self.next_failure_at = min(self._next.values())


def member_zones(owner: str, zone: Any) -> list[str | None]:
    """The zones of a group's members: one zone (or None) for all, or a list cycled over them."""
    zones = [zone] if zone is None or isinstance(zone, str) else list(zone)
    if not zones or not all(z is None or (isinstance(z, str) and z) for z in zones):
        raise config_error(owner, "zone", "a zone name, a list of them or None", zone)
    return zones


def _fault_models(owner: str, sim: Simulation, failures: Any) -> tuple[Any, ...]:
    """The node's random fault models, checked (each has ``check`` and ``attach``)."""
    if failures is None:
        return ()
    models = tuple(failures) if isinstance(failures, (list, tuple)) else (failures,)
    for model in models:
        if not callable(getattr(model, "attach", None)):
            raise config_error(
                owner,
                "failures",
                "a hasim.Failures(ttf, ttr), a list of fault models or None",
                failures,
            )
        model.check(owner, sim)
    causes = [m.cause for m in models if isinstance(getattr(m, "cause", None), str)]
    for cause in causes:
        if causes.count(cause) > 1:
            raise config_error(
                owner,
                "failures",
                "fault models with distinct causes (each has its own streams)",
                cause,
            )
    return models


class _Job:
    """A request in service: the event of its completion (see ``sim._Call``)."""

    __slots__ = ("callbacks", "_ok", "request", "reply", "alive", "due")

    def __init__(
        self, finish: Callable[[_Job], None], request: Any, reply: Reply, due: float
    ) -> None:
        self.callbacks = [finish]
        self._ok = True
        self.request = request
        self.reply = reply
        self.alive = True
        self.due = due


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
        self._frozen: list[tuple[Any, Reply, float]] = []  # work in service during a stall
        self._errors_draw: Callable[[], float] | None = None
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
        elif self.state == DEGRADED and self._refuses():
            reply(request, ERROR, self.name)
        elif len(self._in_service) < self.workers and not self.stalled:
            self._start(request, reply)
        elif len(self._queue) < self._limit:
            self._queue.append((request, reply))
        else:
            reply(request, REJECTED, self.name)

    def _refuses(self) -> bool:
        """Whether a degraded server answers this request with an error (its error rate)."""
        if not self.error_rate:
            return False
        if self._errors_draw is None:
            self._errors_draw = self.sim.sampler(Uniform(0.0, 1.0), self.name, "errors")
        return self._errors_draw() < self.error_rate

    def _start(self, request: Any, reply: Reply, delay: float | None = None) -> None:
        env = self.env
        if delay is None:
            delay = self._draw() * self.slowdown
        due = env._now + delay
        job = _Job(self._finish, request, reply, due)
        self._in_service[job] = None
        heappush(env._queue, (due, _NORMAL, next(env._eid), job))

    def _stall_changed(self, stalled: bool) -> None:
        now = self.env._now
        if stalled:  # freeze the work in service: it keeps what it has left to do
            for job in self._in_service:
                job.alive = False
                self._frozen.append((job.request, job.reply, job.due - now))
            self._in_service.clear()
            return
        frozen, self._frozen = self._frozen, []
        for request, reply, left in frozen:
            self._start(request, reply, left)
        while self._queue and len(self._in_service) < self.workers:
            self._start(*self._queue.popleft())

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
        waiting = [(request, reply) for request, reply, _ in self._frozen]
        waiting.extend(self._queue)
        self._in_service.clear()
        self._frozen.clear()
        self._queue.clear()
        for job in jobs:
            job.alive = False
            job.reply(job.request, ERROR, self.name)
        for request, reply in waiting:
            reply(request, ERROR, self.name)


class _Forward:
    """A request a Forwarder is passing on: where it went and whom to answer."""

    __slots__ = ("owner", "via", "back", "request", "reply", "alive", "outcome", "by", "sent")

    def __init__(self, owner: Forwarder, via: Any, back: Any, request: Any, reply: Reply) -> None:
        self.owner = owner
        self.sent = owner.env._now
        self.via = via
        self.back = back
        self.request = request
        self.reply = reply
        self.alive = True

    def answer(self, request: Any, outcome: str, by: str | None) -> None:
        self.outcome, self.by = outcome, by
        self.back.send(_arrive, self, self.owner._dropped)


class Forwarder(Node, Service):
    """A node that passes requests on to other services (a balancer, a failover manager).

    Failure semantics, the same for every forwarder: when it crashes, every
    request it is forwarding ends with ``error`` (responder: the forwarder)
    at the crash time, and the late answers are dropped. Each hop to the
    service and back goes through the network. With an upstream timeout
    (``forward_timeout``, set by the subclass), a forwarded request with no answer by then ends
    ``timeout`` (responder: the forwarder) and its late answer is dropped;
    without one, a message the network drops ends it ``lost`` at once.
    """

    #: Seconds to wait for a forwarded request's answer (None: as long as it takes).
    forward_timeout: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inflight: dict[_Forward, None] = {}

    def _prepare(self) -> None:
        super()._prepare()
        self._dropped = None if self.forward_timeout is not None else self._lost

    def _forward(
        self, via: Any, service: Any, out: Any, back: Any, request: Any, reply: Reply
    ) -> None:
        """Send ``request`` to ``service`` over the network paths ``out`` and ``back``.

        ``via`` is the forwarder's own record of where it sent it, handed back
        to ``_released``.
        """
        forward = _Forward(self, via, back, request, reply)
        self._inflight[forward] = None
        if self.forward_timeout is not None:
            self.sim.call_later(self.forward_timeout, self._expire, forward)
        out.send(_send, (service, forward), self._dropped)

    def _answered(self, forward: _Forward, outcome: str, by: str | None) -> None:
        if forward not in self._inflight:  # crashed or timed out meanwhile
            return
        del self._inflight[forward]
        self._released(forward.via, outcome, self.env._now - forward.sent)
        forward.reply(forward.request, outcome, by)

    def _expire(self, forward: _Forward) -> None:
        self._answered(forward, TIMEOUT, self.name)

    def _lost(self, message: Any) -> None:
        forward = message if isinstance(message, _Forward) else message[1]
        self._answered(forward, LOST, None)

    def _released(self, via: Any, outcome: str | None, elapsed: float) -> None:
        """Hook: a forwarded request came back with ``outcome`` after ``elapsed`` seconds.

        ``outcome`` None: the forwarder crashed with it in flight.
        """

    def _crashed(self) -> None:
        forwards = list(self._inflight)
        self._inflight.clear()
        for forward in forwards:
            forward.alive = False
            self._released(forward.via, None, self.env._now - forward.sent)
            forward.reply(forward.request, ERROR, self.name)


def _send(item: tuple[Any, _Forward]) -> None:
    service, forward = item
    service.submit(forward.request, forward.answer)


def _arrive(forward: _Forward) -> None:
    forward.owner._answered(forward, forward.outcome, forward.by)
