"""Chaos actions on the network: ``Partition`` (cut it) and ``Impair`` (degrade a link).

They act through ``sim.network`` (``partition``/``heal``, ``impair``/``restore``);
``Chaos`` makes sure the simulation has a network before the run starts. Any
component can be cut off or have its links degraded, so neither checks the
kind of the components it names; a replay on a design without some of them
drops those names from a partition's sides (see ``Action._without``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hasim import dist
from hasim.chaos.actions import Action, _name
from hasim.errors import check_probability, config_error
from hasim.sim import Simulation

__all__ = ["Partition", "Impair"]


def _side(owner: str, param: str, value: Any) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names:
        raise config_error(owner, param, "a component name or a non-empty list of names", value)
    for name in names:
        _name(owner, param, name)
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True, repr=False)
class Partition(Action):
    """Cut the network between ``side_a`` and ``side_b`` (None: every other component).

    With ``oneway``, only messages from ``side_a`` to ``side_b`` are dropped.
    Sides are component names (a name or a list of them).
    """

    kind: ClassVar[str] = "partition"
    side_a: str | Sequence[str]
    side_b: str | Sequence[str] | None = None
    oneway: bool = False

    def _check(self) -> str:
        side_a = _side("Partition", "side_a", self.side_a)
        owner = f"Partition {list(side_a)!r}"
        side_b = None if self.side_b is None else _side(owner, "side_b", self.side_b)
        if side_b is not None and set(side_a) & set(side_b):
            both = sorted(set(side_a) & set(side_b))
            raise config_error(owner, "side_b", "names not also in side_a", both)
        if not isinstance(self.oneway, bool):
            raise config_error(owner, "oneway", "True or False", self.oneway)
        object.__setattr__(self, "side_a", side_a)
        object.__setattr__(self, "side_b", side_b)
        return owner

    @property
    def names(self) -> tuple[str, ...]:
        """Every component named on either side."""
        return self.side_a + (self.side_b or ())

    def _claims(self) -> set[tuple]:
        a, b = frozenset(self.side_a), self.side_b and frozenset(self.side_b)
        return {("partition", (a, b) if self.oneway or b is None else frozenset((a, b)))}

    def _what(self) -> str:
        b = "the rest" if self.side_b is None else list(self.side_b)
        return f"{'one-way ' if self.oneway else ''}partition {list(self.side_a)} | {b}"

    def _fits(self, component: Any) -> str | None:
        return None  # any component can be cut off

    def _without(self, absent: set[str]) -> Partition | None:
        side_a = tuple(n for n in self.side_a if n not in absent)
        side_b = None if self.side_b is None else tuple(n for n in self.side_b if n not in absent)
        if not side_a or side_b == ():
            return None
        return Partition(side_a, side_b, oneway=self.oneway, at=self.at, duration=self.duration)

    def _start(self, sim: Simulation, cause: str) -> Any:
        return sim.network.partition(self.side_a, self.side_b, oneway=self.oneway, cause=cause)

    def _stop(self, sim: Simulation, cause: str, handle: Any) -> None:
        sim.network.heal(handle)


@dataclass(frozen=True, repr=False)
class Impair(Action):
    """Degrade the link ``src -> dst``: drop a share ``loss`` of messages, add ``latency``.

    ``latency`` is an extra delay per message (a Distribution, seconds or
    ``"50ms"``); with ``symmetric`` (default) both directions are degraded.
    """

    kind: ClassVar[str] = "impair"
    src: str
    dst: str
    loss: float = 0.0
    latency: dist.Distribution | float | str | None = None
    symmetric: bool = True

    def _check(self) -> str:
        src = _name("Impair", "src", self.src)
        dst = _name("Impair", "dst", self.dst)
        owner = f"Impair {src + ('<->' if self.symmetric else '->') + dst!r}"
        if src == dst:
            raise config_error(owner, "dst", f"a component other than src {src!r}", dst)
        object.__setattr__(self, "loss", check_probability(owner, "loss", self.loss))
        if self.latency is not None:
            latency = dist.as_distribution(self.latency, owner, "latency")
            object.__setattr__(self, "latency", latency)
        if not isinstance(self.symmetric, bool):
            raise config_error(owner, "symmetric", "True or False", self.symmetric)
        if self.loss == 0 and self.latency is None:
            raise config_error(owner, "loss", "> 0 when no latency is added", self.loss)
        return owner

    @property
    def names(self) -> tuple[str, ...]:
        """The two ends of the link."""
        return (self.src, self.dst)

    def _claims(self) -> set[tuple]:
        pairs = {(self.src, self.dst), (self.dst, self.src)} if self.symmetric else {self.names}
        return {("link", pair) for pair in pairs}

    def _what(self) -> str:
        return f"impairment of {self.src}{'<->' if self.symmetric else '->'}{self.dst}"

    def _fits(self, component: Any) -> str | None:
        return None

    def _start(self, sim: Simulation, cause: str) -> Any:
        return sim.network.impair(
            self.src,
            self.dst,
            loss=self.loss,
            latency=self.latency,
            symmetric=self.symmetric,
            cause=cause,
        )

    def _stop(self, sim: Simulation, cause: str, handle: Any) -> None:
        sim.network.restore(handle)
