"""The validation cases: each a simulated quantity and the theory it must match.

A case runs one model per replication (seed ``1, 2, ...``) and returns one number,
the quantity measured over the replication's window (an unavailability, a mean
response time, a blocked share, a mean time to detect ...); ``theory()`` is its
closed form. The suite (``hasim.validation.suite``) runs replications until the
95 % interval is as narrow as the case's stated precision, and compares.

Each case is checked more thoroughly (bounds, distributions, 99.9 % intervals)
by a test in ``tests/validation/``; these are the headline numbers a release
shows, run from an installed hasim by ``hasim validate``.

For availabilities the quantity is the *unavailability* ``1 - A``: a precision of
1 % of ``A = 0.99`` would allow the whole downtime to be wrong; 1 % of ``1 - A``
is a real test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

import hasim as hs
from hasim import analytic


@dataclass(frozen=True)
class Case:
    """One quantity, its theory, and how to measure it.

    Attributes:
        name: short unique name (``hasim validate --case`` selects by it).
        group: what it validates (availability, queues, detection, ...).
        quantity: what one replication returns.
        formula: the theory, as a reader would write it.
        theory: computes the theoretical value.
        run: ``run(seed, horizon) -> float``, one replication (picklable).
        horizon: simulated seconds per replication, ``(quick, full)``.
        rel: the precision to reach, the 95 % half-width relative to the
            theory, ``(quick, full)``.
    """

    name: str
    group: str
    quantity: str
    formula: str
    theory: Callable[[], float]
    run: Callable[[int, float], float]
    horizon: tuple[float, float]
    rel: tuple[float, float]


def _window_share_down(sim: hs.Simulation, horizon: float, warmup: float) -> float:
    summary = sim.run(until=horizon, warmup=warmup).summary()
    return summary["downtime"] / summary["window"]


# -- availability -------------------------------------------------------------------------------


def nodes_down(seed: int, horizon: float, *, n: int, k: int, ttf, ttr, crews=None) -> float:
    """``n`` nodes up while ``k`` are; a crew each, or a shared pool of ``crews``."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    pool = None if crews is None else hs.RepairCrews(sim, "ops", crews=crews)
    failures = hs.Failures(ttf=ttf, ttr=ttr, crews=pool)
    nodes = [hs.Node(sim, f"n{i}", failures=failures) for i in range(n)]
    sim.up_when(lambda: sum(node.up for node in nodes) >= k)
    return _window_share_down(sim, horizon, warmup=1_000.0)


def zones_down(seed: int, horizon: float, *, spread: bool) -> float:
    """Two servers, up while either is, in two zones or one; zones fail too."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    zone = hs.Failures(ttf=hs.Exponential(mean=1_000.0), ttr=hs.Exponential(mean=50.0))
    node = hs.Failures(ttf=hs.Exponential(mean=100.0), ttr=hs.Exponential(mean=10.0))
    hs.Domain(sim, "z0", failures=zone)
    hs.Domain(sim, "z1", failures=zone)
    zones = ("z0", "z1") if spread else ("z0", "z0")
    servers = [hs.Node(sim, f"s{i}", zone=z, failures=node) for i, z in enumerate(zones)]
    sim.up_when(lambda: any(s.up for s in servers))
    return _window_share_down(sim, horizon, warmup=1_000.0)


def beta_pair_down(seed: int, horizon: float, *, beta: float) -> float:
    """A 1-of-2 pair whose failures are ``beta`` common (the beta-factor model)."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=100.0), ttr=hs.Exponential(mean=10.0))
    own, common = failures.split(beta)
    nodes = [hs.Node(sim, f"n{i}", failures=own) for i in range(2)]
    hs.Domain(sim, "pair", kind="group", members=nodes, failures=common)
    sim.up_when(lambda: any(n.up for n in nodes))
    return _window_share_down(sim, horizon, warmup=1_000.0)


