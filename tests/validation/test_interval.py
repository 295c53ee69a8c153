"""Interval availability: P(monthly availability >= 99.9 %) simulated against the CTMC.

Two designs, from a cold start (every component up at the window's start, a fresh
deployment) over a 30-day window:

* a single repairable node, MTTF 300 h, MTTR 10 min (exponential);
* a 1-of-2 pair, MTTF 100 h, MTTR 4 h each, a crew each (``hs.any_of(a, b)``).

Theory: ``hasim.analytic.interval`` (randomisation for the distribution of the share of
the window up; the transient solution for A(t); Van Loan's integral for its mean) on the
two-state chain and on ``k_of_n_chain(1, 2, ...)``. Simulation: ``hs.interval_availability``,
one independent window per replication, on the lean state-only engine.

Tolerances: a replication's window meets the target or not, so the attainment is a
binomial proportion; the theory must lie in its Wilson interval at 99.9 % (as stats.py's
level: a false alarm once in a thousand seed sets). A(t) is checked the same way at every
grid time with a Bonferroni-corrected level, and the mean interval availability inside
the replications' 99.9 % Student-t interval. Quick: 3,000 windows; slow: 40,000, whose
interval must also be narrower than 0.02 (so the comparison is a real test).
"""

from __future__ import annotations

import numpy as np
import pytest

import hasim as hs
from hasim.analytic import CTMC, k_of_n_chain
from hasim.analytic import interval as iv
from hasim.experiment.intervals import wilson

from .stats import t_interval

MONTH = 30 * 86400.0
TARGET = 0.999
NODE = {"mttf": 300 * 3600.0, "mttr": 600.0}
PAIR = {"mttf": 100 * 3600.0, "mttr": 4 * 3600.0}
LEVEL = 0.999


def node(sim):
    failures = hs.Failures(
        ttf=hs.Exponential(mean=NODE["mttf"]), ttr=hs.Exponential(mean=NODE["mttr"])
    )
    sim.up_when(hs.Node(sim, "n", failures=failures))


def pair(sim):
    failures = hs.Failures(
        ttf=hs.Exponential(mean=PAIR["mttf"]), ttr=hs.Exponential(mean=PAIR["mttr"])
    )
    sim.up_when(
        hs.any_of(hs.Node(sim, "a", failures=failures), hs.Node(sim, "b", failures=failures))
    )


def node_chain():
    lam, mu = 1 / NODE["mttf"], 1 / NODE["mttr"]
    return CTMC(["up", "down"], {("up", "down"): lam, ("down", "up"): mu}), ["up"], "up"


def pair_chain():
    chain, up = k_of_n_chain(1, 2, PAIR["mttf"], PAIR["mttr"])
    return chain, up, 0  # state: how many are down; start all up


DESIGNS = {"node": (node, node_chain), "pair": (pair, pair_chain)}


@pytest.mark.parametrize(
    "reps",
    [pytest.param(3_000, id="quick"), pytest.param(40_000, id="slow", marks=pytest.mark.slow)],
)
@pytest.mark.parametrize("design", list(DESIGNS))
def test_monthly_slo_attainment_matches_the_ctmc(design, reps):
    build, chain_of = DESIGNS[design]
    chain, up, start = chain_of()
    times = np.linspace(0.0, MONTH, 7)[1:-1]
    study = hs.interval_availability(build, MONTH, reps=reps, seed=1, times=times)

    theory = iv.slo_attainment(chain, up, MONTH, TARGET, start)
    got = study.attainment(TARGET, level=LEVEL)
    assert got["lo"] <= theory <= got["hi"], (design, got, theory)
    if reps >= 40_000:
        assert got["hi"] - got["lo"] < 0.02  # +-0.008 at 99.9 %: a real test

    mean = iv.expected_interval_availability(chain, up, MONTH, start)
    estimate = t_interval(study.availability, LEVEL)
    assert mean in estimate, (design, str(estimate), mean)

    curve = iv.point_availability(chain, up, times, start)
    level = 1 - (1 - LEVEL) / len(times)  # Bonferroni over the grid
    for t, a, k in zip(times, curve, study.up.sum(axis=0), strict=True):
        lo, hi = wilson(int(k), study.reps, level)
        assert lo <= a <= hi, (design, t, a, lo, hi)

    budget = iv.error_budget(chain, up, MONTH, TARGET, start)
    assert budget["p_exhausted"] == pytest.approx(1 - theory)
    spent = study.budget(TARGET)
    assert abs(spent["downtime"] - budget["downtime"]) <= (estimate.half_width * MONTH) + 1e-9
