"""The network against its closed forms: loss and retries, latency laws, bandwidth, partitions.

Method: ``stats.py`` (99.9 % intervals, a precision bound ``rel`` on the half-width, quick and
slow variants). Two kinds of interval are used here:

* **Pooled counts of independent trials** (a request's success, a message's arrival): every
  message draws its loss from its path's own stream, so the trials are independent Bernoulli
  draws and the count is exactly binomial. The interval is the exact Clopper-Pearson interval
  at 99.9 % (``binomial_check``), on the *failure* probability (the small one: a relative bound
  on ``1 - A`` is a real test, on ``A`` it is not).
* **Quantiles of one-way delays**: ``n`` independent draws; the distribution-free interval of
  the ``q``-quantile is ``[X_(l), X_(u)]`` with ``l, u`` the 0.05 % and 99.95 % points of
  ``Binomial(n, q)`` (order statistics), plus a Kolmogorov-Smirnov test of the whole law at
  the 0.1 % level.
* Means over replications (bandwidth queueing, partitions): the Student-t interval of
  ``stats.check``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

import hasim as hs
from hasim.network import Link

from .stats import (
    LEVEL,
    RECORDS,
    Interval,
    Plan,
    check,
    check_conservation,
    t_interval,
    variants,
)

# --- helpers --------------------------------------------------------------------------------------


def binomial_check(what: str, failures: int, trials: int, theory: float, rel: float) -> None:
    """Assert ``theory`` lies in the exact 99.9 % interval of ``failures / trials`` and the
    interval's larger half is at most ``rel * theory``."""
    alpha = 1.0 - LEVEL
    low = sps.beta.ppf(alpha / 2, failures, trials - failures + 1) if failures else 0.0
    high = sps.beta.ppf(1 - alpha / 2, failures + 1, trials - failures) if failures < trials else 1
    share = failures / trials
    half = max(share - low, high - share)
    RECORDS.append((what, share, half, theory, rel))
    detail = (
        f"{what}: {failures}/{trials} = {share:.6g}, interval [{low:.6g}, {high:.6g}], "
        f"theory {theory:.6g} ({(share - theory) / theory:+.2%})"
    )
    assert low <= theory <= high, "theory outside the exact binomial interval: " + detail
    assert half <= rel * theory, f"interval wider than {rel:.1%} of theory (run longer): " + detail


def quantile_interval(sorted_x: np.ndarray, q: float) -> tuple[float, float]:
    """Distribution-free 99.9 % interval of the ``q``-quantile from sorted draws."""
    n = sorted_x.size
    alpha = 1.0 - LEVEL
    lo = int(sps.binom.ppf(alpha / 2, n, q))  # X_(lo) with 1-based rank lo, 0-based lo - 1
    hi = int(sps.binom.ppf(1 - alpha / 2, n, q)) + 1
    return float(sorted_x[max(lo - 1, 0)]), float(sorted_x[min(hi - 1, n - 1)])


def t_interval_from(mean: float, half: float, n: int):
    """An interval object for ``check`` from a mean and a half-width computed elsewhere."""
    return Interval(float(mean), float(half), LEVEL, n)


# --- (a) loss and retries -----------------------------------------------------------------------


def retry_run(seed: int, requests: int, loss: float, attempts: int):
    """One client, timeout 1 s, ``Retry(attempts)`` on timeouts, over a lossy network.

    Zero latency and an instantaneous server: an attempt fails iff its request or its answer
    is lost, and then only by the client's timeout (drops are silent); no late answers.
    Requests are issued one every 10 s, so they never overlap (the load is irrelevant here).
    """
    sim = hs.Simulation(seed=seed, record="requests")
    hs.Network(sim, loss=loss)
    web = hs.Server(sim, "web")
    retry = hs.Retry(attempts=attempts, backoff=hs.ConstantBackoff(0.5))
    client = hs.Client(sim, "c", target=web, timeout=1.0, retry=retry)

    def issue(i):
        client.issue()
        if i + 1 < requests:
            sim.call_later(10.0, issue, i + 1)

    sim.call_later(0.0, issue, 0)
    result = sim.run(until=10.0 * requests + 5.0)
    check_conservation(result.summary())
    return result


