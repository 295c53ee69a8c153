"""Exact analysis of structure expressions against independent computations.

Every value is checked against a closed form (series, parallel, k-of-n) or against brute
force: the sum over all 2^n component states of the state's probability times the
structure function (``Structure.evaluate``), which shares no code with the bottom-up
evaluation and Shannon decomposition under test.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import hasim as hs
from hasim.analytic import k_of_n, parallel, series
from hasim.analytic import structure as analysis

P = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.95, "e": 0.85}


def of(structure, p=P):
    """``p`` restricted to the structure's components (the analysis refuses other names)."""
    return {n: p[n] for n in structure.names}


def brute(structure, p):
    names = structure.names
    total = 0.0
    for states in itertools.product([False, True], repeat=len(names)):
        weight = math.prod(p[n] if up else 1 - p[n] for n, up in zip(names, states, strict=True))
        total += weight * structure.evaluate(dict(zip(names, states, strict=True)))
    return total


def bridge():
    """The classic bridge: a-d and b-e in parallel paths, c across the middle."""
    return hs.any_of(
        hs.all_of("a", "d"), hs.all_of("b", "e"), hs.all_of("a", "c", "e"), hs.all_of("b", "c", "d")
    )


def test_series_parallel_and_k_of_n_are_their_closed_forms():
    a = 0.97
    assert hs.all_of("x", "y", "z").availability(a) == pytest.approx(series(a, a, a), rel=1e-12)
    assert hs.any_of("x", "y").availability(a) == pytest.approx(parallel(a, a), rel=1e-12)
    assert hs.k_of_n(3, [f"n{i}" for i in range(5)]).availability(a) == pytest.approx(
        k_of_n(3, 5, a), rel=1e-12
    )
    nested = hs.any_of("lb1", "lb2") & hs.k_of_n(2, "w1", "w2", "w3") & "db"
    assert nested.availability(a) == pytest.approx(
        series(parallel(a, a), k_of_n(2, 3, a), a), rel=1e-12
    )


def test_a_k_of_n_gate_over_unequal_inputs_is_the_enumeration():
    s = hs.k_of_n(3, "a", "b", "c", "d", "e")
    assert s.availability(of(s)) == pytest.approx(brute(s, P), rel=1e-12)


@pytest.mark.parametrize(
    "structure",
    [
        bridge(),
        (hs.all_of("a", "b") | hs.all_of("a", "c")),  # a shared component
        hs.k_of_n(2, hs.all_of("a", "b"), hs.all_of("b", "c"), hs.any_of("a", "d", "e")),
    ],
    ids=["bridge", "shared", "k-of-n-over-repeats"],
)
def test_repeated_components_are_exact(structure):
    assert structure.availability(of(structure)) == pytest.approx(brute(structure, P), rel=1e-12)


def test_a_bottom_up_evaluation_would_be_wrong_with_a_shared_component():
    """(a & b) | (a & c) is a & (b | c): treating the two a's as independent overstates it."""
    s = hs.all_of("a", "b") | hs.all_of("a", "c")
    right = P["a"] * parallel(P["b"], P["c"])
    naive = parallel(P["a"] * P["b"], P["a"] * P["c"])
    assert s.availability(of(s)) == pytest.approx(right, rel=1e-12)
    assert abs(naive - right) > 1e-3


def test_minimal_cut_sets():
    assert hs.k_of_n(2, "x", "y", "z").cut_sets() == [
        frozenset("xy"), frozenset("xz"), frozenset("yz")
    ]  # fmt: skip
    assert bridge().cut_sets() == [
        frozenset("ab"), frozenset("de"), frozenset("ace"), frozenset("bcd")
    ]  # fmt: skip
    nested = hs.any_of("lb1", "lb2") & hs.k_of_n(2, "w1", "w2", "w3") & "db"
    assert nested.cut_sets()[0] == frozenset(["db"]) and len(nested.cut_sets()) == 5
    # absorption: a | (a & b) fails exactly when a does
    assert ("a" | hs.all_of("a", "b")).cut_sets() == [frozenset("a")]


def test_cut_sets_and_path_sets_are_the_structure_function():
    """Down iff some minimal cut set is all down; up iff some path set is all up."""
    s = bridge()
    cuts, paths = s.cut_sets(), analysis.minimal_path_sets(s)
    for states in itertools.product([False, True], repeat=5):
        up = dict(zip("abcde", states, strict=True))
        assert s.evaluate(up) == (not any(all(not up[n] for n in c) for c in cuts))
        assert s.evaluate(up) == any(all(up[n] for n in p) for p in paths)


