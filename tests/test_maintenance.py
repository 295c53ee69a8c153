"""Planned disruptions: maintenance windows and rolling deploys.

Times are deterministic wherever the test computes them by hand (deterministic durations,
health checks without jitter); ``down_intervals`` reads the truth back from the run's state
log.
"""

from __future__ import annotations

import pytest

import hasim as hs


def nodes(sim, n=3, **kwargs):
    kwargs.setdefault("service_time", 0.0)
    return [hs.Server(sim, f"web{i}", **kwargs) for i in range(n)]


def down_intervals(result, name):
    """``[(down at, up at)]`` of ``name`` from the state log (up at: None if still down)."""
    spans, since = [], None
    for t, who, state in result.state_log:
        if who != name:
            continue
        if state == "down" and since is None:
            since = t
        elif state != "down" and since is not None:
            spans.append((since, t))
            since = None
    return spans + ([(since, None)] if since is not None else [])


def most_down_at_once(result):
    down, most = set(), 0
    for _, who, state in sorted(result.state_log, key=lambda row: row[0]):
        (down.add if state == "down" else down.discard)(who)
        most = max(most, len(down))
    return most


# --- maintenance windows -------------------------------------------------------------------


def test_maintenance_takes_the_nodes_down_one_after_another(sim):
    """Windows every 100 s from 50, 10 s per node: web0 50-60, web1 60-70, web2 70-80, and
    again from 150 and 250."""
    web = nodes(sim)
    patch = hs.Maintenance(sim, "patch", nodes=web, every=100, duration=10, start=50)
    result = sim.run(until=300)
    for i, s in enumerate(web):
        first = 50 + 10 * i
        assert down_intervals(result, s.name) == [
            (first + k * 100, first + k * 100 + 10) for k in range(3)
        ]
    assert most_down_at_once(result) == 1
    assert len(patch.windows) == 9 and patch.windows[0] == ["web0", 50, 60]
    faults = result.faults()
    assert set(faults["cause"]) == {"maintenance"} and set(faults["kind"]) == {"crash"}


def test_maintenance_all_at_once(sim):
    web = nodes(sim)
    hs.Maintenance(
        sim, "patch", nodes=web, every="100s", duration="10s", start=50, all_at_once=True
    )
    result = sim.run(until=300)
    for s in web:
        assert down_intervals(result, s.name) == [(50, 60), (150, 160), (250, 260)]
    assert most_down_at_once(result) == 3


def test_a_window_longer_than_the_period_skips_the_windows_it_overran(sim):
    """25 s of maintenance every 10 s: the next window starts at the first due time after
    the last ended (30, then 60)."""
    web = nodes(sim, n=1)
    hs.Maintenance(sim, "patch", nodes=web, every=10, duration=25)
    result = sim.run(until=80)
    assert down_intervals(result, "web0") == [(0, 25), (30, 55), (60, None)]  # until 85


def test_maintenance_composes_with_a_crash(sim, at):
    """web0 is under maintenance 50-60 and crashes at 55 for 10 s: down 50-65 (both causes
    must end). web1 crashes at 45 and is back at 52, during its maintenance (60-70 for the
    window, nodes in order): its own window is still kept."""
    web = nodes(sim, n=2)
    hs.Maintenance(sim, "patch", nodes=web, every=1000, duration=10, start=50)
    at(55, web[0].fail, "crash")
    at(65, web[0].recover, "crash")
    at(45, web[1].fail, "crash")
    at(52, web[1].recover, "crash")
    result = sim.run(until=100)
    assert down_intervals(result, "web0") == [(50, 65)]
    assert down_intervals(result, "web1") == [(45, 52), (60, 70)]


def test_maintenance_of_a_group_follows_its_members(sim, at):
    """A group's maintenance takes down whoever is a member at each window."""
    lb = hs.LoadBalancer(sim, "lb", backends=[])
    web = hs.Group(
        sim, "web", size=2, balancer=lb, replace_after=None, make=lambda s, n: hs.Server(s, n)
    )
    sim.up_when(lambda: web.up_count >= 1)
    patch = hs.Maintenance(sim, "patch", nodes=web, every=100, duration=10)
    at(50, web.resize, 3)
    sim.run(until=250)
    assert [w[0] for w in patch.windows] == ["web-1", "web-2"] + ["web-1", "web-2", "web-3"] * 2


# --- rolling deploys ------------------------------------------------------------------------


