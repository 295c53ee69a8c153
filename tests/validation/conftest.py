"""Validation suite: simulation against closed forms, within confidence intervals.

The method (replications, 99.9 % Student-t intervals, precision bounds, quick and slow
variants) is described in ``stats.py``. With ``-v`` this conftest prints, after the run, a
table of every check made: the simulated mean, its half-width, the theory and the error.
"""

from __future__ import annotations

from .stats import RECORDS


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the table of measured values against theory (only with ``-v``)."""
    if config.get_verbosity() < 1 or not RECORDS:
        return
    tr = terminalreporter
    tr.section("validation: simulated vs theory (99.9 % t-intervals)")
    tr.write_line(f"{'quantity':<70} {'simulated':>11} {'+-':>9} {'theory':>11} {'error':>8}")
    for what, mean, half, theory, rel in RECORDS:
        error = (mean - theory) / theory
        flag = "" if abs(mean - theory) <= half and half <= rel * abs(theory) else "  FAIL"
        tr.write_line(
            f"{what[:70]:<70} {mean:>11.5g} {half:>9.2g} {theory:>11.5g} {error:>+8.2%}{flag}"
        )
