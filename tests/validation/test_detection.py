"""Health checks against their closed forms: time to detect, and what detection buys.

Method: ``stats.py`` (independent replications, seeds ``1..R``, 99.9 % Student-t intervals,
and a precision bound ``rel`` on the half-width). Time to detect (TTD) is measured from the
records, not from the checker: from a node's crash in ``result.state_log`` (or the test's own
log of when it made the node hang) to the first ``result.detections`` entry
``(t, "lb", node, False)`` after it.

Why the phase is uniform
    Probes of one target go out at ``phase + k I`` (``jitter=True`` draws the phase). A crash at
    time ``c`` falls at ``(c - phase) mod I`` into the probe cycle. The failure times here are
    ``Uniform(a, a + 20 I)`` after each repair: a uniform law whose width is a whole number of
    intervals is exactly uniform modulo ``I``, and adding independent times (the repair, the
    previous cycles) keeps it so. So the wait ``U`` from the crash to the first probe that sees
    it is exactly ``Uniform(0, I]``, and the checks below have no approximation in them.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import pytest
from scipy import stats as sps

import hasim as hs

from .stats import Plan, check, check_conservation, t_interval, variants

# --- time to detect ---------------------------------------------------------------------------

#: Quick: 20 runs of 1,500 s (8 targets, about 7,000 detections in all for I = 1);
#: slow: 40 runs of 50,000 s (about 450,000). Precision: one TTD has standard deviation
#: I / sqrt(12) around (N - 1/2) I (58 % of the mean for N = 1, 12 % for N = 3). Expected
#: half-width in the worst case (N = 1): 2.3 % quick, 0.3 % slow, under 65 % of ``rel``.
#: No traffic, only probes: a quick run takes about 0.05 s.
DETECT_PLANS = variants(
    quick=Plan(replications=20, horizon=1_500.0, warmup=100.0, rel=0.05),
    slow=Plan(replications=40, horizon=50_000.0, warmup=100.0, rel=0.01),
)
TARGETS = 8  # servers behind the balancer, each crashing on its own (more detections per run)


def first_verdicts(detections, onsets):
    """For each (node, time, next onset) in ``onsets``, the time of the balancer's first
    'unhealthy' verdict about that node after it (NaN if none before the node's next onset)."""
    by_node: dict[str, list[float]] = {}
    for t, observer, target, healthy in detections:
        if observer == "lb" and not healthy:
            by_node.setdefault(target, []).append(t)  # in time order
    out = []
    for node, start, stop in onsets:
        times = by_node.get(node, [])
        i = bisect.bisect_left(times, start)
        out.append(times[i] - start if i < len(times) and times[i] < stop else math.nan)
    return out


def crash_onsets(result, names):
    """(node, crash time, next crash time) for every crash of ``names`` in the window."""
    times: dict[str, list[float]] = {}
    for t, name, state in result.state_log:
        if name in names and state == hs.DOWN:
            times.setdefault(name, []).append(t)
    rows = []
    for name, ts in times.items():
        for i, t in enumerate(ts):
            if t >= result.warmup:
                rows.append((name, t, ts[i + 1] if i + 1 < len(ts) else math.inf))
    return rows


def refusing_run(seed, plan, interval, n, latency):
    """Crashing servers that refuse probes at once; the run's TTDs (and the summary's mttd).

    Failures: TTF ``Uniform(20 I, 40 I)`` (uniform phase, see the module docstring), TTR
    ``(N + 1) I`` (so every crash is detected before its repair), ``healthy_after = 1``
    (believed healthy again within one interval of the repair, long before the next crash).
    """
    sim = hs.Simulation(seed=seed, record="aggregate")
    if latency:
        hs.Network(sim, latency=hs.Deterministic(latency))
    failures = hs.Failures(
        ttf=hs.Uniform(20 * interval, 40 * interval), ttr=hs.Deterministic((n + 1) * interval)
    )
    web = [hs.Server(sim, f"web{i}", failures=failures) for i in range(TARGETS)]
    hc = hs.HealthCheck(interval=interval, timeout=0.5 * interval, unhealthy_after=n,
                        healthy_after=1, jitter=True)  # fmt: skip
    hs.LoadBalancer(sim, "lb", backends=web, health_check=hc)
    result = sim.run(until=plan.horizon, warmup=plan.warmup)
    onsets = crash_onsets(result, {s.name for s in web})
    everyone = first_verdicts(result.detections, onsets)
    # A crash too close to the horizon may not be detected yet: leave those out.
    end = plan.horizon - (n + 1) * interval - 2 * latency
    kept = [ttd for (_, t, _), ttd in zip(onsets, everyone, strict=True) if t < end]
    return result, kept, float(np.nanmean(everyone))


CASES = [
    pytest.param(1.0, 1, 0.0, id="I=1,N=1"),
    pytest.param(1.0, 3, 0.0, id="I=1,N=3"),
    pytest.param(2.0, 2, 0.0, id="I=2,N=2"),
    pytest.param(1.0, 2, 0.1, id="I=1,N=2,latency=0.1"),
]


@pytest.mark.parametrize("plan", DETECT_PLANS)
@pytest.mark.parametrize(("interval", "n", "latency"), CASES)
def test_time_to_detect_a_crash_is_n_probes_of_uniform_phase(interval, n, latency, plan):
    """A crashed target refuses probes at once: the N-th probe that reaches it after the crash
    gives the verdict.

    Derivation (one-way latency ``d``, ``T > 2 d``): a probe sent at ``s`` reaches the target at
    ``s + d`` and its answer is back at ``s + 2 d``. It fails iff the target is down at
    ``s + d``, so the first failing probe is the first sent after ``c - d``: ``s_1 = c - d + U``
    with ``U ~ Uniform(0, I]`` (uniform phase), and the verdict is the N-th failure,
    at ``s_1 + (N - 1) I + 2 d``. Hence

        TTD = (N - 1) I + d + U,   bounds [(N - 1) I + d, N I + d],   mean (N - 1/2) I + d,

    which for ``d = 0`` is ``HealthCheck.detection_bounds()`` and ``mean_detection_time()``.
    Checked: (1) every TTD lies within the bounds; (2) the mean TTD's 99.9 % t-interval over the
    replications covers the mean and is narrower than ``rel`` of it; (3) the pooled
    ``(TTD - lower) / I`` passes a Kolmogorov-Smirnov test against ``Uniform(0, 1)`` at the
    0.1 % level (the whole law, not only its mean); (4) on the first three seeds, the
    summary's ``mttd`` is the same mean (the metric and this test agree on the definition).
    """
    hc = hs.HealthCheck(interval=interval, unhealthy_after=n)
    low, high = (b + latency for b in hc.detection_bounds())
    means, pooled = [], []
    for seed in plan.seeds:
        result, ttds, mean_all = refusing_run(seed, plan, interval, n, latency)
        ttd = np.array(ttds)
        assert ttd.size > 10 and not np.isnan(ttd).any()
        assert (ttd >= low - 1e-9).all() and (ttd <= high + 1e-9).all(), (ttd.min(), ttd.max())
        means.append(ttd.mean())
        pooled.append((ttd - low) / interval)
        if seed <= 3:  # the summary's mttd counts every detected crash, near the horizon too
            # (first seeds only: summary() grows quadratically with the failures, see report)
            assert result.summary()["mttd"] == pytest.approx(mean_all, rel=1e-9, abs=1e-9)
    theory = hc.mean_detection_time() + latency
    check(f"TTD refusing target, I={interval:g} N={n} d={latency:g}", t_interval(means), theory,
          plan.rel)  # fmt: skip
    assert sps.kstest(np.concatenate(pooled), "uniform").pvalue > 1e-3


def hung_run(seed, plan, interval, n, timeout, latency):
    """Servers that hang now and then (slowed a billion times: probes never come back).

    Each server, on a stream of its own: up for ``Uniform(20 I, 40 I)``, then hung for
    ``H = (N + 2) I + T``, then cleared (a crash and an immediate restart end the stuck probe;
    it had timed out long before). Returns the TTDs from each hang's onset.
    """
    hc = hs.HealthCheck(interval=interval, timeout=timeout, unhealthy_after=n, healthy_after=1)
    return hanging_targets(seed, plan, hc, latency)


def hanging_targets(seed, plan, hc, latency=0.0):
    """``hung_run``'s servers behind a balancer checked by ``hc``: ``(result, TTDs)``."""
    interval, n, timeout = hc.interval, hc.unhealthy_after, hc.timeout
    sim = hs.Simulation(seed=seed, record="aggregate")
    if latency:
        hs.Network(sim, latency=hs.Deterministic(latency))
    web = [
        hs.Server(sim, f"web{i}", workers=1, service_time=hs.Deterministic(0.001))
        for i in range(TARGETS)
    ]
    hs.LoadBalancer(sim, "lb", backends=web, health_check=hc)
    onsets: list[tuple[str, float]] = []
    hang = (n + 2) * interval + timeout

    def lifecycle(server):
        up = sim.rng(server.name, "test-hangs")
        while True:
            yield sim.env.timeout(up.uniform(20 * interval, 40 * interval))
            onsets.append((server.name, sim.now))
            server.degrade(1e9)
            yield sim.env.timeout(hang)
            server.fail()
            server.recover()

    for server in web:
        sim.env.process(lifecycle(server))
    result = sim.run(until=plan.horizon, warmup=plan.warmup)
    kept = [(name, t, t + hang) for name, t in onsets if plan.warmup <= t < plan.horizon - hang]
    return result, first_verdicts(result.detections, kept)


@pytest.mark.parametrize("plan", DETECT_PLANS)
@pytest.mark.parametrize(
    ("interval", "n", "timeout", "latency"),
    [
        pytest.param(1.0, 3, 0.4, 0.0, id="I=1,N=3,T=0.4"),
        pytest.param(2.0, 2, 0.5, 0.05, id="I=2,N=2,T=0.5,latency=0.05"),
    ],
)
def test_time_to_detect_a_hung_target_is_n_probe_timeouts(interval, n, timeout, latency, plan):
    """A target that stops answering (overloaded, or cut off) fails probes only by timeout.

    Derivation (one-way latency ``d``, ``2 d + service < T < I``): a probe sent at ``s`` reaches
    the target at ``s + d``; if the target hangs from ``c`` on, the probes that reach it after
    ``c`` never come back and fail when their timeout expires, at ``s + T``. The first of them
    is sent at ``s_1 = c - d + U``, ``U ~ Uniform(0, I]``; the verdict is the N-th failure, at
    ``s_1 + (N - 1) I + T``. (Probes in service at ``c`` keep the service time they drew and
    succeed.) Hence

        TTD = (N - 1) I + T - d + U,   bounds [(N - 1) I + T - d, N I + T - d],
        mean (N - 1/2) I + T - d:

    a hung target costs ``T - 2 d`` more to detect than a dead one (whose refusal is back after
    ``2 d``). Checked as for crashes: bounds for every TTD, t-interval of the mean, KS test.
    """
    hc = hs.HealthCheck(interval=interval, timeout=timeout, unhealthy_after=n)
    low, high = (b + timeout - latency for b in hc.detection_bounds())
    means, pooled = [], []
    for seed in plan.seeds:
        _, ttds = hung_run(seed, plan, interval, n, timeout, latency)
        ttd = np.array(ttds)
        assert ttd.size > 10 and not np.isnan(ttd).any()
        assert (ttd >= low - 1e-9).all() and (ttd <= high + 1e-9).all(), (ttd.min(), ttd.max())
        means.append(ttd.mean())
        pooled.append((ttd - low) / interval)
    theory = hc.mean_detection_time() + timeout - latency
    check(f"TTD hung target, I={interval:g} N={n} T={timeout:g} d={latency:g}",
          t_interval(means), theory, plan.rel)  # fmt: skip
    assert sps.kstest(np.concatenate(pooled), "uniform").pvalue > 1e-3


# --- request availability against the check interval --------------------------------------------

BACKENDS = 20
MTTF = 600.0
MTTR = 20.0
N_CHECK = 2  # unhealthy_after = healthy_after


def availability_run(seed, horizon, warmup, interval, rate):
    """``BACKENDS`` servers behind a round-robin balancer with an active check.

    Returns (request unavailability, crashes of backends in the window, window, summary).
    """
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Deterministic(MTTR))
    web = [
        hs.Server(sim, f"web{i}", workers=1000, service_time=0.0, failures=failures)
        for i in range(BACKENDS)
    ]
    hc = hs.HealthCheck(interval=interval, timeout=0.1, unhealthy_after=N_CHECK,
                        healthy_after=N_CHECK)  # fmt: skip
    lb = hs.LoadBalancer(sim, "lb", backends=web, health_check=hc)
    hs.OpenLoop(sim, "users", target=lb, rate=rate)
    result = sim.run(until=horizon, warmup=warmup)
    summary = result.summary()
    check_conservation(summary)
    crashes = len(crash_onsets(result, {s.name for s in web}))
    return 1.0 - summary["availability"], crashes, result.window, summary


