"""Structure expressions: exact RBD availability and importance against simulation.

Each design is built of independent nodes with exponential failures and a repair crew
each, so the exact availability is the structure function of the nodes' steady-state
availabilities (``hasim.analytic.structure``; its unit tests check it against brute
force). The checked quantity is the unavailability ``1 - A`` (stats.py: the theory inside
the 99.9 % Student-t interval of independent replications, the half-width below
``plan.rel`` of it). These runs take the lean state-only engine (``engine="auto"`` with
``record="aggregate"`` and no clients; the test asserts that it did).

Importance: on a 3-tier design (a balancer pair, 2 of 3 web servers, one database)
whose tiers differ, ``hasim.metrics.importance.simulated_importance`` measures
criticality and Fussell-Vesely as shares of system downtime. That needs every
component's history, so these runs use the event engine (``engine="events"``; the lean
one keeps none). Each share must match the theory's within the same kind of interval,
and the tiers must rank the same way by both measures. The last tests check the
measurement itself on hand-made state logs.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

import hasim as hs
from hasim.metrics import attribution
from hasim.metrics.importance import simulated_importance

from .stats import Plan, check, replicate, variants

MTTF, MTTR = 100.0, 10.0

#: Horizons calibrated on seeds 101..120 (quick: relative half-widths series 1.6 %, nested
#: 1.9 %, shared 2.2 %, parallel 4.6 % and 3-of-5 6.6 % at 2e5 s): with ``LONGER`` every
#: expected half-width is at most about 65 % of ``rel``, in both variants.
PLANS = variants(
    quick=Plan(replications=20, horizon=2e5, warmup=1e3, rel=0.05),
    slow=Plan(replications=40, horizon=2e6, warmup=1e3, rel=0.01),
)


def _series(node):
    return hs.all_of(node("a"), node("b"), node("c"))


def _parallel(node):
    return hs.any_of(node("a"), node("b"))


def _k_of_n(node):
    return hs.k_of_n(3, [node(f"n{i}") for i in range(5)])


def _nested(node):
    lbs = [node("lb1"), node("lb2")]
    web = [node(f"web{i}") for i in (1, 2, 3)]
    return hs.any_of(lbs) & hs.k_of_n(2, web) & node("db")


def _shared(node):
    a, b, c = node("a"), node("b"), node("c")
    return hs.all_of(a, b) | hs.all_of(a, c)  # a feeds both branches: a & (b | c)


DESIGNS = {"series": _series, "parallel": _parallel, "3-of-5": _k_of_n, "nested": _nested,
           "shared": _shared}  # fmt: skip
#: Designs with rarer outages run longer, for the same relative precision.
LONGER = {"parallel": 3.0, "3-of-5": 6.0}


def down_share(seed, plan, design):
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))
    sim.up_when(DESIGNS[design](lambda name: hs.Node(sim, name, failures=failures)))
    result = sim.run(until=plan.horizon, warmup=plan.warmup)
    assert not result.history_kept  # the lean engine ran
    summary = result.summary()
    return summary["downtime"] / summary["window"]


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("design", list(DESIGNS))
def test_exact_rbd_availability_matches_simulation(plan, design):
    structure = DESIGNS[design](lambda name: name)  # the same expression, over names
    theory = 1 - structure.availability((MTTF, MTTR))
    plan = plan.longer(LONGER.get(design, 1.0))
    estimate = replicate(lambda seed: down_share(seed, plan, design), plan)
    check(f"1 - A of the {design} structure", estimate, theory, plan.rel)


# -- importance on a 3-tier design -----------------------------------------------------------

#: (MTTF, MTTR) per tier, chosen so that the tiers' shares of the downtime are distinct
#: and well apart: criticality web 0.40 > db 0.26 > lb 0.10 (each component), FV alike.
TIERS = {"lb": (150.0, 10.0), "web": (100.0, 10.0), "db": (1000.0, 10.0)}
#: One component of each tier (the others of a tier are its mirror images).
FIRST = {"lb": "lb1", "web": "web1", "db": "db"}

#: The rarest share, lb1's (both balancers down), sets the length: its relative half-width
#: was 11.8 % over 20 runs of 2e5 s (seeds 101..120), so 5.9 % expected at 8e5 s (quick,
#: bound 10 %) and 1.9 % for 40 runs of 4e6 s (slow, bound 3 %).
IMPORTANCE_PLANS = variants(
    quick=Plan(replications=20, horizon=8e5, warmup=1e3, rel=0.10),
    slow=Plan(replications=40, horizon=4e6, warmup=1e3, rel=0.03),
)


def three_tier(node):
    lbs = [node("lb1"), node("lb2")]
    web = [node(f"web{i}") for i in (1, 2, 3)]
    return hs.any_of(lbs) & hs.k_of_n(2, web) & node("db")


def tier(name):
    return name.rstrip("0123456789")


def measured(seed, plan):
    sim = hs.Simulation(seed=seed, record="aggregate")

    def node(name):
        mttf, mttr = TIERS[tier(name)]
        failures = hs.Failures(ttf=hs.Exponential(mean=mttf), ttr=hs.Exponential(mean=mttr))
        return hs.Node(sim, name, failures=failures)

    structure = three_tier(node)
    sim.up_when(structure)
    result = sim.run(until=plan.horizon, warmup=plan.warmup, engine="events")
    return simulated_importance(result, structure.unbound())


@pytest.fixture(scope="module")
def theory():
    structure = three_tier(lambda name: name)
    return structure.importance({n: TIERS[tier(n)] for n in structure.names})


@pytest.mark.parametrize("plan", IMPORTANCE_PLANS)
def test_importance_from_theory_and_simulation_agree_and_rank_alike(plan, theory):
    tables = {seed: measured(seed, plan) for seed in plan.seeds}
    for name in FIRST.values():  # the component's own downtime: 1 - A_i
        estimate = replicate(lambda seed, n=name: tables[seed].loc[n, "downtime_share"], plan)
        check(f"downtime share of {name}", estimate, 1 - theory.loc[name, "availability"],
              plan.rel)  # fmt: skip
    for measure in ("criticality", "fussell_vesely"):
        simulated = {}
        for t, name in FIRST.items():
            estimate = replicate(lambda seed, n=name, m=measure: tables[seed].loc[n, m], plan)
            check(f"{measure} of {name} (3-tier)", estimate, theory.loc[name, measure], plan.rel)
            simulated[t] = estimate.mean
        exact = {t: theory.loc[name, measure] for t, name in FIRST.items()}
        assert sorted(simulated, key=simulated.get) == sorted(exact, key=exact.get), measure
    # The theory's tiers are well apart (>= 1.4x), and every replication alone ranks them so.
    crit = theory["criticality"]
    assert crit["web1"] > 1.4 * crit["db"] and crit["db"] > 1.4 * crit["lb1"]
    for table in tables.values():
        assert table.loc["web1", "criticality"] > table.loc["db", "criticality"]
        assert table.loc["db", "criticality"] > table.loc["lb1", "criticality"]


# -- the measurement on hand-made logs ------------------------------------------------------------


def fake_result(state_log, system_log, warmup, until):
    """What simulated_importance reads of a RunResult: the logs and the window."""
    return SimpleNamespace(
        state_log=state_log, warmup=warmup, until=until,
        downtime_by_cause=lambda: attribution.downtime_by_cause(system_log, warmup, until),
    )  # fmt: skip


def test_shares_of_a_parallel_pair_by_hand():
    """a down [10, 40), b down [20, 30) and [50, 60): the pair is down [20, 30) only.

    Both are critical through the whole outage (either repaired ends it), both are in its
    only cut; b's failure at 20 caused it. Window [5, 105]: a down 30 s, b 20 s.
    """
    changes = [(0, "a", "up"), (0, "b", "up"), (10, "a", "down"), (20, "b", "down"),
               (30, "b", "up"), (40, "a", "up"), (50, "b", "down"), (60, "b", "up")]  # fmt: skip
    state_log = [(float(t), n, s) for t, n, s in changes]
    system_log = [(0.0, True, None), (20.0, False, "b"), (30.0, True, "b")]
    table = simulated_importance(
        fake_result(state_log, system_log, 5.0, 105.0), hs.any_of("a", "b")
    )
    expected = pd.DataFrame(
        {"downtime_share": [0.3, 0.2], "criticality": [1.0, 1.0], "fussell_vesely": [1.0, 1.0],
         "caused": [0.0, 1.0]}, index=pd.Index(["a", "b"], name="component"),
    )  # fmt: skip
    pd.testing.assert_frame_equal(table, expected)


def test_a_component_down_with_a_redundant_partner_up_is_not_critical():
    """Series db & (x | y): x down [0, 50), db down [10, 20) (degraded [20, 30) counts as up).

    The system is down [10, 20), caused by db; x is down then but y is up: not critical,
    in no failed cut.
    """
    state_log = [(0.0, "db", "up"), (0.0, "x", "down"), (0.0, "y", "up"), (10.0, "db", "down"),
                 (20.0, "db", "degraded"), (30.0, "db", "up"), (50.0, "x", "up")]  # fmt: skip
    system_log = [(0.0, True, None), (10.0, False, "db"), (20.0, True, "db")]
    s = hs.all_of("db", hs.any_of("x", "y"))
    table = simulated_importance(fake_result(state_log, system_log, 0.0, 100.0), s)
    assert table.index.tolist() == ["db", "x", "y"]
    assert table.loc["db"].tolist() == [0.1, 1.0, 1.0, 1.0]
    assert table.loc["x"].tolist() == [0.5, 0.0, 0.0, 0.0]
    assert table.loc["y"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_no_downtime_leaves_the_conditional_shares_undefined():
    state_log = [(0.0, "a", "up"), (0.0, "b", "up"), (10.0, "a", "down"), (20.0, "a", "up")]
    table = simulated_importance(
        fake_result(state_log, [(0.0, True, None)], 0.0, 100.0), hs.any_of("a", "b")
    )
    assert table.loc["a", "downtime_share"] == pytest.approx(0.1)
    assert table[["criticality", "fussell_vesely", "caused"]].isna().all().all()


def test_a_lean_run_has_no_history_to_measure():
    sim = hs.Simulation(seed=1, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))
    structure = hs.any_of(
        hs.Node(sim, "a", failures=failures), hs.Node(sim, "b", failures=failures)
    )
    sim.up_when(structure)
    result = sim.run(until=1e4)
    with pytest.raises(hs.SimulationError, match=r'record="requests"\) or run\(engine="events"\)'):
        simulated_importance(result, structure.unbound())


def test_a_component_the_run_did_not_log_is_refused_by_name():
    state_log = [(0.0, "a", "up")]
    with pytest.raises(hs.ConfigError, match=r"no states for \['pair'\]"):
        simulated_importance(fake_result(state_log, [], 0.0, 10.0), hs.all_of("a", "pair"))
