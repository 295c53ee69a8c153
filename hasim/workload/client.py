"""Client: the base of the workloads, a request's life cycle and the client's resilience.

A client issues a request, sends it to its target through the network, and
records exactly one outcome for it (DESIGN: request life cycle). The
request is the logical unit the user cares about; what travels to the
target is an *attempt* (``target.submit(attempt, reply)``), which carries
the request's ``key`` (for consistent hashing), a link to its ``request``
and its ``number`` (1, 2, ... in the order sent).

Without resilience (no ``retry``, ``breaker`` or ``hedge``) a request has
exactly one attempt and is its own attempt (the fast path: no second object
per request). Its outcome is

* the target's answer (``ok``, ``rejected``, ``error``, ...) once it has
  travelled back, or
* ``timeout`` when the client's timeout (or deadline) expires first. The
  target is not told: it may still do the work, and its late answer is
  dropped.

With resilience (``hasim.resilience``):

* ``timeout`` is the per-try timeout: a try not answered in time counts as
  failed with ``timeout`` (its late answer is ignored);
* a failed try whose outcome is in ``retry.retry_on`` is retried after the
  backoff, while tries remain and the retry budget allows; otherwise the
  request ends with that outcome;
* ``deadline`` bounds the whole request: when it passes, the request ends
  ``timeout`` whatever tries remain (tries still out are abandoned);
* a ``hedge`` sends another try when one is slow; the first ok wins, a
  failed try does not end the request while another is out;
* a ``breaker`` refuses tries at once when open: the request ends
  ``rejected`` with the client as responder, without reaching the target
  (refused tries are never retried);
* a ``throttle`` (``AdaptiveThrottle``, checked before the breaker) refuses
  tries locally at random, more often the fewer the target accepts; a refused
  try ends the request the same way (``rejected``, the client as responder).

The request's outcome is that of its last try (or ``timeout`` at the
deadline; or the first ok), its latency runs from the first issue to the
final answer, its ``attempts`` is the number of tries sent (hedges
included; 0 if the breaker refused the first), and its ``responder`` is who
answered the final try. Servers always do the work they were sent: answers
to abandoned tries are ignored, and counted (``Client.ignored``).

Requests still unanswered when the run ends are *in flight*; they stay in
``client.outstanding``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hasim import network
from hasim.dist import Uniform
from hasim.errors import SimulationError, config_error
from hasim.metrics.recorder import LOST, OK, REJECTED, TIMEOUT
from hasim.resilience import AdaptiveThrottle, CircuitBreaker, Hedge, Retry
from hasim.sim import Component, Simulation
from hasim.units import duration
from hasim.workload.request import Attempt, Request

__all__ = ["Client"]


class Client(Component):
    """Base of the workloads: issues requests to ``target`` and records outcomes.

    Args:
        sim: the Simulation.
        name: unique name.
        target: the service requests go to (a Server, or any object with
            ``submit(attempt, reply)`` and a ``name``).
        timeout: seconds (or ``"2s"``) the client waits for the answer to
            one try before it counts it as ``timeout``; None waits forever.
        deadline: seconds (or ``"5s"``) from issue after which the request
            ends ``timeout`` whatever tries remain; None: no deadline.
        retry: a ``hasim.Retry``, or None (one try).
        breaker: a ``hasim.CircuitBreaker`` in front of the target, or None.
        hedge: a ``hasim.Hedge``, or None.
        throttle: a ``hasim.AdaptiveThrottle``, or None.
        zone: where the client sits, for the network's zone latencies (None: nowhere).

    A message the network drops is noticed by the client's timeout or
    deadline; a client with neither is told ``lost`` at the moment of the drop.

    Load counters (whole run, warm-up included): ``requests`` issued,
    ``sent`` tries sent to the target, of which ``retries`` and ``hedges``;
    ``breaker_rejections`` (tries the breaker refused), ``budget_refusals``
    (retries the budget refused), ``ignored`` (answers to abandoned tries);
    ``throttle_rejections`` (tries the adaptive throttle refused) is a property
    of its own.
    ``breaker_log`` lists the breaker's state changes as ``(time, state)``
    (it starts closed).
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        target: Any,
        timeout: float | str | None = None,
        deadline: float | str | None = None,
        retry: Retry | None = None,
        breaker: CircuitBreaker | None = None,
        hedge: Hedge | None = None,
        throttle: AdaptiveThrottle | None = None,
        zone: str | None = None,
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
            None if timeout is None else duration(owner, "timeout", timeout, positive=True)
        )
        self.deadline = (
            None if deadline is None else duration(owner, "deadline", deadline, positive=True)
        )
        for param, value, kind in (
            ("retry", retry, Retry),
            ("breaker", breaker, CircuitBreaker),
            ("hedge", hedge, Hedge),
            ("throttle", throttle, AdaptiveThrottle),
        ):
            if value is not None and not isinstance(value, kind):
                raise config_error(owner, param, f"a hasim.{kind.__name__} or None", value)
        if zone is not None and (not isinstance(zone, str) or not zone):
            raise config_error(owner, "zone", "a non-empty string or None", zone)
        super().__init__(sim, name)
        self.zone = zone
        self.target = target
        self.retry = retry
        self.breaker = breaker
        self.hedge = hedge
        self.throttle = throttle
        #: Requests issued and not yet answered, by id (in flight).
        self.outstanding: dict[int, Request] = {}
        #: Requests issued (the warm-up included).
        self.requests = 0
        # The fast path (one try per request) unless a policy needs attempts.
        resilient = any(p is not None for p in (retry, breaker, hedge, throttle))
        self._rs = _Resilience(sim, retry, breaker, hedge) if resilient else None
        limits = [t for t in (self.timeout, self.deadline) if t is not None]
        self._wait = min(limits) if limits else None  # the fast path's one limit
        sim.clients.append(self)

    # The counters live on ``_rs``, a slotted object: a client keeps few attributes of its
    # own, because CPython's fast attribute access stops at 30 per instance (the hot path
    # reads the client's attributes on every request).

    @property
    def sent(self) -> int:
        """Tries sent to the target (first tries, retries and hedges)."""
        return self.requests if self._rs is None else self._rs.sent

    @property
    def retries(self) -> int:
        """Retries sent."""
        return 0 if self._rs is None else self._rs.retries

    @property
    def hedges(self) -> int:
        """Hedges sent."""
        return 0 if self._rs is None else self._rs.hedges

    @property
    def breaker_rejections(self) -> int:
        """Tries the circuit breaker refused."""
        return 0 if self._rs is None else self._rs.breaker_rejections

    @property
    def budget_refusals(self) -> int:
        """Retries the retry budget refused."""
        return 0 if self._rs is None else self._rs.budget_refusals

    @property
    def throttle_rejections(self) -> int:
        """Tries the adaptive throttle refused locally."""
        return 0 if self._rs is None else self._rs.throttle_rejections

    @property
    def ignored(self) -> int:
        """Answers to abandoned tries (timed out, cut by the deadline, a hedge's loser)."""
        return 0 if self._rs is None else self._rs.ignored

    @property
    def breaker_log(self) -> list[tuple[float, str]]:
        """The breaker's state changes as ``(time, state)``; it starts closed."""
        return [] if self._rs is None else self._rs.log

    @property
    def breaker_state(self) -> str | None:
        """The breaker's state now (``"closed"``, ``"open"``, ``"half-open"``); None if none."""
        rs = self._rs
        return None if rs is None or rs.breaker is None else rs.breaker.state

    def counters(self) -> dict[str, int]:
        """The load counters by name (see the class docstring)."""
        return {
            "requests": self.requests,
            "sent": self.sent,
            "retries": self.retries,
            "hedges": self.hedges,
            "breaker_rejections": self.breaker_rejections,
            "budget_refusals": self.budget_refusals,
            "ignored": self.ignored,
        }

    def _prepare(self) -> None:
        net = network.get(self.sim)
        self._out = net.path(self.name, self.target.name)
        self._back = net.path(self.target.name, self.name)
        self._submit = self.target.submit
        # Drops are noticed by the client's own timers; with none, it is told at once.
        if self._rs is None:
            self._dropped = None if self._wait is not None else self._lost
        else:
            timed = self.timeout is not None or self.deadline is not None
            self._dropped = None if timed else self._attempt_lost
        if self.retry is not None and self.retry.backoff.jittered:
            self._rs.jitter = self.sim.sampler(Uniform(0.0, 1.0), self.name, "retry-jitter")
        if self.throttle is not None:
            uniform = self.sim.sampler(Uniform(0.0, 1.0), self.name, "throttle")
            self._rs.throttle = self.throttle.bind(uniform)

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
        self.requests += 1
        sim.recorder.issue(request)
        if self._rs is not None:
            self._begin(request, now)
            return request
        if self._wait is not None:
            request.deadline = now + self._wait
            sim.call_later(self._wait, self._expire, request)
        out = self._out
        if out.direct:  # NOTE: Path.send's own fast path, inlined (the hottest call there is)
            out.sent += 1
            self._submit(request, self._reply)
        else:
            out.send(self._send, request, self._dropped)
        return request

    # -- the fast path: the request is its only attempt -------------------------------------

    def _send(self, request: Request) -> None:
        self._submit(request, self._reply)

    def _reply(self, request: Request, outcome: str, responder: str | None) -> None:
        back = self._back
        if back.direct:  # NOTE: inlined fast path, as in ``issue``
            back.sent += 1
            self._end(request, outcome, responder)
            return
        request._answer = outcome
        request._by = responder
        back.send(self._receive, request, self._dropped)

    def _receive(self, request: Request) -> None:
        self._end(request, request._answer, request._by)

    def _lost(self, request: Request) -> None:
        self._end(request, LOST, None)

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

    # -- resilience: attempts, retries, hedges, the breaker ---------------------------------

    def _begin(self, request: Request, now: float) -> None:
        request.attempts = 0
        request._inflight = []
        request._tries = 0
        request._hedges = 0
        request._pause = 0.0
        if self._rs.budget is not None:
            self._rs.budget.deposit(now)
        if self.deadline is not None:
            request.deadline = now + self.deadline
            self.sim.call_later(self.deadline, self._deadline_passed, request)
        self._try(request, False)

    def _try(self, request: Request, hedge: bool) -> None:
        """Send one more try of ``request`` (unless the breaker refuses it)."""
        rs = self._rs
        ticket = 0
        if rs.throttle is not None and not rs.throttle.admit(self.env._now):
            rs.throttle_rejections += 1
            if not request._inflight:  # a refused hedge leaves the others to answer
                self._close(request, REJECTED, self.name)
            return
        if rs.breaker is not None:
            ticket = rs.breaker.admit()
            if ticket is None:
                rs.breaker_rejections += 1
                if not request._inflight:  # a refused hedge leaves the others to answer
                    self._close(request, REJECTED, self.name)
                return
        sim = self.sim
        request.attempts += 1
        attempt = Attempt(request, request.attempts, self.env._now, hedge, ticket)
        request._inflight.append(attempt)
        rs.sent += 1
        rs.active += 1
        if hedge:
            request._hedges += 1
            rs.hedges += 1
        else:
            request._tries += 1
            if request._tries > 1:
                rs.retries += 1
                rs.retrying += 1
        if self.timeout is not None:
            sim.call_later(self.timeout, self._try_expired, attempt)
        if rs.hedge is not None and request._hedges < rs.hedge.max_extra:
            sim.call_later(rs.hedge.after, self._hedge_due, attempt)
        self._out.send(self._send_attempt, attempt, self._dropped)

    def _send_attempt(self, attempt: Attempt) -> None:
        self._submit(attempt, self._answer)

    def _answer(self, attempt: Attempt, outcome: str, responder: str | None) -> None:
        if not attempt.live:  # abandoned: the client no longer listens
            self._rs.ignored += 1
        else:
            attempt._answer = outcome
            attempt._by = responder
            self._back.send(self._answer_back, attempt, self._dropped)

    def _answer_back(self, attempt: Attempt) -> None:
        if attempt.live:
            self._settle(attempt, attempt._answer, attempt._by)
        else:
            self._rs.ignored += 1

    def _settle(self, attempt: Attempt, outcome: str, responder: str | None) -> None:
        """The answer to a live try arrived."""
        request = attempt.request
        attempt.live = False
        request._inflight.remove(attempt)
        self._observe(attempt, outcome)
        breaker = self._rs.breaker
        if breaker is not None:
            breaker.verdict(attempt.ticket, outcome != OK)
        if outcome == OK:
            self._close(request, OK, responder)
        else:
            self._failed(request, outcome, responder)

    def _attempt_lost(self, attempt: Attempt) -> None:
        if attempt.live:
            self._settle(attempt, LOST, None)

    def _try_expired(self, attempt: Attempt) -> None:
        if not attempt.live:
            return
        attempt.live = False
        attempt.request._inflight.remove(attempt)
        self._observe(attempt, TIMEOUT)
        breaker = self._rs.breaker
        if breaker is not None:
            breaker.verdict(attempt.ticket, True)
        self._failed(attempt.request, TIMEOUT, None)

    def _observe(self, attempt: Attempt, outcome: str | None) -> None:
        """A live try ended with ``outcome`` (None: abandoned): counts, throttle, tokens."""
        rs = self._rs
        rs.active -= 1
        if attempt.number > 1 and not attempt.hedge:  # every try after the first is a retry
            rs.retrying -= 1
        if outcome is None:
            return
        if outcome == OK:
            if rs.throttle is not None:
                rs.throttle.accept(self.env._now)
            if rs.tokens is not None:
                rs.tokens.record(False)
        elif rs.tokens is not None and outcome in rs.retry.retry_on:
            rs.tokens.record(True)

    def _failed(self, request: Request, outcome: str, responder: str | None) -> None:
        """A try failed: wait for the others, retry, or end the request."""
        if request._inflight:  # a hedge is still out: its answer decides
            return
        rs = self._rs
        retry = rs.retry
        if retry is not None and outcome in retry.retry_on and request._tries < retry.attempts:
            if rs.budget is None or rs.budget.withdraw(self.env._now, rs.active, rs.retrying):
                pause = retry.backoff.pause(request._tries, request._pause, rs.jitter)
                request._pause = pause
                self.sim.call_later(pause, self._retry_due, request)
                return
            rs.budget_refusals += 1
        self._close(request, outcome, responder)

    def _retry_due(self, request: Request) -> None:
        if request.outcome is None:  # not ended by the deadline meanwhile
            self._try(request, False)

    def _hedge_due(self, attempt: Attempt) -> None:
        if attempt.live and attempt.request._hedges < self._rs.hedge.max_extra:
            self._try(attempt.request, True)

    def _deadline_passed(self, request: Request) -> None:
        if request.outcome is None:
            self._close(request, TIMEOUT, None, cut=True)

    def _close(
        self, request: Request, outcome: str, responder: str | None, cut: bool = False
    ) -> None:
        """End ``request``; abandon its tries still out (``cut``: by the deadline)."""
        if request._inflight:
            breaker = self._rs.breaker
            for attempt in request._inflight:
                attempt.live = False
                self._observe(attempt, None)
                if breaker is not None:
                    # A try cut by the deadline failed (timeout); a hedge's loser has no verdict.
                    if cut:
                        breaker.verdict(attempt.ticket, True)
                    else:
                        breaker.release(attempt.ticket)
            request._inflight.clear()
        self._end(request, outcome, responder)


