"""Failure domains: regions, zones, racks and common-cause groups that fail as one.

A ``Domain`` is a Node: it is up or down, its state is recorded, it can
carry ``failures=`` (a zone's power, a rack's switch) and a chaos schedule
can crash it by name. When it goes down, every member goes down at the same
instant, in membership order, with ``member.fail(cause=domain.name,
derived=True)``; when it comes back, every member gets ``recover(domain.name)``.
A member that is down for other reasons as well (its own crash, another
domain) stays down until those end too.

**Members**, looked up at each outage (names are checked when the run starts):

* every node whose ``zone`` is the domain's name;
* the nodes listed in ``members`` (nodes or their names), e.g. the replicas
  that share one power supply (a ``kind="group"`` for common-cause failures);
* the domains whose ``parent`` is this domain.

**Nesting.** ``parent`` makes a hierarchy, region > zone > rack. A domain
fails its *child domains* (derived), and each child fails its own members,
so a region outage reads in the fault history as the region, its zones and
their nodes, each derived from the level above. A ``group`` can sit
anywhere.

The network (and anything else) asks where a zone lies with
``region_of(sim, zone)`` or ``domain.ancestors``.
"""

from __future__ import annotations

from typing import Any

from hasim.errors import check_choice, config_error
from hasim.node import DOWN, Node
from hasim.sim import Simulation

__all__ = ["Domain", "KINDS", "region_of"]

#: What a domain can be; a domain's parent must be wider (region > zone > rack).
KINDS = ("region", "zone", "rack", "group")
_WIDTH = {"region": 0, "zone": 1, "rack": 2}


