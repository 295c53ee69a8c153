"""Statistics across replications: means and Student-t confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hasim.errors import config_error
from hasim.metrics.result import nines

__all__ = ["mean_ci", "welch_half_width", "nines"]


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean of independent replications and the half-width of its t-interval.

    The interval is ``mean +- t_{(1+level)/2, n-1} * s / sqrt(n)``, with ``s``
    the sample standard deviation. NaN values (a replication with nothing to
    measure, e.g. no incident for MTTR) are left out. Fewer than two values
    give an infinite half-width.

    Args:
        values: one number per replication.
        level: confidence level in (0, 1).

    Returns:
        ``(mean, half_width)``.
    """
    from scipy import stats

    if not 0.0 < level < 1.0:
        raise config_error("mean_ci", "level", "a number in (0, 1)", level)
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.inf
    half = float(stats.t.ppf(0.5 + level / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, half


def welch_half_width(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> float:
    """Half-width of Welch's t-interval of mean(a) - mean(b) (independent samples).

    What the interval of a difference would be without pairing by seed; NaN
    values are left out; fewer than two values on a side give inf.
    """
    from scipy import stats

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size < 2 or y.size < 2:
        return math.inf
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se2 = vx + vy
    if se2 == 0:
        return 0.0
    df = se2**2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    return float(stats.t.ppf(0.5 + level / 2.0, df) * math.sqrt(se2))