class _Resilience:
    """A client's resilience policies at work, and its load counters."""

    __slots__ = (
        "retry",
        "hedge",
        "breaker",
        "budget",
        "tokens",
        "throttle",
        "jitter",
        "log",
        "sent",
        "retries",
        "hedges",
        "breaker_rejections",
        "budget_refusals",
        "ignored",
        "throttle_rejections",
        "active",
        "retrying",
    )

    def __init__(
        self,
        sim: Simulation,
        retry: Retry | None,
        breaker: CircuitBreaker | None,
        hedge: Hedge | None,
    ) -> None:
        self.retry = retry
        self.hedge = hedge
        self.log: list[tuple[float, str]] = []
        self.breaker = None if breaker is None else breaker.bind(sim, self.log)
        self.budget = None if retry is None or retry.budget is None else retry.budget.bind()
        #: The budget again if it counts tokens (it learns every try's outcome).
        self.tokens = (
            self.budget if self.budget is not None and self.budget.kind == "tokens" else None
        )
        self.throttle = None  # set in Client._prepare (it needs the client's stream)
        self.jitter: Callable[[], float] | None = None  # set in Client._prepare
        self.sent = 0
        self.retries = 0
        self.hedges = 0
        self.breaker_rejections = 0
        self.budget_refusals = 0
        self.ignored = 0
        self.throttle_rejections = 0
        self.active = 0  # tries in flight
        self.retrying = 0  # of which retries (hedges aside)
