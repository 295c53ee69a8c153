"""Exact analysis of a structure expression with independent components.

A structure expression (``hs.all_of``, ``hs.any_of``, ``hs.k_of_n``; ``hasim.structure``)
is a reliability block diagram, or, read the other way, a fault tree of k-of-n gates.
When its components fail and are repaired independently, the system's availability is a
function of theirs alone, and this module computes it exactly:

* ``availability(structure, components)``: bottom-up, each gate from its inputs'
  probabilities (a k-of-n gate over unequal inputs by the Poisson-binomial recursion).
  A component that appears in several branches makes those branches dependent; it is
  handled by Shannon's decomposition (the pivotal decomposition), ``A = p_i A(i up) +
  (1 - p_i) A(i down)``, recursively over the repeated components: at most ``2^r``
  bottom-up passes for ``r`` repeated components (each pass linear in the size of the
  expression), fast up to about 20 and refused beyond ``MAX_REPEATED`` = 20.
* ``transient(structure, components, times)``: the point availability A(t) of the
  system from a cold start, each component ``(mttf, mttr)`` exponential:
  ``A_i(t) = mu/(lam+mu) + lam/(lam+mu) exp(-(lam+mu) t)``, combined the same way
  (components independent: the system's A(t) is the structure function of theirs).
* ``minimal_cut_sets`` and ``minimal_path_sets``: the smallest sets of components
  whose failure takes the system down (whose working keeps it up), by top-down
  expansion of the gates with absorption (MOCUS, Fussell and Vesely 1972).
* ``importance(structure, components)``: Birnbaum, criticality and Fussell-Vesely
  importance of every component, as defined in Rausand and Hoyland, *System
  Reliability Theory* (2nd ed., Wiley 2004), ch. 5:

  - Birnbaum ``I_B(i) = A(i up) - A(i down)``: the chance that ``i`` is critical
    (the system is up with it and down without it), dA/dA_i;
  - criticality ``I_CR(i) = I_B(i) (1 - A_i) / (1 - A)``: the chance that ``i`` is
    down and critical, given the system is down: the share of system downtime that
    repairing ``i`` alone would end;
  - Fussell-Vesely ``I_FV(i) = P(some minimal cut set containing i is all down) /
    (1 - A)``: the chance that ``i`` contributes to a failure, given the system is
    down; computed exactly (the union of those cut sets is itself a structure, solved
    with the decomposition above), not by the rare-event sum of cut products.

``components`` gives each leaf's availability: ``{name: A}``, or ``{name: (mttf,
mttr)}`` (steady state ``mttf / (mttf + mttr)``), or one value for all leaves.
``hasim.metrics.importance.simulated_importance`` measures the same quantities from a run;
``tests/validation/test_structure.py`` compares the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from hasim.errors import check_nonnegative, check_positive, check_probability, config_error
from hasim.structure import Gate, Leaf, Structure, all_of, any_of, as_structure

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "availability",
    "transient",
    "minimal_cut_sets",
    "minimal_path_sets",
    "importance",
    "component_availabilities",
]

OWNER = "structure analysis"
#: Repeated components beyond which the 2^r decomposition is refused (2^20 passes).
MAX_REPEATED = 20


def _structure(structure: Any) -> Structure:
    return as_structure(structure, OWNER)


def component_availabilities(structure: Any, components: Any) -> dict[str, float]:
    """Each leaf's availability from ``components`` (see the module docstring)."""
    names = _structure(structure).names
    if not isinstance(components, Mapping):
        value = _one(components, "components")
        return dict.fromkeys(names, value)
    _check_names(names, components)
    return {n: _one(components[n], f"components[{n!r}]") for n in names}


def _check_names(names: tuple[str, ...], components: Mapping[str, Any]) -> None:
    """Refuse a mapping that misses a leaf, or names a component the structure lacks."""
    missing = [n for n in names if n not in components]
    if missing:
        raise config_error(
            OWNER, "components",
            f"a value for every component of the structure {list(names)} (missing {missing})",
            sorted(components),
        )  # fmt: skip
    unknown = [n for n in components if n not in names]
    if unknown:
        raise config_error(
            OWNER, "components",
            f"values for the structure's components {list(names)} only (unknown {unknown})",
            sorted(components),
        )  # fmt: skip


