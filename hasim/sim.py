"""The Simulation: clock, seed, random streams, registry, structure predicate, run.

Random streams (DESIGN rules 1-2): ``sim.rng(name, purpose)`` is a numpy
``Generator`` seeded by ``SeedSequence(seed, spawn_key=(h(name), h(purpose)))``
where ``h`` is a 128-bit BLAKE2b digest. A component named ``web1`` therefore
draws the same failure times in every design that has a ``web1``, whatever
else the design holds and in whatever order it was built, and the same seed
gives the same numbers in every process (the digest is stable; Python's
``hash()`` is not). A 32-bit hash such as ``crc32`` is not enough: names
collide (``"plumless"`` and ``"buckeroo"`` do) and would share streams.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from hasim import units
from hasim.dist import Distribution
from hasim.errors import (
    ConfigError,
    SimulationError,
    check_choice,
    check_int,
    config_error,
)
from hasim.metrics.recorder import SERIES_BUCKETS, Recorder
from hasim.structure import (
    Gate,
    Leaf,
    ShareUp,
    Structure,
    Tracker,
    all_of,
    any_of,
    as_structure,
)

if TYPE_CHECKING:
    from hasim.metrics.result import RunResult

__all__ = ["Simulation", "Component", "SYSTEM"]

#: The name results give the system as a whole (reserved for components).
SYSTEM = "system"

#: How ``run()`` can execute a model (see its docstring).
ENGINES = ("auto", "events", "lean", "vector")

# SimPy's priority for ordinary events (simpy.events.NORMAL).
_NORMAL = 1


class _Call:
    """A bare event that calls ``fn(arg)`` when the clock reaches it.

    NOTE: SimPy's ``env.step`` only needs ``callbacks`` and ``_ok`` on what it
    pops off the heap. A slotted object carrying the call is cheaper than a
    ``Timeout`` plus a closure, and this is the per-request hot path.
    """

    __slots__ = ("callbacks", "_ok", "fn", "arg")

    def __init__(self, fn: Callable[[Any], None], arg: Any) -> None:
        self.callbacks = [_fire]
        self._ok = True
        self.fn = fn
        self.arg = arg


def _stable_hash(text: str) -> int:
    """A 128-bit hash of ``text`` that is the same in every process and release."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "little")


def _fire(event: _Call) -> None:
    event.fn(event.arg)


