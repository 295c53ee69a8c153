"""Uptime of repairable nodes and k-of-n systems against their closed forms.

Every test estimates the *unavailability* ``1 - A`` (the share of the measured window the
system is down, ``downtime / window``) from independent replications and checks it with
``stats.check``: the closed form must lie in the 99.9 % Student-t interval of the replications,
and the interval's half-width must be below ``plan.rel`` of the closed form (see
``stats.py`` for why this is the tolerance). These runs have no clients, only failure and
repair events, so long horizons are cheap.

The nodes start new and up; the first ``warmup`` seconds (100 mean times to failure) are
discarded so the measured window starts close to the stationary regime.
"""

from __future__ import annotations

import pytest

import hasim as hs
from hasim import analytic

from .stats import Plan, check, check_conservation, replicate, variants

MTTF = 100.0
MTTR = 10.0
EXP_TTF = hs.Exponential(mean=MTTF)
EXP_TTR = hs.Exponential(mean=MTTR)
#: Repairs in the k-of-n tests are longer (A = 0.8 per node) so that system outages are
#: frequent enough for a tight interval at small cost; the closed forms hold for any ratio.
SYS_MTTR = 25.0
SYS_TTR = hs.Exponential(mean=SYS_MTTR)

#: Quick: 20 runs of 2.5e5 s (about 2,200 failures per node and run); slow: 40 runs of
#: 2.5e6 s. A k-of-n case whose outages are rarer runs ``plan.longer(scale)``, with ``scale``
#: set so that its expected half-width is at most about 65 % of the bound (calibrated on
#: seeds 101..160, not on the seeds the tests use).
PLANS = variants(
    quick=Plan(replications=20, horizon=2.5e5, warmup=1e4, rel=0.05),
    slow=Plan(replications=40, horizon=2.5e6, warmup=1e4, rel=0.01),
)

#: (TTF, TTR) pairs with the same means: the alternating-renewal theorem makes the uptime
#: depend on the means only (insensitivity), so all share MTTF / (MTTF + MTTR).
DISTRIBUTIONS = [
    pytest.param(EXP_TTF, EXP_TTR, id="exp-exp"),
    pytest.param(EXP_TTF, hs.LogNormal(mean=MTTR, sigma=1.0), id="exp-lognormal"),
    pytest.param(hs.Weibull(2.0, mean=MTTF), hs.Deterministic(MTTR), id="weibull-deterministic"),
]


def run_nodes(
    seed: int,
    plan: Plan,
    *,
    n: int,
    k: int,
    ttf: hs.Distribution,
    ttr: hs.Distribution,
    crews: int | None = None,
) -> hs.Summary:
    """One replication: ``n`` nodes, up while at least ``k`` are; the run's summary.

    ``crews=None`` gives every node a repair crew of its own (independent nodes); an
    integer makes the nodes share one ``RepairCrews`` pool of that size (FIFO).
    """
    sim = hs.Simulation(seed=seed, record="aggregate")
    pool = None if crews is None else hs.RepairCrews(sim, "ops", crews=crews)
    failures = hs.Failures(ttf=ttf, ttr=ttr, crews=pool)
    nodes = [hs.Node(sim, f"n{i}", failures=failures) for i in range(n)]
    sim.up_when(lambda: sum(node.up for node in nodes) >= k)
    summary = sim.run(until=plan.horizon, warmup=plan.warmup).summary()
    check_conservation(summary)
    assert summary["issued"] == 0
    return summary


