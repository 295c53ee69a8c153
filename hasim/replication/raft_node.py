"""Raft's per-node protocol: ``RaftNode``, its log ``Entry`` and its roles.

``RaftNode`` is one Raft server: its persistent state (term, vote, log), its volatile state
(role, believed leader, commit index, leader state), its election timer and FIFO disk, and
the RequestVote and AppendEntries messages it sends and answers. The cluster that makes the
nodes, routes clients to the leader and measures elections is ``RaftCluster`` in
``hasim.replication.raft``, whose module docstring describes the protocol as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hasim import network
from hasim.dist import Distribution
from hasim.metrics.recorder import ERROR, OK
from hasim.node import DOWN, Node

if TYPE_CHECKING:
    from hasim.replication.raft import RaftCluster, _Op

__all__ = ["RaftNode", "Entry", "FOLLOWER", "CANDIDATE", "LEADER"]


FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"

# Tolerance on timer deadlines (the clock adds delays in floating point).
_EPS = 1e-9


class Entry:
    """One log entry: its term and the client request it carries (None: a leader's no-op).

    Entries are shared by reference between the logs that hold them (an entry is a value: the
    same object means the same term and command). ``appended`` is when its leader appended
    it, ``committed`` when it was first committed (None before), ``result`` what ``apply``
    returned.
    """

    __slots__ = ("term", "op", "appended", "committed", "result")

    def __init__(self, term: int, op: Any, appended: float) -> None:
        self.term = term
        self.op = op
        self.appended = appended
        self.committed: float | None = None
        self.result: Any = None

    def __repr__(self) -> str:
        return f"<Entry term={self.term} op={self.op!r}>"


class RaftNode(Node):
    """One Raft server (made by ``RaftCluster``); a Node, so it crashes and recovers by cause.

    Attributes:
        term: currentTerm (persistent).
        voted_for: votedFor in ``term`` (persistent).
        log: the log, a list of ``Entry`` (persistent); index i is ``log[i - 1]``.
        role: ``"follower"``, ``"candidate"`` or ``"leader"`` (volatile).
        leader: the leader it knows in ``term`` (None: none yet).
        commit_index: the highest index it knows committed (volatile).
    """

    def __init__(
        self, cluster: RaftCluster, name: str, timeout: Distribution, zone: Any, failures: Any
    ) -> None:
        super().__init__(cluster.sim, name, zone=zone, failures=failures)
        self.cluster = cluster
        self.term = 0
        self.voted_for: str | None = None
        self.log: list[Entry] = []
        self.role = FOLLOWER
        self.leader: str | None = None
        self.commit_index = 0
        self.election_timeout = timeout
        self._timeout = cluster.sim.sampler(timeout, name, "election", batch=256)
        self._disk = cluster.sim.sampler(cluster.disk_write, name, "disk", batch=256)
        self._disk_free = 0.0
        self._durable = 0  # the longest prefix of the log on disk
        self._epoch = 0  # bumped at each crash: timers and writes of before do nothing
        self._deadline = math.inf
        self._armed = False
        self._votes: set[str] = set()
        self._election: dict[str, Any] | None = None
        self._next: dict[str, int] = {}
        self._match: dict[str, int] = {}
        self._busy: dict[str, bool] = {}  # an AppendEntries with entries is outstanding
        self._pending: dict[int, tuple[_Op, int]] = {}  # index -> client op (leader)
        self.peers: list[RaftNode] = []
        self._out: dict[str, network.Path] = {}
        self.on_change(self._changed)

    def _prepare(self) -> None:
        super()._prepare()
        net = network.get(self.sim)
        self._out = {p.name: net.path(self.name, p.name) for p in self.cluster.nodes}
        self._out[self.cluster.name] = net.path(self.name, self.cluster.name)
        self.peers = [p for p in self.cluster.nodes if p is not self]
        self._reset_timer()

    @property
    def last_index(self) -> int:
        """The index of the last entry of the log (0 if empty)."""
        return len(self.log)

    @property
    def last_term(self) -> int:
        """The term of the last entry of the log (0 if empty)."""
        return self.log[-1].term if self.log else 0

    # -- fast-forward: the cluster judges quiet; a node moves its deadlines with a jump --------

    def _ff_quiet(self) -> bool:
        return True

    def _ff_shift(self, shift: float) -> None:
        self._deadline += shift
        self._disk_free += shift

    # -- timers and disk ------------------------------------------------------------------

    def _reset_timer(self) -> None:
        now = self.env.now
        self._deadline = now + self._timeout()
        if not self._armed:
            self._armed = True
            self.sim.call_later(self._deadline - now, self._watch, self._epoch)

    def _watch(self, epoch: int) -> None:
        if epoch != self._epoch:
            return
        self._armed = False
        if self.role == LEADER:
            return
        now = self.env.now
        if now < self._deadline - _EPS:  # reset meanwhile: wait for the new deadline
            self._armed = True
            self.sim.call_later(self._deadline - now, self._watch, epoch)
            return
        self._campaign()

    def _persist(self, then: Callable[[Any], None], arg: Any, write: bool = True) -> None:
        """Call ``then(arg)`` once a write (``write`` False: earlier writes) is on disk."""
        now = self.env.now
        done = max(now, self._disk_free) + (self._disk() * self.slowdown if write else 0.0)
        self._disk_free = done
        self.sim.call_later(done - now, self._written, (self._epoch, then, arg))

    def _written(self, item: tuple[int, Callable[[Any], None], Any]) -> None:
        epoch, then, arg = item
        if epoch == self._epoch:  # a crash loses the acknowledgement, not the write
            then(arg)

    def _send(self, dst: str, fn: Callable[[Any], None], msg: Any) -> None:
        self._out[dst].send(fn, msg)

    # -- roles ------------------------------------------------------------------------------

    def _believe(self, leader: str | None) -> None:
        self.leader = leader
        self.cluster.beliefs.append((self.env.now, self.name, self.term, leader))

    def _follow(self, term: int, leader: str | None, *, heard: bool = False) -> None:
        """Become a follower of ``term`` (a higher term, or the leader of this one).

        The election timer is reset only when the node ``heard`` from the leader, or was the
        leader (it had no timer): a higher term in a vote request or a reply does not reset it.
        """
        reset = heard or self.role == LEADER
        if self.role == LEADER:
            self.cluster.step_downs.append((self.env.now, self.term, self.name, "higher term"))
            self._fail_pending()
        elif self.role == CANDIDATE:
            self._end_election("superseded")
        newer = term > self.term
        if newer:
            self.term = term
            self.voted_for = None
        self.role = FOLLOWER
        if newer or leader != self.leader:
            self._believe(leader)
        if reset:
            self._reset_timer()

    def _end_election(self, outcome: str) -> None:
        if self._election is not None:
            self._election["end"] = self.env.now
            self._election["outcome"] = outcome
            self._election = None

    def _campaign(self) -> None:
        if self.role == CANDIDATE:
            self._end_election("split")
        self.term += 1
        self.voted_for = self.name
        self.role = CANDIDATE
        self._votes = set()
        self._believe(None)
        self._election = {
            "node": self.name,
            "term": self.term,
            "start": self.env.now,
            "end": None,
            "outcome": None,
        }
        self.cluster.elections.append(self._election)
        self._reset_timer()
        self._persist(self._ask_votes, self.term)

    def _ask_votes(self, term: int) -> None:
        if self.role != CANDIDATE or self.term != term:
            return
        self._votes.add(self.name)
        if len(self._votes) >= self.cluster.majority:  # a cluster of one
            self._lead()
            return
        msg = (self.name, term, self.last_index, self.last_term)
        for peer in self.peers:
            self._send(peer.name, peer._on_request_vote, msg)

    def _on_request_vote(self, msg: tuple[str, int, int, int]) -> None:
        if self.state == DOWN:
            return
        src, term, last_index, last_term = msg
        if term > self.term:
            self._follow(term, None)
        up_to_date = (last_term, last_index) >= (self.last_term, self.last_index)
        peer = self.cluster.node(src)
        if term == self.term and self.voted_for in (None, src) and up_to_date:
            self.voted_for = src
            self._reset_timer()
            self._persist(self._grant, (peer, term))
        else:
            self._send(src, peer._on_vote, (self.name, self.term, False))

    def _grant(self, item: tuple[RaftNode, int]) -> None:
        peer, term = item
        self._send(peer.name, peer._on_vote, (self.name, term, True))

    def _on_vote(self, msg: tuple[str, int, bool]) -> None:
        if self.state == DOWN:
            return
        src, term, granted = msg
        if term > self.term:
            self._follow(term, None)
            return
        if self.role != CANDIDATE or term != self.term or not granted:
            return
        self._votes.add(src)
        if self.name in self._votes and len(self._votes) >= self.cluster.majority:
            self._lead()

    def _lead(self) -> None:
        self._end_election("won")
        self.role = LEADER
        self._believe(self.name)
        self.cluster.leaders.append((self.env.now, self.term, self.name))
        for peer in self.peers:
            self._next[peer.name] = self.last_index + 1
            self._match[peer.name] = 0
            self._busy[peer.name] = False
        self._append(None)
        self.sim.call_later(self.cluster.heartbeat, self._tick, (self._epoch, self.term))

    def _tick(self, item: tuple[int, int]) -> None:
        epoch, term = item
        if epoch != self._epoch or self.role != LEADER or self.term != term:
            return
        for peer in self.peers:
            self._replicate(peer)
        self.sim.call_later(self.cluster.heartbeat, self._tick, item)

    # -- log replication ---------------------------------------------------------------------

    def _append(self, op: _Op | None, attempt: int = 0) -> None:
        """Append an entry of this leader's term (a client's op, or a no-op)."""
        entry = Entry(self.term, None if op is None else op.request, self.env.now)
        self.log.append(entry)
        index = len(self.log)
        if op is not None:
            self._pending[index] = (op, attempt)
        self._persist(self._stored, (index, entry))
        for peer in self.peers:
            if not self._busy[peer.name]:
                self._replicate(peer)

    def _stored(self, item: tuple[int, Entry]) -> None:
        index, entry = item
        if index <= len(self.log) and self.log[index - 1] is entry:
            self._durable = max(self._durable, index)
            if self.role == LEADER:
                self._advance()

    def _replicate(self, peer: RaftNode) -> None:
        prev = self._next[peer.name] - 1
        prev_term = self.log[prev - 1].term if prev else 0
        entries = tuple(self.log[prev : prev + self.cluster.batch])
        if entries:
            self._busy[peer.name] = True
        msg = (self.name, self.term, prev, prev_term, entries, self.commit_index)
        self._send(peer.name, peer._on_append, msg)

    def _on_append(self, msg: tuple[str, int, int, int, tuple[Entry, ...], int]) -> None:
        if self.state == DOWN:
            return
        src, term, prev, prev_term, entries, leader_commit = msg
        peer = self.cluster.node(src)
        if term < self.term:
            self._send(src, peer._on_append_reply, (self.name, self.term, False, 0))
            return
        if term > self.term or self.role != FOLLOWER or self.leader != src:
            self._follow(term, src, heard=True)
        else:
            self._reset_timer()
        log = self.log
        if prev > len(log) or (prev and log[prev - 1].term != prev_term):
            hint = len(log) + 1
            if prev <= len(log):  # skip the whole conflicting term
                bad = log[prev - 1].term
                hint = prev
                while hint > 1 and log[hint - 2].term == bad:
                    hint -= 1
            self._send(src, peer._on_append_reply, (self.name, term, False, hint))
            return
        changed = False
        for k, entry in enumerate(entries):
            i = prev + 1 + k
            if i <= len(log):
                if log[i - 1].term == entry.term:
                    continue
                if i <= self.commit_index:
                    self.cluster.violations.append(
                        (self.env.now, f"{self.name} truncated committed index {i}")
                    )
                del log[i - 1 :]
                self._durable = min(self._durable, i - 1)
            log.append(entry)
            changed = True
        last_new = prev + len(entries)
        if leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(leader_commit, last_new))
        ack = (src, term, last_new, entries[-1] if entries else None)
        if changed or last_new > self._durable:
            self._persist(self._ack, ack, write=changed)
        else:
            self._ack(ack)

    def _ack(self, item: tuple[str, int, int, Entry | None]) -> None:
        src, term, index, last = item
        if self.term != term or index > len(self.log):
            return
        if last is not None and self.log[index - 1] is not last:
            return  # overwritten meanwhile: this acknowledgement would lie
        if last is not None:
            self._durable = max(self._durable, index)
        peer = self.cluster.node(src)
        self._send(src, peer._on_append_reply, (self.name, term, True, index))

    def _on_append_reply(self, msg: tuple[str, int, bool, int]) -> None:
        if self.state == DOWN:
            return
        src, term, success, index = msg
        if term > self.term:
            self._follow(term, None)
            return
        if self.role != LEADER or term != self.term:
            return
        self._busy[src] = False
        peer = self.cluster.node(src)
        if success:
            if index > self._match[src]:
                self._match[src] = index
            self._next[src] = max(self._next[src], index + 1)
            self._advance()
            if self._next[src] <= len(self.log):
                self._replicate(peer)
        else:
            self._next[src] = max(self._match[src] + 1, min(index, self._next[src]))
            self._replicate(peer)

    def _advance(self) -> None:
        """Commit the highest index a majority has on disk, if it is of this term."""
        matches = sorted([self._durable, *self._match.values()], reverse=True)
        n = matches[self.cluster.majority - 1]
        if n > self.commit_index and self.log[n - 1].term == self.term:
            first = self.commit_index + 1
            self.commit_index = n
            self.cluster._commit(self, first, n)
            for index in sorted(i for i in self._pending if i <= n):
                op, attempt = self._pending.pop(index)
                self._answer(op, attempt, OK, result=self.log[index - 1].result)

    # -- clients -------------------------------------------------------------------------------

    def _on_client(self, item: tuple[_Op, int]) -> None:
        op, attempt = item
        if self.state == DOWN:
            self._answer(op, attempt, "refused")
        elif self.role != LEADER:
            self._answer(op, attempt, "redirect", self.leader)
        else:  # appended even if the router gave up meanwhile: the node cannot know
            self._append(op, attempt)

    def _answer(
        self, op: _Op, attempt: int, outcome: str, hint: str | None = None, result: Any = None
    ) -> None:
        router = self.cluster
        msg = (op, attempt, outcome, self.name, hint, result)
        self._send(router.name, router._on_answer, msg)

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for index in sorted(pending):
            op, attempt = pending[index]
            self._answer(op, attempt, ERROR)

    # -- crash and recovery ----------------------------------------------------------------

    def _crashed(self) -> None:
        self._epoch += 1
        self._armed = False
        if self.role == LEADER:
            self.cluster.leader_crashes.append((self.env.now, self.term, self.name))
            self.cluster.step_downs.append((self.env.now, self.term, self.name, "crash"))
            self._fail_pending()
        elif self.role == CANDIDATE:
            self._end_election("crashed")
        self.role = FOLLOWER
        self._believe(None)
        self.commit_index = 0
        self._durable = len(self.log)  # a write in progress counts as done
        self._disk_free = self.env.now
        self._next.clear()
        self._match.clear()
        self._busy.clear()

    def _changed(self, node: Node, old: str, new: str) -> None:
        if old == DOWN and new != DOWN:
            self._reset_timer()
