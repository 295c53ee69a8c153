"""Chaos schedules: faults at given times, how they compose, and schedules that are refused.

Each action holds its fault under the cause ``"<chaos name>[<index>]"``, so it
composes with random faults and with other actions. A schedule is checked when
it is made and again before the run; a refused schedule schedules nothing.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

import hasim as hs
from hasim.chaos import ACTIONS, actions_to_toml
from hasim.cli import main

DATA = Path(__file__).parent / "data"
TEN_TEN = hs.Failures(ttf=hs.Deterministic(10), ttr=hs.Deterministic(10))


def _states(result: hs.RunResult, name: str) -> list[tuple]:
    """``(state, start, end)`` of one component, in time order."""
    timeline = result.timeline()
    rows = timeline[timeline["component"] == name].sort_values("start")
    return list(rows[["state", "start", "end"]].itertuples(index=False, name=None))


def _faults(result: hs.RunResult) -> list[tuple]:
    """``(kind, target, start, end, cause, value)`` of every fault (end None while open)."""
    return [(k, t, s, e, c, v) for k, t, s, e, c, v, _ in result.fault_log]


def _watch(sim, at, times, read):
    """``read()`` at each of ``times``, collected as ``[(t, value), ...]``."""
    seen = []
    for t in times:
        at(t, lambda: seen.append((sim.now, read())))
    return seen


# -- what each action does ------------------------------------------------------------------------


def test_a_crash_takes_the_node_down_for_its_duration(sim):
    """Crash at 10 s for 5 s: down over [10, 15); the fault history says who and when."""
    hs.Server(sim, "web1")
    hs.Chaos(sim, [hs.Crash("web1", at=10, duration=5)])
    result = sim.run(until=30)
    assert _states(result, "web1") == [("up", 0, 10), ("down", 10, 15), ("up", 15, 30)]
    assert _faults(result) == [("crash", "web1", 10, 15, "chaos[0]", None)]


def test_without_a_duration_a_fault_holds_to_the_end(sim):
    """``duration=None``: the crash never ends; its row has no end (NaN in ``faults()``)."""
    hs.Server(sim, "web1")
    hs.Chaos(sim, [hs.Crash("web1", at="10s")])
    result = sim.run(until=30)
    assert _states(result, "web1") == [("up", 0, 10), ("down", 10, 30)]
    row = result.faults().iloc[0]
    assert (row["kind"], row["start"], row["cause"]) == ("crash", 10, "chaos[0]")
    assert math.isnan(row["end"]) and math.isnan(row["duration"])


def test_times_are_seconds_or_duration_strings():
    """``at`` and ``duration`` take seconds or strings; they are stored as float seconds."""
    crash = hs.Crash("web1", at="10m", duration="60s")
    assert (crash.at, crash.duration, crash.end) == (600.0, 60.0, 660.0)
    assert repr(crash) == "Crash('web1', at=600.0, duration=60.0)"
    assert hs.Crash("web1", at=0).end == math.inf


def test_slow_errors_and_stall_hold_their_condition_for_their_duration(sim, at):
    """Gray faults: the node is degraded (up) while they hold, and back to normal after."""
    web = hs.Server(sim, "web1")
    hs.Chaos(
        sim,
        [
            hs.Slow("web1", 10, at=10, duration=10),
            hs.Errors("web1", 0.25, at=15, duration=10),
            hs.Stall("web1", at=30, duration=5),
        ],
    )
    seen = _watch(
        sim, at, [5, 12, 17, 22, 32, 40], lambda: (web.state, web.slowdown, web.error_rate)
    )
    seen_stall = _watch(sim, at, [29, 31, 36], lambda: web.stalled)
    result = sim.run(until=50)
    assert seen == [
        (5, ("up", 1.0, 0.0)),
        (12, ("degraded", 10.0, 0.0)),
        (17, ("degraded", 10.0, 0.25)),
        (22, ("degraded", 1.0, 0.25)),
        (32, ("degraded", 1.0, 0.0)),
        (40, ("up", 1.0, 0.0)),
    ]
    assert seen_stall == [(29, False), (31, True), (36, False)]
    assert _faults(result) == [
        ("slow", "web1", 10, 20, "chaos[0]", 10.0),
        ("errors", "web1", 15, 25, "chaos[1]", 0.25),
        ("stall", "web1", 30, 35, "chaos[2]", None),
    ]


def test_a_flap_alternates_down_and_up_and_ends_with_the_action(sim):
    """Flap 2 s down, 3 s up from 10 s for 12 s: down at 10, 15, 20 (cut short at 22)."""
    hs.Server(sim, "web1")
    hs.Chaos(sim, [hs.Flap("web1", down=2, up="3s", at=10, duration=12)])
    result = sim.run(until=30)
    assert _states(result, "web1") == [
        ("up", 0, 10),
        ("down", 10, 12),
        ("up", 12, 15),
        ("down", 15, 17),
        ("up", 17, 20),
        ("down", 20, 22),
        ("up", 22, 30),
    ]
    assert [(s, e) for _, _, s, e, _, _ in _faults(result)] == [(10, 12), (15, 17), (20, 22)]


def test_a_flap_cuts_a_down_phase_short_when_it_ends(sim):
    """The action ends 1 s into a 5 s down phase: the node comes back then."""
    hs.Server(sim, "web1")
    hs.Chaos(sim, [hs.Flap("web1", down=5, up=1, at=0, duration=7)])
    result = sim.run(until=20)
    assert _states(result, "web1") == [("down", 0, 5), ("up", 5, 6), ("down", 6, 7), ("up", 7, 20)]


# -- composition ----------------------------------------------------------------------------------


def test_a_chaos_crash_during_a_random_failure_keeps_the_node_down_until_both_end(sim):
    """Random failure over [10, 20) and a chaos crash over [15, 25): down over [10, 25)."""
    hs.Server(sim, "web1", failures=TEN_TEN)
    hs.Chaos(sim, [hs.Crash("web1", at=15, duration=10)])
    result = sim.run(until=29)
    assert _states(result, "web1") == [("up", 0, 10), ("down", 10, 25), ("up", 25, 29)]
    assert {(c, s, e) for _, _, s, e, c, _ in _faults(result)} == {
        ("failure", 10, 20),
        ("chaos[0]", 15, 25),
    }


def test_a_random_failure_inside_a_chaos_crash_changes_nothing_visible(sim):
    """Chaos crash over [5, 25) around a random failure over [10, 20): down over [5, 25)."""
    hs.Server(sim, "web1", failures=TEN_TEN)
    hs.Chaos(sim, [hs.Crash("web1", at=5, duration=20)])
    result = sim.run(until=29)
    assert _states(result, "web1") == [("up", 0, 5), ("down", 5, 25), ("up", 25, 29)]


def test_different_kinds_on_one_target_compose(sim, at):
    """A slow node that also errors: both hold at once (only same-kind faults conflict)."""
    web = hs.Server(sim, "web1")
    hs.Chaos(sim, [hs.Slow("web1", 4, at=0, duration=10), hs.Errors("web1", 0.5, at=5)])
    seen = _watch(sim, at, [7], lambda: (web.slowdown, web.error_rate))
    sim.run(until=12)
    assert seen == [(7, (4.0, 0.5))]


def test_back_to_back_faults_leave_no_gap(sim):
    """Crash [10, 20) then crash [20, 30): one down interval, no instant of ``up`` at 20."""
    hs.Server(sim, "web1")
    hs.Chaos(sim, [hs.Crash("web1", at=20, duration=10), hs.Crash("web1", at=10, duration=10)])
    result = sim.run(until=40)
    assert [state for _, name, state in result.state_log if name == "web1"] == ["up", "down", "up"]
    assert _states(result, "web1") == [("up", 0, 10), ("down", 10, 30), ("up", 30, 40)]


def test_two_schedules_on_one_node_compose(sim):
    """Two Chaos components have causes of their own: their overlapping crashes add up."""
    hs.Server(sim, "web1")
    hs.Chaos(sim, [hs.Crash("web1", at=10, duration=10)], name="drill")
    hs.Chaos(sim, [hs.Crash("web1", at=15, duration=10)], name="game-day")
    result = sim.run(until=30)
    assert _states(result, "web1") == [("up", 0, 10), ("down", 10, 25), ("up", 25, 30)]
    assert {c for _, _, _, _, c, _ in _faults(result)} == {"drill[0]", "game-day[0]"}


def test_a_crash_ends_the_work_in_flight_like_any_crash(sim, assert_conserved):
    """Requests to a crashed server fail with ``error`` while the chaos crash holds."""
    web = hs.Server(sim, "web1", workers=4, service_time=0.01)
    hs.OpenLoop(sim, "users", target=web, rate=20)
    hs.Chaos(sim, [hs.Crash("web1", at=10, duration=10)])
    result = sim.run(until=30)
    table = result.requests()
    during = table[(table["issued"] >= 10) & (table["issued"] < 20)]
    after = table[table["issued"] >= 20.1]
    assert len(during) > 100 and set(during["outcome"]) == {"error"}
    assert set(after["outcome"]) == {"ok"}
    assert_conserved(result, sim)


# -- refused schedules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: hs.Crash("web1", at=-1), "Crash 'web1': at must be a number >= 0, got -1"),
        (lambda: hs.Crash("web1", at=1, duration=0), "duration must be a number > 0, got 0"),
        (lambda: hs.Crash("web1", at=1, duration="-5s"), "duration must be a duration > 0"),
        (lambda: hs.Crash("", at=1), "Crash: target must be a component name"),
        (lambda: hs.Slow("web1", 0.5, at=1), "Slow 'web1': factor must be a finite number >= 1"),
        (lambda: hs.Slow("web1", math.inf, at=1), "factor must be a finite number"),
        (lambda: hs.Errors("web1", 1.5, at=1), "Errors 'web1': rate must be a probability"),
        (lambda: hs.Flap("web1", down=0, up=1, at=1), "Flap 'web1': down must be a number > 0"),
        (lambda: hs.Partition([], at=1), "Partition: side_a must be a component name or"),
        (lambda: hs.Partition("a", ["a", "b"], at=1), "side_b must be names not also in side_a"),
        (lambda: hs.Impair("a", "a", loss=0.1, at=1), "dst must be a component other than src"),
        (lambda: hs.Impair("a", "b", at=1), "loss must be > 0 when no latency is added"),
        (lambda: hs.Impair("a", "b", loss=2, at=1), "loss must be a probability"),
        (lambda: hs.ZoneOutage(None, at=1), "ZoneOutage: zone must be a component name"),
    ],
)
def test_actions_validate_their_fields(make, message):
    """Every action checks its fields when made, in hasim's one error style."""
    with pytest.raises(hs.ConfigError, match=message):
        make()


