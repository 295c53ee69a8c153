"""Dynamo-style quorums: N replicas per key, writes acknowledged by W, reads answered by R.

``QuorumStore`` makes replica nodes (``QuorumReplica``, each a ``hasim.Node`` with a
``VersionedStore``) and is itself the **coordinator**: the service clients send requests to.
Choice: one coordinator component, as a client library or a stateless coordinator tier would
be (Dynamo's client-driven coordination); it never fails (``failures`` applies to the
replicas), so what is measured is the replicas' and the network's availability.

**Placement.** Replica names sit on a consistent-hash ring (``vnodes`` points each, blake2b
hashes); the *preference list* of a key is the first ``n`` distinct replicas clockwise from
the key's hash (all replicas, in ring order, when ``n`` equals their count). The replicas
after them are the fallbacks a sloppy quorum uses.

**Versions** are integers, per key: the coordinator gives each write the next number of its
per-key counter when the write arrives (choice: the coordinator is one logical component, so
this is last-writer-wins with a perfectly synchronised clock; versions are unique, grow in
arrival order, and are what ``hasim.replication.checker`` compares). A replica applies a
write only if its version is newer than the one it holds.

**Operations.** The coordinator sends each operation, through ``net.path(store, replica)``,
to the replicas it believes up: with fanout ``"all"`` (``write_fanout``, ``read_fanout``)
to every one of them (Dynamo, Cassandra writes), with ``"quorum"`` to exactly W (writes) or
R (reads) of them chosen at random (Cassandra-style reads; with both, PBS's non-expanding
partial quorum). Each replica
serves one message at a time, FIFO, taking ``service_time`` (times its slowdown; reads take
``read_service_time`` and writes ``write_service_time`` when given), and answers through
``net.path(replica, store)``. A write is ``ok`` after W acknowledgements
(answered with its version); a read after R replies, returning the newest ``(version,
value)`` among them. With ``read_repair``, every reply older than the newest the read has
seen (late replies included, until the operation's timer runs out) is repaired: the newest
is pushed to that replica (no acknowledgement).

**WARS latencies.** PBS (Bailis et al., VLDB 2012) models an operation's messages with four
one-way latencies: W (write, coordinator -> replica), A (its acknowledgement), R (read
request) and S (read response). By default a write and a read request share the path from
the coordinator to a replica, and acknowledgements and responses the path back. With
``wars=WARS(write=..., ack=..., read=..., response=...)`` each message of those four kinds
also waits a draw of its own distribution before it enters its path (the path's latency,
cuts and loss still apply; with no latency set between the store and its replicas, the
default, the WARS draws are the whole delays, as in PBS). Each replica's W and R draws come
from the coordinator's streams ``(store, "write->replica")`` and ``(store, "read->replica")``,
its A and S draws from its own ``(replica, "ack")`` and ``(replica, "response")``; pings,
read repairs and hinted handoffs take the plain paths. ``hasim.analytic.wars_consistency``
integrates the model numerically and ``hasim.replication.pbs.visibility_trials`` measures it
on this store. (Service times are not part of PBS's model and do not simply add to W or R:
a replica serves FIFO, so a read that arrives while the write is queued or in service there
waits for it and sees it.)

**Outcomes.** ``error`` at once while the coordinator itself is down (only a chaos action
can take it down: ``failures`` is the replicas'), and for every operation in flight when it
crashes (their late replies are ignored); ``rejected`` at once when fewer replicas than the
operation needs (W or R) are believed up among the candidates (the preference list; every
replica with ``sloppy``); ``timeout`` (responder: the store) when W or R answers have not
come back within ``coordinator_timeout``. Nothing else comes from the replicas: a message to
a down replica is lost, as in a real network, and the coordinator learns of it only by its
timer. The work of an operation that timed out may still take effect (a write may be on some
replicas: indeterminate).

**Failure detection (no oracle).** A replica that has not answered an operation by its
timeout is *suspected*: left out of the next operations, and pinged every ``probe_interval``
seconds. Any message from it (a pong, a late reply) clears the suspicion.

**Sloppy quorum and hinted handoff.** With ``sloppy=True`` an operation goes to the first
``n`` replicas on the ring the coordinator believes up; a write meant for a suspected
replica of the preference list goes to the next believed-up one with a *hint* naming it. The
substitute keeps hinted data apart from its own (durable), answers reads with the newest of
both, and every ``hinted_handoff`` seconds sends each intended replica its hints; the hints
are dropped once acknowledged (``hinted_handoff=None``: kept, never handed back).

**Failure semantics of a replica.** Its store and hints are on disk and survive a crash;
messages it was serving or that arrive while it is down are lost (their operations learn it
by timeout); a degraded replica serves with its slowdown (stalls and error rates are not
modelled here).

Closed forms for partial quorums (Bailis et al., *Probabilistically Bounded Staleness*,
VLDB 2012) are ``stale_probability``, ``k_staleness`` and ``t_visibility``, in
``hasim.analytic.staleness``; ``operation_availability`` is in ``hasim.replication.checker``.
Both are re-exported here for the imports that name this module.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hasim import network
from hasim.dist import Deterministic, Distribution, Uniform, as_distribution
from hasim.errors import check_int, check_positive, config_error
from hasim.metrics.recorder import ERROR, REJECTED, TIMEOUT
from hasim.node import DOWN, Node, Reply, _fault_models, member_zones
from hasim.replication.history import WRITE, Operation, operation
from hasim.replication.store import ReplicatedService, VersionedStore
from hasim.sim import Simulation

__all__ = [
    "QuorumStore",
    "QuorumReplica",
    "WARS",
    "FANOUTS",
]

#: ``fanout`` choices: send to every believed-up candidate, or to exactly W / R of them.
FANOUTS = ("all", "quorum")

# Message kinds (the first item of every message a replica receives).
_READ, _WRITE, _REPAIR, _PING, _HANDOFF, _HANDOFF_ACK = range(6)


@dataclass(frozen=True)
class WARS:
    """PBS's four one-way message latencies of a quorum store (Bailis et al., VLDB 2012, sec. 5).

    Each is a Distribution, a number of seconds >= 0 or a duration string (``"2ms"``); 0, the
    default, adds no delay (and draws nothing). In a ``QuorumStore`` each is added to the
    network path's latency of its message (see the module docstring).

    Attributes:
        write: W, a write's delay from the coordinator to a replica.
        ack: A, a write acknowledgement's delay from a replica back to the coordinator.
        read: R, a read request's delay from the coordinator to a replica.
        response: S, a read response's delay from a replica back to the coordinator.

    Example:
        >>> WARS(write=Exponential(mean=0.01), ack=Exponential(mean=0.002),
        ...      read=Exponential(mean=0.002), response=Exponential(mean=0.002))
    """

    write: Distribution | float | str = 0.0
    ack: Distribution | float | str = 0.0
    read: Distribution | float | str = 0.0
    response: Distribution | float | str = 0.0

    def __post_init__(self) -> None:
        for param in ("write", "ack", "read", "response"):
            value = as_distribution(getattr(self, param), "WARS", param)
            object.__setattr__(self, param, value)


def _zero(dist: Distribution) -> bool:
    return isinstance(dist, Deterministic) and dist.value == 0.0


def _delayed(
    sim: Simulation, dist: Distribution, name: str, purpose: str, path: network.Path
) -> Callable[[Callable[[Any], None], Any], None] | None:
    """``send(fn, msg)`` on ``path`` after a draw of ``dist``; None when ``dist`` is 0."""
    if _zero(dist):
        return None
    draw = sim.sampler(dist, name, purpose)
    later = sim.call_later

    def relay(item: tuple[Callable[[Any], None], Any]) -> None:
        path.send(*item)

    def send(fn: Callable[[Any], None], msg: Any) -> None:
        later(draw(), relay, (fn, msg))

    return send


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


class _Op:
    """An operation the coordinator is running."""

    __slots__ = (
        "attempt",
        "reply",
        "kind",
        "key",
        "version",
        "value",
        "targets",
        "answered",
        "needed",
        "done",
        "best",
    )

    def __init__(self, attempt: Any, reply: Reply, op: Operation, needed: int) -> None:
        self.attempt = attempt
        self.reply = reply
        self.kind = op.kind
        self.key = op.key
        self.value = op.value
        self.version = 0
        self.targets: list[str] = []
        self.answered: dict[str, int] = {}  # replica -> the version it answered with
        self.needed = needed
        self.done = False
        self.best: tuple[int, Any] = (0, None)


class QuorumReplica(Node):
    """One replica of a ``QuorumStore`` (made by the store; see the module docstring).

    Attributes:
        store: its own data (durable).
        hints: intended replica -> key -> ``(version, value)`` it holds for it (durable).
    """

    def __init__(self, owner: QuorumStore, name: str, zone: str | None, failures: Any) -> None:
        super().__init__(owner.sim, name, zone=zone, failures=failures)
        self.owner = owner
        self.store = VersionedStore(record_bytes=owner.record_bytes, keep_log=owner.keep_log)
        self.hints: dict[str, dict[Any, tuple[int, Any]]] = {}
        self._free = 0.0
        self._epoch = 0  # bumped at each crash: work of before does nothing
        self._handing = False

    def _prepare(self) -> None:
        super()._prepare()
        self._net = network.get(self.sim)
        owner = self.owner
        self._back = back = self._net.path(self.name, owner.name)
        self._draw = self.sim.sampler(owner.service_time, self.name, "service")
        self._draw_read = self._draw_write = self._draw
        if owner.read_service_time is not None:
            self._draw_read = self.sim.sampler(owner.read_service_time, self.name, "read-service")
        if owner.write_service_time is not None:
            dist = owner.write_service_time
            self._draw_write = self.sim.sampler(dist, self.name, "write-service")
        wars = owner.wars
        self._ack = self._response = back.send
        if wars is not None:
            self._ack = _delayed(self.sim, wars.ack, self.name, "ack", back) or back.send
            send = _delayed(self.sim, wars.response, self.name, "response", back)
            self._response = send or back.send

    def _crashed(self) -> None:
        self._epoch += 1
        self._free = 0.0

    def read(self, key: Any) -> tuple[int, Any]:
        """The newest ``(version, value)`` it holds for ``key``, hinted data included."""
        best = self.store.get(key)
        for data in self.hints.values():
            held = data.get(key)
            if held is not None and held[0] > best[0]:
                best = held
        return best

    def _receive(self, msg: tuple) -> None:
        if self.state == DOWN:  # nobody listens: the message is lost
            return
        now = self.env._now
        kind = msg[0]
        draw = (
            self._draw_read if kind == _READ else self._draw_write if kind == _WRITE else self._draw
        )
        delay = draw() * self.slowdown
        if delay == 0.0 and self._free <= now:
            self._serve((self._epoch, msg))
            return
        done = max(now, self._free) + delay
        self._free = done
        self.sim.call_later(done - now, self._serve, (self._epoch, msg))

    def _serve(self, item: tuple[int, tuple]) -> None:
        epoch, msg = item
        if epoch != self._epoch or self.state == DOWN:
            return
        kind = msg[0]
        owner = self.owner
        if kind == _READ:
            self._response(owner._on_reply, (msg[1], self.name, *self.read(msg[1].key)))
        elif kind == _WRITE:
            _, op, intended = msg
            if intended is None:
                self.store.apply(op.key, op.version, op.value)
            else:
                data = self.hints.setdefault(intended, {})
                held = data.get(op.key)
                if held is None or held[0] < op.version:
                    data[op.key] = (op.version, op.value)
                self._start_handoff()
            self._ack(owner._on_reply, (op, self.name, op.version, op.value))
        elif kind == _REPAIR:
            _, key, version, value = msg
            self.store.apply(key, version, value)
        elif kind == _PING:
            self._back.send(owner._on_reply, (None, self.name, 0, None))
        elif kind == _HANDOFF:
            _, holder, batch = msg
            self.store.merge(batch)
            path = self._net.path(self.name, holder.name)
            path.send(holder._receive, (_HANDOFF_ACK, self.name, batch))
        else:  # _HANDOFF_ACK: drop the hints handed over (unless a newer one came meanwhile)
            _, intended, batch = msg
            data = self.hints.get(intended, {})
            for key, (version, _) in batch.items():
                held = data.get(key)
                if held is not None and held[0] <= version:
                    del data[key]
            if not data:
                self.hints.pop(intended, None)

    def _start_handoff(self) -> None:
        if not self._handing and self.owner.hinted_handoff is not None:
            self._handing = True
            self.sim.call_later(self.owner.hinted_handoff, self._handoff)

    def _handoff(self, _: Any = None) -> None:
        if not self.hints:
            self._handing = False
            return
        if self.state != DOWN:
            for intended, data in self.hints.items():
                target = self.owner.replica(intended)
                path = self._net.path(self.name, intended)
                path.send(target._receive, (_HANDOFF, self, dict(data)))
        self.sim.call_later(self.owner.hinted_handoff, self._handoff)


class QuorumStore(Node, ReplicatedService):
    """A Dynamo-style replicated key-value store: N replicas per key, W to write, R to read.

    Args:
        sim: the Simulation.
        name: the coordinator's name (clients send requests to it).
        n: replicas per key (the preference list's length).
        r: replies a read waits for (1 <= r <= n).
        w: acknowledgements a write waits for (1 <= w <= n).
        replicas: how many replicas (an integer >= n; named ``"<name>0"``, ...) or their
            names; None: ``n``.
        coordinator_timeout: seconds an operation waits for its W or R answers (> 0).
        service_time: a replica's time to serve one message (Distribution, seconds, "1ms").
        read_service_time, write_service_time: a replica's time to serve a read request and a
            write, when it differs from ``service_time`` (None: ``service_time``, drawn from
            one stream for every message, as before these existed).
        wars: PBS's W, A, R and S latencies (a ``WARS``) added to the messages of writes,
            acknowledgements, read requests and read responses; None: none.
        read_repair: push the newest version to replicas a read found stale.
        sloppy: sloppy quorum with hinted handoff (see the module docstring).
        hinted_handoff: seconds between two handoff rounds of a replica holding hints
            (> 0), or None: hints are never handed back.
        write_fanout, read_fanout: ``"all"`` or ``"quorum"``: where writes and reads
            are sent (see the module docstring).
        probe_interval: seconds between two pings of a suspected replica (> 0).
        vnodes: ring points per replica (an integer >= 1).
        zone: the replicas' zone: a name, a list of names cycled over them, or None.
        failures: a fault model every replica gets (each draws its own times), or None.
        record_bytes, keep_log: as for ``VersionedStore``.

    Attributes:
        replicas: the ``QuorumReplica`` nodes.
        suspected: replica name -> since when the coordinator suspects it.

    Example:
        >>> kv = QuorumStore(sim, "kv", n=3, r=2, w=2, coordinator_timeout=0.5)
        >>> KVWorkload(sim, "users", target=kv, rate=100, timeout=1.0)
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        n: int = 3,
        r: int = 2,
        w: int = 2,
        replicas: int | Sequence[str] | None = None,
        coordinator_timeout: float = 1.0,
        service_time: Distribution | float | str = 0.0,
        read_service_time: Distribution | float | str | None = None,
        write_service_time: Distribution | float | str | None = None,
        wars: WARS | None = None,
        read_repair: bool = True,
        sloppy: bool = False,
        hinted_handoff: float | None = 1.0,
        write_fanout: str = "all",
        read_fanout: str = "all",
        probe_interval: float = 1.0,
        vnodes: int = 64,
        zone: str | Sequence[str] | None = None,
        failures: Any = None,
        record_bytes: int = 1024,
        keep_log: bool = False,
    ) -> None:
        owner = f"QuorumStore {name!r}"
        self.n = check_int(owner, "n", n, minimum=1)
        if replicas is None:
            names = [f"{name}{i}" for i in range(self.n)]
        elif isinstance(replicas, int) and not isinstance(replicas, bool):
            count = check_int(owner, "replicas", replicas, minimum=self.n)
            names = [f"{name}{i}" for i in range(count)]
        elif isinstance(replicas, (list, tuple)) and all(
            isinstance(x, str) and x for x in replicas
        ):
            names = list(replicas)
            if len(set(names)) != len(names) or len(names) < self.n or name in names:
                raise config_error(
                    owner, "replicas", f"at least n={self.n} distinct names other than {name!r}",
                    replicas,
                )  # fmt: skip
        else:
            raise config_error(owner, "replicas", "a count, a list of names or None", replicas)
        self.r = check_int(owner, "r", r, minimum=1)
        self.w = check_int(owner, "w", w, minimum=1)
        if self.r > self.n:
            raise config_error(owner, "r", f"an integer in [1, n={self.n}]", r)
        if self.w > self.n:
            raise config_error(owner, "w", f"an integer in [1, n={self.n}]", w)
        self.coordinator_timeout = check_positive(owner, "coordinator_timeout", coordinator_timeout)
        self.service_time = as_distribution(service_time, owner, "service_time")
        self.read_service_time = (
            None
            if read_service_time is None
            else as_distribution(read_service_time, owner, "read_service_time")
        )
        self.write_service_time = (
            None
            if write_service_time is None
            else as_distribution(write_service_time, owner, "write_service_time")
        )
        if wars is not None and not isinstance(wars, WARS):
            raise config_error(owner, "wars", "a WARS or None", wars)
        self.wars = wars
        for param, flag in (("read_repair", read_repair), ("sloppy", sloppy)):
            if not isinstance(flag, bool):
                raise config_error(owner, param, "True or False", flag)
        self.read_repair = read_repair
        self.sloppy = sloppy
        if hinted_handoff is not None:
            hinted_handoff = check_positive(owner, "hinted_handoff", hinted_handoff)
        self.hinted_handoff = hinted_handoff
        for param, fanout in (("write_fanout", write_fanout), ("read_fanout", read_fanout)):
            if fanout not in FANOUTS:
                raise config_error(owner, param, '"all" or "quorum"', fanout)
        self.write_fanout = write_fanout
        self.read_fanout = read_fanout
        self.probe_interval = check_positive(owner, "probe_interval", probe_interval)
        self.vnodes = check_int(owner, "vnodes", vnodes, minimum=1)
        zones = member_zones(owner, zone)
        _fault_models(owner, sim, failures)  # checked before anything is registered
        self.record_bytes = check_int(owner, "record_bytes", record_bytes, minimum=0)
        if not isinstance(keep_log, bool):
            raise config_error(owner, "keep_log", "True or False", keep_log)
        self.keep_log = keep_log
        for other in names:
            if other in sim:
                raise config_error(owner, "replicas", "names not used in the simulation", other)
        super().__init__(sim, name)
        self.replicas = [
            QuorumReplica(self, x, zones[i % len(zones)], failures) for i, x in enumerate(names)
        ]
        self._by_name = {x.name: x for x in self.replicas}
        ring = sorted((_hash64(f"{x}#{i}"), x) for x in names for i in range(self.vnodes))
        self._points = [p for p, _ in ring]
        self._owners = [x for _, x in ring]
        self._prefs: dict[Any, list[str]] = {}
        self._versions: dict[Any, int] = {}
        self.suspected: dict[str, float] = {}
        self._ops: dict[_Op, None] = {}

    def __repr__(self) -> str:
        return (
            f"<QuorumStore {self.name!r} N={self.n} R={self.r} W={self.w}, "
            f"{len(self.replicas)} replicas, fanout {self.write_fanout}/{self.read_fanout}, "
            f"sloppy={self.sloppy}{'' if self.wars is None else ', WARS'}>"
        )

    def replica(self, name: str) -> QuorumReplica:
        """The replica called ``name``."""
        return self._by_name[name]

    def preference(self, key: Any) -> list[str]:
        """All replicas in ring order from the key's hash; the first ``n``: its preference list."""
        pref = self._prefs.get(key)
        if pref is None:
            points, owners = self._points, self._owners
            start = bisect.bisect(points, _hash64(str(key)))
            pref = []
            for k in range(len(points)):
                x = owners[(start + k) % len(points)]
                if x not in pref:
                    pref.append(x)
                    if len(pref) == len(self.replicas):
                        break
            self._prefs[key] = pref
        return pref

    def _prepare(self) -> None:
        super()._prepare()
        net = network.get(self.sim)
        self._to = {x.name: net.path(self.name, x.name) for x in self.replicas}
        self._u = self.sim.sampler(Uniform(0.0, 1.0), self.name, "fanout")
        # How writes and read requests leave: the plain path, or after a WARS draw.
        self._send_write = {x: path.send for x, path in self._to.items()}
        self._send_read = dict(self._send_write)
        if self.wars is not None:
            for x, path in self._to.items():
                send = _delayed(self.sim, self.wars.write, self.name, f"write->{x}", path)
                self._send_write[x] = send or path.send
                send = _delayed(self.sim, self.wars.read, self.name, f"read->{x}", path)
                self._send_read[x] = send or path.send

    # -- operations --------------------------------------------------------------------------

    def submit(self, attempt: Any, reply: Reply) -> None:
        """Run the operation on a quorum; reply ``ok``, ``timeout``, ``rejected`` or ``error``."""
        op = operation(attempt)
        if self.state == DOWN:
            reply(attempt, ERROR, self.name)
            return
        needed = self.w if op.kind == WRITE else self.r
        pref = self.preference(op.key)
        suspected = self.suspected
        hints: dict[str, str] = {}
        if self.sloppy:
            live = [x for x in pref if x not in suspected][: self.n]
            missing = [x for x in pref[: self.n] if x in suspected]
            for x in live:
                if x not in pref[: self.n] and missing:
                    hints[x] = missing.pop(0)
        else:
            live = [x for x in pref[: self.n] if x not in suspected]
        if len(live) < needed:
            reply(attempt, REJECTED, self.name)
            return
        fanout = self.write_fanout if op.kind == WRITE else self.read_fanout
        if fanout == "quorum":  # a random `needed` of them: a partial Fisher-Yates
            u = self._u
            for i in range(needed):
                j = i + int(u() * (len(live) - i))
                live[i], live[j] = live[j], live[i]
            del live[needed:]
        state = _Op(attempt, reply, op, needed)
        state.targets = live
        self._ops[state] = None
        if op.kind == WRITE:
            state.version = self._versions.get(op.key, 0) + 1
            self._versions[op.key] = state.version
            send = self._send_write
            for x in live:
                send[x](self._by_name[x]._receive, (_WRITE, state, hints.get(x)))
        else:
            send = self._send_read
            for x in live:
                send[x](self._by_name[x]._receive, (_READ, state))
        self.sim.call_later(self.coordinator_timeout, self._expire, state)

    def _on_reply(self, msg: tuple[_Op | None, str, int, Any]) -> None:
        state, by, version, value = msg
        if self.state == DOWN:
            return
        if by in self.suspected:
            del self.suspected[by]
        if state is None or state not in self._ops:  # a pong, or after the timer ran out
            return
        state.answered[by] = version
        if state.kind == WRITE:
            if not state.done and len(state.answered) >= state.needed:
                state.done = True
                self.respond(state.attempt, state.reply, state.value, state.version)
            self._settled(state)
            return
        if version > state.best[0]:
            state.best = (version, value)
        if not state.done and len(state.answered) >= state.needed:
            state.done = True
            self.respond(state.attempt, state.reply, state.best[1], state.best[0])
        if state.done and self.read_repair:
            best, key = state.best, state.key
            for x, held in state.answered.items():
                if held < best[0]:
                    state.answered[x] = best[0]
                    self._to[x].send(self._by_name[x]._receive, (_REPAIR, key, *best))
        self._settled(state)

    def _settled(self, state: _Op) -> None:
        if state.done and len(state.answered) == len(state.targets):
            del self._ops[state]

    def _expire(self, state: _Op) -> None:
        if state not in self._ops:
            return
        del self._ops[state]
        now = self.env._now
        for x in state.targets:
            if x not in state.answered and x not in self.suspected:
                self.suspected[x] = now
                self.sim.call_later(self.probe_interval, self._probe, x)
        if not state.done:
            state.done = True
            state.reply(state.attempt, TIMEOUT, self.name)

    def _crashed(self) -> None:
        ops, self._ops = list(self._ops), {}
        for state in ops:
            if not state.done:
                state.done = True
                state.reply(state.attempt, ERROR, self.name)

    def _probe(self, name: str) -> None:
        if name in self.suspected:
            if self.state != DOWN:
                self._to[name].send(self._by_name[name]._receive, (_PING,))
            self.sim.call_later(self.probe_interval, self._probe, name)

    # -- state --------------------------------------------------------------------------------

    def final_state(self) -> VersionedStore:
        """The newest version of every key on any replica (hinted data included)."""
        merged = VersionedStore(record_bytes=self.record_bytes)
        for x in self.replicas:
            merged.merge(x.store)
            for data in x.hints.values():
                merged.merge(data)
        return merged

    def behind(self) -> dict[str, int]:
        """Replica name -> how many keys it holds an older version of than ``final_state``."""
        final = self.final_state()
        return {x.name: len(x.store.behind(final)) for x in self.replicas}
