"""A duplex whose every failure is subject to coverage matches its Markov chain.

Model: ``ActivePassive(coverage_on="any")``, the pair of ``test_failover.py`` (members fail at
rate ``lam`` = 1/200 s and are repaired at ``mu`` = 1/40 s, a crew each; heartbeat 1 s,
timeout 1.5 s, promotion delay exponential, mean 10 s; ``failback="stay"``; the manager never
fails). A promotion succeeds with probability ``c``, and so does the reconfiguration when the
manager detects the standby's failure while it trusts the active member: uncovered, the pair
is down until the failed standby is repaired, and no failover starts meanwhile.

The chain (``hasim.analytic.active_passive_chain(..., coverage_on="any")``) is the one of
``test_failover.py`` with five more states:

====  =========================================================  ============================
S1u   active up, other down, not yet suspected (U)                -> S1 eta c, -> H eta (1 - c),
                                                                  -> 0 mu, -> B2o lam
B2o   both down, neither suspected, the other first (D)           -> B2d eta c,
                                                                  -> HBd eta (1 - c),
                                                                  -> S1u mu, -> Det mu
H     uncovered standby failure: active up, pair down (D)         -> 0 mu, -> HBd lam
HBd   H and the active down too, not yet suspected (D)            -> HB eta, -> H mu, -> Det mu
HB    H and the active down and suspected: no failover (D)        -> H mu, -> Sw mu (the other
                                                                  repaired: failover at once)
====  =========================================================  ============================

and ``0 -> S1u`` (lam) in place of ``0 -> S1``. The chain's approximations are those of
``test_failover.py`` (exponential detection of mean ``timeout - heartbeat / 2``; a repaired
member trusted at once rather than at its next heartbeat, which here only delays a failover
out of ``HB``), second order next to the tolerance. With ``c`` = 0.8 the chain's
unavailability is 0.1068, against 0.0820 when only promotions are subject to coverage.

Tolerance: ``stats.check`` (99.9 % Student-t interval over independent replications,
seeds 1..R, and its half-width below ``plan.rel`` of the theory). Uncovered outages last a
repair (40 s), so replications spread more than in ``test_failover.py`` and the quick runs
are longer. Measured: quick 0.1093 +- 0.0068 (6.4 % of the theory 0.1068, bound 12 %), slow
0.10654 +- 0.0010 (0.9 %, bound 2 %).
"""

from __future__ import annotations

import pytest

from .stats import Plan, check, replicate, variants
from .test_failover import run_pair, theory

COVERAGE = 0.8

#: Quick: 20 runs of 1e5 s (about 500 failures per member and run), 12 %; slow: 40 runs of
#: 1.2e6 s, 2 %.
PLANS = variants(
    quick=Plan(replications=20, horizon=1e5, warmup=2e3, rel=0.12),
    slow=Plan(replications=40, horizon=1.2e6, warmup=2e3, rel=0.02),
)


@pytest.mark.parametrize("plan", PLANS)
def test_a_duplex_with_coverage_on_any_failure_matches_its_markov_chain(plan):
    """Simulated unavailability = the 14-state chain's, within the t-interval; and it is
    clearly not the chain with coverage on promotions only (the standby's share shows)."""
    expected = theory(COVERAGE, "any")
    assert expected > 1.25 * theory(COVERAGE, "active")  # the two modes are far apart
    estimate = replicate(lambda seed: run_pair(seed, plan, COVERAGE, "any"), plan)
    what = f"duplex unavailability, coverage {COVERAGE} on any failure"
    check(what, estimate, expected, plan.rel)
