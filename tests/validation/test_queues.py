"""Queues against their closed forms: M/M/1, M/M/c (Erlang C), M/M/c/K and Erlang B.

One ``Server`` (``workers`` = c, ``queue_limit`` = K - c) fed by an ``OpenLoop`` client
(Poisson arrivals). Every test estimates its quantities from independent replications and
checks each with ``stats.check``: the closed form must lie in the 99.9 % Student-t interval of
the replications, and the half-width must be below ``plan.rel`` of the closed form (see
``stats.py`` for why this is the tolerance). Each replication starts empty and discards a
warm-up of ``plan.warmup`` seconds, many relaxation times of the queue (tens of seconds at
these loads), and asserts conservation (issued = ok + failed + in flight).

Mean latencies come from ``summary()["latency_mean"]``, exact in both record modes;
``record="requests"`` is used only where exact percentiles are checked.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import hasim as hs
from hasim import analytic
from hasim.validation.cases import Probe

from .stats import Plan, check, check_conservation, replicate, t_interval, variants

MU = 1.0  # service rate: every service time has mean 1 s


def run_queue(
    seed: int,
    plan: Plan,
    *,
    workers: int,
    rate: float,
    service: hs.Distribution,
    queue_limit: int | None = None,
    record: str = "aggregate",
    probe_rate: float | None = None,
) -> tuple[hs.Summary, Probe | None]:
    """One replication of a ``workers``-server queue fed at ``rate``; its summary and probe."""
    sim = hs.Simulation(seed=seed, record=record)
    server = hs.Server(
        sim, "server", workers=workers, service_time=service, queue_limit=queue_limit
    )
    hs.OpenLoop(sim, "users", target=server, rate=rate)
    probe = None
    if probe_rate is not None:
        probe = Probe(sim, server, rate=probe_rate, seed=seed, start=plan.warmup)
    summary = sim.run(until=plan.horizon, warmup=plan.warmup).summary()
    check_conservation(summary)
    assert summary["timeout"] == summary["error"] == summary["lost"] == 0
    if queue_limit is None:
        assert summary["rejected"] == 0
    return summary, probe


def blocked_share(summary: hs.Summary) -> float:
    """The share of the answered requests that were rejected (queue full)."""
    return summary["rejected"] / (summary["ok"] + summary["failed"])


# -- M/M/1 ---------------------------------------------------------------------------------

MM1 = variants(
    quick=Plan(replications=20, horizon=5e4, warmup=1e3, rel=0.05),
    slow=Plan(replications=40, horizon=6e5, warmup=1e3, rel=0.01),
)


@pytest.mark.parametrize("plan", MM1)
def test_mm1_response_time(plan):
    """M/M/1 at rho = 0.7: mean response time 1 / (mu - lambda) and its 95th percentile.

    Theory: ``analytic.mmc(lambda, mu, 1).mean_response`` = 3.33 s. In a FIFO M/M/1 queue
    the response time is exponential with rate ``mu - lambda``, so its 95th percentile is
    ``ln(20) / (mu - lambda)`` = 9.99 s; ``record="requests"`` makes the percentile exact (the
    aggregate histogram would add about 0.5 %). Tolerance, for each: the 99.9 % t-interval
    of the per-replication values must cover the theory and be narrower than ``plan.rel`` of
    it (5 % quick, 1 % slow). (A per-replication sample quantile is biased by O(1/requests),
    about 1e-5 here.)
    """
    lam = 0.7
    runs = [
        run_queue(
            seed, plan, workers=1, rate=lam, service=hs.Exponential(mean=1 / MU), record="requests"
        )[0]
        for seed in plan.seeds
    ]
    mean = t_interval(run["latency_mean"] for run in runs)
    check("M/M/1 rho=0.7 mean response", mean, analytic.mmc(lam, MU, 1).mean_response, plan.rel)
    p95 = t_interval(run["latency_p95"] for run in runs)
    check("M/M/1 rho=0.7 response p95", p95, math.log(20.0) / (MU - lam), plan.rel)


# -- M/M/c ---------------------------------------------------------------------------------

MMC = variants(
    quick=Plan(replications=20, horizon=2e4, warmup=1e3, rel=0.05),
    slow=Plan(replications=40, horizon=2e5, warmup=1e3, rel=0.01),
)


@pytest.mark.parametrize("plan", MMC)
def test_mmc_response_time_and_erlang_c(plan):
    """M/M/3 at rho = 0.8: mean response time, P(wait) (Erlang C) and mean number in system.

    Theory (``analytic.mmc(2.4, 1, 3)``): W = C / (c mu - lambda) + 1 / mu = 2.079 s,
    P(wait) = ``erlang_c(3, 2.4)`` = 0.647 and L = lambda W = 4.99.

    W is the mean latency of the ok requests. P(wait) and L cannot be read from the requests
    (a request's service time is not recorded), so a :class:`Probe` samples the server at
    Poisson instants, rate 1/s: by PASTA the share of instants with all three workers busy is
    the probability that an arrival waits, and the mean of busy + queued is L. This checks
    the queue's state process independently of the latency bookkeeping (checking
    ``Wq = W - 1/mu`` against ``C / (c mu - lambda)`` instead would only re-test W).
    Tolerance, for each of the three: the 99.9 % t-interval over the replications must cover
    the theory and be narrower than ``plan.rel`` of it (5 % quick, 1 % slow).
    """
    lam, c = 2.4, 3
    theory = analytic.mmc(lam, MU, c)
    runs = [
        run_queue(
            seed, plan, workers=c, rate=lam, service=hs.Exponential(mean=1 / MU), probe_rate=1.0
        )
        for seed in plan.seeds
    ]
    w = t_interval(summary["latency_mean"] for summary, _ in runs)
    check("M/M/3 rho=0.8 mean response", w, theory.mean_response, plan.rel)
    p_wait = t_interval(probe.all_busy / probe.samples for _, probe in runs)
    check("M/M/3 rho=0.8 P(wait) (probe)", p_wait, theory.p_wait, plan.rel)
    assert theory.p_wait == pytest.approx(analytic.erlang_c(c, lam / MU))
    in_system = t_interval(probe.in_system / probe.samples for _, probe in runs)
    check("M/M/3 rho=0.8 mean in system (probe)", in_system, theory.mean_in_system, plan.rel)


def test_the_probe_does_not_change_the_run():
    """The probe only observes: a run with it gives the same summary, bit for bit."""
    plan = Plan(replications=1, horizon=2e3, warmup=100.0, rel=1.0)
    spec = dict(workers=3, rate=2.4, service=hs.Exponential(mean=1.0))
    plain, _ = run_queue(7, plan, **spec)
    probed, probe = run_queue(7, plan, **spec, probe_rate=1.0)
    assert probe.samples > 1000
    np.testing.assert_equal(dict(probed), dict(plain))  # exact, and NaN equals NaN


# -- M/M/c/K ------------------------------------------------------------------------------

MMCK = variants(
    quick=Plan(replications=20, horizon=1e4, warmup=200.0, rel=0.05),
    slow=Plan(replications=40, horizon=1e5, warmup=200.0, rel=0.01),
)


@pytest.mark.parametrize("plan", MMCK)
@pytest.mark.parametrize(
    ("c", "capacity", "lam", "scale"),
    [pytest.param(1, 5, 0.9, 2.0, id="M/M/1/5"), pytest.param(3, 6, 3.0, 0.5, id="M/M/3/6")],
)
def test_mmck_blocking_and_response_time(c, capacity, lam, scale, plan):
    """A queue limit of K - c turns arrivals away: blocking p_K and W of the admitted.

    Theory: ``analytic.mmck(lambda, mu, c, K)``: blocking = p_K, the stationary probability
    of K in the system (which by PASTA is the share of arrivals rejected), 12.6 % for
    M/M/1/5 at rho 0.9 and 17.0 % for M/M/3/6 at rho 1; and the mean response time of the
    admitted requests. Tolerance, for each: the 99.9 % t-interval of the per-replication
    values (rejected / answered; latency_mean) must cover the theory and be narrower than
    ``plan.rel`` of it (5 % quick, 1 % slow).
    """
    theory = analytic.mmck(lam, MU, c, capacity)
    plan = plan.longer(scale)  # M/M/1/5's blocking is the noisiest: 4x M/M/3/6's window
    runs = [
        run_queue(
            seed,
            plan,
            workers=c,
            rate=lam,
            service=hs.Exponential(mean=1 / MU),
            queue_limit=capacity - c,
        )[0]
        for seed in plan.seeds
    ]
    blocking = t_interval(blocked_share(run) for run in runs)
    check(f"M/M/{c}/{capacity} blocking", blocking, theory.blocking, plan.rel)
    w = t_interval(run["latency_mean"] for run in runs)
    check(f"M/M/{c}/{capacity} mean response", w, theory.mean_response, plan.rel)


# -- Erlang B: M/M/c/c and M/G/c/c -------------------------------------------------------

ERLANG_B = variants(
    quick=Plan(replications=20, horizon=5e3, warmup=100.0, rel=0.05),
    slow=Plan(replications=40, horizon=5e4, warmup=100.0, rel=0.01),
)


@pytest.mark.parametrize("plan", ERLANG_B)
@pytest.mark.parametrize(
    "service",
    [
        pytest.param(hs.Exponential(mean=1.0), id="exponential"),
        pytest.param(hs.LogNormal(mean=1.0, sigma=1.0), id="lognormal"),
        pytest.param(hs.Deterministic(1.0), id="deterministic"),
    ],
)
def test_loss_system_blocking_is_erlang_b(service, plan):
    """No queue (queue_limit=0), c = 3, a = 2 Erlangs: the blocked share is Erlang B.

    Theory: ``analytic.erlang_b(3, 2.0)`` = 0.2105. Erlang B is insensitive to the service
    distribution beyond its mean (M/G/c/c), so exponential, LogNormal (sigma 1, mean 1 s)
    and deterministic (1 s) service must all agree; the deterministic case draws no random
    service times at all. Tolerance: the 99.9 % t-interval of rejected / answered over the
    replications must cover B and be narrower than ``plan.rel`` of it (5 % quick, 1 % slow).
    """
    lam, c = 2.0, 3
    assert service.mean == pytest.approx(1 / MU)
    theory = analytic.erlang_b(c, lam / MU)
    assert theory == pytest.approx(analytic.mmck(lam, MU, c, c).blocking)
    estimate = replicate(
        lambda seed: blocked_share(
            run_queue(seed, plan, workers=c, rate=lam, service=service, queue_limit=0)[0]
        ),
        plan,
    )
    check(f"M/G/3/3 blocking, {service}", estimate, theory, plan.rel)
