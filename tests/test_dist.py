"""Distributions are validated frozen value objects that sample in batches, deterministically."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hasim.dist import (
    ConstantSampler,
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    Mixture,
    Pareto,
    Sampler,
    Uniform,
    Weibull,
    as_distribution,
)
from hasim.errors import ConfigError

SEED = 12345

CONTINUOUS = [
    Exponential(mean=2.0),
    Exponential(rate=50.0),
    Weibull(1.5, scale=3.0),
    Weibull(0.7, mean=10.0),
    LogNormal(median=20 * 60, sigma=0.6),
    LogNormal(mean=5.0, sigma=1.0),
    Gamma(2.5, scale=1.6),
    Gamma(0.5, mean=3.0),
    Uniform(1.0, 3.0),
    Pareto(3.0, 1.0),
    Pareto(1.5, 2.0),  # infinite variance
    Pareto(0.8, 1.0),  # infinite mean
    Mixture([Exponential(mean=1.0), LogNormal(median=30.0, sigma=0.5)], weights=[0.9, 0.1]),
]
DISCRETE = [
    Deterministic(2.5),
    Empirical([1.0, 2.0, 3.0, 10.0, 10.0]),
    Mixture([Deterministic(5.0), Exponential(mean=1.0)]),  # has an atom at 5
]
ALL = CONTINUOUS + DISCRETE


def rng(seed: int = SEED) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- moments, by simulation ---------------------------------------------------------------------


@pytest.mark.parametrize("dist", [d for d in ALL if d.variance < math.inf], ids=repr)
def test_sample_mean_within_five_sigma(dist):
    """The sample mean of n draws is within 5 standard errors of ``mean``.

    By the CLT the error is ~ Normal(0, std / sqrt(n)); 5 sigma gives a false alarm with
    probability ~6e-7. The seed is fixed, so the test is deterministic.
    """
    n = 200_000
    x = dist.sample(rng(), n)
    assert x.dtype == np.float64 and x.shape == (n,)
    assert np.all(x >= 0)
    assert abs(x.mean() - dist.mean) <= 5 * dist.std / math.sqrt(n)


@pytest.mark.parametrize("dist", [Pareto(1.5, 2.0), Pareto(0.8, 1.0)], ids=repr)
def test_heavy_pareto_median(dist):
    """Infinite variance: check the median, scale * 2 ** (1 / shape), instead of the mean.

    The sample median's standard error is 1 / (2 f(m) sqrt(n)), f the density; 5 sigma again.
    """
    n = 200_000
    median = dist.scale * 2 ** (1 / dist.shape)
    density = dist.shape * dist.scale**dist.shape / median ** (dist.shape + 1)
    x = dist.sample(rng(), n)
    assert abs(np.median(x) - median) <= 5 / (2 * density * math.sqrt(n))
    assert x.min() >= dist.scale


def test_closed_form_moments():
    assert Exponential(mean=2).variance == 4.0
    assert Uniform(1, 3).mean == 2.0 and Uniform(1, 3).variance == pytest.approx(1 / 3)
    assert Gamma(2, scale=3).mean == 6.0 and Gamma(2, scale=3).variance == 18.0
    assert Pareto(3, 1).mean == 1.5 and Pareto(3, 1).variance == pytest.approx(0.75)
    assert Pareto(1.0, 1).mean == math.inf and Pareto(2.0, 1).variance == math.inf
    assert Weibull(1, scale=2).mean == pytest.approx(2) and Weibull(1, scale=2).variance == (
        pytest.approx(4)
    )
    lognormal = LogNormal(median=1, sigma=1)
    assert lognormal.mean == pytest.approx(math.exp(0.5))
    assert lognormal.variance == pytest.approx((math.e - 1) * math.e)
    assert Deterministic(3).std == 0.0
    empirical = Empirical([1, 2, 3, 10])
    assert empirical.mean == 4.0 and empirical.variance == pytest.approx(np.var([1, 2, 3, 10]))


def test_mixture_moments_follow_the_law_of_total_variance():
    """Var = E[Var] + Var[E]: 0.75 * 1 + 0.25 * 0 + 0.75 * 1 + 0.25 * 9 - 2 ** 2."""
    mix = Mixture([Exponential(mean=1), Deterministic(5)], weights=[3, 1])
    assert mix.weights == (0.75, 0.25)
    assert mix.mean == pytest.approx(2.0)
    assert mix.variance == pytest.approx(0.75 * (1 + 1) + 0.25 * 25 - 4)
    assert Mixture([Pareto(0.5, 1), Deterministic(1)]).variance == math.inf


# --- distribution shape: Kolmogorov-Smirnov ------------------------------------------------------


@pytest.mark.parametrize("dist", CONTINUOUS, ids=repr)
def test_kolmogorov_smirnov(dist):
    """20,000 draws against ``cdf``; p > 1e-3 (fixed seed, so deterministic)."""
    assert stats.kstest(dist.sample(rng(), 20_000), dist.cdf).pvalue > 1e-3


def test_cdf_is_vectorised_and_scalar_friendly():
    for dist in ALL:
        values = dist.cdf(np.array([-1.0, 0.0, 1.0, 1e9]))
        assert values.shape == (4,)
        assert values[0] == 0.0 and values[-1] == pytest.approx(1.0)
        assert np.all(np.diff(values) >= 0)
        assert isinstance(dist.cdf(1.0), float)
    assert Empirical([1, 2, 3, 10]).cdf(2.0) == 0.5
    assert Deterministic(2).cdf([1.9, 2.0]).tolist() == [0.0, 1.0]


# --- samplers: one float per call, batch contract ------------------------------------------------


@pytest.mark.parametrize("dist", ALL, ids=repr)
@pytest.mark.parametrize("batch", [1, 7, 1024])
def test_sampler_hands_out_sample_batches_in_order(dist, batch):
    """Determinism contract: a sampler's values are dist.sample(rng, batch), again and again."""
    draw = dist.sampler(rng(), batch=batch)
    got = [draw() for _ in range(3 * batch)]
    reference = rng()
    expected = np.concatenate([dist.sample(reference, batch) for _ in range(3)]).tolist()
    assert got == expected
    assert all(type(v) is float for v in got)


