"""Metastable failure: a retry storm that outlives the slowdown that started it.

The requirement: overload is a failure too. Timeouts, retries and a queue can feed back into a
retry storm that goes on after its trigger has gone (a *metastable* failure, Bronson et al.,
"Metastable Failures in Distributed Systems", HotOS 2021); the model must show it, and show
that a retry budget or a circuit breaker prevents it.

The scenario
    One ``Server``: ``WORKERS`` = 4 workers, exponential service times of mean 10 ms, so a
    capacity of mu = 400 answers/s; no queue limit. One ``OpenLoop`` client sends Poisson
    requests at lambda = 280/s (utilisation 0.7) with a per-try timeout T = 0.2 s and
    aggressive retries: ``Retry(attempts=5, backoff=ConstantBackoff(0))``, retried at once on
    timeout, no budget. The trigger is a gray failure: ``server.degrade(3)`` from t = 20 s to
    t = 30 s (capacity 133/s for 10 s), then full speed again. Warm-up 10 s (the queue at
    rho = 0.7 relaxes in well under a second); measured to ``plan.until``.

Why the system is stable without the trigger
    In M/M/4 at rho = 0.7 a try waits longer than T with probability about
    ``C(4, 2.8) * exp(-(mu - lambda) T) = 0.43 * exp(-24) ~ 2e-11``: a try practically never
    times out, every request takes one try, and the server sees 280/s < 400/s.

Why the storm sustains itself
    A try that queues behind more than ``T * mu`` = 80 others waits longer than T: its client
    has given up before a worker starts it, yet the server still serves it (``hasim.node``:
    wasted work is real) and the answer is ignored. During the slowdown the queue grows at
    280 - 133 = 147/s and passes that line within a second; from then on every try times out,
    so every request sends all 5 tries and the server is offered ``5 * 280`` = 1400 tries/s.
    When the slowdown ends the capacity is back to 400/s, but 1400 > 400: the queue keeps
    growing by about 1000/s, FIFO, so every try waits Q / 400 >> T, every try is wasted, and
    every request again sends 5 tries. The state is stable on its own: the server is 100 %
    busy and its goodput is 0. Leaving it needs the offered tries below capacity, i.e.
    ``lambda * attempts < mu``, 80 requests/s with 5 attempts: retries, not the trigger, keep
    the system down. (A bounded queue does not help as long as it is much longer than
    ``T * mu``: with ``queue_limit`` = 2000, a 5 s wait, the same storm was observed, the
    queue pinned full and tries rejected and retried at once.) How small a trigger suffices:
    a 1 s slowdown started the storm on seeds 1-3, a 0.5 s one on two of them.

What prevents it
    * No retries at all (the control): after the slowdown the offered load is 280 < 400/s and
      the backlog of about (280 - 133) * 10 = 1470 tries drains at 120/s. The timeout alone
      is not the problem.
    * ``RetryBudget(ratio=0.1)`` (min_per_second 10, window 10 s): at most 10 + 0.1 * 280 =
      38 retries/s, so at most 318 tries/s < 400/s even when every try fails: the backlog
      drains at >= 82/s and the storm cannot sustain itself.
    * ``CircuitBreaker(failure_threshold=5, open_for=1 s)``: 5 timeouts in a row open it and it
      refuses every try for 1 s, during which the server drains 400 queued tries; it closes
      when a half-open trial comes back within T, i.e. when the queue is short again. It even
      bounds the queue during the slowdown, so recovery is almost immediate.
    * Exponential backoff with full jitter alone does *not* (asserted too): it spreads
      retries in time but does not lower their number; in the storm every try fails, so each
      request still sends 5 tries and the offered rate is still 1400/s.

Measured, seeds 1-3 of the quick plan (``until`` = 110 s) and seeds 1-10 of the slow one
(``until`` = 210 s), which agree; the late window is [70 s, until], 40 s and more after the
slowdown ended; recovery is the time from the end of the slowdown until every later 1 s bin
has a success rate >= 0.95:

====================  ============  ============  ===========  ================  ===========
variant               late success  late goodput  tries / req  served (late)     recovery
====================  ============  ============  ===========  ================  ===========
no trigger            1.0000        277-284 /s    1.00         = goodput         -
naive retries         0.0000        0 /s          4.99-5.00    396-403 /s, dead  never
no retries (control)  1.0000        277-284 /s    1.00         = goodput         11-14 s
retry budget 0.1      1.0000        277-284 /s    1.00         = goodput         21-27 s
circuit breaker       1.0000        277-284 /s    1.00         = goodput         0-1 s
backoff + jitter      0.0000        0 /s          5.00         396-403 /s, dead  never
====================  ============  ============  ===========  ================  ===========

In the storms the queue grew by 980-1020 per second of the late window, the
``5 * 280 - 400 = 1000``/s of the arithmetic above. Whole-window availability: 1.0 without
the trigger; 0.10 (quick) and 0.05 (slow) in the storms; 0.77-0.90 without retries, 0.65-0.85
with the budget, 0.91-0.96 with the breaker.

The outcome is bimodal, not a mean with noise, so every seed is checked on its own against
wide margins. A stable or recovered run: success >= 0.99, goodput within 5 % of the offered
rate, < 1.05 tries per request, no wasted work (served within 5 % of goodput), and recovery
within a limit about 1.5 times the fluid estimate (backlog / drain rate: 1470 / 120 = 12 s
without retries, 20 s limit; 1850 / 82 = 23 s with the budget, 40 s limit; the breaker's
measured 0-1 s, 5 s limit). A storm: success <= 0.05, goodput below 5 % of the offered rate,
>= 4.5 tries per request (of at most 5), the server >= 90 % busy (so > 95 % of its work is
wasted), the queue still growing at 1000/s +- 10 %, and no recovery by the end. Every run
asserts conservation (DESIGN rule 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

import hasim as hs

from .stats import check_conservation

WORKERS = 4
SERVICE_MEAN = 10 * hs.ms
CAPACITY = WORKERS / SERVICE_MEAN  # 400 answers/s at full speed
RATE = 280.0  # offered requests/s: utilisation 0.7
TIMEOUT = 0.2  # per-try client timeout, s
ATTEMPTS = 5
SLOWDOWN = 3.0  # capacity 133/s while degraded
WARMUP = 10.0
TRIGGER_START = 20.0
TRIGGER_END = 30.0
LATE = TRIGGER_END + 40.0  # the late window [LATE, until]: long after the trigger
RECOVERED = 0.95  # success rate of a 1 s bin that counts as recovered
#: Largest recovery time allowed, s after the trigger's end (see the module docstring).
RECOVERY_LIMIT = {"none": 20.0, "budget": 40.0, "breaker": 5.0}
#: How fast the queue grows in a storm: every request sends all its tries.
STORM_GROWTH = ATTEMPTS * RATE - CAPACITY  # 1000 tries/s


@dataclass(frozen=True)
class StormPlan:
    """Seeds and horizon of one variant of the tests."""

    replications: int
    until: float

    @property
    def seeds(self) -> range:
        return range(1, self.replications + 1)


QUICK = StormPlan(replications=3, until=110.0)
SLOW = StormPlan(replications=10, until=210.0)
PLANS = [pytest.param(QUICK, id="quick"), pytest.param(SLOW, id="slow", marks=pytest.mark.slow)]


def _naive() -> hs.Retry:
    return hs.Retry(attempts=ATTEMPTS, backoff=hs.ConstantBackoff(0.0))


#: The client's resilience per variant (keyword arguments of ``OpenLoop``).
POLICIES = {
    "none": {},
    "naive": {"retry": _naive()},
    "budget": {
        "retry": hs.Retry(
            attempts=ATTEMPTS, backoff=hs.ConstantBackoff(0.0), budget=hs.RetryBudget(ratio=0.1)
        )
    },
    "breaker": {
        "retry": _naive(),
        "breaker": hs.CircuitBreaker(failure_threshold=5, open_for=1.0),
    },
    "backoff": {
        "retry": hs.Retry(
            attempts=ATTEMPTS, backoff=hs.ExponentialBackoff(base=0.1, cap=2.0, jitter="full")
        )
    },
}


@dataclass(frozen=True)
class Run:
    """What one replication shows, over the late window [LATE, until] unless said otherwise."""

    seed: int
    availability: float  # whole measured window
    success: float  # ok / (ok + failed) of requests that ended in the late window
    goodput: float  # ok requests/s ending in the late window
    amplification: float  # tries sent / requests issued in the late window
    served: float  # answers/s the server produced in the late window (wasted ones included)
    queue_growth: int  # server queue at the end minus at LATE
    late: float  # seconds in the late window
    recovery: float  # s from TRIGGER_END until every later 1 s bin has success >= RECOVERED

    def __str__(self) -> str:
        return (
            f"seed {self.seed}: success {self.success:.4f}, goodput {self.goodput:.1f}/s, "
            f"tries/request {self.amplification:.2f}, served {self.served:.0f}/s, "
            f"queue growth {self.queue_growth}, recovery {self.recovery:.1f} s"
        )


def run(seed: int, policy: str, plan: StormPlan, *, trigger: bool = True) -> Run:
    """One replication of the scenario (see the module docstring)."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    server = hs.Server(
        sim, "server", workers=WORKERS, service_time=hs.Exponential(mean=SERVICE_MEAN)
    )
    client = hs.OpenLoop(
        sim, "users", target=server, rate=RATE, timeout=TIMEOUT, **POLICIES[policy]
    )
    if trigger:
        sim.call_later(TRIGGER_START, lambda _: server.degrade(SLOWDOWN))
        sim.call_later(TRIGGER_END, lambda _: server.degrade(1.0))
    mark = {}

    def take_mark(_):
        mark.update(requests=client.requests, sent=client.sent, served=server.served)
        mark.update(queued=server.queued)

    sim.call_later(LATE, take_mark)
    result = sim.run(until=plan.until, warmup=WARMUP)
    summary = result.summary()
    check_conservation(summary)

    late = plan.until - LATE
    series = result.series()
    tail = series[series["start"] >= LATE - 1e-9]
    ok, failed = int(tail["ok"].sum()), int(tail["failed"].sum())
    return Run(
        seed=seed,
        availability=summary["availability"],
        success=ok / (ok + failed),
        goodput=ok / late,
        amplification=(client.sent - mark["sent"]) / (client.requests - mark["requests"]),
        served=(server.served - mark["served"]) / late,
        queue_growth=server.queued - mark["queued"],
        late=late,
        recovery=_recovery(series),
    )


