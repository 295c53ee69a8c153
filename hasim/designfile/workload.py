"""A design file's ``[workload]``: the clients that send requests to the design.

A plain dict when the Experiment's own workloads can say it (an open or closed
loop with a timeout), else a ``FileWorkload`` (retries, a circuit breaker, a
deadline, another target).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hasim.designfile import schema
from hasim.errors import ConfigError

if TYPE_CHECKING:
    from hasim.designfile.loader import Design

__all__ = ["FileWorkload", "read_workload"]


@dataclass(frozen=True)
class FileWorkload:
    """Clients as a design file's ``[workload]`` describes them (picklable; ``(sim, entry)``).

    An open loop sends Poisson requests at ``rate`` per second (a ``KVWorkload`` of
    reads and writes when the design holds a replicated store, as the Experiment's
    open loop does); a closed loop has ``users`` who think for ``think_time``.
    """

    kind: str
    rate: float | None = None
    users: int | None = None
    think_time: Any = None
    timeout: float | None = None
    deadline: float | None = None
    read_share: float = 0.9
    keys: int = 100
    retry: Any = None
    breaker: Any = None
    hedge: Any = None
    throttle: Any = None
    target: str | None = None
    name: str = "users"

    def __call__(self, sim: Any, entry: Any) -> None:
        """Attach the clients to ``entry`` (or to the component named ``target``) in ``sim``."""
        import hasim as hs
        from hasim.replication import ReplicatedService

        target = entry if self.target is None else sim[self.target]
        common = dict(
            target=target,
            timeout=self.timeout,
            deadline=self.deadline,
            retry=self.retry,
            breaker=self.breaker,
            hedge=self.hedge,
        )
        if self.kind == "closed_loop":
            hs.ClosedLoop(
                sim,
                self.name,
                users=self.users,
                think_time=self.think_time,
                throttle=self.throttle,
                **common,
            )
        elif any(isinstance(c, ReplicatedService) for c in sim.components.values()):
            # KVWorkload takes no throttle: Design.check refuses one with a store
            hs.KVWorkload(
                sim, self.name, rate=self.rate, read_share=self.read_share, keys=self.keys, **common
            )
        else:
            hs.OpenLoop(sim, self.name, rate=self.rate, throttle=self.throttle, **common)


def read_workload(design: Design, table: dict[str, Any]) -> Any:
    """``[workload]`` as an Experiment workload: a dict, a FileWorkload, or None (no traffic)."""
    import hasim as hs

    where, path = "[workload]", ("workload",)
    values = design.convert(where, path, schema.WORKLOAD, table, design.scope(design.defaults))
    kind = values.get("kind") or ("closed_loop" if "users" in values else "open_loop")
    if kind == "none":
        extra = sorted(set(values) - {"kind"})
        if extra:
            design.fail(
                path,
                (extra[0],),
                f'{where} kind = "none" (no traffic) takes no other keys, got {", ".join(extra)}',
            )
        return None
    need, other = ("rate", "users") if kind == "open_loop" else ("users", "rate")
    if need not in values:
        design.fail(path, (), f"{where} missing required key {need!r} (a {kind} workload)")
    wrong = {"open_loop": ("users", "think_time"), "closed_loop": ("rate", "read_share", "keys")}
    for key in wrong[kind]:
        if key in values:
            design.fail(path, (key,), f"{where} {key} does not apply to a {kind} workload")
    if "retry" in values:
        values["retry"] = _retry(design, values["retry"])
    if "breaker" in values:
        values["breaker"] = _table(
            design, "breaker", values["breaker"], schema.BREAKER, hs.CircuitBreaker
        )
    if "hedge" in values:
        values["hedge"] = _table(design, "hedge", values["hedge"], schema.HEDGE, hs.Hedge)
    if "throttle" in values:
        values["throttle"] = _table(
            design, "throttle", values["throttle"], schema.THROTTLE, hs.AdaptiveThrottle
        )
    plain = {"rate", "users", "think_time", "timeout", "read_share", "keys", "kind"}
    if set(values) <= plain:
        out = {k: v for k, v in values.items() if k != "kind"}
        if kind == "closed_loop" and "think_time" not in out:
            out["think_time"] = 1.0
        return out
    values.pop("kind", None)
    if kind == "closed_loop":
        values.setdefault("think_time", hs.Deterministic(1.0))
    return FileWorkload(kind=kind, **values)


def _retry(design: Design, value: Any) -> Any:
    import hasim as hs

    where, path = "[workload]", ("workload",)
    if not isinstance(value, dict):
        design.fail(
            path,
            ("retry",),
            f"{where} retry must be a table such as {{ attempts = 3 }}, got {value!r}",
        )
    args = design.convert_table(
        where, path, "retry", schema.RETRY, value, design.scope(design.defaults)
    )
    if "retry_on" in args:
        args["retry_on"] = tuple(args["retry_on"])
    if "backoff" in args:
        backoff = args["backoff"]
        kind = backoff.get("kind") if isinstance(backoff, dict) else None
        if kind not in schema.BACKOFF:
            design.fail(
                path,
                ("retry",),
                f"{where} retry.backoff must be a table with kind "
                f"one of {', '.join(schema.BACKOFF)}, got {backoff!r}",
            )
        cls_name, spec = schema.BACKOFF[kind]
        options = {k: v for k, v in backoff.items() if k != "kind"}
        args["backoff"] = _table(design, "retry.backoff", options, spec, getattr(hs, cls_name))
    if "budget" in args:
        args["budget"] = _budget(design, args["budget"])
    try:
        return hs.Retry(**args)
    except (ConfigError, TypeError) as error:
        design.fail(path, ("retry",), f"{where} retry: {error}")


def _budget(design: Design, value: Any) -> Any:
    """``retry.budget``: a ``RetryBudget`` table, or ``{ preset = ... }`` with overrides."""
    import hasim as hs

    where, path = "[workload]", ("workload",)
    if not isinstance(value, dict):
        design.fail(
            path,
            ("retry",),
            f'{where} retry.budget must be a table such as {{ preset = "envoy" }} '
            f'or {{ ratio = 0.2, window = "10s" }}, got {value!r}',
        )
    preset = value.get("preset")
    if preset is None:
        return _table(design, "retry.budget", value, schema.RETRY_BUDGET, hs.RetryBudget)
    design.preset_name(path, where, "retry.budget.preset", preset, hs.RetryBudget)
    options = {k: v for k, v in value.items() if k != "preset"}

    def make(**overrides: Any) -> Any:
        return hs.RetryBudget.preset(preset, **overrides)

    return _table(design, "retry.budget", options, schema.RETRY_BUDGET, make)


def _table(design: Design, key: str, value: Any, spec: dict, cls: Callable[..., Any]) -> Any:
    where, path = "[workload]", ("workload",)
    if not isinstance(value, dict):
        design.fail(path, (key.split(".")[0],), f"{where} {key} must be a table, got {value!r}")
    values = design.convert_table(where, path, key, spec, value, design.scope(design.defaults))
    try:
        return cls(**values)
    except (ConfigError, TypeError) as error:
        design.fail(path, (key.split(".")[0],), f"{where} {key}: {error}")