def availability_theory(interval):
    """(first order, with the second-order terms) of ``n * (1 - A) / failure rate``.

    See ``test_request_unavailability_grows_with_the_check_interval``.
    """
    n, cycle = BACKENDS, MTTF + MTTR
    undetected = (N_CHECK - 0.5) * interval
    # P(the next crash comes while the backend is still excluded after its repair):
    # D_rec = (M - 1) I + U I, P = E[1 - exp(-D_rec / MTTF)].
    a = interval / MTTF
    q = 1.0 - math.exp(-(N_CHECK - 1) * a) * (1.0 - math.exp(-a)) / a
    excluded = (MTTR - undetected * (1 - q) + (N_CHECK - 0.5) * interval) / cycle
    inv_k = sum(
        math.comb(n - 1, j) * excluded**j * (1 - excluded) ** (n - 1 - j) / (n - j)
        for j in range(n)
    )
    second = n * undetected * (1 - q) * inv_k + excluded**n * cycle
    return undetected, second


#: Quick: I = 2 and 8 s, 20 runs of 1,200 s at 10 requests/s (about 700 crashes in all);
#: slow: I = 0.5 .. 8 s, 40 runs of 10,000 s at 30 requests/s (about 13,000 crashes).
#: The per-crash spread of the normalised estimate is about 0.2-0.35 of its mean (the detection
#: phase, and how many requests fall in the undetected window); the horizons keep the expected
#: half-width within about 65 % of ``rel`` (measured: 4-5 % quick).
AVAIL_PLANS = [
    pytest.param(
        Plan(replications=20, horizon=1_300.0, warmup=100.0, rel=0.10),
        (2.0, 8.0),
        10.0,
        id="quick",
    ),
    pytest.param(
        Plan(replications=40, horizon=10_100.0, warmup=100.0, rel=0.03),
        (0.5, 1.0, 2.0, 4.0, 8.0),
        30.0,
        id="slow",
        marks=pytest.mark.slow,
    ),
]