def test_sampler_is_slotted_and_lazy():
    """The first batch is drawn at the first call, not when the sampler is made."""
    generator = rng()
    state = generator.bit_generator.state
    draw = Exponential(mean=1).sampler(generator)
    assert isinstance(draw, Sampler) and not hasattr(draw, "__dict__")
    assert generator.bit_generator.state == state
    draw()
    assert generator.bit_generator.state != state


def test_deterministic_sampler_never_touches_the_generator():
    generator = rng()
    state = generator.bit_generator.state
    draw = Deterministic(0.25).sampler(generator)
    assert isinstance(draw, ConstantSampler) and not hasattr(draw, "__dict__")
    assert [draw() for _ in range(5000)] == [0.25] * 5000
    assert generator.bit_generator.state == state


def test_sample_and_sampler_check_their_arguments():
    with pytest.raises(ConfigError, match=r"Exponential: rng must be a numpy.random.Generator"):
        Exponential(mean=1).sample(np.random.RandomState(1), 3)
    with pytest.raises(ConfigError, match=r"Exponential: size must be an integer >= 0, got -1"):
        Exponential(mean=1).sample(rng(), -1)
    with pytest.raises(ConfigError, match=r"Gamma: batch must be an integer >= 1, got 0"):
        Gamma(2, scale=1).sampler(rng(), batch=0)
    with pytest.raises(ConfigError, match=r"Deterministic: batch must be an integer >= 1"):
        Deterministic(1).sampler(rng(), batch=0)


def test_empirical_and_mixture_sampling():
    data = [1.0, 2.0, 3.0, 10.0]
    x = Empirical(data).sample(rng(), 40_000)
    assert set(np.unique(x)) == set(data)
    # Each value has probability 1/4: a 5-sigma binomial band.
    assert np.all(np.abs(np.bincount(np.searchsorted(data, x)) / 40_000 - 0.25) <= 5 * 0.00217)
    mix = Mixture([Deterministic(5), Exponential(mean=1)], weights=[1, 3])
    share = np.mean(mix.sample(rng(), 40_000) == 5.0)
    assert abs(share - 0.25) <= 5 * math.sqrt(0.25 * 0.75 / 40_000)


