"""Random failures and repair: repair crews, spare parts, detection-gated repair, causes.

**Failures.** ``Failures(ttf, ttr)`` makes a node alternate between up and
down: it stays up for a time-to-failure drawn from ``ttf``, fails, waits for
its repair to start, is repaired for a time drawn from ``ttr`` and comes
back up; a new time-to-failure starts at each repair. Before the repair
time runs, a failed node waits, in this order, for

1. detection, with ``repair="on_detection"``: until some observer (a health
   check, outlier detection, a failover detector) believes the node
   unhealthy, i.e. its latest verdict about the node is "unhealthy";
2. a spare part, with ``spares=``: one from a ``Spares`` stock, FIFO;
3. a crew, with ``crews=``: one of a shared ``RepairCrews`` pool, FIFO
   (default: a crew of the node's own, at once).

**Causes.** A model holds the node down under its ``cause`` (default
``"failure"``), so several models can share a node: a software crash fixed
by a fast restart beside a hardware fault that needs a crew and a part,
each with its own cause. Every model runs its own clock: a node down for
one cause keeps aging for the others, which keeps the causes independent
(the closed forms in ``hasim.analytic`` assume it). Two models on one node
must have different causes.

**Streams.** Each node's times come from its own streams, so a node draws
the same history in every design that has it (common random numbers):
``(name, "ttf")`` and ``(name, "ttr")`` for the cause ``"failure"``,
``(name, f"{cause}:ttf")`` and ``(name, f"{cause}:ttr")`` for any other. The
next failure time is drawn in advance and published as
``node.next_failure_at``.

**Common-cause failures (beta factor).** ``failures.split(beta)`` divides an
exponential failure rate ``lambda`` into an independent part
``(1 - beta) lambda`` for each member of a group and a common part
``beta lambda`` for a ``hasim.Domain`` holding the group: a share ``beta``
of each member's failures then takes down every member at once. See
``Failures.split`` and ``hasim.analytic.reliability.beta_factor``.

Random gray failures (slowdowns, error bursts, stalls, flapping) are in
``hasim.gray``; failure domains (zones, racks, common-cause groups) in
``hasim.domains``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import simpy

from hasim.dist import Distribution, Exponential, as_distribution
from hasim.errors import (
    check_choice,
    check_int,
    check_real,
    config_error,
)
from hasim.sim import Component, Simulation

if TYPE_CHECKING:
    from hasim.node import Node

__all__ = [
    "Failures",
    "RepairCrews",
    "Spares",
    "REPAIRS",
]

#: When a repair may start: at once, or once an observer has declared the node unhealthy.
REPAIRS = ("immediate", "on_detection")

#: Failure and repair draws are rare: a small batch keeps memory and set-up low.
_BATCH = 64

#: The cause whose streams keep their historical names, ``(name, "ttf")`` and ``(name, "ttr")``.
_DEFAULT_CAUSE = "failure"


class RepairCrews(Component):
    """A pool of repair crews shared by several nodes (FIFO queue of failed nodes).

    Args:
        sim: the Simulation.
        name: unique name.
        crews: how many repairs can run at once (an integer >= 1).

    Example:
        ``ops = hs.RepairCrews(sim, "ops", crews=1)`` then
        ``hs.Failures(ttf=..., ttr=..., crews=ops)`` on every node it repairs.
    """

    def __init__(self, sim: Simulation, name: str, *, crews: int = 1) -> None:
        self.crews = check_int(f"RepairCrews {name!r}", "crews", crews, minimum=1)
        super().__init__(sim, name)
        self._resource = simpy.Resource(sim.env, capacity=self.crews)

    @property
    def waiting(self) -> int:
        """Failed nodes waiting for a crew now."""
        return len(self._resource.queue)

    @property
    def busy(self) -> int:
        """Crews repairing now."""
        return self._resource.count


class Spares(Component):
    """A stock of spare parts that repairs use up (FIFO queue of repairs waiting for a part).

    A repair takes one part before it starts (before it waits for a crew); the
    used part is replaced ``restock`` later, counted from when it was taken.
    With none in stock a repair waits, first come, first served. Restock times
    come from the stream ``(name, "restock")``.

    Args:
        sim: the Simulation.
        name: unique name.
        count: parts in stock at the start, and the most the stock holds (an integer >= 1).
        restock: time to replace a used part (a Distribution, seconds or ``"2d"``).

    Example:
        ``disks = hs.Spares(sim, "disks", count=2, restock="3d")`` then
        ``hs.Failures(ttf=..., ttr=..., spares=disks)`` on every node that uses them.
    """

    def __init__(
        self, sim: Simulation, name: str, *, count: int, restock: Distribution | float | str
    ) -> None:
        owner = f"Spares {name!r}"
        self.count = check_int(owner, "count", count, minimum=1)
        self.restock = as_distribution(restock, owner, "restock")
        super().__init__(sim, name)
        self._stock = simpy.Container(sim.env, capacity=self.count, init=self.count)
        self._restock = sim.sampler(self.restock, name, "restock", batch=_BATCH)

    @property
    def in_stock(self) -> int:
        """Parts on the shelf now."""
        return int(self._stock.level)

    @property
    def waiting(self) -> int:
        """Repairs waiting for a part now."""
        return len(self._stock.get_queue)

    def _take(self):
        """Take one part (a process waits on this); its replacement is ordered at once."""
        event = self._stock.get(1)
        event.callbacks.append(self._ordered)
        return event

    def _ordered(self, _: Any) -> None:
        self.sim.call_later(self._restock(), self._restocked)

    def _restocked(self, _: Any) -> None:
        self._stock.put(1)


def _cause(owner: str, cause: Any) -> str:
    if not isinstance(cause, str) or not cause:
        raise config_error(owner, "cause", "a non-empty string", cause)
    return cause


def _streams(cause: str, what: str) -> str:
    """The purpose of a node's stream ``what`` for a model of ``cause``."""
    return what if cause == _DEFAULT_CAUSE else f"{cause}:{what}"


