"""Quorum staleness against PBS (Bailis et al., VLDB 2012): k-staleness and t-visibility.

Method (a variant of ``stats.py`` for probabilities): each trial is one fresh key, so trials
are independent Bernoulli draws (their messages use the same streams, but the draws are
independent). The estimate of a probability p is the share of stale reads over the trials,
with its exact (Clopper-Pearson) binomial interval at ``LEVEL`` = 99.9 %; the check asserts
that the closed form lies in it and that the interval's half-width is at most ``rel`` of the
closed form (quick: 15 % for k-staleness, 20 % for t-visibility; slow: 5 %; the rarest
k-staleness value, 0.027, gets 2.5 times that), so a pass bounds the error. Trial counts
keep the expected half-width near two thirds of the bound. Seeds are fixed: a failure is a
> 3.3 standard-error event and means a bug.

k-staleness: writes go to exactly W random replicas and reads to R random ones
(``fanout="quorum"``), read repair off, no hints: a write is then held by exactly its W
replicas, as PBS's formula assumes, and P(read >= k versions behind) = p ** k with
p = C(N-W, R) / C(N, R).

t-visibility: writes go to all N replicas with exponential delays (mean m), replies are
instant; the read leaves t after the acknowledgement (``hasim.replication.quorum.t_visibility``
derives the closed form for both fanouts). The probability of a stale read falls with t.
"""

from __future__ import annotations

import pytest
from scipy import stats as st

import hasim as hs
from hasim.analytic import k_staleness, t_visibility
from hasim.replication import KVWorkload, checker
from hasim.replication.quorum import QuorumStore

from .stats import LEVEL, RECORDS


def _binomial_check(
    what: str, stale: int, trials: int, theory: float, rel: float
) -> tuple[float, float]:
    low, high = st.binomtest(stale, trials).proportion_ci(confidence_level=LEVEL, method="exact")
    share = stale / trials
    half = (high - low) / 2
    RECORDS.append((what, share, half, theory, rel))
    detail = f"{what}: {stale}/{trials} = {share:.5g} [{low:.5g}, {high:.5g}], theory {theory:.5g}"
    assert low <= theory <= high, "theory outside the binomial interval: " + detail
    assert half <= rel * theory, f"interval wider than {rel:.0%} of theory: " + detail
    return low, high


class _Driver(KVWorkload):
    """A KV client that issues only what it is told (its rate is 0 for the whole run); it
    reads the key ``t`` s after each acknowledged write, for each t of ``reads_after``."""

    def __init__(self, sim, name, target, reads_after=()):
        super().__init__(sim, name, target=target, rate=[(0.0, 0.0), (1e12, 1.0)], timeout=10.0)
        self.reads_after = reads_after
        self.gap: dict[int, float] = {}  # read op id -> seconds after its write's ack

    def _ended(self, request):
        super()._ended(request)
        op = request.key
        if op.kind == "write" and op.outcome == hs.OK:
            for t in self.reads_after:
                self.sim.call_later(t, self._read, (op.key, t))

    def _read(self, item):
        key, t = item
        request = self.issue(key, "read")
        self.gap[request.key.id] = t


