"""Chaos actions: the ``Action`` base, the overlap rule, and the faults of a node.

An action is a small frozen value object that says what fails, when and for
how long: ``at`` (seconds or a duration string, >= 0) and ``duration`` (> 0;
None: until the run ends). Each validates its fields when made and knows the
components it names, whether a component can take it, and how to begin and
end its fault under a cause (``_start``/``_stop``, called by ``Chaos``).

This module holds the base and the actions on one node: ``Crash``,
``ZoneOutage``, ``Slow``, ``Errors``, ``Stall``, ``Flap``. The network's
(``Partition``, ``Impair``) are in ``hasim.chaos.network_actions``.

**Overlaps.** Two actions of one schedule *contradict* each other when they
claim the same thing on the same target for overlapping time intervals
``[at, at + duration)`` (an open-ended one lasts to the end of the run;
intervals that only touch do not overlap). The claims: ``Crash``, ``Flap``
and ``ZoneOutage`` take their target *down*; ``Slow``, ``Errors`` and
``Stall`` each hold their own condition on their target; a ``Partition``
claims its pair of sides (the same sets, either order unless one-way); an
``Impair`` claims each direction of its link it degrades. A schedule with a
contradiction is rejected, naming both actions (``_first_overlap`` finds
them). Different claims on one target (a slow node that also errors)
compose. A replayed fault history is not checked: it is a record of faults
that did overlap (a random failure during a chaos crash), each under its own
cause.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import KW_ONLY, MISSING, dataclass, field, fields
from typing import Any, ClassVar

from hasim.domains import Domain
from hasim.errors import check_probability, check_real, config_error
from hasim.node import Node
from hasim.sim import Simulation
from hasim.units import duration as _duration
from hasim.units import format_duration

__all__ = ["Action", "Crash", "ZoneOutage", "Slow", "Errors", "Stall", "Flap"]


def _name(owner: str, param: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise config_error(owner, param, "a component name (a non-empty string)", value)
    return value


@dataclass(frozen=True, repr=False)
class Action:
    """A fault at a given time; the base of every chaos action.

    Args:
        at: when the fault begins (seconds or a duration string, >= 0).
        duration: how long it holds (> 0); None: until the run ends.
    """

    kind: ClassVar[str] = ""
    _: KW_ONLY
    at: float | str
    duration: float | str | None = None

    def __post_init__(self) -> None:
        owner = self._check()
        object.__setattr__(self, "at", _duration(owner, "at", self.at, positive=False))
        if self.duration is not None:
            value = _duration(owner, "duration", self.duration, positive=True)
            object.__setattr__(self, "duration", value)

    def _check(self) -> str:
        """Check and normalise the action's own fields; return how messages name it."""
        target = _name(type(self).__name__, "target", getattr(self, "target", None))
        return f"{type(self).__name__} {target!r}"

    @property
    def end(self) -> float:
        """When the fault ends: ``at + duration`` (inf without a duration)."""
        return math.inf if self.duration is None else self.at + self.duration

    @property
    def names(self) -> tuple[str, ...]:
        """The components the action acts on."""
        return (self.target,)

    def _claims(self) -> set[tuple]:
        """What the action holds on its target (see the module docstring: overlaps)."""
        return {(self.kind, self.target)}

    def _what(self) -> str:
        return f"{self.kind} of {self.target!r}"

    def _describe(self) -> str:
        """``"crash of 'web1' from 10 min to 11 min"``: the action in words."""
        end = "the end of the run" if self.duration is None else format_duration(self.end)
        return f"{self._what()} from {format_duration(self.at)} to {end}"

    def _fits(self, component: Any) -> str | None:
        """Why ``component`` cannot take this action (None if it can)."""
        if isinstance(component, Node):
            return None
        return f"{component.label} is not a node: it cannot {self.kind}"

    def _without(self, absent: set[str]) -> Action | None:
        """The action on a design without the ``absent`` components (None: skip it)."""
        return None

    def _start(self, sim: Simulation, cause: str) -> Any:
        """Begin the fault under ``cause``; return what ``_stop`` needs."""
        raise NotImplementedError  # pragma: no cover - every action defines it

    def _stop(self, sim: Simulation, cause: str, handle: Any) -> None:
        """End the fault ``_start`` began."""
        raise NotImplementedError  # pragma: no cover

    def __repr__(self) -> str:
        own = [f for f in _fields(type(self)) if f.name not in ("at", "duration")]
        args = [repr(getattr(self, f.name)) for f in own if f.default is MISSING]
        args += [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in own
            if f.default is not MISSING and getattr(self, f.name) != f.default
        ]
        args.append(f"at={self.at!r}")
        if self.duration is not None:
            args.append(f"duration={self.duration!r}")
        return f"{type(self).__name__}({', '.join(args)})"


@dataclass(frozen=True, repr=False)
class Crash(Action):
    """Crash ``target`` (a node, a link, a domain); it comes back when the action ends."""

    kind: ClassVar[str] = "crash"
    target: str

    def _claims(self) -> set[tuple]:
        return {("down", self.target)}

    def _start(self, sim: Simulation, cause: str) -> None:
        sim[self.target].fail(cause)

    def _stop(self, sim: Simulation, cause: str, handle: Any) -> None:
        sim[self.target].recover(cause)


@dataclass(frozen=True, repr=False)
class ZoneOutage(Crash):
    """Take a whole failure domain down: a crash of the ``hasim.Domain`` named ``zone``."""

    kind: ClassVar[str] = "zone_outage"
    target: str = field(init=False, repr=False)
    zone: str

    def _check(self) -> str:
        zone = _name("ZoneOutage", "zone", self.zone)
        object.__setattr__(self, "target", zone)
        return f"ZoneOutage {zone!r}"

    def _what(self) -> str:
        return f"outage of zone {self.zone!r}"

    def _fits(self, component: Any) -> str | None:
        if isinstance(component, Domain):
            return None
        return f"{component.label} is not a hasim.Domain: a zone outage needs one"


