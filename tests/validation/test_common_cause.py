"""Correlated failures against their closed forms: zone outages and the beta-factor model.

Every test estimates an *unavailability* (the share of the measured window the system is
down) from independent replications and checks it with ``stats.check``: the closed form must
lie in the 99.9 % Student-t interval of the replications, and the half-width must be below
``plan.rel`` of it (see ``stats.py``). No clients: only failure and repair events, so long
horizons are cheap.

Why the closed forms are exact
    Every node and every domain fails and is repaired by its own exponential clock (a crew of
    its own; a node keeps its own clock while its zone is down, see ``hasim.faults``). The
    processes are therefore independent, and a node is up while it *and* its domain are up,
    so the stationary law is a product: two servers in two zones are both down with
    probability ``(1 - Az An)^2``, two in one zone with ``1 - Az (1 - (1 - An)^2)``
    (``analytic.reliability.k_of_n_domains``). The beta-factor split (``Failures.split``) is
    the same structure, a group domain over independent members
    (``analytic.reliability.beta_factor``).

Run lengths were set so that the expected half-width is at most about 65 % of the bound,
calibrated on seeds 101..120 (not those the tests use). Quick, ``plan.longer(1.6)``: 3.2 % of
theory for the spread design, 2.2 % for the single zone, 4.2 % for their difference (bound
10 %); the beta case, ``plan.longer(1.5)``: 2.9 %. The slow variants (10 times the window,
twice the runs) come to about a fifth of that, against bounds five times tighter.
"""

from __future__ import annotations

import pytest

import hasim as hs
from hasim.analytic.reliability import availability, beta_factor, k_of_n, k_of_n_domains

from .stats import Plan, check, check_conservation, replicate, t_interval, variants

#: Nodes: A = 100 / (100 + 25) = 0.8; zones: Az = 200 / (200 + 10) = 0.952 (a zone fails
#: twice as rarely as a node and is back 2.5 times sooner, but takes everything in it down).
NODE = hs.Failures(ttf=hs.Exponential(mean=100.0), ttr=hs.Exponential(mean=25.0))
ZONE = hs.Failures(ttf=hs.Exponential(mean=200.0), ttr=hs.Exponential(mean=10.0))
A_NODE = availability(100.0, 25.0)
A_ZONE = availability(200.0, 10.0)

#: Beta-factor pair: MTTF 100 (all causes), MTTR 10, a share 0.3 of failures common.
MTTF, MTTR, BETA = 100.0, 10.0, 0.3

#: As in test_availability: quick 20 runs of 2.5e5 s, slow 40 of 2.5e6 s (each stretched
#: below by a calibrated factor).
PLANS = variants(
    quick=Plan(replications=20, horizon=2.5e5, warmup=1e4, rel=0.05),
    slow=Plan(replications=40, horizon=2.5e6, warmup=1e4, rel=0.01),
)


def unavailability(sim: hs.Simulation, plan: Plan) -> float:
    """Run ``sim`` over ``plan``'s horizon; the share of the window the system was down."""
    summary = sim.run(until=plan.horizon, warmup=plan.warmup).summary()
    check_conservation(summary)
    assert summary["issued"] == 0
    return summary["downtime"] / summary["window"]


def two_servers(seed: int, plan: Plan, *, spread: bool) -> float:
    """Two servers, up while either is; in zones z0 and z1 (spread) or both in z0.

    Both designs hold the same components (z1 is empty in the single-zone one), so a seed
    gives both the same failure times: the comparison is paired (common random numbers).
    """
    sim = hs.Simulation(seed=seed, record="aggregate")
    hs.Domain(sim, "z0", failures=ZONE)
    hs.Domain(sim, "z1", failures=ZONE)
    zones = ("z0", "z1") if spread else ("z0", "z0")
    servers = [hs.Node(sim, f"s{i}", zone=zone, failures=NODE) for i, zone in enumerate(zones)]
    sim.up_when(lambda: any(s.up for s in servers))
    return unavailability(sim, plan)


@pytest.mark.parametrize("plan", PLANS)
def test_two_servers_under_zone_outages(plan):
    """Any of two servers up, with zones that fail: the product form, and spreading wins.

    Theory: ``1 - k_of_n_domains(1, sizes, A, Az)``: ``(1 - Az A)^2`` = 0.0567 spread over
    two zones (sizes ``[1, 1]``), ``1 - Az (1 - (1 - A)^2)`` = 0.0857 in one (``[2]``).
    Tolerance: for each design the 99.9 % t-interval of the unavailability must cover its
    closed form and be narrower than ``plan.rel`` of it.

    The difference, 0.0290 (a third of the single-zone downtime), is checked too: each seed
    runs both designs with the same failure times, so it is measured paired. Its interval
    must cover the theory, be narrower than ``2 * plan.rel`` of it (a difference of two
    estimates; expected about 4 % quick, 42 % of the bound), and lie above zero: spreading
    over zones is better, with 99.9 % confidence.
    """
    plan = plan.longer(1.6)
    runs = [
        (two_servers(s, plan, spread=True), two_servers(s, plan, spread=False)) for s in plan.seeds
    ]
    spread = t_interval(two for two, _ in runs)
    single = t_interval(one for _, one in runs)
    gain = t_interval(one - two for two, one in runs)
    theory_spread = 1.0 - k_of_n_domains(1, [1, 1], A_NODE, A_ZONE)
    theory_single = 1.0 - k_of_n_domains(1, [2], A_NODE, A_ZONE)
    check("1-of-2 unavailability, zone outages, two zones", spread, theory_spread, plan.rel)
    check("1-of-2 unavailability, zone outages, one zone", single, theory_single, plan.rel)
    check("unavailability one zone - two zones", gain, theory_single - theory_spread, 2 * plan.rel)
    assert gain.mean - gain.half_width > 0


def beta_pair(seed: int, plan: Plan) -> float:
    """Two nodes with the beta-factor split of their failures, up while either is."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))
    own, common = failures.split(BETA)
    nodes = [hs.Node(sim, f"n{i}", failures=own) for i in range(2)]
    hs.Domain(sim, "pair", kind="group", members=nodes, failures=common)
    sim.up_when(lambda: any(n.up for n in nodes))
    return unavailability(sim, plan)


@pytest.mark.parametrize("plan", PLANS)
def test_beta_factor_pair(plan):
    """A 1-of-2 pair whose failures are 30 % common: the beta-factor closed form.

    Theory: ``1 - beta_factor(1, 2, MTTF, MTTR, 0.3)`` = 0.0333, four times the 0.0083 of two
    independent nodes (``1 - k_of_n(1, 2, A)``), which the test could not confuse with it.
    Tolerance: the 99.9 % t-interval must cover the theory and be narrower than ``plan.rel``.
    """
    theory = 1.0 - beta_factor(1, 2, MTTF, MTTR, BETA)
    independent = 1.0 - k_of_n(1, 2, availability(MTTF, MTTR))
    assert theory > 3 * independent
    plan = plan.longer(1.5)
    estimate = replicate(lambda seed: beta_pair(seed, plan), plan)
    check(f"1-of-2 unavailability, beta factor {BETA}", estimate, theory, plan.rel)
