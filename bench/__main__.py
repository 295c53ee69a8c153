"""The benchmark suite in one command: every case, one table.

Each case runs hasim and a reference of the same thing in this process (or in fresh
processes started by it) and prints one row per comparison: what hasim did, what the
reference did, their ratio, the spread over rounds and a check that the models agree
(a closed form, or the reference's own number). The cases (``--only`` takes their names):

* ``mmc``: ``bench_mmc``'s M/M/3 (hasim with ``record="requests"``) against the
  hand-written SimPy model (scalar and batch draws) and against Ciw, in customers/s;
  ratio = hasim / reference (higher: hasim faster).
* ``balancer``: ``bench_balancer``'s load balancer with health checks and failures
  against its hand-written SimPy model, in requests/s; ratio = hasim / SimPy.
* ``state``: ``bench_state``'s 2-of-3 availability run (no traffic) against a
  hand-written SimPy model, in simulated years per wall second; ratio = hasim / SimPy.
* ``memory``: ``bench_memory``'s streaming M/M/3 (``record="aggregate"``), peak RSS of
  a long run against a run a tenth (quick: a fifth) as long, each in a fresh process;
  ratio = long / short (goal <= 1.2).
* ``experiment``: ``bench_experiment``'s 40 replications, serial against 2 processes;
  ratio = serial / parallel wall time (the speed-up).
* ``fastforward``: ``bench_fastforward``'s year of 3 servers behind a balancer at 200
  requests/s with ``FastForward()``, against the full run's wall time (measured over a
  few hours, scaled to the same span); ratio = full / fast-forward.
* ``failover``: ``bench_failover``'s active-passive pair (MTTF / switchover 10^4) with
  ``FastForward()`` to a 5 % interval on 2 processes, against the full run's wall time
  for the same simulated time (measured over a few hours, scaled); ratio = full / fast.
* ``rare``: ``bench_rare``'s 3-of-5 design, importance sampling to a 10 % interval
  against the CPU time naive simulation would need; ratio = naive / importance sampling.
* ``linearizability``: ``bench_linearizability``'s 10,000-operation histories (RaftKV on
  100 keys, a single copy's hot key), the checker against simulating the history
  (ratio = simulate / check) and against hasim's previous checker (ratio = previous / new).

Run from the repository root::

    python -m bench                 # the full run, a few minutes
    python -m bench --quick         # smaller sizes, ~40 s
    python -m bench --only mmc,rare # some cases
    python -m bench --tiny          # toy sizes, seconds: for the tests, numbers meaningless
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

import hasim as hs
from bench import (
    bench_balancer,
    bench_experiment,
    bench_failover,
    bench_fastforward,
    bench_linearizability,
    bench_memory,
    bench_mmc,
    bench_rare,
    bench_state,
)

# Sizes per mode. ``rounds``: measured rounds per case (medians, interleaved models).
SIZES: dict[str, dict[str, dict[str, float | int | str]]] = {
    "tiny": {
        "mmc": {"customers": 3_000, "rounds": 1},
        "balancer": {"requests": 3_000, "rounds": 1},
        "state": {"years": 20.0, "rounds": 1},
        "memory": {"short": 20_000, "long": 100_000},
        "experiment": {"reps": 4, "horizon": "1h", "rounds": 1},
        "rare": {"target": 0.1, "naive_years": 50.0},
        "fastforward": {"days": 2.0, "full_hours": 0.1},
        "failover": {"target": 0.5, "full_hours": 0.05, "horizon": 2e6},
        "linearizability": {"ops": 1_000, "previous_ops": 200, "rounds": 1},
    },
    "quick": {
        "mmc": {"customers": 100_000, "rounds": 3},
        "balancer": {"requests": 100_000, "rounds": 3},
        "state": {"years": 3_000.0, "rounds": 3},
        "memory": {"short": 200_000, "long": 1_000_000},
        "experiment": {"reps": 40, "horizon": "6h", "rounds": 2},
        "rare": {"target": 0.1, "naive_years": 2_000.0},
        "fastforward": {"days": 60.0, "full_hours": 0.5},
        "failover": {"target": 0.1, "full_hours": 0.5, "horizon": 2e8},
        "linearizability": {"ops": 10_000, "previous_ops": 1_000, "rounds": 1},
    },
    "full": {
        "mmc": {"customers": 200_000, "rounds": 3},
        "balancer": {"requests": 300_000, "rounds": 3},
        "state": {"years": 10_000.0, "rounds": 3},
        "memory": {"short": 1_000_000, "long": 10_000_000},
        "experiment": {"reps": 40, "horizon": "1d", "rounds": 2},
        "rare": {"target": 0.1, "naive_years": 5_000.0},
        "fastforward": {"days": 365.0, "full_hours": 2.0},
        "failover": {"target": 0.05, "full_hours": 2.0, "horizon": 2e8},
        "linearizability": {"ops": 10_000, "previous_ops": 1_000, "rounds": 3},
    },
}
WORKERS = 2  # processes of the experiment case
NOISY = 0.10  # a spread above this: the machine was busy, re-run
BUSY = 0.3  # cores used by other processes during the experiment case: its speed-up suffers


@dataclass
class Row:
    """One line of the table."""

    case: str
    hasim: str
    reference: str
    ratio: float | None  # None: the reference did not run
    spread: float | None  # None: a single measurement
    check: str
    busy: bool = False  # other processes took CPU during the measurement


# -- the cases -----------------------------------------------------------------------------


def case_mmc(size: dict, seed: int) -> list[Row]:
    """M/M/3: hasim (record="requests") vs SimPy scalar, SimPy batch and Ciw."""
    refs = {"simpy scalar": "SimPy scalar", "simpy batch": "SimPy batch", "ciw": "ciw"}
    names = [n for n in ("hasim requests", *refs) if n in bench_mmc.available()]
    table = bench_mmc.bench(int(size["customers"]), int(size["rounds"]), seed, names)
    theory = hs.analytic.mmc(bench_mmc.LAMBDA, bench_mmc.MU, bench_mmc.SERVERS).mean_response
    ours = table["hasim requests"]
    rows = []
    for name, label in refs.items():
        case = f"mmc: M/M/3 vs {label}"
        hasim = f"{ours['rate']:,.0f} customers/s"
        if name not in table:
            rows.append(Row(case, hasim, bench_mmc.CIW_MISSING, None, None, ""))
            continue
        ref = table[name]
        rows.append(
            Row(
                case,
                hasim,
                f"{ref['rate']:,.0f} customers/s",
                ours["rate"] / ref["rate"],
                _spread(size, ours["spread"], ref["spread"]),
                f"W {ours['mean_response']:.3f} s, {label} {ref['mean_response']:.3f}, "
                f"theory {theory:.3f}",
            )
        )
    return rows


def case_balancer(size: dict, seed: int) -> list[Row]:
    """The balancer with health checks and failures: hasim vs hand-written SimPy."""
    mttf = 300.0
    table = bench_balancer.bench(int(size["requests"]), int(size["rounds"]), seed, mttf)
    ours, ref = table["hasim"], table["simpy"]
    return [
        Row(
            "balancer: LB + checks + failures vs SimPy",
            f"{ours['rate']:,.0f} requests/s",
            f"{ref['rate']:,.0f} requests/s",
            ours["rate"] / ref["rate"],
            _spread(size, ours["spread"], ref["spread"]),
            f"availability {ours['availability']:.4f}, SimPy {ref['availability']:.4f}; "
            f"latency {ours['latency'] * 1e3:.2f} / {ref['latency'] * 1e3:.2f} ms",
        )
    ]


def case_state(size: dict, seed: int) -> list[Row]:
    """2-of-3 availability, no traffic: simulated years per wall second, and memory."""
    years = float(size["years"])
    table = bench_state.bench(years, int(size["rounds"]), seed)
    ref = table["simpy"]
    theory = 1.0 - bench_state.closed_form()
    what = {
        "hasim": "state: 2-of-3, hs.k_of_n (lean engine) vs SimPy",
        "lambda": "state: 2-of-3, up_when(lambda) (lean) vs SimPy",
        "vector": 'state: 2-of-3, engine="vector" vs SimPy',
        "events": 'state: 2-of-3, engine="events" vs SimPy',
    }
    rows = [
        Row(
            label,
            f"{table[name]['rate']:,.0f} sim years/s",
            f"{ref['rate']:,.0f} sim years/s",
            table[name]["rate"] / ref["rate"],
            _spread(size, table[name]["spread"], ref["spread"]),
            f"down {1 - table[name]['uptime']:.3e}, SimPy {1 - ref['uptime']:.3e}, "
            f"closed form {theory:.3e} ({years:g} years)",
        )
        for name, label in what.items()
    ]
    mem = bench_state.memory(years, seed)
    short, long = mem["short"], mem["long"]
    rows.append(
        Row(
            "state: memory, 10x the horizon, peak RSS",
            f"{long['years']:g} years: {long['peak_mb']:.1f} MB peak",
            f"{short['years']:g} years: {short['peak_mb']:.1f} MB peak",
            long["peak_mb"] / short["peak_mb"],
            None,
            f"goal <= 1.2; {long['incidents']:,} incidents in the long run",
        )
    )
    return rows


def case_memory(size: dict, seed: int) -> list[Row]:
    """Peak RSS of a long streaming run vs a short one, each in a fresh process."""
    short_n, long_n = int(size["short"]), int(size["long"])
    short = bench_memory.measure(short_n, "aggregate", seed)
    long = bench_memory.measure(long_n, "aggregate", seed)

    def peak(n: int, row: dict) -> str:
        return (
            f"{n / 1e6:g} M requests: {row['peak_mb']:.1f} MB peak "
            f"(+{row['peak_mb'] - row['base_mb']:.1f} in run)"
        )

    return [
        Row(
            "memory: streaming M/M/3, peak RSS",
            peak(long_n, long),
            peak(short_n, short),
            long["peak_mb"] / short["peak_mb"],
            None,
            f"goal <= 1.2; {long['requests'] / long['seconds']:,.0f} requests/s",
        )
    ]


def case_experiment(size: dict, seed: int) -> list[Row]:
    """40 replications: serial vs a pool of 2 processes."""
    reps, horizon = int(size["reps"]), str(size["horizon"])
    out = bench_experiment.speedup(reps, horizon, seed, WORKERS, int(size["rounds"]))
    return [
        Row(
            f"experiment: {reps} replications x {horizon}",
            f"{out['parallel']:.2f} s on {WORKERS} processes",
            f"{out['serial']:.2f} s serial",
            out["speedup"],
            _spread(size, out["spread"]),
            f"speed-up, aim >= 1.8; others used {out['others']:.2f} cores (worst run)",
            busy=out["others"] > BUSY,
        )
    ]


def case_rare(size: dict, seed: int) -> list[Row]:
    """Importance sampling to a 10 % interval vs naive simulation's CPU time."""
    target = float(size["target"])
    out = bench_rare.bench(target, float(size["naive_years"]), seed)
    return [
        Row(
            "rare: 3-of-5, MTTF 10,000 h, MTTR 4 h",
            f"{out['seconds']:.2f} s to +-{target:.0%} ({out['cycles']:,.0f} cycles)",
            f"naive: {out['years_needed']:.2g} sim years = {out['naive_cpu'] / 3600:.1f} CPU h "
            f"at {out['naive_rate']:,.0f} years/s",
            out["ratio"],
            None,
            f"U {out['unavailability']:.3e} +- {out['half_width']:.1e}, "
            f"closed form {out['theory']:.3e}",
        )
    ]


