"""Write availability of each protocol under one replayed fault history, in one experiment.

One run of three bare nodes ``db0..db2`` with random failures (MTTF 40 s, MTTR 4 s each)
gives the fault history; every design names its replicas ``db0..db2`` and replays it, so
the protocols face exactly the same crashes (the fault issue's replay). The experiment's
paired comparison then says what each protocol buys over one copy.
"""

from __future__ import annotations

import functools

import hasim as hs
from hasim.replication import KVWorkload, PrimaryBackup, QuorumStore, RaftKV, SingleCopy

HORIZON = 200.0


@functools.cache
def history() -> hs.FaultHistory:
    sim = hs.Simulation(seed=11)
    for i in range(3):
        hs.Node(sim, f"db{i}", failures=hs.Failures(ttf=hs.Exponential(mean=40),
                                                   ttr=hs.Exponential(mean=4)))  # fmt: skip
    return sim.run(until=HORIZON).fault_history()


def _with(sim: hs.Simulation, store):
    history().apply(sim)
    return store


def single_copy(sim):
    hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    return _with(sim, SingleCopy(sim, "db0", workers=8, service_time=0.001))


def primary_backup(sim):
    hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    store = PrimaryBackup(sim, "db", replicas=["db0", "db1", "db2"], mode="sync", acks=1)
    return _with(sim, store)


def raft(sim):
    hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    return _with(sim, RaftKV(sim, "db", nodes=3, disk_write="0.5ms"))


def quorum(sim):
    hs.Network(sim, latency=hs.Exponential(mean=1 * hs.ms))
    return _with(sim, QuorumStore(sim, "db", replicas=["db0", "db1", "db2"], n=3, r=2, w=2))


def writes(sim, entry):
    KVWorkload(sim, "users", target=entry, rate=20, read_share=0.0, keys=10, timeout=1.0)


def test_protocols_compared_under_the_same_fault_history():
    """Under the history (20 crashes, some overlapping), one copy fails its writes while db0 is
    down: its unavailability is db0's down share within 0.01 (about 4000 writes: a binomial
    standard deviation of 0.003). Primary-backup, Raft and a 2-of-3 quorum ride out single
    failures: each has a write availability higher in every replication (paired: same seeds,
    same faults), by at least 0.02 for primary-backup and Raft (0.99 against 0.95) and 0.01
    for the quorum (0.97: writes time out on a crashed replica until it is suspected), and the
    experiment's paired comparison says so too."""
    faults = history()
    assert len(faults) >= 8
    down = sum(
        max(0.0, min(a.at + a.duration, HORIZON) - max(a.at, 2.0))
        for a in faults.actions
        if a.target == "db0"
    )
    share = down / (HORIZON - 2.0)
    exp = hs.Experiment(
        {
            "single copy": single_copy,
            "primary-backup": primary_backup,
            "raft": raft,
            "quorum": quorum,
        },
        workload=writes, horizon=HORIZON, warmup=2.0, reps=2, seed=1,
    )  # fmt: skip
    result = exp.run(executor="serial")
    assert len(result.runs) == 4 * 2 and not len(result.failures)
    runs = result.runs.set_index(["design", "rep"])["availability"]
    for rep in range(2):
        one = runs[("single copy", rep)]
        assert abs((1.0 - one) - share) < 0.01
        assert runs[("primary-backup", rep)] > one + 0.02
        assert runs[("raft", rep)] > one + 0.02
        assert runs[("quorum", rep)] > one + 0.01
    diff = result.compare("raft", "single copy", metric="availability")
    assert (diff["diff"] > 0.02).all() and (diff["pairs"] == 2).all()
