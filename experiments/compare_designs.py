"""Compare designs on availability, recovery time and throughput (the main job).

Question: for one server that fails about once a day, what buys more
availability — repairing twice as fast, or hardware that fails half as often,
or both? Every design runs the same replications (replication i uses seed i
in every design: common random numbers), under the same open-loop workload,
and the table gives each metric's mean with a 95 % Student-t interval.

    python experiments/compare_designs.py              # quick: ~1 min on 2 cores
    python experiments/compare_designs.py --replications 30 --days 60

Writes ``results/compare_designs.csv`` (one row per run, with the parameters
that produced it), ``results/compare_designs_summary.csv`` and
``results/compare_designs.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import hasim as hs
from hasim.experiment import mean_ci
from hasim.models import single_server

# Each design is the single-server model with a different reliability budget.
DESIGNS = {
    "baseline": {"mttf": 1 * hs.days, "mttr": 30 * hs.minutes},
    "2x faster repair": {"mttf": 1 * hs.days, "mttr": 15 * hs.minutes},
    "2x sturdier hardware": {"mttf": 2 * hs.days, "mttr": 30 * hs.minutes},
    "both": {"mttf": 2 * hs.days, "mttr": 15 * hs.minutes},
}
METRICS = ("availability", "uptime", "incidents", "mttr", "throughput", "latency_p99")


def run_one(design: str, seed: int, days: float, rate: float) -> dict:
    """One replication of one design: build, load, run, summarise."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    entry = single_server.build(sim, **DESIGNS[design])
    hs.OpenLoop(sim, "users", target=entry, rate=rate, timeout=2.0)
    summary = sim.run(until=days * hs.days, warmup=1 * hs.hours).summary()
    return {"design": design, "seed": seed, **summary}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=8, help="runs per design (default 8)")
    parser.add_argument(
        "--days", type=float, default=10.0, help="simulated days per run (default 10)"
    )
    parser.add_argument("--rate", type=float, default=0.5, help="requests per second (default 0.5)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    started = time.perf_counter()
    jobs = [
        (d, seed, args.days, args.rate) for d in DESIGNS for seed in range(1, args.replications + 1)
    ]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(run_one, *zip(*jobs, strict=True)))
    runs = pd.DataFrame(rows)
    elapsed = time.perf_counter() - started

    table = []
    for design, group in runs.groupby("design", sort=False):
        row = {"design": design, "runs": len(group)}
        for metric in METRICS:
            mean, half = mean_ci(group[metric])
            row[metric], row[f"{metric}_ci"] = mean, half
        row["nines"] = hs.analytic.nines(row["availability"])
        table.append(row)
    summary = pd.DataFrame(table)

    args.out.mkdir(parents=True, exist_ok=True)
    params = {
        "designs": DESIGNS,
        "days": args.days,
        "rate": args.rate,
        "replications": args.replications,
    }
    runs.assign(params=json.dumps(params)).to_csv(args.out / "compare_designs.csv", index=False)
    summary.to_csv(args.out / "compare_designs_summary.csv", index=False)

    print(
        f"{len(runs)} runs ({args.replications} per design, {args.days:g} days each, "
        f"{args.rate:g} req/s) in {elapsed:.1f} s; mean +- 95 % CI half-width\n"
    )
    print(
        f"{'design':<22} {'availability':>20} {'nines':>6} {'uptime':>20} "
        f"{'MTTR (min)':>14} {'throughput/s':>14}"
    )
    for r in table:
        print(
            f"{r['design']:<22} {r['availability']:>10.5f} ± {r['availability_ci']:.5f} "
            f"{r['nines']:>6.2f} {r['uptime']:>10.5f} ± {r['uptime_ci']:.5f} "
            f"{r['mttr'] / 60:>7.1f} ± {_fmt(r['mttr_ci'] / 60)} "
            f"{r['throughput']:>7.3f} ± {r['throughput_ci']:.3f}"
        )

    fig, (ax_a, ax_r) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    names = summary["design"]
    ax_a.barh(
        names,
        1 - summary["availability"],
        xerr=summary["availability_ci"],
        color="#c0504d",
        capsize=4,
    )
    ax_a.set_xlabel("request unavailability, 1 - A (lower is better)")
    ax_a.set_title("Failed requests")
    ax_a.invert_yaxis()
    ax_r.barh(names, summary["mttr"] / 60, xerr=summary["mttr_ci"] / 60, color="#4f81bd", capsize=4)
    ax_r.set_xlabel("mean time to recover (minutes)")
    ax_r.set_title("Recovery time per incident")
    ax_r.invert_yaxis()
    ax_r.set_yticklabels([])
    fig.suptitle(f"Single server, {args.replications} replications x {args.days:g} days, 95 % CI")
    fig.savefig(args.out / "compare_designs.png", dpi=120)
    print(
        f"\nwrote {args.out / 'compare_designs.csv'}, {args.out / 'compare_designs_summary.csv'}, "
        f"{args.out / 'compare_designs.png'}"
    )


def _fmt(x: float) -> str:
    return "  n/a" if math.isnan(x) or math.isinf(x) else f"{x:5.1f}"


if __name__ == "__main__":
    main()
