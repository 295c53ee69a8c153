"""Experiments: designs x a parameter grid x replications, and what their results say.

An ``Experiment`` runs replication ``r`` of every design point with seed ``seed + r``, on any
executor, and returns an ``ExperimentResult``: a tidy table of runs (``result.runs``), the
runs that raised (``result.failures``), intervals (``summary()``) and paired differences
(``compare()``). The runs here are tiny: one node that fails about once an hour over a few
hours (state-only, ``workload=None``), or ``single_server`` under a fraction of a request per
second. Build functions used with worker processes are defined at module level, so that a
worker can import them by name.

Resuming from an output directory is tested in ``test_experiment_resume.py``, the coverage of
the intervals in ``validation/test_coverage.py``.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy import stats

import hasim as hs
import hasim.models.single_server as single_server
from hasim.experiment import ModelRef, RunFailed, Target, mean_ci, welch_half_width

#: The tiny state-only model: mean time to failure and to repair, seconds.
TTF = 3600.0
TTR = 600.0


def one_node(sim, ttf=TTF, ttr=TTR):
    """One node, exponential failures and repairs; the system is up while the node is.

    The parameters are not called ``mttf``/``mttr`` on purpose: a grid column named like a
    metric collides with it (see ``test_grid_parameter_named_like_a_metric``).
    """
    node = hs.Node(
        sim,
        "n0",
        failures=hs.Failures(ttf=hs.Exponential(mean=ttf), ttr=hs.Exponential(mean=ttr)),
    )
    sim.up_when(lambda: node.up)
    return node


def flaky(sim, x=1):
    """``one_node``, except that ``x == 2`` raises while building."""
    if x == 2:
        raise RuntimeError("x=2 is broken")
    return one_node(sim)


def served(**kwargs) -> hs.Experiment:
    """``single_server`` failing about hourly, under 0.5 requests/s, over 6 h (~11k requests)."""
    settings = dict(
        grid={"mttf": [3600.0, 7200.0]},
        params={"mttr": 600.0},
        workload={"rate": 0.5},
        horizon="6h",
        warmup="10min",
        reps=4,
        seed=11,
    )
    settings.update(kwargs)
    return hs.Experiment({"one": "single_server"}, **settings)


@pytest.fixture(scope="module")
def served_serial() -> hs.ExperimentResult:
    """The reference table: ``served()`` run serially."""
    return served().run(executor="serial")


@contextlib.contextmanager
def time_limit(seconds: float):
    """Fail the test (instead of hanging the suite) if the block takes longer than ``seconds``.

    A SIGALRM timer, so POSIX and the main thread only; elsewhere the block just runs.
    """
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- executors: same seed, same table ------------------------------------------------------


@pytest.mark.parametrize(
    "executor, workers",
    [
        pytest.param("processes", 2, id="processes-2"),
        pytest.param("processes", 1, id="processes-1"),
        pytest.param("threads", None, id="ThreadPoolExecutor"),
    ],
)
def test_every_executor_gives_the_serial_table(served_serial, executor, workers):
    """DESIGN rule 1: the table is bit-identical whatever runs it and with how many workers.

    Each run is seeded by its task alone and rows are sorted by (point, rep), so neither the
    worker that ran a replication nor the order in which runs finished shows in the table.
    """
    if executor == "threads":
        with ThreadPoolExecutor(max_workers=3) as pool:
            result = served().run(executor=pool)
            assert pool.submit(len, "still open").result() == 10  # the caller's to shut down
    else:
        result = served().run(executor=executor, workers=workers)
    assert len(result) == 2 * 4 and result.failures.empty
    assert_frame_equal(result.runs, served_serial.runs, check_exact=True)


def test_dask_local_cluster_gives_the_serial_table(served_serial):
    """The same table on a Dask LocalCluster, given as a Client or made by ``executor="dask"``.

    Starting two clusters of two worker processes takes a few seconds; the whole test must
    end within 15 s (a hang in the cluster fails the test instead of the suite).
    """
    distributed = pytest.importorskip("distributed")
    with time_limit(15):
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            given = served().run(executor=client)
            # A client passed in belongs to the caller: the experiment leaves it open.
            assert client.status == "running"
        assert_frame_equal(given.runs, served_serial.runs, check_exact=True)
        made = served().run(executor="dask", workers=2)
        assert_frame_equal(made.runs, served_serial.runs, check_exact=True)


def test_unknown_executor_and_bad_workers_are_refused():
    exp = hs.Experiment(one_node, horizon="1h", reps=1)
    with pytest.raises(hs.ConfigError, match=r"executor must be 'serial', 'processes'.*got 'gpu'"):
        exp.run(executor="gpu")
    with pytest.raises(hs.ConfigError, match=r"workers must be an integer >= 1 or None, got 0"):
        exp.run(executor="processes", workers=0)


# -- designs --------------------------------------------------------------------------------


def test_a_model_is_a_module_a_name_a_file_or_a_build_function():
    """Four ways to name the same model give the same runs (and the same failure times)."""
    path = Path(single_server.__file__)
    refs = {
        "module": ModelRef.of(single_server),
        "name": ModelRef.of("single_server"),
        "file": ModelRef.of(str(path)),
        "function": ModelRef.of(single_server.build),
    }
    assert {k: r.kind for k, r in refs.items()} == {
        "module": "module",
        "name": "module",
        "file": "file",
        "function": "function",
    }
    assert {r.label for r in refs.values()} == {"single_server", "build"}
    assert refs["module"] == refs["name"]
    designs = {
        "module": single_server,
        "name": "single_server",
        "file": path,
        "function": single_server.build,
    }
    result = hs.Experiment(designs, params={"mttf": TTF}, horizon="4h", reps=2, seed=3).run(
        executor="serial"
    )
    assert list(result.runs["design"].unique()) == list(designs)
    uptime = result.runs.pivot(index="rep", columns="design", values="uptime")
    for name in designs:
        assert uptime[name].tolist() == uptime["module"].tolist(), name


def test_a_list_of_designs_is_labelled_by_model_and_a_dict_gives_names_and_params():
    listed = hs.Experiment(["single_server", one_node], horizon="1h")
    assert list(listed.designs) == ["single_server", "one_node"]
    named = hs.Experiment(
        {"slow_repair": ("single_server", {"mttr": 3600.0}), "plain": "single_server"},
        params={"mttf": 7200.0},
        horizon="1h",
    )
    assert [(p.design, p.params) for p in named.points] == [
        ("slow_repair", {"mttr": 3600.0, "mttf": 7200.0}),
        ("plain", {"mttf": 7200.0}),
    ]


def test_unknown_model_name_lists_the_ready_models():
    with pytest.raises(
        hs.ConfigError,
        match=r"Experiment: model must be a model file or one of the ready models "
        r"\(.*single_server.*\), got 'singel_server'",
    ):
        hs.Experiment("singel_server", horizon="1h")


@pytest.mark.parametrize(
    "designs, message",
    [
        (42, r"model must be a model module, name, \.py path or build function, got 42"),
        ([], r"designs must be at least one model, got \[\]"),
        ({}, r"designs must be at least one model, got \{\}"),
        ("no/such/model.py", r"model must be an existing \.py model file, got 'no/such/model.py'"),
        (math, r"model must be a module with build\(sim, \*\*params\)"),
        (["single_server", "single_server"], r"designs must be distinct names .*'single_server'"),
        ({"a": ("single_server", [1])}, r"design params must be a dict, got \[1\]"),
    ],
    ids=["number", "empty-list", "empty-dict", "missing-file", "no-build", "twice", "params"],
)
def test_bad_designs_are_refused(designs, message):
    with pytest.raises(hs.ConfigError, match=message):
        hs.Experiment(designs, horizon="1h")


@pytest.mark.parametrize("spec", [("single_server",), ("single_server", {}, 3)])
def test_a_design_tuple_must_be_model_and_params(spec):
    """A tuple is ``(model, params)``; another length is bad input, named as such.

    Library bug (reported): the tuple is unpacked without a check, so this raises a bare
    ``ValueError: not enough values to unpack`` that names neither the design nor the rule.
    """
    with pytest.raises(hs.ConfigError, match=r"Experiment.*'a'.*\(model, params\)"):
        hs.Experiment({"a": spec}, horizon="1h")


@pytest.mark.parametrize(
    "kwargs",
    [{"params": {"mtbf": 1.0}}, {"grid": {"mtbf": [1.0, 2.0]}}],
    ids=["params", "grid"],
)
def test_unknown_parameters_are_named_with_the_known_ones(kwargs):
    with pytest.raises(
        hs.ConfigError,
        match=r"Experiment design 'single_server': params must be names of single_server's "
        r"PARAMS \(mttf, mttr, .*\), got \['mtbf'\]",
    ):
        hs.Experiment("single_server", horizon="1h", **kwargs)


# -- the grid -------------------------------------------------------------------------------


def test_the_grid_runs_every_combination_for_every_design():
    """2 designs x 2 x 3 grid values = 12 points; the varied parameters become columns."""
    exp = hs.Experiment(
        {"a": one_node, "b": (one_node, {"ttr": 1200.0})},
        grid={"ttf": [1800.0, 3600.0], "seed_note": ["x", "y", "z"]},
        horizon="1h",
        reps=1,
    )
    assert len(exp.points) == 12
    assert [p.index for p in exp.points] == list(range(12))
    # design-major, then the grid in itertools.product order
    assert [(p.design, p.params["ttf"], p.params["seed_note"]) for p in exp.points[:4]] == [
        ("a", 1800.0, "x"),
        ("a", 1800.0, "y"),
        ("a", 1800.0, "z"),
        ("a", 3600.0, "x"),
    ]
    assert exp.points[6].params == {"ttr": 1200.0, "ttf": 1800.0, "seed_note": "x"}


def test_the_grid_parameters_are_columns_of_the_runs_table():
    result = hs.Experiment(
        one_node, grid={"ttf": [1800.0, 3600.0], "ttr": [300.0]}, horizon="2h", reps=2
    ).run(executor="serial")
    runs = result.runs
    assert list(runs.columns[:7]) == ["design", "point", "params", "ttf", "ttr", "rep", "seed"]
    assert runs[["point", "ttf", "ttr", "rep", "seed"]].values.tolist() == [
        [0, 1800.0, 300.0, 0, 0],
        [0, 1800.0, 300.0, 1, 1],
        [1, 3600.0, 300.0, 0, 0],
        [1, 3600.0, 300.0, 1, 1],
    ]
    assert runs["params"].iloc[0] == '{"ttf": 1800.0, "ttr": 300.0}'
    assert {"uptime", "downtime_fraction", "unavailability", "mttr"} <= set(runs.columns)
    assert (runs["uptime"] + runs["downtime_fraction"] == 1.0).all()


def test_grid_parameter_named_like_a_metric():
    """A grid over ``single_server``'s ``mttr`` sweeps the repair time, a canonical sweep.

    ``mttr`` is also a metric (the mean measured time to recover), so the table must keep the
    two apart: one summary row per design point, and runs paired by grid point in
    ``compare``.

    Library bug (reported): ``ExperimentResult`` writes the grid column ``mttr`` and then
    overwrites it with the metric ``mttr``; ``summary()`` then groups by the measured value
    (one row per run) and ``compare()`` finds no pairs.
    """
    result = hs.Experiment(
        {"a": "single_server", "b": ("single_server", {"workers": 2})},
        grid={"mttr": [300.0, 900.0]},
        params={"mttf": TTF},
        horizon="6h",
        reps=3,
    ).run(executor="serial")
    assert len(result.runs) == 12
    summary = result.summary(metrics=["uptime"])
    assert summary["reps"].tolist() == [3, 3, 3, 3]
    assert result.compare("a", "b", metric="uptime")["pairs"].tolist() == [3, 3]


@pytest.mark.parametrize(
    "grid, message",
    [
        ([("ttf", [1.0])], r"grid must be a dict \{param: \[values\]\}"),
        ({"ttf": []}, r"grid\['ttf'\] must be a non-empty list of values, got \[\]"),
        ({"ttf": "3600"}, r"grid\['ttf'\] must be a non-empty list of values, got '3600'"),
        ({"ttf": 3600.0}, r"grid\['ttf'\] must be a non-empty list of values, got 3600.0"),
    ],
    ids=["not-a-dict", "empty", "string", "scalar"],
)
def test_bad_grids_are_refused(grid, message):
    with pytest.raises(hs.ConfigError, match=message):
        hs.Experiment(one_node, grid=grid, horizon="1h")


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"reps": 0}, r"Experiment: reps must be an integer >= 1, got 0"),
        ({"reps": 2.5}, r"reps must be an integer >= 1, got 2.5"),
        ({"reps": True}, r"reps must be an integer >= 1, got True"),
        ({"reps": 5, "target": "uptime:abs=0.1"}, r"give reps or target, not both"),
        ({"target": 0.01}, r"target must be a hasim.Target or a string, got 0.01"),
        ({"target": "uptime"}, r"Target: give rel, abs or both, got neither"),
        ({"horizon": "soon"}, r"horizon must be a duration \(seconds or '7d'\), got 'soon'"),
        ({"horizon": 0}, r"horizon must be a finite duration > warmup \(0 s\), got 0"),
        ({"horizon": math.inf}, r"Experiment: horizon must be .*, got inf"),
        ({"warmup": "2h"}, r"horizon must be a finite duration > warmup \(7200 s\), got '1h'"),
        ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"record": "all"}, r"record must be 'aggregate' or 'requests', got 'all'"),
        ({"workload": 5}, r"workload must be None, a function \(sim, entry\), or a dict"),
        ({"workload": {"rate": 1, "burst": 2}}, r"workload must be a dict of OpenLoop or"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    settings = {"horizon": "1h", **kwargs}
    with pytest.raises(hs.ConfigError, match=message):
        hs.Experiment(one_node, **settings)


def _stateless(sim):
    return hs.Server(sim, "web", workers=4, service_time=0.001)


def _store(sim):
    return hs.SingleCopy(sim, "db", workers=4, service_time=0.001)


def test_one_open_loop_drives_stores_with_reads_and_writes_and_services_with_requests():
    """A design holding a replicated store gets a KVWorkload (its requests carry operations,
    read_share of them reads); a stateless one plain requests. Both answer every request."""
    exp = hs.Experiment(
        {"stateless": _stateless, "store": _store},
        workload={"rate": 50, "timeout": 1.0, "read_share": 0.25, "keys": 5},
        horizon=60,
        reps=1,
        record="requests",
    )
    runs = exp.run(executor="serial").runs.set_index("design")
    assert runs["availability"].tolist() == [1.0, 1.0]
    sim = hs.Simulation(seed=1)
    store = _store(sim)
    exp.workload(sim, store)
    sim.run(until=60)
    ops = hs.replication.history_of(sim).to_frame()
    assert set(ops["key"]) <= set(range(5)) and len(ops) > 2000
    assert abs((ops["kind"] == "read").mean() - 0.25) < 0.05  # binomial sd 0.01 at n > 2000


@pytest.mark.parametrize(
    ("workload", "message"),
    [
        ({"rate": 1, "read_share": 1.5}, r"OpenLoopWorkload: read_share must be a probability"),
        ({"rate": 1, "keys": 0}, r"OpenLoopWorkload: keys must be an integer >= 1, got 0"),
    ],
)
def test_bad_key_value_workload_settings_are_refused(workload, message):
    with pytest.raises(hs.ConfigError, match=message):
        hs.Experiment(one_node, workload=workload, horizon="1h")


def test_reps_default_and_seeds():
    """Ten replications by default; replication r runs with seed ``seed + r`` at every point."""
    exp = hs.Experiment(one_node, grid={"ttf": [1800.0, 3600.0]}, horizon="1h", seed=40)
    assert exp.reps == 10
    assert [exp.task(p, r).seed for p in exp.points for r in (0, 9)] == [40, 49, 40, 49]
    assert exp.task(exp.points[0], 3).key != exp.task(exp.points[1], 3).key


# -- target precision -----------------------------------------------------------------------


def test_target_parse_reads_the_cli_form():
    assert Target.parse("unavailability:rel=0.1,max=200") == Target(
        "unavailability", rel=0.1, max_reps=200
    )
    assert Target.parse("uptime:abs=0.001,rel=0.5,min=4,max=40,batch=2") == Target(
        "uptime", rel=0.5, abs=0.001, min_reps=4, max_reps=40, batch=2
    )
    target = Target.parse("mttr:abs=60")
    assert (target.min_reps, target.max_reps, target.batch, target.level) == (5, 100, 5, 0.95)


@pytest.mark.parametrize(
    "text, message",
    [
        ("uptime", r"Target: give rel, abs or both, got neither"),
        (":rel=0.1", r"Target: metric must be a metric name, got ''"),
        ("uptime:rel=0.1,reps=3", r"option must be one of \['abs', 'batch', 'max', 'min', 'rel'\]"),
        ("uptime:rel=tenth", r"Target: rel must be a number, got 'tenth'"),
        ("uptime:rel=0.1,max=lots", r"Target: max must be an integer, got 'lots'"),
        ("uptime:rel=-0.1", r"Target: rel must be a number > 0, got -0.1"),
        ("uptime:abs=0", r"Target: abs must be a number > 0, got 0.0"),
        ("uptime:rel=0.1,min=1", r"Target: min_reps must be an integer >= 2, got 1"),
        ("uptime:rel=0.1,max=3", r"Target: max_reps must be an integer >= 5, got 3"),
        ("uptime:rel=0.1,batch=0", r"Target: batch must be an integer >= 1, got 0"),
    ],
)
def test_target_parse_errors_name_the_option(text, message):
    with pytest.raises(hs.ConfigError, match=message):
        Target.parse(text)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"metric": 3, "rel": 0.1}, r"Target: metric must be a metric name, got 3"),
        ({"metric": "uptime", "rel": math.nan}, r"rel must be a number > 0, got nan"),
        ({"metric": "uptime", "abs": 0.1, "level": 1.0}, r"level must be a number in \(0, 1\)"),
        ({"metric": "uptime", "abs": 0.1, "min_reps": True}, r"min_reps must be an integer >= 2"),
    ],
)
def test_target_validates_its_fields(kwargs, message):
    with pytest.raises(hs.ConfigError, match=message):
        Target(**kwargs)


def test_target_met_compares_the_half_width_with_abs_and_rel():
    values = [0.90, 0.92, 0.94, 0.96]  # mean 0.93, half-width t(0.975, 3) * s / 2
    _, half = mean_ci(values)
    assert half == pytest.approx(stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2)
    assert Target("uptime", abs=half * 1.001).met(values)
    assert not Target("uptime", abs=half * 0.999).met(values)
    assert Target("uptime", rel=half / 0.93 * 1.001).met(values)
    assert not Target("uptime", rel=half / 0.93 * 0.999).met(values)
    # both bounds given: both must hold
    assert not Target("uptime", abs=1.0, rel=half / 0.93 * 0.999).met(values)
    assert not Target("uptime", abs=half * 0.999, rel=1.0).met(values)
    # a lower level gives a narrower interval
    assert Target("uptime", abs=half * 0.7, level=0.8).met(values)
    # one value (infinite half-width), none or only NaN (nothing measured): never met
    assert not Target("uptime", abs=1e9).met([0.9])
    assert not Target("uptime", abs=1e9).met([])
    assert not Target("uptime", abs=1e9).met([math.nan, math.nan])
    # NaN replications are left out, as in the interval
    assert Target("uptime", abs=half * 1.001).met([*values, math.nan])


TARGET = Target("uptime", abs=0.03, min_reps=3, max_reps=15, batch=3)


def targeted() -> hs.Experiment:
    """Short repairs meet TARGET after a few batches, long ones never (within 15)."""
    return hs.Experiment(one_node, grid={"ttr": [300.0, 1200.0]}, horizon="1d", target=TARGET)


@pytest.fixture(scope="module")
def targeted_serial() -> hs.ExperimentResult:
    return targeted().run(executor="serial")


def test_target_adds_batches_until_met_or_max_reps(targeted_serial):
    """Each point stops at the first count (min_reps + k * batch) whose interval is narrow
    enough, looking only at replications 0..n-1, or at max_reps."""
    counts = targeted_serial.runs.groupby("ttr").size().to_dict()
    assert counts == {300.0: 6, 1200.0: 15}
    for ttr, frame in targeted_serial.runs.groupby("ttr"):
        values = frame.sort_values("rep")["uptime"].tolist()
        assert frame["rep"].tolist() == list(range(len(values)))
        n = len(values)
        assert n == TARGET.max_reps or TARGET.met(values), ttr
        for smaller in range(TARGET.min_reps, n, TARGET.batch):
            assert not TARGET.met(values[:smaller]), (ttr, smaller)
    assert not TARGET.met(targeted_serial.runs.query("ttr == 1200.0")["uptime"].tolist())


def test_target_gives_the_same_runs_with_any_executor(targeted_serial):
    """The decision depends on replications 0..n-1 only, not on which run finished first."""
    result = targeted().run(executor="processes", workers=2)
    assert_frame_equal(result.runs, targeted_serial.runs, check_exact=True)


def test_target_given_as_a_string():
    result = hs.Experiment(one_node, horizon="2h", target="uptime:abs=10,min=2,max=4,batch=2").run(
        executor="serial"
    )
    assert len(result) == 2  # met at once


def test_target_on_an_unknown_metric_names_the_known_ones():
    """Refused when the experiment is made, before any run."""
    with pytest.raises(hs.ConfigError, match=r"Target: metric must be one of .*uptime.*'uptme'"):
        hs.Experiment(one_node, horizon="1h", target=Target("uptme", abs=0.1, min_reps=2))


def test_progress_bar_shows_runs_and_the_worst_precision(capsys):
    """``progress=True`` draws a tqdm bar on stderr; in target mode it also shows the widest
    interval so far, and its total grows with the batches."""
    hs.Experiment(
        one_node, horizon="1d", target=Target("uptime", abs=0.03, min_reps=3, max_reps=6, batch=3)
    ).run(executor="serial", progress=True)
    err = capsys.readouterr().err
    assert "hasim" in err and "6/6" in err and "uptime 0." in err and "±" in err


# -- failed runs ----------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_a_run_that_raises_is_reported_and_the_rest_go_on(executor):
    """STYLE rule 5: a failed run is recorded with its design, parameters and seed, with a
    ``RunFailed`` warning; the other runs finish and the result holds them."""
    exp = hs.Experiment(flaky, grid={"x": [1, 2, 3]}, horizon="2h", reps=2, seed=5)
    with pytest.warns(RunFailed) as caught:
        result = exp.run(executor=executor, workers=2)
    messages = sorted(str(w.message) for w in caught if w.category is RunFailed)
    assert len(messages) == 2
    assert messages[0].startswith(
        "run failed: design 'flaky', params {'x': 2}, rep 0, seed 5: RuntimeError: x=2 is broken"
    )
    failures = result.failures
    assert list(failures.columns) == ["design", "params", "rep", "seed", "error", "traceback"]
    assert failures[["design", "params", "rep", "seed", "error"]].values.tolist() == [
        ["flaky", '{"x": 2}', 0, 5, "RuntimeError: x=2 is broken"],
        ["flaky", '{"x": 2}', 1, 6, "RuntimeError: x=2 is broken"],
    ]
    assert all("in flaky" in tb and "RuntimeError" in tb for tb in failures["traceback"])
    assert result.runs[["x", "rep"]].values.tolist() == [[1, 0], [1, 1], [3, 0], [3, 1]]
    assert repr(result) == "<ExperimentResult 4 runs, 1 designs, 2 failed>"
    assert result.summary(metrics=["uptime"])["x"].tolist() == [1, 3]


def test_no_failure_gives_an_empty_failures_table(served_serial):
    assert served_serial.failures.empty
    assert list(served_serial.failures.columns) == [
        "design",
        "params",
        "rep",
        "seed",
        "error",
        "traceback",
    ]


# -- summary and compare --------------------------------------------------------------------


def test_summary_gives_the_mean_and_interval_of_each_metric(served_serial):
    summary = served_serial.summary()
    assert summary[["design", "mttf", "reps"]].values.tolist() == [
        ["one", 3600.0, 4],
        ["one", 7200.0, 4],
    ]
    for metric in hs.experiment.DEFAULT_METRICS:
        assert {metric, f"{metric}_lo", f"{metric}_hi"} <= set(summary.columns)
        assert (summary[f"{metric}_lo"] <= summary[metric]).all(), metric
        assert (summary[metric] <= summary[f"{metric}_hi"]).all(), metric
    assert (summary["nines_lo"] <= summary["nines"]).all()
    assert (summary["nines"] <= summary["nines_hi"]).all()
    # the interval is mean_ci of the replications of each point
    groups = served_serial.runs.groupby("mttf")
    for row, (_, frame) in zip(summary.itertuples(), groups, strict=True):
        mean, half = mean_ci(frame["availability"])
        assert (row.availability, row.availability_lo, row.availability_hi) == (
            mean,
            mean - half,
            mean + half,
        )
        assert row.nines == -math.log10(1.0 - mean)
    # rarer failures, higher availability
    assert summary["availability"].iloc[1] > summary["availability"].iloc[0]


def test_summary_by_other_columns_metrics_and_level(served_serial):
    wide = served_serial.summary(by="design", metrics=["uptime"])
    assert list(wide.columns) == ["design", "reps", "uptime", "uptime_lo", "uptime_hi"]
    assert wide["reps"].tolist() == [8]
    narrow = served_serial.summary(by="design", metrics=["uptime"], level=0.5)
    assert narrow["uptime"].tolist() == wide["uptime"].tolist()
    assert (narrow["uptime_hi"] - narrow["uptime_lo"] < wide["uptime_hi"] - wide["uptime_lo"]).all()
    with pytest.raises(hs.ConfigError, match=r"ExperimentResult: column must be one of .*'upt'"):
        served_serial.summary(metrics=["upt"])
    with pytest.raises(hs.ConfigError, match=r"column must be one of .*got 'zone'"):
        served_serial.summary(by="zone")


def test_state_only_runs_have_uptime_but_no_request_metrics():
    result = hs.Experiment(one_node, horizon="3h", reps=3).run(executor="serial")
    runs = result.runs
    assert (runs["issued"] == 0).all() and runs["availability"].isna().all()
    summary = result.summary()
    assert math.isnan(summary["availability"].iloc[0]) and math.isnan(summary["nines"].iloc[0])
    assert summary["uptime_lo"].iloc[0] < summary["uptime"].iloc[0] < summary["uptime_hi"].iloc[0]


def test_compare_names_the_designs_it_knows(served_serial):
    with pytest.raises(
        hs.ConfigError, match=r"ExperimentResult.compare: b must be one of \['one'\], got 'two'"
    ):
        served_serial.compare("one", "two")
    with pytest.raises(hs.ConfigError, match=r"compare: a must be one of \['one'\], got 'zero'"):
        served_serial.compare("zero", "one")


def test_compare_pairs_runs_by_grid_point_and_replication():
    result = hs.Experiment(
        {"fast": (one_node, {"ttr": 300.0}), "slow": one_node},
        grid={"ttf": [1800.0, 3600.0]},
        horizon="4h",
        reps=3,
    ).run(executor="serial")
    table = result.compare("fast", "slow", metric="uptime")
    assert table["ttf"].tolist() == [1800.0, 3600.0]
    assert table["pairs"].tolist() == [3, 3]
    runs = result.runs.set_index(["design", "ttf", "rep"])["uptime"]
    for row in table.itertuples():
        diffs = [runs["fast", row.ttf, r] - runs["slow", row.ttf, r] for r in range(3)]
        mean, half = mean_ci(diffs)
        assert (row.diff, row.diff_lo, row.diff_hi) == pytest.approx(
            (mean, mean - half, mean + half), rel=1e-12
        )
        assert row.a == pytest.approx(np.mean([runs["fast", row.ttf, r] for r in range(3)]))


def test_common_random_numbers_make_the_paired_interval_narrow():
    """Paired by seed, the difference between two close designs is far more precise.

    Both designs are ``single_server`` failing every 2 h on average; one repairs in a median
    30 min, the other in 27 min. Replication r of both runs with the same seed, so the server
    fails after the same up-times and its repairs draw the same lognormal variates, scaled by
    0.9 (DESIGN rule 2). The difference in uptime is then about a tenth of a replication's
    downtime share, and its spread across replications of the order of a tenth of that
    share's spread (a little more: shorter repairs shift later failures earlier, so the two
    runs drift apart towards the horizon); Welch's unpaired interval, which treats the
    designs as independent, sees the whole spread of both. Measured on these seeds: paired
    half-width 0.0044 against 0.034 unpaired (ratio 0.13; 0.09 to 0.21 over 20 other seed
    sets). The test asks for less than half.
    """
    result = hs.Experiment(
        {
            "mttr30": ("single_server", {"mttr": 30 * hs.minutes}),
            "mttr27": ("single_server", {"mttr": 27 * hs.minutes}),
        },
        params={"mttf": 2 * hs.hours},
        horizon="3d",
        reps=10,
        seed=1,
    ).run(executor="serial")
    row = result.compare("mttr30", "mttr27", metric="uptime").iloc[0].to_dict()
    paired = (row["diff_hi"] - row["diff_lo"]) / 2
    unpaired = row["unpaired_half_width"]
    assert row["pairs"] == 10
    assert row["diff"] == pytest.approx(row["a"] - row["b"], abs=1e-15)
    assert paired < 0.5 * unpaired, (paired, unpaired)
    # paired, the interval resolves the difference: shorter repairs, more uptime
    assert row["diff_hi"] < 0
    # unpaired, it would not
    assert unpaired > abs(row["diff"])


# -- export ---------------------------------------------------------------------------------


def test_to_csv_round_trips_the_runs_table(served_serial, tmp_path):
    path = served_serial.to_csv(tmp_path / "runs.csv")
    assert path == tmp_path / "runs.csv"
    assert_frame_equal(pd.read_csv(path), served_serial.runs, check_exact=True)


def test_to_parquet_round_trips_the_runs_table(served_serial, tmp_path):
    pytest.importorskip("pyarrow")
    path = served_serial.to_parquet(tmp_path / "runs.parquet")
    assert_frame_equal(pd.read_parquet(path), served_serial.runs, check_exact=True)


def test_to_parquet_without_pyarrow_says_what_to_install(served_serial, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    with pytest.raises(hs.ConfigError, match=r"to_parquet: path must be used with pyarrow"):
        served_serial.to_parquet(tmp_path / "runs.parquet")


# -- statistics -----------------------------------------------------------------------------


@pytest.mark.parametrize("level", [0.8, 0.95, 0.999])
def test_mean_ci_is_scipys_t_interval(level):
    x = np.random.default_rng(7).lognormal(0.0, 1.0, size=9)
    mean, half = mean_ci(x, level)
    lo, hi = stats.t.interval(level, df=x.size - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean == pytest.approx(x.mean(), rel=1e-14)
    assert (mean - half, mean + half) == pytest.approx((lo, hi), rel=1e-12)
    # NaN (a replication with nothing to measure) is left out
    assert mean_ci([*x, math.nan], level) == (mean, half)


@pytest.mark.parametrize("level", [0.8, 0.95, 0.999])
@pytest.mark.parametrize("sizes", [(6, 6), (5, 12)])
def test_welch_half_width_is_scipys_welch_interval(level, sizes):
    rng = np.random.default_rng(8)
    a = rng.normal(1.0, 1.0, size=sizes[0])
    b = rng.normal(0.5, 3.0, size=sizes[1])
    lo, hi = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
    assert welch_half_width(a, b, level) == pytest.approx((hi - lo) / 2, rel=1e-12)
    assert welch_half_width([*a, math.nan], b, level) == welch_half_width(a, b, level)


def test_welch_half_width_edge_cases():
    assert welch_half_width([1.0], [1.0, 2.0]) == math.inf
    assert welch_half_width([1.0, 2.0], [math.nan, 3.0]) == math.inf
    assert welch_half_width([1.0, 1.0], [2.0, 2.0]) == 0.0


def test_design_params_win_over_experiment_params_and_clash_with_the_grid():
    """Experiment-wide params are defaults; a design's own are more specific; the grid may not
    repeat a design's own parameter."""
    exp = hs.Experiment(
        {"fast": ("single_server", {"mttr": 60.0}), "plain": "single_server"},
        params={"mttr": 600.0}, horizon="1h", reps=1,
    )  # fmt: skip
    assert [p.params["mttr"] for p in exp.points] == [60.0, 600.0]
    with pytest.raises(hs.ConfigError, match=r"design 'fast': params must be names not also in"):
        hs.Experiment({"fast": ("single_server", {"mttr": 60.0})}, grid={"mttr": [1.0, 2.0]},
                      horizon="1h", reps=1)  # fmt: skip


