"""hasim.plot: every picture is drawn from the tables it claims to show, and written to a file.

The runs are small: two servers behind a balancer with health checks (12 simulated
hours, a request every half second, a failure every ~4 h per server, web1 sometimes
slow), and a 3-replication experiment of the single_server model. Pictures are drawn
with the Agg backend (no display needed) and closed after each test.
"""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import hasim as hs  # noqa: E402
import hasim.plot as hp  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def pair(seed=1, record="requests", health_check=True):
    """web0 and web1 behind lb; the system is up while every node is (a series system)."""
    sim = hs.Simulation(seed=seed, record=record)
    crash = hs.Failures(ttf=hs.Exponential(mean=4 * hs.hours), ttr=hs.Exponential(mean=20 * 60))
    slow = hs.Slowdowns(every=hs.Exponential(mean=3 * hs.hours), lasting="10m", factor=5)
    web = [
        hs.Server(
            sim,
            f"web{i}",
            workers=4,
            service_time=hs.Exponential(mean=5 * hs.ms),
            failures=[crash, slow] if i else crash,
        )
        for i in range(2)
    ]
    check = hs.HealthCheck(interval=5, timeout=1, unhealthy_after=2) if health_check else None
    lb = hs.LoadBalancer(sim, "lb", backends=web, timeout=0.5, health_check=check)
    hs.OpenLoop(sim, "users", target=lb, rate=2, timeout=2.0)
    return sim.run(until=12 * hs.hours)


@pytest.fixture(scope="module")
def run():
    return pair()


@pytest.fixture(scope="module")
def aggregate():
    """The same run with record="aggregate": counts, a latency histogram, no requests table."""
    return pair(record="aggregate")


@pytest.fixture(scope="module")
def experiment():
    """Two designs (the second fails 3x less often) x mttr in {5 min, 1 h} x 3 replications."""
    exp = hs.Experiment(
        {"baseline": "single_server", "sturdy": ("single_server", {"mttf": 6 * hs.hours})},
        params={"mttf": 2 * hs.hours},
        grid={"mttr": [5 * 60, 60 * 60]},
        workload={"rate": 0.5, "timeout": 2.0},
        horizon="12h",
        reps=3,
        seed=1,
    )
    return exp.run(executor="serial")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_png(what, path):
    """Save what a plotting function returned; the file is a PNG of a few KB at least."""
    written = hp.save(what, path)
    data = written.read_bytes()
    assert data[:8] == PNG
    assert len(data) > 5_000
    return written


def test_import_hasim_does_not_import_matplotlib():
    """The simulator never needs matplotlib; only ``import hasim.plot`` loads it."""
    code = "import sys, hasim; assert not {'matplotlib', 'hasim.plot'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- availability_curve ---------------------------------------------------------------------------


def test_curve_has_a_line_and_a_band_per_design(experiment, tmp_path):
    """x="mttr" finds the param_mttr column (mttr is also a metric); the x axis is in minutes."""
    ax = hp.availability_curve(experiment, "mttr", x_unit="auto")
    assert [line.get_label() for line in ax.lines] == ["baseline", "sturdy"]
    assert len(ax.collections) == 2  # the 95 % bands
    assert list(ax.lines[0].get_xdata()) == [5, 60]
    assert ax.get_xlabel() == "mttr (minutes)"
    summary = experiment.summary(by=["design", "param_mttr"], metrics=["availability"])
    assert ax.lines[1].get_ydata() == pytest.approx(summary["availability"][2:].to_numpy())
    assert_png(ax, tmp_path / "curve.png")


def test_curve_in_nines_with_theory(experiment, tmp_path):
    """nines=True: 1 - A on an inverted log axis; the theory is one more, dashed, line."""
    mttf = 2 * hs.hours
    ax = hp.availability_curve(
        experiment, "mttr", nines=True, theory={"baseline": lambda m: mttf / (mttf + m)}
    )
    assert ax.get_yscale() == "log" and ax.yaxis_inverted()
    (theory,) = ax.lines[2:]
    assert theory.get_linestyle() == "--" and theory.get_label() == "baseline (theory)"
    assert theory.get_ydata()[0] == pytest.approx(300 / (mttf + 300))  # 1 - A at 5 min
    assert_png(ax, tmp_path / "nines.png")


def test_curve_from_a_summary_table(experiment):
    summary = experiment.summary(by=["design", "param_mttr"], metrics=["mttr"])
    ax = hp.availability_curve(summary, "mttr", "mttr")
    assert len(ax.lines) == 2 and ax.get_ylabel() == "mean time to recover (minutes)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"x": "workers"},
            r"availability_curve: x must be a grid parameter .*'mttr'.*got 'workers'",
        ),
        ({"x": "mttr", "metric": "speed"}, r"metric must be one of the runs table's metrics"),
        ({"x": "mttr", "metric": "mttr", "nines": True}, r"nines must be used with a metric"),
        ({"x": "mttr", "theory": {"other": abs}}, r"theory must be a dict keyed by the lines"),
        ({"x": "mttr", "theory": 0.99}, r"theory must be a function of x or a dict"),
        ({"x": "mttr", "x_unit": "fortnights"}, r"unit must be 'auto' or one of"),
    ],
)
def test_curve_rejects_bad_input(experiment, kwargs, message):
    with pytest.raises(hs.ConfigError, match=message):
        hp.availability_curve(experiment, **kwargs)


