"""Replay: a run's fault history, applied to another simulation, reproduces its faults.

``result.fault_history()`` holds the run's faults as chaos actions and the
components whose random faults it stands for; ``hs.Chaos(sim, history)``
replays it. On the same design with the same seed the replay is the original
run, request for request; on another design the shared components fail
exactly as they did.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hasim as hs
from hasim.chaos import _span
from hasim.cli import main

DATA = Path(__file__).parent / "data"
HORIZON = 6 * hs.hours
SEED = 7


def build(sim, names=("web1", "web2", "web3"), mttf=2 * hs.hours, gray=("web1",)):
    """Servers with random crashes (and gray slowdowns) behind a checked balancer; clients."""
    hs.Network(sim, latency=hs.LogNormal(median=1 * hs.ms, sigma=0.3))
    crashes = hs.Failures(
        ttf=hs.Exponential(mean=mttf), ttr=hs.LogNormal(median=10 * hs.minutes, sigma=0.5)
    )
    slowdowns = hs.Slowdowns(every=hs.Exponential(mean=hs.hours), lasting=300, factor=5)
    web = [
        hs.Server(
            sim,
            name,
            workers=4,
            service_time=hs.Exponential(mean=20 * hs.ms),
            failures=[crashes, slowdowns] if name in gray else crashes,
        )
        for name in names
    ]
    lb = hs.LoadBalancer(
        sim,
        "lb",
        backends=web,
        health_check=hs.HealthCheck(interval=5, timeout=1, unhealthy_after=2),
    )
    sim.up_when(lambda: lb.up and any(s.up for s in web))
    hs.OpenLoop(sim, "users", target=lb, rate=2, timeout=2, retry=hs.Retry(attempts=3))
    return web


#: What design A's chaos experiment does besides the random faults.
SCHEDULE = [
    hs.Crash("web2", at="1h", duration="20m"),
    hs.Slow("web3", 8, at="2h", duration="30m"),
    hs.Errors("web1", 0.3, at="3h", duration="10m"),
    hs.Flap("web3", down=20, up=40, at="4h", duration="10m"),
    hs.Stall("web2", at="5h", duration=30),
    hs.Partition("lb", ["web1"], at="310m", duration=60),
    hs.Impair("users", "lb", latency="30ms", loss=0.01, at="320m", duration="5m"),
]


def run_a(seed=SEED, schedule=SCHEDULE):
    sim = hs.Simulation(seed=seed)
    build(sim)
    if schedule:
        hs.Chaos(sim, schedule)
    return sim.run(until=HORIZON)


def replay(history, seed=SEED, **design):
    sim = hs.Simulation(seed=seed)
    build(sim, **design)
    chaos = hs.Chaos(sim, history)
    return chaos, sim.run(until=HORIZON)


def downs(result, name):
    """``[(start, end), ...]`` of the component's down intervals."""
    t = result.timeline()
    rows = t[(t["component"] == name) & (t["state"] == "down")].sort_values("start")
    return list(zip(rows["start"], rows["end"], strict=True))


@pytest.fixture(scope="module")
def original():
    return run_a()


# -- the same design ------------------------------------------------------------------------------


@pytest.mark.parametrize("through_toml", [False, True])
def test_a_replay_of_the_same_design_and_seed_is_the_original_run(original, through_toml):
    """State timeline, system incidents, every request's outcome and latency: identical."""
    history = original.fault_history()
    if through_toml:
        history = hs.FaultHistory.from_toml(history.to_toml())
    assert len(original.fault_log) > 20  # random crashes, gray episodes and the schedule
    assert {row[4] for row in original.fault_log} >= {"failure", "slowdown", "chaos[0]"}
    _, replayed = replay(history)
    pd.testing.assert_frame_equal(original.timeline(), replayed.timeline())
    assert original.state_log == replayed.state_log
    assert original.system_log == replayed.system_log
    pd.testing.assert_frame_equal(original.requests(), replayed.requests())
    assert original.summary() == replayed.summary() or _same_with_nan(
        original.summary(), replayed.summary()
    )
    # The same faults, each under its replay's cause.
    columns = ["kind", "target", "start", "end", "value", "derived"]
    pd.testing.assert_frame_equal(original.faults()[columns], replayed.faults()[columns])
    assert set(replayed.faults()["cause"]) == {f"chaos[{i}]" for i in range(len(history))}


def _same_with_nan(a, b):
    return all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def test_the_history_holds_every_fault_but_the_derived_ones(original):
    """One action per fault, in the order they began; and the nodes it replaces."""
    history = original.fault_history()
    assert len(history) == len(original.fault_log)
    assert history.replaces == ("web1", "web2", "web3")
    assert [a.at for a in history.actions] == sorted(a.at for a in history.actions)
    assert {type(a).__name__ for a in history.actions} == {
        "Crash", "Slow", "Errors", "Stall", "Partition", "Impair"
    }  # fmt: skip


