"""Resuming an experiment from its output directory: nothing lost, nothing computed twice.

With ``out=DIR`` every finished run is written to ``DIR/runs/KEY.json`` as soon as it ends
(to a temporary file first, then renamed, so a run file is whole or absent), failed runs to
``DIR/failed/``, and the settings to ``DIR/experiment.json``. Rerunning the same experiment
skips the runs on disk, so a killed job loses at most the runs in progress, and the result
is the table an uninterrupted run gives.

Runs computed in this process are counted by wrapping ``execute`` where the runner calls it
(``executor="serial"`` runs it here); files are compared by inode and ``st_mtime_ns``, which
change if a file is rewritten.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

import hasim as hs
import hasim.experiment.runner as runner_module
from hasim.experiment import RunFailed

JOB = Path(__file__).parent / "data" / "resume_job.py"
_job = runpy.run_path(str(JOB))  # its definitions, not its __main__ block
make_experiment = _job["make_experiment"]
REPS = _job["REPS"]


def quick(reps: int = 3, name: str = "web", **kwargs) -> hs.Experiment:
    """A state-only experiment (milliseconds per run) for the tests that need no kill."""
    settings = dict(params={"mttf": 3600.0, "mttr": 600.0}, horizon="10h", reps=reps, seed=3)
    settings.update(kwargs)
    return hs.Experiment({name: "single_server"}, **settings)


#: Design points ``fragile`` cannot build (patched by a test).
BROKEN: set[int] = set()


def fragile(sim, x=1):
    """A single server that fails to build while ``x`` is in ``BROKEN``."""
    if x in BROKEN:
        raise RuntimeError(f"x={x} is broken today")
    from hasim.models import single_server

    return single_server.build(sim, mttf=3600.0)


@contextlib.contextmanager
def counting():
    """``with counting() as keys``: the keys of the runs computed in this process meanwhile."""
    keys: list[str] = []
    execute = runner_module.execute

    def count(task):
        keys.append(task.key)
        return execute(task)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner_module, "execute", count)
        yield keys


def files(folder: Path) -> dict[str, tuple[int, int]]:
    """``{name: (inode, mtime_ns)}`` of the files in ``folder``: changes if one is rewritten."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def temporary_files(out: Path) -> list[Path]:
    """Leftovers of writes that did not finish (``write_json_atomic``'s ``.NAME.*.tmp``)."""
    return [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def assert_same_table(resumed, whole) -> None:
    """The same rows, columns and values (exactly), and the columns in the same order."""
    assert_frame_equal(resumed, whole, check_exact=True, check_like=True)
    assert list(resumed.columns) == list(whole.columns), (
        "the column order depends on which runs were read back from disk"
    )


def test_a_killed_experiment_resumes_without_losing_or_repeating_runs(tmp_path):
    """Kill a job after two of its six runs (SIGKILL: no clean-up), rerun it to the end.

    The rerun computes exactly the four missing runs, leaves the two files written before
    the kill untouched, leaves no temporary file, and gives the table of an uninterrupted
    run (here in another directory, and in processes).
    """
    out = tmp_path / "killed"
    runs = out / "runs"
    job = subprocess.Popen(
        [sys.executable, str(JOB), str(out)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60.0
        while not (runs.is_dir() and len(list(runs.glob("*.json"))) >= 2):
            if job.poll() is not None:
                pytest.fail(f"the job ended by itself ({job.returncode}): {job.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("the job wrote fewer than 2 runs in 60 s")
            time.sleep(0.005)
        job.send_signal(signal.SIGKILL)
    finally:
        job.kill()
        job.communicate()
    assert job.returncode == -signal.SIGKILL
    before = files(runs)
    assert 2 <= len(before) < REPS, "the runs are too quick to kill the job part-way"

    with counting() as keys:
        result = make_experiment().run(executor="serial", out=out)

    after = files(runs)
    assert len(after) == REPS and result.failures.empty
    assert {name: after[name] for name in before} == before, "a finished run was rewritten"
    assert len(keys) == REPS - len(before)
    assert {f"{key}.json" for key in keys} == set(after) - set(before)
    assert temporary_files(out) == []
    whole = make_experiment().run(executor="processes", workers=2, out=tmp_path / "whole")
    assert_same_table(result.runs, whole.runs)


def test_resuming_with_more_reps_reuses_the_first_runs(tmp_path):
    """``reps`` is not part of the settings: asking for more adds replications 3 and 4."""
    out = tmp_path / "out"
    first = quick(reps=3).run(executor="serial", out=out)
    before = files(out / "runs")
    with counting() as keys:
        more = quick(reps=5).run(executor="serial", out=out)
    exp = quick(reps=5)
    assert keys == [exp.task(exp.points[0], rep).key for rep in (3, 4)]
    after = files(out / "runs")
    assert {name: after[name] for name in before} == before
    assert_same_table(more.runs.iloc[:3], first.runs)
    assert_same_table(more.runs, quick(reps=5).run(executor="serial").runs)
    # and fewer reps read back just those
    with counting() as keys:
        fewer = quick(reps=2).run(executor="serial", out=out)
    assert keys == []
    assert_same_table(fewer.runs, first.runs.iloc[:2])


@pytest.mark.parametrize(
    "change, changed",
    [
        ({"params": {"mttf": 3600.0, "mttr": 900.0}}, "params"),
        ({"horizon": "11h"}, "horizon"),
        ({"warmup": "1h"}, "warmup"),
        ({"seed": 4}, "seed"),
        ({"workload": {"rate": 1.0}}, "workload"),
        ({"grid": {"workers": [1, 2]}}, "grid"),
        ({"record": "requests"}, "record"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_out_directory_of_another_experiment_is_refused(tmp_path, change, changed):
    """Runs of other settings are never mixed in: the rerun refuses before running anything."""
    out = tmp_path / "out"
    quick(reps=2).run(executor="serial", out=out)
    before = files(out / "runs")
    manifest = (out / "experiment.json").read_text()
    with (
        counting() as keys,
        pytest.raises(
            hs.ConfigError,
            match=rf"Experiment: out directory '.*out' holds an experiment with other settings "
            rf"\({changed}\); use another directory or delete it",
        ),
    ):
        quick(reps=2, **change).run(executor="serial", out=out)
    assert keys == []
    assert files(out / "runs") == before
    assert (out / "experiment.json").read_text() == manifest


def test_another_design_name_is_refused(tmp_path):
    out = tmp_path / "out"
    quick(reps=1).run(executor="serial", out=out)
    with pytest.raises(hs.ConfigError, match=r"other settings \(designs\)"):
        quick(reps=1, name="server").run(executor="serial", out=out)


def test_failed_runs_are_kept_apart_and_retried_on_resume(tmp_path, monkeypatch):
    """A run that raised goes to ``failed/`` (with its traceback), not ``runs/``; a rerun
    computes only it again, and once it succeeds its failure file is removed."""
    out = tmp_path / "out"
    exp = hs.Experiment(fragile, grid={"x": [1, 2, 3]}, horizon="10h", reps=2)
    monkeypatch.setattr(sys.modules[__name__], "BROKEN", {2})
    with pytest.warns(RunFailed):
        broken = exp.run(executor="serial", out=out)
    assert len(broken.runs) == 4 and len(broken.failures) == 2
    failed = {p.stem: json.loads(p.read_text()) for p in (out / "failed").glob("*.json")}
    assert sorted((r["params"]["x"], r["rep"], r["ok"]) for r in failed.values()) == [
        (2, 0, False),
        (2, 1, False),
    ]
    assert all("x=2 is broken today" in r["traceback"] for r in failed.values())
    before = files(out / "runs")
    assert len(before) == 4

    monkeypatch.setattr(sys.modules[__name__], "BROKEN", set())
    with counting() as keys:
        fixed = exp.run(executor="serial", out=out)
    assert sorted(keys) == sorted(failed)
    assert list((out / "failed").iterdir()) == []
    after = files(out / "runs")
    assert len(after) == 6 and {name: after[name] for name in before} == before
    assert_same_table(fixed.runs, exp.run(executor="serial").runs)
    assert fixed.failures.empty


def test_a_write_cut_short_by_a_kill_is_cleaned_up_on_resume(tmp_path):
    """A kill between the write of the temporary file and its rename leaves
    ``runs/.KEY.json.XXXX.tmp``. The resume ignores it (the run is computed again) and
    removes it: an output directory does not collect debris, however often it is resumed.

    Library bug (reported): ``RunStore`` never removes such leftovers.
    """
    out = tmp_path / "out"
    quick(reps=2).run(executor="serial", out=out)
    exp = quick(reps=3)
    key = exp.task(exp.points[0], 2).key
    debris = out / "runs" / f".{key}.json.k1ll3d.tmp"
    debris.write_text('{"key": "' + key + '", "metrics": {"avail')  # cut mid-write
    with counting() as keys:
        result = exp.run(executor="serial", out=out)
    assert keys == [key]
    assert_same_table(result.runs, exp.run(executor="serial").runs)
    assert temporary_files(out) == []


def test_resuming_with_the_designs_in_another_order_gives_a_fresh_table(tmp_path):
    """The settings compare designs as a mapping, so ``{"a", "b"}`` and ``{"b", "a"}`` are
    the same experiment and the second reuses the runs of the first. Its table must still be
    the one it would give alone: design ``b`` is now point 0 and comes first.

    Library bug (reported): the ``point`` of a run read back from disk is the one stored by
    the first experiment, so the resumed table keeps ``a`` as point 0 and first.
    """
    a = ("single_server", {"mttr": 600.0})
    b = ("single_server", {"mttr": 900.0})
    out = tmp_path / "out"
    hs.Experiment({"a": a, "b": b}, horizon="10h", reps=2).run(executor="serial", out=out)
    swapped = hs.Experiment({"b": b, "a": a}, horizon="10h", reps=2)
    resumed = swapped.run(executor="serial", out=out)
    assert_same_table(resumed.runs, swapped.run(executor="serial").runs)


def test_an_experiment_with_a_function_workload_resumes_in_another_process(tmp_path, monkeypatch):
    """A workload may be a function ``(sim, entry)``. Its identity in the settings and in
    the run keys must not change from one process to the next, or a job restarted after a
    crash could never resume (and workers started by spawn, the default on macOS and from
    Python 3.14 on Linux, would file their runs under keys the parent never looks up).

    Library bug (reported): the settings and ``Task.key`` use ``repr(workload)``, which for
    a function is ``<function trickle at 0x7f...>``, a memory address: the rerun is refused
    with "other settings (workload)".
    """
    data = JOB.parent
    out = tmp_path / "out"
    setup = f"import sys; sys.path.insert(0, {str(data)!r}); import resume_job as job; "
    subprocess.run(
        [
            sys.executable,
            "-c",
            setup + f"job.make_experiment(2, job.trickle).run(executor='serial', out={str(out)!r})",
        ],
        check=True,
        cwd=tmp_path,
        capture_output=True,
    )
    assert len(list((out / "runs").glob("*.json"))) == 2
    monkeypatch.syspath_prepend(str(data))
    job = importlib.import_module("resume_job")
    with counting() as keys:
        resumed = job.make_experiment(2, job.trickle).run(executor="serial", out=out)
    assert keys == []
    assert resumed.runs["issued"].gt(0).all()
