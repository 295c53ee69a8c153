"""Rare-event estimation (importance sampling, balanced failure biasing) against closed forms.

Each estimate comes with its own 95 % interval (delta method over the regenerative cycles);
the checks ask the closed form to lie within 1.5 half-widths of the estimate, i.e. within
2.9 standard errors (a correct estimator misses that 0.4 % of the time; seeds are fixed, so
each check is deterministic), and the half-width to be below a stated precision, so a wide
interval cannot pass a biased estimate.
"""

import math

import pytest

import hasim as hs
from hasim import analytic
from hasim.rare import FailureBiasing, estimate

HOUR = 3600.0


def k_of_n(sim, k, n, mttf, mttr, crews=None):
    pool = None if crews is None else hs.RepairCrews(sim, "ops", crews=crews)
    failures = hs.Failures(ttf=hs.Exponential(mean=mttf), ttr=hs.Exponential(mean=mttr), crews=pool)
    nodes = [hs.Node(sim, f"n{i}", failures=failures) for i in range(n)]
    sim.up_when(lambda: sum(node.up for node in nodes) >= k)
    return nodes[0]


def check(est, theory, rel):
    assert abs(est["unavailability"] - theory) <= 1.5 * est["half_width"], (est, theory)
    assert est["half_width"] <= rel * theory, (est, theory)


@pytest.mark.parametrize(
    ("k", "n", "mttf", "mttr", "crews"),
    [(2, 3, 100.0, 10.0, None), (2, 3, 100.0, 10.0, 1), (3, 5, 10_000 * HOUR, 4 * HOUR, None),
     (4, 6, 5_000 * HOUR, 8 * HOUR, 2)],
)  # fmt: skip
def test_k_of_n_unavailability_matches_the_repair_chain(k, n, mttf, mttr, crews):
    sim = hs.Simulation(seed=3)
    k_of_n(sim, k, n, mttf, mttr, crews)
    est = estimate(sim, FailureBiasing(cycles=10_000))
    check(est, 1 - analytic.k_of_n_repair(k, n, mttf, mttr, crews), rel=0.05)


def test_many_nines_frequency_and_outage_match_the_ctmc():
    """3-of-5, MTTF 10,000 h, MTTR 4 h: down 6.4e-10 of the time, an outage every ~240,000
    years lasting 1/(3 mu) = 80 min; the estimate stands for thousands of simulated years."""
    sim = hs.Simulation(seed=5)
    k_of_n(sim, 3, 5, 10_000 * HOUR, 4 * HOUR)
    est = estimate(sim, FailureBiasing(cycles=10_000))
    chain, up = analytic.k_of_n_chain(3, 5, 10_000 * HOUR, 4 * HOUR)
    check(est, 1 - chain.availability(up), rel=0.05)
    assert est["failure_frequency"] == pytest.approx(chain.failure_frequency(up), rel=0.1)
    assert est["outage"] == pytest.approx(chain.outage_duration(up), rel=0.05)
    assert est["simulated"] > 1000 * 365 * 24 * HOUR


def test_zones_take_their_members_down():
    """1-of-2 in two zones that fail: the product form (1 - Az A)^2."""
    sim = hs.Simulation(seed=2)
    zone = hs.Failures(ttf=hs.Exponential(mean=1_000.0), ttr=hs.Exponential(mean=50.0))
    node = hs.Failures(ttf=hs.Exponential(mean=100.0), ttr=hs.Exponential(mean=10.0))
    hs.Domain(sim, "z0", failures=zone)
    hs.Domain(sim, "z1", failures=zone)
    servers = [hs.Node(sim, f"s{i}", zone=f"z{i}", failures=node) for i in range(2)]
    sim.up_when(lambda: any(s.up for s in servers))
    est = estimate(sim, FailureBiasing(cycles=20_000))
    check(est, 1 - analytic.k_of_n_domains(1, [1, 1], 100 / 110, 1000 / 1050), rel=0.05)
    assert all(s.state == hs.UP for s in servers)  # the nodes are left as they were


def test_the_same_seed_gives_the_same_estimate_and_another_seed_another():
    def run(seed):
        sim = hs.Simulation(seed=seed)
        k_of_n(sim, 2, 3, 100.0, 10.0)
        return estimate(sim, FailureBiasing(cycles=2_000))["unavailability"]

    assert run(1) == run(1) and run(1) != run(2)


def test_an_experiment_estimates_to_a_target_precision():
    """rare= in an Experiment: replications until the downtime interval is within 10 %.

    The closed form must lie in the experiment's 95 % Student-t interval over the
    replications (the seeds are fixed, so the check is deterministic)."""
    exp = hs.Experiment(
        {"3-of-5": lambda sim: k_of_n(sim, 3, 5, 10_000 * HOUR, 4 * HOUR)},
        rare=FailureBiasing(cycles=3_000),
        target=hs.Target("downtime_fraction", rel=0.1, min_reps=3),
    )
    s = exp.run(executor="serial").summary(metrics=["downtime_fraction", "uptime", "mttr"])
    row = s.iloc[0]
    theory = 1 - analytic.k_of_n_repair(3, 5, 10_000 * HOUR, 4 * HOUR)
    assert row["downtime_fraction_lo"] <= theory <= row["downtime_fraction_hi"]
    assert row["downtime_fraction_hi"] - row["downtime_fraction"] <= 0.1 * row["downtime_fraction"]
    assert row["mttr"] == pytest.approx(4 * HOUR / 3, rel=0.05)
    assert math.isnan(exp.run(executor="serial").runs["availability"].iloc[0])


def _client(sim):
    web = hs.Server(
        sim, "web", failures=hs.Failures(ttf=hs.Exponential(mean=10), ttr=hs.Exponential(mean=1))
    )
    hs.OpenLoop(sim, "users", target=web, rate=1)


def _lognormal(sim):
    hs.Node(
        sim,
        "n",
        failures=hs.Failures(ttf=hs.Exponential(mean=10), ttr=hs.LogNormal(mean=1, sigma=1)),
    )


def _pair(sim):
    a, b = hs.Server(sim, "a"), hs.Server(sim, "b")
    hs.ActivePassive(sim, "ap", primary=a, standby=b)


def _slow(sim):
    hs.Node(sim, "n", failures=hs.Slowdowns(every=10, lasting=1, factor=2))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (_client, r"Client 'users'|OpenLoop 'users' is not a node"),
        (_lognormal, r"ttf and ttr must be Exponential"),
        (_pair, r"ActivePassive 'ap' runs a timed protocol"),
        (_slow, r"Slowdowns is not supported"),
        (lambda sim: None, r"the model has no node that fails"),
    ],
)
def test_what_is_not_a_markov_model_of_failures_is_refused(build, message):
    sim = hs.Simulation(seed=1)
    build(sim)
    with pytest.raises(hs.ConfigError, match=message):
        estimate(sim)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rare": FailureBiasing(), "workload": {"rate": 1}}, r"runs no traffic"),
        ({"rare": FailureBiasing(), "horizon": "1d"}, r"runs no clock"),
        ({"rare": 0.5}, r"rare must be None or a hasim.FailureBiasing"),
        ({}, r"give a horizon"),
    ],
)
def test_bad_experiment_settings_are_refused(kwargs, message):
    with pytest.raises(hs.ConfigError, match=message):
        hs.Experiment("single_server", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"cycles": 1}, r"cycles must be an integer >= 2"), ({"bias": 1.0}, r"bias must be a number")],
)
def test_bad_biasing_is_refused(kwargs, message):
    with pytest.raises(hs.ConfigError, match=f"FailureBiasing: {message}"):
        FailureBiasing(**kwargs)
