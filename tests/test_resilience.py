"""Client resilience: retries and backoff, retry budgets, deadlines, circuit breakers, hedging.

Most scenarios are deterministic and driven by hand: a ``Scripted`` target
answers its n-th try after a given delay with a given outcome and logs what
it received, and a ``Tap`` in front of a real service counts the tries that
reach it. The last tests run a balancer over two servers, one of which
crashes, and state with numbers what retries and a breaker change. Every run
ends with ``assert_conserved`` (DESIGN rule 4).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hasim as hs
from hasim.resilience import (
    CircuitBreaker,
    ConstantBackoff,
    ExponentialBackoff,
    Hedge,
    Retry,
    RetryBudget,
)
from hasim.workload import Attempt


class Scripted(hs.Component):
    """A target whose n-th try is answered after ``script[n][0]`` s with ``script[n][1]``.

    The last entry repeats. ``log`` holds ``(time, number, hedge)`` for each try received.
    """

    def __init__(self, sim, name, script):
        super().__init__(sim, name)
        self.script = list(script)
        self.log = []

    def submit(self, attempt, reply):
        delay, outcome = self.script[min(len(self.log), len(self.script) - 1)]
        self.log.append((self.sim.now, attempt.number, getattr(attempt, "hedge", False)))
        self.sim.call_later(delay, lambda _: reply(attempt, outcome, self.name))

    @property
    def times(self):
        return [t for t, _, _ in self.log]


class Tap(hs.Component):
    """Forwards every try to ``service`` and counts it (``received``, ``times``)."""

    def __init__(self, sim, name, service):
        super().__init__(sim, name)
        self.service = service
        self.times = []

    @property
    def received(self):
        return len(self.times)

    def submit(self, attempt, reply):
        self.times.append(self.sim.now)
        self.service.submit(attempt, reply)


def _row(result, i=0):
    return result.requests().iloc[i]


# --- backoff policies -----------------------------------------------------------------------------


def test_constant_backoff_waits_the_same_before_every_retry(sim, at, assert_conserved):
    """A dead server answers ``error`` at once; 4 tries 0.5 s apart: at 0, 0.5, 1, 1.5."""
    assert ConstantBackoff(0.5).delays(3) == [0.5, 0.5, 0.5]
    target = Scripted(sim, "web", [(0.0, hs.ERROR)])
    client = hs.Client(sim, "c", target=target, retry=Retry(4, ConstantBackoff("500ms")))
    at(0, client.issue)
    result = sim.run(until=10)
    assert target.log == [(0, 1, False), (0.5, 2, False), (1.0, 3, False), (1.5, 4, False)]
    row = _row(result)
    assert (row["outcome"], row["attempts"], row["ended"], row["responder"]) == (
        "error",
        4,
        1.5,
        "web",
    )
    assert client.counters() == {
        "requests": 1,
        "sent": 4,
        "retries": 3,
        "hedges": 0,
        "breaker_rejections": 0,
        "budget_refusals": 0,
        "ignored": 0,
    }
    assert_conserved(result, sim)


def test_exponential_backoff_doubles_up_to_the_cap(sim, at, assert_conserved):
    """base 0.1, cap 1: waits .1, .2, .4, .8, 1, 1; tries at 0, .1, .3, .7, 1.5, 2.5, 3.5."""
    backoff = ExponentialBackoff(base=0.1, cap=1.0, jitter=None)
    assert backoff.delays(6) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0], abs=1e-15)
    assert ExponentialBackoff(base=1, cap=100, multiplier=3, jitter=None).delays(3) == [1, 3, 9]
    assert backoff.pause(5000, 0.0) == 1.0  # no overflow far out
    target = Scripted(sim, "web", [(0.0, hs.ERROR)])
    client = hs.Client(sim, "c", target=target, retry=Retry(7, backoff))
    at(0, client.issue)
    result = sim.run(until=10)
    assert target.times == pytest.approx([0, 0.1, 0.3, 0.7, 1.5, 2.5, 3.5], abs=1e-12)
    assert _row(result)["attempts"] == 7
    assert_conserved(result, sim)


def test_full_jitter_is_uniform_below_the_exponential_ceiling_and_seeded():
    """Full jitter: the k-th wait is in [0, min(cap, base 2^(k-1))); same seed, same waits."""
    backoff = ExponentialBackoff(base=0.1, cap=2.0, jitter="full")
    waits = backoff.delays(8, np.random.default_rng(5))
    ceilings = [min(2.0, 0.1 * 2**k) for k in range(8)]
    assert all(0 <= w < c for w, c in zip(waits, ceilings, strict=True))
    assert waits == backoff.delays(8, np.random.default_rng(5))
    assert waits != backoff.delays(8, np.random.default_rng(6))
    # Over many draws the mean is half the ceiling: 1,000 draws of U[0, 2), sd of the mean
    # 2/sqrt(12 * 1000) = 0.018, checked within 5 sd.
    draws = np.random.default_rng(2)
    mean = np.mean([backoff.pause(10, 0.0, draws.random) for _ in range(1000)])
    assert abs(mean - 1.0) < 5 * 0.018


def test_decorrelated_jitter_stays_between_base_and_three_times_the_last_wait():
    """Decorrelated: wait_k in [base, min(cap, 3 wait_(k-1))), wait_0 = base; seeded."""
    backoff = ExponentialBackoff(base=0.1, cap=5.0, jitter="decorrelated")
    waits = backoff.delays(30, np.random.default_rng(3))
    previous = 0.1
    for w in waits:
        assert 0.1 <= w <= min(5.0, 3 * previous)
        previous = w
    assert max(waits) == 5.0  # 30 retries reach the cap
    assert waits == backoff.delays(30, np.random.default_rng(3))


def test_jitter_in_a_run_draws_from_the_clients_stream():
    """Two runs with the same seed retry at the same times; another seed moves them."""

    def tries(seed):
        sim = hs.Simulation(seed=seed)
        target = Scripted(sim, "web", [(0.0, hs.ERROR)])
        retry = Retry(6, ExponentialBackoff(base=0.1, cap=1.0, jitter="full"))
        client = hs.Client(sim, "c", target=target, retry=retry)
        sim.call_later(0, lambda _: client.issue())
        sim.run(until=10)
        return target.times

    first = tries(1)
    gaps = np.diff(first)
    assert len(first) == 6
    assert all(0 <= g < min(1.0, 0.1 * 2**k) for k, g in enumerate(gaps))
    assert first == tries(1)
    assert first != tries(2)
    # The waits are the stream's uniforms times the ceilings.
    u = hs.Simulation(seed=1).rng("c", "retry-jitter").uniform(0.0, 1.0, 5)
    assert gaps == pytest.approx(u * [0.1, 0.2, 0.4, 0.8, 1.0], abs=1e-12)


# --- retries --------------------------------------------------------------------------------------


def test_attempts_are_capped_and_counted_per_request(sim, assert_conserved):
    """A dead server: every request makes exactly 3 tries and ends ``error``; the server sees 3x."""
    web = hs.Server(sim, "web")
    web.fail()
    tap = Tap(sim, "tap", web)
    client = hs.OpenLoop(sim, "users", target=tap, rate=20, retry=Retry(3, ConstantBackoff(0.01)))
    result = sim.run(until=50)
    table = result.requests()
    assert (table["attempts"] == 3).all() and (table["outcome"] == "error").all()
    # Every try of every request (ended or still out) reached the server, and no more.
    sent = table["attempts"].sum() + sum(r.attempts for r in client.outstanding.values())
    assert tap.received == client.sent == sent
    assert client.retries == client.sent - client.requests
    assert client.retries / client.requests == pytest.approx(2.0, abs=0.01)
    assert_conserved(result, sim)


def test_only_the_listed_outcomes_are_retried(sim, at, assert_conserved):
    """retry_on=("timeout",): an ``error`` ends the request after one try."""
    target = Scripted(sim, "web", [(0.0, hs.ERROR)])
    client = hs.Client(sim, "c", target=target, retry=Retry(3, retry_on="timeout"))
    at(0, client.issue)
    result = sim.run(until=10)
    assert (_row(result)["outcome"], _row(result)["attempts"], len(target.log)) == ("error", 1, 1)
    assert_conserved(result, sim)


def test_a_timed_out_try_is_retried_and_succeeds_on_the_recovered_server(sim, at, assert_conserved):
    """Per-try timeout 1 s, retry 0.5 s later.

    The server is 20x slow until t = 1.2: the first try (t = 0) would take 4 s and times out at
    t = 1; the retry at 1.5 is served at full speed by the second worker and answers at 1.7.
    The first try's work still ends at 4 (wasted work is real); its answer is ignored.
    """
    web = hs.Server(sim, "web", workers=2, service_time=hs.Deterministic(0.2))
    client = hs.Client(sim, "c", target=web, timeout=1.0, retry=Retry(3, ConstantBackoff(0.5)))
    at(0, web.degrade, 20)
    at(0, client.issue)
    at(1.2, web.recover)
    result = sim.run(until=10)
    row = _row(result)
    assert (row["outcome"], row["attempts"], row["responder"]) == ("ok", 2, "web")
    assert (row["issued"], row["ended"], row["latency"]) == pytest.approx((0, 1.7, 1.7))
    assert web.served == 2 and client.ignored == 1 and client.retries == 1
    assert_conserved(result, sim)


def test_the_deadline_ends_the_request_as_timeout_whatever_tries_remain(sim, at, assert_conserved):
    """Tries time out after 1 s, retries wait 0.5 s, the deadline is 2.2 s.

    Tries at 0 and 1.5; the second is still out at 2.2: the request ends ``timeout`` then.
    """
    target = Scripted(sim, "web", [(10.0, hs.OK)])
    client = hs.Client(
        sim, "c", target=target, timeout=1.0, deadline=2.2, retry=Retry(5, ConstantBackoff(0.5))
    )
    at(0, client.issue)
    result = sim.run(until=20)
    row = _row(result)
    assert (row["outcome"], row["attempts"], row["ended"]) == ("timeout", 2, 2.2)
    assert row["responder"] is None
    assert target.times == [0, 1.5]
    assert client.ignored == 2  # both answers came at 10 and 11.5
    assert_conserved(result, sim)


def test_a_deadline_during_the_backoff_cancels_the_retry(sim, at, assert_conserved):
    """Deadline 1.2 s: the try times out at 1, the retry due at 1.5 is never sent."""
    target = Scripted(sim, "web", [(10.0, hs.OK)])
    client = hs.Client(
        sim, "c", target=target, timeout="1s", deadline="1.2s", retry=Retry(5, ConstantBackoff(0.5))
    )
    at(0, client.issue)
    result = sim.run(until=20)
    row = _row(result)
    assert (row["outcome"], row["attempts"], row["ended"]) == ("timeout", 1, 1.2)
    assert target.times == [0]
    assert_conserved(result, sim)


def test_a_deadline_without_retries_is_a_timeout_on_the_fast_path(sim, at, assert_conserved):
    """No policy: the one try waits min(timeout, deadline); the request is its own attempt."""
    target = Scripted(sim, "web", [(10.0, hs.OK)])
    client = hs.Client(sim, "c", target=target, timeout=5, deadline=2)
    at(0, client.issue)
    result = sim.run(until=20)
    row = _row(result)
    assert (row["outcome"], row["attempts"], row["ended"]) == ("timeout", 1, 2)
    assert client.counters()["sent"] == 1
    assert_conserved(result, sim)


def test_the_retry_budget_limits_retries_under_a_full_outage(assert_conserved):
    """A dead server, 100 requests/s, 3 tries each.

    Without a budget the client sends 2 retries per request (3x the load). With
    ``RetryBudget(ratio=0.2, min_per_second=5, window=10)`` retries per window are capped at
    5 * 10 + 0.2 * 1,000 = 250, i.e. 0.25 per request; the run measures 0.249.
    """

    def outage(budget):
        sim = hs.Simulation(seed=1)
        web = hs.Server(sim, "web")
        web.fail()
        retry = Retry(3, ConstantBackoff(0.01), budget=budget)
        client = hs.OpenLoop(sim, "users", target=web, rate=100, retry=retry)
        result = sim.run(until=200)
        assert_conserved(result, sim)
        return client, result.requests()["attempts"]

    client, attempts = outage(None)
    assert client.retries / client.requests == pytest.approx(2.0, abs=1e-3)
    assert (attempts == 3).all() and client.budget_refusals == 0
    client, attempts = outage(RetryBudget(ratio=0.2, min_per_second=5, window=10))
    ratio = client.retries / client.requests
    assert 0.24 <= ratio <= 0.25
    assert attempts.mean() == pytest.approx(1 + ratio, abs=0.01)
    # A refused retry ends its request: one refusal per request that stopped short of 3 tries.
    assert client.budget_refusals == (attempts < 3).sum() > 0.7 * len(attempts)


def test_the_budget_counts_over_a_sliding_window():
    """min_per_second 0.1 over 10 s: one retry per window, refused until the first slides out."""
    budget = RetryBudget(ratio=0.0, min_per_second=0.1, window=10).bind()
    assert budget.withdraw(0.0) is True
    assert budget.withdraw(5.0) is False
    assert budget.withdraw(10.0) is True  # the retry at 0 left the window (0, 10]
    spent = RetryBudget(ratio=0.5, min_per_second=0, window=10).bind()
    for t in range(4):
        spent.deposit(float(t))
    assert [spent.withdraw(4.0) for _ in range(3)] == [True, True, False]


# --- circuit breaker ------------------------------------------------------------------------------


@pytest.fixture
def dead(sim):
    """A crashed server behind a Tap that counts the tries reaching it."""
    web = hs.Server(sim, "web", service_time=0.1)
    web.fail()
    return Tap(sim, "tap", web)


def _issue_at(at, client, times):
    for t in times:
        at(t, client.issue)


def test_the_breaker_opens_after_n_consecutive_failures_and_rejects_at_once(
    sim, at, dead, assert_conserved
):
    """3 failures (t = 1, 2, 3) open it; the requests at 4 and 5 end ``rejected`` at once,
    answered by the client itself, with 0 attempts, and never reach the server."""
    client = hs.Client(sim, "c", target=dead, breaker=CircuitBreaker(failure_threshold=3))
    _issue_at(at, client, [1, 2, 3, 4, 5])
    result = sim.run(until=10)
    table = result.requests()
    assert list(table["outcome"]) == ["error"] * 3 + ["rejected"] * 2
    assert list(table["responder"]) == ["web"] * 3 + ["c"] * 2
    assert list(table["attempts"]) == [1, 1, 1, 0, 0]
    assert list(table["latency"]) == [0] * 5
    assert dead.received == 3 and dead.service.served == 0
    assert client.breaker_log == [(3, "open")] and client.breaker_state == "open"
    assert client.breaker_rejections == 2
    assert_conserved(result, sim)


def test_an_open_breaker_spares_a_live_but_slow_server(sim, at, assert_conserved):
    """Tries time out (the server takes 5 s); after 2 timeouts the breaker opens and
    later requests never reach the server: ``served`` counts only the 2 tries let through."""
    web = hs.Server(sim, "web", workers=10, service_time=5.0)
    client = hs.Client(
        sim, "c", target=web, timeout=1.0, breaker=CircuitBreaker(failure_threshold=2)
    )
    _issue_at(at, client, [0, 1.5, 3, 4, 5, 6])
    result = sim.run(until=20)
    assert list(result.requests()["outcome"]) == ["timeout"] * 2 + ["rejected"] * 4
    assert web.served == 2
    assert_conserved(result, sim)


def test_a_successful_half_open_trial_closes_the_breaker(sim, at, dead, assert_conserved):
    """Open at 3 for 10 s -> half-open at 13; the server is back at 8; the trial at 14 is ok
    and closes it; the request at 15 goes through."""
    client = hs.Client(
        sim, "c", target=dead, breaker=CircuitBreaker(failure_threshold=3, open_for=10)
    )
    _issue_at(at, client, [1, 2, 3, 4, 14, 15])
    at(8, dead.service.recover)
    result = sim.run(until=30)
    assert list(result.requests()["outcome"]) == ["error"] * 3 + ["rejected", "ok", "ok"]
    assert client.breaker_log == [(3, "open"), (13, "half-open"), (14.1, "closed")]
    assert dead.received == 5
    assert_conserved(result, sim)


def test_a_failed_half_open_trial_reopens_the_breaker(sim, at, dead, assert_conserved):
    """The server stays down: the trial at 14 fails and reopens it until 24."""
    client = hs.Client(
        sim, "c", target=dead, breaker=CircuitBreaker(failure_threshold=3, open_for=10)
    )
    _issue_at(at, client, [1, 2, 3, 14, 15, 24.5])
    result = sim.run(until=30)
    assert list(result.requests()["outcome"]) == ["error"] * 4 + ["rejected", "error"]
    assert client.breaker_log == [
        (3, "open"),
        (13, "half-open"),
        (14, "open"),
        (24, "half-open"),
        (24.5, "open"),
    ]
    assert dead.received == 5
    assert_conserved(result, sim)


def test_half_open_lets_only_the_trials_through(sim, at, assert_conserved):
    """Two trials while half-open: the third concurrent request is rejected; both trials ok
    close the breaker."""
    target = Scripted(sim, "web", [(0.0, hs.ERROR)] * 2 + [(1.0, hs.OK)])
    breaker = CircuitBreaker(failure_threshold=2, open_for=5, half_open_trials=2)
    client = hs.Client(sim, "c", target=target, breaker=breaker)
    _issue_at(at, client, [0, 1, 10, 10.1, 10.2])
    result = sim.run(until=20)
    assert list(result.requests()["outcome"]) == ["error", "error", "ok", "ok", "rejected"]
    assert client.breaker_log == [(1, "open"), (6, "half-open"), (11.1, "closed")]
    assert_conserved(result, sim)


def test_the_breaker_can_open_on_a_failure_ratio(sim, at, assert_conserved):
    """failure_ratio 0.5 over 4+ tries in 10 s: ok, error, ok, error opens it at the 4th."""
    script = [(0.0, o) for o in (hs.OK, hs.ERROR, hs.OK, hs.ERROR, hs.OK)]
    target = Scripted(sim, "web", script)
    breaker = CircuitBreaker(failure_threshold=None, failure_ratio=0.5, minimum_calls=4)
    client = hs.Client(sim, "c", target=target, breaker=breaker)
    _issue_at(at, client, [1, 2, 3, 4, 5])
    result = sim.run(until=10)
    assert client.breaker_log == [(4, "open")]
    assert list(result.requests()["outcome"])[-1] == "rejected"
    assert_conserved(result, sim)


def test_tries_cut_by_the_deadline_count_as_failures_for_the_breaker(sim, at, assert_conserved):
    """No per-try timeout, only a deadline: a black hole still opens the breaker (2 cuts)."""
    target = Scripted(sim, "web", [(100.0, hs.OK)])
    client = hs.Client(
        sim, "c", target=target, deadline=1.0, breaker=CircuitBreaker(failure_threshold=2)
    )
    _issue_at(at, client, [0, 2, 4])
    result = sim.run(until=10)
    assert list(result.requests()["outcome"]) == ["timeout", "timeout", "rejected"]
    assert client.breaker_log == [(3, "open")]
    assert_conserved(result, sim)


def test_a_hedge_loser_frees_its_half_open_trial(sim, at, assert_conserved):
    """Half-open with 2 trials: a request's try and its hedge take both; the hedge wins and
    the loser's slot is released, so the next request's try is a trial too and closes it."""
    script = [(0.0, hs.ERROR), (5.0, hs.OK), (0.1, hs.OK), (0.1, hs.OK)]
    target = Scripted(sim, "web", script)
    breaker = CircuitBreaker(failure_threshold=1, open_for=5, half_open_trials=2)
    client = hs.Client(sim, "c", target=target, breaker=breaker, hedge=Hedge(after=0.2))
    _issue_at(at, client, [0, 6, 6.5])
    result = sim.run(until=20)
    assert list(result.requests()["outcome"]) == ["error", "ok", "ok"]
    assert target.log[1:] == [(6, 1, False), (6.2, 2, True), (6.5, 1, False)]
    assert client.breaker_log == [(0, "open"), (5, "half-open"), (6.6, "closed")]
    assert_conserved(result, sim)


def test_a_breaker_refusal_is_not_retried(sim, at, dead, assert_conserved):
    """With retries, the breaker opening mid-request ends it ``rejected`` at the refused retry."""
    client = hs.Client(
        sim,
        "c",
        target=dead,
        retry=Retry(5, ConstantBackoff(1.0)),
        breaker=CircuitBreaker(failure_threshold=2),
    )
    at(0, client.issue)
    result = sim.run(until=10)
    row = _row(result)
    assert (row["outcome"], row["responder"], row["attempts"], row["ended"]) == (
        "rejected",
        "c",
        2,
        2.0,
    )
    assert dead.received == 2
    assert_conserved(result, sim)


# --- hedging --------------------------------------------------------------------------------------


def test_a_hedge_goes_out_after_the_delay_and_the_first_ok_wins(sim, at, assert_conserved):
    """The first try takes 1 s, the hedge (sent at 0.3) 0.1 s: ok at 0.4, attempts 2; the
    first try's answer at 1.0 is ignored, and its server still did the work."""
    target = Scripted(sim, "web", [(1.0, hs.OK), (0.1, hs.OK)])
    client = hs.Client(sim, "c", target=target, hedge=Hedge(after=0.3))
    at(0, client.issue)
    result = sim.run(until=5)
    assert target.log == [(0, 1, False), (0.3, 2, True)]
    row = _row(result)
    assert (row["outcome"], row["attempts"], row["responder"]) == ("ok", 2, "web")
    assert row["latency"] == pytest.approx(0.4)
    assert (client.hedges, client.sent, client.ignored) == (1, 2, 1)
    assert_conserved(result, sim)


