"""Experiment: designs x a parameter grid x replications, run anywhere, resumable.

Replication ``r`` of every design point runs with seed ``seed + r``: the
same seed in every design, so a component with the same name fails at the
same times in all of them (common random numbers) and differences between
designs are paired (``ExperimentResult.compare``).

With ``target=``, replications are added in batches until the confidence
interval of a metric is narrow enough at every design point (or a cap is
reached). The decision after each batch looks only at replications
``0 .. n-1`` of that point, so the number of runs, like the results, does not
depend on the executor or on the order in which runs finish.
"""

from __future__ import annotations

import itertools
import math
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hasim import units
from hasim.errors import ConfigError, check_choice, check_int, check_positive, config_error
from hasim.experiment.design import (
    METRICS,
    ModelRef,
    Point,
    Task,
    as_workload,
    execute,
    workload_ident,
)
from hasim.experiment.executors import runner_for
from hasim.experiment.results import ExperimentResult
from hasim.experiment.stats import mean_ci
from hasim.experiment.storage import RunStore

__all__ = ["Experiment", "Target", "RunFailed"]


class RunFailed(UserWarning):
    """A run of an experiment raised; the experiment went on without it."""


@dataclass(frozen=True)
class Target:
    """Run replications until ``metric``'s interval is narrow enough.

    Met when the half-width of the ``level`` Student-t interval is at most
    ``abs`` and at most ``rel`` x |mean| (give one or both). Replications
    start at ``min_reps`` and grow by ``batch`` up to ``max_reps``.

    Tip: for availability near 1, aim at ``unavailability`` with ``rel``
    (a 10 % bound on 1 - A means something; 10 % of A does not).
    """

    metric: str
    rel: float | None = None
    abs: float | None = None
    min_reps: int = 5
    max_reps: int = 100
    batch: int = 5
    level: float = 0.95

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise config_error("Target", "metric", "a metric name", self.metric)
        if self.rel is None and self.abs is None:
            raise ConfigError("Target: give rel, abs or both, got neither")
        for name in ("rel", "abs"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_positive("Target", name, getattr(self, name)))
        min_reps = check_int("Target", "min_reps", self.min_reps, minimum=2)
        max_reps = check_int("Target", "max_reps", self.max_reps, minimum=min_reps)
        check_int("Target", "batch", self.batch, minimum=1)
        object.__setattr__(self, "max_reps", max_reps)
        if not 0.0 < self.level < 1.0:
            raise config_error("Target", "level", "a number in (0, 1)", self.level)

    def met(self, values: Sequence[float]) -> bool:
        """Whether the interval of these replications is narrow enough."""
        mean, half = mean_ci(values, self.level)
        if math.isnan(mean) or math.isinf(half):
            return False
        ok = True
        if self.abs is not None:
            ok &= half <= self.abs
        if self.rel is not None:
            ok &= half <= self.rel * abs(mean)
        return ok

    @classmethod
    def parse(cls, text: str) -> Target:
        """From the CLI: ``"unavailability:rel=0.1,max=200"`` (keys rel, abs, min, max, batch)."""
        metric, _, rest = text.partition(":")
        names = {"rel": "rel", "abs": "abs", "min": "min_reps", "max": "max_reps", "batch": "batch"}
        kwargs: dict[str, Any] = {}
        for item in filter(None, rest.split(",")):
            key, _, value = item.partition("=")
            if key not in names:
                raise config_error("Target", "option", f"one of {sorted(names)}", key)
            counted = names[key].endswith(("reps", "batch"))
            try:
                kwargs[names[key]] = int(value) if counted else float(value)
            except ValueError:
                allowed = "an integer" if counted else "a number"
                raise config_error("Target", key, allowed, value) from None
        return cls(metric, **kwargs)


def _rare(rare: Any, workload: Any, horizon: Any) -> Any:
    """The rare-event estimator's settings, checked against the rest of the experiment."""
    if rare is None:
        return None
    from hasim.rare import FailureBiasing

    if not isinstance(rare, FailureBiasing):
        raise config_error("Experiment", "rare", "None or a hasim.FailureBiasing", rare)
    if workload is not None:
        raise ConfigError(
            "Experiment: rare-event estimation runs no traffic; give workload=None with rare="
        )
    if horizon is not None:
        raise ConfigError(
            "Experiment: rare-event estimation runs no clock; give no horizon with rare= "
            "(FailureBiasing(cycles=) sets how long each replication simulates)"
        )
    return rare


