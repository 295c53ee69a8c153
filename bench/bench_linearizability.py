"""Checking linearizability: how long the checker takes on a store's history of 10,000 operations.

``hasim.replication.linearizability.check_linearizability`` (Wing-Gong search with Lowe's
memoisation, per key; see its module) is timed on histories that hasim's stores produce, and
compared, in the same process, with two references:

* the time to **simulate** the same history (building and running the model): checking a run
  should cost less than making it (ratio = simulate / check);
* the **previous checker** of hasim (a depth-first search over (operations done, value) with
  the candidates recomputed at every state and tried in invocation order, kept below as
  ``previous_checker``), on the whole raft history and on the first 1,000 operations of the
  hot-key one (on all of it, it would take hours); ratio = previous / new.

The histories (``--ops`` operations, 10,000 by default):

* ``raft``: ``RaftKV`` with 5 nodes (2 ms network, 0.5 ms disk writes), each node crashing
  after an exponential time of mean 20 s and back after 2 s, 250 ops/s on 100 keys, half
  reads, 1 s client timeout: few operations in flight per key, errors and timeouts;
* ``hot key``: one ``SingleCopy`` with 16 workers and 10 ms exponential service, 1,000
  ops/s on a single key, half reads: about 10 operations in flight on that key at any time.

Rounds alternate the steps; the table shows medians. Run from the repository root::

    python -m bench.bench_linearizability            # 10,000 operations, 3 rounds
    python -m bench.bench_linearizability --quick    # 10,000 operations, 1 round
    python -m bench.bench_linearizability --ops 1000 --previous-ops 200
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import hasim as hs
from hasim.replication import KVWorkload, Operation, SingleCopy
from hasim.replication.linearizability import check_linearizability
from hasim.replication.raft_kv import RaftKV


def raft(seed: int, ops: int) -> list[Operation]:
    """A RaftKV run of about ``ops`` operations on 100 keys, with crashes."""
    sim = hs.Simulation(seed=seed)
    hs.Network(sim, latency=hs.Exponential(mean=2 * hs.ms))
    kv = RaftKV(
        sim, "kv", nodes=5, disk_write="0.5ms", timeout=0.5,
        failures=hs.Failures(ttf=hs.Exponential(mean=20), ttr=hs.Exponential(mean=2)),
    )  # fmt: skip
    users = KVWorkload(sim, "users", target=kv, rate=250, keys=100, read_share=0.5, timeout=1.0)
    sim.run(until=ops / 250)
    return users.history.operations


def hot_key(seed: int, ops: int) -> list[Operation]:
    """A single copy with 16 workers, about ``ops`` operations on one key."""
    sim = hs.Simulation(seed=seed)
    db = SingleCopy(sim, "db", workers=16, service_time=hs.Exponential(mean=10 * hs.ms))
    users = KVWorkload(sim, "users", target=db, rate=1000, keys=1, read_share=0.5, timeout=1.0)
    sim.run(until=ops / 1000)
    return users.history.operations


HISTORIES: dict[str, Callable[[int, int], list[Operation]]] = {"raft": raft, "hot key": hot_key}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    gc.collect()
    began = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - began


def bench(ops: int, rounds: int, seed: int, previous_ops: int = 1_000) -> dict[str, dict[str, Any]]:
    """Simulate and check each history ``rounds`` times, and run the previous checker.

    The previous checker runs on the whole raft history and on the first ``previous_ops``
    operations of the hot-key one (on all of it, it would take hours); the new checker is
    timed on the same slice for the comparison.

    Returns:
        Per history: ``operations`` (in the history), ``checked`` (taken by the search),
        ``steps``, ``verdict``, median ``simulate`` and ``check`` seconds, ``rate``
        (operations checked per second), ``spread`` ((max - min) / median check time),
        ``previous_ops`` (the slice the previous checker ran on), ``previous`` and
        ``current`` (its and the new checker's median seconds on that slice).
    """
    table: dict[str, dict[str, Any]] = {}
    for name, make in HISTORIES.items():
        sims, checks, olds, news = [], [], [], []
        result = None
        history: list[Operation] = []
        for _ in range(rounds):
            history, seconds = _timed(lambda make=make: make(seed, ops))
            sims.append(seconds)
            result, seconds = _timed(lambda history=history: check_linearizability(history))
            checks.append(seconds)
            part = history if name == "raft" else history[:previous_ops]
            ok, seconds = _timed(lambda part=part: previous_checker(part))
            olds.append(seconds)
            again, seconds = _timed(lambda part=part: check_linearizability(part))
            news.append(seconds)
            if ok != again.ok:
                raise AssertionError(f"{name}: the checkers disagree ({ok} vs {again.ok})")
        check = statistics.median(checks)
        table[name] = {
            "operations": len(history),
            "checked": result.operations,
            "steps": result.steps,
            "verdict": result.verdict,
            "simulate": statistics.median(sims),
            "check": check,
            "rate": len(history) / check,
            "spread": (max(checks) - min(checks)) / check,
            "previous_ops": len(part),
            "previous": statistics.median(olds),
            "current": statistics.median(news),
        }
    return table


# -- the reference: hasim's previous checker ---------------------------------------------------


def previous_checker(history: list[Operation]) -> bool:
    """hasim's checker before this one (``checker._search_register``), as a reference.

    Per key: a depth-first search over (operations done, register value) with a set of
    visited states, the candidates recomputed by scanning the operations in invocation
    order at every state, reads taken at once when they fit; indeterminate writes no read
    observed are left out. Returns whether every key is linearizable.
    """
    by_key: dict[Any, list[Operation]] = {}
    for op in history:
        by_key.setdefault(op.key, []).append(op)
    for ops in by_key.values():
        observed = {op.value for op in ops if op.kind == "read" and op.ok}
        chosen = [
            op
            for op in ops
            if (op.kind == "read" and op.ok and op.completed is not None)
            or (op.kind == "write" and (op.ok or op.value in observed))
        ]
        if not _previous_search(chosen):
            return False
    return True


def _previous_search(ops: list[Operation]) -> bool:
    ops = sorted(ops, key=lambda o: (o.invoked, o.id))
    n = len(ops)
    inv = [o.invoked for o in ops]
    required = [o.ok and o.completed is not None for o in ops]
    comp = [o.completed if req else math.inf for o, req in zip(ops, required, strict=True)]
    reads = [o.kind == "read" for o in ops]
    values = [o.value for o in ops]
    need = sum(1 << i for i in range(n) if required[i])
    seen: set[tuple[int, Any]] = set()
    stack: list[tuple[int, Any]] = [(0, None)]
    while stack:
        mask, value = stack.pop()
        while True:
            if mask & need == need:
                return True
            if (mask, value) in seen:
                candidates = None
                break
            seen.add((mask, value))
            lo = (~mask & (mask + 1)).bit_length() - 1
            frontier = math.inf
            window = []
            for i in range(lo, n):
                if inv[i] > frontier:
                    break
                if not mask >> i & 1:
                    window.append(i)
                    frontier = min(frontier, comp[i])
            candidates = [i for i in window if inv[i] <= frontier]
            fits = next((i for i in candidates if reads[i] and values[i] == value), None)
            if fits is None:
                break
            mask |= 1 << fits
        if candidates:
            for i in reversed(candidates):
                if not reads[i]:
                    stack.append((mask | 1 << i, values[i]))
    return False


def report(table: dict[str, dict[str, Any]], ops: int, rounds: int, seed: int) -> str:
    """The table as text."""
    lines = [
        f"{'history':<8} {'ops':>7} {'checked':>8} {'steps':>8} {'verdict':<13} "
        f"{'simulate s':>10} {'check s':>8} {'ops/s':>10} {'sim/check':>9} "
        f"{'previous on':>11} {'previous s':>10} {'new s':>7} {'prev/new':>8}"
    ]
    for name, row in table.items():
        lines.append(
            f"{name:<8} {row['operations']:>7,} {row['checked']:>8,} {row['steps']:>8,} "
            f"{row['verdict']:<13} {row['simulate']:>10.3f} {row['check']:>8.3f} "
            f"{row['rate']:>10,.0f} {row['simulate'] / row['check']:>9.1f} "
            f"{row['previous_ops']:>11,} {row['previous']:>10.3f} {row['current']:>7.3f} "
            f"{row['previous'] / row['current']:>8.1f}"
        )
    lines.append(
        f"python {platform.python_version()}, hasim {hs.__version__}; {ops:,} operations "
        f"asked, {rounds} round(s) (median), seed {seed}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=10_000, help="operations per history")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (median)")
    parser.add_argument(
        "--previous-ops", type=int, default=1_000, help="hot-key slice for the previous checker"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = 1
    if args.ops < 1 or args.rounds < 1:
        parser.error("--ops and --rounds must be >= 1")
    table = bench(args.ops, args.rounds, args.seed, args.previous_ops)
    print(report(table, args.ops, args.rounds, args.seed))


if __name__ == "__main__":
    main()
