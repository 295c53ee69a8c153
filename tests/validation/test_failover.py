"""Uptime of an active-passive pair against the steady state of its Markov chain.

Model: two members fail at rate ``lam`` each (exponential) and are repaired at rate ``mu``
(a crew each); the manager never fails; ``failback="stay"``, so the pair is symmetric and
only "the active" and "the other" matter. Detection takes ``D = timeout - U * heartbeat``
after a crash (heartbeats on a grid, crash phase ``U`` uniform), mean ``timeout -
heartbeat / 2`` = 1 s here; the chain replaces it by an exponential phase of that mean
(rate ``eta``); the error is second order (rates times the variance difference, ~0.2 % of
the downtime) and well inside the tolerance. The promotion delay is exponential (rate
``delta``), so the chain is otherwise exact. Promotion succeeds with probability ``c``.

States (U = up, D = down) and rates:

====  =========================================================  ============================
0     both up, the active serving (U)                            -> Det lam, -> S1 lam
Det   active down, other up, not yet suspected (D)               -> Sw eta, -> B2d lam, -> 0 mu
Sw    active down, other up, promotion delay running (D)          -> S1 delta c,
                                                                  -> F delta (1 - c),
                                                                  -> B2 lam, -> 0 mu
S1    active up, other down (U)                                  -> 0 mu, -> B2d lam
B2d   both down, active not yet suspected (D)                    -> B2 eta, -> S1 mu (active
                                                                  repaired), -> Det mu
B2    both down, promotion delay running (D)                     -> B delta, -> S1 mu, -> Sw mu
B     both down, delay over, retrying each heartbeat (D)         -> S1 mu (active repaired)
                                                                  + mu c (other repaired and
                                                                  promoted at once),
                                                                  -> F mu (1 - c)
F     promotion failed: active down, other up, wait for repair   -> 0 mu, -> BF lam
BF    promotion failed, both down (D)                            -> S1 mu, -> F mu
====  =========================================================  ============================

Unavailability = the stationary mass of the D states: ``hasim.analytic.active_passive_chain``
builds this chain (``tests/test_analytic_ctmc.py`` checks it against closed forms).
Tolerance: ``stats.check`` (99.9 % t-interval over replications, half-width below
``plan.rel`` of the theory).
"""

from __future__ import annotations

import pytest

import hasim as hs
from hasim.analytic import active_passive_chain
from hasim.failover import ActivePassive

from .stats import Plan, check, check_conservation, replicate, variants

MTTF = 200.0
MTTR = 40.0
PROMOTION = 10.0
HEARTBEAT = 1.0
TIMEOUT = 1.5

#: Quick: 20 runs of 6e4 s (about 300 failures per member and run; every second carries
#: heartbeats, so runs are costlier than plain failure/repair runs) with a 10 % bound,
#: looser than the suite's 5 % to keep the default run short; slow: 40 runs of 6e5 s, 2 %.
PLANS = variants(
    quick=Plan(replications=20, horizon=6e4, warmup=2e3, rel=0.10),
    slow=Plan(replications=40, horizon=6e5, warmup=2e3, rel=0.02),
)


def theory(coverage: float, coverage_on: str = "active") -> float:
    """The chain's unavailability for the module's parameters (``hasim.analytic``'s chain)."""
    chain, up = active_passive_chain(
        MTTF,
        MTTR,
        detection=TIMEOUT - HEARTBEAT / 2,
        switchover=PROMOTION,
        coverage=coverage,
        coverage_on=coverage_on,
    )
    return 1.0 - chain.availability(up)


def run_pair(seed: int, plan: Plan, coverage: float, coverage_on: str = "active") -> float:
    """One replication: the downtime share of the pair over the measured window."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))
    p = hs.Server(sim, "p", failures=failures)  # no traffic: only up or down matters
    s = hs.Server(sim, "s", failures=failures)
    ap = ActivePassive(
        sim,
        "ap",
        primary=p,
        standby=s,
        heartbeat=HEARTBEAT,
        timeout=TIMEOUT,
        promotion_delay=hs.Exponential(mean=PROMOTION),
        coverage=coverage,
        coverage_on=coverage_on,
        failback="stay",
        healthy_after=1,
    )
    sim.up_when(lambda: ap.up)
    summary = sim.run(until=plan.horizon, warmup=plan.warmup).summary()
    check_conservation(summary)
    return summary["downtime"] / summary["window"]


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("coverage", [1.0, 0.8])
def test_active_passive_uptime_matches_its_markov_chain(coverage, plan):
    """Simulated unavailability of the pair = the chain's, within the t-interval."""
    estimate = replicate(lambda seed: run_pair(seed, plan, coverage), plan)
    check(
        f"active-passive unavailability, coverage {coverage}", estimate, theory(coverage), plan.rel
    )


# -- a pair that rarely fails: fast-forward ---------------------------------------------------

#: MTTF / switchover = 10^4: 28 h between failures of a member, 11 s to fail over. A full
#: run costs heartbeats for every simulated second (two years per replication would take
#: minutes); ``hs.FastForward()`` skips the quiet stretches (``ActivePassive._ff_quiet``).
RARE = {"mttf": 1e5, "mttr": 1800.0, "promotion": 10.0}

#: Quick: 20 runs of 1e8 s (about 1,000 failures per member and run), 35 % (99.9 % level);
#: slow: 40 runs of 1e9 s, 7 %. ``bench/bench_failover.py`` reaches 5 % at 95 % in ~15 s.
RARE_PLANS = variants(
    quick=Plan(replications=20, horizon=1e8, warmup=0.0, rel=0.35),
    slow=Plan(replications=40, horizon=1e9, warmup=0.0, rel=0.07),
)


def run_rare_pair(seed: int, plan: Plan) -> float:
    """One fast-forwarded replication of the rarely failing pair: its downtime share."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(
        ttf=hs.Exponential(mean=RARE["mttf"]), ttr=hs.Exponential(mean=RARE["mttr"])
    )
    p = hs.Server(sim, "p", failures=failures)
    s = hs.Server(sim, "s", failures=failures)
    pair = ActivePassive(
        sim, "ap", primary=p, standby=s, heartbeat=HEARTBEAT, timeout=TIMEOUT,
        promotion_delay=hs.Exponential(mean=RARE["promotion"]), failback="stay",
        healthy_after=1,
    )  # fmt: skip
    sim.up_when(pair)
    summary = sim.run(until=plan.horizon, fast_forward=hs.FastForward()).summary()
    assert sim.skipped > 0.99 * plan.horizon  # nearly all of it is quiet
    return summary["downtime"] / summary["window"]


@pytest.mark.parametrize("plan", RARE_PLANS)
def test_a_rarely_failing_pair_fast_forwarded_matches_its_markov_chain(plan):
    """MTTF/switchover 1e4: the fast-forwarded unavailability = the chain's, in the interval."""
    chain, up = active_passive_chain(
        RARE["mttf"], RARE["mttr"], detection=TIMEOUT - HEARTBEAT / 2,
        switchover=RARE["promotion"],
    )  # fmt: skip
    estimate = replicate(lambda seed: run_rare_pair(seed, plan), plan)
    what = "active-passive unavailability, MTTF/switchover 1e4"
    check(what, estimate, 1 - chain.availability(up), plan.rel)
