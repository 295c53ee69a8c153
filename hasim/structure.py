"""Structure expressions: when a design is up, as a value rather than a lambda.

``hs.all_of(...)`` (series), ``hs.any_of(...)`` (parallel) and ``hs.k_of_n(k, ...)``
(voting) build a tree over components; ``&`` and ``|`` compose them::

    up = lb & hs.k_of_n(2, web)          # the balancer and 2 of the 3 servers
    sim.up_when(up)

One expression gives three things a lambda cannot:

* **an incremental predicate**: the simulation keeps, for every gate, how many of
  its inputs are up, and a component's change walks up the tree only as far as an
  output changes (a k-of-n counter, not a sum over nodes at every event);
* **exact analysis** when components are independent (``hasim.analytic.structure``):
  the system's availability from each component's (steady-state or transient)
  availability, minimal cut sets, and importance measures;
* **a vectorised evaluation** over arrays of component states
  (``evaluate_array``), for the vectorised engine and for attribution after a run.

Leaves are components (anything with a ``name`` and an ``up`` property: nodes,
servers, balancers, failover pairs) or component *names*; an expression of names
is bound to a simulation's components by ``sim.up_when``. Leaves are identified
by name: the same component may appear in several branches (a shared database
under two services), and the analysis accounts for it exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from hasim.errors import config_error

__all__ = [
    "Structure", "Gate", "Leaf", "ShareUp", "all_of", "any_of", "k_of_n", "share_up",
    "as_structure", "Tracker",
]  # fmt: skip


class Structure:
    """A structure expression (see the module docstring); build with all_of / any_of / k_of_n."""

    __slots__ = ()

    # -- composition --------------------------------------------------------------------

    def __and__(self, other: Any) -> Gate:
        return all_of(self, other)

    def __rand__(self, other: Any) -> Gate:
        return all_of(other, self)

    def __or__(self, other: Any) -> Gate:
        return any_of(self, other)

    def __ror__(self, other: Any) -> Gate:
        return any_of(other, self)

    # -- what it is made of -------------------------------------------------------------

    def leaves(self) -> list[Leaf]:
        """The distinct leaves, in order of first appearance."""
        seen: dict[str, Leaf] = {}
        for leaf in self._walk_leaves():
            seen.setdefault(leaf.name, leaf)
        return list(seen.values())

    @property
    def names(self) -> tuple[str, ...]:
        """The distinct component names, in order of first appearance."""
        return tuple(leaf.name for leaf in self.leaves())

    def _walk_leaves(self) -> Iterable[Leaf]:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- evaluation -----------------------------------------------------------------------

    def __call__(self) -> bool:
        """Whether the structure is up now, reading each leaf component's ``up``."""
        return self.evaluate(lambda leaf: bool(leaf._component_up()))

    def evaluate(self, states: Mapping[str, bool] | Callable[[Leaf], bool]) -> bool:
        """Whether the structure is up given each component's state.

        Args:
            states: ``{name: up}`` for every leaf, or a function of a ``Leaf``.
        """
        if isinstance(states, Mapping):
            table = states
            missing = [n for n in self.names if n not in table]
            if missing:
                raise config_error(
                    f"structure {self}", "states", f"a state for every leaf (missing {missing})",
                    dict(table),
                )  # fmt: skip
            return self._eval(lambda leaf: bool(table[leaf.name]))
        return self._eval(states)

    def _eval(self, up: Callable[[Leaf], bool]) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def evaluate_array(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Elementwise evaluation over boolean arrays of component states.

        Args:
            columns: ``{name: bool array}`` for every leaf, all of one shape.

        Returns:
            a boolean array of that shape: the system's state in each position.
        """
        return self._eval_array(columns)

    def _eval_array(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # -- binding --------------------------------------------------------------------------

    def bind(self, resolve: Callable[[str], Any]) -> Structure:
        """The same expression with every leaf's component looked up by name.

        Args:
            resolve: name -> component (``sim.__getitem__``), raising for unknown names.
        """
        return self._bind(resolve)

    def unbound(self) -> Structure:
        """The same expression over names only (picklable, for results and analysis)."""
        return self._bind(lambda name: None)

    def _bind(self, resolve: Callable[[str], Any]) -> Structure:  # pragma: no cover
        raise NotImplementedError

    # -- exact analysis (hasim.analytic.structure) ------------------------------------------

    def availability(self, components: Mapping[str, float] | float) -> float:
        """The exact availability with independent components (see hasim.analytic.structure).

        Args:
            components: ``{name: availability}`` of every leaf (or one number for all).
        """
        from hasim.analytic import structure as analysis

        return analysis.availability(self, components)

    def cut_sets(self) -> list[frozenset[str]]:
        """The minimal cut sets: smallest sets of components whose failure takes it down."""
        from hasim.analytic import structure as analysis

        return analysis.minimal_cut_sets(self)

    def importance(self, components: Mapping[str, float] | float):
        """Birnbaum, criticality and Fussell-Vesely importance of every component (DataFrame)."""
        from hasim.analytic import structure as analysis

        return analysis.importance(self, components)


class Leaf(Structure):
    """One component of a structure, by name (with the component itself once bound)."""

    __slots__ = ("name", "component")

    def __init__(self, name: str, component: Any = None) -> None:
        self.name = name
        self.component = component

    def _walk_leaves(self) -> Iterable[Leaf]:
        yield self

    def _component_up(self) -> bool:
        if self.component is None:
            raise config_error(
                f"structure leaf {self.name!r}", "component",
                "bound to a simulation's component (sim.up_when binds it)", None,
            )  # fmt: skip
        return self.component.up

    def _eval(self, up: Callable[[Leaf], bool]) -> bool:
        return bool(up(self))

    def _eval_array(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        try:
            return np.asarray(columns[self.name], dtype=bool)
        except KeyError:
            raise config_error(
                f"structure leaf {self.name!r}", "columns", "an array for every leaf",
                sorted(columns),
            ) from None  # fmt: skip

    def _bind(self, resolve: Callable[[str], Any]) -> Leaf:
        return Leaf(self.name, resolve(self.name))

    def __repr__(self) -> str:
        return self.name


class Gate(Structure):
    """At least ``k`` of its ``children`` up (series: k = n; parallel: k = 1)."""

    __slots__ = ("k", "children", "kind")

    def __init__(self, k: int, children: tuple[Structure, ...], kind: str) -> None:
        self.k = k
        self.children = children
        #: ``"all"``, ``"any"`` or ``"k_of_n"`` (how it was built; how it prints).
        self.kind = kind

    @property
    def n(self) -> int:
        """How many inputs the gate has."""
        return len(self.children)

    def _walk_leaves(self) -> Iterable[Leaf]:
        for child in self.children:
            yield from child._walk_leaves()

    def _eval(self, up: Callable[[Leaf], bool]) -> bool:
        k = self.k
        count = 0
        for child in self.children:
            count += child._eval(up)
            if count >= k:
                return True
        return False

    def _eval_array(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        values = [child._eval_array(columns) for child in self.children]
        if self.k == len(values):
            return np.logical_and.reduce(values)
        if self.k == 1:
            return np.logical_or.reduce(values)
        return np.add.reduce([v.astype(np.int32) for v in values]) >= self.k

    def _bind(self, resolve: Callable[[str], Any]) -> Gate:
        return Gate(self.k, tuple(c._bind(resolve) for c in self.children), self.kind)

    def __repr__(self) -> str:
        inner = [
            f"({c!r})" if isinstance(c, Gate) and c.kind != "k_of_n" else repr(c)
            for c in self.children
        ]
        if self.kind == "all":
            return " & ".join(inner)
        if self.kind == "any":
            return " | ".join(inner)
        return f"k_of_n({self.k}, [{', '.join(repr(c) for c in self.children)}])"


def _items(owner: str, items: tuple[Any, ...]) -> list[Structure]:
    """Flatten the arguments (components, names, structures, iterables of them) to nodes."""
    out: list[Structure] = []
    for item in items:
        if isinstance(item, (Structure, str)) or hasattr(item, "up"):
            out.append(as_structure(item, owner))
        elif isinstance(item, Iterable):
            out.extend(_items(owner, tuple(item)))
        else:
            out.append(as_structure(item, owner))
    return out


def as_structure(item: Any, owner: str = "structure") -> Structure:
    """``item`` as a structure node: a Structure as is, a component or a name as a Leaf."""
    if isinstance(item, Structure):
        return item
    if isinstance(item, str):
        if not item:
            raise config_error(owner, "component", "a component or a non-empty name", item)
        return Leaf(item)
    name = getattr(item, "name", None)
    if isinstance(name, str) and name and hasattr(type(item), "up"):
        return Leaf(name, item)
    raise config_error(
        owner, "component", "a component (with a name and an up state), a name or a structure",
        item,
    )  # fmt: skip


def _flat(kind: str, nodes: list[Structure]) -> tuple[Structure, ...]:
    """Merge nested gates of the same kind: ``(a & b) & c`` is one series of three."""
    out: list[Structure] = []
    for node in nodes:
        if isinstance(node, Gate) and node.kind == kind:
            out.extend(node.children)
        else:
            out.append(node)
    return tuple(out)


def all_of(*components: Any) -> Gate:
    """Up while every input is up (a series system).

    Args:
        components: components, names, structures, or iterables of them.

    Example:
        ``hs.all_of(lb, db)`` or ``lb & db``.
    """
    nodes = _items("all_of", components)
    if not nodes:
        raise config_error("all_of", "components", "at least one component", components)
    children = _flat("all", nodes)
    return Gate(len(children), children, "all")


def any_of(*components: Any) -> Gate:
    """Up while at least one input is up (a parallel system).

    Example:
        ``hs.any_of(web)`` for a list ``web``, or ``a | b``.
    """
    nodes = _items("any_of", components)
    if not nodes:
        raise config_error("any_of", "components", "at least one component", components)
    return Gate(1, _flat("any", nodes), "any")


def k_of_n(k: int, *components: Any) -> Gate:
    """Up while at least ``k`` of the inputs are up (a voting system).

    Args:
        k: how many must be up, an integer in 1..n.
        components: the n inputs (components, names, structures or iterables).

    Example:
        ``hs.k_of_n(2, web)`` for three servers ``web``.
    """
    nodes = tuple(_items("k_of_n", components))
    if not nodes:
        raise config_error("k_of_n", "components", "at least one component", components)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= len(nodes):
        raise config_error("k_of_n", "k", f"an integer in 1..{len(nodes)} (the inputs)", k)
    return Gate(int(k), nodes, "k_of_n")


class Tracker:
    """The incremental form of a structure: gate counters updated by leaf changes.

    Each gate keeps how many of its inputs are up; ``set(leaf, up)`` changes a
    leaf and walks up the tree only while gate outputs change, so a state change
    costs a few integer operations whatever the size of the design.

    Attributes:
        names: the leaves' names, indexed as ``set`` takes them.
        up: the structure's state now.
    """

    __slots__ = ("names", "_leaf_parents", "_count", "_k", "_parent", "_out", "up", "_leaf_up")

    def __init__(self, structure: Structure) -> None:
        leaves = structure.leaves()
        self.names = [leaf.name for leaf in leaves]
        index = {name: i for i, name in enumerate(self.names)}
        self._leaf_parents: list[list[int]] = [[] for _ in leaves]
        self._count: list[int] = []
        self._k: list[int] = []
        self._parent: list[int] = []
        self._out: list[bool] = []

        root = structure if isinstance(structure, Gate) else Gate(1, (structure,), "all")

        def add(gate: Gate, parent: int) -> int:
            g = len(self._k)
            self._k.append(gate.k)
            self._parent.append(parent)
            self._count.append(0)
            self._out.append(False)
            for child in gate.children:
                if isinstance(child, Gate):
                    add(child, g)
                else:
                    self._leaf_parents[index[child.name]].append(g)
            return g

        add(root, -1)
        self._leaf_up = [False] * len(leaves)
        self.up = False

    def reset(self, states: list[bool]) -> bool:
        """Set every leaf's state at once (in ``names`` order); return the structure's state."""
        self._count = [0] * len(self._k)
        self._out = [False] * len(self._k)
        self._leaf_up = [False] * len(self.names)
        self.up = self._k[0] <= 0
        for i, up in enumerate(states):
            if up:
                self.set(i, True)
        return self.up

    def set(self, leaf: int, up: bool) -> bool:
        """Leaf ``leaf`` is now ``up``; return the structure's state."""
        if self._leaf_up[leaf] == up:
            return self.up
        self._leaf_up[leaf] = up
        count, k, out, parent = self._count, self._k, self._out, self._parent
        for g in self._leaf_parents[leaf]:
            d = 1 if up else -1
            while True:
                c = count[g] + d
                count[g] = c
                now = c >= k[g]
                if now is out[g]:
                    break
                out[g] = now
                p = parent[g]
                if p < 0:
                    self.up = now
                    break
                g = p
                d = 1 if now else -1
        return self.up


class ShareUp:
    """A reward: the share of its components that are up (capacity served), in [0, 1].

    Given as ``sim.up_when(structure, reward=hs.share_up(web))``, it is counted
    only while the system is up, so three servers of which two are up carry 2/3
    of the load, and none while the structure says the system is down. The
    run's ``performability`` is its time-average over the window.
    """

    __slots__ = ("leaves",)

    def __init__(self, leaves: tuple[Leaf, ...]) -> None:
        self.leaves = leaves

    @property
    def names(self) -> tuple[str, ...]:
        """The components' names."""
        return tuple(leaf.name for leaf in self.leaves)

    def __call__(self) -> float:
        """The share of the components up now."""
        return sum(bool(leaf._component_up()) for leaf in self.leaves) / len(self.leaves)

    def evaluate_array(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The share up in each position of boolean state arrays ``{name: array}``."""
        total = np.add.reduce([leaf._eval_array(columns).astype(np.int32) for leaf in self.leaves])
        return total / len(self.leaves)

    def bind(self, resolve: Callable[[str], Any]) -> ShareUp:
        """The same reward with its leaves' components looked up by name."""
        return ShareUp(tuple(leaf._bind(resolve) for leaf in self.leaves))

    def __repr__(self) -> str:
        return f"share_up([{', '.join(self.names)}])"


def share_up(*components: Any) -> ShareUp:
    """The reward "share of these components up" (see ``ShareUp``).

    Example:
        ``sim.up_when(hs.k_of_n(2, web), reward=hs.share_up(web))``
    """
    leaves = []
    for node in _items("share_up", components):
        if not isinstance(node, Leaf):
            raise config_error("share_up", "components", "components or names", node)
        leaves.append(node)
    if not leaves:
        raise config_error("share_up", "components", "at least one component", components)
    return ShareUp(tuple(leaves))
