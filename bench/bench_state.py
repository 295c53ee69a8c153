"""State-only availability: simulated years per wall second, hasim vs a hand-written SimPy model.

The design: 3 nodes, each failing after an exponential time (mean ``MTTF`` = 1,000 h) and
repaired by a crew of its own after an exponential time (mean ``MTTR`` = 10 h); the system is
up while at least 2 of the 3 are. No traffic: only failures and repairs, the kind of run an
availability study repeats thousands of times. Every model runs ``--years`` of simulated time
and reports its uptime (share of time the system was up) and its incidents (system outages).

Models, run in this one process, interleaved, same seed every round:

* ``simpy``: three processes (``yield env.timeout(ttf); down += 1; ...; yield
  env.timeout(ttr); down -= 1``) and a counter of nodes down; an outage starts when the
  counter reaches 2 and ends when it falls back to 1. Random numbers drawn 4096 at a time
  from numpy (``bench_balancer.Draws``, the strong hand-written variant). **The baseline.**
* ``hasim``: ``Node`` x 3 with ``Failures``, ``sim.up_when(hs.k_of_n(2, nodes))``,
  ``Simulation(record="aggregate")``, then ``run(...).summary()`` (which also computes the
  incidents' time to repair, percentiles...). ``run`` picks the lean state-only engine
  (``hasim.lean``).
* ``lambda``: the same with ``sim.up_when(lambda: sum(n.up for n in nodes) >= 2)``: the lean
  engine calls the lambda after every change.
* ``vector``: the same as ``hasim`` with ``run(engine="vector")`` (``hasim.vector``).
* ``events``: the same as ``hasim`` with ``run(engine="events")``, the general SimPy engine
  every model with traffic runs on.

All four hasim variants give the same numbers, bit for bit (same streams, same event times).

``memory`` (``--memory``): peak RSS of the ``hasim`` model over ``--years`` and over 10x as
long, each in a fresh process (as ``bench_memory``).

Both uptimes should agree with the closed form ``hasim.analytic.k_of_n(2, 3, a)``,
``a = MTTF / (MTTF + MTTR)``: 1 - 2.92e-4. Over 10,000 years there are ~5,000 outages, so
the simulated unavailability has a relative standard deviation of about 2 %.

Timed (``time.perf_counter``): building, running, and getting the numbers out. One untimed
warm-up round, then ``--rounds`` rounds with the order rotated, ``gc.collect()`` before each
run; medians.

Run from the repository root::

    python -m bench.bench_state            # 10,000 simulated years, 3 rounds
    python -m bench.bench_state --quick    # 2,000 years, 2 rounds
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import simpy

import hasim as hs
from bench.bench_balancer import Draws, exponential

NODES, NEEDED = 3, 2
MTTF = 1_000 * hs.hours
MTTR = 10 * hs.hours


def closed_form() -> float:
    """The 2-of-3 availability with a crew per node: the binomial tail."""
    return hs.analytic.k_of_n(NEEDED, NODES, MTTF / (MTTF + MTTR))


# -- the models ----------------------------------------------------------------------------


def simpy_model(until: float, seed: int) -> dict[str, float]:
    """Three failure/repair processes and a counter of nodes down, in plain SimPy."""
    env = simpy.Environment()
    outage_at = NODES - NEEDED + 1  # nodes down that take the system down
    down = [0]
    since = [0.0]  # when the current outage began
    downtime = [0.0]
    incidents = [0]

    def node(i: int):
        ttf = Draws(np.random.default_rng([seed, i, 1]), exponential(MTTF))
        ttr = Draws(np.random.default_rng([seed, i, 2]), exponential(MTTR))
        while True:
            yield env.timeout(ttf())
            down[0] += 1
            if down[0] == outage_at:
                since[0] = env.now
                incidents[0] += 1
            yield env.timeout(ttr())
            if down[0] == outage_at:
                downtime[0] += env.now - since[0]
            down[0] -= 1

    for i in range(NODES):
        env.process(node(i))
    env.run(until=until)
    if down[0] >= outage_at:  # an outage still going on at the end
        downtime[0] += until - since[0]
    return {"uptime": 1.0 - downtime[0] / until, "incidents": incidents[0]}


def hasim_model(
    until: float, seed: int, *, engine: str = "auto", expression: bool = True
) -> dict[str, float]:
    """The design with hasim's components; the same numbers, from ``summary()``."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))
    nodes = [hs.Node(sim, f"n{i}", failures=failures) for i in range(NODES)]
    if expression:
        sim.up_when(hs.k_of_n(NEEDED, nodes))
    else:
        sim.up_when(lambda: sum(n.up for n in nodes) >= NEEDED)
    s = sim.run(until=until, engine=engine).summary()
    return {"uptime": s["uptime"], "incidents": s["incidents"]}


