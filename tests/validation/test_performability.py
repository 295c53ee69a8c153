"""Performability and the three state-only engines against closed forms.

A k-of-n cluster whose up servers carry the load in proportion (``reward=hs.share_up``)
serves, in the long run, ``E[R] = sum_{j >= k} (j / n) C(n, j) a^j (1 - a)^(n - j)`` of its
capacity, with ``a = MTTF / (MTTF + MTTR)`` per independent node. The checked quantity is
the *lost* capacity ``1 - E[R]`` (as for availabilities, a relative bound on what is
missing is the real test). Intervals and precision bounds as everywhere in this folder
(``stats.py``: the theory inside the 99.9 % Student-t interval of independent
replications, and the half-width below ``plan.rel`` of it).

The same design also checks that the vectorised engine's uptime, which is bit-identical to
the event engines' by construction (tests/test_lean.py), agrees with the binomial tail.
"""

from __future__ import annotations

from math import comb

import pytest

import hasim as hs

from .stats import Plan, check, replicate, variants

MTTF, MTTR = 100.0, 25.0
A = MTTF / (MTTF + MTTR)

PLANS = variants(
    quick=Plan(replications=20, horizon=2.5e5, warmup=1e4, rel=0.05),
    slow=Plan(replications=40, horizon=2.5e6, warmup=1e4, rel=0.01),
)


def served(k: int, n: int) -> float:
    """Long-run share of capacity served: up servers carry j/n while at least k are up."""
    return sum(j / n * comb(n, j) * A**j * (1 - A) ** (n - j) for j in range(k, n + 1))


def run(seed: int, plan: Plan, *, k: int, n: int, engine: str) -> hs.Summary:
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))
    web = [hs.Node(sim, f"n{i}", failures=failures) for i in range(n)]
    sim.up_when(hs.k_of_n(k, web), reward=hs.share_up(web))
    return sim.run(until=plan.horizon, warmup=plan.warmup, engine=engine).summary()


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("engine", ["lean", "vector"])
@pytest.mark.parametrize(("k", "n"), [(2, 3), (3, 5)])
def test_lost_capacity_of_a_k_of_n_cluster(plan, engine, k, n):
    estimate = replicate(lambda s: 1.0 - run(s, plan, k=k, n=n, engine=engine)["performability"],
                         plan)  # fmt: skip
    check(f"lost capacity {k}-of-{n} ({engine})", estimate, 1.0 - served(k, n), plan.rel)


@pytest.mark.parametrize("plan", PLANS)
def test_vector_engine_uptime_of_2_of_3_against_the_binomial_tail(plan):
    theory = 1.0 - hs.analytic.k_of_n(2, 3, A)
    estimate = replicate(lambda s: 1.0 - run(s, plan, k=2, n=3, engine="vector")["uptime"],
                         plan)  # fmt: skip
    check("1 - A of 2-of-3 (vector)", estimate, theory, plan.rel)
