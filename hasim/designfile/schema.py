"""What a design file may say: the sections, the component kinds, their keys and value types.

Each key has a *converter*: a function from the file's value (after ``${...}``
substitution) to what the component's constructor takes, raising ``Bad`` with
what is allowed. The loader adds where (file, line, table, key) to the message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hasim import dist, units
from hasim.designfile.expr import suggest
from hasim.errors import ConfigError

__all__ = [
    "DesignError",
    "Bad",
    "Key",
    "KINDS",
    "SECTIONS",
    "DIST_KINDS",
    "distribution",
    "duration",
]


class DesignError(ConfigError):
    """A design file that cannot be used: ``<file>:<line>: [table] <reason>``.

    Attributes:
        source: the file (or ``"<string>"``).
        line: the line of the offending key or table (None if unknown).
        reason: what is wrong, with the table and key.
    """

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source, self.line, self.reason = source, line, reason
        super().__init__(f"{source}:{line}: {reason}" if line else f"{source}: {reason}")

    def __reduce__(self) -> tuple:
        return type(self), (self.source, self.line, self.reason)


class Bad(Exception):
    """A value a key does not accept: ``allowed`` says what it does accept."""

    def __init__(self, allowed: str, value: Any = None, *, note: str = "") -> None:
        super().__init__(allowed)
        self.allowed = allowed
        self.value = value
        self.note = note


@dataclass(frozen=True)
class Key:
    """One key of a table: how to convert its value, and whether it must be given."""

    convert: Callable[[Any], Any]
    required: bool = False
    #: the constructor's argument it becomes (None: the key's own name; "" : used by the loader)
    arg: str | None = None


# -- converters --------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(minimum: int = 0, maximum: int | None = None) -> Callable[[Any], int]:
    """An integer in [minimum, maximum]."""
    allowed = (
        f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    )

    def convert(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
            raise Bad(allowed, value)
        return value

    return convert


def number(low: float = -math.inf, *, positive: bool = False, high: float = math.inf):
    """A finite number >= low (> 0 with ``positive``), <= high."""
    if positive:
        allowed = "a number > 0"
    elif high < math.inf:
        allowed = f"a number in [{low:g}, {high:g}]"
    elif low > -math.inf:
        allowed = f"a number >= {low:g}"
    else:
        allowed = "a number"

    def convert(value: Any) -> float:
        if not _is_real(value) or not math.isfinite(value) or value < low or value > high:
            raise Bad(allowed, value)
        if positive and not value > 0:
            raise Bad(allowed, value)
        return value

    return convert


probability = number(0.0, high=1.0)


def duration(positive: bool = False) -> Callable[[Any], float]:
    """Seconds or a duration string (``"250ms"``, ``"30d"``)."""
    allowed = (
        f"a duration {'> 0' if positive else '>= 0'}: seconds or a string such as "
        "'250ms', '20m', '30d' (units us, ms, s, m, h, d, w, y)"
    )

    def convert(value: Any) -> float:
        if isinstance(value, bool):
            raise Bad(allowed, value)
        try:
            seconds = units.parse(value)
        except Exception:  # noqa: BLE001 - any failure: not a duration
            raise Bad(allowed, value) from None
        if positive and not seconds > 0:
            raise Bad(allowed, value)
        return seconds

    return convert


def optional(convert: Callable[[Any], Any], word: str = "none") -> Callable[[Any], Any]:
    """``convert``, or None for the string ``"none"`` (TOML has no null)."""

    def wrapped(value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() == word):
            return None
        try:
            return convert(value)
        except Bad as bad:
            raise Bad(f'{bad.allowed} or "{word}"', value) from None

    return wrapped


def boolean(value: Any) -> bool:
    """True or false."""
    if not isinstance(value, bool):
        raise Bad("true or false", value)
    return value


def text(value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise Bad("a non-empty string", value)
    return value


def choice(*options: str) -> Callable[[Any], str]:
    """One of ``options``."""

    def convert(value: Any) -> str:
        if value not in options:
            raise Bad("one of " + ", ".join(repr(o) for o in options), value)
        return value

    return convert


def texts(value: Any) -> list[str]:
    """A list of non-empty strings (or one string)."""
    if isinstance(value, str) and value:
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Bad("a name or a list of names", value)
    return list(value)


def zone(value: Any) -> Any:
    """A zone name, or a list of them (one per replica of a store)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise Bad("a zone name or a list of zone names", value)


# -- distributions -------------------------------------------------------------------------------

_SECONDS = duration()
_POSITIVE_SECONDS = duration(positive=True)

