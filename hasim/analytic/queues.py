"""Closed forms for Markovian queues: Erlang B and C, M/M/c and M/M/c/K.

Notation: arrivals are Poisson with rate ``lambda``, service times are
exponential with rate ``mu`` (mean ``1/mu``), there are ``c`` identical
servers and one FIFO queue. ``a = lambda / mu`` is the offered load in
Erlangs and ``rho = a / c`` the offered load per server. Times are in the
same unit as ``1 / rate``.

The simulator's validation tests compare measured queues with these values,
so every result is exact up to floating-point rounding (no approximations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hasim.errors import check_int, check_nonnegative, check_positive, config_error

__all__ = ["QueueMetrics", "erlang_b", "erlang_c", "mmc", "mmck"]


@dataclass(frozen=True)
class QueueMetrics:
    """Steady-state measures of an M/M/c or M/M/c/K queue.

    Times are per customer and count only admitted customers (a blocked
    arrival neither waits nor is served); lengths are time averages.

    Attributes:
        utilisation: mean fraction of the ``c`` servers that are busy,
            ``throughput / (c mu)``. For M/M/c this is ``rho = lambda / (c mu)``;
            for M/M/c/K it is the carried load, below ``rho`` by the blocked share.
        p_wait: probability that an admitted arrival has to wait (all servers busy).
        mean_wait: mean time in the queue before service, ``Wq``.
        mean_response: mean time in the system, ``W = Wq + 1/mu``.
        mean_queue_length: mean number waiting, ``Lq = throughput * Wq``.
        mean_in_system: mean number waiting or in service, ``L = throughput * W``.
        throughput: rate of admitted (and, in steady state, departing) customers.
        blocking: probability that an arrival is turned away (``p_K``; 0 for M/M/c).
        probabilities: ``(p_0, ..., p_K)``, the distribution of the number in the
            system for M/M/c/K; empty for M/M/c, whose state space is infinite.
    """

    utilisation: float
    p_wait: float
    mean_wait: float
    mean_response: float
    mean_queue_length: float
    mean_in_system: float
    throughput: float
    blocking: float = 0.0
    probabilities: tuple[float, ...] = field(default=(), repr=False)


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of the Erlang loss system M/M/c/c.

    ``B(c, a) = (a^c / c!) / sum_{k=0..c} a^k / k!``, the probability that an
    arrival finds all ``c`` servers busy and is lost. By insensitivity the same
    value holds for M/G/c/c (any service-time distribution with mean ``1/mu``).

    Computed with the recursion ``B(0) = 1``,
    ``B(k) = a B(k-1) / (k + a B(k-1))``, which never overflows and is stable
    for any ``c`` and ``a``.

    Args:
        servers: number of servers ``c``, an integer >= 1.
        offered_load: ``a = lambda / mu`` in Erlangs, a number >= 0.

    Returns:
        The blocking probability, in [0, 1].

    Raises:
        ConfigError: if an argument is out of range.
    """
    c = check_int("erlang_b", "servers", servers, minimum=1)
    a = check_nonnegative("erlang_b", "offered_load", offered_load)
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival has to wait in an M/M/c queue (Erlang C).

    ``C(c, a) = c B / (c - a (1 - B))`` with ``B = erlang_b(c, a)``, which equals
    the textbook ``(a^c / c!) c / (c - a) / (sum_{k<c} a^k / k! + (a^c / c!) c / (c - a))``
    without its overflow. By PASTA it is also the time-average probability that
    all servers are busy. Assumes Poisson arrivals, exponential service and an
    infinite FIFO queue; requires ``a < c`` (a stable queue).

    Args:
        servers: number of servers ``c``, an integer >= 1.
        offered_load: ``a = lambda / mu`` in Erlangs, a number >= 0 and < ``servers``.

    Returns:
        The probability of waiting, in [0, 1).

    Raises:
        ConfigError: if an argument is out of range or the queue is unstable.
    """
    c = check_int("erlang_c", "servers", servers, minimum=1)
    a = check_nonnegative("erlang_c", "offered_load", offered_load)
    if a >= c:
        raise config_error(
            "erlang_c", "offered_load", f"< servers ({c}) for a stable M/M/c queue", offered_load
        )
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def mmc(arrival_rate: float, service_rate: float, servers: int = 1) -> QueueMetrics:
    """Steady-state measures of the M/M/c queue (infinite FIFO queue).

    With ``a = lambda / mu``, ``rho = a / c`` and ``C = erlang_c(c, a)``::

        p_wait = C
        Wq = C / (c mu - lambda)        W = Wq + 1 / mu
        Lq = lambda Wq                  L = lambda W       (Little's law)

    For ``c = 1`` these reduce to ``W = 1 / (mu - lambda)`` and ``L = rho / (1 - rho)``.
    Requires ``rho < 1``; an unstable queue has no steady state.

    Args:
        arrival_rate: Poisson arrival rate ``lambda``, a number >= 0.
        service_rate: service rate per server ``mu``, a number > 0.
        servers: number of servers ``c``, an integer >= 1.

    Returns:
        The measures; ``blocking`` is 0 and ``probabilities`` is empty.

    Raises:
        ConfigError: if an argument is out of range or ``lambda >= c mu``.
    """
    lam = check_nonnegative("mmc", "arrival_rate", arrival_rate)
    mu = check_positive("mmc", "service_rate", service_rate)
    c = check_int("mmc", "servers", servers, minimum=1)
    if lam >= c * mu:
        raise config_error(
            "mmc",
            "arrival_rate",
            f"< servers * service_rate = {c * mu!r} (utilisation < 1, or the queue is unstable)",
            arrival_rate,
        )
    p_wait = erlang_c(c, lam / mu)
    wq = p_wait / (c * mu - lam)
    w = wq + 1.0 / mu
    return QueueMetrics(
        utilisation=lam / (c * mu),
        p_wait=p_wait,
        mean_wait=wq,
        mean_response=w,
        mean_queue_length=lam * wq,
        mean_in_system=lam * w,
        throughput=lam,
    )


def mmck(arrival_rate: float, service_rate: float, servers: int, capacity: int) -> QueueMetrics:
    """Steady-state measures of the M/M/c/K queue (at most K in the system).

    ``capacity`` ``K >= c`` counts customers in service plus waiting; an arrival
    that finds ``K`` present is blocked and lost. The number in the system is a
    birth-death chain with birth rate ``lambda`` and death rate ``min(n, c) mu``,
    so ``p_n`` is proportional to ``prod_{i=1..n} lambda / (min(i, c) mu)``; the
    products are formed in log space and normalised, which is stable for large
    ``K`` and ``c`` and for any ``rho``, including ``rho >= 1``. Then::

        blocking = p_K                  throughput X = lambda (1 - p_K)
        L = sum n p_n                   Lq = sum max(n - c, 0) p_n
        W = L / X                       Wq = Lq / X        (Little's law, admitted)
        p_wait = sum_{n=c..K-1} p_n / (1 - p_K)            (PASTA)

    ``X`` is computed as ``mu sum min(n, c) p_n`` (equal by flow balance, and
    accurate when ``p_K`` is close to 1). With ``K = c`` this is the Erlang loss
    system, ``blocking == erlang_b(c, lambda / mu)``; as ``K`` grows with
    ``rho < 1`` it converges to :func:`mmc`.

    Args:
        arrival_rate: Poisson arrival rate ``lambda``, a number >= 0.
        service_rate: service rate per server ``mu``, a number > 0.
        servers: number of servers ``c``, an integer >= 1.
        capacity: maximum number in the system ``K``, an integer >= ``servers``.

    Returns:
        The measures, with ``blocking`` and ``probabilities = (p_0, ..., p_K)``.
        With ``lambda = 0`` the waits are their limits, ``Wq = 0`` and ``W = 1/mu``.

    Raises:
        ConfigError: if an argument is out of range.
    """
    lam = check_nonnegative("mmck", "arrival_rate", arrival_rate)
    mu = check_positive("mmck", "service_rate", service_rate)
    c = check_int("mmck", "servers", servers, minimum=1)
    k = check_int("mmck", "capacity", capacity, minimum=1)
    if k < c:
        raise config_error("mmck", "capacity", f"an integer >= servers ({c})", capacity)

    n = np.arange(k + 1)
    busy = np.minimum(n, c).astype(float)
    if lam == 0.0:
        p = np.zeros(k + 1)
        p[0] = 1.0
    else:
        # log p_n - log p_0 = sum_{i=1..n} log(lambda / (min(i, c) mu)); shifting by the
        # maximum before exp() keeps every weight in [0, 1], so nothing overflows.
        log_w = np.concatenate(([0.0], np.cumsum(math.log(lam / mu) - np.log(busy[1:]))))
        p = np.exp(log_w - log_w.max())
        p /= p.sum()

    admitted = float(p[:-1].sum())  # 1 - p_K, without the cancellation when p_K ~ 1
    throughput = mu * float(busy @ p)
    mean_in_system = float(n @ p)
    mean_queue_length = float(np.maximum(n - c, 0) @ p)
    if throughput > 0.0:
        mean_wait = mean_queue_length / throughput
        mean_response = mean_in_system / throughput
        p_wait = float(p[c:k].sum()) / admitted
    else:
        mean_wait, mean_response, p_wait = 0.0, 1.0 / mu, 0.0
    return QueueMetrics(
        utilisation=throughput / (c * mu),
        p_wait=p_wait,
        mean_wait=mean_wait,
        mean_response=mean_response,
        mean_queue_length=mean_queue_length,
        mean_in_system=mean_in_system,
        throughput=throughput,
        blocking=float(p[-1]),
        probabilities=tuple(p.tolist()),
    )
