"""Parallel speed-up of an experiment, and the per-run overhead of its executors.

An ``Experiment`` runs its replications through an executor (see
``hasim/experiment/executors.py``). This benchmark measures, in one process:

* **Speed-up.** 40 replications of the ready model ``single_server`` (mttf 4 h,
  median repair 10 min, an open-loop workload of 1.5 requests/s, one simulated
  day: ~130k requests and ~5 incidents per run, ~0.3-0.5 s each) run with
  ``executor="serial"``, with ``"processes"`` and ``workers=2`` (a
  ``ProcessPoolExecutor``, which every ``Experiment.run`` creates and shuts
  down), and on Dask. Speed-up = serial wall time / wall time.
* **Per-run overhead.** 200 tiny replications (the same model with no
  workload -- failures and repairs only -- over 30 simulated days, ~1 ms each)
  through the same three executors.

In both tables ``compute`` is the runs' own time: the sum of
``execute(task)``'s ``elapsed`` over every task, run in this process with no
executor. The overhead per run is ``(wall - compute / workers) / runs``
(``workers`` = 1 for serial): what each run costs beyond its simulation,
counting an even share of starting and stopping the pool.

Dask runs on one ``LocalCluster`` of ``--workers`` single-threaded worker
processes, started once (its start-up time is reported on its own) and passed
to ``Experiment.run`` as a ``Client``; the scheduler runs in this process. It
stays up, idle, while the other executors run.

What is timed (``time.perf_counter``): one whole ``Experiment.run(...)`` call,
including starting and stopping the process pool and building the result
table. One untimed warm-up pass runs every executor once on 8 tiny runs first
(imports, and hasim's first import in the Dask workers; its times are shown);
then ``--rounds`` rounds, each running every executor once in an order rotated
from round to round, after a ``gc.collect()``. The tables show medians;
``spread`` is (max - min) / median of the wall times, and ``others`` the CPU
that *other* processes used meanwhile, in cores (Linux: ``/proc/stat`` minus
this process and its children), the most in any round: with 2 cores and 2
workers, ``others`` of 0.3 costs the parallel executors about 15 %. Only trust
a table whose ``others`` are near 0. Every run's result table
(``result.runs``) must be bit-identical across executors and rounds (DESIGN
rule 1): the benchmark checks it with ``pandas.testing.assert_frame_equal(...,
check_exact=True)`` and stops if it is not.

Run from the repository root (the Dask rows need ``pip install
"dask[distributed]"``; without it they are left out)::

    python -m bench.bench_experiment            # 40 x ~0.4 s and 200 x ~1 ms, 3 rounds
    python -m bench.bench_experiment --quick    # 10 x ~0.05 s and 50 x ~1 ms, 1 round
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import platform
import statistics
import time
from typing import Any

import pandas as pd

import hasim as hs
from hasim.experiment import execute

MODEL = "single_server"
PARAMS = {"mttf": 4 * hs.hours, "mttr": 10 * hs.minutes}
RATE = 1.5  # requests per second, open loop (speed-up experiment only)
TINY_HORIZON = 30 * hs.days  # state-only runs of about 1 ms
WARMUP_RUNS = 8


# -- the experiments -----------------------------------------------------------------------


def speedup_experiment(reps: int, horizon: float | str, seed: int) -> hs.Experiment:
    """``reps`` replications of single_server under an open loop: runs of ~0.4 s."""
    return hs.Experiment(
        {MODEL: MODEL},
        params=PARAMS,
        workload={"rate": RATE},
        horizon=horizon,
        reps=reps,
        seed=seed,
    )


def tiny_experiment(runs: int, seed: int) -> hs.Experiment:
    """``runs`` state-only replications of about 1 ms each: mostly overhead."""
    return hs.Experiment({MODEL: MODEL}, params=PARAMS, horizon=TINY_HORIZON, reps=runs, seed=seed)


def compute_seconds(exp: hs.Experiment) -> float:
    """The runs' own time: the sum of ``execute``'s ``elapsed``, every task in this process."""
    gc.collect()
    total = 0.0
    for point in exp.points:
        for rep in range(exp.reps):
            record = execute(exp.task(point, rep))
            if not record["ok"]:
                raise RuntimeError(f"run failed: {record['error']}")
            total += record["elapsed"]
    return total


# -- the executors -------------------------------------------------------------------------


def start_dask(workers: int) -> tuple[Any, Any, float] | None:
    """A LocalCluster of ``workers`` one-thread processes and its Client; None without Dask.

    Returns:
        (cluster, client, seconds from nothing to every worker connected).
    """
    try:
        import distributed
    except ImportError:
        return None
    start = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster)
    client.wait_for_workers(workers)
    return cluster, client, time.perf_counter() - start


def executors(workers: int, client: Any) -> dict[str, dict[str, Any]]:
    """``Experiment.run`` arguments per executor label (Dask only with a client)."""
    table: dict[str, dict[str, Any]] = {
        "serial": {"executor": "serial"},
        f"processes({workers})": {"executor": "processes", "workers": workers},
    }
    if client is not None:
        table[f"dask({workers})"] = {"executor": client}
    return table


# -- the harness ---------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used by other processes than this one and its children (Linux; else NaN).

    The machine's busy time comes from ``/proc/stat``; ours from ``os.times()``
    (this process and the children it has reaped, such as a shut-down process
    pool) plus, through psutil when it is there, the children still alive (the
    Dask workers).
    """

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        try:
            import psutil

            self.me = psutil.Process()
        except ImportError:
            self.me = None

    def _machine(self) -> float:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:8]]
        except OSError:
            return float("nan")
        user, nice, system, _idle, _iowait, irq, softirq = fields
        return (user + nice + system + irq + softirq) / self.tick

    def _ours(self) -> float:
        t = os.times()
        total = t.user + t.system + t.children_user + t.children_system
        if self.me is not None:
            for child in self.me.children(recursive=True):
                try:
                    cpu = child.cpu_times()
                except Exception:  # noqa: BLE001 - a child that just ended
                    continue
                total += cpu.user + cpu.system + cpu.children_user + cpu.children_system
        return total

    def snapshot(self) -> tuple[float, float]:
        """(machine busy s, our busy s) now."""
        return self._machine(), self._ours()

    def others(self, before: tuple[float, float]) -> float:
        """Busy seconds of other processes since ``before`` (never below 0)."""
        machine, ours = self.snapshot()
        return max(0.0, (machine - before[0]) - (ours - before[1]))


