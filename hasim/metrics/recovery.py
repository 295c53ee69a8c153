"""Recovery phases of each component failure: detect, fail over, repair.

For every failure of a node that begins in the measured window:

* **time to detect (TTD)**: from the crash to the first verdict "unhealthy"
  about it by any observer (a balancer's health check or outlier
  detection, a failover manager's failure detector); NaN if nobody noticed
  before it was repaired (or nobody watches it);
* **failover time**: from the crash to the first ok answer by another
  component after the detection (the replacement serving); NaN if none
  came before the repair;
* **repair time**: from the crash to the node being up again (NaN if it
  was still down at the end).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

__all__ = ["ComponentFailure", "component_failures"]


@dataclass(frozen=True)
class ComponentFailure:
    """One crash of one component and how the design recovered from it."""

    component: str
    failed: float
    detected: float
    detected_by: str | None
    failed_over: float
    repaired: float

    @property
    def ttd(self) -> float:
        """Time to detect."""
        return self.detected - self.failed

    @property
    def failover(self) -> float:
        """Time to the first ok answer by a replacement."""
        return self.failed_over - self.failed

    @property
    def repair(self) -> float:
        """Time to repair (NaN while still down)."""
        return self.repaired - self.failed


def component_failures(
    state_log: list[tuple[float, str, str]],
    detections: list[tuple[float, str, str, bool]],
    failovers: list[tuple[str, float, float, float]],
    start: float,
    end: float,
) -> list[ComponentFailure]:
    """The failures that began in ``[start, end)``, in time order."""
    down: dict[str, float] = {}
    spans: list[tuple[str, float, float]] = []
    for t, name, state in state_log:
        if state == "down":
            down.setdefault(name, t)
        elif name in down:
            spans.append((name, down.pop(name), t))
    spans += [(name, t, math.nan) for name, t in down.items()]
    over = {(name, failed): ok for name, failed, _, ok in failovers}
    # Unhealthy verdicts per target, in time order (detections are appended in time order),
    # so each failure finds its first verdict by bisection, not by a scan of them all.
    times: dict[str, list[float]] = {}
    observers: dict[str, list[str]] = {}
    for t, who, target, healthy in detections:
        if not healthy:
            times.setdefault(target, []).append(t)
            observers.setdefault(target, []).append(who)
    found = []
    for name, failed, repaired in sorted(spans, key=lambda s: (s[1], s[0])):
        if not start <= failed < end:
            continue
        until = repaired if not math.isnan(repaired) else math.inf
        detected, by = math.nan, None
        seen = times.get(name, [])
        i = bisect.bisect_left(seen, failed)
        if i < len(seen) and seen[i] <= until:
            detected, by = seen[i], observers[name][i]
        found.append(
            ComponentFailure(
                name, failed, detected, by, over.get((name, failed), math.nan), repaired
            )
        )
    return found