def pair_down(seed: int, horizon: float, *, coverage: float, coverage_on: str = "active") -> float:
    """An ActivePassive pair (heartbeat 1 s, timeout 1.5 s, promotion ~Exp(10 s))."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=200.0), ttr=hs.Exponential(mean=40.0))
    members = [hs.Server(sim, name, failures=failures) for name in ("p", "s")]
    pair = hs.ActivePassive(sim, "ap", primary=members[0], standby=members[1], heartbeat=1.0,
                            timeout=1.5, promotion_delay=hs.Exponential(mean=10.0),
                            coverage=coverage, coverage_on=coverage_on, failback="stay",
                            healthy_after=1)  # fmt: skip
    sim.up_when(lambda: pair.up)
    return _window_share_down(sim, horizon, warmup=2_000.0)


def _pair_theory(coverage: float, coverage_on: str = "active") -> float:
    chain, up = analytic.active_passive_chain(
        200.0, 40.0, detection=1.5 - 0.5, switchover=10.0, coverage=coverage,
        coverage_on=coverage_on,
    )  # fmt: skip
    return 1.0 - chain.availability(up)


#: A pair whose members fail rarely (MTTF / switchover 1e4), fast-forwarded (hasim.fastforward).
_RARE_PAIR = {"mttf": 1e5, "mttr": 1800.0, "promotion": 10.0}


def rare_pair_down(seed: int, horizon: float) -> float:
    """The rarely failing ActivePassive pair, run with ``hs.FastForward()``."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(
        ttf=hs.Exponential(mean=_RARE_PAIR["mttf"]), ttr=hs.Exponential(mean=_RARE_PAIR["mttr"])
    )
    members = [hs.Server(sim, name, failures=failures) for name in ("p", "s")]
    pair = hs.ActivePassive(sim, "ap", primary=members[0], standby=members[1], heartbeat=1.0,
                            timeout=1.5, promotion_delay=hs.Exponential(mean=10.0),
                            failback="stay", healthy_after=1)  # fmt: skip
    sim.up_when(pair)
    summary = sim.run(until=horizon, fast_forward=hs.FastForward()).summary()
    return summary["downtime"] / summary["window"]


def _rare_pair_theory() -> float:
    chain, up = analytic.active_passive_chain(
        _RARE_PAIR["mttf"], _RARE_PAIR["mttr"], detection=1.5 - 0.5, switchover=10.0
    )
    return 1.0 - chain.availability(up)


# -- structure and performability ----------------------------------------------------------------


def three_tier_down(seed: int, horizon: float) -> float:
    """A nested structure: (lb1 | lb2) & 2-of-3 web & db, a crew each (lean engine)."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=_EXP_F, ttr=_EXP_R)
    node = partial(hs.Node, sim, failures=failures)
    lbs = [node(f"lb{i}") for i in (1, 2)]
    web = [node(f"web{i}") for i in (1, 2, 3)]
    sim.up_when(hs.any_of(lbs) & hs.k_of_n(2, web) & node("db"))
    return _window_share_down(sim, horizon, warmup=1_000.0)


def _three_tier_theory() -> float:
    return 1 - analytic.series(analytic.parallel(_A, _A), analytic.k_of_n(2, 3, _A), _A)


def lost_capacity(seed: int, horizon: float, *, k: int, n: int) -> float:
    """``1 - performability`` of a k-of-n cluster whose up servers carry the load (share_up)."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=_EXP_F, ttr=_EXP_R)
    web = [hs.Node(sim, f"n{i}", failures=failures) for i in range(n)]
    sim.up_when(hs.k_of_n(k, web), reward=hs.share_up(web))
    return 1.0 - sim.run(until=horizon, warmup=1_000.0).summary()["performability"]


def _lost_capacity_theory(k: int, n: int) -> float:
    from math import comb

    return 1.0 - sum(j / n * comb(n, j) * _A**j * (1 - _A) ** (n - j) for j in range(k, n + 1))


# -- interval availability ---------------------------------------------------------------------

_MONTH = 30 * 86400.0
_SLO_NODE = (300 * 3600.0, 600.0)  # MTTF 300 h, MTTR 10 min


