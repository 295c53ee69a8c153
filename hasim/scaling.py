"""Groups that keep their members alive (replacement) and grow with their load (autoscaling).

**Group.** ``Group(sim, name, size=..., make=...)`` keeps ``size`` members, as a
cloud autoscaling group does. It builds them with ``make(sim, member_name)``
(names ``web-1``, ``web-2``, ...; later members continue the numbering), puts
them behind its ``balancer`` if it has one, and watches them through health
checks only (DESIGN rule 7): the balancer's active check, or, without one, a
``health_check`` the group runs itself. A member *believed unhealthy* for
``replace_after`` seconds is replaced:

1. it leaves the balancer (the requests it still holds end as they would),
   and is terminated: down for good with cause ``"terminated"``, so a
   restart or a repair never brings it back into the design;
2. a new member is launched: after a ``provision`` delay (booting), it is
   built with the next name and joins the balancer, where it gets traffic
   once it has passed the balancer's health check (``healthy_after`` probes).

A member that joins during the run and has not passed its checks ``grace``
seconds later counts as unhealthy from then on (the health check grace
period), so a member dead on arrival is replaced too.

**Capacity.** ``resize(n)`` changes the size: it launches members, or it
cancels launches still in progress and then retires members (those believed
unhealthy first, then the newest): a retiring member leaves the group at once,
is drained in the balancer (no new requests; those it holds finish) for up to
``drain`` seconds, then leaves the balancer and is terminated. Without a
balancer it is terminated at once, and its work in flight ends with ``error``.

**Autoscaler.** Target tracking, as cloud autoscalers do it: every
``interval`` it reads the group's utilisation over that interval (workers busy
/ workers, sampled every ``sample_every`` seconds from the members that are
running, as a metrics agent on each member reports it; a down member reports
nothing) and sets the size to ``ceil(members * utilisation / target)``, within
``[min_size, max_size]``, at most once per ``cooldown``.

A design with a group must declare when it is up in terms of the group's
current members, e.g. ``sim.up_when(lambda: group.up_count >= 1)``: the
terminated ones stay in ``sim.nodes``, down, so the default predicate (every
node up) would be wrong, and ``run()`` refuses it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hasim.balancer import LoadBalancer
from hasim.dist import Distribution, as_distribution
from hasim.errors import SimulationError, check_int, check_positive, config_error
from hasim.health import ActiveChecker, HealthCheck
from hasim.node import UP, Node
from hasim.sim import Component, Simulation
from hasim.units import duration

__all__ = ["Group", "Autoscaler", "TERMINATED"]

#: The cause a terminated member is down for, for good.
TERMINATED = "terminated"

#: Provisioning draws are rare: a small batch keeps set-up low.
_BATCH = 64


class _Member:
    """The group's record of one member."""

    __slots__ = ("node", "joined", "unhealthy_since", "checker")

    def __init__(self, node: Node, joined: float) -> None:
        self.node = node
        self.joined = joined
        self.unhealthy_since: float | None = None  # believed unhealthy since (None: healthy)
        self.checker: ActiveChecker | None = None


class _Launch:
    """A member being provisioned: whom it replaces (name, removed at), if anyone."""

    __slots__ = ("replaces", "cancelled")

    def __init__(self, replaces: tuple[str, float] | None) -> None:
        self.replaces = replaces
        self.cancelled = False


