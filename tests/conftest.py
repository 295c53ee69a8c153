"""Tiny fixtures shared by the core tests.

Deterministic scenarios are driven by hand: ``at(t, fn, *args)`` calls
``fn(*args)`` at simulated time ``t``, ``replies`` records what a service
answers, and every test that runs clients ends with
``assert_conserved(result, sim)`` (DESIGN rule 4).
"""

from __future__ import annotations

import pytest

import hasim as hs


@pytest.fixture
def sim() -> hs.Simulation:
    """A fresh simulation (seed 1, one row per request)."""
    return hs.Simulation(seed=1)


@pytest.fixture
def at(sim):
    """``at(t, fn, *args)``: call ``fn(*args)`` when the clock reaches ``t``."""

    def schedule(t, fn, *args):
        sim.call_later(t - sim.now, lambda _: fn(*args))

    return schedule


class Replies:
    """A ``reply(request, outcome, responder)`` that logs ``(time, request, outcome, by)``."""

    def __init__(self, sim: hs.Simulation) -> None:
        self.sim = sim
        self.log: list[tuple[float, object, str, str | None]] = []

    def __call__(self, request, outcome, responder) -> None:
        self.log.append((self.sim.now, request, outcome, responder))


@pytest.fixture
def replies(sim) -> Replies:
    """Records the answers of ``server.submit(request, replies)``."""
    return Replies(sim)


def check_conserved(result: hs.RunResult, sim: hs.Simulation | None = None) -> None:
    """Issued = ok + failed + in flight; the table and the clients agree with the summary."""
    s = result.summary()
    assert s["failed"] == sum(s[outcome] for outcome in hs.FAILED)
    assert s["issued"] == s["ok"] + s["failed"] + s["in_flight"]
    if result.columns is not None:
        assert len(result.requests()) == s["ok"] + s["failed"]
    if sim is not None:
        measured = [r for c in sim.clients for r in c.outstanding.values() if r.measured]
        assert s["in_flight"] == len(measured)


@pytest.fixture
def assert_conserved():
    """``assert_conserved(result, sim=None)``: the conservation checks above."""
    return check_conserved


@pytest.fixture
def experiment_script():
    """``experiment_script("compare_designs")``: the module of ``experiments/NAME.py``.

    Registered in ``sys.modules`` under its name, so worker processes can unpickle the
    functions it hands to an experiment.
    """
    import importlib.util
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "experiments"

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    return load
