"""Where downtime and failed requests went, and the error budget they spent."""

import pytest

import hasim as hs


def test_downtime_is_attributed_to_the_cause_of_each_incident(sim, at):
    """a down [2, 5], b down [10, 11]; series system: 3 s to a, 1 s to b."""
    a, b = hs.Node(sim, "a"), hs.Node(sim, "b")
    at(2, a.fail)
    at(5, a.recover)
    at(10, b.fail)
    at(11, b.recover)
    table = sim.run(until=20).downtime_by_cause()
    assert list(table["cause"]) == ["a", "b"]
    assert list(table["downtime"]) == [3.0, 1.0]
    assert list(table["incidents"]) == [1, 1]
    assert list(table["share"]) == [0.75, 0.25]


def test_failed_requests_by_cause(sim, at, assert_conserved):
    """A crash with a request in service and one refused while down are the server's failure;
    a full queue's rejection is a refusal while up; a timeout without an answer is 'no answer'."""
    web = hs.Server(sim, "web", service_time=hs.Deterministic(1.0), queue_limit=0)
    client = hs.Client(sim, "c", target=web)
    slow = hs.Server(sim, "slow", service_time=hs.Deterministic(10.0))
    impatient = hs.Client(sim, "i", target=slow, timeout=1.0)
    at(0.0, client.issue)  # in service at the crash
    at(0.1, client.issue)  # rejected: worker busy, no queue
    at(0.5, web.fail)
    at(0.6, client.issue)  # refused: down
    at(0.0, impatient.issue)  # times out at 1.0
    result = sim.run(until=20)
    table = result.failed_by_cause()
    found = {(r.component, r.cause, r.outcome): r.requests for r in table.itertuples()}
    assert found == {
        ("web", "failure", "error"): 2,
        ("web", "refused", "rejected"): 1,
        (None, "no answer", "timeout"): 1,
    }
    assert_conserved(result, sim)


def test_error_budget_and_burn(sim, at):
    """10 answered, 1 failed, SLO 0.9: budget 1 request, spent exactly."""
    web = hs.Server(sim, "web", service_time=hs.Deterministic(0.1))
    client = hs.Client(sim, "c", target=web)
    for k in range(10):
        at(k + 0.5, client.issue)
    at(5.4, web.fail)  # the request at 5.5 is refused
    at(5.7, web.recover)
    result = sim.run(until=10)
    budget = result.error_budget(0.9)
    assert budget["budget_spent"].sum() == pytest.approx(1.0)
    burn = result.budget_burn(0.9)
    assert burn["budget_spent"].iloc[-1] == pytest.approx(1.0)
    assert burn["burn_rate"].max() == pytest.approx(10.0)  # the bucket with the failure: 1/1 / 0.1
    with pytest.raises(hs.ConfigError, match=r"^error_budget: slo must be a probability < 1"):
        result.error_budget(1.0)
