"""A redundant balancer pair: two LoadBalancers behind an ActivePassive manager."""

import pytest

import hasim as hs

MTTF, MTTR = 3000.0, 120.0  # of each balancer


def build(sim, redundant: bool):
    """Three servers behind one balancer, or behind a failover pair of balancers."""
    web = [hs.Server(sim, f"web{i}", workers=4, service_time=hs.Exponential(mean=0.01))
           for i in range(3)]  # fmt: skip
    check = hs.HealthCheck(interval=1.0, timeout=0.5)
    lb_failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))
    lb1 = hs.LoadBalancer(sim, "lb1", backends=web, health_check=check, failures=lb_failures)
    if not redundant:
        sim.up_when(lambda: lb1.up)
        return lb1
    lb2 = hs.LoadBalancer(sim, "lb2", backends=web, health_check=check, failures=lb_failures)
    pair = hs.ActivePassive(sim, "vip", primary=lb1, standby=lb2, heartbeat=0.5, timeout=1.5,
                            promotion_delay=1.0, failback="stay")  # fmt: skip
    sim.up_when(lambda: pair.up)
    return pair


def test_a_standby_balancer_takes_over_after_the_active_one_crashes(sim, at, assert_conserved):
    """lb1 crashes at 20: the pair suspects it 1.5 s after its last heartbeat, promotes lb2
    1 s later, and requests are served through lb2 from then on."""
    pair = build(sim, redundant=True)
    lb1, lb2 = sim["lb1"], sim["lb2"]
    client = hs.Client(sim, "c", target=pair)
    for k in range(60):
        at(0.25 + 0.5 * k, client.issue)
    at(20.0, lb1.fail)
    result = sim.run(until=30.5)
    assert pair.active_name == "lb2"
    (record,) = pair.records
    assert record["outcome"] == "promoted" and 21.0 < record["promoted"] < 23.5
    requests = result.requests()
    after = requests[requests["issued"] > record["promoted"]]
    assert len(after) > 0 and (after["outcome"] == "ok").all()
    assert sum(b.sent for b in lb2.backends) == len(after)
    assert_conserved(result, sim)


def test_a_redundant_pair_buys_availability():
    """Same balancer failures (common random numbers): with a standby balancer the requests
    that fail are only those of the detection + promotion windows, not of whole repairs."""

    def unavailability(redundant: bool, seed: int) -> float:
        sim = hs.Simulation(seed=seed, record="aggregate")
        entry = build(sim, redundant)
        hs.OpenLoop(sim, "users", target=entry, rate=2, timeout=1.0)
        return 1 - sim.run(until=24 * 3600).summary()["availability"]

    seeds = (1, 2, 3)
    single = [unavailability(False, seed) for seed in seeds]
    pair = [unavailability(True, seed) for seed in seeds]
    # One balancer: MTTR / (MTTF + MTTR) = 3.8 % of requests fail. The pair fails while both
    # are down, (3.8 %)^2 = 0.15 %, and for ~2.5 s of detection and promotion per crash of the
    # active one, 2.5 / 3120 = 0.08 %: about 0.2 %, some 15x less. Each seed shows at least 5x.
    assert sum(single) / len(seeds) == pytest.approx(MTTR / (MTTF + MTTR), rel=0.4)
    for s, p in zip(single, pair, strict=True):
        assert p < s / 5