class Domain(Node):
    """A failure domain: when it goes down, its members go down at the same instant.

    Args:
        sim: the Simulation.
        name: unique name; nodes with ``zone=name`` are members.
        parent: the wider domain it lies in (a Domain or its name; a name may
            refer to a domain built later), or None.
        members: more members beyond those whose zone is ``name``: Nodes or
            their names (not domains: nest those with ``parent``), or None.
        failures: the domain's own random faults, as for any Node (streams
            ``(name, "ttf")``, ``(name, "ttr")``), or None.
        kind: ``"region"``, ``"zone"``, ``"rack"`` or ``"group"``.

    Only going down reaches the members; a slow or erroring domain (``degrade``,
    ``set_errors``, ``stall``) is a condition of the domain alone.

    Example:
        ::

            hs.Domain(sim, "eu", kind="region")
            hs.Domain(sim, "eu-1", parent="eu", failures=hs.Failures(ttf="1y", ttr="2h"))
            web = hs.Server(sim, "web", zone="eu-1", ...)
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        parent: Domain | str | None = None,
        members: Any = None,
        failures: Any = None,
        kind: str = "zone",
    ) -> None:
        owner = f"Domain {name!r}"
        check_choice(owner, "kind", kind, KINDS)
        self.kind = kind
        self._parent = _check_parent(owner, sim, name, kind, parent)
        self._listed = _check_members(owner, sim, members)
        super().__init__(sim, name, failures=failures)
        self._listed_nodes: tuple[Node, ...] = ()  # ``members`` resolved by ``_prepare``
        self.on_change(self._changed)

    def __repr__(self) -> str:
        return f"<Domain {self.name!r}, kind={self.kind!r}>"

    @property
    def parent(self) -> Domain | None:
        """The domain it lies in (None at the top).

        Raises:
            ConfigError: if the parent was given by a name that no Domain has.
        """
        if self._parent is None or isinstance(self._parent, Domain):
            return self._parent
        found = self.sim.components.get(self._parent)
        if not isinstance(found, Domain):
            known = ", ".join(repr(d.name) for d in _domains(self.sim)) or "none"
            raise config_error(
                self.label, "parent", f"the name of a Domain (domains: {known})", self._parent
            )
        _check_width(self.label, self.kind, found)
        self._parent = found
        return found

    @property
    def ancestors(self) -> tuple[Domain, ...]:
        """The domains it lies in, nearest first (a zone's region, a rack's zone and region).

        Raises:
            ConfigError: if a parent name is unknown, or the parents make a cycle.
        """
        chain: list[Domain] = []
        domain = self.parent
        while domain is not None:
            if domain is self or domain in chain:
                path = " -> ".join(d.name for d in (self, *chain, domain))
                allowed = f"a domain whose parents end without a cycle (here {path})"
                raise config_error(self.label, "parent", allowed, chain[0].name)
            chain.append(domain)
            domain = domain.parent
        return tuple(chain)

    @property
    def members(self) -> tuple[Node, ...]:
        """The nodes it takes down now: those in its zone, then those listed (once each).

        Looked up at each outage, so a node made during the run (a replacement, a
        scaled-out server) in the zone goes down with the zone's next outage.
        """
        zone = [node for node in self.sim.nodes if node.zone == self.name]
        return tuple(dict.fromkeys([*zone, *self._listed_nodes]))

    @property
    def children(self) -> tuple[Domain, ...]:
        """The domains whose parent it is."""
        return tuple(d for d in _domains(self.sim) if d._names_parent(self))

    def _prepare(self) -> None:
        super()._prepare()
        self.ancestors  # noqa: B018 - resolves and checks the parents
        self._listed_nodes = tuple(_resolve_member(self.label, self.sim, r) for r in self._listed)
        if self.state == DOWN:  # failed before the run started
            self._changed(self, DOWN, DOWN)

    def _names_parent(self, domain: Domain) -> bool:
        parent = self._parent
        return parent is domain or parent == domain.name

    def _changed(self, _: Node, old: str, new: str) -> None:
        if new == DOWN:
            for node in (*self.children, *self.members):
                node.fail(self.name, derived=True)
        elif old == DOWN:
            for node in (*self.children, *self.members):
                node.recover(self.name)  # nothing for a node that joined during the outage


def region_of(sim: Simulation, zone: str | None) -> str | None:
    """The name of the region a zone (or rack, or any domain) lies in, or None.

    ``zone`` is a domain's name, e.g. a node's ``zone``. The result is the
    nearest domain of kind ``"region"`` among the domain and its ancestors;
    None if ``zone`` is None, names no Domain, or lies in no region.
    """
    domain = sim.components.get(zone) if isinstance(zone, str) else None
    if not isinstance(domain, Domain):
        return None
    for d in (domain, *domain.ancestors):
        if d.kind == "region":
            return d.name
    return None


def _domains(sim: Simulation) -> list[Domain]:
    return [c for c in sim.components.values() if isinstance(c, Domain)]


def _check_parent(owner: str, sim: Any, name: str, kind: str, parent: Any) -> Domain | str | None:
    """``parent`` checked as far as it can be now (a name may refer to a later domain)."""
    if parent is None:
        return None
    if isinstance(parent, str) and parent:
        if parent == name:
            raise config_error(owner, "parent", "a domain other than itself", parent)
        found = sim.components.get(parent) if isinstance(sim, Simulation) else None
        if found is None:
            return parent  # checked when the run starts
        if not isinstance(found, Domain):
            raise config_error(owner, "parent", "a Domain or the name of one", found)
        parent = found
    if not isinstance(parent, Domain):
        raise config_error(owner, "parent", "a Domain, the name of one, or None", parent)
    if parent.sim is not sim:
        raise config_error(owner, "parent", "a Domain of the same Simulation", parent)
    _check_width(owner, kind, parent)
    return parent


def _check_width(owner: str, kind: str, parent: Domain) -> None:
    """A region holds zones, a zone racks: a parent must be wider (groups fit anywhere)."""
    if kind in _WIDTH and parent.kind in _WIDTH and _WIDTH[parent.kind] >= _WIDTH[kind]:
        wider = " or ".join(k for k, w in _WIDTH.items() if w < _WIDTH[kind]) or "nothing"
        raise config_error(owner, "parent", f"a domain wider than a {kind} ({wider})", parent)


def _check_members(owner: str, sim: Any, members: Any) -> tuple[Node | str, ...]:
    if members is None:
        return ()
    allowed = "Nodes or their names (nest domains with parent=), or None"
    if isinstance(members, (str, Node)):
        raise config_error(owner, "members", "a list of " + allowed, members)
    try:
        refs = tuple(members)
    except TypeError:
        raise config_error(owner, "members", "a list of " + allowed, members) from None
    for ref in refs:
        if isinstance(ref, str) and ref:
            continue
        if not isinstance(ref, Node) or isinstance(ref, Domain):
            raise config_error(owner, "members", allowed, ref)
        if ref.sim is not sim:
            raise config_error(owner, "members", "Nodes of the same Simulation", ref)
    return refs


def _resolve_member(owner: str, sim: Simulation, ref: Node | str) -> Node:
    if isinstance(ref, Node):
        return ref
    found = sim.components.get(ref)
    if isinstance(found, Domain):
        raise config_error(owner, "members", "Nodes, not domains (nest those with parent=)", ref)
    if not isinstance(found, Node):
        what = "no component" if found is None else f"a {type(found).__name__}, not a Node"
        raise config_error(owner, "members", f"names of Nodes in the simulation ({what})", ref)
    return found