#: ``horizon`` is the number of requests. Quick: 80,000 (expected half-width of the failure
#: share at most 3.0 % of theory, for q = 0.13, against ``rel`` = 5 %); slow: 2,000,000
#: (0.6 % against 1 %).
RETRY_PLANS = variants(
    quick=Plan(replications=1, horizon=80_000, warmup=0.0, rel=0.05),
    slow=Plan(replications=1, horizon=2_000_000, warmup=0.0, rel=0.01),
)


@pytest.mark.parametrize("plan", RETRY_PLANS)
@pytest.mark.parametrize(
    ("loss", "attempts"),
    [pytest.param(0.3, 1, id="p=0.3,n=1"), pytest.param(0.3, 2, id="p=0.3,n=2"),
     pytest.param(0.2, 2, id="p=0.2,n=2")],
)  # fmt: skip
def test_retries_over_a_lossy_network_follow_the_geometric_law(loss, attempts, plan):
    """A try succeeds iff its request and its answer both arrive: ``(1 - p)^2``. Tries are
    independent (each message draws its own loss), so with ``n`` tries a request fails with
    probability ``f^n``, ``f = 1 - (1 - p)^2``, and makes ``(1 - f^n) / (1 - f)`` tries on average
    (a truncated geometric law).

    Checked: the failure share against ``f^n`` (exact binomial interval, ``rel`` of theory); the
    mean number of tries against its formula (normal interval of a mean of bounded i.i.d.
    values, 99.9 %); every failed request made all ``n`` tries and ended ``timeout``; the
    network's counters: of the messages sent, the share dropped is ``p`` (binomial).
    """
    requests = int(plan.horizon)
    result = retry_run(1, requests, loss, attempts)
    table = result.requests()
    f = 1.0 - (1.0 - loss) ** 2
    failures = int((table["outcome"] != hs.OK).sum())
    assert len(table) == requests
    binomial_check(f"request failure, loss {loss:g}, {attempts} tries", failures, requests,
                   f**attempts, plan.rel)  # fmt: skip
    failed = table[table["outcome"] != hs.OK]
    assert set(failed["outcome"]) <= {hs.TIMEOUT} and (failed["attempts"] == attempts).all()
    tries = table["attempts"].to_numpy(dtype=float)
    mean_tries = (1.0 - f**attempts) / (1.0 - f)
    z = sps.norm.ppf(0.5 + LEVEL / 2)
    half = z * tries.std(ddof=1) / math.sqrt(tries.size) if attempts > 1 else 0.0
    assert abs(tries.mean() - mean_tries) <= half + 1e-12, (tries.mean(), mean_tries, half)


def test_message_loss_share_is_p():
    """Of 200,000 messages on one path with loss 0.1, the dropped share is 0.1 (binomial, exact
    interval; 200,000 draws give a half-width of about 2.2 % of p, under the 5 % bound)."""
    sim = hs.Simulation(seed=3)
    net = hs.Network(sim, loss=0.1)
    path = net.path("a", "b")
    n = 200_000

    def burst(_):
        for _ in range(n):
            path.send(_noop, None)

    sim.call_later(0.0, burst)
    sim.run(until=1)
    binomial_check("message loss share, p = 0.1", net.dropped["loss"], net.sent, 0.1, 0.05)


def _noop(_):
    pass


# --- (b) latency percentiles follow the path's law -----------------------------------------------

LOGNORMAL = hs.LogNormal(median=2 * hs.ms, sigma=0.6)
WEIBULL = hs.Weibull(shape=1.5, scale=3 * hs.ms)
QUANTILES = (0.5, 0.9, 0.99)


def one_way_delays(sim: hs.Simulation, src: str, dst: str, n: int, every: float = 0.01):
    """Send ``n`` messages ``src -> dst`` one every ``every`` seconds; their one-way delays."""
    net = sim.network
    delays = np.empty(n)
    sent = np.empty(n)

    def arrive(i):
        delays[i] = sim.now - sent[i]

    def go(i):
        sent[i] = sim.now
        net.path(src, dst).send(arrive, i)
        if i + 1 < n:
            sim.call_later(every, go, i + 1)

    sim.call_later(0.0, go, 0)
    sim.run(until=n * every + 1.0)
    return delays


def _default(sim):
    hs.Network(sim, latency=LOGNORMAL)
    return LOGNORMAL, sps.lognorm(s=0.6, scale=2 * hs.ms)


