"""Key-value workloads: open-loop reads and writes of keys, each recorded in a History.

A ``KVWorkload`` is a ``hasim.OpenLoop`` whose every request is one
``Operation``: a read (with probability ``read_share``) or a write of one of
``keys`` keys (0, 1, ..., keys - 1), drawn uniformly or by a Zipf law. The
kind and the key come from the client's own streams (``(name, "kv-kind")``,
``(name, "kv-key")``), so they never shift another component's draws. A
write writes its operation id: every value written is unique, which is what
makes a read's value say which write it saw.

Timeouts, retries, breakers and hedges work as for any client; the
operation's response is the request's final answer (see
``hasim.replication.history`` for how its value survives retries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hasim.errors import check_int, check_nonnegative, check_probability, config_error
from hasim.metrics.recorder import OK
from hasim.replication.history import READ, WRITE, History, history_of
from hasim.resilience import CircuitBreaker, Hedge, Retry
from hasim.sim import Simulation
from hasim.workload import Attempt, OpenLoop, Request

__all__ = ["Zipf", "KVWorkload", "popularity_pmf"]

_BATCH = 1024


@dataclass(frozen=True, slots=True)
class Zipf:
    """Zipf key popularity: the key of rank r (1, 2, ...) has weight ``1 / r**s``.

    ``s = 0`` is uniform; ``s`` near 1 is the classic web-cache skew.
    """

    s: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "s", check_nonnegative("Zipf", "s", self.s))

    def pmf(self, keys: int) -> np.ndarray:
        """The probability of each of ``keys`` keys, in rank order."""
        weights = np.arange(1, keys + 1, dtype=float) ** -self.s
        return weights / weights.sum()


def popularity_pmf(popularity: str | Zipf, keys: int) -> np.ndarray:
    """The probability of each key under ``popularity`` (``"uniform"`` or a ``Zipf``)."""
    if isinstance(popularity, Zipf):
        return popularity.pmf(keys)
    return np.full(keys, 1.0 / keys)


class _KV:
    """A workload's key-value settings and draws (one slot on the client: see Client's note)."""

    __slots__ = (
        "history",
        "read_share",
        "keys",
        "popularity",
        "cdf",
        "kind_u",
        "key_u",
        "kinds",
        "picks",
        "i",
    )

    def __init__(self, history: History, read_share: float, keys: int, popularity: Any) -> None:
        self.history = history
        self.read_share = read_share
        self.keys = keys
        self.popularity = popularity
        cdf = np.cumsum(popularity_pmf(popularity, keys))
        cdf[-1] = 1.0
        self.cdf = cdf
        self.kind_u: Any = None
        self.key_u: Any = None
        self.kinds: list[bool] = []
        self.picks: list[int] = []
        self.i = _BATCH


class KVWorkload(OpenLoop):
    """Open-loop clients reading and writing keys, every operation recorded in a History.

    Args:
        sim, name, target, rate, max_rate, timeout, deadline, retry, breaker,
            hedge, zone: as for ``hasim.OpenLoop``. ``target`` is a replicated
            service (it reads ``operation(attempt)``).
        read_share: the probability an operation is a read.
        keys: how many keys (an integer >= 1), named 0 .. keys - 1; key 0 is
            the most popular under Zipf.
        popularity: ``"uniform"`` or a ``hasim.Zipf(s)``.
        history: the History to record in (None: the simulation's shared
            one, ``history_of(sim)``).
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        target: Any,
        rate: Any,
        read_share: float = 0.9,
        keys: int = 100,
        popularity: str | Zipf = "uniform",
        max_rate: float | None = None,
        timeout: float | str | None = None,
        deadline: float | str | None = None,
        retry: Retry | None = None,
        breaker: CircuitBreaker | None = None,
        hedge: Hedge | None = None,
        zone: str | None = None,
        history: History | None = None,
    ) -> None:
        owner = f"KVWorkload {name!r}"
        read_share = check_probability(owner, "read_share", read_share)
        keys = check_int(owner, "keys", keys, minimum=1)
        if not (popularity == "uniform" or isinstance(popularity, Zipf)):
            raise config_error(owner, "popularity", '"uniform" or a hasim.Zipf(s)', popularity)
        if history is not None and not isinstance(history, History):
            raise config_error(owner, "history", "a History or None", history)
        if isinstance(sim, Simulation) and history is None:
            history = history_of(sim)
        kv = _KV(history, read_share, keys, popularity)
        super().__init__(
            sim,
            name,
            target=target,
            rate=rate,
            max_rate=max_rate,
            timeout=timeout,
            deadline=deadline,
            retry=retry,
            breaker=breaker,
            hedge=hedge,
            zone=zone,
        )
        self._kv = kv

    @property
    def history(self) -> History:
        """Where the operations are recorded."""
        return self._kv.history

    @property
    def read_share(self) -> float:
        """The probability an operation is a read."""
        return self._kv.read_share

    @property
    def keys(self) -> int:
        """How many keys."""
        return self._kv.keys

    @property
    def popularity(self) -> str | Zipf:
        """``"uniform"`` or the ``Zipf`` law of key popularity."""
        return self._kv.popularity

    def _prepare(self) -> None:
        super()._prepare()
        kv = self._kv
        kind_rng = self.sim.rng(self.name, "kv-kind")
        key_rng = self.sim.rng(self.name, "kv-key")
        kv.kind_u = lambda: kind_rng.random(_BATCH)
        kv.key_u = lambda: key_rng.random(_BATCH)

    def issue(self, key: Any = None, kind: str | None = None) -> Request:
        """Issue one operation now; the kind and key not given are drawn.

        The draws are made either way, so a scripted operation does not shift
        the random ones that follow.
        """
        kv = self._kv
        if kv.i == _BATCH:  # draw kinds and keys in batches (searchsorted maps u to a key)
            kv.i = 0
            kv.kinds = (kv.kind_u() >= kv.read_share).tolist()
            kv.picks = np.searchsorted(kv.cdf, kv.key_u(), side="right").tolist()
        i = kv.i
        kv.i = i + 1
        if kind is None:
            kind = WRITE if kv.kinds[i] else READ
        elif kind not in (READ, WRITE):
            raise config_error(self.label, "kind", '"read" or "write"', kind)
        if key is None:
            key = min(kv.picks[i], kv.keys - 1)
        op = kv.history.invoke(self.name, kind, key, self.env._now)
        request = super().issue(op)
        op.request = request.id
        return request

    def _settle(self, attempt: Attempt, outcome: str, responder: str | None) -> None:
        if outcome == OK:  # this try's answer is the one the client sees
            attempt.key._settled = attempt.number
        super()._settle(attempt, outcome, responder)

    def _ended(self, request: Request) -> None:
        op = request.key
        op.request = request.id
        self._kv.history.complete(op, request.outcome, request.responder, self.env._now)
