"""hasim vs a hand-written SimPy model of the same M/M/c queue, as customers per second.

The queue: Poisson arrivals at rate lambda = 2.4/s, c = 3 servers, exponential
service at rate mu = 1/s per server (utilisation rho = lambda / (c mu) = 0.8),
FIFO, unlimited queue. Every model runs to the horizon T = customers / lambda,
so each sees about ``--customers`` arrivals, and reports how many customers
arrived and their mean response time (arrival to departure, over the
customers that left before T).

Models, all run in this one process, interleaved, same seed every round:

* ``simpy scalar``: the idiomatic SimPy model -- a source process that yields
  ``env.timeout(gap)`` and starts one process per customer, which does
  ``with res.request() as req: yield req; yield env.timeout(service)`` on a
  ``simpy.Resource(capacity=3)``. Each draw is one scalar
  ``Generator.exponential()`` call, as most users write it. It keeps every
  response time in a list and takes their mean at the end. This is the
  baseline of the ratio column.
* ``simpy batch``: the same model, but the gaps and service times are drawn
  4096 at a time with numpy and handed out from Python lists: the strongest
  hand-written model a competent user would reasonably write.
* ``hasim requests``: ``Server`` + ``OpenLoop``, ``Simulation(record="requests")``
  (one row per request kept, exact percentiles), then ``summary()``.
* ``hasim aggregate``: the same with ``record="aggregate"`` (counts and a
  latency histogram only).
* ``ciw``: the same M/M/3 built with Ciw (``ciw.create_network`` with
  ``ciw.dists.Exponential`` arrivals and services, 3 servers), run with
  ``simulate_until_max_time(T)``; the mean of ``exit_date - arrival_date`` over
  its records. Only when ``ciw`` is importable (``pip install ciw``, for the
  benchmark only); otherwise the table says so. Ciw seeds Python's and numpy's
  global generators (``ciw.seed``): tolerable in a benchmark, never in hasim.

What is timed (``time.perf_counter``): building the model, running it, and
getting the mean response time out of it (the list mean for SimPy;
``sim.run(...).summary()`` for hasim, which also computes availability,
percentiles, incidents...). One untimed warm-up round runs first (at most 20k
customers); then ``--rounds`` rounds, each running every model once in a
rotated order, with ``gc.collect()`` before each run (the collector stays
enabled during it). The table shows the median per model.

Both means should agree with the M/M/3 closed form W = 1/mu + C(3, 2.4) / (3 mu - lambda)
(Erlang C), about 2.079 s. At 200k customers and rho = 0.8 one run's mean has a
standard deviation of about 1.7 % (measured over 12 seeds), so a gap of up to ~4 % is
noise. The two SimPy models draw the same numbers (numpy's ``exponential`` gives the same
values one at a time or in a batch), so they print the same customers and mean.

Run from the repository root::

    python -m bench.bench_mmc            # 200k customers, 5 rounds
    python -m bench.bench_mmc --quick    # 20k customers, 2 rounds
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import simpy

import hasim as hs

LAMBDA = 2.4  # arrivals per second
MU = 1.0  # services per second, per server
SERVERS = 3
BATCH = 4096  # draws per numpy call in the batch model


# -- the hand-written SimPy models ---------------------------------------------------------


def simpy_scalar(until: float, seed: int) -> tuple[int, float]:
    """M/M/c in plain SimPy, one scalar numpy draw per random number.

    Returns:
        (customers that arrived, mean response time of those that left).
    """
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=SERVERS)
    arrivals = np.random.default_rng([seed, 0])
    services = np.random.default_rng([seed, 1])
    responses: list[float] = []

    def customer():
        arrived = env.now
        with server.request() as req:
            yield req
            yield env.timeout(services.exponential(1.0 / MU))
        responses.append(env.now - arrived)

    def source():
        while True:
            yield env.timeout(arrivals.exponential(1.0 / LAMBDA))
            env.process(customer())

    env.process(source())
    env.run(until=until)
    # Arrived = departed + in service + waiting (no per-arrival counter needed).
    customers = len(responses) + server.count + len(server.queue)
    return customers, statistics.fmean(responses) if responses else math.nan


def simpy_batch(until: float, seed: int) -> tuple[int, float]:
    """The same model, drawing gaps and service times ``BATCH`` at a time.

    Returns:
        (customers that arrived, mean response time of those that left).
    """
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=SERVERS)
    arrivals = np.random.default_rng([seed, 0])
    services = np.random.default_rng([seed, 1])
    responses: list[float] = []

    def customer(service: float):
        arrived = env.now
        with server.request() as req:
            yield req
            yield env.timeout(service)
        responses.append(env.now - arrived)

    def source():
        while True:
            gaps = arrivals.exponential(1.0 / LAMBDA, BATCH).tolist()
            times = services.exponential(1.0 / MU, BATCH).tolist()
            for gap, service in zip(gaps, times, strict=True):
                yield env.timeout(gap)
                env.process(customer(service))

    env.process(source())
    env.run(until=until)
    customers = len(responses) + server.count + len(server.queue)
    return customers, statistics.fmean(responses) if responses else math.nan


# -- the hasim model -----------------------------------------------------------------------


def hasim_model(record: str) -> Callable[[float, int], tuple[int, float]]:
    """The hasim M/M/c with the given record mode, as a model function."""

    def run(until: float, seed: int) -> tuple[int, float]:
        sim = hs.Simulation(seed=seed, record=record)
        server = hs.Server(sim, "mmc", workers=SERVERS, service_time=hs.Exponential(mean=1.0 / MU))
        hs.OpenLoop(sim, "users", target=server, rate=LAMBDA)
        summary = sim.run(until=until).summary()
        return summary["issued"], summary["latency_mean"]

    return run


# -- the Ciw model (optional) ----------------------------------------------------------------

CIW_MISSING = "ciw not installed (pip install ciw)"


def ciw_version() -> str | None:
    """Ciw's version, or None when it is not importable."""
    try:
        import ciw
    except ImportError:
        return None
    return ciw.__version__


