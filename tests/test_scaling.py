"""Group (replacement of dead members) and Autoscaler (target tracking on utilisation).

The deterministic scenarios use health checks without jitter (probes at whole seconds) and
fixed provisioning delays, so every time can be computed by hand; the statistical ones use a
fixed seed and state their tolerance.
"""

from __future__ import annotations

import pytest

import hasim as hs


def web_server(**kwargs):
    """``make`` for a group of Servers."""
    kwargs.setdefault("service_time", hs.Exponential(mean=0.01))
    kwargs.setdefault("workers", 2)
    return lambda sim, name: hs.Server(sim, name, **kwargs)


def checked_lb(sim, **kwargs):
    hc = hs.HealthCheck(interval=1.0, timeout=0.5, unhealthy_after=2, healthy_after=2, jitter=False)
    return hs.LoadBalancer(sim, "lb", backends=[], health_check=hc, **kwargs)


def members_over_time(group):
    """``[(time, number of members)]`` after every join and leave."""
    count, series = 0, []
    for t, event, _ in group.log:
        if event in ("join", "replace", "retire"):
            count += 1 if event == "join" else -1
            series.append((t, count))
    return series


# --- replacement ------------------------------------------------------------------------------


def test_a_dead_member_is_replaced_after_detection_replace_after_and_provision(
    sim, at, assert_conserved
):
    """web-2 crashes at 100. Probes at 100 and 101 fail: believed unhealthy at 101 (no oracle:
    the group acts on the balancer's belief). It stays so for replace_after = 10 s, so at 111
    it leaves the balancer and is terminated; the replacement web-4 boots for 30 s, joins at
    141, passes its probes at 141 and 142 (answered after a service time) and gets traffic
    from then on. Capacity is back to 3."""
    lb = checked_lb(sim)
    web = hs.Group(
        sim, "web", size=3, balancer=lb, provision=30, replace_after=10, make=web_server()
    )
    sim.up_when(lambda: web.up_count >= 3)
    hs.OpenLoop(sim, "users", target=lb, rate=50)
    at(100, lambda: sim["web-2"].fail())
    result = sim.run(until=300)

    assert web.replacements == [("web-2", 111.0, "web-4", 141.0)]
    assert members_over_time(web) == [(0, 1), (0, 2), (0, 3), (111.0, 2), (141.0, 3)]
    assert [m.name for m in web.members] == ["web-1", "web-3", "web-4"]
    assert web.up_count == 3 and web.pending == 0
    assert sim["web-2"].causes == ("crash", "terminated")
    assert [b.name for b in lb.backends] == ["web-1", "web-3", "web-4"]
    verdicts = [(round(t, 1), n, h) for t, _, n, h in result.detections]
    assert verdicts == [(101.0, "web-2", False), (142.0, "web-4", True)]

    frame = result.requests()
    served_by_new = frame.loc[frame["responder"] == "web-4", "issued"]
    assert served_by_new.min() > 142.0  # not before its checks passed
    assert len(served_by_new) > 0.25 * 50 * (300 - 142)  # about a third of the traffic
    # The only failures: requests sent to web-2 between its crash and its detection.
    failed = frame[frame["outcome"] != "ok"]
    assert set(failed["outcome"]) == {"error"} and set(failed["responder"]) == {"web-2"}
    assert failed["issued"].between(100, 101).all()
    assert result.summary()["downtime"] == pytest.approx(41.0)  # 3 up again at 141
    assert_conserved(result, sim)


def test_a_member_that_recovers_before_replace_after_is_kept(sim, at):
    """Down from 100 to 105: believed unhealthy at 101, healthy again at 106 (two good
    probes), before replace_after = 10 s has passed: nobody is replaced."""
    lb = checked_lb(sim)
    web = hs.Group(
        sim, "web", size=2, balancer=lb, provision=30, replace_after=10, make=web_server()
    )
    sim.up_when(lambda: web.up_count >= 1)
    at(100, lambda: sim["web-1"].fail())
    at(105, lambda: sim["web-1"].recover())
    sim.run(until=200)
    assert web.replacements == []
    assert [m.name for m in web.members] == ["web-1", "web-2"]


