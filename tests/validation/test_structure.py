"""Structure expressions: exact RBD availability and importance against simulation.

Each design is built of independent nodes with exponential failures and a repair crew
each, so the exact availability is the structure function of the nodes' steady-state
availabilities (``hasim.analytic.structure``; its own unit tests check it against brute
force). The checked quantity is the unavailability ``1 - A`` (stats.py: the theory inside
the 99.9 % Student-t interval of independent replications, the half-width below
``plan.rel`` of it). The runs use the lean state-only engine (``engine="auto"``).

Importance: on a 3-tier design whose tiers differ (by criticality the web servers 0.43,
the balancers 0.20, the database 0.13), ``RunResult.importance()`` measures criticality
and Fussell-Vesely as shares of system downtime; each must match the theory's within the
same kind of interval, and the tiers must rank the same way.
"""

from __future__ import annotations

import pytest

import hasim as hs

from .stats import Plan, check, replicate, t_interval, variants

MTTF, MTTR = 100.0, 10.0

PLANS = variants(
    quick=Plan(replications=20, horizon=2e5, warmup=1e3, rel=0.05),
    slow=Plan(replications=40, horizon=2e6, warmup=1e3, rel=0.01),
)


def _series(sim, node):
    return hs.all_of(node("a"), node("b"), node("c"))


def _parallel(sim, node):
    return hs.any_of(node("a"), node("b"))


def _k_of_n(sim, node):
    return hs.k_of_n(3, [node(f"n{i}") for i in range(5)])


def _nested(sim, node):
    lbs = [node("lb1"), node("lb2")]
    web = [node(f"web{i}") for i in (1, 2, 3)]
    return hs.any_of(lbs) & hs.k_of_n(2, web) & node("db")


def _shared(sim, node):
    a, b, c = node("a"), node("b"), node("c")
    return hs.all_of(a, b) | hs.all_of(a, c)  # a feeds both branches


DESIGNS = {"series": _series, "parallel": _parallel, "3-of-5": _k_of_n, "nested": _nested,
           "shared": _shared}  # fmt: skip
#: Designs with rarer outages run longer, for the same relative precision.
LONGER = {"parallel": 6.0, "3-of-5": 6.0}


def run(seed, plan, design):
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))

    def node(name):
        return hs.Node(sim, name, failures=failures)

    structure = DESIGNS[design](sim, node)
    sim.up_when(structure)
    summary = sim.run(until=plan.horizon, warmup=plan.warmup).summary()
    return structure, summary["downtime"] / summary["window"]


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("design", list(DESIGNS))
def test_exact_rbd_availability_matches_simulation(plan, design):
    structure = DESIGNS[design](None, lambda name: name)  # the same expression, over names
    theory = 1 - structure.availability((MTTF, MTTR))
    plan = plan.longer(LONGER.get(design, 1.0))
    estimate = replicate(lambda seed: run(seed, plan, design)[1], plan)
    check(f"1 - A of the {design} structure", estimate, theory, plan.rel)


# -- importance on a 3-tier design -----------------------------------------------------------

TIERS = {"lb": (130.0, 10.0), "web": (120.0, 10.0), "db": (3000.0, 10.0)}

IMPORTANCE_PLANS = variants(
    quick=Plan(replications=20, horizon=4e5, warmup=1e3, rel=0.15),
    slow=Plan(replications=40, horizon=4e6, warmup=1e3, rel=0.04),
)


def three_tier(sim):
    def node(name, tier):
        mttf, mttr = TIERS[tier]
        failures = hs.Failures(ttf=hs.Exponential(mean=mttf), ttr=hs.Exponential(mean=mttr))
        return hs.Node(sim, name, failures=failures)

    lbs = [node(f"lb{i}", "lb") for i in (1, 2)]
    web = [node(f"web{i}", "web") for i in (1, 2, 3)]
    return hs.any_of(lbs) & hs.k_of_n(2, web) & node("db", "db")


def tier_of(name):
    return name.rstrip("0123456789")


def measured(seed, plan):
    sim = hs.Simulation(seed=seed, record="aggregate")
    sim.up_when(three_tier(sim))
    result = sim.run(until=plan.horizon, warmup=plan.warmup, engine="events")
    return result.importance()


@pytest.mark.parametrize("plan", IMPORTANCE_PLANS)
def test_importance_rankings_from_theory_and_simulation_agree(plan):
    structure = three_tier(hs.Simulation(seed=0)).unbound()
    theory = structure.importance({n: TIERS[tier_of(n)] for n in structure.names})
    tables = [measured(seed, plan) for seed in plan.seeds]
    for measure in ("criticality", "fussell_vesely"):
        by_tier = {}
        for tier, first in (("lb", "lb1"), ("web", "web1"), ("db", "db")):
            estimate = t_interval(table.loc[first, measure] for table in tables)
            check(f"{measure} of {first}", estimate, theory.loc[first, measure], plan.rel)
            by_tier[tier] = (estimate.mean, theory.loc[first, measure])
        order = sorted(by_tier, key=lambda t: by_tier[t][0], reverse=True)
        expected = sorted(by_tier, key=lambda t: by_tier[t][1], reverse=True)
        assert order == expected, (measure, by_tier)