#: Distribution kinds: class, and per field whether it is a duration (True) or a plain number.
DIST_KINDS: dict[str, tuple[type, dict[str, bool]]] = {
    "exponential": (dist.Exponential, {"mean": True, "rate": False}),
    "lognormal": (dist.LogNormal, {"median": True, "sigma": False, "mean": True}),
    "weibull": (dist.Weibull, {"shape": False, "scale": True, "mean": True}),
    "gamma": (dist.Gamma, {"shape": False, "scale": True, "mean": True}),
    "uniform": (dist.Uniform, {"low": True, "high": True}),
    "deterministic": (dist.Deterministic, {"value": True}),
    "pareto": (dist.Pareto, {"shape": False, "scale": True}),
    "empirical": (dist.Empirical, {"data": True}),
    "mixture": (dist.Mixture, {"components": False, "weights": False}),
}
_DIST_ALLOWED = (
    "a duration ('250ms': always that long) or a table such as "
    '{ kind = "exponential", mean = "30d" }'
)


def distribution(value: Any) -> dist.Distribution:
    """A duration (a fixed time) or a ``{ kind = ..., ... }`` table."""
    if isinstance(value, dict):
        kind = value.get("kind")
        if kind not in DIST_KINDS:
            known = ", ".join(DIST_KINDS)
            hint = suggest(kind, DIST_KINDS) if isinstance(kind, str) else ""
            raise Bad(f"a distribution kind, one of {known}{hint}", kind, note="kind")
        cls, fields = DIST_KINDS[kind]
        kwargs: dict[str, Any] = {}
        for key, item in value.items():
            if key == "kind":
                continue
            if key not in fields:
                raise Bad(
                    f"a field of a {kind} distribution ({', '.join(fields)})"
                    + suggest(key, fields),
                    key,
                    note=key,
                )
            try:
                if kind == "mixture" and key == "components":
                    if not isinstance(item, list) or not item:
                        raise Bad("a list of distributions", item)
                    kwargs[key] = tuple(distribution(c) for c in item)
                elif kind == "empirical" or (kind == "mixture" and key == "weights"):
                    if not isinstance(item, list) or not item:
                        raise Bad("a list of numbers", item)
                    conv = _SECONDS if fields[key] else number()
                    kwargs[key] = tuple(conv(x) for x in item)
                elif fields[key]:
                    kwargs[key] = _SECONDS(item)
                else:
                    kwargs[key] = number()(item)
            except Bad as bad:
                raise Bad(bad.allowed, bad.value, note=bad.note or key) from None
        try:
            return cls(**kwargs)
        except (ConfigError, TypeError) as error:
            raise Bad(f"a valid {kind} distribution ({error})", value) from None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            return dist.Deterministic(units.parse(value))
        except ConfigError:
            raise Bad(_DIST_ALLOWED, value) from None
    raise Bad(_DIST_ALLOWED, value)


def election_timeout(value: Any) -> Any:
    """``[low, high]`` seconds (each timer uniform in it), or a distribution."""
    if isinstance(value, list):
        if len(value) != 2:
            raise Bad("[low, high] durations or a distribution", value)
        low, high = (_POSITIVE_SECONDS(v) for v in value)
        return (low, high)
    return distribution(value)


# -- the component kinds -----------------------------------------------------------------------

#: Keys the loader handles for every component (not passed to a constructor as is).
COMMON = {
    "count": Key(integer(1), arg=""),
    "name": Key(text, arg=""),
    "zone": Key(zone),
    "failures": Key(lambda v: v, arg=""),  # a template name, a table or a list: the loader
}

_QUEUE = optional(integer(0))
_TIMEOUT = optional(duration(positive=True))

