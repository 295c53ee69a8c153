"""KVWorkload: read share, key popularity and streams, checked against their distributions.

Statistical tolerances: the read share must fall in the 99.9 % normal interval of
the binomial (p +- 3.29 sqrt(p (1 - p) / n)); key counts must pass a chi-square
goodness-of-fit test against the pmf at level 0.001. The seeds are fixed, so the
tests are deterministic; a correct sampler would fail one seed in a thousand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import hasim as hs
from hasim.replication import READ, SingleCopy, popularity_pmf


def run_kv(seed=3, *, until=10.0, rate=2000.0, extra=False, **kw):
    sim = hs.Simulation(seed=seed)
    db = SingleCopy(sim, "db")
    if extra:  # another client built first must not shift this one's draws
        hs.KVWorkload(sim, "other", target=db, rate=50, keys=7)
    kv = hs.KVWorkload(sim, "kv", target=db, rate=rate, **kw)
    sim.run(until=until)
    return kv.history.operations


@pytest.mark.parametrize("share", [0.9, 0.5, 0.05])
def test_read_share_is_within_the_binomial_interval(share):
    ops = run_kv(read_share=share)
    n = len(ops)
    reads = sum(o.kind == READ for o in ops)
    half = 3.29 * math.sqrt(share * (1 - share) / n)
    assert n > 15_000
    assert abs(reads / n - share) <= half


@pytest.mark.parametrize("popularity", ["uniform", hs.Zipf(1.0), hs.Zipf(0.6)])
def test_key_popularity_fits_its_pmf(popularity):
    keys = 20
    ops = run_kv(keys=keys, popularity=popularity)
    counts = np.bincount([o.key for o in ops], minlength=keys)
    expected = popularity_pmf(popularity, keys) * len(ops)
    assert counts.size == keys
    assert stats.chisquare(counts, expected).pvalue > 0.001


def test_the_fit_test_has_power_against_the_wrong_law():
    """The same chi-square rejects a Zipf sample as uniform, and the converse."""
    keys = 20
    zipf = np.bincount([o.key for o in run_kv(keys=keys, popularity=hs.Zipf(1.0))], minlength=20)
    flat = np.bincount([o.key for o in run_kv(keys=keys)], minlength=keys)
    uniform = popularity_pmf("uniform", keys)
    skewed = popularity_pmf(hs.Zipf(1.0), keys)
    assert stats.chisquare(zipf, uniform * zipf.sum()).pvalue < 1e-12
    assert stats.chisquare(flat, skewed * flat.sum()).pvalue < 1e-12


def test_zipf_pmf_matches_the_formula():
    pmf = hs.Zipf(1.2).pmf(4)
    weights = np.array([1, 2**-1.2, 3**-1.2, 4**-1.2])
    assert pmf == pytest.approx(weights / weights.sum())
    assert hs.Zipf(0).pmf(5) == pytest.approx(np.full(5, 0.2))


def test_draws_come_from_the_clients_own_streams():
    """Same seed, same operations; another client added leaves this one's unchanged."""
    base = [(o.kind, o.key, o.invoked) for o in run_kv(until=2, keys=10)]
    again = [(o.kind, o.key, o.invoked) for o in run_kv(until=2, keys=10)]
    other = [
        (o.kind, o.key, o.invoked) for o in run_kv(until=2, keys=10, extra=True) if o.client == "kv"
    ]
    assert base == again == other
    assert base != [(o.kind, o.key, o.invoked) for o in run_kv(seed=4, until=2, keys=10)]


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("read_share", 1.5, "read_share must be a probability"),
        ("keys", 0, "keys must be an integer >= 1"),
        ("popularity", "zipf", "popularity must be"),
        ("history", [], "history must be a History"),
    ],
)
def test_bad_settings_are_refused_with_the_parameter_named(param, value, match):
    sim = hs.Simulation()
    db = SingleCopy(sim, "db")
    with pytest.raises(hs.ConfigError, match=f"KVWorkload 'kv': {match}"):
        hs.KVWorkload(sim, "kv", target=db, rate=1, **{param: value})
    assert "kv" not in sim  # nothing registered


def test_zipf_refuses_a_negative_exponent():
    with pytest.raises(hs.ConfigError, match="Zipf: s must be a number >= 0"):
        hs.Zipf(-1)


def test_a_scripted_kind_is_checked(sim):
    db = SingleCopy(sim, "db")
    kv = hs.KVWorkload(sim, "kv", target=db, rate=1e-9)
    sim.call_later(1.0, lambda _: kv.issue(0, "delete"))
    with pytest.raises(hs.ConfigError, match="kind must be"):
        sim.run(until=2)
