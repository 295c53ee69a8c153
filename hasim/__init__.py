"""hasim: discrete-event simulation of highly available distributed architectures.

Describe a design (servers, failures, repair, clients), run it on a SimPy
clock, and read off request availability, uptime, incidents and recovery
times, throughput and latency::

    import hasim as hs

    sim = hs.Simulation(seed=7)
    web = hs.Server(sim, "web", workers=8, service_time=hs.Exponential(mean=5 * hs.ms),
                    failures=hs.Failures(ttf=hs.Exponential(mean=30 * hs.days),
                                         ttr=hs.LogNormal(median=20 * hs.minutes, sigma=0.6)))
    hs.OpenLoop(sim, "users", target=web, rate=200, timeout=2.0)
    result = sim.run(until=7 * hs.days)
    result.summary()
"""

from __future__ import annotations

from hasim import analytic, replication, units
from hasim.balancer import (
    ConsistentHash,
    LeastOutstanding,
    LoadBalancer,
    Policy,
    PowerOfTwo,
    Random,
    RoundRobin,
    WeightedRoundRobin,
)
from hasim.chaos import (
    Chaos,
    Crash,
    Errors,
    FaultHistory,
    Flap,
    Impair,
    Partition,
    ScheduleError,
    Slow,
    Stall,
    ZoneOutage,
)
from hasim.designfile import Design, DesignError, load_design
from hasim.dist import (
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
    Mixture,
    Pareto,
    Uniform,
    Weibull,
    as_distribution,
)
from hasim.domains import Domain, region_of
from hasim.errors import ConfigError, HasimError, SimulationError
from hasim.experiment import (
    Experiment,
    ExperimentResult,
    IntervalAvailability,
    Target,
    interval_availability,
)
from hasim.failover import ACTIVE, STANDBY, ActivePassive
from hasim.fastforward import FastForward
from hasim.faults import Failures, RepairCrews, Spares
from hasim.gray import ErrorBursts, Flapping, Slowdowns, Stalls
from hasim.health import HealthCheck, OutlierDetection
from hasim.maintenance import Maintenance, RollingDeploy
from hasim.metrics.recorder import ERROR, FAILED, LOST, OK, OUTCOMES, REJECTED, TIMEOUT
from hasim.metrics.result import RunResult, Summary
from hasim.network import Link, Network
from hasim.node import DEGRADED, DOWN, UP, Node, Server, Service
from hasim.rare import FailureBiasing
from hasim.replication import (
    Backups,
    BackupStore,
    DisasterRecovery,
    History,
    KVWorkload,
    Operation,
    PrimaryBackup,
    QuorumStore,
    RaftCluster,
    RaftKV,
    ReplicatedService,
    SingleCopy,
    VersionedStore,
    Zipf,
)
from hasim.replication.quorum import WARS
from hasim.resilience import (
    AdaptiveThrottle,
    CircuitBreaker,
    ConstantBackoff,
    ExponentialBackoff,
    Hedge,
    Retry,
    RetryBudget,
)
from hasim.scaling import Autoscaler, Group
from hasim.sim import Component, Simulation
from hasim.structure import Structure, all_of, any_of, k_of_n, share_up
from hasim.tiers import AppServer
from hasim.units import (
    day,
    days,
    hour,
    hours,
    minute,
    minutes,
    ms,
    parse,
    second,
    seconds,
    us,
    week,
    weeks,
    year,
    years,
)
from hasim.workload import Attempt, Client, ClosedLoop, OpenLoop, Request

__version__ = "0.1.0"

__all__ = [
    # simulation and components
    "Simulation",
    "Component",
    # structure expressions: when the system is up
    "Structure",
    "all_of",
    "any_of",
    "k_of_n",
    "share_up",
    "interval_availability",
    "IntervalAvailability",
    "Node",
    "Server",
    "AppServer",
    "Service",
    "Network",
    "Link",
    "Failures",
    "FastForward",
    "RepairCrews",
    "Spares",
    "Domain",
    "region_of",
    "Slowdowns",
    "ErrorBursts",
    "Stalls",
    "Flapping",
    "Client",
    "OpenLoop",
    "ClosedLoop",
    "Request",
    # traffic
    "LoadBalancer",
    "Policy",
    "RoundRobin",
    "Random",
    "LeastOutstanding",
    "PowerOfTwo",
    "WeightedRoundRobin",
    "ConsistentHash",
    "HealthCheck",
    "OutlierDetection",
    "ActivePassive",
    "ACTIVE",
    "STANDBY",
    "Attempt",
    "Retry",
    "RetryBudget",
    "ConstantBackoff",
    "ExponentialBackoff",
    "CircuitBreaker",
    "Hedge",
    "AdaptiveThrottle",
    # membership, replacement, autoscaling, planned disruptions
    "Group",
    "Autoscaler",
    "Maintenance",
    "RollingDeploy",
    # fault injection
    "Chaos",
    "Crash",
    "Slow",
    "Errors",
    "Stall",
    "Flap",
    "Partition",
    "Impair",
    "ZoneOutage",
    "FaultHistory",
    "ScheduleError",
    # replicated data
    "replication",
    "VersionedStore",
    "ReplicatedService",
    "SingleCopy",
    "KVWorkload",
    "Zipf",
    "History",
    "Operation",
    "PrimaryBackup",
    "RaftCluster",
    "RaftKV",
    "QuorumStore",
    "WARS",
    "BackupStore",
    "Backups",
    "DisasterRecovery",
    # results
    "RunResult",
    "Summary",
    # experiments
    "Experiment",
    "load_design",
    "Design",
    "DesignError",
    "FailureBiasing",
    "ExperimentResult",
    "Target",
    # states and outcomes
    "UP",
    "DEGRADED",
    "DOWN",
    "OUTCOMES",
    "FAILED",
    "OK",
    "TIMEOUT",
    "REJECTED",
    "ERROR",
    "LOST",
    # distributions
    "Distribution",
    "Exponential",
    "Weibull",
    "LogNormal",
    "Gamma",
    "Uniform",
    "Deterministic",
    "Pareto",
    "Empirical",
    "Mixture",
    "as_distribution",
    # time
    "units",
    "parse",
    "us",
    "ms",
    "second",
    "seconds",
    "minute",
    "minutes",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "year",
    "years",
    # errors
    "HasimError",
    "ConfigError",
    "SimulationError",
    # closed forms
    "analytic",
    "__version__",
]
