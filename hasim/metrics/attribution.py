"""Where the downtime and the failed requests went, and the error budget they spent.

* Each second of system downtime belongs to the incident it is part of, and
  so to the incident's ``cause``: the component whose change took the system
  down (for a k-of-n system, the failure that crossed the threshold).
* Each failed request belongs to the component that gave its final answer
  (``responder``): to that component's **failure** if it was down when the
  answer came (refused, or crashed with the request in flight), to
  **refused** if it was up and turned the request away (a full queue, a
  balancer with no healthy backend), or to **no answer** when the client
  gave up with no answer at all (``timeout``).
* An availability objective (SLO) of ``slo`` allows ``(1 - slo)`` of the
  requests to fail: that is the error budget. ``error_budget`` shows what
  share of it each cause spent; ``budget_burn`` how fast it burned over time
  (a burn rate of 1 spends exactly the budget over the window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hasim.errors import check_probability, config_error

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["downtime_by_cause", "failed_by_cause", "error_budget", "budget_burn"]


def downtime_by_cause(
    system_log: list[tuple[float, bool, str | None]], start: float, end: float
) -> pd.DataFrame:
    """Seconds of system downtime in ``[start, end]`` per cause.

    Columns: cause, incidents (down intervals overlapping the window),
    downtime (s), share (of all downtime).
    """
    import pandas as pd

    totals: dict[str | None, list[float]] = {}
    down_since, cause = None, None
    for t, up, who in [*system_log, (end, True, None)]:
        if not up and down_since is None:
            down_since, cause = t, who
        elif up and down_since is not None:
            seconds = min(t, end) - max(down_since, start)
            if seconds > 0:
                entry = totals.setdefault(cause, [0, 0.0])
                entry[0] += 1
                entry[1] += seconds
            down_since = None
    frame = pd.DataFrame(
        [(c, n, s) for c, (n, s) in totals.items()], columns=["cause", "incidents", "downtime"]
    )
    total = frame["downtime"].sum()
    frame["share"] = frame["downtime"] / total if total > 0 else 0.0
    return frame.sort_values("downtime", ascending=False, ignore_index=True)


def failed_by_cause(failed_by: dict[tuple[str, str | None, bool], int]) -> pd.DataFrame:
    """Failed requests per cause (see the module docstring).

    Columns: component, cause (failure, refused or no answer), outcome,
    requests, share (of all failed requests).
    """
    import pandas as pd

    rows = []
    for (outcome, responder, was_down), count in failed_by.items():
        if responder is None:
            cause = "no answer"
        else:
            cause = "failure" if was_down else "refused"
        rows.append((responder, cause, outcome, count))
    # (outcome, responder, was_down) -> (responder, cause, outcome) is one to one: no grouping.
    frame = pd.DataFrame(rows, columns=["component", "cause", "outcome", "requests"], dtype=object)
    frame["requests"] = frame["requests"].astype("int64")
    total = frame["requests"].sum()
    frame["share"] = frame["requests"] / total if total else 0.0
    return frame.sort_values("requests", ascending=False, ignore_index=True)


def error_budget(failed: pd.DataFrame, answered: int, slo: float) -> pd.DataFrame:
    """The share of the error budget each cause of failed requests spent.

    Args:
        failed: ``failed_by_cause(...)``.
        answered: ok + failed requests in the window.
        slo: the availability objective, e.g. 0.999.

    Returns:
        ``failed`` with ``budget_spent``: requests / ((1 - slo) * answered);
        their sum above 1 means the objective was missed.
    """
    slo = check_probability("error_budget", "slo", slo)
    if slo >= 1.0:
        raise config_error("error_budget", "slo", "a probability < 1 (1 leaves no budget)", slo)
    budget = (1.0 - slo) * answered
    frame = failed.copy()
    frame["budget_spent"] = frame["requests"] / budget if budget > 0 else float("nan")
    return frame


def budget_burn(series: pd.DataFrame, slo: float) -> pd.DataFrame:
    """Burn rate of the error budget over time, from ``RunResult.series()``.

    Columns: start, burn_rate (failed share of the bucket / (1 - slo)),
    budget_spent (cumulative, as a share of the budget of the whole window).
    """
    slo = check_probability("budget_burn", "slo", slo)
    if slo >= 1.0:
        raise config_error("budget_burn", "slo", "a probability < 1 (1 leaves no budget)", slo)
    answered = series["ok"] + series["failed"]
    frame = series[["start"]].copy()
    frame["burn_rate"] = (series["failed"] / answered.where(answered > 0)) / (1.0 - slo)
    total_budget = (1.0 - slo) * answered.sum()
    frame["budget_spent"] = series["failed"].cumsum() / total_budget if total_budget else 0.0
    return frame