def timed_run(
    exp: hs.Experiment, kwargs: dict[str, Any], meter: CpuMeter
) -> tuple[float, float, pd.DataFrame]:
    """One ``Experiment.run`` after a full collection.

    Returns:
        (wall seconds, cores used by other processes meanwhile, ``result.runs``).
    """
    gc.collect()
    before = meter.snapshot()
    start = time.perf_counter()
    result = exp.run(progress=False, **kwargs)
    seconds = time.perf_counter() - start
    others = meter.others(before) / seconds
    if len(result.failures):
        raise RuntimeError(f"{len(result.failures)} runs failed:\n{result.failures}")
    return seconds, others, result.runs


def bench(
    exps: dict[str, hs.Experiment],
    runs_with: dict[str, dict[str, Any]],
    rounds: int,
    compute: bool = True,
) -> tuple[dict[str, dict[str, list[tuple[float, float]]]], dict[str, float]]:
    """Run every experiment with every executor ``rounds`` times, interleaved.

    Each round runs each experiment under every executor, in an order rotated
    from round to round, then measures its compute time (unless ``compute`` is
    false: the compute times are then NaN). Every result table is checked
    against the first one of its experiment.

    Returns:
        ({experiment: {executor: [(wall s, others' cores) per round]}},
        {experiment: median compute s}).
    """
    meter = CpuMeter()
    names = list(runs_with)
    walls: dict[str, dict[str, list[tuple[float, float]]]] = {
        e: {n: [] for n in names} for e in exps
    }
    computes: dict[str, list[float]] = {e: [] for e in exps}
    reference: dict[str, pd.DataFrame] = {}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for label, exp in exps.items():
            for name in order:
                seconds, others, runs = timed_run(exp, runs_with[name], meter)
                walls[label][name].append((seconds, others))
                if label in reference:
                    pd.testing.assert_frame_equal(runs, reference[label], check_exact=True)
                else:
                    reference[label] = runs
            computes[label].append(compute_seconds(exp) if compute else float("nan"))
    return walls, {label: statistics.median(c) for label, c in computes.items()}


def warm_up(runs_with: dict[str, dict[str, Any]], seed: int) -> dict[str, float]:
    """Run a few tiny runs through every executor (not in the tables); seconds per executor."""
    exp = tiny_experiment(WARMUP_RUNS, seed)
    meter = CpuMeter()
    return {name: timed_run(exp, kwargs, meter)[0] for name, kwargs in runs_with.items()}


def speedup(reps: int, horizon: float | str, seed: int, workers: int, rounds: int) -> dict:
    """Serial vs a pool of ``workers`` processes on the speed-up experiment (no Dask).

    A lean version of :func:`bench` for ``python -m bench``: one warm-up pass, then
    ``rounds`` rounds alternating the two executors; no compute-time pass. The result
    tables must be bit-identical.

    Returns:
        ``serial`` and ``parallel``: median wall seconds; ``speedup`` (serial / parallel);
        ``spread`` (the larger (max - min) / median of the two); ``others`` (most cores
        used by other processes in any run).
    """
    runs_with = executors(workers, None)
    warm_up(runs_with, seed)
    exp = speedup_experiment(reps, horizon, seed)
    walls, _ = bench({"speed-up": exp}, runs_with, rounds, compute=False)
    medians, spreads = {}, []
    for name, measured in walls["speed-up"].items():
        times = [s for s, _ in measured]
        medians[name] = statistics.median(times)
        spreads.append((max(times) - min(times)) / medians[name])
    serial, parallel = medians["serial"], medians[f"processes({workers})"]
    return {
        "serial": serial,
        "parallel": parallel,
        "speedup": serial / parallel,
        "spread": max(spreads),
        "others": max(o for m in walls["speed-up"].values() for _, o in m),
    }