class Simulation:
    """One run of one design: clock, seed, random streams, components, recorder.

    Args:
        seed: the root seed (an integer >= 0). Same seed, same results, bit for bit.
        record: ``"requests"`` keeps one row per request (``RunResult.requests()``,
            exact latency percentiles); ``"aggregate"`` keeps only counts, a
            latency histogram (percentiles within 0.5 %) and time series, so
            memory stays flat on long runs.

    Example:
        >>> import hasim as hs
        >>> sim = hs.Simulation(seed=7)
        >>> web = hs.Server(sim, "web", workers=2, service_time=hs.Exponential(mean=0.01))
        >>> client = hs.OpenLoop(sim, "users", target=web, rate=50)
        >>> result = sim.run(until=60)
        >>> result.summary()["availability"]
        1.0
    """

    def __init__(self, seed: int = 0, *, record: str = "requests") -> None:
        self.seed = check_int("Simulation", "seed", seed, minimum=0)
        check_choice("Simulation", "record", record, ("requests", "aggregate"))
        self.env = simpy.Environment()
        self.recorder = Recorder(keep_requests=(record == "requests"))
        #: The Network in use (set by ``hasim.Network``; a zero-latency one
        #: is made when the first message is sent without one).
        self.network: Any = None
        #: Simulated seconds skipped by fast-forward (their requests estimated).
        self.skipped = 0.0
        self.components: dict[str, Component] = {}
        self.nodes: list[Any] = []
        self.clients: list[Any] = []
        self._predicate: Callable[[], bool] | None = None
        #: The structure expression given to ``up_when`` (None for a lambda or none).
        self.structure: Structure | None = None
        self._tracker: Tracker | None = None
        self._leaf_index: dict[str, int] = {}
        self._derived_leaves: list[tuple[int, Any]] = []
        #: The reward rate while up (performability), from ``up_when(..., reward=)``.
        self.reward: Callable[[], float] | None = None
        self._system_up: bool | None = None
        self._request_ids = 0
        #: Components whose faults a replayed history dictates: their random
        #: fault models stay off (see ``hasim.Chaos``).
        self._replayed: set[str] = set()
        self._verdict_listeners: dict[str, list[Callable[[str, bool], None]]] = {}
        self._started = False
        self._finished = False

    # -- random streams -------------------------------------------------

    def rng(self, name: str, purpose: str = "") -> np.random.Generator:
        """A random generator private to ``(name, purpose)`` under this seed."""
        key = (_stable_hash(name), _stable_hash(purpose))
        return np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key))
        )

    def sampler(self, dist: Distribution, name: str, purpose: str, batch: int = 1024):
        """A fast scalar sampler of ``dist`` on the stream ``(name, purpose)``."""
        return dist.sampler(self.rng(name, purpose), batch=batch)

    # -- the clock ------------------------------------------------------

    @property
    def now(self) -> float:
        """The current simulated time in seconds."""
        return self.env.now

    def call_later(self, delay: float, fn: Callable[[Any], None], arg: Any = None) -> None:
        """Call ``fn(arg)`` after ``delay`` seconds of simulated time (no process needed)."""
        env = self.env
        heapq.heappush(env._queue, (env._now + delay, _NORMAL, next(env._eid), _Call(fn, arg)))

    # -- registry -------------------------------------------------------

    def _register(self, component: Component) -> None:
        name = component.name
        owner = f"{type(component).__name__} {name!r}"
        if self._finished:
            raise SimulationError(f"{owner}: the run is over; build a new Simulation")
        if name in self.components:
            other = self.components[name]
            raise config_error(
                owner,
                "name",
                f"unique in the simulation (already used by {type(other).__name__} {name!r})",
                name,
            )
        self.components[name] = component
        if self._started:  # made during the run (a replacement, a scaled-out server)
            self.recorder.add_name(name)
            self.call_later(0.0, self._activate, component)

    def _activate(self, component: Component) -> None:
        """Ready a component made during the run, as ``run()`` readies the others."""
        component._prepare()
        if component in self.nodes:
            self.recorder.state(self.env.now, component.name, component.state)
            if component.name not in self._replayed:
                component._start_faults()

    def __getitem__(self, name: str) -> Component:
        try:
            return self.components[name]
        except KeyError:
            known = ", ".join(repr(n) for n in self.components) or "none"
            raise ConfigError(f"Simulation: no component named {name!r} (known: {known})") from None

    def __contains__(self, name: str) -> bool:
        return name in self.components

    def next_request_id(self) -> int:
        """A request id unique within this simulation, in issue order."""
        self._request_ids += 1
        return self._request_ids

    # -- system state -----------------------------------------------------

    def up_when(
        self,
        predicate: Callable[[], bool] | Structure,
        *,
        reward: Callable[[], float] | ShareUp | None = None,
    ) -> None:
        """Declare when the system is up: a structure expression, or a predicate.

        A structure expression (``hs.all_of``, ``hs.any_of``, ``hs.k_of_n``, ``&``,
        ``|``) is evaluated incrementally: each gate keeps a count of its inputs that
        are up, and a component's change updates only the gates above it. Its
        leaves may be components or component names (bound when the run starts).
        It also gives exact analysis (``structure.availability``, cut sets,
        importance) and lets state-only runs use the lean engine.

        A predicate (any callable returning bool) is evaluated at the start and
        after every state change of any node. Either way uptime and incidents are
        exact and need no traffic. A single component (or its name) means "up
        while it is", e.g. ``sim.up_when(pair)`` for a failover pair. Without
        either, the system is up while every node is up (a series system).

        ``reward`` (performability) is the rate of service while the system is up,
        a number in [0, 1]: ``hs.share_up(web)`` (the share of servers up, as the
        capacity they carry) or any callable of component states; it is 0 while the
        system is down. ``summary()["performability"]`` is its time-average over the
        window (NaN without a reward): "degraded but up" counted, not just up/down.

        Example:
            ``sim.up_when(hs.k_of_n(2, web))`` or
            ``sim.up_when(lambda: sum(s.up for s in web) >= 2)`` (2-of-3);
            ``sim.up_when(hs.k_of_n(2, web), reward=hs.share_up(web))``.
        """
        if isinstance(predicate, Component | str):  # one component: up while it is
            predicate = as_structure(predicate, "Simulation.up_when")
        if isinstance(predicate, Leaf):  # engines walk gates: a series of one
            predicate = Gate(1, (predicate,), "all")
        if not callable(predicate):
            raise config_error(
                "Simulation", "up_when predicate",
                "a structure expression or a callable returning bool", predicate,
            )  # fmt: skip
        if self._started:
            raise SimulationError("Simulation: up_when() must be called before run()")
        if reward is not None and not callable(reward):
            raise config_error(
                "Simulation", "up_when reward", "hs.share_up(...) or a callable returning a number",
                reward,
            )  # fmt: skip
        self.structure = predicate if isinstance(predicate, Structure) else None
        self._predicate = predicate
        self.reward = reward

    def _bind_structure(self) -> None:
        """Resolve the structure's (and reward's) leaf names to components; build its tracker."""
        if isinstance(self.reward, ShareUp):
            self.reward = self.reward.bind(self.__getitem__)
        structure = self.structure
        if structure is None:
            return
        unknown = [name for name in structure.names if name not in self.components]
        if unknown:
            known = ", ".join(repr(n) for n in self.components) or "none"
            raise config_error(
                "Simulation.up_when", "structure",
                f"an expression over this simulation's components (known: {known})",
                f"{structure!r} (unknown: {', '.join(unknown)})",
            )  # fmt: skip
        bound = structure.bind(self.components.__getitem__)
        leaves = bound.leaves()
        for leaf in leaves:
            if not hasattr(type(leaf.component), "up"):
                raise config_error(
                    "Simulation.up_when", f"structure leaf {leaf.name!r}",
                    "a component with an up state (a node, a server, a service)",
                    leaf.component,
                )  # fmt: skip
        self.structure = bound
        self._tracker = Tracker(bound)
        self._leaf_index = {name: i for i, name in enumerate(self._tracker.names)}
        # Leaves whose ``up`` is not a node's own state (a failover pair: its active
        # member is up; a group) derive it from others: they are re-read at every change.
        self._derived_leaves = [
            (i, leaf.component)
            for i, leaf in enumerate(leaves)
            if not getattr(leaf.component, "_up_is_state", False)
        ]
        self._predicate = None

    @property
    def next_failure_at(self) -> float:
        """The earliest scheduled random failure of any node (inf if none).

        Failure times are drawn in advance, so a run knows how long it will
        stay quiet; fast-forward builds on this.
        """
        return min((node.next_failure_at for node in self.nodes), default=math.inf)

    def system_up(self) -> bool:
        """Whether the system is up now, by the structure expression or predicate."""
        if self._tracker is not None:
            return self._tracker.up
        if self._predicate is None:
            return all(node.up for node in self.nodes)
        return bool(self._predicate())

    def _state_changed(self, cause: str | None = None, changed: Any = None) -> None:
        """Called after each state change (by ``changed``, if given): record system transitions.

        ``cause`` is whom an incident is blamed on (a node, or the zone that took
        it down); ``changed`` the component whose ``up`` may have changed.
        """
        tracker = self._tracker
        if tracker is not None:
            name = changed.name if changed is not None else cause
            i = self._leaf_index.get(name)
            if i is not None:
                tracker.set(i, bool(self.components[name].up))
            for i, component in self._derived_leaves:
                tracker.set(i, bool(component.up))
        up = self.system_up()
        if up is not self._system_up:
            self._system_up = up
            self.recorder.system(self.env.now, up, cause)
        if self.reward is not None:
            self._reward_changed(up)

    def _reward_changed(self, up: bool) -> None:
        value = float(self.reward()) if up else 0.0
        if not 0.0 <= value <= 1.0:
            raise SimulationError(f"Simulation: the reward must be in [0, 1], got {value!r}")
        if value != self.recorder.reward_value:
            self.recorder.reward(self.env.now, value)

    # -- detection --------------------------------------------------------

    def detected(self, observer: str, target: str, healthy: bool) -> None:
        """``observer`` (a health check, a failure detector) now believes ``target`` (un)healthy.

        The verdict is recorded (time to detect) and passed to whoever waits
        on verdicts about ``target`` (a repair that starts on detection).
        """
        self.recorder.detect(self.env.now, observer, target, healthy)
        for listener in self._verdict_listeners.get(target, ()):
            listener(observer, healthy)

    def on_verdict(self, target: str, listener: Callable[[str, bool], None]) -> None:
        """Call ``listener(observer, healthy)`` on every verdict about ``target``."""
        self._verdict_listeners.setdefault(target, []).append(listener)

    # -- the run --------------------------------------------------------

    def run(
        self,
        until: float | str,
        *,
        warmup: float | str = 0.0,
        fast_forward: Any = None,
        engine: str = "auto",
    ) -> RunResult:
        """Run the simulation to ``until`` and return what happened and what it means.

        Args:
            until: the horizon, in seconds or as a duration string (``"7d"``).
            warmup: requests issued before this time are not counted, and state
                intervals are clipped to ``[warmup, until]``.
            fast_forward: a ``hasim.FastForward`` to skip the quiet stretches
                between faults, accounting for their requests from measured
                steady states (``hasim.fastforward``); None runs every request.
            engine: ``"auto"`` (the lean state-only engine where it applies, else
                the general one), ``"events"`` (always the general SimPy engine),
                ``"lean"`` (the lean engine, refused with the reason where it does
                not apply; see ``hasim.lean``) or ``"vector"`` (independent
                renewal processes on numpy arrays; see ``hasim.vector``).

        Returns:
            a ``RunResult``.
        """
        from hasim.metrics.result import RunResult  # metrics analysis sits above the core

        until_s = _duration("until", until, "a finite duration > 0")
        warmup_s = _duration("warmup", warmup, "a duration >= 0")
        if until_s <= 0 or math.isinf(until_s):
            raise config_error("Simulation.run", "until", "a finite duration > 0", until)
        if warmup_s >= until_s:
            raise config_error(
                "Simulation.run", "warmup", f"smaller than until ({until_s:g} s)", warmup
            )
        if not (until_s - warmup_s) / SERIES_BUCKETS > 0:
            raise config_error(
                "Simulation.run", "until", "a window (until - warmup) of more than 1e-300 s", until
            )
        check_choice("Simulation.run", "engine", engine, ENGINES)
        if self._started:
            raise SimulationError("Simulation: run() was already called; build a new Simulation")
        skipper = None
        if fast_forward is not None:
            from hasim.fastforward import FastForward, Skipper, check_supported

            if not isinstance(fast_forward, FastForward):
                raise config_error(
                    "Simulation.run", "fast_forward", "None or a hasim.FastForward", fast_forward
                )
            if engine in ("lean", "vector"):
                raise config_error(
                    "Simulation.run", "engine", '"auto" or "events" with fast_forward', engine
                )
            check_supported(self)
            skipper = Skipper(self, fast_forward)
        self._bind_structure()
        lean_run = None
        if skipper is None and engine != "events":
            from hasim import lean  # the state-only engines sit above the components

            why = lean.check_lean(self)
            if engine == "vector":
                from hasim import vector

                vector.check(self, why)
                self._started = self._finished = True
                return vector.run(self, until_s, warmup_s)
            if why is None:
                lean_run = lean.run_lean
            elif engine == "lean":
                raise ConfigError(f"Simulation.run: the lean engine cannot run this: {why}")
        for component in list(self.components.values()):
            component._prepare()
        self._started = True
        self.recorder.open(warmup_s, until_s, [c.name for c in self.components.values()])
        for node in self.nodes:
            self.recorder.state(0.0, node.name, node.state)
        self._system_up = None
        if self._tracker is not None:
            self._tracker.reset([bool(leaf.component.up) for leaf in self.structure.leaves()])
        if lean_run is not None:
            self._state_changed()
            lean_run(self, until_s)
            self.env._now = until_s
            self.recorder.state_log = None  # component history is not kept (hasim.lean)
            self._finished = True
            return RunResult.from_simulation(self)
        for node in self.nodes:
            if node.name not in self._replayed:
                node._start_faults()
        self._state_changed()
        if skipper is None:
            self.env.run(until=until_s)
        else:
            skipper.run(until_s)
            self.skipped = skipper.skipped
        self._finished = True
        return RunResult.from_simulation(self)


