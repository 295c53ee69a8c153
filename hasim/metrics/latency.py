"""Latency distributions with bounded memory: a logarithmic histogram."""

from __future__ import annotations

import math

__all__ = ["LatencyHistogram"]


class LatencyHistogram:
    """Counts of latencies in logarithmic bins from 1 us to about 107 days.

    Bin i holds [LOW * GROWTH**i, LOW * GROWTH**(i+1)); a quantile is reported
    at the geometric middle of its bin, so its relative error is below
    ``(sqrt(GROWTH) - 1)`` = 0.5 %. Values below LOW land in bin 0, values
    above the top in the last bin.
    """

    LOW = 1e-6
    GROWTH = 1.01
    BINS = 3000

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0] * self.BINS

    def add(self, value: float) -> None:
        """Count one latency (seconds)."""
        if value <= self.LOW:
            self.counts[0] += 1
            return
        i = int(math.log(value / self.LOW) * _INV_LOG_GROWTH)
        self.counts[i if i < self.BINS else self.BINS - 1] += 1

    def quantile(self, q: float) -> float:
        """The q-quantile (0 <= q <= 1) of the counted values; NaN when empty."""
        total = sum(self.counts)
        if total == 0:
            return math.nan
        rank = q * total
        running = 0
        for i, c in enumerate(self.counts):
            running += c
            if c and running >= rank:
                return self.LOW * self.GROWTH ** (i + 0.5)
        return self.LOW * self.GROWTH ** (self.BINS - 0.5)


_INV_LOG_GROWTH = 1.0 / math.log(LatencyHistogram.GROWTH)