def _one(value: Any, param: str) -> float:
    if isinstance(value, tuple):
        if len(value) != 2:
            raise config_error(OWNER, param, "an availability or a pair (mttf, mttr)", value)
        mttf = check_positive(OWNER, f"{param} mttf", value[0])
        mttr = check_nonnegative(OWNER, f"{param} mttr", value[1])
        return mttf / (mttf + mttr)
    return check_probability(OWNER, param, value)


def _rates(structure: Structure, components: Any) -> dict[str, tuple[float, float]]:
    """``{name: (lam, mu)}`` for ``transient``: every component as ``(mttf, mttr)``."""
    names = structure.names
    if not isinstance(components, Mapping):
        components = dict.fromkeys(names, components)
    _check_names(names, components)
    out = {}
    for n in names:
        value = components.get(n)
        if not (isinstance(value, tuple) and len(value) == 2):
            raise config_error(
                OWNER, f"components[{n!r}]", "a pair (mttf, mttr) for the transient", value
            )
        mttf = check_positive(OWNER, f"components[{n!r}] mttf", value[0])
        mttr = check_positive(OWNER, f"components[{n!r}] mttr", value[1])
        out[n] = (1.0 / mttf, 1.0 / mttr)
    return out


# -- evaluation -------------------------------------------------------------------------------


def _at_least(k: int, probs: list[Any]) -> Any:
    """P(at least ``k`` of independent events with probabilities ``probs``): Poisson-binomial."""
    n = len(probs)
    if k == n:
        out = 1.0
        for p in probs:
            out = out * p
        return out
    if k == 1:
        none = 1.0
        for p in probs:
            none = none * (1.0 - p)
        return 1.0 - none
    # dist[j] = P(exactly j up among the inputs seen so far), capped at k ("k or more").
    dist = [1.0] + [0.0] * k
    for p in probs:
        q = 1.0 - p
        new = [dist[0] * q]
        for j in range(1, k):
            new.append(dist[j] * q + dist[j - 1] * p)
        new.append(dist[k] + dist[k - 1] * p)
        dist = new
    return dist[k]


def _evaluate(node: Structure, p: Mapping[str, Any]) -> Any:
    """The probability that ``node`` is up, its leaves independent with probabilities ``p``."""
    if isinstance(node, Leaf):
        return p[node.name]
    assert isinstance(node, Gate)
    return _at_least(node.k, [_evaluate(c, p) for c in node.children])


def _repeated(node: Structure) -> list[str]:
    """The components that appear more than once under ``node``, most frequent first."""
    counts: dict[str, int] = {}
    for leaf in node._walk_leaves():
        counts[leaf.name] = counts.get(leaf.name, 0) + 1
    return sorted((n for n, c in counts.items() if c > 1), key=lambda n: -counts[n])


def _fix(node: Structure, name: str, up: bool) -> Structure | bool:
    """``node`` with component ``name`` fixed up or down, constants folded away.

    A gate's constant inputs are removed: each one up lowers ``k`` by one; the gate is
    True once ``k <= 0`` and False once fewer than ``k`` inputs are left.
    """
    if isinstance(node, Leaf):
        return up if node.name == name else node
    assert isinstance(node, Gate)
    k, rest = node.k, []
    for child in node.children:
        fixed = _fix(child, name, up)
        if fixed is True:
            k -= 1
        elif fixed is not False:
            rest.append(fixed)
    if k <= 0:
        return True
    if k > len(rest):
        return False
    if len(rest) == 1:
        return rest[0]
    return Gate(k, tuple(rest), "k_of_n")


