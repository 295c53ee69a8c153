"""ActivePassive: a failover pair behind a manager with a heartbeat failure detector.

The manager (itself a Node and a Service) forwards every request to the member it
*believes* active. Both members send a heartbeat to the manager every ``heartbeat``
seconds while they are up (each pays a network hop member -> manager) and each heartbeat
carries the role the member believes it has. The manager suspects a member when no
heartbeat arrived for ``timeout`` seconds and records the verdict with
``recorder.detect(now, manager, member, False)``; it believes the member healthy again
after ``healthy_after`` heartbeats in a row.

Failover: when the manager suspects the active member it waits ``promotion_delay`` (a
Distribution; stream ``(name, "promotion")``), then

* if the active member is no longer suspected, the failover is cancelled;
* if the standby is suspected too (the manager knows nothing better), the promotion is
  retried every ``heartbeat`` seconds (without a new delay) until one of them is healthy;
* otherwise it succeeds with probability ``coverage`` (stream ``(name, "coverage")``):
  the manager switches its traffic to the standby at once and sends *promote* to it and
  *demote* to the old active (network hops manager -> member). When it fails, the manager
  gives up: the service stays down until the old active is believed healthy again.

Coverage on the standby's failures (``coverage_on="any"``; the default ``"active"`` draws
coverage on promotions only): when the manager starts to suspect the member it does not
believe active while it trusts the active one (it does not suspect it, no promotion failed,
not already wedged), it reconfigures the pair to run alone on the active member, and this
succeeds with probability ``coverage`` too (stream ``(name, "standby-coverage")``, so the
promotions' draws do not move). Covered, nothing else happens: the pair runs on the active
member and the standby is repaired as usual. Uncovered (the duplex's uncovered fault: a
latent fault or a bad reconfiguration that takes the pair down), the manager is wedged, as
after a failed promotion but waiting for the *failed standby*: the pair is down (``up`` is
False) until that member is repaired, and the manager rejects requests until it believes it
healthy again (``healthy_after`` heartbeats later), as a failed promotion's outage ends
with the old active's repair and its rejections when that one is believed healthy (a
standby suspected by mistake, up all along, costs rejections but no uptime). No
failover starts while wedged; if the manager suspects the active member by the time it
unwedges, it starts one at once. Requests already forwarded to the active member finish
there. There is no separate reconfiguration time: the outage ends with the failed unit's
repair, as in the classic chain (``hasim.analytic.active_passive_chain(...,
coverage_on="any")``). An uncovered failure is in ``records`` with outcome
``"uncovered"``; covered ones are not recorded.

Roles and split brain: a member's role changes only when a role message reaches it while
it is up (a lost message is repaired later: when a heartbeat reports a role the manager
does not expect, the manager sends the right one). A member keeps its role across a crash,
so a repaired ex-active that was never told of its demotion believes it is active until
corrected. With a false suspicion (late heartbeats) or such a restart both members may
believe they are active: ``split_brain_time(result)`` is the time two *up* members both
did. ``roles`` logs every change as ``(time, member, role)``.

Failback: ``"auto"`` hands the traffic back to the primary (immediately, as a planned
switchover: no delay and no coverage draw) once the manager believes it healthy;
``"stay"`` keeps the promoted member active and the repaired one becomes the standby.

Failure semantics: while the manager suspects the member it believes active (during
detection-to-promotion, or after a failed promotion), or is wedged by an uncovered standby
failure, it answers ``rejected`` at once (no member to send to); before it suspects a
crashed active, requests go there and the down member answers ``error``. A down manager
refuses requests (``error``); when it crashes, every request it is forwarding ends with
``error`` at the crash time and late answers are dropped; heartbeats reaching it while
down are lost and a pending failover is abandoned (a wedge or a failed promotion is kept).
On recovery it treats both members as just heard from (so it suspects a silent one
``timeout`` later) and restarts a failover if its active is still suspected.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from hasim import network
from hasim.dist import Distribution, Uniform, as_distribution
from hasim.errors import check_choice, check_int, check_positive, check_probability, config_error
from hasim.metrics.recorder import ERROR, REJECTED
from hasim.node import DOWN, Forwarder, Node, Reply
from hasim.sim import Simulation

__all__ = ["ActivePassive", "ACTIVE", "STANDBY", "split_brain_seconds"]

ACTIVE = "active"
STANDBY = "standby"

# Tolerance on the watchdog's deadline (the clock adds delays in floating point).
_EPS = 1e-9


class _Member:
    """The manager's view of one member, and the role the member itself believes."""

    __slots__ = ("service", "name", "role", "up_hop", "down_hop", "due", "streak", "suspected")

    def __init__(self, service: Any, role: str) -> None:
        self.service = service
        self.name = service.name
        self.role = role  # what the member believes (changed by messages only)
        self.up_hop = None  # member -> manager
        self.down_hop = None  # manager -> member
        self.due = 0.0  # when the manager suspects it if it hears nothing more
        self.streak = 0  # heartbeats in a row since the last suspicion
        self.suspected = False


