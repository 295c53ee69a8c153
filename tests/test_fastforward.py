"""Fast-forward: skipping quiet stretches changes no fault and, in expectation, no metric.

The agreement test runs the same seeds with and without fast-forward. The faults are the
same (they draw from their own streams and keep their times), so uptime, incidents and
MTTR must be identical; the request metrics of the skipped stretches are estimates, and
the probes meet each fault at another phase after a jump, so availability, time to detect
and latency percentiles must agree within intervals: the difference of the two means
within its 95 % Welch interval for availability and time to detect, percentiles within 3 %
(the histogram's bins are 1 %, each run's percentiles vary by about 1 %).
"""

import numpy as np
import pytest
from scipy import stats

import hasim as hs
from hasim.models import lb_cluster


def build(sim, rate=20.0):
    lb = lb_cluster.build(sim, servers=3, needed=3, mttf=2 * hs.hours, mttr=20 * hs.minutes,
                          lb_mttf=1e12)  # fmt: skip
    hs.OpenLoop(sim, "users", target=lb, rate=rate, timeout=2.0)
    return lb


def run(seed, until, fast):
    sim = hs.Simulation(seed=seed, record="aggregate")
    build(sim)
    ff = hs.FastForward() if fast else None
    return sim.run(until=until, warmup=300, fast_forward=ff), sim


def agree(seeds, until):
    full = [run(s, until, False)[0].summary() for s in seeds]
    fast_runs = [run(s, until, True) for s in seeds]
    fast = [r.summary() for r, _ in fast_runs]
    skipped = np.mean([sim.skipped / until for _, sim in fast_runs])
    for a, b in zip(full, fast, strict=True):
        for key in ("uptime", "incidents", "mttr", "downtime"):
            assert a[key] == pytest.approx(b[key], rel=1e-12, nan_ok=True), key
        assert b["issued"] == b["ok"] + b["failed"] + b["in_flight"]
    # The probes keep their rhythm across a jump, so a fault meets them at another phase:
    # detection (and the requests lost before it) agree in distribution, not run by run.
    for metric in ("unavailability", "mttd"):
        x_full = np.array([1 - s["availability"] if metric == "unavailability" else s["mttd"]
                           for s in full])  # fmt: skip
        x_fast = np.array([1 - s["availability"] if metric == "unavailability" else s["mttd"]
                           for s in fast])  # fmt: skip
        diff = x_fast.mean() - x_full.mean()
        se = np.sqrt(x_full.var(ddof=1) / len(seeds) + x_fast.var(ddof=1) / len(seeds))
        assert abs(diff) <= stats.t.ppf(0.975, 2 * len(seeds) - 2) * se, (metric, x_full, x_fast)
    for q in ("latency_p50", "latency_p99"):
        a = np.mean([s[q] for s in full])
        b = np.mean([s[q] for s in fast])
        assert b == pytest.approx(a, rel=0.03), q
    return skipped


def test_fast_forward_agrees_with_the_full_run():
    """6 seeds x 8 h, 20 req/s, servers failing every ~2 h: most of the run is skipped."""
    skipped = agree(range(1, 7), 8 * hs.hours)
    assert skipped > 0.7


@pytest.mark.slow
def test_fast_forward_agrees_with_the_full_run_over_days():
    skipped = agree(range(1, 11), 2 * hs.days)
    assert skipped > 0.9


def test_the_same_seed_gives_the_same_run():
    a, _ = run(3, 4 * hs.hours, True)
    b, _ = run(3, 4 * hs.hours, True)
    assert a.summary() == b.summary()


def test_a_model_without_faults_skips_to_the_end_and_keeps_its_rates():
    """No fault at all: one sample, one jump to the horizon; the counts scale with time."""
    sim = hs.Simulation(seed=2, record="aggregate")
    web = hs.Server(sim, "web", workers=4, service_time=hs.Exponential(mean=0.01))
    hs.OpenLoop(sim, "users", target=web, rate=50)
    s = sim.run(until=1 * hs.days, fast_forward=hs.FastForward()).summary()
    assert sim.skipped > 0.99 * hs.days
    # 86,400 s at 50/s: Poisson count 4.32e6 +- 2,100 (sd) from the sample's 1,500 requests,
    # whose own Poisson error (2.6 %) is what the scaled count inherits.
    assert s["issued"] == pytest.approx(50 * 86400, rel=0.1)
    assert s["availability"] == 1.0 and s["issued"] == s["ok"] + s["in_flight"]
    assert s["latency_mean"] == pytest.approx(0.01, rel=0.1)


def _requests(sim):
    hs.Server(sim, "web")


def _lossy_pair(sim):
    hs.Network(sim, loss=0.01)
    a, b = hs.Server(sim, "a"), hs.Server(sim, "b")
    hs.ActivePassive(sim, "ap", primary=a, standby=b)


def _outliers(sim):
    web = hs.Server(sim, "web")
    hs.LoadBalancer(sim, "lb", backends=[web], outlier_detection=hs.OutlierDetection())


def _steps(sim):
    web = hs.Server(sim, "web")
    hs.OpenLoop(sim, "users", target=web, rate=[(0, 1.0), (100, 2.0)])


def _breaker(sim):
    web = hs.Server(sim, "web")
    hs.OpenLoop(sim, "users", target=web, rate=1.0, breaker=hs.CircuitBreaker())


@pytest.mark.parametrize(
    ("build_it", "record", "message"),
    [
        (_requests, "requests", r'needs Simulation\(record="aggregate"\)'),
        (_lossy_pair, "aggregate", r"ActivePassive 'ap': the path a -> ap loses messages"),
        (_outliers, "aggregate", r"LoadBalancer 'lb' has outlier detection"),
        (_steps, "aggregate", r"OpenLoop 'users' must send at a constant rate"),
        (_breaker, "aggregate", r"OpenLoop 'users' must send at a constant rate, without breaker"),
    ],
)
def test_what_cannot_be_proved_quiet_is_refused_before_the_run(build_it, record, message):
    sim = hs.Simulation(seed=1, record=record)
    build_it(sim)
    with pytest.raises(hs.ConfigError, match=f"fast-forward: {message}"):
        sim.run(until=100, fast_forward=hs.FastForward())
    assert sim.env.now == 0  # nothing ran


def test_bad_settings_are_refused():
    with pytest.raises(hs.ConfigError, match=r"FastForward: sample must be a number > 0"):
        hs.FastForward(sample=0)
    with pytest.raises(hs.ConfigError, match=r"fast_forward must be None or a hasim.FastForward"):
        hs.Simulation(seed=1).run(until=10, fast_forward=True)


def test_an_experiment_fast_forwards_every_run():
    """The same seeds with and without: the same faults, so the same uptime, run by run."""
    settings = dict(workload={"rate": 10, "timeout": 2.0}, horizon="6h", warmup="5m", reps=2)
    design = {"lb": ("lb_cluster", {"mttf": 2 * hs.hours, "lb_mttf": 1e12})}
    fast = hs.Experiment(design, fast_forward=hs.FastForward(), **settings)
    slow = hs.Experiment(design, **settings)
    a = fast.run(executor="serial").runs
    b = slow.run(executor="serial").runs
    assert list(a["uptime"]) == list(b["uptime"]) and list(a["incidents"]) == list(b["incidents"])
    assert fast.task(fast.points[0], 0).key != slow.task(slow.points[0], 0).key
    assert "fast_forward" in fast.settings()
    with pytest.raises(hs.ConfigError, match="fast_forward must be None or a hasim.FastForward"):
        hs.Experiment(design, fast_forward=True, **settings)
