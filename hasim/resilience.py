"""Client resilience policies: retries with backoff, retry budgets, circuit breakers, hedging.

Each policy is a small frozen dataclass, validated when built, that a client
takes as an argument (``hs.OpenLoop(..., retry=hs.Retry(attempts=3))``); the
client does the work (see ``hasim.workload``). The policies that keep state
while a run goes on (a breaker's state, a budget's window) ``bind`` to a
client and return that state as a private object, the way a balancing
policy binds to its balancer.

* ``Retry(attempts, backoff, retry_on, budget)``: how many tries a request
  gets (the first included), how long to wait before each retry, which
  outcomes are worth retrying, and an optional ``RetryBudget``.
* ``ConstantBackoff(delay)`` and ``ExponentialBackoff(base, cap, multiplier,
  jitter)``, the latter with no jitter, "full" jitter or "decorrelated"
  jitter (the three of Marc Brooker, "Exponential Backoff And Jitter", AWS
  Architecture Blog, 2015). Jitter draws come from the client's own stream
  ``(client, "retry-jitter")``, never from a global generator.
* ``RetryBudget(ratio, min_per_second, window)``: retries may not exceed
  ``min_per_second * window + ratio * requests`` over any sliding window
  (Finagle's RetryBudget), so a full outage cannot multiply the load; or, by
  ``kind``, Envoy's budget on concurrent retries or gRPC's retry throttling
  tokens (``RetryBudget.preset("envoy" | "finagle" | "grpc")``).
* ``AdaptiveThrottle(k, window)``: client-side adaptive throttling (Google SRE
  book, "Handling Overload"): the client refuses a request locally with
  probability ``max(0, (requests - k * accepts) / (requests + 1))``.
* ``CircuitBreaker(failure_threshold, failure_ratio, window, minimum_calls,
  open_for, half_open_trials)``: closed -> open after too many failures;
  open rejects at once for ``open_for`` seconds; then half-open lets
  ``half_open_trials`` trial attempts through: all ok closes it, any failure
  opens it again.
* ``Hedge(after, max_extra)``: when an attempt has not answered ``after``
  seconds after it was sent, send another one in parallel; the first ok wins.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hasim.dist import Uniform
from hasim.errors import (
    check_choice,
    check_nonnegative,
    check_positive,
    config_error,
)
from hasim.metrics.recorder import FAILED
from hasim.units import duration

__all__ = [
    "Backoff",
    "ConstantBackoff",
    "ExponentialBackoff",
    "RetryBudget",
    "AdaptiveThrottle",
    "Retry",
    "CircuitBreaker",
    "Hedge",
    "CLOSED",
    "OPEN",
    "HALF_OPEN",
    "JITTERS",
]

#: Circuit breaker states.
CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half-open"
#: The jitter an ``ExponentialBackoff`` may use.
JITTERS = (None, "full", "decorrelated")
#: The kinds of ``RetryBudget``.
BUDGET_KINDS = ("window", "concurrent", "tokens")
#: Upper bound of ``Retry.attempts`` and ``Hedge.max_extra`` (attempts are recorded as int16).
MAX_ATTEMPTS = 1000
#: The factor of decorrelated jitter, ``min(cap, uniform(base, 3 * previous))`` (Brooker 2015).
DECORRELATED_FACTOR = 3.0


def _count(owner: str, param: str, value: Any, low: int, high: int) -> int:
    """An integer in ``[low, high]`` (bools refused)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not low <= value <= high
    ):
        raise config_error(owner, param, f"an integer in [{low}, {high}]", value)
    return int(value)


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)  # normalise a field of a frozen dataclass


# -- backoff ---------------------------------------------------------------------------------