def months_meeting_slo(seed: int, horizon: float, *, target: float) -> float:
    """The share of a node's 30-day windows over ``horizon`` whose availability met ``target``.

    After one month of warm-up the node is in its steady state, so each window starts
    up or down with the stationary probabilities (the theory's ``start``); windows of
    one run are correlated, so a replication averages them and replications give the
    interval.
    """
    sim = hs.Simulation(seed=seed, record="aggregate")
    mttf, mttr = _SLO_NODE
    failures = hs.Failures(ttf=hs.Exponential(mean=mttf), ttr=hs.Exponential(mean=mttr))
    sim.up_when(hs.Node(sim, "n", failures=failures))
    windows = sim.run(until=_MONTH + horizon, warmup=_MONTH).windows(_MONTH)
    return float(np.mean(windows["availability"] >= target))


def _slo_theory(target: float) -> float:
    from hasim.analytic import CTMC, slo_attainment

    mttf, mttr = _SLO_NODE
    chain = CTMC(["up", "down"], {("up", "down"): 1 / mttf, ("down", "up"): 1 / mttr})
    return slo_attainment(chain, ["up"], _MONTH, target, chain.steady_state())


# -- queues ---------------------------------------------------------------------------------------


#: The probe's own stream: ``default_rng([seed, PROBE_STREAM])``, never numpy's global state.
PROBE_STREAM = 0x9B0BE


class Probe:
    """Samples a server's state at Poisson times: a pure observer of the run.

    The requests do not record whether they waited, and reading the server at each arrival
    would need a wrapper in the request path. A detached probe needs neither: by PASTA
    (Poisson arrivals see time averages) the share of Poisson probe instants at which all
    workers are busy estimates the time-average P(all busy), which in M/M/c is the
    probability that an arrival waits, Erlang C. Likewise the mean of ``busy + queued`` over
    the probe instants estimates the time-average number in the system, L.

    The probe is a SimPy process on the simulation's environment that reads the public
    ``server.busy``, ``server.queued`` and ``server.workers`` and changes nothing; its
    times come from a generator of its own (seeded with ``[seed, PROBE_STREAM]``), so the
    simulation's streams are untouched (``tests/validation/test_queues.py`` checks it).
    Only instants at or after ``start`` (the warm-up) are counted.
    """

    def __init__(
        self, sim: hs.Simulation, server: hs.Server, *, rate: float, seed: int, start: float
    ) -> None:
        self.samples = 0
        self.all_busy = 0
        self.in_system = 0
        rng = np.random.default_rng([seed, PROBE_STREAM])
        sim.env.process(self._run(sim.env, server, rate, rng, start))

    def _run(self, env, server, rate, rng, start):
        while True:
            for gap in rng.exponential(1.0 / rate, 4096).tolist():
                yield env.timeout(gap)
                if env.now >= start:
                    busy = server.busy
                    self.samples += 1
                    self.all_busy += busy == server.workers
                    self.in_system += busy + server.queued


def queue(seed: int, horizon: float, *, workers, rate, service, queue_limit=None, what="W"):
    """A ``workers``-server queue fed by Poisson arrivals at ``rate``; one measure of it.

    ``what``: ``"W"`` mean response time, ``"blocked"`` rejected share, ``"wait"``
    P(an arrival waits) and ``"L"`` mean number in system (both by a PASTA probe).
    """
    sim = hs.Simulation(seed=seed, record="aggregate")
    server = hs.Server(sim, "server", workers=workers, service_time=service,
                       queue_limit=queue_limit)  # fmt: skip
    hs.OpenLoop(sim, "users", target=server, rate=rate)
    warmup = 500.0
    probe = Probe(sim, server, rate=1.0, seed=seed, start=warmup) if what in ("wait", "L") else None
    s = sim.run(until=horizon, warmup=warmup).summary()
    if what == "W":
        return s["latency_mean"]
    if what == "blocked":
        return s["rejected"] / (s["ok"] + s["failed"])
    assert probe is not None
    return (probe.all_busy if what == "wait" else probe.in_system) / probe.samples


# -- detection and the network ----------------------------------------------------------------


def detection(seed: int, horizon: float, *, interval: float, n: int, latency: float) -> float:
    """Mean time to detect (``mttd``) the crashes of 8 servers behind a checked balancer.

    TTF ``Uniform(20 I, 40 I)`` makes the crash phase exactly uniform in the probe cycle;
    TTR ``(N + 1) I``, so every crash is detected before its repair.
    """
    check = hs.HealthCheck(interval=interval, timeout=0.5 * interval, unhealthy_after=n,
                           healthy_after=1, jitter=True)  # fmt: skip
    return _crash_ttd(seed, horizon, check, warmup=100.0, latency=latency)


