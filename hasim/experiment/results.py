"""ExperimentResult: the tidy table of runs, summaries with intervals, paired comparisons.

``runs`` has one row per finished run: ``design``, ``point`` (the index of the
design point), ``params`` (canonical JSON), one column per parameter that
varies in the grid (named after it, or ``param_NAME`` where NAME is also a
metric, like single_server's ``mttr``), ``rep``, ``seed``, then every metric of
``RunResult.summary()`` plus ``unavailability`` (1 - availability) and
``downtime_fraction`` (1 - uptime). ``failures`` has one row per run that
raised: ``design``, ``params``, ``rep``, ``seed``, ``error``, ``traceback``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hasim.errors import config_error
from hasim.experiment.design import METRICS
from hasim.experiment.stats import mean_ci, nines, welch_half_width

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ExperimentResult", "DEFAULT_METRICS"]

#: What ``summary()`` reports unless told otherwise.
DEFAULT_METRICS = (
    "availability",
    "uptime",
    "incidents",
    "mttr",
    "throughput",
    "latency_p50",
    "latency_p99",
)


class ExperimentResult:
    """The runs of an experiment and what they say with confidence intervals."""

    def __init__(
        self,
        records: Sequence[dict[str, Any]],
        failures: Sequence[dict[str, Any]],
        grid_names: Sequence[str],
        settings: dict[str, Any],
    ) -> None:
        import pandas as pd

        self.grid_names = list(grid_names)
        #: The runs table's column of each grid parameter.
        self.grid_columns = [f"param_{n}" if n in METRICS else n for n in self.grid_names]
        self.settings = settings
        rows = []
        for r in sorted(records, key=lambda r: (r["point"], r["rep"])):
            row = {"design": r["design"], "point": r["point"], "params": _canonical(r["params"])}
            row.update(
                (column, r["params"].get(name))
                for name, column in zip(self.grid_names, self.grid_columns, strict=True)
            )
            row.update(rep=r["rep"], seed=r["seed"])
            row.update((m, r["metrics"][m]) for m in METRICS)  # fixed order, also when resumed
            rows.append(row)
        columns = ["design", "point", "params", *self.grid_columns, "rep", "seed", *METRICS]
        self.runs: pd.DataFrame = pd.DataFrame(rows, columns=columns)
        fail_rows = [
            {
                "design": f["design"],
                "params": _canonical(f["params"]),
                "rep": f["rep"],
                "seed": f["seed"],
                "error": f["error"],
                "traceback": f["traceback"],
            }
            for f in sorted(failures, key=lambda f: (f["point"], f["rep"]))
        ]
        columns = ["design", "params", "rep", "seed", "error", "traceback"]
        self.failures: pd.DataFrame = pd.DataFrame(fail_rows, columns=columns)

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        designs = self.runs["design"].nunique() if len(self.runs) else 0
        return (
            f"<ExperimentResult {len(self.runs)} runs, {designs} designs, "
            f"{len(self.failures)} failed>"
        )

    def _by(self, by: str | Sequence[str] | None) -> list[str]:
        if by is None:
            return ["design", *self.grid_columns]
        return [by] if isinstance(by, str) else list(by)

    def summary(
        self,
        by: str | Sequence[str] | None = None,
        metrics: Sequence[str] = DEFAULT_METRICS,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Mean and Student-t interval of each metric per group.

        Args:
            by: the grouping columns (default: design and every grid column).
            metrics: which metrics (columns of ``runs``).
            level: the confidence level of the intervals.

        Returns:
            one row per group: the group columns, ``reps``, and for each metric
            ``M`` (the mean), ``M_lo`` and ``M_hi`` (the interval); availability
            also as ``nines`` with ``nines_lo`` and ``nines_hi``.
        """
        import pandas as pd

        keys = self._by(by)
        self._check_columns([*keys, *metrics])
        rows = []
        for group, frame in self.runs.groupby(keys, sort=False, dropna=False):
            row = dict(zip(keys, group if isinstance(group, tuple) else (group,), strict=True))
            row["reps"] = len(frame)
            for metric in metrics:
                mean, half = mean_ci(frame[metric], level)
                row[metric], row[f"{metric}_lo"], row[f"{metric}_hi"] = (
                    mean,
                    mean - half,
                    mean + half,
                )
            if "availability" in metrics:
                row["nines"] = nines(row["availability"])
                row["nines_lo"] = nines(row["availability_lo"])
                row["nines_hi"] = nines(min(row["availability_hi"], 1.0))
            rows.append(row)
        return pd.DataFrame(rows)

    def compare(
        self, a: str, b: str, metric: str = "availability", level: float = 0.95
    ) -> pd.DataFrame:
        """The paired difference ``a - b`` of a metric between two designs.

        Runs are paired by grid point and replication: replication i of both
        designs used the same seed, so they saw the same failures (common
        random numbers) and the difference has far less variance than either.

        Returns:
            one row per grid point: the grid columns, ``pairs``, ``a`` and ``b``
            (means), ``diff``, ``diff_lo``, ``diff_hi`` (the paired interval) and
            ``unpaired_half_width`` (Welch's, for comparison).
        """
        import pandas as pd

        self._check_columns([metric])
        designs = set(self.runs["design"])
        for name, value in (("a", a), ("b", b)):
            if value not in designs:
                raise config_error(
                    "ExperimentResult.compare", name, f"one of {sorted(designs)}", value
                )
        keys = [*self.grid_columns, "rep"]
        left = self.runs[self.runs["design"] == a][[*keys, "seed", metric]]
        right = self.runs[self.runs["design"] == b][[*keys, "seed", metric]]
        pairs = left.merge(right, on=[*keys, "seed"], suffixes=("_a", "_b"))
        rows = []
        groups = (
            pairs.groupby(self.grid_columns, sort=False) if self.grid_columns else [((), pairs)]
        )
        for group, frame in groups:
            group = group if isinstance(group, tuple) else (group,)
            xa, xb = frame[f"{metric}_a"].to_numpy(), frame[f"{metric}_b"].to_numpy()
            diff, half = mean_ci(xa - xb, level)
            row = dict(zip(self.grid_columns, group, strict=True))
            row.update(
                metric=metric,
                pairs=len(frame),
                a=float(np.nanmean(xa)) if len(xa) else math.nan,
                b=float(np.nanmean(xb)) if len(xb) else math.nan,
                diff=diff,
                diff_lo=diff - half,
                diff_hi=diff + half,
                unpaired_half_width=welch_half_width(xa, xb, level),
            )
            rows.append(row)
        return pd.DataFrame(rows)

    def save(
        self,
        folder: str | Path,
        name: str,
        *,
        summary: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> list[Path]:
        """Write a study's files: ``NAME.csv`` (the runs), ``NAME_summary.csv``, ``NAME.json``.

        Args:
            folder: where to write (made if missing).
            name: the files' stem.
            summary: the summary table to write (default: ``summary()``).
            extra: more settings to store beside the experiment's (the script's
                arguments, say) in ``NAME.json``.

        Returns:
            The paths written.
        """
        import json

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        runs = self.to_csv(folder / f"{name}.csv")
        table = self.summary() if summary is None else summary
        table.to_csv(folder / f"{name}_summary.csv", index=False)
        reps = int(self.runs.groupby("point").size().max()) if len(self.runs) else 0
        settings = {**self.settings, "replications": reps, **(extra or {})}
        (folder / f"{name}.json").write_text(json.dumps(settings, indent=2, default=str))
        return [runs, folder / f"{name}_summary.csv", folder / f"{name}.json"]

    def to_csv(self, path: str | Path) -> Path:
        """Write the runs table as CSV; return the path."""
        path = Path(path)
        self.runs.to_csv(path, index=False)
        return path

    def to_parquet(self, path: str | Path) -> Path:
        """Write the runs table as Parquet (needs pyarrow); return the path."""
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise config_error(
                "ExperimentResult.to_parquet",
                "path",
                "used with pyarrow installed (pip install pyarrow)",
                str(path),
            ) from None
        path = Path(path)
        self.runs.to_parquet(path, index=False)
        return path

    def _check_columns(self, names: Sequence[str]) -> None:
        known = list(self.runs.columns)
        for name in names:
            if name not in known:
                raise config_error("ExperimentResult", "column", f"one of {known}", name)


def _canonical(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=repr)
