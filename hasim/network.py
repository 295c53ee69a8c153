"""Message delivery between components: latency per hop, each way.

This is the basic network: a default latency distribution and overrides for
given pairs of components. Every request pays one latency draw on its way
to a service and one on its way back; each direction of each pair has a
stream of its own (``("network", "a->b")``), so adding traffic between two
components never shifts the latencies between two others. Loss, partitions
and link failures will live here too.
"""

from __future__ import annotations

from collections.abc import Callable

from hasim.dist import Deterministic, Distribution, as_distribution
from hasim.errors import SimulationError, config_error
from hasim.sim import Simulation

__all__ = ["Network", "get"]

#: A path's latency sampler, or None where the path is instantaneous.
Hop = Callable[[], float] | None


class Network:
    """Latencies between components.

    The network is the simulation's infrastructure, not a component of the
    design: it takes no name, and a simulation has at most one.

    Args:
        sim: the Simulation. The network installs itself as ``sim.network``;
            make it before ``run()`` (without one, every hop takes 0 s).
        latency: the default one-way latency of every hop (a Distribution,
            seconds or ``"1ms"``); default 0.

    Example:
        >>> net = hs.Network(sim, latency=hs.LogNormal(median=0.5 * hs.ms, sigma=0.3))
        >>> net.set_latency("users", "web1", hs.Exponential(mean=40 * hs.ms))
    """

    label = "Network"

    def __init__(self, sim: Simulation, latency: Distribution | float | str = 0.0) -> None:
        if not isinstance(sim, Simulation):
            raise config_error("Network", "sim", "a hasim.Simulation", sim)
        default = as_distribution(latency, "Network", "latency")
        if sim.network is not None:
            raise config_error("Network", "sim", "a Simulation without a network yet", sim)
        if sim._started:
            raise SimulationError("Network: make the network before run()")
        self.sim = sim
        self.latency = default
        self._pairs: dict[tuple[str, str], Distribution] = {}
        sim.network = self

    def __repr__(self) -> str:
        return f"<Network latency={self.latency!r}, {len(self._pairs)} pair overrides>"

    def set_latency(
        self, a: str, b: str, latency: Distribution | float | str, *, symmetric: bool = True
    ) -> None:
        """Use ``latency`` for hops from ``a`` to ``b`` (and back, if symmetric)."""
        if self.sim._started:
            raise SimulationError(f"{self.label}: set latencies before run()")
        for end in (a, b):
            if not isinstance(end, str) or not end:
                raise config_error(self.label, "set_latency endpoints", "component names", end)
        dist = as_distribution(latency, self.label, f"latency of {a}->{b}")
        self._pairs[(a, b)] = dist
        if symmetric:
            self._pairs[(b, a)] = dist

    def latency_between(self, src: str, dst: str) -> Distribution:
        """The latency distribution of one hop from ``src`` to ``dst``."""
        return self._pairs.get((src, dst), self.latency)

    def hop(self, src: str, dst: str) -> Hop:
        """A sampler of the one-way latency from ``src`` to ``dst``; None if always 0.

        Callers fetch a hop once and call it per message (the fast path).
        """
        dist = self.latency_between(src, dst)
        if isinstance(dist, Deterministic):
            value = dist.value
            return None if value == 0 else (lambda: value)
        return self.sim.sampler(dist, "network", f"{src}->{dst}")


def get(sim: Simulation) -> Network:
    """The simulation's network, made with zero latency if it has none yet."""
    if sim.network is None:
        Network(sim)
    return sim.network
