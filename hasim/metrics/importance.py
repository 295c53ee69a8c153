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
  incident table already carries. A failure derived from a domain (a zone) is blamed
  on the domain, so these shares can sum to less than 1.

Each is a time average over the piecewise-constant states between changes, evaluated
with ``Structure.evaluate_array`` on all the stretches at once. Over a long run of
independent components the first three converge to the theory's ``1 - A_i``,
``I_CR`` and ``I_FV`` (``tests/validation/test_structure.py`` checks it). ``caused``
has no closed form in general: it depends on the order of failures, not only on
states (in a parallel pair, the *second* failure causes the incident, though both
components are equally critical). The measures are defined for any model, dependent
failures (shared crews, zones) included, where the theory's are not.
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

    The window is cut at every change of any of the components; in each stretch every
    component is in one state (up unless ``"down"``: a degraded node is up, as in the
    simulation's structure).

    Args:
        state_log: ``(time, component, state)`` transitions from time 0
            (``RunResult.state_log``; every node is logged at 0).
        names: the components wanted.
        start: the window's start (the warm-up).
        end: the window's end (``until``).

    Returns:
        ``(durations, columns)``: the length of each stretch, and for each name a
        boolean array, True where the component was up in that stretch.

    Raises:
        ConfigError: if a name has no recorded state (not a node of the run).
    """
    wanted = set(names)
    rows = [(t, n, s != DOWN) for t, n, s in state_log if n in wanted]
    by_name: dict[str, list[tuple[float, bool]]] = {n: [] for n in names}
    for t, n, up in rows:
        by_name[n].append((t, up))
    missing = [n for n in names if not by_name[n]]
    if missing:
        raise config_error(
            "simulated_importance", "structure",
            "a structure over nodes whose states the run recorded (failover pairs, balancers "
            f"and other composites are not logged; use their members) - no states for {missing}",
            names,
        )  # fmt: skip
    times = np.array([t for t, _, _ in rows], dtype=float)
    edges = np.unique(np.concatenate([times[(times > start) & (times < end)], [start, end]]))
    durations = np.diff(edges)
    lefts = edges[:-1]
    columns = {}
    for name in names:
        t = np.array([x for x, _ in by_name[name]], dtype=float)
        up = np.array([u for _, u in by_name[name]], dtype=bool)
        # The state in force over a stretch is the last change at or before its left edge
        # (several at one instant: the last one logged). Before its first entry: up.
        idx = np.searchsorted(t, lefts, side="right") - 1
        columns[name] = np.where(idx >= 0, up[np.maximum(idx, 0)], True)
    return durations, columns


def simulated_importance(result: Any, structure: Any = None) -> pd.DataFrame:
    """Importance of every component of ``structure``, measured over ``result``'s window.

    Args:
        result: a ``RunResult`` that kept every component's history: the event engine
            (``run(engine="events")``, or ``Simulation(record="requests")``, which always
            runs it); the lean engine that ``engine="auto"`` picks for a state-only
            design with ``record="aggregate"`` keeps none.
        structure: the structure expression to judge the states by (default: the one
            the run declared with ``sim.up_when``, if ``result`` carries it). It should
            be the run's own, or ``caused`` (which comes from the run's incidents) will
            not match the other columns.

    Returns:
        a DataFrame indexed by component (the structure's order), columns
        ``downtime_share``, ``criticality``, ``fussell_vesely`` and ``caused`` (see the
        module docstring), sorted by criticality, largest first (ties keep the
        structure's order). With no system downtime in the window the last three are NaN.

    Raises:
        SimulationError: if the run kept no component history.
        ConfigError: if there is no structure, or it names components the run did not log.
    """
    import pandas as pd

    from hasim.analytic.structure import minimal_cut_sets

    if structure is None:
        structure = getattr(result, "structure", None)
        if structure is None:
            raise config_error(
                "simulated_importance", "structure",
                "a structure expression (the run's up_when was a lambda or the default)", None,
            )  # fmt: skip
    s: Structure = as_structure(structure, "simulated_importance")
    if result.state_log is None:
        raise SimulationError(
            "simulated_importance() needs every component's history, which the lean "
            'state-only engine does not keep: run with Simulation(record="requests") '
            'or run(engine="events")'
        )
    names = s.names
    durations, columns = up_columns(result.state_log, names, result.warmup, result.until)
    window = durations.sum()
    system_down = ~s.evaluate_array(columns)
    down_time = durations[system_down].sum()
    cuts = minimal_cut_sets(s)
    caused: dict[Any, float] = {}
    if down_time > 0:
        by_cause = result.downtime_by_cause()
        caused = dict(zip(by_cause["cause"], by_cause["share"], strict=True))
    rows = []
    for name in names:
        down_i = ~columns[name]
        row = {"component": name, "downtime_share": durations[down_i].sum() / window}
        if down_time > 0:
            # Critical: the system is down now and would be up with this component alone up.
            lifted = s.evaluate_array({**columns, name: np.ones_like(down_i)})
            critical = system_down & down_i & lifted
            # Some minimal cut set containing it has every member down (it implies down).
            # A component in no minimal cut set (b in a | (a & b)) never contributes.
            mine = [any_of(*sorted(c)) for c in cuts if name in c]
            fv = 0.0
            if mine:
                failed_cut = ~all_of(*mine).evaluate_array(columns)
                fv = durations[failed_cut].sum() / down_time
            row["criticality"] = durations[critical].sum() / down_time
            row["fussell_vesely"] = fv
            row["caused"] = float(caused.get(name, 0.0))
        else:
            row.update(criticality=np.nan, fussell_vesely=np.nan, caused=np.nan)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("component")
    return table.sort_values("criticality", ascending=False, kind="stable")
