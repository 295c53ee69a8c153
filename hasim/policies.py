"""Balancing policies: how a ``LoadBalancer`` picks one backend among its candidates.

A policy is a small frozen configuration (``RoundRobin()``, ``ConsistentHash(vnodes=100)``);
``policy.bind(lb)`` returns the chooser that holds the per-balancer state,
``choose(candidates, request) -> Backend``. The candidates are the backends
the balancer believes healthy (see ``hasim.balancer``); policies that draw at
random use the balancer's stream ``(lb, "policy")``.

- ``RoundRobin``: each candidate in turn.
- ``Random``: uniformly at random.
- ``LeastOutstanding``: the fewest requests in flight.
- ``PowerOfTwo``: the less loaded of two random candidates.
- ``WeightedRoundRobin``: round robin in proportion to weights (smooth, as nginx).
- ``ConsistentHash``: a hash ring keyed by ``request.key``.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hasim.dist import Uniform
from hasim.errors import check_positive, config_error

if TYPE_CHECKING:
    from hasim.balancer import Backend, LoadBalancer

__all__ = [
    "Policy",
    "RoundRobin",
    "Random",
    "LeastOutstanding",
    "PowerOfTwo",
    "WeightedRoundRobin",
    "ConsistentHash",
]


class Policy:
    """How a balancer picks one backend among the candidates.

    A policy is a small frozen configuration; ``bind(lb)`` returns the
    chooser with the per-balancer state: ``choose(candidates, request)``.
    The candidates are a list that changes as beliefs and membership change;
    a chooser with state built from the backends (a hash ring) has a
    ``rebuild()`` attribute, which the balancer calls after a backend joins
    or leaves.
    """

    def bind(self, lb: LoadBalancer) -> Any:  # pragma: no cover - interface
        """Return ``choose(candidates, request) -> Backend`` for ``lb``."""
        raise NotImplementedError

    def weight(self, name: str) -> float:
        """The weight this policy gives the backend ``name`` (1 unless it says otherwise)."""
        return 1.0


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

    def weight(self, name: str) -> float:
        """The weight of ``name`` (1 if not named)."""
        return float(self.weights.get(name, 1.0))

    def bind(self, lb: LoadBalancer) -> Any:
        """Smooth weighted round robin over the candidates."""
        for b in lb.backends:
            b.weight = self.weight(b.name)
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
        """Build the ring (again whenever a backend joins or leaves); skip non-candidates."""
        points: list[int] = []
        owners: list[int] = []
        vnodes = self.vnodes

        def rebuild() -> None:
            ring = sorted(
                (_hash64(f"{b.name}#{i}"), b.index) for b in lb.backends for i in range(vnodes)
            )
            points[:] = [p for p, _ in ring]
            owners[:] = [o for _, o in ring]

        rebuild()
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

        choose.rebuild = rebuild  # type: ignore[attr-defined]
        return choose


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