def test_at_is_required_and_keyword_only():
    """``at`` has no default (a fault needs a time) and is given by name, like ``duration``."""
    with pytest.raises(TypeError):
        hs.Crash("web1")
    with pytest.raises(TypeError):
        hs.Crash("web1", 10)


def test_an_unknown_component_is_refused_and_nothing_is_scheduled(sim):
    """The error names the action, the unknown name, a close match and the known names."""
    hs.Server(sim, "web1")
    hs.Server(sim, "web2")
    with pytest.raises(hs.ConfigError) as error:
        hs.Chaos(sim, [hs.Crash("web1", at=1, duration=1), hs.Crash("wbe2", at=1)])
    assert str(error.value) == (
        "Chaos 'chaos': actions[1] Crash('wbe2', at=1.0): no component named 'wbe2'; "
        "did you mean 'web2'? (known: 'web1', 'web2')"
    )
    assert "chaos" not in sim
    assert sim.run(until=10).fault_log == []


def test_the_known_names_are_cut_short_in_a_big_design(sim):
    for i in range(12):
        hs.Server(sim, f"s{i}")
    with pytest.raises(hs.ConfigError, match=r"known: 's0', .*, 's7', \.\.\. \(12 in all\)"):
        hs.Chaos(sim, [hs.Stall("nope", at=1)])


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (hs.Crash("users", at=1), "OpenLoop 'users' is not a node: it cannot crash"),
        (hs.Slow("users", 2, at=1), "OpenLoop 'users' is not a node: it cannot slow"),
        (hs.ZoneOutage("web1", at=1), "Server 'web1' is not a hasim.Domain"),
    ],
)
def test_an_action_needs_a_component_that_can_take_it(sim, action, message):
    web = hs.Server(sim, "web1")
    hs.OpenLoop(sim, "users", target=web, rate=1)
    with pytest.raises(hs.ConfigError, match=message):
        hs.Chaos(sim, [action])


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (hs.Crash("web1", at=10, duration=10), hs.Crash("web1", at=15)),
        (hs.Crash("web1", at=10), hs.Crash("web1", at=1000, duration=1)),
        (hs.Crash("web1", at=10, duration=10), hs.Flap("web1", down=1, up=1, at=19)),
        (hs.Slow("web1", 2, at=10, duration=10), hs.Slow("web1", 3, at=0, duration=10.5)),
        (hs.Errors("web1", 0.1, at=0), hs.Errors("web1", 0.2, at=5, duration=1)),
        (hs.Stall("web1", at=0, duration=5), hs.Stall("web1", at=4, duration=5)),
        (hs.Partition("a", "b", at=0, duration=5), hs.Partition("b", "a", at=1, duration=1)),
        (hs.Impair("a", "b", loss=0.1, at=0), hs.Impair("a", "b", loss=0.2, at=1, symmetric=False)),
    ],
)
def test_overlapping_faults_of_one_kind_on_one_target_are_refused(sim, first, second):
    """Same claim, same target, intervals that overlap: refused, naming both actions."""
    for name in ("web1", "a", "b"):
        hs.Server(sim, name)
    with pytest.raises(hs.ConfigError, match="overlaps .* faults of one kind on one target"):
        hs.Chaos(sim, [first, second])
    assert "chaos" not in sim


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (hs.Crash("web1", at=10, duration=10), hs.Crash("web1", at=20)),  # touching
        (hs.Crash("web1", at=10, duration=10), hs.Crash("a", at=15)),  # other target
        (hs.Crash("web1", at=10), hs.Slow("web1", 2, at=15)),  # other kind
        (hs.Partition("a", "b", at=0, oneway=True), hs.Partition("b", "a", at=0, oneway=True)),
        (
            hs.Impair("a", "b", loss=0.1, at=0, symmetric=False),
            hs.Impair("b", "a", loss=0.1, at=0, symmetric=False),
        ),
    ],
)
def test_faults_that_do_not_contradict_each_other_are_accepted(sim, first, second):
    """Touching intervals, other targets, other kinds, and opposite one-way directions."""
    hs.Server(sim, "web1")
    hs.Server(sim, "a")
    hs.Server(sim, "b")
    hs.Chaos(sim, [first, second])


