"""``python -m bench``: the benchmark suite runs every case and prints one table.

Smoke checks only, at ``--tiny`` sizes (seconds): the table has a row per comparison and
every ratio is a positive finite number. Timings are never asserted (they depend on the
machine and on whatever else runs on it). Each check runs the suite in a fresh process
from the repository root, as a user would.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    "mmc",
    "balancer",
    "state",
    "memory",
    "experiment",
    "rare",
    "fastforward",
    "failover",
    "linearizability",
]


def run(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "bench", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def rows(stdout: str) -> dict[str, list[str]]:
    """The table's rows by case: ``{case: [hasim, reference, ratio, spread, check]}``."""
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    table = {}
    for line in lines[2:]:  # after the header and the rule
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[cells[0]] = cells[1:]
    return table


def ratio(cells: list[str]) -> float:
    return float(cells[2].replace(",", ""))


def test_the_tiny_suite_prints_a_row_per_comparison_with_finite_ratios():
    done = run("--tiny")
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    assert sorted({case.split(":")[0] for case in table}) == sorted(CASES)
    assert len([case for case in table if case.startswith("mmc:")]) == 3  # scalar, batch, ciw
    for case, cells in table.items():
        if "ciw not installed" in cells[1]:
            continue  # the one row allowed without a ratio
        value = ratio(cells)
        assert math.isfinite(value) and value > 0, (case, cells)
    assert "ratio:" in done.stdout and "spread:" in done.stdout


def test_only_runs_the_chosen_cases():
    done = run("--tiny", "--only", "state,rare")
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    assert list(dict.fromkeys(case.split(":")[0] for case in table)) == ["state", "rare"]
    rare = next(cells for case, cells in table.items() if case.startswith("rare"))
    assert "closed form" in rare[4] and ratio(rare) > 1  # naive simulation costs more


def test_without_ciw_the_case_says_how_to_install_it_instead_of_failing():
    hide_ciw = (
        "import sys; sys.modules['ciw'] = None\n"  # makes `import ciw` raise ImportError
        "from bench.__main__ import main; main(['--tiny', '--only', 'mmc'])"
    )
    done = run(code=hide_ciw)
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    assert table["mmc: M/M/3 vs ciw"][1] == "ciw not installed (pip install ciw)"
    assert table["mmc: M/M/3 vs ciw"][2] == "-"
    assert ratio(table["mmc: M/M/3 vs SimPy scalar"]) > 0
    assert "ciw not installed" in done.stdout.splitlines()[1]  # the versions line


def test_an_unknown_case_is_refused_with_the_known_ones():
    done = run("--only", "mmc,nope")
    assert done.returncode == 2
    assert "--only takes cases among mmc, balancer, state, memory, experiment, rare" in done.stderr
