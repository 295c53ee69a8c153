"""The README's example runs as written and prints what it promises."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_runs(capsys):
    """The ten-line example: one server, failures, an open loop; summary printed."""
    (example,) = python_blocks()
    namespace = {}
    exec(compile(example, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    for column in ("availability", "uptime", "incidents", "mttr", "throughput", "latency_p99"):
        assert column in out
    s = namespace["result"].summary()
    assert s["issued"] == s["ok"] + s["failed"] + s["in_flight"]
    assert 0.9 < s["availability"] < 1.0