# --- value objects: normalisation, repr, equality ---------------------------------------------


def test_normalisation():
    assert Exponential(rate=2) == Exponential(mean=0.5)
    assert Exponential(mean=0.5).rate == 2.0
    assert repr(Exponential(rate=2)) == "Exponential(mean=0.5)"
    lognormal = LogNormal(mean=5, sigma=1)
    assert lognormal.median == pytest.approx(5 * math.exp(-0.5))
    assert lognormal.mean == pytest.approx(5)
    assert lognormal.mu == pytest.approx(math.log(5) - 0.5)
    assert repr(LogNormal(median=1200, sigma=0.6)) == "LogNormal(median=1200.0, sigma=0.6)"
    weibull = Weibull(2, mean=3)
    assert weibull.scale == pytest.approx(3 / math.gamma(1.5))
    assert weibull.mean == pytest.approx(3)
    assert repr(Weibull(2, scale=1)) == "Weibull(shape=2.0, scale=1.0)"
    assert Gamma(4, mean=2) == Gamma(4, scale=0.5)
    assert Mixture([Exponential(mean=1)] * 2) == Mixture([Exponential(mean=1)] * 2, [5, 5])
    assert Mixture([Exponential(mean=1)]).components == (Exponential(mean=1),)
    assert Empirical([1, 2]).data == (1.0, 2.0) and Empirical(np.array([1, 2])).data == (1.0, 2.0)
    assert repr(Empirical([1, 2, 3])) == "Empirical(n=3, mean=2.0)"
    assert len({Exponential(mean=1), Exponential(rate=1), Deterministic(1)}) == 2  # hashable


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Exponential(mean=1).mean = 2


def test_as_distribution():
    dist = Exponential(mean=1)
    assert as_distribution(dist, "Server 'web1'", "service_time") is dist
    assert as_distribution(0.25, "X", "t") == Deterministic(0.25)
    assert as_distribution(3, "X", "t") == Deterministic(3.0)
    assert as_distribution("250ms", "X", "t") == Deterministic(0.25)
    for bad in ["5 parsecs", -1, math.nan, None, True, [1]]:
        with pytest.raises(ConfigError, match=r"^Server 'web1': service_time must be a Distr"):
            as_distribution(bad, "Server 'web1'", "service_time")


