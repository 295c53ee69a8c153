"""Probabilistically Bounded Staleness: closed forms for partial quorums.

From Bailis et al., *Probabilistically Bounded Staleness for Practical Partial
Quorums* (VLDB 2012): the chance a read misses the newest write when both
quorums are chosen at random (``stale_probability``), is ``k`` or more versions
behind (``k_staleness``), or misses a write acknowledged ``t`` seconds earlier
(``t_visibility``). ``hasim.replication.quorum.QuorumStore`` is checked against
them (tests/validation/test_quorum.py).
"""

from __future__ import annotations

import math

from hasim.errors import check_int, check_nonnegative, check_positive, config_error

__all__ = ["stale_probability", "k_staleness", "t_visibility"]

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
