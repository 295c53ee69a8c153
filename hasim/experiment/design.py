"""What an experiment runs: models, workloads, design points and single runs.

Everything here is plain, picklable data, so one run can be shipped to a
worker process or a Dask worker and executed there by ``execute(task)``:
the worker builds the model in a fresh Simulation with the run's seed,
attaches the workload, runs it and returns the summary as a dict. A run
that raises returns its traceback instead, so a batch goes on.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import math
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from hasim.dist import Distribution, as_distribution
from hasim.errors import ConfigError, check_int, check_positive, check_probability, config_error
from hasim.metrics.result import SUMMARY_COLUMNS

__all__ = [
    "METRICS",
    "ModelRef",
    "OpenLoopWorkload",
    "ClosedLoopWorkload",
    "as_workload",
    "workload_ident",
    "Point",
    "Task",
    "execute",
    "model_names",
]


#: The metrics of every run, in table order: ``RunResult.summary()``'s columns,
#: then ``unavailability`` (1 - availability) and ``downtime_fraction`` (1 - uptime).
METRICS = (*SUMMARY_COLUMNS, "unavailability", "downtime_fraction")


def model_names() -> list[str]:
    """Names of the ready models in ``hasim.models`` (the top-level ``models/`` folder)."""
    import pkgutil

    import hasim.models

    return sorted(m.name for m in pkgutil.iter_modules(hasim.models.__path__))


@dataclass(frozen=True)
class ModelRef:
    """A picklable reference to a model: an importable module, a file, or a build function.

    Use ``ModelRef.of(x)`` with a module, a model name (``"single_server"``),
    a path to a ``.py`` file or a ``.toml`` design file (``hasim.designfile``),
    or a ``build(sim, **params)`` function.
    """

    kind: str  # "module", "file" or "function"
    target: Any

    @classmethod
    def of(cls, model: Any) -> ModelRef:
        """Resolve what a user gave as a model; ConfigError if it is none."""
        if isinstance(model, ModelRef):
            return model
        if isinstance(model, ModuleType):
            if not callable(getattr(model, "build", None)):
                raise config_error(
                    "Experiment", "model", "a module with build(sim, **params)", model
                )
            origin = getattr(model, "__file__", None)
            name = model.__name__
            if name != "__main__" and importlib.util.find_spec(name) is not None:
                return cls("module", name)
            if origin:
                return cls("file", str(Path(origin).resolve()))
            raise config_error("Experiment", "model", "an importable module or a file", model)
        if isinstance(model, (str, Path)):
            text = str(model)
            if text.endswith((".py", ".toml")) or "/" in text or "\\" in text:
                path = Path(text).expanduser().resolve()
                if not path.is_file():
                    kind = ".toml design" if text.endswith(".toml") else ".py model"
                    raise config_error("Experiment", "model", f"an existing {kind} file", text)
                ref = cls("file", str(path))
            elif text in model_names():
                ref = cls("module", f"hasim.models.{text}")
            else:
                known = ", ".join(model_names())
                raise config_error(
                    "Experiment",
                    "model",
                    f"a model file or one of the ready models ({known})",
                    text,
                )
            ref.load()  # fail now, not in a worker
            return ref
        if callable(model):
            return cls("function", model)
        raise config_error(
            "Experiment", "model", "a model module, name, .py path or build function", model
        )

    @property
    def label(self) -> str:
        """A short human name: the module's last part, the file's stem, the function's name."""
        if self.kind == "module":
            return self.target.rsplit(".", 1)[-1]
        if self.kind == "file":
            return Path(self.target).stem
        return getattr(self.target, "__name__", "model")

    @property
    def ident(self) -> str:
        """A stable identity string (part of each run's key)."""
        if self.kind == "function":
            return f"function:{self.target.__module__}.{self.target.__qualname__}"
        return f"{self.kind}:{self.target}"

    def module(self) -> ModuleType | None:
        """The model's module (None for a bare build function)."""
        if self.kind == "function":
            return None
        return _load_module(self.kind, self.target)

    def load(self) -> tuple[Callable[..., Any], dict[str, Any], str]:
        """``(build, PARAMS, docstring)`` of the model."""
        if self.kind == "function":
            return self.target, {}, self.target.__doc__ or ""
        module = self.module()
        build = getattr(module, "build", None)
        if not callable(build):
            raise config_error(
                "Experiment", "model", "a module with build(sim, **params)", self.target
            )
        return build, dict(getattr(module, "PARAMS", {})), module.__doc__ or ""