def test_names_are_checked_again_before_the_run(sim):
    """A replay made before a component exists skips it; built later, it is replayed."""
    history = hs.FaultHistory((hs.Crash("late", at=5, duration=5),), replaces=("late",))
    chaos = hs.Chaos(sim, history)
    assert chaos.skipped == history.actions and chaos.absent == ("late",)
    hs.Server(sim, "late")
    result = sim.run(until=20)
    assert chaos.skipped == () and chaos.absent == ()
    assert _states(result, "late") == [("up", 0, 5), ("down", 5, 10), ("up", 10, 20)]


def test_a_bad_actions_argument_is_refused(sim):
    with pytest.raises(hs.ConfigError, match="actions must be a list of chaos actions"):
        hs.Chaos(sim, ["crash web1 at 10"])
    with pytest.raises(hs.ConfigError, match="missing must be one of 'skip', 'error'"):
        hs.Chaos(sim, [], missing="ignore")


# -- domains and the network ----------------------------------------------------------------------


def test_a_zone_outage_takes_every_member_down(sim):
    """ZoneOutage is a crash of the Domain: the members' failures are derived from it."""
    hs.Domain(sim, "az1")
    for name in ("web1", "web2"):
        hs.Server(sim, name, zone="az1")
    hs.Server(sim, "web3", zone="az2")
    hs.Chaos(sim, [hs.ZoneOutage("az1", at=10, duration=5)])
    result = sim.run(until=20)
    for name in ("az1", "web1", "web2"):
        assert _states(result, name) == [("up", 0, 10), ("down", 10, 15), ("up", 15, 20)]
    assert _states(result, "web3") == [("up", 0, 20)]
    faults = result.faults()
    assert list(zip(faults["target"], faults["derived"], strict=True)) == [
        ("az1", False),
        ("web1", True),
        ("web2", True),
    ]


