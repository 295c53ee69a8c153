"""LoadBalancer: a service (and a node) that spreads requests over backends.

A balancer chooses among the backends it *believes* healthy: those its
active health check has not marked unhealthy and its outlier detection has
not ejected (DESIGN rule 7: never the backends' true state). With no
healthy backend it answers ``rejected`` at once, unless fewer than
``panic_threshold`` of its backends are healthy, in which case it spreads
over all of them anyway, as mature proxies do (better some errors than none
served).

Failure semantics: a down balancer refuses requests (``error``); when it
crashes, every request it is forwarding ends with ``error`` at the crash
time and the backends' late answers are dropped; its health checks stop
while it is down and resume with the beliefs it had.

Each hop balancer -> backend and back pays the network's latency.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hasim import network
from hasim.dist import Uniform
from hasim.errors import check_positive, check_probability, config_error
from hasim.health import ActiveChecker, HealthCheck, OutlierDetection
from hasim.metrics.recorder import ERROR, LOST, OK, REJECTED, TIMEOUT
from hasim.node import DOWN, Forwarder, Reply
from hasim.sim import Simulation
from hasim.units import duration

__all__ = [
    "LoadBalancer",
    "Policy",
    "RoundRobin",
    "Random",
    "LeastOutstanding",
    "PowerOfTwo",
    "WeightedRoundRobin",
    "ConsistentHash",
]

#: Answers that count against a backend in outlier detection.
_BAD = frozenset((ERROR, REJECTED, TIMEOUT, LOST))


class Backend:
    """The balancer's view of one backend: its beliefs and its load."""

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

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, healthy={self.healthy}, ejected={self.ejected})"


# -- policies --------------------------------------------------------------------------------


class Policy:
    """How a balancer picks one backend among the candidates.

    A policy is a small frozen configuration; ``bind(lb)`` returns the
    chooser with the per-balancer state: ``choose(candidates, request)``.
    """

    def bind(self, lb: LoadBalancer) -> Any:  # pragma: no cover - interface
        """Return ``choose(candidates, request) -> Backend`` for ``lb``."""
        raise NotImplementedError


@dataclass(frozen=True)
class RoundRobin(Policy):
    """Each candidate in turn."""

    def bind(self, lb: LoadBalancer) -> Any:
        """Cycle through the candidates."""
        state = [-1]

        def choose(candidates: list[Backend], request: Any) -> Backend:
            state[0] = i = (state[0] + 1) % len(candidates)
            return candidates[i]

        return choose


@dataclass(frozen=True)
class Random(Policy):
    """A candidate chosen uniformly at random (stream ``(lb, "policy")``)."""

    def bind(self, lb: LoadBalancer) -> Any:
        """Draw uniformly."""
        u = lb.sim.sampler(Uniform(0.0, 1.0), lb.name, "policy")

        def choose(candidates: list[Backend], request: Any) -> Backend:
            return candidates[int(u() * len(candidates))]

        return choose


@dataclass(frozen=True)
class LeastOutstanding(Policy):
    """The candidate with the fewest requests in flight; ties in round-robin order."""

    def bind(self, lb: LoadBalancer) -> Any:
        """Scan from a rotating start so ties do not always favour the first backend."""
        state = [0]

        def choose(candidates: list[Backend], request: Any) -> Backend:
            n = len(candidates)
            start = state[0] = (state[0] + 1) % n
            best = candidates[start]
            for k in range(1, n):
                b = candidates[(start + k) % n]
                if b.outstanding < best.outstanding:
                    best = b
            return best

        return choose


@dataclass(frozen=True)
class PowerOfTwo(Policy):
    """Two distinct candidates at random; the one with fewer requests in flight."""

    def bind(self, lb: LoadBalancer) -> Any:
        """Sample two, keep the less loaded."""
        u = lb.sim.sampler(Uniform(0.0, 1.0), lb.name, "policy")

        def choose(candidates: list[Backend], request: Any) -> Backend:
            n = len(candidates)
            if n == 1:
                return candidates[0]
            i = int(u() * n)
            j = int(u() * (n - 1))
            a, b = candidates[i], candidates[j + (j >= i)]
            return b if b.outstanding < a.outstanding else a

        return choose


@dataclass(frozen=True)
class WeightedRoundRobin(Policy):
    """Round robin in proportion to weights (smooth, as nginx does it).

    Args:
        weights: backend name -> weight > 0; backends not named weigh 1.
    """

    weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping):
            raise config_error(
                "WeightedRoundRobin", "weights", "a dict name -> weight", self.weights
            )
        for name, w in self.weights.items():
            check_positive("WeightedRoundRobin", f"weights[{name!r}]", w)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.weights.items())))

    def bind(self, lb: LoadBalancer) -> Any:
        """Smooth weighted round robin over the candidates."""
        for b in lb.backends:
            b.weight = float(self.weights.get(b.name, 1.0))
        unknown = set(self.weights) - {b.name for b in lb.backends}
        if unknown:
            raise config_error(lb.label, "policy weights", "names of its backends", sorted(unknown))

        def choose(candidates: list[Backend], request: Any) -> Backend:
            total = 0.0
            best = None
            for b in candidates:
                b.current += b.weight
                total += b.weight
                if best is None or b.current > best.current:
                    best = b
            best.current -= total
            return best

        return choose


