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

``HealthCheck.preset(name)`` (AWS ALB and NLB, Envoy, Kubernetes probes,
HAProxy, Google Cloud) and ``OutlierDetection.preset("envoy")`` give the
defaults of real control planes, with their sources.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hasim import network, units
from hasim.dist import Uniform
from hasim.errors import check_choice, check_int, check_positive, check_probability, config_error
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

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> HealthCheck:
        """The default health check of a real control plane, with ``overrides`` on top.

        ``HealthCheck.preset("alb", interval=10)`` is the ALB's check probing every 10 s.

        ============== ======== ======= ========= ======= =====================================
        name           interval timeout unhealthy healthy source
        ============== ======== ======= ========= ======= =====================================
        alb            30 s     5 s     2         5       AWS ALB target group defaults
        nlb            30 s     10 s    2         5       AWS NLB target group, TCP check
        envoy          5 s      1 s     3         3       Envoy docs' example (no defaults)
        k8s-liveness   10 s     1 s     3         1       Kubernetes probe defaults
        k8s-readiness  10 s     1 s     3         1       Kubernetes probe defaults
        haproxy        2 s      2 s     3         2       HAProxy ``server ... check`` defaults
        gcp            5 s      5 s     2         2       Google Cloud health check defaults
        ============== ======== ======= ========= ======= =====================================

        Every preset keeps ``jitter=True``: it only spreads the first probe of each
        target over the first interval (real checkers do not line probes up), and it
        leaves the mean interval, hence the detection formulas, unchanged.

        Sources and what has no counterpart here:

        * ``alb``: AWS Elastic Load Balancing, Application Load Balancers user guide,
          "Health checks for Application Load Balancer target groups":
          HealthCheckIntervalSeconds 30, HealthCheckTimeoutSeconds 5 (instance and ip
          targets; the ELBv2 API reference, CreateTargetGroup, gives 6 s for HTTP target
          groups of a Network Load Balancer), HealthyThresholdCount 5,
          UnhealthyThresholdCount 2. The path, port and matcher (which HTTP codes pass)
          have no counterpart: a probe passes iff the target answers ``ok``. What an ALB
          does when every target is unhealthy (it fails open) is the balancer's
          ``when_all_unhealthy``, see ``LoadBalancer.preset("alb")``.
        * ``nlb``: AWS Elastic Load Balancing, Network Load Balancers user guide,
          "Health checks for Network Load Balancer target groups", and the ELBv2 API
          reference, CreateTargetGroup: interval 30 s, timeout 10 s for TCP (and TLS,
          HTTPS) checks (6 s for HTTP checks), healthy 5, unhealthy 2. The NLB's passive
          checks on client connections have no counterpart here (use an
          ``OutlierDetection``).
        * ``envoy``: Envoy's ``config.core.v3.HealthCheck`` has *required* ``timeout``,
          ``interval``, ``unhealthy_threshold`` and ``healthy_threshold``, with no
          defaults; these are the values of the example in Envoy's documentation
          (Configuration reference, Upstream, Health checkers, Thrift:
          ``timeout: 1s, interval: 5s, unhealthy_threshold: 3, healthy_threshold: 3``).
          ``initial_jitter`` maps to ``jitter`` (a random first probe); the per-interval
          ``interval_jitter`` and ``interval_jitter_percent`` (unset in the example) have
          no counterpart: they would lengthen the mean interval by half the jitter, and
          the detection formulas would then take that mean. ``no_traffic_interval`` (60 s
          while a cluster has no traffic), ``unhealthy_interval``, the edge intervals and
          an HTTP 503 answer failing a host at once have no counterpart either.
        * ``k8s-liveness``, ``k8s-readiness``: Kubernetes documentation, "Configure
          Liveness, Readiness and Startup Probes": periodSeconds 10, timeoutSeconds 1,
          failureThreshold 3, successThreshold 1 (which must be 1 for liveness). The two
          presets are the same check: a ``HealthCheck`` only changes what its observer
          believes, which is what a readiness probe does (the pod leaves the Service's
          endpoints); the liveness probe's action, restarting the container, has no
          counterpart (model it with the node's failures). initialDelaySeconds (0) and
          terminationGracePeriodSeconds have none either.
        * ``haproxy``: HAProxy Configuration Manual, server options ``inter`` (2000 ms),
          ``fall`` (3) and ``rise`` (2); without ``timeout check`` the whole check must
          complete within ``inter``, hence a 2 s timeout. ``fastinter`` and ``downinter``
          (other intervals in transitions and while down) have no counterpart.
        * ``gcp``: Google Cloud, ``gcloud compute health-checks create`` (and the legacy
          ``http-health-checks create``): check interval 5 s, timeout 5 s, healthy
          threshold 2, unhealthy threshold 2.

        Raises:
            ConfigError: for an unknown name (the message lists the known ones) or bad
                overrides.
        """
        check_choice("HealthCheck", "preset", name, tuple(_HC_PRESETS))
        return cls(**{**_HC_PRESETS[name], **overrides})

    @staticmethod
    def presets() -> tuple[str, ...]:
        """The names ``HealthCheck.preset`` knows."""
        return tuple(_HC_PRESETS)

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