def test_a_partition_drops_messages_between_its_sides(sim, assert_conserved):
    """Clients cut off from the server for 10 s: their requests time out, then succeed again."""
    hs.Network(sim, latency=0.001)
    web = hs.Server(sim, "web1", workers=4, service_time=0.01)
    hs.OpenLoop(sim, "users", target=web, rate=20, timeout=1)
    hs.Chaos(sim, [hs.Partition("users", "web1", at=10, duration=10)])
    result = sim.run(until=30)
    table = result.requests()
    during = table[(table["issued"] >= 10) & (table["issued"] < 19)]
    assert len(during) > 100 and set(during["outcome"]) == {"timeout"}
    assert set(table[table["issued"] >= 20]["outcome"]) == {"ok"}
    assert _states(result, "web1") == [("up", 0, 30)]
    (fault,) = _faults(result)
    assert fault[0] == "partition" and fault[2:5] == (10, 20, "chaos[0]")
    assert fault[5] == {"sides": (("users",), ("web1",)), "oneway": False}
    assert_conserved(result, sim)


def test_an_impairment_adds_latency_for_its_duration(sim):
    """50 ms more each way over [10, 20): requests in that window take 100 ms longer."""
    hs.Network(sim, latency=0.0)
    web = hs.Server(sim, "web1", workers=50, service_time=0.01)
    hs.OpenLoop(sim, "users", target=web, rate=5)
    hs.Chaos(sim, [hs.Impair("users", "web1", latency="50ms", at=10, duration=10)])
    result = sim.run(until=30)
    table = result.requests()
    slow = table[(table["issued"] >= 10) & (table["ended"] < 20)]
    fast = table[table["issued"] >= 20]
    assert len(slow) > 10 and list(slow["latency"]) == pytest.approx([0.11] * len(slow))
    assert list(fast["latency"]) == pytest.approx([0.01] * len(fast))
    assert _faults(result)[0][:5] == ("link", "users<->web1", 10, 20, "chaos[0]")


