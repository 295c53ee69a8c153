"""Message delivery between components: latency, loss, bandwidth, failed links, partitions.

Every message between two components travels one *path* (a direction of a
pair): client requests and their answers, forwarded requests, health
probes, heartbeats, replication traffic. A path has

* a **latency** distribution: a pair override (``set_latency``), else the
  latency of a ``Link`` between the two, else a zone rule (same zone, cross
  zone, cross region, when both ends have zones), else the default;
* a **loss** probability per message (the pair's ``set_loss``, else the
  network's default; a link's and every impairment's combine with it as
  independent chances);
* optionally a ``Link`` with **bandwidth**: messages of ``size`` bytes are
  serialised one after another (FIFO, each direction on its own), so big
  messages queue;
* **cuts**: a ``Link`` that is down, or a **partition** that separates the
  two ends. A message sent across a cut is dropped; one in flight when the
  cut begins is dropped on arrival: nothing is delivered across an active
  partition.

Drops are silent, as in a real network: the sender learns of them only by
its own timers (a client's timeout, a balancer's upstream timeout, a
health check's probe timeout, a failure detector's heartbeat timeout). A
sender with no timer at all would wait forever; it is told ``lost`` at the
moment of the drop instead, as a transport that reports failure would.

Each direction of each pair draws latency and loss from streams of its own
(``("network", "a->b")``, ``("network", "a->b:loss")``), so traffic between
two components never shifts another pair's draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from hasim.dist import Deterministic, Distribution, Uniform, as_distribution
from hasim.errors import SimulationError, check_positive, check_probability, config_error
from hasim.node import DOWN, Node
from hasim.sim import Simulation

__all__ = ["Network", "Link", "Path", "Partition", "Impairment", "get"]

#: Why a message was dropped (``Network.dropped`` keys).
DROP_REASONS = ("loss", "partition", "link")


class Partition:
    """An active partition: ``side_a`` cannot reach ``side_b`` (and back, unless one-way).

    ``side_b`` None stands for every component not in ``side_a``. Made by
    ``Network.partition``; ended by ``Network.heal``.
    """

    __slots__ = ("side_a", "side_b", "oneway", "cause", "record", "active")

    def __init__(
        self, side_a: frozenset[str], side_b: frozenset[str] | None, oneway: bool, cause: str
    ) -> None:
        self.side_a = side_a
        self.side_b = side_b
        self.oneway = oneway
        self.cause = cause
        self.record = 0
        self.active = True

    def separates(self, src: str, dst: str) -> bool:
        """Whether this partition drops messages from ``src`` to ``dst``."""
        a, b = self.side_a, self.side_b
        if src in a:
            return dst not in a if b is None else dst in b
        if self.oneway:
            return False
        return dst in a and (b is None or src in b)

    @property
    def label(self) -> str:
        """``"web1,web2|lb"`` (``|*`` for everyone else, ``>`` for one-way)."""
        b = "*" if self.side_b is None else ",".join(sorted(self.side_b))
        return f"{','.join(sorted(self.side_a))}{'>' if self.oneway else '|'}{b}"

    def __repr__(self) -> str:
        return f"<Partition {self.label}{'' if self.active else ' (healed)'}>"


class Impairment:
    """Extra loss and latency on one path or a pair (``Network.impair``)."""

    __slots__ = ("pairs", "loss", "latency", "cause", "record", "active", "draws")

    def __init__(
        self, pairs: tuple[tuple[str, str], ...], loss: float, latency: Distribution | None, cause
    ) -> None:
        self.pairs = pairs
        #: The extra-latency sampler of each direction (see ``Network.impair``).
        self.draws: dict[tuple[str, str], Callable[[], float]] = {}
        self.loss = loss
        self.latency = latency
        self.cause = cause
        self.record = 0
        self.active = True

    def __repr__(self) -> str:
        ends = " ".join(f"{a}->{b}" for a, b in self.pairs)
        return f"<Impairment {ends} loss={self.loss:g} latency={self.latency!r}>"


class Path:
    """One direction between two components: what a message from ``src`` to ``dst`` meets.

    Senders fetch a path once (``Network.path``) and call ``send`` per
    message; the network keeps the path's flags current as links fail and
    partitions begin and heal.
    """

    __slots__ = (
        "net",
        "src",
        "dst",
        "_lat",
        "_extra",
        "link",
        "loss",
        "_u",
        "cut",
        "plain",
        "base_loss",
        "_impairments",
        "cuts",
        "_cut_reason",
        "sent",
        "_later",
        "direct",
    )

    def __init__(self, net: Network, src: str, dst: str) -> None:
        self.net = net
        self.src = src
        self.dst = dst
        #: Messages sent on this path.
        self.sent = 0
        self._later = net.sim.call_later
        self._configure()
        self._impairments: list[Impairment] = []
        self._extra: list[Callable[[], float]] = []
        self._u: Callable[[], float] | None = None
        self.loss = 0.0
        self.cut = False
        #: How many cuts have begun on this path (a message in flight across one is dropped).
        self.cuts = 0
        self._cut_reason = "partition"
        self.plain = True
        self.refresh()

    def __repr__(self) -> str:
        return f"<Path {self.src}->{self.dst}{' cut' if self.cut else ''} loss={self.loss:g}>"

    def _configure(self) -> None:
        """Read the path's latency, link and loss from the network's configuration."""
        net, src, dst = self.net, self.src, self.dst
        dist = net.latency_between(src, dst)
        if isinstance(dist, Deterministic):
            value = dist.value
            self._lat = None if value == 0 else (lambda: value)
        else:
            self._lat = net.sim.sampler(dist, "network", f"{src}->{dst}")
        self.link: Link | None = net._links.get((src, dst))
        self.base_loss = net._loss.get((src, dst), net.loss)

    def refresh(self) -> None:
        """Recompute the cut, the loss and the fast-path flag from the network's state."""
        net, link = self.net, self.link
        keep = 1.0 - self.base_loss
        for imp in self._impairments:
            keep *= 1.0 - imp.loss
        if link is not None:
            keep *= 1.0 - link.loss
            keep *= 1.0 - link.error_rate
        self.loss = 1.0 - keep
        if self.loss > 0 and self._u is None:
            self._u = net.sim.sampler(Uniform(0.0, 1.0), "network", f"{self.src}->{self.dst}:loss")
        link_cut = link is not None and (link.state == DOWN or link.stalled)
        cut = link_cut or any(p.separates(self.src, self.dst) for p in net._partitions)
        if cut:
            self._cut_reason = "link" if link_cut else "partition"
            if not self.cut:
                self.cuts += 1
        self.cut = cut
        self.plain = not (self.cut or self.loss or self._extra or net._guarded or link is not None)
        #: Plain and instantaneous: a message is delivered within the send call.
        self.direct = self.plain and self._lat is None

    def latency(self, size: float = 0.0) -> float:
        """Draw the delay of one message of ``size`` bytes (latency, extras, serialisation)."""
        delay = 0.0 if self._lat is None else self._lat()
        link = self.link
        if link is not None:
            delay *= link.slowdown
            if link.bandwidth is not None:
                now = self.net.sim.env._now
                # Each direction serialises its own messages (full duplex).
                free = link._free_at.get(self.src, 0.0)
                done = max(now, free) + size / link.bandwidth
                link._free_at[self.src] = done
                delay += done - now
        for extra in self._extra:
            delay += extra()
        return delay

    def send(
        self,
        fn: Callable[[Any], None],
        arg: Any,
        dropped: Callable[[Any], None] | None = None,
        size: float = 0.0,
    ) -> None:
        """Deliver ``fn(arg)`` at ``dst`` after the path's delay, unless the message is dropped.

        ``dropped(arg)`` is called at the moment of a drop, for senders that
        have no timer of their own (see the module docstring); None: silent.
        """
        self.sent += 1
        if self.plain:  # the fast path: nothing on this path can drop a message
            lat = self._lat
            if lat is None:
                fn(arg)
            else:
                self._later(lat(), fn, arg)
            return
        net = self.net
        if self.cut:
            net._drop(self._cut_reason)
        elif self.loss and self._u() < self.loss:
            net._drop("loss")
        else:
            delay = self.latency(size)
            # A message that takes no time arrives as it leaves: no cut can begin on its way.
            # Delivering it at once, guarded or not, keeps guard() from reordering events.
            if delay == 0:
                fn(arg)
            else:
                self._later(delay, self._arrive, (fn, arg, dropped, self.cuts))
            return
        if dropped is not None:
            dropped(arg)

    def _arrive(self, message: tuple[Callable[[Any], None], Any, Any, int]) -> None:
        fn, arg, dropped, cuts = message
        # A cut began while the message was on its way (even if it has healed since).
        if cuts != self.cuts:
            self.net._drop(self._cut_reason)
            if dropped is not None:
                dropped(arg)
            return
        fn(arg)


