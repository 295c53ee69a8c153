"""hasim's errors and the validation helpers every constructor uses.

All errors raised on purpose by hasim derive from :class:`HasimError`. Bad
input raises :class:`ConfigError`, which is also a :class:`ValueError`, with
one message template everywhere::

    Server 'web1': workers must be an integer >= 1, got 0

that is ``<owner>: <parameter> must be <what is allowed>, got <value>``. The
``check_*`` helpers build that message, and return the value normalised
(ints as ``int``, reals as ``float``), so constructors read as a list of
rules.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "HasimError",
    "ConfigError",
    "SimulationError",
    "config_error",
    "check_real",
    "check_positive",
    "check_nonnegative",
    "check_probability",
    "check_int",
    "check_choice",
]


class HasimError(Exception):
    """Base class of every error hasim raises on purpose."""


class ConfigError(HasimError, ValueError):
    """A component, distribution or run was given a value it cannot accept."""


class SimulationError(HasimError, RuntimeError):
    """A run was used in a way its life cycle does not allow (e.g. run twice)."""


def config_error(owner: str, param: str, allowed: str, value: Any) -> ConfigError:
    """The one error message hasim uses for bad input.

    Args:
        owner: who rejects the value, e.g. ``"Server 'web1'"`` or ``"Exponential"``.
        param: the parameter's name as the user typed it.
        allowed: what would have been accepted, e.g. ``"a number > 0"``.
        value: what was given.
    """
    return ConfigError(f"{owner}: {param} must be {allowed}, got {value!r}")


def _as_float(value: Any) -> float:
    """``value`` as a float, or NaN if it is no real number (or too big for a float)."""
    # bool is an int subclass; True as a mean is a bug, not a number.
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (OverflowError, ValueError):
        return math.nan


def check_real(owner: str, param: str, value: Any, *, finite: bool = True) -> float:
    """Return ``value`` as a float if it is a real number (finite unless told)."""
    x = _as_float(value)
    if math.isnan(x) or (finite and math.isinf(x)):
        raise config_error(owner, param, "a finite number" if finite else "a number", value)
    return x


def check_positive(owner: str, param: str, value: Any, *, finite: bool = True) -> float:
    """Return ``value`` as a float if it is a number > 0."""
    x = _as_float(value)
    if not x > 0 or (finite and math.isinf(x)):
        raise config_error(owner, param, "a number > 0" if finite else "a number > 0 or inf", value)
    return x


def check_nonnegative(owner: str, param: str, value: Any, *, finite: bool = True) -> float:
    """Return ``value`` as a float if it is a number >= 0."""
    x = _as_float(value)
    if not x >= 0 or (finite and math.isinf(x)):
        raise config_error(
            owner, param, "a number >= 0" if finite else "a number >= 0 or inf", value
        )
    return x


def check_probability(owner: str, param: str, value: Any) -> float:
    """Return ``value`` as a float if it is a probability in [0, 1]."""
    x = _as_float(value)
    if not 0.0 <= x <= 1.0:
        raise config_error(owner, param, "a probability in [0, 1]", value)
    return x


def check_int(owner: str, param: str, value: Any, *, minimum: int = 0) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise config_error(owner, param, f"an integer >= {minimum}", value)
    return int(value)


def check_choice(owner: str, param: str, value: Any, choices: tuple) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        allowed = "one of " + ", ".join(repr(c) for c in choices)
        raise config_error(owner, param, allowed, value)
    return value