def test_importance_measures_against_their_definitions():
    s = bridge()
    table = s.importance(P)
    system = brute(s, P)
    for name in s.names:
        hi = brute(s, {**P, name: 1.0})
        lo = brute(s, {**P, name: 0.0})
        row = table.loc[name]
        assert row["birnbaum"] == pytest.approx(hi - lo, rel=1e-10)
        assert row["criticality"] == pytest.approx((hi - lo) * (1 - P[name]) / (1 - system))
    # Fussell-Vesely by enumeration: some cut set containing the component all down.
    cuts = s.cut_sets()
    for name in s.names:
        mine = [c for c in cuts if name in c]
        fv = 0.0
        for states in itertools.product([False, True], repeat=5):
            up = dict(zip("abcde", states, strict=True))
            if any(all(not up[n] for n in c) for c in mine):
                fv += math.prod(P[n] if up[n] else 1 - P[n] for n in "abcde")
        assert table.loc[name, "fussell_vesely"] == pytest.approx(fv / (1 - system), rel=1e-10)
    assert list(table["criticality"]) == sorted(table["criticality"], reverse=True)


def test_in_a_series_system_criticality_is_the_share_of_downtime():
    """Series: I_B(i) = prod of the others; criticality is I_B (1 - A_i) / (1 - A), the chance
    that i alone is down given the system is; FV is (1 - A_i) / (1 - A) (i's own cut)."""
    s = hs.all_of("a", "b", "c")
    table = s.importance(of(s))
    system = P["a"] * P["b"] * P["c"]
    for name in "abc":
        others = system / P[name]
        assert table.loc[name, "birnbaum"] == pytest.approx(others)
        alone = others * (1 - P[name]) / (1 - system)
        assert table.loc[name, "criticality"] == pytest.approx(alone)
        assert table.loc[name, "fussell_vesely"] == pytest.approx((1 - P[name]) / (1 - system))


def test_in_a_parallel_system_every_component_is_in_the_only_cut():
    s = hs.any_of("a", "b")
    table = s.importance(of(s))
    assert list(table["fussell_vesely"]) == pytest.approx([1.0, 1.0])
    assert list(table["criticality"]) == pytest.approx([1.0, 1.0])


def test_mttf_mttr_pairs_and_the_transient():
    s = hs.any_of("x", "y") & "z"
    pairs = {"x": (100.0, 10.0), "y": (100.0, 10.0), "z": (1000.0, 5.0)}
    a = {n: f / (f + r) for n, (f, r) in pairs.items()}
    assert s.availability(pairs) == pytest.approx(s.availability(a), rel=1e-12)
    t = np.array([0.0, 1.0, 50.0, 1e6])
    got = analysis.transient(s, pairs, t)
    assert got[0] == pytest.approx(1.0)
    assert got[-1] == pytest.approx(s.availability(pairs), rel=1e-9)

    def component(mttf, mttr, x):
        lam, mu = 1 / mttf, 1 / mttr
        return mu / (lam + mu) + lam / (lam + mu) * math.exp(-(lam + mu) * x)

    for x, value in zip(t, got, strict=True):
        px, pz = component(100, 10, x), component(1000, 5, x)
        assert value == pytest.approx(parallel(px, px) * pz, rel=1e-12)


def test_the_bridge_is_its_classic_polynomial():
    """Identical components p: A = 2p^2 + 2p^3 - 5p^4 + 2p^5 (pivoting on the bridge c)."""
    for p in (0.5, 0.9, 0.99):
        assert bridge().availability(p) == pytest.approx(
            2 * p**2 + 2 * p**3 - 5 * p**4 + 2 * p**5, rel=1e-12
        )


def test_birnbaum_is_the_derivative_of_the_system_availability():
    """A is multilinear in the A_i, so a central difference is exact up to rounding."""
    s = hs.k_of_n(2, hs.all_of("a", "b"), hs.all_of("b", "c"), hs.any_of("a", "d", "e"))
    table = s.importance(of(s))
    h = 1e-4
    for name in s.names:
        up = s.availability({**of(s), name: P[name] + h})
        down = s.availability({**of(s), name: P[name] - h})
        assert table.loc[name, "birnbaum"] == pytest.approx((up - down) / (2 * h), rel=1e-7)


