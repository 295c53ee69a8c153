"""t-visibility of a QuorumStore with PBS's four WARS latencies against the WARS integration.

Bailis et al. (VLDB 2012, sec. 5) model a partial quorum by four one-way latencies: W (write to
a replica), A (its acknowledgement), R (read request) and S (read response). Here they are
exponential with four different rates (W 100/s, A 500/s, R 250/s, S 1000/s: writes propagate
slowly); ``hasim.replication.pbs.visibility_trials`` writes a fresh key per trial, waits for the
commit and reads it ``t`` later; ``hasim.analytic.wars_consistency`` integrates the same model
numerically (itself checked against an independent scipy quadrature and Monte Carlo in
tests/test_analytic_staleness.py).

Method (as tests/validation/test_quorum.py, for probabilities): the trials are independent
Bernoulli draws (fresh keys, instant replicas, no read repair), so the share of stale reads at
each ``t`` has a binomial distribution; its Wilson score interval (scipy's ``binomtest``) at
``LEVEL`` = 99.9 % must contain the integrated P(stale) = 1 - P(consistent), and its
half-width must be at most ``rel`` of it (quick: 30 %; slow: 6 %), so a pass bounds the error.
Trial counts keep the expected half-width at most about three quarters of the bound at the
latest ``t``, where P(stale) is smallest. Seeds are fixed: a failure is a > 3.3 standard-error
event and means a bug.
"""

from __future__ import annotations

import pytest
from scipy import stats as st

import hasim as hs
from hasim.analytic.staleness import wars_consistency
from hasim.replication.pbs import visibility_trials
from hasim.replication.quorum import WARS

from .stats import LEVEL, RECORDS

WARS4 = WARS(
    write=hs.Exponential(rate=100.0),
    ack=hs.Exponential(rate=500.0),
    read=hs.Exponential(rate=250.0),
    response=hs.Exponential(rate=1000.0),
)


def _check(n, r, w, fanout, trials, rel, gaps, seed=1):
    seen = visibility_trials(
        seed, n=n, r=r, w=w, wars=WARS4, gaps=gaps, trials=trials, read_fanout=fanout
    )
    theory = 1.0 - wars_consistency(n, r, w, WARS4, list(seen.gaps), fanout=fanout)
    intervals = []
    for t, reads, fresh, want in zip(seen.gaps, seen.reads, seen.consistent, theory, strict=True):
        assert reads == trials  # every write committed, every read was answered
        stale = reads - fresh
        ci = st.binomtest(stale, reads).proportion_ci(confidence_level=LEVEL, method="wilson")
        share, half = stale / reads, (ci.high - ci.low) / 2
        what = f"WARS N={n} R={r} W={w} {fanout}: P(stale {t * 1000:g} ms after commit)"
        RECORDS.append((what, share, half, want, rel))
        detail = f"{what}: {stale}/{reads} = {share:.5g} [{ci.low:.5g}, {ci.high:.5g}], {want:.5g}"
        assert ci.low <= want <= ci.high, "integration outside the Wilson interval: " + detail
        assert half <= rel * want, f"interval wider than {rel:.0%} of theory: " + detail
        intervals.append(ci)
    # Staleness falls with time since the commit: the last interval lies wholly below the first.
    assert intervals[-1].high < intervals[0].low


def test_quick_n3_r1_w1_reads_to_all():
    """N=3, R=W=1, reads to all three (the first answer wins): P(consistent) 0.509 at once,
    0.702 after 5 ms, 0.934 after 20 ms, as integrated; about 2 s."""
    _check(3, 1, 1, "all", trials=4000, rel=0.30, gaps=(0.0, 0.005, 0.020))


@pytest.mark.slow
@pytest.mark.parametrize(
    "n, r, w, fanout", [(3, 1, 1, "all"), (5, 2, 2, "all"), (3, 1, 1, "quorum"), (5, 1, 2, "all")]
)
def test_slow_wars_settings(n, r, w, fanout):
    """100,000 trials per setting (N=3 R=W=1 to all or to one random replica, N=5 R=W=2,
    N=5 R=1 W=2), 6 % precision on P(stale) at 0, 2 and 5 ms after the commit (where
    P(stale) >= 0.05 in every setting, so 100,000 trials reach that precision)."""
    _check(n, r, w, fanout, trials=100_000, rel=0.06, gaps=(0.0, 0.002, 0.005), seed=2)
