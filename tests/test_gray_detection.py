"""Gray failures and what notices them: slow, erroring and stalled backends behind a balancer.

A gray failure leaves the node *up*: it answers, slowly (``degrade``), wrongly
(``set_errors``) or not yet (``stall``). Whether the design notices depends on the observer:

* passive outlier detection on real traffic ejects a node after ``consecutive_errors`` bad
  answers in a row, where an ok answer slower than ``slow_after`` counts as bad;
* an active health check sees only its probes: a node that errs on half the requests fails
  half the probes, so ``unhealthy_after = N`` needs N failures *in a row*;
* a latency-aware policy (``LeastOutstanding``, ``PowerOfTwo``) sends a slow node less, without
  any verdict.

The slow-node scenario: three backends, 8 workers each, service ``Exponential(10 ms)``,
0.5 ms per network hop (four hops per request: 2 ms), 60 requests/s. A healthy backend is
nearly idle (utilisation under 4 %, the chance that a request waits is below 1e-8), so the
latency of a request served by a healthy backend follows ``2 ms + Exponential(10 ms)``
(``HEALTHY``); its p99 is 48.05 ms. At ``T0`` web1 becomes 20 times slower (200 ms mean; it
stays stable at a third of the load: 20/s x 0.2 s = 4 of 8 workers busy).

Quantiles are judged with distribution-free 99.9 % intervals from order statistics
(``quantile_interval``): with ``n`` latencies, the ``q``-quantile lies in ``[X_(l), X_(u)]``
with ``l, u`` the 0.05 % and 99.95 % points of ``Binomial(n, q)``. Seeds are fixed.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

import hasim as hs

T0 = 20.0
END = 80.0
HEALTHY = sps.expon(loc=0.002, scale=0.01)
P99 = float(HEALTHY.ppf(0.99))


def quantile_interval(values, q: float, level: float = 0.999) -> tuple[float, float]:
    """Distribution-free ``level`` interval of the ``q``-quantile of ``values``."""
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    lo = int(sps.binom.ppf((1 - level) / 2, n, q))
    hi = int(sps.binom.ppf((1 + level) / 2, n, q)) + 1
    return float(x[max(lo - 1, 0)]), float(x[min(hi - 1, n - 1)])


def slow_node_run(policy=None, outlier_detection=None, seed=1):
    """The slow-node scenario; returns (ok requests table, full table, ejection time or None)."""
    sim = hs.Simulation(seed=seed)
    hs.Network(sim, latency=0.0005)
    web = [
        hs.Server(sim, f"web{i}", workers=8, service_time=hs.Exponential(mean=0.01))
        for i in range(3)
    ]
    hs.LoadBalancer(
        sim, "lb", backends=web, policy=policy or hs.RoundRobin(),
        outlier_detection=outlier_detection,
    )  # fmt: skip
    hs.OpenLoop(sim, "users", target=web[0].sim["lb"], rate=60, timeout=5.0)
    sim.call_later(T0, lambda _: web[1].degrade(20, "bad disk"))
    result = sim.run(until=END)
    table = result.requests()
    ejections = [t for t, obs, target, healthy in result.detections if not healthy]
    assert all(target == "web1" for _, _, target, _ in result.detections)
    ok = table[table["outcome"] == hs.OK]
    return ok, table, (ejections[0] if ejections else None)


def window(ok, start, end):
    """Latencies of the ok requests issued in ``[start, end)``."""
    return ok[(ok["issued"] >= start) & (ok["issued"] < end)]["latency"].to_numpy()


SLOW = hs.OutlierDetection(
    consecutive_errors=5, base_ejection=300.0, max_ejection=300.0, slow_after=0.1
)


def test_before_the_slowdown_latency_follows_the_healthy_law():
    """The reference: before T0, p99 is the healthy law's (48 ms) and the whole law passes KS."""
    ok, _, _ = slow_node_run()
    before = window(ok, 1.0, T0)
    low, high = quantile_interval(before, 0.99)
    assert low <= P99 <= high
    assert sps.kstest(before, HEALTHY.cdf).pvalue > 1e-3


