"""Who sends requests: open-loop arrivals and closed-loop users.

A client issues a request, sends it to its target through the network, and
records exactly one outcome for it (DESIGN: request life cycle):

* the target's answer (``ok``, ``rejected``, ``error``, ...) once it has
  travelled back, or
* ``timeout`` when the client's timeout expires first. The target is not
  told: it may still do the work, and its late answer is dropped.

Requests still unanswered when the run ends are *in flight*; they stay in
``client.outstanding``. Retries, backoff and circuit breakers come later and
will keep this contract: one outcome per request, after its last attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hasim import network
from hasim.dist import Distribution, Exponential, as_distribution
from hasim.errors import (
    ConfigError,
    SimulationError,
    check_int,
    check_nonnegative,
    check_positive,
    config_error,
)
from hasim.metrics.recorder import TIMEOUT
from hasim.sim import Component, Simulation
from hasim.units import parse

__all__ = ["Request", "Client", "OpenLoop", "ClosedLoop"]


class Request:
    """One client request (one row of ``RunResult.requests()``)."""

    __slots__ = (
        "id",
        "client",
        "issued",
        "key",
        "deadline",
        "ended",
        "outcome",
        "responder",
        "attempts",
        "measured",
        "_answer",
        "_by",
    )

    def __init__(self, id: int, client: str, issued: float, key: Any = None) -> None:
        self.id = id
        self.client = client
        self.issued = issued
        self.key = key
        self.deadline = None
        self.ended = None
        #: The final outcome (one of hasim.OUTCOMES), None while in flight.
        self.outcome = None
        #: Name of the component that gave the final answer (None for timeout).
        self.responder = None
        self.attempts = 1
        self.measured = False

    def __repr__(self) -> str:
        return (
            f"Request(id={self.id}, client={self.client!r}, issued={self.issued:g}, "
            f"outcome={self.outcome!r})"
        )


class Client(Component):
    """Base of the workloads: issues requests to ``target`` and records outcomes.

    Args:
        sim: the Simulation.
        name: unique name.
        target: the service requests go to (a Server, or any object with
            ``submit(request, reply)`` and a ``name``).
        timeout: seconds (or ``"2s"``) the client waits for an answer
            before it records ``timeout``; None waits forever.
    """

    def __init__(
        self, sim: Simulation, name: str, *, target: Any, timeout: float | str | None = None
    ) -> None:
        owner = f"{type(self).__name__} {name!r}"
        if not callable(getattr(target, "submit", None)) or not isinstance(
            getattr(target, "name", None), str
        ):
            raise config_error(
                owner, "target", "a service (a Server or anything with submit())", target
            )
        if getattr(target, "sim", sim) is not sim:
            raise config_error(owner, "target", "a service of the same Simulation", target)
        self.timeout = (
            None if timeout is None else _seconds(owner, "timeout", timeout, positive=True)
        )
        super().__init__(sim, name)
        self.target = target
        #: Requests issued and not yet answered, by id (in flight).
        self.outstanding: dict[int, Request] = {}
        sim.clients.append(self)

    def _prepare(self) -> None:
        net = network.get(self.sim)
        self._out = net.hop(self.name, self.target.name)
        self._back = net.hop(self.target.name, self.name)
        self._submit = self.target.submit

    def issue(self, key: Any = None) -> Request:
        """Issue one request now and send it to the target."""
        sim = self.sim
        if not sim._started:
            raise SimulationError(
                f"{self.label}: requests can only be issued while the simulation runs"
            )
        now = self.env._now
        request = Request(sim.next_request_id(), self.name, now, key)
        self.outstanding[request.id] = request
        sim.recorder.issue(request)
        if self.timeout is not None:
            request.deadline = now + self.timeout
            sim.call_later(self.timeout, self._expire, request)
        if self._out is None:
            self._submit(request, self._reply)
        else:
            sim.call_later(self._out(), self._send, request)
        return request

    def _send(self, request: Request) -> None:
        self._submit(request, self._reply)

    def _reply(self, request: Request, outcome: str, responder: str | None) -> None:
        if self._back is None:
            self._end(request, outcome, responder)
        else:
            request._answer = outcome
            request._by = responder
            self.sim.call_later(self._back(), self._receive, request)

    def _receive(self, request: Request) -> None:
        self._end(request, request._answer, request._by)

    def _expire(self, request: Request) -> None:
        self._end(request, TIMEOUT, None)

    def _end(self, request: Request, outcome: str, responder: str | None) -> None:
        if request.outcome is not None:  # already ended (a late answer after a timeout)
            return
        request.outcome = outcome
        request.responder = responder
        request.ended = self.env._now
        del self.outstanding[request.id]
        self.sim.recorder.complete(request)
        self._ended(request)

    def _ended(self, request: Request) -> None:
        """Hook: a request of this client reached its outcome."""


class OpenLoop(Client):
    """Requests arrive as a Poisson process, whatever happens to earlier ones.

    Args:
        sim, name, target, timeout: as for ``Client``.
        rate: requests per second; either a number > 0, or a list of
            ``(start_time, rate)`` steps (piecewise constant, first at 0,
            rates >= 0), or a function ``rate(t)`` with ``max_rate`` given
            (non-homogeneous Poisson by thinning).
        max_rate: an upper bound of ``rate(t)``, required with a function.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        target: Any,
        rate: float | Sequence[tuple[float, float]] | Callable[[float], float],
        max_rate: float | None = None,
        timeout: float | str | None = None,
    ) -> None:
        owner = f"OpenLoop {name!r}"
        self._steps: list[tuple[float, float]] | None = None
        self._rate_fn: Callable[[float], float] | None = None
        if callable(rate):
            self.max_rate = check_positive(owner, "max_rate", max_rate)
            self._rate_fn = rate
        elif max_rate is not None:
            raise config_error(
                owner, "max_rate", "None unless rate is a function of time", max_rate
            )
        elif isinstance(rate, (list, tuple)):
            self._steps = _steps(owner, rate)
        else:
            rate = check_positive(owner, "rate", rate)
            self._steps = [(0.0, rate)]
        self.rate = rate
        super().__init__(sim, name, target=target, timeout=timeout)

    def _prepare(self) -> None:
        super()._prepare()
        self._gap = self.sim.sampler(Exponential(mean=1.0), self.name, "arrivals")
        if self._rate_fn is not None:
            self._accept = self.sim.rng(self.name, "thinning").random
            self.sim.call_later(self._gap() / self.max_rate, self._candidate)
        else:
            self._step = 0
            self._schedule_from(0.0)

    # Piecewise-constant rate: exact, by memorylessness (redraw at each step).
    def _schedule_from(self, now: float) -> None:
        steps = self._steps
        while True:
            rate = steps[self._step][1]
            end = steps[self._step + 1][0] if self._step + 1 < len(steps) else None
            gap = self._gap() / rate if rate > 0 else None
            if end is None or (gap is not None and now + gap < end):
                if gap is not None:
                    self.sim.call_later(gap, self._arrive)
                return
            self._step += 1
            if end > now:
                self.sim.call_later(end - now, self._next_step)
                return

    def _next_step(self, _: Any = None) -> None:
        self._schedule_from(self.env._now)

    def _arrive(self, _: Any = None) -> None:
        self.issue()
        rate = self._steps[self._step][1]
        end = self._steps[self._step + 1][0] if self._step + 1 < len(self._steps) else None
        gap = self._gap() / rate
        now = self.env._now
        if end is None or now + gap < end:
            self.sim.call_later(gap, self._arrive)
        else:
            self._step += 1
            self.sim.call_later(end - now, self._next_step)

    def _candidate(self, _: Any = None) -> None:
        now = self.env._now
        rate = self._rate_fn(now)
        if not 0 <= rate <= self.max_rate:
            raise config_error(
                self.label, f"rate({now:g})", f"in [0, max_rate={self.max_rate:g}]", rate
            )
        if self._accept() * self.max_rate < rate:
            self.issue()
        self.sim.call_later(self._gap() / self.max_rate, self._candidate)