def test_cut_sets_are_sorted_by_size_then_names():
    s = hs.all_of("z", hs.any_of("y", "b"), hs.any_of("x", "a"))
    assert s.cut_sets() == [frozenset("z"), frozenset("ax"), frozenset("by")]
    assert analysis.minimal_path_sets(s) == [
        frozenset("abz"), frozenset("ayz"), frozenset("bxz"), frozenset("xyz")
    ]  # fmt: skip


def test_the_transient_of_a_shared_component_is_exact():
    """(a & b) | (a & c) = a & (b | c) at every instant, not the naive bottom-up value."""
    s = hs.all_of("a", "b") | hs.all_of("a", "c")
    pairs = {"a": (50.0, 5.0), "b": (20.0, 4.0), "c": (30.0, 3.0)}
    t = np.linspace(0.0, 40.0, 9)
    lam_mu = {n: (1 / f, 1 / r) for n, (f, r) in pairs.items()}
    a = {n: mu / (lam + mu) + lam / (lam + mu) * np.exp(-(lam + mu) * t)
         for n, (lam, mu) in lam_mu.items()}  # fmt: skip
    expected = a["a"] * (1 - (1 - a["b"]) * (1 - a["c"]))
    np.testing.assert_allclose(analysis.transient(s, pairs, t), expected, rtol=1e-12)


def test_a_perfect_system_has_undefined_conditional_importance():
    table = hs.any_of("x", "y").importance({"x": 1.0, "y": 0.9})
    assert table.loc["y", "birnbaum"] == 0.0
    assert table["criticality"].isna().all() and table["fussell_vesely"].isna().all()


def test_too_many_repeated_components_are_refused():
    names = [f"n{i}" for i in range(analysis.MAX_REPEATED + 1)]
    s = hs.all_of(names) | hs.any_of(names)  # every component in both branches
    with pytest.raises(hs.ConfigError, match=r"at most 20 components that appear more than once"):
        s.availability(0.9)


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ({"x": 0.9}, r"a value for every component .*\(missing \['y'\]\)"),
        ({"x": 0.9, "y": 0.9, "web4": 0.9}, r"components \['x', 'y'\] only \(unknown \['web4'\]\)"),
        ({"x": 1.5, "y": 0.9}, r"components\['x'\] must be a probability"),
        ({"x": (0, 1), "y": 0.9}, r"components\['x'\] mttf must be a number > 0"),
        ({"x": (1, 2, 3), "y": 0.9}, r"an availability or a pair \(mttf, mttr\)"),
    ],
)
def test_bad_component_values_are_refused_by_name(components, message):
    with pytest.raises(hs.ConfigError, match=message):
        hs.any_of("x", "y").availability(components)


def test_the_transient_needs_rates():
    with pytest.raises(hs.ConfigError, match=r"a pair \(mttf, mttr\) for the transient"):
        analysis.transient(hs.any_of("x", "y"), {"x": 0.9, "y": 0.9}, [1.0])


def _run(up, engine):
    sim = hs.Simulation(seed=1, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=100.0), ttr=hs.Exponential(mean=10.0))
    nodes = [hs.Node(sim, n, failures=failures) for n in ("x", "y", "z")]
    sim.up_when(up(nodes))
    return sim.run(until=1e4, engine=engine)


def test_a_run_measures_importance_with_its_own_structure():
    result = _run(lambda ns: hs.any_of(ns[0], ns[1]) & ns[2], "events")
    table = result.importance()
    assert list(table.columns) == ["downtime_share", "criticality", "fussell_vesely", "caused"]
    assert set(table.index) == {"x", "y", "z"}
    # z alone is a cut: it is critical whenever it is down and the pair is up.
    assert table.loc["z", "criticality"] > table.loc["x", "criticality"]
    assert table["caused"].sum() == pytest.approx(1.0)  # every incident has one cause
    assert (table["fussell_vesely"] >= table["criticality"] - 1e-12).all()


def test_importance_needs_history_and_a_structure():
    with pytest.raises(hs.SimulationError, match=r"importance\(\) needs every component"):
        _run(lambda ns: hs.all_of(ns), "lean").importance()
    with pytest.raises(hs.ConfigError, match=r"RunResult.importance: structure"):
        _run(lambda ns: lambda: all(n.up for n in ns), "events").importance()
