"""Random gray failures: episodes of slowness, errors, stalls and flapping.

``Slowdowns``, ``ErrorBursts``, ``Stalls`` and ``Flapping`` give a node
random episodes of a gray failure, listed beside its ``Failures``
(``failures=[hs.Failures(...), hs.Slowdowns(...)]``): the node is quiet for a
time drawn from ``every``, then has an episode lasting a time drawn from
``lasting``, and so on, so the long-run share of time in an episode is
``E[lasting] / (E[every] + E[lasting])`` (``model.share``). Each episode goes
through the node's cause-aware methods (``degrade``, ``set_errors``,
``stall``/``resume``, ``fail``/``recover``) under the model's ``cause``, so it
is in the run's fault history and combines with every other condition.

Streams: ``(name, f"{cause}:every")`` and ``(name, f"{cause}:lasting")``, and
for ``Flapping`` also ``(name, f"{cause}:down")`` and ``(name, f"{cause}:up")``;
the cause defaults to the kind (``"slowdown"``, ``"errors"``, ``"stall"``,
``"flapping"``). Two models on one node need different causes. The start of
the next episode is published in advance (``node.next_failure_at``), like a
failure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hasim.dist import Distribution, as_distribution
from hasim.errors import check_probability, check_real, config_error
from hasim.faults import _BATCH, _cause, _claim

if TYPE_CHECKING:
    from hasim.node import Node
    from hasim.sim import Simulation

__all__ = ["Slowdowns", "ErrorBursts", "Stalls", "Flapping"]


class _Episodes:
    """What the gray episode models share: ``every`` and ``lasting``, validation, the loop."""

    every: Distribution
    lasting: Distribution
    cause: str

    def _check_times(self) -> None:
        owner = type(self).__name__
        for param in ("every", "lasting"):
            value = getattr(self, param)
            dist = as_distribution(value, owner, param)
            if not dist.mean > 0:
                raise config_error(owner, param, "a distribution with mean > 0", value)
            object.__setattr__(self, param, dist)
        _cause(owner, self.cause)

    @property
    def share(self) -> float:
        """The long-run share of time in an episode, ``E[lasting] / (E[every] + E[lasting])``."""
        every, lasting = self.every.mean, self.lasting.mean
        return 0.0 if math.isinf(every) else lasting / (every + lasting)

    def check(self, owner: str, sim: Simulation) -> None:
        """Nothing to check against the simulation (the interface of a fault model)."""

    def attach(self, node: Node) -> None:
        """Start the episodes on ``node`` (called by the Node at the start of the run)."""
        _claim(node, self.cause)
        sim = node.sim
        every = sim.sampler(self.every, node.name, f"{self.cause}:every", batch=_BATCH)
        lasting = sim.sampler(self.lasting, node.name, f"{self.cause}:lasting", batch=_BATCH)
        sim.env.process(self._episodes(node, every, lasting))

    def _episodes(self, node: Node, every: Any, lasting: Any):
        env, cause = node.env, self.cause
        while True:
            delay = every()
            node._schedule(cause, env.now + delay)
            yield env.timeout(delay)
            node._schedule(cause, math.inf)
            self._begin(node)
            yield env.timeout(lasting())
            self._end(node)

    def _begin(self, node: Node) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _end(self, node: Node) -> None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class Slowdowns(_Episodes):
    """Random episodes in which the node is ``factor`` times slower (``node.degrade``).

    Args:
        every: quiet time from the end of one episode to the start of the next
            (a Distribution, seconds or ``"6h"``); mean > 0.
        lasting: how long an episode lasts; mean > 0.
        factor: the slowdown during an episode, a number > 1.
        cause: the cause in the node's conditions and the fault history; it
            also names the streams ``(name, f"{cause}:every")``, ``...:lasting``.
    """

    every: Distribution
    lasting: Distribution
    factor: float
    cause: str = "slowdown"

    def __post_init__(self) -> None:
        self._check_times()
        factor = check_real("Slowdowns", "factor", self.factor)
        if not factor > 1.0:
            raise config_error("Slowdowns", "factor", "a number > 1", self.factor)
        object.__setattr__(self, "factor", factor)

    def _begin(self, node: Node) -> None:
        node.degrade(self.factor, self.cause)

    def _end(self, node: Node) -> None:
        node.degrade(1.0, self.cause)


@dataclass(frozen=True)
class ErrorBursts(_Episodes):
    """Random episodes in which the node answers a share ``rate`` of requests with ``error``.

    Args:
        every: quiet time between episodes; mean > 0.
        lasting: how long an episode lasts; mean > 0.
        rate: the share of requests answered with ``error``, in (0, 1].
        cause: the cause (and stream prefix), default ``"errors"``.
    """

    every: Distribution
    lasting: Distribution
    rate: float
    cause: str = "errors"

    def __post_init__(self) -> None:
        self._check_times()
        rate = check_probability("ErrorBursts", "rate", self.rate)
        if not rate > 0.0:
            raise config_error("ErrorBursts", "rate", "a probability in (0, 1]", self.rate)
        object.__setattr__(self, "rate", rate)

    def _begin(self, node: Node) -> None:
        node.set_errors(self.rate, self.cause)

    def _end(self, node: Node) -> None:
        node.set_errors(0.0, self.cause)


@dataclass(frozen=True)
class Stalls(_Episodes):
    """Random episodes in which the node is frozen (``node.stall``): a GC pause, a hung disk.

    Args:
        every: quiet time between stalls; mean > 0.
        lasting: how long a stall lasts; mean > 0.
        cause: the cause (and stream prefix), default ``"stall"``.
    """

    every: Distribution
    lasting: Distribution
    cause: str = "stall"

    def __post_init__(self) -> None:
        self._check_times()

    def _begin(self, node: Node) -> None:
        node.stall(self.cause)

    def _end(self, node: Node) -> None:
        node.resume(self.cause)


@dataclass(frozen=True)
class Flapping(_Episodes):
    """Random episodes in which the node flaps: down for ``down``, up for ``up``, again and again.

    An episode starts with the node going down and lasts ``lasting``; if it
    ends while the node is down, the node comes back at the episode's end.
    Each flap is a crash (``node.fail(cause)``) in the fault history.

    Args:
        every: quiet time between episodes; mean > 0.
        lasting: how long an episode lasts; mean > 0.
        down: how long each flap keeps the node down; mean > 0.
        up: how long the node stays up between flaps of an episode; mean > 0.
        cause: the cause (and stream prefix), default ``"flapping"``; the flaps
            draw from ``(name, f"{cause}:down")`` and ``(name, f"{cause}:up")``.
    """

    every: Distribution
    lasting: Distribution
    down: Distribution
    up: Distribution
    cause: str = "flapping"

    def __post_init__(self) -> None:
        self._check_times()
        for param in ("down", "up"):
            value = getattr(self, param)
            dist = as_distribution(value, "Flapping", param)
            if not dist.mean > 0:
                raise config_error("Flapping", param, "a distribution with mean > 0", value)
            object.__setattr__(self, param, dist)

    def attach(self, node: Node) -> None:
        """Start the episodes on ``node`` (called by the Node at the start of the run)."""
        _claim(node, self.cause)
        sim, cause = node.sim, self.cause
        every = sim.sampler(self.every, node.name, f"{cause}:every", batch=_BATCH)
        lasting = sim.sampler(self.lasting, node.name, f"{cause}:lasting", batch=_BATCH)
        down = sim.sampler(self.down, node.name, f"{cause}:down", batch=_BATCH)
        up = sim.sampler(self.up, node.name, f"{cause}:up", batch=_BATCH)
        sim.env.process(self._flaps(node, every, lasting, down, up))

    def _flaps(self, node: Node, every: Any, lasting: Any, down: Any, up: Any):
        env, cause = node.env, self.cause
        while True:
            delay = every()
            node._schedule(cause, env.now + delay)
            yield env.timeout(delay)
            end = env.now + lasting()
            while True:
                node._schedule(cause, math.inf)
                node.fail(cause)
                yield env.timeout(min(down(), end - env.now))
                node.recover(cause)
                if env.now >= end:  # the episode ended while the node was down
                    break
                flap = up()
                if not env.now + flap < end:  # the episode ends before the next flap
                    yield env.timeout(end - env.now)
                    break
                node._schedule(cause, env.now + flap)
                yield env.timeout(flap)