# -- compare --------------------------------------------------------------------------------------


def test_compare_has_one_row_per_design_and_point(experiment, tmp_path):
    ax = hp.compare(experiment)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "baseline, mttr=300",
        "baseline, mttr=3600",
        "sturdy, mttr=300",
        "sturdy, mttr=3600",
    ]
    (points,) = ax.lines[:1]
    summary = experiment.summary(by=["design", "param_mttr"], metrics=["availability"])
    assert points.get_xdata() == pytest.approx(summary["availability"].to_numpy())
    assert_png(ax, tmp_path / "compare.png")


def test_compare_with_a_baseline_adds_the_paired_differences(experiment, tmp_path):
    values, diffs = hp.compare(experiment, baseline="baseline", nines=True)
    assert values.get_xscale() == "log"
    expected = experiment.compare("sturdy", "baseline")["diff"].to_numpy()
    drawn = [line.get_xdata()[0] for line in diffs.lines if line.get_marker() == "D"]
    assert drawn == pytest.approx(expected)
    assert_png(values, tmp_path / "baseline.png")


def test_compare_rejects_a_baseline_it_cannot_pair(experiment):
    with pytest.raises(hs.ConfigError, match=r"compare: baseline must be one of the designs"):
        hp.compare(experiment, baseline="nope")
    summary = experiment.summary()
    with pytest.raises(hs.ConfigError, match=r"baseline must be used with the ExperimentResult"):
        hp.compare(summary, baseline="baseline")


# -- timeline -------------------------------------------------------------------------------------


def test_timeline_has_the_system_on_top_and_a_row_per_component(run, tmp_path):
    ax = hp.timeline(run)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["system", "lb", "web0", "web1"]
    assert ax.get_xlabel() == "time since the start (hours)"
    shaded = [p for p in ax.patches if p.get_gid() == "incident"]
    assert len(shaded) == len(run.incidents()) > 0
    assert_png(ax, tmp_path / "timeline.png")


def test_timeline_bands_are_as_long_as_the_intervals(run):
    """The red bands of each row add up to that component's down time (in hours)."""
    ax = hp.timeline(run)
    table = run.timeline()
    for name in ("system", "web0", "web1"):
        for state in ("down", "degraded") if name != "system" else ("down",):
            spans = table[(table["component"] == name) & (table["state"] == state)]
            bands = [c for c in ax.collections if c.get_gid() == f"{name}/{state}"]
            drawn = sum(np.ptp(p.vertices[:, 0]) for c in bands for p in c.get_paths())
            assert drawn == pytest.approx(spans["duration"].sum() / 3600), (name, state)
    assert any(c.get_gid() == "web1/degraded" for c in ax.collections)  # a slowdown happened


def test_timeline_rejects_unknown_components(run):
    with pytest.raises(hs.ConfigError, match=r"timeline: components must be a list .*'db'"):
        hp.timeline(run, components=["web0", "db"])
    ax = hp.timeline(run, components=["web1"], start=3600, end=7200, unit="min")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["system", "web1"]
    assert ax.get_xlim() == (0, 60)


# -- incident -------------------------------------------------------------------------------------


def test_incident_success_rate_dips_until_the_failover(run, tmp_path):
    """Requests to the crashed server fail until the health check ejects it, then all succeed."""
    rate_ax, tput_ax = hp.incident(run, 0)
    row = run.incidents().iloc[0]
    (zoom,) = rate_ax.child_axes  # the inset over the first seconds
    (steps,) = zoom.patches
    values, edges = steps.get_data().values, steps.get_data().edges
    during = values[(edges[:-1] >= 0) & (edges[:-1] < row["ttd"])]
    before = values[edges[1:] <= 0]
    assert np.nanmin(during) < 90 and np.nanmin(before) == 100
    assert rate_ax.get_ylabel() == "success rate (%)"
    assert tput_ax.get_ylabel() == "throughput (ok answers/s)"
    assert_png(rate_ax, tmp_path / "incident.png")


def test_incident_falls_back_to_the_series_in_aggregate_mode(aggregate, tmp_path):
    rate_ax, _ = hp.incident(aggregate, -1)
    assert "record='requests' gives finer bins" in rate_ax.figure.axes[1].get_xlabel()
    assert_png(rate_ax, tmp_path / "aggregate.png")


