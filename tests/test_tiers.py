"""AppServer: its own work, then a call to the backend that holds the worker."""

import pytest

import hasim as hs

HOP = 0.001  # one network hop, each way


def tier(sim, *, workers=1, app_time=0.002, db_time=0.010, timeout=None, **kwargs):
    hs.Network(sim, latency=HOP)
    db = hs.Server(sim, "db", workers=4, service_time=db_time)
    app = hs.AppServer(sim, "app", backend=db, workers=workers, service_time=app_time,
                       timeout=timeout, **kwargs)  # fmt: skip
    client = hs.Client(sim, "c", target=app)
    return app, db, client


def ended(result):
    r = result.requests().sort_values("id")
    return list(zip(r["outcome"], r["responder"], r["ended"].round(9), strict=True))


def test_a_request_pays_its_own_work_the_hops_and_the_backends_work(sim, at, assert_conserved):
    """client -> app (1 ms), app's 2 ms, app -> db (1 ms), db's 10 ms, and back: 16 ms."""
    app, db, client = tier(sim)
    at(1.0, client.issue)
    result = sim.run(until=2.0)
    assert ended(result) == [("ok", "db", pytest.approx(1.016))]
    assert (app.calls, app.served, db.served) == (1, 1, 1)
    assert_conserved(result, sim)


def test_the_worker_is_held_until_the_backend_answers(sim, at):
    """One worker: the second request starts its own work only when the first one's database
    answer is back at the app (1.015), so it ends 15 ms later: 1.030 (not 1.018, as it would
    if the worker were freed for the call)."""
    app, _, client = tier(sim)
    seen = []
    at(1.0, client.issue)
    at(1.0, client.issue)
    at(1.007, lambda: seen.append((app.waiting, app.busy, app.queued)))
    result = sim.run(until=2.0)
    assert seen == [(1, 1, 1)]  # the one worker waits on the call; the second request queues
    assert [t for *_, t in ended(result)] == [pytest.approx(1.016), pytest.approx(1.030)]
    assert app.busy == 0 and app.waiting == 0


def test_a_backend_that_does_not_answer_in_time_ends_the_request_timeout(sim, at):
    """The database stalls: the call times out 0.5 s after it was sent (1.003 + 0.5), the app
    answers timeout itself, and the database's late answer (after it resumes) is dropped."""
    app, db, client = tier(sim, timeout=0.5)
    at(0.9, db.stall)
    at(1.0, client.issue)
    at(3.0, db.resume)
    at(4.0, client.issue)
    result = sim.run(until=5.0)
    assert ended(result) == [
        ("timeout", "app", pytest.approx(1.504)),
        ("ok", "db", pytest.approx(4.016)),
    ]
    assert db.served == 2 and app.served == 1


def test_a_crash_ends_the_calls_in_flight_with_error_and_drops_their_answers(sim, at):
    app, _, client = tier(sim, db_time=1.0)
    at(1.0, client.issue)
    at(1.5, app.fail)
    at(1.8, app.recover)
    at(2.0, client.issue)
    result = sim.run(until=4.0)
    # The error leaves the app at the crash and takes a hop to the client.
    assert ended(result) == [("error", "app", 1.501), ("ok", "db", pytest.approx(3.006))]
    assert app.waiting == 0


def test_a_stalled_app_reads_its_backends_answer_when_it_resumes(sim, at):
    """The answer arrives at 1.015 while the app is stalled (1.005 .. 1.2): it is delivered
    at the resume, and the worker waiting on the call was not frozen as unfinished work."""
    app, _, client = tier(sim)
    at(1.0, client.issue)
    at(1.005, app.stall)
    at(1.2, app.resume)
    result = sim.run(until=2.0)
    assert ended(result) == [("ok", "db", pytest.approx(1.201))]


def test_the_backends_failures_reach_the_client_with_the_backends_name(sim, at):
    app, db, client = tier(sim)
    at(0.5, db.fail)
    at(1.0, client.issue)
    result = sim.run(until=2.0)
    assert ended(result) == [("error", "db", pytest.approx(1.006))]


def test_a_dropped_call_without_a_timeout_ends_lost_at_once(sim, at):
    app, db, client = tier(sim)
    sim.network.set_loss("app", "db", 1.0, symmetric=False)
    at(1.0, client.issue)
    result = sim.run(until=2.0)
    ((outcome, _, end),) = ended(result)
    assert (outcome, end) == ("lost", pytest.approx(1.004))  # the app's answer still takes a hop


@pytest.mark.parametrize("deep", [False, True])
def test_probes_stop_at_the_app_unless_the_check_is_deep(sim, deep):
    """With the database down, a shallow check keeps the app healthy (requests still reach it
    and fail with the database's error); a deep one marks it unhealthy, and the balancer
    rejects."""
    hs.Network(sim, latency=HOP)
    db = hs.Server(sim, "db", workers=4, service_time=0.01)
    app = hs.AppServer(sim, "app", backend=db, workers=4, service_time=0.001, deep_health=deep)
    check = hs.HealthCheck(interval=1, timeout=0.5, unhealthy_after=2)
    lb = hs.LoadBalancer(sim, "lb", backends=[app], health_check=check)
    hs.OpenLoop(sim, "users", target=lb, rate=20, timeout=1.0)
    hs.Chaos(sim, [hs.Crash("db", at=10, duration=20)])
    late = sim.run(until=30).requests().query("issued > 15 and issued < 30")
    responders = set(late["responder"])
    assert responders == ({"lb"} if deep else {"db"})
    assert (late["outcome"] != "ok").all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": object()}, "AppServer 'app': backend must be a service"),
        ({"timeout": -1}, "AppServer 'app': timeout"),
        ({"deep_health": "yes"}, "AppServer 'app': deep_health must be True or False"),
    ],
)
def test_bad_arguments_are_refused(sim, kwargs, message):
    db = hs.Server(sim, "db")
    with pytest.raises(hs.ConfigError, match=message):
        hs.AppServer(sim, "app", **{"backend": db, **kwargs})
    assert "app" not in sim.components
