"""The experiment scripts run end to end, write what they promise, and behave as designed.

Each script runs with tiny settings (a few simulated hours, two replications) and two
worker processes; the checks are on what could go wrong: one row per design, grid point
and replication; every run conserves its requests; replication r has the same seed at
every design and grid point (common random numbers); the grid values appear; the
theory columns are there; the PNG is a real picture.
"""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from hasim.analytic import availability, k_of_n

ROOT = Path(__file__).resolve().parents[1]


def outputs(folder, name):
    """The runs and summary tables and the settings a script wrote; checks the PNG."""
    runs = pd.read_csv(folder / f"{name}.csv")
    summary = pd.read_csv(folder / f"{name}_summary.csv")
    settings = json.loads((folder / f"{name}.json").read_text())
    png = (folder / f"{name}.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert (runs["issued"] == runs["ok"] + runs["failed"] + runs["in_flight"]).all()
    assert (runs["issued"] > 0).all()
    return runs, summary, settings


def same_seeds(runs, keys, reps, seed=1):
    """Replication r ran with seed ``seed + r`` at every design and grid point."""
    seeds = runs.groupby(keys)["seed"].apply(lambda s: tuple(sorted(s))).unique()
    assert list(seeds) == [tuple(range(seed, seed + reps))]


def test_compare_designs(tmp_path, capsys, experiment_script):
    """The main job: every ready design, a row per run, theory beside it, a ranking."""
    script = experiment_script("compare_designs")
    args = "--replications 2 --days 0.5 --workers 2 --out".split() + [str(tmp_path)]
    result = script.main(args)
    runs, summary, settings = outputs(tmp_path, "compare_designs")
    assert len(runs) == len(result) == 2 * len(script.DESIGNS)
    assert list(summary["design"]) == list(script.DESIGNS)
    assert {"single_server", "active_passive", "lb_cluster", "zone_spread", "redundant_lb"} <= set(
        script.DESIGNS
    )
    same_seeds(runs, "design", 2)
    assert settings["replications"] == 2 and set(settings["designs"]) == set(script.DESIGNS)
    # Every design got the same server failure rates (the flags' defaults).
    for model, params in settings["designs"].values():
        assert params["mttf"] == 24 * 3600 and params["mttr"] == 20 * 60, model
    # Theory: every redundant design is up more than the single server.
    theory = summary.set_index("design")["theory_uptime"]
    assert theory.idxmin() == script.BASELINE
    assert theory["lb_cluster"] == pytest.approx(
        script.theory_uptime("lb_cluster", 86400.0, 1200.0)
    )
    out = capsys.readouterr().out
    assert "Ranking by uptime" in out
    assert all(design in out for design in script.DESIGNS)


def test_compare_designs_theory_is_k_of_n(experiment_script):
    """The single server is MTTF / (MTTF + mean repair); N+1 behind a balancer is 2-of-3."""
    script = experiment_script("compare_designs")
    mttf, median = 86400.0, 1200.0
    a = availability(mttf, median * script.MEAN_OVER_MEDIAN)
    assert script.theory_uptime("single_server", mttf, median) == pytest.approx(a)
    lb = script.lb_cluster.PARAMS
    a_lb = availability(lb["lb_mttf"], lb["lb_mttr"] * script.MEAN_OVER_MEDIAN)
    assert script.theory_uptime("lb_cluster", mttf, median) == pytest.approx(a_lb * k_of_n(2, 3, a))
    # Zones and a database only take away; a pair of balancers gives back.
    cluster = script.theory_uptime("lb_cluster", mttf, median)
    assert script.theory_uptime("zone_spread", mttf, median) < cluster
    assert script.theory_uptime("three_tier", mttf, median) < cluster
    assert script.theory_uptime("redundant_lb", mttf, median) > cluster


def test_health_check_interval(tmp_path, experiment_script):
    """A grid of interval x threshold: every point, the same seeds, detection grows with I."""
    script = experiment_script("health_check_interval")
    args = "--replications 2 --days 0.1 --intervals 2 10 --thresholds 1 3 --workers 2 --out"
    script.main(args.split() + [str(tmp_path)])
    runs, summary, _ = outputs(tmp_path, "health_check_interval")
    assert len(runs) == 2 * 2 * 2
    assert set(runs["check_interval"]) == {2.0, 10.0}
    assert set(runs["unhealthy_after"]) == {1, 3}
    same_seeds(runs, ["check_interval", "unhealthy_after"], 2)
    # Time to detect: (N - 1/2) I in theory; measured, it grows with I at each N.
    means = summary.set_index(["unhealthy_after", "check_interval"])
    for n in (1, 3):
        assert means.loc[(n, 10.0), "mttd"] > means.loc[(n, 2.0), "mttd"]
        assert means.loc[(n, 10.0), "theory_mttd"] == pytest.approx((n - 0.5) * 10.0)
    # The same crashes at every point (common random numbers): a longer detection loses more.
    unavail = runs.pivot_table(index="rep", columns=["unhealthy_after", "check_interval"],
                               values="unavailability")  # fmt: skip
    assert (unavail[(3, 10.0)] >= unavail[(1, 2.0)]).all()
    theory = script.theory_unavailability(10.0, 3, 7200.0, 300.0)
    assert means.loc[(3, 10.0), "theory_unavailability"] == pytest.approx(theory)


def test_replica_count(tmp_path, capsys, experiment_script):
    """More servers (needed = 1, the same failures for web0.. at every n) never lower uptime."""
    script = experiment_script("replica_count")
    args = "--replications 2 --days 0.3 --servers 1 2 3 --workers 2 --out".split()
    script.main(args + [str(tmp_path)])
    runs, summary, _ = outputs(tmp_path, "replica_count")
    assert len(runs) == 3 * 2 and set(runs["servers"]) == {1, 2, 3}
    same_seeds(runs, "servers", 2)
    uptime = runs.pivot(index="rep", columns="servers", values="uptime")
    assert (uptime[2] >= uptime[1]).all() and (uptime[3] >= uptime[2]).all()
    assert list(summary["cost_per_month"]) == pytest.approx([72.0, 144.0, 216.0])
    a = 1 - summary["theory_uptime"][0]
    assert summary["theory_uptime"][2] == pytest.approx(1 - a**3)
    assert "No knee" in capsys.readouterr().out  # 1..3 servers: each one buys >= 0.5 nines


def test_replica_count_knee(experiment_script):
    """The knee is the first n after which one more replica gains less than the bound."""
    script = experiment_script("replica_count")
    assert script.knee([1.5, 2.9, 3.7, 3.8], 0.5) == 2
    assert script.knee([1.0, 2.0, 3.0], 0.5) is None


def test_zone_outages(tmp_path, capsys, experiment_script):
    """One, two, three zones: same seeds, the theory's layout, crossing zones costs latency."""
    script = experiment_script("zone_outages")
    args = "--replications 2 --days 0.5 --workers 2 --out".split() + [str(tmp_path)]
    script.main(args)
    runs, summary, settings = outputs(tmp_path, "zone_outages")
    assert len(runs) == 2 * len(script.DESIGNS)
    assert list(summary["design"]) == ["1 zone", "2 zones", "3 zones"]
    same_seeds(runs, "design", 2)
    assert {p["zones"] for _, p in settings["designs"].values()} == {1, 2, 3}
    assert script.sizes(1) == [3] and script.sizes(2) == [2, 1] and script.sizes(3) == [1, 1, 1]
    latency = runs.pivot(index="rep", columns="design", values="latency_mean")
    assert (latency["3 zones"] > latency["1 zone"]).all()
    theory = summary.set_index("design")["theory_uptime"]
    assert theory["3 zones"] > theory["1 zone"]
    assert not any(math.isnan(v) for v in summary["theory_availability"])
    assert "Paired with '1 zone'" in capsys.readouterr().out