def _crash_ttd(seed: int, horizon: float, check, *, warmup: float, latency: float = 0.0) -> float:
    sim = hs.Simulation(seed=seed, record="aggregate")
    if latency:
        hs.Network(sim, latency=hs.Deterministic(latency))
    i, n = check.interval, check.unhealthy_after
    failures = hs.Failures(ttf=hs.Uniform(20 * i, 40 * i), ttr=hs.Deterministic((n + 1) * i))
    web = [hs.Server(sim, f"web{k}", failures=failures) for k in range(8)]
    hs.LoadBalancer(sim, "lb", backends=web, health_check=check)
    return sim.run(until=horizon, warmup=warmup).summary()["mttd"]


def hung_detection(seed: int, horizon: float, *, interval: float, n: int, timeout: float) -> float:
    """Mean time to detect a server that hangs (a stall: probes time out, none is refused).

    Stalls come every ``Uniform(20 I, 40 I)`` (a uniform phase in the probe cycle) and last
    ``(N + 2) I + T``, long enough to be detected; the time to detect is from each stall's
    start to the balancer's first "unhealthy" verdict about that server after it. Probes
    take no service time: a probe in service when a stall begins would freeze and fail by
    its timeout though sent before the stall, making detection a little early.
    """
    check = hs.HealthCheck(interval=interval, timeout=timeout, unhealthy_after=n, healthy_after=1)
    return _stall_ttd(seed, horizon, check, warmup=100.0)


def _stall_ttd(seed: int, horizon: float, check, *, warmup: float) -> float:
    i, n = check.interval, check.unhealthy_after
    sim = hs.Simulation(seed=seed, record="aggregate")
    hang = (n + 2) * i + check.timeout
    stalls = hs.Stalls(every=hs.Uniform(20 * i, 40 * i), lasting=hs.Deterministic(hang))
    web = [hs.Server(sim, f"web{k}", service_time=0.0, failures=stalls) for k in range(8)]
    hs.LoadBalancer(sim, "lb", backends=web, health_check=check)
    result = sim.run(until=horizon, warmup=warmup)
    verdicts: dict[str, list[float]] = {}
    for t, observer, target, healthy in result.detections:
        if observer == "lb" and not healthy:
            verdicts.setdefault(target, []).append(t)
    faults = result.faults()
    onsets = faults[(faults["kind"] == "stall") & (faults["start"] < horizon - hang)]
    ttds = []
    for target, start in zip(onsets["target"], onsets["start"], strict=True):
        times = np.array(verdicts.get(target, ()))
        ttds.append(times[(times >= start) & (times < start + hang)][0] - start)
    return float(np.mean(ttds))


def preset_detection(seed: int, horizon: float, *, preset: str, hung: bool) -> float:
    """Mean time to detect with ``HealthCheck.preset(preset)``, crashes or hangs of 8 servers.

    ``hung=False``: crashes that refuse probes, as ``detection`` (TTF ``Uniform(20 I, 40 I)``,
    TTR ``(N + 1) I``; the summary's ``mttd``). ``hung=True``: stalls, as ``hung_detection``.
    The check is the preset's, jitter (a random first probe) included.
    """
    check = hs.HealthCheck.preset(preset)
    measure = _stall_ttd if hung else _crash_ttd
    return measure(seed, horizon, check, warmup=5 * check.interval)


def _preset_theory(preset: str, hung: bool) -> float:
    from hasim.analytic.detection import check_detection_time

    return check_detection_time(hs.HealthCheck.preset(preset), hung=hung)


def lossy_retries(seed: int, horizon: float, *, loss: float, attempts: int) -> float:
    """The failed share of requests over a lossy path, with ``attempts`` tries each.

    No latency and an instant server: an attempt fails iff its request or its answer is
    lost, noticed by the client's 1 s timeout.
    """
    sim = hs.Simulation(seed=seed, record="aggregate")
    hs.Network(sim, loss=loss)
    server = hs.Server(sim, "web")
    hs.OpenLoop(sim, "users", target=server, rate=10.0, timeout=1.0,
                retry=hs.Retry(attempts=attempts, backoff=hs.ConstantBackoff(0.5)))  # fmt: skip
    s = sim.run(until=horizon, warmup=10.0).summary()
    return s["failed"] / (s["ok"] + s["failed"])


