"""hasim vs a hand-written SimPy model of the same load-balanced, health-checked service.

The design: Poisson requests at 300/s to a round-robin balancer over 3 servers (4 workers
each, exponential service with mean 5 ms, FIFO, unlimited queue). Each server fails after an
exponential time (mean ``--mttf``, 300 s) and is repaired after an exponential time (mean 30
s). The balancer health-checks every server every 1 s (first probe at a random phase within
the first second), with a 0.5 s timeout, unhealthy after 2 failed probes in a row and healthy
again after 2 good ones; it sends only to servers it believes healthy and rejects a request
at once when it believes none is. No network latency. Same semantics in both models:

* a probe is a real request: it queues for a worker and takes a service time; it fails if it
  is refused (server down) or not answered within the timeout (the work still goes on);
* a request sent to a down server ends at once with ``error``; a crash ends every request
  queued or in service there with ``error`` (probes too);
* the balancer never looks at a server's true state, only at its probes' answers.

Models, run in this one process, interleaved, same seed every round:

* ``simpy``: the hand-written model. The idiomatic SimPy shapes (a process per request that
  does ``with res.request() as req: yield req; yield env.timeout(service)`` on a
  ``simpy.Resource(capacity=4)``; a process per probe that races its service against
  ``env.timeout(timeout)`` with ``|``; a failure process per server that ``interrupt()`` s
  the processes in flight at a crash), with random numbers drawn 4096 at a time from numpy
  (the strongest hand-written model a competent user would reasonably write, as
  ``simpy batch`` in ``bench_mmc``). Counts outcomes and sums ok latencies.
* ``hasim``: ``Server`` x 3 with ``Failures``, ``LoadBalancer`` with a ``HealthCheck``,
  ``OpenLoop``; ``Simulation(record="aggregate")``; then ``summary()`` (which also computes
  percentiles, incidents, time to detect...).

Timed (``time.perf_counter``): building, running, and getting the numbers out. One untimed
warm-up round, then ``--rounds`` rounds with the order rotated, ``gc.collect()`` before each
run; medians. Both models should report about the same availability and mean latency
(different random streams: they agree within noise, mostly the number of crashes).

Run from the repository root::

    python -m bench.bench_balancer            # 300k requests (1,000 s), 5 rounds
    python -m bench.bench_balancer --quick    # 60k requests, 2 rounds
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import simpy

import hasim as hs

RATE = 300.0  # requests per second
SERVERS = 3
WORKERS = 4
SERVICE = 0.005  # mean service time, s
MTTR = 30.0
INTERVAL, TIMEOUT, UNHEALTHY_AFTER, HEALTHY_AFTER = 1.0, 0.5, 2, 2
BATCH = 4096


class Draws:
    """Scalars handed out from numpy batches (one stream)."""

    __slots__ = ("rng", "fn", "buf")

    def __init__(
        self, rng: np.random.Generator, fn: Callable[[np.random.Generator, int], np.ndarray]
    ):
        self.rng, self.fn, self.buf = rng, fn, []

    def __call__(self) -> float:
        if not self.buf:
            self.buf = self.fn(self.rng, BATCH).tolist()[::-1]
        return self.buf.pop()


def exponential(mean: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, n: rng.exponential(mean, n)


# -- the hand-written SimPy model ----------------------------------------------------------


def simpy_model(until: float, seed: int, mttf: float) -> dict[str, float]:
    """The design in plain SimPy; returns requests, ok, error, rejected, mean latency, verdicts."""
    env = simpy.Environment()
    counts = {"ok": 0, "error": 0, "rejected": 0}
    latency = [0.0]
    verdicts = [0]

    class Srv:
        def __init__(self, i: int) -> None:
            self.up = True
            self.res = simpy.Resource(env, capacity=WORKERS)
            self.work: set = set()  # processes queued or in service here
            self.service = Draws(np.random.default_rng([seed, i, 0]), exponential(SERVICE))
            self.healthy = True  # the balancer's belief
            self.failures = self.successes = 0

    servers = [Srv(i) for i in range(SERVERS)]
    candidates = list(servers)
    rr = [-1]

    def serve(srv: Srv):
        """Queue for a worker and serve; True if ok, False if the server crashed meanwhile."""
        me = env.active_process
        srv.work.add(me)
        try:
            with srv.res.request() as req:
                yield req
                yield env.timeout(srv.service())
            return True
        except simpy.Interrupt:
            return False
        finally:
            srv.work.discard(me)

    def request():
        issued = env.now
        if not candidates:
            counts["rejected"] += 1
            return
        rr[0] = i = (rr[0] + 1) % len(candidates)
        srv = candidates[i]
        if not srv.up:
            counts["error"] += 1
            return
        ok = yield from serve(srv)
        if ok:
            counts["ok"] += 1
            latency[0] += env.now - issued
        else:
            counts["error"] += 1

    def source():
        gap = Draws(np.random.default_rng([seed, 100]), exponential(1.0 / RATE))
        while True:
            yield env.timeout(gap())
            env.process(request())

    def believe(srv: Srv, healthy: bool) -> None:
        srv.healthy = healthy
        verdicts[0] += 1
        candidates[:] = [s for s in servers if s.healthy]

    def probe(srv: Srv):
        if srv.up:
            work = env.process(serve(srv))
            expired = env.timeout(TIMEOUT)
            yield work | expired
            ok = work.triggered and work.ok and work.value
        else:
            ok = False  # refused at once
        if ok:
            srv.successes += 1
            srv.failures = 0
            if not srv.healthy and srv.successes >= HEALTHY_AFTER:
                believe(srv, True)
        else:
            srv.failures += 1
            srv.successes = 0
            if srv.healthy and srv.failures >= UNHEALTHY_AFTER:
                believe(srv, False)

    def checker(srv: Srv, phase: float):
        yield env.timeout(phase)
        while True:
            env.process(probe(srv))
            yield env.timeout(INTERVAL)

    def lifecycle(srv: Srv, i: int):
        ttf = Draws(np.random.default_rng([seed, i, 1]), exponential(mttf))
        ttr = Draws(np.random.default_rng([seed, i, 2]), exponential(MTTR))
        while True:
            yield env.timeout(ttf())
            srv.up = False
            for proc in list(srv.work):
                proc.interrupt()
            yield env.timeout(ttr())
            srv.up = True

    phases = np.random.default_rng([seed, 200]).uniform(0.0, INTERVAL, SERVERS)
    for i, srv in enumerate(servers):
        env.process(checker(srv, float(phases[i])))
        env.process(lifecycle(srv, i))
    env.process(source())
    env.run(until=until)
    done = sum(counts.values())
    return {
        "requests": done,
        "availability": counts["ok"] / done,
        "latency": latency[0] / counts["ok"],
        "verdicts": verdicts[0],
    }


# -- the hasim model -----------------------------------------------------------------------


def hasim_model(until: float, seed: int, mttf: float) -> dict[str, float]:
    """The design with hasim's components; the same numbers, from ``summary()``."""
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Exponential(mean=mttf), ttr=hs.Exponential(mean=MTTR))
    web = [
        hs.Server(sim, f"web{i}", workers=WORKERS, service_time=hs.Exponential(mean=SERVICE),
                  failures=failures)
        for i in range(SERVERS)
    ]  # fmt: skip
    check = hs.HealthCheck(interval=INTERVAL, timeout=TIMEOUT, unhealthy_after=UNHEALTHY_AFTER,
                           healthy_after=HEALTHY_AFTER)  # fmt: skip
    lb = hs.LoadBalancer(sim, "lb", backends=web, health_check=check)
    hs.OpenLoop(sim, "users", target=lb, rate=RATE)
    result = sim.run(until=until)
    s = result.summary()
    return {
        "requests": s["ok"] + s["failed"],
        "availability": s["availability"],
        "latency": s["latency_mean"],
        "verdicts": len(result.detections),
    }