class Network:
    """How messages travel between components.

    The network is the simulation's infrastructure, not a component of the
    design: it takes no name, and a simulation has at most one.

    Args:
        sim: the Simulation. The network installs itself as ``sim.network``;
            make it before ``run()`` (without one, every message takes 0 s).
        latency: the default one-way latency (a Distribution, seconds or
            ``"1ms"``); default 0.
        same_zone, cross_zone, cross_region: latencies by placement, used
            when both ends have a zone (``zone=`` of a node, a client); the
            region of a zone is its top ``hasim.Domain`` of kind ``"region"``.
            None: the default latency.
        loss: the default probability that a message is lost.

    Example:
        >>> net = hs.Network(sim, latency=hs.LogNormal(median=0.5 * hs.ms, sigma=0.3),
        ...                  cross_zone=hs.LogNormal(median=2 * hs.ms, sigma=0.3))
        >>> net.set_latency("users", "lb", hs.Exponential(mean=40 * hs.ms))
        >>> cut = net.partition(["web1"], ["lb"])    # later: net.heal(cut)
    """

    label = "Network"

    def __init__(
        self,
        sim: Simulation,
        latency: Distribution | float | str = 0.0,
        *,
        same_zone: Distribution | float | str | None = None,
        cross_zone: Distribution | float | str | None = None,
        cross_region: Distribution | float | str | None = None,
        loss: float = 0.0,
    ) -> None:
        if not isinstance(sim, Simulation):
            raise config_error("Network", "sim", "a hasim.Simulation", sim)
        default = as_distribution(latency, "Network", "latency")
        by_zone = {
            key: None if value is None else as_distribution(value, "Network", key)
            for key, value in (
                ("same_zone", same_zone),
                ("cross_zone", cross_zone),
                ("cross_region", cross_region),
            )
        }
        loss = check_probability("Network", "loss", loss)
        if sim.network is not None:
            raise config_error("Network", "sim", "a Simulation without a network yet", sim)
        if sim._started:
            raise SimulationError("Network: make the network before run()")
        self.sim = sim
        self.latency = default
        self.same_zone = by_zone["same_zone"]
        self.cross_zone = by_zone["cross_zone"]
        self.cross_region = by_zone["cross_region"]
        self.loss = loss
        self._pairs: dict[tuple[str, str], Distribution] = {}
        self._loss: dict[tuple[str, str], float] = {}
        self._links: dict[tuple[str, str], Link] = {}
        self._paths: dict[tuple[str, str], Path] = {}
        self._partitions: list[Partition] = []
        self._impairs: dict[tuple[str, str], int] = {}  # impairments per direction so far
        # Once faults can cut paths mid-flight, every message is checked on arrival.
        self._guarded = False
        #: Messages dropped, by reason (``sent`` counts those sent).
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        sim.network = self

    def __repr__(self) -> str:
        return (
            f"<Network latency={self.latency!r}, {len(self._pairs)} pair overrides, "
            f"{len(self._links)} link paths, {len(self._partitions)} active partitions>"
        )

    # -- configuration (before the run) ----------------------------------------------------

    def _before_run(self, what: str) -> None:
        if self.sim._started:
            raise SimulationError(f"{self.label}: {what} before run()")

    def _check_ends(self, param: str, *ends: Any) -> None:
        for end in ends:
            if not isinstance(end, str) or not end:
                raise config_error(self.label, param, "component names", end)

    def set_latency(
        self, a: str, b: str, latency: Distribution | float | str, *, symmetric: bool = True
    ) -> None:
        """Use ``latency`` for messages from ``a`` to ``b`` (and back, if symmetric)."""
        self._before_run("set latencies")
        self._check_ends("set_latency endpoints", a, b)
        dist = as_distribution(latency, self.label, f"latency of {a}->{b}")
        self._pairs[(a, b)] = dist
        if symmetric:
            self._pairs[(b, a)] = dist
        self._reconfigure([(a, b), (b, a)])

    def set_loss(self, a: str, b: str, loss: float, *, symmetric: bool = True) -> None:
        """Lose each message from ``a`` to ``b`` (and back, if symmetric) with chance ``loss``."""
        self._before_run("set losses")
        self._check_ends("set_loss endpoints", a, b)
        loss = check_probability(self.label, f"loss of {a}->{b}", loss)
        self._loss[(a, b)] = loss
        if symmetric:
            self._loss[(b, a)] = loss
        self._reconfigure([(a, b), (b, a)])

    def guard(self) -> None:
        """Check every message on arrival from now on (a cut may begin while it travels).

        Called by whatever can cut paths during a run (links, partitions, chaos);
        before that, messages on healthy paths take the fast path.
        """
        if not self._guarded:
            self._guarded = True
            self._refresh()

    def _add_link(self, link: Link) -> None:
        """Carry the link's pairs over ``link`` (the Link checked them)."""
        pairs = [(link.a, link.b)] + ([(link.b, link.a)] if link.symmetric else [])
        for pair in pairs:
            self._links[pair] = link
        self._reconfigure(pairs)
        self.guard()

    def _reconfigure(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Make existing paths of ``pairs`` read the configuration again.

        A path can exist before its pair is configured (``impair`` before the run makes it).
        """
        for pair in pairs:
            path = self._paths.get(pair)
            if path is not None:
                path._configure()
                path.refresh()

    # -- what a path is made of ------------------------------------------------------------

    def latency_between(self, src: str, dst: str) -> Distribution:
        """The latency distribution of one message from ``src`` to ``dst``."""
        dist = self._pairs.get((src, dst))
        if dist is not None:
            return dist
        link = self._links.get((src, dst))
        if link is not None and link.latency is not None:
            return link.latency
        by_zone = self._zone_latency(src, dst)
        return self.latency if by_zone is None else by_zone

    def _zone_latency(self, src: str, dst: str) -> Distribution | None:
        if self.same_zone is None and self.cross_zone is None and self.cross_region is None:
            return None
        components = self.sim.components
        za = getattr(components.get(src), "zone", None)
        zb = getattr(components.get(dst), "zone", None)
        if za is None or zb is None:
            return None
        if za == zb:
            return self.same_zone
        ra, rb = _region(self.sim, za), _region(self.sim, zb)
        if ra is not None and rb is not None and ra != rb:
            return self.cross_region if self.cross_region is not None else self.cross_zone
        return self.cross_zone

    def path(self, src: str, dst: str) -> Path:
        """The path of messages from ``src`` to ``dst`` (made once, then shared)."""
        path = self._paths.get((src, dst))
        if path is None:
            path = self._paths[(src, dst)] = Path(self, src, dst)
        return path

    def _refresh(self, paths: Iterable[Path] | None = None) -> None:
        for path in self._paths.values() if paths is None else paths:
            path.refresh()

    def _drop(self, reason: str) -> None:
        self.dropped[reason] += 1

    # -- faults during the run -------------------------------------------------------------

    def partition(
        self,
        side_a: Iterable[str],
        side_b: Iterable[str] | None = None,
        *,
        oneway: bool = False,
        cause: str = "partition",
    ) -> Partition:
        """Cut ``side_a`` off from ``side_b`` (None: from everyone else) until ``heal``.

        With ``oneway``, only messages from ``side_a`` to ``side_b`` are
        dropped (an asymmetric partition: a firewall rule, a broken route).
        Returns the handle to give to ``heal``.
        """
        a = self._side("side_a", side_a)
        b = None if side_b is None else self._side("side_b", side_b)
        if b is not None and a & b:
            raise config_error(
                self.label, "partition sides", "disjoint sets of names", sorted(a & b)
            )
        part = Partition(a, b, bool(oneway), cause)
        self.guard()
        self._partitions.append(part)
        sides = (tuple(sorted(a)), None if b is None else tuple(sorted(b)))
        part.record = self.sim.recorder.fault_begin(
            self.sim.now, "partition", part.label, cause, {"sides": sides, "oneway": oneway}, False
        )
        self._refresh()
        return part

    def heal(self, part: Partition) -> None:
        """End the partition ``part`` (healing twice is no change)."""
        if not isinstance(part, Partition):
            raise config_error(self.label, "heal", "a Partition from partition()", part)
        if not part.active:
            return
        part.active = False
        self._partitions.remove(part)
        self.sim.recorder.fault_end(part.record, self.sim.now)
        self._refresh()

    def _side(self, param: str, names: Iterable[str]) -> frozenset[str]:
        if isinstance(names, str):
            names = [names]
        try:
            side = frozenset(names)
        except TypeError:
            raise config_error(self.label, param, "a list of component names", names) from None
        if not side or not all(isinstance(n, str) and n for n in side):
            raise config_error(self.label, param, "a non-empty list of component names", names)
        return side

    def impair(
        self,
        src: str,
        dst: str,
        *,
        loss: float = 0.0,
        latency: Distribution | float | str | None = None,
        symmetric: bool = True,
        cause: str = "impair",
    ) -> Impairment:
        """Make messages from ``src`` to ``dst`` (and back) lossier and slower until ``restore``.

        ``latency`` is added to the path's own; ``loss`` combines with the
        path's as an independent chance. Returns the handle for ``restore``.

        The n-th impairment of a direction in a run draws its extra latency
        from the stream ``("network", "a->b:impair<n>")``: the same in a
        replay, whatever the cause, and never a repeat of an earlier one.
        """
        self._check_ends("impair endpoints", src, dst)
        loss = check_probability(self.label, f"loss of {src}->{dst}", loss)
        extra = None if latency is None else as_distribution(latency, self.label, "latency")
        pairs = ((src, dst), (dst, src)) if symmetric else ((src, dst),)
        imp = Impairment(pairs, loss, extra, cause)
        self.guard()
        target = f"{src}<->{dst}" if symmetric else f"{src}->{dst}"
        imp.record = self.sim.recorder.fault_begin(
            self.sim.now, "link", target, cause, {"loss": loss, "latency": extra}, False
        )
        for pair in pairs:
            path = self.path(*pair)
            path._impairments.append(imp)
            if extra is not None:
                n = self._impairs[pair] = self._impairs.get(pair, 0) + 1
                imp.draws[pair] = self._sampler(extra, f"{pair[0]}->{pair[1]}:impair{n}")
                path._extra.append(imp.draws[pair])
            path.refresh()
        return imp

    def restore(self, imp: Impairment) -> None:
        """End the impairment ``imp`` (restoring twice is no change)."""
        if not isinstance(imp, Impairment):
            raise config_error(self.label, "restore", "an Impairment from impair()", imp)
        if not imp.active:
            return
        imp.active = False
        self.sim.recorder.fault_end(imp.record, self.sim.now)
        for pair in imp.pairs:
            path = self.path(*pair)
            index = path._impairments.index(imp)
            path._impairments.pop(index)
            path._extra = [i.draws[pair] for i in path._impairments if pair in i.draws]
            path.refresh()

    def _sampler(self, dist: Distribution, purpose: str) -> Callable[[], float]:
        if isinstance(dist, Deterministic):
            value = dist.value
            return lambda: value
        return self.sim.sampler(dist, "network", purpose, batch=64)

    # -- what happened ---------------------------------------------------------------------

    @property
    def sent(self) -> int:
        """Messages sent so far, on every path (dropped ones included)."""
        return sum(path.sent for path in self._paths.values())

    @property
    def partitions(self) -> list[Partition]:
        """The partitions active now."""
        return list(self._partitions)

    def stats(self) -> dict[str, int]:
        """Messages sent and dropped (by reason) so far."""
        return {
            "sent": self.sent,
            **{f"dropped_{reason}": n for reason, n in self.dropped.items()},
        }


class Link(Node):
    """A network link between two components: a node that fails and is repaired.

    Args:
        sim: the Simulation.
        a, b: the names of the two ends.
        latency: the link's one-way latency (None: the network's rules).
        loss: the probability a message on the link is lost.
        bandwidth: bytes per second; messages of ``size`` bytes are
            serialised one after another (None: no limit).
        symmetric: carry both directions (default) or only ``a -> b``.
        failures: a fault model, as for any Node: while the link is down (or
            stalled) messages on it are dropped.
        name: default ``"a<->b"`` (``"a->b"`` if one-way).

    A degraded link is slow (``degrade(k)`` multiplies its latency) or lossy
    (``set_errors(p)`` adds loss ``p``).
    """

    def __init__(
        self,
        sim: Simulation,
        a: str,
        b: str,
        *,
        latency: Distribution | float | str | None = None,
        loss: float = 0.0,
        bandwidth: float | None = None,
        symmetric: bool = True,
        failures: Any = None,
        name: str | None = None,
    ) -> None:
        if name is None and isinstance(a, str) and isinstance(b, str):
            name = f"{a}<->{b}" if symmetric else f"{a}->{b}"
        owner = f"Link {name!r}"
        if not isinstance(sim, Simulation):
            raise config_error(owner, "sim", "a hasim.Simulation", sim)
        for param, end in (("a", a), ("b", b)):
            if not isinstance(end, str) or not end:
                raise config_error(owner, param, "a component name", end)
        if a == b:
            raise config_error(owner, "b", "another component than a", b)
        self.a, self.b = a, b
        self.symmetric = bool(symmetric)
        self.latency = None if latency is None else as_distribution(latency, owner, "latency")
        self.loss = check_probability(owner, "loss", loss)
        if bandwidth is not None:
            bandwidth = check_positive(owner, "bandwidth", bandwidth, finite=False)
        self.bandwidth = None if bandwidth is None or math.isinf(bandwidth) else bandwidth
        net = get(sim)
        net._before_run("add links")
        pairs = [(a, b)] + ([(b, a)] if self.symmetric else [])
        for pair in pairs:
            if pair in net._links:
                raise config_error(owner, "ends", "a pair no other link carries", "->".join(pair))
        super().__init__(sim, name, failures=failures)
        self._free_at: dict[str, float] = {}  # by sending end: when its queue empties
        net._add_link(self)
        self.on_change(lambda *_: net._refresh(net._paths.get(p) for p in pairs if p in net._paths))

    def _gray_changed(self) -> None:
        super()._gray_changed()
        net = self.sim.network
        net._refresh(net._paths[p] for p in ((self.a, self.b), (self.b, self.a)) if p in net._paths)


def _region(sim: Simulation, zone: str) -> str | None:
    """The region a zone belongs to: its top ancestor Domain of kind ``"region"``."""
    domain = sim.components.get(zone)
    region = None
    seen = set()
    while domain is not None and domain.name not in seen:
        seen.add(domain.name)
        if getattr(domain, "kind", None) == "region":
            region = domain.name
        parent = getattr(domain, "parent", None)
        domain = sim.components.get(parent) if isinstance(parent, str) else parent
    return region


def get(sim: Simulation) -> Network:
    """The simulation's network, made with zero latency if it has none yet."""
    if sim.network is None:
        Network(sim)
    return sim.network
