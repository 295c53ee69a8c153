"""Health checks: active probes (HealthCheck) and passive outlier detection (OutlierDetection).

Deterministic scenarios: ``jitter=False`` starts every target's probes at time 0, so with an
interval of 1 s the probes go out at 0, 1, 2, ...; crashes and repairs happen at half seconds
(``at`` fixture), and with ``Deterministic`` latencies every verdict time is known exactly.
"""

from __future__ import annotations

import math

import pytest

import hasim as hs


def check(interval=1.0, timeout=0.5, n=3, m=2, jitter=False) -> hs.HealthCheck:
    return hs.HealthCheck(
        interval=interval, timeout=timeout, unhealthy_after=n, healthy_after=m, jitter=jitter
    )


# --- configuration ----------------------------------------------------------------------------


def test_health_check_defaults_and_duration_strings():
    """Durations may be strings; the thresholds default to 2 and 2; repr shows the parameters."""
    hc = hs.HealthCheck(interval="500ms", timeout="100ms")
    assert (hc.interval, hc.timeout, hc.unhealthy_after, hc.healthy_after, hc.jitter) == (
        0.5,
        0.1,
        2,
        2,
        True,
    )
    assert "interval=0.5" in repr(hc)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 0}, r"HealthCheck: interval must be a number > 0, got 0"),
        ({"interval": "soon"}, r"HealthCheck: interval must be a duration > 0, got 'soon'"),
        ({"timeout": -1.0}, r"HealthCheck: timeout must be a number > 0, got -1.0"),
        ({"timeout": math.inf}, r"HealthCheck: timeout must be a number > 0, got inf"),
        ({"unhealthy_after": 0}, r"HealthCheck: unhealthy_after must be an integer >= 1, got 0"),
        ({"healthy_after": 1.5}, r"HealthCheck: healthy_after must be an integer >= 1, got 1.5"),
        ({"jitter": "yes"}, r"HealthCheck: jitter must be True or False, got 'yes'"),
    ],
)
def test_health_check_rejects_bad_arguments(kwargs, message):
    with pytest.raises(hs.ConfigError, match=message):
        hs.HealthCheck(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"consecutive_errors": 0},
            r"OutlierDetection: consecutive_errors must be an integer >= 1, got 0",
        ),
        ({"base_ejection": 0}, r"OutlierDetection: base_ejection must be a number > 0, got 0"),
        (
            {"base_ejection": 30, "max_ejection": 10},
            r"OutlierDetection: max_ejection must be a number >= base_ejection \(30\), got 10",
        ),
        (
            {"max_ejected_share": 1.5},
            r"OutlierDetection: max_ejected_share must be a probability in \[0, 1\], got 1.5",
        ),
    ],
)
def test_outlier_detection_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        hs.OutlierDetection(**kwargs)


def test_detection_bounds_and_mean_are_the_uniform_phase_formulas():
    """Instant refusal: the verdict is the N-th probe after the crash, (N-1)I..NI, mean (N-1/2)I."""
    hc = check(interval=2.0, n=3)
    assert hc.detection_bounds() == (4.0, 6.0)
    assert hc.mean_detection_time() == 5.0
    assert check(interval=1.0, n=1).detection_bounds() == (0.0, 1.0)


def test_ejection_time_grows_linearly_and_is_capped():
    od = hs.OutlierDetection(consecutive_errors=3, base_ejection=10, max_ejection=25)
    assert [od.ejection_time(k) for k in (1, 2, 3, 4)] == [10, 20, 25, 25]


# --- active checks --------------------------------------------------------------------------


def single(sim, hc, **server_kwargs):
    """One server behind a balancer with the check ``hc``; returns (server, lb)."""
    server_kwargs.setdefault("service_time", 0.0)
    web = hs.Server(sim, "web", **server_kwargs)
    lb = hs.LoadBalancer(sim, "lb", backends=[web], health_check=hc)
    return web, lb


def test_unhealthy_after_exactly_n_failed_probes_and_healthy_after_m_good(sim, at):
    """Probes at 0, 1, 2, ...; crash at 2.5: probes 3, 4, 5 fail, the 3rd (t = 5) flips the belief.

    Repair at 7.5: probes 8 and 9 succeed, the 2nd (t = 9) flips it back. Each flip is one
    ``recorder.detections`` entry.
    """
    web, lb = single(sim, check(n=3, m=2))
    beliefs = []
    at(2.5, web.fail)
    at(7.5, web.recover)
    for t in (4.9, 5.1, 8.9, 9.1):
        at(t, lambda: beliefs.append((sim.now, lb.healthy_backends)))
    sim.run(until=20)
    assert sim.recorder.detections == [(5.0, "lb", "web", False), (9.0, "lb", "web", True)]
    assert beliefs == [(4.9, ["web"]), (5.1, []), (8.9, []), (9.1, ["web"])]
    assert lb.checkers[0].probes == 20