def test_rolling_deploy_restarts_batch_nodes_at_a_time(sim):
    """5 nodes, 2 at a time, 10 s each, from 100: [web0, web1] 100-110, [web2, web3] 110-120,
    [web4] 120-130; the deploy takes 3 x 10 s."""
    web = nodes(sim, n=5)
    deploy = hs.RollingDeploy(sim, "v2", nodes=web, at=100, batch=2, duration=10)
    result = sim.run(until=200)
    assert (deploy.started, deploy.finished) == (100, 130)
    expected = {"web0": 100, "web1": 100, "web2": 110, "web3": 110, "web4": 120}
    for name, start in expected.items():
        assert down_intervals(result, name) == [(start, start + 10)]
    assert [step[0] for step in deploy.steps] == list(expected)
    assert [step[1:] for step in deploy.steps[:2]] == [(100, 100, 110, 110)] * 2
    assert most_down_at_once(result) == 2
    assert set(result.faults()["cause"]) == {"deploy"}


def test_rolling_deploy_with_random_restart_times_never_exceeds_its_batch():
    sim = hs.Simulation(seed=3)
    web = nodes(sim, n=9)
    deploy = hs.RollingDeploy(
        sim, "v2", nodes=web, at=10, batch=3, duration=hs.Exponential(mean=20)
    )
    result = sim.run(until=10_000)
    assert most_down_at_once(result) == 3
    # a batch ends when its slowest node is back: the next one starts then
    ups = [max(step[3] for step in deploy.steps[i : i + 3]) for i in (0, 3)]
    starts = [deploy.steps[i][1] for i in (3, 6)]
    assert starts == ups and deploy.finished == max(step[3] for step in deploy.steps)


def deploy_under_load(drain, seed=2, wait_healthy=True):
    """4 servers behind a health-checked balancer at 40 requests/s; a deploy from 100.5, one
    node at a time, 10 s per restart."""
    sim = hs.Simulation(seed=seed)
    web = nodes(sim, n=4, workers=4, service_time=hs.Exponential(mean=0.05))
    hc = hs.HealthCheck(interval=1.0, timeout=0.5, unhealthy_after=2, healthy_after=2, jitter=False)
    lb = hs.LoadBalancer(sim, "lb", backends=web, health_check=hc, policy=hs.LeastOutstanding())
    deploy = hs.RollingDeploy(
        sim,
        "v2",
        nodes=web,
        at=100.5,
        duration=10,
        drain=drain,
        balancer=lb,
        wait_healthy=wait_healthy,
    )
    hs.OpenLoop(sim, "users", target=lb, rate=40)
    return sim, deploy, sim.run(until=200)


def test_a_drained_deploy_fails_no_request(assert_conserved):
    """Each node is drained (its requests finish, none are sent to it), restarted, and put back
    only once the balancer's check sees it healthy: not one request fails. Each step ends at
    the verdict "healthy" that follows the restart (probes at whole seconds: the restart of
    web0 ends at 110.5, probes at 111 and 112 pass, so it ends just after 112)."""
    sim, deploy, result = deploy_under_load(drain=5)
    s = result.summary()
    assert s["failed"] == 0 and s["ok"] > 7000
    assert most_down_at_once(result) == 1
    for name, start, down, up, end in deploy.steps:
        healthy = [t for t, _, who, ok in result.detections if who == name and ok and t > up]
        assert end == healthy[0]
        assert down - start < 0.5  # drained in a few service times
        assert up - down == pytest.approx(10)
        assert 1 < end - up < 2.5  # the 2nd probe after it is up: whole seconds + service
    assert 112 < deploy.steps[0][4] < 112.5
    assert 4 * 11 < deploy.finished - deploy.started < 4 * 13  # drain + restart + probes
    assert_conserved(result, sim)


def test_an_undrained_deploy_kills_requests_in_flight():
    """The same deploy with drain=None: the requests in service on a node when it restarts end
    with error at that instant, and so do those sent to it before the check notices (up to 2
    probes later)."""
    sim, deploy, result = deploy_under_load(drain=None)
    frame = result.requests()
    failed = frame[frame["outcome"] != "ok"]
    assert set(failed["outcome"]) == {"error"}
    downs = {name: down for name, _, down, _, _ in deploy.steps}
    restart = failed["responder"].map(downs)
    in_flight = failed[(failed["issued"] < restart) & (failed["ended"] == restart)]
    assert len(in_flight) > 0  # in service when their node went down
    for name, down in downs.items():
        mine = failed[failed["responder"] == name]
        assert len(mine) > 0 and mine["ended"].between(down, down + 2).all()


