"""Closed forms for the availability of repairable components and k-of-n systems.

Availability here is the long-run fraction of time a component or system is
up (DESIGN's *uptime*). Components are independent unless a function says
otherwise (shared repair crews make them dependent: :func:`k_of_n_repair`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hasim.errors import check_int, check_positive, check_probability, config_error

__all__ = [
    "availability",
    "nines",
    "series",
    "parallel",
    "k_of_n",
    "birth_death",
    "k_of_n_repair",
    "repair_chain",
    "k_of_n_domains",
    "beta_factor",
]


def availability(mttf: float, mttr: float) -> float:
    """Steady-state availability of one repairable component, ``MTTF / (MTTF + MTTR)``.

    The component alternates up periods (mean ``mttf``) and repairs (mean
    ``mttr``). By the alternating-renewal theorem the long-run fraction of time
    up is this ratio for *any* time-to-failure and time-to-repair distributions
    with these means (the periods need to be independent, not exponential).

    Args:
        mttf: mean time to failure, a number > 0.
        mttr: mean time to repair, a number > 0, in the same unit.

    Returns:
        The availability, in (0, 1).

    Raises:
        ConfigError: if an argument is out of range.
    """
    f = check_positive("availability", "mttf", mttf)
    r = check_positive("availability", "mttr", mttr)
    return f / (f + r)


def nines(a: float) -> float:
    """Availability as a number of nines, ``-log10(1 - a)``.

    ``nines(0.999) == 3`` (up to rounding), ``nines(1.0) == inf``, ``nines(0.0) == 0``.

    Args:
        a: an availability, a probability in [0, 1].

    Returns:
        The number of nines, >= 0 (``math.inf`` for ``a == 1``).

    Raises:
        ConfigError: if ``a`` is not a probability.
    """
    a = check_probability("nines", "a", a)
    if a == 1.0:
        return math.inf
    # 1 - a is exact for a >= 0.5 (Sterbenz), so no precision is lost where it matters;
    # abs() turns log10(1) = 0.0 into 0.0 rather than -0.0.
    return abs(math.log10(1.0 - a))


def series(*availabilities: float) -> float:
    """Availability of independent components in series (all needed): the product.

    Each component has its own repair crew (independence); with shared crews
    use ``k_of_n_repair(n, n, ...)`` or a ``CTMC``.

    Example:
        ``series(0.999, 0.999, 0.9999)``: a balancer, an app server and a database.
    """
    values = _check_availabilities("series", availabilities)
    return float(np.prod(values))


def parallel(*availabilities: float) -> float:
    """Availability of independent redundant components (any one suffices).

    ``1 - prod(1 - a_i)``; own crews, perfect failover (see ``active_passive_chain``
    for detection, switchover and coverage; ``k_of_n_repair(1, n, ...)`` for shared crews).
    """
    values = _check_availabilities("parallel", availabilities)
    return float(1.0 - np.prod(1.0 - values))


def _check_availabilities(owner: str, values: Sequence[float]) -> np.ndarray:
    if not values:
        raise config_error(owner, "availabilities", "one or more probabilities", "none")
    return np.array(
        [check_probability(owner, f"availabilities[{i}]", a) for i, a in enumerate(values)]
    )


def k_of_n(k: int, n: int, a: float) -> float:
    """Availability of a k-out-of-n system of independent identical components.

    ``P(at least k of n up) = sum_{i=k..n} C(n, i) a^i (1 - a)^(n - i)``, the
    binomial upper tail (evaluated with ``scipy.special.bdtrc``, accurate for
    large ``n``). Assumes the components fail and are repaired independently,
    e.g. each has its own repair crew; see :func:`k_of_n_repair` for shared crews.

    Args:
        k: components needed for the system to be up, an integer in [1, n].
        n: components in the system, an integer >= 1.
        a: availability of one component, a probability in [0, 1].

    Returns:
        The system availability, in [0, 1].

    Raises:
        ConfigError: if an argument is out of range.
    """
    k, n = _check_k_n("k_of_n", k, n)
    a = check_probability("k_of_n", "a", a)
    from scipy.special import bdtrc  # imported here: scipy.special costs 0.15 s at import

    # bdtrc(j, n, p) = P(Binomial(n, p) > j).
    return float(bdtrc(k - 1, n, a))


def birth_death(birth_rates: Sequence[float], death_rates: Sequence[float]) -> np.ndarray:
    """Steady-state distribution of a finite birth-death chain on states ``0..m``.

    ``birth_rates[i]`` is the rate of ``i -> i+1`` and ``death_rates[i]`` the rate
    of ``i+1 -> i``, for ``i = 0..m-1``. Detailed balance gives the product form
    ``pi_n = pi_0 prod_{i<n} birth_rates[i] / death_rates[i]``; the products are
    formed in log space and normalised, so long chains with extreme rate ratios
    neither overflow nor underflow to nonsense. All rates must be > 0, which
    makes the chain irreducible and the distribution unique.

    Args:
        birth_rates: ``m`` rates > 0 (``m`` may be 0: a single state).
        death_rates: ``m`` rates > 0, as many as ``birth_rates``.

    Returns:
        A float array of length ``m + 1`` that sums to 1.

    Raises:
        ConfigError: if a rate is not a number > 0 or the lengths differ.
    """
    births = _check_rates("birth_death", "birth_rates", birth_rates)
    deaths = _check_rates("birth_death", "death_rates", death_rates)
    if len(deaths) != len(births):
        raise config_error(
            "birth_death",
            "death_rates",
            f"a sequence as long as birth_rates ({len(births)})",
            death_rates,
        )
    return _product_form(np.log(births) - np.log(deaths))


def k_of_n_repair(k: int, n: int, mttf: float, mttr: float, crews: int | None = None) -> float:
    """Availability of a k-out-of-n system of repairable components sharing repair crews.

    Each of ``n`` identical components fails after an exponential time (mean
    ``mttf``) while it is up; a failed component queues FIFO for one of
    ``crews`` repair crews, and a repair takes an exponential time (mean
    ``mttr``). The number failed ``j`` is a birth-death chain on ``0..n`` with
    failure rate ``(n - j) / mttf`` and repair rate ``min(j, crews) / mttr``
    (see :func:`repair_chain`), and the system is up while at least ``k``
    components are, so the availability is ``P(j <= n - k)``.

    Assumes the up components keep failing while the system is down (the system
    is not switched off during an outage), repairs are independent of the rest,
    and no common-cause failures. With ``crews >= n`` (the default, ``None``:
    a crew per component) the components are independent and this equals
    ``k_of_n(k, n, availability(mttf, mttr))``; fewer crews lower it.

    Args:
        k: components needed for the system to be up, an integer in [1, n].
        n: components in the system, an integer >= 1.
        mttf: mean time to failure of one component, a number > 0.
        mttr: mean repair time of one component by one crew, a number > 0.
        crews: repair crews, an integer >= 1, or ``None`` for ``n``.

    Returns:
        The system availability, in [0, 1]. For very small unavailabilities sum
        the tail of :func:`repair_chain` instead of computing ``1 - result``.

    Raises:
        ConfigError: if an argument is out of range.
    """
    k, n = _check_k_n("k_of_n_repair", k, n)
    p = _repair_chain("k_of_n_repair", n, mttf, mttr, crews)
    return min(1.0, float(p[: n - k + 1].sum()))


def repair_chain(n: int, mttf: float, mttr: float, crews: int | None = None) -> np.ndarray:
    """Steady-state distribution of the number of failed components among ``n``.

    The chain of :func:`k_of_n_repair`: from ``j`` failed, a failure happens at
    rate ``(n - j) / mttf`` and a repair completes at rate ``min(j, crews) / mttr``
    (exponential times, FIFO repair queue, failures continue whatever the state).
    Entry ``j`` of the result is the long-run fraction of time with exactly ``j``
    failed, so a k-of-n system's unavailability is ``result[n - k + 1:].sum()``,
    accurate even when it is far below machine epsilon relative to 1.

    Args:
        n: components, an integer >= 1.
        mttf: mean time to failure of one component, a number > 0.
        mttr: mean repair time of one component by one crew, a number > 0.
        crews: repair crews, an integer >= 1, or ``None`` for ``n``.

    Returns:
        A float array of length ``n + 1`` that sums to 1.

    Raises:
        ConfigError: if an argument is out of range.
    """
    n = check_int("repair_chain", "n", n, minimum=1)
    return _repair_chain("repair_chain", n, mttf, mttr, crews)


def _repair_chain(owner: str, n: int, mttf: Any, mttr: Any, crews: Any) -> np.ndarray:
    fail, repair = repair_rates(owner, n, mttf, mttr, crews)
    return _product_form(np.log(fail) - np.log(repair))


def repair_rates(
    owner: str, n: int, mttf: Any, mttr: Any, crews: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The rates of the repair chain: ``j -> j + 1`` (a failure) and ``j + 1 -> j`` (a repair).

    ``j`` failed among ``n`` (j = 0..n-1); ``crews`` None is a crew per component.
    Arguments are checked in the name of ``owner``.
    """
    f = check_positive(owner, "mttf", mttf)
    r = check_positive(owner, "mttr", mttr)
    s = n if crews is None else check_int(owner, "crews", crews, minimum=1)
    j = np.arange(n)
    return (n - j) / f, np.minimum(j + 1, s) / r