def test_outlier_detection_on_slow_answers_takes_a_slow_node_out():
    """Two phases. From T0 until the ejection, a third of the requests go to the slow node and
    p99 is several times the healthy one (its whole 99.9 % interval lies above 3 x 48 ms). Once
    five answers in a row were slower than ``slow_after`` (0.1 s), web1 is ejected (for 300 s,
    longer than the run), and the requests issued after that follow the healthy law again: p99's
    interval covers 48 ms and KS passes. Nothing failed: slowness is not an error.
    """
    ok, table, ejected = slow_node_run(outlier_detection=SLOW)
    assert ejected is not None and T0 < ejected < T0 + 10.0
    dragged = window(ok, T0, ejected)
    assert dragged.size > 30
    assert quantile_interval(dragged, 0.99)[0] > 3 * P99
    after = window(ok, ejected, END - 6.0)  # requests still in flight at the end left out
    low, high = quantile_interval(after, 0.99)
    assert low <= P99 <= high, (low, P99, high)
    assert sps.kstest(after, HEALTHY.cdf).pvalue > 1e-3
    served_after = ok[ok["issued"] >= ejected]["responder"]
    assert "web1" not in set(served_after)
    assert (table["outcome"] == hs.OK).all()


def test_without_detection_the_slow_node_drags_p99_for_good():
    """The same run without outlier detection: p99 stays far above the healthy one until the
    end, and web1 keeps its third of the traffic (RoundRobin is blind to latency)."""
    ok, _, ejected = slow_node_run()
    assert ejected is None
    late = window(ok, T0 + 10.0, END - 6.0)
    assert quantile_interval(late, 0.99)[0] > 5 * P99
    share = (ok[ok["issued"] >= T0]["responder"] == "web1").mean()
    assert share == pytest.approx(1 / 3, abs=0.01)


@pytest.mark.parametrize("policy", [hs.LeastOutstanding(), hs.PowerOfTwo()], ids=repr)
def test_a_latency_aware_policy_starves_the_slow_node_without_a_verdict(policy):
    """LeastOutstanding and PowerOfTwo send a slow node less: it holds its requests 20 times
    longer, so it seldom has the fewest in flight. Its share falls from a third to under 15 %,
    and the body of the tail shrinks: p90's and p95's intervals lie wholly below RoundRobin's.

    But the node is not taken out: a policy that only balances load still gives the slow node
    a share of the traffic (at saturation about its share of the capacity, 1/20 / (2 + 1/20) =
    2.4 %; more at this light load), more than 1 % of the requests, so p99 stays above 3 x the
    healthy one. Only a verdict (outlier detection, above) takes the node out of the tail.
    """
    ok, _, ejected = slow_node_run(policy=policy)
    assert ejected is None
    late = window(ok, T0 + 2.0, END - 6.0)
    share = (ok[ok["issued"] >= T0 + 2.0]["responder"] == "web1").mean()
    assert 0.01 < share < 0.15
    rr_late = window(slow_node_run()[0], T0 + 2.0, END - 6.0)
    for q in (0.90, 0.95):
        assert quantile_interval(late, q)[1] < quantile_interval(rr_late, q)[0], q
    assert quantile_interval(late, 0.99)[0] > 3 * P99


def test_latency_aware_policy_and_outlier_detection_together():
    """With both, the node is ejected and p99 comes back to the healthy law's."""
    ok, _, ejected = slow_node_run(policy=hs.LeastOutstanding(), outlier_detection=SLOW)
    assert ejected is not None
    after = window(ok, ejected, END - 6.0)
    low, high = quantile_interval(after, 0.99)
    assert low <= P99 <= high


# --- a node that errs on half the requests -------------------------------------------------------


