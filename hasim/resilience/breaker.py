"""CircuitBreaker: a client-side breaker (closed, open, half-open) and its running state."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from hasim.errors import check_positive, config_error
from hasim.resilience._common import _count, _set
from hasim.units import duration

__all__ = ["CircuitBreaker", "CLOSED", "OPEN", "HALF_OPEN"]

#: Circuit breaker states.
CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"


@dataclass(frozen=True)
class CircuitBreaker:
    """A client-side circuit breaker in front of the client's target.

    Closed, it lets every attempt through and watches their outcomes; it
    opens after ``failure_threshold`` failed attempts in a row, or (if
    ``failure_ratio`` is set) when at least ``minimum_calls`` attempts ended
    in the last ``window`` seconds and the failed share of them reaches
    ``failure_ratio``. Open, it refuses every attempt at once (``rejected``)
    for ``open_for`` seconds, then turns half-open: the next
    ``half_open_trials`` attempts go through as trials; if all of them end
    ok it closes, and the first failure opens it again. Attempts beyond the
    trials are refused while the trials are out.

    A failed attempt is one whose outcome is a failure (``timeout``, from
    the per-try timeout or the deadline, included). A hedge that loses the
    race has no verdict. Answers to attempts sent before the last state
    change are ignored.

    Args:
        failure_threshold: consecutive failures that open it (an integer >= 1),
            or None to rely on ``failure_ratio`` only.
        failure_ratio: failed share in (0, 1] that opens it, or None.
        window: seconds the ratio is measured over (> 0).
        minimum_calls: attempts the window must hold before the ratio counts (>= 1).
        open_for: seconds it stays open before going half-open (> 0).
        half_open_trials: trial attempts let through when half-open (>= 1).
    """

    failure_threshold: int | None = 5
    failure_ratio: float | None = None
    window: float = 10.0
    minimum_calls: int = 10
    open_for: float = 30.0
    half_open_trials: int = 1

    def __post_init__(self) -> None:
        owner = "CircuitBreaker"
        if self.failure_threshold is not None:
            _set(
                self,
                "failure_threshold",
                _count(owner, "failure_threshold", self.failure_threshold, 1, 10**9),
            )
        if self.failure_ratio is not None:
            ratio = check_positive(owner, "failure_ratio", self.failure_ratio)
            if ratio > 1.0:
                raise config_error(owner, "failure_ratio", "a number in (0, 1]", self.failure_ratio)
            _set(self, "failure_ratio", ratio)
        if self.failure_threshold is None and self.failure_ratio is None:
            raise config_error(
                owner, "failure_threshold", "an integer >= 1 when failure_ratio is None", None
            )
        _set(self, "window", duration(owner, "window", self.window, positive=True))
        _set(self, "minimum_calls", _count(owner, "minimum_calls", self.minimum_calls, 1, 10**9))
        _set(self, "open_for", duration(owner, "open_for", self.open_for, positive=True))
        _set(
            self,
            "half_open_trials",
            _count(owner, "half_open_trials", self.half_open_trials, 1, 10**9),
        )

    def bind(self, sim: Any, log: list[tuple[float, str]]) -> _Breaker:
        """The breaker's running state in ``sim``; state changes go to ``log``."""
        return _Breaker(self, sim, log)


class _Breaker:
    """A CircuitBreaker at work.

    ``admit()`` returns a ticket (the breaker's epoch) for an attempt it lets
    through, or None to refuse it; ``verdict(ticket, failed)`` and
    ``release(ticket)`` report what became of it. The epoch changes at every
    state change, so an answer to an attempt admitted before it is ignored.
    """

    def __init__(self, config: CircuitBreaker, sim: Any, log: list[tuple[float, str]]) -> None:
        self.config = config
        self.sim = sim
        self.env = sim.env
        self.log = log
        self.state = CLOSED
        self.epoch = 0
        self.consecutive = 0
        self.threshold = config.failure_threshold or math.inf
        self.recent: deque[tuple[float, bool]] = deque()  # (time, failed), ratio mode only
        self.recent_failed = 0
        self.trials = 0  # trials let through in this half-open spell
        self.passed = 0  # trials that ended ok
        #: How many times it opened.
        self.opened = 0

    def admit(self) -> int | None:
        """A ticket for an attempt, or None if the breaker refuses it."""
        state = self.state
        if state == CLOSED:
            return self.epoch
        if state == HALF_OPEN and self.trials < self.config.half_open_trials:
            self.trials += 1
            return self.epoch
        return None

    def verdict(self, ticket: int, failed: bool) -> None:
        """An attempt let through with ``ticket`` ended, ok or ``failed``."""
        if ticket != self.epoch:
            return
        if self.state == HALF_OPEN:
            if failed:
                self._open()
            else:
                self.passed += 1
                if self.passed >= self.config.half_open_trials:
                    self._change(CLOSED)
            return
        # closed
        if failed:
            self.consecutive += 1
            if self.consecutive >= self.threshold:
                self._open()
                return
        else:
            self.consecutive = 0
        ratio = self.config.failure_ratio
        if ratio is not None:
            now = self.env._now
            recent = self.recent
            recent.append((now, failed))
            self.recent_failed += failed
            start = now - self.config.window
            while recent[0][0] <= start:
                self.recent_failed -= recent.popleft()[1]
            if len(recent) >= self.config.minimum_calls and self.recent_failed >= ratio * len(
                recent
            ):
                self._open()

    def release(self, ticket: int) -> None:
        """An attempt let through with ``ticket`` was abandoned without a verdict."""
        if ticket == self.epoch and self.state == HALF_OPEN:
            self.trials -= 1  # its trial slot goes to the next attempt

    def _open(self) -> None:
        self.opened += 1
        self._change(OPEN)
        self.sim.call_later(self.config.open_for, self._half_open, self.epoch)

    def _half_open(self, epoch: int) -> None:
        if epoch == self.epoch:
            self._change(HALF_OPEN)

    def _change(self, state: str) -> None:
        self.state = state
        self.epoch += 1
        self.consecutive = 0
        self.recent.clear()
        self.recent_failed = 0
        self.trials = 0
        self.passed = 0
        self.log.append((self.env._now, state))
