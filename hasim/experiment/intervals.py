"""Interval availability and SLOs: the distribution of availability over a finite window.

"Is this design 99.9 % available?" means, to an SLO, *every month*, not on
average over years. ``interval_availability(model, window="30d", reps=...)``
runs independent replications of one window each (from a cold start: every
component up at time 0, as a new deployment; or after a warm-up), and returns

* each replication's availability over the window (its uptime share), so its
  distribution, mean and histogram;
* ``attainment(target)``: P(availability over the window >= target), the
  "guaranteed availability" an SLO asks, with a Wilson score interval;
* ``budget(target)``: the error budget (``(1 - target) * window``), the mean
  share of it spent, and P(the budget is exhausted);
* ``transient()``: the point availability A(t) = P(up at t) on a time grid, with
  Wilson intervals: how fast a cold start reaches the steady state.

Analytic counterparts for Markov models are in ``hasim.analytic`` (transient
solution and the randomisation method for the distribution of interval
availability); ``tests/validation/`` compares the two.

Replications use seeds ``seed, seed + 1, ...`` (as an Experiment's), and run on
the lean or vectorised state-only engine where they apply, so a study of 10,000
months of a small design takes seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hasim.errors import check_int, check_probability, config_error
from hasim.sim import ENGINES, Simulation
from hasim.units import parse

__all__ = ["IntervalAvailability", "interval_availability", "wilson"]


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (scipy's ``binomtest``)."""
    from scipy import stats

    if trials < 1:
        return math.nan, math.nan
    ci = stats.binomtest(int(successes), int(trials)).proportion_ci(level, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass
class IntervalAvailability:
    """What ``interval_availability`` measured (see the module docstring).

    Attributes:
        window: the window's length in seconds.
        availability: each replication's availability over the window.
        times: the grid of ``transient()`` (seconds from the window's start).
        up: per replication, whether the system was up at each time of the grid.
        seeds: the replications' seeds.
    """

    window: float
    availability: np.ndarray
    times: np.ndarray
    up: np.ndarray = field(repr=False)
    seeds: np.ndarray = field(repr=False)

    @property
    def reps(self) -> int:
        """How many replications (windows) were run."""
        return int(self.availability.size)

    def mean(self, level: float = 0.95) -> tuple[float, float]:
        """The expected interval availability and its Student-t half-width."""
        from hasim.experiment.stats import mean_ci

        return mean_ci(self.availability, level)

    def attainment(self, target: float, level: float = 0.95) -> dict[str, float]:
        """P(availability over the window >= ``target``) and its Wilson interval.

        Returns:
            ``{"target", "p", "lo", "hi", "met", "reps"}``.
        """
        target = check_probability("IntervalAvailability.attainment", "target", target)
        met = int(np.count_nonzero(self.availability >= target))
        lo, hi = wilson(met, self.reps, level)
        return {"target": target, "p": met / self.reps, "lo": lo, "hi": hi, "met": met,
                "reps": self.reps}  # fmt: skip

    def budget(self, target: float, level: float = 0.95) -> dict[str, float]:
        """The error budget of an availability SLO over the window, and how it is spent.

        Returns:
            ``budget`` (seconds of downtime allowed), ``downtime`` (mean seconds down per
            window), ``spent`` (mean share of the budget used, > 1: overspent on
            average), ``p_exhausted`` (P(the window's downtime exceeds the budget)) with
            its Wilson interval ``lo``, ``hi``.
        """
        target = check_probability("IntervalAvailability.budget", "target", target)
        allowed = (1.0 - target) * self.window
        downtime = (1.0 - self.availability) * self.window
        exhausted = int(np.count_nonzero(downtime > allowed))
        lo, hi = wilson(exhausted, self.reps, level)
        return {"target": target, "budget": allowed, "downtime": float(downtime.mean()),
                "spent": float(downtime.mean() / allowed) if allowed > 0 else math.inf,
                "p_exhausted": exhausted / self.reps, "lo": lo, "hi": hi}  # fmt: skip

    def transient(self, level: float = 0.95):
        """Point availability A(t) = P(up at t) on the grid, with Wilson intervals (DataFrame)."""
        import pandas as pd

        ups = self.up.sum(axis=0)
        bounds = [wilson(int(k), self.reps, level) for k in ups.tolist()]
        return pd.DataFrame(
            {"time": self.times, "availability": ups / self.reps,
             "lo": [b[0] for b in bounds], "hi": [b[1] for b in bounds]}
        )  # fmt: skip

    def quantile(self, q: float | list[float]) -> Any:
        """Quantiles of the interval availability (e.g. the worst month in 20: q = 0.05)."""
        return np.quantile(self.availability, q)


def interval_availability(
    model: Any,
    window: float | str,
    *,
    reps: int = 1000,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    warmup: float | str = 0.0,
    times: Any = None,
    engine: str = "auto",
) -> IntervalAvailability:
    """Run ``reps`` independent windows of a design and measure availability over each.

    Args:
        model: a ``build(sim, **params)`` function, a ready model's name or a model file
            (as ``hs.Experiment`` takes). The design should have no traffic: interval
            availability is the uptime share (workloads are not attached).
        window: the window, e.g. ``"30d"`` (a month).
        reps: how many windows (replications), an integer >= 2.
        seed: the first replication's seed; replication r uses ``seed + r``.
        params: the model's parameters.
        warmup: time simulated before the window starts (0: a cold start, every
            component up, the usual "fresh deployment" question; a long warm-up
            approaches the steady-state window).
        times: the grid of ``transient()``, seconds from the window's start (default:
            100 points over the window).
        engine: as ``Simulation.run`` (``"auto"`` picks the lean engine where it applies).

    Example:
        ::

            def pair(sim):
                f = hs.Failures(ttf=hs.Exponential(mean=20 * hs.days), ttr="30m")
                sim.up_when(hs.any_of(hs.Node(sim, "a", failures=f), hs.Node(sim, "b", failures=f)))

            study = hs.interval_availability(pair, "30d", reps=5000)
            study.attainment(0.999)     # {"p": ..., "lo": ..., "hi": ...}
    """
    from hasim.experiment.design import ModelRef

    owner = "interval_availability"
    width = _duration(owner, "window", window)
    if not width > 0 or math.isinf(width):
        raise config_error(owner, "window", "a finite duration > 0", window)
    lead = _duration(owner, "warmup", warmup)
    reps = check_int(owner, "reps", reps, minimum=2)
    seed = check_int(owner, "seed", seed, minimum=0)
    if engine not in ENGINES:
        raise config_error(owner, "engine", f"one of {ENGINES}", engine)
    grid = np.linspace(0.0, width, 101)[:-1] if times is None else np.asarray(times, float)
    if grid.ndim != 1 or not np.all((grid >= 0) & (grid <= width)):
        raise config_error(owner, "times", f"a 1-d array of times in [0, {width:g}]", times)
    build, defaults, _ = ModelRef.of(model).load()
    merged = {**defaults, **(params or {})}
    values = np.empty(reps)
    up = np.empty((reps, grid.size), dtype=bool)
    seeds = seed + np.arange(reps)
    for r in range(reps):
        sim = Simulation(seed=int(seeds[r]), record="aggregate")
        build(sim, **merged)
        if sim.clients:
            raise config_error(
                owner, "model", "a design without traffic (interval availability is uptime)",
                sim.clients[0].label,
            )  # fmt: skip
        until = lead + width
        result = sim.run(until=until, warmup=lead if lead > 0 else 0.0, engine=engine)
        values[r] = result.summary()["uptime"]
        up[r] = result.up_at(lead + grid)
    return IntervalAvailability(width, values, grid, up, seeds)


def _duration(owner: str, param: str, value: Any) -> float:
    try:
        return parse(value)
    except Exception:  # noqa: BLE001 - any unparsable value gets the one error message
        raise config_error(owner, param, "a duration in seconds or like '30d'", value) from None