def _exact(node: Structure | bool, p: Mapping[str, Any]) -> Any:
    """Exact P(up) of ``node``, pivoting on repeated components (Shannon decomposition).

    ``A = p_i A(i up) + (1 - p_i) A(i down)`` on the most repeated component ``i``,
    recursively, each branch simplified (``_fix``) so that a component repeated only
    under the branch it fixed stops being repeated. At most ``2^r`` bottom-up passes
    for ``r`` repeated components, often far fewer; without any, one pass.
    """
    if isinstance(node, bool):
        return float(node)
    repeated = _repeated(node)
    if not repeated:
        return _evaluate(node, p)
    name = repeated[0]
    up = _exact(_fix(node, name, True), p)
    down = _exact(_fix(node, name, False), p)
    return p[name] * up + (1.0 - p[name]) * down


def _solve(node: Structure, p: Mapping[str, Any]) -> Any:
    """``_exact``, refusing structures with more than ``MAX_REPEATED`` repeated components."""
    repeated = _repeated(node)
    if len(repeated) > MAX_REPEATED:
        raise config_error(
            OWNER, "structure",
            f"at most {MAX_REPEATED} components that appear more than once (the exact "
            f"decomposition costs up to 2^r passes)", f"{len(repeated)}: {repeated}",
        )  # fmt: skip
    return _exact(node, p)


def availability(structure: Any, components: Any) -> float:
    """The system's exact availability with independent components.

    Args:
        structure: a structure expression (or one component / name).
        components: ``{name: availability or (mttf, mttr)}`` for exactly the structure's
            components, or one value for all.

    Returns:
        P(the structure is up), in [0, 1].

    Raises:
        ConfigError: for a missing or unknown component name, an availability outside
            [0, 1], an mttf <= 0 or mttr < 0, or more than ``MAX_REPEATED`` components
            that appear in several branches.

    Example:
        ``availability(hs.any_of("lb1", "lb2") & "db", 0.99)`` is
        ``(1 - 0.01**2) * 0.99``.
    """
    s = _structure(structure)
    return float(_solve(s, component_availabilities(s, components)))


def transient(structure: Any, components: Any, times: Any) -> np.ndarray:
    """The system's point availability A(t) from a cold start (every component up at 0).

    Args:
        structure: a structure expression.
        components: ``{name: (mttf, mttr)}`` (or one pair for all): exponential times
            to failure and to repair, independent components.
        times: the instants (an array, in the units of mttf and mttr).

    Returns:
        A(t) at each of ``times`` (an array of their shape); it tends to
        ``availability(structure, components)`` as t grows.
    """
    s = _structure(structure)
    t = np.asarray(times, dtype=float)
    if t.size and (not np.all(np.isfinite(t)) or t.min() < 0):
        raise config_error(OWNER, "times", "finite instants >= 0", times)
    p = {}
    for name, (lam, mu) in _rates(s, components).items():
        p[name] = mu / (lam + mu) + lam / (lam + mu) * np.exp(-(lam + mu) * t)
    return np.asarray(_solve(s, p), dtype=float) * np.ones_like(t)


# -- cut and path sets ----------------------------------------------------------------------------


def _minimize(sets: list[frozenset[str]]) -> list[frozenset[str]]:
    """Drop every set that contains another (absorption), and duplicates."""
    out: list[frozenset[str]] = []
    for s in sorted(set(sets), key=len):
        if not any(o <= s for o in out):
            out.append(s)
    return out


def _product(groups: list[list[frozenset[str]]]) -> list[frozenset[str]]:
    """Every union of one set from each group, minimised as it grows."""
    acc = [frozenset()]
    for group in groups:
        acc = _minimize([a | g for a in acc for g in group])
    return acc


def _cuts(node: Structure) -> list[frozenset[str]]:
    if isinstance(node, Leaf):
        return [frozenset([node.name])]
    assert isinstance(node, Gate)
    child = [_cuts(c) for c in node.children]
    fail = node.n - node.k + 1  # this many inputs down take the gate down
    out: list[frozenset[str]] = []
    for chosen in combinations(child, fail):
        out.extend(_product(list(chosen)))
    return _minimize(out)