def _k_staleness_run(seed: int, n: int, r: int, w: int, k: int, trials: int) -> list[int]:
    """Per trial: k writes of a fresh key, each after the last was acknowledged, then a read."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    net = hs.Network(sim, latency=1 * hs.ms)
    kv = QuorumStore(
        sim, "kv", n=n, r=r, w=w, write_fanout="quorum", read_fanout="quorum", read_repair=False
    )
    users = _Driver(sim, "users", kv)
    net.set_latency("users", "kv", 0.0)
    step, period = 0.005, 0.005 * (k + 1)
    for trial in range(trials):
        for i in range(k):
            sim.call_later(trial * period + i * step, lambda key: users.issue(key, "write"), trial)
        sim.call_later(trial * period + k * step, lambda key: users.issue(key, "read"), trial)
    sim.run(until=trials * period + 1.0)
    staleness = checker.stale_reads(users.history)
    assert len(staleness.reads) == trials
    return [read.behind for read in staleness.reads]


K_QUICK, K_SLOW = 12000, 120000


@pytest.mark.parametrize(
    "trials, rel",
    [pytest.param(K_QUICK, 0.15, id="quick"),
     pytest.param(K_SLOW, 0.05, id="slow", marks=pytest.mark.slow)],
)  # fmt: skip
@pytest.mark.parametrize("n, r, w", [(3, 1, 1), (5, 2, 2)])
def test_k_staleness_matches_pbs(n, r, w, trials, rel):
    """P(read >= k versions behind) = (C(N-W, R)/C(N, R)) ** k for k = 1, 2, 3, within a 99.9 %
    binomial interval (N=3 R=W=1: 2/3, 4/9, 8/27; N=5 R=W=2: 0.3, 0.09, 0.027)."""
    k = 3
    behind = _k_staleness_run(1, n, r, w, k, trials)
    for j in range(1, k + 1):
        hits = sum(b >= j for b in behind)
        theory = k_staleness(n, r, w, j)
        # The rarest (0.027) gets the same relative precision with a looser bound.
        bound = rel if theory > 0.05 else 2.5 * rel
        what = f"k-staleness N={n} R={r} W={w}: P(>= {j} behind)"
        _binomial_check(what, hits, trials, theory, bound)


def test_strict_quorums_are_never_stale_in_the_same_setup():
    """The same runs with R + W > N (N=3, R=2, W=2; N=5, R=3, W=3): no read is ever behind."""
    assert not any(_k_staleness_run(2, 3, 2, 2, 3, 2000))
    assert not any(_k_staleness_run(3, 5, 3, 3, 3, 2000))


def _t_visibility_run(seed, n, r, w, mean, gaps, trials, fanout):
    sim = hs.Simulation(seed=seed, record="aggregate")
    net = hs.Network(sim)  # replies and client hops take no time
    kv = QuorumStore(sim, "kv", n=n, r=r, w=w, read_fanout=fanout, read_repair=False)
    for replica in kv.replicas:
        net.set_latency("kv", replica.name, hs.Exponential(mean=mean), symmetric=False)
    users = _Driver(sim, "users", kv, reads_after=gaps)
    for trial in range(trials):
        sim.call_later(trial * 0.002, lambda key: users.issue(key, "write"), trial)
    sim.run(until=trials * 0.002 + 2.0)
    stale = dict.fromkeys(gaps, 0)
    reads = dict.fromkeys(gaps, 0)
    for read in checker.stale_reads(users.history).reads:
        t = users.gap[read.op]
        reads[t] += 1
        stale[t] += read.stale
    assert all(count == trials for count in reads.values())
    return stale


T_QUICK, T_SLOW = 20000, 300000


@pytest.mark.parametrize(
    "trials, rel",
    [pytest.param(T_QUICK, 0.20, id="quick"),
     pytest.param(T_SLOW, 0.05, id="slow", marks=pytest.mark.slow)],
)  # fmt: skip
@pytest.mark.parametrize(
    "n, r, w, fanout", [(3, 1, 1, "all"), (5, 2, 2, "all"), (5, 2, 1, "quorum")]
)
def test_t_visibility_falls_with_time_since_the_write(n, r, w, fanout, trials, rel):
    """Exponential write propagation (mean m = 10 ms): the stale-read probability 1 ms and
    8 ms after the acknowledgement matches the closed form (N=3 R=W=1, reads to all:
    0.5 exp(-t/m) = 0.452, 0.225; N=5 R=W=2, reads to all, the first 2 replies:
    0.3 exp(-2t/m) 5/7 * 4/5 = 0.140, 0.035; N=5 R=2 W=1, reads to 2 random replicas:
    0.6 (exp(-t/m)/2)**2 = 0.123, 0.030), and the later window's interval lies wholly
    below the earlier one's."""
    mean, gaps = 0.010, (0.001, 0.008)
    stale = _t_visibility_run(1, n, r, w, mean, gaps, trials, fanout)
    intervals = []
    for t in gaps:
        theory = t_visibility(n, r, w, t, mean, fanout=fanout)
        what = f"t-visibility N={n} R={r} W={w} {fanout}: P(stale at t={t * 1000:g} ms)"
        intervals.append(_binomial_check(what, stale[t], trials, theory, rel))
    (early_low, _), (_, late_high) = intervals
    assert late_high < early_low