class Backoff:
    """How long a client waits before a retry.

    ``pause(retry, previous, uniform)`` is the wait before retry number
    ``retry`` (1 for the first retry, i.e. the second attempt), given the
    wait before the previous retry (0.0 before the first) and a function
    returning uniform draws in [0, 1) (called only by jittered policies).
    """

    #: Whether ``pause`` draws random numbers.
    jittered = False

    def pause(
        self, retry: int, previous: float, uniform: Callable[[], float] | None = None
    ) -> float:  # pragma: no cover - interface
        """The wait in seconds before retry number ``retry`` (1, 2, ...)."""
        raise NotImplementedError

    def delays(self, retries: int, rng: np.random.Generator | None = None) -> list[float]:
        """The waits before retries 1 .. ``retries`` of one request.

        Args:
            retries: how many waits (an integer >= 0).
            rng: the generator jitter draws from (required if the policy is
                jittered), e.g. ``sim.rng("users", "retry-jitter")``.

        Example:
            >>> ExponentialBackoff(base=0.1, cap=1.0, jitter=None).delays(5)
            [0.1, 0.2, 0.4, 0.8, 1.0]
        """
        owner = type(self).__name__
        retries = _count(owner, "retries", retries, 0, 10**6)
        uniform = None
        if self.jittered:
            if not isinstance(rng, np.random.Generator):
                raise config_error(owner, "rng", "a numpy.random.Generator (jittered)", rng)
            uniform = Uniform(0.0, 1.0).sampler(rng)
        out: list[float] = []
        previous = 0.0
        for k in range(1, retries + 1):
            previous = self.pause(k, previous, uniform)
            out.append(previous)
        return out


@dataclass(frozen=True)
class ConstantBackoff(Backoff):
    """The same wait before every retry.

    Args:
        delay: seconds (>= 0, or ``"100ms"``).
    """

    delay: float

    def __post_init__(self) -> None:
        _set(self, "delay", duration("ConstantBackoff", "delay", self.delay, positive=False))

    def pause(
        self, retry: int, previous: float, uniform: Callable[[], float] | None = None
    ) -> float:
        """``delay``, whatever the retry."""
        return self.delay


@dataclass(frozen=True)
class ExponentialBackoff(Backoff):
    """Waits that grow geometrically up to a cap, with optional jitter.

    With ``b = base``, ``m = multiplier`` and the k-th retry (k = 1, 2, ...):

    * ``jitter=None``: ``min(cap, b * m**(k-1))``, exactly;
    * ``jitter="full"``: uniform in ``[0, min(cap, b * m**(k-1)))``;
    * ``jitter="decorrelated"``: ``min(cap, uniform in [b, 3 * previous))``,
      with ``previous = b`` before the first retry (``multiplier`` is not
      used: the factor 3 is the published algorithm's).

    Args:
        base: the first wait, seconds > 0 (or ``"100ms"``).
        cap: the longest wait, seconds >= base.
        multiplier: growth per retry, a number >= 1.
        jitter: None, ``"full"`` or ``"decorrelated"``.
    """

    base: float = 0.1
    cap: float = 10.0
    multiplier: float = 2.0
    jitter: str | None = "full"

    def __post_init__(self) -> None:
        owner = "ExponentialBackoff"
        base = duration(owner, "base", self.base, positive=True)
        cap = duration(owner, "cap", self.cap, positive=True)
        if cap < base:
            raise config_error(owner, "cap", f"a duration >= base ({base:g} s)", self.cap)
        multiplier = check_positive(owner, "multiplier", self.multiplier)
        if multiplier < 1.0:
            raise config_error(owner, "multiplier", "a number >= 1", self.multiplier)
        if not (self.jitter is None or isinstance(self.jitter, str)) or self.jitter not in JITTERS:
            raise config_error(owner, "jitter", "None, 'full' or 'decorrelated'", self.jitter)
        _set(self, "base", base)
        _set(self, "cap", cap)
        _set(self, "multiplier", multiplier)

    @property
    def jittered(self) -> bool:  # type: ignore[override]
        """True unless ``jitter`` is None."""
        return self.jitter is not None

    def ceiling(self, retry: int) -> float:
        """``min(cap, base * multiplier**(retry - 1))``: the wait without jitter."""
        try:
            return min(self.cap, self.base * self.multiplier ** (retry - 1))
        except OverflowError:  # multiplier ** retry beyond the float range
            return self.cap

    def pause(
        self, retry: int, previous: float, uniform: Callable[[], float] | None = None
    ) -> float:
        """The wait before retry ``retry`` (see the class docstring)."""
        jitter = self.jitter
        if jitter is None:
            return self.ceiling(retry)
        if jitter == "full":
            return uniform() * self.ceiling(retry)
        base = self.base
        high = DECORRELATED_FACTOR * max(previous, base)
        return min(self.cap, base + uniform() * (high - base))


