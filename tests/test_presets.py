"""Presets from real control planes, fail-open balancers, adaptive throttling, retry budgets.

The preset values are checked against the documents their docstrings cite (AWS Elastic Load
Balancing user guides, Envoy's API reference, Kubernetes' probe documentation, HAProxy's
manual, gcloud, Finagle, gRFC A6); the behaviours against hand-derived timelines, and the
adaptive throttle's refused share against its closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import hasim as hs
from hasim.resilience import AdaptiveThrottle, RetryBudget

# --- health-check presets ----------------------------------------------------------------------

#: name -> (interval, timeout, unhealthy_after, healthy_after), from the cited documents.
DOCUMENTED = {
    "alb": (30.0, 5.0, 2, 5),  # ALB user guide, target group health checks
    "nlb": (30.0, 10.0, 2, 5),  # NLB user guide; ELBv2 CreateTargetGroup (TCP timeout 10 s)
    "envoy": (5.0, 1.0, 3, 3),  # Envoy docs' example (the fields are required, no defaults)
    "k8s-liveness": (10.0, 1.0, 3, 1),  # periodSeconds, timeoutSeconds, failure/successThreshold
    "k8s-readiness": (10.0, 1.0, 3, 1),
    "haproxy": (2.0, 2.0, 3, 2),  # inter 2s, fall 3, rise 2; no "timeout check": inter
    "gcp": (5.0, 5.0, 2, 2),  # gcloud health-checks create defaults
}


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_health_check_presets_hold_the_documented_defaults(name):
    hc = hs.HealthCheck.preset(name)
    assert (hc.interval, hc.timeout, hc.unhealthy_after, hc.healthy_after) == DOCUMENTED[name]
    assert hc.jitter is True  # a random first probe only: the mean interval stays I


def test_presets_lists_every_preset_and_overrides_win():
    assert set(hs.HealthCheck.presets()) == set(DOCUMENTED)
    hc = hs.HealthCheck.preset("alb", interval="10s", unhealthy_after=3)
    assert (hc.interval, hc.timeout, hc.unhealthy_after, hc.healthy_after) == (10.0, 5.0, 3, 5)
    assert hs.HealthCheck.preset("gcp", jitter=False).jitter is False


def test_a_preset_time_to_detect_is_its_closed_form():
    """``check_detection_time``: ``(N - 1/2) I`` for a crash, ``+ T`` when probes time out."""
    from hasim.analytic.detection import check_detection_time

    alb = hs.HealthCheck.preset("alb")
    assert check_detection_time(alb) == alb.mean_detection_time() == 45.0
    assert check_detection_time(alb, hung=True) == 50.0
    assert check_detection_time(hs.HealthCheck.preset("k8s-readiness"), hung=True) == 26.0
    with pytest.raises(hs.ConfigError, match="check must be a hasim.HealthCheck"):
        check_detection_time(2.0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: hs.HealthCheck.preset("aws"),
            r"^HealthCheck: preset must be one of 'alb', 'nlb', 'envoy', 'k8s-liveness', "
            r"'k8s-readiness', 'haproxy', 'gcp', got 'aws'$",
        ),
        (lambda: hs.HealthCheck.preset("alb", interval=0), r"^HealthCheck: interval must be a"),
        (lambda: hs.HealthCheck.preset("alb", color=1), r"unexpected keyword argument 'color'"),
        (
            lambda: hs.OutlierDetection.preset("istio"),
            r"^OutlierDetection: preset must be one of 'envoy', got 'istio'$",
        ),
        (
            lambda: hs.OutlierDetection(interval=0),
            r"^OutlierDetection: interval must be a number > 0, got 0$",
        ),
        (
            lambda: hs.OutlierDetection(eject_at_least_one=1),
            r"^OutlierDetection: eject_at_least_one must be True or False, got 1$",
        ),
        (
            lambda: RetryBudget.preset("hystrix"),
            r"^RetryBudget: preset must be one of 'finagle', 'envoy', 'grpc', got 'hystrix'$",
        ),
        (
            lambda: RetryBudget(kind="bucket"),
            r"^RetryBudget: kind must be 'window', 'concurrent' or 'tokens', got 'bucket'$",
        ),
        (lambda: RetryBudget(max_tokens=0), r"^RetryBudget: max_tokens must be a number > 0"),
        (lambda: RetryBudget(min_concurrent=-1), r"^RetryBudget: min_concurrent must be an int"),
        (lambda: AdaptiveThrottle(k=0), r"^AdaptiveThrottle: k must be a number > 0, got 0$"),
        (lambda: AdaptiveThrottle(window=0), r"^AdaptiveThrottle: window must be a"),
    ],
)
def test_bad_presets_and_parameters_are_refused(make, message):
    with pytest.raises((hs.ConfigError, TypeError), match=message):
        make()


# --- outlier detection: Envoy's sweep ----------------------------------------------------------


def test_envoy_outlier_detection_preset_holds_the_documented_defaults():
    od = hs.OutlierDetection.preset("envoy")
    assert (od.consecutive_errors, od.interval, od.base_ejection, od.max_ejection) == (
        5,
        10.0,
        30.0,
        300.0,
    )
    assert (od.max_ejected_share, od.eject_at_least_one) == (0.1, True)
    assert hs.OutlierDetection.preset("envoy", interval=5).interval == 5.0
    # hasim's own defaults are unchanged: no sweep, no forced ejection
    assert (hs.OutlierDetection().interval, hs.OutlierDetection().eject_at_least_one) == (
        None,
        False,
    )


def test_envoy_sweep_returns_a_host_at_the_first_sweep_after_its_time_and_backs_off():
    """Two servers, ``web0`` dead for 45 s at times 1 and 150; a request every 0.1 s.

    Max share 10 % of 2 hosts is 0.2 host: only ``eject_at_least_one`` lets Envoy eject one.
    First ejection: 5 errors of ``web0`` (every other request) within about a second of the
    crash; multiplier 1, so it lasts 30 s, rounded up to the next sweep (every 10 s from 0):
    back at 40. It is dead until 46: 5 more errors within a second eject it again, with
    multiplier 2 (60 s): back at the first sweep 60 s after, 110. Healthy from then on, its
    multiplier drops by one per
    sweep (120: 1, 130: 0), so the third ejection (crash at 150) lasts 30 s again: back at
    190, while it is still dead (until 195): ejected a fourth time, with multiplier 2, for 60 s,
    beyond the end of the run.
    """
    sim = hs.Simulation(seed=1)
    web = [hs.Server(sim, f"web{i}", service_time=0.0) for i in range(2)]
    lb = hs.LoadBalancer(sim, "lb", backends=web, outlier_detection=hs.OutlierDetection.preset(
        "envoy"))  # fmt: skip
    client = hs.ClosedLoop(sim, "users", target=lb, users=1, think_time=hs.Deterministic(0.1))
    for start in (1.0, 150.0):
        sim.call_later(start - 0.05, lambda _: web[0].fail())
        sim.call_later(start + 45.0, lambda _: web[0].recover())
    result = sim.run(until=250.0)
    verdicts = [(round(t, 6), healthy) for t, obs, target, healthy in result.detections
                if obs == "lb" and target == "web0"]  # fmt: skip
    ejected = [t for t, healthy in verdicts if not healthy]
    back = [t for t, healthy in verdicts if healthy]
    assert back[:2] == [40.0, 110.0]
    assert 40.0 < ejected[1] < 42.0 and back[2] == pytest.approx(
        math.ceil((ejected[2] + 30) / 10) * 10
    )
    assert back[2] == 190.0 and 190.0 < ejected[3] < 192.0 and len(back) == 3
    assert lb.backend("web0").ejections == 4 and lb.backend("web0").ejected
    assert client.requests > 2000


# --- when every backend is unhealthy: fail open or reject --------------------------------------


def _misjudged(when: str | None = None, preset: str | None = None, **kwargs):
    """Three healthy servers whose health check always fails: the probe timeout (50 ms) is
    shorter than the round trip (2 x 100 ms), so every backend is believed unhealthy from the
    first probe on (by 1 s), though every one of them is up and answers requests."""
    sim = hs.Simulation(seed=3)
    hs.Network(sim, latency=hs.Deterministic(0.1))
    web = [hs.Server(sim, f"web{i}") for i in range(3)]
    hc = hs.HealthCheck(interval=1.0, timeout=0.05, unhealthy_after=1, jitter=False)
    if preset is None:
        lb = hs.LoadBalancer(sim, "lb", backends=web, health_check=hc, when_all_unhealthy=when,
                             **kwargs)  # fmt: skip
    else:
        lb = hs.LoadBalancer.preset(preset, sim, "lb", backends=web, health_check=hc, **kwargs)
    hs.OpenLoop(sim, "users", target=lb, rate=20.0)
    result = sim.run(until=60.0, warmup=5.0)
    assert lb.healthy_backends == []
    return result.summary(), lb


@pytest.mark.parametrize("how", ["fail_open", "alb", "nlb", "envoy"])
def test_a_fail_open_balancer_serves_when_every_backend_is_believed_unhealthy(how):
    if how == "fail_open":
        s, lb = _misjudged("fail_open")
    else:
        s, lb = _misjudged(preset=how)
    assert lb.when_all_unhealthy == "fail_open"
    assert s["issued"] > 900 and s["ok"] == s["issued"] - s["in_flight"]
    assert s["rejected"] == 0


@pytest.mark.parametrize("how", ["reject", "default", "haproxy", "reject-over-panic"])
def test_a_fail_closed_balancer_rejects_when_every_backend_is_believed_unhealthy(how):
    if how == "haproxy":
        s, lb = _misjudged(preset="haproxy")
    elif how == "default":
        s, lb = _misjudged(None)  # no panic threshold: fails closed, as before
    elif how == "reject-over-panic":
        s, lb = _misjudged("reject", panic_threshold=0.5)  # "reject" wins when none is healthy
    else:
        s, lb = _misjudged("reject")
    assert lb.when_all_unhealthy == "reject"
    assert s["issued"] > 900 and s["rejected"] == s["issued"] - s["in_flight"]
    assert s["ok"] == 0


def test_when_all_unhealthy_follows_the_panic_threshold_unless_given():
    sim = hs.Simulation(seed=1)
    web = [hs.Server(sim, "web")]
    assert hs.LoadBalancer(sim, "a", backends=web, panic_threshold=0.3).when_all_unhealthy == (
        "fail_open"
    )
    assert hs.LoadBalancer(sim, "b", backends=[]).when_all_unhealthy == "reject"
    with pytest.raises(hs.ConfigError, match=r"^LoadBalancer 'c': when_all_unhealthy must be "
                       r"'fail_open', 'reject' or None, got 'open'$"):  # fmt: skip
        hs.LoadBalancer(sim, "c", backends=web, when_all_unhealthy="open")
    with pytest.raises(hs.ConfigError, match=r"^LoadBalancer: preset must be one of 'alb', "):
        hs.LoadBalancer.preset("f5", sim, "d", backends=web)
    assert set(hs.LoadBalancer.presets()) == {"alb", "nlb", "envoy", "haproxy"}
    envoy = hs.LoadBalancer.preset("envoy", sim, "e", backends=web, policy=hs.Random())
    assert envoy.panic_threshold == 0.5 and isinstance(envoy.policy, hs.Random)
    assert envoy.outlier_detection == hs.OutlierDetection.preset("envoy")
    assert envoy.health_check == hs.HealthCheck.preset("envoy")


# --- adaptive throttling -----------------------------------------------------------------------


class Counting(hs.Component):
    """A target that answers every try at once with ``outcome``, counting the tries it gets."""

    def __init__(self, sim, name, outcome):
        super().__init__(sim, name)
        self.outcome = outcome
        self.received = 0

    def submit(self, attempt, reply):
        self.received += 1
        reply(attempt, self.outcome, self.name)


def _throttled(seed, outcome, horizon=1_000.0, rate=1.0, window=5.0, k=2.0):
    sim = hs.Simulation(seed=seed)
    target = Counting(sim, "api", outcome)
    client = hs.OpenLoop(sim, "users", target=target, rate=rate,
                         throttle=AdaptiveThrottle(k=k, window=window))  # fmt: skip
    result = sim.run(until=horizon, warmup=window)  # measured once the window is full
    return client, target, result


def test_reject_probability_is_the_sre_book_formula():
    t = AdaptiveThrottle()
    assert (t.k, t.window) == (2.0, 120.0)
    assert t.reject_probability(100, 50) == 0.0  # accepts >= requests / K: never throttled
    assert t.reject_probability(100, 20) == pytest.approx(60 / 101)
    assert t.reject_probability(100, 0) == pytest.approx(100 / 101)


def test_against_a_healthy_target_the_throttle_refuses_nothing_and_changes_no_draw():
    throttled, target, result = _throttled(1, hs.OK)
    plain_sim = hs.Simulation(seed=1)
    plain = hs.OpenLoop(plain_sim, "users", target=Counting(plain_sim, "api", hs.OK), rate=1.0)
    plain_sim.run(until=1_000.0, warmup=5.0)
    assert throttled.throttle_rejections == 0
    assert throttled.requests == plain.requests == target.received  # the same arrivals
    assert result.summary()["ok"] == result.summary()["issued"]


def test_refused_tries_never_reach_the_target_and_end_rejected_by_the_client():
    client, target, result = _throttled(2, hs.REJECTED)
    assert client.throttle_rejections > 0
    assert target.received + client.throttle_rejections == client.requests
    rows = result.requests()
    local = rows[rows["responder"] == "users"]
    assert (local["outcome"] == "rejected").all() and (local["attempts"] == 0).all()
    assert len(rows[rows["responder"] == "api"]) + len(local) == len(rows)


def test_against_a_target_that_rejects_everything_the_refused_share_matches_the_formula():
    """With no accepts, a try is refused with probability ``R / (R + 1)``, ``R`` the tries of
    the last ``W`` seconds. For Poisson tries at rate ``lambda``, ``R ~ Poisson(m)``, ``m =
    lambda W`` (PASTA), so the refused share is ``E[R / (R + 1)] = 1 - (1 - exp(-m)) / m``:
    0.8013 for ``m = 5``. (The locally refused tries count as requests: this is the "+ 1" that
    lets about one try per window through.) Tolerance: the 99.9 % Student-t interval of the
    mean share over 20 seeded runs (about 1,000 tries each), which must cover the formula.
    """
    m = 1.0 * 5.0
    theory = 1 - (1 - math.exp(-m)) / m
    shares = []
    for seed in range(1, 21):
        client, target, result = _throttled(seed, hs.REJECTED)
        rows = result.requests()
        shares.append(float((rows["responder"] == "users").mean()))
    x = np.array(shares)
    half = stats.t.ppf(0.9995, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    assert abs(x.mean() - theory) <= half, (x.mean(), half, theory)
    assert half < 0.02  # precise enough to tell m = 5 (0.801) from m = 6 (0.834)


def test_the_throttle_applies_to_retries_and_a_refused_retry_ends_the_request():
    """Each try, retries included, is a request for the throttle; a refused one is not retried:
    the request ends ``rejected`` by the client after the tries it did send."""
    sim = hs.Simulation(seed=4)
    target = Counting(sim, "api", hs.ERROR)
    client = hs.OpenLoop(sim, "users", target=target, rate=2.0, throttle=AdaptiveThrottle(
        window=10.0), retry=hs.Retry(attempts=3, backoff=hs.ConstantBackoff(0.1)))  # fmt: skip
    result = sim.run(until=300.0)
    rows = result.requests()
    local = rows[rows["responder"] == "users"]
    assert client.retries > 0 and target.received == client.sent
    assert len(local) == client.throttle_rejections  # one refused try ends each of them
    assert (local["attempts"] > 0).any() and (local["attempts"] == 0).any()
    assert (local["outcome"] == "rejected").all()


# --- retry budgets -----------------------------------------------------------------------------


def test_retry_budget_presets_hold_the_documented_defaults():
    assert RetryBudget.preset("finagle") == RetryBudget()  # hasim's defaults are Finagle's
    envoy = RetryBudget.preset("envoy")
    assert (envoy.kind, envoy.ratio, envoy.min_concurrent) == ("concurrent", 0.2, 3)
    grpc = RetryBudget.preset("grpc")
    assert (grpc.kind, grpc.max_tokens, grpc.token_ratio) == ("tokens", 10.0, 0.1)
    assert RetryBudget.preset("grpc", max_tokens=100).max_tokens == 100.0
    assert set(RetryBudget.presets()) == {"finagle", "envoy", "grpc"}


def test_grpc_tokens_stop_retries_at_half_and_successes_refill_them():
    budget = RetryBudget.preset("grpc").bind()
    for _ in range(4):
        budget.record(True)
    assert budget.tokens == 6.0 and budget.withdraw(0.0) is True
    budget.record(True)
    assert budget.tokens == 5.0 and budget.withdraw(0.0) is False  # <= max_tokens / 2
    budget.record(False)
    assert budget.tokens == pytest.approx(5.1) and budget.withdraw(0.0) is True
    for _ in range(20):
        budget.record(True)
    assert budget.tokens == 0.0  # never below 0
    for _ in range(200):
        budget.record(False)
    assert budget.tokens == 10.0  # never above max_tokens


def test_grpc_tokens_in_a_client_allow_four_retries_in_all_against_a_dead_target():
    """10 tokens, one per failed try: retries stop for good once 5 are left (no successes):
    the first request's 4 tries after the first take the count from 9 to 6 and each is allowed;
    its 5th try leaves 5, and every later request fails once, taking one more, unretried."""
    sim = hs.Simulation(seed=1)
    target = Counting(sim, "api", hs.ERROR)
    budget = RetryBudget.preset("grpc")
    retry = hs.Retry(attempts=5, backoff=hs.ConstantBackoff(0.01), budget=budget)
    client = hs.OpenLoop(sim, "users", target=target, rate=1.0, retry=retry)
    sim.run(until=100.0)
    assert client.retries == 4
    assert client.budget_refusals == client.requests - 1


def test_envoy_budget_caps_retries_in_flight_at_a_share_of_tries_in_flight():
    budget = RetryBudget.preset("envoy").bind()
    assert budget.withdraw(0.0, active=0, retrying=2) is True  # min_retry_concurrency 3
    assert budget.withdraw(0.0, active=10, retrying=3) is False  # max(floor(2), 3) = 3
    assert budget.withdraw(0.0, active=20, retrying=3) is True  # floor(0.2 * 20) = 4
    assert budget.withdraw(0.0, active=20, retrying=4) is False


def test_a_client_counts_its_tries_and_retries_in_flight():
    """The counts the Envoy budget reads: at the end, the tries still out of live requests."""
    sim = hs.Simulation(seed=5)
    server = hs.Server(sim, "web", workers=1, queue_limit=5,
                       service_time=hs.Exponential(mean=0.3))  # fmt: skip
    client = hs.OpenLoop(sim, "users", target=server, rate=5.0, timeout=1.0,
                         retry=hs.Retry(attempts=3, budget=RetryBudget.preset("envoy")),
                         hedge=hs.Hedge(after=0.5))  # fmt: skip
    sim.run(until=200.0)
    out = [a for r in client.outstanding.values() for a in r._inflight]
    assert client._rs.active == len(out)
    assert client._rs.retrying == sum(1 for a in out if a.number > 1 and not a.hedge)
    assert client.retries > 0 and client.budget_refusals > 0