def unavailability(summary: hs.Summary) -> float:
    """The share of the measured window in which the system was down."""
    return summary["downtime"] / summary["window"]


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize(("ttf", "ttr"), DISTRIBUTIONS)
def test_single_node_uptime_is_mttf_over_mttf_plus_mttr(ttf, ttr, plan):
    """One node with its own crew is up MTTF / (MTTF + MTTR) of the time, whatever the laws.

    Theory: ``analytic.availability(MTTF, MTTR)`` = 10/11 (alternating renewal process; holds
    for any TTF and TTR distributions with these means, so exponential, LogNormal (sigma 1)
    repair and Weibull (shape 2) failures with deterministic repair must all agree).
    Tolerance: the 99.9 % t-interval of the unavailability over the replications must cover
    ``1 - A`` = 1/11, and be narrower than ``plan.rel`` (5 % quick, 1 % slow) of it.
    """
    theory = 1.0 - analytic.availability(ttf.mean, ttr.mean)
    estimate = replicate(
        lambda seed: unavailability(run_nodes(seed, plan, n=1, k=1, ttf=ttf, ttr=ttr)), plan
    )
    check(f"1 node unavailability, {ttf} / {ttr}", estimate, theory, plan.rel)


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize(("ttf", "ttr"), DISTRIBUTIONS)
def test_single_node_incidents_last_one_repair(ttf, ttr, plan):
    """Each outage of a one-node system is one repair: the incidents' MTTR is the TTR's mean.

    Theory: ``summary["mttr"]`` (mean duration of the incidents that began and ended in the
    window) estimates ``E[TTR]`` = 10 s, exactly 10 for deterministic repair. Tolerance: the
    99.9 % t-interval over the replications must cover 10 s and be narrower than ``plan.rel``.
    Incidents are chosen by their start time, which is independent of their length here, so
    the window adds no length bias, except that an incident still going on at the horizon is
    left out (one in about 2,000: negligible).
    """
    estimate = replicate(
        lambda seed: run_nodes(seed, plan, n=1, k=1, ttf=ttf, ttr=ttr)["mttr"], plan
    )
    if isinstance(ttr, hs.Deterministic):  # every repair is exactly 10 s: no spread at all
        assert estimate.mean == pytest.approx(MTTR, rel=1e-9)
        assert estimate.half_width == pytest.approx(0.0, abs=1e-9)
        return
    check(f"1 node incident MTTR, {ttf} / {ttr}", estimate, ttr.mean, plan.rel)


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize(
    ("k", "n", "ttf", "ttr", "scale"),
    [
        pytest.param(2, 3, EXP_TTF, SYS_TTR, 1.0, id="2-of-3"),
        pytest.param(1, 2, EXP_TTF, SYS_TTR, 2.5, id="1-of-2"),
        pytest.param(3, 5, EXP_TTF, SYS_TTR, 2.0, id="3-of-5"),
        pytest.param(
            2,
            3,
            hs.Weibull(2.0, mean=MTTF),
            hs.LogNormal(mean=SYS_MTTR, sigma=1.0),
            1.0,
            id="2-of-3-nonexp",
        ),
    ],
)
def test_k_of_n_with_a_crew_per_node_is_binomial(k, n, ttf, ttr, scale, plan):
    """Independent nodes (a crew each): P(at least k of n up) is the binomial tail.

    Theory: ``analytic.k_of_n(k, n, A)`` with ``A = MTTF / (MTTF + SYS_MTTR)`` = 0.8.
    Independence makes the joint stationary law the product of the nodes' (each up with
    probability A, whatever its laws), so a Weibull / LogNormal case must agree too.
    Tolerance: the 99.9 % t-interval of the system's unavailability over the replications
    must cover ``1 - k_of_n`` (4 % to 10 % here) and be narrower than ``plan.rel`` of it
    (5 % quick, 1 % slow).
    """
    theory = 1.0 - analytic.k_of_n(k, n, analytic.availability(ttf.mean, ttr.mean))
    plan = plan.longer(scale)
    estimate = replicate(
        lambda seed: unavailability(run_nodes(seed, plan, n=n, k=k, ttf=ttf, ttr=ttr)), plan
    )
    check(f"{k}-of-{n} unavailability, own crews, {ttf} / {ttr}", estimate, theory, plan.rel)


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize(
    ("k", "n", "crews", "scale"),
    [
        pytest.param(2, 3, 1, 1.0, id="2-of-3-1crew"),
        pytest.param(1, 2, 1, 2.5, id="1-of-2-1crew"),
        pytest.param(3, 5, 1, 1.0, id="3-of-5-1crew"),
        pytest.param(3, 5, 2, 1.5, id="3-of-5-2crews"),
    ],
)
def test_k_of_n_with_shared_crews_is_the_repair_chain(k, n, crews, scale, plan):
    """Nodes sharing a FIFO pool of crews: the birth-death chain of the number failed.

    Theory: ``analytic.k_of_n_repair(k, n, MTTF, SYS_MTTR, crews)``; with exponential TTF and TTR
    the number of failed nodes ``j`` is a birth-death chain (failures at ``(n - j) / MTTF``,
    repairs at ``min(j, crews) / MTTR``), and the system is up while ``j <= n - k``. A shared
    crew makes nodes wait for repair, so this is well above the independent ``k_of_n`` value
    (e.g. 21 % vs 10.4 % unavailable for 2-of-3): the test tells the two apart. Tolerance:
    the 99.9 % t-interval of the unavailability must cover the chain's value and be narrower
    than ``plan.rel`` of it (5 % quick, 1 % slow).
    """
    theory = 1.0 - analytic.k_of_n_repair(k, n, MTTF, SYS_MTTR, crews=crews)
    plan = plan.longer(scale)
    estimate = replicate(
        lambda seed: unavailability(
            run_nodes(seed, plan, n=n, k=k, ttf=EXP_TTF, ttr=SYS_TTR, crews=crews)
        ),
        plan,
    )
    check(f"{k}-of-{n} unavailability, {crews} shared crew(s)", estimate, theory, plan.rel)
