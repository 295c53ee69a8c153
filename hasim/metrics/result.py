"""RunResult: what a run means, as plain numbers and DataFrames.

Every metric is computed over the measured window ``[warmup, until]``
(DESIGN: metrics). The columns of ``summary()``:

=================  ==============================================================
``window``         seconds measured (until - warmup)
``issued``         requests issued in the window
``ok``             of those, answered ok
``timeout``, ``rejected``, ``error``, ``lost``: ... ended so
``failed``         timeout + rejected + error + lost
``in_flight``      issued but unanswered when the run ended
``availability``   request availability, ok / (ok + failed) (NaN with no requests)
``nines``          -log10(1 - availability)
``uptime``         share of the window in which the system was up (structure predicate)
``uptime_nines``   -log10(1 - uptime)
``downtime``       seconds of the window the system was down
``incidents``      down intervals that began in the window
``mttr``           mean time to recover of the incidents that ended (NaN if none)
``ttr_p50``, ``ttr_p95``: median and 95th percentile of those recovery times
``mttd``           mean time to detect a component failure (crash -> first "unhealthy"
                   verdict by a health check or failure detector); NaN if none detected
``failover_time``  mean time from a component failure to the first ok answer by a
                   replacement after its detection; NaN if none
``split_brain``    seconds in which two up members of a failover pair both believed
                   they were active (summed over the pairs; 0 without any)
``attempts_mean``  tries per answered request, retries and hedges included (retry
                   amplification; 1 without resilience)
``throughput``     ok requests per second of window
``latency_mean``   mean latency of ok requests, first issue to final answer (s)
``latency_p50``, ``latency_p95``, ``latency_p99``, ``latency_p999``: percentiles
``performability`` time-average of the declared reward (``up_when(..., reward=)``): the
                   share of capacity served, 0 while down; NaN without a reward
=================  ==============================================================

Latency percentiles are exact when requests are recorded, and within 0.5 %
in aggregate mode (histogram).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hasim.errors import SimulationError, config_error
from hasim.metrics import attribution
from hasim.metrics.incidents import (
    Incident,
    incident_times,
    incidents,
    state_intervals,
    time_down,
)
from hasim.metrics.latency import LatencyHistogram
from hasim.metrics.recorder import OUTCOMES
from hasim.metrics.recovery import ComponentFailure, component_failures
from hasim.sim import SYSTEM
from hasim.units import format_duration

if TYPE_CHECKING:
    import pandas as pd

    from hasim.chaos import FaultHistory
    from hasim.sim import Simulation

__all__ = ["RunResult", "Summary", "SUMMARY_COLUMNS"]

SUMMARY_COLUMNS = (
    "window",
    "issued",
    "ok",
    "timeout",
    "rejected",
    "error",
    "lost",
    "failed",
    "in_flight",
    "availability",
    "nines",
    "uptime",
    "uptime_nines",
    "downtime",
    "incidents",
    "mttr",
    "ttr_p50",
    "ttr_p95",
    "mttd",
    "failover_time",
    "split_brain",
    "attempts_mean",
    "throughput",
    "latency_mean",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "latency_p999",
    "performability",
)
#: The summary columns that are durations in seconds (shown as durations).
DURATION_COLUMNS = {
    "window",
    "downtime",
    "mttr",
    "ttr_p50",
    "ttr_p95",
    "mttd",
    "failover_time",
    "split_brain",
} | {c for c in SUMMARY_COLUMNS if c.startswith("latency")}
_QUANTILES = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99, "latency_p999": 0.999}


def nines(a: float) -> float:
    """-log10(1 - a); inf for a == 1, NaN for NaN."""
    if math.isnan(a):
        return math.nan
    return math.inf if a >= 1.0 else -math.log10(1.0 - a)


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


class Summary(dict):
    """The one-row summary of a run: a plain ``dict`` of floats, printed readably."""

    def __repr__(self) -> str:
        lines = []
        width = max(map(len, self), default=0)
        for key, value in self.items():
            if key in DURATION_COLUMNS and not math.isnan(value):
                text = format_duration(value)
            elif isinstance(value, float) and key in ("availability", "uptime"):
                text = f"{value:.6f}"
            elif isinstance(value, float):
                text = f"{value:.4g}"
            else:
                text = str(value)
            lines.append(f"{key:>{width}}  {text}")
        return "\n".join(lines)


class RunResult:
    """What one run recorded (plain, picklable data) and the metrics it gives."""

    def __init__(
        self,
        *,
        seed: int,
        warmup: float,
        until: float,
        issued: int,
        counts: list[int],
        in_flight: int,
        latency_sum: float,
        histogram: list[int] | None,
        columns: dict[str, np.ndarray] | None,
        names: list[str],
        ok_series: list[int],
        failed_series: list[int],
        state_log: list[tuple[float, str, str]] | None,
        system_log: list[tuple[float, bool, str | None]],
        detections: list[tuple[float, str, str, bool]] = (),
        failovers: list[tuple[str, float, float, float]] = (),
        failed_by: dict[tuple[str, str | None, bool], int] | None = None,
        attempts_sum: int = 0,
        split_brain: float = 0.0,
        fault_log: list[list[Any]] = (),
        random_nodes: list[str] = (),
        reward_integral: float = math.nan,
        structure: Any = None,
    ) -> None:
        self.seed = seed
        self.warmup = warmup
        self.until = until
        self.issued = issued
        self.counts = dict(zip(OUTCOMES, counts, strict=True))
        self.in_flight = in_flight
        self.latency_sum = latency_sum
        self.histogram = histogram
        self.columns = columns
        self.names = names
        self.ok_series = ok_series
        self.failed_series = failed_series
        self.state_log = state_log
        self.system_log = system_log
        self.detections = list(detections)
        self.failovers = list(failovers)
        self.failed_by = dict(failed_by or {})
        self.attempts_sum = attempts_sum
        self.split_brain = split_brain
        #: The fault history: ``[kind, target, start, end, cause, value, derived]``
        #: per fault, in the order they began (see ``faults()``).
        self.fault_log = [list(f) for f in fault_log]
        #: The nodes that had random fault models (what a replay of the history replaces).
        self.random_nodes = tuple(random_nodes)
        #: The declared reward's integral over the window (NaN: no reward declared).
        self.reward_integral = reward_integral
        #: The structure expression the system's up state followed (by names; None when
        #: it was a lambda or the default series of every node).
        self.structure = structure
        completed = sum(counts)
        if issued != completed + in_flight:  # DESIGN rule 4: conservation
            raise SimulationError(
                f"conservation violated: issued {issued} != ended {completed} "
                f"+ in flight {in_flight}"
            )

    @classmethod
    def from_simulation(cls, sim: Simulation) -> RunResult:
        """Collect a finished simulation's recorder into a result."""
        rec = sim.recorder
        in_flight = sum(
            1 for client in sim.clients for r in client.outstanding.values() if r.measured
        )
        columns = None
        if rec.keep_requests:
            columns = {
                "id": np.array(rec.col_id, dtype=np.int64),
                "client": np.array(rec.col_client, dtype=np.int32),
                "issued": np.array(rec.col_issued, dtype=np.float64),
                "ended": np.array(rec.col_ended, dtype=np.float64),
                "outcome": np.array(rec.col_outcome, dtype=np.int8),
                "responder": np.array(rec.col_responder, dtype=np.int32),
                "attempts": np.array(rec.col_attempts, dtype=np.int16),
            }
        # Requests that end exactly at ``until`` fall in the spare last bucket.
        ok, failed = list(rec.ok_series), list(rec.failed_series)
        spare_ok, spare_failed = ok.pop(), failed.pop()
        ok[-1] += spare_ok
        failed[-1] += spare_failed
        return cls(
            seed=sim.seed,
            warmup=rec.warmup,
            until=rec.until,
            issued=rec.issued,
            counts=list(rec.counts),
            in_flight=in_flight,
            latency_sum=rec.latency_sum,
            histogram=None if rec.histogram is None else list(rec.histogram.counts),
            columns=columns,
            names=list(rec.names),
            ok_series=ok,
            failed_series=failed,
            # The lean engine keeps no component history and a compact system log.
            state_log=None if rec.state_log is None else list(rec.state_log),
            system_log=rec.system_log
            if not isinstance(rec.system_log, list)
            else list(rec.system_log),
            detections=list(rec.detections),
            failovers=list(rec.failovers),
            failed_by=dict(rec.failed_by),
            attempts_sum=rec.attempts_sum,
            # Failover pairs know their members' roles; the recorder only sees states.
            split_brain=sum(
                c.split_brain_time(start=rec.warmup, end=rec.until)
                for c in sim.components.values()
                if callable(getattr(c, "split_brain_time", None))
            ),
            fault_log=[list(f) for f in rec.faults.values()],
            random_nodes=[n.name for n in sim.nodes if n._models],
            reward_integral=rec.reward_total(),
            structure=None if sim.structure is None else sim.structure.unbound(),
        )

    # -- numbers ----------------------------------------------------------

    @property
    def window(self) -> float:
        """Seconds measured."""
        return self.until - self.warmup

    def incident_list(self) -> list[Incident]:
        """The incidents that began in the window, as objects."""
        return incidents(self.system_log, self.warmup, self.until)

    @property
    def history_kept(self) -> bool:
        """Whether the run kept every component's history (False after the lean engine)."""
        return self.state_log is not None

    def _history(self, what: str) -> None:
        if self.state_log is None:
            raise SimulationError(
                f"RunResult.{what}() needs every component's history, which the lean "
                'state-only engine does not keep: run with Simulation(record="requests") '
                'or run(engine="events")'
            )

    def failure_list(self) -> list[ComponentFailure]:
        """Each component failure that began in the window, with its recovery phases.

        Empty after the lean engine, which keeps no component history (and has no
        detections to measure).
        """
        if self.state_log is None:
            return []
        return component_failures(
            self.state_log, self.detections, self.failovers, self.warmup, self.until
        )

    def ok_latencies(self) -> np.ndarray:
        """Latencies of the ok requests (needs ``record="requests"``)."""
        cols = self._columns("ok_latencies")
        ok = cols["outcome"] == 0
        return cols["ended"][ok] - cols["issued"][ok]

    def summary(self) -> Summary:
        """The run's metrics as one flat record (see the module docstring)."""
        counts = self.counts
        ok = counts["ok"]
        failed = sum(counts[o] for o in OUTCOMES[1:])
        answered = ok + failed
        availability = ok / answered if answered else math.nan
        downtime = time_down(self.system_log, self.warmup, self.until)
        uptime = 1.0 - downtime / self.window
        starts, ends = incident_times(self.system_log, self.warmup, self.until)
        failures = self.failure_list()
        ttrs = (ends - starts)[~np.isnan(ends)]
        row: dict[str, Any] = {
            "window": self.window,
            "issued": self.issued,
            **counts,
            "failed": failed,
            "in_flight": self.in_flight,
            "availability": availability,
            "nines": nines(availability),
            "uptime": uptime,
            "uptime_nines": nines(uptime),
            "downtime": downtime,
            "incidents": len(starts),
            "mttr": float(ttrs.mean()) if ttrs.size else math.nan,
            "ttr_p50": float(np.quantile(ttrs, 0.5)) if ttrs.size else math.nan,
            "ttr_p95": float(np.quantile(ttrs, 0.95)) if ttrs.size else math.nan,
            "mttd": _nanmean([f.ttd for f in failures]),
            "failover_time": _nanmean([f.failover for f in failures]),
            "split_brain": self.split_brain,
            "attempts_mean": self.attempts_sum / answered if answered else math.nan,
            "throughput": ok / self.window,
            "latency_mean": self.latency_sum / ok if ok else math.nan,
        }
        row.update(self._latency_quantiles(ok))
        # math.nan itself, like every other "not measured": equal summaries compare equal.
        no_reward = math.isnan(self.reward_integral)
        row["performability"] = math.nan if no_reward else self.reward_integral / self.window
        return Summary((key, row[key]) for key in SUMMARY_COLUMNS)

    def _latency_quantiles(self, ok: int) -> dict[str, float]:
        if not ok:
            return dict.fromkeys(_QUANTILES, math.nan)
        if self.columns is not None:
            # The rank definition the histogram uses too (value at rank ceil(q n)),
            # so the two record modes agree to within the histogram's 0.5 %.
            values = np.quantile(
                self.ok_latencies(), list(_QUANTILES.values()), method="inverted_cdf"
            )
            return {k: float(v) for k, v in zip(_QUANTILES, values, strict=True)}
        hist = LatencyHistogram()
        hist.counts = self.histogram
        return {k: hist.quantile(q) for k, q in _QUANTILES.items()}

    # -- tables -----------------------------------------------------------

    def _columns(self, what: str) -> dict[str, np.ndarray]:
        if self.columns is None:
            raise SimulationError(
                f"RunResult.{what}() needs per-request records; "
                "run with Simulation(record='requests')"
            )
        return self.columns

    def requests(self) -> pd.DataFrame:
        """One row per measured request that ended, in issue order.

        Columns: id, client, issued, ended, latency, outcome, responder, attempts.
        """
        import pandas as pd

        cols = self._columns("requests")
        names = np.array(self.names + [None], dtype=object)  # index -1 -> None
        order = np.argsort(cols["id"], kind="stable")
        frame = pd.DataFrame(
            {
                "id": cols["id"][order],
                "client": names[cols["client"][order]],
                "issued": cols["issued"][order],
                "ended": cols["ended"][order],
                "latency": (cols["ended"] - cols["issued"])[order],
                "outcome": pd.Categorical.from_codes(cols["outcome"][order], OUTCOMES),
                "responder": names[cols["responder"][order]],
                "attempts": cols["attempts"][order],
            }
        )
        return frame

    def incidents(self) -> pd.DataFrame:
        """One row per incident that began in the window.

        Columns: start, end (NaN if ongoing), ttr (NaN if ongoing), ongoing,
        cause, restored_by, and the recovery phases of the cause's failure
        when a component failure started it: ttd (to detection), failover (to
        the first ok answer by a replacement), repair (to the cause's repair);
        NaN where they do not apply.
        """
        import pandas as pd

        by_start = {(f.component, f.failed): f for f in self.failure_list()}
        rows = []
        for i in self.incident_list():
            f = by_start.get((i.cause, i.start))
            phases = (f.ttd, f.failover, f.repair) if f else (math.nan,) * 3
            rows.append((i.start, i.end, i.ttr, i.ongoing, i.cause, i.restored_by, *phases))
        columns = ["start", "end", "ttr", "ongoing", "cause", "restored_by"]
        frame = pd.DataFrame(rows, columns=[*columns, "ttd", "failover", "repair"])
        return frame.astype(
            {"start": float, "end": float, "ttr": float, "ongoing": bool, "ttd": float,
             "failover": float, "repair": float}
        )  # fmt: skip

    def failures(self) -> pd.DataFrame:
        """One row per component failure that began in the window.

        Columns: component, failed (time), ttd, detected_by, failover, repair
        (see ``hasim.metrics.recovery``); NaN where a phase did not happen.
        """
        import pandas as pd

        self._history("failures")
        rows = [
            (f.component, f.failed, f.ttd, f.detected_by, f.failover, f.repair)
            for f in self.failure_list()
        ]
        columns = ["component", "failed", "ttd", "detected_by", "failover", "repair"]
        return pd.DataFrame(rows, columns=columns).astype(
            {"failed": float, "ttd": float, "failover": float, "repair": float}
        )

    def faults(self) -> pd.DataFrame:
        """One row per fault of the run, in the order they began (the warm-up included).

        Columns: kind (``crash``, ``slow``, ``errors``, ``stall``, ``partition``,
        ``link``), target (a component, a partition's label, a link ``a->b`` or
        ``a<->b``), start, end (NaN if it still held when the run ended),
        duration (end - start; NaN likewise), cause (who injected it: ``failure``
        for a random failure, ``chaos[i]`` for a chaos action, a domain for the
        failures it derives, ...), value (a slowdown factor, an error rate, a
        partition's sides, a link's loss and latency; None for a crash or a
        stall), derived (True for a fault another fault caused, such as a zone
        member taken down by its zone). Faults that held when ``run()`` began
        start at 0.
        """
        import pandas as pd

        self._history("faults")
        columns = ["kind", "target", "start", "end", "cause", "value", "derived"]
        frame = pd.DataFrame(self.fault_log, columns=columns)
        frame = frame.astype({"start": float, "end": float, "derived": bool})
        # None stays None (not NaN) beside the sizes, sides and dicts
        frame["value"] = pd.Series([f[5] for f in self.fault_log], dtype=object)
        frame.insert(4, "duration", frame["end"] - frame["start"])
        return frame

    def fault_history(self) -> FaultHistory:
        """The run's faults as chaos actions, to replay in another simulation.

        ``hs.Chaos(other_sim, result.fault_history())`` makes the components
        of the same name fail exactly as they did here, and switches off the
        random fault models of the nodes that had them here
        (``random_nodes``). Derived faults are left to the fault they derive
        from. See ``hasim.chaos``.
        """
        from hasim.chaos import FaultHistory

        self._history("fault_history")
        return FaultHistory.from_faults(self.fault_log, self.random_nodes)

    def importance(self, structure: Any = None) -> pd.DataFrame:
        """Which components' downtime made the system's, measured (``hasim.metrics.importance``).

        Per component: ``downtime_share``, ``criticality`` (share of system downtime it
        was down and critical), ``fussell_vesely`` (share with a failed minimal cut set
        containing it) and ``caused`` (share in incidents it caused); compare with the
        theory's ``structure.importance(...)`` for independent components.

        Args:
            structure: the structure expression (default: the one given to ``up_when``).
        """
        from hasim.metrics.importance import simulated_importance

        structure = self.structure if structure is None else structure
        if structure is None:
            raise config_error(
                "RunResult.importance", "structure",
                "a structure expression (the run's up_when was a lambda or the default)", None,
            )  # fmt: skip
        self._history("importance")
        return simulated_importance(self, structure)

    def downtime_by_cause(self) -> pd.DataFrame:
        """Seconds of system downtime per cause (``hasim.metrics.attribution``)."""
        return attribution.downtime_by_cause(self.system_log, self.warmup, self.until)

    def failed_by_cause(self) -> pd.DataFrame:
        """Failed requests per component and cause: failure, refused or no answer."""
        return attribution.failed_by_cause(self.failed_by)

    def error_budget(self, slo: float) -> pd.DataFrame:
        """Share of the error budget of an availability objective spent per cause.

        Args:
            slo: the objective, e.g. 0.999 (0.1 % of requests may fail).
        """
        answered = sum(self.counts.values())
        return attribution.error_budget(self.failed_by_cause(), answered, slo)

    def budget_burn(self, slo: float) -> pd.DataFrame:
        """Burn rate of the error budget over time, and the budget spent so far."""
        return attribution.budget_burn(self.series(), slo)

    def timeline(self) -> pd.DataFrame:
        """Every state interval in the window, components and the system.

        Columns: component, state, start, end, duration. The system appears
        as component ``"system"`` with states ``up`` and ``down``.
        """
        import pandas as pd

        self._history("timeline")
        rows = state_intervals(self.state_log, self.warmup, self.until)
        system_log = [(t, SYSTEM, "up" if up else "down") for t, up, _ in self.system_log]
        rows += state_intervals(system_log, self.warmup, self.until)
        frame = pd.DataFrame(rows, columns=["component", "state", "start", "end"])
        frame["duration"] = frame["end"] - frame["start"]
        return frame

    def up_at(self, times: Any) -> np.ndarray:
        """Whether the system was up at each of ``times`` (seconds; an array of bools)."""
        from hasim.metrics.windows import up_at

        return up_at(self.system_log, times)

    def windows(self, window: float | str) -> pd.DataFrame:
        """Availability per whole window of the measured span (a month, a quarter ...).

        Columns: start, end, downtime (s), availability (the window's uptime share).
        A trailing part shorter than ``window`` is left out. Consecutive windows of one
        run are not independent (a long outage spans two); for an SLO's probability
        with an interval, use replications (``hasim.interval_availability``).
        """
        import pandas as pd

        from hasim.metrics.windows import window_downtime
        from hasim.units import parse

        width = parse(window)
        down = window_downtime(self.system_log, self.warmup, self.until, width)
        start = self.warmup + width * np.arange(down.size)
        return pd.DataFrame(
            {"start": start, "end": start + width, "downtime": down,
             "availability": 1.0 - down / width}
        )  # fmt: skip

    def series(self) -> pd.DataFrame:
        """Ok and failed answers per time bucket (1/1000 of the window).

        Columns: start, ok, failed, throughput (ok/s), success_rate.
        """
        import pandas as pd

        ok = np.array(self.ok_series, dtype=np.int64)
        failed = np.array(self.failed_series, dtype=np.int64)
        bucket = self.window / len(ok)
        with np.errstate(invalid="ignore", divide="ignore"):
            success = ok / (ok + failed)
        return pd.DataFrame(
            {
                "start": self.warmup + bucket * np.arange(len(ok)),
                "ok": ok,
                "failed": failed,
                "throughput": ok / bucket,
                "success_rate": success,
            }
        )

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"<RunResult seed={self.seed} window={format_duration(self.window)} "
            f"availability={s['availability']:.6f} uptime={s['uptime']:.6f} "
            f"incidents={s['incidents']} throughput={s['throughput']:.4g}/s>"
        )