class Experiment:
    """Designs x a parameter grid x replications under one workload.

    Args:
        designs: one model, a list of models, or a dict ``name -> model`` or
            ``name -> (model, params)``. A model is a module with
            ``build(sim, **params)`` (and ``PARAMS``), the name of a ready
            model (``"single_server"``), a path to a model file, or a build
            function.
        grid: ``{param: [values]}``; every combination is run for every design.
        params: parameter overrides for every design.
        workload: None (no clients: state-only runs), a dict (``rate=`` for
            an open loop, ``users=`` for a closed loop, plus ``timeout=``...),
            or a function ``(sim, entry)`` that adds clients.
        horizon: simulated time per run (seconds or ``"30d"``).
        warmup: the start of each run that is not measured.
        reps: replications per design point (default 10) ...
        target: ... or a ``Target`` precision to reach instead.
        seed: replication r runs with seed ``seed + r``.
        record: ``"aggregate"`` (default: flat memory) or ``"requests"``.
        rare: a ``hasim.FailureBiasing``: estimate each replication's uptime by
            importance sampling (``hasim.rare``) instead of running the clock,
            for designs with many nines; needs ``workload=None`` and no horizon.
            The runs' ``downtime_fraction``, ``uptime``, ``incidents`` and
            ``mttr`` are then the estimates; ``window`` the simulated time the
            cycles stand for.
        fast_forward: a ``hasim.FastForward``: every run skips its quiet stretches
            between faults (``Simulation.run(fast_forward=)``).
        engine: how each run executes, as ``Simulation.run(engine=)``: ``"auto"`` (the
            lean state-only engine where it applies), ``"events"``, ``"lean"`` or
            ``"vector"``. Every engine gives the same numbers, so it is not part of a
            run's identity (a resumed experiment may switch).

    Example:
        >>> exp = hs.Experiment({"one": "single_server"}, workload={"rate": 2},
        ...                     horizon="2d", reps=5)
        >>> result = exp.run(executor="serial")
        >>> result.summary()
    """

    def __init__(
        self,
        designs: Any,
        *,
        grid: Mapping[str, Sequence[Any]] | None = None,
        params: Mapping[str, Any] | None = None,
        workload: Any = None,
        horizon: float | str | None = None,
        warmup: float | str = 0.0,
        reps: int | None = None,
        target: Target | str | None = None,
        seed: int = 0,
        record: str = "aggregate",
        rare: Any = None,
        fast_forward: Any = None,
        engine: str = "auto",
    ) -> None:
        from hasim.sim import ENGINES

        check_choice("Experiment", "engine", engine, ENGINES)
        self.engine = engine
        self.designs = _designs(designs)
        self.grid = _grid(grid)
        self.params = dict(params or {})
        self.workload = as_workload(workload)
        self.rare = _rare(rare, self.workload, horizon)
        from hasim.fastforward import FastForward

        if fast_forward is not None and not isinstance(fast_forward, FastForward):
            raise config_error(
                "Experiment", "fast_forward", "None or a hasim.FastForward", fast_forward
            )
        self.fast_forward = fast_forward
        if self.rare is not None:
            horizon = 1.0  # unused: the estimator runs no clock
        elif horizon is None:
            raise ConfigError("Experiment: give a horizon (simulated time per run, e.g. '7d')")
        self.horizon = _duration("horizon", horizon)
        self.warmup = _duration("warmup", warmup)
        if not 0 < self.horizon < math.inf or self.warmup >= self.horizon:
            raise config_error(
                "Experiment", "horizon", f"a finite duration > warmup ({self.warmup:g} s)", horizon
            )
        if reps is not None and target is not None:
            raise ConfigError("Experiment: give reps or target, not both")
        self.target = Target.parse(target) if isinstance(target, str) else target
        if self.target is not None and not isinstance(self.target, Target):
            raise config_error("Experiment", "target", "a hasim.Target or a string", target)
        if self.target is not None and self.target.metric not in METRICS:
            raise config_error(
                "Target", "metric", f"one of {', '.join(METRICS)}", self.target.metric
            )
        self.reps = check_int("Experiment", "reps", 10 if reps is None else reps, minimum=1)
        self.seed = check_int("Experiment", "seed", seed, minimum=0)
        if record not in ("aggregate", "requests"):
            raise config_error("Experiment", "record", "'aggregate' or 'requests'", record)
        self.record = record
        self.points = self._points()

    def _points(self) -> list[Point]:
        points = []
        names = list(self.grid)
        for label, (ref, design_params) in self.designs.items():
            _, defaults, _ = ref.load()
            for combo in itertools.product(*self.grid.values()):
                both = sorted(set(design_params) & set(names))
                if both:
                    raise config_error(
                        f"Experiment design {label!r}", "params", "names not also in the grid", both
                    )
                # The most specific wins: experiment-wide, then the design's own, then the grid.
                params = {**self.params, **design_params, **dict(zip(names, combo, strict=True))}
                unknown = sorted(set(params) - set(defaults)) if defaults else []
                if unknown:
                    raise config_error(
                        f"Experiment design {label!r}",
                        "params",
                        f"names of {ref.label}'s PARAMS ({', '.join(sorted(defaults))})",
                        unknown,
                    )
                points.append(Point(len(points), label, ref, params))
        return points

    def check(self) -> None:
        """Build every design point once in a throwaway Simulation.

        Bad parameter values then fail here, before any run, with the
        design's name and parameters in the message.
        """
        from hasim.errors import HasimError
        from hasim.sim import Simulation

        for point in self.points:
            build, _, _ = point.model.load()
            sim = Simulation(seed=self.seed, record="aggregate")
            try:
                entry = build(sim, **point.params)
                if self.workload is not None:
                    self.workload(sim, entry)
            except Exception as error:
                given = ", ".join(f"{k}={v!r}" for k, v in point.params.items())
                kind = "" if isinstance(error, HasimError) else f"{type(error).__name__}: "
                where = f"{point.design} ({given})" if given else point.design
                raise ConfigError(f"{where}: {kind}{error}") from error

    def _check_picklable(self) -> None:
        import pickle

        for what, obj in [("workload", self.workload)] + [
            (f"design {label!r}", ref) for label, (ref, _) in self.designs.items()
        ]:
            try:
                pickle.dumps(obj)
            except Exception:
                raise ConfigError(
                    f"Experiment: the {what} cannot be sent to worker processes (a lambda or a "
                    "function defined inside another?); define it at module level, or run with "
                    "executor='serial'"
                ) from None

    def settings(self) -> dict[str, Any]:
        """What defines the runs (stored beside them; the number of replications is not)."""
        return {
            "designs": {k: [ref.ident, p] for k, (ref, p) in self.designs.items()},
            "grid": self.grid,
            "params": self.params,
            "workload": workload_ident(self.workload),
            "horizon": self.horizon,
            "warmup": self.warmup,
            "seed": self.seed,
            "record": self.record,
            **({} if self.rare is None else {"rare": repr(self.rare)}),
            **({} if self.fast_forward is None else {"fast_forward": repr(self.fast_forward)}),
        }

    def task(self, point: Point, rep: int) -> Task:
        """Replication ``rep`` of ``point``: seed ``seed + rep``."""
        return Task(
            point,
            rep,
            self.seed + rep,
            self.horizon,
            self.warmup,
            self.workload,
            self.record,
            self.rare,
            self.fast_forward,
            self.engine,
        )

    def run(
        self,
        *,
        executor: Any = "processes",
        workers: int | None = None,
        out: str | None = None,
        progress: bool | None = None,
    ) -> ExperimentResult:
        """Run every replication of every design point and collect the results.

        Args:
            executor: ``"processes"`` (default, all cores), ``"serial"``,
                ``"dask"`` (a LocalCluster), a Dask address or Client, or any
                ``concurrent.futures.Executor``.
            workers: processes to use (default: all cores).
            out: a directory: every finished run is written there as it ends,
                and a rerun skips what is there (resume).
            progress: show a progress bar (default: when stderr is a terminal).
        """
        if executor != "serial" and workers != 1:
            self._check_picklable()
        store = RunStore(out, self.settings()) if out is not None else None
        done = store.done() if store is not None else {}
        wanted = {p.index: self.target.min_reps if self.target else self.reps for p in self.points}
        scheduled = dict.fromkeys(wanted, 0)
        finished: dict[tuple[int, int], dict[str, Any]] = {}
        failed: dict[tuple[int, int], dict[str, Any]] = {}
        bar = _progress(progress, sum(wanted.values()))
        try:
            with runner_for(executor, workers) as runner:
                while True:
                    todo = [
                        self.task(p, rep)
                        for p in self.points
                        for rep in range(scheduled[p.index], wanted[p.index])
                    ]
                    scheduled = dict(wanted)
                    pending = []
                    for task in todo:
                        record = done.get(task.key)
                        if record is not None:  # done before: point numbers may have moved
                            record = {**record, "point": task.point.index}
                            finished[(task.point.index, task.rep)] = record
                            bar.update(1)
                        else:
                            pending.append(task)
                    for record in runner.map(execute, pending):
                        if store is not None:
                            store.save(record)
                        where = (record["point"], record["rep"])
                        if record["ok"]:
                            finished[where] = record
                        else:
                            failed[where] = record
                            _warn_failed(record)
                        bar.update(1)
                        self._show_precision(bar, finished)
                    if not self._grow(wanted, finished, bar):
                        break
        finally:
            bar.close()
        return ExperimentResult(
            list(finished.values()), list(failed.values()), list(self.grid), self.settings()
        )

    def _values(self, finished: dict, point: int, count: int) -> list[float]:
        metric = self.target.metric
        values = []
        for rep in range(count):
            record = finished.get((point, rep))
            if record is not None:
                if metric not in record["metrics"]:
                    known = ", ".join(sorted(record["metrics"]))
                    raise config_error("Target", "metric", f"one of {known}", metric)
                values.append(record["metrics"][metric])
        return values

    def _grow(self, wanted: dict[int, int], finished: dict, bar: Any) -> bool:
        """Add a batch of replications where the target is not met yet."""
        if self.target is None:
            return False
        grew = False
        for point in self.points:
            n = wanted[point.index]
            if n < self.target.max_reps and not self.target.met(
                self._values(finished, point.index, n)
            ):
                wanted[point.index] = min(n + self.target.batch, self.target.max_reps)
                bar.total = (bar.total or 0) + wanted[point.index] - n
                grew = True
        if grew:
            bar.refresh()
        return grew

    def _show_precision(self, bar: Any, finished: dict) -> None:
        if self.target is None or not hasattr(bar, "set_postfix_str"):
            return
        worst = None
        for point in self.points:
            mean, half = mean_ci(
                self._values(finished, point.index, self.target.max_reps), self.target.level
            )
            if not math.isnan(mean) and (worst is None or half > worst[1]):
                worst = (mean, half)
        if worst is not None:
            bar.set_postfix_str(
                f"{self.target.metric} {worst[0]:.4g} ± {worst[1]:.2g}", refresh=False
            )


