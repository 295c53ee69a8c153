"""Run the validation cases to their stated precision, judge them, and check coverage.

Method. A case's replications use seeds derived from the case's name (so the
cases are independent of each other, which the coverage check below needs) and
its index ``r``. Each replication returns one number; their mean has the 95 %
Student-t interval ``mean +- t s / sqrt(n)``. The suite runs a first batch of
replications for every case, then further batches for the cases whose half-width
is still wider than their stated precision (``rel`` of the theory), up to a cap.

Verdicts.

- ``pass``: the 95 % interval covers the theory, at the stated precision.
- ``miss``: it does not, but the 99.9 % interval does: one case in twenty misses
  by chance; the coverage check decides whether there are too many.
- ``FAIL``: the theory is outside even the 99.9 % interval (more than 3.3
  standard errors away), or the precision was not reached: a wide interval
  proves nothing.

Coverage honesty. With independent cases each 95 % interval misses with
probability 0.05, so the number of misses is Binomial(cases, 0.05). The suite
fails if that many misses or more would happen by chance less than 1 % of the
time (a one-sided binomial test): a biased estimator cannot hide behind
intervals that each look acceptable.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hasim.errors import config_error
from hasim.validation.cases import CASES, Case, case

LEVEL = 0.95
#: The level beyond which a miss is a failure on its own.
FAIL_LEVEL = 0.999
#: A one-sided binomial test of the number of misses at this significance.
COVERAGE_ALPHA = 0.01
#: Replications per batch, and the most batches a case may take, per mode.
BATCH = {"quick": 10, "full": 20}
MAX_BATCHES = {"quick": 3, "full": 10}


def seed_of(case_name: str, r: int) -> int:
    """The seed of replication ``r`` (0, 1, ...) of a case: independent across cases."""
    return 1_000 * (zlib.crc32(case_name.encode()) % 1_000_000) + r + 1


def _replicate(task: tuple[str, int, float]) -> tuple[str, int, float, float]:
    name, r, horizon = task
    started = time.perf_counter()
    value = case(name).run(seed_of(name, r), horizon)
    return name, r, float(value), time.perf_counter() - started


@dataclass
class Row:
    """The outcome of one case."""

    case: Case
    theory: float
    by_rep: dict[int, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def values(self) -> list[float]:
        """The replications' values, in replication order (whatever the executor)."""
        return [self.by_rep[r] for r in sorted(self.by_rep)]

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """``(mean, half-width)`` of the Student-t interval at ``level``."""
        from hasim.experiment.stats import mean_ci

        return mean_ci(self.values, level)

    def precise(self, rel: float) -> bool:
        """Whether the 95 % half-width is within ``rel`` of the theory."""
        return self.interval()[1] <= rel * abs(self.theory)

    def verdict(self, rel: float) -> str:
        """``pass``, ``miss`` or ``FAIL`` (see the module docstring)."""
        mean, half = self.interval()
        _, wide = self.interval(FAIL_LEVEL)
        if not self.precise(rel) or abs(mean - self.theory) > wide:
            return "FAIL"
        return "pass" if abs(mean - self.theory) <= half else "miss"


