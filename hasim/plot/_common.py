"""What every picture shares: colours, units, axes, checks, and ``save``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from hasim.errors import config_error
from hasim.experiment.results import ExperimentResult
from hasim.metrics.result import RunResult

#: Colours of component states and recovery phases, the same in every picture.
STATE_COLOURS = {"up": "#cde8c8", "degraded": "#f2a33a", "down": "#d64541"}
SYSTEM_COLOURS = {"up": "#7dbb7d", "down": "#b22222"}
PHASE_COLOURS = {"detect": "#f2a33a", "fail over": "#4c78a8", "rest": "#d64541"}

_TIME_UNITS = {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_UNIT_WORDS = {"ms": "ms", "s": "seconds", "min": "minutes", "h": "hours", "d": "days"}
_SHARES = {"availability": "1 − availability", "uptime": "1 − uptime"}
_COMPLEMENTS = {"unavailability", "downtime_fraction"}
#: Metrics where a larger value is better (the rest: smaller is better).
_HIGHER_IS_BETTER = {"availability", "nines", "uptime", "uptime_nines", "throughput", "ok"}
_METRIC_LABELS = {
    "availability": "request availability (ok / answered)",
    "unavailability": "request unavailability (1 − availability)",
    "uptime": "uptime (share of time up)",
    "downtime_fraction": "downtime fraction (1 − uptime)",
    "nines": "nines of availability",
    "incidents": "incidents per run",
    "mttr": "mean time to recover",
    "mttd": "mean time to detect",
    "failover_time": "mean failover time",
    "throughput": "throughput (ok requests/s)",
    "downtime": "downtime per run",
}


# -- helpers ------------------------------------------------------------------------------------


def _error(function: str, param: str, allowed: str, value: Any) -> Exception:
    return config_error(f"hasim.plot.{function}", param, allowed, value)


def _shown(value: Any) -> Any:
    """A short stand-in for a big object in an error message."""
    if isinstance(value, RunResult | ExperimentResult | pd.DataFrame):
        return f"<{type(value).__name__}>"
    return value


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _check_ax(function: str, ax: Any) -> None:
    if ax is not None and not isinstance(ax, Axes):
        raise _error(function, "ax", "a matplotlib Axes or None", ax)


def _time_unit(function: str, unit: str, span: float) -> tuple[str, float]:
    """``(unit, seconds per unit)``: the unit given, or for "auto" the one ``span`` reads in."""
    if unit == "auto":
        for name, limit in (("ms", 2.0), ("s", 180.0), ("min", 3 * 3600.0), ("h", 3 * 86400.0)):
            if span <= limit:
                return name, _TIME_UNITS[name]
        return "d", _TIME_UNITS["d"]
    if unit not in _TIME_UNITS:
        raise _error(function, "unit", f"'auto' or one of {list(_TIME_UNITS)}", unit)
    return unit, _TIME_UNITS[unit]


def _run(function: str, result: Any, param: str = "result") -> RunResult:
    if not isinstance(result, RunResult):
        raise _error(function, param, "a RunResult (what Simulation.run returns)", _shown(result))
    return result


def _metric_label(metric: str, unit: str | None = None) -> str:
    text = _METRIC_LABELS.get(metric, metric.replace("_", " "))
    return f"{text} ({_UNIT_WORDS[unit]})" if unit else text


def _title(metric: str) -> str:
    text = _metric_label(metric).split(" (")[0]
    return text[0].upper() + text[1:]


def _errors(mean: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Error-bar lengths below and above; an interval that does not exist draws none."""
    lower = np.nan_to_num(mean - lo, nan=0.0, posinf=0.0)
    upper = np.nan_to_num(hi - mean, nan=0.0, posinf=0.0)
    return np.clip(np.array([lower, upper]), 0.0, None)


