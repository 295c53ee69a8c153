"""What happened in a run, recorded compactly as it happens.

The Recorder is the only observer of the truth (DESIGN rule 7): nodes report
their state changes, the Simulation reports the system's, clients report each
request's final outcome. It never changes the simulation.

Requests are measured when issued at or after the warm-up. For them it keeps
counts by outcome, the ok/failed count per time bucket, and either one row
per request in typed ``array.array`` columns (``keep_requests=True``, about
27 bytes a request) or, in aggregate mode, a logarithmic latency histogram
whose bins are 1 % wide, so percentiles are within 0.5 % and memory is flat.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from hasim.metrics.latency import LatencyHistogram

__all__ = [
    "OUTCOMES",
    "FAILED",
    "OK",
    "TIMEOUT",
    "REJECTED",
    "ERROR",
    "LOST",
    "Recorder",
]

OK = "ok"
TIMEOUT = "timeout"
REJECTED = "rejected"
ERROR = "error"
LOST = "lost"
#: Every request ends in exactly one of these (DESIGN: request outcome).
OUTCOMES = (OK, TIMEOUT, REJECTED, ERROR, LOST)
#: The outcomes that count as failed in request availability.
FAILED = OUTCOMES[1:]
_CODE = {outcome: code for code, outcome in enumerate(OUTCOMES)}

#: Number of time buckets of the ok/failed series over the measured window.
SERIES_BUCKETS = 1000


class Recorder:
    """Collects requests, component states and system states during one run."""

    def __init__(self, keep_requests: bool = True) -> None:
        self.keep_requests = keep_requests
        self.warmup = 0.0
        self.until = math.inf
        self.issued = 0
        self.counts = [0] * len(OUTCOMES)
        self.latency_sum = 0.0
        self.attempts_sum = 0
        self.histogram = None if keep_requests else LatencyHistogram()
        self.ok_series: list[int] = []
        self.failed_series: list[int] = []
        self.bucket = 1.0
        self._inv_bucket = 1.0
        self.index: dict[Any, int] = {None: -1}
        self.names: list[str] = []
        # One row per measured request, in completion order.
        self.col_id = array("q")
        self.col_client = array("i")
        self.col_issued = array("d")
        self.col_ended = array("d")
        self.col_outcome = array("b")
        self.col_responder = array("i")
        self.col_attempts = array("h")
        #: (time, component name, state) for every node state change.
        self.state_log: list[tuple[float, str, str]] = []
        #: (time, observer, target, healthy) for every verdict of a health
        #: check or failure detector: the raw material of time-to-detect.
        self.detections: list[tuple[float, str, str, bool]] = []
        #: (component, failed at, detected at, first ok by another at): for each
        #: detected failure, when the first ok answer from a replacement came.
        self.failovers: list[tuple[str, float, float, float]] = []
        self._down_since: dict[str, float] = {}
        #: (outcome, responder, responder was down) -> failed requests.
        self.failed_by: dict[tuple[str, str | None, bool], int] = {}
        self._awaiting: dict[str, tuple[float, float]] = {}
        #: (time, up, component whose change caused it) for every change of the
        #: system's state; the first entry is the state at time 0.
        self.system_log: list[tuple[float, bool, str | None]] = []
        #: The fault history: record id -> [kind, target, start, end, cause,
        #: value, derived], ``end`` None while the fault holds (see ``fault_begin``).
        self.faults: dict[int, list[Any]] = {}
        self._fault_ids = 0
        #: The declared reward (performability): its value now (None: no reward),
        #: since when it holds, and its integral over the window so far.
        self.reward_value: float | None = None
        self.reward_since = 0.0
        self.reward_integral = 0.0

    def open(self, warmup: float, until: float, names: list[str]) -> None:
        """Start measuring: the window is [warmup, until]."""
        self.warmup = warmup
        self.until = until
        self.bucket = (until - warmup) / SERIES_BUCKETS
        self._inv_bucket = 1.0 / self.bucket
        # One spare bucket for requests that end exactly at ``until``.
        self.ok_series = [0] * (SERIES_BUCKETS + 1)
        self.failed_series = [0] * (SERIES_BUCKETS + 1)
        self.names = list(names)
        # The run starts from the states the components have now; what
        # happened to them before run() is not part of it.
        self.state_log.clear()
        self.system_log.clear()
        self.detections.clear()
        self.failovers.clear()
        self.failed_by.clear()
        self._down_since.clear()
        self._awaiting.clear()
        self.index = {name: i for i, name in enumerate(names)}
        self.index[None] = -1
        # Faults that hold as the run starts are part of it, from time 0.
        self.faults = {k: [*f[:2], 0.0, *f[3:]] for k, f in self.faults.items() if f[3] is None}

    def add_name(self, name: str) -> None:
        """A component made during the run: give it an index in the request columns."""
        if name not in self.index:
            self.index[name] = len(self.names)
            self.names.append(name)

    def issue(self, request: Any) -> None:
        """A client issued ``request`` (its ``issued`` time is set)."""
        if request.issued >= self.warmup:
            request.measured = True
            self.issued += 1

    def complete(self, request: Any) -> None:
        """``request`` reached its final outcome (``outcome``, ``ended`` set)."""
        if not request.measured:
            return
        code = _CODE[request.outcome]
        self.counts[code] += 1
        self.attempts_sum += request.attempts
        ended = request.ended
        bucket = int((ended - self.warmup) * self._inv_bucket)
        if code == 0:
            self.ok_series[bucket] += 1
            latency = ended - request.issued
            self.latency_sum += latency
            if self.histogram is not None:
                self.histogram.add(latency)
            if self._awaiting:
                self._failed_over(request.responder, ended)
        else:
            self.failed_series[bucket] += 1
            # Who failed it, and was it down then (a failure) or up (overload, refusal)?
            by = request.responder
            key = (request.outcome, by, by in self._down_since)
            self.failed_by[key] = self.failed_by.get(key, 0) + 1
        if self.keep_requests:
            index = self.index
            self.col_id.append(request.id)
            self.col_client.append(index[request.client])
            self.col_issued.append(request.issued)
            self.col_ended.append(ended)
            self.col_outcome.append(code)
            self.col_responder.append(index[request.responder])
            self.col_attempts.append(request.attempts)

    def _failed_over(self, responder: str | None, time: float) -> None:
        """An ok answer: the first one by another component ends a failover."""
        for name in [n for n in self._awaiting if n != responder]:
            failed, detected = self._awaiting.pop(name)
            self.failovers.append((name, failed, detected, time))

    def state(self, time: float, name: str, state: str) -> None:
        """Node ``name`` entered ``state`` at ``time``."""
        self.state_log.append((time, name, state))
        if state == "down":
            self._down_since.setdefault(name, time)
        else:
            self._down_since.pop(name, None)
            self._awaiting.pop(name, None)  # repaired before a replacement answered

    def fault_begin(
        self, time: float, kind: str, target: str, cause: str, value: Any, derived: bool
    ) -> int:
        """A fault of ``kind`` (crash, slow, errors, stall, partition, link, ...) began.

        ``cause`` says who injected it (a fault model, a domain, a chaos
        experiment), ``value`` its size where it has one (a slowdown, an error
        rate), ``derived`` whether another fault caused it. Returns the
        record's id for ``fault_end``.
        """
        self._fault_ids += 1
        self.faults[self._fault_ids] = [kind, target, time, None, cause, value, derived]
        return self._fault_ids

    def fault_end(self, record: int, time: float) -> None:
        """The fault ``record`` (from ``fault_begin``) ended at ``time``."""
        fault = self.faults.get(record)
        if fault is not None:
            fault[3] = time

    def detect(self, time: float, observer: str, target: str, healthy: bool) -> None:
        """``observer`` came to believe ``target`` is (un)healthy at ``time``.

        A verdict of unhealthy on a component that is truly down starts the
        wait for a failover (the first ok answer from another component).
        """
        self.detections.append((time, observer, target, healthy))
        failed = self._down_since.get(target)
        if not healthy and failed is not None and target not in self._awaiting:
            if not any(f[0] == target and f[1] == failed for f in self.failovers):
                self._awaiting[target] = (failed, time)

    def reward(self, time: float, value: float) -> None:
        """The reward rate became ``value`` at ``time`` (its integral is streamed)."""
        previous = self.reward_value
        if previous is not None:
            lo, hi = max(self.reward_since, self.warmup), min(time, self.until)
            if hi > lo:
                self.reward_integral += previous * (hi - lo)
        self.reward_value = value
        self.reward_since = time

    def reward_total(self) -> float:
        """The reward's integral over the whole window (NaN if none was declared)."""
        if self.reward_value is None:
            return math.nan
        self.reward(self.until, self.reward_value)
        return self.reward_integral

    def system(self, time: float, up: bool, cause: str | None = None) -> None:
        """The structure predicate became ``up`` at ``time`` after ``cause`` changed."""
        self.system_log.append((time, up, cause))
