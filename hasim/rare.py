"""Rare-event estimation of unavailability: importance sampling with balanced failure biasing.

A design with many nines shows its first outage after centuries of simulated time:
a 3-of-5 system with MTTF 10,000 h and MTTR 4 h per node is down 6.4e-10 of the time,
one outage every ~240,000 years. Naive simulation would need some 400 outages, 92
million simulated years (CPU hours even state-only) for a 10 % interval. Importance sampling
simulates a *biased* system in which failures are likely, and weighs every
observation by its likelihood ratio (how much likelier the path is under the
true model), so the estimate stays unbiased and its interval honest.

Method (Shahabuddin, "Importance sampling for the simulation of highly reliable
Markovian systems", Management Science 40, 1994; Nicola, Shahabuddin and
Heidelberger, 1993). The components' failures and repairs are exponential, so
the system is a continuous-time Markov chain on the components' states. The
estimator follows its embedded jump chain in *regenerative cycles* that start
and end with every component up:

- In a state where something has failed, *balanced failure biasing* gives the
  failure transitions together probability ``bias`` (0.5 by default), equally
  shared, and the repairs ``1 - bias``, in proportion to their rates. From the
  all-up state nothing is biased (only failures can happen there).
- Each jump multiplies the path's likelihood ratio by ``P(jump) / P'(jump)``.
- The time spent in a state is replaced by its mean ``1 / q(s)`` (a conditional
  expectation: less variance, no bias).
- Unavailability is the ratio of two cycle means, the weighted time down
  ``E[Z]`` over the weighted cycle length ``E[T]`` (the regenerative ratio
  estimator); its interval comes from the delta method over the cycles.

``estimate(sim)`` runs it on a built simulation; ``hs.Experiment(...,
rare=hs.FailureBiasing())`` runs it in every replication instead of the clock.

What it accepts: nodes (and failure domains) whose fault models are
``hs.Failures`` with exponential time to failure and time to repair, repaired at
once by a crew of their own or from a shared ``RepairCrews`` pool (FIFO), and a
structure predicate over their ``up``. Anything whose state is not such a chain
(clients, failover managers, gray failures, repair on detection, spares) is
refused with a message naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hasim.dist import Exponential, Uniform
from hasim.domains import Domain
from hasim.errors import ConfigError, check_int, config_error
from hasim.faults import Failures, RepairCrews
from hasim.node import DOWN, UP, Node

__all__ = ["FailureBiasing", "estimate"]


@dataclass(frozen=True)
class FailureBiasing:
    """Importance sampling with balanced failure biasing, in regenerative cycles.

    Args:
        cycles: regenerative cycles per replication (each starts and ends with
            everything up).
        bias: the probability given to failures, together, in a state where
            something has failed; in (0, 1). 0.5 is the classic choice; raise it
            for designs that need many failures to go down.
    """

    cycles: int = 20_000
    bias: float = 0.5

    def __post_init__(self) -> None:
        check_int("FailureBiasing", "cycles", self.cycles, minimum=2)
        if not (isinstance(self.bias, int | float) and 0.0 < self.bias < 1.0):
            raise config_error("FailureBiasing", "bias", "a number in (0, 1)", self.bias)


class _Unit:
    """One fault model of one node: fails at ``rate``, repaired at ``repair``."""

    __slots__ = ("node", "rate", "repair", "pool")

    def __init__(self, node: Node, rate: float, repair: float, pool: int | None) -> None:
        self.node = node
        self.rate = rate
        self.repair = repair
        self.pool = pool


def _units(sim: Any) -> tuple[list[_Unit], list[int]]:
    """The chain's units, and the size of each shared crew pool; refuse what is not Markov."""
    units: list[_Unit] = []
    pools: dict[RepairCrews, int] = {}
    for component in sim.components.values():
        label = component.label
        if isinstance(component, RepairCrews):
            continue
        if callable(getattr(component, "_ff_quiet", None)) and type(component).up is not Node.up:
            raise ConfigError(
                f"rare-event estimation: {label} runs a timed protocol (heartbeats, timeouts, "
                "promotion delays), so its state is not a Markov chain of failures and repairs; "
                "use fast_forward=hs.FastForward() to skip its quiet stretches instead"
            )
        if not isinstance(component, Node):
            raise ConfigError(
                f"rare-event estimation: {label} is not a node; it needs a model of nodes "
                "that fail and are repaired only (no clients, no workload: use workload=None)"
            )
        if type(component).up is not Node.up:
            raise ConfigError(
                f"rare-event estimation: {label}'s up depends on more than its own state "
                "(a failover protocol, a believed primary): not a Markov model of failures"
            )
        for model in component._models:
            what = f"rare-event estimation: {label}"
            if not isinstance(model, Failures):
                raise ConfigError(
                    f"{what}: {type(model).__name__} is not supported (Failures only)"
                )
            if not isinstance(model.ttf, Exponential) or not isinstance(model.ttr, Exponential):
                raise ConfigError(
                    f"{what}: ttf and ttr must be Exponential (the chain is Markov), got "
                    f"{model.ttf!r} and {model.ttr!r}"
                )
            if model.repair != "immediate" or model.spares is not None:
                raise ConfigError(f"{what}: repair on detection and spares are not supported")
            pool = None
            if model.crews is not None:
                pool = pools.setdefault(model.crews, len(pools))
            units.append(_Unit(component, 1.0 / model.ttf.mean, 1.0 / model.ttr.mean, pool))
    if not units:
        raise ConfigError("rare-event estimation: the model has no node that fails")
    sizes = [0] * len(pools)
    for crews, index in pools.items():
        sizes[index] = crews.crews
    return units, sizes