def case_fastforward(size: dict, seed: int) -> list[Row]:
    """A long request-level run with fast-forward against the full run's cost."""
    days, hours = float(size["days"]), float(size["full_hours"])
    r = bench_fastforward.bench(days, hours, seed)
    return [
        Row(
            f"fastforward: {days:g} d of 3 servers + LB at 200 req/s",
            f"{r['fast_wall']:.1f} s ({r['skipped']:.2%} skipped)",
            f"full: {r['full_wall']:,.0f} s (from {hours:g} h)",
            r["full_wall"] / r["fast_wall"],
            None,
            f"{r['requests']:,.0f} requests; p99 {r['fast_latency_p99'] * 1e3:.1f} ms, "
            f"full {r['full_latency_p99'] * 1e3:.1f}; uptime {r['uptime']:.5f}",
        )
    ]


def case_failover(size: dict, seed: int) -> list[Row]:
    """An active-passive pair with fast-forward to a target interval vs the full run."""
    target = float(size["target"])
    r = bench_failover.bench(target, float(size["full_hours"]), seed, float(size["horizon"]))
    return [
        Row(
            "failover: active-passive, MTTF/switchover 1e4",
            f"{r['wall']:.1f} s to +-{target:.0%} ({r['reps']} runs on {bench_failover.WORKERS})",
            f"full: {r['full_wall']:,.0f} s at {r['full_rate']:,.0f} sim s/s",
            r["ratio"],
            None,
            f"U {r['unavailability']:.3e} +- {r['half_width']:.1e}, chain {r['theory']:.3e}",
        )
    ]


