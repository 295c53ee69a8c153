"""What replication costs in wall time: operations per wall second, replicated vs one copy.

Every model serves the same key-value workload (``KVWorkload``: Poisson
operations at ``--rate`` per second, half reads, 100 keys, 1 s client timeout)
over a network with exponential latency (mean 0.5 ms) for ``--seconds`` of
simulated time after a 1 s warm-up (Raft's first election), and the table
reports, per model, the operations that ended ``ok`` per wall second and the
ratio against the reference, which is the same workload on one ``SingleCopy``
store (the cost of the protocol, per operation, in the same process):

* ``single copy``: one replica, the reference (ratio 1).
* ``raft 5``: ``RaftKV`` with 5 nodes (0.2 ms disk writes, 50 ms heartbeat);
  its "committed" column counts the writes committed per wall second.
* ``quorum N=3``: ``QuorumStore(n=3, r=2, w=2)``, when hasim has it.

Rounds alternate the models; the table shows medians. Run from the repository root::

    python -m bench.bench_replication            # 2000 ops/s for 20 s, 3 rounds
    python -m bench.bench_replication --quick    # 2000 ops/s for 4 s, 2 rounds
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time

import hasim as hs
from hasim.replication import KVWorkload, SingleCopy
from hasim.replication.raft_kv import RaftKV


def _network(sim: hs.Simulation) -> None:
    hs.Network(sim, latency=hs.Exponential(mean=0.5 * hs.ms))


def single_copy(sim: hs.Simulation) -> tuple[object, dict]:
    _network(sim)
    return SingleCopy(sim, "kv", workers=64, service_time=hs.Exponential(mean=0.1 * hs.ms)), {}


def raft(sim: hs.Simulation) -> tuple[object, dict]:
    _network(sim)
    kv = RaftKV(sim, "kv", nodes=5, disk_write="0.2ms", heartbeat=0.05)
    return kv, {"committed": lambda: sum(1 for e in kv.committed if e.op is not None)}


def quorum(sim: hs.Simulation) -> tuple[object, dict]:
    from hasim.replication.quorum import QuorumStore

    _network(sim)
    return QuorumStore(sim, "kv", n=3, r=2, w=2), {}


MODELS = {"single copy": single_copy, "raft 5": raft, "quorum N=3": quorum}


def run(build, rate: float, seconds: float, seed: int) -> dict[str, float]:
    gc.collect()
    start = time.perf_counter()
    sim = hs.Simulation(seed=seed, record="aggregate")
    target, extra = build(sim)
    KVWorkload(sim, "users", target=target, rate=rate, read_share=0.5, timeout=1.0)
    s = sim.run(until=seconds + 1.0, warmup=1.0).summary()  # Raft elects its first leader
    wall = time.perf_counter() - start
    row = {"wall": wall, "ok": s["ok"], "ok/s": s["ok"] / wall, "availability": s["availability"]}
    if "committed" in extra:
        row["committed/s"] = extra["committed"]() / wall
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="4 s of traffic, 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 4.0, 2
    models = dict(MODELS)
    try:
        import hasim.replication.quorum  # noqa: F401
    except ImportError:
        del models["quorum N=3"]
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in models}
    names = list(models)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            rows[name].append(run(models[name], args.rate, args.seconds, args.seed))
    median = {
        name: {k: statistics.median(row[k] for row in runs) for k in runs[0]}
        for name, runs in rows.items()
    }
    ref = median["single copy"]["ok/s"]
    print(f"{'model':<12} {'ok ops':>9} {'wall s':>7} {'ok ops/s':>10} {'vs single':>9} "
          f"{'committed/s':>12} {'availability':>12}")  # fmt: skip
    for name, m in median.items():
        committed = f"{m['committed/s']:>12,.0f}" if "committed/s" in m else f"{'':>12}"
        print(
            f"{name:<12} {m['ok']:>9,.0f} {m['wall']:>7.3f} {m['ok/s']:>10,.0f} "
            f"{m['ok/s'] / ref:>9.2f} {committed} {m['availability']:>12.6f}"
        )
    print(
        f"python {platform.python_version()}, hasim {hs.__version__}; {args.rate:g} ops/s "
        f"for {args.seconds:g} s, {args.rounds} rounds, seed {args.seed}"
    )


if __name__ == "__main__":
    main()
