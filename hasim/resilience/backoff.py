"""Backoffs: how long a client waits before a retry (constant, exponential with jitter)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hasim.dist import Uniform
from hasim.errors import check_positive, config_error
from hasim.resilience._common import _count, _set
from hasim.units import duration

__all__ = ["Backoff", "ConstantBackoff", "ExponentialBackoff", "JITTERS"]

#: The jitter an ``ExponentialBackoff`` may use.
JITTERS = (None, "full", "decorrelated")
#: The factor of decorrelated jitter, ``min(cap, uniform(base, 3 * previous))`` (Brooker 2015).
DECORRELATED_FACTOR = 3.0


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
