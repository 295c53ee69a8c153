"""Experiments: designs x parameter grid x replications, with confidence intervals.

``Experiment`` runs them (serially, in processes, on any Executor or on Dask,
resumably), ``ExperimentResult`` turns them into tables with intervals and
paired comparisons.
"""

from hasim.experiment.design import (
    ClosedLoopWorkload,
    ModelRef,
    OpenLoopWorkload,
    execute,
    model_names,
)
from hasim.experiment.executors import runner_for
from hasim.experiment.intervals import IntervalAvailability, interval_availability, wilson
from hasim.experiment.results import DEFAULT_METRICS, ExperimentResult
from hasim.experiment.runner import Experiment, RunFailed, Target
from hasim.experiment.stats import mean_ci, welch_half_width

__all__ = [
    "Experiment",
    "Target",
    "RunFailed",
    "ExperimentResult",
    "DEFAULT_METRICS",
    "ModelRef",
    "OpenLoopWorkload",
    "ClosedLoopWorkload",
    "execute",
    "model_names",
    "runner_for",
    "mean_ci",
    "welch_half_width",
    "interval_availability",
    "IntervalAvailability",
    "wilson",
]
