"""Synchronous, semi-synchronous or asynchronous replication: lost writes against write latency.

Question: a three-replica primary-backup store loses its primary every few seconds.
How many *acknowledged* writes does each replication mode lose per failover (and how
far back in time, the RPO), and what does each cost in write latency? For asynchronous
replication, how does the loss grow with the replication lag (the batching delay)?

Method: the setup of ``tests/replication/test_primary_backup.py``. Three replicas behind
a manager with a heartbeat failure detector (heartbeats every 100 ms, suspicion after
300 ms, promotion 200 ms later, fencing on), 1 ms of service per operation, network hops
exponential with mean 1 ms. A key-value client sends 200 operations/s (half writes) over
50 keys. A chaos process crashes whichever replica is primary after an exponential time
(mean 3 s) and restarts it 1 s later. The crash times come from the simulation's stream
``("chaos", "primary crashes")`` and the network from its own streams, so replication r
of every mode uses seed SEED + r and meets the same crashes (common random numbers): the
differences between modes are paired. Modes: ``sync`` (every live backup, at least one,
applies a write before it is acknowledged), ``semi-sync`` (one backup applies it) and
``async`` (acknowledged at once, shipped in batches ``lag`` apart), one design per lag.

Lost writes are the acknowledged writes missing from the final primary's data or
overwritten by a reused version (``PrimaryBackup.data_loss(history)``: re-seeding
snapshots carry their log, so writes lost at every failover are seen). The RPO of a
failover is the time from the newest entry the promoted replica held to the
acknowledgement of the newest write it lost (0 if none), as ``DataLoss.rpo`` defines
it. Write latency is client-side, issue to acknowledgement, of the writes acknowledged
``ok``; p50 and p99 are per run and averaged over runs. Intervals are 95 % Student-t
intervals over replications.

    python experiments/sync_vs_async.py                  # quick: 15 s of CPU, ~10-35 s on 2 cores
    python experiments/sync_vs_async.py --replications 40 --horizon 300 \\
        --lags 0.01,0.02,0.05,0.1,0.2,0.5,1
    python experiments/sync_vs_async.py --with-backup 0.5 --far-backup 20

The last one is where semi-sync differs from sync: db2 sits 20 ms from the other two
replicas, and half the crashes take the most up-to-date backup with the primary (a common
cause), so a semi-sync write acknowledged by the near backup alone can be lost; sync
waits for every live backup and loses nothing, but writes stall while no backup is up.

Writes ``results/sync_vs_async.csv`` (one row per run), ``sync_vs_async_summary.csv``
(one row per mode), ``sync_vs_async.json`` (the settings) and ``sync_vs_async.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

import hasim as hs
from hasim.experiment.executors import runner_for
from hasim.experiment.stats import mean_ci

#: The group of the replication tests: 3 replicas, 100 ms heartbeats, 300 ms timeout.
GROUP = {
    "replicas": 3,
    "heartbeat": 0.1,
    "timeout": 0.3,
    "promotion_delay": 0.2,
    "fencing": True,
}
SERVICE_MEAN = 1 * hs.ms
HOP_MEAN = 1 * hs.ms
READ_SHARE = 0.5
KEYS = 50
#: Per-run columns summarised with a mean and its 95 % interval.
METRICS = (
    "lost_per_failover",
    "lost",
    "rpo_mean",
    "rpo_max",
    "latency_p50",
    "latency_p99",
    "write_availability",
    "failovers",
)


def designs(lags: list[float]) -> dict[str, tuple[str, float]]:
    """``{label: (mode, lag)}``: sync, semi-sync and one async design per lag."""
    out = {"sync": ("sync", 0.0), "semi-sync": ("semi-sync", 0.0)}
    for lag in lags:
        out[f"async {lag * 1e3:g} ms"] = ("async", lag)
    return out


def crash_primaries(
    sim: hs.Simulation, group: hs.PrimaryBackup, every: float, down: float, with_backup: float
):
    """Crash the replica the manager takes for primary every ~``every`` s, for ``down`` s.

    With probability ``with_backup`` the crash also takes the most up-to-date live backup
    (a common cause: the same rack or zone), the one a semi-sync primary's writes wait for.
    The times and coin flips come from the simulation's stream ``("chaos", "primary
    crashes")``, drawn alike whatever the mode, so every mode run with one seed meets the
    same crash times.
    """
    rng = sim.rng("chaos", "primary crashes")

    def crash(_):
        victims = [group.primary]
        backups = [r for r in group.replicas if r is not victims[0] and r.up]
        if rng.random() < with_backup and backups:
            victims.append(max(backups, key=lambda r: r.position))  # first of equals
        for victim in victims:
            victim.fail("chaos")
            sim.call_later(down, lambda _, victim=victim: victim.recover("chaos"))
        sim.call_later(down + rng.exponential(every), crash)

    sim.call_later(rng.exponential(every), crash)


def make_task(
    design: str,
    mode: str,
    lag: float,
    rep: int,
    seed: int,
    *,
    horizon: float = 60.0,
    rate: float = 200.0,
    every: float = 3.0,
    down: float = 1.0,
    with_backup: float = 0.0,
    far: float = 0.0,
) -> dict:
    """The settings of one run (``far``: seconds, 0 for none), as ``run_one`` takes them."""
    return {
        "design": design,
        "mode": mode,
        "lag": lag,
        "rep": rep,
        "seed": seed,
        "horizon": horizon,
        "rate": rate,
        "every": every,
        "down": down,
        "with_backup": with_backup,
        "far": far,
    }


def run_one(task: dict) -> dict:
    """One replication of one design: a dict of per-run measures (a row of the runs CSV)."""
    sim = hs.Simulation(seed=task["seed"])
    net = hs.Network(sim, latency=hs.Exponential(mean=HOP_MEAN))
    group = hs.PrimaryBackup(
        sim,
        "db",
        mode=task["mode"],
        replication_lag=task["lag"],
        service_time=hs.Exponential(mean=SERVICE_MEAN),
        **GROUP,
    )
    if task["far"]:  # db2 in another zone: far from the other replicas (not the manager)
        for name in ("db0", "db1"):
            net.set_latency(name, "db2", hs.Exponential(mean=task["far"]))
    kv = hs.KVWorkload(
        sim, "kv", target=group, rate=task["rate"], read_share=READ_SHARE, keys=KEYS, timeout=1.0
    )
    crash_primaries(sim, group, task["every"], task["down"], task["with_backup"])
    sim.run(until=task["horizon"])
    loss = group.data_loss(kv.history)
    rpo = list(loss.rpo)

    writes = [op for op in kv.history.operations if op.kind == "write"]
    acked = np.array([op.completed - op.invoked for op in writes if op.ok])
    answered = sum(op.outcome is not None for op in writes)  # ended: ok, failed or timed out
    failovers = loss.failovers
    return {
        "design": task["design"],
        "mode": task["mode"],
        "lag": task["lag"],
        "rep": task["rep"],
        "seed": task["seed"],
        "writes": len(writes),
        "acknowledged": len(acked),
        "write_availability": len(acked) / answered if answered else math.nan,
        "failovers": failovers,
        "lost": loss.lost,
        "lost_per_failover": loss.lost / failovers if failovers else math.nan,
        "rpo_mean": float(np.mean(rpo)) if rpo else math.nan,
        "rpo_max": max(rpo, default=math.nan),
        "latency_mean": float(acked.mean()) if len(acked) else math.nan,
        "latency_p50": _rank_quantile(acked, 0.50),
        "latency_p99": _rank_quantile(acked, 0.99),
        "split_brain_writes": group.split_brain_writes,
    }


def _rank_quantile(x: np.ndarray, q: float) -> float:
    """The value at rank ceil(q n), as the README's latency percentiles."""
    if not len(x):
        return math.nan
    return float(np.sort(x)[max(0, math.ceil(q * len(x)) - 1)])


