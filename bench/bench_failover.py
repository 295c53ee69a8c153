"""Failover with fast-forward: an active-passive pair to a 5 % interval, against a full run.

The design: two servers failing after an exponential time (mean ``MTTF`` = 100,000 s, about
28 h) and repaired after an exponential time (mean 30 min), behind ``hs.ActivePassive``
(heartbeat 1 s, timeout 1.5 s, exponential promotion delay of mean 10 s, no failback): MTTF
over switchover is 10^4. It is down about 4.2e-4 of the time, mostly in 11-second failovers
and the rarer stretches with both members down.

* **Fast-forward.** ``hs.Experiment(build, fast_forward=hs.FastForward(),
  target=hs.Target("downtime_fraction", rel=target))`` on two processes: replications of
  ``HORIZON`` each until the 95 % half-width is at most ``target`` of the mean. Heartbeats
  and watchdog timers in the quiet stretches are skipped (``ActivePassive._ff_quiet``).
* **Full run, extrapolated.** The same replications without fast-forward cost their
  simulated time over the full run's simulated seconds per wall second, measured here
  over ``full_hours`` simulated hours; divided by the same two processes.

The ratio is the full run's extrapolated wall time over fast-forward's. The check compares
the estimate with ``hasim.analytic.active_passive_chain`` (detection as an exponential
phase of mean ``timeout - heartbeat / 2``; ``tests/validation/test_failover.py``).

Run from the repository root::

    python -m bench.bench_failover                 # 5 %
    python -m bench.bench_failover --target 0.1
"""

from __future__ import annotations

import argparse
import time

import hasim as hs
from hasim.analytic import active_passive_chain

MTTF = 1e5
MTTR = 1800.0
PROMOTION = 10.0
HEARTBEAT = 1.0
TIMEOUT = 1.5
HORIZON = 2e8  # simulated seconds per replication (about 6 years: ~2,000 failures each)
WORKERS = 2


def build(sim: hs.Simulation) -> hs.ActivePassive:
    """The pair, state only (no traffic: its uptime is what is measured)."""
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))
    p = hs.Server(sim, "p", failures=failures)
    s = hs.Server(sim, "s", failures=failures)
    pair = hs.ActivePassive(
        sim, "pair", primary=p, standby=s, heartbeat=HEARTBEAT, timeout=TIMEOUT,
        promotion_delay=hs.Exponential(mean=PROMOTION), failback="stay", healthy_after=1,
    )  # fmt: skip
    sim.up_when(pair)
    return pair


def theory() -> float:
    """The chain's unavailability."""
    chain, up = active_passive_chain(
        MTTF, MTTR, detection=TIMEOUT - HEARTBEAT / 2, switchover=PROMOTION
    )
    return 1.0 - chain.availability(up)


def full_rate(hours: float, seed: int) -> float:
    """Simulated seconds per wall second of the full run (no fast-forward)."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    build(sim)
    started = time.perf_counter()
    sim.run(until=hours * 3600.0)
    return hours * 3600.0 / (time.perf_counter() - started)


def bench(target: float, full_hours: float, seed: int, horizon: float = HORIZON) -> dict:
    """Fast-forward to ``target`` on ``WORKERS`` processes, and the full run's cost."""
    exp = hs.Experiment(
        {"pair": build},
        horizon=horizon,
        target=hs.Target("downtime_fraction", rel=target, min_reps=WORKERS * 2, batch=WORKERS * 2),
        seed=seed,
        fast_forward=hs.FastForward(),
    )
    started = time.perf_counter()
    result = exp.run(executor="processes", workers=WORKERS, progress=False)
    wall = time.perf_counter() - started
    row = result.summary(metrics=["downtime_fraction"]).iloc[0]
    reps = int(row["reps"])
    rate = full_rate(full_hours, seed)
    full_wall = reps * horizon / rate / WORKERS
    return {
        "wall": wall,
        "reps": reps,
        "simulated": reps * horizon,
        "unavailability": float(row["downtime_fraction"]),
        "half_width": float(row["downtime_fraction_hi"] - row["downtime_fraction"]),
        "theory": theory(),
        "full_rate": rate,
        "full_wall": full_wall,
        "ratio": full_wall / wall,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.05)
    parser.add_argument("--full-hours", type=float, default=24.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    r = bench(args.target, args.full_hours, args.seed)
    print(
        f"active-passive, MTTF/switchover 1e4: {r['wall']:.1f} s to +-{args.target:.0%} "
        f"({r['reps']} x {HORIZON:.0e} s on {WORKERS} processes): U {r['unavailability']:.4e} "
        f"+- {r['half_width']:.1e}, chain {r['theory']:.4e}; full run {r['full_wall']:,.0f} s "
        f"at {r['full_rate']:,.0f} sim s/s: {r['ratio']:,.0f}x"
    )


if __name__ == "__main__":
    main()