def _recovery(series) -> float:
    """Seconds from TRIGGER_END until every later 1 s bin has success >= RECOVERED (inf: never)."""
    bins = np.floor(series["start"].to_numpy() + 1e-9)
    frame = series.assign(bin=bins).groupby("bin")[["ok", "failed"]].sum()
    good = (frame["ok"] >= RECOVERED * (frame["ok"] + frame["failed"])).to_numpy()
    starts = frame.index.to_numpy()
    if not good[-1]:
        return math.inf
    bad_after = starts[(~good) & (starts >= TRIGGER_END)]
    first_good = bad_after.max() + 1.0 if bad_after.size else TRIGGER_END
    return float(first_good - TRIGGER_END)


def replicate(policy: str, plan: StormPlan, *, trigger: bool = True) -> list[Run]:
    return [run(seed, policy, plan, trigger=trigger) for seed in plan.seeds]


def _report(runs: list[Run]) -> str:
    return "\n".join(map(str, runs))


def assert_healthy(runs: list[Run], *, recovery_limit: float | None) -> None:
    """Every run serves what is offered in the late window (and recovered in time)."""
    detail = _report(runs)
    for r in runs:
        assert r.success >= 0.99, detail
        assert abs(r.goodput - RATE) <= 0.05 * RATE, detail
        assert r.amplification < 1.05, detail
        assert r.served == pytest.approx(r.goodput, rel=0.05), detail  # no wasted work
        assert r.queue_growth < 50, detail
        if recovery_limit is not None:
            assert r.recovery <= recovery_limit, detail