@dataclass
class Report:
    """What ``validate`` found: one row per case, the coverage check, the machine time."""

    mode: str
    rows: list[Row]
    wall: float
    workers: int

    def rel(self, row: Row) -> float:
        """The precision ``row``'s case had to reach in this mode."""
        return row.case.rel[0 if self.mode == "quick" else 1]

    @property
    def misses(self) -> int:
        """Cases whose 95 % interval missed the theory (misses and failures)."""
        return sum(r.verdict(self.rel(r)) != "pass" for r in self.rows)

    @property
    def coverage_p(self) -> float:
        """P(at least this many misses | every interval covers with probability 0.95)."""
        from scipy import stats

        return float(stats.binom.sf(self.misses - 1, len(self.rows), 1 - LEVEL))

    @property
    def allowed_misses(self) -> int:
        """The most misses the coverage test accepts for this many cases."""
        from scipy import stats

        n = len(self.rows)
        return int(
            next(m for m in range(n + 1) if stats.binom.sf(m, n, 1 - LEVEL) < COVERAGE_ALPHA)
        )

    @property
    def passed(self) -> bool:
        """No case failed and the misses are within what chance allows."""
        failed = any(r.verdict(self.rel(r)) == "FAIL" for r in self.rows)
        return not failed and self.misses <= self.allowed_misses

    def table(self) -> Any:
        """A DataFrame: one row per case."""
        import pandas as pd

        out = []
        for r in self.rows:
            mean, half = r.interval()
            out.append(
                {
                    "case": r.case.name,
                    "group": r.case.group,
                    "quantity": r.case.quantity,
                    "formula": r.case.formula,
                    "theory": r.theory,
                    "mean": mean,
                    "lo": mean - half,
                    "hi": mean + half,
                    "error": (mean - r.theory) / r.theory if r.theory else math.nan,
                    "half_width": half / abs(r.theory) if r.theory else math.nan,
                    "precision": self.rel(r),
                    "reps": len(r.values),
                    "seconds": r.seconds,
                    "verdict": r.verdict(self.rel(r)),
                }
            )
        return pd.DataFrame(out)

    def summary_line(self) -> str:
        """One line: verdict, misses against what chance allows, machine time."""
        word = "PASSED" if self.passed else "FAILED"
        cpu = sum(r.seconds for r in self.rows)
        return (
            f"{word}: {len(self.rows)} cases, {self.misses} outside their 95 % interval "
            f"(at most {self.allowed_misses} allowed by a binomial test at 1 %, "
            f"P(>= {self.misses} misses) = {self.coverage_p:.3f}); "
            f"{self.wall:.0f} s on {self.workers} worker(s), {cpu:.0f} s of CPU"
        )

    def to_text(self) -> str:
        """The table as aligned text, and the summary line."""
        lines = [
            f"{'case':<24} {'theory':>10} {'simulated (95 % interval)':>34} "
            f"{'error':>8} {'±':>6} {'reps':>5}  verdict"
        ]
        for _, t in self.table().iterrows():
            lines.append(
                f"{t['case']:<24} {t['theory']:>10.5g} {t['mean']:>10.5g} "
                f"[{t['lo']:>9.5g}, {t['hi']:>9.5g}] {100 * t['error']:>+7.2f}% "
                f"{100 * t['half_width']:>5.2f}% {t['reps']:>5}  {t['verdict']}"
            )
        return "\n".join([*lines, "", self.summary_line()])

    def to_markdown(self) -> str:
        """VALIDATION.md: the method, the table, the coverage check and the machine time."""
        from hasim import __version__

        head = [
            "# Validation: the simulator against theory",
            "",
            f"Generated by `hasim validate --{self.mode} --markdown` (hasim {__version__}, "
            f"Python {platform.python_version()}, {platform.machine()}, "
            f"{self.workers} worker process(es)). Machine time: **{self.wall / 60:.1f} min** "
            f"wall, {sum(r.seconds for r in self.rows) / 60:.1f} min of CPU.",
            "",
            "Each case runs independent replications of one model (seeds derived from the "
            "case's name) until the 95 % Student-t interval of the simulated mean is narrower "
            "than the stated precision (± relative to the theory), and compares it with the "
            "closed form. *pass*: the interval covers the theory; *miss*: it does not, but the "
            "99.9 % interval does (one case in twenty misses by chance); *FAIL*: outside the "
            "99.9 % interval, or the precision was not reached. Availabilities are checked "
            "as unavailabilities, 1 - A. The cases are checked more thoroughly (bounds, "
            "distributions, 99.9 % intervals) by `tests/validation/`.",
            "",
            "| case | what is measured | theory | formula | simulated | 95 % interval "
            "| error | ± | reps | verdict |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        body = [
            f"| {t['case']} | {t['quantity']} | {t['theory']:.5g} | {t['formula']} "
            f"| {t['mean']:.5g} | [{t['lo']:.5g}, {t['hi']:.5g}] | {100 * t['error']:+.2f} % "
            f"| {100 * t['half_width']:.2f} % | {t['reps']} | {t['verdict']} |"
            for _, t in self.table().iterrows()
        ]
        tail = [
            "",
            f"**Coverage honesty.** {self.summary_line()}. With independent cases, the number "
            "of 95 % intervals that miss is Binomial(cases, 0.05); the suite fails when that "
            "many misses would happen by chance less than 1 % of the time.",
            "",
        ]
        return "\n".join(head + body + tail)


def validate(
    mode: str = "quick",
    *,
    cases: Sequence[str] | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> Report:
    """Run the validation suite.

    Args:
        mode: ``"quick"`` (about a minute of CPU: the test suite runs it) or
            ``"full"`` (tighter precision, for releases).
        cases: names of the cases to run (default: all of ``CASES``).
        workers: processes (default: all cores; 1 runs in this process).
        progress: print each case's verdict to stderr as it is decided.
    """
    if mode not in ("quick", "full"):
        raise config_error("validate", "mode", "'quick' or 'full'", mode)
    known = [c.name for c in CASES]
    names = known if cases is None else list(cases)
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise config_error("validate", "cases", f"names of cases, from {known}", unknown or names)
    from hasim.experiment.executors import runner_for

    full = mode == "full"
    rows = {n: Row(case(n), case(n).theory()) for n in names}
    batch, started = BATCH[mode], time.perf_counter()
    pending = list(names)
    workers = workers or os.cpu_count() or 1
    with runner_for("processes", workers) as runner:
        for round_ in range(MAX_BATCHES[mode]):
            tasks = [
                (n, r, rows[n].case.horizon[full])
                for n in pending
                for r in range(round_ * batch, (round_ + 1) * batch)
            ]
            for name, r, value, seconds in runner.map(_replicate, tasks):
                rows[name].by_rep[r] = value
                rows[name].seconds += seconds
            still = [n for n in pending if not rows[n].precise(rows[n].case.rel[full])]
            if progress:
                for n in pending:
                    if n not in still or round_ == MAX_BATCHES[mode] - 1:
                        r = rows[n]
                        print(f"{n}: {r.verdict(r.case.rel[full])}", file=sys.stderr)
            pending = still
            if not pending:
                break
    return Report(mode, [rows[n] for n in names], time.perf_counter() - started, workers)
