"""What an observer believes about the health of what it routes to.

``HealthCheck`` is an active check: every ``interval`` the observer (a load
balancer, a failover manager) sends a probe to the target *through the
network* and waits ``timeout`` for the answer. A probe is a real request: a
dead server refuses it, an overloaded one answers it late, a partitioned one
never answers, and each counts as a failure. After ``unhealthy_after``
consecutive failures the target is believed unhealthy; after
``healthy_after`` consecutive successes, healthy again. The observer never
looks at the target's true state (DESIGN rule 7).

``OutlierDetection`` is passive: the observer counts consecutive failed
answers to real requests and ejects the target for a while.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hasim import network, units
from hasim.dist import Uniform
from hasim.errors import check_int, check_positive, check_probability, config_error
from hasim.metrics.recorder import OK
from hasim.node import DOWN

if TYPE_CHECKING:
    from hasim.sim import Simulation

__all__ = ["HealthCheck", "OutlierDetection", "ActiveChecker", "Probe"]


@dataclass(frozen=True)
class HealthCheck:
    """An active health check.

    Args:
        interval: seconds between probes (or ``"5s"``).
        timeout: seconds to wait for a probe's answer.
        unhealthy_after: consecutive failed probes that mark a target unhealthy.
        healthy_after: consecutive good probes that mark it healthy again.
        jitter: start each target's probes at a random phase within the
            first interval (as real checkers do), so probes of many targets
            do not line up; False starts them all at time 0.
    """

    interval: float = 5.0
    timeout: float = 1.0
    unhealthy_after: int = 2
    healthy_after: int = 2
    jitter: bool = True

    def __post_init__(self) -> None:
        from hasim.units import parse

        for name in ("interval", "timeout"):
            value = getattr(self, name)
            if isinstance(value, str):
                try:
                    value = parse(value)
                except ValueError:
                    raise config_error("HealthCheck", name, "a duration > 0", value) from None
            object.__setattr__(self, name, check_positive("HealthCheck", name, value))
        check_int("HealthCheck", "unhealthy_after", self.unhealthy_after, minimum=1)
        check_int("HealthCheck", "healthy_after", self.healthy_after, minimum=1)
        if not isinstance(self.jitter, bool):
            raise config_error("HealthCheck", "jitter", "True or False", self.jitter)

    def detection_bounds(self) -> tuple[float, float]:
        """Earliest and latest time from a crash to the verdict, for an instant refusal.

        A dead target refuses probes at once, so the verdict comes with the
        ``unhealthy_after``-th probe after the crash: between
        ``(N - 1) * interval`` and ``N * interval`` (zero network latency).
        """
        n = self.unhealthy_after
        return (n - 1) * self.interval, n * self.interval

    def mean_detection_time(self) -> float:
        """Mean time to detect a crash whose phase is uniform within an interval.

        ``(N - 1/2) * interval`` for a target that refuses probes at once.
        """
        return (self.unhealthy_after - 0.5) * self.interval


@dataclass(frozen=True)
class OutlierDetection:
    """Passive outlier detection on real traffic.

    Args:
        consecutive_errors: failed answers in a row that eject a target.
        base_ejection: seconds of the first ejection; the k-th ejection of
            the same target lasts ``k * base_ejection`` ...
        max_ejection: ... but never longer than this.
        max_ejected_share: at most this share of the targets is ejected at
            once (the rest keep taking traffic whatever their errors).
        slow_after: an ok answer slower than this many seconds (forwarding
            included) counts as a failed one, so a node that turned slow (a
            gray failure) is ejected like one that errs; default: never.
    """

    consecutive_errors: int = 5
    base_ejection: float = 30.0
    max_ejection: float = 300.0
    max_ejected_share: float = 0.5
    slow_after: float = math.inf

    def __post_init__(self) -> None:
        check_int("OutlierDetection", "consecutive_errors", self.consecutive_errors, minimum=1)
        base = check_positive("OutlierDetection", "base_ejection", self.base_ejection)
        cap = check_positive("OutlierDetection", "max_ejection", self.max_ejection)
        if cap < base:
            raise config_error(
                "OutlierDetection", "max_ejection", f"a number >= base_ejection ({base:g})", cap
            )
        share = check_probability("OutlierDetection", "max_ejected_share", self.max_ejected_share)
        object.__setattr__(self, "base_ejection", base)
        object.__setattr__(self, "max_ejection", cap)
        object.__setattr__(self, "max_ejected_share", share)
        if self.slow_after != math.inf:
            slow = units.duration("OutlierDetection", "slow_after", self.slow_after, positive=True)
            object.__setattr__(self, "slow_after", slow)

    def ejection_time(self, ejections: int) -> float:
        """How long the ``ejections``-th ejection (1, 2, ...) lasts."""
        return min(ejections * self.base_ejection, self.max_ejection)


class Probe:
    """A health probe: what the target's ``submit`` receives instead of a client request."""

    __slots__ = ("observer", "sent", "done", "key")

    def __init__(self, observer: str, sent: float) -> None:
        self.observer = observer
        self.sent = sent
        self.done = False
        self.key = None

    def __repr__(self) -> str:
        return f"Probe(from={self.observer!r}, sent={self.sent:g})"