_FILE_MODULES: dict[str, ModuleType] = {}


def _load_module(kind: str, target: str) -> ModuleType:
    if kind == "module":
        return importlib.import_module(target)
    if target.endswith(".toml"):  # a design file (hasim.designfile), cached while unchanged
        from hasim.designfile import design_module

        return design_module(target)
    if target not in _FILE_MODULES:
        digest = hashlib.blake2b(target.encode(), digest_size=6).hexdigest()
        spec = importlib.util.spec_from_file_location(f"hasim_model_{digest}", target)
        if spec is None or spec.loader is None:
            raise ConfigError(f"Experiment: cannot load a model from {target!r}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _FILE_MODULES[target] = module
    return _FILE_MODULES[target]


@dataclass(frozen=True)
class OpenLoopWorkload:
    """Poisson arrivals at ``rate`` per second to the model's entry service.

    A design that holds a replicated store (any ``hasim.ReplicatedService``:
    its requests must carry an operation) gets a ``hasim.KVWorkload`` instead:
    reads with probability ``read_share`` and writes, over ``keys`` keys
    chosen uniformly. So one workload drives every design of an experiment,
    stores and stateless services alike.
    """

    rate: float
    timeout: float | None = None
    name: str = "users"
    read_share: float = 0.9
    keys: int = 100

    def __post_init__(self) -> None:
        owner = "OpenLoopWorkload"
        object.__setattr__(self, "rate", check_positive(owner, "rate", self.rate))
        if self.timeout is not None:
            object.__setattr__(self, "timeout", check_positive(owner, "timeout", self.timeout))
        object.__setattr__(
            self, "read_share", check_probability(owner, "read_share", self.read_share)
        )
        object.__setattr__(self, "keys", check_int(owner, "keys", self.keys, minimum=1))

    def __call__(self, sim: Any, entry: Any) -> None:
        """Attach the workload to ``entry`` in ``sim``."""
        from hasim.replication import KVWorkload, ReplicatedService
        from hasim.workload import OpenLoop

        if any(isinstance(c, ReplicatedService) for c in sim.components.values()):
            KVWorkload(
                sim,
                self.name,
                target=entry,
                rate=self.rate,
                timeout=self.timeout,
                read_share=self.read_share,
                keys=self.keys,
            )
        else:
            OpenLoop(sim, self.name, target=entry, rate=self.rate, timeout=self.timeout)


@dataclass(frozen=True)
class ClosedLoopWorkload:
    """``users`` who think for ``think_time``, send, and wait for the outcome."""

    users: int
    think_time: Distribution | float = 1.0
    timeout: float | None = None
    name: str = "users"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "users", check_int("ClosedLoopWorkload", "users", self.users, minimum=1)
        )
        think = as_distribution(self.think_time, "ClosedLoopWorkload", "think_time")
        object.__setattr__(self, "think_time", think)
        if self.timeout is not None:
            timeout = check_positive("ClosedLoopWorkload", "timeout", self.timeout)
            object.__setattr__(self, "timeout", timeout)

    def __call__(self, sim: Any, entry: Any) -> None:
        """Attach the workload to ``entry`` in ``sim``."""
        from hasim.workload import ClosedLoop

        ClosedLoop(
            sim,
            self.name,
            target=entry,
            users=self.users,
            think_time=self.think_time,
            timeout=self.timeout,
        )


def workload_ident(workload: Any) -> str:
    """A stable identity of a workload, the same in every process (part of run keys)."""
    if workload is None or isinstance(workload, (OpenLoopWorkload, ClosedLoopWorkload)):
        return repr(workload)
    module = getattr(workload, "__module__", None)
    qualname = getattr(workload, "__qualname__", None)
    if module and qualname:
        return f"function:{module}.{qualname}"
    return f"{type(workload).__module__}.{type(workload).__qualname__}:{workload!r}"