def case_linearizability(size: dict, seed: int) -> list[Row]:
    """Checking 10,000-operation histories: against simulating them, and the previous checker."""
    table = bench_linearizability.bench(
        int(size["ops"]), int(size["rounds"]), seed, int(size["previous_ops"])
    )
    rows = []
    for name, r in table.items():
        rows.append(
            Row(
                f"linearizability: {name}, check vs simulate",
                f"{r['check']:.3f} s to check ({r['rate']:,.0f} ops/s)",
                f"{r['simulate']:.2f} s to simulate {r['operations']:,} ops",
                r["simulate"] / r["check"],
                r["spread"] if int(size["rounds"]) > 1 else None,
                f"{r['verdict']}; {r['steps']:,} search states for {r['checked']:,} ops",
            )
        )
        rows.append(
            Row(
                f"linearizability: {name}, vs the previous checker",
                f"{r['current']:.3f} s on {r['previous_ops']:,} ops",
                f"previous checker: {r['previous']:.3f} s",
                r["previous"] / r["current"],
                None,
                "same verdict",
            )
        )
    return rows


CASES: dict[str, Callable[[dict, int], list[Row]]] = {
    "mmc": case_mmc,
    "balancer": case_balancer,
    "state": case_state,
    "memory": case_memory,
    "experiment": case_experiment,
    "rare": case_rare,
    "fastforward": case_fastforward,
    "failover": case_failover,
    "linearizability": case_linearizability,
}


