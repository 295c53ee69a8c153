"""Chaos schedules and fault histories as TOML: reading (with line numbers) and writing.

``Chaos.from_toml`` reads, and ``to_toml`` writes, one ``[[fault]]`` table per
action; a fault history adds a ``[replay]`` table::

    [replay]
    replaces = ["web1", "web2"]      # whose random faults the history stands for

    [[fault]]
    kind = "crash"                   # crash, slow, errors, stall, flap, partition,
    target = "web1"                  # impair, zone_outage
    at = "10m"
    duration = "60s"

The fields of each kind are those of its action class (``ACTIONS`` maps the
kinds to the classes); times are seconds or duration strings, a latency is
seconds, a string or an inline table such as ``{ dist = "Exponential", mean =
0.05 }``. An error in a file names the line of the offending ``[[fault]]``
table (``ScheduleError``). Times are written in seconds, exactly, so a history
read back replays bit-identically. Reading needs Python 3.11 (``tomllib``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, NamedTuple

from hasim import dist
from hasim.chaos.actions import (
    Action,
    Crash,
    Errors,
    Flap,
    Slow,
    Stall,
    ZoneOutage,
    _check_actions,
    _fields,
)
from hasim.chaos.network_actions import Impair, Partition
from hasim.errors import ConfigError, config_error
from hasim.units import format_duration

__all__ = ["ACTIONS", "ScheduleError", "actions_to_toml"]


class ScheduleError(ConfigError):
    """A chaos schedule file that cannot be used: ``<source>:<line>: <reason>``.

    Attributes:
        source: the file (or ``"<string>"``).
        line: the line of the offending ``[[fault]]`` table (None if unknown).
        reason: what is wrong with it.
    """

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source, self.line, self.reason = source, line, reason
        super().__init__(f"{source}:{line}: {reason}" if line else f"{source}: {reason}")

    def __reduce__(self) -> tuple:
        return type(self), (self.source, self.line, self.reason)


#: The action classes by their TOML ``kind``.
ACTIONS: dict[str, type[Action]] = {
    cls.kind: cls for cls in (Crash, Slow, Errors, Stall, Flap, Partition, Impair, ZoneOutage)
}


class _Schedule(NamedTuple):
    """Actions with where they came from (the TOML lines) and, for a history, what it replaces."""

    actions: tuple[Action, ...]
    source: str | None = None
    lines: tuple[int | None, ...] | None = None
    replaces: tuple[str, ...] | None = None  # None: a schedule, not a history


def actions_to_toml(actions: Sequence[Action]) -> str:
    """The actions as ``[[fault]]`` tables (what ``Chaos.from_toml`` reads).

    Times are written in seconds, exactly (a replay read back is bit-identical).
    """
    _check_actions("actions_to_toml", list(actions))
    tables = []
    for action in actions:
        lines = ["[[fault]]", f"kind = {_toml(action.kind)}"]
        for f in _fields(type(action)):
            value = getattr(action, f.name)
            if value is None or (f.default is not MISSING and value == f.default):
                continue
            note = f"  # {format_duration(value)}" if f.name in ("at", "duration") else ""
            lines.append(f"{f.name} = {_toml(value)}{note}")
        tables.append("\n".join(lines) + "\n")
    return "\n".join(tables)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dist.Deterministic):
        return _toml(value.value)
    if isinstance(value, dist.Distribution):
        items = [f"dist = {_toml(type(value).__name__)}"]
        items += [f"{f.name} = {_toml(getattr(value, f.name))}" for f in fields(value)]
        return "{ " + ", ".join(items) + " }"
    raise ConfigError(f"actions_to_toml: cannot write {value!r} as TOML")


def _from_toml_dist(table: Any) -> Any:
    """A Distribution from ``{ dist = "Exponential", mean = 0.05 }`` (numbers pass through)."""
    if isinstance(table, list):
        return [_from_toml_dist(item) for item in table]
    if not isinstance(table, dict):
        return table
    kwargs = {k: _from_toml_dist(v) for k, v in table.items() if k != "dist"}
    name = table.get("dist")
    cls = getattr(dist, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, dist.Distribution)):
        raise ConfigError(
            f"latency: dist must name a distribution (e.g. 'Exponential'), got {name!r}"
        )
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise ConfigError(f"latency: {name}: {error}") from None


def _write(text: str, path: str | Path | None) -> str:
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def _read_toml(path_or_text: str | Path, source: str | None) -> _Schedule:
    """Parse a schedule file (a path, or TOML text: a string with a newline)."""
    import tomllib

    if not isinstance(path_or_text, (str, Path)):
        raise config_error("Chaos", "schedule", "a path or TOML text", path_or_text)
    if isinstance(path_or_text, Path) or "\n" not in path_or_text:
        path = Path(path_or_text)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ScheduleError(str(path), None, f"cannot read the schedule: {error}") from None
        source = source or str(path)
    else:
        text, source = path_or_text, source or "<string>"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        raise ScheduleError(source, int(found[1]) if found else None, str(error)) from None
    for key in data:
        if key not in ("fault", "replay"):
            reason = f"unknown table or key {key!r} (a schedule has [[fault]] tables and [replay])"
            raise ScheduleError(source, _key_line(text, key), reason)
    tables = data.get("fault", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ScheduleError(source, _key_line(text, "fault"), "fault must be [[fault]] tables")
    lines = _header_lines(text, len(tables))
    actions = []
    for index, table in enumerate(tables):
        try:
            actions.append(_action(table))
        except ConfigError as error:
            where = "" if lines[index] else f"fault #{index + 1}: "
            raise ScheduleError(source, lines[index], where + str(error)) from None
    replaces = None
    if "replay" in data:
        replay = data["replay"]
        names = replay.get("replaces") if isinstance(replay, dict) else None
        if (
            set(replay) - {"replaces"}
            or not isinstance(names, list)
            or not all(isinstance(n, str) and n for n in names)
        ):
            reason = "[replay] takes one key, replaces = a list of component names"
            raise ScheduleError(source, _key_line(text, "replay"), reason)
        replaces = tuple(names)
    return _Schedule(tuple(actions), source, tuple(lines), replaces)


def _action(table: dict[str, Any]) -> Action:
    """One ``[[fault]]`` table as an action."""
    kinds = ", ".join(map(repr, ACTIONS))
    kind = table.get("kind")
    if kind not in ACTIONS:
        given = "no kind" if kind is None else f"kind {kind!r}"
        raise ConfigError(f"a [[fault]] needs kind = one of {kinds}; got {given}")
    cls = ACTIONS[kind]
    known = [f.name for f in _fields(cls)]
    unknown = sorted(set(table) - set(known) - {"kind"})
    if unknown:
        raise ConfigError(
            f"a {kind} fault has no field {unknown[0]!r} (its fields: {', '.join(known)})"
        )
    needed = [f.name for f in _fields(cls) if f.default is MISSING]
    lacking = [name for name in needed if name not in table]
    if lacking:
        raise ConfigError(
            f"a {kind} fault needs {', '.join(lacking)} (its fields: {', '.join(known)})"
        )
    kwargs = {k: v for k, v in table.items() if k != "kind"}
    if "latency" in kwargs:
        kwargs["latency"] = _from_toml_dist(kwargs["latency"])
    return cls(**kwargs)


_HEADER = re.compile(r"\s*\[\[\s*fault\s*\]\]")


def _header_lines(text: str, count: int) -> list[int | None]:
    """The line of each ``[[fault]]`` header (tomllib gives no positions)."""
    import tomllib

    lines = text.splitlines(keepends=True)
    found = [n + 1 for n, line in enumerate(lines) if _HEADER.match(line)]
    if len(found) != count:  # a look-alike inside a multi-line string: keep the real headers
        real = []
        for n in found:
            try:
                tomllib.loads("".join(lines[: n - 1]))
                real.append(n)
            except tomllib.TOMLDecodeError:
                pass
        found = real
    return found if len(found) == count else [None] * count


def _key_line(text: str, key: str) -> int | None:
    pattern = re.compile(rf"\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])")
    for n, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return n
    return None
