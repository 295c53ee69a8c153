"""Chaos: the component that applies a chaos schedule, or replays a fault history.

``hs.Chaos(sim, actions)`` takes a list of actions (``hasim.chaos.actions``,
``hasim.chaos.network_actions``) or a ``FaultHistory``. Make it after the
design: the names it uses are checked against the simulation's components
when it is made and again before the run starts, as are the kinds of those
components and (for a schedule, not a history) overlaps; a schedule that fails
a check schedules nothing. Action ``i`` of the Chaos named ``chaos`` holds its
fault under the cause ``"chaos[i]"``; every start and end is scheduled at its
exact time before the clock starts.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hasim import network
from hasim.chaos.actions import Action, _check_actions, _first_overlap
from hasim.chaos.history import FaultHistory
from hasim.chaos.network_actions import Impair, Partition
from hasim.chaos.toml import ScheduleError, _read_toml, _Schedule, _write, actions_to_toml
from hasim.errors import ConfigError, check_choice, config_error
from hasim.sim import Component, Simulation

__all__ = ["Chaos"]


class Chaos(Component):
    """Apply faults at given times: a chaos schedule, or a replayed fault history.

    Args:
        sim: the Simulation, with its design already built.
        actions: a list of actions (``Crash``, ``Slow``, ...) or a ``FaultHistory``.
        name: unique name; action ``i`` holds its fault under the cause ``f"{name}[{i}]"``.
        missing: what to do with an action on a component the simulation does
            not have: ``"error"`` (the default for a schedule) or ``"skip"``
            (the default for a history; a partition drops the absent names from
            its sides, and is skipped only if a side is left empty).

    A schedule is checked when the Chaos is made and again before the run
    starts (names, kinds of components, overlaps); nothing is scheduled until
    every check passed. ``skipped`` and ``absent`` say what a replay left out.
    """

    def __init__(
        self,
        sim: Simulation,
        actions: Sequence[Action] | FaultHistory,
        name: str = "chaos",
        *,
        missing: str | None = None,
    ) -> None:
        label = f"Chaos {name!r}"
        if not isinstance(sim, Simulation):
            raise config_error(label, "sim", "a hasim.Simulation", sim)
        schedule = _as_schedule(label, actions)
        history = schedule.replaces is not None
        if missing is None:
            missing = "skip" if history else "error"
        self.missing = check_choice(label, "missing", missing, ("skip", "error"))
        #: The actions as given (a history's, for a replay).
        self.actions = schedule.actions
        #: For a replay, the components whose random faults the history stands for.
        self.replaces = schedule.replaces
        self._source, self._lines, self._label = schedule.source, schedule.lines, label
        if not history:
            self._check_overlaps()
        #: Actions left out because the components they name are absent.
        self.skipped: tuple[Action, ...] = ()
        #: Names the actions use that the simulation does not have (skipped or dropped).
        self.absent: tuple[str, ...] = ()
        self._resolve(sim)
        super().__init__(sim, name)
        sim._replayed.update(self.replaces or ())
        self._handles: dict[int, Any] = {}

    @classmethod
    def from_toml(
        cls,
        sim: Simulation,
        path_or_text: str | Path,
        *,
        name: str = "chaos",
        missing: str | None = None,
        source: str | None = None,
    ) -> Chaos:
        """A Chaos from a TOML schedule or fault history (a file, or TOML text with newlines).

        Errors name the file and the line of the ``[[fault]]`` table at fault
        (``ScheduleError``); ``source`` names text in those messages.
        """
        return cls(sim, _read_toml(path_or_text, source), name, missing=missing)

    def to_toml(self, path: str | Path | None = None) -> str:
        """The schedule (or history) as TOML text, also written to ``path`` if given."""
        if self.replaces is not None:
            return FaultHistory(self.actions, self.replaces).to_toml(path)
        return _write(actions_to_toml(self.actions), path)

    # -- checks -----------------------------------------------------------------------------------

    def _where(self, index: int) -> str:
        line = self._lines[index] if self._lines else None
        return f"line {line}" if line else f"actions[{index}]"

    def _error(self, index: int, reason: str) -> ConfigError:
        line = self._lines[index] if self._lines else None
        if self._source is not None:
            where = "" if line else f"fault #{index + 1}: "
            return ScheduleError(self._source, line, where + reason)
        return ConfigError(f"{self._label}: actions[{index}] {self.actions[index]!r}: {reason}")

    def _check_overlaps(self) -> None:
        clash = _first_overlap(self.actions)
        if clash is not None:
            index, other = clash
            raise self._error(
                index,
                f"{self.actions[index]._describe()} overlaps {self.actions[other]._describe()} "
                f"({self._where(other)}); faults of one kind on one target must not overlap",
            )

    def _resolve(self, sim: Simulation) -> list[tuple[int, Action]]:
        """Check every action against the simulation; the actions to apply, by index."""
        plan, skipped, absent = [], [], set()
        for index, action in enumerate(self.actions):
            unknown = [n for n in action.names if n not in sim.components]
            if unknown and self.missing == "error":
                raise self._error(index, _unknown(unknown[0], sim))
            absent.update(unknown)
            if unknown:
                action = action._without(set(unknown))
                if action is None:
                    skipped.append(self.actions[index])
                    continue
            for name in action.names:
                reason = action._fits(sim.components[name])
                if reason is not None:
                    raise self._error(index, reason)
            plan.append((index, action))
        self.skipped, self.absent = tuple(skipped), tuple(sorted(absent))
        return plan

    # -- the run ----------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Check again (the design may have grown), then schedule every start and end."""
        sim = self.sim
        plan = self._resolve(sim)
        if any(isinstance(a, (Partition, Impair)) for _, a in plan):
            net = network.get(sim)  # before the clock starts: a network cannot be made later
            if any(isinstance(a, Partition) for _, a in plan):
                net.guard()  # messages already on their way when a partition begins are dropped
        events = []
        for index, action in plan:
            events.append((action.at, 0, index, action))
            if action.duration is not None:
                events.append((action.end, 1, index, action))
        # Starts before ends at one instant: back-to-back faults leave no gap. Times are
        # absolute and the clock is at 0, so each fires at exactly its time (replays are exact).
        events.sort(key=lambda e: e[:3])
        for time, ends, index, action in events:
            sim.call_later(time - sim.now, self._stop if ends else self._start, (index, action))

    def _start(self, item: tuple[int, Action]) -> None:
        index, action = item
        self._handles[index] = action._start(self.sim, f"{self.name}[{index}]")

    def _stop(self, item: tuple[int, Action]) -> None:
        index, action = item
        action._stop(self.sim, f"{self.name}[{index}]", self._handles.pop(index))


def _as_schedule(label: str, actions: Any) -> _Schedule:
    if isinstance(actions, _Schedule):
        return actions
    if isinstance(actions, FaultHistory):
        return _Schedule(actions.actions, replaces=actions.replaces)
    return _Schedule(_check_actions(label, actions))


def _unknown(name: str, sim: Simulation) -> str:
    known = list(sim.components)
    close = difflib.get_close_matches(name, known, n=2)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    shown = ", ".join(map(repr, known[:8])) + (f", ... ({len(known)} in all)" if known[8:] else "")
    return f"no component named {name!r}{hint} (known: {shown or 'none'})"