def as_workload(workload: Any) -> Callable[[Any, Any], None] | None:
    """None (no clients: state-only runs), a callable ``(sim, entry)``, or a dict.

    A dict with ``rate`` is an open loop, one with ``users`` a closed loop;
    other keys are passed on (``timeout``, ``think_time``).
    """
    if workload is None or isinstance(workload, (OpenLoopWorkload, ClosedLoopWorkload)):
        return workload
    if isinstance(workload, Mapping):
        try:
            if "rate" in workload:
                return OpenLoopWorkload(**workload)
            if "users" in workload:
                return ClosedLoopWorkload(**workload)
        except TypeError as exc:
            raise config_error(
                "Experiment",
                "workload",
                "a dict of OpenLoop or ClosedLoop arguments",
                dict(workload),
            ) from exc
    if callable(workload):
        return workload
    raise config_error(
        "Experiment",
        "workload",
        "None, a function (sim, entry), or a dict with rate or users",
        workload,
    )


@dataclass(frozen=True)
class Point:
    """One design at one parameter setting: what replications repeat."""

    index: int
    design: str
    model: ModelRef
    params: dict[str, Any] = field(hash=False)

    @property
    def params_json(self) -> str:
        """The parameters as canonical JSON (sorted keys): a stable label."""
        return json.dumps(self.params, sort_keys=True, default=repr)


@dataclass(frozen=True)
class Task:
    """One run: a point, a replication, its seed and the shared settings."""

    point: Point
    rep: int
    seed: int
    horizon: float
    warmup: float
    workload: Any
    record: str
    rare: Any = None  # a hasim.FailureBiasing: estimate by importance sampling, no clock
    fast_forward: Any = None  # a hasim.FastForward: skip quiet stretches
    #: how ``Simulation.run`` executes (not part of the key: every engine gives the same numbers)
    engine: str = "auto"

    @property
    def key(self) -> str:
        """A stable identity of the run: same settings, same key (used to resume)."""
        ident = json.dumps(
            [
                self.point.design,
                self.point.model.ident,
                self.point.params_json,
                self.rep,
                self.seed,
                self.horizon,
                self.warmup,
                workload_ident(self.workload),
                self.record,
                *([] if self.rare is None else [repr(self.rare)]),
                *([] if self.fast_forward is None else [repr(self.fast_forward)]),
            ]
        )
        return hashlib.blake2b(ident.encode(), digest_size=10).hexdigest()


def rare_metrics(estimate: dict[str, float]) -> dict[str, float]:
    """A rare-event estimate as a run's metrics: uptime, downtime, incidents, MTTR.

    The window is the simulated time the cycles stand for; request metrics are NaN
    (no traffic), counts of requests 0.
    """
    from hasim.metrics.result import nines

    u, window = estimate["unavailability"], estimate["simulated"]
    metrics = dict.fromkeys(METRICS, math.nan)
    metrics.update(dict.fromkeys(("issued", "ok", "timeout", "rejected", "error", "lost"), 0.0))
    metrics.update(failed=0.0, in_flight=0.0, split_brain=0.0)
    metrics.update(
        window=window,
        uptime=1.0 - u,
        uptime_nines=nines(1.0 - u),
        downtime=u * window,
        incidents=estimate["failure_frequency"] * window,
        mttr=estimate["outage"],
        downtime_fraction=u,
    )
    return metrics


def execute(task: Task) -> dict[str, Any]:
    """Run one task in this process; return its record (metrics or failure).

    The record is ``{"key", "point", "rep", "seed", "ok": True, "metrics": {...},
    "elapsed": seconds}`` or, if the run raised, ``"ok": False`` with
    ``"error"`` and ``"traceback"``.
    """
    from hasim.sim import Simulation

    started = time.perf_counter()
    record: dict[str, Any] = {
        "key": task.key,
        "point": task.point.index,
        "design": task.point.design,
        "params": task.point.params,
        "rep": task.rep,
        "seed": task.seed,
    }
    try:
        build, _, _ = task.point.model.load()
        sim = Simulation(seed=task.seed, record=task.record)
        entry = build(sim, **task.point.params)
        if task.rare is not None:
            from hasim.rare import estimate

            metrics = rare_metrics(estimate(sim, task.rare))
        else:
            if task.workload is not None:
                task.workload(sim, entry)
            result = sim.run(
                until=task.horizon,
                warmup=task.warmup,
                fast_forward=task.fast_forward,
                engine=task.engine,
            )
            summary = result.summary()
            metrics = {k: float(v) for k, v in summary.items()}
            metrics["unavailability"] = 1.0 - metrics["availability"]
            metrics["downtime_fraction"] = 1.0 - metrics["uptime"]
        record.update(ok=True, metrics=metrics)
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, the batch goes on
        record.update(
            ok=False, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
        )
    record["elapsed"] = time.perf_counter() - started
    return record