def test_consecutive_error_outlier_detection_ejects_an_erroring_node(sim, assert_conserved):
    """web1 answers half its requests with ``error`` from t = 5. Outlier detection (5 errors in
    a row) ejects it once such a run happens (on average after 62 requests to it: the expected
    wait for 5 heads in a row is 2^6 - 2); afterwards no request fails. Before the ejection,
    about half of web1's answers were errors."""
    web = [hs.Server(sim, f"web{i}", workers=4, service_time=0.001) for i in range(3)]
    od = hs.OutlierDetection(consecutive_errors=5, base_ejection=1000.0, max_ejection=1000.0)
    lb = hs.LoadBalancer(sim, "lb", backends=web, outlier_detection=od)
    hs.OpenLoop(sim, "users", target=lb, rate=60, timeout=1.0)
    sim.call_later(5.0, lambda _: web[1].set_errors(0.5, "bad deploy"))
    result = sim.run(until=60)
    verdicts = [(t, target, healthy) for t, _, target, healthy in result.detections]
    assert len(verdicts) == 1 and verdicts[0][1:] == ("web1", False)
    ejected = verdicts[0][0]
    table = result.requests()
    failed = table[table["outcome"] != hs.OK]
    assert set(failed["outcome"]) == {hs.ERROR} and set(failed["responder"]) == {"web1"}
    assert failed["ended"].between(5.0, ejected).all()
    answered = table[(table["responder"] == "web1") & (table["issued"] >= 5.0)]
    assert len(answered) >= 5
    # The last five answers before the ejection were the five errors in a row.
    assert list(answered.sort_values("ended")["outcome"].tail(5)) == [hs.ERROR] * 5
    assert lb.healthy_backends == ["web0", "web2"]
    assert_conserved(result, sim)


def _log_probe_outcomes(server, log):
    """Record ``(time, ok)`` for every answer ``server`` gives (only probes reach it here)."""
    submit = server.submit

    def logged(request, reply):
        def answer(req, outcome, by):
            log.append((server.sim.now, outcome == hs.OK))
            reply(req, outcome, by)

        submit(request, answer)

    server.submit = logged


def test_a_health_check_flags_an_erroring_node_only_after_n_failed_probes_in_a_row(sim):
    """Probes fail at rate 0.5, so the belief flips exactly when a run of N = 3 failed probes
    (unhealthy) or M = 2 good ones (healthy) completes: replaying the logged probe outcomes
    through that rule gives exactly the recorded verdicts."""
    web = hs.Server(sim, "web")
    hc = hs.HealthCheck(interval=1.0, timeout=0.5, unhealthy_after=3, healthy_after=2,
                        jitter=False)  # fmt: skip
    hs.LoadBalancer(sim, "lb", backends=[web], health_check=hc)
    web.set_errors(0.5)
    log = []
    _log_probe_outcomes(web, log)
    result = sim.run(until=300)
    expected, healthy, run_ok, run_bad = [], True, 0, 0
    for t, ok in log:
        run_ok, run_bad = (run_ok + 1, 0) if ok else (0, run_bad + 1)
        if healthy and run_bad >= 3:
            healthy = False
            expected.append((t, False))
        elif not healthy and run_ok >= 2:
            healthy = True
            expected.append((t, True))
    got = [(t, h) for t, _, _, h in result.detections]
    assert got == expected and len(got) > 10
    assert 0.4 < np.mean([ok for _, ok in log]) < 0.6