def assert_storm(runs: list[Run]) -> None:
    """Every run is still in the storm long after the trigger: busy server, no goodput."""
    detail = _report(runs)
    for r in runs:
        assert r.success <= 0.05, detail
        assert r.goodput <= 0.05 * RATE, detail
        assert r.amplification >= 4.5, detail  # of at most ATTEMPTS = 5
        assert r.served >= 0.9 * CAPACITY, detail  # the server is busy: the work is wasted
        # and the backlog still grows, as fast as the arithmetic says
        assert r.queue_growth == pytest.approx(STORM_GROWTH * r.late, rel=0.1), detail
        assert r.recovery == math.inf, detail


@pytest.mark.parametrize("plan", PLANS)
def test_without_a_trigger_aggressive_retries_are_harmless(plan):
    """No slowdown: at rho = 0.7 a try practically never times out; 1 try per request."""
    runs = replicate("naive", plan, trigger=False)
    assert_healthy(runs, recovery_limit=None)
    for r in runs:
        assert r.availability == 1.0, _report(runs)


@pytest.mark.parametrize("plan", PLANS)
def test_a_short_slowdown_starts_a_retry_storm_that_outlives_it(plan):
    """After 10 s at 1/3 speed, naive retries keep the server saturated with dead work."""
    assert_storm(replicate("naive", plan))


@pytest.mark.parametrize("plan", PLANS)
def test_without_retries_the_same_slowdown_heals(plan):
    """The control: timeouts alone do not sustain it; the backlog drains at 120/s."""
    assert_healthy(replicate("none", plan), recovery_limit=RECOVERY_LIMIT["none"])


@pytest.mark.parametrize("plan", PLANS)
def test_a_retry_budget_prevents_the_storm(plan):
    """At most 38 retries/s: <= 318 tries/s < 400/s, so the backlog drains and stays gone."""
    assert_healthy(replicate("budget", plan), recovery_limit=RECOVERY_LIMIT["budget"])


@pytest.mark.parametrize("plan", PLANS)
def test_a_circuit_breaker_prevents_the_storm(plan):
    """Open for 1 s after 5 timeouts in a row: the queue drains while it refuses tries."""
    assert_healthy(replicate("breaker", plan), recovery_limit=RECOVERY_LIMIT["breaker"])


@pytest.mark.parametrize("plan", PLANS)
def test_backoff_with_jitter_alone_does_not_prevent_the_storm(plan):
    """Backoff delays retries but does not cut their number: still 5 tries per request."""
    assert_storm(replicate("backoff", plan))
