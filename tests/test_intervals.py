"""Performability, availability per window, and the interval-availability study."""

from __future__ import annotations

import math

import numpy as np
import pytest

import hasim as hs

H = hs.hours
EXP = hs.Failures(ttf=hs.Exponential(mean=100 * H), ttr=hs.Exponential(mean=20 * H))


def capacity_cluster(sim):
    web = [hs.Node(sim, f"web{i}", failures=EXP) for i in range(3)]
    sim.up_when(hs.k_of_n(2, web), reward=hs.share_up(web))


@pytest.mark.parametrize("engine", ["events", "lean", "vector"])
def test_performability_is_the_same_on_every_engine(engine):
    """The reward's integral is streamed with the same terms in the same order everywhere."""
    sim = hs.Simulation(seed=2, record="aggregate")
    capacity_cluster(sim)
    got = sim.run(until=20 * hs.years, warmup=1 * hs.years, engine=engine).summary()
    sim = hs.Simulation(seed=2, record="aggregate")
    capacity_cluster(sim)
    ref = sim.run(until=20 * hs.years, warmup=1 * hs.years, engine="events").summary()
    assert got["performability"] == ref["performability"]
    # degraded but up counts less than up: below the uptime, above 2/3 of it
    assert 2 / 3 * got["uptime"] < got["performability"] < got["uptime"]


def test_performability_without_a_reward_is_nan_and_with_a_lambda_reward_works():
    sim = hs.Simulation(seed=1, record="aggregate")
    hs.Node(sim, "a", failures=EXP)
    assert math.isnan(sim.run(until=1e6).summary()["performability"])
    sim = hs.Simulation(seed=1, record="aggregate")
    a = hs.Node(sim, "a", failures=EXP)
    sim.up_when(hs.all_of(a), reward=lambda: 0.5)  # half speed whenever up
    s = sim.run(until=1e7).summary()
    assert s["performability"] == pytest.approx(0.5 * s["uptime"], rel=1e-12)


def test_a_reward_outside_0_1_or_not_callable_is_refused():
    sim = hs.Simulation(seed=1)
    a = hs.Node(sim, "a", failures=EXP)
    with pytest.raises(hs.ConfigError, match=r"up_when reward must be hs.share_up"):
        sim.up_when(a & a, reward=3)
    sim.up_when(hs.all_of(a), reward=lambda: 2.0)
    with pytest.raises(hs.SimulationError, match=r"reward must be in \[0, 1\], got 2.0"):
        sim.run(until=10)
    with pytest.raises(hs.ConfigError, match=r"share_up: components must be"):
        hs.share_up(hs.any_of("a", "b"))


@pytest.mark.parametrize("engine", ["events", "lean"])
def test_windows_add_up_to_the_runs_downtime(engine):
    sim = hs.Simulation(seed=4, record="aggregate")
    hs.Node(sim, "n", failures=hs.Failures(ttf=hs.Exponential(mean=10 * hs.days), ttr="6h"))
    result = sim.run(until=360 * hs.days, engine=engine)
    table = result.windows("30d")
    assert len(table) == 12 and table["end"].iloc[-1] == 360 * hs.days
    assert table["downtime"].sum() == pytest.approx(result.summary()["downtime"], rel=1e-12)
    assert ((table["availability"] >= 0) & (table["availability"] <= 1)).all()
    # the state at each incident's start and end, as the log says
    incidents = result.incidents()
    assert not result.up_at(incidents["start"] + 1.0).any()
    assert result.up_at(incidents["end"].dropna() + 1e-6).all()


def test_windows_refuse_a_window_longer_than_the_run():
    sim = hs.Simulation(seed=4, record="aggregate")
    hs.Node(sim, "n", failures=EXP)
    result = sim.run(until=10 * hs.days)
    with pytest.raises(hs.ConfigError, match=r"window must be at most the measured window"):
        result.windows("30d")


def single(sim):
    hs.Node(sim, "n0", failures=hs.Failures(ttf=hs.Exponential(mean=20 * hs.days),
                                            ttr=hs.Exponential(mean=30 * hs.minutes)))  # fmt: skip


def test_interval_study_attainment_budget_and_transient_are_consistent():
    study = hs.interval_availability(single, "30d", reps=400, seed=3)
    assert study.reps == 400 and study.availability.shape == (400,)
    slo = study.attainment(0.999)
    assert slo["lo"] <= slo["p"] <= slo["hi"] and 0.3 < slo["p"] < 0.9
    budget = study.budget(0.999)
    # "availability >= target" and "downtime <= budget" are the same event, but for ties
    assert budget["p_exhausted"] == pytest.approx(1 - slo["p"], abs=1 / 400)
    assert budget["budget"] == pytest.approx(0.001 * 30 * hs.days)
    transient = study.transient()
    assert transient["availability"].iloc[0] == 1.0  # a cold start: every node up
    assert (transient["lo"] <= transient["availability"]).all()
    # the grid's mean of A(t) is the mean interval availability, within sampling noise
    mean, half = study.mean()
    assert abs(transient["availability"].mean() - mean) < 0.002
    assert study.quantile(0.05) <= study.quantile(0.5)


def test_interval_study_is_deterministic_and_refuses_traffic():
    a = hs.interval_availability(single, "7d", reps=20, seed=5)
    b = hs.interval_availability(single, "7d", reps=20, seed=5, engine="events")
    assert np.array_equal(a.availability, b.availability)

    def with_traffic(sim):
        web = hs.Server(sim, "web", failures=EXP)
        hs.OpenLoop(sim, "users", target=web, rate=1)

    with pytest.raises(hs.ConfigError, match=r"interval_availability: model must be a design"):
        hs.interval_availability(with_traffic, "1d", reps=2)
    with pytest.raises(hs.ConfigError, match=r"interval_availability: reps must be"):
        hs.interval_availability(single, "1d", reps=1)
