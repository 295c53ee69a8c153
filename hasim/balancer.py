"""LoadBalancer: a service (and a node) that spreads requests over backends.

A balancer chooses among the backends it *believes* healthy: those its
active health check has not marked unhealthy and its outlier detection has
not ejected (DESIGN rule 7: never the backends' true state). With no
healthy backend it answers ``rejected`` at once (it *fails closed*), unless
fewer than ``panic_threshold`` of its backends are healthy, in which case it
spreads over all of them anyway, as mature proxies do (better some errors than
none served). ``when_all_unhealthy`` says explicitly what happens when no
backend is believed healthy: ``"fail_open"`` sends to all of them (an AWS ALB
or NLB), ``"reject"`` refuses (HAProxy's 503, Envoy with its panic threshold at
0 %). ``LoadBalancer.preset("alb", sim, "lb", backends=...)`` builds a balancer
with a real control plane's defaults.

Failure semantics: a down balancer refuses requests (``error``); when it
crashes, every request it is forwarding ends with ``error`` at the crash
time and the backends' late answers are dropped; its health checks stop
while it is down and resume with the beliefs it had.

Each hop balancer -> backend and back pays the network's latency.

**Policies.** How the balancer picks among the backends it believes healthy
is its ``policy`` (default ``RoundRobin()``); the policies live in
``hasim.policies`` and are re-exported here (``from hasim.balancer import
RoundRobin`` works).

**Membership.** Backends join and leave during a run: ``add_backend`` and
``remove_backend`` (a target group's register and deregister). A backend that
joins a running balancer with a health check gets traffic only once it has
passed ``healthy_after`` probes (as a load balancer's "initial" targets); one
that leaves gets no new requests and is no longer probed, and the requests it
holds still end normally (their answers come back through the balancer).
``drain(name)`` stops new requests to a backend while it finishes those it
holds (``backend(name).outstanding`` counts them, ``when_drained(name)`` is an
event for when it reaches 0); ``undrain`` sends to it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from hasim import network
from hasim.errors import check_choice, check_positive, check_probability, config_error
from hasim.health import ActiveChecker, HealthCheck, OutlierDetection
from hasim.metrics.recorder import ERROR, LOST, OK, REJECTED, TIMEOUT
from hasim.node import DOWN, Forwarder, Reply
from hasim.policies import (  # also re-exported (see __all__): they used to live here
    ConsistentHash,
    LeastOutstanding,
    Policy,
    PowerOfTwo,
    Random,
    RoundRobin,
    WeightedRoundRobin,
)
from hasim.sim import Simulation
from hasim.units import duration

if TYPE_CHECKING:
    import simpy

__all__ = [
    "LoadBalancer",
    "Backend",
    "Policy",
    "RoundRobin",
    "Random",
    "LeastOutstanding",
    "PowerOfTwo",
    "WeightedRoundRobin",
    "ConsistentHash",
]

#: What a balancer may do when no backend is believed healthy.
WHEN_ALL_UNHEALTHY = ("fail_open", "reject")

#: Answers that count against a backend in outlier detection.
_BAD = frozenset((ERROR, REJECTED, TIMEOUT, LOST))


class Backend:
    """The balancer's view of one backend: its beliefs and its load.

    Attributes: ``outstanding`` (requests forwarded to it and not answered
    yet), ``sent`` (requests forwarded in all), ``healthy`` (the active
    check's belief), ``ejected`` (outlier detection's), ``draining`` (no new
    requests), ``removed`` (it left the balancer), ``weight``.
    """

    __slots__ = (
        "service",
        "name",
        "index",
        "outstanding",
        "sent",
        "healthy",
        "ejected",
        "errors",
        "ejections",
        "weight",
        "current",
        "out",
        "back",
        "draining",
        "removed",
        "checker",
        "multiplier",
        "ejected_at",
    )

    def __init__(self, service: Any, index: int, weight: float) -> None:
        self.service = service
        self.name = service.name
        self.index = index
        self.outstanding = 0  # requests forwarded and not answered yet
        self.sent = 0  # requests forwarded in all (load)
        self.healthy = True  # the active check's belief
        self.ejected = False  # outlier detection's verdict
        self.errors = 0  # consecutive bad answers
        self.ejections = 0
        self.weight = weight
        self.current = 0.0  # smooth weighted round robin state
        self.out = None
        self.back = None
        self.draining = False  # no new requests; those it holds finish
        self.removed = False  # left the balancer (its late answers still come back)
        self.checker: ActiveChecker | None = None
        self.multiplier = 0  # Envoy's ejection time multiplier (sweep mode only)
        self.ejected_at = 0.0

    def __repr__(self) -> str:
        flags = "".join(f", {flag}=True" for flag in ("draining", "removed") if getattr(self, flag))
        return f"Backend({self.name!r}, healthy={self.healthy}, ejected={self.ejected}{flags})"


# -- the balancer --------------------------------------------------------------------------


class LoadBalancer(Forwarder):
    """Spreads requests over backends it believes healthy.

    Args:
        sim: the Simulation.
        name: unique name.
        backends: the services behind it (Servers, failover pairs, balancers...);
            may be empty when they join later (``add_backend``, a ``hasim.Group``).
        policy: a ``Policy`` (default ``RoundRobin()``).
        health_check: a ``HealthCheck`` run against every backend, or None
            (then only outlier detection, if any, changes beliefs).
        outlier_detection: an ``OutlierDetection``, or None.
        panic_threshold: below this share of healthy backends (among those not
            draining), send to all of them anyway (0 disables panic mode).
        when_all_unhealthy: what to do when no backend is believed healthy:
            ``"fail_open"`` (send to all of them, whatever their health: an AWS
            ALB or NLB) or ``"reject"`` (answer ``rejected``: fail closed); None
            (default) follows ``panic_threshold``: fail open iff it is > 0.
            ``"reject"`` wins over a panic threshold when *no* backend is healthy.
        timeout: the upstream timeout: seconds (or ``"1s"``) to wait for a
            backend's answer before answering ``timeout`` (and counting it
            against the backend in outlier detection); None waits as long as
            it takes (a message the network drops then ends ``lost``).
        zone, failures: as for every Node; the balancer itself can fail.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        backends: Sequence[Any],
        policy: Policy | None = None,
        health_check: HealthCheck | None = None,
        outlier_detection: OutlierDetection | None = None,
        panic_threshold: float = 0.0,
        when_all_unhealthy: str | None = None,
        timeout: float | str | None = None,
        zone: str | None = None,
        failures: Any = None,
    ) -> None:
        owner = f"LoadBalancer {name!r}"
        timeout = None if timeout is None else duration(owner, "timeout", timeout, positive=True)
        if isinstance(backends, (str, bytes)) or not isinstance(backends, Sequence):
            raise config_error(owner, "backends", "a list of services", backends)
        names: set[str] = set()
        for b in backends:
            _check_service(owner, "backends", b, sim, name, names, single=False)
            names.add(b.name)
        policy = RoundRobin() if policy is None else policy
        if not isinstance(policy, Policy):
            raise config_error(owner, "policy", "a hasim balancing Policy", policy)
        if health_check is not None and not isinstance(health_check, HealthCheck):
            raise config_error(owner, "health_check", "a hasim.HealthCheck or None", health_check)
        if outlier_detection is not None and not isinstance(outlier_detection, OutlierDetection):
            raise config_error(
                owner, "outlier_detection", "a hasim.OutlierDetection or None", outlier_detection
            )
        panic = check_probability(owner, "panic_threshold", panic_threshold)
        if when_all_unhealthy is None:
            when_all_unhealthy = "fail_open" if panic > 0 else "reject"
        elif when_all_unhealthy not in WHEN_ALL_UNHEALTHY:
            raise config_error(
                owner, "when_all_unhealthy", "'fail_open', 'reject' or None", when_all_unhealthy
            )
        super().__init__(sim, name, zone=zone, failures=failures)
        self.timeout = timeout
        self.forward_timeout = timeout
        self.policy = policy
        self.health_check = health_check
        self.outlier_detection = outlier_detection
        self.panic_threshold = panic
        #: ``"fail_open"`` or ``"reject"``: what it does when no backend is believed healthy.
        self.when_all_unhealthy = when_all_unhealthy
        self._fail_open = when_all_unhealthy == "fail_open"
        #: The current backends, in the order they joined.
        self.backends: list[Backend] = []
        #: The active checks of the current backends, in the same order.
        self.checkers: list[ActiveChecker] = []
        self._by_name: dict[str, Backend] = {}
        self._joined = 0  # backends ever joined: each gets a fresh index
        self._ready = False  # paths fetched and checks started (run() has begun)
        self._health_listeners: list[Callable[[str, bool], None]] = []
        self._when_healthy: dict[Backend, list[simpy.Event]] = {}
        self._when_drained: dict[Backend, list[simpy.Event]] = {}
        for b in backends:
            self._join(b, 1.0)
        self._choose = policy.bind(self)
        self._candidates = list(self.backends)

    @classmethod
    def preset(cls, preset: str, sim: Simulation, name: str, **kwargs: Any) -> LoadBalancer:
        """A balancer with a real control plane's defaults; ``kwargs`` on top.

        ``LoadBalancer.preset("alb", sim, "lb", backends=web)``; any argument of the
        constructor overrides the preset's (``health_check=...``, ``policy=...``).

        * ``"alb"``: ``HealthCheck.preset("alb")``, ``when_all_unhealthy="fail_open"``.
          AWS ALB user guide, "Health checks for Application Load Balancer target
          groups": "If a target group contains only unhealthy registered targets, the
          load balancer routes requests to all those targets, regardless of their health
          status" (the target group health settings' default minimum healthy count is 1;
          a higher count or a percentage is ``panic_threshold``).
        * ``"nlb"``: ``HealthCheck.preset("nlb")``, ``"fail_open"`` (NLB user guide,
          "Health checks for Network Load Balancer target groups": if all targets fail
          health checks at the same time, the load balancer fails open).
        * ``"envoy"``: ``HealthCheck.preset("envoy")``, ``OutlierDetection.preset("envoy")``
          and ``panic_threshold=0.5`` (Envoy's ``healthy_panic_threshold`` default, 50 %:
          below it Envoy balances over all hosts; so it fails open too).
        * ``"haproxy"``: ``HealthCheck.preset("haproxy")``, ``"reject"`` (with every
          server down and no backup server, HAProxy answers 503).

        Raises:
            ConfigError: for an unknown preset (the message lists the known ones).
        """
        check_choice("LoadBalancer", "preset", preset, tuple(_LB_PRESETS))
        return cls(sim, name, **{**_LB_PRESETS[preset], **kwargs})

    @staticmethod
    def presets() -> tuple[str, ...]:
        """The names ``LoadBalancer.preset`` knows."""
        return tuple(_LB_PRESETS)

    # -- membership ---------------------------------------------------------------

    def backend(self, name: str) -> Backend:
        """The balancer's view of its backend ``name`` (load, beliefs, draining)."""
        b = self._by_name.get(name)
        if b is None:
            known = ", ".join(repr(n) for n in self._by_name) or "none"
            raise config_error(
                self.label, "name", f"the name of one of its backends ({known})", name
            )
        return b

    def add_backend(self, service: Any, weight: float | None = None) -> Backend:
        """Add ``service`` as a backend, before or during the run.

        Args:
            service: a service of the same simulation, not already a backend.
            weight: its weight for ``WeightedRoundRobin`` (> 0); None: the
                policy's weight for that name, or 1.

        During the run, with a health check, the new backend gets traffic
        once it has passed ``healthy_after`` probes (the first within one
        interval, at a random phase if the check has jitter); without one,
        at once.
        """
        taken = set(self._by_name)
        _check_service(self.label, "service", service, self.sim, self.name, taken, single=True)
        weight = (
            self.policy.weight(service.name)
            if weight is None
            else check_positive(self.label, "weight", weight)
        )
        b = self._join(service, weight)
        if self._ready:
            self._connect(b)
            if b.checker is not None:  # not healthy until its probes say so
                b.healthy = b.checker.healthy = False
        self._membership_changed()
        return b

    def remove_backend(self, name: str) -> Backend:
        """Take the backend ``name`` out: no new requests, no more probes.

        The requests it holds still end as they would have (their answers
        come back through the balancer), and ``outstanding`` of the returned
        ``Backend`` keeps counting them down.
        """
        b = self.backend(name)
        b.removed = True
        del self._by_name[name]
        self.backends.remove(b)
        if b.checker is not None:
            b.checker.stop()
            self.checkers.remove(b.checker)
        for event in self._when_healthy.pop(b, ()):
            event.succeed(False)
        self._membership_changed()
        return b

    def drain(self, name: str) -> None:
        """Send no new requests to ``name``; those it holds finish (see ``when_drained``)."""
        b = self.backend(name)
        b.draining = True
        self._refresh()

    def undrain(self, name: str) -> None:
        """Send requests to ``name`` again (if the balancer believes it healthy)."""
        b = self.backend(name)
        b.draining = False
        self._refresh()

    def when_drained(self, name: str) -> simpy.Event:
        """An event that succeeds when ``name`` next holds no request (at once if it holds none).

        Meant for a backend that is draining (else new requests may keep it
        busy); the event's value is its name.
        """
        b = self.backend(name)
        event = self.env.event()
        if b.outstanding == 0:
            event.succeed(name)
        else:
            self._when_drained.setdefault(b, []).append(event)
        return event

    def when_healthy(self, name: str) -> simpy.Event:
        """An event that succeeds when the active check believes ``name`` healthy.

        At once if it does now (or there is no health check). The value is
        True, or False if the backend left the balancer first.
        """
        b = self.backend(name)
        event = self.env.event()
        if b.healthy:
            event.succeed(True)
        else:
            self._when_healthy.setdefault(b, []).append(event)
        return event

    def on_health(self, listener: Callable[[str, bool], None]) -> None:
        """Call ``listener(backend_name, healthy)`` each time the active check's belief flips."""
        self._health_listeners.append(listener)

    def _join(self, service: Any, weight: float) -> Backend:
        b = Backend(service, self._joined, weight)
        self._joined += 1
        self.backends.append(b)
        self._by_name[b.name] = b
        if self.health_check is not None:
            b.checker = ActiveChecker(
                self.sim, self, service, self.health_check, self._health_changed
            )
            self.checkers.append(b.checker)
        return b

    def _connect(self, b: Backend) -> None:
        """Fetch the backend's network paths and start its checks."""
        net = network.get(self.sim)
        b.out = net.path(self.name, b.name)
        b.back = net.path(b.name, self.name)
        if b.checker is not None:
            b.checker.start()

    def _membership_changed(self) -> None:
        rebuild = getattr(self._choose, "rebuild", None)
        if rebuild is not None:
            rebuild()
        self._refresh()

    # -- beliefs ------------------------------------------------------------------

    @property
    def healthy_backends(self) -> list[str]:
        """Names of the backends the balancer would send to now (before panic)."""
        return [b.name for b in self.backends if b.healthy and not b.ejected and not b.draining]

    def _refresh(self) -> None:
        serving = [b for b in self.backends if not b.draining]
        ok = [b for b in serving if b.healthy and not b.ejected]
        if not ok:
            ok = serving if self._fail_open else ok  # none healthy: fail open, or reject
        elif len(ok) < self.panic_threshold * len(serving):
            ok = serving  # panic: spread over all
        self._candidates = ok

    def _health_changed(self, service: Any, healthy: bool) -> None:
        b = self._by_name[service.name]  # stopped checkers never call: b is current
        b.healthy = healthy
        self._refresh()
        if healthy:
            for event in self._when_healthy.pop(b, ()):
                event.succeed(True)
        for listener in self._health_listeners:
            listener(b.name, healthy)

    def _eject(self, b: Backend) -> None:
        od = self.outlier_detection
        ejected = sum(x.ejected for x in self.backends)
        if (ejected + 1) > od.max_ejected_share * len(self.backends) and not (
            od.eject_at_least_one and ejected == 0
        ):
            return
        b.ejected = True
        b.ejections += 1
        b.errors = 0
        self.sim.detected(self.name, b.name, False)
        if od.interval is None:
            self.sim.call_later(od.ejection_time(b.ejections), self._uneject, b)
        else:  # the sweep brings it back (Envoy)
            b.multiplier += 1
            b.ejected_at = self.env._now
        self._refresh()

    def _sweep(self, _: Any = None) -> None:
        """Envoy's ejection sweep: bring back those whose time is up, forgive the others."""
        od = self.outlier_detection
        self.sim.call_later(od.interval, self._sweep)
        now = self.env._now
        for b in list(self.backends):
            if b.ejected:
                if now - b.ejected_at >= od.ejection_time(b.multiplier):
                    self._uneject(b)
            elif b.multiplier > 0:
                b.multiplier -= 1

    def _uneject(self, b: Backend) -> None:
        b.ejected = False
        if b.removed:
            return
        self.sim.detected(self.name, b.name, True)
        self._refresh()

    # -- traffic ------------------------------------------------------------------

    def _prepare(self) -> None:
        super()._prepare()
        network.get(self.sim)  # backends that join during the run need it, and it is made now
        for b in self.backends:
            self._connect(b)
        od = self.outlier_detection
        if od is not None and od.interval is not None:
            self.sim.call_later(od.interval, self._sweep)
        self._ready = True

    def submit(self, request: Any, reply: Reply) -> None:
        """Forward ``request`` to a chosen backend, or refuse it."""
        if self.state == DOWN:
            reply(request, ERROR, self.name)
            return
        candidates = self._candidates
        if not candidates:
            reply(request, REJECTED, self.name)
            return
        b = self._choose(candidates, request)
        b.outstanding += 1
        b.sent += 1
        self._forward(b, b.service, b.out, b.back, request, reply)

    def _released(self, b: Backend, outcome: str | None, elapsed: float) -> None:
        b.outstanding -= 1
        if not b.outstanding and self._when_drained and b in self._when_drained:
            for event in self._when_drained.pop(b):
                event.succeed(b.name)
        od = self.outlier_detection
        if od is not None and not b.removed:  # a crash of the balancer tells nothing
            if outcome in _BAD or (outcome == OK and elapsed > od.slow_after):
                b.errors += 1
                if not b.ejected and b.errors >= self.outlier_detection.consecutive_errors:
                    self._eject(b)
            elif outcome == OK:
                b.errors = 0