class ClosedLoop(Client):
    """A fixed population of users: think, send, wait for the outcome, think again.

    Args:
        sim, name, target, timeout: as for ``Client``.
        users: number of users (an integer >= 1).
        think_time: a Distribution (mean > 0) of the pause between a user's
            outcome and their next request. Each user starts with a think.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        target: Any,
        users: int,
        think_time: Distribution | float | str,
        timeout: float | str | None = None,
    ) -> None:
        owner = f"ClosedLoop {name!r}"
        self.users = check_int(owner, "users", users, minimum=1)
        self.think_time = as_distribution(think_time, owner, "think_time")
        if not self.think_time.mean > 0:
            raise config_error(owner, "think_time", "a distribution with mean > 0", think_time)
        super().__init__(sim, name, target=target, timeout=timeout)

    def _prepare(self) -> None:
        super()._prepare()
        self._think = self.sim.sampler(self.think_time, self.name, "think")
        for _ in range(self.users):
            self.sim.call_later(self._think(), self._wake)

    def _wake(self, _: Any = None) -> None:
        self.issue()

    def _ended(self, request: Request) -> None:
        self.sim.call_later(self._think(), self._wake)


def _seconds(owner: str, param: str, value: float | str, *, positive: bool) -> float:
    allowed = "a duration > 0 (seconds or a string like '2s')"
    if isinstance(value, str):
        try:
            value = parse(value)
        except ConfigError:
            raise config_error(owner, param, allowed, value) from None
    if positive:
        return check_positive(owner, param, value)
    return check_nonnegative(owner, param, value)


def _steps(owner: str, steps: Sequence[Any]) -> list[tuple[float, float]]:
    allowed = "a non-empty list of (start_time, rate) with times increasing from 0 and rates >= 0"
    try:
        pairs = [
            (check_nonnegative(owner, "rate start time", t), check_nonnegative(owner, "rate", r))
            for t, r in steps
        ]
    except (TypeError, ValueError, OverflowError):
        raise config_error(owner, "rate", allowed, steps) from None
    if not pairs or pairs[0][0] != 0.0:
        raise config_error(owner, "rate", allowed, steps)
    for (t0, _), (t1, _) in zip(pairs, pairs[1:], strict=False):
        if not t1 > t0:
            raise config_error(owner, "rate", allowed, steps)
    if all(r == 0 for _, r in pairs):
        raise config_error(owner, "rate", allowed + " (not all 0)", steps)
    return pairs
