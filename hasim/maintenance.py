"""Planned disruptions: maintenance windows and rolling deploys.

Both take nodes down under a cause of their own (``"maintenance"``,
``"deploy"``), so they compose with every other fault: a node under
maintenance that also crashes stays down until both end, and the fault
history tells them apart. A node taken down loses its work in flight with
``error`` (the Server's crash semantics) unless it was drained first.

**Maintenance.** Windows begin at ``start``, ``start + every``, ... In each,
the nodes go down one after another (or all at once), each for a time drawn
from ``duration``. A window that is still running when the next is due
delays nothing: the next one begins at its first due time after it ends.

**RollingDeploy.** At ``at``, the nodes are restarted ``batch`` at a time, in
order. For each batch:

1. with ``drain`` and a ``balancer``, the nodes are drained (no new requests)
   until they hold none or ``drain`` seconds pass, whichever comes first;
2. each node is down with cause ``"deploy"`` for a time drawn from
   ``duration`` (the nodes of a batch in parallel);
3. with ``wait_healthy`` and a ``balancer``, each waits until the balancer's
   health check believes it healthy (at once if the check never noticed the
   restart), and is then undrained;
4. the next batch starts when every node of this one is back.

So at most ``batch`` nodes are down for the deploy at any time (other faults
come on top).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hasim import units
from hasim.balancer import LoadBalancer
from hasim.dist import Distribution, as_distribution
from hasim.errors import check_int, config_error
from hasim.node import Node
from hasim.scaling import Group
from hasim.sim import Component, Simulation

__all__ = ["Maintenance", "RollingDeploy", "MAINTENANCE", "DEPLOY"]

#: The cause of a node down for a maintenance window.
MAINTENANCE = "maintenance"
#: The cause of a node down for a deploy's restart.
DEPLOY = "deploy"


def _check_nodes(owner: str, sim: Simulation, nodes: Any) -> list[Node] | Group:
    """A non-empty list of distinct Nodes of ``sim``, or a Group of ``sim``."""
    if isinstance(nodes, Group):
        if nodes.sim is not sim:
            raise config_error(owner, "nodes", "a Group of the same Simulation", nodes)
        return nodes
    allowed = "a non-empty list of distinct Nodes of the same Simulation, or a hasim.Group"
    if isinstance(nodes, (str, bytes)) or not isinstance(nodes, Sequence) or not nodes:
        raise config_error(owner, "nodes", allowed, nodes)
    for node in nodes:
        if not isinstance(node, Node) or node.sim is not sim:
            raise config_error(owner, "nodes", allowed, node)
    if len({node.name for node in nodes}) != len(nodes):
        raise config_error(owner, "nodes", allowed, [node.name for node in nodes])
    return list(nodes)


def _current(nodes: list[Node] | Group) -> list[Node]:
    """The nodes to act on now (a group's members at this moment)."""
    return nodes.members if isinstance(nodes, Group) else nodes


class Maintenance(Component):
    """Periodic maintenance windows that take nodes down with cause ``"maintenance"``.

    Args:
        sim: the Simulation.
        name: unique name.
        nodes: the nodes maintained (a list of Nodes, or a ``Group``: its
            members at each window).
        every: seconds between the starts of two windows (or ``"7d"``).
        duration: how long one node is down: a Distribution, seconds or a
            string; stream ``(name, "duration")``.
        start: when the first window begins.
        all_at_once: take every node down together, rather than one after
            another.

    ``windows`` records ``(node, down at, up at)`` for every node taken down.

    Example:
        ``hs.Maintenance(sim, "patch", nodes=web, every="7d", duration="10min", start="2d")``
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        nodes: Sequence[Node] | Group,
        every: float | str,
        duration: Distribution | float | str,
        start: float | str = 0.0,
        all_at_once: bool = False,
    ) -> None:
        owner = f"Maintenance {name!r}"
        nodes = _check_nodes(owner, sim, nodes)
        every = units.duration(owner, "every", every, positive=True)
        dist = as_distribution(duration, owner, "duration")
        start = units.duration(owner, "start", start, positive=False)
        if not isinstance(all_at_once, bool):
            raise config_error(owner, "all_at_once", "True or False", all_at_once)
        super().__init__(sim, name)
        self.nodes = nodes
        self.every = every
        self.duration = dist
        self.start = start
        self.all_at_once = all_at_once
        #: ``(node, down at, up at)`` for every node a window took down (up at: None while down).
        self.windows: list[list[Any]] = []
        self._draw = sim.sampler(dist, name, "duration", batch=64)

    def _prepare(self) -> None:
        self.env.process(self._run())

    def _run(self):
        env = self.env
        due = self.start
        while True:
            if due > env.now:
                yield env.timeout(due - env.now)
            nodes = list(_current(self.nodes))
            if self.all_at_once:
                yield env.all_of([env.process(self._down(node)) for node in nodes])
            else:
                for node in nodes:
                    yield env.process(self._down(node))
            # The next due time not yet passed (a long window skips those it overran).
            due = self.start + self.every * math.floor((env.now - self.start) / self.every + 1)

    def _down(self, node: Node):
        record = [node.name, self.env.now, None]
        self.windows.append(record)
        node.fail(MAINTENANCE)
        yield self.env.timeout(self._draw())
        node.recover(MAINTENANCE)
        record[2] = self.env.now


class RollingDeploy(Component):
    """Restart nodes ``batch`` at a time, draining and waiting for health as a deploy tool does.

    Args:
        sim: the Simulation.
        name: unique name.
        nodes: the nodes to deploy to, in order (a list of Nodes, or a
            ``Group``: its members when the deploy starts).
        at: when the deploy starts (seconds or ``"1h"``).
        batch: how many nodes restart at once (an integer >= 1).
        duration: each node's restart time (down with cause ``"deploy"``): a
            Distribution, seconds or a string; stream ``(name, "duration")``.
        drain: with a balancer, seconds to wait for a node's requests to finish
            before its restart (no new ones are sent to it meanwhile); None:
            restart at once (the requests it holds end with ``error``).
        balancer: the ``LoadBalancer`` in front of the nodes, or None.
        wait_healthy: with a balancer, wait after each restart until its
            health check believes the node healthy before going on.

    Records: ``steps`` holds ``(node, start, down at, up at, end)`` per node,
    ``start`` being when its batch began (draining), ``end`` when it was back
    in service; ``started`` and ``finished`` the deploy's own times (None
    until then).

    Example:
        ``hs.RollingDeploy(sim, "v2", nodes=web, at="1h", batch=1, duration="30s",
        drain="10s", balancer=lb)``
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        nodes: Sequence[Node] | Group,
        at: float | str,
        batch: int = 1,
        duration: Distribution | float | str,
        drain: float | str | None = None,
        balancer: LoadBalancer | None = None,
        wait_healthy: bool = True,
    ) -> None:
        owner = f"RollingDeploy {name!r}"
        nodes = _check_nodes(owner, sim, nodes)
        at = units.duration(owner, "at", at, positive=False)
        count = nodes.size if isinstance(nodes, Group) else len(nodes)
        batch = check_int(owner, "batch", batch, minimum=1)
        if batch > count:
            raise config_error(owner, "batch", f"an integer in [1, {count}] (the nodes)", batch)
        dist = as_distribution(duration, owner, "duration")
        if balancer is not None and (
            not isinstance(balancer, LoadBalancer) or balancer.sim is not sim
        ):
            raise config_error(
                owner, "balancer", "a hasim.LoadBalancer of the same Simulation or None", balancer
            )
        if isinstance(nodes, list) and balancer is not None:
            backends = {b.name for b in balancer.backends}
            strangers = [node.name for node in nodes if node.name not in backends]
            if strangers:
                raise config_error(owner, "nodes", f"backends of {balancer.label}", strangers)
        if drain is not None:
            if balancer is None:
                raise config_error(owner, "drain", "None when there is no balancer", drain)
            drain = units.duration(owner, "drain", drain, positive=False)
        if not isinstance(wait_healthy, bool):
            raise config_error(owner, "wait_healthy", "True or False", wait_healthy)
        super().__init__(sim, name)
        self.nodes = nodes
        self.at = at
        self.batch = batch
        self.duration = dist
        self.drain = drain
        self.balancer = balancer
        self.wait_healthy = wait_healthy
        #: ``(node, start, down at, up at, end)`` per node deployed, in order.
        self.steps: list[tuple[str, float, float, float, float]] = []
        self.started: float | None = None
        self.finished: float | None = None
        self._draw = sim.sampler(dist, name, "duration", batch=64)

    def _prepare(self) -> None:
        self.env.process(self._run())

    def _run(self):
        env = self.env
        yield env.timeout(self.at)
        self.started = env.now
        nodes = list(_current(self.nodes))
        for i in range(0, len(nodes), self.batch):
            yield from self._step(nodes[i : i + self.batch])
        self.finished = env.now

    def _step(self, nodes: list[Node]):
        env, lb = self.env, self.balancer
        start = env.now
        behind = set() if lb is None else {b.name for b in lb.backends}
        drained = [node for node in nodes if self.drain is not None and node.name in behind]
        if drained:
            for node in drained:
                lb.drain(node.name)
            empty = env.all_of([lb.when_drained(node.name) for node in drained])
            yield env.any_of([empty, env.timeout(self.drain)])
        restarts = [env.process(self._restart(node, start, node in drained)) for node in nodes]
        yield env.all_of(restarts)

    def _restart(self, node: Node, start: float, drained: bool):
        env, lb = self.env, self.balancer
        down = env.now
        node.fail(DEPLOY)
        yield env.timeout(self._draw())
        node.recover(DEPLOY)
        up = env.now
        behind = lb is not None and node.name in {b.name for b in lb.backends}
        if behind and self.wait_healthy:
            yield lb.when_healthy(node.name)
        if drained and node.name in {b.name for b in lb.backends}:
            lb.undrain(node.name)
        self.steps.append((node.name, start, down, up, env.now))