def link_wait(seed: int, horizon: float, *, rho: float) -> float:
    """Mean time a message spends on a link with bandwidth (queue + transmission): M/D/1."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    hs.Network(sim)
    hs.Link(sim, "a", "b", bandwidth=1.0)  # 1 byte/s: a message of 1 byte takes 1 s
    path = sim.network.path("a", "b")
    gaps = sim.rng("validation", "arrivals")
    times: list[float] = []

    def arrive(sent: float) -> None:
        if sent >= 500.0:
            times.append(sim.now - sent)

    def send(_: object) -> None:
        path.send(arrive, sim.now, size=1.0)
        sim.call_later(gaps.exponential(1.0 / rho), send)

    sim.call_later(gaps.exponential(1.0 / rho), send)
    sim.run(until=horizon)
    return float(np.mean(times))


def quorum_stale(seed: int, horizon: float, *, n: int, r: int, w: int) -> float:
    """The share of reads that miss the last acknowledged write (``horizon`` trials).

    Each trial writes a fresh key, waits for the acknowledgement, then reads it; writes
    and reads go to quorums of random replicas (``fanout="quorum"``), no read repair.
    """
    from hasim.replication import KVWorkload, QuorumStore, checker

    sim = hs.Simulation(seed=seed, record="aggregate")
    hs.Network(sim, latency=0.001)
    kv = QuorumStore(sim, "kv", n=n, r=r, w=w, write_fanout="quorum", read_fanout="quorum",
                     read_repair=False)  # fmt: skip
    users = KVWorkload(sim, "users", target=kv, rate=[(0.0, 0.0), (1e12, 1.0)], timeout=10.0)
    trials = int(horizon)
    for trial in range(trials):
        sim.call_later(trial * 0.01, lambda key: users.issue(key, "write"), trial)
        sim.call_later(trial * 0.01 + 0.005, lambda key: users.issue(key, "read"), trial)
    sim.run(until=trials * 0.01 + 1.0)
    reads = checker.stale_reads(users.history).reads
    return sum(read.behind >= 1 for read in reads) / len(reads)


def _wars4():
    """PBS's W, A, R, S latencies, exponential of rates 100, 500, 250 and 1000 per second."""
    from hasim.replication.quorum import WARS

    rates = {"write": 100.0, "ack": 500.0, "read": 250.0, "response": 1000.0}
    return WARS(**{k: hs.Exponential(rate=v) for k, v in rates.items()})


def wars_consistent(seed: int, horizon: float, *, n: int, r: int, w: int, t: float) -> float:
    """The share of reads ``t`` after a commit that return the write (``horizon`` trials).

    ``hasim.replication.pbs.visibility_trials``: a fresh key per trial, reads to all N, the
    first R responses answer, no read repair; WARS latencies of ``_wars4``.
    """
    from hasim.replication.pbs import visibility_trials

    seen = visibility_trials(seed, n=n, r=r, w=w, wars=_wars4(), gaps=[t], trials=int(horizon))
    return seen.share[0]


def _wars_theory(n: int, r: int, w: int, t: float) -> float:
    return analytic.wars_consistency(n, r, w, _wars4(), t)


def rare_k_of_n(seed: int, horizon: float, *, k: int, n: int, mttf: float, mttr: float) -> float:
    """Unavailability of k-of-n by importance sampling (``horizon`` regenerative cycles)."""
    from hasim.rare import FailureBiasing, estimate

    sim = hs.Simulation(seed=seed)
    failures = hs.Failures(ttf=hs.Exponential(mean=mttf), ttr=hs.Exponential(mean=mttr))
    nodes = [hs.Node(sim, f"n{i}", failures=failures) for i in range(n)]
    sim.up_when(lambda: sum(node.up for node in nodes) >= k)
    return estimate(sim, FailureBiasing(cycles=int(horizon)))["unavailability"]


