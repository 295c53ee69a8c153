"""Time units: every duration in hasim is a float number of seconds.

The constants turn readable quantities into seconds (``5 * ms``, ``30 * days``);
:func:`parse` reads a duration typed as text (``"250ms"``, ``"1.5h"``, ``"2 days"``), and
:func:`format_duration` writes seconds back in the unit a person would pick. Use them at the
edges (configuration, reports); inside a run there are only seconds.

A ``year`` is 365 days (no leap years); a ``week`` is 7 days.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from .errors import ConfigError, check_nonnegative, check_positive, config_error

__all__ = [
    "us",
    "ms",
    "s",
    "second",
    "seconds",
    "minute",
    "minutes",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "year",
    "years",
    "parse",
    "duration",
    "format_duration",
]

us: float = 1e-6
"""One microsecond, in seconds."""
ms: float = 1e-3
"""One millisecond, in seconds."""
s: float = 1.0
"""One second."""
second = seconds = s
minute: float = 60.0
"""One minute, in seconds."""
minutes = minute
hour: float = 3600.0
"""One hour, in seconds."""
hours = hour
day: float = 86400.0
"""One day, in seconds."""
days = day
week: float = 7 * day
"""One week (7 days), in seconds."""
weeks = week
year: float = 365 * day
"""One year, in seconds: 365 days, no leap years."""
years = year

# Every spelling parse() accepts (matched case-insensitively): how many of it make a second,
# or how many seconds it lasts. Dividing by 1e3/1e6 keeps "100us" exactly 1e-4 (100 * 1e-6 is not).
_PER_SECOND: dict[str, float] = {}
_SECONDS: dict[str, float] = {}
for _names, _table, _size in (
    (("us", "µs", "μs", "usec"), _PER_SECOND, 1e6),  # micro sign U+00B5 and Greek mu U+03BC
    (("ms", "msec", "millisecond", "milliseconds"), _PER_SECOND, 1e3),
    (("", "s", "sec", "second", "seconds"), _SECONDS, s),
    (("m", "min", "minute", "minutes"), _SECONDS, minute),
    (("h", "hr", "hour", "hours"), _SECONDS, hour),
    (("d", "day", "days"), _SECONDS, day),
    (("w", "week", "weeks"), _SECONDS, week),
    (("y", "yr", "year", "years"), _SECONDS, year),
):
    _table.update(dict.fromkeys(_names, _size))
del _names, _table, _size

_ALLOWED = (
    "a finite number of seconds >= 0 or a duration such as '250ms' or '2 days' (units: us, ms, "
    "s, m = minutes, h, d, w, y = 365 days; also usec, msec, sec, min, hr, yr and full names)"
)
_DURATION = re.compile(
    r"\s*(?P<number>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*(?P<unit>[^\W\d_]*)\s*"
)


def parse(value: Any) -> float:
    """Return a duration in seconds.

    Args:
        value: a number of seconds (int or float, finite, >= 0), or a string made of a number
            and an optional unit, with optional spaces: ``"250ms"``, ``"5m"`` (minutes),
            ``"1.5h"``, ``"2 days"``, ``"1e3ms"``, ``"100us"``, ``"1w"``, ``"1y"`` (365 days),
            ``"12"`` (seconds). Units: us/µs/usec, ms/msec/millisecond(s), s/sec/second(s),
            m/min/minute(s), h/hr/hour(s), d/day(s), w/week(s), y/yr/year(s); case is ignored.

    Returns:
        The duration as a float number of seconds.

    Raises:
        ConfigError: the value is not a number or a duration string, has an unknown unit, or
            is negative or not finite.

    Example:
        >>> parse("250ms"), parse("1.5h"), parse(12)
        (0.25, 5400.0, 12.0)
    """
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        unit = match["unit"].lower() if match else None
        if unit in _SECONDS:
            seconds_ = float(match["number"]) * _SECONDS[unit]
        elif unit in _PER_SECOND:
            seconds_ = float(match["number"]) / _PER_SECOND[unit]
        else:
            raise config_error("units.parse", "value", _ALLOWED, value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            seconds_ = float(value)
        except OverflowError:  # an int beyond the float range
            seconds_ = math.inf
    else:
        raise config_error("units.parse", "value", _ALLOWED, value)
    if not 0.0 <= seconds_ < math.inf:  # also rejects NaN
        raise config_error("units.parse", "value", _ALLOWED, value)
    return abs(seconds_)  # turns -0.0 into 0.0


# Display units, largest first. "min" rather than "m", which reads as metres.
_DISPLAY = (("y", year), ("d", day), ("h", hour), ("min", minute), ("s", s), ("ms", ms))


def duration(owner: str, param: str, value: Any, *, positive: bool) -> float:
    """``value`` (seconds or a string like ``"250ms"``) as float seconds, > 0 or >= 0.

    The parameter check every component uses for a duration: an error names
    ``owner`` and ``param``, not ``units.parse``.
    """
    allowed = f"a duration {'>' if positive else '>='} 0 (seconds or a string like '2s')"
    if isinstance(value, str):
        try:
            value = parse(value)
        except ConfigError:
            raise config_error(owner, param, allowed, value) from None
    if positive:
        return check_positive(owner, param, value)
    return check_nonnegative(owner, param, value)


def format_duration(seconds: float) -> str:
    """Return a short human-readable form of a duration in seconds.

    The unit is the largest one in which the value, shown with 3 significant digits, is at
    least 1 (us for anything shorter than a millisecond). Days are not folded into weeks.

    Args:
        seconds: the duration (any real number; negative values get a minus sign).

    Returns:
        A string such as ``"250 ms"``, ``"12 s"``, ``"1.5 h"``, ``"3.2 d"``, ``"0 s"`` or
        ``"inf"``.

    Raises:
        ConfigError: ``seconds`` is not a number.

    Example:
        >>> format_duration(0.25), format_duration(5400), format_duration(0)
        ('250 ms', '1.5 h', '0 s')
    """
    if not isinstance(seconds, numbers.Real) or isinstance(seconds, bool):
        raise config_error("units.format_duration", "seconds", "a number", seconds)
    value = float(seconds)
    if math.isnan(value):
        return "nan"
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value == math.inf:
        return sign + "inf"
    if value == 0:
        return "0 s"
    # The first unit whose *rounded* figure is >= 1, so that 59.99 s reads "1 min", not "60 s".
    name, size = next(
        ((name, size) for name, size in _DISPLAY if float(f"{value / size:.3g}") >= 1), ("us", us)
    )
    figure = value / size
    text = f"{figure:.0f}" if figure >= 1000 else f"{figure:.3g}"  # "1500 y", not "1.5e+03 y"
    return f"{sign}{text} {name}"