def k_of_n_domains(k: int, sizes: Sequence[int], a: float, a_domain: float) -> float:
    """Availability of a k-out-of-n system whose nodes are spread over failure domains.

    Domain ``d`` holds ``sizes[d]`` nodes; a node is up while it and its domain
    are up. Every node (availability ``a``) and every domain (``a_domain``) fails
    and is repaired independently of the rest, e.g. each with a crew of its own
    and a node's own failures going on while its domain is down. Then the nodes
    up in a domain are 0 with probability ``1 - a_domain`` and otherwise
    ``Binomial(size, a)``; the domains are independent, so the total is the
    convolution of these laws, and the system is up while it is at least ``k``.

    Two nodes in two zones: ``k_of_n_domains(1, [1, 1], a, az) = 1 - (1 - az a)^2``;
    in one zone: ``k_of_n_domains(1, [2], a, az) = az (1 - (1 - a)^2)``.

    Args:
        k: nodes needed, an integer in [1, n] with ``n = sum(sizes)``.
        sizes: nodes per domain, integers >= 0 (at least one node in all).
        a: availability of a node on its own, a probability.
        a_domain: availability of a domain, a probability.

    Returns:
        The system availability, in [0, 1].

    Raises:
        ConfigError: if an argument is out of range.
    """
    owner = "k_of_n_domains"
    try:
        counts = [check_int(owner, f"sizes[{i}]", m) for i, m in enumerate(sizes)]
    except TypeError:
        raise config_error(owner, "sizes", "a sequence of integers >= 0", sizes) from None
    if sum(counts) < 1:
        raise config_error(owner, "sizes", "node counts with at least one node in all", sizes)
    k, _ = _check_k_n(owner, k, sum(counts))
    a = check_probability(owner, "a", a)
    a_domain = check_probability(owner, "a_domain", a_domain)
    from scipy.stats import binom  # imported here, as in k_of_n

    up = np.array([1.0])  # law of the number of nodes up so far
    for m in counts:
        domain = a_domain * binom.pmf(np.arange(m + 1), m, a)
        domain[0] += 1.0 - a_domain
        up = np.convolve(up, domain)
    return min(1.0, float(up[k:].sum()))


