"""The README's example runs as written and prints what it promises."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def toml_blocks():
    return re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs(capsys):
    """The ten-line example: one server, failures, an open loop; summary printed."""
    example = python_blocks()[0]
    namespace = {}
    exec(compile(example, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    shown = re.findall(r"```text\n( +window.*?)```", README.read_text(), flags=re.S)[0]
    assert out == shown  # the README shows what the example prints, digit for digit
    s = namespace["result"].summary()
    assert s["issued"] == s["ok"] + s["failed"] + s["in_flight"]
    assert 0.9 < s["availability"] < 1.0


def test_readme_experiment_example_runs():
    """The experiment example, shortened (6 h, 3 reps, serial): tables of the promised shape."""
    import hasim as hs

    code = python_blocks()[1]
    for old, new in [("exp.run()", "exp.run(executor='serial')"), ("reps=10,", "reps=3,"),
                     ('horizon="3d"', 'horizon="6h"')]:  # fmt: skip
        assert old in code
        code = code.replace(old, new)
    namespace = {"hs": hs}
    exec(compile(code, str(README), "exec"), namespace)
    result = namespace["result"]
    assert len(result.runs) == 2 * 2 * 3  # designs x workers x reps
    summary = result.summary()
    assert set(summary["design"]) == {"baseline", "fast repair"} and set(summary["workers"]) == {
        4,
        8,
    }
    assert (summary["availability_lo"] <= summary["availability"]).all()
    assert len(result.compare("fast repair", "baseline", metric="unavailability")) == 2


def _build_fault_example():
    code = python_blocks()[2]
    return code[: code.index("sim = hs.Simulation(seed=3)")]


def test_readme_fault_example_runs_and_prints_what_it_shows(capsys):
    """The faults example, as written: its printed lines are the README's output block."""
    code = python_blocks()[2]
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    shown = re.findall(r"```text\n(3 zones.*?)```", README.read_text(), flags=re.S)[0]
    assert printed[:2] == shown.splitlines()[:2]
    spread, single = namespace["spread"], namespace["single"]
    # The zone outage and the partition are in both runs, at the same times.
    for result in (spread, single):
        faults = result.faults()
        assert ((faults["kind"] == "crash") & (faults["target"] == "az1")).any()
        assert ((faults["kind"] == "partition") & (faults["start"] == 2 * 86400)).any()
    assert single.summary()["uptime"] < spread.summary()["uptime"]


def test_readme_toml_schedule_is_the_python_one():
    """The TOML block reads into the same actions as the Python schedule of the example."""
    import hasim as hs

    toml = next(b for b in toml_blocks() if "[[fault]]" in b)
    namespace = {"hs": hs}
    exec(compile(_build_fault_example(), str(README), "exec"), namespace)
    sim = hs.Simulation(seed=3)
    namespace["build"](sim, zones=["az1", "az2", "az3"])
    chaos = hs.Chaos.from_toml(sim, toml)
    assert chaos.actions == (
        hs.ZoneOutage("az1", at="1d", duration="30m"),
        hs.Partition(["web1"], ["lb"], at="2d", duration="10m"),
    )


def test_readme_availability_over_years_prints_what_it_shows(capsys):
    """The structure example: lean engine, exact RBD and importance, monthly SLO attainment."""
    code = python_blocks()[3]
    assert "hs.interval_availability" in code and "design.importance" in code
    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    shown = re.findall(r"```text\n(uptime .*?)```", README.read_text(), flags=re.S)[0]
    assert out == shown
    summary, exact = namespace["summary"], namespace["exact"]
    # 1000 years of ~2,000 outages: the uptime is within a few 1e-6 of the exact value.
    assert abs(summary["uptime"] - exact) < 2e-5
    slo = namespace["slo"]
    assert slo["lo"] <= slo["p"] <= slo["hi"]


def _design_file(tmp_path):
    path = tmp_path / "web.toml"
    path.write_text(next(b for b in toml_blocks() if "[design]" in b))
    return path


def test_readme_design_file_checks_as_shown_and_refuses_a_bad_value(tmp_path):
    """The design-file block is valid (``hasim check`` prints the start of the README's
    comment), and the README's one-line error is what ``workers = 0`` gives, word for word."""
    path = _design_file(tmp_path)
    text = README.read_text()
    shown = re.search(r"hasim check web\.toml +# (web\.toml: ok: .*?); \.\.\.", text).group(1)
    result = subprocess.run(
        [sys.executable, "-m", "hasim.cli", "check", str(path)],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(shown.replace("web.toml", str(path), 1))
    error = re.search(r"```text\n(hasim: web\.toml:\d+: .*?)\n```", text).group(1)
    source = path.read_text()
    assert "workers = 8" in source
    path.write_text(source.replace("workers = 8", "workers = 0"))
    result = subprocess.run(
        [sys.executable, "-m", "hasim.cli", "check", "web.toml"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.strip() == error


def test_readme_design_file_runs_like_a_model(tmp_path):
    """The design file runs through an Experiment (short: 2 replications of 1 h)."""
    import hasim as hs

    design = hs.load_design(_design_file(tmp_path))
    assert design.experiment["reps"] == 8
    sim = hs.Simulation(seed=1)
    lb = design.build(sim, servers=4)
    assert [c for c in ("web0", "web3", "lb") if sim[c] is not None] == ["web0", "web3", "lb"]
    assert lb is sim["lb"]
    exp = hs.Experiment(str(_design_file(tmp_path)), workload={"rate": 5}, horizon="1h", reps=2)
    summary = exp.run(executor="serial").summary()
    assert summary["availability"].between(0.0, 1.0).all()