def test_unpicklable_model_is_a_clear_error_before_any_process_starts():
    def build(sim, **params):  # local: cannot be pickled
        return hs.Server(sim, "web")

    exp = hs.Experiment(build, horizon="1h", reps=2)
    with pytest.raises(hs.ConfigError, match=r"cannot be sent to worker processes"):
        exp.run(executor="processes", workers=2)
    assert len(exp.run(executor="serial")) == 2


def test_target_parse_names_integers():
    with pytest.raises(hs.ConfigError, match=r"Target: max must be an integer, got '2.5'"):
        Target.parse("uptime:max=2.5")


def test_all_runs_failing_still_gives_typed_tables():
    def boom(sim, **params):
        raise RuntimeError("no")

    with pytest.warns(hs.experiment.RunFailed):
        result = hs.Experiment(boom, horizon="1h", reps=2).run(executor="serial")
    assert len(result.runs) == 0 and len(result.failures) == 2
    assert "availability" in result.runs.columns


def test_save_writes_the_runs_the_summary_and_the_settings(tmp_path):
    import json

    exp = hs.Experiment(one_node, grid={"ttf": [1800.0, 3600.0]}, horizon="1h", reps=2)
    result = exp.run(executor="serial")
    paths = result.save(tmp_path / "out", "study", extra={"note": "x"})
    assert [p.name for p in paths] == ["study.csv", "study_summary.csv", "study.json"]
    assert len(pd.read_csv(paths[0])) == 4
    assert set(pd.read_csv(paths[1])["ttf"]) == {1800.0, 3600.0}
    settings = json.loads(paths[2].read_text())
    assert settings["replications"] == 2 and settings["note"] == "x"
    assert settings["grid"] == {"ttf": [1800.0, 3600.0]}