def beta_factor(k: int, n: int, mttf: float, mttr: float, beta: float) -> float:
    """Availability of a k-out-of-n group with common-cause failures (the beta-factor model).

    Each of ``n`` identical components fails at rate ``lambda = 1 / mttf``; a
    share ``beta`` of these failures is common to the group. Modelled as in
    ``hasim.Failures.split``: each component fails on its own at rate
    ``(1 - beta) lambda`` and is repaired by a crew of its own (mean ``mttr``),
    and the group fails as one at rate ``beta lambda``, taking every component
    down until its one repair (mean ``mttr``) ends. The processes are
    independent, so the group is up with probability
    ``A_c * k_of_n(k, n, A_i)``, with ``A_c = availability(mttf / beta, mttr)``
    and ``A_i = availability(mttf / (1 - beta), mttr)``; this holds for any
    repair-time law with that mean (alternating renewal).

    Args:
        k: components needed, an integer in [1, n].
        n: components in the group, an integer >= 1.
        mttf: mean time to failure of one component (all causes), a number > 0.
        mttr: mean repair time, a number > 0.
        beta: the common share of failures, a number in (0, 1).

    Returns:
        The group's availability, in [0, 1].

    Raises:
        ConfigError: if an argument is out of range.
    """
    k, n = _check_k_n("beta_factor", k, n)
    f = check_positive("beta_factor", "mttf", mttf)
    r = check_positive("beta_factor", "mttr", mttr)
    b = check_probability("beta_factor", "beta", beta)
    if not 0.0 < b < 1.0:
        raise config_error("beta_factor", "beta", "a number in (0, 1)", beta)
    common = availability(f / b, r)
    return k_of_n_domains(k, [n], availability(f / (1.0 - b), r), common)


def _product_form(log_ratios: np.ndarray) -> np.ndarray:
    # log pi_n - log pi_0 = cumulative sum of log(birth / death); shifting by the maximum
    # before exp() keeps every weight in [0, 1], so nothing overflows.
    log_w = np.concatenate(([0.0], np.cumsum(log_ratios)))
    p = np.exp(log_w - log_w.max())
    return p / p.sum()


def _check_k_n(owner: str, k: Any, n: Any) -> tuple[int, int]:
    n = check_int(owner, "n", n, minimum=1)
    k = check_int(owner, "k", k, minimum=1)
    if k > n:
        raise config_error(owner, "k", f"an integer in [1, n] = [1, {n}]", k)
    return k, n


def _check_rates(owner: str, param: str, values: Any) -> np.ndarray:
    try:
        items = list(values)
    except TypeError:
        raise config_error(owner, param, "a sequence of numbers > 0", values) from None
    return np.array(
        [check_positive(owner, f"{param}[{i}]", v) for i, v in enumerate(items)], dtype=float
    )