def table(
    walls: dict[str, list[tuple[float, float]]], runs: int, compute: float, workers: int
) -> list[str]:
    """Rows per executor: runs, wall s, runs/s, spread, others, speed-up, overhead ms/run."""
    lines = [
        f"{'executor':<14} {'runs':>5} {'wall s':>7} {'runs/s':>8} {'spread':>6} {'others':>6} "
        f"{'speed-up':>8} {'overhead ms/run':>15}"
    ]
    serial = statistics.median(s for s, _ in walls["serial"])
    for name, measured in walls.items():
        times = [s for s, _ in measured]
        wall = statistics.median(times)
        spread = (max(times) - min(times)) / wall
        others = max(o for _, o in measured)
        share = compute if name == "serial" else compute / workers
        lines.append(
            f"{name:<14} {runs:>5} {wall:>7.3f} {runs / wall:>8.1f} {spread:>6.1%} "
            f"{others:>6.2f} {serial / wall:>8.2f} {(wall - share) / runs * 1e3:>15.2f}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    """Parse the flags, run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=40, help="replications of the speed-up run")
    parser.add_argument(
        "--horizon", default="1d", help="simulated time per speed-up run (seconds or '1d')"
    )
    parser.add_argument("--tiny-runs", type=int, default=200, help="runs of the overhead test")
    parser.add_argument("--workers", type=int, default=2, help="processes and Dask workers")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (median)")
    parser.add_argument("--seed", type=int, default=1, help="seed of replication 0")
    parser.add_argument("--no-dask", action="store_true", help="leave Dask out")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10 reps over 3 h, 50 tiny runs, 1 round (overrides those flags)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.horizon, args.tiny_runs, args.rounds = 10, "3h", 50, 1
    if min(args.reps, args.tiny_runs, args.workers, args.rounds) < 1:
        parser.error("--reps, --tiny-runs, --workers and --rounds must be >= 1")

    load_before = os.getloadavg()[0]
    dask = None if args.no_dask else start_dask(args.workers)
    try:
        runs_with = executors(args.workers, dask[1] if dask is not None else None)
        first = warm_up(runs_with, args.seed)
        exps = {
            "speed-up": speedup_experiment(args.reps, args.horizon, args.seed),
            "overhead": tiny_experiment(args.tiny_runs, args.seed),
        }
        walls, compute = bench(exps, runs_with, args.rounds)
    finally:
        if dask is not None:
            dask[1].close()
            dask[0].close()

    versions = (
        f"python {platform.python_version()}, hasim {hs.__version__}, pandas {pd.__version__}"
    )
    if dask is not None:
        import distributed

        versions += f", distributed {distributed.__version__}"
    speedup, tiny = compute["speed-up"], compute["overhead"]
    lines = [
        versions,
        f"{os.cpu_count()} cores; 1-min load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after (this benchmark adds up to {args.workers}); "
        f"rounds={args.rounds}, seed={args.seed}, workers={args.workers}",
        "medians; spread = (max - min) / median of wall s; others = cores used by other "
        "processes meanwhile (worst round); overhead = (wall - compute / workers) / runs",
        "",
        f"Speed-up: {args.reps} runs of {MODEL} (mttf {PARAMS['mttf'] / hs.hours:g} h, "
        f"open loop {RATE}/s, horizon {args.horizon}); compute {speedup:.2f} s "
        f"({speedup / args.reps * 1e3:.0f} ms/run)",
        *table(walls["speed-up"], args.reps, speedup, args.workers),
        "",
        f"Overhead: {args.tiny_runs} state-only runs of {MODEL} over "
        f"{TINY_HORIZON / hs.days:g} d; compute {tiny:.3f} s ({tiny / args.tiny_runs * 1e3:.2f} "
        "ms/run)",
        *table(walls["overhead"], args.tiny_runs, tiny, args.workers),
        "",
    ]
    if dask is not None:
        lines.append(
            f"Dask LocalCluster({args.workers} workers x 1 thread) + Client start-up: "
            f"{dask[2]:.2f} s"
        )
    for label, by_executor in walls.items():
        lines.append(f"{label} rounds, wall s (others' cores):")
        for name, measured in by_executor.items():
            rounds = " ".join(f"{s:.3f} ({o:.2f})" for s, o in measured)
            lines.append(f"  {name:<14} {rounds}")
    lines += [
        f"warm-up ({WARMUP_RUNS} tiny runs, first use): "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in first.items()),
        "result.runs identical across executors and rounds "
        "(assert_frame_equal, check_exact=True): yes",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
