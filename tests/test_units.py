"""Time is float seconds; hasim.units turns readable durations into seconds and back."""

from __future__ import annotations

import math

import pytest

from hasim import units
from hasim.errors import ConfigError


def test_constants_are_seconds():
    """The constants are multipliers: ``5 * ms`` is 0.005 s; a year is 365 days."""
    assert units.s == units.second == units.seconds == 1.0
    assert 5 * units.ms == 0.005
    assert units.us == 1e-6
    assert units.minute == units.minutes == 60.0
    assert units.hour == units.hours == 3600.0
    assert units.day == units.days == 86_400.0
    assert units.week == units.weeks == 7 * units.day
    assert units.year == units.years == 365 * units.day


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("5m", 300.0),
        ("7d", 7 * 86_400.0),
        ("1.5h", 5_400.0),
        ("2 days", 172_800.0),
        ("30 s", 30.0),
        ("1e3ms", 1.0),
        ("100us", 1e-4),
        ("1y", 365 * 86_400.0),
        ("1w", 7 * 86_400.0),
        ("12", 12.0),
        ("  12  ", 12.0),
        (" 2.5 min ", 150.0),
        (".5s", 0.5),
        ("0", 0.0),
        ("2 DAYS", 172_800.0),  # case is ignored
    ],
)
def test_parse_examples(text, seconds):
    assert units.parse(text) == pytest.approx(seconds, rel=1e-15)


@pytest.mark.parametrize(
    ("aliases", "seconds"),
    [
        (["us", "µs", "μs", "usec"], 1e-6),
        (["ms", "msec", "millisecond", "milliseconds"], 1e-3),
        (["s", "sec", "second", "seconds"], 1.0),
        (["m", "min", "minute", "minutes"], 60.0),
        (["h", "hr", "hour", "hours"], 3_600.0),
        (["d", "day", "days"], 86_400.0),
        (["w", "week", "weeks"], 604_800.0),
        (["y", "yr", "year", "years"], 31_536_000.0),
    ],
)
def test_every_alias_parses(aliases, seconds):
    for alias in aliases:
        assert units.parse(f"3{alias}") == pytest.approx(3 * seconds, rel=1e-15)
        assert units.parse(f"3 {alias}") == pytest.approx(3 * seconds, rel=1e-15)


def test_parse_numbers_are_seconds():
    """A number is already seconds; it comes back as a float."""
    assert units.parse(12) == 12.0
    assert isinstance(units.parse(12), float)
    assert units.parse(0.25) == 0.25
    assert units.parse(0) == 0.0
    assert math.copysign(1.0, units.parse("-0s")) == 1.0  # no negative zero


@pytest.mark.parametrize(
    "value",
    ["5 parsecs", "", "   ", "-3s", "abc", "s", "5 5s", "1.2.3s", "inf", "nan", "1e400s",
     None, -1, -0.5, math.nan, math.inf, True, [5], b"5s"],
)  # fmt: skip
def test_parse_rejects_with_one_message(value):
    """The message names units.parse, the parameter, the allowed units and the value."""
    with pytest.raises(ConfigError, match=r"^units\.parse: value must be ") as info:
        units.parse(value)
    message = str(info.value)
    assert "units: us, ms, s, m = minutes, h, d, w, y = 365 days" in message
    assert message.endswith(f"got {value!r}")


def test_parse_error_is_a_value_error():
    with pytest.raises(ValueError, match="got '5 parsecs'"):
        units.parse("5 parsecs")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "250 ms"),
        (1.5 * 3600, "1.5 h"),
        (3.2 * 86_400, "3.2 d"),
        (12, "12 s"),
        (0, "0 s"),
        (math.inf, "inf"),
        (300, "5 min"),
        (1e-4, "100 us"),
        (59.99, "1 min"),  # rounds up into the next unit, not "60 s"
        (2 * 365 * 86_400, "2 y"),
        (-0.25, "-250 ms"),
    ],
)
def test_format_duration(seconds, text):
    assert units.format_duration(seconds) == text


def test_format_duration_round_trips_through_parse():
    for seconds in (0.25, 5_400.0, 12.0, 300.0, 1e-4):
        assert units.parse(units.format_duration(seconds).replace(" ", "")) == pytest.approx(
            seconds
        )


def test_format_duration_rejects_non_numbers():
    with pytest.raises(ConfigError, match=r"units\.format_duration: seconds must be a number"):
        units.format_duration("5s")
