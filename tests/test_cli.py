"""The ``hasim`` command line: run, compare, sweep, models; its output and its errors.

``main(argv)`` is called directly and returns the exit code; the runs are tiny
(six simulated hours, a request every two seconds, a failure every two hours
so that incidents happen) and serial (``--workers 1``).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap

import pytest

from hasim.cli import METRICS, main, parse_value

TINY = ["--horizon", "6h", "--reps", "3", "--rate", "0.5", "--workers", "1", "--set", "mttf=2h"]


def run_cli(capsys, *argv):
    """``(exit code, stdout, stderr)`` of ``hasim ARGV``."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def sturdy(tmp_path):
    """A model file: single_server's design with hardware that fails half as often."""
    path = tmp_path / "sturdy.py"
    path.write_text(
        textwrap.dedent(
            '''
            """single_server with twice the time to failure."""
            import hasim as hs
            from hasim.models import single_server

            PARAMS = dict(single_server.PARAMS)

            def build(sim, **params):
                params = {**PARAMS, **params}
                params["mttf"] *= 2
                return single_server.build(sim, **params)
            '''
        )
    )
    return path


@pytest.fixture
def flaky(tmp_path):
    """A model file whose runs with an odd seed raise an hour into the run."""
    path = tmp_path / "flaky.py"
    path.write_text(
        textwrap.dedent(
            '''
            """A server whose odd-seeded runs crash (a bug in a model, for the CLI)."""
            import hasim as hs

            PARAMS = {"mttf": 30 * hs.days}

            def build(sim, **params):
                p = {**PARAMS, **params}
                web = hs.Server(sim, "web", workers=2, service_time=0.005,
                                failures=hs.Failures(ttf=hs.Exponential(mean=p["mttf"]),
                                                     ttr=hs.Exponential(mean=600)))
                sim.up_when(lambda: web.up)
                if sim.seed % 2:
                    sim.call_later(3600, lambda _: 1 / 0)
                return web
            '''
        )
    )
    return path


# -- run ------------------------------------------------------------------------------------------


def test_run_prints_a_table(capsys):
    """One line per design point under a caption that says what was run."""
    code, out, err = run_cli(capsys, "run", "single_server", *TINY)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("3 replications of 6 h (warm-up 0 s), open loop 0.5 req/s, seed 0")
    header = lines[2].split()
    for column in ("design", "reps", "availability", "nines", "uptime", "incidents", "MTTR"):
        assert column in header
    assert "throughput/s" in lines[2] and "p99 latency" in lines[2]
    (row,) = lines[3:]
    assert row.split()[:2] == ["single_server", "3"]
    assert "±" in row and " min" in row  # an interval, and an MTTR in minutes
    assert max(map(len, lines)) <= 120


def test_json_has_one_object_per_point_with_means_inside_their_intervals(capsys):
    """--json: {"model", "params", "reps", "metrics": {name: {"mean", "ci95"}}} per point."""
    code, out, _ = run_cli(capsys, "run", "single_server", *TINY, "--json")
    assert code == 0
    (obj,) = json_lines(out)
    assert set(obj) == {"model", "params", "reps", "metrics"}
    assert obj["model"] == "single_server"
    assert obj["params"] == {"mttf": 7200.0}  # the duration typed as 2h, in seconds
    assert obj["reps"] == 3
    assert list(obj["metrics"]) == list(METRICS)
    for name, m in obj["metrics"].items():
        assert set(m) == {"mean", "ci95"} and len(m["ci95"]) == 2
        lo, hi = m["ci95"]
        if None not in (m["mean"], lo, hi):
            assert lo <= m["mean"] <= hi, name
    assert obj["metrics"]["incidents"]["mean"] > 0
    assert 0 < obj["metrics"]["availability"]["mean"] < 1


def test_json_uses_null_where_a_metric_is_undefined(capsys):
    """No traffic: availability and latency are undefined (null); uptime is measured."""
    code, out, _ = run_cli(
        capsys, "run", "single_server", "--horizon", "6h", "--reps", "2", "--workers", "1",
        "--no-traffic", "--json",
    )  # fmt: skip
    assert code == 0
    (obj,) = json_lines(out)
    assert obj["metrics"]["availability"] == {"mean": None, "ci95": [None, None]}
    assert obj["metrics"]["latency_p99"]["mean"] is None
    assert obj["metrics"]["uptime"]["mean"] == 1.0
    assert obj["metrics"]["throughput"]["mean"] == 0.0