def _to_nines(u: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log10(np.clip(u, 1e-300, None))


def _from_nines(n: Any) -> Any:
    return 10.0 ** -np.asarray(n, dtype=float)


def _shares(function: str, metric: str) -> Callable[[Any], Any]:
    """For ``nines=True``: the map from ``metric`` to its unavailability (1 - A)."""
    if metric in _SHARES:
        return lambda v: 1.0 - np.asarray(v, dtype=float)
    if metric in _COMPLEMENTS:
        return lambda v: np.asarray(v, dtype=float)
    allowed = (
        f"used with a metric that is a share near 1 or 0 ({sorted([*_SHARES, *_COMPLEMENTS])})"
    )
    raise _error(function, "nines", allowed, f"True with metric={metric!r}")


def _nines_axis(ax: Axes, which: str, metric: str) -> None:
    """Log scale of 1 - A, better to the top (or right), with a secondary axis in nines."""
    name = _SHARES.get(metric, metric.replace("_", " "))
    if which == "y":
        ax.set_yscale("log")
        ax.invert_yaxis()
        ax.set_ylabel(f"{name} (log scale, better ↑)")
        second = ax.secondary_yaxis("right", functions=(_to_nines, _from_nines))
    else:
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel(f"{name} (log scale, better →)")
        second = ax.secondary_xaxis("top", functions=(_to_nines, _from_nines))
    # Ticks at round numbers of nines over the data's range (a log locator would write 10^0).
    limits = _to_nines(np.array(ax.get_ylim() if which == "y" else ax.get_xlim()))
    low, high = float(np.nanmin(limits)), float(np.nanmax(limits))
    step = next((s for s in (0.1, 0.2, 0.25, 0.5, 1, 2, 5) if (high - low) / s <= 8), 10)
    ticks = np.arange(math.ceil(low / step) * step, high + 1e-9, step)
    second.set_ticks(ticks, [f"{t:g}" for t in np.round(ticks, 2)])
    (second.yaxis if which == "y" else second.xaxis).set_minor_locator(NullLocator())
    second.set_ylabel("nines") if which == "y" else second.set_xlabel("nines")


def _floor(values: np.ndarray) -> float:
    """A positive floor for a log axis: a decade under the smallest positive value."""
    positive = values[np.isfinite(values) & (values > 0)]
    return float(positive.min()) / 10 if positive.size else 1e-6


def _summary(function: str, data: Any, metric: str, by: list[str]) -> pd.DataFrame:
    """The summary of ``metric`` grouped by ``by`` of an ExperimentResult."""
    metrics = [c for c in data.runs.columns if c not in {"design", "point", "params", "rep"}]
    metrics = [c for c in metrics if c not in data.grid_columns and c != "seed"]
    if metric not in metrics:
        raise _error(function, "metric", f"one of the runs table's metrics {metrics}", metric)
    if not len(data.runs):
        raise _error(function, "data", "an ExperimentResult with finished runs", repr(data))
    return data.summary(by=by, metrics=[metric])


def _check_table(function: str, frame: pd.DataFrame, columns: Sequence[str], how: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        allowed = f"a DataFrame with columns {list(columns)} ({how})"
        raise _error(function, "data", allowed, f"a DataFrame with columns {list(frame.columns)}")


# -- files --------------------------------------------------------------------------------------


def save(what: Axes | Figure | Sequence[Axes], path: str | Path, *, dpi: int = 120) -> Path:
    """Write the figure of an Axes (or of an array of them, or a Figure) to a file.

    Args:
        what: what a plotting function returned, or a Figure.
        path: the file; its suffix picks the format (``.png``, ``.svg``, ``.pdf``, ...).
        dpi: dots per inch for raster formats.

    Returns:
        The path written.
    """
    if isinstance(what, Figure):
        figure = what
    elif isinstance(what, Axes):
        figure = what.figure
    elif isinstance(what, Sequence | np.ndarray) and len(what) and isinstance(what[0], Axes):
        figure = what[0].figure
    else:
        raise _error("save", "what", "an Axes, an array of Axes or a Figure", what)
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    return path
