"""A small continuous-time Markov chain toolkit, and ready chains for redundancy designs.

Reliability engineers model a design as a chain of states (which parts are up,
what the failover is doing) with exponential rates between them. ``CTMC`` builds
the generator from named states and rates and answers the usual questions:

- ``steady_state()``: the long-run share of time in each state (``pi Q = 0``);
- ``availability(up)``: the long-run share of time in the up states;
- ``failure_frequency(up)``: system failures per unit time, hence the system's
  MTBF and mean outage (``outage_duration``);
- ``mean_time_to(targets, start)``: the mean first-passage time into a set of
  states (time to absorption, mean time to first failure with ``mttff``);
- ``transient(t, start)``: the state distribution at time ``t`` (point availability).

``active_passive_chain`` and ``k_of_n_chain`` are the chains of the two classic
redundancy designs, with the parameters the simulator's components take;
``duplex_availability`` is the closed form of the first with instant phases (the
duplex with imperfect coverage).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from hasim.analytic.reliability import _check_k_n, repair_rates
from hasim.errors import (
    check_choice,
    check_nonnegative,
    check_positive,
    check_probability,
    config_error,
)

__all__ = ["CTMC", "active_passive_chain", "duplex_availability", "k_of_n_chain"]

State = Hashable


class CTMC:
    """A finite continuous-time Markov chain.

    Args:
        states: the states, any hashable labels, in the order of the generator's rows.
        rates: the transition rates, ``{(src, dst): rate}`` or an iterable of
            ``(src, dst, rate)``; rates of the same pair add up; zero rates are
            allowed and ignored; a rate from a state to itself is refused.

    Example:
        >>> chain = CTMC(["up", "down"], {("up", "down"): 1 / 1000, ("down", "up"): 1 / 10})
        >>> round(chain.availability(["up"]), 6)
        0.990099

    Raises:
        ConfigError: an unknown or repeated state, a negative or non-finite rate.
    """

    def __init__(
        self,
        states: Sequence[State],
        rates: Mapping[tuple[State, State], float] | Iterable[tuple[State, State, float]],
    ) -> None:
        self.states = tuple(states)
        if not self.states:
            raise config_error("CTMC", "states", "a non-empty sequence of labels", states)
        self._index = {s: i for i, s in enumerate(self.states)}
        if len(self._index) != len(self.states):
            raise config_error("CTMC", "states", "distinct labels", list(self.states))
        if isinstance(rates, Mapping):
            rates = [(src, dst, rate) for (src, dst), rate in rates.items()]
        q = np.zeros((len(self.states), len(self.states)))
        for src, dst, rate in rates:
            i, j = self.index(src, "rates"), self.index(dst, "rates")
            rate = check_nonnegative("CTMC", f"rate {src!r} -> {dst!r}", rate)
            if i == j and rate > 0:
                raise config_error(
                    "CTMC", f"rate {src!r} -> {dst!r}", "a transition between two states", rate
                )
            q[i, j] += rate
        np.fill_diagonal(q, -q.sum(axis=1))
        #: The generator: ``Q[i, j]`` is the rate of i -> j, rows sum to 0.
        self.generator = q

    def index(self, state: State, param: str = "state") -> int:
        """The row of ``state`` in the generator."""
        try:
            return self._index[state]
        except (KeyError, TypeError):
            raise config_error(
                "CTMC", param, f"one of the chain's states {list(self.states)}", state
            ) from None

    def _set(self, states: Iterable[State] | Callable[[State], bool], param: str) -> np.ndarray:
        """A boolean mask of the states in ``states`` (a collection or a predicate)."""
        if callable(states):
            mask = np.array([bool(states(s)) for s in self.states])
        else:
            mask = np.zeros(len(self.states), dtype=bool)
            for s in states:
                mask[self.index(s, param)] = True
        return mask

    def _start(self, start: Any) -> np.ndarray:
        """An initial distribution: a state, or ``{state: probability}``."""
        p = np.zeros(len(self.states))
        if isinstance(start, Mapping):
            for s, w in start.items():
                p[self.index(s, "start")] += check_probability("CTMC", f"start[{s!r}]", w)
            if not np.isclose(p.sum(), 1.0):
                raise config_error("CTMC", "start", "probabilities that sum to 1", start)
        else:
            p[self.index(start, "start")] = 1.0
        return p

    def steady_state(self) -> dict[State, float]:
        """The stationary distribution: ``pi Q = 0``, ``sum(pi) = 1``.

        Raises:
            ConfigError: the chain has no unique stationary distribution: it has two
                or more closed classes (absorbing states, or parts that never meet).
                A single absorbing state is fine: all the mass ends there.
        """
        n = len(self.states)
        a = np.vstack([self.generator.T, np.ones(n)])
        b = np.zeros(n + 1)
        b[-1] = 1.0
        pi, _, rank, _ = np.linalg.lstsq(a, b, rcond=None)
        if rank < n:
            raise config_error(
                "CTMC",
                "rates",
                "a chain with one closed class for a unique steady state",
                "a chain with two or more (absorbing states, or parts that never meet)",
            )
        exact = _gth(self.generator)
        pi = np.clip(pi, 0.0, None) if exact is None else exact
        pi /= pi.sum()
        return dict(zip(self.states, pi.tolist(), strict=True))

    def availability(self, up: Iterable[State] | Callable[[State], bool]) -> float:
        """Long-run share of time in the ``up`` states (a collection or a predicate)."""
        pi = np.fromiter(self.steady_state().values(), float)
        return float(pi[self._set(up, "up")].sum())

    def failure_frequency(self, up: Iterable[State] | Callable[[State], bool]) -> float:
        """System failures per unit time: the steady flow from up states into down ones."""
        mask = self._set(up, "up")
        pi = np.fromiter(self.steady_state().values(), float)
        return float(pi[mask] @ self.generator[np.ix_(mask, ~mask)].sum(axis=1))

    def outage_duration(self, up: Iterable[State] | Callable[[State], bool]) -> float:
        """Mean length of a system outage, ``(1 - A) / failure frequency`` (the system MTTR)."""
        freq = self.failure_frequency(up)
        return (1.0 - self.availability(up)) / freq if freq > 0 else float("nan")

    def mean_time_to(self, targets: Iterable[State] | Callable[[State], bool], start: Any) -> float:
        """Mean time from ``start`` (a state or a distribution) until the chain enters ``targets``.

        Solves ``-Q_TT t = 1`` over the other states T. Infinite when some
        state reachable from ``start`` cannot reach ``targets``.
        """
        hit = self._set(targets, "targets")
        if not hit.any():
            raise config_error("CTMC", "targets", "at least one state", targets)
        p = self._start(start)
        rest = ~hit
        if not (p[rest] > 0).any():
            return 0.0
        q = self.generator[np.ix_(rest, rest)]
        try:
            t = np.linalg.solve(-q, np.ones(rest.sum()))
        except np.linalg.LinAlgError:
            return float("inf")
        if not np.all(np.isfinite(t)) or (t < 0).any():
            return float("inf")
        return float(p[rest] @ t)

    def mttff(self, up: Iterable[State] | Callable[[State], bool], start: Any) -> float:
        """Mean time to first failure: from ``start`` until the chain first leaves ``up``."""
        mask = self._set(up, "up")
        return self.mean_time_to(
            [s for s, u in zip(self.states, mask, strict=True) if not u], start
        )

    def transient(self, t: float, start: Any) -> dict[State, float]:
        """The state distribution at time ``t`` from ``start``: ``p0 exp(Q t)``."""
        from scipy.linalg import expm

        t = check_nonnegative("CTMC", "t", t)
        p = self._start(start) @ expm(self.generator * t)
        return dict(zip(self.states, np.clip(p, 0.0, 1.0).tolist(), strict=True))

    def __repr__(self) -> str:
        return f"CTMC({len(self.states)} states)"


def _gth(generator: np.ndarray) -> np.ndarray | None:
    """The stationary vector by Grassmann-Taksar-Heyman state reduction, or None.

    GTH uses no subtraction, so it stays accurate on stiff chains (an instant
    phase modelled as a rate 1e9 times the others), where least squares on
    ``pi Q = 0`` loses five digits. None when a censored state has no way
    back (transient states feeding a closed class): the caller keeps the
    least-squares answer. Grassmann, Taksar and Heyman, "Regenerative analysis
    and steady state distributions for Markov chains", Oper. Res. 33 (1985).
    """
    a = np.array(generator, dtype=float)
    np.fill_diagonal(a, 0.0)
    n = len(a)
    for k in range(n - 1, 0, -1):
        s = a[k, :k].sum()
        if not s > 0.0:
            return None
        a[:k, k] /= s
        a[:k, :k] += np.outer(a[:k, k], a[k, :k])
    pi = np.zeros(n)
    pi[0] = 1.0
    for k in range(1, n):
        pi[k] = pi[:k] @ a[:k, k]
    return pi


def active_passive_chain(
    mttf: float,
    mttr: float,
    *,
    detection: float = 0.0,
    switchover: float = 0.0,
    coverage: float = 1.0,
    coverage_on: str = "active",
) -> tuple[CTMC, set[str]]:
    """The chain of an active-passive pair with a crew each, and its up states.

    Both members fail at rate ``1/mttf`` and are repaired at rate ``1/mttr``.
    After the active one fails, the failure is detected after a mean
    ``detection`` and the standby promoted after a mean ``switchover``, both
    exponential phases (0: instant); the promotion works with probability
    ``coverage``, else the pair stays down until the failed member is repaired.
    The pair is symmetric (no failback): "the active" and "the other".
    For ``hasim.ActivePassive`` with heartbeats every ``h`` and a timeout ``T``,
    ``detection = T - h/2`` is the mean silence before suspicion.

    States: ``0`` both up; ``Det`` active down, undetected; ``Sw`` switching over;
    ``S1`` active up, other down; ``B2d``, ``B2``, ``B`` both down (undetected,
    switching, waiting); ``F`` failed promotion, other up; ``BF`` failed promotion,
    both down. Up states: ``{"0", "S1"}``.

    With ``coverage_on="any"`` (``ActivePassive(coverage_on="any")``) the other
    member's failure is subject to coverage too: once detected (mean ``detection``)
    while the active one is trusted, it is covered with probability ``coverage``;
    uncovered, the pair is down ("wedged") until the failed member is repaired.
    Extra states: ``S1u`` active up, other down and undetected (up); ``H`` wedged,
    active up; ``HBd``, ``HB`` wedged, active down too (undetected, detected: no
    failover while wedged, one starts when the other member is repaired);
    ``B2o`` both down and undetected, the other first (its detection draws the
    coverage). Up states: ``{"0", "S1u", "S1"}``. With instant phases this is the
    duplex with imperfect coverage (Trivedi, *Probability and Statistics with
    Reliability, Queuing and Computer Science Applications*, 2nd ed., 2002): the
    mean time from both up to its first outage other than a covered failover
    (``mean_time_to`` any state but ``0, S1u, S1, Det, Sw``) is the book's
    ``(lam (1 + 2c) + mu) / (2 lam (lam + mu (1 - c)))``, and the availability is
    :func:`duplex_availability`. The chain counts an uncovered outage as over at
    the failed member's repair, as ``ActivePassive.up`` does.

    Args:
        mttf: a member's mean time to failure, > 0.
        mttr: a member's mean time to repair (a crew each), > 0.
        detection: mean time from a crash to its detection, >= 0 (0: instant).
        switchover: mean promotion delay, >= 0 (0: instant).
        coverage: probability that a promotion (and with ``"any"``, a standby's
            failure) is covered.
        coverage_on: ``"active"`` or ``"any"``: which failures coverage applies to.

    Returns:
        ``(chain, up_states)``.
    """
    owner = "active_passive_chain"
    lam = 1.0 / check_positive(owner, "mttf", mttf)
    mu = 1.0 / check_positive(owner, "mttr", mttr)
    c = check_probability(owner, "coverage", coverage)
    mode = check_choice(owner, "coverage_on", coverage_on, ("active", "any"))
    # An instant phase is a rate far above every other one: its mass vanishes.
    fast = 1e9 * (lam + mu)
    eta = fast if check_nonnegative(owner, "detection", detection) == 0 else 1.0 / detection
    delta = fast if check_nonnegative(owner, "switchover", switchover) == 0 else 1.0 / switchover
    rates = {
        "0": {"Det": lam, "S1": lam},
        "Det": {"Sw": eta, "B2d": lam, "0": mu},
        "Sw": {"S1": delta * c, "F": delta * (1 - c), "B2": lam, "0": mu},
        "S1": {"0": mu, "B2d": lam},
        "B2d": {"B2": eta, "S1": mu, "Det": mu},
        "B2": {"B": delta, "S1": mu, "Sw": mu},
        "B": {"S1": mu + mu * c, "F": mu * (1 - c)},
        "F": {"0": mu, "BF": lam},
        "BF": {"S1": mu, "F": mu},
    }
    up = {"0", "S1"}
    if mode == "any":
        rates["0"] = {"Det": lam, "S1u": lam}
        rates |= {
            "S1u": {"S1": eta * c, "H": eta * (1 - c), "0": mu, "B2o": lam},
            # The other failed first, so it is detected first: the active's detection waits.
            "B2o": {"B2d": eta * c, "HBd": eta * (1 - c), "S1u": mu, "Det": mu},
            "H": {"0": mu, "HBd": lam},
            "HBd": {"HB": eta, "H": mu, "Det": mu},
            "HB": {"H": mu, "Sw": mu},
        }
        up.add("S1u")
    chain = CTMC(
        list(rates), [(src, dst, r) for src, out in rates.items() for dst, r in out.items()]
    )
    return chain, up


def duplex_availability(
    mttf: float, mttr: float, coverage: float, coverage_on: str = "any"
) -> float:
    """Steady-state availability of a duplex with imperfect coverage, instant detection.

    Two units, a crew each (exponential failures, rate ``lam = 1/mttf``, and repairs,
    ``mu = 1/mttr``; failures go on during an outage). A covered failure leaves the
    pair running on the other unit; an uncovered one (probability ``1 - coverage``)
    takes it down until the failed unit is repaired; a unit failing while the other is
    down takes the pair down until a repair. With ``coverage_on="any"`` every unit's
    failure from the both-up state is subject to coverage (the duplex of Trivedi's
    *Probability and Statistics with Reliability, Queuing and Computer Science
    Applications*, 2nd ed., 2002, with a crew per unit); with ``"active"`` only the
    active unit's (``hasim.ActivePassive``'s default).

    Each unit is up with probability ``a = mu / (lam + mu)`` whatever the pair does, so
    both are up with probability ``a^2`` and exactly one with ``2 a (1 - a)``; flow
    balance over the one-up states gives the share of it in which the pair serves::

        k = lam (1 - c) / (lam + 2 mu)
        A = a^2 + (2 a (1 - a) - 2 k a^2) / (1 + k)             ("active")
        A = a^2 + (2 a (1 - a) - 2 k a^2 (2 + k)) / (1 + k)     ("any")

    It is the limit of :func:`active_passive_chain` with ``detection=0`` and
    ``switchover=0``, and ``parallel(a, a)`` when ``coverage`` is 1.

    Args:
        mttf: a unit's mean time to failure, > 0.
        mttr: a unit's mean time to repair, > 0.
        coverage: probability that a failure is covered, in [0, 1].
        coverage_on: ``"any"`` or ``"active"``.

    Returns:
        The availability, in [0, 1].

    Raises:
        ConfigError: if an argument is out of range.
    """
    owner = "duplex_availability"
    lam = 1.0 / check_positive(owner, "mttf", mttf)
    mu = 1.0 / check_positive(owner, "mttr", mttr)
    c = check_probability(owner, "coverage", coverage)
    mode = check_choice(owner, "coverage_on", coverage_on, ("active", "any"))
    a = mu / (lam + mu)
    k = lam * (1.0 - c) / (lam + 2.0 * mu)
    uncovered = 2.0 * k * a * a * ((2.0 + k) if mode == "any" else 1.0)
    return a * a + (2.0 * a * (1.0 - a) - uncovered) / (1.0 + k)


def k_of_n_chain(
    k: int, n: int, mttf: float, mttr: float, crews: int | None = None
) -> tuple[CTMC, set[int]]:
    """The chain of a k-of-n system whose failed components wait for ``crews`` repairers.

    State ``i`` is the number of failed components: failures at ``(n - i)/mttf``,
    repairs at ``min(i, crews)/mttr`` (``crews=None``: one per component). Up
    states: ``i <= n - k``. The same chain as ``k_of_n_repair``, as a CTMC, so
    its MTTFF, outage frequency and transient behaviour are one call away.

    Returns:
        ``(chain, up_states)``.
    """
    k, n = _check_k_n("k_of_n_chain", k, n)
    fail, repair = repair_rates("k_of_n_chain", n, mttf, mttr, crews)
    rates = [(j, j + 1, rate) for j, rate in enumerate(fail.tolist())]
    rates += [(j + 1, j, rate) for j, rate in enumerate(repair.tolist())]
    return CTMC(range(n + 1), rates), set(range(n - k + 1))
