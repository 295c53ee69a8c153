"""The README's example runs as written and prints what it promises."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs(capsys):
    """The ten-line example: one server, failures, an open loop; summary printed."""
    example = python_blocks()[0]
    namespace = {}
    exec(compile(example, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    for column in ("availability", "uptime", "incidents", "mttr", "throughput", "latency_p99"):
        assert column in out
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