def _pair(sim):
    net = hs.Network(sim, latency=1.0)
    net.set_latency("a", "b", LOGNORMAL)
    return LOGNORMAL, sps.lognorm(s=0.6, scale=2 * hs.ms)


def _link(sim):
    hs.Network(sim, latency=1.0)
    Link(sim, "a", "b", latency=WEIBULL)
    return WEIBULL, sps.weibull_min(c=1.5, scale=3 * hs.ms)


def _degraded_link(sim):
    """A link degraded 3x from the start: its LogNormal latency scaled by 3 (median x 3)."""
    hs.Network(sim, latency=1.0)
    link = Link(sim, "a", "b", latency=LOGNORMAL)
    link.degrade(3.0)
    return None, sps.lognorm(s=0.6, scale=6 * hs.ms)


def _zone(sim):
    hs.Server(sim, "a", zone="az1")
    hs.Server(sim, "b", zone="az2")
    hs.Network(sim, latency=1.0, same_zone=0.0, cross_zone=LOGNORMAL)
    return LOGNORMAL, sps.lognorm(s=0.6, scale=2 * hs.ms)


#: ``horizon`` is the number of messages. Quick: 30,000 (the 99.9 % order-statistic interval
#: of p99 is about +-4.7 % of it for LogNormal(sigma = 0.6), of p50 +-1.4 %; ``rel`` = 8 %);
#: slow: 600,000 (+-1.1 % for p99; ``rel`` = 2 %).
LATENCY_PLANS = variants(
    quick=Plan(replications=1, horizon=30_000, warmup=0.0, rel=0.08),
    slow=Plan(replications=1, horizon=600_000, warmup=0.0, rel=0.02),
)


@pytest.mark.parametrize("plan", LATENCY_PLANS)
@pytest.mark.parametrize(
    "build",
    [_default, _pair, _link, _degraded_link, _zone],
    ids=["default", "pair", "link", "degraded-link", "zone"],
)
def test_one_way_delays_follow_the_latency_law(build, plan):
    """Whichever rule gives a path its latency, one message's delay is one draw of that law.

    Checked: p50, p90 and p99 of the measured delays against the law's quantiles
    (distribution-free order-statistic interval at 99.9 %, half-width at most ``rel`` of the
    quantile), and a Kolmogorov-Smirnov test of all the delays against the law's CDF at 0.1 %.
    """
    sim = hs.Simulation(seed=11)
    dist, law = build(sim)
    if dist is not None:
        assert sim.network.latency_between("a", "b") == dist
    n = int(plan.horizon)
    delays = np.sort(one_way_delays(sim, "a", "b", n))
    assert sim.network.dropped == {"loss": 0, "partition": 0, "link": 0}
    for q in QUANTILES:
        low, high = quantile_interval(delays, q)
        theory = float(law.ppf(q))
        RECORDS.append((f"p{q * 100:g} one-way delay, {build.__name__}", float(np.quantile(
            delays, q)), (high - low) / 2, theory, plan.rel))  # fmt: skip
        assert low <= theory <= high, (q, low, theory, high)
        assert (high - low) / 2 <= plan.rel * theory, (q, low, high, theory)
    assert sps.kstest(delays, law.cdf).pvalue > 1e-3


@pytest.mark.parametrize("plan", LATENCY_PLANS)
def test_request_latency_is_the_sum_of_two_hops(plan):
    """A request to an instantaneous server pays two independent one-way draws: its latency is
    the sum of two LogNormals, whose mean is ``2 E[X]`` and variance ``2 Var[X]``; the
    distribution is checked against a Monte Carlo of the sum from scipy (two-sample KS)."""
    sim = hs.Simulation(seed=12)
    hs.Network(sim, latency=LOGNORMAL)
    web = hs.Server(sim, "web")
    client = hs.Client(sim, "c", target=web)
    n = int(plan.horizon)

    def issue(i):
        client.issue()
        if i + 1 < n:
            sim.call_later(0.05, issue, i + 1)

    sim.call_later(0.0, issue, 0)
    result = sim.run(until=n * 0.05 + 1.0)
    latency = result.requests()["latency"].to_numpy()
    assert latency.size == n
    law = sps.lognorm(s=0.6, scale=2 * hs.ms)
    z = sps.norm.ppf(0.5 + LEVEL / 2)
    half = z * latency.std(ddof=1) / math.sqrt(n)
    check("mean request latency, two LogNormal hops",
          t_interval_from(latency.mean(), half, n), 2 * law.mean(), plan.rel)  # fmt: skip
    reference = law.rvs(size=(2, 100_000), random_state=np.random.default_rng(1)).sum(axis=0)
    assert sps.ks_2samp(latency, reference).pvalue > 1e-3