def test_a_member_dead_on_arrival_is_replaced_after_the_grace_period(sim, at):
    """The replacement web-3 joins at 141 already dead (it crashes at once): it never passes a
    health check, so it counts as unhealthy from the end of its grace period (141 + 20) and is
    replaced replace_after (10 s) later, at 171; web-4 joins at 201."""
    lb = checked_lb(sim)
    web = hs.Group(
        sim, "web", size=2, balancer=lb, provision=30, replace_after=10, grace=20, make=web_server()
    )
    sim.up_when(lambda: web.up_count >= 1)
    at(100, lambda: sim["web-2"].fail())
    at(141.5, lambda: sim["web-3"].fail())  # the replacement joined at 141: it dies at once
    sim.run(until=300)
    assert web.replacements == [("web-2", 111.0, "web-3", 141.0), ("web-3", 171.0, "web-4", 201.0)]


def test_a_group_can_check_its_members_itself(sim, at):
    """Without a balancer the group runs its own health check (observer: the group)."""
    hc = hs.HealthCheck(interval=1.0, timeout=0.5, unhealthy_after=3, jitter=False)
    web = hs.Group(
        sim, "web", size=2, provision=5, replace_after=0, health_check=hc, make=web_server()
    )
    sim.up_when(lambda: web.up_count >= 2)
    at(10.5, lambda: sim["web-1"].fail())
    result = sim.run(until=30)
    assert web.replacements == [("web-1", 13.0, "web-3", 18.0)]  # probes 11, 12, 13 fail
    assert (13.0, "web", "web-1", False) in result.detections


def test_replacement_beats_no_replacement_over_a_month():
    """Two members, each failing about once a day and repaired in 12 h on average (hardware):
    a member is up 2/3 of the time, so one group without replacement is up (one of two) for
    1 - (1/3)^2 = 0.889 of the time. With replacement a dead member is gone in about
    detection (45 s) + replace_after (60 s) + provision (300 s), so both slots are rarely down
    together: the uptime is above 0.999. Over 30 days (seed 1; on seeds 1-10 the uptime
    without replacement had mean 0.897 and standard deviation 0.034, so the band of +- 0.12
    around 0.889 is 3.5 standard deviations; with replacement the lowest was 0.9998)."""

    def run(replace_after):
        sim = hs.Simulation(seed=1, record="aggregate")
        hc = hs.HealthCheck(interval=30, timeout=2, unhealthy_after=2, healthy_after=2)
        lb = hs.LoadBalancer(sim, "lb", backends=[], health_check=hc)
        fail = hs.Failures(ttf=hs.Exponential(mean=hs.days), ttr=hs.Exponential(mean=12 * hs.hours))
        web = hs.Group(
            sim,
            "web",
            size=2,
            balancer=lb,
            provision="5min",
            replace_after=replace_after,
            make=web_server(failures=fail),
        )
        sim.up_when(lambda: web.up_count >= 1)
        hs.OpenLoop(sim, "users", target=lb, rate=0.01)
        return sim.run(until=30 * hs.days).summary(), web

    kept, group = run("1min")
    alone, _ = run(None)
    assert kept["uptime"] > 0.999
    assert alone["uptime"] == pytest.approx(1 - (1 / 3) ** 2, abs=0.12)
    assert kept["uptime"] > alone["uptime"] + 0.03
    assert kept["availability"] > alone["availability"]
    # One replacement per member failure: 2 slots x 30 days / 1 day = 60 expected
    # (Poisson: standard deviation 7.7; +- 3 sd).
    assert 37 <= len(group.replacements) <= 83


# --- autoscaling ------------------------------------------------------------------------------