# -- TOML -----------------------------------------------------------------------------------------


def test_a_toml_schedule_has_every_kind_of_action(sim):
    """``tests/data/chaos_schedule.toml`` documents the format: one ``[[fault]]`` per action."""
    build_schedule_design(sim)
    chaos = hs.Chaos.from_toml(sim, DATA / "chaos_schedule.toml")
    assert {type(a).kind for a in chaos.actions} == set(ACTIONS)
    assert chaos.actions[0] == hs.Crash("web1", at=600, duration=60)
    assert chaos.actions[-1] == hs.Impair(
        "lb", "web2", loss=0.05, latency=hs.Exponential(mean=0.05), at=7200, duration=300
    )


def build_schedule_design(sim):
    """The design ``chaos_schedule.toml`` is written for."""
    hs.Network(sim)
    hs.Domain(sim, "az1")
    web = [hs.Server(sim, f"web{i}", zone="az1" if i < 3 else "az2") for i in (1, 2, 3)]
    lb = hs.LoadBalancer(sim, "lb", backends=web)
    hs.OpenLoop(sim, "users", target=lb, rate=1)


def test_to_toml_writes_what_from_toml_reads(sim, tmp_path):
    """Round trip: the same actions, times exact to the last bit."""
    build_schedule_design(sim)
    chaos = hs.Chaos.from_toml(sim, DATA / "chaos_schedule.toml")
    odd = hs.Crash("web3", at=0.1 + 0.2, duration=1 / 3)
    text = actions_to_toml([*chaos.actions, odd])
    assert 'kind = "crash"\ntarget = "web1"\nat = 600.0  # 10 min\nduration = 60.0' in text
    assert hs.Chaos.from_toml(sim, text, name="again").actions == (*chaos.actions, odd)
    path = tmp_path / "schedule.toml"
    assert chaos.to_toml(path) == path.read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            """
            [[fault]]
            kind = "crash"
            target = "web1"
            at = "10m"

            [[fault]]
            kind = "crash"
            target = "web1"
            at = "-5m"
            """,
            "<string>:7: Crash 'web1': at must be a duration >= 0",
        ),
        (
            """
            [[fault]]
            kind = "explode"
            target = "web1"
            at = 1
            """,
            r"<string>:2: a \[\[fault\]\] needs kind = one of 'crash', .*; got kind 'explode'",
        ),
        (
            """
            [[fault]]
            target = "web1"
            at = 1
            """,
            r"<string>:2: a \[\[fault\]\] needs kind = one of .*; got no kind",
        ),
        (
            """
            [[fault]]
            kind = "slow"
            target = "web1"
            factr = 3
            at = 1
            """,
            "<string>:2: a slow fault has no field 'factr' "
            r"\(its fields: target, factor, at, duration\)",
        ),
        (
            """
            [[fault]]
            kind = "slow"
            target = "web1"
            """,
            "<string>:2: a slow fault needs factor, at",
        ),
        (
            """
            [[fault]]
            kind = "crash"
            target = "nope"
            at = 1
            """,
            "<string>:2: no component named 'nope'",
        ),
        (
            """
            # the first fault
            [[fault]]
            kind = "crash"
            target = "web1"
            at = "10m"
            duration = "5m"

            [[fault]]
            kind = "flap"
            target = "web1"
            down = "10s"
            up = "20s"
            at = "12m"
            """,
            r"<string>:9: flapping of 'web1' \(10 s down, 20 s up\) from 12 min to the end of "
            r"the run overlaps crash of 'web1' from 10 min to 15 min \(line 3\)",
        ),
        (
            """
            [[fault]]
            kind = "crash"
            target = "web1"
            at = 1
            at = 2
            """,
            "<string>:6: Cannot overwrite a value",
        ),
        (
            """
            [faults]
            kind = "crash"
            """,
            r"<string>:2: unknown table or key 'faults' \(a schedule has \[\[fault\]\] tables",
        ),
        (
            """
            [[fault]]
            kind = "crash"
            target = "web1"
            at = 1979-05-27
            """,
            "<string>:2: Crash 'web1': at must be a number >= 0, got datetime.date",
        ),
    ],
)
def test_a_bad_toml_schedule_names_the_line_and_the_reason(sim, text, message):
    """Errors name the line of the ``[[fault]]`` table at fault (syntax errors: tomllib's)."""
    hs.Server(sim, "web1")
    with pytest.raises(hs.ScheduleError, match=message):
        hs.Chaos.from_toml(sim, textwrap.dedent(text))
    assert "chaos" not in sim


