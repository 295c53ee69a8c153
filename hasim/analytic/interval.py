"""Availability over a finite window, exactly, for a Markov model.

A continuous-time Markov chain (``hasim.analytic.CTMC``) with a set of up states answers
more than the long-run share of time up:

* ``point_availability(chain, up, times, start)``: A(t) = P(up at t), the transient
  solution ``p0 exp(Q t)`` (scipy's ``expm``), e.g. from a cold start;
* ``expected_interval_availability(chain, up, window, start)``: the mean share of
  ``[0, T]`` up, ``(1/T) int_0^T A(t) dt``, from one matrix exponential of the chain's
  generator augmented with its reward column (Van Loan's block form);
* ``interval_availability_cdf(chain, up, window, x, start)``: the distribution of
  the share of ``[0, T]`` spent up, P(A_T <= x), by randomisation (de Souza e Silva and
  Gail, "Calculating availability and performability measures of repairable computer
  systems using randomization", J. ACM 36(1), 1989). The chain is uniformised at rate
  ``L >= max |q_ii|``: ``N`` ~ Poisson(L T) jumps of the chain ``P = I + Q / L``; given
  ``N = n`` the ``n + 1`` sojourns are the spacings of ``n`` uniform points, so the share
  up, given that ``k`` of the ``n + 1`` visited states are up, is a sum of ``k`` spacings:
  Beta(k, n + 1 - k). P(k | n) comes from a recursion over (state, up visits so far).
  The Poisson sum is truncated where its tail is below ``eps`` (1e-10), the only error;
  the cost is about ``n_max^2 (|S|^2 + len(x))`` with ``n_max ~ L T + 7 sqrt(L T)``:
  a fraction of a second for a month of a repairable node (L T ~ 720 to 4,000), some
  25 s at L T ~ 40,000 (a long window of a fast-repaired node: prefer simulation there).
  The distribution has an atom at 1 (never down in the window) and one at 0;
  ``interval_availability_cdf`` is P(A_T <= x), so at ``x < 1`` it excludes the first;
* ``slo_attainment(chain, up, window, target, start)``: P(A_T >= target), the chance
  that a window meets an availability objective ("guaranteed availability");
* ``error_budget(...)``: the budget ``(1 - target) T``, the expected downtime and the
  share of the budget it spends, and P(the budget is exhausted) = P(A_T < target);
* ``performability(chain, reward, window, start)``: the long-run (or, with a window,
  the expected interval-mean) reward rate for a reward per state, e.g. the share of
  capacity a k-of-n cluster serves in each state.

``hs.interval_availability`` measures the same things by simulation, for any model;
``tests/validation/test_interval.py`` checks that the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from hasim.analytic.ctmc import CTMC
from hasim.errors import check_positive, check_probability, config_error

__all__ = [
    "point_availability",
    "expected_interval_availability",
    "interval_availability_cdf",
    "slo_attainment",
    "error_budget",
    "performability",
]

OWNER = "interval availability"
#: The Poisson tail left out of the randomisation sum.
EPS = 1e-10


def _chain(chain: Any) -> CTMC:
    if not isinstance(chain, CTMC):
        raise config_error(OWNER, "chain", "a hasim.analytic.CTMC", chain)
    return chain


def _window(window: Any) -> float:
    from hasim.units import parse

    try:
        value = parse(window)
    except Exception:
        raise config_error(OWNER, "window", 'a duration > 0 (seconds or "30d")', window) from None
    value = check_positive(OWNER, "window", value)
    if math.isinf(value):
        raise config_error(OWNER, "window", "a finite duration", window)
    return value


def _reward(chain: CTMC, reward: Any) -> np.ndarray:
    n = len(chain.states)
    if isinstance(reward, Mapping):
        r = np.zeros(n)
        for state, value in reward.items():
            r[chain.index(state, "reward")] = float(value)
        return r
    if callable(reward):
        return np.array([float(reward(s)) for s in chain.states])
    raise config_error(
        OWNER, "reward", "a mapping {state: reward} or a function of the state", reward
    )


def point_availability(
    chain: CTMC, up: Iterable[Any] | Callable[[Any], bool], times: Any, start: Any
) -> np.ndarray:
    """A(t) = P(the chain is in an up state at t), from ``start``, at each of ``times``."""
    from scipy.linalg import expm

    chain = _chain(chain)
    mask = chain._set(up, "up")
    p0 = chain._start(start)
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.size and (not np.all(np.isfinite(t)) or t.min() < 0):
        raise config_error(OWNER, "times", "finite instants >= 0", times)
    q = chain.generator
    return np.array([float(np.clip(p0 @ expm(q * x), 0, 1)[mask].sum()) for x in t])


def _accumulated(chain: CTMC, r: np.ndarray, window: float, p0: np.ndarray) -> float:
    """``p0 int_0^T exp(Q s) ds r``: the expected reward accumulated over the window."""
    from scipy.linalg import expm

    n = len(r)
    block = np.zeros((n + 1, n + 1))
    block[:n, :n] = chain.generator * window
    block[:n, n] = r * window
    return float(p0 @ expm(block)[:n, n])


def expected_interval_availability(
    chain: CTMC, up: Iterable[Any] | Callable[[Any], bool], window: Any, start: Any
) -> float:
    """The expected share of ``[0, window]`` spent in up states, from ``start``."""
    chain = _chain(chain)
    width = _window(window)
    r = chain._set(up, "up").astype(float)
    return _accumulated(chain, r, width, chain._start(start)) / width


def _occupation(
    chain: CTMC, up: Any, window: float, xs: np.ndarray, start: Any, eps: float
) -> tuple[np.ndarray, float]:
    """P(share up <= x) for each x < 1 (the atom at 1 excluded), and P(share up = 1)."""
    from scipy import special, stats

    mask = chain._set(up, "up")
    p0 = chain._start(start)
    q = chain.generator
    rate = float(max(-np.diag(q).min(), 0.0))
    if rate == 0.0:  # nothing ever moves: the start's up share is the whole answer
        share_up = float(p0[mask].sum())
        return np.where(xs >= 0, 1.0 - share_up, 0.0), share_up
    lt = rate * window
    n_max = int(stats.poisson.isf(eps, lt)) + 1
    weights = stats.poisson.pmf(np.arange(n_max + 1), lt)
    p = np.eye(len(p0)) + q / rate
    pt = p.T.copy()
    # v[s, k]: P(state s after m jumps, k of the m + 1 visited states up).
    v = np.zeros((len(p0), n_max + 2))
    v[mask, 1] = p0[mask]
    v[~mask, 0] = p0[~mask]
    cdf = np.zeros(xs.size)
    atom = 0.0
    inner = (xs > 0) & (xs < 1)
    x_inner = xs[inner]
    for m in range(n_max + 1):
        w = weights[m]
        if w > eps * 1e-3:
            dist = v[:, : m + 2].sum(axis=0)  # over k = 0..m+1
            atom += w * dist[m + 1]
            part = np.full(xs.size, dist[0])  # all down: share 0 <= x for every x >= 0
            if m >= 1 and x_inner.size:
                k = np.arange(1, m + 1)
                beta = special.betainc(k[:, None], (m + 1 - k)[:, None], x_inner[None, :])
                part[inner] += dist[1 : m + 1] @ beta
            part[xs >= 1] = dist[: m + 1].sum()  # every share < 1 (atom excluded at x = 1)
            part[xs < 0] = 0.0
            cdf += w * part
        if m == n_max:
            break
        nxt = pt @ v
        v = np.zeros_like(v)
        v[~mask] = nxt[~mask]
        v[mask, 1:] = nxt[mask, :-1]
    return np.clip(cdf, 0.0, 1.0), float(min(max(atom, 0.0), 1.0))


def interval_availability_cdf(
    chain: CTMC,
    up: Iterable[Any] | Callable[[Any], bool],
    window: Any,
    x: Any,
    start: Any,
    eps: float = EPS,
) -> Any:
    """P(the share of ``[0, window]`` spent up <= ``x``), by randomisation (module docstring).

    ``x`` a number or an array. At ``x >= 1`` the answer is 1.
    """
    chain = _chain(chain)
    width = _window(window)
    xs = np.atleast_1d(np.asarray(x, dtype=float))
    if not np.all(np.isfinite(xs)):
        raise config_error(OWNER, "x", "finite shares", x)
    cdf, atom = _occupation(chain, up, width, xs, start, eps)
    out = np.where(xs >= 1, 1.0, cdf)
    return float(out[0]) if np.ndim(x) == 0 else out


def slo_attainment(
    chain: CTMC,
    up: Iterable[Any] | Callable[[Any], bool],
    window: Any,
    target: float,
    start: Any,
    eps: float = EPS,
) -> float:
    """P(availability over ``[0, window]`` >= ``target``): the chance a window meets the SLO."""
    chain = _chain(chain)
    width = _window(window)
    target = check_probability(OWNER, "target", target)
    cdf, atom = _occupation(chain, up, width, np.array([target]), start, eps)
    if target >= 1.0:
        return atom
    if target <= 0.0:
        return 1.0
    # The share has no atom strictly inside (0, 1): P(A < target) = P(A <= target).
    return float(min(1.0, max(0.0, 1.0 - cdf[0])))


def error_budget(
    chain: CTMC,
    up: Iterable[Any] | Callable[[Any], bool],
    window: Any,
    target: float,
    start: Any,
) -> dict[str, float]:
    """The error budget of an availability SLO over one window, and how it is spent.

    Returns:
        ``budget`` (seconds of downtime allowed, ``(1 - target) window``), ``downtime``
        (expected seconds down), ``spent`` (expected share of the budget used) and
        ``p_exhausted`` (P(the downtime exceeds the budget) = P(A_T < target)).
    """
    width = _window(window)
    target = check_probability(OWNER, "target", target)
    allowed = (1.0 - target) * width
    downtime = (1.0 - expected_interval_availability(chain, up, width, start)) * width
    return {
        "target": target,
        "budget": allowed,
        "downtime": downtime,
        "spent": downtime / allowed if allowed > 0 else math.inf,
        "p_exhausted": 1.0 - slo_attainment(chain, up, width, target, start),
    }


def performability(chain: CTMC, reward: Any, window: Any = None, start: Any = None) -> float:
    """The expected reward rate: long-run ``sum(pi r)``, or over ``[0, window]`` from ``start``.

    Args:
        chain: the CTMC.
        reward: ``{state: reward}`` (missing states earn 0) or ``reward(state)``.
        window: None for the long run; else the window's length.
        start: the state (or distribution) at the window's start (needed with a window).
    """
    chain = _chain(chain)
    r = _reward(chain, reward)
    if window is None:
        pi = np.fromiter(chain.steady_state().values(), float)
        return float(pi @ r)
    if start is None:
        raise config_error(OWNER, "start", "the state at the window's start", start)
    width = _window(window)
    return _accumulated(chain, r, width, chain._start(start)) / width