KINDS: dict[str, dict[str, Key]] = {
    "node": {},
    "server": {
        "workers": Key(integer(1)),
        "service_time": Key(distribution),
        "queue_limit": Key(_QUEUE),
    },
    "app_server": {
        "backend": Key(text, required=True, arg=""),
        "workers": Key(integer(1)),
        "service_time": Key(distribution),
        "queue_limit": Key(_QUEUE),
        "timeout": Key(_TIMEOUT),
        "deep_health": Key(boolean),
    },
    "balancer": {
        "preset": Key(text, arg=""),
        "backends": Key(texts, required=True, arg=""),
        "policy": Key(lambda v: v, arg=""),
        "health_check": Key(lambda v: v, arg=""),
        "outlier_detection": Key(lambda v: v, arg=""),
        "panic_threshold": Key(probability),
        "when_all_unhealthy": Key(choice("fail_open", "reject")),
        "timeout": Key(_TIMEOUT),
        "home_zone": Key(text, arg=""),
    },
    "failover": {
        "primary": Key(text, required=True, arg=""),
        "standby": Key(text, required=True, arg=""),
        "heartbeat": Key(duration(positive=True)),
        "timeout": Key(duration(positive=True)),
        "promotion_delay": Key(distribution),
        "coverage": Key(probability),
        "coverage_on": Key(choice("active", "any")),
        "failback": Key(choice("auto", "stay")),
        "healthy_after": Key(integer(1)),
    },
    "primary_backup": {
        "replicas": Key(lambda v: v if isinstance(v, list) else integer(1)(v)),
        "mode": Key(choice("sync", "semi-sync", "async")),
        "acks": Key(integer(0)),
        "replication_lag": Key(distribution),
        "service_time": Key(distribution),
        "heartbeat": Key(duration(positive=True)),
        "timeout": Key(duration(positive=True)),
        "promotion_delay": Key(distribution),
        "fencing": Key(boolean),
        "record_bytes": Key(integer(0)),
    },
    "quorum": {
        "n": Key(integer(1)),
        "r": Key(integer(1)),
        "w": Key(integer(1)),
        "replicas": Key(lambda v: texts(v) if isinstance(v, list) else integer(1)(v)),
        "coordinator_timeout": Key(duration(positive=True)),
        "service_time": Key(distribution),
        "read_service_time": Key(distribution),
        "write_service_time": Key(distribution),
        "wars": Key(lambda v: v, arg=""),
        "read_repair": Key(boolean),
        "sloppy": Key(boolean),
        "hinted_handoff": Key(optional(duration(positive=True))),
        "write_fanout": Key(text),
        "read_fanout": Key(text),
        "probe_interval": Key(duration(positive=True)),
        "vnodes": Key(integer(1)),
        "record_bytes": Key(integer(0)),
        "keep_log": Key(boolean),
    },
    "raft": {
        "nodes": Key(integer(1)),
        "election_timeout": Key(election_timeout),
        "heartbeat": Key(duration(positive=True)),
        "disk_write": Key(distribution),
        "timeout": Key(duration(positive=True)),
        "batch": Key(integer(1)),
        "record_bytes": Key(integer(0)),
        "keep_log": Key(boolean),
    },
    "single_copy": {
        "workers": Key(integer(1)),
        "service_time": Key(distribution),
        "queue_limit": Key(_QUEUE),
        "volatile": Key(boolean),
        "record_bytes": Key(integer(0)),
        "keep_log": Key(boolean),
    },
    "domain": {
        "parent": Key(text),
        "members": Key(texts),
    },
    "link": {
        "a": Key(text, required=True),
        "b": Key(text, required=True),
        "latency": Key(distribution),
        "loss": Key(probability),
        "bandwidth": Key(optional(number(positive=True))),
        "symmetric": Key(boolean),
    },
    "crew": {
        "crews": Key(integer(1)),
    },
}

#: The store kinds of ``[store.NAME] kind = ...``.
STORE_KINDS = ("primary_backup", "quorum", "raft", "single_copy")
#: Table names that are domains, and the Domain kind each stands for.
DOMAIN_TABLES = {"region": "region", "zone": "zone", "rack": "rack", "group": "group"}
#: Component tables: ``[KIND.NAME]``.
COMPONENT_TABLES = (
    "crew",
    "region",
    "zone",
    "rack",
    "group",
    "node",
    "server",
    "app_server",
    "store",
    "failover",
    "balancer",
    "link",
)
#: Every top-level section a design file may have.
SECTIONS = (
    "design",
    "params",
    "failures",
    "network",
    "workload",
    "experiment",
    "fault",
    *COMPONENT_TABLES,
)

#: Keys of ``[design]``.
DESIGN_KEYS = ("name", "description", "entry", "up", "reward")

#: Keys of ``[network]``.
NETWORK: dict[str, Key] = {
    "latency": Key(distribution),
    "same_zone": Key(distribution),
    "cross_zone": Key(distribution),
    "cross_region": Key(distribution),
    "loss": Key(probability),
}

#: Keys of a failure model, by its ``kind``.
FAILURE_KINDS: dict[str, dict[str, Key]] = {
    "crash": {
        "ttf": Key(distribution, required=True),
        "ttr": Key(distribution, required=True),
        "crews": Key(text, arg=""),
        "cause": Key(text),
        "repair": Key(text),
    },
    "slowdowns": {
        "every": Key(distribution, required=True),
        "lasting": Key(distribution, required=True),
        "factor": Key(number(1.0)),
        "cause": Key(text),
    },
    "error_bursts": {
        "every": Key(distribution, required=True),
        "lasting": Key(distribution, required=True),
        "rate": Key(probability),
        "cause": Key(text),
    },
    "stalls": {
        "every": Key(distribution, required=True),
        "lasting": Key(distribution, required=True),
        "cause": Key(text),
    },
    "flapping": {
        "every": Key(distribution, required=True),
        "lasting": Key(distribution, required=True),
        "down": Key(distribution, required=True),
        "up": Key(distribution, required=True),
        "cause": Key(text),
    },
}