def _claim(node: Node, cause: str) -> None:
    """Refuse a second fault model with ``cause`` on ``node`` (they would share streams)."""
    if cause in node._next:
        raise config_error(
            node.label,
            "failures",
            "fault models with distinct causes (each cause has its own streams)",
            cause,
        )
    node._schedule(cause, math.inf)


@dataclass(frozen=True)
class Failures:
    """Random failures and repairs of one node.

    Args:
        ttf: time to failure (a Distribution, seconds, or ``"30d"``); mean > 0.
        ttr: time to repair once a crew is on it; mean >= 0.
        crews: a shared ``RepairCrews`` pool, or None for a crew of the
            node's own (the repair starts at once).
        cause: the cause the node is down for (``node.causes``, the fault
            history); it also names the streams (see the module docstring).
        repair: ``"immediate"``, or ``"on_detection"``: the repair starts only
            once some observer believes the node unhealthy (its latest verdict
            about the node, ``sim.detected``, is "unhealthy"). A node that no
            health check, outlier detection or failure detector watches then
            stays down for good: that is the point (an unseen failure is not
            repaired), but check that something watches it.
        spares: a ``Spares`` stock each repair takes a part from, or None.

    One ``Failures`` may be given to many nodes: each draws its own times.

    Example:
        A restart fixes a software crash in 30 s; a hardware fault needs a part
        and a crew::

            failures=[hs.Failures(ttf="20d", ttr="30s", cause="software"),
                      hs.Failures(ttf="1y", ttr="4h", cause="hardware",
                                  crews=ops, spares=disks)]
    """

    ttf: Distribution
    ttr: Distribution
    crews: RepairCrews | None = None
    cause: str = _DEFAULT_CAUSE
    repair: str = "immediate"
    spares: Spares | None = None

    def __post_init__(self) -> None:
        ttf = as_distribution(self.ttf, "Failures", "ttf")
        ttr = as_distribution(self.ttr, "Failures", "ttr")
        if not ttf.mean > 0:
            raise config_error("Failures", "ttf", "a distribution with mean > 0", self.ttf)
        if self.crews is not None and not isinstance(self.crews, RepairCrews):
            raise config_error("Failures", "crews", "a hasim.RepairCrews or None", self.crews)
        _cause("Failures", self.cause)
        check_choice("Failures", "repair", self.repair, REPAIRS)
        if self.spares is not None and not isinstance(self.spares, Spares):
            raise config_error("Failures", "spares", "a hasim.Spares or None", self.spares)
        object.__setattr__(self, "ttf", ttf)
        object.__setattr__(self, "ttr", ttr)

    @property
    def availability(self) -> float:
        """MTTF / (MTTF + MTTR) of a node with a crew of its own (no waits before repair)."""
        mttf, mttr = self.ttf.mean, self.ttr.mean
        return 1.0 if math.isinf(mttf) else mttf / (mttf + mttr)

    def split(self, beta: float) -> tuple[Failures, Failures]:
        """Split the failures into independent and common-cause parts (the beta-factor model).

        For an exponential ``ttf`` of rate ``lambda = 1 / mean``, returns
        ``(independent, common)``: the same Failures with rate ``(1 - beta) lambda``
        for each member of a group, and with rate ``beta lambda`` for a
        ``hasim.Domain`` of ``kind="group"`` holding the members. The two
        superposed give each member failures at rate ``lambda`` while it is up, a
        share ``beta`` of which hit every member at the same instant. A common
        failure is one event with one repair (the domain's ``ttr``): every member
        comes back when it is repaired, unless it is down for its own reasons.

        Closed form, members with crews of their own: a k-of-n group is up
        ``A(1 / (beta lambda), MTTR) * k_of_n(k, n, A(1 / ((1 - beta) lambda), MTTR))``
        (``hasim.analytic.reliability.beta_factor``); the processes are independent.

        Args:
            beta: the share of failures that are common, a number in (0, 1).

        Example:
            ::

                own, common = hs.Failures(ttf=hs.Exponential(mean=100), ttr=10).split(0.1)
                a = hs.Node(sim, "a", failures=own)
                b = hs.Node(sim, "b", failures=own)
                hs.Domain(sim, "pair", kind="group", members=[a, b], failures=common)
        """
        b = check_real("Failures.split", "beta", beta)
        if not 0.0 < b < 1.0:
            raise config_error("Failures.split", "beta", "a number in (0, 1)", beta)
        if not isinstance(self.ttf, Exponential):
            raise config_error(
                "Failures.split", "ttf", "an Exponential (rates add only then)", self.ttf
            )
        mean = self.ttf.mean
        own = Exponential(mean=mean / (1.0 - b))
        common = Exponential(mean=mean / b)
        return replace(self, ttf=own), replace(self, ttf=common)

    def check(self, owner: str, sim: Simulation) -> None:
        """Refuse to serve a node of ``sim`` if the crews or spares belong to another simulation."""
        if self.crews is not None and self.crews.sim is not sim:
            raise config_error(
                owner, "failures.crews", "a RepairCrews of the same Simulation", self.crews
            )
        if self.spares is not None and self.spares.sim is not sim:
            raise config_error(
                owner, "failures.spares", "a Spares of the same Simulation", self.spares
            )

    def attach(self, node: Node) -> None:
        """Start failing and repairing ``node`` (called by the Node, after ``check``)."""
        _claim(node, self.cause)
        sim = node.sim
        ttf = sim.sampler(self.ttf, node.name, _streams(self.cause, "ttf"), batch=_BATCH)
        ttr = sim.sampler(self.ttr, node.name, _streams(self.cause, "ttr"), batch=_BATCH)
        if self.repair == "immediate" and self.crews is None and self.spares is None:
            _Cycle(node, self.cause, ttf, ttr).start()  # the common case: no process needed
            return
        watch = _Watch(node) if self.repair == "on_detection" else None
        sim.env.process(_lifecycle(node, self, ttf, ttr, watch))


