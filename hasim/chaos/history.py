"""Replay: a run's faults as chaos actions (``FaultHistory``), to apply to another run.

``RunResult.fault_history()`` turns the faults a run recorded into actions (a
``FaultHistory``); ``hs.Chaos(sim, history)`` applies them to another
simulation, where components of the same name fail at the same times, and the
random fault models of the components the history stands for are switched off.
Faults derived from another (the members of a zone that went down) are left to
the fault they derive from. The replay holds each fault under a cause of its
own (``"chaos[i]"``), whatever the original's was (``"failure"``,
``"slowdown"``, another schedule's), so replayed faults never merge with each
other or with the new design's random ones. A history is written to and read
from TOML (``hasim.chaos.toml``) with a ``[replay]`` table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hasim.chaos.actions import Action, _check_actions
from hasim.chaos.network_actions import Impair, Partition
from hasim.chaos.toml import ACTIONS, _read_toml, _toml, _write, actions_to_toml
from hasim.errors import ConfigError, config_error
from hasim.sim import Simulation

if TYPE_CHECKING:
    from hasim.chaos.schedule import Chaos

__all__ = ["FaultHistory"]


@dataclass(frozen=True, repr=False)
class FaultHistory:
    """The faults of a run as chaos actions, to replay in another simulation.

    Args:
        actions: one action per fault, in the order they began (derived faults
            left out); a fault still holding when the run ended has no duration.
        replaces: the components whose random faults the history stands for
            (those that had random fault models in the run): a replay switches
            their random fault models off, so what they do is what the history says.

    Example:
        >>> history = result.fault_history()
        >>> history.to_toml("faults.toml")
        >>> hs.Chaos(other_sim, hs.FaultHistory.from_toml("faults.toml"))
    """

    actions: tuple[Action, ...]
    replaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_actions("FaultHistory", list(self.actions))
        if isinstance(self.replaces, str) or not all(
            isinstance(n, str) and n for n in self.replaces
        ):
            raise config_error("FaultHistory", "replaces", "a list of names", self.replaces)
        object.__setattr__(self, "actions", tuple(self.actions))
        object.__setattr__(self, "replaces", tuple(sorted(set(self.replaces))))

    @classmethod
    def from_faults(cls, rows: Sequence[Sequence[Any]], replaces: Sequence[str]) -> FaultHistory:
        """From fault records ``[kind, target, start, end, cause, value, derived]`` (a Recorder's).

        Derived faults are left out (the fault they derive from replays them),
        and so are faults that lasted no time at all.
        """
        actions = []
        for kind, target, start, end, _cause, value, derived in rows:
            if derived or end == start:
                continue
            span = {"at": start, "duration": None if end is None else _span(start, end)}
            if kind in ("crash", "stall"):
                actions.append(ACTIONS[kind](target, **span))
            elif kind in ("slow", "errors"):
                actions.append(ACTIONS[kind](target, value, **span))
            elif kind == "partition":
                side_a, side_b = value["sides"]
                actions.append(Partition(side_a, side_b, oneway=value["oneway"], **span))
            elif kind == "link":
                symmetric = "<->" in target
                src, dst = target.split("<->" if symmetric else "->")
                actions.append(
                    Impair(src, dst, loss=value["loss"], latency=value["latency"],
                           symmetric=symmetric, **span)
                )  # fmt: skip
            else:
                raise ConfigError(f"FaultHistory: no chaos action replays a {kind!r} fault")
        return cls(tuple(actions), tuple(replaces))

    @classmethod
    def from_toml(cls, path_or_text: str | Path, *, source: str | None = None) -> FaultHistory:
        """Read a history (or a plain schedule: it replaces nothing) written by ``to_toml``."""
        schedule = _read_toml(path_or_text, source)
        return cls(schedule.actions, schedule.replaces or ())

    def to_toml(self, path: str | Path | None = None) -> str:
        """The history as TOML text (see ``hasim.chaos.toml``), also written to ``path``."""
        names = ", ".join(_toml(n) for n in self.replaces)
        text = (
            f"# hasim fault history: {len(self.actions)} fault(s). Replay it with\n"
            "# hasim run MODEL --chaos FILE, or hs.Chaos(sim, hs.FaultHistory.from_toml(FILE)).\n"
            "\n[replay]\n# The components whose random faults this history stands for.\n"
            f"replaces = [{names}]\n"
        )
        return _write(text + "\n" + actions_to_toml(self.actions), path)

    def apply(self, sim: Simulation, *, name: str = "replay", missing: str = "skip") -> Chaos:
        """Replay the history in ``sim`` (built already): ``hs.Chaos(sim, self, name, ...)``."""
        from hasim.chaos.schedule import Chaos  # that module imports this one

        return Chaos(sim, self, name, missing=missing)

    def __len__(self) -> int:
        return len(self.actions)

    def __repr__(self) -> str:
        targets = {n for a in self.actions for n in a.names}
        return (
            f"<FaultHistory: {len(self.actions)} faults on {len(targets)} components, "
            f"replaces the random faults of {len(self.replaces)}>"
        )


def _span(start: float, end: float) -> float:
    """The duration ``d`` with ``start + d == end`` exactly (so a replay ends on time)."""
    d = end - start
    while start + d < end:
        d = math.nextafter(d, math.inf)
    while start + d > end:
        d = math.nextafter(d, -math.inf)
    return d