# -- retry budget ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryBudget:
    """A cap on retries relative to requests, so retries cannot multiply an outage's load.

    ``kind="window"`` (the default, Finagle's RetryBudget): over any sliding
    ``window`` of seconds, a client sends at most ``min_per_second * window +
    ratio * R`` retries, where ``R`` is the number of requests it issued in that
    window.

    ``kind="concurrent"`` (Envoy's ``retry_budget``): a retry may start only while
    the client's retries in flight are fewer than ``max(floor(ratio * A),
    min_concurrent)``, ``A`` its tries in flight (retries included).

    ``kind="tokens"`` (gRPC retry throttling, gRFC A6): the client holds a token
    count, ``max_tokens`` at first and always in ``[0, max_tokens]``; every try that
    fails with an outcome in ``Retry.retry_on`` takes one token, every ok one gives
    back ``token_ratio``; a retry is allowed only while the count is above
    ``max_tokens / 2``.

    A retry the budget refuses is not made: the request ends with the outcome of
    its last attempt. Hedges are not charged to the budget (``Hedge`` bounds them
    itself).

    Args:
        ratio: window: retries allowed per request issued; concurrent: retries in
            flight allowed per try in flight (a number >= 0; 0.2 = 20 %).
        min_per_second: window: retries allowed per second whatever the traffic
            (>= 0), so that a quiet client can still retry.
        window: window: seconds the counts run over (> 0).
        kind: ``"window"``, ``"concurrent"`` or ``"tokens"``.
        min_concurrent: concurrent: retries in flight always allowed (an integer >= 0).
        max_tokens: tokens: the most tokens (> 0).
        token_ratio: tokens: tokens an ok try gives back (> 0).
    """

    ratio: float = 0.2
    min_per_second: float = 10.0
    window: float = 10.0
    kind: str = "window"
    min_concurrent: int = 3
    max_tokens: float = 10.0
    token_ratio: float = 0.1

    def __post_init__(self) -> None:
        owner = "RetryBudget"
        _set(self, "ratio", check_nonnegative(owner, "ratio", self.ratio))
        _set(
            self, "min_per_second", check_nonnegative(owner, "min_per_second", self.min_per_second)
        )
        _set(self, "window", duration(owner, "window", self.window, positive=True))
        if self.kind not in BUDGET_KINDS:
            raise config_error(owner, "kind", "'window', 'concurrent' or 'tokens'", self.kind)
        _set(self, "min_concurrent", _count(owner, "min_concurrent", self.min_concurrent, 0, 10**9))
        _set(self, "max_tokens", check_positive(owner, "max_tokens", self.max_tokens))
        _set(self, "token_ratio", check_positive(owner, "token_ratio", self.token_ratio))

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> RetryBudget:
        """The retry budget of a real RPC stack, with ``overrides`` on top.

        * ``"finagle"``: Finagle's ``RetryBudget()`` defaults (Finagle API docs,
          ``com.twitter.finagle.service.RetryBudget``: ``ttl`` 10 s,
          ``minRetriesPerSec`` 10, ``percentCanRetry`` 0.2) -> ``ratio=0.2,
          min_per_second=10, window=10``: hasim's defaults.
        * ``"envoy"``: Envoy's ``CircuitBreakers.Thresholds.retry_budget`` defaults
          (Envoy API reference, "Circuit breakers (proto)": ``budget_percent`` 20 % of
          the active and pending requests, ``min_retry_concurrency`` 3) ->
          ``kind="concurrent", ratio=0.2, min_concurrent=3``. Envoy counts the
          upstream requests of the whole cluster; here those of one client.
        * ``"grpc"``: gRPC retry throttling (gRFC A6 "gRPC Retry Design",
          ``retryThrottling``): ``maxTokens`` and ``tokenRatio`` are required, with no
          defaults; these are the proposal's example, 10 and 0.1 -> ``kind="tokens",
          max_tokens=10, token_ratio=0.1``. gRPC keeps one count per server name (per
          channel here: per client) and also throttles hedges; here hedges are not
          throttled (``Hedge.max_extra`` bounds them).

        Raises:
            ConfigError: for an unknown name (the message lists the known ones) or bad
                overrides.
        """
        check_choice("RetryBudget", "preset", name, tuple(_BUDGET_PRESETS))
        return cls(**{**_BUDGET_PRESETS[name], **overrides})

    @staticmethod
    def presets() -> tuple[str, ...]:
        """The names ``RetryBudget.preset`` knows."""
        return tuple(_BUDGET_PRESETS)

    def bind(self) -> _Budget:
        """The budget's running state for one client."""
        return _Budget(self)