def test_fewer_than_n_failed_probes_change_nothing(sim, at):
    """Down for 2 probes (3 and 4) with N = 3: no verdict, and the count starts over."""
    web, lb = single(sim, check(n=3, m=2))
    at(2.5, web.fail)
    at(4.5, web.recover)
    at(6.5, web.fail)
    at(8.5, web.recover)
    sim.run(until=20)
    assert sim.recorder.detections == []


def test_network_latency_delays_the_verdict_by_the_round_trip(sim, at):
    """With 0.1 s each way the probe of t = 5 reaches the dead server at 5.1; its answer comes
    back at 5.2, which is when the verdict falls. The repair at 7.5 is seen by the probes
    of 8 and 9, answered at 9.2."""
    hs.Network(sim, latency=hs.Deterministic(0.1))
    web, lb = single(sim, check(n=3, m=2))
    at(2.5, web.fail)
    at(7.5, web.recover)
    sim.run(until=20)
    assert [(round(t, 9), h) for t, _, _, h in sim.recorder.detections] == [
        (5.2, False),
        (9.2, True),
    ]


def test_a_hung_target_is_declared_at_n_probe_timeouts(sim, at):
    """A target that never answers (here: slowed down a billion times) fails probes by timeout.

    Probes at 3, 4, 5 hang; their timeouts expire at 3.5, 4.5, 5.5: the verdict is at 5.5.
    """
    web, lb = single(sim, check(n=3, m=2, timeout=0.5), service_time=hs.Deterministic(0.001))
    at(2.5, web.degrade, 1e9)
    sim.run(until=20)
    assert sim.recorder.detections == [(5.5, "lb", "web", False)]


def test_probes_are_real_requests_that_take_a_worker(sim):
    """A single-worker server busy with a long queue answers probes late: they time out.

    Clients keep the only worker busy (2 s a request, one request a second: the queue grows),
    so every probe waits behind them and fails by timeout; the balancer marks the server
    unhealthy although it is up and serving.
    """
    web, lb = single(sim, check(n=2, m=1), service_time=hs.Deterministic(2.0))
    hs.ClosedLoop(sim, "users", target=web, users=5, think_time=hs.Deterministic(0.01))
    sim.run(until=10)
    assert web.up
    assert sim.recorder.detections[0][1:] == ("lb", "web", False)
    assert sim.recorder.detections[0][0] == pytest.approx(1.5)  # probes of 0 and 1 time out


def test_probes_are_served_by_the_target(sim):
    """With no other traffic the server serves exactly the probes (each takes its worker)."""
    web, lb = single(sim, check(interval=1.0), service_time=hs.Deterministic(0.01))
    sim.run(until=10.5)
    assert web.served == lb.checkers[0].probes == 11


def test_checks_stop_while_the_balancer_is_down_and_resume_with_its_beliefs(sim, at):
    """The balancer sends no probes while down; a backend that died meanwhile is found after."""
    web, lb = single(sim, check(n=2, m=1))
    at(2.5, lb.fail)
    at(3.5, web.fail)
    at(6.5, lb.recover)
    sim.run(until=12)
    checker = lb.checkers[0]
    assert checker.probes == 12 - 4  # none at 3, 4, 5, 6
    assert sim.recorder.detections == [(8.0, "lb", "web", False)]


def test_jitter_spreads_the_first_probes_over_one_interval(sim):
    """With jitter each target's first probe is at a random phase in [0, interval)."""
    web = [hs.Server(sim, f"web{i}") for i in range(20)]
    hs.LoadBalancer(sim, "lb", backends=web, health_check=hs.HealthCheck(interval=4.0))
    first = {}
    for s in web:
        submit = s.submit

        def spy(request, reply, s=s, submit=submit):
            first.setdefault(s.name, sim.now)
            submit(request, reply)

        s.submit = spy
    sim.run(until=10)
    times = sorted(first.values())
    assert len(times) == 20 and 0.0 <= times[0] and times[-1] < 4.0
    assert len(set(times)) == 20


