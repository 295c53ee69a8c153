"""Fast-forward: a long request-level run with it, against the same run in full.

The design: 3 servers behind a health-checked balancer (``lb_cluster``: 5 s checks),
servers failing every 5 days for 2 hours (median), 200 requests/s, ``record="aggregate"``.
hasim runs ``days`` simulated days with ``FastForward()``; the reference is the same
run without it over ``full_hours`` simulated hours, its wall time scaled to ``days``
(a full run's cost grows linearly with simulated time). Ratio = full / fast-forward.

    python -m bench.bench_fastforward            # a year, against 2 full hours
"""

from __future__ import annotations

import argparse
import time

import hasim as hs
from hasim.models import lb_cluster

RATE = 200.0


def run(days: float, seed: int, fast: bool) -> tuple[float, hs.Summary, float]:
    """One run: its wall seconds, summary and skipped share."""
    started = time.perf_counter()
    sim = hs.Simulation(seed=seed, record="aggregate")
    lb = lb_cluster.build(sim, servers=3, mttf=5 * hs.days, mttr=2 * hs.hours)
    hs.OpenLoop(sim, "users", target=lb, rate=RATE, timeout=2.0)
    until = days * hs.days
    ff = hs.FastForward() if fast else None
    summary = sim.run(until=until, warmup=min(600.0, until / 10), fast_forward=ff).summary()
    return time.perf_counter() - started, summary, sim.skipped / until


def bench(days: float, full_hours: float, seed: int) -> dict[str, float]:
    """Wall seconds of ``days`` with fast-forward, and of the full run scaled to ``days``."""
    fast_wall, fast, skipped = run(days, seed, True)
    full_wall, full, _ = run(full_hours / 24.0, seed, False)
    return {
        "fast_wall": fast_wall,
        "full_wall": full_wall * days * 24.0 / full_hours,
        "requests": fast["issued"],
        "skipped": skipped,
        "availability": fast["availability"],
        "uptime": fast["uptime"],
        "full_latency_p99": full["latency_p99"],
        "fast_latency_p99": fast["latency_p99"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--full-hours", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    r = bench(args.days, args.full_hours, args.seed)
    print(
        f"{args.days:g} days at {RATE:g} req/s: {r['fast_wall']:.1f} s with fast-forward "
        f"({r['skipped']:.2%} skipped, {r['requests']:,.0f} requests), "
        f"{r['full_wall']:,.0f} s in full (from {args.full_hours:g} h): "
        f"{r['full_wall'] / r['fast_wall']:,.0f}x; availability {r['availability']:.6f}, "
        f"uptime {r['uptime']:.6f}"
    )


if __name__ == "__main__":
    main()
