"""Rare events: importance sampling to a 10 % interval vs what naive simulation would need.

The design: 3 of 5 nodes needed, each failing after an exponential time (mean 10,000 h) and
repaired by a crew of its own after an exponential time (mean 4 h). It is down about 6.4e-10
of the time (``1 - hasim.analytic.k_of_n(3, 5, 1e4 / (1e4 + 4))``), one outage every ~240,000
years: plain simulation sees none in a run of thousands of years.

* **Importance sampling.** ``hasim.rare.estimate(sim, FailureBiasing(cycles=c))`` (balanced
  failure biasing over regenerative cycles; see ``hasim/rare.py``), with ``c`` doubling from
  ``--start`` until the 95 % half-width is at most ``--target`` (10 %) of the estimate. The
  wall time is the sum over the attempts (each starts afresh from the same seed), after an
  untimed warm-up estimate (scipy's import).
* **Naive simulation, extrapolated.** A relative half-width ``r`` needs about
  ``(1.96 / r)^2`` outages (384 at 10 %; a lower bound, the outages' lengths vary too), so
  ``(1.96 / r)^2 / f`` simulated time, ``f`` the outage frequency of the exact chain
  (``hasim.analytic.k_of_n_chain(3, 5, mttf, mttr)`` -> ``chain.failure_frequency(up)``).
  Its CPU time is that over the simulated years per wall second of a naive hasim run of
  this same model (``Simulation(record="aggregate")``, no traffic, ``--naive-years``
  simulated, measured here).

The ratio is the naive CPU time over the importance-sampling wall time.

Run from the repository root::

    python -m bench.bench_rare                 # 10 %, naive rate over 5,000 years
    python -m bench.bench_rare --target 0.05
"""

from __future__ import annotations

import argparse
import time

import hasim as hs
from hasim.rare import FailureBiasing, estimate

NEEDED, NODES = 3, 5
MTTF = 10_000 * hs.hours
MTTR = 4 * hs.hours
Z95 = 1.96


def build(seed: int, record: str = "aggregate") -> hs.Simulation:
    """The 3-of-5 design, built and not run."""
    sim = hs.Simulation(seed=seed, record=record)
    failures = hs.Failures(ttf=hs.Exponential(mean=MTTF), ttr=hs.Exponential(mean=MTTR))
    nodes = [hs.Node(sim, f"n{i}", failures=failures) for i in range(NODES)]
    sim.up_when(lambda: sum(n.up for n in nodes) >= NEEDED)
    return sim


def to_precision(target: float, seed: int, start: int) -> dict[str, float]:
    """Importance sampling with the cycles doubling until half-width / estimate <= ``target``.

    Returns:
        ``seconds`` (all attempts), ``attempts``, ``cycles`` (of the last one), its
        ``unavailability``, ``half_width`` and ``simulated`` (equivalent simulated seconds).
    """
    estimate(build(seed), FailureBiasing(cycles=50))  # warm-up: scipy.stats, caches
    cycles, attempts = start, 0
    began = time.perf_counter()
    while True:
        attempts += 1
        est = estimate(build(seed), FailureBiasing(cycles=cycles))
        if est["half_width"] <= target * est["unavailability"]:
            break
        cycles *= 2
    return {"seconds": time.perf_counter() - began, "attempts": attempts, **est}


def naive_rate(years: float, seed: int) -> dict[str, float]:
    """Simulated years per wall second of a plain hasim run of the same design.

    Returns:
        ``rate`` (years per wall second), ``years`` and the ``incidents`` it saw.
    """
    build(seed).run(until=min(years, 100.0) * hs.years)  # warm-up
    sim = build(seed)
    began = time.perf_counter()
    summary = sim.run(until=years * hs.years).summary()
    seconds = time.perf_counter() - began
    return {"rate": years / seconds, "years": years, "incidents": summary["incidents"]}


def bench(target: float, naive_years: float, seed: int, start: int = 250) -> dict[str, float]:
    """Both sides and the closed forms.

    Returns:
        ``to_precision``'s numbers, plus ``theory`` (closed-form unavailability),
        ``frequency`` (outages per year, exact chain), ``years_needed`` (naive simulated
        years for ``target``), ``naive_rate``, ``naive_years``, ``naive_incidents``,
        ``naive_cpu`` (seconds) and ``ratio`` (naive_cpu / importance sampling's seconds).
    """
    out = to_precision(target, seed, start)
    theory = 1.0 - hs.analytic.k_of_n(NEEDED, NODES, MTTF / (MTTF + MTTR))
    chain, up = hs.analytic.k_of_n_chain(NEEDED, NODES, MTTF, MTTR)
    frequency = chain.failure_frequency(up) * hs.years
    years_needed = (Z95 / target) ** 2 / frequency
    naive = naive_rate(naive_years, seed)
    naive_cpu = years_needed / naive["rate"]
    return {
        **out,
        "theory": theory,
        "frequency": frequency,
        "years_needed": years_needed,
        "naive_rate": naive["rate"],
        "naive_years": naive_years,
        "naive_incidents": naive["incidents"],
        "naive_cpu": naive_cpu,
        "ratio": naive_cpu / out["seconds"],
    }


def report(row: dict[str, float], target: float) -> str:
    """The numbers, one per line."""
    return "\n".join(
        [
            f"{NEEDED} of {NODES}, failures Exp({MTTF / hs.hours:g} h) / Exp({MTTR / hs.hours:g}"
            f" h), a crew per node; target half-width {target:.0%} of the estimate",
            f"importance sampling: {row['seconds']:.3f} s wall, {row['attempts']} attempts, "
            f"last {row['cycles']:,.0f} cycles (= {row['simulated'] / hs.years:,.0f} years)",
            f"  unavailability {row['unavailability']:.3e} +- {row['half_width']:.1e} "
            f"(closed form {row['theory']:.3e})",
            f"naive: one outage every {1 / row['frequency']:,.0f} years (exact chain); "
            f"{(Z95 / target) ** 2:.0f} outages need {row['years_needed']:.3g} years",
            f"  hasim runs this model at {row['naive_rate']:,.0f} simulated years/s "
            f"({row['naive_years']:g} years measured, {row['naive_incidents']} outages seen) "
            f"-> {row['naive_cpu']:,.0f} CPU s ({row['naive_cpu'] / 3600:.1f} h)",
            f"ratio naive CPU / importance sampling: {row['ratio']:,.0f}",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, run both sides and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=float, default=0.1, help="relative half-width")
    parser.add_argument("--naive-years", type=float, default=5_000.0, help="naive run, years")
    parser.add_argument("--start", type=int, default=250, help="cycles of the first attempt")
    parser.add_argument("--seed", type=int, default=1, help="seed of every run")
    args = parser.parse_args(argv)
    if not 0 < args.target < 1 or not args.naive_years > 0 or args.start < 2:
        parser.error("--target must be in (0, 1), --naive-years > 0, --start >= 2")
    row = bench(args.target, args.naive_years, args.seed, args.start)
    print(report(row, args.target))


if __name__ == "__main__":
    main()
