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

The package, one family a module:

- ``backoff``: ``Backoff``, ``ConstantBackoff``, ``ExponentialBackoff``;
- ``budget``: ``RetryBudget`` (and its presets) and ``AdaptiveThrottle``;
- ``retry``: ``Retry``;
- ``breaker``: ``CircuitBreaker`` and its states;
- ``hedge``: ``Hedge``.
"""

from __future__ import annotations

from hasim.resilience.backoff import JITTERS, Backoff, ConstantBackoff, ExponentialBackoff
from hasim.resilience.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from hasim.resilience.budget import AdaptiveThrottle, RetryBudget
from hasim.resilience.hedge import Hedge
from hasim.resilience.retry import Retry

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
