"""Hedge: another try in parallel when one is slow to answer."""

from __future__ import annotations

from dataclasses import dataclass

from hasim.resilience._common import MAX_ATTEMPTS, _count, _set
from hasim.units import duration

__all__ = ["Hedge"]


@dataclass(frozen=True)
class Hedge:
    """Hedged requests: another attempt when one is slow to answer.

    When an attempt has not answered ``after`` seconds after it was sent
    (and the request is still waiting), the client sends one more attempt in
    parallel, up to ``max_extra`` extra attempts per request; each extra one
    arms the next. The first ok answer wins; the others are ignored when
    they come (their servers still do the work). A failed attempt does not
    end the request while another one is out.

    Args:
        after: seconds to wait before hedging (>= 0, or ``"50ms"``).
        max_extra: extra attempts per request (an integer in [1, 1000]).
    """

    after: float = 0.05
    max_extra: int = 1

    def __post_init__(self) -> None:
        _set(self, "after", duration("Hedge", "after", self.after, positive=False))
        _set(self, "max_extra", _count("Hedge", "max_extra", self.max_extra, 1, MAX_ATTEMPTS))
