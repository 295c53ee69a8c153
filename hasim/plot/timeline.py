"""Pictures of one run over time: component states, and one incident up close."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from hasim.metrics.result import RunResult
from hasim.plot._common import (
    _UNIT_WORDS,
    PHASE_COLOURS,
    STATE_COLOURS,
    SYSTEM_COLOURS,
    _axes,
    _check_ax,
    _error,
    _run,
    _time_unit,
)
from hasim.units import format_duration

# -- one run: states over time ------------------------------------------------------------------


def timeline(
    result: RunResult,
    *,
    components: Sequence[str] | None = None,
    ax: Axes | None = None,
    start: float | None = None,
    end: float | None = None,
    unit: str = "auto",
) -> Axes:
    """Every component's state over time, the system's on top, incidents shaded.

    Args:
        result: a run.
        components: the components to show, top to bottom (default: all of them,
            by name).
        ax: the Axes to draw on; None makes a figure sized to the rows.
        start: the first moment shown, in seconds of simulated time (default: the
            warm-up's end).
        end: the last moment shown (default: the end of the run).
        unit: the time axis's unit: "auto" (from the span), "ms", "s", "min", "h"
            or "d".

    Returns:
        The Axes: the system on row 0 at the top, then one row per component; a
        band per state interval (pale green up, amber degraded, red down), the
        incidents shaded across all rows and numbered as in ``incidents()``.
    """
    fn = "timeline"
    result = _run(fn, result)
    _check_ax(fn, ax)
    table = result.timeline()
    known = sorted(set(table["component"]) - {"system"}, key=_natural)
    if components is None:
        shown = known
    else:
        if isinstance(components, str) or not all(c in known for c in components):
            raise _error(fn, "components", f"a list of components of the run {known}", components)
        shown = list(components)
    lo = result.warmup if start is None else start
    hi = result.until if end is None else end
    if not (isinstance(lo, int | float) and isinstance(hi, int | float) and lo < hi):
        raise _error(fn, "start, end", "numbers with start < end (seconds)", (start, end))
    unit, scale = _time_unit(fn, unit, hi - lo)

    rows = ["system", *shown]
    ax = _axes(ax, (10, 1.3 + 0.38 * len(rows)))
    for i, name in enumerate(rows):
        part = table[table["component"] == name]
        system = name == "system"
        height = 0.8 if system else 0.6
        for state, colour in (SYSTEM_COLOURS if system else STATE_COLOURS).items():
            spans = part[part["state"] == state]
            s = np.clip(spans["start"].to_numpy(), lo, hi)
            e = np.clip(spans["end"].to_numpy(), lo, hi)
            keep = e > s
            if keep.any():
                ax.broken_barh(
                    list(zip((s[keep] - lo) / scale, (e[keep] - s[keep]) / scale, strict=True)),
                    (i - height / 2, height),
                    facecolors=colour,
                    edgecolor=colour,
                    lw=0.3,
                    gid=f"{name}/{state}",
                )
    found = result.incidents()
    ends = found["end"].where(~found["ongoing"], result.until)
    found = found[(ends >= lo) & (found["start"] <= hi)]  # those in view
    for k, inc in found.iterrows():
        s, e = inc["start"], result.until if inc["ongoing"] else inc["end"]
        s, e = max(s, lo), min(e, hi)
        ax.axvspan(
            (s - lo) / scale,
            (e - lo) / scale,
            color=SYSTEM_COLOURS["down"],
            alpha=0.1,
            lw=0,
            gid="incident",
        )
        if len(found) <= 40:
            ax.annotate(
                f"{k}",
                ((s - lo) / scale, -0.5),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
                color=SYSTEM_COLOURS["down"],
            )
    ax.axhline(0.5, color="0.5", lw=0.8)
    ax.set_yticks(range(len(rows)), rows)
    ax.get_yticklabels()[0].set_fontweight("bold")
    ax.set_ylim(len(rows) - 0.5, -0.5 - (0.25 if len(found) else 0))
    ax.set_xlim(0, (hi - lo) / scale)
    since = "the start" if lo == 0 else f"t = {format_duration(lo)}"
    ax.set_xlabel(f"time since {since} ({_UNIT_WORDS[unit]})")
    ax.set_title(
        f"States over time: {len(found)} incident{'s' * (len(found) != 1)} (shaded, numbered as "
        "in incidents())"
    )
    ax.grid(True, axis="x", alpha=0.3)
    handles = [Patch(color=c, label=s) for s, c in STATE_COLOURS.items()]
    handles += [Patch(color=SYSTEM_COLOURS["down"], alpha=0.15, label="incident")]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def _natural(name: str) -> tuple:
    """web2 before web10."""
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


# -- one incident: success rate and throughput around it -----------------------------------------


def incident(
    result: RunResult,
    index: int = 0,
    *,
    before: float | None = None,
    after: float | None = None,
    ax: Axes | Sequence[Axes] | None = None,
    bin: float | None = None,
) -> np.ndarray:
    """Success rate and throughput around one incident, its recovery phases marked.

    Answers are counted by the time they ended (as in ``series()``), in bins fine
    enough to see the detection; with ``record="aggregate"`` only the run's
    ``series()`` buckets (1/1000 of the window) exist, and are used.

    Args:
        result: a run with at least one incident.
        index: the incident's row in ``result.incidents()``.
        before: seconds shown before its start (default: half its length, at least 30 s).
        after: seconds shown after its end (default: as ``before``).
        ax: two Axes (success rate, throughput), one Axes (throughput on a twin
            y axis), or None for a new figure with two panels.
        bin: the bin width in seconds (default: about 20 answers a bin, at most 1000
            bins); with requests recorded only.

    Returns:
        The array ``[success rate Axes, throughput Axes]``.
    """
    fn = "incident"
    result = _run(fn, result)
    found = result.incidents()
    if not len(found):
        raise _error(
            fn,
            "result",
            "a run with an incident (look at timeline() or a longer run)",
            "a run with no incident in its window",
        )
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise _error(fn, "index", f"an integer in [0, {len(found)})", index)
    if not -len(found) <= index < len(found):
        raise _error(fn, "index", f"an integer in [0, {len(found)})", index)
    inc = found.iloc[index]
    start = float(inc["start"])
    end = result.until if inc["ongoing"] else float(inc["end"])
    length = end - start
    margins = []
    for name, value in (("before", before), ("after", after)):
        if value is None:
            value = max(length / 2, 30.0)
        elif isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise _error(fn, name, "a number of seconds >= 0", value)
        margins.append(float(value))
    lo, hi = max(start - margins[0], result.warmup), min(end + margins[1], result.until)
    if bin is not None and (isinstance(bin, bool) or not isinstance(bin, int | float) or bin <= 0):
        raise _error(fn, "bin", "a number of seconds > 0", bin)

    if result.columns is not None:
        req = result.requests()
        req = req[(req["ended"] >= lo) & (req["ended"] < hi)]
        if bin is None:
            bin = _nice(max((hi - lo) / 1000, (hi - lo) * 20 / max(len(req), 1)))
            bin = min(bin, (hi - lo) / 20)
        # Whole bins only, aligned on the incident's start (one begins exactly when it does).
        edges = start + bin * np.arange(
            math.ceil((lo - start) / bin - 1e-9), math.floor((hi - start) / bin + 1e-9) + 1
        )
        ok, failed = _counts(req, edges)
        source = f"bins of {format_duration(bin)}"
    else:
        series = result.series()
        bin = float(series["start"].iloc[1] - series["start"].iloc[0])
        series = series[(series["start"] + bin > lo) & (series["start"] < hi)]
        edges = np.append(series["start"].to_numpy(), series["start"].iloc[-1] + bin)
        ok, failed = series["ok"].to_numpy(), series["failed"].to_numpy()
        source = f"buckets of {format_duration(bin)} (record='requests' gives finer bins)"
    with np.errstate(invalid="ignore", divide="ignore"):
        success = 100.0 * ok / (ok + failed)
    unit, scale = _time_unit(fn, "auto", hi - lo)
    t = (edges - start) / scale

    if ax is None:
        _, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, layout="constrained")
        rate_ax, tput_ax = axes
    elif isinstance(ax, Axes):
        rate_ax, tput_ax = ax, ax.twinx()
    elif len(ax) == 2 and all(isinstance(a, Axes) for a in ax):
        rate_ax, tput_ax = ax
    else:
        raise _error(fn, "ax", "None, an Axes or two Axes", ax)
    twin = rate_ax.figure is tput_ax.figure and isinstance(ax, Axes)
    rate_ax.stairs(success, t, baseline=None, color="#2f6fb0", lw=1.5, label="success rate")
    tput_ax.stairs(
        ok / bin,
        t,
        baseline=None,
        color="#555555" if not twin else "#9a6a00",
        lw=1.2,
        label="throughput",
    )
    rate_ax.set_ylabel("success rate (%)")
    top = np.nanmax(success) if np.isfinite(success).any() else 100
    rate_ax.set_ylim(
        min(np.nanmin(success) if np.isfinite(success).any() else 0, 95) - 5, max(top, 100) + 3
    )
    tput_ax.set_ylabel("throughput (ok answers/s)")
    tput_ax.set_ylim(bottom=0)

    marks = [(0.0, "down", SYSTEM_COLOURS["down"])]
    for phase, label, colour in (
        ("ttd", "detected", PHASE_COLOURS["detect"]),
        ("failover", "failed over", PHASE_COLOURS["fail over"]),
    ):
        if math.isfinite(inc[phase]) and inc[phase] <= hi - start:
            marks.append((float(inc[phase]), label, colour))
    if not inc["ongoing"]:
        marks.append((length, "restored", SYSTEM_COLOURS["up"]))
    for panel in {rate_ax, tput_ax}:
        panel.axvspan(0, length / scale, color=SYSTEM_COLOURS["down"], alpha=0.08, lw=0)
        for at, _, colour in marks:
            panel.axvline(at / scale, color=colour, ls="--", lw=1.0, zorder=1)
        panel.grid(True, alpha=0.3)
    phases = [at for at, _, _ in marks[1:] if at < length]
    if result.columns is not None and phases and max(phases) < (hi - lo) / 30:
        _zoom(rate_ax, req, start, max(phases), marks, len(req) / (hi - lo))
    handles = [
        plt.Line2D([], [], color=colour, ls="--", label=f"{label} +{format_duration(at)}")
        for at, label, colour in marks
    ]
    handles[0].set_label("down (the incident began)")
    rate_ax.legend(
        handles=handles,
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        title="since it began",
        title_fontsize=8,
    )
    (tput_ax if twin else tput_ax).set_xlabel(
        f"time since the incident began ({_UNIT_WORDS[unit]}); {source}"
    )
    if twin:
        rate_ax.set_xlabel(tput_ax.get_xlabel())
    cause = inc["cause"] if inc["cause"] is not None else "?"
    how_long = "ongoing at the end" if inc["ongoing"] else f"down {format_duration(length)}"
    rate_ax.set_title(
        f"Incident {index % len(found)}: {cause} at t = {format_duration(start)}, {how_long}"
    )
    return np.array([rate_ax, tput_ax], dtype=object)


def _counts(req: pd.DataFrame, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ok and failed answers per bin, by the time they ended."""
    ok = req["outcome"] == "ok"
    return np.histogram(req["ended"][ok], edges)[0], np.histogram(req["ended"][~ok], edges)[0]


def _zoom(
    ax: Axes, req: pd.DataFrame, start: float, phase: float, marks: list, rate: float
) -> None:
    """An inset of the success rate over the incident's first seconds (detection, failover)."""
    lo, hi = -max(phase, 5.0), 3 * max(phase, 5.0)
    bin = _nice(max((hi - lo) / 60, 3 / max(rate, 1e-9)))
    edges = bin * np.arange(math.floor(lo / bin), math.ceil(hi / bin) + 1)
    ok, failed = _counts(req, start + edges)
    inset = ax.inset_axes([0.56, 0.12, 0.4, 0.5])
    with np.errstate(invalid="ignore", divide="ignore"):
        inset.stairs(100.0 * ok / (ok + failed), edges, baseline=None, color="#2f6fb0", lw=1.3)
    for at, _, colour in marks:
        if lo <= at <= hi:
            inset.axvline(at, color=colour, ls="--", lw=1.0, zorder=1)
    inset.set_xlim(lo, hi)
    inset.set_ylim(-5, 105)
    title = f"zoom: seconds since it began, bins of {format_duration(bin)}"
    inset.set_title(title, fontsize=7, pad=3)
    inset.tick_params(labelsize=7)
    inset.grid(True, alpha=0.3)


def _nice(width: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= width."""
    k = 10.0 ** math.floor(math.log10(width))
    return next(m * k for m in (1, 2, 5, 10) if m * k >= width * (1 - 1e-9))
