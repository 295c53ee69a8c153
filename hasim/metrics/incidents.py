"""Intervals from state logs: component states, system up/down, incidents.

All functions take logs of transitions from time 0 and clip what they
return to the measured window ``[start, end]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Incident", "incidents", "incident_times", "state_intervals", "time_down"]


@dataclass(frozen=True)
class Incident:
    """A maximal interval in which the system is down.

    ``end`` is NaN for an incident still going on when the run ended
    (``ongoing``); its time to recover is then unknown (right-censored) and
    it is left out of MTTR. ``cause`` names the component whose change took
    the system down, ``restored_by`` the one whose change brought it back.
    """

    start: float
    end: float
    cause: str | None
    restored_by: str | None

    @property
    def ongoing(self) -> bool:
        """True if the run ended during the incident."""
        return math.isnan(self.end)

    @property
    def ttr(self) -> float:
        """Time to recover (NaN while ongoing)."""
        return self.end - self.start


def incidents(
    system_log: list[tuple[float, bool, str | None]], start: float, end: float
) -> list[Incident]:
    """The incidents that begin in ``[start, end)``.

    An incident that began before ``start`` (in the warm-up) belongs to the
    warm-up: it is not listed, though its downtime inside the window still
    counts against uptime (see ``time_down``).
    """
    if hasattr(system_log, "arrays"):  # a compact log (hasim.lean): the same, on arrays
        starts, ends, causes, restored = _incident_arrays(system_log, start, end)
        return [
            Incident(s, e, c, r)
            for s, e, c, r in zip(starts.tolist(), ends.tolist(), causes, restored, strict=True)
        ]
    found = []
    down_since = None
    cause = None
    for t, up, who in system_log:
        if t > end:
            break
        if not up and down_since is None:
            down_since, cause = t, who
        elif up and down_since is not None:
            # An instant down-and-up (a repair that takes 0 s) is no interval.
            if down_since >= start and t > down_since:
                found.append(Incident(down_since, t, cause, who))
            down_since = None
    if down_since is not None and start <= down_since < end:
        found.append(Incident(down_since, math.nan, cause, None))
    return found


def incident_times(
    system_log: list[tuple[float, bool, str | None]], start: float, end: float
) -> tuple[np.ndarray, np.ndarray]:
    """The starts and ends (NaN: ongoing) of ``incidents(...)``, as arrays."""
    if hasattr(system_log, "arrays"):
        starts, ends, _, _ = _incident_arrays(system_log, start, end)
        return starts, ends
    found = incidents(system_log, start, end)
    return np.array([i.start for i in found]), np.array([i.end for i in found])


def _pairs(system_log, start: float, end: float):
    """A compact log's down entries and the up entry that ends each (NaN: none)."""
    times, ups, codes, names = system_log.arrays()
    keep = np.ones(times.size, dtype=bool)  # the first of each run of equal states
    keep[1:] = ups[1:] != ups[:-1]
    times, ups, codes = times[keep], ups[keep], codes[keep]
    down = np.flatnonzero(~ups)
    nxt = down + 1
    closed = nxt < times.size
    t_up = np.full(down.size, np.nan)
    t_up[closed] = times[nxt[closed]]
    who_up = np.zeros(down.size, dtype=np.int32)
    who_up[closed] = codes[nxt[closed]]
    return times[down], t_up, codes[down], who_up, names


def _incident_arrays(system_log, start: float, end: float):
    """``incidents`` on a compact log: starts, ends (NaN: ongoing), causes, restorers."""
    t_down, t_up, cause, who, names = _pairs(system_log, start, end)
    closed = ~np.isnan(t_up)
    with np.errstate(invalid="ignore"):
        keep = np.where(
            closed, (t_down >= start) & (t_up > t_down), (start <= t_down) & (t_down < end)
        )
    ends = t_up[keep]
    restored = [
        names[c] if done else None
        for c, done in zip(who[keep].tolist(), closed[keep].tolist(), strict=True)
    ]
    return t_down[keep], ends, [names[c] for c in cause[keep].tolist()], restored


def time_down(system_log: list[tuple[float, bool, str | None]], start: float, end: float) -> float:
    """Seconds of ``[start, end]`` in which the system was down."""
    if hasattr(system_log, "arrays"):
        # The loop below on arrays: the same terms, summed in the same order (cumsum
        # adds sequentially), so the same float.
        t_down, t_up, _, _, _ = _pairs(system_log, start, end)
        closes = np.where(np.isnan(t_up), end, np.minimum(t_up, end))
        terms = np.maximum(0.0, closes - np.maximum(t_down, start))
        return float(np.cumsum(terms)[-1]) if terms.size else 0.0
    total = 0.0
    down_since = None
    for t, up, _ in system_log:
        if not up and down_since is None:
            down_since = t
        elif up and down_since is not None:
            total += max(0.0, min(t, end) - max(down_since, start))
            down_since = None
    if down_since is not None:
        total += max(0.0, end - max(down_since, start))
    return total


def state_intervals(
    state_log: list[tuple[float, str, str]], start: float, end: float
) -> list[tuple[str, str, float, float]]:
    """``(component, state, from, to)`` for every state interval, clipped to the window."""
    current: dict[str, tuple[str, float]] = {}
    rows = []
    for t, name, state in state_log:
        if name in current:
            prev_state, since = current[name]
            if prev_state == state:
                continue
            lo, hi = max(since, start), min(t, end)
            if hi > lo:
                rows.append((name, prev_state, lo, hi))
        current[name] = (state, t)
    for name, (state, since) in current.items():
        lo = max(since, start)
        if end > lo:
            rows.append((name, state, lo, end))
    rows.sort(key=lambda row: (row[2], row[0]))
    return rows
