"""The workloads: open-loop (Poisson) arrivals and a closed loop of thinking users."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hasim.dist import Distribution, Exponential, as_distribution
from hasim.errors import check_int, check_nonnegative, check_positive, config_error
from hasim.resilience import AdaptiveThrottle, CircuitBreaker, Hedge, Retry
from hasim.sim import Simulation
from hasim.workload.client import Client
from hasim.workload.request import Request

__all__ = ["OpenLoop", "ClosedLoop"]


class OpenLoop(Client):
    """Requests arrive as a Poisson process, whatever happens to earlier ones.

    Args:
        sim, name, target, timeout, deadline, retry, breaker, hedge, throttle: as for
            ``Client``.
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
        deadline: float | str | None = None,
        retry: Retry | None = None,
        breaker: CircuitBreaker | None = None,
        hedge: Hedge | None = None,
        throttle: AdaptiveThrottle | None = None,
        zone: str | None = None,
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
        super().__init__(
            sim,
            name,
            target=target,
            timeout=timeout,
            deadline=deadline,
            retry=retry,
            breaker=breaker,
            hedge=hedge,
            throttle=throttle,
            zone=zone,
        )

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
        sim, name, target, timeout, deadline, retry, breaker, hedge, throttle: as for
            ``Client``.
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
        deadline: float | str | None = None,
        retry: Retry | None = None,
        breaker: CircuitBreaker | None = None,
        hedge: Hedge | None = None,
        throttle: AdaptiveThrottle | None = None,
        zone: str | None = None,
    ) -> None:
        owner = f"ClosedLoop {name!r}"
        self.users = check_int(owner, "users", users, minimum=1)
        self.think_time = as_distribution(think_time, owner, "think_time")
        if not self.think_time.mean > 0:
            raise config_error(owner, "think_time", "a distribution with mean > 0", think_time)
        super().__init__(
            sim,
            name,
            target=target,
            timeout=timeout,
            deadline=deadline,
            retry=retry,
            breaker=breaker,
            hedge=hedge,
            throttle=throttle,
            zone=zone,
        )

    def _prepare(self) -> None:
        super()._prepare()
        self._think = self.sim.sampler(self.think_time, self.name, "think")
        for _ in range(self.users):
            self.sim.call_later(self._think(), self._wake)

    def _wake(self, _: Any = None) -> None:
        self.issue()

    def _ended(self, request: Request) -> None:
        self.sim.call_later(self._think(), self._wake)


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