def test_a_header_inside_a_multiline_string_is_not_a_table(sim):
    """Line numbers come from the real ``[[fault]]`` headers, not look-alikes in strings."""
    hs.Server(sim, "web1")
    text = textwrap.dedent(
        '''
        [[fault]]
        kind = "crash"
        target = """
        [[fault]]
        """
        at = 1

        [[fault]]
        kind = "explode"
        '''
    )
    with pytest.raises(hs.ScheduleError, match="<string>:9: a .* got kind 'explode'"):
        hs.Chaos.from_toml(sim, text)


def test_a_schedule_file_that_cannot_be_read(sim, tmp_path):
    with pytest.raises(hs.ScheduleError, match="missing.toml: cannot read the schedule"):
        hs.Chaos.from_toml(sim, tmp_path / "missing.toml")


def test_schedule_errors_carry_their_parts():
    error = hs.ScheduleError("s.toml", 4, "no component named 'x'")
    assert (error.source, error.line, error.reason) == ("s.toml", 4, "no component named 'x'")
    assert str(error) == "s.toml:4: no component named 'x'" and isinstance(error, ValueError)


# -- the command line -----------------------------------------------------------------------------


CLI = ["--horizon", "6h", "--reps", "2", "--rate", "0.5", "--workers", "1", "--json"]


def test_the_cli_applies_a_schedule_to_every_run(capsys, tmp_path):
    """``--chaos``: an hour-long crash of the one server costs every run 1/6 of its uptime."""
    schedule = tmp_path / "outage.toml"
    schedule.write_text(actions_to_toml([hs.Crash("web0", at="2h", duration="1h")]))
    args = ["run", "single_server", *CLI, "--set", "mttf=1000d"]
    assert main([*args, "--chaos", str(schedule)]) == 0
    out, _ = capsys.readouterr()
    uptime = json.loads(out)["metrics"]["uptime"]
    assert uptime["mean"] == pytest.approx(5 / 6)


def test_the_cli_reports_a_bad_schedule_with_its_file_and_line(capsys, tmp_path):
    """``hasim: FILE:LINE: reason`` on stderr, exit code 2, nothing run."""
    schedule = tmp_path / "bad.toml"
    schedule.write_text('# outage\n\n[[fault]]\nkind = "crash"\ntarget = "db"\nat = "1h"\n')
    assert main(["run", "single_server", *CLI, "--chaos", str(schedule)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"hasim: {schedule}:3: no component named 'db' (known: 'web0', 'users')\n")


def test_the_cli_names_the_design_a_schedule_does_not_fit(capsys, tmp_path):
    model = tmp_path / "other.py"
    model.write_text(
        '"""A server called api."""\nimport hasim as hs\n'
        "def build(sim):\n    return hs.Server(sim, 'api')\n"
    )
    schedule = tmp_path / "s.toml"
    schedule.write_text(actions_to_toml([hs.Crash("web0", at=1)]))
    assert main(["compare", "single_server", str(model), *CLI, "--chaos", str(schedule)]) == 2
    _, err = capsys.readouterr()
    assert err.startswith(f"hasim: {schedule}:1: no component named 'web0'")
    assert err.rstrip().endswith("(in design 'other')")
