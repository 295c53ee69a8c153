"""Pictures of experiments: a metric against a parameter, designs side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from hasim.experiment.results import ExperimentResult
from hasim.metrics.result import DURATION_COLUMNS
from hasim.plot._common import (
    _COMPLEMENTS,
    _HIGHER_IS_BETTER,
    _SHARES,
    _UNIT_WORDS,
    _axes,
    _check_ax,
    _check_table,
    _error,
    _errors,
    _floor,
    _metric_label,
    _nines_axis,
    _shares,
    _shown,
    _summary,
    _time_unit,
    _title,
)
from hasim.units import format_duration

# -- availability against a parameter -----------------------------------------------------------


def availability_curve(
    data: ExperimentResult | pd.DataFrame,
    x: str,
    metric: str = "availability",
    *,
    by: str | Sequence[str] | None = None,
    ax: Axes | None = None,
    nines: bool = False,
    theory: Callable[[float], float] | Mapping[str, Callable[[float], float]] | None = None,
    x_unit: str | None = None,
    xlabel: str | None = None,
) -> Axes:
    """A metric against a parameter: one line per design, its 95 % interval as a band.

    Args:
        data: an ExperimentResult with ``x`` in its grid, or a summary DataFrame
            (``ExperimentResult.summary()``: columns ``x``, ``metric`` and, for the
            bands, ``metric_lo`` and ``metric_hi``).
        x: the parameter on the x axis; a grid parameter that is also a metric
            (``mttr``) is found in its ``param_mttr`` column.
        metric: the metric on the y axis.
        by: the columns that tell the lines apart. Default: the design and every
            other grid parameter of an ExperimentResult (so no line averages over a
            parameter); ``"design"`` (if present) for a DataFrame.
        ax: the Axes to draw on; None makes a figure.
        nines: draw the unavailability (1 - A, for availability and uptime and
            their complements) on a log axis, better at the top, with a second
            axis in nines, -log10(1 - A): what separates 99.9 % from 99.99 %.
        theory: the expected value as a function of x (in the data's units), one
            for all or a dict ``{design: function}``; drawn dashed.
        x_unit: x is a duration in seconds shown in this unit: "ms", "s", "min",
            "h", "d" or "auto" (the unit that reads best); None shows the values as
            they are.
        xlabel: the x axis's label (default: ``x`` and its unit).

    Returns:
        The Axes (its ``lines`` are the designs' lines, then the theory's).
    """
    fn = "availability_curve"
    _check_ax(fn, ax)
    if isinstance(data, ExperimentResult):
        columns = dict(zip(data.grid_names, data.grid_columns, strict=True))
        columns.update({c: c for c in data.grid_columns})
        if x not in columns:
            raise _error(fn, "x", f"a grid parameter of the experiment {data.grid_names}", x)
        xcol = columns[x]
        if by is None:
            others = [c for c in data.grid_columns if c != xcol and data.runs[c].nunique() > 1]
            groups = ["design", *others]
        else:
            groups = [by] if isinstance(by, str) else list(by)
            unknown = [g for g in groups if g not in data.runs.columns]
            if unknown:
                raise _error(fn, "by", f"columns of the runs table {list(data.runs.columns)}", by)
        frame = _summary(fn, data, metric, [*groups, xcol])
    elif isinstance(data, pd.DataFrame):
        xcol = x if x in data.columns else f"param_{x}"
        _check_table(fn, data, [xcol if xcol in data.columns else x, metric], "a summary")
        if by is None:
            groups = ["design"] if "design" in data.columns else []
        else:
            groups = [by] if isinstance(by, str) else list(by)
            _check_table(fn, data, groups, "the by columns")
        frame = data
    else:
        raise _error(fn, "data", "an ExperimentResult or a summary DataFrame", _shown(data))
    if frame.duplicated([*groups, xcol]).any():
        allowed = "columns that give one row per line and x value (more by columns)"
        raise _error(fn, "by", allowed, by if by is not None else groups)
    if not isinstance(nines, bool):
        raise _error(fn, "nines", "True or False", nines)
    transform = _shares(fn, metric) if nines else (lambda v: np.asarray(v, dtype=float))
    if not (
        theory is None
        or callable(theory)
        or (isinstance(theory, Mapping) and all(callable(f) for f in theory.values()))
    ):
        raise _error(fn, "theory", "a function of x or a dict {line: function}", theory)

    raw_x = frame[xcol]
    numeric = pd.api.types.is_numeric_dtype(raw_x) and not pd.api.types.is_bool_dtype(raw_x)
    if x_unit is not None and not numeric:
        raise _error(fn, "x_unit", "None for a parameter that is not a number", x_unit)
    if numeric:
        finite = raw_x.to_numpy(dtype=float)
        span = float(np.nanmax(np.abs(finite))) if len(finite) else 1.0
        unit, scale = _time_unit(fn, x_unit, span) if x_unit is not None else (None, 1.0)
        position = {v: float(v) / scale for v in raw_x.unique()}
    else:
        unit, scale = None, 1.0
        position = {v: float(i) for i, v in enumerate(dict.fromkeys(raw_x))}
    y_unit, y_scale = None, 1.0
    if metric in DURATION_COLUMNS and not nines:
        y_unit, y_scale = _time_unit(fn, "auto", float(np.nanmax(np.abs(frame[metric]))))

    ax = _axes(ax, (7.5, 4.5))
    has_band = f"{metric}_lo" in frame.columns and f"{metric}_hi" in frame.columns
    colours: dict[str, Any] = {}
    values = []
    grouped = frame.groupby(groups, sort=False) if groups else [((), frame)]
    for key, rows in grouped:
        key = key if isinstance(key, tuple) else (key,)
        rows = rows.assign(_x=rows[xcol].map(position)).sort_values("_x")
        name = _group_label(groups, key)
        y = transform(rows[metric]) / y_scale
        (line,) = ax.plot(rows["_x"], y, marker="o", ms=4, lw=1.8, label=name or metric)
        colours[name] = line.get_color()
        values.append(y)
        if has_band:
            lo, hi = transform(rows[f"{metric}_lo"]) / y_scale, transform(rows[f"{metric}_hi"])
            hi = hi / y_scale
            lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)  # 1 - A swaps the ends
            if metric in _SHARES or metric in _COMPLEMENTS:  # a share is in [0, 1]
                lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
            if nines:
                lo = np.where(lo > 0, lo, _floor(np.concatenate(values)))
            lo, hi = np.nan_to_num(lo, posinf=np.nan), np.nan_to_num(hi, posinf=np.nan)
            ax.fill_between(rows["_x"], lo, hi, color=line.get_color(), alpha=0.18, lw=0)
    if theory is not None:
        _theory(
            fn,
            ax,
            theory,
            colours,
            sorted(position, key=position.get),
            numeric,
            scale,
            transform,
            y_scale,
        )
    if numeric and len(position) > 2:
        ends = np.array(sorted(position.values()))
        if ends[0] > 0 and ends[-1] / ends[0] >= 50:
            ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(list(position.values()), [str(v) for v in position])
    elif all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in position):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel or (f"{x} ({_UNIT_WORDS[unit]})" if unit else x))
    if nines:
        _nines_axis(ax, "y", metric)
    else:
        ax.set_ylabel(_metric_label(metric, y_unit))
    ax.set_title(f"{_title(metric)} against {x}, 95 % intervals")
    ax.grid(True, which="major", alpha=0.3)
    if len(ax.lines) > 1 or groups:
        ax.legend(fontsize=8, title=", ".join(groups) if groups else None, title_fontsize=8)
    return ax


def _group_label(groups: Sequence[str], key: tuple) -> str:
    parts = []
    for name, value in zip(groups, key, strict=True):
        parts.append(str(value) if name == "design" else f"{name.removeprefix('param_')}={value}")
    return ", ".join(parts)


def _theory(
    fn: str,
    ax: Axes,
    theory: Any,
    colours: dict[str, Any],
    xs: list[Any],
    numeric: bool,
    scale: float,
    transform: Callable[[Any], Any],
    y_scale: float,
) -> None:
    curves = {"": theory} if callable(theory) else dict(theory)
    unknown = [name for name in curves if name and name not in colours]
    if unknown:
        raise _error(fn, "theory", f"a dict keyed by the lines {list(colours)}", unknown)
    integral = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in xs)
    if numeric and len(xs) > 1 and integral:  # counts (servers, replicas): only whole values
        at = list(range(int(min(xs)), int(max(xs)) + 1))
        where = np.array(at, dtype=float) / scale
    elif numeric and len(xs) > 1:
        lo, hi = float(min(xs)), float(max(xs))
        grid = np.geomspace(lo, hi, 200) if lo > 0 and hi / lo >= 50 else np.linspace(lo, hi, 200)
        at, where = list(grid), grid / scale
    else:
        at, where = xs, (np.array(xs, dtype=float) / scale if numeric else np.arange(len(xs)))
    for name, function in curves.items():
        y = transform([function(v) for v in at]) / y_scale
        colour = colours.get(name, "black")
        label = f"{name} (theory)" if name else "theory"
        ax.plot(where, y, ls="--", lw=1.2, color=colour, label=label)


# -- designs side by side -----------------------------------------------------------------------


def compare(
    data: ExperimentResult | pd.DataFrame,
    metric: str = "availability",
    *,
    ax: Axes | Sequence[Axes] | None = None,
    baseline: str | None = None,
    nines: bool = False,
) -> Axes | np.ndarray:
    """Designs side by side: each one's mean and 95 % interval, one row per design.

    Args:
        data: an ExperimentResult (one row per design and grid point) or a summary
            DataFrame with a ``design`` column, ``metric`` and optionally
            ``metric_lo`` and ``metric_hi``.
        metric: the metric compared.
        ax: the Axes to draw on (two of them with ``baseline``); None makes a figure.
        baseline: a design of an ExperimentResult: adds a second panel with each
            other design's paired difference from it (``ExperimentResult.compare``:
            same seeds, so a far narrower interval than the two intervals suggest).
            A filled marker: the interval excludes 0.
        nines: for availability and uptime, draw 1 - A on a log axis (better to the
            right) with a second axis in nines.

    Returns:
        The Axes; with ``baseline``, the array ``[values, differences]`` of two Axes.
    """
    fn = "compare"
    if isinstance(data, ExperimentResult):
        frame = _summary(fn, data, metric, ["design", *data.grid_columns])
        labels = [
            _group_label(["design", *data.grid_columns], tuple(row))
            for row in frame[["design", *data.grid_columns]].itertuples(index=False)
        ]
    elif isinstance(data, pd.DataFrame):
        _check_table(fn, data, ["design", metric], "a summary")
        frame = data
        labels = [str(d) for d in frame["design"]]
    else:
        raise _error(fn, "data", "an ExperimentResult or a summary DataFrame", _shown(data))
    if not isinstance(nines, bool):
        raise _error(fn, "nines", "True or False", nines)
    transform = _shares(fn, metric) if nines else (lambda v: np.asarray(v, dtype=float))
    if baseline is not None:
        if not isinstance(data, ExperimentResult):
            allowed = "used with the ExperimentResult (the pairs are in its runs), not a summary"
            raise _error(fn, "baseline", allowed, baseline)
        designs = list(dict.fromkeys(data.runs["design"]))
        if baseline not in designs:
            raise _error(fn, "baseline", f"one of the designs {designs}", baseline)
        if ax is not None and (
            isinstance(ax, Axes) or len(ax) != 2 or not all(isinstance(a, Axes) for a in ax)
        ):
            raise _error(fn, "ax", "two Axes (values, differences) with a baseline", ax)
    else:
        _check_ax(fn, ax)

    height = max(3.0, 1.6 + 0.42 * len(frame))
    if ax is None and baseline is not None:
        _, axes = plt.subplots(1, 2, figsize=(11, height), sharey=True, layout="constrained")
        value_ax, diff_ax = axes
    elif baseline is not None:
        value_ax, diff_ax = ax
    else:
        value_ax, diff_ax = _axes(ax, (7.5, height)), None

    y = np.arange(len(frame))
    unit, scale = None, 1.0
    if metric in DURATION_COLUMNS and not nines:
        unit, scale = _time_unit(fn, "auto", float(np.nanmax(np.abs(frame[metric]))))
    mean = transform(frame[metric]) / scale
    no_interval = np.zeros(len(frame), dtype=bool)
    if f"{metric}_lo" in frame.columns and f"{metric}_hi" in frame.columns:
        lo, hi = transform(frame[f"{metric}_lo"]) / scale, transform(frame[f"{metric}_hi"]) / scale
        no_interval = ~(np.isfinite(lo) & np.isfinite(hi))  # fewer than two values
        lo, hi = np.where(no_interval, np.nan, lo), np.where(no_interval, np.nan, hi)
        lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
        if metric in _SHARES or metric in _COMPLEMENTS:  # a share is in [0, 1]
            lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        elif metric in DURATION_COLUMNS or metric == "incidents":  # never negative
            lo = np.clip(lo, 0.0, None)
        if nines:
            lo = np.where(lo > 0, lo, _floor(mean))
        err = _errors(mean, lo, hi)
    else:
        err = None
    plotted = np.where(mean > 0, mean, _floor(mean)) if nines else mean
    value_ax.errorbar(
        plotted,
        y,
        xerr=err,
        fmt="o",
        ms=7,
        capsize=4,
        color="#4c78a8",
        ecolor="#4c78a8",
        label="mean, 95 % interval",
    )
    value_ax.set_yticks(y, labels)
    value_ax.set_ylim(len(frame) - 0.5, -0.5)  # first design on top
    value_ax.set_xmargin(0.15)
    for yi, v in zip(y, np.asarray(frame[metric], dtype=float), strict=True):
        text = f"{v:.4g}" if unit is None else format_duration(v)
        if metric in _SHARES:
            text = f"{v:.6f}".rstrip("0")
        if no_interval[yi]:
            text += " (no interval: < 2 values)"
        value_ax.annotate(
            text,
            (plotted[yi], yi),
            xytext=(4, 5),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=8,
        )
    if nines:
        _nines_axis(value_ax, "x", metric)
    else:
        better = "higher" if metric in _HIGHER_IS_BETTER else "lower"
        value_ax.set_xlabel(f"{_metric_label(metric, unit)}, {better} is better")
    value_ax.set_title(f"{_title(metric)}: mean and 95 % interval")
    value_ax.grid(True, axis="x", alpha=0.3)
    if diff_ax is None:
        return value_ax
    _differences(data, metric, baseline, frame, diff_ax, scale, unit)
    return np.array([value_ax, diff_ax], dtype=object)


def _differences(
    data: ExperimentResult,
    metric: str,
    baseline: str,
    frame: pd.DataFrame,
    ax: Axes,
    scale: float,
    unit: str | None,
) -> None:
    """The paired differences design - baseline, on the rows of ``frame``."""
    keys = ["design", *data.grid_columns]
    rows = {tuple(r): i for i, r in enumerate(frame[keys].itertuples(index=False))}
    for design in dict.fromkeys(frame["design"]):
        if design == baseline:
            for key, i in rows.items():
                if key[0] == baseline:
                    ax.annotate(
                        "baseline",
                        (0, i),
                        xytext=(6, 0),
                        textcoords="offset points",
                        va="center",
                        fontsize=8,
                        color="0.4",
                    )
            continue
        diffs = data.compare(design, baseline, metric)
        for _, d in diffs.iterrows():
            i = rows[(design, *(d[c] for c in data.grid_columns))]
            mean = d["diff"] / scale
            lo, hi = d["diff_lo"] / scale, d["diff_hi"] / scale
            clear = lo > 0 or hi < 0
            err = _errors(np.array([mean]), np.array([lo]), np.array([hi]))
            ax.errorbar(
                [mean],
                [i],
                xerr=err,
                fmt="D",
                ms=6,
                capsize=4,
                color="#e45756",
                mfc="#e45756" if clear else "white",
            )
    ax.axvline(0, color="0.3", lw=1)
    ax.set_xmargin(0.2)
    unit_text = f" ({_UNIT_WORDS[unit]})" if unit else ""
    ax.set_xlabel(f"{metric} of design − {metric} of {baseline}{unit_text}")
    ax.set_title(f"Paired difference from {baseline!r} (same seeds), 95 %")
    ax.grid(True, axis="x", alpha=0.3)
    ax.tick_params(axis="y", labelleft=False)
    ax.legend(
        handles=[
            plt.Line2D([], [], marker="D", ls="", color="#e45756", label="interval excludes 0"),
            plt.Line2D(
                [], [], marker="D", ls="", color="#e45756", mfc="white", label="interval includes 0"
            ),
        ],
        fontsize=8,
        loc="best",
    )