def test_csv_has_one_row_per_run(capsys, tmp_path):
    path = tmp_path / "runs.csv"
    code, _, _ = run_cli(capsys, "run", "single_server", *TINY, "--csv", str(path))
    assert code == 0
    rows = list(csv.DictReader(path.open()))
    assert [(r["design"], r["rep"], r["seed"]) for r in rows] == [
        ("single_server", str(i), str(i)) for i in range(3)
    ]
    assert {"availability", "uptime", "mttr", "throughput"} <= set(rows[0])


def test_out_makes_a_rerun_resume(capsys, tmp_path):
    """A second identical command finds every run in --out and writes no run file."""
    out = tmp_path / "out"
    code, first, _ = run_cli(capsys, "run", "single_server", *TINY, "--out", str(out))
    assert code == 0
    files = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    assert len(files) == 3
    code, again, _ = run_cli(capsys, "run", "single_server", *TINY, "--out", str(out))
    assert code == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()} == files
    assert again == first
    fresh = run_cli(capsys, "run", "single_server", *TINY, "--json")[1]
    resumed = run_cli(capsys, "run", "single_server", *TINY, "--out", str(out), "--json")[1]
    assert resumed == fresh  # same numbers, same key order


def test_a_closed_loop_with_timeout_and_warmup(capsys):
    code, out, err = run_cli(
        capsys, "run", "single_server", "--horizon", "2h", "--warmup", "10m", "--reps", "2",
        "--users", "3", "--think", "2s", "--timeout", "250ms", "--workers", "1",
    )  # fmt: skip
    assert code == 0, err
    assert "closed loop 3 users" in out and "timeout 250 ms" in out and "warm-up 10 min" in out


def test_target_adds_replications_until_met(capsys):
    code, out, _ = run_cli(
        capsys, "run", "single_server", "--horizon", "1h", "--rate", "0.5", "--workers", "1",
        "--target", "throughput:rel=0.5,min=2,max=4", "--json",
    )  # fmt: skip
    assert code == 0
    (obj,) = json_lines(out)
    assert 2 <= obj["reps"] <= 4


def test_failed_runs_exit_1_after_the_table(capsys, flaky):
    """Runs that raise are listed on stderr; the others are still summarised."""
    code, out, err = run_cli(
        capsys, "run", str(flaky), "--horizon", "2h", "--reps", "3", "--rate", "0.5",
        "--workers", "1",
    )  # fmt: skip
    assert code == 1
    assert out.splitlines()[3].split()[:2] == ["flaky", "2"]
    assert "1 of 3 runs failed" in err and "ZeroDivisionError" in err and "seed 1" in err


# -- compare and sweep ----------------------------------------------------------------------------


def test_compare_prints_both_designs_and_the_paired_difference(capsys, sturdy):
    code, out, err = run_cli(capsys, "compare", "single_server", str(sturdy), *TINY)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[3].startswith("single_server") and lines[4].startswith("sturdy")
    assert "paired difference in availability" in out
    (diff,) = [line for line in lines if line.strip().startswith("single_server - sturdy:")]
    assert "over 3 pairs" in diff and "[" in diff


def test_compare_json_labels_points_by_model(capsys, sturdy):
    code, out, _ = run_cli(capsys, "compare", "single_server", str(sturdy), *TINY, "--json")
    assert code == 0
    assert [o["model"] for o in json_lines(out)] == ["single_server", "sturdy"]


def test_sweep_runs_every_combination(capsys):
    """Grid values show as typed; --json has one object per grid point."""
    argv = ["sweep", "single_server", *TINY, "--grid", "mttr=10m,1h", "--grid", "workers=1,4"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    header, *rows = out.splitlines()[2:]
    assert header.split()[:4] == ["design", "mttr", "workers", "reps"]
    assert [r.split()[1:3] for r in rows] == [["10m", "1"], ["10m", "4"], ["1h", "1"], ["1h", "4"]]
    code, out, _ = run_cli(capsys, *argv, "--json")
    params = [o["params"] for o in json_lines(out)]
    assert params == [
        {"mttf": 7200.0, "mttr": mttr, "workers": w} for mttr in (600.0, 3600.0) for w in (1, 4)
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "single_server"],
        ["compare", "single_server", "STURDY"],
        ["sweep", "single_server", "--grid", "mttr=10m,1h"],
    ],
)
def test_plot_writes_a_picture_of_the_result(capsys, tmp_path, sturdy, argv):
    """--plot FILE: the availability per design (run, compare) or against the grid (sweep)."""
    path = tmp_path / "result.png"
    argv = [str(sturdy) if a == "STURDY" else a for a in argv]
    code, out, err = run_cli(capsys, *argv, *TINY, "--plot", str(path))
    assert code == 0, err
    assert f"wrote the plot to {path}" in err
    assert "availability" in out  # the table is printed as without --plot
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


