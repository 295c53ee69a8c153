"""Availability over finite windows: the system's state at given times, downtime per window.

The long-run uptime of a run is one number; an SLO is judged per window (a month,
a quarter). These read a run's system log (either kind: the general engine's list
or the lean engines' compact log) and answer per window or per instant.
"""

from __future__ import annotations

import numpy as np

from hasim.errors import config_error

__all__ = ["system_arrays", "up_at", "window_downtime"]


def system_arrays(system_log) -> tuple[np.ndarray, np.ndarray]:
    """The log's transition times and states (True: up) as arrays, one entry per change."""
    if hasattr(system_log, "arrays"):
        times, ups, _, _ = system_log.arrays()
    else:
        times = np.array([t for t, _, _ in system_log], dtype=float)
        ups = np.array([bool(up) for _, up, _ in system_log], dtype=bool)
    return times, ups


def up_at(system_log, times) -> np.ndarray:
    """Whether the system was up at each of ``times`` (a state holds from its change on)."""
    t, ups = system_arrays(system_log)
    at = np.asarray(times, dtype=float)
    if not t.size:
        return np.ones(at.shape, dtype=bool)
    i = np.searchsorted(t, at, side="right") - 1
    return np.where(i >= 0, ups[np.clip(i, 0, None)], True)


def window_downtime(system_log, start: float, end: float, window: float) -> np.ndarray:
    """Seconds down in each whole window ``[start + i w, start + (i + 1) w)`` of ``[start, end]``.

    A trailing part shorter than ``window`` is left out.
    """
    if not window > 0:
        raise config_error("RunResult.windows", "window", "a duration > 0", window)
    count = int((end - start) // window)
    if count < 1:
        raise config_error(
            "RunResult.windows", "window", f"at most the measured window ({end - start:g} s)",
            window,
        )  # fmt: skip
    edges = start + window * np.arange(count + 1)
    t, ups = system_arrays(system_log)
    # Down time before each edge: the integral of the down indicator, piecewise linear.
    t = np.concatenate([t, [edges[-1]]]) if t.size else np.array([0.0, edges[-1]])
    ups = ups if ups.size else np.array([True])
    durations = np.diff(t)
    down_cum = np.concatenate([[0.0], np.cumsum(np.where(ups[: durations.size], 0.0, durations))])
    i = np.clip(np.searchsorted(t, edges, side="right") - 1, 0, ups.size - 1)
    before = down_cum[i] + np.where(ups[i], 0.0, edges - t[i])
    return np.diff(before)