def autoscaled(rate, seed=1, size=1, **kwargs):
    """Single-worker servers (10 requests/s each, at most 5 waiting) behind least outstanding;
    members boot in 60 s; the autoscaler decides every 60 s with a 120 s cooldown."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    lb = hs.LoadBalancer(sim, "lb", backends=[], policy=hs.LeastOutstanding())
    make = web_server(workers=1, queue_limit=5, service_time=hs.Exponential(mean=0.1))
    web = hs.Group(
        sim, "web", size=size, balancer=lb, provision=60, replace_after=None, drain=30, make=make
    )
    options = dict(target_utilisation=0.6, interval=60, cooldown=120, min_size=1, max_size=10)
    options.update(kwargs)
    scaler = hs.Autoscaler(sim, "scaler", group=web, **options)
    sim.up_when(lambda: web.up_count >= 1)
    hs.OpenLoop(sim, "users", target=lb, rate=rate)
    result = sim.run(until=2400)
    return web, scaler, result


def test_autoscaler_scales_out_on_a_load_step_and_back_in_when_it_falls(assert_conserved):
    """3 requests/s, then 27 from 600 s to 1800 s. Unsaturated, n servers at rate r are
    utilised r / (10 n), so the rule asks for ceil(r / 6) servers whatever n is: 1 at 3/s, 5
    at 27/s (4.5, so a +- 10 % error in the measured utilisation changes nothing). Saturated,
    it can only grow by 1/0.6 per step: 1 -> 2 -> 4 (decisions at 660 and 780, after the
    cooldown) -> 5. So it reaches 5 by 600 + 4 decisions + boot = 900 + 60 s, holds 5 while
    the load lasts, and goes back to 1 at the first decision after the fall (1860), the four
    leaving members drained first: their requests end ok."""
    web, scaler, result = autoscaled([(0, 3), (600, 27), (1800, 3)])
    sizes = [(t, old, new) for t, old, new, _ in scaler.actions]
    assert sizes[:2] == [(660.0, 1, 2), (780.0, 2, 4)]
    assert sizes[-1] == (1860.0, 5, 1)
    reached = next(t for t, n in members_over_time(web) if n >= 5)
    assert reached <= 1080
    during = [n for t, n in members_over_time(web) if reached <= t < 1800]
    assert set(during) == {5}
    assert len(web.members) == 1
    assert all(event != "replace" for _, event, _ in web.log)
    s = result.summary()
    assert s["error"] == 0  # scale-in drained its members
    assert s["rejected"] > 0  # while it was too small
    assert_conserved(result)


def test_autoscaler_respects_its_cooldown():
    """The load step of the test above with a 300 s cooldown: after the change at 660 the
    servers stay saturated (utilisation near 1, the rule asks for more) at 720 ... 900, yet
    nothing changes before 960."""
    web, scaler, _ = autoscaled([(0, 3), (600, 27), (1800, 3)], cooldown=300)
    times = [t for t, *_ in scaler.actions]
    assert times[:2] == [660.0, 960.0]
    assert all(b - a >= 300 for a, b in zip(times, times[1:], strict=False))
    held = [u for t, u in scaler.readings if 660 < t < 960]
    assert len(held) == 4 and all(u > 0.9 for u in held)  # 2 members * 0.9 / 0.6 = 3 > 2


def test_autoscaler_stays_within_its_bounds():
    """A load of 80/s would ask for 14 servers: with max_size = 4 it never goes beyond 4;
    then at 2/s it shrinks to min_size = 2, not to 1."""
    web, scaler, _ = autoscaled([(0, 20), (300, 80), (1500, 2)], size=2, min_size=2, max_size=4)
    counts = [n for _, n in members_over_time(web)][2:]  # after the two initial joins
    assert max(counts) == 4 and min(counts) == 2
    assert all(2 <= new <= 4 for _, _, new, _ in scaler.actions)
    assert scaler.actions[-1][2] == 2 and len(web.members) == 2
    saturated = [u for t, u in scaler.readings if 600 < t < 1500]
    assert all(u > 0.95 for u in saturated)  # it wanted more all along


def test_autoscaler_holds_a_steady_load():
    """At a steady 15/s the rule asks for ceil(15 / 6) = 3 servers; starting with 3 (true
    utilisation 0.5), it moves only if a reading leaves (0.4, 0.6]. Read every 0.1 s, the 60 s
    readings have a standard deviation of about 0.023 (measured on this seed: the window's
    own randomness), so 0.1 is more than 4 of them: it holds. (Read every 1 s, the default,
    the sampling adds noise: standard deviation 0.049, and a reading past 0.6 happens.)"""
    web, scaler, _ = autoscaled(15, size=3, sample_every=0.1)
    assert scaler.actions == []
    assert all(0.4 < u <= 0.6 for _, u in scaler.readings)
    assert len(scaler.readings) == 39  # at 60, 120, ..., 2340 (the run ends before 2400)


def test_same_seed_same_scaling():
    a = autoscaled([(0, 3), (600, 27), (1800, 3)], seed=4)
    b = autoscaled([(0, 3), (600, 27), (1800, 3)], seed=4)
    assert a[1].actions == b[1].actions and a[0].log == b[0].log
    assert list(a[2].summary().items()) == list(b[2].summary().items())


# --- validation -------------------------------------------------------------------------------


def test_group_rejects_bad_arguments(sim):
    lb = hs.LoadBalancer(sim, "lb", backends=[])
    make = web_server()
    cases = [
        (dict(size=0, make=make), r"Group 'web': size must be an integer >= 1, got 0"),
        (dict(size=2, make="server"), r"make must be a function make\(sim, member_name\)"),
        (dict(size=2, make=make, balancer=3), r"balancer must be a hasim.LoadBalancer or None"),
        (dict(size=2, make=make, provision=-1), r"provision must be a Distribution"),
        (dict(size=2, make=make, replace_after="soon", health_check=hs.HealthCheck()),
         r"replace_after must be a duration >= 0"),
        (dict(size=2, make=make, balancer=lb),
         r"health_check must be a hasim.HealthCheck when the group has no balancer with one"),
        (dict(size=2, make=make, health_check=5), r"health_check must be a hasim.HealthCheck"),
        (dict(size=2, make=make, replace_after=None, drain=-1), r"drain must be a number >= 0"),
    ]  # fmt: skip
    for kwargs, message in cases:
        with pytest.raises(hs.ConfigError, match=message):
            hs.Group(sim, "web", **kwargs)
    assert "web" not in sim and "web-1" not in sim  # nothing registered, no member made


def test_group_make_must_build_the_named_node(sim):
    with pytest.raises(hs.ConfigError, match=r"make must be a function returning a hasim Node"):
        hs.Group(sim, "web", size=1, replace_after=None, make=lambda sim, name: "server")
    with pytest.raises(hs.ConfigError, match=r"Node of this Simulation named 'w-1', got <Server"):
        hs.Group(
            sim, "w", size=1, replace_after=None, make=lambda sim, name: hs.Server(sim, "other")
        )


def test_a_group_needs_a_structure_predicate(sim):
    hs.Group(sim, "web", size=1, replace_after=None, make=web_server())
    with pytest.raises(hs.SimulationError, match=r"Group 'web': declare when the system is up"):
        sim.run(until=10)


def test_autoscaler_rejects_bad_arguments(sim):
    web = hs.Group(sim, "web", size=2, replace_after=None, make=web_server())
    nodes = hs.Group(sim, "nodes", size=1, replace_after=None, make=hs.Node)
    cases = [
        (dict(group="web"), r"Autoscaler 'a': group must be a hasim.Group of the same Simulation"),
        (dict(group=nodes), r"group must be a Group of Servers \(members with busy and workers\)"),
        (dict(group=web, target_utilisation=1.5), r"target_utilisation must be a number in \(0, 1"),
        (dict(group=web, target_utilisation=0), r"target_utilisation must be a number > 0"),
        (dict(group=web, interval=0), r"interval must be a number > 0, got 0"),
        (dict(group=web, cooldown=-5), r"cooldown must be a number >= 0, got -5"),
        (dict(group=web, min_size=0), r"min_size must be an integer >= 1, got 0"),
        (dict(group=web, min_size=3, max_size=2), r"max_size must be an integer >= 3, got 2"),
        (dict(group=web, min_size=3), r"group must be a Group whose size is in \[3, 10\], got 2"),
        (dict(group=web, sample_every=120), r"sample_every must be a duration that divides"),
        (dict(group=web, sample_every=7), r"divides interval \(60 s\), got 7"),
    ]  # fmt: skip
    for kwargs, message in cases:
        with pytest.raises(hs.ConfigError, match=message):
            hs.Autoscaler(sim, "a", **kwargs)
    assert "a" not in sim
