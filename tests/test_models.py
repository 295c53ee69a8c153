"""Every ready model builds, runs, and honours its PARAMS contract."""

import importlib
import pkgutil

import pytest

import hasim as hs
import hasim.models

MODEL_NAMES = sorted(m.name for m in pkgutil.iter_modules(hasim.models.__path__))


def test_models_are_found():
    assert "single_server" in MODEL_NAMES


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_builds_an_entry_service_and_runs(name):
    """build(sim, **PARAMS) returns a service that a client can load; the run conserves requests."""
    model = importlib.import_module(f"hasim.models.{name}")
    assert isinstance(model.PARAMS, dict) and model.__doc__
    sim = hs.Simulation(seed=1)
    entry = model.build(sim, **model.PARAMS)
    assert callable(entry.submit)
    hs.OpenLoop(sim, "users", target=entry, rate=50, timeout=1.0)
    s = sim.run(until=120, warmup=10).summary()
    assert s["issued"] > 0
    assert s["issued"] == s["ok"] + s["failed"] + s["in_flight"]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_rejects_unknown_parameters(name):
    model = importlib.import_module(f"hasim.models.{name}")
    with pytest.raises(hs.ConfigError, match="unknown parameter"):
        model.build(hs.Simulation(seed=1), no_such_knob=3)


def test_single_server_parameters_reach_the_server():
    from hasim.models import single_server

    sim = hs.Simulation(seed=1)
    web = single_server.build(sim, workers=3, queue_limit=5, mttf=100.0)
    assert (web.workers, web.queue_limit) == (3, 5)
    assert web.failures.ttf == hs.Exponential(mean=100.0)