def _md1(rho: float) -> float:
    """Pollaczek-Khinchine for M/D/1 with unit service: W = 1 + rho / (2 (1 - rho))."""
    return 1.0 + rho / (2.0 * (1.0 - rho))


# -- the cases --------------------------------------------------------------------------------

MTTF, MTTR = 100.0, 10.0
_A = MTTF / (MTTF + MTTR)
_EXP_F, _EXP_R = hs.Exponential(mean=MTTF), hs.Exponential(mean=MTTR)
_STATE = (2e5, 2e6)  # state-only runs: cheap, so long


def _const(value: float) -> Callable[[], float]:
    return partial(float, value)


CASES: tuple[Case, ...] = (
    Case("uptime-exp", "availability", "1 - A of one node (exponential TTF, TTR)",
         "MTTR / (MTTF + MTTR)", (lambda: 1 - _A),
         partial(nodes_down, n=1, k=1, ttf=_EXP_F, ttr=_EXP_R), _STATE, (0.05, 0.01)),
    Case("uptime-lognormal", "availability", "1 - A, lognormal repair (sigma 1)",
         "MTTR / (MTTF + MTTR), insensitive", (lambda: 1 - _A),
         partial(nodes_down, n=1, k=1, ttf=_EXP_F, ttr=hs.LogNormal(mean=MTTR, sigma=1.0)),
         _STATE, (0.05, 0.01)),
    Case("uptime-weibull-det", "availability", "1 - A, Weibull(2) TTF, fixed repair",
         "MTTR / (MTTF + MTTR), insensitive", (lambda: 1 - _A),
         partial(nodes_down, n=1, k=1, ttf=hs.Weibull(2.0, mean=MTTF), ttr=hs.Deterministic(MTTR)),
         _STATE, (0.05, 0.01)),
    Case("2-of-3-own-crews", "availability", "1 - A of 2-of-3, a crew per node",
         "binomial tail", (lambda: 1 - analytic.k_of_n(2, 3, _A)),
         partial(nodes_down, n=3, k=2, ttf=_EXP_F, ttr=_EXP_R), _STATE, (0.05, 0.01)),
    Case("2-of-3-one-crew", "availability", "1 - A of 2-of-3, one shared crew",
         "birth-death chain", (lambda: 1 - analytic.k_of_n_repair(2, 3, MTTF, MTTR, 1)),
         partial(nodes_down, n=3, k=2, ttf=_EXP_F, ttr=_EXP_R, crews=1), _STATE, (0.05, 0.01)),
    Case("zones-spread", "availability", "1 - A of 1-of-2 in two failing zones",
         "(1 - Az A)^2", (lambda: 1 - analytic.k_of_n_domains(1, [1, 1], _A, 1000 / 1050)),
         partial(zones_down, spread=True), _STATE, (0.05, 0.01)),
    Case("zones-single", "availability", "1 - A of 1-of-2 in one failing zone",
         "1 - Az (1 - (1 - A)^2)",
         (lambda: 1 - analytic.k_of_n_domains(1, [2], _A, 1000 / 1050)),
         partial(zones_down, spread=False), _STATE, (0.05, 0.01)),
    Case("beta-factor-pair", "availability", "1 - A of 1-of-2, 30 % common failures",
         "beta-factor model", (lambda: 1 - analytic.beta_factor(1, 2, MTTF, MTTR, 0.3)),
         partial(beta_pair_down, beta=0.3), _STATE, (0.05, 0.01)),
    Case("rare-3-of-5", "availability", "1 - A of 3-of-5, MTTF 10,000 h, MTTR 4 h (rare)",
         "binomial tail", (lambda: 1 - analytic.k_of_n(3, 5, 1e4 / (1e4 + 4))),
         partial(rare_k_of_n, k=3, n=5, mttf=1e4 * 3600, mttr=4 * 3600), (2e3, 2e4),
         (0.05, 0.01)),
    Case("active-passive-c1", "failover", "1 - A of an ActivePassive pair, coverage 1",
         "9-state CTMC", partial(_pair_theory, 1.0), partial(pair_down, coverage=1.0),
         (3e4, 4e5), (0.10, 0.02)),
    Case("active-passive-c0.8", "failover", "1 - A of an ActivePassive pair, coverage 0.8",
         "9-state CTMC", partial(_pair_theory, 0.8), partial(pair_down, coverage=0.8),
         (3e4, 4e5), (0.10, 0.02)),
    Case("active-passive-any-c0.8", "failover",
         "1 - A of a pair, coverage 0.8 on any member's failure", "14-state CTMC",
         partial(_pair_theory, 0.8, "any"), partial(pair_down, coverage=0.8, coverage_on="any"),
         (3e4, 4e5), (0.10, 0.02)),
    Case("active-passive-rare-ff", "failover",
         "1 - A of a pair, MTTF/switchover 1e4, fast-forward", "9-state CTMC",
         _rare_pair_theory, rare_pair_down, (1e8, 2e8), (0.25, 0.05)),
    Case("rbd-three-tier", "structure", "1 - A of (lb1 or lb2), 2-of-3 web and db",
         "series(parallel, k-of-n, node)", _three_tier_theory, three_tier_down, _STATE,
         (0.05, 0.01)),
    Case("performability-3-of-5", "structure", "lost capacity of 3-of-5 (share of servers up)",
         "1 - sum j/n C(n,j) a^j (1-a)^(n-j)", partial(_lost_capacity_theory, 3, 5),
         partial(lost_capacity, k=3, n=5), _STATE, (0.05, 0.01)),
    Case("slo-month-99.9", "interval", "P(a node's month >= 99.9 % up), MTTR 10 min",
         "randomisation on the CTMC", partial(_slo_theory, 0.999),
         partial(months_meeting_slo, target=0.999), (50 * _MONTH, 500 * _MONTH),
         (0.05, 0.01)),
    Case("mm1-W", "queues", "M/M/1 mean response time, rho 0.7 (s)", "1 / (mu - lambda)",
         (lambda: analytic.mmc(0.7, 1.0, 1).mean_response),
         partial(queue, workers=1, rate=0.7, service=hs.Exponential(mean=1.0)),
         (2e4, 3e5), (0.05, 0.01)),
    Case("mm3-W", "queues", "M/M/3 mean response time, rho 0.8 (s)", "Erlang C",
         (lambda: analytic.mmc(2.4, 1.0, 3).mean_response),
         partial(queue, workers=3, rate=2.4, service=hs.Exponential(mean=1.0)),
         (2e4, 3e5), (0.05, 0.01)),
    Case("mm3-P(wait)", "queues", "M/M/3 P(an arrival waits), rho 0.8", "Erlang C",
         partial(analytic.erlang_c, 3, 2.4),
         partial(queue, workers=3, rate=2.4, service=hs.Exponential(mean=1.0), what="wait"),
         (1e4, 3e5), (0.05, 0.01)),
    Case("mm3-L", "queues", "M/M/3 mean number in system, rho 0.8", "Little: lambda W",
         (lambda: 2.4 * analytic.mmc(2.4, 1.0, 3).mean_response),
         partial(queue, workers=3, rate=2.4, service=hs.Exponential(mean=1.0), what="L"),
         (2e4, 3e5), (0.05, 0.01)),
    Case("mm2k5-blocking", "queues", "M/M/2/5 blocked share, rho 1", "M/M/c/K",
         (lambda: analytic.mmck(2.0, 1.0, 2, 5).blocking),
         partial(queue, workers=2, rate=2.0, service=hs.Exponential(mean=1.0), queue_limit=3,
                 what="blocked"), (1e4, 3e5), (0.05, 0.01)),
    Case("erlang-b-exp", "queues", "M/M/5/5 blocked share, load 4", "Erlang B",
         partial(analytic.erlang_b, 5, 4.0),
         partial(queue, workers=5, rate=4.0, service=hs.Exponential(mean=1.0), queue_limit=0,
                 what="blocked"), (8e3, 3e5), (0.05, 0.01)),
    Case("erlang-b-lognormal", "queues", "M/G/5/5 blocked share, lognormal service",
         "Erlang B, insensitive", partial(analytic.erlang_b, 5, 4.0),
         partial(queue, workers=5, rate=4.0, service=hs.LogNormal(mean=1.0, sigma=1.0),
                 queue_limit=0, what="blocked"), (8e3, 3e5), (0.05, 0.01)),
    Case("erlang-b-deterministic", "queues", "M/D/5/5 blocked share", "Erlang B, insensitive",
         partial(analytic.erlang_b, 5, 4.0),
         partial(queue, workers=5, rate=4.0, service=hs.Deterministic(1.0), queue_limit=0,
                 what="blocked"), (8e3, 3e5), (0.05, 0.01)),
    Case("detect-I2-N2", "detection", "mean time to detect a crash, I 2 s, N 2 (s)",
         "(N - 1/2) I", partial(analytic.detection_time, 2.0, 2),
         partial(detection, interval=2.0, n=2, latency=0.0), (3e3, 4e4), (0.05, 0.01)),
    Case("detect-I1-N3-d0.1", "detection", "mean time to detect, I 1 s, N 3, latency 0.1 s",
         "(N - 1/2) I + d", partial(analytic.detection_time, 1.0, 3, latency=0.1),
         partial(detection, interval=1.0, n=3, latency=0.1), (3e3, 4e4), (0.05, 0.01)),
    Case("detect-hung-I1-N3-T0.4", "detection", "mean time to detect a hung server (s)",
         "(N - 1/2) I + T", partial(analytic.detection_time, 1.0, 3, timeout=0.4),
         partial(hung_detection, interval=1.0, n=3, timeout=0.4), (3e3, 4e4), (0.05, 0.01)),
    Case("detect-preset-alb-crash", "detection", "mean time to detect a crash, ALB defaults (s)",
         "(N - 1/2) I", partial(_preset_theory, "alb", False),
         partial(preset_detection, preset="alb", hung=False), (4.5e4, 6e5), (0.05, 0.01)),
    *(Case(f"detect-preset-{p}-hang", "detection",
           f"mean time to detect a hung server, HealthCheck.preset({p!r}) (s)",
           "(N - 1/2) I + T", partial(_preset_theory, p, True),
           partial(preset_detection, preset=p, hung=True),
           (1500 * hs.HealthCheck.preset(p).interval, 2e4 * hs.HealthCheck.preset(p).interval),
           (0.05, 0.01))
      for p in ("alb", "nlb", "envoy", "k8s-readiness", "haproxy", "gcp")),
    Case("lossy-retries", "network", "failed share, loss 0.2 each way, 3 tries",
         "(1 - (1 - p)^2)^n", _const((1 - 0.8**2) ** 3),
         partial(lossy_retries, loss=0.2, attempts=3), (1e3, 3e4), (0.05, 0.01)),
    Case("pbs-N3R1W1", "replication", "share of reads missing the last write, N 3 R 1 W 1",
         "PBS: C(N-W, R) / C(N, R)", partial(analytic.k_staleness, 3, 1, 1, 1),
         partial(quorum_stale, n=3, r=1, w=1), (2e3, 2e4), (0.05, 0.01)),
    Case("pbs-N5R2W2", "replication", "share of reads missing the last write, N 5 R 2 W 2",
         "PBS: C(N-W, R) / C(N, R)", partial(analytic.k_staleness, 5, 2, 2, 1),
         partial(quorum_stale, n=5, r=2, w=2), (2e3, 2e4), (0.05, 0.01)),
    Case("wars-N3R1W1-t0", "replication",
         "P(read at commit returns the write), N 3 R=W=1, WARS exponential",
         "PBS WARS, numeric integration", partial(_wars_theory, 3, 1, 1, 0.0),
         partial(wars_consistent, n=3, r=1, w=1, t=0.0), (2e3, 5e3), (0.05, 0.01)),
    Case("md1-link", "network", "time on a link with bandwidth, rho 0.7 (s)",
         "Pollaczek-Khinchine, M/D/1", partial(_md1, 0.7), partial(link_wait, rho=0.7),
         (2e4, 3e5), (0.05, 0.01)),
)  # fmt: skip


def case(name: str) -> Case:
    """The case called ``name``."""
    for c in CASES:
        if c.name == name:
            return c
    raise KeyError(name)