def test_incident_needs_an_incident(run):
    with pytest.raises(hs.ConfigError, match=r"incident: index must be an integer in \[0, \d+\)"):
        hp.incident(run, 99)
    quiet = hs.Simulation(seed=1)
    hs.Server(quiet, "web")
    with pytest.raises(hs.ConfigError, match=r"incident: result must be a run with an incident"):
        hp.incident(quiet.run(until=60))


# -- latency_cdf ----------------------------------------------------------------------------------


def test_latency_cdf_reaches_1_and_marks_the_percentiles(run, aggregate, tmp_path):
    ax = hp.latency_cdf({"requests": run, "aggregate": aggregate})
    exact, binned = ax.lines[:2]
    assert exact.get_ydata()[-1] == 1 and binned.get_ydata()[-1] == pytest.approx(1)
    p99 = run.summary()["latency_p99"] * 1e3
    assert f"p99 {p99:.3g}" in exact.get_label()
    marked = [line.get_xdata()[0] for line in ax.lines[2:6]]  # p50, p95, p99, p99.9 of "requests"
    assert marked[2] == pytest.approx(p99)
    assert_png(ax, tmp_path / "latency.png")


def test_latency_cdf_rejects_bad_input(run):
    with pytest.raises(hs.ConfigError, match=r"latency_cdf: results must be a RunResult or"):
        hp.latency_cdf({})
    with pytest.raises(hs.ConfigError, match=r"percentiles must be numbers in \(0, 1\)"):
        hp.latency_cdf(run, percentiles=(0.5, 99))


# -- recovery_breakdown ---------------------------------------------------------------------------


def test_recovery_breakdown_segments_are_the_phases(run, tmp_path):
    """detect = ttd, fail over = failover - ttd, the rest = ttr - failover (minutes here)."""
    ax = hp.recovery_breakdown(run)
    table = run.incidents()
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        f"#{k} {cause}" for k, cause in enumerate(table["cause"])
    ]
    widths = {p.get_gid(): p.get_width() * 60 for p in ax.patches if p.get_gid()}
    for k, row in table.iterrows():
        assert widths[f"{k}/detect"] == pytest.approx(row["ttd"])
        assert widths[f"{k}/fail over"] == pytest.approx(row["failover"] - row["ttd"])
        assert widths[f"{k}/rest"] == pytest.approx(row["ttr"] - row["failover"])
    assert_png(ax, tmp_path / "recovery.png")


def test_recovery_breakdown_without_health_checks_is_all_repair():
    result = pair(health_check=False)
    table = result.incidents()
    assert table["ttd"].isna().all()
    ax = hp.recovery_breakdown(table, max_incidents=2, log=True)
    kept = table.nlargest(2, "ttr").sort_index()
    assert len(ax.patches) == 2 and ax.get_xscale() == "log"
    assert [p.get_gid() for p in ax.patches] == [f"{k}/rest" for k in kept.index]
    assert "the 2 longest of" in ax.get_title()


def test_recovery_breakdown_of_a_quiet_run_says_so():
    quiet = hs.Simulation(seed=1)
    hs.Server(quiet, "web")
    result = quiet.run(until=60)
    ax = hp.recovery_breakdown(result)
    assert ax.texts[0].get_text() == "no incidents in the window"
    with pytest.raises(hs.ConfigError, match=r"max_incidents must be an integer >= 1, got 0"):
        hp.recovery_breakdown(result, max_incidents=0)
    with pytest.raises(hs.ConfigError, match=r"data must be a DataFrame with columns \['start'"):
        hp.recovery_breakdown(result.requests())


def test_save_takes_axes_arrays_and_figures(run, tmp_path):
    axes = hp.incident(run)
    assert_png(axes, tmp_path / "a.png")
    assert hp.save(axes[0].figure, tmp_path / "b.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(hs.ConfigError, match=r"save: what must be an Axes"):
        hp.save("plot", tmp_path / "c.png")


def test_plots_reject_what_is_not_a_run():
    with pytest.raises(
        hs.ConfigError, match=r"plot.timeline: result must be a RunResult .*, got 42"
    ):
        hp.timeline(42)


def test_a_count_on_the_x_axis_gets_whole_ticks_and_a_theory_at_whole_values():
    """servers = 1, 2, 3: the closed form is called with integers only (k_of_n refuses 2.5)."""
    import pandas as pd

    from hasim import analytic

    frame = pd.DataFrame(
        {
            "design": ["d"] * 3,
            "servers": [1, 2, 3],
            "uptime": [0.9, 0.99, 0.999],
            "uptime_lo": [0.89, 0.985, 0.998],
            "uptime_hi": [0.91, 0.995, 0.9995],
        }
    )
    seen = []

    def theory(n):
        seen.append(n)
        return analytic.k_of_n(1, n, 0.9)

    ax = hp.availability_curve(frame, x="servers", metric="uptime", theory=theory)
    assert seen == [1, 2, 3]
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)
    plt.close(ax.figure)
