"""Retry: how many tries a request gets, the backoff between them, what is worth a retry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hasim.errors import config_error
from hasim.metrics.recorder import FAILED
from hasim.resilience._common import MAX_ATTEMPTS, _count, _set
from hasim.resilience.backoff import Backoff, ExponentialBackoff
from hasim.resilience.budget import RetryBudget

__all__ = ["Retry"]


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
