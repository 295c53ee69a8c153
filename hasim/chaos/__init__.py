"""Fault injection: chaos schedules, and the replay of a run's fault history.

A chaos schedule is a list of *actions*, small frozen value objects that say
what fails, when and for how long::

    hs.Chaos(sim, [
        hs.Crash("web1", at="10m", duration="60s"),
        hs.Slow("db", 10, at="1h", duration="5m"),
        hs.Partition(["web1", "web2"], ["db"], at="2h", duration="30s"),
    ])

Every action has ``at`` (seconds or a duration string, >= 0) and
``duration`` (> 0; None: until the run ends). Make the Chaos after the
design: the names it uses are checked against the simulation's components
when it is made and again before the run starts, and a schedule that fails a
check schedules nothing.

**Causes.** Action ``i`` of the Chaos named ``chaos`` holds its fault under
the cause ``"chaos[i]"``, which no random fault model uses: faults compose.
A chaos crash during a random failure keeps the node down until both ended;
a slowdown during an error burst makes the node slow *and* erroring.

The package, one concept a module:

- ``actions``: the ``Action`` base, the rule that rejects two actions of one
  schedule claiming the same thing on one target at once (*overlaps*), and
  the faults of a node: ``Crash``, ``ZoneOutage``, ``Slow``, ``Errors``,
  ``Stall``, ``Flap``.
- ``network_actions``: ``Partition`` and ``Impair``.
- ``schedule``: ``Chaos``, the component that checks and applies actions.
- ``history``: ``FaultHistory``, a run's faults as actions to *replay* in
  another simulation (``RunResult.fault_history()``).
- ``toml``: one ``[[fault]]`` table per action (``Chaos.from_toml``,
  ``to_toml``, ``actions_to_toml``); errors name the file and line
  (``ScheduleError``).
"""

from __future__ import annotations

from hasim.chaos.actions import Action, Crash, Errors, Flap, Slow, Stall, ZoneOutage
from hasim.chaos.history import FaultHistory
from hasim.chaos.history import _span as _span  # tests check exact replay spans
from hasim.chaos.network_actions import Impair, Partition
from hasim.chaos.schedule import Chaos
from hasim.chaos.toml import ACTIONS, ScheduleError, actions_to_toml

__all__ = [
    "Action",
    "Crash",
    "Slow",
    "Errors",
    "Stall",
    "Flap",
    "Partition",
    "Impair",
    "ZoneOutage",
    "ACTIONS",
    "Chaos",
    "FaultHistory",
    "ScheduleError",
    "actions_to_toml",
]
