"""Fast-forward: skip the quiet stretches between faults, accounting for their requests.

Availability lives on two time scales: requests take milliseconds, faults come
days apart. Between two fault events (a failure, a repair, a gray episode's
start or end, all drawn in advance) a system whose health checks have settled
is in a steady state: the same servers take the same traffic. Simulating a week
of it request by request only measures the same rates again.

``Simulation.run(until, fast_forward=FastForward())`` therefore, whenever the
run is *quiet* (every health check's belief matches the truth and has settled)
and the next fault event is far enough:

1. simulates ``sample`` seconds and measures what the requests did (how many
   ended in each outcome, their latency histogram, attempts, failures by cause);
2. waits for an instant with no request in the system (a few milliseconds);
3. jumps the clock to ``lead`` seconds before the next fault event, less a random
   part of one probe interval (or to the horizon), moving every pending event but
   the faults' by the same amount, so
   the system resumes exactly where it was, just later, and the probes and
   arrivals keep their rhythm; queues then have ``lead`` seconds to reach their
   steady state before the fault strikes, and the fault meets the probes at a
   uniform phase, as it would in a full run (exactly so when every health check
   has the same interval);
4. adds the skipped requests: the sample's counts scaled by skipped / sampled
   time, rounded at random to whole requests (exact in expectation).

Faults, detections, failovers and repairs are always simulated in full, so uptime,
incidents and MTTR are exact; request counts, availability and latency
percentiles of the skipped stretches are estimates, unbiased where the steady
state holds (constant arrival rates, stationary service).

Failover managers are skipped the same way. ``ActivePassive``, ``PrimaryBackup`` and
``RaftCluster`` each say when they are quiet (``_ff_quiet``: every belief is the truth
and settled, no failover or election under way, every live replica caught up; for a
manager that is down, or a promotion retrying while every candidate is down, also
quiet: nothing changes until a repair) and move the deadlines they keep as absolute
times with the jump (``_ff_shift``: watchdog due times, leases, election deadlines).
A quiet stretch then holds only heartbeats, watchdog re-arms, empty AppendEntries and
resends to down members, which repeat unchanged until the next fault: skipping them
is exact in distribution. It is not bit for bit the full run (fewer heartbeats draw
fewer election timeouts, the jump draws a phase), and it holds only if no timer can
fire inside a quiet stretch, so a manager is refused (``_ff_check``, naming it and the
path) when a path between its members loses messages, has unbounded latency, or when
its period plus twice the largest latency reaches its timeout (the shortest election
timeout for Raft); a ``PrimaryBackup`` with fencing also needs instantaneous paths
(a heartbeat in flight at a jump would renew a lease with its old send time). With
no clients nothing is sampled before a jump (``sample`` applies only to requests).

Supported: nodes, servers, application servers, failure domains, repair crews,
load balancers (health checks, no outlier detection), the failover managers above
(with their replicas and Raft nodes), a network without links, and open-loop
clients at a constant rate without breakers, hedges or budgets;
``record="aggregate"``. Anything else is refused before the run, naming it: its
state could hold something the jump would not carry over.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from hasim import faults, gray
from hasim.domains import Domain
from hasim.errors import ConfigError, check_positive
from hasim.node import Forwarder, Node, Server

__all__ = ["FastForward", "Skipper", "check_supported", "check_timing"]

#: The generator functions of the random fault models: their events stay at their times.
_FAULT_CODES = {
    faults._lifecycle.__code__,
    gray._Episodes._episodes.__code__,
    gray.Flapping._flaps.__code__,
}


@dataclass(frozen=True)
class FastForward:
    """How to skip quiet stretches (see the module docstring).

    Args:
        sample: seconds simulated to measure the steady state before each skip.
        lead: seconds simulated before the next fault event, so queues are in
            their steady state when it strikes.
        settle: seconds simulated at a time while the run is not quiet.
    """

    sample: float = 30.0
    lead: float = 10.0
    settle: float = 1.0

    def __post_init__(self) -> None:
        for name in ("sample", "lead", "settle"):
            check_positive("FastForward", name, getattr(self, name))


def check_supported(sim: Any) -> None:
    """Refuse a model the fast-forward cannot prove quiet, naming the first culprit."""
    from hasim.balancer import LoadBalancer
    from hasim.faults import RepairCrews
    from hasim.network import Link, Network
    from hasim.tiers import AppServer
    from hasim.workload import OpenLoop

    why = "fast-forward"
    if sim.recorder.keep_requests:
        raise ConfigError(
            f'{why}: needs Simulation(record="aggregate"); skipped requests have no rows'
        )
    allowed = (Server, AppServer, Domain, RepairCrews, LoadBalancer, Network, OpenLoop)
    for component in sim.components.values():
        label = component.label
        protocol = callable(getattr(component, "_ff_quiet", None))
        if isinstance(component, Link) or not (
            isinstance(component, allowed) or type(component) is Node or protocol
        ):
            raise ConfigError(
                f"{why}: cannot prove {label} quiet (supported: nodes, servers, app servers, "
                "domains, repair crews, load balancers, failover managers (ActivePassive, "
                "PrimaryBackup, Raft), a network without links, open loops)"
            )
        if isinstance(component, LoadBalancer) and component.outlier_detection is not None:
            raise ConfigError(f"{why}: {label} has outlier detection (its ejections are timed)")
        if isinstance(component, OpenLoop):
            constant = component._rate_fn is None and len(component._steps) == 1
            rs = component._rs
            extras = rs is not None and (
                rs.breaker is not None or rs.hedge is not None or rs.budget is not None
            )
            if not constant or extras:
                raise ConfigError(
                    f"{why}: {label} must send at a constant rate, without breaker, hedge or "
                    "retry budget (their state is timed)"
                )
        if protocol and callable(getattr(component, "_ff_check", None)):
            component._ff_check()
        if isinstance(component, Node):
            for model in component._models:
                if isinstance(model, faults.Failures) and model.spares is not None:
                    raise ConfigError(f"{why}: {label} uses spares (their restocking is timed)")


def _span(dist: Any) -> tuple[float, float] | None:
    """``(lowest, highest)`` value of a bounded distribution, None for an unbounded one."""
    from hasim.dist import Deterministic, Uniform

    if isinstance(dist, Deterministic):
        return dist.value, dist.value
    if isinstance(dist, Uniform):
        return dist.low, dist.high
    return None


def lowest(dist: Any) -> float:
    """The lowest value ``dist`` can take (0 for one it cannot bound from below)."""
    span = _span(dist)
    return 0.0 if span is None else span[0]


def check_timing(sim: Any, label: str, paths: list[tuple[str, str]], gap: float, limit: float):
    """Refuse a protocol whose timer could fire in a quiet stretch.

    A failover manager's quiet stretch is bookkeeping only if its periodic
    messages (heartbeats, AppendEntries, lease renewals) always arrive before
    the timer that watches them: no path among ``paths`` may lose messages,
    and ``gap`` (the period, plus what the paths' latency can add to the
    spacing of two arrivals and a round trip) must be below ``limit`` (the
    shortest timeout). A lossy or unboundedly slow path could fire a timeout at
    a random moment of the stretch, which a jump would skip.
    """
    from hasim import network

    net = network.get(sim)
    extra = 0.0
    for src, dst in paths:
        if net._loss.get((src, dst), net.loss) > 0:
            raise ConfigError(
                f"fast-forward: {label}: the path {src} -> {dst} loses messages, so a timeout "
                "can fire at any moment; the quiet stretches cannot be skipped exactly"
            )
        span = _span(net.latency_between(src, dst))
        if span is None:
            raise ConfigError(
                f"fast-forward: {label}: the latency of {src} -> {dst} is unbounded "
                f"({net.latency_between(src, dst)!r}), so a late message can fire a timeout; "
                "use a Deterministic or Uniform latency"
            )
        extra = max(extra, 2.0 * span[1])
    if not gap + extra < limit:
        raise ConfigError(
            f"fast-forward: {label}: a period of {gap:g} s plus up to {extra:g} s of latency "
            f"reaches the shortest timeout ({limit:g} s): a timeout can fire in a quiet stretch"
        )


def _is_fault(event: Any) -> bool:
    if isinstance(getattr(getattr(event, "fn", None), "__self__", None), faults._Cycle):
        return True
    for callback in event.callbacks or ():
        process = getattr(callback, "__self__", None)
        if isinstance(process, simpy.Process) and process._generator.gi_code in _FAULT_CODES:
            return True
    return False


class Skipper:
    """Drives one run with fast-forward."""

    def __init__(self, sim: Any, ff: FastForward) -> None:
        self.sim = sim
        self.env = sim.env
        self.ff = ff
        self.rec = sim.recorder
        self.rng = sim.rng("fast-forward", "rounding")
        self.skipped = 0.0
        from hasim.balancer import LoadBalancer
        from hasim.workload import Client

        self.balancers = [c for c in sim.components.values() if isinstance(c, LoadBalancer)]
        self.servers = [c for c in sim.components.values() if isinstance(c, Server)]
        self.clients = [c for c in sim.components.values() if isinstance(c, Client)]
        self.forwarders = [c for c in sim.components.values() if isinstance(c, Forwarder)]
        #: Failover managers and protocol members: they say when they are quiet and
        #: move their own absolute deadlines with a jump (``_ff_quiet``, ``_ff_shift``).
        self.protocols = [
            c for c in sim.components.values() if callable(getattr(c, "_ff_quiet", None))
        ]
        #: The longest probe or heartbeat interval: the range of the random part of a jump.
        self.period = max(
            [lb.health_check.interval for lb in self.balancers if lb.health_check is not None]
            + [c._ff_period for c in self.protocols if getattr(c, "_ff_period", None)],
            default=0.0,
        )
        #: With no clients there is nothing to measure: no sample before a jump.
        self.sample = ff.sample if self.clients else 0.0

    # -- state ---------------------------------------------------------------------------

    def quiet(self) -> bool:
        """Every health check's belief is the truth and has settled."""
        for lb in self.balancers:
            for checker in lb.checkers:
                truth = checker.target.up
                if checker.healthy != truth:
                    return False
                if truth and checker.failures or not truth and checker.successes:
                    return False
        return all(c._ff_quiet() for c in self.protocols)

    def empty(self) -> bool:
        """No request anywhere: the jump carries no request's timestamps."""
        if any(c.outstanding for c in self.clients):
            return False
        if any(s.busy or s.queued for s in self.servers):
            return False
        return not any(f._inflight for f in self.forwarders)

    def next_fault(self) -> float:
        """The time of the next fault event (a failure, a repair, an episode's edge)."""
        return min((t for t, _, _, ev in self.env._queue if _is_fault(ev)), default=math.inf)

    def counters(self) -> tuple:
        """A copy of the recorder's request counters, to measure a sample's deltas."""
        rec = self.rec
        return (
            list(rec.counts),
            rec.attempts_sum,
            rec.latency_sum,
            list(rec.histogram.counts),
            dict(rec.failed_by),
        )

    # -- the run ----------------------------------------------------------------------------

    def run(self, until: float) -> None:
        """Run to ``until``, skipping quiet stretches."""
        env, ff, rec = self.env, self.ff, self.rec
        if rec.warmup > 0:
            env.run(until=min(rec.warmup, until))
        while env.now < until:
            if not self.quiet():  # a detection or a readmission under way
                env.run(until=min(env.now + ff.settle, until))
                continue
            nxt = self.next_fault()
            room = min(nxt - ff.lead, until) - env.now
            if room < self.sample + ff.settle:  # the next fault is near: simulate through it
                env.run(until=min(max(nxt, env.now) + ff.settle, until))
                continue
            before, started = self.counters(), env.now
            if self.sample > 0:
                env.run(until=env.now + self.sample)
            sampled = env.now - started
            after = self.counters()
            while not self.empty() and env.peek() < min(nxt, until):
                env.step()
            if not self.empty() or not self.quiet():
                continue
            # A random part of one probe interval makes the phase at which the next fault
            # meets the probes uniform, as in a full run (the empty instant found above is
            # tied to the probes' rhythm, and would tie the phase to it).
            phase = self.rng.random() * self.period
            target = until if nxt >= until + ff.lead + phase else nxt - ff.lead - phase
            if target - env.now <= 0:
                continue
            self._jump(target)
            if sampled > 0:
                self._account(before, after, sampled, started + sampled, target)

    def _jump(self, target: float) -> None:
        env = self.env
        shift = target - env.now
        queue = [
            (t if _is_fault(ev) else t + shift, prio, eid, ev) for t, prio, eid, ev in env._queue
        ]
        heapq.heapify(queue)
        env._queue[:] = queue
        env._now = target
        self.skipped += shift
        for c in self.protocols:
            c._ff_shift(shift)

    def _round(self, x: float) -> int:
        """``x`` rounded down or up at random, so the expectation is ``x`` exactly."""
        low = math.floor(x)
        return low + int(self.rng.random() < x - low)

    def _account(self, before: tuple, after: tuple, sampled: float, t0: float, t1: float) -> None:
        rec = self.rec
        scale = (t1 - t0) / sampled
        counts0, attempts0, latency0, hist0, by0 = before
        counts1, attempts1, latency1, hist1, by1 = after
        added = [self._round((b - a) * scale) for a, b in zip(counts0, counts1, strict=True)]
        for code, n in enumerate(added):
            rec.counts[code] += n
        rec.issued += sum(added)
        rec.attempts_sum += self._round((attempts1 - attempts0) * scale)
        rec.latency_sum += (latency1 - latency0) * scale
        counts = rec.histogram.counts
        for i, (a, b) in enumerate(zip(hist0, hist1, strict=True)):
            if b > a:
                counts[i] += self._round((b - a) * scale)
        for key, n in by1.items():
            extra = self._round((n - by0.get(key, 0)) * scale)
            if extra:
                rec.failed_by[key] = rec.failed_by.get(key, 0) + extra
        self._spread(rec.ok_series, added[0], t0, t1)
        self._spread(rec.failed_series, sum(added[1:]), t0, t1)

    def _spread(self, series: list[int], n: int, t0: float, t1: float) -> None:
        """Add ``n`` answers to the series buckets over [t0, t1], in proportion to time."""
        rec = self.rec
        if n <= 0 or t1 <= t0:
            return
        first = int((t0 - rec.warmup) * rec._inv_bucket)
        last = min(int((t1 - rec.warmup) * rec._inv_bucket), len(series) - 1)
        edges = np.clip(rec.warmup + rec.bucket * np.arange(first, last + 2, dtype=float), t0, t1)
        shares = np.diff(edges) / (t1 - t0)
        for bucket, share in zip(range(first, last + 1), shares, strict=True):
            series[bucket] += self._round(n * share)