def _duration(param: str, value: float | str, allowed: str) -> float:
    try:
        return units.parse(value)
    except ConfigError:
        raise config_error(
            "Simulation.run", param, f"{allowed} in seconds or as a string like '7d'", value
        ) from None


class Component:
    """Anything with a unique name that lives in a Simulation.

    Subclasses validate their arguments *before* calling ``super().__init__``
    so that a rejected component leaves nothing registered.
    """

    def __init__(self, sim: Simulation, name: str) -> None:
        cls = type(self).__name__
        if not isinstance(sim, Simulation):
            raise config_error(f"{cls} {name!r}", "sim", "a hasim.Simulation", sim)
        if not isinstance(name, str) or not name or name == SYSTEM:
            raise config_error(
                cls, "name", f"a non-empty string other than {SYSTEM!r} (reserved)", name
            )
        self.sim = sim
        self.env = sim.env
        self.name = name
        sim._register(self)

    def _prepare(self) -> None:
        """Hook called by ``run()`` before the clock starts (e.g. to fetch network paths)."""

    # Components compose into structure expressions: ``lb & web0``, ``web0 | web1``.
    def __and__(self, other: Any) -> Structure:
        return all_of(self, other)

    def __rand__(self, other: Any) -> Structure:
        return all_of(other, self)

    def __or__(self, other: Any) -> Structure:
        return any_of(self, other)

    def __ror__(self, other: Any) -> Structure:
        return any_of(other, self)

    @property
    def label(self) -> str:
        """``"Server 'web1'"``: how messages name this component."""
        return f"{type(self).__name__} {self.name!r}"

    def __repr__(self) -> str:
        return f"<{self.label}>"