@pytest.mark.parametrize(("plan", "intervals", "rate"), AVAIL_PLANS)
def test_request_unavailability_grows_with_the_check_interval(plan, intervals, rate):
    """Failed requests ~ failure rate x expected undetected time x share of traffic.

    Model: ``n`` = 20 backends behind a round-robin balancer, each failing after
    ``Exponential(MTTF = 600 s)`` and repaired after exactly ``MTTR = 20 s``; an active check
    of interval ``I``, ``unhealthy_after = healthy_after = N = 2``; service takes no time, so
    the only failed requests are those sent to a dead backend the balancer still believes
    healthy (the backend refuses them with ``error``).

    First order (one backend in trouble at a time). A backend goes through cycles of length
    ``C = MTTF + MTTR`` (its next TTF starts at the repair), so it crashes at rate ``1 / C``.
    After a crash it stays a candidate for ``D`` = TTD, with ``E[D] = (N - 1/2) I``
    (``test_time_to_detect_a_crash_...``; ``N I = 16 s < MTTR`` so it is always detected before
    its repair), and round robin sends it ``1/n`` of the requests, which all fail. After the
    verdict the others take its share: nothing fails. After the repair it is up but unused
    until ``N`` good probes: nothing fails. Summing over the ``n`` backends::

        1 - A  ~=  n * (1 / C) * (N - 1/2) I * (1 / n)  =  (N - 1/2) I / C

    (``(N - 1/2) I / MTTF`` to first order in MTTR / MTTF.) It grows linearly in ``I``.

    Second order, included in the theory checked (``availability_theory``):

    * share: while backend ``i`` is undetected, each other backend is excluded (detected, or
      repaired and not yet re-admitted) with probability ``p = (MTTR - E[D] + E[D_rec]) / C``
      (``E[D_rec] = (N - 1/2) I``, so ``p = MTTR / C`` = 3.2 %); the share of ``i`` is
      ``E[1/K]`` with ``K = 1 + Binomial(n - 1, 1 - p)`` candidates, about ``(1 + p) / n``;
    * a crash that comes while the backend is still excluded after its previous repair
      (``TTF < D_rec``, probability ``q ~= (N - 1/2) I / MTTF``, up to 2 %) is never
      undetected;
    * every backend excluded: requests rejected, ``p^n`` (1e-30, nothing).

    Neglected: products of these (``p q`` and ``p^2``, below 0.2 % of the result) and the
    discreteness of round robin within a window (unbiased: its offset is arbitrary).

    Estimator. The unavailability of a run is dominated by how many crashes the run happened
    to have (a Poisson count: 1 / sqrt(k) relative noise). Each replication therefore gives
    ``x = (1 - A) * n * W / k`` (``k`` crashes in a window ``W``): the failed share per unit of
    realised failure rate, whose expectation given ``k`` is exactly the theory above times
    ``C`` (a sum of ``k`` per-crash terms over ``k``), i.e. ``n E[D] E[1/K] (1 - q)`` ~
    ``(N - 1/2) I``. Tolerance: its 99.9 % t-interval over the replications must cover the
    second-order value and be narrower than ``rel`` of it (10 % quick, 3 % slow); the first-
    order value must be within 10 % (the terms it neglects are ``p + q`` < 6 %). The raw
    unavailabilities are checked too, against the second-order value over ``C``, with their own
    wider interval (coverage only: no precision bound, ``rel = 1``); ``-v`` prints both.
    """
    for interval in intervals:
        runs = [
            availability_run(seed, plan.horizon, plan.warmup, interval, rate) for seed in plan.seeds
        ]
        first, second = availability_theory(interval)
        x = t_interval(u * BACKENDS * w / k for u, k, w, _ in runs)
        check(f"failed share / failure rate, n={BACKENDS} I={interval:g} N={N_CHECK}",
              x, second, plan.rel)  # fmt: skip
        assert abs(x.mean - first) <= 0.10 * first, (x, first)
        raw = t_interval(u for u, *_ in runs)
        cycle = MTTF + MTTR
        check(f"request unavailability, n={BACKENDS} I={interval:g} N={N_CHECK}",
              raw, second / cycle, rel=1.0)  # fmt: skip
        assert all(s["rejected"] == 0 and s["timeout"] == 0 for *_, s in runs)