class ActiveChecker:
    """Runs one ``HealthCheck`` of one target for one observer.

    ``on_change(target, healthy)`` is called when the belief flips; each
    verdict is also recorded (``recorder.detect``) for time-to-detect.
    The checker probes only while the observer is up.
    """

    def __init__(
        self,
        sim: Simulation,
        observer: Any,
        target: Any,
        check: HealthCheck,
        on_change: Callable[[Any, bool], None],
    ) -> None:
        self.sim = sim
        self.observer = observer
        self.target = target
        self.check = check
        self.on_change = on_change
        self.healthy = True
        self.successes = 0
        self.failures = 0
        self.probes = 0
        self.stopped = False

    def stop(self) -> None:
        """Send no more probes; answers still on their way change nothing."""
        self.stopped = True

    def start(self) -> None:
        """Fetch network paths and schedule the first probe (called from ``_prepare``)."""
        net = network.get(self.sim)
        self._out = net.path(self.observer.name, self.target.name)
        self._back = net.path(self.target.name, self.observer.name)
        first = 0.0
        if self.check.jitter:
            phase = Uniform(0.0, self.check.interval)
            first = self.sim.sampler(phase, self.observer.name, f"hc-phase:{self.target.name}")()
        self.sim.call_later(first, self._probe)

    def _probe(self, _: Any = None) -> None:
        if self.stopped:
            return
        sim = self.sim
        sim.call_later(self.check.interval, self._probe)
        if self.observer.state == DOWN:
            return
        probe = Probe(self.observer.name, sim.now)
        self.probes += 1
        sim.call_later(self.check.timeout, self._expire, probe)
        self._out.send(self._send, probe)  # a dropped probe is noticed by its timeout

    def _send(self, probe: Probe) -> None:
        self.target.submit(probe, self._answer)

    def _answer(self, probe: Probe, outcome: str, _by: str | None) -> None:
        self._back.send(self._late_verdict, (probe, outcome == OK))

    def _late_verdict(self, item: tuple[Probe, bool]) -> None:
        self._verdict(*item)

    def _expire(self, probe: Probe) -> None:
        self._verdict(probe, False)

    def _verdict(self, probe: Probe, ok: bool) -> None:
        if probe.done or self.stopped:
            return
        probe.done = True
        if self.observer.state == DOWN:  # the observer died while waiting
            return
        if ok:
            self.successes += 1
            self.failures = 0
            if not self.healthy and self.successes >= self.check.healthy_after:
                self._flip(True)
        else:
            self.failures += 1
            self.successes = 0
            if self.healthy and self.failures >= self.check.unhealthy_after:
                self._flip(False)

    def _flip(self, healthy: bool) -> None:
        self.healthy = healthy
        self.sim.detected(self.observer.name, self.target.name, healthy)
        self.on_change(self.target, healthy)