#: The presets of ``RetryBudget.preset`` (sources in its docstring).
_BUDGET_PRESETS: dict[str, dict[str, Any]] = {
    "finagle": dict(ratio=0.2, min_per_second=10.0, window=10.0),
    "envoy": dict(kind="concurrent", ratio=0.2, min_concurrent=3),
    "grpc": dict(kind="tokens", max_tokens=10.0, token_ratio=0.1),
}


class _Budget:
    """A RetryBudget at work: the times of recent requests and retries, or its tokens."""

    __slots__ = ("kind", "window", "ratio", "floor", "requests", "retries", "tokens", "config")

    def __init__(self, config: RetryBudget) -> None:
        self.config = config
        self.kind = config.kind
        self.window = config.window
        self.ratio = config.ratio
        self.floor = config.min_per_second * config.window
        self.requests: deque[float] = deque()
        self.retries: deque[float] = deque()
        self.tokens = config.max_tokens

    def deposit(self, now: float) -> None:
        """A request was issued at ``now``."""
        if self.kind == "window":
            self.requests.append(now)

    def record(self, failed: bool) -> None:
        """A try ended ok (``failed=False``) or with a retryable failure (tokens kind only)."""
        if self.kind != "tokens":
            return
        if failed:
            self.tokens = max(0.0, self.tokens - 1.0)
        else:
            self.tokens = min(self.config.max_tokens, self.tokens + self.config.token_ratio)

    def withdraw(self, now: float, active: int = 0, retrying: int = 0) -> bool:
        """Charge a retry at ``now`` if the budget allows it; say whether it did.

        ``active`` and ``retrying`` are the client's tries and retries in flight
        (used by the concurrent kind).
        """
        kind = self.kind
        if kind == "concurrent":
            limit = max(math.floor(self.ratio * active), self.config.min_concurrent)
            return retrying < limit
        if kind == "tokens":
            return self.tokens > self.config.max_tokens / 2
        start = now - self.window
        requests, retries = self.requests, self.retries
        while requests and requests[0] <= start:
            requests.popleft()
        while retries and retries[0] <= start:
            retries.popleft()
        if len(retries) + 1 > self.floor + self.ratio * len(requests):
            return False
        retries.append(now)
        return True


# -- adaptive throttling ---------------------------------------------------------------------


@dataclass(frozen=True)
class AdaptiveThrottle:
    """Client-side adaptive throttling (Google SRE book, chapter 21 "Handling Overload").

    The client counts, over the last ``window`` seconds, the ``requests`` it
    attempted (those it refused itself included) and the ``accepts``, answers
    ``ok`` from the target. Each new try is refused locally, before it reaches
    the network, with probability

        ``max(0, (requests - k * accepts) / (requests + 1))``

    (counts taken before the new try is added). A refused try ends the request
    ``rejected`` with the client as responder and is never retried, like one the
    circuit breaker refuses. The draws come from the client's stream
    ``(client, "throttle")``.

    With a target that accepts everything the probability is 0; one that
    accepts nothing gets, in steady state, about one try per window (the
    ``+ 1``): the locally refused share is then ``E[R / (R + 1)]`` with ``R`` the
    tries of the last window, ``1 - (1 - exp(-m)) / m`` for Poisson tries
    (``m`` = rate * window).

    Args:
        k: the multiplier: the target sees up to ``k`` times the requests it
            accepts (a number > 0; the book uses 2, lower is more aggressive).
        window: seconds of history (> 0; the book's 2 minutes).
    """

    k: float = 2.0
    window: float = 120.0

    def __post_init__(self) -> None:
        _set(self, "k", check_positive("AdaptiveThrottle", "k", self.k))
        _set(self, "window", duration("AdaptiveThrottle", "window", self.window, positive=True))

    def bind(self, uniform: Callable[[], float]) -> _Throttle:
        """The throttle's running state for one client, drawing from ``uniform``."""
        return _Throttle(self, uniform)

    def reject_probability(self, requests: int, accepts: int) -> float:
        """``max(0, (requests - k * accepts) / (requests + 1))``."""
        return max(0.0, (requests - self.k * accepts) / (requests + 1))


