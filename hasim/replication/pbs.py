"""PBS's t-visibility measured on a ``QuorumStore``: write, wait for the commit, read t later.

Bailis et al. (*Probabilistically Bounded Staleness for Practical Partial Quorums*, VLDB 2012,
sec. 5) ask how likely a read is to see a write that committed ``t`` seconds before it began.
``visibility_trials`` runs that experiment on the simulated store: each trial writes a fresh
key; when the client learns the write committed (its W-th acknowledgement reached the
coordinator, and the coordinator answered), it reads the key ``t`` seconds later, once for
each ``t`` of ``gaps``. A read is *consistent* when it returns the write's version (there is
no newer one). Keys are fresh, replicas serve instantly (no service time), read repair is
off and the coordinator's timeout is long, so trials do not interact: each is an independent
Bernoulli draw of the WARS model that ``hasim.analytic.wars_consistency`` integrates.

(``hasim.replication.checker.stale_reads`` counts a write only if it was acknowledged
strictly before the read began, so it would call every read at ``t = 0`` fresh; the trials
compare versions instead.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hasim import network
from hasim.errors import check_int, check_nonnegative, check_positive, config_error
from hasim.metrics.recorder import OK
from hasim.replication.history import READ, WRITE
from hasim.replication.quorum import WARS, QuorumStore
from hasim.replication.workload import KVWorkload
from hasim.sim import Simulation
from hasim.workload import Request

__all__ = ["Visibility", "visibility_trials"]


@dataclass(frozen=True)
class Visibility:
    """What ``visibility_trials`` measured.

    Attributes:
        gaps: the seconds between a write's commit and its reads, increasing.
        reads: reads made at each gap (one per trial whose write committed).
        consistent: how many of them returned the write.
    """

    gaps: tuple[float, ...]
    reads: tuple[int, ...]
    consistent: tuple[int, ...]

    @property
    def share(self) -> tuple[float, ...]:
        """The share of consistent reads at each gap (P(consistent) estimated)."""
        return tuple(
            k / n if n else float("nan") for k, n in zip(self.consistent, self.reads, strict=True)
        )


class _Prober(KVWorkload):
    """A KV client that writes when told and reads each acknowledged write after each gap."""

    def __init__(self, sim: Simulation, name: str, target: Any, gaps: tuple[float, ...]):
        super().__init__(sim, name, target=target, rate=[(0.0, 0.0), (1e300, 1.0)], keys=1)
        self.gaps = gaps
        self.versions: dict[Any, int] = {}  # key -> the version its write committed as
        self.reads: dict[int, tuple[Any, float]] = {}  # read op id -> (key, gap)

    def write(self, key: Any) -> None:
        self.issue(key, WRITE)

    def _ended(self, request: Request) -> None:
        super()._ended(request)
        op = request.key
        if op.kind == WRITE and op.outcome == OK:
            self.versions[op.key] = op.version
            for gap in self.gaps:
                self.sim.call_later(gap, self._read, (op.key, gap))

    def _read(self, item: tuple[Any, float]) -> None:
        request = self.issue(item[0], READ)
        self.reads[request.key.id] = item


def visibility_trials(
    seed: int,
    *,
    n: int,
    r: int,
    w: int,
    wars: WARS,
    gaps: Sequence[float],
    trials: int,
    read_fanout: str = "all",
    spacing: float = 0.001,
) -> Visibility:
    """Run ``trials`` write-then-read trials on an N, R, W ``QuorumStore`` with ``wars``.

    The store is ``QuorumStore(sim, "kv", n=n, r=r, w=w, wars=wars, read_fanout=read_fanout,
    read_repair=False, coordinator_timeout=3600)`` on a network without latency; its client
    ``"pbs"`` starts a trial every ``spacing`` seconds (trials overlap in time; they use
    different keys and replicas serve instantly, so they do not interact).

    Args:
        seed: the simulation's root seed.
        n: replicas (N).
        r: responses a read waits for (R).
        w: acknowledgements a write waits for (W).
        wars: the W, A, R and S latencies (a ``hasim.WARS``).
        gaps: seconds after the commit at which to read (each >= 0; one read per gap).
        trials: writes (an integer >= 1).
        read_fanout: ``"all"`` or ``"quorum"``, as for ``QuorumStore``.
        spacing: seconds between two trials' writes (> 0).

    Returns:
        A ``Visibility``: per gap, the reads made and how many were consistent.
    """
    owner = "visibility_trials"
    if not isinstance(wars, WARS):
        raise config_error(owner, "wars", "a hasim.WARS", wars)
    gaps = tuple(sorted({check_nonnegative(owner, "gaps", g) for g in gaps}))
    if not gaps:
        raise config_error(owner, "gaps", "a non-empty list of seconds >= 0", gaps)
    trials = check_int(owner, "trials", trials, minimum=1)
    spacing = check_positive(owner, "spacing", spacing)
    sim = Simulation(seed=seed, record="aggregate")
    network.Network(sim)
    timeout = 3600.0
    kv = QuorumStore(
        sim, "kv", n=n, r=r, w=w, wars=wars, read_fanout=read_fanout, read_repair=False,
        coordinator_timeout=timeout,
    )  # fmt: skip
    prober = _Prober(sim, "pbs", kv, gaps)
    for trial in range(trials):
        sim.call_later(trial * spacing, prober.write, trial)
    # Every operation ends within the coordinator's timeout, so nothing is left in flight.
    sim.run(until=trials * spacing + 2 * timeout + gaps[-1])
    reads = dict.fromkeys(gaps, 0)
    consistent = dict.fromkeys(gaps, 0)
    for op in prober.history:
        if op.kind == READ and op.outcome == OK:
            key, gap = prober.reads[op.id]
            reads[gap] += 1
            consistent[gap] += op.version >= prober.versions[key]
    return Visibility(gaps, tuple(reads.values()), tuple(consistent.values()))