class _Watch:
    """Which observers believe a node unhealthy now; wakes a repair waiting for detection."""

    def __init__(self, node: Node) -> None:
        self.env = node.env
        self.unhealthy: set[str] = set()
        self.waiting: simpy.Event | None = None
        node.sim.on_verdict(node.name, self._verdict)

    def _verdict(self, observer: str, healthy: bool) -> None:
        if healthy:
            self.unhealthy.discard(observer)
            return
        self.unhealthy.add(observer)
        if self.waiting is not None:
            self.waiting.succeed()
            self.waiting = None

    def detected(self) -> simpy.Event | None:
        """None if some observer believes the node unhealthy, else an event for when one does."""
        if self.unhealthy:
            return None
        self.waiting = self.env.event()
        return self.waiting


class _Cycle:
    """Failures and repairs of a node with a crew of its own, by plain callbacks.

    The same sequence as ``_lifecycle`` (a failure ``ttf()`` after each repair, a
    repair ``ttr()`` after each failure, drawn at the same moments), without a
    SimPy process: a state-only run spends most of its time here.
    """

    __slots__ = ("node", "cause", "ttf", "ttr", "sim")

    def __init__(self, node: Node, cause: str, ttf: Any, ttr: Any) -> None:
        self.node = node
        self.cause = cause
        self.ttf = ttf
        self.ttr = ttr
        self.sim = node.sim

    def start(self, _: Any = None) -> None:
        """Schedule the next failure."""
        delay = self.ttf()
        self.node._schedule(self.cause, self.sim.env._now + delay)
        self.sim.call_later(delay, self.fail)

    def fail(self, _: Any = None) -> None:
        """The failure: down, and the repair scheduled."""
        node = self.node
        node._schedule(self.cause, math.inf)
        node.fail(self.cause)
        self.sim.call_later(self.ttr(), self.repair)

    def repair(self, _: Any = None) -> None:
        """The repair: up again, and the next failure scheduled."""
        self.node.recover(self.cause)
        self.start()


def _lifecycle(node: Node, model: Failures, ttf: Any, ttr: Any, watch: _Watch | None):
    env, cause = node.env, model.cause
    crews, spares = model.crews, model.spares
    while True:
        delay = ttf()
        node._schedule(cause, env.now + delay)
        yield env.timeout(delay)
        node._schedule(cause, math.inf)
        node.fail(cause)
        if watch is not None:
            detected = watch.detected()
            if detected is not None:
                yield detected
        if spares is not None:
            yield spares._take()
        if crews is None:
            yield env.timeout(ttr())
        else:
            with crews._resource.request() as crew:
                yield crew
                yield env.timeout(ttr())
        node.recover(cause)