# -- errors: one line, exit 2 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nope"], "a model file or one of the ready models ("),
        (["run", "single_server", "--set", "nope=1"], "PARAMS (mttf, mttr,"),
        (["run", "single_server", "--set", "workers=0"], "workers must be an integer >= 1"),
        (["run", "single_server", "--horizon", "7x"], "argument --horizon: expected a duration"),
        (["run", "single_server", "--timeout", "-1s"], "argument --timeout"),
        (["run", "single_server", "--target", "nope:rel=0.1"], "metric must be one of"),
        (["run", "single_server", "--target", "availability:x=1"], "option must be one of"),
        (["run", "single_server", "--reps", "0"], "argument --reps: expected an integer >= 1"),
        (["run", "single_server", "--rate", "fast"], "argument --rate: expected a number > 0"),
        (["run", "single_server", "--set", "mttf"], "argument --set: expected NAME=VALUE"),
        (["run", "single_server", "--think", "1s"], "--think applies to a closed loop"),
        (["run", "single_server", "--reps", "2", "--target", "ok:rel=1"], "not allowed with"),
        (["run", "single_server", "--horizon", "1h", "--warmup", "2h"], "horizon must be"),
        (["compare", "single_server"], "two or more models"),
        (["compare", "single_server", "single_server"], "distinct models"),
        (["sweep", "single_server"], "required: --grid"),
        (["sweep", "single_server", "--grid", "mttr=1h,60m"], "repeats a value"),
        (["sweep", "single_server", "--grid", "x=1", "--set", "x=2"], "both --set and --grid"),
        (["run", "single_server", "--plot", "a.nope"], "--plot: FILE must end in one of"),
        (["run", "single_server", "--plot", "no/such/dir/a.png"], "--plot: the folder of"),
        ([], "required: COMMAND"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("hasim") and ": error: " in err
    assert message in err


def test_help_exits_0(capsys):
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0
    for option in (
        "--set",
        "--horizon",
        "--target",
        "--dask",
        "--json",
        "--csv",
        "--out",
        "--plot",
    ):
        assert option in out


# -- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8", 8),
        ("0.6", 0.6),
        ("None", None),
        ("none", None),
        ("true", True),
        ("inf", float("inf")),
        ("[1, 2]", [1, 2]),
        ("20m", 1200.0),
        ("250ms", 0.25),
        ("1e3", 1000.0),
        ("az2", "az2"),
        ("'20m'", "20m"),
    ],
)
def test_parse_value(text, value):
    """Literals first, then durations, else the text."""
    assert parse_value(text) == value


# -- models ---------------------------------------------------------------------------------------


def test_models_lists_names_descriptions_and_defaults(capsys, sturdy):
    code, out, _ = run_cli(capsys, "models")
    assert code == 0
    assert "\nsingle_server  One server that fails and is repaired" in "\n" + out
    code, out, _ = run_cli(capsys, "models", "single_server")
    assert code == 0 and out.startswith("single_server  One server that fails and is repaired")
    params = {line.split()[0]: line.split()[1] for line in out.splitlines() if line[:4] == "    "}
    assert params["mttf"] == "30d" and params["mttr"] == "20min" and params["workers"] == "8"
    assert params["service_time"] == "5ms" and params["queue_limit"] == "None"
    code, out, _ = run_cli(capsys, "models", str(sturdy))
    assert code == 0 and out.startswith("sturdy  single_server with twice the time to failure.")


def test_the_command_runs_outside_pytest():
    """``python -m hasim.cli`` (what the ``hasim`` script calls) works in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-m", "hasim.cli", "models"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "single_server" in done.stdout and "mttf" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "hasim.cli", "run", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_validate_prints_the_cases_and_the_coverage_line(capsys):
    """Two cheap cases in this process: the table, one verdict line each on stderr, exit 0."""
    code, out, err = run_cli(
        capsys, "validate", "--case", "uptime-exp", "--case", "md1-link", "--workers", "1"
    )
    assert code == 0
    assert out.splitlines()[0].startswith("case") and "PASSED: 2 cases" in out
    assert "uptime-exp: pass" in err and "md1-link: pass" in err
    code, out, _ = run_cli(capsys, "validate", "--case", "uptime-exp", "--markdown")
    assert code == 0 and out.startswith("# Validation") and "| uptime-exp |" in out


def test_validate_refuses_an_unknown_case(capsys):
    code, out, err = run_cli(capsys, "validate", "--case", "no-such-case")
    assert code == 2 and out == ""
    assert "validate: cases must be names of cases" in err