MODELS = {"simpy": simpy_model, "hasim": hasim_model}


# -- the harness ---------------------------------------------------------------------------


def timed(model, until: float, seed: int, mttf: float):
    gc.collect()
    start = time.perf_counter()
    out = model(until, seed, mttf)
    return out, time.perf_counter() - start


def bench(requests: int, rounds: int, seed: int, mttf: float) -> dict[str, dict[str, float]]:
    until = requests / RATE
    names = list(MODELS)
    for name in names:  # warm-up, not measured
        timed(MODELS[name], min(requests, 30_000) / RATE, seed, mttf)
    runs: dict[str, list] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            runs[name].append(timed(MODELS[name], until, seed, mttf))
    table = {}
    for name in names:
        out = runs[name][0][0]
        rates = [o["requests"] / s for o, s in runs[name]]
        table[name] = {
            **out,
            "seconds": statistics.median(s for _, s in runs[name]),
            "rate": statistics.median(rates),
            "spread": (max(rates) - min(rates)) / statistics.median(rates),
        }
    return table


def report(table, requests: int, rounds: int, seed: int, mttf: float) -> str:
    lines = [
        f"round robin over {SERVERS} servers x {WORKERS} workers, service Exp({SERVICE * 1e3:g} "
        f"ms), {RATE:g} req/s, failures Exp({mttf:g} s) / Exp({MTTR:g} s), health check "
        f"{INTERVAL:g} s / {TIMEOUT:g} s / {UNHEALTHY_AFTER} / {HEALTHY_AFTER}; "
        f"T={requests / RATE:.0f} s seed={seed} rounds={rounds} (median)",
        f"python {platform.python_version()}, simpy {simpy.__version__}, numpy {np.__version__}, "
        f"hasim {hs.__version__}",
        f"{'model':<6} {'requests':>9} {'wall s':>7} {'requests/s':>11} {'spread':>6} "
        f"{'availability':>12} {'latency ms':>10} {'verdicts':>8}",
    ]
    for name, row in table.items():
        lines.append(
            f"{name:<6} {row['requests']:>9} {row['seconds']:>7.3f} {row['rate']:>11,.0f} "
            f"{row['spread']:>6.1%} {row['availability']:>12.6f} {row['latency'] * 1e3:>10.3f} "
            f"{row['verdicts']:>8}"
        )
    ratio = table["simpy"]["seconds"] / table["hasim"]["seconds"]
    lines.append(
        f"hasim time / simpy time = {1 / ratio:.2f} (hasim {ratio:.2f}x the hand-written "
        f"model's throughput; aim: time ratio <= 1.25)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300_000, help="requests per run")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (median)")
    parser.add_argument("--seed", type=int, default=1, help="root seed of every model")
    parser.add_argument("--mttf", type=float, default=300.0, help="mean time to failure, s")
    parser.add_argument("--quick", action="store_true", help="60k requests, 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds = 60_000, 2
    if args.requests < 1 or args.rounds < 1 or not args.mttf > 0:
        parser.error("--requests and --rounds must be >= 1, --mttf > 0")
    table = bench(args.requests, args.rounds, args.seed, args.mttf)
    print(report(table, args.requests, args.rounds, args.seed, args.mttf))


if __name__ == "__main__":
    main()
