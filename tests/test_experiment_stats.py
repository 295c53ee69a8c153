"""Confidence intervals across replications."""

import math

import numpy as np
import pytest
from scipy import stats

import hasim as hs
from hasim.experiment import mean_ci


def test_mean_ci_matches_scipy_t_interval():
    """The half-width is the Student-t one, checked against scipy's own interval."""
    x = np.random.default_rng(5).normal(10.0, 2.0, size=12)
    mean, half = mean_ci(x, level=0.95)
    lo, hi = stats.t.interval(0.95, df=x.size - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean())
    assert (mean - half, mean + half) == pytest.approx((lo, hi))


def test_mean_ci_skips_nan_and_handles_tiny_samples():
    assert mean_ci([1.0, math.nan, 3.0])[0] == 2.0
    assert mean_ci([4.0]) == (4.0, math.inf)
    assert all(math.isnan(v) for v in mean_ci([math.nan]))


def test_mean_ci_rejects_bad_level():
    with pytest.raises(
        hs.ConfigError, match=r"mean_ci: level must be a number in \(0, 1\), got 1.5"
    ):
        mean_ci([1.0, 2.0], level=1.5)