def _covering(sim: Any, nodes: list[Node]) -> dict[Node, list[Node]]:
    """For each node, the domains whose failure takes it down (nearest first, transitively)."""
    domains = [c for c in sim.components.values() if isinstance(c, Domain)]
    for domain in domains:
        domain._prepare()  # resolves its listed members
    direct: dict[Node, list[Node]] = {}
    for domain in domains:
        for member in (*domain.children, *domain.members):
            direct.setdefault(member, []).append(domain)
    covering: dict[Node, list[Node]] = {}
    for node in nodes:
        seen: list[Node] = []
        stack = list(direct.get(node, ()))
        while stack:
            domain = stack.pop()
            if domain not in seen:
                seen.append(domain)
                stack.extend(direct.get(domain, ()))
        covering[node] = seen
    return covering


def estimate(sim: Any, bias: FailureBiasing | None = None) -> dict[str, float]:
    """Estimate the unavailability of the design built in ``sim`` (which must not have run).

    Returns:
        ``unavailability`` (long-run share of time down), its 95 % ``half_width``
        (delta method over the cycles), ``failure_frequency`` (system failures
        per second), ``outage`` (mean outage duration, seconds), ``cycles`` and
        ``simulated`` (the equivalent simulated seconds: cycles x mean cycle length).
    """
    bias = bias or FailureBiasing()
    if sim._finished or sim.env.now > 0:
        raise ConfigError("rare-event estimation: give a simulation that has not run")
    units, pool_sizes = _units(sim)
    nodes = list(dict.fromkeys(u.node for u in units))
    nodes += [n for n in sim.nodes if n not in nodes]
    covering = _covering(sim, nodes)
    owner = {id(n): i for i, n in enumerate(nodes)}
    unit_node = [owner[id(u.node)] for u in units]
    cover_idx = [[owner[id(d)] for d in covering[n] if id(d) in owner] for n in nodes]
    # The estimator's own generator: the model's streams are not touched.
    draws = Uniform(0.0, 1.0).sampler(np.random.default_rng([sim.seed, 0xA7E]), batch=4096)
    try:
        return _run(sim, bias, units, pool_sizes, nodes, unit_node, cover_idx, draws)
    finally:
        for node in nodes:
            node.state = UP