class ActivePassive(Forwarder):
    """An active-passive pair: heartbeats, promotion with coverage, failback.

    Args:
        sim: the Simulation.
        name: unique name (of the manager, which can fail like any node).
        primary: the service active at the start.
        standby: the service promoted when the primary is suspected.
        heartbeat: seconds between two heartbeats of a member (> 0).
        timeout: silence after which the manager suspects a member (> 0).
        promotion_delay: time from suspicion to promotion (a Distribution, seconds or
            ``"5s"``).
        coverage: probability that a promotion succeeds (and, with ``coverage_on="any"``,
            that a standby's failure is covered).
        coverage_on: which failures are subject to ``coverage``: ``"active"`` (only the
            promotion after the active member's failure) or ``"any"`` (also the standby's
            failure: see the module docstring). The duplex with imperfect coverage of
            Trivedi, *Probability and Statistics with Reliability, Queuing and Computer
            Science Applications* (2nd ed., Wiley 2002), and of Dugan and Trivedi, "Coverage
            modeling for dependability analysis of fault-tolerant systems", IEEE Trans.
            Computers 38(6), 1989, covers every unit's failure: ``"any"``.
        failback: ``"auto"`` (back to the primary once healthy) or ``"stay"``.
        healthy_after: heartbeats in a row after which a suspected member is healthy.
        zone, failures: as for every Node.

    Attributes:
        failovers: promotions that succeeded.
        records: one dict per failover attempt: ``member`` (suspected), ``suspected``
            and ``promoted`` (times; None if not promoted), ``outcome`` (``"promoted"``,
            ``"failed"`` (coverage), ``"cancelled"`` (healthy again), ``"abandoned"``
            (manager crash) or, for a standby's failure with ``coverage_on="any"``,
            ``"uncovered"``).
        failbacks: automatic switches back to the primary.
        roles: ``(time, member, role)`` for every role change a member learned.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        primary: Any,
        standby: Any,
        heartbeat: float = 1.0,
        timeout: float = 3.0,
        promotion_delay: Distribution | float | str = 5.0,
        coverage: float = 1.0,
        coverage_on: str = "active",
        failback: str = "auto",
        healthy_after: int = 3,
        zone: str | None = None,
        failures: Any = None,
    ) -> None:
        owner = f"ActivePassive {name!r}"
        for param, member in (("primary", primary), ("standby", standby)):
            if not callable(getattr(member, "submit", None)) or not isinstance(
                getattr(member, "name", None), str
            ):
                raise config_error(owner, param, "a service (anything with submit())", member)
            if getattr(member, "sim", sim) is not sim:
                raise config_error(owner, param, "a service of the same Simulation", member)
            if member.name == name:
                raise config_error(owner, param, "a service other than itself", member.name)
        if standby is primary or standby.name == primary.name:
            raise config_error(owner, "standby", "a service other than the primary", standby.name)
        self.heartbeat = check_positive(owner, "heartbeat", heartbeat)
        self.timeout = check_positive(owner, "timeout", timeout)
        self.promotion_delay = as_distribution(promotion_delay, owner, "promotion_delay")
        self.coverage = check_probability(owner, "coverage", coverage)
        self.coverage_on = check_choice(owner, "coverage_on", coverage_on, ("active", "any"))
        self.failback = check_choice(owner, "failback", failback, ("auto", "stay"))
        self.healthy_after = check_int(owner, "healthy_after", healthy_after, minimum=1)
        super().__init__(sim, name, zone=zone, failures=failures)
        self.primary = _Member(primary, ACTIVE)
        self.standby = _Member(standby, STANDBY)
        self.members = (self.primary, self.standby)
        #: The member the manager believes active (it forwards there).
        self.active = self.primary
        self.failovers = 0
        self.failbacks = 0
        self.records: list[dict[str, Any]] = []
        self.roles: list[tuple[float, str, str]] = [
            (0.0, self.primary.name, ACTIVE),
            (0.0, self.standby.name, STANDBY),
        ]
        self._pending: dict[str, Any] | None = None  # the failover in progress
        self._stuck = False  # a promotion failed: wait for the active to heal
        self._wedged: _Member | None = None  # an uncovered standby failure: wait for it to heal
        self._retrying = False  # the pending promotion waits for a member to heal
        self._epoch = 0  # bumped at each manager crash: stale timers do nothing
        self._delay = sim.sampler(self.promotion_delay, name, "promotion", batch=64)
        self._coverage = sim.sampler(Uniform(0.0, 1.0), name, "coverage", batch=64)
        if self.coverage_on == "any":  # a stream of its own: "active" draws do not move
            self._standby_coverage = sim.sampler(
                Uniform(0.0, 1.0), name, "standby-coverage", batch=64
            )
        self.on_change(self._changed)

    # -- truth, for the structure predicate ----------------------------------------

    @property
    def up(self) -> bool:
        """Whether the manager is up and the member it believes active is up (truth).

        With ``coverage_on="any"``, also: no uncovered standby failure is waiting for its
        repair (the member that wedged the manager is up again).
        """
        wedged = self._wedged
        return (
            self.state != DOWN and self.active.service.up and (wedged is None or wedged.service.up)
        )

    @property
    def _waiting(self) -> bool:
        """Whether it waits for a member to heal: no failover or reconfiguration meanwhile.

        After a failed promotion (``_stuck``) or an uncovered standby failure (``_wedged``).
        """
        return self._stuck or self._wedged is not None

    @property
    def active_name(self) -> str:
        """The name of the member the manager believes active."""
        return self.active.name

    def split_brain_time(
        self, result: Any = None, *, start: float = 0.0, end: float | None = None
    ) -> float:
        """Seconds in which both members were up and both believed they were active.

        Args:
            result: a RunResult; its window ``[warmup, until]`` is used.
            start: without a result, the start of the window.
            end: without a result, the end of the window (default: now).
        """
        if result is not None:
            start, end = result.warmup, result.until
        elif end is None:
            end = self.sim.now
        names = (self.primary.name, self.standby.name)
        return split_brain_seconds(self.sim, names, self.roles, STANDBY, ACTIVE, start, end)

    # -- set-up ---------------------------------------------------------------------

    def _prepare(self) -> None:
        super()._prepare()
        net = network.get(self.sim)
        now = self.env.now
        for m in self.members:
            m.up_hop = net.path(m.name, self.name)
            m.down_hop = net.path(self.name, m.name)
            m.due = now + self.timeout
            self.sim.call_later(0.0, self._tick, m)
            self._arm(m)

    def _changed(self, node: Node, old: str, new: str) -> None:
        if old == DOWN and new != DOWN:  # the manager is back: listen afresh
            now = self.env.now
            for m in self.members:
                m.due = now + self.timeout
                self._arm(m)
            if self.active.suspected and not self._waiting:
                self._start_failover(self.active)

    # -- heartbeats and suspicion ----------------------------------------------------

    def _tick(self, m: _Member) -> None:
        """The member's heartbeat timer (it sends only while it is up)."""
        if m.service.up:
            m.up_hop.send(self._heartbeat_arrives, (m, m.role))
        self.sim.call_later(self.heartbeat, self._tick, m)

    def _heartbeat_arrives(self, item: tuple[_Member, str]) -> None:
        self._heard(*item)

    def _heard(self, m: _Member, role: str) -> None:
        if self.state == DOWN:
            return
        m.due = self.env.now + self.timeout
        m.streak += 1
        if m.suspected and m.streak >= self.healthy_after:
            m.suspected = False
            self.sim.detected(self.name, m.name, True)
            self._healthy(m)
        expected = ACTIVE if m is self.active else STANDBY
        if role != expected:
            self._tell(m, expected)

    def _arm(self, m: _Member) -> None:
        self.sim.call_later(max(0.0, m.due - self.env.now), self._watch, (m, self._epoch))

    def _watch(self, item: tuple[_Member, int]) -> None:
        m, epoch = item
        if epoch != self._epoch or self.state == DOWN:
            return
        now = self.env.now
        if now < m.due - _EPS:  # heard meanwhile: wait for the new deadline
            self._arm(m)
            return
        if not m.suspected:
            m.suspected = True
            m.streak = 0
            self.sim.detected(self.name, m.name, False)
            if m is self.active:
                if not self._waiting:
                    self._start_failover(m)
            elif self.coverage_on == "any":
                self._standby_failed(m)
        # Silent members are watched again from their next heartbeat.
        m.due = now + self.timeout
        self._arm(m)

    # -- failover ---------------------------------------------------------------------

    def _start_failover(self, m: _Member) -> None:
        if self._pending is not None:
            return
        record = {"member": m.name, "suspected": self.env.now, "promoted": None, "outcome": None}
        self.records.append(record)
        self._pending = record
        self.sim.call_later(self._delay(), self._promote, (record, self._epoch))

    def _promote(self, item: tuple[dict[str, Any], int]) -> None:
        record, epoch = item
        if epoch != self._epoch:
            return
        old = self.active
        if not old.suspected:
            record["outcome"] = "cancelled"
            self._pending = None
            self._retrying = False
            return
        new = self.standby if old is self.primary else self.primary
        if new.suspected:  # nobody to promote: try again a heartbeat later
            self._retrying = True
            self.sim.call_later(self.heartbeat, self._promote, item)
            return
        self._pending = None
        self._retrying = False
        if self._coverage() >= self.coverage:
            record["outcome"] = "failed"
            self._stuck = True
            return
        record["outcome"] = "promoted"
        record["promoted"] = self.env.now
        self.failovers += 1
        self._switch(new)

    def _standby_failed(self, m: _Member) -> None:
        """Run on the active member alone: covered with probability ``coverage``."""
        if self.active.suspected or self._waiting:
            return  # the pair is not running on a trusted active: nothing to reconfigure
        if self._standby_coverage() < self.coverage:
            return
        self.records.append(
            {"member": m.name, "suspected": self.env.now, "promoted": None, "outcome": "uncovered"}
        )
        self._wedged = m
        self.sim._state_changed(m.name, self)

    def _healthy(self, m: _Member) -> None:
        if m is self._wedged:  # back from an uncovered failure: the pair runs again
            self._wedged = None
            self.sim._state_changed(self.name, self)
            if self.active.suspected and not self._waiting:
                self._start_failover(self.active)
        if m is self.active:
            self._stuck = False
        elif (
            self.failback == "auto"
            and m is self.primary
            and self.active is not self.primary
            and self._pending is None
        ):
            self.failbacks += 1
            self._switch(self.primary)

    def _switch(self, new: _Member) -> None:
        old, self.active = self.active, new
        self._stuck = False  # a failed promotion waited for the old active: moot now
        self._tell(new, ACTIVE)
        self._tell(old, STANDBY)
        self.sim._state_changed(self.name)

    def _tell(self, m: _Member, role: str) -> None:
        m.down_hop.send(self._role_arrives, (m, role))

    def _role_arrives(self, item: tuple[_Member, str]) -> None:
        m, role = item
        if m.service.up and m.role != role:  # a down member loses the message
            m.role = role
            self.roles.append((self.env.now, m.name, role))

    # -- fast-forward (hasim.fastforward) ----------------------------------------------

    @property
    def _ff_period(self) -> float:
        """The rhythm of its timers: a jump adds a random part of it (uniform phase)."""
        return self.heartbeat

    def _ff_check(self) -> None:
        """Refuse fast-forward unless heartbeats always beat the timeout (no loss, bounded lag)."""
        from hasim.fastforward import check_timing

        paths = [(m.name, self.name) for m in self.members]
        paths += [(self.name, m.name) for m in self.members]
        check_timing(self.sim, self.label, paths, self.heartbeat, self.timeout)

    def _ff_quiet(self) -> bool:
        """Whether only deterministic bookkeeping is left until the next fault event.

        True when the manager is down (it ignores everything until its repair), or
        when its belief about each member is the truth and settled: an up member is
        trusted and knows its role, a down one is suspected, and no failover is
        under way except one retrying because both members are down. (Wedged by an
        uncovered standby failure or after a failed promotion, it waits for a member
        to heal: a repair, which is a fault event.) Then the
        heartbeats, watchdog re-arms and promotion retries repeat unchanged until a
        member fails or is repaired, so skipping them (moving their timers with the
        clock) changes nothing.
        """
        if self.state == DOWN:
            return True
        if self._pending is not None and not (
            self._retrying and all(m.suspected for m in self.members)
        ):
            return False
        for m in self.members:
            up = m.service.up
            if m.suspected == up:
                return False
            if up and m.role != (ACTIVE if m is self.active else STANDBY):
                return False
        return True

    def _ff_shift(self, shift: float) -> None:
        """The clock jumped by ``shift``: move the deadlines it keeps as absolute times."""
        for m in self.members:
            m.due += shift

    # -- traffic ------------------------------------------------------------------------

    def submit(self, request: Any, reply: Reply) -> None:
        """Forward ``request`` to the member believed active, or refuse it."""
        if self.state == DOWN:
            reply(request, ERROR, self.name)
            return
        m = self.active
        if m.suspected or self._wedged is not None:
            reply(request, REJECTED, self.name)
            return
        self._forward(m, m.service, m.down_hop, m.up_hop, request, reply)

    def _crashed(self) -> None:
        self._epoch += 1
        if self._pending is not None:
            self._pending["outcome"] = "abandoned"
            self._pending = None
            self._retrying = False
        super()._crashed()  # ends the requests in flight with error


def split_brain_seconds(
    sim: Simulation,
    names: Iterable[str],
    roles: Iterable[tuple[float, str, str]],
    initial: str,
    leader: str,
    start: float,
    end: float,
) -> float:
    """Seconds of ``[start, end]`` in which two or more of ``names`` were up and ``leader``.

    ``roles`` is the log ``(time, name, role)`` of the roles the members believed
    they had (each starts as ``initial``); up and down come from the recorder.
    """
    names = set(names)
    states = [(t, n, "state", s) for t, n, s in sim.recorder.state_log if n in names]
    changes = [(t, n, "role", r) for t, n, r in roles if n in names]
    up = dict.fromkeys(names, True)
    role = dict.fromkeys(names, initial)
    total, since = 0.0, None  # since: the start of the current split brain
    for t, n, kind, value in heapq.merge(states, changes, key=lambda e: e[0]):
        if t > end:
            break
        if kind == "state":
            up[n] = value != DOWN
        else:
            role[n] = value
        split = sum(up[x] and role[x] == leader for x in names) >= 2
        if split and since is None:
            since = t
        elif not split and since is not None:
            total += max(0.0, min(t, end) - max(since, start))
            since = None
    if since is not None:
        total += max(0.0, end - max(since, start))
    return total