def ciw_model(until: float, seed: int) -> tuple[int, float]:
    """The same M/M/c in Ciw: exponential arrivals and services, ``SERVERS`` servers.

    Returns:
        (customers that arrived, mean response time of those that left).
    """
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LAMBDA)],
        service_distributions=[ciw.dists.Exponential(rate=MU)],
        number_of_servers=[SERVERS],
    )
    ciw.seed(seed)  # Ciw draws from the global generators; it must be seeded before building
    q = ciw.Simulation(network)
    q.simulate_until_max_time(until)
    records = q.get_all_records()
    customers = q.nodes[0].number_of_individuals  # the arrival node counts every arrival
    mean = statistics.fmean(r.exit_date - r.arrival_date for r in records) if records else math.nan
    return customers, mean


MODELS: dict[str, Callable[[float, int], tuple[int, float]]] = {
    "simpy scalar": simpy_scalar,
    "simpy batch": simpy_batch,
    "hasim requests": hasim_model("requests"),
    "hasim aggregate": hasim_model("aggregate"),
    "ciw": ciw_model,
}
BASELINE = "simpy scalar"
STRONGEST = "simpy batch"


def available() -> list[str]:
    """The models that can run here: all of them, but ``ciw`` only when it is importable."""
    return [name for name in MODELS if name != "ciw" or ciw_version() is not None]


# -- the harness ---------------------------------------------------------------------------


def timed(model: Callable[[float, int], tuple[int, float]], until: float, seed: int):
    """Run ``model`` once after a full collection; return (customers, seconds, mean response)."""
    gc.collect()
    start = time.perf_counter()
    customers, mean_response = model(until, seed)
    seconds = time.perf_counter() - start
    return customers, seconds, mean_response


def bench(
    customers: int, rounds: int, seed: int, names: list[str] | None = None
) -> dict[str, dict[str, float]]:
    """Warm up, then run every model (or those in ``names``) ``rounds`` times, interleaved.

    Returns:
        Per model: ``customers``, median ``seconds`` and ``rate`` (customers/s),
        ``spread`` ((max - min) / median of the rates) and ``mean_response``.
    """
    until = customers / LAMBDA
    names = available() if names is None else names
    for name in names:  # warm-up: imports, caches, allocator; not measured
        timed(MODELS[name], min(customers, 20_000) / LAMBDA, seed)
    runs: dict[str, list[tuple[int, float, float]]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]  # rotate who runs first
        for name in order:
            runs[name].append(timed(MODELS[name], until, seed))
    table = {}
    for name in names:
        rates = [n / s for n, s, _ in runs[name]]
        table[name] = {
            "customers": runs[name][0][0],  # same seed every round: same customers
            "seconds": statistics.median(s for _, s, _ in runs[name]),
            "rate": statistics.median(rates),
            "spread": (max(rates) - min(rates)) / statistics.median(rates),
            "mean_response": runs[name][0][2],
        }
    return table


def report(table: dict[str, dict[str, float]], customers: int, rounds: int, seed: int) -> str:
    """The results as a fixed-width table, with the run's parameters on top."""
    theory = hs.analytic.mmc(LAMBDA, MU, SERVERS).mean_response
    lines = [
        f"M/M/{SERVERS}: lambda={LAMBDA}/s mu={MU}/s rho={LAMBDA / (SERVERS * MU):.2f} "
        f"T={customers / LAMBDA:.0f} s (~{customers} customers) seed={seed} "
        f"rounds={rounds} (median; spread = (max - min) / median of customers/s)",
        f"python {platform.python_version()}, simpy {simpy.__version__}, numpy {np.__version__}, "
        f"hasim {hs.__version__}, ciw {ciw_version() or '-'}",
        "",
        f"{'model':<16} {'customers':>9} {'wall s':>7} {'customers/s':>11} {'spread':>6} "
        f"{'vs scalar':>9} {'vs batch':>8} {'W sim':>6} {'W theory':>8}",
    ]
    base = table[BASELINE]["rate"]
    strong = table[STRONGEST]["rate"]
    for name, row in table.items():
        lines.append(
            f"{name:<16} {row['customers']:>9} {row['seconds']:>7.3f} {row['rate']:>11,.0f} "
            f"{row['spread']:>6.1%} {row['rate'] / base:>9.2f} {row['rate'] / strong:>8.2f} "
            f"{row['mean_response']:>6.3f} {theory:>8.3f}"
        )
    if "ciw" not in table:
        lines.append(f"ciw: {CIW_MISSING}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000, help="arrivals per run")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (median)")
    parser.add_argument("--seed", type=int, default=1, help="root seed of every model")
    parser.add_argument(
        "--quick", action="store_true", help="20k customers, 2 rounds (overrides both flags)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.rounds = 20_000, 2
    if args.customers < 1 or args.rounds < 1:
        parser.error("--customers and --rounds must be >= 1")
    table = bench(args.customers, args.rounds, args.seed)
    print(report(table, args.customers, args.rounds, args.seed))


if __name__ == "__main__":
    main()