def _spread(size: dict, *spreads: float) -> float | None:
    """The largest spread of the compared models; None for a single round."""
    return max(spreads) if int(size.get("rounds", 1)) > 1 else None


# -- the table -----------------------------------------------------------------------------


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def render(rows: list[Row]) -> str:
    """The rows as an aligned Markdown table (readable in a terminal, pastable in a README)."""
    header = ["case", "hasim", "reference", "ratio", "spread", "check"]
    cells = [
        [
            r.case,
            r.hasim,
            r.reference,
            _ratio(r.ratio),
            "-" if r.spread is None else f"{r.spread:.1%}",
            r.check,
        ]
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    right = {3, 4}  # numbers

    def line(values: list[str]) -> str:
        padded = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    dashes = ["-" * (w - 1) + ":" if i in right else "-" * w for i, w in enumerate(widths)]
    rule = "| " + " | ".join(dashes) + " |"
    return "\n".join([line(header), rule, *(line(c) for c in cells)])


def versions() -> str:
    """The versions that matter for the numbers."""
    return (
        f"python {platform.python_version()}, simpy {simpy.__version__}, numpy {np.__version__}, "
        f"hasim {hs.__version__}, ciw {bench_mmc.ciw_version() or 'not installed'}"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, run the chosen cases and print one table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes, ~40 s")
    mode.add_argument("--full", action="store_true", help="the default sizes (a few minutes)")
    mode.add_argument("--tiny", action="store_true", help="toy sizes for the tests (seconds)")
    parser.add_argument(
        "--only", default=",".join(CASES), help=f"comma-separated cases among {', '.join(CASES)}"
    )
    parser.add_argument("--seed", type=int, default=1, help="root seed of every case")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in CASES]
    if unknown or not chosen:
        parser.error(f"--only takes cases among {', '.join(CASES)}; got {args.only!r}")
    size_name = "tiny" if args.tiny else "quick" if args.quick else "full"
    sizes = SIZES[size_name]

    started = datetime.datetime.now(datetime.UTC)
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    rows: list[Row] = []
    for name in chosen:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        case_began = time.perf_counter()
        rows += CASES[name](sizes[name], args.seed)
        print(f"[bench] {name}: {time.perf_counter() - case_began:.1f} s", file=sys.stderr)
    elapsed = time.perf_counter() - began

    noisy = [
        r.case.split(":")[0] for r in rows if r.busy or (r.spread is not None and r.spread > NOISY)
    ]
    lines = [
        f"python -m bench ({size_name}), {started:%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s; "
        f"{os.cpu_count()} cores, 1-min load {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after",
        versions(),
        "",
        render(rows),
        "",
        "ratio: mmc, balancer, state = hasim's throughput / the reference's (> 1: hasim "
        "faster); memory = long run's peak / short run's; experiment = serial wall / "
        f"{WORKERS}-process wall; rare = naive CPU time / importance sampling's wall time; "
        "fastforward, failover = the full run's wall time / fast-forward's; linearizability "
        "= simulation's (or the previous checker's) wall time / the checker's.",
        "spread: (max - min) / median over the rounds, of the noisier model; trust rows "
        f"below {NOISY:.0%}.",
    ]
    if noisy:
        lines.append(
            f"NOISY (spread > {NOISY:.0%}, or others used > {BUSY} cores): "
            f"{', '.join(dict.fromkeys(noisy))}; re-run on a quiet machine."
        )
    bad = [r.case for r in rows if r.ratio is not None and not math.isfinite(r.ratio)]
    if bad:
        lines.append(f"NOT FINITE: {', '.join(bad)}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