def test_no_hedge_when_the_answer_comes_in_time(sim, at, assert_conserved):
    """An answer before ``after`` leaves nothing to hedge."""
    target = Scripted(sim, "web", [(0.1, hs.OK)])
    client = hs.Client(sim, "c", target=target, hedge=Hedge(after="300ms", max_extra=3))
    at(0, client.issue)
    result = sim.run(until=5)
    assert (len(target.log), _row(result)["attempts"], client.hedges) == (1, 1, 0)
    assert_conserved(result, sim)


def test_a_failed_try_waits_for_the_hedge_still_out(sim, at, assert_conserved):
    """The first try errors at 0.5 while the hedge (0.2) is out; the hedge's ok at 0.7 wins.
    With max_extra 2 a second hedge goes out at 0.4 (0.2 after the first hedge)."""
    target = Scripted(sim, "web", [(0.5, hs.ERROR), (0.5, hs.OK), (5.0, hs.OK)])
    client = hs.Client(sim, "c", target=target, hedge=Hedge(after=0.2, max_extra=2))
    at(0, client.issue)
    result = sim.run(until=10)
    assert target.log == [(0, 1, False), (0.2, 2, True), (0.4, 3, True)]
    row = _row(result)
    assert (row["outcome"], row["attempts"]) == ("ok", 3)
    assert row["ended"] == pytest.approx(0.7)
    assert client.ignored == 1  # the third try's answer at 5.4
    assert_conserved(result, sim)


def test_attempts_reach_the_target_with_key_request_and_number(sim, at, assert_conserved):
    """The target receives Attempt objects: key (for consistent hashing), request, number."""
    seen = []

    class Probe(hs.Component):
        def submit(self, attempt, reply):
            seen.append(attempt)
            reply(attempt, hs.ERROR if attempt.number == 1 else hs.OK, self.name)

    client = hs.Client(sim, "c", target=Probe(sim, "p"), retry=Retry(2, ConstantBackoff(0)))
    at(0, client.issue, "user-42")
    result = sim.run(until=1)
    assert [type(a) for a in seen] == [Attempt, Attempt]
    assert [(a.key, a.number, a.request.id) for a in seen] == [("user-42", 1, 1), ("user-42", 2, 1)]
    assert "number=2" in repr(seen[1])
    assert_conserved(result, sim)


# --- numbers: a failover window, and a breaker in front of a dead server --------------------------


def _failover(retry):
    """Two servers behind a random balancer; web0 crashes at 20.05 and is detected at 26.

    Health check every 2 s, unhealthy after 3 failed probes (no jitter: probes at 0, 2, 4...),
    so the balancer keeps sending half the requests to the dead server for ~6 s.
    """
    sim = hs.Simulation(seed=3)
    web = [
        hs.Server(sim, f"web{i}", workers=8, service_time=hs.Exponential(mean=0.005))
        for i in range(2)
    ]
    hc = hs.HealthCheck(interval=2, timeout=0.5, unhealthy_after=3, jitter=False)
    lb = hs.LoadBalancer(sim, "lb", backends=web, policy=hs.Random(), health_check=hc)
    client = hs.OpenLoop(sim, "users", target=lb, rate=200, timeout=1.0, retry=retry)
    sim.call_later(20.05, lambda _: web[0].fail())
    result = sim.run(until=40)
    detected = min(t for t, _, target, healthy in result.detections if not healthy)
    table = result.requests()
    window = table[(table["issued"] >= 20.05) & (table["issued"] < detected)]
    return result, sim, client, lb, detected, window


def test_retries_raise_availability_during_a_failover_window_and_raise_backend_load(
    assert_conserved,
):
    """During detection half the tries hit the dead server.

    Without retries about 1/2 of the requests issued in the window fail (measured 0.496);
    with 3 tries each try fails independently with p = 1/2, so about 1/8 do (measured 0.122),
    while tries per request rise from 1 to about 1 + 1/2 + 1/4 = 1.75 (measured 1.76) and the
    backends receive ~12 % more tries over the whole run.
    """
    plain = _failover(None)
    retry = Retry(3, ExponentialBackoff(base=0.01, cap=0.1, jitter="full"))
    retried = _failover(retry)
    for result, sim, *_ in (plain, retried):
        assert_conserved(result, sim)
    assert plain[4] == retried[4] == 26.0  # the same detection time
    failed_plain = (plain[5]["outcome"] != "ok").mean()
    failed_retried = (retried[5]["outcome"] != "ok").mean()
    assert len(plain[5]) > 1000
    assert 0.45 < failed_plain < 0.55
    assert 0.09 < failed_retried < 0.16
    assert plain[5]["attempts"].mean() == 1.0
    assert 1.65 < retried[5]["attempts"].mean() < 1.85
    load = [sum(b.sent for b in run[3].backends) for run in (plain, retried)]
    assert load[0] == plain[2].requests
    assert 1.08 < load[1] / load[0] < 1.16
    assert retried[2].sent == load[1]
    assert retried[0].summary()["availability"] > plain[0].summary()["availability"] + 0.05


def test_a_breaker_cuts_the_load_on_a_dead_backend():
    """The server dies at t = 10 for good; 100 requests/s for 300 s more.

    Without a breaker every request reaches it: ~30,000 tries. With
    ``CircuitBreaker(failure_threshold=5, open_for=30)`` it gets the 5 failures that open the
    breaker (at ~10.05) and one half-open trial at ~40, 70, ..., 280: 5 + 9 = 14 tries, a cut
    by more than 2,000x, and every other request is rejected by the client in no time.
    """

    def run(breaker):
        sim = hs.Simulation(seed=1)
        web = hs.Server(sim, "web")  # answers at once: nothing in service at the crash
        tap = Tap(sim, "tap", web)
        client = hs.OpenLoop(sim, "users", target=tap, rate=100, breaker=breaker)
        sim.call_later(10, lambda _: web.fail())
        result = sim.run(until=310)
        after = sum(1 for t in tap.times if t >= 10)
        return after, client, result

    plain, _, _ = run(None)
    cut, client, result = run(CircuitBreaker(failure_threshold=5, open_for=30))
    assert abs(plain - 30_000) < 5 * math.sqrt(30_000)
    assert cut == 14
    assert plain / cut > 2000
    states = [s for _, s in client.breaker_log]
    assert states == ["open"] + ["half-open", "open"] * 9
    assert client.breaker_rejections > 29_000
    rejected = result.requests().query("outcome == 'rejected'")
    assert (rejected["responder"] == "users").all() and (rejected["latency"] == 0).all()


def test_the_fast_path_passes_the_request_itself():
    """No policy: the target receives the Request, which is its own attempt number 1."""
    sim = hs.Simulation(seed=1)
    seen = []

    class Probe(hs.Component):
        def submit(self, attempt, reply):
            seen.append(attempt)
            reply(attempt, hs.OK, self.name)

    client = hs.Client(sim, "c", target=Probe(sim, "p"))
    sim.call_later(0, lambda _: client.issue("k"))
    sim.run(until=1)
    (request,) = seen
    assert isinstance(request, hs.Request)
    assert (request.request is request, request.number, request.key, request.attempts) == (
        True,
        1,
        "k",
        1,
    )
    assert client.counters()["sent"] == 1


def test_closed_loop_users_retry_then_think(sim, assert_conserved):
    """ClosedLoop passes the policies on: 2 users against a dead server, 2 tries each request."""
    web = hs.Server(sim, "web")
    web.fail()
    client = hs.ClosedLoop(
        sim, "users", target=web, users=2, think_time=1.0, retry=Retry(2, ConstantBackoff(0.25))
    )
    result = sim.run(until=10.5)
    table = result.requests()
    assert (table["attempts"] == 2).all()
    # Each user: issue at 1, retry 1.25, think to 2.25 ... 8 requests each by 10.5.
    assert sorted(set(table["issued"])) == pytest.approx([1 + 1.25 * k for k in range(8)])
    assert client.retries == client.sent - client.requests == len(table)
    assert_conserved(result, sim)


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ConstantBackoff(-1), r"^ConstantBackoff: delay must be a number >= 0, got -1$"),
        (lambda: ConstantBackoff("soon"), r"^ConstantBackoff: delay must be a duration >= 0"),
        (lambda: ExponentialBackoff(base=0), r"^ExponentialBackoff: base must be a number > 0"),
        (
            lambda: ExponentialBackoff(base=1, cap=0.5),
            r"^ExponentialBackoff: cap must be a duration >= base \(1 s\), got 0.5$",
        ),
        (
            lambda: ExponentialBackoff(multiplier=0.5),
            r"^ExponentialBackoff: multiplier must be a number >= 1, got 0.5$",
        ),
        (
            lambda: ExponentialBackoff(jitter="half"),
            r"^ExponentialBackoff: jitter must be None, 'full' or 'decorrelated', got 'half'$",
        ),
        (lambda: RetryBudget(ratio=-0.1), r"^RetryBudget: ratio must be a number >= 0, got -0.1$"),
        (
            lambda: RetryBudget(min_per_second=math.inf),
            r"^RetryBudget: min_per_second must be a number >= 0, got inf$",
        ),
        (lambda: RetryBudget(window=0), r"^RetryBudget: window must be a number > 0, got 0$"),
        (lambda: Retry(attempts=0), r"^Retry: attempts must be an integer in \[1, 1000\], got 0$"),
        (lambda: Retry(attempts=True), r"^Retry: attempts must be an integer in \[1, 1000\]"),
        (lambda: Retry(attempts=2.0), r"^Retry: attempts must be an integer"),
        (lambda: Retry(backoff=0.1), r"^Retry: backoff must be a ConstantBackoff or Exponential"),
        (lambda: Retry(retry_on=("ok",)), r"^Retry: retry_on must be failed outcomes among"),
        (lambda: Retry(retry_on=5), r"^Retry: retry_on must be failed outcomes"),
        (lambda: Retry(budget=0.2), r"^Retry: budget must be a RetryBudget or None, got 0.2$"),
        (
            lambda: CircuitBreaker(failure_threshold=0),
            r"^CircuitBreaker: failure_threshold must be an integer in \[1, 1000000000\], got 0$",
        ),
        (
            lambda: CircuitBreaker(failure_threshold=None),
            r"^CircuitBreaker: failure_threshold must be an integer >= 1 when failure_ratio is",
        ),
        (
            lambda: CircuitBreaker(failure_ratio=1.5),
            r"^CircuitBreaker: failure_ratio must be a number in \(0, 1\], got 1.5$",
        ),
        (
            lambda: CircuitBreaker(failure_ratio=0),
            r"^CircuitBreaker: failure_ratio must be a number > 0, got 0$",
        ),
        (lambda: CircuitBreaker(window=-1), r"^CircuitBreaker: window must be a number > 0"),
        (lambda: CircuitBreaker(minimum_calls=0), r"^CircuitBreaker: minimum_calls must be an"),
        (lambda: CircuitBreaker(open_for="never"), r"^CircuitBreaker: open_for must be a dura"),
        (
            lambda: CircuitBreaker(half_open_trials=0),
            r"^CircuitBreaker: half_open_trials must be an integer",
        ),
        (lambda: Hedge(after=-0.1), r"^Hedge: after must be a number >= 0, got -0.1$"),
        (lambda: Hedge(max_extra=0), r"^Hedge: max_extra must be an integer in \[1, 1000\], got 0"),
        (
            lambda: ExponentialBackoff().delays(3),
            r"^ExponentialBackoff: rng must be a numpy.random.Generator \(jittered\), got None$",
        ),
    ],
)
def test_policies_validate_their_parameters(build, message):
    """Every policy refuses bad input with the one message template."""
    with pytest.raises(hs.ConfigError, match=message):
        build()


def test_policies_normalise_and_show_their_parameters():
    """Durations as strings become seconds; outcomes are kept in OUTCOMES order."""
    assert ExponentialBackoff(base="100ms", cap="2s").base == 0.1
    assert Retry(retry_on=["error", "timeout"]).retry_on == ("timeout", "error")
    assert Retry(retry_on="lost").retry_on == ("lost",)
    assert repr(Hedge(after="50ms")) == "Hedge(after=0.05, max_extra=1)"
    assert Retry() == Retry(attempts=3)
    assert hash(Retry()) == hash(Retry(attempts=3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retry": 3}, r"^OpenLoop 'users': retry must be a hasim.Retry or None, got 3$"),
        ({"breaker": True}, r"^OpenLoop 'users': breaker must be a hasim.CircuitBreaker or None"),
        ({"hedge": 0.05}, r"^OpenLoop 'users': hedge must be a hasim.Hedge or None, got 0.05$"),
        ({"deadline": 0}, r"^OpenLoop 'users': deadline must be a number > 0, got 0$"),
        ({"deadline": "later"}, r"^OpenLoop 'users': deadline must be a duration > 0"),
    ],
)
def test_clients_validate_the_policies(sim, kwargs, message):
    """A client refuses a policy of the wrong kind and leaves nothing registered."""
    web = hs.Server(sim, "web")
    with pytest.raises(hs.ConfigError, match=message):
        hs.OpenLoop(sim, "users", target=web, rate=1, **kwargs)
    assert "users" not in sim and sim.clients == []


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=5),
    st.integers(),
    st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from(["250ms", "2s", "soon", "", "full", "decorrelated", "error", "timeout"]),
    st.lists(st.sampled_from(["error", "timeout", "ok", 3]), max_size=3),
)
POLICIES = [ConstantBackoff, ExponentialBackoff, RetryBudget, Retry, CircuitBreaker, Hedge]


def _arity(policy) -> int:
    return len(dataclasses.fields(policy))


def _required(policy) -> int:
    missing = dataclasses.MISSING
    return sum(
        f.default is missing and f.default_factory is missing for f in dataclasses.fields(policy)
    )


arguments = st.one_of(values, st.sampled_from([ConstantBackoff(0.1), RetryBudget()]))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(POLICIES).flatmap(
        lambda p: st.tuples(
            st.just(p), st.lists(arguments, min_size=_required(p), max_size=_arity(p))
        )
    )
)
def test_policies_build_or_raise_config_error(policy_and_args):
    """Any positional arguments: the policy builds (and hashes, and repr()s), or ConfigError."""
    policy, args = policy_and_args
    try:
        built = policy(*args)
    except hs.ConfigError:
        return
    hash(built)
    assert repr(built).startswith(policy.__name__)


@settings(max_examples=100, deadline=None)
@given(retry=values, breaker=values, hedge=values, deadline=values)
def test_open_loop_with_policies_builds_or_refuses(retry, breaker, hedge, deadline):
    """OpenLoop(..., retry=, breaker=, hedge=, deadline=): builds or ConfigError, no trace."""
    sim = hs.Simulation()
    web = hs.Server(sim, "web")
    try:
        client = hs.OpenLoop(
            sim,
            "users",
            target=web,
            rate=1,
            retry=retry,
            breaker=breaker,
            hedge=hedge,
            deadline=deadline,
        )
    except hs.ConfigError:
        assert "users" not in sim and sim.clients == []
        return
    assert sim["users"] is client


def test_summary_counts_tries_per_request(sim, at, assert_conserved):
    """Down until 1.5: the request at 0 fails twice (0, 1) and succeeds at 2 -> 3 tries;
    the request at 5 needs one. attempts_mean = (3 + 1) / 2 (retry amplification)."""
    web = hs.Server(sim, "web", service_time=hs.Deterministic(0.1))
    client = hs.Client(
        sim, "c", target=web, retry=hs.Retry(attempts=3, backoff=hs.ConstantBackoff(1.0))
    )
    web.fail()
    at(1.5, web.recover)
    at(0.0, client.issue)
    at(5.0, client.issue)
    result = sim.run(until=10)
    s = result.summary()
    assert (s["ok"], s["failed"], s["attempts_mean"]) == (2, 0, 2.0)
    assert list(result.requests()["attempts"]) == [3, 1]
    assert_conserved(result, sim)