def _check_service(
    owner: str, param: str, b: Any, sim: Simulation, own: str, taken: set, *, single: bool
) -> None:
    """Refuse ``b`` as a backend unless it is a service of ``sim``, new, and not the balancer."""
    what = "a service" if single else "services"
    if not callable(getattr(b, "submit", None)) or not isinstance(getattr(b, "name", None), str):
        raise config_error(owner, param, f"{what} (anything with submit())", b)
    if getattr(b, "sim", sim) is not sim:
        raise config_error(owner, param, f"{what} of the same Simulation", b)
    if b.name in taken or b.name == own:
        allowed = (
            "a service other than itself and its backends"
            if single
            else ("distinct services other than itself")
        )
        raise config_error(owner, param, allowed, b.name)


#: The presets of ``LoadBalancer.preset``: name -> the constructor's arguments (the checks
#: are frozen dataclasses, so every balancer may share them).
_LB_PRESETS: dict[str, dict[str, Any]] = {
    "alb": dict(health_check=HealthCheck.preset("alb"), when_all_unhealthy="fail_open"),
    "nlb": dict(health_check=HealthCheck.preset("nlb"), when_all_unhealthy="fail_open"),
    "envoy": dict(
        health_check=HealthCheck.preset("envoy"),
        outlier_detection=OutlierDetection.preset("envoy"),
        panic_threshold=0.5,
    ),
    "haproxy": dict(health_check=HealthCheck.preset("haproxy"), when_all_unhealthy="reject"),
}