@dataclass(frozen=True, repr=False)
class Slow(Action):
    """Make ``target`` ``factor`` (>= 1) times slower."""

    kind: ClassVar[str] = "slow"
    target: str
    factor: float

    def _check(self) -> str:
        owner = super()._check()
        factor = check_real(owner, "factor", self.factor)
        if factor < 1:
            raise config_error(owner, "factor", "a finite number >= 1", self.factor)
        object.__setattr__(self, "factor", factor)
        return owner

    def _what(self) -> str:
        return f"slowdown x{self.factor:g} of {self.target!r}"

    def _start(self, sim: Simulation, cause: str) -> None:
        sim[self.target].degrade(self.factor, cause)

    def _stop(self, sim: Simulation, cause: str, handle: Any) -> None:
        sim[self.target].degrade(1.0, cause)


@dataclass(frozen=True, repr=False)
class Errors(Action):
    """Make ``target`` answer a share ``rate`` (in [0, 1]) of its requests with ``error``."""

    kind: ClassVar[str] = "errors"
    target: str
    rate: float

    def _check(self) -> str:
        owner = super()._check()
        object.__setattr__(self, "rate", check_probability(owner, "rate", self.rate))
        return owner

    def _what(self) -> str:
        return f"errors at rate {self.rate:g} of {self.target!r}"

    def _start(self, sim: Simulation, cause: str) -> None:
        sim[self.target].set_errors(self.rate, cause)

    def _stop(self, sim: Simulation, cause: str, handle: Any) -> None:
        sim[self.target].set_errors(0.0, cause)


@dataclass(frozen=True, repr=False)
class Stall(Action):
    """Freeze ``target``: nothing starts or finishes there until the action ends."""

    kind: ClassVar[str] = "stall"
    target: str

    def _start(self, sim: Simulation, cause: str) -> None:
        sim[self.target].stall(cause)

    def _stop(self, sim: Simulation, cause: str, handle: Any) -> None:
        sim[self.target].resume(cause)


@dataclass(frozen=True, repr=False)
class Flap(Action):
    """Make ``target`` go down for ``down``, up for ``up``, down again ... while the action lasts.

    The first down phase starts at ``at``; when the action ends the node comes
    back (a down phase is cut short). Each down phase is a crash in the fault
    history.
    """

    kind: ClassVar[str] = "flap"
    target: str
    down: float | str
    up: float | str

    def _check(self) -> str:
        owner = super()._check()
        for param in ("down", "up"):
            value = _duration(owner, param, getattr(self, param), positive=True)
            object.__setattr__(self, param, value)
        return owner

    def _claims(self) -> set[tuple]:
        return {("down", self.target)}

    def _what(self) -> str:
        down, up = format_duration(self.down), format_duration(self.up)
        return f"flapping of {self.target!r} ({down} down, {up} up)"

    def _start(self, sim: Simulation, cause: str) -> _Flapping:
        return _Flapping(sim, sim[self.target], cause, self.down, self.up)

    def _stop(self, sim: Simulation, cause: str, handle: _Flapping) -> None:
        handle.stop()


class _Flapping:
    """A flap in progress: alternates the node's cause until stopped."""

    def __init__(self, sim: Simulation, node: Any, cause: str, down: float, up: float) -> None:
        self.sim, self.node, self.cause, self.down, self.up = sim, node, cause, down, up
        self.active = True
        self._fail()

    def _fail(self, _: Any = None) -> None:
        if self.active:
            self.node.fail(self.cause)
            self.sim.call_later(self.down, self._recover)

    def _recover(self, _: Any = None) -> None:
        if self.active:
            self.node.recover(self.cause)
            self.sim.call_later(self.up, self._fail)

    def stop(self) -> None:
        self.active = False
        self.node.recover(self.cause)


def _fields(cls: type[Action]) -> list[Any]:
    """The fields a user gives an action, its own first, then ``at`` and ``duration``."""
    return sorted((f for f in fields(cls) if f.init), key=lambda f: f.name in ("at", "duration"))


def _check_actions(label: str, actions: Any) -> tuple[Action, ...]:
    """``actions`` as a tuple, if it is a list (or tuple) of actions; else a ConfigError."""
    if isinstance(actions, (list, tuple)) and all(isinstance(a, Action) for a in actions):
        return tuple(actions)
    raise config_error(
        label, "actions", "a list of chaos actions (hasim.Crash, ...) or a FaultHistory", actions
    )


# -- the overlap rule -----------------------------------------------------------------------------


def _first_overlap(actions: Sequence[Action]) -> tuple[int, int] | None:
    """The first pair of actions that contradict each other (see the module docstring), or None.

    Returns ``(index, other)``: ``actions[index]`` begins while ``actions[other]``,
    which began no later and holds the same claim, still holds; the smallest
    such pair.
    """
    holders: dict[tuple, list[int]] = {}
    for index, action in enumerate(actions):
        for claim in action._claims():
            holders.setdefault(claim, []).append(index)
    clashes = []
    for indices in holders.values():
        indices.sort(key=lambda i: actions[i].at)
        longest = None  # the earlier action that ends last
        for index in indices:
            if longest is not None and actions[index].at < actions[longest].end:
                clashes.append((index, longest))
            if longest is None or actions[index].end > actions[longest].end:
                longest = index
    return min(clashes) if clashes else None
