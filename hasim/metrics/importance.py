"""Importance measured from a run: which components' downtime made the system's.

The theory (``hasim.analytic.structure.importance``) computes, for independent
components, the chance that a component is critical, down and critical given the system
is down (criticality), or part of a failed minimal cut set given the system is down
(Fussell-Vesely). A run measures the same things as shares of the system's downtime,
from every component's state history and the structure expression:

* ``downtime_share``: the share of the window the component was down;
* ``criticality``: the share of system downtime during which the component was down
  and *critical*: with it alone brought up, the system would have been up;
* ``fussell_vesely``: the share of system downtime during which some minimal cut set
  containing the component had every member down;
* ``caused``: the share of system downtime in incidents the component *caused* (its
  change took the system down: ``RunResult.downtime_by_cause``), the attribution the
  incident table already carries.

Over a long run of independent components the first three converge to the theory's
``1 - A_i``, ``I_CR`` and ``I_FV`` (``tests/validation/test_structure.py``); ``caused``
has no closed form in general but ranks the same culprits. The measures hold for any
model, dependent failures (shared crews, zones) included, where the theory does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hasim.errors import SimulationError, config_error
from hasim.node import DOWN
from hasim.structure import Structure, all_of, any_of, as_structure

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["simulated_importance", "up_columns"]


def up_columns(
    state_log: list[tuple[float, str, str]], names: tuple[str, ...], start: float, end: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Piecewise-constant up states of ``names`` over ``[start, end]``.

    Returns:
        ``(durations, columns)``: the length of each stretch between two changes of any
        of the components, and for each name a boolean array, up in that stretch.
    """
    wanted = set(names)
    events = [(t, n, s != DOWN) for t, n, s in state_log if n in wanted]
    seen = {n for _, n, _ in events}
    missing = [n for n in names if n not in seen]
    if missing:
        raise config_error(
            "simulated_importance", "structure", "components whose states the run recorded",
            missing,
        )  # fmt: skip
    times = np.unique(np.clip([t for t, _, _ in events] + [start, end], start, end))
    edges = times[(times >= start) & (times <= end)]
    durations = np.diff(edges)
    lefts = edges[:-1]
    columns = {}
    for name in names:
        mine = [(t, up) for t, n, up in events if n == name]
        t = np.array([x for x, _ in mine])
        up = np.array([u for _, u in mine], dtype=bool)
        # The state in force at each stretch's left edge: the last change at or before it.
        idx = np.searchsorted(t, lefts, side="right") - 1
        columns[name] = np.where(idx >= 0, up[np.maximum(idx, 0)], True)
    return durations, columns


def simulated_importance(result: Any, structure: Any) -> pd.DataFrame:
    """Importance of every component of ``structure``, measured over ``result``'s window.

    Args:
        result: a ``RunResult`` that kept every component's history (the event engine,
            or ``Simulation(record="requests")``; the lean engine keeps none).
        structure: the structure expression the system's up state follows (by default
            the one the run was declared with, ``sim.up_when``).

    Returns:
        a DataFrame indexed by component: ``downtime_share``, ``criticality``,
        ``fussell_vesely``, ``caused`` (see the module docstring), sorted by
        criticality, largest first. With no system downtime the last three are NaN.
    """
    import pandas as pd

    from hasim.analytic.structure import minimal_cut_sets

    if result.state_log is None:
        raise SimulationError(
            "simulated_importance() needs every component's history, which the lean "
            'state-only engine does not keep: run with Simulation(record="requests") '
            'or run(engine="events")'
        )
    s: Structure = as_structure(structure, "simulated_importance")
    names = s.names
    start, end = result.warmup, result.until
    durations, columns = up_columns(result.state_log, names, start, end)
    window = durations.sum()
    system_down = ~s.evaluate_array(columns)
    down_time = durations[system_down].sum()
    cuts = minimal_cut_sets(s)
    caused = {}
    if down_time > 0:
        by_cause = result.downtime_by_cause()
        caused = dict(zip(by_cause["cause"], by_cause["downtime"], strict=True))
    rows = []
    for name in names:
        down_i = ~columns[name]
        row = {"component": name, "downtime_share": durations[down_i].sum() / window}
        if down_time > 0:
            lifted = s.evaluate_array({**columns, name: np.ones_like(down_i)})
            critical = system_down & down_i & lifted
            mine = [c for c in cuts if name in c]
            failed_cut = ~all_of(*[any_of(*sorted(c)) for c in mine]).evaluate_array(columns)
            row["criticality"] = durations[critical].sum() / down_time
            row["fussell_vesely"] = durations[system_down & failed_cut].sum() / down_time
            row["caused"] = caused.get(name, 0.0) / down_time
        else:
            row.update(criticality=np.nan, fussell_vesely=np.nan, caused=np.nan)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("component")
    return table.sort_values("criticality", ascending=False, kind="stable")
