"""PBS's picture: P(consistent) against the time since the write committed (t-visibility)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from hasim.experiment.intervals import wilson
from hasim.plot._common import _UNIT_WORDS, _axes, _check_ax, _error, _shown, _time_unit
from hasim.replication.pbs import Visibility

__all__ = ["staleness_curve"]

_SCALES = ("linear", "logit")


def _theory(fn: str, label: str, value: Any, span: float) -> tuple[np.ndarray, np.ndarray]:
    """``(t, P)`` from ``(t, P)`` arrays or from a function of an array of t."""
    if callable(value):
        t = np.linspace(0.0, span, 61)
        return t, np.asarray(value(t), dtype=float)
    try:
        t, p = (np.asarray(x, dtype=float) for x in value)
    except (TypeError, ValueError):
        t = p = None
    if t is None or t.ndim != 1 or t.shape != p.shape or not t.size:
        allowed = "a pair (t, P) of equal 1-d arrays, or a function of t"
        raise _error(fn, "theory", allowed, f"{label}: {_shown(value)!r}")
    return t, p


def staleness_curve(
    measured: Visibility | Mapping[str, Visibility] | None = None,
    theory: Mapping[str, Any] | None = None,
    *,
    ax: Axes | None = None,
    level: float = 0.95,
    unit: str = "auto",
    scale: str = "logit",
    targets: Sequence[float] = (0.99, 0.999),
) -> Axes:
    """P(consistent) against the time since the commit: simulated points and theory curves.

    The PBS picture (Bailis et al., VLDB 2012, fig. 5-7): each point is the share of reads
    that returned a write they began ``t`` after its commit (``hasim.replication.pbs.
    visibility_trials``), with its Wilson interval; each curve is the theory of the same name
    (e.g. ``hasim.analytic.wars_consistency``), drawn in the same colour. A point where every
    read was consistent is drawn as a caret at its interval's lower end (on a logit axis 1
    lies at infinity).

    Args:
        measured: a ``Visibility``, or ``{name: Visibility}``; None: curves only.
        theory: ``{name: (t, P)}`` (arrays, seconds) or ``{name: f}`` with ``f(t_array) ->
            P_array``, evaluated at 61 points over the measured span; None: points only.
        ax: the Axes to draw on; None makes a figure.
        level: the confidence level of the intervals, in (0, 1).
        unit: the time unit: ``"auto"`` or one of ms, s, min, h, d.
        scale: ``"logit"`` (0.9, 0.99, 0.999 evenly spaced: the tail PBS is about) or
            ``"linear"``.
        targets: probabilities marked by dotted lines, to read t-visibility percentiles off
            (each in (0, 1)).

    Returns:
        The Axes.
    """
    fn = "staleness_curve"
    _check_ax(fn, ax)
    if isinstance(measured, Visibility):
        runs = {"": measured}
    elif measured is None:
        runs = {}
    elif isinstance(measured, Mapping) and all(
        isinstance(v, Visibility) for v in measured.values()
    ):
        runs = {str(k): v for k, v in measured.items()}
    else:
        allowed = "a Visibility, a dict {name: Visibility} or None"
        raise _error(fn, "measured", allowed, _shown(measured))
    if theory is not None and not isinstance(theory, Mapping):
        raise _error(fn, "theory", "a dict {name: (t, P) or f(t)} or None", _shown(theory))
    theory = {str(k): v for k, v in (theory or {}).items()}
    if not runs and not theory:
        raise _error(fn, "measured", "something to draw (measured or theory)", None)
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise _error(fn, "level", "a number in (0, 1)", level)
    if scale not in _SCALES:
        raise _error(fn, "scale", f"one of {list(_SCALES)}", scale)
    if not all(isinstance(q, float | int) and 0 < q < 1 for q in targets):
        raise _error(fn, "targets", "numbers in (0, 1)", targets)
    span = max((max(v.gaps) for v in runs.values()), default=0.0)
    curves = {}
    for label, value in theory.items():
        curves[label] = _theory(fn, label, value, span if span > 0 else 1.0)
    span = max([span, *(float(t.max()) for t, _ in curves.values())])
    name, per = _time_unit(fn, unit, span if span > 0 else 1.0)
    ax = _axes(ax, (8, 4.8))
    palette = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    names = [*curves, *(k for k in runs if k not in curves)]
    colours = {k: palette[i % len(palette)] for i, k in enumerate(names)}
    lowest, carets = 1.0, False
    for label, (t, p) in curves.items():
        ax.plot(t / per, p, lw=1.6, color=colours[label], label=label or "theory")
        lowest = min(lowest, float(np.nanmin(p)))
    for label, seen in runs.items():
        x = np.asarray(seen.gaps) / per
        share = np.asarray(seen.share)
        bounds = np.array([wilson(k, n, level) for k, n in zip(seen.consistent, seen.reads,
                                                                strict=True)])  # fmt: skip
        low, high = bounds[:, 0], bounds[:, 1]
        colour = colours[label]
        text = None if label in curves else (label or "simulated")
        some = share < 1.0
        ax.errorbar(x[some], share[some], yerr=[share[some] - low[some], high[some] - share[some]],
                    fmt="o", ms=4.5, capsize=2.5, color=colour, mfc="white", mew=1.3, lw=1.0,
                    label=text)  # fmt: skip
        if not some.all():  # every read consistent: only a lower bound, shown as a caret
            ax.plot(x[~some], low[~some], "^", ms=5.5, color=colour, mfc="white", mew=1.3)
            carets = True
        lowest = min(lowest, float(np.nanmin(low)))
    if runs and curves:  # one key for the two kinds of marks
        from matplotlib.lines import Line2D

        handles, labels = ax.get_legend_handles_labels()
        handles += [
            Line2D([], [], color="0.35", lw=1.6),
            Line2D([], [], color="0.35", marker="o", mfc="white", ls="", mew=1.3),
        ]
        labels += ["theory (lines)", f"simulated, {level:.0%} Wilson interval"]
        if carets:
            handles.append(Line2D([], [], color="0.35", marker="^", mfc="white", ls="", mew=1.3))
            labels.append("simulated, every read consistent: lower bound")
        ax.legend(handles, labels, fontsize=8, loc="lower right")
    else:
        ax.legend(fontsize=8, loc="lower right")
    for q in targets:
        ax.axhline(q, color="0.6", lw=0.6, ls=":")
    ax.set_xlabel(f"time since the write committed ({_UNIT_WORDS[name]})")
    ax.set_ylabel("P(a read returns the write)")
    if scale == "logit":
        from matplotlib.ticker import FixedLocator, NullFormatter

        ax.set_yscale("logit")
        top = max([0.9999, *targets])
        ax.set_ylim(max(min(lowest, 0.5) * 0.9, 1e-4), 1.0 - (1.0 - top) / 3.0)
        ticks = [v for v in (0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999) if v <= top]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.4g}")
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(min(lowest, 1.0) - 0.02, 1.005)
    ax.set_xlim(left=0.0)
    ax.grid(True, alpha=0.3)
    return ax