class Group(Component):
    """Keeps ``size`` members, replacing those its health checks find dead.

    Args:
        sim: the Simulation.
        name: unique name; members are named ``f"{name}-{k}"``, k = 1, 2, ...
        size: how many members to keep (an integer >= 1).
        make: ``make(sim, member_name)`` builds one member (a Node, usually a
            Server) and returns it.
        balancer: a ``LoadBalancer`` the members join (it may start with no
            backends), or None.
        provision: the time from launching a member to its joining (booting):
            a Distribution, seconds or ``"2min"``; stream ``(name, "provision")``.
        replace_after: seconds a member must be believed unhealthy before it is
            replaced (or a string like ``"1min"``); None: never replace.
        health_check: a ``HealthCheck`` the group runs on its members itself
            (needed only when it has no balancer with a health check).
        grace: seconds after joining during the run before a member that has
            not passed its health checks counts as unhealthy.
        drain: seconds a retiring member drains in the balancer before it is
            terminated (a deregistration delay).

    The group itself does not fail (it is the cloud's control plane).

    Example:
        ::

            lb = hs.LoadBalancer(sim, "lb", backends=[], health_check=hs.HealthCheck())
            web = hs.Group(sim, "web", size=3, balancer=lb, provision="2min",
                           replace_after="1min",
                           make=lambda sim, name: hs.Server(sim, name, workers=8,
                                                            service_time=0.005))
            sim.up_when(lambda: web.up_count >= 1)
    """

    #: The group's health checks probe only while their observer is up: it always is.
    state = UP

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        size: int,
        make: Callable[[Simulation, str], Node],
        balancer: LoadBalancer | None = None,
        provision: Distribution | float | str = 0.0,
        replace_after: float | str | None = 0.0,
        health_check: HealthCheck | None = None,
        grace: float | str = 300.0,
        drain: float | str = 300.0,
    ) -> None:
        owner = f"Group {name!r}"
        size = check_int(owner, "size", size, minimum=1)
        if not callable(make):
            raise config_error(owner, "make", "a function make(sim, member_name) -> Node", make)
        if balancer is not None and not isinstance(balancer, LoadBalancer):
            raise config_error(owner, "balancer", "a hasim.LoadBalancer or None", balancer)
        if balancer is not None and balancer.sim is not sim:
            raise config_error(owner, "balancer", "a LoadBalancer of the same Simulation", balancer)
        provision = as_distribution(provision, owner, "provision")
        if replace_after is not None:
            replace_after = duration(owner, "replace_after", replace_after, positive=False)
        if health_check is not None and not isinstance(health_check, HealthCheck):
            raise config_error(owner, "health_check", "a hasim.HealthCheck or None", health_check)
        checked_by_lb = balancer is not None and balancer.health_check is not None
        if replace_after is not None and health_check is None and not checked_by_lb:
            raise config_error(
                owner,
                "health_check",
                "a hasim.HealthCheck when the group has no balancer with one (it sees dead "
                "members only through health checks; or replace_after=None)",
                health_check,
            )
        grace = duration(owner, "grace", grace, positive=False)
        drain = duration(owner, "drain", drain, positive=False)
        super().__init__(sim, name)
        self.make = make
        self.balancer = balancer
        self.provision = provision
        self.replace_after = replace_after
        self.health_check = health_check
        self.grace = grace
        self.drain = drain
        #: The desired number of members.
        self.size = size
        #: ``(time, event, member)`` for every change: ``"join"``, ``"replace"``
        #: (found dead, removed and terminated), ``"retire"`` (scale-in: draining
        #: starts) and ``"terminate"`` (a retired member is gone).
        self.log: list[tuple[float, str, str]] = []
        #: ``(dead member, removed at, new member, joined at)`` per replacement.
        self.replacements: list[tuple[str, float, str, float]] = []
        self._members: dict[str, _Member] = {}
        self._launches: list[_Launch] = []
        self._count = 0
        self._ready = False
        self._provision = sim.sampler(provision, name, "provision", batch=_BATCH)
        # Whose beliefs the group acts on: its own checks, else the balancer's.
        self._own_checks = health_check is not None
        if replace_after is not None and not self._own_checks:
            balancer.on_health(self._belief)
        for _ in range(size):
            self._join()

    # -- what the group is now ----------------------------------------------------------

    @property
    def members(self) -> list[Node]:
        """The current members, in the order they joined."""
        return [m.node for m in self._members.values()]

    @property
    def pending(self) -> int:
        """Members being provisioned now."""
        return len(self._launches)

    @property
    def up_count(self) -> int:
        """Current members that are up (truth, for the structure predicate only)."""
        return sum(m.node.up for m in self._members.values())

    def resize(self, size: int) -> None:
        """Set the desired number of members; launch or retire members to reach it."""
        self._resize(check_int(self.label, "size", size, minimum=1), None)

    def _resize(self, size: int, provision: Callable[[], float] | None) -> None:
        """``resize``, with the launch delays drawn by ``provision`` (None: the group's)."""
        self.size = size
        excess = len(self._members) + len(self._launches) - size
        while excess < 0:
            self._launch(None, provision)
            excess += 1
        while excess > 0 and self._launches:
            self._launches.pop().cancelled = True  # the newest launch first
            excess -= 1
        if excess > 0:
            for m in self._retirees(excess):
                self._retire(m)

    # -- joining and leaving ------------------------------------------------------------

    def _prepare(self) -> None:
        if self.sim._predicate is None:
            # The default predicate (every node up) would count terminated members forever.
            raise SimulationError(
                f"{self.label}: declare when the system is up with sim.up_when(...) in terms of "
                f"the group's members (e.g. lambda: group.up_count >= 1): terminated members "
                f"stay down, so the default (every node up) would be wrong"
            )
        for m in self._members.values():
            if m.checker is not None:
                m.checker.start()
        self._ready = True

    def _join(self) -> _Member:
        self._count += 1
        member_name = f"{self.name}-{self._count}"
        node = self.make(self.sim, member_name)
        if not isinstance(node, Node) or node.name != member_name or node.sim is not self.sim:
            raise config_error(
                self.label,
                "make",
                f"a function returning a hasim Node of this Simulation named {member_name!r}",
                node,
            )
        now = self.sim.now
        m = self._members[member_name] = _Member(node, now)
        lb = self.balancer
        if lb is not None:
            lb.add_backend(node)
        if self._own_checks:
            m.checker = ActiveChecker(self.sim, self, node, self.health_check, self._checked)
            if self._ready:
                m.checker.start()
        elif self._ready and self.replace_after is not None and not lb.backend(node.name).healthy:
            self._suspect(m, now + self.grace)  # must pass its checks within the grace period
        self.log.append((now, "join", member_name))
        if self._ready:
            self.sim._state_changed(self.name)
        return m

    def _leave(self, m: _Member) -> None:
        """Take ``m`` out of the group (it stays in the balancer until ``_terminate``)."""
        del self._members[m.node.name]
        if m.checker is not None:
            m.checker.stop()

    def _terminate(self, m: _Member) -> None:
        lb = self.balancer
        if lb is not None and m.node.name in {b.name for b in lb.backends}:
            lb.remove_backend(m.node.name)
        m.node.retire(TERMINATED)
        self.sim._state_changed(self.name)

    def _launch(
        self, replaces: tuple[str, float] | None, provision: Callable[[], float] | None = None
    ) -> None:
        launch = _Launch(replaces)
        self._launches.append(launch)
        delay = (self._provision if provision is None else provision)()
        self.sim.call_later(delay, self._boot, launch)

    def _boot(self, launch: _Launch) -> None:
        if launch.cancelled:
            return
        self._launches.remove(launch)
        m = self._join()
        if launch.replaces is not None:
            self.replacements.append((*launch.replaces, m.node.name, m.joined))

    # -- replacement --------------------------------------------------------------------

    def _checked(self, node: Node, healthy: bool) -> None:
        self._belief(node.name, healthy)

    def _belief(self, member_name: str, healthy: bool) -> None:
        """A health check's belief about ``member_name`` flipped."""
        m = self._members.get(member_name)
        if m is None or self.replace_after is None:
            return
        if healthy:
            m.unhealthy_since = None
        else:
            self._suspect(m, self.sim.now)

    def _suspect(self, m: _Member, since: float) -> None:
        m.unhealthy_since = since
        self.sim.call_later(since + self.replace_after - self.sim.now, self._judge, (m, since))

    def _judge(self, item: tuple[_Member, float]) -> None:
        m, since = item
        if m.unhealthy_since != since or self._members.get(m.node.name) is not m:
            return  # healthy again meanwhile, or gone
        now = self.sim.now
        self._leave(m)
        self.log.append((now, "replace", m.node.name))
        self._terminate(m)
        self._launch((m.node.name, now))

    # -- scale-in -----------------------------------------------------------------------

    def _retirees(self, count: int) -> list[_Member]:
        """Whom scale-in removes: members believed unhealthy first, then the newest."""
        order = sorted(
            reversed(list(self._members.values())), key=lambda m: m.unhealthy_since is None
        )
        return order[:count]

    def _retire(self, m: _Member) -> None:
        self._leave(m)
        self.log.append((self.sim.now, "retire", m.node.name))
        lb = self.balancer
        if lb is None or m.node.name not in {b.name for b in lb.backends}:
            self._retired(m)
            return
        lb.drain(m.node.name)
        env = self.sim.env
        done = env.any_of([lb.when_drained(m.node.name), env.timeout(self.drain)])
        done.callbacks.append(lambda _: self._retired(m))

    def _retired(self, m: _Member) -> None:
        self.log.append((self.sim.now, "terminate", m.node.name))
        self._terminate(m)