def test_a_replayed_impairment_with_a_random_latency_draws_the_same_delays():
    """The n-th impairment of a path draws from the same stream, whatever its cause."""
    # Held as chaos[1] here and as chaos[0] in the replay.
    impair = hs.Impair("users", "lb", latency=hs.Exponential(mean=0.05), at=0)
    original = run_a(schedule=[hs.Crash("web1", at="5h"), impair])
    _, replayed = replay(original.fault_history())
    pd.testing.assert_frame_equal(original.requests(), replayed.requests())


def test_a_replay_needs_no_random_faults(original):
    """The replayed nodes' random fault models stay off: a far flakier design fails the same."""
    history = original.fault_history()
    _, replayed = replay(history, mttf=60)
    for name in ("web1", "web2", "web3"):
        assert downs(replayed, name) == downs(original, name)


def test_replay_ends_each_fault_exactly_when_it_ended():
    """``at + duration`` is the recorded end, to the last bit, whatever the floats."""
    rng = np.random.default_rng(5)
    starts = np.concatenate([rng.uniform(0, 1e6, 500), [0.1, 1e-300, 3.0, 7.0]])
    ends = np.concatenate([starts[:500] + rng.exponential(1e3, 500), [0.3, 1e300, 1e17, 7.1]])
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        assert start + _span(start, end) == end


def test_a_fault_open_at_the_end_replays_open():
    """A crash still holding when the run ended has no duration: it holds to the end again."""
    original = run_a(schedule=[hs.Crash("web1", at="5h")])
    history = original.fault_history()
    open_ = [a for a in history.actions if a.duration is None]
    assert open_ == [hs.Crash("web1", at=5 * hs.hours)]
    _, replayed = replay(history)
    assert downs(replayed, "web1")[-1] == (5 * hs.hours, HORIZON)
    assert original.state_log == replayed.state_log


def test_derived_faults_are_left_to_the_domain_they_derive_from():
    """A zone's members are not replayed one by one: the replayed zone takes them down."""

    def zoned(sim):
        hs.Domain(sim, "az1", failures=hs.Failures(ttf="1h", ttr="5m"))
        web = [hs.Server(sim, f"web{i}", zone="az1", service_time=0.01) for i in (1, 2)]
        hs.OpenLoop(sim, "users", target=web[0], rate=1)

    sim = hs.Simulation(seed=3)
    zoned(sim)
    original = sim.run(until=HORIZON)
    history = original.fault_history()
    assert {a.target for a in history.actions} == {"az1"} and len(history) == 5
    assert original.faults()["derived"].sum() == 10
    sim = hs.Simulation(seed=3)
    zoned(sim)
    hs.Chaos(sim, history)
    replayed = sim.run(until=HORIZON)
    assert original.state_log == replayed.state_log
    assert replayed.faults()["derived"].sum() == 10


# -- another design -------------------------------------------------------------------------------


def test_shared_components_of_another_design_fail_exactly_as_they_did(original):
    """Design B keeps web2 and web3, drops web1, adds web4: a paired what-if on one history.

    web2 and web3 have the same down intervals; web1's faults are skipped and
    reported; web4, new, fails at random on its own streams, as in B without a replay.
    """
    history = original.fault_history()
    names = ("web2", "web3", "web4")
    chaos, replayed = replay(history, seed=99, names=names, gray=())
    for name in ("web2", "web3"):
        assert downs(replayed, name) == downs(original, name)
        assert len(downs(replayed, name)) >= 2
    assert chaos.absent == ("web1",)
    assert chaos.skipped and all("web1" in a.names for a in chaos.skipped)
    plain = hs.Simulation(seed=99)
    build(plain, names=names, gray=())
    assert downs(replayed, "web4") == downs(plain.run(until=HORIZON), "web4")


def test_a_partition_drops_its_absent_names_and_keeps_the_rest():
    """On a design without web1, a partition {lb} | {web1, web2} becomes {lb} | {web2}."""
    history = hs.FaultHistory((hs.Partition("lb", ["web1", "web2"], at=10, duration=5),))
    sim = hs.Simulation()
    build(sim, names=("web2",), gray=())
    chaos = hs.Chaos(sim, history)
    assert chaos.skipped == () and chaos.absent == ("web1",)
    result = sim.run(until=20)
    assert result.faults()["value"][0] == {"sides": (("lb",), ("web2",)), "oneway": False}


