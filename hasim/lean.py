"""The lean state-only engine: failures and repairs at the cost of a bare event loop.

An availability study runs a design with no traffic for thousands of simulated
years: nothing happens but failures and repairs. The general engine pays for
what such a run does not use (a SimPy event per move, a fault record, a state
record and a predicate call per change); this engine runs the same model on a
plain heap of ``(time, order, unit)`` entries, with

* the **same draws**: each fault model draws from the same streams, at the same
  moments, as in the general engine, so event times are the same floats;
* the structure evaluated **incrementally** (``hasim.structure.Tracker``; a
  counter for a flat k-of-n), or a ``up_when`` lambda called after each change;
* the system's transitions **streamed** into a compact log (a few bytes per
  system transition, nothing per component event), so memory stays flat in the
  horizon however many components fail.

The numbers it returns are those of the general engine for the same seed
(``summary()`` bit for bit; the tests check it), except that tables of
component-level history are not kept: ``timeline()``, ``failures()``,
``faults()`` and ``fault_history()`` need ``record="requests"``, which runs the
general engine.

**When it applies** (``run(engine="auto")`` uses it when all hold; ``"lean"``
refuses otherwise, naming the first obstacle): ``record="aggregate"``; no
clients and no fast-forward; every component a plain ``Node`` or ``Server`` (or a
``RepairCrews`` pool); every fault model a ``Failures`` with immediate repair and
no spares (own crew, or a shared ``RepairCrews`` pool: FIFO, as in the general
engine); no listener on any node; no chaos schedule or replayed history.
Anything else runs on the general engine.

**Ties.** Two events at the very same instant are taken in the order they were
scheduled, as SimPy does. With shared crews the general engine schedules a few
bookkeeping events of its own, so the order of exactly simultaneous events can
differ there (only with deterministic or discrete times; never with continuous
ones).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from heapq import heapify, heappop, heappush, heapreplace
from typing import Any

import numpy as np

from hasim import faults
from hasim.dist import ConstantSampler, Sampler
from hasim.domains import Domain
from hasim.errors import SimulationError
from hasim.node import DOWN, UP, Node, Server

__all__ = ["SystemLog", "check_lean", "run_lean"]


class SystemLog:
    """The system's transitions, compactly: ``(time, up, cause)`` per change.

    Iterates like the list the general engine keeps (``RunResult.system_log``),
    at about 17 bytes a transition instead of ~100.
    """

    __slots__ = ("times", "ups", "causes", "_names", "_codes")

    def __init__(self) -> None:
        self.times = array("d")
        self.ups = array("b")
        self.causes = array("i")
        self._names: list[str | None] = [None]
        self._codes: dict[str | None, int] = {None: 0}

    def append(self, entry: tuple[float, bool, str | None]) -> None:
        """Add ``(time, up, cause)``."""
        t, up, cause = entry
        code = self.code(cause)
        self.times.append(t)
        self.ups.append(up)
        self.causes.append(code)

    def code(self, cause: str | None) -> int:
        """The integer that stands for ``cause`` in ``causes``."""
        code = self._codes.get(cause)
        if code is None:
            code = self._codes[cause] = len(self._names)
            self._names.append(cause)
        return code

    def extend_codes(self, times: np.ndarray, ups: np.ndarray, codes: np.ndarray) -> None:
        """Add many transitions at once: arrays of times, states and cause codes (``code``)."""
        self.times.frombytes(np.ascontiguousarray(times, dtype=np.float64).tobytes())
        self.ups.frombytes(np.ascontiguousarray(ups, dtype=np.int8).tobytes())
        self.causes.frombytes(np.ascontiguousarray(codes, dtype=np.int32).tobytes())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
        """``(times, ups, cause codes, names)``: numpy views for vectorised analysis."""
        return (
            np.frombuffer(self.times, dtype=np.float64) if len(self.times) else np.empty(0),
            np.frombuffer(self.ups, dtype=np.int8).astype(bool) if len(self.ups) else
            np.empty(0, dtype=bool),
            np.frombuffer(self.causes, dtype=np.int32) if len(self.causes) else
            np.empty(0, dtype=np.int32),
            self._names,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.times)

    def __iter__(self):
        names = self._names
        for t, up, code in zip(self.times, self.ups, self.causes, strict=True):
            yield (t, bool(up), names[code])

    def __getitem__(self, i: int) -> tuple[float, bool, str | None]:
        return (self.times[i], bool(self.ups[i]), self._names[self.causes[i]])

    def __getstate__(self) -> dict[str, Any]:
        return {"times": self.times, "ups": self.ups, "causes": self.causes, "names": self._names}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.times, self.ups, self.causes = state["times"], state["ups"], state["causes"]
        self._names = state["names"]
        self._codes = {name: i for i, name in enumerate(self._names)}


def _reward(rec: Any, t: float, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise SimulationError(f"Simulation: the reward must be in [0, 1], got {value!r}")
    rec.reward(t, value)


def check_lean(sim: Any) -> str | None:
    """Why the lean engine cannot run ``sim`` (None if it can)."""
    if sim.recorder.keep_requests:
        return 'record="requests" keeps the full timeline (use record="aggregate")'
    if sim.clients:
        return f"{sim.clients[0].label} sends traffic (the lean engine runs state-only designs)"
    if sim._replayed:
        return "a replayed fault history dictates some nodes' faults"
    if sim._verdict_listeners:
        return "something waits on health verdicts"
    for component in sim.components.values():
        if isinstance(component, faults.RepairCrews):
            continue
        if type(component) not in (Node, Server, Domain):
            return f"{component.label} is not a plain node, server or failure domain"
        own = [component._changed] if isinstance(component, Domain) else []
        if component._listeners != own:
            return f"{component.label} has listeners on its state"
        if component.state != UP or component.retired:
            return f"{component.label} is not up as the run starts"
        for model in component._models:
            if not isinstance(model, faults.Failures):
                return f"{component.label} has a fault model other than Failures ({model!r})"
            if model.repair != "immediate" or model.spares is not None:
                return f"{component.label}: its Failures wait for detection or spares"
    return None


class _Constant(list):
    """A never-empty draw buffer of a constant (a Deterministic's sampler)."""

    __slots__ = ("value",)

    def pop(self, *_: Any) -> float:  # noqa: D102 - list.pop, always the constant
        return self.value


class _ConstantDraws:
    """A constant sampler in the shape the loop reads: ``_buffer.pop()`` never runs dry."""

    __slots__ = ("_buffer", "_value")

    def __init__(self, value: float) -> None:
        self._buffer = _Constant()
        self._buffer.value = value
        self._value = value

    def __call__(self) -> float:
        return self._value


def _draws(sampler: Sampler) -> Any:
    """``sampler`` as the loop reads it (see ``run_lean``: ``_buffer.pop()``, refill on empty)."""
    if isinstance(sampler, ConstantSampler):
        return _ConstantDraws(sampler())
    return sampler


def _units(sim: Any) -> tuple[list[Node], list[tuple], dict[Any, int], list[int]]:
    """The fault models as units ``(node index, cause, ttf, ttr, pool)`` on their streams."""
    nodes = list(sim.nodes)
    units = []
    pools: dict[Any, int] = {}
    for i, node in enumerate(nodes):
        for model in node._models:
            model.check(node.label, sim)
            faults._claim(node, model.cause)
            ttf = _draws(sim.sampler(model.ttf, node.name, faults._streams(model.cause, "ttf"), 64))
            ttr = _draws(sim.sampler(model.ttr, node.name, faults._streams(model.cause, "ttr"), 64))
            pool = -1
            if model.crews is not None:
                pool = pools.setdefault(model.crews, len(pools))
            units.append((i, model.cause, ttf, ttr, pool))
    sizes = [crews.crews for crews in pools]
    return nodes, units, pools, sizes


def run_lean(sim: Any, until: float) -> None:
    """Run ``sim`` (checked by ``check_lean``) to ``until``; stream its system log.

    Node states are kept current (so an ``up_when`` lambda reads them); the
    recorder receives the system's transitions and each node's final state.
    """
    nodes, units, _, sizes = _units(sim)
    rec = sim.recorder
    log = SystemLog()
    for entry in rec.system_log:  # the state at time 0
        log.append(entry)
    rec.system_log = log
    n_nodes = len(nodes)
    causes_down = [0] * n_nodes
    # How the system's state is known after a change: a counter, a tracker, a callable.
    tracker = sim._tracker
    predicate = sim._predicate
    leaf_of = [-1] * n_nodes
    counting = False
    k = 0
    if tracker is not None:
        for i, node in enumerate(nodes):
            leaf_of[i] = sim._leaf_index.get(node.name, -1)
        structure = sim.structure
        flat = all(not hasattr(child, "children") for child in structure.children)
        if flat and len(set(structure.names)) == len(structure.children) and sim.reward is None:
            counting, k = True, structure.k  # a flat gate over distinct nodes: a counter
    elif predicate is None and sim.reward is None:
        counting, k = True, n_nodes
        leaf_of = list(range(n_nodes))
    elif predicate is None:
        predicate = sim.system_up  # every node up, read from the states kept current
    system_up = sim._system_up
    reward = sim.reward
    up_count = sum(1 for i in range(n_nodes) if leaf_of[i] >= 0) if counting else 0

    # Units: next event per unit on one heap; (time, order, unit).
    n_units = len(units)
    unit_node = [u[0] for u in units]
    unit_cause = [u[1] for u in units]
    unit_ttf = [u[2] for u in units]
    unit_ttr = [u[3] for u in units]
    unit_pool = [u[4] for u in units]
    down = [False] * n_units
    free = list(sizes)
    waiting: list[deque[int]] = [deque() for _ in sizes]
    heap = []
    order = 0
    for u in range(n_units):
        at = 0.0 + unit_ttf[u]()
        nodes[unit_node[u]]._schedule(unit_cause[u], at)
        heap.append((at, order, u))
        order += 1
    inf = math.inf
    heap.append((inf, order, -1))  # a sentinel: the heap is never empty
    heapify(heap)
    append = log.append
    set_leaf = tracker.set if tracker is not None else None

    # Failure domains: who follows whom (child domains first, then members, as Domain does).
    index = {id(node): i for i, node in enumerate(nodes)}
    dependents: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        if isinstance(node, Domain):  # prepared by run(): members resolved
            dependents[i] = [index[id(d)] for d in (*node.children, *node.members)]
    cascades = any(dependents)

    def settle(j: int, delta: int, t: float, cause: str) -> None:
        """Node ``j`` came up (+1) or went down (-1) at ``t``: the system's state after it."""
        nonlocal up_count, system_up
        if counting:
            if leaf_of[j] >= 0:
                up_count += delta
            up = up_count >= k
        elif set_leaf is not None:
            up = set_leaf(leaf_of[j], delta > 0) if leaf_of[j] >= 0 else system_up
        else:
            up = bool(predicate())
        if up is not system_up:
            system_up = up
            append((t, up, cause))
        if reward is not None:
            value = float(reward()) if up else 0.0
            if value != rec.reward_value:
                _reward(rec, t, value)

    def propagate(i: int, went_down: bool, t: float, blame: str) -> None:
        """Domain ``i`` went down (or came back): its dependents follow, depth first.

        A derived failure is blamed on the root of the chain (the domain that failed on
        its own); a recovery on the node that came back, as ``Node`` does.
        """
        for j in dependents[i]:
            c = causes_down[j] + (1 if went_down else -1)
            causes_down[j] = c
            if went_down and c == 1:
                nodes[j].state = DOWN
                if dependents[j]:
                    propagate(j, True, t, blame)
                settle(j, -1, t, blame)
            elif not went_down and c == 0:
                nodes[j].state = UP
                if dependents[j]:
                    propagate(j, False, t, nodes[j].name)
                settle(j, 1, t, nodes[j].name)

    # NOTE: the hot loop of every availability study. Draws are taken from each
    # sampler's buffer inline (``_buffer.pop()``, the call only to refill: the same
    # values, ~40 ns less per event), and each event replaces the heap's top in place.
    while True:
        t, _, u = heap[0]
        if t >= until:
            break
        n = unit_node[u]
        changed = 0  # +1: the node came up, -1: it went down
        if down[u]:  # a repair ends; the next failure is drawn
            down[u] = False
            c = causes_down[n] - 1
            causes_down[n] = c
            if c == 0:
                changed = 1
            draw = unit_ttf[u]
            try:
                d = draw._buffer.pop()
            except IndexError:
                d = draw()
            pool = unit_pool[u]
            if pool >= 0:
                queue = waiting[pool]
                if queue:  # the crew goes straight to the next failed unit
                    w = queue.popleft()
                    heappush(heap, (t + unit_ttr[w](), order, w))
                    order += 1
                else:
                    free[pool] += 1
            heapreplace(heap, (t + d, order, u))
            order += 1
            if changed:
                nodes[n].state = UP
        else:  # a failure; its repair is drawn
            down[u] = True
            c = causes_down[n] + 1
            causes_down[n] = c
            if c == 1:
                changed = -1
            pool = unit_pool[u]
            if pool >= 0 and not free[pool]:
                waiting[pool].append(u)  # no event until a crew frees
                heappop(heap)
            else:
                if pool >= 0:
                    free[pool] -= 1
                draw = unit_ttr[u]
                try:
                    d = draw._buffer.pop()
                except IndexError:
                    d = draw()
                heapreplace(heap, (t + d, order, u))
            order += 1
            if changed:
                nodes[n].state = DOWN
        if not changed:
            continue
        if cascades:  # a design with failure domains: members follow, then the node itself
            if dependents[n]:
                propagate(n, changed < 0, t, nodes[n].name)
            settle(n, changed, t, nodes[n].name)
            continue
        if counting:
            if leaf_of[n] >= 0:
                up_count += changed
            up = up_count >= k
        elif set_leaf is not None:
            leaf = leaf_of[n]
            if leaf >= 0:
                up = set_leaf(leaf, changed > 0)
            elif reward is None:
                continue
            else:
                up = system_up
        else:
            up = bool(predicate())
        if up is not system_up:
            system_up = up
            append((t, up, nodes[n].name))
        if reward is not None:
            value = float(reward()) if up else 0.0
            if value != rec.reward_value:
                _reward(rec, t, value)

    sim._system_up = system_up
    # The published next failures, as the general engine leaves them.
    for u in range(n_units):
        nodes[unit_node[u]]._next[unit_cause[u]] = inf
    for at, _, u in heap:
        if u >= 0 and not down[u]:
            nodes[unit_node[u]]._next[unit_cause[u]] = at
    for node in nodes:
        node.next_failure_at = min(node._next.values(), default=inf)