HEALTH_CHECK: dict[str, Key] = {
    "preset": Key(text, arg=""),
    "interval": Key(duration(positive=True)),
    "timeout": Key(duration(positive=True)),
    "unhealthy_after": Key(integer(1)),
    "healthy_after": Key(integer(1)),
    "jitter": Key(boolean),
}

OUTLIER_DETECTION: dict[str, Key] = {
    "preset": Key(text, arg=""),
    "consecutive_errors": Key(integer(1)),
    "base_ejection": Key(duration(positive=True)),
    "max_ejection": Key(duration(positive=True)),
    "max_ejected_share": Key(probability),
    "slow_after": Key(duration(positive=True)),
    "interval": Key(optional(duration(positive=True))),
    "eject_at_least_one": Key(boolean),
}

#: Keys of a quorum store's ``wars`` table (``hasim.WARS``): PBS's four message latencies.
WARS: dict[str, Key] = {
    "write": Key(distribution),
    "ack": Key(distribution),
    "read": Key(distribution),
    "response": Key(distribution),
}

POLICIES = (
    "round_robin",
    "least_outstanding",
    "power_of_two",
    "random",
    "weighted_round_robin",
    "consistent_hash",
)

#: Keys of ``[workload]``.
WORKLOAD: dict[str, Key] = {
    "kind": Key(choice("open_loop", "closed_loop", "none"), arg=""),
    "name": Key(text),
    "target": Key(text, arg=""),
    "rate": Key(number(positive=True)),
    "users": Key(integer(1)),
    "think_time": Key(distribution),
    "timeout": Key(optional(duration(positive=True))),
    "deadline": Key(optional(duration(positive=True))),
    "read_share": Key(probability),
    "keys": Key(integer(1)),
    "retry": Key(lambda v: v, arg=""),
    "breaker": Key(lambda v: v, arg=""),
    "hedge": Key(lambda v: v, arg=""),
    "throttle": Key(lambda v: v, arg=""),
}

RETRY: dict[str, Key] = {
    "attempts": Key(integer(1)),
    "backoff": Key(lambda v: v, arg=""),
    "retry_on": Key(texts),
    "budget": Key(lambda v: v, arg=""),
}

#: Keys of ``retry.budget`` (``hasim.RetryBudget``; ``preset`` picks ``RetryBudget.preset``).
RETRY_BUDGET: dict[str, Key] = {
    "preset": Key(text),
    "kind": Key(choice("window", "concurrent", "tokens")),
    "ratio": Key(number(0.0)),
    "min_per_second": Key(number(0.0)),
    "window": Key(duration(positive=True)),
    "min_concurrent": Key(integer(0)),
    "max_tokens": Key(number(positive=True)),
    "token_ratio": Key(number(positive=True)),
}

#: Keys of ``hedge`` (``hasim.Hedge``).
HEDGE: dict[str, Key] = {
    "after": Key(duration()),
    "max_extra": Key(integer(1)),
}

#: Keys of ``throttle`` (``hasim.AdaptiveThrottle``).
THROTTLE: dict[str, Key] = {
    "k": Key(number(positive=True)),
    "window": Key(duration(positive=True)),
}

BACKOFF: dict[str, tuple[str, dict[str, Key]]] = {
    "exponential": (
        "ExponentialBackoff",
        {
            "base": Key(duration()),
            "cap": Key(duration()),
            "multiplier": Key(number(1.0)),
            "jitter": Key(optional(choice("full", "decorrelated"))),
        },
    ),
    "constant": ("ConstantBackoff", {"delay": Key(duration())}),
}

BREAKER: dict[str, Key] = {
    "failure_threshold": Key(optional(integer(1))),
    "failure_ratio": Key(optional(probability)),
    "window": Key(duration(positive=True)),
    "minimum_calls": Key(integer(1)),
    "open_for": Key(duration(positive=True)),
    "half_open_trials": Key(integer(1)),
}

#: Keys of ``[experiment]``.
EXPERIMENT: dict[str, Key] = {
    "reps": Key(integer(1)),
    "target": Key(lambda v: v, arg=""),
    "horizon": Key(duration(positive=True)),
    "warmup": Key(duration()),
    "seed": Key(integer(0)),
    "grid": Key(lambda v: v, arg=""),
}
