"""Pictures of one run's answers: the latency distribution, and recovery phases per incident."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from hasim.metrics.latency import LatencyHistogram
from hasim.metrics.result import RunResult
from hasim.plot._common import (
    _UNIT_WORDS,
    PHASE_COLOURS,
    _axes,
    _check_ax,
    _check_table,
    _error,
    _floor,
    _run,
    _shown,
    _time_unit,
)
from hasim.units import format_duration

# -- latency ------------------------------------------------------------------------------------


def latency_cdf(
    results: RunResult | Mapping[str, RunResult],
    *,
    ax: Axes | None = None,
    percentiles: Sequence[float] = (0.5, 0.95, 0.99, 0.999),
    log: bool = True,
) -> Axes:
    """The distribution of ok latencies: empirical CDF, percentiles marked.

    With ``record="aggregate"`` the CDF is the run's latency histogram's (bins
    1 % wide).

    Args:
        results: a run, or ``{name: run}`` to compare designs.
        ax: the Axes to draw on; None makes a figure.
        percentiles: the quantiles marked on each curve and listed in the legend,
            each in (0, 1).
        log: a log scale for latency.

    Returns:
        The Axes; its first ``len(results)`` lines are the CDFs.
    """
    fn = "latency_cdf"
    _check_ax(fn, ax)
    if isinstance(results, RunResult):
        runs = {"": results}
    elif isinstance(results, Mapping) and results:
        runs = {str(k): _run(fn, v, "results") for k, v in results.items()}
    else:
        raise _error(
            fn, "results", "a RunResult or a non-empty dict {name: RunResult}", _shown(results)
        )
    qs = list(percentiles)
    if not all(isinstance(q, float | int) and 0 < q < 1 for q in qs):
        raise _error(fn, "percentiles", "numbers in (0, 1)", percentiles)
    curves = {}
    for name, run in runs.items():
        x, y = _cdf(run)
        if not len(x):
            raise _error(fn, "results", "runs with ok requests", f"{name or 'the run'}: none")
        curves[name] = (x * 1e3, y)
    ax = _axes(ax, (8, 4.8))
    marks = ["o", "s", "^", "D", "v", "P"]
    lines = []
    for x, y in curves.values():
        if len(x) > 20000:  # thin the steps a screen cannot show; keep both ends exact
            keep = np.unique(np.r_[np.linspace(0, len(x) - 1, 20000).astype(int), len(x) - 1])
            x, y = x[keep], y[keep]
        (line,) = ax.plot(x, y, lw=1.6, drawstyle="steps-post")
        lines.append(line)
    parts_of = {}
    for (name, (x, y)), line in zip(curves.items(), lines, strict=True):
        parts = []
        for k, q in enumerate(qs):
            value = x[min(np.searchsorted(y, q - 1e-12), len(x) - 1)]  # rank ceil(q n)
            ax.plot(
                [value],
                [q],
                marker=marks[k % len(marks)],
                ls="",
                color=line.get_color(),
                mfc="white",
                ms=6,
            )
            parts.append(f"p{_q_name(q)} {_ms(value)}")
        parts_of[name] = " · ".join(parts) + " ms" if parts else "ok requests"
    for name, line in zip(curves, lines, strict=True):
        line.set_label(f"{name}: {parts_of[name]}" if name else parts_of[name])
    # One label per level on the right; levels closer than 3 % share it (p99 / p99.9).
    levels: list[list[float]] = []
    for q in sorted(qs):
        ax.axhline(q, color="0.6", lw=0.6, ls=":")
        if levels and q - levels[-1][0] < 0.03:
            levels[-1].append(q)
        else:
            levels.append([q])
    for group in levels:
        text = " / ".join(f"p{_q_name(q)}" for q in group)
        ax.annotate(
            text,
            (1.0, group[0]),
            xycoords=("axes fraction", "data"),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color="0.35",
        )
    if log:
        ax.set_xscale("log")
        # From the 1 % quantile: the fastest few answers would stretch the axis for nothing.
        low = min(x[min(np.searchsorted(y, 0.01), len(x) - 1)] for x, y in curves.values())
        high = max(x[-1] for x, _ in curves.values())
        ax.set_xlim(low / 2, high * 1.5)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"latency of ok requests (ms{', log scale' if log else ''})")
    ax.set_ylabel("share of ok requests answered within")
    ax.set_title("Latency distribution (CDF); markers at the percentiles")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def _cdf(run: RunResult) -> tuple[np.ndarray, np.ndarray]:
    """Latencies (s) and the share of ok requests at or below each."""
    if run.columns is not None:
        x = np.sort(run.ok_latencies())
        return x, np.arange(1, len(x) + 1) / max(len(x), 1)
    counts = np.asarray(run.histogram, dtype=float)
    if not counts.sum():
        return np.array([]), np.array([])
    cum = np.cumsum(counts) / counts.sum()
    used = np.nonzero(counts)[0]
    i = np.arange(used[0], used[-1] + 1)
    upper = LatencyHistogram.LOW * LatencyHistogram.GROWTH ** (i + 1)
    return upper, cum[i]


def _q_name(q: float) -> str:
    return f"{q * 100:.10g}"


def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


# -- recovery phases ----------------------------------------------------------------------------


def recovery_breakdown(
    result: RunResult | pd.DataFrame,
    *,
    ax: Axes | None = None,
    max_incidents: int = 30,
    unit: str = "auto",
    log: bool = False,
) -> Axes:
    """How each incident was spent: detecting, failing over, the rest of the recovery.

    One horizontal bar per incident, made of ``ttd`` (crash to the first
    "unhealthy" verdict), ``failover - ttd`` (to the first ok answer by a
    replacement) and ``ttr - failover`` (the rest, up to the system being up:
    usually the repair), labelled with the cause. A phase that does not apply
    (nothing watches the component: no ``ttd``) is left out and the rest starts
    earlier; phases are cut at the incident's end. An ongoing incident's bar runs
    to the end of the window (of a table: to the last time it holds), hatched.
    Detection and failover often take seconds and the repair an hour: the times
    of each are written beside its bar, and ``log=True`` shows the phases on a
    log scale.

    Args:
        result: a run, or its ``incidents()`` table.
        ax: the Axes to draw on; None makes a figure sized to the bars.
        max_incidents: the most bars drawn: the longest incidents, in time order.
        unit: the time axis's unit ("auto" from the longest bar, "ms", "s", "min",
            "h", "d").
        log: a log time axis (each bar then starts at a tenth of the shortest phase).

    Returns:
        The Axes; a run without incidents gives an empty one saying so.
    """
    fn = "recovery_breakdown"
    _check_ax(fn, ax)
    if isinstance(result, RunResult):
        table, until = result.incidents(), result.until
    elif isinstance(result, pd.DataFrame):
        columns = ["start", "end", "ttr", "ongoing", "cause", "ttd", "failover"]
        _check_table(fn, result, columns, "RunResult.incidents()")
        table = result
        until = float(np.nanmax(np.r_[table["end"].to_numpy(dtype=float), table["start"]]))
    else:
        raise _error(fn, "result", "a RunResult or its incidents() DataFrame", _shown(result))
    if isinstance(max_incidents, bool) or not isinstance(max_incidents, int) or max_incidents < 1:
        raise _error(fn, "max_incidents", "an integer >= 1", max_incidents)
    total = len(table)
    table = table.assign(_length=np.where(table["ongoing"], until - table["start"], table["ttr"]))
    if total > max_incidents:
        table = table.nlargest(max_incidents, "_length").sort_index()
    ax = _axes(ax, (9, 1.5 + 0.32 * max(len(table), 2)))
    if not total:
        ax.text(
            0.5,
            0.5,
            "no incidents in the window",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=11,
            color="0.4",
        )
        ax.set_axis_off()
        return ax
    if not isinstance(log, bool):
        raise _error(fn, "log", "True or False", log)
    unit, scale = _time_unit(fn, unit, float(table["_length"].max()))
    phases = table[["ttd", "failover", "_length"]].to_numpy(dtype=float)
    origin = _floor(phases) if log else 0.0  # where bars start on a log axis
    longest = float(table["_length"].max())
    labels = []
    for row_i, (k, inc) in enumerate(table.iterrows()):
        length = float(inc["_length"])
        cut, notes = 0.0, []
        for phase, ends, note in (
            ("detect", inc["ttd"], "detected"),
            ("fail over", inc["failover"], "failed over"),
        ):
            if math.isfinite(ends) and ends > cut:
                to = min(float(ends), length)
                if to > cut:
                    left = max(cut, origin)
                    ax.barh(
                        row_i,
                        (to - left) / scale,
                        left=left / scale,
                        height=0.65,
                        color=PHASE_COLOURS[phase],
                        gid=f"{k}/{phase}",
                    )
                    notes.append(f"{note} at {format_duration(float(ends))}")
                cut = max(cut, to)
        if length > cut:
            left = max(cut, origin)
            ax.barh(
                row_i,
                (length - left) / scale,
                left=left / scale,
                height=0.65,
                color=PHASE_COLOURS["rest"],
                hatch="//" if inc["ongoing"] else None,
                edgecolor="white" if inc["ongoing"] else None,
                gid=f"{k}/rest",
            )
        text = format_duration(length) + (" (ongoing)" if inc["ongoing"] else "")
        text += f" ({', '.join(notes)})" if notes and not log else ""  # a log axis shows them
        # Beside the bar, or inside a long one (in white) so that it stays in the axes.
        inside = not log and length > 0.5 * longest
        ax.annotate(
            text,
            (length / scale, row_i),
            xytext=(-4 if inside else 4, 0),
            textcoords="offset points",
            va="center",
            ha="right" if inside else "left",
            fontsize=7,
            color="white" if inside else "0.3",
        )
        labels.append(f"#{k} {inc['cause'] if inc['cause'] is not None else '?'}")
    ax.set_yticks(range(len(table)), labels, fontsize=8 if len(table) > 12 else 9)
    ax.set_ylim(len(table) - 0.5, -0.5)
    if log:
        ax.set_xscale("log")
        ax.set_xlim(origin / scale, longest / scale * 8)
    else:
        ax.set_xlim(0, longest / scale * 1.05)
    ax.set_xlabel(f"time since the incident began ({_UNIT_WORDS[unit]})")
    ax.set_ylabel("incident, cause")
    shown = f"the {len(table)} longest of {total}" if total > len(table) else f"{total}"
    ax.set_title(f"Recovery of {shown} incident{'s' * (total != 1)}: where the downtime went")
    ax.grid(True, axis="x", alpha=0.3)
    handles = [
        Patch(color=PHASE_COLOURS["detect"], label="detect (to the unhealthy verdict)"),
        Patch(color=PHASE_COLOURS["fail over"], label="fail over (to an ok answer elsewhere)"),
        Patch(color=PHASE_COLOURS["rest"], label="rest, to the system up (repair)"),
    ]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax
