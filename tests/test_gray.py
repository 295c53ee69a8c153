"""Random gray failures: Slowdowns, ErrorBursts, Stalls and Flapping episodes on a node.

Each model alternates a quiet time drawn from ``every`` with an episode lasting a time drawn
from ``lasting``; the episode goes through the node's cause-aware methods, so it is in the
fault history (``sim.recorder.faults``: kind, target, start, end, cause, value, derived).
"""

from __future__ import annotations

import pytest

import hasim as hs


def _states(result: hs.RunResult, name: str) -> list[tuple]:
    timeline = result.timeline()
    rows = timeline[timeline["component"] == name].sort_values("start")
    return list(rows[["state", "start", "end"]].itertuples(index=False, name=None))


def _faults(sim):
    return [tuple(row) for row in sim.recorder.faults.values()]


def _answers(replies):
    return [(t, request, outcome) for t, request, outcome, _ in replies.log]


def test_slowdowns_degrade_the_node_during_each_episode(sim, at):
    """Quiet 10 s, slow (x3) for 5 s, and again: degraded 10-15 and 25-30."""
    node = hs.Node(sim, "n", failures=hs.Slowdowns(every=10, lasting=5, factor=3))
    seen = []
    for t in (9, 12, 16):
        at(t, lambda: seen.append((sim.now, node.state, node.slowdown)))
    result = sim.run(until=32)
    assert seen == [(9, hs.UP, 1.0), (12, hs.DEGRADED, 3.0), (16, hs.UP, 1.0)]
    assert _states(result, "n") == [
        ("up", 0, 10),
        ("degraded", 10, 15),
        ("up", 15, 25),
        ("degraded", 25, 30),
        ("up", 30, 32),
    ]
    assert _faults(sim) == [
        ("slow", "n", 10, 15, "slowdown", 3.0, False),
        ("slow", "n", 25, 30, "slowdown", 3.0, False),
    ]


def test_a_slow_episode_slows_the_work_started_in_it(sim, at, replies):
    """A 1 s request started at 11 (slow x4) takes 4 s; one started at 16 takes 1 s."""
    web = hs.Server(
        sim, "web", service_time=1.0, failures=hs.Slowdowns(every=10, lasting=5, factor=4)
    )
    at(11, web.submit, "a", replies)
    at(16, web.submit, "b", replies)
    sim.run(until=20)
    assert _answers(replies) == [(15, "a", "ok"), (17, "b", "ok")]


def test_error_bursts_refuse_requests_during_the_episode(sim, at, replies):
    """Rate 1: every request in the burst (10-15) ends ``error`` at once."""
    web = hs.Server(
        sim, "web", service_time=1.0, failures=hs.ErrorBursts(every=10, lasting=5, rate=1.0)
    )
    at(9, web.submit, "a", replies)
    at(12, web.submit, "b", replies)
    at(16, web.submit, "c", replies)
    sim.run(until=20)
    assert _answers(replies) == [(10, "a", "ok"), (12, "b", "error"), (17, "c", "ok")]
    assert _faults(sim)[0] == ("errors", "web", 10, 15, "errors", 1.0, False)


def test_stalls_freeze_the_work_in_service(sim, at, replies):
    """A 4 s request from 8 has 2 s left when the stall starts at 10; it ends at 15 + 2."""
    web = hs.Server(sim, "web", service_time=4.0, failures=hs.Stalls(every=10, lasting=5))
    at(8, web.submit, "a", replies)
    sim.run(until=20)
    assert _answers(replies) == [(17, "a", "ok")]
    assert _faults(sim)[0] == ("stall", "web", 10, 15, "stall", None, False)


def test_flapping_alternates_down_and_up_within_an_episode(sim, at):
    """Episodes of 7.5 s every 10 s quiet; down 1 s, up 2 s. The first episode (10-17.5)
    flaps at 10, 13 and 16; it ends while up, so the next quiet time starts at 17.5."""
    flapping = hs.Flapping(every=10, lasting=7.5, down=1, up=2)
    node = hs.Node(sim, "n", failures=flapping)
    seen = []
    for t in (11.5, 17.2):
        at(t, lambda: seen.append((sim.now, node.next_failure_at)))
    result = sim.run(until=30)
    assert _states(result, "n") == [
        ("up", 0, 10),
        ("down", 10, 11),
        ("up", 11, 13),
        ("down", 13, 14),
        ("up", 14, 16),
        ("down", 16, 17),
        ("up", 17, 27.5),
        ("down", 27.5, 28.5),
        ("up", 28.5, 30),
    ]
    # Within an episode the next flap is known; past the last flap nothing is scheduled yet.
    assert seen == [(11.5, 13), (17.2, float("inf"))]
    assert {row[:1] + row[4:] for row in _faults(sim)} == {("crash", "flapping", None, False)}


def test_flapping_that_ends_while_down_brings_the_node_back_at_the_end(sim):
    """Episode 10-16.5: the third flap (16, down 1 s) is cut at 16.5."""
    node = hs.Node(sim, "n", failures=hs.Flapping(every=10, lasting=6.5, down=1, up=2))
    result = sim.run(until=20)
    assert _states(result, "n")[-2:] == [("down", 16, 16.5), ("up", 16.5, 20)]
    assert node.next_failure_at == 26.5


def test_the_next_episode_is_published_in_advance(sim, at):
    """Like a failure, the start of the next episode is ``node.next_failure_at``."""
    node = hs.Node(sim, "n", failures=hs.Stalls(every=10, lasting=5))
    seen = []
    for t in (5, 12, 16):
        at(t, lambda: seen.append(node.next_failure_at))
    sim.run(until=20)
    assert seen == [10, float("inf"), 25]


@pytest.mark.parametrize(
    ("model", "cause"),
    [
        (hs.Slowdowns(every=hs.Exponential(mean=50), lasting=1, factor=2), "slowdown"),
        (hs.ErrorBursts(every=hs.Exponential(mean=50), lasting=1, rate=0.5), "errors"),
        (hs.Stalls(every=hs.Exponential(mean=50), lasting=1), "stall"),
        (hs.Stalls(every=hs.Exponential(mean=50), lasting=1, cause="gc"), "gc"),
        (hs.Flapping(every=hs.Exponential(mean=50), lasting=1, down=1, up=1), "flapping"),
    ],
)
def test_episodes_draw_from_streams_named_by_their_cause(sim, model, cause):
    """The first episode starts at the first value of ``(name, f"{cause}:every")``."""
    hs.Node(sim, "n", failures=model)
    sim.run(until=1e4)
    first = model.every.sample(sim.rng("n", f"{cause}:every"), 64)[0]
    assert _faults(sim)[0][2] == first
    assert _faults(sim)[0][4] == cause


def test_gray_episodes_and_failures_share_a_node(sim, at):
    """Listed together: slow 10-15, crashed 12-14 (down wins), degraded again until 15."""
    node = hs.Node(
        sim,
        "n",
        failures=[
            hs.Failures(ttf=12, ttr=2),
            hs.Slowdowns(every=10, lasting=5, factor=2),
        ],
    )
    result = sim.run(until=16)
    assert _states(result, "n") == [
        ("up", 0, 10),
        ("degraded", 10, 12),
        ("down", 12, 14),
        ("degraded", 14, 15),
        ("up", 15, 16),
    ]
    assert node.slowdown == 1.0


def test_two_episode_models_need_different_causes(sim):
    """Two Stalls on one node share a cause and would share streams: refused."""
    with pytest.raises(hs.ConfigError, match=r"distinct causes .*, got 'stall'$"):
        hs.Node(sim, "n", failures=[hs.Stalls(every=10, lasting=1), hs.Stalls(every=20, lasting=2)])
        sim.run(until=1)


def test_two_episode_models_with_their_own_causes_are_fine(sim):
    """A short GC pause and a long disk hang: each its own cause, streams and rows."""
    gc = hs.Stalls(every=10, lasting=1, cause="gc")
    disk = hs.Stalls(every=25, lasting=3, cause="disk")
    hs.Node(sim, "n", failures=[gc, disk])
    sim.run(until=30)
    assert sorted((row[4], row[2], row[3]) for row in _faults(sim)) == [
        ("disk", 25, 28),
        ("gc", 10, 11),
        ("gc", 21, 22),
    ]


def test_share_is_the_long_run_fraction_in_an_episode():
    """E[lasting] / (E[every] + E[lasting])."""
    assert hs.Stalls(every=hs.Exponential(mean=9), lasting=1).share == 0.1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: hs.Slowdowns(every=0, lasting=1, factor=2),
            r"^Slowdowns: every must be a distribution with mean > 0, got 0$",
        ),
        (
            lambda: hs.Slowdowns(every=1, lasting="soon", factor=2),
            r"^Slowdowns: lasting must be a Distribution, .*, got 'soon'$",
        ),
        (
            lambda: hs.Slowdowns(every=1, lasting=1, factor=1),
            r"^Slowdowns: factor must be a number > 1, got 1$",
        ),
        (
            lambda: hs.Slowdowns(every=1, lasting=1, factor="x"),
            r"^Slowdowns: factor must be a finite number, got 'x'$",
        ),
        (
            lambda: hs.ErrorBursts(every=1, lasting=1, rate=0),
            r"^ErrorBursts: rate must be a probability in \(0, 1\], got 0$",
        ),
        (
            lambda: hs.ErrorBursts(every=1, lasting=1, rate=1.5),
            r"^ErrorBursts: rate must be a probability in \[0, 1\], got 1.5$",
        ),
        (
            lambda: hs.Stalls(every=1, lasting=1, cause=""),
            r"^Stalls: cause must be a non-empty string, got ''$",
        ),
        (
            lambda: hs.Flapping(every=1, lasting=1, down=0, up=1),
            r"^Flapping: down must be a distribution with mean > 0, got 0$",
        ),
        (
            lambda: hs.Flapping(every=1, lasting=1, down=1, up=-1),
            r"^Flapping: up must be a Distribution, a number >= 0 or a duration string, got -1$",
        ),
    ],
)
def test_episode_model_validation(make, message):
    """Times with mean > 0, a slowdown > 1, an error rate in (0, 1], a non-empty cause."""
    with pytest.raises(hs.ConfigError, match=message):
        make()


def test_episode_models_accept_durations_and_print_their_parameters():
    """Durations as strings; the repr shows the normalised parameters."""
    model = hs.Slowdowns(every="6h", lasting="10m", factor=5)
    assert model.every == hs.Deterministic(6 * hs.hours)
    assert "factor=5.0" in repr(model) and "cause='slowdown'" in repr(model)