def _run(sim, bias, units, pool_sizes, nodes, unit_node, cover_idx, draws) -> dict[str, float]:
    n_units = len(units)
    fail_rate = [u.rate for u in units]
    repair_rate = [u.repair for u in units]
    pool_of = [u.pool for u in units]
    p_fail = float(bias.bias)
    total_fail = math.fsum(fail_rate)

    def system_up(failed: list[bool]) -> bool:
        own = [False] * len(nodes)
        for i in range(n_units):
            if failed[i]:
                own[unit_node[i]] = True
        for j, node in enumerate(nodes):
            node.state = DOWN if own[j] or any(own[d] for d in cover_idx[j]) else UP
        return sim.system_up()

    zs, ts, fs = (np.empty(bias.cycles) for _ in range(3))
    for c in range(bias.cycles):
        failed = [False] * n_units
        queues: list[list[int]] = [[] for _ in pool_sizes]
        # The all-up state: its mean sojourn, then a failure chosen by rate (nothing biased).
        weight, z, t, f = 1.0, 0.0, 1.0 / total_fail, 0.0
        i = _pick(fail_rate, range(n_units), total_fail * draws())
        failed[i] = True
        if pool_of[i] is not None:
            queues[pool_of[i]].append(i)
        up = True
        while True:
            now_up = system_up(failed)
            if up and not now_up:
                f += weight  # a system failure, weighted by the path's likelihood ratio
            up = now_up
            fails = [j for j in range(n_units) if not failed[j]]
            repairs = [
                j
                for j in range(n_units)
                if failed[j]
                and (pool_of[j] is None or j in queues[pool_of[j]][: pool_sizes[pool_of[j]]])
            ]
            rate_f = math.fsum(fail_rate[j] for j in fails)
            rate_r = math.fsum(repair_rate[j] for j in repairs)
            q = rate_f + rate_r
            t += weight / q  # the state's mean sojourn
            if not up:
                z += weight / q
            # Balanced failure biasing: failures share p_fail equally, repairs the rest by rate.
            pf = p_fail if fails and repairs else (1.0 if fails else 0.0)
            u = draws()
            if u < pf:
                i = fails[min(int(u / pf * len(fails)), len(fails) - 1)]
                weight *= (fail_rate[i] / q) / (pf / len(fails))
                failed[i] = True
                if pool_of[i] is not None:
                    queues[pool_of[i]].append(i)
                continue
            i = _pick(repair_rate, repairs, (u - pf) / (1.0 - pf) * rate_r)
            weight *= rate_r / (q * (1.0 - pf))
            failed[i] = False
            if pool_of[i] is not None:
                queues[pool_of[i]].remove(i)
            if not any(failed):
                break  # back to all up: the cycle ends (a regeneration)
        zs[c], ts[c], fs[c] = z, t, f
    return _ratio(zs, ts, fs)


def _in_repair(unit: int, pool_of: list, queues: list[list[int]], sizes: list[int]) -> bool:
    """Whether a failed unit is being repaired: its own crew, or among its pool's first crews."""
    pool = pool_of[unit]
    return pool is None or unit in queues[pool][: sizes[pool]]


def _pick(rates: list[float], among: Any, target: float) -> int:
    """The index in ``among`` whose cumulative rate first exceeds ``target``."""
    last = -1
    for i in among:
        last = i
        target -= rates[i]
        if target < 0:
            return i
    return last  # rounding at the very end


def _ratio(zs: np.ndarray, ts: np.ndarray, fs: np.ndarray) -> dict[str, float]:
    """The regenerative ratio estimates and the delta-method half-width of E[Z] / E[T]."""
    from scipy import stats

    n = len(zs)
    mean_t = float(ts.mean())
    unavailability = float(zs.mean()) / mean_t
    spread = float(np.std(zs - unavailability * ts, ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * spread / math.sqrt(n) / mean_t
    frequency = float(fs.mean()) / mean_t
    return {
        "unavailability": unavailability,
        "half_width": half,
        "failure_frequency": frequency,
        "outage": unavailability / frequency if frequency > 0 else math.nan,
        "cycles": float(n),
        "simulated": n * mean_t,
    }
