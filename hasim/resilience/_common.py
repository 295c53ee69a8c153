"""Helpers the resilience policies share: integer checks, frozen-field normalising, limits."""

from __future__ import annotations

from typing import Any

import numpy as np

from hasim.errors import config_error

#: Upper bound of ``Retry.attempts`` and ``Hedge.max_extra`` (attempts are recorded as int16).
MAX_ATTEMPTS = 1000


def _count(owner: str, param: str, value: Any, low: int, high: int) -> int:
    """An integer in ``[low, high]`` (bools refused)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not low <= value <= high
    ):
        raise config_error(owner, param, f"an integer in [{low}, {high}]", value)
    return int(value)


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)  # normalise a field of a frozen dataclass
