"""The vectorised engine: independent renewal processes, many cycles at once on numpy arrays.

When every component fails and is repaired on its own (a crew of its own, no
shared pool, no domain, nothing watching), each one is an alternating renewal
process: up for a drawn time to failure, down for a drawn time to repair, again.
Its whole history is then a cumulative sum of its draws, and the system's state
after each component event is the structure expression evaluated over arrays of
component states. ``sim.run(until, engine="vector")`` does that, in blocks of
simulated time so memory stays flat in the horizon.

It is **the same estimator as the event engines**, and gives the same numbers:
each component draws from the same streams in the same order, the event times are
the same sequential sums (``np.cumsum`` adds in order, seeded with the previous
block's last time), and the system log, hence ``summary()``, is identical to the
lean and general engines' for the same seed (the tests check it). Ties between
two components' events at the very same instant (possible only with discrete
times) may be taken in another order.

**When it applies** (refused otherwise, with the reason): what the lean engine
runs (``hasim.lean``), without shared ``RepairCrews`` or failure domains, and with a structure
expression or the default series structure (a lambda cannot be evaluated on arrays).
The result keeps no component history, like the lean engine's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hasim import dist, faults
from hasim.errors import ConfigError
from hasim.lean import SystemLog

__all__ = ["check", "run"]

#: Distributions whose numpy draws are element by element, so one large draw equals
#: the concatenation of the samplers' 64-value batches (the event engines' values).
_SEQUENTIAL = (
    dist.Exponential, dist.Weibull, dist.LogNormal, dist.Gamma, dist.Uniform, dist.Pareto,
)  # fmt: skip

#: Component events per block: memory is about (components + 4) * 8 bytes each.
_BLOCK_EVENTS = 1 << 18


def check(sim: Any, why_not_lean: str | None) -> None:
    """Refuse ``sim`` if the vectorised engine cannot run it, saying why."""
    why = why_not_lean
    if why is not None and why.startswith('record="requests"'):
        why = None  # the vector engine keeps no per-request rows anyway; states only
    if why is None:
        for node in sim.nodes:
            if node._listeners:  # a failure domain: its members are not independent of it
                why = f"{node.label} takes its members down with it"
                break
            for model in node._models:
                if model.crews is not None:
                    why = f"{node.label} shares the crews of {model.crews.label}"
                    break
            if why:
                break
    if why is None and sim._predicate is not None:
        why = "up_when was given a lambda (give a structure expression: hs.k_of_n, hs.all_of ...)"
    if why is not None:
        raise ConfigError(
            "Simulation.run: the vector engine needs independent components with crews of "
            f"their own and a structure expression: {why}"
        )


class _Renewal:
    """One fault model's alternating up/down times, drawn a block at a time."""

    __slots__ = ("ttf", "ttr", "last", "times", "pos", "chunk")

    def __init__(self, ttf: Any, ttr: Any, cycle: float, until: float) -> None:
        self.ttf = ttf
        self.ttr = ttr
        self.last = 0.0
        #: Event times not yet consumed: failure, repair, failure, ... (even: failure).
        self.times = np.empty(0)
        self.pos = 0  # index of the next event in the full alternating sequence
        mean_cycles = until / cycle if cycle > 0 and math.isfinite(cycle) else 1.0
        self.chunk = int(min(max(64, 1.2 * mean_cycles / 8 + 64), 1 << 16))

    def _draw(self, sampler: Any, size: int) -> np.ndarray:
        d = sampler.dist
        if isinstance(d, dist.Deterministic):
            return np.full(size, d.value)
        # Hand out what the sampler already holds first (it is in drawn order reversed).
        held = sampler._buffer[::-1][:size]
        del sampler._buffer[len(sampler._buffer) - len(held) :]
        rest = size - len(held)
        if rest <= 0:
            return np.asarray(held, dtype=float)
        if isinstance(d, _SEQUENTIAL):
            fresh = d._sample(sampler.rng, rest)
        else:  # draw exactly as the sampler would: whole batches, the surplus kept
            batches = -(-rest // sampler.batch)
            drawn = np.concatenate([d._sample(sampler.rng, sampler.batch) for _ in range(batches)])
            fresh = drawn[:rest]
            surplus = drawn[rest:].tolist()
            surplus.reverse()
            sampler._buffer = surplus
        return np.concatenate([np.asarray(held, dtype=float), fresh])

    def until(self, end: float) -> tuple[np.ndarray, int]:
        """The events before ``end`` not yet handed out, and the index of the first one."""
        while not self.times.size or self.times[-1] < end:
            n = self.chunk
            steps = np.empty(2 * n + 1)
            steps[0] = self.last
            steps[1::2] = self._draw(self.ttf, n)
            steps[2::2] = self._draw(self.ttr, n)
            more = np.cumsum(steps)[1:]  # in order, from the last time: the same sums
            self.last = float(more[-1])
            self.times = np.concatenate([self.times, more])
        cut = int(np.searchsorted(self.times, end, side="left"))
        out, self.times = self.times[:cut], self.times[cut:]
        first = self.pos
        self.pos += cut
        return out, first


def _node_moves(renewals: list[_Renewal], end: float) -> tuple[np.ndarray, np.ndarray]:
    """A node's fault-model events before ``end``: times, +1 (a cause down) or -1 (repaired)."""
    times, moves = [], []
    for renewal in renewals:
        t, first = renewal.until(end)
        times.append(t)
        # event j of a model's sequence is a failure when j is even
        moves.append(np.where((np.arange(first, first + t.size) & 1) == 0, 1, -1))
    if len(renewals) == 1:
        return times[0], moves[0]
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    return t[order], np.concatenate(moves)[order]


def _reward_terms(rec: Any, t: np.ndarray, values: np.ndarray) -> None:
    """Stream a block's reward changes into the recorder, as ``Recorder.reward`` would.

    The same terms, ``previous value * clipped interval``, added in the same order
    (``np.cumsum`` is sequential), so the integral is the event engines' float.
    """
    before = np.empty(values.size)
    before[0] = rec.reward_value
    before[1:] = values[:-1]
    change = np.flatnonzero(values != before)
    if not change.size:
        return
    times, vals = t[change], values[change]
    since = np.concatenate([[rec.reward_since], times[:-1]])
    previous = np.concatenate([[rec.reward_value], vals[:-1]])
    lo, hi = np.maximum(since, rec.warmup), np.minimum(times, rec.until)
    terms = previous[hi > lo] * (hi - lo)[hi > lo]
    if terms.size:
        rec.reward_integral = float(np.cumsum(np.concatenate([[rec.reward_integral], terms]))[-1])
    rec.reward_value = float(vals[-1])
    rec.reward_since = float(times[-1])


def _state_at_start(up_now: np.ndarray, node_of: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Each node's state (1 up, 0 down) before the block's first move, from its state after."""
    state = up_now.astype(np.int64)
    np.subtract.at(state, node_of, d)  # undo the block's moves
    return state


def run(sim: Any, until: float, warmup: float) -> Any:
    """Run ``sim`` (checked by ``check``) to ``until`` on arrays; return its RunResult."""
    from hasim.metrics.result import RunResult

    rec = sim.recorder
    rec.open(warmup, until, [c.name for c in sim.components.values()])
    nodes = list(sim.nodes)
    units: list[tuple[int, _Renewal]] = []
    for i, node in enumerate(nodes):
        for model in node._models:
            model.check(node.label, sim)
            faults._claim(node, model.cause)
            ttf = sim.sampler(model.ttf, node.name, faults._streams(model.cause, "ttf"), 64)
            ttr = sim.sampler(model.ttr, node.name, faults._streams(model.cause, "ttr"), 64)
            units.append((i, _Renewal(ttf, ttr, model.ttf.mean + model.ttr.mean, until)))
    structure = sim.structure
    names = [node.name for node in nodes]
    if structure is None:
        from hasim.structure import all_of

        structure = all_of(names) if names else None
    reward = sim.reward
    if reward is not None and not hasattr(reward, "evaluate_array"):
        raise ConfigError(
            "Simulation.run: the vector engine needs a reward it can evaluate on arrays "
            f"(hs.share_up), got {reward!r}"
        )
    leaves = list(structure.names) if structure is not None else []
    if reward is not None:
        leaves += [name for name in reward.names if name not in leaves]
    leaf_nodes = [names.index(name) for name in leaves]

    log = SystemLog()
    up = True  # every node starts up
    log.append((0.0, up, None))
    rec.system_log = log
    if reward is not None:
        rec.reward(0.0, 1.0 if up else 0.0)  # every node up: the whole capacity
    codes = np.array([log.code(name) for name in names], dtype=np.int32)
    # A flat gate over distinct nodes is a counter of nodes up (one cumulative sum);
    # anything else is evaluated over per-leaf state columns.
    counting = (
        reward is None
        and structure is not None
        and all(not hasattr(child, "children") for child in structure.children)
        and len(set(leaves)) == len(structure.children)
    )
    is_leaf = np.zeros(len(nodes), dtype=bool)
    is_leaf[leaf_nodes] = True
    by_node: dict[int, list[_Renewal]] = {}
    for i, renewal in units:
        by_node.setdefault(i, []).append(renewal)
    node_down = np.zeros(len(nodes), dtype=np.int64)  # causes holding at the block start
    up_now = np.ones(len(nodes), dtype=bool)  # each node's state at the block start
    per_block = max(1.0, _BLOCK_EVENTS / max(1, len(units)) / 2)
    rate = sum(2.0 / (u.ttf.dist.mean + u.ttr.dist.mean) for _, u in units)
    span = until if rate == 0 else max(per_block / rate, 1e-9 * until)
    start = 0.0
    while start < until and units:
        end = min(until, start + span)
        times, who, sign = [], [], []
        for i, renewals in by_node.items():
            if not is_leaf[i]:  # drawn all the same: its streams advance as in a full run
                for renewal in renewals:
                    renewal.until(end)
                continue
            t, moves = _node_moves(renewals, end)
            if not t.size:
                continue
            # Causes down after each move; the node's state flips where it leaves or reaches 0.
            count = node_down[i] + np.cumsum(moves)
            node_down[i] = count[-1]
            was_up = np.concatenate([[up_now[i]], count[:-1] == 0])
            now_up = count == 0
            flips = now_up != was_up
            up_now[i] = now_up[-1]
            times.append(t[flips])
            who.append(np.full(int(flips.sum()), i, dtype=np.int64))
            sign.append(np.where(now_up[flips], 1, -1))
        start = end
        if not times:
            continue
        t = np.concatenate(times)
        if not t.size:
            continue
        node_of = np.concatenate(who)
        d = np.concatenate(sign)
        order = np.argsort(t, kind="stable")  # sorted runs, merged; ties in node order
        t, node_of, d = t[order], node_of[order], d[order]
        if counting:
            ups_before = int(np.count_nonzero(_state_at_start(up_now, node_of, d)[leaf_nodes]))
            system = (ups_before + np.cumsum(d)) >= structure.k
        else:
            columns = {}
            start_state = _state_at_start(up_now, node_of, d)
            for leaf, n in zip(leaves, leaf_nodes, strict=True):
                mine = node_of == n
                columns[leaf] = (start_state[n] + np.cumsum(np.where(mine, d, 0))) > 0
            system = structure.evaluate_array(columns)
            if reward is not None:
                _reward_terms(rec, t, reward.evaluate_array(columns) * system)
        before = np.empty(system.size, dtype=bool)
        before[0] = up
        before[1:] = system[:-1]
        flips = np.flatnonzero(system != before)
        if flips.size:
            log.extend_codes(t[flips], system[flips], codes[node_of[flips]])
        up = bool(system[-1])
    sim._system_up = up
    sim.env._now = until
    rec.state_log = None  # no component history (as the lean engine)
    return RunResult.from_simulation(sim)