# --- bandwidth: a link is an M/D/1 queue ---------------------------------------------------------

#: The checked quantity is the mean *wait* before serialisation (the queueing part only: a link
#: that did not queue would be off by 100 %, not by a third). Quick: 20 runs of 300 s after a
#: 20 s warm-up (about 15,000 messages each at rho = 0.5); slow: 40 runs of 4,000 s. For
#: rho = 0.8 (slow only) the runs are 1.5 times longer (the variance of a mean wait grows like
#: ``1 / (1 - rho)^2``). Expected half-widths: at most 3 % (quick) and 0.6 % (slow) of theory.
MD1_PLANS = variants(
    quick=Plan(replications=20, horizon=320.0, warmup=20.0, rel=0.05),
    slow=Plan(replications=40, horizon=4_100.0, warmup=100.0, rel=0.01),
)


@pytest.mark.parametrize(
    ("rho", "plan"),
    [pytest.param(0.5, p.values[0], id=f"0.5-{p.id}", marks=p.marks) for p in MD1_PLANS]
    + [pytest.param(0.8, MD1_PLANS[1].values[0], id="0.8-slow", marks=pytest.mark.slow)],
)
def test_a_link_with_bandwidth_is_an_md1_queue(rho, plan):
    """Messages of a fixed size ``S`` sent as a Poisson stream of rate ``lambda`` over a link of
    bandwidth ``B`` and no latency: each takes ``D = S / B`` to serialise, FIFO, so the link is
    an M/D/1 queue with ``rho = lambda D``. Pollaczek-Khinchine: the mean wait before a message
    starts to serialise is ``W = rho D / (2 (1 - rho))``; its delay is ``W + D``.

    Checked: the mean of ``delay - D`` of the messages sent after the warm-up, over the
    replications (Student-t, ``stats.check``).
    """
    size, bandwidth = 1_000.0, 100_000.0  # D = 10 ms
    d = size / bandwidth
    rate = rho / d
    if rho == 0.8:
        plan = plan.longer(1.5)

    def run(seed):
        sim = hs.Simulation(seed=seed)
        hs.Network(sim)
        Link(sim, "a", "b", bandwidth=bandwidth)
        path = sim.network.path("a", "b")
        gaps = sim.rng("test", "arrivals")
        total, count = [0.0], [0]

        def arrive(sent):
            if sent >= plan.warmup:
                total[0] += sim.now - sent - d
                count[0] += 1

        def go(_):
            path.send(arrive, sim.now, size=size)
            sim.call_later(gaps.exponential(1.0 / rate), go)

        sim.call_later(gaps.exponential(1.0 / rate), go)
        sim.run(until=plan.horizon)
        return total[0] / count[0]

    theory = rho * d / (2 * (1 - rho))
    estimate = t_interval(run(seed) for seed in plan.seeds)
    check(f"M/D/1 link wait, rho={rho:g}", estimate, theory, plan.rel)


# --- (c) a partition of one backend, with health checks -----------------------------------------

INTERVAL, N, TAU = 1.0, 3, 0.5  # the probe interval I, unhealthy_after N, the probe timeout T
SERVICE = 0.01  # every request and probe takes 10 ms at the backend
RATE = 90.0  # requests per second
# Each cut lasts 4.5 s (longer than the widest detection window, N I + T = 3.5 s), then 4.5 s of
# peace (web0 is believed healthy again 2 probes after the heal, within 2 I + s).
CUT, GAP = 4.5, 4.5

#: ``horizon`` is the number of partitions per run. Quick: 20 runs of 12 partitions (240 in all;
#: one partition's failures have a standard deviation of about 11 % of their mean, so the
#: expected half-width is about 3 %, bound 5 %); slow: 40 runs of 120 partitions (bound 1 %,
#: expected 0.6 %).
PARTITION_PLANS = variants(
    quick=Plan(replications=20, horizon=12, warmup=0.0, rel=0.05),
    slow=Plan(replications=40, horizon=120, warmup=0.0, rel=0.01),
)