def test_the_share_of_time_an_erroring_node_is_believed_healthy():
    """Probes fail independently with chance q = 0.5. From a 'healthy' verdict the checker needs
    N = 3 failures in a row: on average ``(q^-N - 1) / (1 - q)`` = 14 probes; from 'unhealthy',
    M = 2 successes in a row: ``((1 - q)^-M - 1) / q`` = 6 probes. By renewal-reward, the share
    of probes (= of time: errors answer at once, so verdicts fall on probe times) spent believed
    healthy is 14 / 20 = 0.7, and the rate of 'unhealthy' verdicts is 1 per 20 probes.

    Tolerance: 20 runs of 6,000 probes (300 cycles each); 99.9 % Student-t interval over the
    runs, whose half-width must be under 6 % of theory (expected: about 1.3 % for the share,
    3.5 % for the rate).
    """
    shares, rates = [], []
    probes = 6_000
    for seed in range(1, 21):
        sim = hs.Simulation(seed=seed, record="aggregate")
        web = hs.Server(sim, "web")
        hc = hs.HealthCheck(interval=1.0, timeout=0.5, unhealthy_after=3, healthy_after=2,
                            jitter=False)  # fmt: skip
        hs.LoadBalancer(sim, "lb", backends=[web], health_check=hc)
        web.set_errors(0.5)
        result = sim.run(until=probes - 0.5)
        healthy_time, since, state = 0.0, 0.0, True
        for t, _, _, healthy in result.detections:
            if state and not healthy:
                healthy_time += t - since
            elif healthy and not state:
                since = t
            state = healthy
        if state:
            healthy_time += result.until - since
        shares.append(healthy_time / result.until)
        rates.append(sum(not h for *_, h in result.detections) / probes)
    for values, theory in ((shares, 14 / 20), (rates, 1 / 20)):
        x = np.array(values)
        half = sps.t.ppf(0.9995, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
        assert abs(x.mean() - theory) <= half, (x.mean(), half, theory)
        assert half <= 0.06 * theory


# --- a stalled node ------------------------------------------------------------------------------


def test_a_stalled_node_fails_its_probes_by_timeout_and_recovers_after_resume(
    sim, at, assert_conserved
):
    """web1 stalls at 9.5: it takes requests and probes but finishes nothing. The probes of 10,
    11 and 12 time out (0.5 s): unhealthy at 12.5. It resumes at 20.5 and works off its queue
    (the late probe answers are ignored); the probes of 21 and 22 succeed: healthy at 22 plus
    its service time. Requests routed to it while stalled time out at the client; after the
    verdict none go there, after the recovery they do again."""
    web = [hs.Server(sim, f"web{i}", workers=2, service_time=0.001) for i in range(3)]
    hc = hs.HealthCheck(interval=1.0, timeout=0.5, unhealthy_after=3, healthy_after=2,
                        jitter=False)  # fmt: skip
    lb = hs.LoadBalancer(sim, "lb", backends=web, health_check=hc)
    hs.OpenLoop(sim, "users", target=lb, rate=30, timeout=2.0)
    at(9.5, web[1].stall, "gc")
    at(20.5, web[1].resume, "gc")
    result = sim.run(until=40)
    verdicts = [(t, h) for t, _, target, h in result.detections if target == "web1"]
    assert verdicts == [(12.5, False), (pytest.approx(22.001), True)]
    table = result.requests()
    failed = table[table["outcome"] != hs.OK]
    assert set(failed["outcome"]) == {hs.TIMEOUT}
    assert failed["issued"].between(9.5 - 0.001, 12.5).all()
    by_web1 = table[table["responder"] == "web1"]["issued"]
    assert not by_web1.between(9.5, 22.0).any() and by_web1.between(22.1, 40).any()
    assert web[1].state == hs.UP and not web[1].stalled
    assert [f[:5] for f in sim.recorder.faults.values()] == [["stall", "web1", 9.5, 20.5, "gc"]]
    assert_conserved(result, sim)


def test_an_upstream_timeout_lets_outlier_detection_eject_a_stalled_node(sim, at):
    """Without a health check, a stalled node is seen only through its silence: the balancer's
    upstream timeout (0.2 s) turns each unanswered request into a ``timeout`` that counts
    against it, and 3 in a row eject it."""
    web = [hs.Server(sim, f"web{i}", workers=2, service_time=0.001) for i in range(3)]
    od = hs.OutlierDetection(consecutive_errors=3, base_ejection=100.0, max_ejection=100.0)
    lb = hs.LoadBalancer(sim, "lb", backends=web, outlier_detection=od, timeout=0.2)
    hs.OpenLoop(sim, "users", target=lb, rate=30, timeout=2.0)
    at(5.0, web[1].stall)
    result = sim.run(until=20)
    verdicts = [(t, target, h) for t, _, target, h in result.detections]
    assert len(verdicts) == 1 and verdicts[0][1:] == ("web1", False)
    ejected = verdicts[0][0]
    assert 5.0 < ejected < 6.0
    failed = result.requests()
    failed = failed[failed["outcome"] != hs.OK]
    # The three that ejected it, and those sent to web1 during the last one's 0.2 s wait.
    assert len(failed) >= 3 and set(failed["outcome"]) == {hs.TIMEOUT}
    assert set(failed["responder"]) == {"lb"} and np.allclose(failed["latency"], 0.2)
    assert failed["issued"].between(5.0, ejected).all()
    assert failed["issued"].max() > ejected - 0.2
