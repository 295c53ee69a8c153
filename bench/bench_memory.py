"""Peak memory of a streaming run (``record="aggregate"``): does it stay flat with the run's length?

The model is ``bench_mmc``'s M/M/3 (Poisson arrivals at 2.4/s, 3 servers, exponential
service at 1/s) built with hasim and ``Simulation(record="aggregate")``, which keeps counts
and a latency histogram instead of a row per request; it runs until about ``N`` requests
were issued, then ``summary()``. Each measurement is a fresh Python process (``subprocess``
with ``sys.executable -c``): the peak resident set size of a process only grows, so one
process per measurement is the honest way to get a run's peak. In it:

* ``base``: the process's peak resident set size (``VmHWM`` in ``/proc/self/status`` on
  Linux, ``ru_maxrss`` elsewhere) after importing hasim and building the model (the
  interpreter, numpy, SimPy, hasim);
* ``peak``: the same after the run and ``summary()``; ``run`` = ``peak - base``, what the
  run itself added.

The ratio is peak(long) / peak(short): the goal is at most 1.2 for 10 x the requests (memory
flat). With ``record="requests"`` (a row per request) the same run grows by about 100 bytes
per request instead.

Run from the repository root::

    python -m bench.bench_memory                       # 1 M vs 10 M requests (~40 s)
    python -m bench.bench_memory --quick               # 0.2 M vs 1 M requests (~5 s)
    python -m bench.bench_memory --requests 100000 --record requests
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: where ``bench`` imports from


def _maxrss_mb() -> float:
    """This process's peak resident set size so far, in MB.

    On Linux, ``VmHWM`` from ``/proc/self/status``: the high-water mark of this process's
    own memory. Not ``ru_maxrss``, which also counts the parent's memory when the child
    was started by ``vfork`` + ``exec`` (as ``subprocess`` does): the kernel keeps the
    pre-exec high-water mark, which is then the parent's. Elsewhere, ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS


def probe(requests: int, record: str = "aggregate", seed: int = 1) -> None:
    """Run the M/M/3 for ~``requests`` requests in this process; print its numbers as JSON.

    Meant to run alone in a fresh interpreter (see :func:`measure`).
    """
    import time

    import hasim as hs
    from bench.bench_mmc import LAMBDA, MU, SERVERS

    sim = hs.Simulation(seed=seed, record=record)
    server = hs.Server(sim, "mmc", workers=SERVERS, service_time=hs.Exponential(mean=1.0 / MU))
    hs.OpenLoop(sim, "users", target=server, rate=LAMBDA)
    base = _maxrss_mb()
    start = time.perf_counter()
    summary = sim.run(until=requests / LAMBDA).summary()
    seconds = time.perf_counter() - start
    out = {
        "requests": summary["issued"],
        "base_mb": base,
        "peak_mb": _maxrss_mb(),
        "seconds": seconds,
        "latency_mean": summary["latency_mean"],
    }
    print(json.dumps(out))


def measure(requests: int, record: str = "aggregate", seed: int = 1) -> dict[str, float]:
    """Run :func:`probe` in a fresh Python process and return what it printed.

    Returns:
        ``requests`` issued, ``base_mb`` (after imports and building), ``peak_mb`` (after
        the run), ``seconds`` (run + summary) and ``latency_mean``.
    """
    code = f"from bench.bench_memory import probe; probe({requests!r}, {record!r}, {seed!r})"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, measure a short and a long run, print both and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000, help="the short run")
    parser.add_argument("--times", type=int, default=10, help="the long run is this many x")
    parser.add_argument("--record", default="aggregate", help="aggregate or requests")
    parser.add_argument("--seed", type=int, default=1, help="seed of both runs")
    parser.add_argument("--quick", action="store_true", help="0.2 M vs 1 M requests")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.times = 200_000, 5
    if args.requests < 1 or args.times < 1:
        parser.error("--requests and --times must be >= 1")
    short = measure(args.requests, args.record, args.seed)
    long = measure(args.requests * args.times, args.record, args.seed)
    print(f"M/M/3, record={args.record!r}, one fresh process per run; MB = VmHWM / 2**10")
    print(f"{'requests':>10} {'base MB':>8} {'peak MB':>8} {'run MB':>7} {'run s':>6}")
    for row in (short, long):
        print(
            f"{row['requests']:>10} {row['base_mb']:>8.1f} {row['peak_mb']:>8.1f} "
            f"{row['peak_mb'] - row['base_mb']:>7.1f} {row['seconds']:>6.2f}"
        )
    print(f"peak ratio long / short: {long['peak_mb'] / short['peak_mb']:.3f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
