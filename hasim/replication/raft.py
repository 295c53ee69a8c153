"""Raft: leader election, log replication and commit on a majority, with clients redirected.

``RaftCluster`` makes ``nodes`` ``RaftNode`` s (named ``"<name>0"``, ``"<name>1"``, ...) and is
itself the cluster's entry point: a router node that clients send requests to.

**The protocol** is Raft as in Ongaro and Ousterhout's paper (Figure 2):

* every node starts a follower in term 0; a follower or candidate whose *election timer* runs
  out starts an election: it increments its term, votes for itself and asks every peer for a
  vote (RequestVote). Each reset of the timer draws a fresh timeout from the node's own stream
  ``(node, "election")``. A node grants at most one vote per term, to a candidate whose log is
  at least as up to date as its own (last term, then last index). A node resets its timer
  when it grants a vote and when it accepts AppendEntries from the leader of its term (not
  when a message merely shows it a higher term). A candidate with votes from a majority
  (itself included) becomes leader;
* a leader appends a no-op entry of its term at once (so entries of earlier terms commit
  soon), and sends AppendEntries to every follower every ``heartbeat`` seconds, and at once
  when it appends a client's entry to a follower with no AppendEntries outstanding (one at a
  time per follower; the next batch carries whatever was appended meanwhile);
* a follower accepts AppendEntries only if its log holds the entry before them with the
  same term (the consistency check); otherwise it answers with the index the leader should
  try next (the first index of its conflicting term, or its log's end) and the leader backs
  ``nextIndex`` off to it and tries again. A conflicting suffix is deleted, never a matching
  one (a late, reordered AppendEntries does not shorten a log);
* the leader commits index N once a majority has N on disk and the entry at N is of its own
  term (the Figure 8 rule); entries before it commit with it. Followers learn the commit
  index from AppendEntries;
* any message with a higher term turns its receiver into a follower of that term.

**Messages** are network messages: each goes through ``net.path(src, dst)`` with that path's
latency, loss and partitions; a message that reaches a down node is lost.

**Disk.** ``disk_write`` is the time one write takes; each node writes one thing at a time
(FIFO). A node acknowledges nothing before it is on disk: a follower answers AppendEntries
once the entries are written, a voter grants its vote once the vote is, a candidate asks for
votes once its new term and own vote are, and a leader counts itself in a majority only for
what it has written (it sends AppendEntries while it writes, as real implementations do).
A node's slowdown (``degrade``) multiplies its write times; stalls are not modelled yet.

**Crash and recovery.** ``currentTerm``, ``votedFor`` and the log are on disk: a crash keeps
them (a write in progress at the crash counts as done; only its acknowledgement is lost).
Everything else is volatile: a crashed node forgets its role (it comes back a follower with a
fresh election timer), whom it believed leader, its commit index (relearned from the next
leader) and its leader state. A crashed leader's pending client requests end with ``error``
(the connection breaks).

**Clients.** The cluster is a Service. ``submit(request, reply)`` sends the request to the
node the router believes leader (at first, and after losing track of it, the nodes in turn).
A follower or candidate answers with a *redirect* carrying the leader it knows in its term,
if any, and the router **forwards** the request there itself (choice: the client library
follows redirects, so a client sees one attempt); without a hint it tries the next node. A
down node refuses the connection, and the router tries the next node. After ``nodes + 1``
tries without finding a leader the request ends ``rejected`` (responder: the router). A
leader appends the request as a log entry and answers ``ok`` once the entry is committed;
if it loses leadership first it answers ``error`` (the outcome of the write is unknown: the
entry may still commit). An attempt with no answer after ``timeout`` seconds ends
``timeout`` and the router forgets its leader. **Reads are log entries too** (no lease, no
read index): each read is ordered in the log with the writes, so reads are linearizable,
at the price of a commit per read.

Each committed entry is applied once, in log order, by the cluster: ``apply(request, index)``
(if given) is the replicated state machine; its return value is kept as ``entry.result``
and handed to ``reply_ok(request, reply, leader, result)``, the hook that answers ``ok``
(a key-value store overrides it to record what the client saw).

**Records** (plain lists, for measurement): ``leaders`` ``(time, term, leader)`` for every
node becoming leader; ``step_downs`` ``(time, term, node, reason)`` (reason ``"higher term"``
or ``"crash"``); ``elections``, one dict per candidacy (``node``, ``term``, ``start``,
``end``, ``outcome``: ``"won"``, ``"split"`` (its timer ran out before a majority voted for
it: the votes split, or were lost), ``"superseded"`` (it learned of a higher term or of the
leader of its term) or ``"crashed"``); ``committed``, the committed log (entries carry
``appended`` and ``committed`` times); ``beliefs`` ``(time, node, term, leader or None)``
for every change of whom a node takes for leader. ``leaderless_intervals`` measures the
time without a leader after a leader crash from them.

This module holds the cluster: ``RaftCluster`` (the nodes, the router and the measures).
The per-node protocol (``RaftNode``, ``Entry`` and the roles) is in
``hasim.replication.raft_node``; its names are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from hasim import network
from hasim.dist import Deterministic, Distribution, Uniform, as_distribution
from hasim.errors import check_int, check_positive, config_error
from hasim.metrics.recorder import ERROR, OK, REJECTED, TIMEOUT
from hasim.node import DOWN, Node, Reply, Service, _fault_models, member_zones
from hasim.replication.raft_node import CANDIDATE, FOLLOWER, LEADER, Entry, RaftNode
from hasim.sim import Simulation

__all__ = ["RaftCluster", "RaftNode", "Entry", "FOLLOWER", "CANDIDATE", "LEADER"]


class _Op:
    """A client request the router is passing on."""

    __slots__ = ("request", "reply", "tries", "alive", "attempt")

    def __init__(self, request: Any, reply: Reply) -> None:
        self.request = request
        self.reply = reply
        self.tries = 0
        self.alive = True
        self.attempt = 0  # bumped per try: answers to an earlier try are stale


def _timeout_dist(owner: str, spec: Any) -> Distribution:
    """An election timeout: ``(lo, hi)`` (uniform; lo == hi: fixed), seconds or a Distribution."""
    if isinstance(spec, tuple) and len(spec) == 2:
        lo = check_positive(owner, "election_timeout low end", spec[0])
        hi = check_positive(owner, "election_timeout high end", spec[1])
        if hi < lo:
            raise config_error(owner, "election_timeout", "a range (low, high), low <= high", spec)
        return Deterministic(lo) if hi == lo else Uniform(lo, hi)
    dist = as_distribution(spec, owner, "election_timeout")
    if not dist.mean > 0:
        raise config_error(owner, "election_timeout", "a timeout with mean > 0", spec)
    return dist


class RaftCluster(Node, Service):
    """A Raft cluster of ``nodes`` servers behind a router that clients send requests to.

    Args:
        sim: the Simulation.
        name: the router's name; the nodes are ``"<name>0"`` ... ``"<name><nodes - 1>"``.
        nodes: how many servers (an integer >= 1; odd numbers are the useful ones).
        election_timeout: ``(low, high)`` seconds, drawn uniformly at each timer reset
            (``low == high``: fixed), a Distribution, or a list of those, one per node.
        heartbeat: seconds between two AppendEntries of a leader to each follower (> 0).
        disk_write: time of one disk write (a Distribution, seconds or ``"2ms"``).
        timeout: seconds the router waits for a node's answer to one try (> 0).
        batch: the most entries one AppendEntries carries (an integer >= 1).
        zone: the nodes' zone: a name, a list of names cycled over the nodes, or None.
        failures: a fault model every node gets (each draws its own times), or None.
        apply: ``apply(request, index)``, called once per committed client entry in log
            order (the state machine); its result is kept as ``entry.result``.

    The router is a node too (``failures=None``: it never fails); it is up while it is up.
    See the module docstring for the protocol, the client path and the records.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        nodes: int = 5,
        election_timeout: Any = (0.15, 0.3),
        heartbeat: float = 0.05,
        disk_write: Distribution | float | str = 0.0,
        timeout: float = 1.0,
        batch: int = 64,
        zone: str | Sequence[str] | None = None,
        failures: Any = None,
        apply: Callable[[Any, int], Any] | None = None,
    ) -> None:
        owner = f"RaftCluster {name!r}"
        count = check_int(owner, "nodes", nodes, minimum=1)
        specs = election_timeout if isinstance(election_timeout, list) else None
        if specs is not None and len(specs) != count:
            raise config_error(owner, "election_timeout", f"a list of {count} timeouts", specs)
        timeouts = [_timeout_dist(owner, s) for s in (specs or [election_timeout])]
        self.heartbeat = check_positive(owner, "heartbeat", heartbeat)
        self.disk_write = as_distribution(disk_write, owner, "disk_write")
        self.timeout = check_positive(owner, "timeout", timeout)
        self.batch = check_int(owner, "batch", batch, minimum=1)
        zones = member_zones(owner, zone)
        _fault_models(owner, sim, failures)  # checked before anything is registered
        if apply is not None and not callable(apply):
            raise config_error(owner, "apply", "a callable apply(request, index) or None", apply)
        super().__init__(sim, name)
        self.apply = apply
        self.majority = count // 2 + 1
        self.leaders: list[tuple[float, int, str]] = []
        self.step_downs: list[tuple[float, int, str, str]] = []
        self.elections: list[dict[str, Any]] = []
        self.committed: list[Entry] = []
        #: The term of the leader that committed each entry of ``committed`` first.
        self.commit_terms: list[int] = []
        self.beliefs: list[tuple[float, str, int, str | None]] = []
        self.leader_crashes: list[tuple[float, int, str]] = []
        #: Safety violations the nodes noticed themselves (tests assert it stays empty).
        self.violations: list[tuple[float, str]] = []
        self.nodes: list[RaftNode] = []
        self._by_name: dict[str, RaftNode] = {}
        for i in range(count):
            node = RaftNode(
                self, f"{name}{i}", timeouts[i % len(timeouts)], zones[i % len(zones)], failures
            )
            self.nodes.append(node)
            self._by_name[node.name] = node
        #: The node the router believes leader (None: it will try the nodes in turn).
        self.believed: str | None = None
        self._turn = 0
        self._ops: dict[_Op, None] = {}
        self._paths: dict[str, network.Path] = {}

    def node(self, name: str) -> RaftNode:
        """The cluster's node called ``name``."""
        return self._by_name[name]

    @property
    def leader(self) -> RaftNode | None:
        """The up node that is leader of the highest term (truth: for predicates and tests)."""
        live = [n for n in self.nodes if n.state != DOWN and n.role == LEADER]
        return max(live, key=lambda n: n.term, default=None)

    def _prepare(self) -> None:
        super()._prepare()
        net = network.get(self.sim)
        self._paths = {n.name: net.path(self.name, n.name) for n in self.nodes}

    def _commit(self, leader: RaftNode, first: int, last: int) -> None:
        """``leader`` committed indices ``first..last``: record and apply them once."""
        now, committed = self.env.now, self.committed
        for index in range(first, last + 1):
            entry = leader.log[index - 1]
            if index <= len(committed):
                if committed[index - 1] is not entry:
                    self.violations.append((now, f"{leader.name} committed another entry {index}"))
                continue
            entry.committed = now
            committed.append(entry)
            self.commit_terms.append(leader.term)
            if entry.op is not None and self.apply is not None:
                entry.result = self.apply(entry.op, index)

    # -- fast-forward (hasim.fastforward) ------------------------------------------------------

    @property
    def _ff_period(self) -> float:
        return self.heartbeat

    def _ff_check(self) -> None:
        """Refuse fast-forward unless AppendEntries always beat every election timeout.

        A follower's timer is reset by each AppendEntries of its leader; if one can
        be lost, or arrive later than the shortest election timeout, an election
        can start at a random moment of a quiet stretch, which a jump would skip.
        """
        from hasim.fastforward import check_timing, lowest

        names = [n.name for n in self.nodes]
        paths = [(a, b) for a in names for b in names if a != b]
        limit = min(lowest(n.election_timeout) for n in self.nodes)
        check_timing(self.sim, self.label, paths, self.heartbeat, limit)

    def _ff_quiet(self) -> bool:
        """Whether only deterministic bookkeeping is left until the next fault event.

        One up leader; every other up node its follower in its term, knowing it,
        with the whole log on disk and committed, no AppendEntries with entries
        outstanding, no election running, and no client operation anywhere. Then
        each heartbeat only resets the followers' timers (which never fire, see
        ``_ff_check``) and is lost at the down nodes, until a fault. Without a
        leader (a majority down) elections repeat with fresh terms: not quiet, the
        stretch is simulated.
        """
        if self._ops:
            return False
        live = [n for n in self.nodes if n.state != DOWN]
        leaders = [n for n in live if n.role == LEADER]
        if len(leaders) != 1:
            return False
        leader = leaders[0]
        last, now = leader.last_index, self.env.now
        if leader._pending or leader._durable < last or leader.commit_index < last:
            return False
        for n in live:
            if n._election is not None or n._disk_free > now:
                return False
            if n is leader:
                continue
            if n.role != FOLLOWER or n.term != leader.term or n.leader != leader.name:
                return False
            if n.last_index != last or n.commit_index != last or n._durable < last:
                return False
            if leader._busy.get(n.name) or leader._match.get(n.name) != last:
                return False
        return True

    def _ff_shift(self, shift: float) -> None:
        pass  # the router keeps no deadlines

    # -- the router ----------------------------------------------------------------------------

    def submit(self, request: Any, reply: Reply) -> None:
        """Send ``request`` to the leader (following redirects); reply once it is answered."""
        if self.state == DOWN:
            reply(request, ERROR, self.name)
            return
        op = _Op(request, reply)
        self._ops[op] = None
        self._try(op)

    def _try(self, op: _Op) -> None:
        if op.tries > len(self.nodes):
            self._end(op, REJECTED, self.name)
            return
        op.tries += 1
        op.attempt += 1
        target = self.believed
        if target is None:
            target = self.nodes[self._turn % len(self.nodes)].name
            self._turn += 1
        self._paths[target].send(self.node(target)._on_client, (op, op.attempt))
        self.sim.call_later(self.timeout, self._expire, (op, op.attempt))

    def _expire(self, item: tuple[_Op, int]) -> None:
        op, attempt = item
        if op.alive and op.attempt == attempt:
            self.believed = None
            self._end(op, TIMEOUT, self.name)

    def _on_answer(self, item: tuple[_Op, int, str, str, str | None, Any]) -> None:
        op, attempt, outcome, by, hint, result = item
        if self.state == DOWN or not op.alive or op.attempt != attempt:
            return
        if outcome == OK:
            self.believed = by
            op.alive = False
            del self._ops[op]
            self.reply_ok(op.request, op.reply, by, result)
        elif outcome == ERROR:
            self.believed = None
            self._end(op, ERROR, by)
        else:  # "redirect" (hint: the leader it knows) or "refused" (down)
            self.believed = hint if hint is not None and hint != by else None
            self._try(op)

    def reply_ok(self, request: Any, reply: Reply, by: str, result: Any) -> None:
        """Answer ``ok`` for ``request``, committed; ``result`` is what ``apply`` returned.

        A hook: a key-value store built on the cluster overrides it to record what the
        client saw before answering.
        """
        reply(request, OK, by)

    def _end(self, op: _Op, outcome: str, by: str | None) -> None:
        op.alive = False
        del self._ops[op]
        op.reply(op.request, outcome, by)

    def _crashed(self) -> None:
        ops = list(self._ops)
        for op in ops:
            self._end(op, ERROR, self.name)
        self.believed = None

    # -- measurement -------------------------------------------------------------------------

    def commit_latencies(self) -> list[float]:
        """Seconds from append at the leader to commit, for every committed client entry."""
        return [e.committed - e.appended for e in self.committed if e.op is not None]

    def split_vote_share(self) -> float:
        """The share of the terms some node campaigned in that elected nobody (nan: none).

        A term without a winner is a split vote in the broad sense: the candidates' votes
        split, or were lost, or too few nodes were reachable.
        """
        terms = {e["term"] for e in self.elections}
        if not terms:
            return math.nan
        won = {term for _, term, _ in self.leaders}
        return len(terms - won) / len(terms)

    def leaderless_intervals(self, until: float | None = None) -> list[dict[str, Any]]:
        """Time without a leader after each leader crash.

        An interval starts when a node crashes while it is leader of term T, and ends at the
        first moment at which some node L is leader of a term U > T and every up node
        (L included) takes L for the leader of U: every live follower has accepted an
        AppendEntries from L (or granted nothing since). A crashed node does not count while
        it is down; once back it must hear from L too. Partitioned nodes that are up count:
        the interval lasts until they hear from the new leader.

        Args:
            until: ignore events after this time (default: now).

        Returns:
            one dict per leader crash: ``crash`` (time), ``leader``, ``term``, ``elected``
            (when the first leader of a higher term was elected, None if none),
            ``end`` and ``duration`` (None if the interval had not ended by ``until``).
        """
        until = self.env.now if until is None else until
        names = {n.name for n in self.nodes}
        events: list[tuple[float, int, str, Any]] = []
        for t, name, state in self.sim.recorder.state_log:
            if name in names:
                events.append((t, 0, name, ("state", state)))
        for t, name, term, leader in self.beliefs:
            events.append((t, 1, name, ("belief", term, leader)))
        for t, term, name in self.leader_crashes:
            events.append((t, 2, name, ("crash", term)))
        events.sort(key=lambda e: (e[0], e[1]))  # stable: order of recording within a kind
        up = dict.fromkeys(names, True)
        belief: dict[str, tuple[int, str | None]] = dict.fromkeys(names, (0, None))
        out: list[dict[str, Any]] = []
        open_: list[dict[str, Any]] = []
        i = 0
        while i < len(events) and events[i][0] <= until:
            t = events[i][0]
            while i < len(events) and events[i][0] == t:
                _, _, name, what = events[i]
                if what[0] == "state":
                    up[name] = what[1] != DOWN
                elif what[0] == "belief":
                    belief[name] = (what[1], what[2])
                else:
                    record = {"crash": t, "leader": name, "term": what[1]}
                    record.update(elected=None, end=None, duration=None)
                    out.append(record)
                    open_.append(record)
                i += 1
            if not open_:
                continue
            live = {belief[n] for n in names if up[n]}
            agreed = next(iter(live)) if len(live) == 1 else (0, None)
            settled = agreed[1] is not None and up[agreed[1]]
            for record in list(open_):
                if settled and agreed[0] > record["term"]:
                    record["end"] = t
                    record["duration"] = t - record["crash"]
                    open_.remove(record)
        for record in out:
            later = [
                t for t, term, _ in self.leaders if term > record["term"] and t >= record["crash"]
            ]
            record["elected"] = min(later) if later and min(later) <= until else None
        return out
