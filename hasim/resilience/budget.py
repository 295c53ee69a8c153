"""Caps on a client's load: retry budgets (Finagle, Envoy, gRPC) and adaptive throttling."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hasim.errors import check_choice, check_nonnegative, check_positive, config_error
from hasim.resilience._common import _count, _set
from hasim.units import duration

__all__ = ["RetryBudget", "AdaptiveThrottle", "BUDGET_KINDS"]

#: The kinds of ``RetryBudget``.
BUDGET_KINDS = ("window", "concurrent", "tokens")


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
        requests, retries = _forget(self.requests, start), _forget(self.retries, start)
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

    __slots__ = ("config", "window", "uniform", "requests", "accepts")

    def __init__(self, config: AdaptiveThrottle, uniform: Callable[[], float]) -> None:
        self.config = config
        self.window = config.window
        self.uniform = uniform
        self.requests: deque[float] = deque()
        self.accepts: deque[float] = deque()

    def admit(self, now: float) -> bool:
        """Count a try at ``now``; say whether it may go (False: refuse it locally)."""
        start = now - self.window
        requests, accepts = _forget(self.requests, start), _forget(self.accepts, start)
        p = self.config.reject_probability(len(requests), len(accepts))
        requests.append(now)
        return p <= 0.0 or self.uniform() >= p

    def accept(self, now: float) -> None:
        """The target answered a try ``ok`` at ``now``."""
        self.accepts.append(now)


def _forget(times: deque[float], start: float) -> deque[float]:
    """``times`` (oldest first) without those at or before ``start``: a sliding window."""
    while times and times[0] <= start:
        times.popleft()
    return times