MODELS: dict[str, Callable[[float, int], dict[str, float]]] = {
    "simpy": simpy_model,
    "hasim": hasim_model,
    "lambda": partial(hasim_model, expression=False),
    "vector": partial(hasim_model, engine="vector"),
    "events": partial(hasim_model, engine="events"),
}


def probe(years: float, seed: int = 1) -> None:
    """Run the ``hasim`` model for ``years`` in this process; print peak RSS as JSON."""
    from bench.bench_memory import _maxrss_mb

    base = _maxrss_mb()
    start = time.perf_counter()
    out = hasim_model(years * hs.years, seed)
    print(json.dumps({**out, "base_mb": base, "peak_mb": _maxrss_mb(),
                      "seconds": time.perf_counter() - start}))  # fmt: skip


def memory(years: float, seed: int = 1) -> dict[str, dict[str, float]]:
    """Peak RSS of the ``hasim`` model over ``years`` and 10x as long, in fresh processes."""
    from bench.bench_memory import ROOT

    rows = {}
    for label, span in (("short", years), ("long", 10 * years)):
        code = f"from bench.bench_state import probe; probe({span!r}, {seed!r})"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"the state memory probe failed:\n{done.stderr}")
        rows[label] = {**json.loads(done.stdout.strip().splitlines()[-1]), "years": span}
    return rows


# -- the harness ---------------------------------------------------------------------------


def timed(model: Callable[[float, int], dict[str, float]], until: float, seed: int):
    """Run ``model`` once after a full collection; return (its numbers, seconds)."""
    gc.collect()
    start = time.perf_counter()
    out = model(until, seed)
    return out, time.perf_counter() - start


def bench(
    years: float, rounds: int, seed: int, models: tuple[str, ...] | None = None
) -> dict[str, dict[str, float]]:
    """Warm up, then run the models (default: all) ``rounds`` times, interleaved.

    Returns:
        Per model: ``uptime``, ``incidents``, median ``seconds`` and ``rate``
        (simulated years per wall second) and ``spread`` ((max - min) / median rate).
    """
    until = years * hs.years
    names = list(models or MODELS)
    for name in names:  # warm-up, not measured
        timed(MODELS[name], min(years, 200.0) * hs.years, seed)
    runs: dict[str, list] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            runs[name].append(timed(MODELS[name], until, seed))
    table = {}
    for name in names:
        rates = [years / s for _, s in runs[name]]
        table[name] = {
            **runs[name][0][0],  # same seed every round: same numbers
            "seconds": statistics.median(s for _, s in runs[name]),
            "rate": statistics.median(rates),
            "spread": (max(rates) - min(rates)) / statistics.median(rates),
        }
    return table


def report(table: dict[str, dict[str, float]], years: float, rounds: int, seed: int) -> str:
    """The results as a fixed-width table, with the run's parameters on top."""
    theory = closed_form()
    lines = [
        f"{NEEDED} of {NODES} nodes, failures Exp({MTTF / hs.hours:g} h) / Exp({MTTR / hs.hours:g}"
        f" h), a crew per node, no traffic; {years:g} simulated years, seed={seed}, "
        f"rounds={rounds} (median)",
        f"python {platform.python_version()}, simpy {simpy.__version__}, numpy {np.__version__}, "
        f"hasim {hs.__version__}",
        f"{'model':<6} {'wall s':>7} {'years/s':>9} {'spread':>6} {'vs simpy':>8} "
        f"{'incidents':>9} {'unavailability':>14} {'closed form':>11}",
    ]
    base = table["simpy"]["rate"]
    for name, row in table.items():
        lines.append(
            f"{name:<6} {row['seconds']:>7.3f} {row['rate']:>9,.0f} {row['spread']:>6.1%} "
            f"{row['rate'] / base:>8.2f} {row['incidents']:>9} {1 - row['uptime']:>14.3e} "
            f"{1 - theory:>11.3e}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=float, default=10_000.0, help="simulated years per run")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (median)")
    parser.add_argument("--seed", type=int, default=1, help="root seed of every model")
    parser.add_argument("--quick", action="store_true", help="2,000 years, 2 rounds")
    parser.add_argument("--memory", action="store_true", help="also peak RSS, 10x longer")
    args = parser.parse_args(argv)
    if args.quick:
        args.years, args.rounds = 2_000.0, 2
    if not args.years > 0 or args.rounds < 1:
        parser.error("--years must be > 0 and --rounds >= 1")
    table = bench(args.years, args.rounds, args.seed)
    print(report(table, args.years, args.rounds, args.seed))
    if args.memory:
        rows = memory(args.years, args.seed)
        for label, row in rows.items():
            print(f"memory {label}: {row['years']:g} years, peak {row['peak_mb']:.1f} MB "
                  f"(base {row['base_mb']:.1f}), {row['seconds']:.2f} s")  # fmt: skip
        print(f"peak ratio long / short: {rows['long']['peak_mb'] / rows['short']['peak_mb']:.3f}"
              " (goal <= 1.2)")  # fmt: skip


if __name__ == "__main__":
    main()
