"""Random failures and repair (the basics; fault injection grows here).

``Failures(ttf, ttr)`` makes a node alternate between up and down: it
stays up for a time-to-failure drawn from ``ttf``, fails, waits for a repair
crew, is repaired for a time drawn from ``ttr`` and comes back up; a new
time-to-failure starts at each repair. Repair is by a crew of the node's
own (default) or by a shared ``RepairCrews`` pool whose crews take failed
nodes first come, first served.

Each node's times come from its own streams, ``(name, "ttf")`` and
``(name, "ttr")``, so a node draws the same history in every design that
has it (common random numbers), and the next failure time is drawn in
advance and published as ``node.next_failure_at``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from hasim.dist import Distribution, as_distribution
from hasim.errors import check_int, config_error
from hasim.sim import Component, Simulation

if TYPE_CHECKING:
    from hasim.node import Node

__all__ = ["Failures", "RepairCrews"]

#: Failure and repair draws are rare: a small batch keeps memory and set-up low.
_BATCH = 64


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


@dataclass(frozen=True)
class Failures:
    """Random failures and repairs of one node.

    Args:
        ttf: time to failure (a Distribution, seconds, or ``"30d"``); mean > 0.
        ttr: time to repair once a crew is on it; mean >= 0.
        crews: a shared ``RepairCrews`` pool, or None for a crew of the
            node's own (repair starts at once).

    One ``Failures`` may be given to many nodes: each draws its own times.
    """

    ttf: Distribution
    ttr: Distribution
    crews: RepairCrews | None = None

    def __post_init__(self) -> None:
        ttf = as_distribution(self.ttf, "Failures", "ttf")
        ttr = as_distribution(self.ttr, "Failures", "ttr")
        if not ttf.mean > 0:
            raise config_error("Failures", "ttf", "a distribution with mean > 0", self.ttf)
        if self.crews is not None and not isinstance(self.crews, RepairCrews):
            raise config_error("Failures", "crews", "a hasim.RepairCrews or None", self.crews)
        object.__setattr__(self, "ttf", ttf)
        object.__setattr__(self, "ttr", ttr)

    @property
    def availability(self) -> float:
        """MTTF / (MTTF + MTTR) of a node with a crew of its own."""
        mttf, mttr = self.ttf.mean, self.ttr.mean
        return 1.0 if math.isinf(mttf) else mttf / (mttf + mttr)

    def check(self, owner: str, sim: Simulation) -> None:
        """Refuse to serve a node of ``sim`` if the crews belong to another simulation."""
        if self.crews is not None and self.crews.sim is not sim:
            raise config_error(
                owner, "failures.crews", "a RepairCrews of the same Simulation", self.crews
            )

    def attach(self, node: Node) -> None:
        """Start failing and repairing ``node`` (called by the Node, after ``check``)."""
        sim = node.sim
        ttf = sim.sampler(self.ttf, node.name, "ttf", batch=_BATCH)
        ttr = sim.sampler(self.ttr, node.name, "ttr", batch=_BATCH)
        sim.env.process(_lifecycle(node, self, ttf, ttr, self.crews))


def _lifecycle(node: Node, key: Any, ttf: Any, ttr: Any, crews: RepairCrews | None):
    env = node.env
    cause = "failure"
    while True:
        delay = ttf()
        node._schedule(key, env.now + delay)
        yield env.timeout(delay)
        node._schedule(key, math.inf)
        node.fail(cause)
        if crews is None:
            yield env.timeout(ttr())
        else:
            with crews._resource.request() as crew:
                yield crew
                yield env.timeout(ttr())
        node.recover(cause)
