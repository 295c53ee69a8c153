"""Raft: elections, re-election, replication, partitions, commit latency and safety.

Deterministic scenarios use fixed per-node election timeouts and fixed latencies, so the
times they assert follow by hand from the protocol (each is worked out in the test). The
randomized ones check the safety invariants from the nodes' own state (helpers below).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

import hasim as hs
from hasim.replication.raft import CANDIDATE, FOLLOWER, LEADER, RaftCluster

D = 0.001  # one-way latency of the deterministic scenarios
TIMEOUTS = [0.1, 0.2, 0.3, 0.4, 0.5]  # fixed, per node: raft0 times out first, then raft1 ...


def fixed(sim, *, disk=0.0, latency=D, **kwargs):
    hs.Network(sim, latency=hs.Deterministic(latency))
    return RaftCluster(sim, "raft", election_timeout=TIMEOUTS, disk_write=disk, **kwargs)


class Log:
    """A ``reply`` that keeps ``(time, outcome, responder)`` per request."""

    def __init__(self, sim):
        self.sim = sim
        self.answers = []

    def __call__(self, request, outcome, by):
        self.answers.append((self.sim.now, request, outcome, by))

    def outcomes(self):
        return [a[2] for a in self.answers]


def write(sim, cluster, log, request="w"):
    sim.call_later(0, lambda _: cluster.submit(request, log))


# -- invariants, from the nodes' state ---------------------------------------------------------


def check_safety(cluster):
    """At most one leader per term, log matching, committed entries kept (leader completeness)."""
    assert cluster.violations == []
    terms = {}
    for _, term, leader in cluster.leaders:
        assert terms.setdefault(term, leader) == leader, f"two leaders in term {term}"
    nodes = cluster.nodes
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            same = [k for k in range(min(len(a.log), len(b.log))) if a.log[k].term == b.log[k].term]
            if same:  # same index and term: the same entry, and the same log before it
                last = same[-1]
                assert all(
                    x is y for x, y in zip(a.log[: last + 1], b.log[: last + 1], strict=True)
                )
    committed = cluster.committed
    for node in nodes:
        # Whatever a node takes for committed is the committed log's prefix.
        assert all(x is y for x, y in zip(node.log[: node.commit_index], committed, strict=False))
        assert node.commit_index <= len(committed)
        if node.role == LEADER:  # a leader holds every entry committed in an earlier term
            for k, entry in enumerate(committed):
                if cluster.commit_terms[k] < node.term:
                    assert k < len(node.log) and node.log[k] is entry


def watch(sim, cluster, every=0.02):
    """Check the invariants every ``every`` seconds of the run."""

    def tick(_):
        check_safety(cluster)
        sim.call_later(every, tick)

    sim.call_later(every, tick)


# -- elections -----------------------------------------------------------------------------------


def test_the_node_with_the_shortest_timeout_is_elected(sim):
    """raft0 times out at 0.1 s, persists (0 s), asks; votes are back 2 ms later."""
    cluster = fixed(sim)
    sim.run(until=1.0)
    assert cluster.leaders == [(pytest.approx(0.1 + 2 * D), 1, "raft0")]
    assert [(e["node"], e["term"], e["outcome"]) for e in cluster.elections] == [
        ("raft0", 1, "won")
    ]
    assert [n.role for n in cluster.nodes] == [LEADER] + [FOLLOWER] * 4
    assert all(n.term == 1 and n.leader == "raft0" for n in cluster.nodes)
    assert [n.voted_for for n in cluster.nodes] == ["raft0"] * 5
    # The no-op of term 1 is committed everywhere by now.
    assert [n.commit_index for n in cluster.nodes] == [1] * 5
    check_safety(cluster)


def test_a_leader_crash_elects_the_next_fastest_node(sim, at):
    """raft0 leads from 0.102; heartbeats leave every 50 ms and take 1 ms.

    It crashes at 1.0 s: the last heartbeat reached the followers at 0.102 + 17 * 0.05 + 0.001
    = 0.953, so raft1 (200 ms) campaigns at 1.153 and wins at 1.155; its first AppendEntries
    reaches every live follower at 1.156: the cluster was leaderless for 0.156 s.
    """
    cluster = fixed(sim)
    at(1.0, cluster.nodes[0].fail, "crash")
    at(2.0, cluster.nodes[0].recover, "crash")
    sim.run(until=3.0)
    assert [(term, name) for _, term, name in cluster.leaders] == [(1, "raft0"), (2, "raft1")]
    assert cluster.leaders[1][0] == pytest.approx(1.155)
    assert cluster.step_downs == [(1.0, 1, "raft0", "crash")]
    (gap,) = cluster.leaderless_intervals()
    assert gap["leader"] == "raft0" and gap["term"] == 1
    assert gap["elected"] == pytest.approx(1.155)
    assert gap["end"] == pytest.approx(1.156)
    assert gap["duration"] == pytest.approx(0.156)
    # The old leader came back a follower, kept its term and vote on disk, and caught up.
    old = cluster.nodes[0]
    assert old.role == FOLLOWER and old.term == 2 and old.leader == "raft1"
    assert [e is f for e, f in zip(old.log, cluster.nodes[1].log, strict=True)] == [True, True]
    assert old.commit_index == 2
    check_safety(cluster)


def test_a_crash_keeps_term_vote_and_log_but_forgets_the_commit_index(sim, at):
    cluster = fixed(sim)
    follower = cluster.nodes[3]
    seen = {}

    def crash():
        follower.fail("crash")
        seen.update(term=follower.term, vote=follower.voted_for, log=list(follower.log))
        seen.update(commit=follower.commit_index, role=follower.role, leader=follower.leader)

    at(0.5, crash)
    sim.run(until=1.0)
    assert seen["term"] == 1 and seen["vote"] == "raft0" and len(seen["log"]) == 1
    assert seen["commit"] == 0 and seen["role"] == FOLLOWER and seen["leader"] is None
    assert follower.log == seen["log"]


def test_equal_timeouts_and_equal_latencies_split_the_vote_for_ever(sim):
    """Five nodes time out together, each votes for itself, and again, and again."""
    hs.Network(sim, latency=hs.Deterministic(D))
    cluster = RaftCluster(sim, "raft", election_timeout=(0.1, 0.1))
    sim.run(until=1.05)
    assert cluster.leaders == []
    outcomes = [e["outcome"] for e in cluster.elections]
    assert outcomes == ["split"] * 45 + [None] * 5  # 10 rounds of 5 candidates
    assert all(n.role == CANDIDATE and n.term == 10 for n in cluster.nodes)


# -- clients ------------------------------------------------------------------------------------


def test_commit_latency_is_one_round_trip_plus_a_disk_write(sim, at):
    """Append at the leader; AppendEntries 5 ms out, 2 ms disk, 5 ms back: committed 12 ms later.

    The leader writes its own copy (2 ms) meanwhile. The router is 5 ms from each node, so the
    client's answer comes 5 + 12 + 5 = 22 ms after it submitted.
    """
    d, w = 0.005, 0.002
    cluster = fixed(sim, disk=w, latency=d)
    log = Log(sim)
    at(1.0, cluster.submit, "x", log)
    sim.run(until=2.0)
    entry = cluster.committed[-1]
    assert entry.op == "x"
    assert entry.appended == pytest.approx(1.0 + d)
    assert entry.committed - entry.appended == pytest.approx(2 * d + w)
    assert log.answers == [(pytest.approx(1.0 + 4 * d + w), "x", "ok", "raft0")]


def test_a_follower_redirects_and_the_router_follows(sim, at):
    """raft1 leads (raft0 never times out); the router tries raft0 first and is redirected."""
    hs.Network(sim, latency=hs.Deterministic(D))
    cluster = RaftCluster(sim, "raft", election_timeout=[9.0, 0.1, 0.3, 0.4, 0.5])
    log = Log(sim)
    at(1.0, cluster.submit, "a", log)
    at(2.0, cluster.submit, "b", log)
    sim.run(until=3.0)
    # a: to raft0, redirected back, to raft1, committed after a round trip, answered: 6 hops.
    # b: the router now knows raft1: 4 hops.
    assert log.answers == [
        (pytest.approx(1.0 + 6 * D), "a", "ok", "raft1"),
        (pytest.approx(2.0 + 4 * D), "b", "ok", "raft1"),
    ]
    assert cluster.believed == "raft1"


def test_reads_and_writes_are_applied_once_in_log_order(sim, at):
    applied = []
    cluster = fixed(sim, apply=lambda request, index: applied.append((index, request)) or index)
    log = Log(sim)
    for i, t in enumerate([1.0, 1.0, 1.001, 1.5]):
        at(t, cluster.submit, f"op{i}", log)
    sim.run(until=2.0)
    assert log.outcomes() == ["ok"] * 4
    assert [r for _, r in applied] == ["op0", "op1", "op2", "op3"]
    assert [i for i, _ in applied] == [2, 3, 4, 5]  # after the leader's no-op
    assert [e.result for e in cluster.committed[1:]] == [2, 3, 4, 5]


def test_no_leader_anywhere_rejects_after_trying_every_node(sim, at):
    cluster = fixed(sim)
    log = Log(sim)
    at(0.05, cluster.submit, "early", log)  # before anyone's timer ran out
    sim.run(until=0.09)
    # Six tries of one round trip each, all redirects without a hint.
    assert log.answers == [(pytest.approx(0.05 + 12 * D), "early", "rejected", "raft")]


# -- partitions -----------------------------------------------------------------------------------


@pytest.fixture
def split(sim, at):
    """raft0 leads term 1; at 1 s it, raft1 and the router are cut off from raft2-4 until 3 s.

    The router keeps sending writes to raft0 (every 0.1 s from 1.0 to 2.9): raft0 appends
    them but cannot commit; the majority elects a leader of term 2 and commits its no-op.
    """
    cluster = fixed(sim, timeout=0.5)
    net = sim.network
    cut = {}
    at(1.0, lambda: cut.setdefault("p", net.partition(["raft0", "raft1", "raft"])))
    at(3.0, lambda: net.heal(cut["p"]))
    log = Log(sim)
    for i in range(20):
        at(1.0 + i * 0.1, cluster.submit, f"minority{i}", log)
    before = {}
    at(2.95, lambda: before.update(log=list(cluster.nodes[0].log), leaders=list(cluster.leaders)))
    watch(sim, cluster)
    sim.run(until=5.0)
    return cluster, log, before


def test_a_minority_partition_commits_nothing(split):
    cluster, log, before = split
    ops = [e.op for e in before["log"]]
    assert ops[:1] == [None] and all(op.startswith("minority") for op in ops[1:])
    assert len(ops) > 5  # raft0 did append the minority's writes
    assert not any(e.op and e.op.startswith("minority") for e in cluster.committed)
    assert all(e.committed is None for e in before["log"][1:])
    # Meanwhile the majority elected a leader of term 2 (raft2: the fastest there) and committed.
    assert [(term, n) for _, term, n in before["leaders"]] == [(1, "raft0"), (2, "raft2")]
    assert [e.term for e in cluster.committed[:2]] == [1, 2]
    assert cluster.committed[1].committed < 3.0
    assert "ok" not in log.outcomes()


def test_after_heal_the_old_leader_steps_down_and_its_entries_are_overwritten(split):
    cluster, log, before = split
    old, new = cluster.nodes[0], cluster.nodes[2]
    assert [(term, n, why) for _, term, n, why in cluster.step_downs] == [
        (1, "raft0", "higher term")
    ]
    assert cluster.step_downs[0][0] > 3.0
    assert old.role == FOLLOWER and old.leader == "raft2" and old.term == 2
    assert len(old.log) == len(new.log) and all(
        a is b for a, b in zip(old.log, new.log, strict=True)
    )
    assert not any(e in old.log for e in before["log"][1:])  # overwritten
    # The writes raft0 held ended in error (it stepped down) or timed out: none was ok.
    assert set(log.outcomes()) <= {"timeout", "error"} and len(log.answers) == 20
    check_safety(cluster)


# -- randomized faults -------------------------------------------------------------------------


def chaos_run(seed, until=8.0, batch=64):
    """Five nodes that crash (mean 3 s up, 0.4 s down), random partitions, 2 % loss, clients."""
    sim = hs.Simulation(seed=seed)
    hs.Network(sim, latency=hs.LogNormal(median=0.002, sigma=0.8), loss=0.02)
    cluster = RaftCluster(
        sim,
        "raft",
        disk_write=hs.Exponential(mean=0.001),
        timeout=0.5,
        batch=batch,
        failures=hs.Failures(ttf=hs.Exponential(mean=3.0), ttr=hs.Exponential(mean=0.4)),
    )
    hs.OpenLoop(sim, "users", target=cluster, rate=40, timeout=2.0)
    rng = sim.rng("test", "partitions")
    names = [n.name for n in cluster.nodes] + ["raft", "users"]

    def partition(_):
        side = [n for n in names if rng.random() < 0.5]
        if 0 < len(side) < len(names):
            cut = sim.network.partition(side)
            sim.call_later(rng.exponential(0.5), lambda _: sim.network.heal(cut))
        sim.call_later(rng.exponential(1.0), partition)

    sim.call_later(rng.exponential(1.0), partition)
    watch(sim, cluster, every=0.05)
    result = sim.run(until=until)
    check_safety(cluster)
    return sim, cluster, result


def _chaos(seeds, assert_conserved):
    commits = elections = 0
    for seed in seeds:
        sim, cluster, result = chaos_run(seed)
        assert_conserved(result, sim)
        commits += len(cluster.committed)
        elections += len(cluster.elections)
    # The faults did bite and the cluster still made progress.
    assert elections > 3 * len(seeds)
    assert commits > 50 * len(seeds)


@pytest.mark.parametrize("first", range(0, 100, 25))
def test_random_crashes_partitions_and_loss_never_break_safety(first, assert_conserved):
    _chaos(range(first, first + 25), assert_conserved)


@pytest.mark.slow
@pytest.mark.parametrize("first", range(100, 600, 50))
def test_random_faults_many_more_seeds(first, assert_conserved):
    _chaos(range(first, first + 50), assert_conserved)


def test_same_seed_same_run():
    a, b = chaos_run(7, until=3.0)[1], chaos_run(7, until=3.0)[1]
    assert a.leaders == b.leaders and a.elections == b.elections
    assert [e.committed for e in a.committed] == [e.committed for e in b.committed]


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nodes": 0}, "nodes must be an integer >= 1, got 0"),
        ({"election_timeout": (0.3, 0.1)}, r"election_timeout must be a range"),
        ({"election_timeout": (0, 0.1)}, r"election_timeout low end must be a number > 0"),
        ({"election_timeout": [0.1, 0.2]}, r"election_timeout must be a list of 5 timeouts"),
        ({"heartbeat": -1}, r"heartbeat must be a number > 0"),
        ({"timeout": 0}, r"timeout must be a number > 0"),
        ({"apply": 3}, r"apply must be a callable"),
    ],
)
def test_bad_arguments_are_rejected(sim, kwargs, message):
    with pytest.raises(hs.ConfigError, match=message):
        RaftCluster(sim, "raft", **kwargs)
    assert "raft" not in sim and "raft0" not in sim


def when(sim, cond, action, every=1e-4):
    """Call ``action()`` as soon as ``cond()`` holds (polled every ``every`` seconds)."""

    def poll(_):
        if cond():
            action()
        else:
            sim.call_later(every, poll)

    sim.call_later(every, poll)


def test_figure_8_a_leader_never_commits_an_old_term_entry_by_counting_replicas(sim, at):
    """The scenario of Figure 8 of the Raft paper, with raft0..raft4 as S1..S5.

    1. raft0 leads term 1 and appends X at index 2, cut off from raft2-4: only raft1 gets X.
    2. raft2 wins term 2 with raft3 and raft4 and is isolated at once: its no-op at index 2
       reaches nobody.
    3. The cut heals; raft0 learns of term 2, wins term 3 (raft1, raft3, raft4 vote: X makes
       its log the most up to date) and, one entry per AppendEntries, puts X on raft3 and
       raft4. X (term 1) is now on a majority, but nothing of term 3 is: X must not commit.
       Right then raft0's messages to raft3 and raft4 are cut (one-way), and raft0 and raft1
       crash before their no-op of term 3 spreads.
    4. raft2 comes back and wins a later term with raft3 and raft4 (its last term, 2, beats
       X's): it overwrites X. Had X been committed in step 3, a committed entry would be lost.
    """
    cluster = fixed(sim, batch=1)
    net = sim.network
    n = cluster.nodes
    cuts = {}
    log = Log(sim)
    at(1.0, lambda: cuts.setdefault("a", net.partition(["raft0", "raft1", "raft"])))
    at(1.0, cluster.submit, "X", log)
    when(sim, lambda: n[2].role == LEADER, lambda: cuts.setdefault("b", net.partition(["raft2"])))
    when(sim, lambda: "b" in cuts, lambda: net.heal(cuts["a"]))

    def x_on_raft3_in_term_3():
        return n[0].term == 3 and n[0].role == LEADER and len(n[3].log) == 2

    def cut_and_crash():
        cuts["c"] = net.partition(["raft0"], ["raft3", "raft4"], oneway=True)
        sim.call_later(0.05, lambda _: (n[0].fail("crash"), n[1].fail("crash")))

    when(sim, x_on_raft3_in_term_3, cut_and_crash)
    at(2.0, lambda: net.heal(cuts["b"]))
    watch(sim, cluster, every=0.001)
    sim.run(until=4.0)
    assert [(t, name) for _, t, name in cluster.leaders][:3] == [
        (1, "raft0"),
        (2, "raft2"),
        (3, "raft0"),
    ]
    x = n[0].log[1]
    assert x.op == "X" and x.term == 1 and x.committed is None
    assert n[3].log[1] is not x and n[3].log[1].term == 2  # overwritten by raft2's no-op
    assert cluster.leader is n[2]
    check_safety(cluster)


# -- leaderless time after a leader crash ---------------------------------------------------------


def crash_leaders(seed, timeout, until=30.0):
    """Crash whoever leads every 3 s (back 1 s later); return the run's leaderless records.

    The nodes boot 10 ms apart (raft1..raft4 come up at 10..40 ms), as real ones do: with a
    fixed timeout, nodes that all start at 0 would time out together for ever.
    """
    sim = hs.Simulation(seed=seed)
    hs.Network(sim, latency=hs.Exponential(mean=0.002))
    cluster = RaftCluster(sim, "raft", election_timeout=timeout, disk_write=0.0005)
    for i, node in enumerate(cluster.nodes[1:], 1):
        node.fail("boot")
        sim.call_later(0.01 * i, lambda _, node=node: node.recover("boot"))

    def crash(_):
        leader = cluster.leader
        if leader is not None:
            leader.fail("chaos")
            sim.call_later(1.0, lambda _: leader.recover("chaos"))
        sim.call_later(3.0, crash)

    sim.call_later(2.0, crash)
    sim.run(until=until)
    return cluster


def per_seed_means(timeout, seeds=range(1, 21), until=30.0):
    """Per seed, the mean leaderless time (a still open one counts up to ``until``: a lower
    bound); and the share of split votes among all elections."""
    means, censored, splits, elections = [], 0, 0, 0
    for seed in seeds:
        cluster = crash_leaders(seed, timeout, until)
        gaps = cluster.leaderless_intervals()
        assert gaps
        censored += sum(g["duration"] is None for g in gaps)
        lasted = [until - g["crash"] if g["end"] is None else g["duration"] for g in gaps]
        means.append(np.mean(lasted))
        splits += sum(e["outcome"] == "split" for e in cluster.elections)
        elections += len(cluster.elections)
    return np.array(means), censored, splits / elections


def welch_lower(a, b):
    """The lower end of the 99.9 % Welch interval of mean(a) - mean(b)."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return a.mean() - b.mean() - stats.t.ppf(0.9995, df) * np.sqrt(va + vb)


def test_leaderless_time_falls_as_the_timeout_range_widens():
    """[T, T]: the followers time out within a latency of each other, split, and stay in step.

    T = 150 ms, one-way latency exponential with mean 2 ms, the leader crashed every 3 s for
    1 s, 20 seeds of 30 s per range. With [T, T] most elections are split votes and a
    leaderless interval lasts seconds (some outlast the run: they count up to its end, so the
    mean is a lower bound); a range 2 % wide ends them in a few rounds, a range as wide as T
    mostly in one. Tolerance: each difference of per-seed means must exceed the half-width of
    its 99.9 % Welch interval.
    """
    t = 0.15
    equal, _, equal_splits = per_seed_means((t, t))
    narrow, _, narrow_splits = per_seed_means((t, 1.02 * t))
    wide, wide_censored, wide_splits = per_seed_means((t, 2 * t))
    assert wide_censored == 0  # (censored ones would only lower the means they are in)
    assert welch_lower(equal, narrow) > 0
    assert welch_lower(narrow, wide) > 0
    assert wide.mean() > t  # nobody campaigns before T
    assert equal_splits > 0.5 and equal_splits > narrow_splits > 5 * wide_splits


def test_split_votes_rise_with_message_latency():
    """Raft's election analysis: a vote splits when a second follower times out before the
    first candidate's RequestVote reaches it, so the split share grows with latency / range.

    Timeouts uniform on [150, 300] ms; one-way latency exponential with mean 2, 10 and 40 ms;
    the leader crashed every second for 0.5 s; 20 seeds of 30 s each. Tolerance: each rise
    in the per-seed mean split share must exceed the half-width of its 99.9 % Welch interval.

    The first-order analysis bounds it: with m = 4 survivors whose timers started together,
    a second candidate appears when the gap between the two earliest timeouts (uniform over
    a range W = 150 ms: P(gap > d) = (1 - d/W)^m) is shorter than the RequestVote's latency D,
    so P(split) <= 1 - E[(1 - D/W)^m] = 0.05, 0.22 and 0.55 (a second candidate does not
    always split the vote). Each share's 99.9 % upper bound must stay below it.
    """

    def shares(latency):
        out = []
        for seed in range(1, 21):
            sim = hs.Simulation(seed=seed)
            hs.Network(sim, latency=hs.Exponential(mean=latency))
            cluster = RaftCluster(sim, "raft", election_timeout=(0.15, 0.3))

            def crash(_, cluster=cluster, sim=sim):
                leader = cluster.leader
                if leader is not None:
                    leader.fail("chaos")
                    sim.call_later(0.5, lambda _: leader.recover("chaos"))
                sim.call_later(1.0, crash)

            sim.call_later(2.0, crash)
            sim.run(until=30.0)
            out.append(cluster.split_vote_share())
        return np.array(out)

    def competing(latency, window=0.15, m=4):
        keep, _ = quad(
            lambda d: (1 - d / window) ** m * math.exp(-d / latency) / latency, 0, window
        )
        return 1.0 - keep

    fast, medium, slow = shares(0.002), shares(0.01), shares(0.04)
    assert fast.mean() < 0.05
    for latency, measured in ((0.002, fast), (0.01, medium), (0.04, slow)):
        upper = measured.mean() + 3.29 * measured.std(ddof=1) / math.sqrt(len(measured))
        assert upper < competing(latency), latency
    assert welch_lower(medium, fast) > 0
    assert welch_lower(slow, medium) > 0


def test_the_router_hands_the_applied_result_to_reply_ok(sim, at):
    seen = []

    class Recording(RaftCluster):
        def reply_ok(self, request, reply, by, result):
            seen.append((request, by, result))
            super().reply_ok(request, reply, by, result)

    hs.Network(sim, latency=hs.Deterministic(D))
    store = {}

    def apply(request, index):
        key, value = request
        store[key] = (index, value)
        return store[key]

    cluster = Recording(sim, "raft", election_timeout=TIMEOUTS, apply=apply)
    log = Log(sim)
    at(1.0, cluster.submit, ("k", "v1"), log)
    at(1.5, cluster.submit, ("k", "v2"), log)
    sim.run(until=2.0)
    assert seen == [(("k", "v1"), "raft0", (2, "v1")), (("k", "v2"), "raft0", (3, "v2"))]
    assert log.outcomes() == ["ok", "ok"]
    assert cluster.commit_latencies() == [pytest.approx(2 * D)] * 2


def test_a_leader_crash_costs_the_requests_issued_while_the_cluster_is_leaderless(
    assert_conserved,
):
    """200 requests/s; the leader crashes at 5 s for good. Every request fails only if it was
    issued before the first election, or from shortly before the crash (in flight at the old
    leader: ``error``) until the new leader is known (``rejected``: no node leads)."""
    sim = hs.Simulation(seed=2)
    hs.Network(sim, latency=hs.Exponential(mean=0.002))
    cluster = RaftCluster(sim, "raft", disk_write=0.001, timeout=0.5)
    hs.OpenLoop(sim, "users", target=cluster, rate=200, timeout=2.0)
    sim.call_later(5.0, lambda _: cluster.leader.fail("crash"))
    result = sim.run(until=10.0)
    assert_conserved(result, sim)
    (gap,) = cluster.leaderless_intervals()
    first = cluster.leaders[0][0]
    df = result.requests()
    failed = df[df.outcome != "ok"]
    in_gap = failed[failed.issued >= 5.0 - 0.05]
    assert (failed.issued < first).sum() + len(in_gap) == len(failed)
    assert (in_gap.issued <= gap["end"]).all()
    assert set(in_gap.outcome) == {"error", "rejected"}
    # Roughly the rate times the election time (Poisson: 200 * 0.22 = 44, +-4 sd = +-27).
    assert abs(len(in_gap) - 200 * gap["duration"]) < 27
