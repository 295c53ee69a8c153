"""The replication experiment scripts run end to end, write what they promise, and agree
with what replication theory says they must show (tiny settings: seconds each)."""

import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def assert_png(path):
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_sync_vs_async_runs_pairs_modes_and_ranks_their_losses(tmp_path, capsys, experiment_script):
    """Three replications of sync, semi-sync and async at 50 and 500 ms lag, 20 s each."""
    script = experiment_script("sync_vs_async")
    args = "--replications 3 --horizon 20 --lags 0.05,0.5 --workers 2 --out".split()
    script.main(args + [str(tmp_path)])
    runs = pd.read_csv(tmp_path / "sync_vs_async.csv")
    summary = pd.read_csv(tmp_path / "sync_vs_async_summary.csv")
    designs = ["sync", "semi-sync", "async 50 ms", "async 500 ms"]
    assert list(summary["design"]) == designs and (summary["reps"] == 3).all()
    assert len(runs) == 3 * len(designs)
    # Replication r uses seed 1 + r in every mode (common random numbers) ...
    assert set(runs.groupby("design")["seed"].apply(tuple)) == {(1, 2, 3)}
    # ... so every mode meets the same crashes: the same failovers in each replication.
    assert (runs.groupby("rep")["failovers"].nunique() == 1).all()
    assert (runs["failovers"] >= 3).all()
    # Sync and semi-sync acknowledge only what a backup holds; the primary alone crashes.
    by = runs.set_index(["design", "rep"])
    assert (by.loc["sync", "lost"] == 0).all() and (by.loc["semi-sync", "lost"] == 0).all()
    assert (by.loc["sync", "rpo_max"] == 0).all()
    # Async loses at least as much as sync in every paired replication, and more with more lag.
    assert (by.loc["async 50 ms", "lost"] >= by.loc["sync", "lost"]).all()
    assert by.loc["async 500 ms", "lost"].sum() > 2 * by.loc["async 50 ms", "lost"].sum() > 0
    assert (by.loc["async 500 ms", "rpo_max"] <= 2 * 0.5 + 0.02).all()  # two lags + a round trip
    # Waiting for the backups costs latency: sync > semi-sync > async.
    p50 = summary.set_index("design")["latency_p50"]
    assert p50["sync"] > p50["semi-sync"] > p50["async 50 ms"]
    settings = json.loads((tmp_path / "sync_vs_async.json").read_text())
    assert settings["seeds"] == [1, 2, 3] and list(settings["designs"]) == designs
    assert_png(tmp_path / "sync_vs_async.png")
    assert "lost writes / failover" in capsys.readouterr().out


def test_raft_election_timeout_orders_the_ranges(tmp_path, capsys, experiment_script):
    """Four replications of [T, T], [T, 1.05T] and [T, 2T], 15 s each (T = 150 ms)."""
    script = experiment_script("raft_election_timeout")
    args = "--replications 4 --horizon 15 --spreads 1,1.05,2 --workers 2 --out".split()
    script.main(args + [str(tmp_path)])
    runs = pd.read_csv(tmp_path / "raft_election_timeout.csv")
    summary = pd.read_csv(tmp_path / "raft_election_timeout_summary.csv")
    intervals = pd.read_csv(tmp_path / "raft_election_timeout_intervals.csv")
    assert len(runs) == 3 * 4 and list(summary["design"]) == ["[T, T]", "[T, 1.05T]", "[T, 2T]"]
    assert set(runs.groupby("design")["seed"].apply(tuple)) == {(1, 2, 3, 4)}
    assert len(intervals) == runs["crashes"].sum()
    by = runs.set_index(["spread", "rep"])
    # Equal timeouts keep the followers in step: every replication is leaderless far longer
    # (until the old leader, back after 1 s with a timer out of step, wins, or for ever).
    assert (by.loc[1.0, "leaderless_mean"] > 3 * by.loc[2.0, "leaderless_mean"]).all()
    mean = summary.set_index("spread")["leaderless_mean"]
    assert mean[1.0] > 1.0 > mean[1.05] > mean[2.0]
    splits = summary.set_index("spread")["split_vote_share"]
    assert splits[1.0] > 0.5 and splits[1.0] > splits[1.05] > splits[2.0]
    # A range as wide as T: no interval left open; none shorter than T minus a heartbeat.
    wide = intervals[intervals["spread"] == 2.0]
    assert not wide["censored"].any()
    assert wide["duration"].min() > 0.15 - 0.05
    assert 0.9 * summary["no_split_estimate"].iloc[2] < mean[2.0] < 0.3
    assert_png(tmp_path / "raft_election_timeout.png")
    assert "split votes" in capsys.readouterr().out