class Autoscaler(Component):
    """Target-tracking autoscaling of a ``Group`` of Servers on their utilisation.

    Args:
        sim: the Simulation.
        name: unique name.
        group: the ``Group`` it sizes; its members must be Servers (``busy``,
            ``workers``), its size within ``[min_size, max_size]``.
        target_utilisation: the utilisation it steers toward, in (0, 1].
        interval: seconds between decisions (and the window utilisation is
            averaged over).
        cooldown: seconds after a change during which it makes no other.
        provision: the launch delay of the members it adds (a Distribution,
            seconds or a string; stream ``(name, "provision")``); None: the
            group's own.
        min_size, max_size: the bounds of the size it sets.
        sample_every: seconds between two readings of the members' busy workers
            (it must divide ``interval``).

    Rule: ``desired = ceil(members * utilisation / target_utilisation)``,
    clipped to the bounds, where ``members`` counts the group's current
    members; no decision without readings (every member down).
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        group: Group,
        target_utilisation: float = 0.6,
        interval: float | str = 60.0,
        cooldown: float | str = 300.0,
        provision: Distribution | float | str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        sample_every: float | str = 1.0,
    ) -> None:
        owner = f"Autoscaler {name!r}"
        if not isinstance(group, Group) or group.sim is not sim:
            raise config_error(owner, "group", "a hasim.Group of the same Simulation", group)
        if not all(hasattr(n, "busy") and hasattr(n, "workers") for n in group.members):
            raise config_error(
                owner, "group", "a Group of Servers (members with busy and workers)", group.name
            )
        target = check_positive(owner, "target_utilisation", target_utilisation)
        if target > 1:
            raise config_error(owner, "target_utilisation", "a number in (0, 1]", target)
        interval = duration(owner, "interval", interval, positive=True)
        cooldown = duration(owner, "cooldown", cooldown, positive=False)
        if provision is not None:
            provision = as_distribution(provision, owner, "provision")
        min_size = check_int(owner, "min_size", min_size, minimum=1)
        max_size = check_int(owner, "max_size", max_size, minimum=min_size)
        if not min_size <= group.size <= max_size:
            raise config_error(
                owner, "group", f"a Group whose size is in [{min_size}, {max_size}]", group.size
            )
        sample_every = duration(owner, "sample_every", sample_every, positive=True)
        per = round(interval / sample_every)
        if per < 1 or abs(per * sample_every - interval) > 1e-9 * interval:
            raise config_error(
                owner,
                "sample_every",
                f"a duration that divides interval ({interval:g} s)",
                sample_every,
            )
        super().__init__(sim, name)
        self.group = group
        self.target_utilisation = target
        self.interval = interval
        self.cooldown = cooldown
        self.provision = provision
        self.min_size = min_size
        self.max_size = max_size
        self.sample_every = sample_every
        #: ``(time, utilisation)`` at every decision (None: no readings).
        self.readings: list[tuple[float, float | None]] = []
        #: ``(time, old size, new size, utilisation)`` for every change it made.
        self.actions: list[tuple[float, int, int, float]] = []
        self._draw = None if provision is None else sim.sampler(provision, name, "provision")
        self._busy = 0.0
        self._workers = 0.0
        self._quiet_until = -math.inf
        self._per = per  # readings per decision
        self._samples = 0

    def _prepare(self) -> None:
        self.sim.call_later(self.sample_every, self._sample)

    def _sample(self, _: Any = None) -> None:
        sim = self.sim
        for node in self.group.members:
            if node.up:  # a down member's agent sends nothing
                self._busy += node.busy
                self._workers += node.workers
        self._samples += 1
        if self._samples % self._per == 0:
            self._decide()
        # On a fixed grid, so that the times do not drift.
        sim.call_later((self._samples + 1) * self.sample_every - sim.now, self._sample)

    def _decide(self) -> None:
        now = self.sim.now
        busy, workers = self._busy, self._workers
        self._busy = self._workers = 0.0
        utilisation = busy / workers if workers else None
        self.readings.append((now, utilisation))
        if utilisation is None or now < self._quiet_until:
            return
        group = self.group
        # The epsilon keeps a utilisation exactly on target from rounding up.
        wanted = math.ceil(len(group.members) * utilisation / self.target_utilisation - 1e-9)
        desired = min(max(wanted, self.min_size), self.max_size)
        if desired == group.size:
            return
        self.actions.append((now, group.size, desired, utilisation))
        group._resize(desired, self._draw)
        self._quiet_until = now + self.cooldown