def test_time_to_detect_in_the_summary_is_crash_to_verdict(sim, at):
    """``summary()['mttd']`` is the crash -> first 'unhealthy' time (here 5 - 2.5 = 2.5 s)."""
    web, lb = single(sim, check(n=3, m=2))
    at(2.5, web.fail)
    at(7.5, web.recover)
    at(12.25, web.fail)
    result = sim.run(until=20)
    # second crash: probes 13, 14, 15 fail -> verdict at 15, 2.75 s after the crash.
    assert result.summary()["mttd"] == pytest.approx((2.5 + 2.75) / 2)


# --- outlier detection ----------------------------------------------------------------------


def outlier_setup(sim, od, *, down=("bad",)):
    servers = [hs.Server(sim, name, service_time=0.0) for name in ("good", "bad")]
    for s in servers:
        if s.name in down:
            s.fail()
    lb = hs.LoadBalancer(sim, "lb", backends=servers, outlier_detection=od)
    return servers, lb


def send_every(sim, at, lb, replies, times):
    for t in times:
        at(t, lb.submit, object(), replies)


def test_outlier_detection_ejects_after_k_consecutive_errors_for_base_times_k(sim, at, replies):
    """Round robin alternates good/bad; the 3rd error of 'bad' ejects it for 10 s, the 2nd
    ejection for 20 s, the 3rd for min(30, 25) = 25 s. While ejected 'good' takes everything."""
    od = hs.OutlierDetection(consecutive_errors=3, base_ejection=10, max_ejection=25)
    (good, bad), lb = outlier_setup(sim, od)
    send_every(sim, at, lb, replies, [0.5 + i for i in range(80)])
    sim.run(until=100)
    # requests at 0.5, 1.5, ... alternate good, bad: bad's errors at 1.5, 3.5, 5.5 eject it
    # at 5.5 until 15.5; after each return it takes every other request again.
    log = sim.recorder.detections
    assert [h for *_, h in log][:6] == [False, True, False, True, False, True]
    ejected_for = [log[i + 1][0] - log[i][0] for i in range(0, 6, 2)]
    assert ejected_for == [10, 20, 25]
    assert log[0] == (5.5, "lb", "bad", False)
    # every request to 'bad' failed; while 'bad' was out, none went to it
    for t0, t1 in [(log[i][0], log[i + 1][0]) for i in range(0, 6, 2)]:
        during = [by for t, _, _, by in replies.log if t0 < t < t1]
        assert during and set(during) == {"good"}
    assert lb.backends[1].ejections >= 3


def test_an_ok_answer_resets_the_error_count(sim, at, replies):
    """Errors must be consecutive: 2 errors, then an ok, then 2 errors never eject (K = 3)."""
    od = hs.OutlierDetection(consecutive_errors=3)
    server = hs.Server(sim, "web", service_time=0.0)
    lb = hs.LoadBalancer(sim, "lb", backends=[server], outlier_detection=od, panic_threshold=0.0)
    for t in (1, 2, 4, 5):
        at(t, lb.submit, object(), replies)
    at(0.5, server.fail)
    at(2.5, server.recover)
    at(3, lb.submit, object(), replies)
    at(3.5, server.fail)
    sim.run(until=10)
    assert [o for _, _, o, _ in replies.log] == ["error", "error", "ok", "error", "error"]
    assert sim.recorder.detections == []


def test_outlier_detection_respects_max_ejected_share(sim, at, replies):
    """Both backends refuse, but at most half may be out: one is ejected, the other keeps
    taking (and failing) requests."""
    od = hs.OutlierDetection(consecutive_errors=2, base_ejection=100, max_ejected_share=0.5)
    (good, bad), lb = outlier_setup(sim, od, down=("good", "bad"))
    send_every(sim, at, lb, replies, [0.5 + i for i in range(20)])
    sim.run(until=30)
    assert len(sim.recorder.detections) == 1
    assert sum(b.ejected for b in lb.backends) == 1
    assert len(replies.log) == 20 and {o for _, _, o, _ in replies.log} == {"error"}


def test_outlier_detection_with_zero_share_never_ejects(sim, at, replies):
    od = hs.OutlierDetection(consecutive_errors=1, max_ejected_share=0.0)
    (good, bad), lb = outlier_setup(sim, od)
    send_every(sim, at, lb, replies, [0.5 + i for i in range(10)])
    sim.run(until=20)
    assert sim.recorder.detections == []