def test_without_wait_healthy_a_deploy_takes_the_restart_times_only():
    sim, deploy, result = deploy_under_load(drain=None, wait_healthy=False)
    assert deploy.finished - deploy.started == pytest.approx(40)
    assert most_down_at_once(result) == 1


def test_drain_gives_up_after_its_timeout(sim, at, replies):
    """web0 holds a request that takes 100 s; drain=5: the restart begins at 105 anyway, and
    that request ends with error then."""
    web = nodes(sim, n=2, service_time=100)
    lb = hs.LoadBalancer(sim, "lb", backends=web)
    deploy = hs.RollingDeploy(sim, "v2", nodes=web[:1], at=100, duration=10, drain=5, balancer=lb)
    request = object()
    at(50, lb.submit, request, replies)
    sim.run(until=300)
    assert replies.log == [(105, request, "error", "web0")]
    assert deploy.steps == [("web0", 100, 105, 115, 115)]


def test_rolling_deploy_of_a_group_takes_its_members_when_it_starts(sim, at):
    lb = hs.LoadBalancer(sim, "lb", backends=[])
    web = hs.Group(
        sim, "web", size=2, balancer=lb, replace_after=None, make=lambda s, n: hs.Server(s, n)
    )
    sim.up_when(lambda: web.up_count >= 1)
    at(50, web.resize, 3)
    deploy = hs.RollingDeploy(sim, "v2", nodes=web, at=100, duration=10, balancer=lb, drain=1)
    sim.run(until=200)
    assert [step[0] for step in deploy.steps] == ["web-1", "web-2", "web-3"]
    assert deploy.finished == 130


# --- validation ------------------------------------------------------------------------------


def test_maintenance_rejects_bad_arguments(sim):
    web = nodes(sim, n=2)
    other = hs.Simulation(seed=2)
    cases = [
        (dict(nodes=[]), r"Maintenance 'm': nodes must be a non-empty list of distinct Nodes"),
        (dict(nodes=web[0]), r"nodes must be a non-empty list"),
        (dict(nodes=[web[0], web[0]]), r"nodes must be .*, got \['web0', 'web0'\]"),
        (dict(nodes=[hs.Node(other, "x")]), r"nodes must be .* of the same Simulation"),
        (dict(nodes=web, every=0), r"Maintenance 'm': every must be a number > 0, got 0"),
        (dict(nodes=web, duration="long"), r"duration must be a Distribution"),
        (dict(nodes=web, start=-1), r"start must be a number >= 0, got -1"),
        (dict(nodes=web, all_at_once=1), r"all_at_once must be True or False, got 1"),
    ]
    for kwargs, message in cases:
        kwargs = {"every": 100, "duration": 10, **kwargs}
        with pytest.raises(hs.ConfigError, match=message):
            hs.Maintenance(sim, "m", **kwargs)
    assert "m" not in sim


def test_rolling_deploy_rejects_bad_arguments(sim):
    web = nodes(sim, n=2)
    lb = hs.LoadBalancer(sim, "lb", backends=web[:1])
    cases = [
        (dict(nodes="web0"), r"RollingDeploy 'd': nodes must be a non-empty list"),
        (dict(at=-5), r"at must be a number >= 0, got -5"),
        (dict(batch=0), r"batch must be an integer >= 1, got 0"),
        (dict(batch=3), r"batch must be an integer in \[1, 2\] \(the nodes\), got 3"),
        (dict(duration=None), r"duration must be a Distribution"),
        (dict(drain=5), r"drain must be None when there is no balancer, got 5"),
        (dict(balancer=lb), r"nodes must be backends of LoadBalancer 'lb', got \['web1'\]"),
        (dict(balancer="lb"), r"balancer must be a hasim.LoadBalancer of the same Simulation"),
        (dict(nodes=web[:1], balancer=lb, drain=-1), r"drain must be a number >= 0, got -1"),
        (dict(wait_healthy="yes"), r"wait_healthy must be True or False, got 'yes'"),
    ]
    for kwargs, message in cases:
        kwargs = {"nodes": web, "at": 10, "duration": 5, **kwargs}
        with pytest.raises(hs.ConfigError, match=message):
            hs.RollingDeploy(sim, "d", **kwargs)
    assert "d" not in sim