def _paths(node: Structure) -> list[frozenset[str]]:
    if isinstance(node, Leaf):
        return [frozenset([node.name])]
    assert isinstance(node, Gate)
    child = [_paths(c) for c in node.children]
    out: list[frozenset[str]] = []
    for chosen in combinations(child, node.k):
        out.extend(_product(list(chosen)))
    return _minimize(out)


def _sorted(sets: list[frozenset[str]]) -> list[frozenset[str]]:
    return sorted(sets, key=lambda s: (len(s), sorted(s)))


def minimal_cut_sets(structure: Any) -> list[frozenset[str]]:
    """The minimal cut sets: smallest sets of components whose failure takes the system down.

    MOCUS-style top-down expansion: a leaf is its own cut; a k-of-n gate fails when any
    ``n - k + 1`` of its inputs fail, so its cuts are the unions of one cut from each
    input of every ``(n - k + 1)``-subset (a series gate: any input's cut; a parallel
    gate: one cut of every input); supersets are absorbed at every step. The size of
    the answer can grow combinatorially with nested voting gates.

    Returns:
        frozensets of component names, smallest first, then by their sorted names.
    """
    return _sorted(_cuts(_structure(structure)))


def minimal_path_sets(structure: Any) -> list[frozenset[str]]:
    """The minimal path sets: smallest sets of components whose working keeps it up.

    The dual expansion (a k-of-n gate works when any ``k`` of its inputs do); sorted
    like ``minimal_cut_sets``.
    """
    return _sorted(_paths(_structure(structure)))


# -- importance -------------------------------------------------------------------------------


def _fv_unavailability(name: str, cuts: list[frozenset[str]], p: Mapping[str, float]) -> float:
    """P(some minimal cut set containing ``name`` has every member down), exactly.

    That event is ``{name down} and {some C - {name} all down}``; the first factor is
    independent of the second, which is the failure of the structure "every
    ``C - {name}`` has a member up", solved exactly (its components repeat across the
    cuts, hence the decomposition).
    """
    rests = [c - {name} for c in cuts if name in c]
    if not rests:
        return 0.0
    if any(not r for r in rests):  # name is a cut by itself
        return 1.0 - p[name]
    up = all_of(*[any_of(*sorted(r)) for r in rests])
    return (1.0 - p[name]) * (1.0 - float(_solve(up, p)))


def importance(structure: Any, components: Any) -> pd.DataFrame:
    """Importance measures of every component (see the module docstring).

    Definitions as in Rausand and Hoyland, *System Reliability Theory* (2nd ed.),
    ch. 5 (component importance): Birnbaum's measure as ``A(i up) - A(i down)``, the
    criticality importance and Fussell-Vesely's measure, with steady-state
    availabilities in place of reliabilities. Fussell-Vesely is exact, not the sum of cut-set
    products the book gives as its rare-event approximation.

    Args:
        structure: a structure expression.
        components: as for ``availability``.

    Returns:
        a DataFrame indexed by component name: ``availability`` (the component's),
        ``birnbaum``, ``criticality``, ``fussell_vesely``; sorted by criticality,
        largest first. With a system that is never down (1 - A = 0) criticality and
        Fussell-Vesely are NaN.
    """
    import pandas as pd

    s = _structure(structure)
    p = component_availabilities(s, components)
    system = float(_solve(s, p))
    down = 1.0 - system
    cuts = minimal_cut_sets(s)
    rows = []
    for name in s.names:
        hi = float(_solve(s, {**p, name: 1.0}))
        lo = float(_solve(s, {**p, name: 0.0}))
        birnbaum = hi - lo
        if down > 0:
            criticality = birnbaum * (1.0 - p[name]) / down
            fv = _fv_unavailability(name, cuts, p) / down
        else:
            criticality = fv = float("nan")
        rows.append(
            {
                "component": name,
                "availability": p[name],
                "birnbaum": birnbaum,
                "criticality": criticality,
                "fussell_vesely": fv,
            }
        )
    table = pd.DataFrame(rows).set_index("component")
    return table.sort_values("criticality", ascending=False, kind="stable")