class _Throttle:
    """An AdaptiveThrottle at work: the times of recent requests and accepts."""

    __slots__ = ("k", "window", "uniform", "requests", "accepts")

    def __init__(self, config: AdaptiveThrottle, uniform: Callable[[], float]) -> None:
        self.k = config.k
        self.window = config.window
        self.uniform = uniform
        self.requests: deque[float] = deque()
        self.accepts: deque[float] = deque()

    def admit(self, now: float) -> bool:
        """Count a try at ``now``; say whether it may go (False: refuse it locally)."""
        start = now - self.window
        requests, accepts = self.requests, self.accepts
        while requests and requests[0] <= start:
            requests.popleft()
        while accepts and accepts[0] <= start:
            accepts.popleft()
        n = len(requests)
        p = (n - self.k * len(accepts)) / (n + 1)
        requests.append(now)
        return p <= 0.0 or self.uniform() >= p

    def accept(self, now: float) -> None:
        """The target answered a try ``ok`` at ``now``."""
        self.accepts.append(now)


# -- retry -----------------------------------------------------------------------------------


def _outcomes(owner: str, param: str, value: Any) -> tuple[str, ...]:
    """A collection of failed outcomes (or one), as a tuple in ``OUTCOMES`` order."""
    allowed = f"failed outcomes among {', '.join(map(repr, FAILED))} (a tuple, or one string)"
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (tuple, list, set, frozenset)):
        raise config_error(owner, param, allowed, value)
    for outcome in value:
        if not isinstance(outcome, str) or outcome not in FAILED:
            raise config_error(owner, param, allowed, value)
    return tuple(o for o in FAILED if o in value)


@dataclass(frozen=True)
class Retry:
    """Retries: more attempts for a request whose attempt failed.

    Args:
        attempts: the most tries a request gets, the first included (an
            integer in [1, 1000]; 1 never retries). Hedges do not count here.
        backoff: a ``Backoff`` (default: exponential from 0.1 s to 10 s with
            full jitter).
        retry_on: the attempt outcomes worth a retry, among ``"timeout"``
            (the per-try timeout), ``"rejected"``, ``"error"``, ``"lost"``
            (default: all four). An attempt the client's own circuit breaker refuses is never
            retried.
        budget: a ``RetryBudget``, or None (no cap beyond ``attempts``).
    """

    attempts: int = 3
    backoff: Backoff = field(default_factory=ExponentialBackoff)
    retry_on: tuple[str, ...] = ("timeout", "rejected", "error", "lost")
    budget: RetryBudget | None = None

    def __post_init__(self) -> None:
        owner = "Retry"
        _set(self, "attempts", _count(owner, "attempts", self.attempts, 1, MAX_ATTEMPTS))
        if not isinstance(self.backoff, Backoff):
            raise config_error(
                owner, "backoff", "a ConstantBackoff or ExponentialBackoff", self.backoff
            )
        _set(self, "retry_on", _outcomes(owner, "retry_on", self.retry_on))
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise config_error(owner, "budget", "a RetryBudget or None", self.budget)


# -- circuit breaker -------------------------------------------------------------------------


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


# -- hedging ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hedge:
    """Hedged requests: another attempt when one is slow to answer.

    When an attempt has not answered ``after`` seconds after it was sent
    (and the request is still waiting), the client sends one more attempt in
    parallel, up to ``max_extra`` extra attempts per request; each extra one
    arms the next. The first ok answer wins; the others are ignored when
    they come (their servers still do the work). A failed attempt does not
    end the request while another one is out.

    Args:
        after: seconds to wait before hedging (>= 0, or ``"50ms"``).
        max_extra: extra attempts per request (an integer in [1, 1000]).
    """

    after: float = 0.05
    max_extra: int = 1

    def __post_init__(self) -> None:
        _set(self, "after", duration("Hedge", "after", self.after, positive=False))
        _set(self, "max_extra", _count("Hedge", "max_extra", self.max_extra, 1, MAX_ATTEMPTS))