#: The presets of ``HealthCheck.preset`` (sources in its docstring).
_HC_PRESETS: dict[str, dict[str, Any]] = {
    "alb": dict(interval=30.0, timeout=5.0, unhealthy_after=2, healthy_after=5),
    "nlb": dict(interval=30.0, timeout=10.0, unhealthy_after=2, healthy_after=5),
    "envoy": dict(interval=5.0, timeout=1.0, unhealthy_after=3, healthy_after=3),
    "k8s-liveness": dict(interval=10.0, timeout=1.0, unhealthy_after=3, healthy_after=1),
    "k8s-readiness": dict(interval=10.0, timeout=1.0, unhealthy_after=3, healthy_after=1),
    "haproxy": dict(interval=2.0, timeout=2.0, unhealthy_after=3, healthy_after=2),
    "gcp": dict(interval=5.0, timeout=5.0, unhealthy_after=2, healthy_after=2),
}


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
        interval: None (default): an ejection ends exactly when its time is up,
            and the k-th ejection of a target lasts ``k * base_ejection`` (capped).
            A number of seconds: Envoy's sweep. Every ``interval`` (from the
            start of the run) the balancer sweeps its targets: an ejected one
            whose ejection time has passed comes back (so an ejection lasts its
            time rounded up to the next sweep), and a target not ejected has its
            ejection multiplier decreased by one. The multiplier grows by one at
            each ejection, and an ejection lasts ``multiplier * base_ejection``
            (capped by ``max_ejection``): a target that keeps failing is ejected
            for longer and longer, one that behaves is forgiven with time.
        eject_at_least_one: eject a target even when that exceeds
            ``max_ejected_share``, provided no other target is ejected (Envoy:
            "will eject at least one host regardless of the value").
    """

    consecutive_errors: int = 5
    base_ejection: float = 30.0
    max_ejection: float = 300.0
    max_ejected_share: float = 0.5
    slow_after: float = math.inf
    interval: float | None = None
    eject_at_least_one: bool = False

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
        if self.interval is not None:
            every = units.duration("OutlierDetection", "interval", self.interval, positive=True)
            object.__setattr__(self, "interval", every)
        if not isinstance(self.eject_at_least_one, bool):
            raise config_error(
                "OutlierDetection", "eject_at_least_one", "True or False", self.eject_at_least_one
            )

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> OutlierDetection:
        """The outlier detection of a real proxy, with ``overrides`` on top.

        ``"envoy"``: Envoy's ``config.cluster.v3.OutlierDetection`` defaults (Envoy API
        reference, "Outlier detection (proto)", and the architecture overview, "Outlier
        detection: ejection algorithm"): ``consecutive_5xx`` 5 -> ``consecutive_errors=5``;
        ``interval`` 10 s (the ejection analysis sweep) -> ``interval=10``;
        ``base_ejection_time`` 30 s, multiplied by the number of times the host was
        ejected -> ``base_ejection=30``; ``max_ejection_time`` 300 s ->
        ``max_ejection=300``; ``max_ejection_percent`` 10 %, "but will eject at least
        one host regardless of the value" -> ``max_ejected_share=0.1,
        eject_at_least_one=True``.

        With ``split_external_local_origin_errors`` false (Envoy's default), local
        errors (connect failures, resets, timeouts) count as 5xx: so here every failed
        answer (``error``, ``rejected``, ``timeout``, ``lost``) counts. No counterpart:
        ``enforcing_consecutive_5xx`` (100 %: always enforce), ``consecutive_gateway_failure``
        (its enforcement is 0 % by default), success-rate and failure-percentage
        detection, ``max_ejection_time_jitter`` (0 by default), and a successful active
        health check un-ejecting a host.

        Raises:
            ConfigError: for an unknown name (the message lists the known ones) or bad
                overrides.
        """
        check_choice("OutlierDetection", "preset", name, tuple(_OD_PRESETS))
        return cls(**{**_OD_PRESETS[name], **overrides})

    @staticmethod
    def presets() -> tuple[str, ...]:
        """The names ``OutlierDetection.preset`` knows."""
        return tuple(_OD_PRESETS)

    def ejection_time(self, ejections: int) -> float:
        """How long the ``ejections``-th ejection (1, 2, ...) lasts.

        With a sweep ``interval``, ``ejections`` is the target's ejection multiplier.
        """
        return min(ejections * self.base_ejection, self.max_ejection)


#: The presets of ``OutlierDetection.preset`` (sources in its docstring).
_OD_PRESETS: dict[str, dict[str, Any]] = {
    "envoy": dict(
        consecutive_errors=5,
        interval=10.0,
        base_ejection=30.0,
        max_ejection=300.0,
        max_ejected_share=0.1,
        eject_at_least_one=True,
    ),
}


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