# --- validation messages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Exponential(mean=-1), "Exponential: mean must be a number > 0, got -1"),
        (lambda: Exponential(rate=0), "Exponential: rate must be a number > 0, got 0"),
        (lambda: Exponential(mean=math.inf), "Exponential: mean must be a number > 0, got inf"),
        (lambda: Exponential(mean="5"), "Exponential: mean must be a number > 0, got '5'"),
        (lambda: Exponential(mean=True), "Exponential: mean must be a number > 0, got True"),
        (lambda: Exponential(mean=1, rate=2),
         "Exponential: give exactly one of mean or rate, got mean=1, rate=2"),
        (lambda: Exponential(), "Exponential: give exactly one of mean or rate"),
        (lambda: Exponential(rate=5e-324), "Exponential: rate must be a number > 0 that gives"),
        (lambda: Weibull(0, scale=1), "Weibull: shape must be a number > 0, got 0"),
        (lambda: Weibull(2), "Weibull: give exactly one of scale or mean, got scale=None"),
        (lambda: Weibull(2, scale=1, mean=1), "Weibull: give exactly one of scale or mean"),
        (lambda: Weibull(2, mean=math.nan), "Weibull: mean must be a number > 0, got nan"),
        (lambda: Weibull(1e-3, mean=1), r"Weibull: mean must be a number > 0 that gives a fini"),
        (lambda: LogNormal(median=1, sigma=0), "LogNormal: sigma must be a number > 0, got 0"),
        (lambda: LogNormal(median=1), "LogNormal: sigma must be a number > 0, got None"),
        (lambda: LogNormal(sigma=1), "LogNormal: give exactly one of median or mean"),
        (lambda: LogNormal(median=-2, sigma=1), "LogNormal: median must be a number > 0, got -2"),
        (lambda: Gamma(-1, scale=1), "Gamma: shape must be a number > 0, got -1"),
        (lambda: Gamma(1, mean=0), "Gamma: mean must be a number > 0, got 0"),
        (lambda: Uniform(-1, 1), "Uniform: low must be a number >= 0, got -1"),
        (lambda: Uniform(2, 1), r"Uniform: high must be a number > low \(2.0\), got 1"),
        (lambda: Uniform(0, math.inf), "Uniform: high must be a number > 0, got inf"),
        (lambda: Deterministic(-1), "Deterministic: value must be a number >= 0, got -1"),
        (lambda: Deterministic(None), "Deterministic: value must be a number >= 0, got None"),
        (lambda: Pareto(0, 1), "Pareto: shape must be a number > 0, got 0"),
        (lambda: Pareto(2, 0), "Pareto: scale must be a number > 0, got 0"),
        (lambda: Empirical([]), r"Empirical: data must be a non-empty sequence .*, got \[\]"),
        (lambda: Empirical(5), "Empirical: data must be a non-empty sequence .*, got 5"),
        (lambda: Empirical([1, -2]), r"Empirical: data\[1\] must be a number >= 0, got -2"),
        (lambda: Empirical([1, math.nan]), r"Empirical: data\[1\] must be .*, got nan"),
        (lambda: Mixture([]), r"Mixture: components must be a non-empty sequence of Distri"),
        (lambda: Mixture([Exponential(mean=1), 3]),
         r"Mixture: components\[1\] must be a Distribution, got 3"),
        (lambda: Mixture([Exponential(mean=1)], [1, 2]),
         r"Mixture: weights must be a sequence of 1 numbers > 0, one per component, got \[1, 2\]"),
        (lambda: Mixture([Exponential(mean=1)], [0]),
         r"Mixture: weights\[0\] must be a number > 0, got 0"),
    ],
)  # fmt: skip
def test_validation_messages(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


# --- property test: anything in, a valid object or a ConfigError out ----------------------------

junk = st.one_of(
    st.floats(),  # includes nan, +-inf, +-0, subnormals and values near the float limit
    # Ints beyond the float range make errors.check_* raise OverflowError: a separate matter.
    st.integers(min_value=-(10**300), max_value=10**300),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
    st.sampled_from(["250ms", "1h", "-3s", "5 parsecs", "nan"]),
)
some_dists = st.sampled_from([Exponential(mean=1), Deterministic(2), Pareto(0.5, 1)])
CONSTRUCTORS = {
    Exponential: ({}, {"mean": junk, "rate": junk}),
    Weibull: ({"shape": junk}, {"scale": junk, "mean": junk}),
    LogNormal: ({}, {"median": junk, "sigma": junk, "mean": junk}),
    Gamma: ({"shape": junk}, {"scale": junk, "mean": junk}),
    Uniform: ({"low": junk, "high": junk}, {}),
    Deterministic: ({"value": junk}, {}),
    Pareto: ({"shape": junk, "scale": junk}, {}),
    Empirical: ({"data": junk | st.lists(junk, max_size=4)}, {}),
    Mixture: (
        {"components": junk | st.lists(junk | some_dists, max_size=3)},
        {"weights": junk | st.lists(junk, max_size=3)},
    ),
    as_distribution: (
        {"value": junk | some_dists, "owner": st.just("X"), "param": st.just("t")},
        {},
    ),
}


@pytest.mark.parametrize("make", CONSTRUCTORS, ids=lambda make: make.__name__)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_anything_gives_a_valid_object_or_a_config_error(make, data):
    required, optional = CONSTRUCTORS[make]
    kwargs = data.draw(st.fixed_dictionaries(required, optional=optional))
    try:
        dist = make(**kwargs)
    except ConfigError:
        return
    assert isinstance(dist, Distribution)
    assert isinstance(dist.mean, float) and dist.mean >= 0
    assert isinstance(dist.variance, float) and not math.isnan(dist.variance)
    # Draws of a distribution whose mean is near the float limit (1e308) may overflow to inf;
    # that is floating point, not a bug, hence the bound.
    if dist.mean < 1e100:
        x = dist.sample(rng(), 10)
        assert np.all(np.isfinite(x)) and np.all(x >= 0)