@dataclass(frozen=True)
class ConsistentHash(Policy):
    """A hash ring over the backends keyed by ``request.key``.

    Each backend owns ``vnodes`` points of the ring; a key goes to the first
    candidate clockwise from its hash, so when a backend leaves only the
    keys it owned move (about 1/n of them). Requests without a key go to a
    random candidate.
    """

    vnodes: int = 100

    def __post_init__(self) -> None:
        from hasim.errors import check_int

        check_int("ConsistentHash", "vnodes", self.vnodes, minimum=1)

    def bind(self, lb: LoadBalancer) -> Any:
        """Build the ring once; skip points of non-candidates at lookup."""
        ring = sorted(
            (_hash64(f"{b.name}#{i}"), b.index) for b in lb.backends for i in range(self.vnodes)
        )
        points = [p for p, _ in ring]
        owners = [o for _, o in ring]
        u = lb.sim.sampler(Uniform(0.0, 1.0), lb.name, "policy")

        def choose(candidates: list[Backend], request: Any) -> Backend:
            key = getattr(request, "key", None)
            if key is None:
                return candidates[int(u() * len(candidates))]
            allowed = {b.index: b for b in candidates}
            start = bisect.bisect(points, _hash64(str(key)))
            n = len(points)
            for k in range(n):
                b = allowed.get(owners[(start + k) % n])
                if b is not None:
                    return b
            return candidates[0]  # unreachable: every candidate owns points

        return choose


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


# -- the balancer --------------------------------------------------------------------------


class LoadBalancer(Forwarder):
    """Spreads requests over backends it believes healthy.

    Args:
        sim: the Simulation.
        name: unique name.
        backends: the services behind it (Servers, failover pairs, balancers...).
        policy: a ``Policy`` (default ``RoundRobin()``).
        health_check: a ``HealthCheck`` run against every backend, or None
            (then only outlier detection, if any, changes beliefs).
        outlier_detection: an ``OutlierDetection``, or None.
        panic_threshold: below this share of healthy backends, send to all
            of them anyway (0 disables panic mode).
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
        timeout: float | str | None = None,
        zone: str | None = None,
        failures: Any = None,
    ) -> None:
        owner = f"LoadBalancer {name!r}"
        timeout = None if timeout is None else duration(owner, "timeout", timeout, positive=True)
        if isinstance(backends, (str, bytes)) or not isinstance(backends, Sequence) or not backends:
            raise config_error(owner, "backends", "a non-empty list of services", backends)
        names = set()
        for b in backends:
            if not callable(getattr(b, "submit", None)) or not isinstance(
                getattr(b, "name", None), str
            ):
                raise config_error(owner, "backends", "services (anything with submit())", b)
            if getattr(b, "sim", sim) is not sim:
                raise config_error(owner, "backends", "services of the same Simulation", b)
            if b.name in names or b.name == name:
                raise config_error(owner, "backends", "distinct services other than itself", b.name)
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
        super().__init__(sim, name, zone=zone, failures=failures)
        self.timeout = timeout
        self.policy = policy
        self.health_check = health_check
        self.outlier_detection = outlier_detection
        self.panic_threshold = panic
        self.backends = [Backend(b, i, 1.0) for i, b in enumerate(backends)]
        self._by_service = {id(b.service): b for b in self.backends}
        self._choose = policy.bind(self)
        self._candidates = list(self.backends)
        self.checkers: list[ActiveChecker] = []
        if health_check is not None:
            self.checkers = [
                ActiveChecker(sim, self, b.service, health_check, self._health_changed)
                for b in self.backends
            ]

    # -- beliefs ------------------------------------------------------------------

    @property
    def healthy_backends(self) -> list[str]:
        """Names of the backends the balancer would send to now (before panic)."""
        return [b.name for b in self.backends if b.healthy and not b.ejected]

    def _refresh(self) -> None:
        ok = [b for b in self.backends if b.healthy and not b.ejected]
        if len(ok) < self.panic_threshold * len(self.backends):
            ok = list(self.backends)  # panic: spread over all
        self._candidates = ok

    def _health_changed(self, service: Any, healthy: bool) -> None:
        self._by_service[id(service)].healthy = healthy
        self._refresh()

    def _eject(self, b: Backend) -> None:
        od = self.outlier_detection
        ejected = sum(x.ejected for x in self.backends)
        if (ejected + 1) > od.max_ejected_share * len(self.backends):
            return
        b.ejected = True
        b.ejections += 1
        b.errors = 0
        self.sim.detected(self.name, b.name, False)
        self.sim.call_later(od.ejection_time(b.ejections), self._uneject, b)
        self._refresh()

    def _uneject(self, b: Backend) -> None:
        b.ejected = False
        self.sim.detected(self.name, b.name, True)
        self._refresh()

    # -- traffic ------------------------------------------------------------------

    def _prepare(self) -> None:
        super()._prepare()
        net = network.get(self.sim)
        for b in self.backends:
            b.out = net.path(self.name, b.name)
            b.back = net.path(b.name, self.name)
        for checker in self.checkers:
            checker.start()

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
        od = self.outlier_detection
        if od is not None:  # a crash of the balancer tells nothing
            if outcome in _BAD or (outcome == OK and elapsed > od.slow_after):
                b.errors += 1
                if not b.ejected and b.errors >= self.outlier_detection.consecutive_errors:
                    self._eject(b)
            elif outcome == OK:
                b.errors = 0
