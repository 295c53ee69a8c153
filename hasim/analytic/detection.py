"""First-order formulas for health-check detection and the availability it costs.

An active health check probes a target every ``interval`` seconds and declares
it unhealthy after ``unhealthy_after`` (N) failed probes in a row. A crash
falls at a uniform phase within the probe cycle, so:

- a target that refuses at once (crashed, connection refused) is detected
  after ``(N - 1) I + d + U I``, ``U ~ Uniform(0, 1]``: mean ``(N - 1/2) I + d``
  with one-way latency ``d``;
- a target that hangs (no answer: stalled, cut off) fails probes only by their
  ``timeout`` T: mean ``(N - 1/2) I + T - d``.

While a failed backend is undetected, a balancer still sends it its share of the
traffic. With ``n`` backends, each failing once per cycle ``MTTF + MTTR``, the
requests lost to detection are, to first order (one backend in trouble at a
time), ``(N - 1/2) I / (MTTF + MTTR)`` of all requests, whatever ``n``: each
backend fails ``n`` times as often as the pool has backends, and gets ``1/n``
of the traffic. These are the formulas ``tests/validation/test_detection.py``
checks the simulator against.
"""

from __future__ import annotations

from typing import Any

from hasim.errors import check_int, check_nonnegative, check_positive, config_error

__all__ = [
    "detection_time",
    "detection_bounds",
    "detection_unavailability",
    "check_detection_time",
]


def _check(owner: str, interval: float, unhealthy_after: int, latency: float) -> tuple:
    i = check_positive(owner, "interval", interval)
    n = check_int(owner, "unhealthy_after", unhealthy_after, minimum=1)
    d = check_nonnegative(owner, "latency", latency)
    return i, n, d


def _hang_delay(owner: str, timeout: float | None, latency: float) -> float:
    """What a hung target adds over a dead one: ``T - 2 d`` (None: the target refuses)."""
    if timeout is None:
        return 0.0
    t = check_positive(owner, "timeout", timeout)
    if t <= 2 * latency:
        raise config_error(owner, "timeout", f"a number > twice the latency ({2 * latency:g})", t)
    return t - 2 * latency


def detection_time(
    interval: float,
    unhealthy_after: int = 1,
    *,
    latency: float = 0.0,
    timeout: float | None = None,
) -> float:
    """Mean time from a failure to the health check's "unhealthy" verdict.

    Args:
        interval: seconds between probes of the target (> 0).
        unhealthy_after: failed probes in a row for the verdict (integer >= 1).
        latency: one-way network latency between checker and target, seconds.
        timeout: None for a target that refuses probes at once (crashed); the
            probe timeout, seconds, for one that hangs (stalled, partitioned).

    Returns:
        ``(N - 1/2) I + d``, or ``(N - 1/2) I + T - d`` for a hung target.
    """
    owner = "detection_time"
    i, n, d = _check(owner, interval, unhealthy_after, latency)
    return (n - 0.5) * i + d + _hang_delay(owner, timeout, d)


def detection_bounds(
    interval: float,
    unhealthy_after: int = 1,
    *,
    latency: float = 0.0,
    timeout: float | None = None,
) -> tuple[float, float]:
    """Earliest and latest time to detect (uniform between them).

    ``[(N - 1) I, N I]`` plus the delays of :func:`detection_time`; same arguments.
    """
    owner = "detection_bounds"
    i, n, d = _check(owner, interval, unhealthy_after, latency)
    extra = d + _hang_delay(owner, timeout, d)
    return (n - 1) * i + extra, n * i + extra


def detection_unavailability(
    mttf: float,
    mttr: float,
    interval: float,
    unhealthy_after: int = 1,
    *,
    latency: float = 0.0,
    timeout: float | None = None,
) -> float:
    """Share of requests a balanced pool loses while failed backends go undetected.

    First order: ``detection_time / (MTTF + MTTR)``, the same for any number of
    backends sharing the traffic evenly; valid while the time to detect is far
    below MTTR (every failure is detected before its repair) and one backend is
    in trouble at a time. Requests in service on a backend when it crashes, and
    those lost when no backend is healthy, come on top.

    Args:
        mttf: a backend's mean time to failure, seconds.
        mttr: its mean time to repair, seconds.
        interval: seconds between probes (as for :func:`detection_time`).
        unhealthy_after: failed probes in a row for the verdict.
        latency: one-way latency between checker and backend, seconds.
        timeout: None for crashes (refused at once); the probe timeout for hangs.
    """
    owner = "detection_unavailability"
    f = check_positive(owner, "mttf", mttf)
    r = check_positive(owner, "mttr", mttr)
    i, n, d = _check(owner, interval, unhealthy_after, latency)
    ttd = (n - 0.5) * i + d + _hang_delay(owner, timeout, d)
    return ttd / (f + r)


def check_detection_time(check: Any, *, hung: bool = False, latency: float = 0.0) -> float:
    """Mean time for a ``HealthCheck`` (a preset, say) to detect a failed target.

    ``detection_time`` with the check's own interval ``I``, threshold ``N`` and
    timeout ``T``: ``(N - 1/2) I + d`` for a target that refuses probes at once (a
    crashed process: connection refused), ``(N - 1/2) I + T - d`` for one whose
    probes time out (a hung process, a host gone, a partition). ``hasim.HealthCheck``
    spreads only the first probe of each target (``jitter``); every later interval is
    exactly ``I``, so the formula holds as it is.

    Args:
        check: a ``hasim.HealthCheck``.
        hung: False for a crash that refuses probes; True for one that times them out.
        latency: one-way network latency between checker and target, seconds.

    Example:
        >>> import hasim as hs
        >>> check_detection_time(hs.HealthCheck.preset("alb")), check_detection_time(
        ...     hs.HealthCheck.preset("alb"), hung=True)
        (45.0, 50.0)
    """
    from hasim.health import HealthCheck

    if not isinstance(check, HealthCheck):
        raise config_error("check_detection_time", "check", "a hasim.HealthCheck", check)
    timeout = check.timeout if hung else None
    return detection_time(check.interval, check.unhealthy_after, latency=latency, timeout=timeout)