def summarise(runs: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """One row per design: every metric's mean and 95 % interval, and paired loss vs sync."""
    rows = []
    sync = runs[runs["design"] == "sync"].set_index("rep")["lost_per_failover"]
    for design in order:
        d = runs[runs["design"] == design]
        row = {"design": design, "mode": d["mode"].iloc[0], "lag": d["lag"].iloc[0]}
        row["reps"] = len(d)
        for m in METRICS:
            mean, half = mean_ci(d[m])
            row.update({m: mean, f"{m}_lo": mean - half, f"{m}_hi": mean + half})
        diff = d.set_index("rep")["lost_per_failover"] - sync
        mean, half = mean_ci(diff)
        row.update(
            {
                "lost_vs_sync": mean,
                "lost_vs_sync_lo": mean - half,
                "lost_vs_sync_hi": mean + half,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=10, help="runs per design (default 10)")
    parser.add_argument(
        "--horizon", type=float, default=60.0, help="simulated seconds per run (default 60)"
    )
    parser.add_argument(
        "--lags",
        default="0.05,0.2,0.5",
        help="async replication lags in seconds, comma-separated (default 0.05,0.2,0.5)",
    )
    parser.add_argument(
        "--rate", type=float, default=200.0, help="operations per second, half writes (200)"
    )
    parser.add_argument(
        "--every", type=float, default=3.0, help="mean seconds between primary crashes (3)"
    )
    parser.add_argument("--down", type=float, default=1.0, help="seconds a crash lasts (1)")
    parser.add_argument(
        "--far-backup",
        type=float,
        default=0.0,
        help="mean one-way latency in ms between db2 and the other replicas (default: 1, as all)",
    )
    parser.add_argument(
        "--with-backup",
        type=float,
        default=0.0,
        help="probability that a crash also takes the most up-to-date backup (default 0)",
    )
    parser.add_argument("--seed", type=int, default=1, help="replication r uses seed SEED + r")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    args = parser.parse_args(argv)
    lags = [float(x) for x in args.lags.split(",") if x.strip()]
    if not lags or min(lags) <= 0:
        parser.error(f"--lags must be numbers > 0, got {args.lags!r}")
    plan = designs(lags)

    tasks = [
        make_task(
            name,
            mode,
            lag,
            r,
            args.seed + r,
            horizon=args.horizon,
            rate=args.rate,
            every=args.every,
            down=args.down,
            with_backup=args.with_backup,
            far=args.far_backup * 1e-3,
        )
        for r in range(args.replications)
        for name, (mode, lag) in plan.items()
    ]
    started = time.perf_counter()
    with runner_for("processes", args.workers) as runner:
        rows = list(runner.map(run_one, tasks))
    elapsed = time.perf_counter() - started
    order = list(plan)
    runs = pd.DataFrame(rows)
    runs["design"] = pd.Categorical(runs["design"], categories=order, ordered=True)
    runs = runs.sort_values(["design", "rep"]).reset_index(drop=True)
    runs["design"] = runs["design"].astype(str)
    summary = summarise(runs, order)

    args.out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.out / "sync_vs_async.csv", index=False)
    summary.to_csv(args.out / "sync_vs_async_summary.csv", index=False)
    settings = {
        "replications": args.replications,
        "horizon": args.horizon,
        "seed": args.seed,
        "seeds": [args.seed + r for r in range(args.replications)],
        "designs": {name: {"mode": m, "replication_lag": lag} for name, (m, lag) in plan.items()},
        "group": {**GROUP, "service_time_mean": SERVICE_MEAN, "semi_sync_acks": 1},
        "network_hop_mean": HOP_MEAN,
        "far_replica_hop_mean": args.far_backup * 1e-3 or None,
        "workload": {"rate": args.rate, "read_share": READ_SHARE, "keys": KEYS, "timeout": 1.0},
        "crashes": {
            "primary_every_mean": args.every,
            "down": args.down,
            "with_most_up_to_date_backup": args.with_backup,
        },
        "elapsed_seconds": round(elapsed, 2),
    }
    (args.out / "sync_vs_async.json").write_text(json.dumps(settings, indent=2))

    write_rate = args.rate * (1 - READ_SHARE)
    crashes = f"primary crashed every ~{args.every:g} s"
    if args.with_backup:
        crashes += f", with its most up-to-date backup {args.with_backup:.0%} of the time"
    if args.far_backup:
        crashes += f"; db2 {args.far_backup:g} ms from the others"
    print(
        f"{len(runs)} runs ({args.replications} per design, {args.horizon:g} s each, "
        f"{write_rate:g} writes/s, {crashes}) in {elapsed:.1f} s; "
        "mean and 95 % interval over runs\n"
    )
    print(
        f"{'design':<14} {'failovers':>9} {'lost writes / failover':>26} {'RPO mean (ms)':>22} "
        f"{'write p50 (ms)':>15} {'write p99 (ms)':>22} {'writes ok':>9}"
    )
    for _, r in summary.iterrows():
        print(
            f"{r['design']:<14} {r['failovers']:>9.1f} {_ci(r, 'lost_per_failover', 1, 2):>26} "
            f"{_ci(r, 'rpo_mean', 1e3, 1):>22} {r['latency_p50'] * 1e3:>15.2f} "
            f"{_ci(r, 'latency_p99', 1e3, 2):>22} {r['write_availability']:>9.2%}"
        )
    print("\nLost writes per failover, paired with sync on the same crashes (same seeds):")
    for _, r in summary.iloc[1:].iterrows():
        print(f"  {r['design']:<14} {_ci(r, 'lost_vs_sync', 1, 2, sign=True)}")

    plot(
        summary,
        args.out / "sync_vs_async.png",
        write_rate=write_rate,
        estimate=not (args.with_backup or args.far_backup),
        title=(
            f"Primary-backup, 3 replicas, {write_rate:g} writes/s, {args.replications} runs x "
            f"{args.horizon:g} s per mode, 95 % intervals\n{crashes}"
        ),
    )
    print(
        f"\nwrote {args.out / 'sync_vs_async.csv'}, {args.out / 'sync_vs_async_summary.csv'}, "
        f"{args.out / 'sync_vs_async.json'}, {args.out / 'sync_vs_async.png'}"
    )
    return runs


def _ci(row, metric: str, scale: float, digits: int, sign: bool = False) -> str:
    """``mean [lo, hi]`` of ``metric`` in a summary row, times ``scale``."""
    fmt = f"{'+' if sign else ''}.{digits}f"
    mean, lo, hi = (row[f"{metric}{s}"] * scale for s in ("", "_lo", "_hi"))
    if not math.isfinite(lo):
        return f"{mean:{fmt}} [n/a]"
    return f"{mean:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def plot(
    summary: pd.DataFrame, path: Path, write_rate: float, title: str, estimate: bool = True
) -> None:
    """Loss per failover against write p99 per mode, and async loss against the lag.

    ``estimate`` draws the first-order estimate of async loss (primary crashes only).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    fig, (ax_t, ax_l) = plt.subplots(1, 2, figsize=(12.5, 4.8), layout="constrained")
    colours = {"sync": "#1f6f3f", "semi-sync": "#4f81bd"}
    reds = plt.get_cmap("Reds")
    asyncs = summary[summary["mode"] == "async"]
    for k, (_, r) in enumerate(asyncs.iterrows()):
        colours[r["design"]] = reds(0.45 + 0.5 * k / max(1, len(asyncs) - 1))

    # Sync and semi-sync often both lose nothing: draw them a little apart (dodged).
    loss = summary.set_index("design")["lost_per_failover"]
    span = max(1.0, summary["lost_per_failover_hi"].max())
    dodge = 0.0
    if {"sync", "semi-sync"} <= set(loss.index):
        dodge = 0.015 * span if abs(loss["sync"] - loss["semi-sync"]) < 0.03 * span else 0.0
    for _, r in summary.iterrows():
        x, y = r["latency_p99"] * 1e3, r["lost_per_failover"]
        y += {"sync": -dodge, "semi-sync": dodge}.get(r["design"], 0.0)
        colour = colours[r["design"]]
        xerr = _errors(x - r["latency_p99_lo"] * 1e3, r["latency_p99_hi"] * 1e3 - x)
        yerr = _errors(
            r["lost_per_failover"] - r["lost_per_failover_lo"],
            r["lost_per_failover_hi"] - r["lost_per_failover"],
        )
        median = r["latency_p50"] * 1e3
        ax_t.plot([median, x], [y, y], color=colour, lw=0.8, alpha=0.6)
        ax_t.plot(median, y, "o", ms=6, mfc="white", color=colour)
        ax_t.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", ms=7, capsize=3, color=colour)
        ax_t.annotate(r["design"], (x, y), xytext=(6, 4), textcoords="offset points", fontsize=8)
    ax_t.plot([], [], "o", mfc="white", color="#555555", label="p50")
    ax_t.errorbar([], [], xerr=[], yerr=[], fmt="o", color="#555555", label="p99 (95 % CI)")
    ax_t.legend(fontsize=8, loc="center right", title="write latency")
    ax_t.margins(x=0.1)  # room for the labels right of the points
    if summary["latency_p99"].max() > 5 * summary["latency_p50"].min():
        ax_t.set_xscale("log")
        ax_t.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax_t.set_xlabel("write latency of acknowledged writes (ms): p50 (open) to p99 (filled)")
    ax_t.set_ylabel("acknowledged writes lost per failover")
    note = "; sync and semi-sync drawn a little apart" if dodge else ""
    ax_t.set_title(
        f"Each mode: writes lost per failover against write latency\n(lower left is better{note})",
        fontsize=10.5,
    )
    ax_t.set_ylim(bottom=-0.05 * span)
    ax_t.grid(alpha=0.3)

    # First-order estimate. A backup's pipe ships a batch a lag after there is something to
    # send, and the next once the batch is acknowledged: a cycle of about lag + one write
    # interval + a round trip. A crash at a random time finds a backup behind by a uniform
    # share of its cycle, so the promoted backup (the better of two) is behind by
    # E[min(U, (U + f) mod 1)] = ((1 - f)^2 + f^2) / 2 of a cycle, f being the phase between
    # the two pipes: 1/2 in phase, 1/3 at random, 1/4 half a cycle apart (a pipe restarts
    # when its backup is re-seeded, so f follows the crash timing); up to 1/2 again when
    # stale heartbeat positions promote the worse backup.
    lag = asyncs["lag"].to_numpy()
    lag_ms = lag * 1e3
    grid = np.geomspace(lag.min() * 0.8, lag.max() * 1.25, 60)
    cycle = grid + 1 / write_rate + 4 * HOP_MEAN
    if estimate:
        ax_l.fill_between(
            grid * 1e3,
            write_rate * cycle / 4,
            write_rate * cycle / 2,
            color="#999999",
            alpha=0.3,
            lw=0,
            label="estimate: writes/s x cycle x 1/4 to 1/2 (how far behind the\n"
            "promoted backup is); cycle = lag + write interval + round trip",
        )
    y = asyncs["lost_per_failover"].to_numpy()
    yerr = _errors(y - asyncs["lost_per_failover_lo"], asyncs["lost_per_failover_hi"] - y)
    ax_l.errorbar(
        lag_ms, y, yerr=yerr, fmt="o-", capsize=3, color="#c0504d", label="lost writes (left)"
    )
    ax_r = ax_l.twinx()
    rpo = asyncs["rpo_mean"].to_numpy() * 1e3
    rerr = _errors(rpo - asyncs["rpo_mean_lo"] * 1e3, asyncs["rpo_mean_hi"] * 1e3 - rpo)
    ax_r.errorbar(
        lag_ms * 1.04,
        rpo,
        yerr=rerr,
        fmt="s:",
        capsize=3,
        color="#555555",
        mfc="white",
        label="RPO, mean per failover (right)",
    )
    top = 1.1 * max(
        np.nanmax(asyncs["lost_per_failover_hi"]),
        np.nanmax(asyncs["rpo_mean_hi"]) * write_rate,
        write_rate * cycle[-1] / 2 if estimate else 0.0,
    )
    ax_l.set_ylim(0, top)
    # The right axis is the left one in time (one write = 1 / write rate seconds), so the
    # estimate's band reads for both.
    ax_r.set_ylim(0, top / write_rate * 1e3)
    ax_r.set_ylabel(f"mean RPO per failover (ms; 1 write = {1e3 / write_rate:g} ms)")
    ax_l.set_xscale("log")
    ax_l.xaxis.set_major_locator(FixedLocator(lag_ms))
    ax_l.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax_l.xaxis.set_minor_locator(NullLocator())
    ax_l.set_xlabel("async replication lag (ms, log scale)")
    ax_l.set_ylabel("acknowledged writes lost per failover")
    ax_l.set_title("Async: loss and RPO grow with the replication lag")
    lines = ax_l.get_legend_handles_labels()
    more = ax_r.get_legend_handles_labels()
    ax_l.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    ax_l.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10.5)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _errors(lower, upper):
    """Error bar lengths; an interval that does not exist (too few runs) draws none."""
    out = np.nan_to_num(np.array([lower, upper], dtype=float), nan=0.0, posinf=0.0)
    return np.clip(out.reshape(2, -1), 0.0, None)


if __name__ == "__main__":
    main()
