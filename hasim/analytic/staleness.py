"""Probabilistically Bounded Staleness: closed forms for partial quorums.

From Bailis et al., *Probabilistically Bounded Staleness for Practical Partial
Quorums* (VLDB 2012): the chance a read misses the newest write when both
quorums are chosen at random (``stale_probability``), is ``k`` or more versions
behind (``k_staleness``), or misses a write acknowledged ``t`` seconds earlier
(``t_visibility``). ``hasim.replication.quorum.QuorumStore`` is checked against
them (tests/validation/test_quorum.py).

The general model is PBS's **WARS** (sec. 5): four one-way latencies per replica, W (the write
reaching it), A (its acknowledgement), R (a read request reaching it) and S (its response),
independent and identically distributed across replicas, any distributions. The write goes to
all N replicas and commits when the W-th acknowledgement arrives, at
``c = (W-th smallest of W_i + A_i)``; a read leaves the coordinator ``t`` after the commit,
reaches replica i at ``c + t + R_i`` and is answered by the first R responders (the R smallest
``R_i + S_i``; or, with ``fanout="quorum"``, by R replicas chosen at random). It is
consistent when any responder already had the write: ``W_i <= c + t + R_i``.
``wars_consistency`` integrates that numerically (tests/validation/test_wars.py checks the
simulated store against it), ``wars_visibility`` inverts it into t-visibility percentiles and
``wars_monte_carlo`` samples it, as a cross-check.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hasim.errors import (
    check_int,
    check_nonnegative,
    check_positive,
    check_probability,
    config_error,
)

if TYPE_CHECKING:
    from hasim.replication.quorum import WARS

__all__ = [
    "stale_probability",
    "k_staleness",
    "t_visibility",
    "wars_consistency",
    "wars_visibility",
    "wars_monte_carlo",
]

#: ``fanout`` choices of ``t_visibility``: the read fanouts of ``QuorumStore``
#: (``hasim.replication.quorum.FANOUTS``, repeated here: analytic does not import the core).
FANOUTS = ("all", "quorum")


def _check_nrw(owner: str, n: int, r: int, w: int) -> None:
    check_int(owner, "n", n, minimum=1)
    for param, value in (("r", r), ("w", w)):
        check_int(owner, param, value, minimum=1)
        if value > n:
            raise config_error(owner, param, f"an integer in [1, n={n}]", value)


def stale_probability(n: int, r: int, w: int) -> float:
    """The chance a read quorum of ``r`` misses a write held by exactly ``w`` of ``n`` replicas.

    ``C(n - w, r) / C(n, r)`` (PBS eq. 1): both quorums uniform at random; 0 when r + w > n.
    """
    _check_nrw("stale_probability", n, r, w)
    return math.comb(n - w, r) / math.comb(n, r)


def k_staleness(n: int, r: int, w: int, k: int) -> float:
    """The chance a read is at least ``k`` versions behind: ``stale_probability ** k``.

    PBS's k-staleness for non-expanding partial quorums: each of the last ``k`` writes reached
    only its own W replicas, chosen independently, and the read returns one of the last ``k``
    versions unless its R replicas miss all k write quorums. (``1 - k_staleness`` is the
    probability of reading one of the ``k`` newest versions.)
    """
    check_int("k_staleness", "k", k, minimum=0)
    return stale_probability(n, r, w) ** k


def t_visibility(n: int, r: int, w: int, t: float, mean: float, *, fanout: str = "all") -> float:
    """The chance a read issued ``t`` s after a write was acknowledged misses it.

    The model (PBS's WARS with exponential write propagation): the coordinator sends the write
    to all ``n`` replicas, each message arriving after an independent exponential delay of mean
    ``mean``; replies and service take no time, so the write is acknowledged when the W-th
    replica has it. By memorylessness each of the n - w others gets it an Exp(mean) time after
    the acknowledgement. The read leaves t later; its messages take Exp(mean) delays too.

    * ``fanout="quorum"``: the read goes to r random replicas:
      ``C(n-w, r)/C(n, r) * (exp(-t/mean) / 2) ** r``.
    * ``fanout="all"``: it goes to all n and the first r replies answer; the repliers are a
      uniform r-set whose delays are the r smallest of n exponentials (Rényi:
      ``sum_j E_j (r-j+1)/(n-j+1)``), so
      ``C(n-w, r)/C(n, r) * exp(-r t/mean) * prod_{j=1..r} (n-j+1)/(n+r-2j+2)``.
    """
    _check_nrw("t_visibility", n, r, w)
    t = check_nonnegative("t_visibility", "t", t)
    mean = check_positive("t_visibility", "mean", mean)
    if fanout not in FANOUTS:
        raise config_error("t_visibility", "fanout", '"all" or "quorum"', fanout)
    p = stale_probability(n, r, w)
    if fanout == "quorum":
        return p * (math.exp(-t / mean) / 2.0) ** r
    factor = math.prod((n - j + 1) / (n + r - 2 * j + 2) for j in range(1, r + 1))
    return p * math.exp(-r * t / mean) * factor


# -- WARS: any latency distributions ---------------------------------------------------------

_WARS_FIELDS = ("write", "ack", "read", "response")


def _check_wars(owner: str, wars: Any) -> None:
    for field in _WARS_FIELDS:
        if not hasattr(getattr(wars, field, None), "cdf"):
            allowed = "a WARS (write, ack, read and response distributions)"
            raise config_error(owner, "wars", allowed, wars)


def _reach(dist: Any, tail: float) -> float:
    """A point past which ``dist`` has at most ``tail`` of its mass (found by doubling)."""
    if dist.cdf(0.0) >= 1.0 - tail:
        return 0.0
    mean = dist.mean
    high = mean if 0.0 < mean < math.inf else 1.0
    while dist.cdf(high) < 1.0 - tail:
        high *= 2.0
        if high > 1e300:  # pragma: no cover - only for tails heavier than any float holds
            return high
    low = 0.0
    for _ in range(30):  # narrow it down to ~1e-9 of the bracket
        mid = 0.5 * (low + high)
        low, high = (low, mid) if dist.cdf(mid) >= 1.0 - tail else (mid, high)
    return high


def _masses(dist: Any, step: float, points: int) -> np.ndarray:
    """The mass of each grid point ``k * step`` (values rounded to the nearest point)."""
    edges = (np.arange(points + 1) - 0.5) * step
    cdf = np.asarray(dist.cdf(edges), dtype=float)
    cdf[0] = 0.0
    cdf[-1] = 1.0  # the tail beyond the grid goes to its last point
    return np.diff(cdf)


class _Grid:
    """The t-independent parts of the WARS integral, on a grid of ``points`` steps.

    Every latency is rounded to the nearest grid point (a midpoint rule); the response times
    ``L = R + S`` are spread uniformly over their grid cell, so the order of the responders is
    a continuous quantity and the cell where the R-th response falls is integrated exactly by
    Gauss-Legendre. The error falls as the square of the step (smooth densities).
    """

    def __init__(self, n: int, r: int, w: int, wars: Any, fanout: str, points: int, tail: float):
        from scipy import stats

        self.n, self.r, self.fanout = n, r, fanout
        self.write = wars.write
        reach = max(
            _reach(wars.write, tail) + _reach(wars.ack, tail),
            _reach(wars.read, tail) + _reach(wars.response, tail),
        )
        self.step = step = (reach if reach > 0.0 else 1.0) / (points - 1)
        self.x = np.arange(points) * step
        p_w, p_a = _masses(wars.write, step, points), _masses(wars.ack, step, points)
        p_d = np.convolve(p_w, p_a)[:points]
        p_d[-1] += 1.0 - p_d.sum()
        # The commit time: the W-th smallest W_j + A_j of the N - R replicas that did not
        # answer the read (a stale read's responders cannot have acknowledged the write).
        others = n - r
        f_c = stats.binom.sf(w - 1, others, np.minimum(np.cumsum(p_d), 1.0))
        p_c = np.diff(f_c, prepend=0.0)
        self.ci = np.flatnonzero(p_c > 1e-15)  # what is left out weighs < points * 1e-15
        self.p_c = p_c[self.ci]
        p_r = _masses(wars.read, step, points)
        self.ri = np.flatnonzero(p_r > 1e-15)
        self.p_r = p_r[self.ri]
        if fanout == "all":
            p_s = _masses(wars.response, step, points)
            self.p_s = p_s
            self.p_l = np.convolve(p_r, p_s)[:points]
            self.above = np.maximum(1.0 - np.cumsum(self.p_l), 0.0)  # P(L in a later cell)
            u, weight = np.polynomial.legendre.leggauss(n // 2 + 1)
            self.u, self.weight = (u + 1.0) / 2.0, weight / 2.0
            if r == 1:
                # One responder: sum_m phi[c, m] later(m) = sum_j weighted[c, j] kappa[j], with
                # kappa[j] = E_S[later(j + S)], the chance the other N - 1 answer after it.
                from scipy.signal import fftconvolve

                later = sum(
                    wt * (self.above + (1.0 - x) * self.p_l) ** (n - 1)
                    for x, wt in zip(self.u, self.weight, strict=True)
                )
                kappa = fftconvolve(later, p_s[::-1])[points - 1 : 2 * points - 1]
                self.kappa = np.clip(kappa, 0.0, None)[self.ri]

    def stale(self, t: float) -> float:
        """P(the read misses the write) at ``t`` after the commit."""
        n, r = self.n, self.r
        # missed[i, j]: the chance a replica has not got the write when the read reaches it,
        # for the commit at grid point ci[i] and the read request's delay at ri[j].
        spread = self.x[self.ci][:, None] + t + self.x[self.ri][None, :]
        missed = 1.0 - np.asarray(self.write.cdf(spread), dtype=float)
        if self.fanout == "quorum":
            per = missed @ self.p_r
            return float(self.p_c @ per**r)
        if r == 1:
            return float(n * (self.p_c @ ((missed * self.p_r) @ self.kappa)))
        from scipy.signal import fftconvolve

        points = self.x.size
        weighted = np.zeros((self.ci.size, points))
        weighted[:, self.ri] = missed * self.p_r
        # phi[c, m]: E[G * 1{L in cell m}] of one responder.
        phi = np.clip(fftconvolve(weighted, self.p_s[None, :], axes=1)[:, :points], 0.0, None)
        below = np.cumsum(phi, axis=1) - phi
        total = np.zeros(self.ci.size)
        for u, weight in zip(self.u, self.weight, strict=True):
            later = (self.above + (1.0 - u) * self.p_l) ** (n - r)
            total += weight * ((phi * (below + u * phi) ** (r - 1)) @ later)
        return float(math.comb(n, r) * r * (self.p_c @ total))


def _stale(n: int, r: int, w: int, wars: Any, fanout: str, points: int, tail: float) -> Any:
    """``t -> P(stale)``, Richardson-extrapolated from grids of ``points`` and half as many.

    The midpoint rule's error is ~ step**2, so ``(4 fine - coarse) / 3`` cancels it.
    """
    fine = _Grid(n, r, w, wars, fanout, points, tail)
    coarse = _Grid(n, r, w, wars, fanout, (points + 1) // 2, tail)

    def stale(t: float) -> float:
        return (4.0 * fine.stale(t) - coarse.stale(t)) / 3.0

    stale.step = fine.step  # type: ignore[attr-defined]
    return stale


def _check_wars_args(owner: str, n: int, r: int, w: int, wars: Any, fanout: str) -> None:
    _check_nrw(owner, n, r, w)
    _check_wars(owner, wars)
    if fanout not in FANOUTS:
        raise config_error(owner, "fanout", '"all" or "quorum"', fanout)


def _check_grid(owner: str, points: int, tail: float) -> tuple[int, float]:
    points = check_int(owner, "points", points, minimum=16)
    tail = check_positive(owner, "tail", tail)
    if tail >= 1e-3:
        raise config_error(owner, "tail", "a number in (0, 1e-3)", tail)
    return points, tail


def wars_consistency(
    n: int,
    r: int,
    w: int,
    wars: WARS,
    t: float | Any = 0.0,
    *,
    fanout: str = "all",
    points: int = 1024,
    tail: float = 1e-9,
) -> float | np.ndarray:
    """P(consistent): the chance a read that leaves ``t`` s after a write committed returns it.

    PBS's WARS model (Bailis et al., VLDB 2012, sec. 5; see the module docstring), integrated
    numerically for any latency distributions: with ``c`` the commit time (the W-th smallest
    ``W_j + A_j`` of the N - R replicas outside the read's responders) and ``G = 1 - F_W``,

    * ``fanout="quorum"`` (R random replicas): ``1 - E_c[(E_R[G(c + t + R)]) ** R]``;
    * ``fanout="all"`` (the first R of N responses): ``1 - C(N, R) E_c[E[prod_{i<=R}
      G(c + t + R_i); L_1..L_R the R smallest of N]]``, with ``L_i = R_i + S_i``: an integral
      over the R-th response time of ``R phi(m) Phi(m)**(R-1) P(L > m)**(N-R)``.

    The latencies are rounded to a grid of ``points`` steps up to where each has at most
    ``tail`` of its mass left: a midpoint rule, whose error falls as the square of the step
    for smooth densities (check a heavy tail or a point mass off the grid by doubling
    ``points``). R + W > N gives 1 (a strict quorum).

    Args:
        n: replicas (N).
        r: responses a read waits for (R, 1 <= R <= N).
        w: acknowledgements a write waits for (W, 1 <= W <= N).
        wars: the four latency distributions (a ``hasim.WARS``).
        t: seconds since the commit (>= 0), or an array of them.
        fanout: where reads go, as ``QuorumStore``'s ``read_fanout``; writes go to all N.
        points: grid points (an integer >= 16).
        tail: the mass each distribution may leave beyond the grid (0 < tail < 1e-3).

    The grid of ``points`` and one of half as many are Richardson-extrapolated, which cancels
    the step-squared term: for exponentials the answer is then within ~1e-6 of the closed
    form ``t_visibility`` at ``points=1024`` (0.1-0.2 s per t).

    Returns:
        A float, or an array shaped like ``t``.
    """
    owner = "wars_consistency"
    _check_wars_args(owner, n, r, w, wars, fanout)
    points, tail = _check_grid(owner, points, tail)
    times = np.asarray(t, dtype=float)
    if times.size and (not np.all(np.isfinite(times)) or times.min() < 0):
        raise config_error(owner, "t", "seconds >= 0 (a number or an array)", t)
    if r + w > n:
        out = np.ones(times.shape)
    else:
        stale = _stale(n, r, w, wars, fanout, points, tail)
        out = np.array([1.0 - stale(x) for x in times.ravel()]).reshape(times.shape)
        out = np.clip(out, 0.0, 1.0)
    return out if out.ndim else float(out)


def wars_visibility(
    n: int,
    r: int,
    w: int,
    wars: WARS,
    p: float = 0.999,
    *,
    fanout: str = "all",
    points: int = 1024,
    tail: float = 1e-9,
    rtol: float = 1e-4,
) -> float:
    """The t-visibility percentile: the smallest ``t`` with ``wars_consistency(t) >= p``.

    PBS's "how long after a commit is a read consistent with probability p" (e.g. p = 0.999).
    P(consistent) grows with t; the answer is bracketed by doubling and found by Brent's
    method to ``rtol`` (relative); it is 0 when a read at once is already consistent with
    probability ``p``.

    Args:
        n: replicas (N).
        r: responses a read waits for (R).
        w: acknowledgements a write waits for (W).
        wars: the four latency distributions (a ``hasim.WARS``).
        p: the probability of consistency wanted (0 < p < 1).
        fanout: where reads go, ``"all"`` or ``"quorum"``.
        points: grid points, as for ``wars_consistency``.
        tail: the mass left beyond the grid, as for ``wars_consistency``.
        rtol: relative precision of the answer (> 0).
    """
    owner = "wars_visibility"
    _check_wars_args(owner, n, r, w, wars, fanout)
    p = check_probability(owner, "p", p)
    if not 0.0 < p < 1.0:
        raise config_error(owner, "p", "a probability in (0, 1)", p)
    rtol = check_positive(owner, "rtol", rtol)
    if r + w > n:
        return 0.0
    points, tail = _check_grid(owner, points, tail)
    stale = _stale(n, r, w, wars, fanout, points, tail)
    gap = stale(0.0) - (1.0 - p)  # > 0 while P(consistent) < p
    if gap <= 0.0:
        return 0.0
    from scipy.optimize import brentq

    mean = wars.write.mean
    low, high = 0.0, max(stale.step, mean if 0.0 < mean < math.inf else 0.0)
    while stale(high) - (1.0 - p) > 0.0:
        low, high = high, 2.0 * high
        if high > 1e12:
            raise config_error(owner, "p", "a probability the reads reach in finite time", p)
    return float(brentq(lambda t: stale(t) - (1.0 - p), low, high, xtol=1e-15, rtol=rtol))


def wars_monte_carlo(
    n: int,
    r: int,
    w: int,
    wars: WARS,
    t: float,
    rng: np.random.Generator,
    *,
    samples: int = 100_000,
    fanout: str = "all",
) -> float:
    """P(consistent) of the WARS model by sampling (a cross-check of ``wars_consistency``).

    Draws ``samples`` independent operations (N replicas' W, A, R and S each) from ``rng``
    and returns the share of consistent reads; its binomial standard error is
    ``sqrt(p (1 - p) / samples)``.

    Args:
        n: replicas (N).
        r: responses a read waits for (R).
        w: acknowledgements a write waits for (W).
        wars: the four latency distributions (a ``hasim.WARS``).
        t: seconds since the commit (>= 0).
        rng: the generator to draw from.
        samples: operations to draw (an integer >= 1).
        fanout: where reads go, ``"all"`` or ``"quorum"``.
    """
    owner = "wars_monte_carlo"
    _check_wars_args(owner, n, r, w, wars, fanout)
    t = check_nonnegative(owner, "t", t)
    samples = check_int(owner, "samples", samples, minimum=1)
    if not isinstance(rng, np.random.Generator):
        raise config_error(owner, "rng", "a numpy.random.Generator", rng)
    shape = (samples, n)
    write, ack, read, response = (
        getattr(wars, field).sample(rng, samples * n).reshape(shape) for field in _WARS_FIELDS
    )
    commit = np.partition(write + ack, w - 1, axis=1)[:, w - 1 : w]
    if fanout == "all":
        chosen = np.argpartition(read + response, r - 1, axis=1)[:, :r]
    else:
        chosen = np.argsort(rng.random(shape), axis=1)[:, :r]
    arrive = np.take_along_axis(read, chosen, axis=1) + commit + t
    fresh = np.take_along_axis(write, chosen, axis=1) <= arrive
    return float(np.mean(fresh.any(axis=1)))