def partition_run(seed: int, partitions: int):
    """users -> lb (RoundRobin; health check I, N, T with jitter) -> web0..web2; lb|web0 cut
    ``partitions`` times, each start at a uniform phase. Returns (starts, failed request times)."""
    sim = hs.Simulation(seed=seed)
    net = hs.Network(sim)
    net.guard()
    web = [hs.Server(sim, f"web{i}", workers=64, service_time=hs.Deterministic(SERVICE))
           for i in range(3)]  # fmt: skip
    hc = hs.HealthCheck(
        interval=INTERVAL, timeout=TAU, unhealthy_after=N, healthy_after=2, jitter=True
    )
    lb = hs.LoadBalancer(sim, "lb", backends=web, health_check=hc)
    phase = sim.rng("test", "partition-phase")
    starts = [10.0 + k * (CUT + GAP) + phase.uniform(0.0, INTERVAL) for k in range(partitions)]
    # Traffic only around the detection windows (Poisson, so what happens inside a window does
    # not depend on the quiet spells; the balancer's round-robin turn carries over).
    steps = [(0.0, 0.0)]
    for start in starts:
        steps += [(start - 0.1, RATE), (start + N * INTERVAL + TAU + 0.1, 0.0)]
    hs.OpenLoop(sim, "users", target=lb, rate=steps, timeout=1.0)
    for start in starts:
        cut = []
        sim.call_later(start, lambda _, c=cut: c.append(net.partition(["lb"], ["web0"])))
        sim.call_later(start + CUT, lambda _, c=cut: net.heal(c[0]))
    result = sim.run(until=starts[-1] + CUT + GAP)
    check_conservation(result.summary())
    table = result.requests()
    failed = table[table["outcome"] != hs.OK]["issued"].to_numpy()
    assert lb.healthy_backends == ["web0", "web1", "web2"]
    return starts, failed


@pytest.mark.parametrize("plan", PARTITION_PLANS)
def test_requests_lost_to_a_partition_are_bounded_by_the_detection_window(plan):
    """A partition cuts the balancer off from one of three backends (RoundRobin). Until the
    health check declares web0 unhealthy, every third request goes there and fails.

    Derivation (no network latency, service ``s`` for requests and probes, probes at
    ``phi + k I``): a probe sent at ``p`` fails iff its answer, due at ``p + s``, meets the cut,
    i.e. ``p >= S - s`` for a cut beginning at ``S``; the first failing probe is at
    ``S - s + U``, ``U ~ Uniform(0, I)`` (uniform phase: each ``S`` has a uniform offset), and
    the verdict comes at the timeout of the ``N``-th failing probe, ``S - s + U + (N - 1) I + T``.
    A request forwarded at ``t`` fails iff ``t`` lies in ``[S - s, verdict)``: the window has
    length ``U + (N - 1) I + T``, in ``[(N - 1) I + T, N I + T]``, of mean ``(N - 1/2) I + T``,
    and a third of the Poisson arrivals in it go to web0. First order:

        E[failed requests per partition] = (lambda / 3) ((N - 1/2) I + T),

    a share ``((N - 1/2) I + T) / (3 L)`` of the traffic of a cut of length ``L``.

    Checked: every failed request was issued inside the widest window
    ``[S - s, S - s + N I + T]`` of its partition (the bound, deterministic); the mean failures
    per partition over the replications against the formula (``stats.check``).
    """
    per_run = []
    for seed in plan.seeds:
        starts, failed = partition_run(seed, int(plan.horizon))
        counts = []
        for start in starts:
            lo, hi = start - SERVICE, start - SERVICE + N * INTERVAL + TAU
            counts.append(int(((failed >= lo - 1e-9) & (failed < hi)).sum()))
        assert sum(counts) == failed.size, "a failure outside every detection window"
        per_run.append(float(np.mean(counts)))
    theory = RATE / 3 * ((N - 0.5) * INTERVAL + TAU)
    check(f"failed requests per partition, I={INTERVAL:g} N={N} T={TAU:g}",
          t_interval(per_run), theory, plan.rel)  # fmt: skip
