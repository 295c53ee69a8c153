"""Distributions of durations: small frozen value objects that sample in batches.

Every distribution is a frozen dataclass that checks its parameters when built, prints them in
its ``repr``, compares equal to another with the same (normalised) parameters, and knows its
``mean``, ``variance``, ``std`` and ``cdf``. Its support is within [0, inf): they model times.

Sampling takes an explicit ``numpy.random.Generator``; nothing here touches numpy's or Python's
global random state. ``dist.sample(rng, size)`` returns a float64 array. A simulation that needs
one value at a time asks for a :class:`Sampler` instead::

    next_ttf = Exponential(mean=30 * days).sampler(rng)
    delay = next_ttf()          # a Python float, ~0.1 us per call

The sampler draws ``batch`` values at once with ``dist.sample(rng, batch)`` and hands them out
one by one, refilling when empty. **Determinism contract:** the values a sampler returns are,
in order, those of ``dist.sample(rng, batch)`` called again and again on its generator; so they
depend only on the generator's state (at each refill) and on ``batch``, never on timing. A
refill happens at the first call and whenever the batch is used up. Give each sampler its own
generator (a named stream) so that no other draws interleave with its refills; a different
``batch`` is a different stream, not a different order of the same one.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import InitVar, dataclass
from typing import Any

import numpy as np

from . import units
from .errors import ConfigError, check_int, check_nonnegative, check_positive, config_error

__all__ = [
    "Distribution",
    "Sampler",
    "ConstantSampler",
    "Exponential",
    "Weibull",
    "LogNormal",
    "Gamma",
    "Uniform",
    "Deterministic",
    "Pareto",
    "Empirical",
    "Mixture",
    "as_distribution",
]


def _exp(x: float) -> float:
    return math.exp(x) if x < 709.0 else math.inf  # math.exp raises OverflowError instead


def _lgamma(x: float) -> float:
    try:
        return math.lgamma(x)
    except OverflowError:  # x near the float limit; lgamma(inf) itself is inf
        return math.inf


def _exactly_one(owner: str, a: str, a_value: Any, b: str, b_value: Any) -> None:
    if (a_value is None) == (b_value is None):
        raise ConfigError(
            f"{owner}: give exactly one of {a} or {b}, got {a}={a_value!r}, {b}={b_value!r}"
        )


def _check_rng(owner: str, rng: Any) -> None:
    if not isinstance(rng, np.random.Generator):
        raise config_error(owner, "rng", "a numpy.random.Generator", rng)


def _derived(owner: str, given: str, value: Any, name: str, derived: float) -> float:
    """Check a parameter computed from another (e.g. a scale from a mean) is usable."""
    if not 0.0 < derived < math.inf:
        allowed = f"a number > 0 that gives a finite {name} > 0 (here {name} = {derived!r})"
        raise config_error(owner, given, allowed, value)
    return derived


class _Computed:
    """An ``__init__``-only keyword that instances read back as a computed property.

    Declared as ``mean: InitVar[float | None] = _Computed(fn)``: on the class it reads as None,
    which dataclasses takes as the keyword's default; on an instance it returns ``fn(self)``. So
    ``Weibull(2, mean=3)`` stores only ``scale``, yet ``.mean`` works, and ``==`` and ``repr``
    use the stored parameters. (``dataclasses.replace`` passes both keywords and so is refused
    with "give exactly one of"; build a new object instead.)
    """

    def __init__(self, fget: Callable[[Any], float]) -> None:
        self.fget = fget

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return None if obj is None else self.fget(obj)


class Sampler:
    """One value per call, drawn ``batch`` at a time (see the module's determinism contract).

    Attributes:
        dist: the distribution sampled.
        rng: the generator it draws from.
        batch: how many values each refill draws.
    """

    __slots__ = ("dist", "rng", "batch", "_buffer")

    def __init__(self, dist: Distribution, rng: np.random.Generator, batch: int = 1024) -> None:
        self.dist = dist
        self.rng = rng
        self.batch = batch
        self._buffer: list[float] = []

    def __call__(self) -> float:
        """Return the next value, a Python float."""
        try:  # free when nothing is raised (Python >= 3.11); cheaper than testing emptiness
            return self._buffer.pop()
        except IndexError:
            values = self.dist._sample(self.rng, self.batch).tolist()
            values.reverse()  # pop() from the end hands them out in drawn order
            self._buffer = values
            return values.pop()


class ConstantSampler(Sampler):
    """The sampler of a :class:`Deterministic`: returns its value and never touches ``rng``."""

    __slots__ = ("_value",)

    def __init__(self, dist: Deterministic, rng: np.random.Generator, batch: int = 1024) -> None:
        super().__init__(dist, rng, batch)
        self._value = dist.value

    def __call__(self) -> float:
        """Return the constant value."""
        return self._value


@dataclass(frozen=True)
class Distribution(ABC):
    """A distribution of durations in seconds (support within [0, inf))."""

    @property
    @abstractmethod
    def mean(self) -> float:
        """The expected value; ``math.inf`` if it does not exist."""

    @property
    @abstractmethod
    def variance(self) -> float:
        """The variance; ``math.inf`` if it does not exist."""

    @property
    def std(self) -> float:
        """The standard deviation."""
        return math.sqrt(self.variance)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Return ``size`` independent draws as a float64 array.

        Args:
            rng: the generator to draw from.
            size: how many values (an integer >= 0).
        """
        owner = type(self).__name__
        _check_rng(owner, rng)
        return self._sample(rng, check_int(owner, "size", size))

    def sampler(self, rng: np.random.Generator, batch: int = 1024) -> Sampler:
        """Return a callable that gives one float per call, drawing ``batch`` at a time.

        Args:
            rng: the generator to draw from; the sampler owns it from now on.
            batch: how many values each refill draws (an integer >= 1).
        """
        owner = type(self).__name__
        _check_rng(owner, rng)
        return Sampler(self, rng, check_int(owner, "batch", batch, minimum=1))

    def cdf(self, x: Any) -> Any:
        """Return P(X <= x), elementwise over arrays (a float for a scalar ``x``)."""
        values = self._cdf(np.asarray(x, dtype=float))
        return values if values.ndim else float(values)

    @abstractmethod
    def _sample(self, rng: np.random.Generator, size: int) -> np.ndarray: ...

    @abstractmethod
    def _cdf(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Exponential(Distribution):
    """Memoryless durations, e.g. Poisson inter-arrival times or constant-hazard failures.

    Give exactly one of ``mean`` or ``rate`` (= 1 / mean); only the mean is stored, so
    ``Exponential(rate=2) == Exponential(mean=0.5)``.
    """

    mean: float | None = None
    rate: InitVar[float | None] = _Computed(lambda d: 1.0 / d.mean)

    def __post_init__(self, rate: float | None) -> None:
        _exactly_one("Exponential", "mean", self.mean, "rate", rate)
        if rate is None:
            mean = check_positive("Exponential", "mean", self.mean)
        else:
            mean = 1.0 / check_positive("Exponential", "rate", rate)
            mean = _derived("Exponential", "rate", rate, "mean", mean)
        object.__setattr__(self, "mean", mean)

    @property
    def variance(self) -> float:
        """The mean squared."""
        return self.mean * self.mean

    def _sample(self, rng, size):
        return rng.exponential(self.mean, size)

    def _cdf(self, x):
        return -np.expm1(-np.maximum(x, 0.0) / self.mean)


def _weibull_mean(d: Weibull) -> float:
    return _exp(math.log(d.scale) + _lgamma(1.0 + 1.0 / d.shape))


@dataclass(frozen=True)
class Weibull(Distribution):
    """Weibull(shape k, scale λ): wear-out (k > 1) or infant-mortality (k < 1) failures.

    Give exactly one of ``scale`` or ``mean``; the scale is stored (λ = mean / Γ(1 + 1/k)).
    """

    shape: float
    scale: float | None = None
    mean: InitVar[float | None] = _Computed(_weibull_mean)

    def __post_init__(self, mean: float | None) -> None:
        shape = check_positive("Weibull", "shape", self.shape)
        object.__setattr__(self, "shape", shape)
        _exactly_one("Weibull", "scale", self.scale, "mean", mean)
        if mean is None:
            scale = check_positive("Weibull", "scale", self.scale)
        else:
            log_mean = math.log(check_positive("Weibull", "mean", mean))
            scale = _exp(log_mean - _lgamma(1.0 + 1.0 / shape))
            scale = _derived("Weibull", "mean", mean, "scale", scale)
        object.__setattr__(self, "scale", scale)

    @property
    def variance(self) -> float:
        """scale² · (Γ(1 + 2/shape) - Γ(1 + 1/shape)²)."""
        g1, g2 = _lgamma(1.0 + 1.0 / self.shape), _lgamma(1.0 + 2.0 / self.shape)
        if g2 == math.inf:
            return math.inf
        # max() absorbs rounding when the two nearly cancel; logs avoid inf * 0 for huge scales.
        spread = max(0.0, _exp(g2) - _exp(2.0 * g1))
        return _exp(2.0 * math.log(self.scale) + math.log(spread)) if spread > 0.0 else 0.0

    def _sample(self, rng, size):
        return self.scale * rng.weibull(self.shape, size)

    def _cdf(self, x):
        return -np.expm1(-((np.maximum(x, 0.0) / self.scale) ** self.shape))


@dataclass(frozen=True)
class LogNormal(Distribution):
    """LogNormal: ln X is normal with mean ``mu`` = ln(median) and standard deviation ``sigma``.

    A good model of repair times: most are short, a few are very long. Give exactly one of
    ``median`` or ``mean`` (median = mean · exp(-sigma²/2)); the median is stored. ``sigma`` is
    required: ``LogNormal(median=20 * minutes, sigma=0.6)``, ``LogNormal(mean=5, sigma=1)``.
    """

    median: float | None = None
    sigma: float | None = None
    mean: InitVar[float | None] = _Computed(lambda d: _exp(d.mu + d.sigma * d.sigma / 2.0))

    def __post_init__(self, mean: float | None) -> None:
        sigma = check_positive("LogNormal", "sigma", self.sigma)
        object.__setattr__(self, "sigma", sigma)
        _exactly_one("LogNormal", "median", self.median, "mean", mean)
        if mean is None:
            median = check_positive("LogNormal", "median", self.median)
        else:
            median = check_positive("LogNormal", "mean", mean) * _exp(-sigma * sigma / 2.0)
            median = _derived("LogNormal", "mean", mean, "median", median)
        object.__setattr__(self, "median", median)

    @property
    def mu(self) -> float:
        """The mean of ln X: ln(median)."""
        return math.log(self.median)

    @property
    def variance(self) -> float:
        """(exp(sigma²) - 1) · exp(2 mu + sigma²)."""
        # In logs, so that a huge sigma or a tiny median cannot give inf * 0 = nan.
        s2 = self.sigma * self.sigma
        if s2 == 0.0:  # sigma below ~1e-162 squares to zero
            return 0.0
        log_expm1 = math.log(math.expm1(s2)) if s2 < 700.0 else s2 + math.log1p(-math.exp(-s2))
        return _exp(2.0 * self.mu + s2 + log_expm1)

    def _sample(self, rng, size):
        return rng.lognormal(self.mu, self.sigma, size)

    def _cdf(self, x):
        from scipy.special import ndtr  # only validation code asks for a cdf

        with np.errstate(divide="ignore"):
            return ndtr((np.log(np.maximum(x, 0.0)) - self.mu) / self.sigma)


@dataclass(frozen=True)
class Gamma(Distribution):
    """Gamma(shape k, scale θ): e.g. the sum of k exponential stages (Erlang when k is whole).

    Give exactly one of ``scale`` or ``mean`` (θ = mean / k); the scale is stored.
    """

    shape: float
    scale: float | None = None
    mean: InitVar[float | None] = _Computed(lambda d: d.shape * d.scale)

    def __post_init__(self, mean: float | None) -> None:
        shape = check_positive("Gamma", "shape", self.shape)
        object.__setattr__(self, "shape", shape)
        _exactly_one("Gamma", "scale", self.scale, "mean", mean)
        if mean is None:
            scale = check_positive("Gamma", "scale", self.scale)
        else:
            scale = check_positive("Gamma", "mean", mean) / shape
            scale = _derived("Gamma", "mean", mean, "scale", scale)
        object.__setattr__(self, "scale", scale)

    @property
    def variance(self) -> float:
        """The shape times the scale squared."""
        return self.mean * self.scale

    def _sample(self, rng, size):
        return rng.gamma(self.shape, self.scale, size)

    def _cdf(self, x):
        from scipy.special import gammainc  # only validation code asks for a cdf

        return gammainc(self.shape, np.maximum(x, 0.0) / self.scale)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on [low, high), with 0 <= low < high, both finite."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low = check_nonnegative("Uniform", "low", self.low)
        high = check_positive("Uniform", "high", self.high)
        if high <= low:
            raise config_error("Uniform", "high", f"a number > low ({low!r})", self.high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def mean(self) -> float:
        """(low + high) / 2."""
        return self.low / 2.0 + self.high / 2.0  # (low + high) / 2 could overflow

    @property
    def variance(self) -> float:
        """(high - low)² / 12."""
        width = self.high - self.low
        return width * width / 12.0

    def _sample(self, rng, size):
        return rng.uniform(self.low, self.high, size)

    def _cdf(self, x):
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)


@dataclass(frozen=True)
class Deterministic(Distribution):
    """Always ``value`` (a finite number >= 0). Its sampler never draws from the generator."""

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_nonnegative("Deterministic", "value", self.value))

    @property
    def mean(self) -> float:
        """The value."""
        return self.value

    @property
    def variance(self) -> float:
        """Zero."""
        return 0.0

    def sampler(self, rng: np.random.Generator, batch: int = 1024) -> Sampler:
        """Return a callable that always returns ``value`` and leaves ``rng`` untouched."""
        _check_rng("Deterministic", rng)
        return ConstantSampler(self, rng, check_int("Deterministic", "batch", batch, minimum=1))

    def _sample(self, rng, size):
        return np.full(size, self.value)

    def _cdf(self, x):
        return (x >= self.value).astype(float)


@dataclass(frozen=True)
class Pareto(Distribution):
    """Classic Pareto: minimum ``scale`` (x_m > 0) and tail index ``shape`` (alpha > 0).

    P(X > x) = (scale / x) ** shape for x >= scale. Heavy-tailed: the mean is infinite for
    shape <= 1 and the variance for shape <= 2.
    """

    shape: float
    scale: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", check_positive("Pareto", "shape", self.shape))
        object.__setattr__(self, "scale", check_positive("Pareto", "scale", self.scale))

    @property
    def mean(self) -> float:
        """Shape · scale / (shape - 1) for shape > 1, else inf."""
        a = self.shape
        return self.scale * (a / (a - 1.0)) if a > 1.0 else math.inf

    @property
    def variance(self) -> float:
        """scale² · shape / ((shape - 1)² (shape - 2)) for shape > 2, else inf."""
        a = self.shape
        if a <= 2.0:
            return math.inf
        ratio = self.scale / (a - 1.0)  # in this order no product can be inf * 0
        return ratio * ratio * (a / (a - 2.0))

    def _sample(self, rng, size):
        return self.scale * (1.0 + rng.pareto(self.shape, size))

    def _cdf(self, x):
        with np.errstate(divide="ignore"):
            tail = (self.scale / np.maximum(x, self.scale)) ** self.shape
        return 1.0 - tail


def _sequence(owner: str, param: str, value: Any, allowed: str) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise config_error(owner, param, allowed, value)
    items = tuple(value)
    if not items:
        raise config_error(owner, param, allowed, value)
    return items


@dataclass(frozen=True, repr=False)
class Empirical(Distribution):
    """Resamples observed durations uniformly, with replacement.

    ``data`` is a non-empty sequence of finite numbers >= 0, stored as a tuple of floats; the
    mean and (population) variance are those of the data. The repr shows the size and mean.
    """

    data: tuple[float, ...]

    def __post_init__(self) -> None:
        items = _sequence("Empirical", "data", self.data, "a non-empty sequence of numbers >= 0")
        data = tuple(check_nonnegative("Empirical", f"data[{i}]", v) for i, v in enumerate(items))
        object.__setattr__(self, "data", data)
        array = np.array(data)
        with np.errstate(over="ignore", invalid="ignore"):  # sums of values near the float max
            mean, variance = float(array.mean()), float(array.var())
        # Caches; not fields, so they stay out of ==, hash and repr.
        object.__setattr__(self, "_array", array)
        object.__setattr__(self, "_sorted", np.sort(array))
        object.__setattr__(self, "_moments", (mean, variance if mean < math.inf else math.inf))

    def __repr__(self) -> str:
        return f"Empirical(n={len(self.data)}, mean={self.mean!r})"

    @property
    def mean(self) -> float:
        """The mean of the data."""
        return self._moments[0]

    @property
    def variance(self) -> float:
        """The population variance of the data."""
        return self._moments[1]

    def _sample(self, rng, size):
        return self._array[rng.integers(0, len(self.data), size)]

    def _cdf(self, x):
        return np.searchsorted(self._sorted, x, side="right") / len(self.data)


@dataclass(frozen=True)
class Mixture(Distribution):
    """With probability ``weights[i]``, a draw from ``components[i]``.

    ``weights`` default to equal; they must be numbers > 0, one per component, and are stored
    normalised to sum to 1. Sampling draws every value's component first, then each
    component's share in component order.
    """

    components: tuple[Distribution, ...]
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        allowed = "a non-empty sequence of Distributions"
        components = _sequence("Mixture", "components", self.components, allowed)
        for i, component in enumerate(components):
            if not isinstance(component, Distribution):
                raise config_error("Mixture", f"components[{i}]", "a Distribution", component)
        n = len(components)
        if self.weights is None:
            weights = (1.0,) * n
        else:
            allowed = f"a sequence of {n} numbers > 0, one per component"
            items = _sequence("Mixture", "weights", self.weights, allowed)
            if len(items) != n:
                raise config_error("Mixture", "weights", allowed, self.weights)
            weights = [check_positive("Mixture", f"weights[{i}]", w) for i, w in enumerate(items)]
        top = max(weights)  # dividing by the largest first keeps the sum finite
        total = sum(w / top for w in weights)
        weights = tuple(w / top / total for w in weights)
        if min(weights) == 0.0:  # e.g. (5e-324, 1e10): the small one rounds to nothing
            allowed = "numbers > 0 whose ratios a float can hold"
            raise config_error("Mixture", "weights", allowed, self.weights)
        object.__setattr__(self, "components", components)
        object.__setattr__(self, "weights", weights)
        cumulative = np.cumsum(self.weights)
        object.__setattr__(self, "_cumulative", cumulative / cumulative[-1])  # ends at 1.0 exactly

    @property
    def mean(self) -> float:
        """The weighted mean of the components' means."""
        return sum(w * c.mean for w, c in zip(self.weights, self.components, strict=True))

    @property
    def variance(self) -> float:
        """E[Var] + Var[E] over the components (law of total variance)."""
        # Sum of w * (Var_i + (mean_i - mean)²): the form that cannot cancel to below zero.
        mean = self.mean
        if mean == math.inf:
            return math.inf
        pairs = zip(self.weights, self.components, strict=True)
        return sum(w * (c.variance + (c.mean - mean) * (c.mean - mean)) for w, c in pairs)

    def _sample(self, rng, size):
        which = self._cumulative.searchsorted(rng.random(size), side="right")
        out = np.empty(size)
        for i, component in enumerate(self.components):
            where = np.flatnonzero(which == i)
            if where.size:
                out[where] = component._sample(rng, where.size)
        return out

    def _cdf(self, x):
        return sum(w * c._cdf(x) for w, c in zip(self.weights, self.components, strict=True))


def as_distribution(value: Any, owner: str, param: str) -> Distribution:
    """Return ``value`` as a Distribution; components call this on their duration parameters.

    Args:
        value: a Distribution (returned as is), a number of seconds >= 0 or a duration string
            such as ``"250ms"`` (both become :class:`Deterministic`).
        owner: who asks, for the error message, e.g. ``"Server 'web1'"``.
        param: the parameter's name, for the error message.

    Raises:
        ConfigError: naming ``owner`` and ``param``, for anything else.
    """
    if isinstance(value, Distribution):
        return value
    try:
        return Deterministic(units.parse(value))
    except ConfigError as error:
        allowed = "a Distribution, a number >= 0 or a duration string"
        raise config_error(owner, param, allowed, value) from error