def test_missing_error_refuses_a_history_for_another_design(original):
    sim = hs.Simulation()
    build(sim, names=("web2",), gray=())
    with pytest.raises(hs.ConfigError, match="no component named 'web1'"):
        hs.Chaos(sim, original.fault_history(), missing="error")
    assert "chaos" not in sim and not sim._replayed


def test_apply_is_chaos_with_a_replay_name(original):
    sim = hs.Simulation(seed=SEED)
    build(sim)
    chaos = original.fault_history().apply(sim)
    assert chaos.name == "replay" and chaos.missing == "skip"
    assert sim._replayed == {"web1", "web2", "web3"}


# -- the file -------------------------------------------------------------------------------------


def test_a_history_file_reads_back_equal(original, tmp_path):
    """``to_toml(path)`` then ``from_toml(path)``: the same history, times exact."""
    history = original.fault_history()
    path = tmp_path / "faults.toml"
    text = history.to_toml(path)
    assert path.read_text() == text
    assert text.startswith("# hasim fault history")
    assert '\nreplaces = ["web1", "web2", "web3"]\n' in text
    assert hs.FaultHistory.from_toml(path) == history


def test_a_stored_history_documents_the_format():
    """``tests/data/fault_history.toml``: what ``--faults-out`` writes, read back."""
    history = hs.FaultHistory.from_toml(DATA / "fault_history.toml")
    assert history.replaces == ("web1", "web2")
    assert history.actions == (
        hs.Crash("web1", at=1234.5, duration=600.25),
        hs.Slow("web2", 5.0, at=3600.0, duration=300.0),
        hs.Impair("users", "lb", loss=0.01, latency=hs.Exponential(mean=0.03), at=4000.0),
        hs.Crash("web2", at=20000.0),
    )


def test_a_history_file_with_a_bad_replay_table(tmp_path):
    with pytest.raises(hs.ScheduleError, match=r"<string>:2: \[replay\] takes one key, replaces"):
        hs.FaultHistory.from_toml('\n[replay]\nreplaces = "web1"\n')


def test_fault_history_validation():
    with pytest.raises(hs.ConfigError, match="FaultHistory: replaces must be a list of names"):
        hs.FaultHistory((), replaces="web1")
    with pytest.raises(hs.ConfigError, match="FaultHistory: actions must be a list of chaos"):
        hs.FaultHistory(("crash",))


def test_the_faults_table(original):
    """``RunResult.faults()``: one row per fault, documented columns and types."""
    faults = original.faults()
    assert list(faults.columns) == [
        "kind", "target", "start", "end", "duration", "cause", "value", "derived"
    ]  # fmt: skip
    assert faults["duration"].equals(faults["end"] - faults["start"])
    assert faults["derived"].dtype == bool and not faults["derived"].any()
    crash = faults[faults["kind"] == "crash"].iloc[0]
    assert crash["value"] is None


# -- the command line -----------------------------------------------------------------------------


CLI = ["--horizon", "2d", "--reps", "1", "--rate", "0.5", "--workers", "1", "--json"]


def test_the_cli_writes_a_history_and_replays_it(capsys, tmp_path):
    """``--faults-out`` writes replication 0's faults; ``--chaos`` replays them: same metrics."""
    path = tmp_path / "faults.toml"
    args = ["run", "single_server", *CLI, "--set", "mttf=6h"]
    assert main([*args, "--faults-out", str(path)]) == 0
    first, err = capsys.readouterr()
    history = hs.FaultHistory.from_toml(path)
    assert len(history) >= 2 and history.replaces == ("web0",)
    assert err == f"hasim: wrote the {len(history)} faults of replication 0 (seed 0) to {path}\n"
    assert main([*args, "--chaos", str(path), "--set", "mttf=1h"]) == 0  # random faults off
    again, _ = capsys.readouterr()
    assert json.loads(again)["metrics"] == json.loads(first)["metrics"]


def test_the_cli_says_what_a_replay_on_another_design_skips(capsys, tmp_path):
    history = tmp_path / "faults.toml"
    hs.FaultHistory(
        (hs.Crash("web0", at=60, duration=60), hs.Crash("db", at=60)), ("web0",)
    ).to_toml(history)
    assert main(["run", "single_server", *CLI, "--chaos", str(history)]) == 0
    _, err = capsys.readouterr()
    assert err == (
        f"hasim: note: {history}: design 'single_server' has no 'db': 1 of 2 faults skipped\n"
    )


def test_faults_out_needs_an_existing_folder(capsys, tmp_path):
    path = tmp_path / "no" / "faults.toml"
    assert main(["run", "single_server", *CLI, "--faults-out", str(path)]) == 2
    _, err = capsys.readouterr()
    assert "--faults-out: the folder of" in err