def _designs(designs: Any) -> dict[str, tuple[ModelRef, dict[str, Any]]]:
    if isinstance(designs, Mapping):
        items = list(designs.items())
    elif isinstance(designs, (list, tuple)):
        items = [(None, d) for d in designs]
    else:
        items = [(None, designs)]
    if not items:
        raise config_error("Experiment", "designs", "at least one model", designs)
    found: dict[str, tuple[ModelRef, dict[str, Any]]] = {}
    for name, spec in items:
        if isinstance(spec, tuple) and len(spec) != 2:
            raise config_error(
                f"Experiment design {name!r}", "spec", "a model or a (model, params) pair", spec
            )
        model, params = spec if isinstance(spec, tuple) else (spec, {})
        if not isinstance(params, Mapping):
            raise config_error("Experiment", "design params", "a dict", params)
        ref = ModelRef.of(model)
        label = ref.label if name is None else str(name)
        if label in found:
            raise config_error(
                "Experiment", "designs", "distinct names (use a dict to name them)", label
            )
        found[label] = (ref, dict(params))
    return found


def _grid(grid: Mapping[str, Sequence[Any]] | None) -> dict[str, list[Any]]:
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise config_error("Experiment", "grid", "a dict {param: [values]}", grid)
    out = {}
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise config_error(
                "Experiment", f"grid[{name!r}]", "a non-empty list of values", values
            )
        out[str(name)] = list(values)
    return out


def _duration(param: str, value: float | str) -> float:
    try:
        return units.parse(value)
    except ConfigError:
        raise config_error("Experiment", param, "a duration (seconds or '7d')", value) from None


def _warn_failed(record: dict[str, Any]) -> None:
    warnings.warn(
        f"run failed: design {record['design']!r}, params {record['params']}, rep {record['rep']}, "
        f"seed {record['seed']}: {record['error']} (replay it alone with that seed; "
        "the traceback is in result.failures)",
        RunFailed,
        stacklevel=3,
    )


class _NoBar:
    total = 0

    def update(self, n: int = 1) -> None:
        """Count finished runs (nothing to show)."""

    def refresh(self) -> None:
        """Redraw (nothing to show)."""

    def close(self) -> None:
        """Finish (nothing to show)."""


def _progress(enabled: bool | None, total: int) -> Any:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc="hasim", dynamic_ncols=True)
