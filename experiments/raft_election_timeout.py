"""Raft election timeouts: how long is a cluster without a leader after its leader crashes?

Question: Raft draws each election timeout uniformly from a range [T, T_max]. How does
the width of that range decide the time without a leader after a leader crash, and how
often do the votes split? Equal timeouts ([T, T]) should split votes for ever (followers
that heard the same last heartbeat time out together); a range a few percent wide should
end them in a few rounds, and one as wide as T mostly in one.

Method: the setup of ``tests/replication/test_raft.py``. Five nodes, heartbeats every
50 ms, 0.5 ms disk writes, one-way network latency exponential with the given mean (2 ms
by default). The nodes boot 10 ms apart, as real ones do. From t = 2 s, every 3 s, whoever
leads is crashed and comes back 1 s later. A *leaderless interval* runs from a leader's
crash until every up node follows one new leader (``RaftCluster.leaderless_intervals``);
one still open at the end of a run counts up to the end (a lower bound; "censored").
Replication r of every timeout range uses seed SEED + r. The table gives, per range, the
mean leaderless time (the mean of the per-run means, with its 95 % Student-t interval),
the pooled median and 99th percentile of all intervals, and the split-vote share (terms in
which some node campaigned and nobody won; ``RaftCluster.split_vote_share``), averaged
over runs.

    python experiments/raft_election_timeout.py              # quick: under 10 s on 2 cores
    python experiments/raft_election_timeout.py --replications 200 --horizon 120 \\
        --spreads 1,1.01,1.02,1.05,1.1,1.5,2,3 --latencies 1,2,10

Writes ``results/raft_election_timeout.csv`` (one row per run),
``raft_election_timeout_intervals.csv`` (one row per leaderless interval),
``raft_election_timeout_summary.csv`` (one row per range and latency),
``raft_election_timeout.json`` (the settings) and ``raft_election_timeout.png``.
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
from hasim.replication import RaftCluster

NODES = 5
HEARTBEAT = 0.05
DISK_WRITE = 0.0005
BOOT_GAP = 0.01  # node i comes up at i * 10 ms
FIRST_CRASH = 2.0
CRASH_EVERY = 3.0
DOWN = 1.0


def label(spread: float) -> str:
    """``"[T, 1.05T]"`` for a spread of 1.05."""
    return "[T, T]" if spread == 1 else f"[T, {spread:g}T]"


def run_one(task: dict) -> dict:
    """One run: a row of per-run measures, and its leaderless intervals under ``"intervals"``."""
    sim = hs.Simulation(seed=task["seed"])
    hs.Network(sim, latency=hs.Exponential(mean=task["latency"]))
    low = task["timeout"]
    cluster = RaftCluster(
        sim,
        "raft",
        nodes=NODES,
        election_timeout=(low, low * task["spread"]),
        heartbeat=HEARTBEAT,
        disk_write=DISK_WRITE,
    )
    for i, node in enumerate(cluster.nodes[1:], 1):
        node.fail("boot")
        sim.call_later(BOOT_GAP * i, lambda _, node=node: node.recover("boot"))

    def crash(_):
        leader = cluster.leader
        if leader is not None:
            leader.fail("chaos")
            sim.call_later(DOWN, lambda _: leader.recover("chaos"))
        sim.call_later(CRASH_EVERY, crash)

    sim.call_later(FIRST_CRASH, crash)
    horizon = task["horizon"]
    sim.run(until=horizon)

    gaps = cluster.leaderless_intervals()
    intervals = [
        {
            "crash": g["crash"],
            "duration": horizon - g["crash"] if g["end"] is None else g["duration"],
            "censored": g["end"] is None,
        }
        for g in gaps
    ]
    lasted = [i["duration"] for i in intervals]
    row = {key: task[key] for key in ("design", "spread", "latency", "timeout", "rep", "seed")}
    row.update(
        crashes=len(gaps),
        censored=sum(i["censored"] for i in intervals),
        leaderless_mean=float(np.mean(lasted)) if lasted else math.nan,
        leaderless_max=max(lasted, default=math.nan),
        leaderless_share=sum(lasted) / (horizon - FIRST_CRASH),
        elections=len(cluster.elections),
        terms=len({e["term"] for e in cluster.elections}),
        split_vote_share=cluster.split_vote_share(),
        intervals=intervals,
    )
    return row


def no_split_estimate(timeout: float, spread: float, latency: float) -> float:
    """First-order leaderless time when the first candidate wins at once.

    The survivors' timers were reset by the last heartbeat, on average half a heartbeat
    before the crash; the first of ``NODES - 1`` uniform timeouts on [T, spread T] runs out
    ``T + (spread - 1) T / NODES`` after it; winning and telling every follower takes about
    4 one-way latencies and 2 disk writes (term, then vote; the answers, then AppendEntries).
    """
    first = timeout + (spread - 1) * timeout / NODES
    return first - HEARTBEAT / 2 + 4 * latency + 2 * DISK_WRITE


def rank_quantile(x, q: float) -> float:
    """The value at rank ceil(q n) of ``x`` (NaN if empty)."""
    x = np.sort(np.asarray(x, dtype=float))
    return float(x[max(0, math.ceil(q * len(x)) - 1)]) if len(x) else math.nan


def summarise(runs: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """One row per (latency, range): mean leaderless time with its interval, quantiles, splits."""
    rows = []
    for (latency, spread), d in runs.groupby(["latency", "spread"], sort=True):
        iv = intervals[(intervals["latency"] == latency) & (intervals["spread"] == spread)]
        mean, half = mean_ci(d["leaderless_mean"])
        split, split_half = mean_ci(d["split_vote_share"])
        rows.append(
            {
                "design": d["design"].iloc[0],
                "spread": spread,
                "latency": latency,
                "timeout": d["timeout"].iloc[0],
                "reps": len(d),
                "intervals": len(iv),
                "censored": int(iv["censored"].sum()),
                "leaderless_mean": mean,
                "leaderless_mean_lo": mean - half,
                "leaderless_mean_hi": mean + half,
                "leaderless_p50": rank_quantile(iv["duration"], 0.5),
                "leaderless_p99": rank_quantile(iv["duration"], 0.99),
                "leaderless_max": float(iv["duration"].max()),
                "no_split_estimate": no_split_estimate(d["timeout"].iloc[0], spread, latency),
                "split_vote_share": split,
                "split_vote_share_lo": split - split_half,
                "split_vote_share_hi": split + split_half,
            }
        )
    return pd.DataFrame(rows)


def _numbers(text: str, name: str, parser: argparse.ArgumentParser) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values:
        parser.error(f"{name} must be comma-separated numbers, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--replications", type=int, default=20, help="runs per range and latency (default 20)"
    )
    parser.add_argument(
        "--horizon", type=float, default=30.0, help="simulated seconds per run (default 30)"
    )
    parser.add_argument(
        "--timeout", type=float, default=0.15, help="T, the low end of the range, s (0.15)"
    )
    parser.add_argument(
        "--spreads",
        default="1,1.02,1.05,1.5,2",
        help="high end of each range as a multiple of T, comma-separated (1,1.02,1.05,1.5,2)",
    )
    parser.add_argument(
        "--latencies",
        default="2",
        help="mean one-way network latencies in ms, comma-separated (default 2)",
    )
    parser.add_argument("--seed", type=int, default=1, help="replication r uses seed SEED + r")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    args = parser.parse_args(argv)
    spreads = _numbers(args.spreads, "--spreads", parser)
    latencies = [ms * 1e-3 for ms in _numbers(args.latencies, "--latencies", parser)]
    if min(spreads) < 1 or min(latencies) <= 0 or args.timeout <= 0:
        parser.error("--spreads must be >= 1, --latencies and --timeout > 0")
    if args.horizon <= FIRST_CRASH:
        parser.error(f"--horizon must exceed the first crash at {FIRST_CRASH:g} s")

    tasks = [
        {
            "design": label(spread),
            "spread": spread,
            "latency": latency,
            "timeout": args.timeout,
            "rep": r,
            "seed": args.seed + r,
            "horizon": args.horizon,
        }
        for r in range(args.replications)
        for latency in latencies
        for spread in spreads
    ]
    started = time.perf_counter()
    with runner_for("processes", args.workers) as runner:
        rows = list(runner.map(run_one, tasks))
    elapsed = time.perf_counter() - started
    rows.sort(key=lambda row: (row["latency"], row["spread"], row["rep"]))
    intervals = pd.DataFrame(
        [
            {k: row[k] for k in ("design", "spread", "latency", "rep", "seed")} | i
            for row in rows
            for i in row["intervals"]
        ]
    )
    runs = pd.DataFrame([{k: v for k, v in row.items() if k != "intervals"} for row in rows])
    summary = summarise(runs, intervals)

    args.out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.out / "raft_election_timeout.csv", index=False)
    intervals.to_csv(args.out / "raft_election_timeout_intervals.csv", index=False)
    summary.to_csv(args.out / "raft_election_timeout_summary.csv", index=False)
    settings = {
        "replications": args.replications,
        "horizon": args.horizon,
        "seed": args.seed,
        "seeds": [args.seed + r for r in range(args.replications)],
        "timeout_low": args.timeout,
        "spreads": spreads,
        "ranges": {label(s): [args.timeout, args.timeout * s] for s in spreads},
        "latency_means": latencies,
        "cluster": {"nodes": NODES, "heartbeat": HEARTBEAT, "disk_write": DISK_WRITE},
        "boot_gap": BOOT_GAP,
        "crashes": {"first": FIRST_CRASH, "every": CRASH_EVERY, "down": DOWN},
        "elapsed_seconds": round(elapsed, 2),
    }
    (args.out / "raft_election_timeout.json").write_text(json.dumps(settings, indent=2))

    print(
        f"{len(runs)} runs ({args.replications} per range and latency, {args.horizon:g} s each, "
        "leader "
        f"crashed every {CRASH_EVERY:g} s, T = {args.timeout * 1e3:g} ms) in {elapsed:.1f} s\n"
        "leaderless time after a leader crash: mean of per-run means [95 % interval], pooled "
        "p50 and p99;\n'>=' marks a lower bound (intervals still open at the end of a run); "
        "no-split est.: the\nfirst-order mean if the first candidate always won "
        "(no_split_estimate)\n"
    )
    for latency, s in summary.groupby("latency", sort=True):
        print(f"one-way latency {latency * 1e3:g} ms (mean, exponential)")
        print(
            f"  {'range':<12} {'crashes':>7} {'open':>5} {'mean leaderless (s)':>28} "
            f"{'p50 (s)':>9} {'p99 (s)':>9} {'split votes':>20} {'no-split est.':>13}"
        )
        for _, r in s.iterrows():
            bound = ">=" if r["censored"] else "  "
            lo, hi = r["leaderless_mean_lo"], r["leaderless_mean_hi"]
            mean = f"{bound}{r['leaderless_mean']:.3f} [{lo:.3f}, {hi:.3f}]"
            split = (
                f"{r['split_vote_share']:.1%} [{max(0, r['split_vote_share_lo']):.1%}, "
                f"{min(1, r['split_vote_share_hi']):.1%}]"
            )
            print(
                f"  {r['design']:<12} {r['intervals']:>7} {r['censored']:>5} {mean:>28} "
                f"{bound}{r['leaderless_p50']:>7.3f} {bound}{r['leaderless_p99']:>7.3f} "
                f"{split:>20} {r['no_split_estimate']:>13.3f}"
            )
        print()

    plot(
        summary,
        intervals,
        args.out / "raft_election_timeout.png",
        timeout=args.timeout,
        horizon=args.horizon,
        title=(
            f"Raft, {NODES} nodes, one-way latency "
            f"{', '.join(f'{v * 1e3:g}' for v in latencies)} ms (mean): leader crashed every "
            f"{CRASH_EVERY:g} s; T = {args.timeout * 1e3:g} ms; {args.replications} runs x "
            f"{args.horizon:g} s per range"
        ),
    )
    print(
        f"wrote {args.out / 'raft_election_timeout.csv'}, "
        f"{args.out / 'raft_election_timeout_intervals.csv'}, "
        f"{args.out / 'raft_election_timeout_summary.csv'}, "
        f"{args.out / 'raft_election_timeout.json'}, {args.out / 'raft_election_timeout.png'}"
    )
    return runs


def plot(
    summary: pd.DataFrame,
    intervals: pd.DataFrame,
    path: Path,
    timeout: float,
    horizon: float,
    title: str,
) -> None:
    """The empirical CDF of leaderless intervals per range, and their mean and p99."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    seconds = FuncFormatter(lambda v, _: f"{v:g}")
    latencies = sorted(summary["latency"].unique())
    spreads = sorted(summary["spread"].unique())
    palette = plt.get_cmap("tab10").colors
    colours = {s: palette[k % len(palette)] for k, s in enumerate(spreads)}
    styles = ["-", "--", ":", "-."]
    rows = len(spreads) * len(latencies)
    fig, (ax_c, ax_m) = plt.subplots(
        1,
        2,
        figsize=(14, max(5.2, 2.2 + 0.3 * rows)),
        layout="constrained",
        gridspec_kw={"width_ratios": [3, 2]},
    )
    for j, latency in enumerate(latencies):
        for spread in spreads:
            iv = intervals[(intervals["latency"] == latency) & (intervals["spread"] == spread)]
            x = np.sort(iv["duration"].to_numpy())
            if not len(x):
                continue
            y = np.arange(1, len(x) + 1) / len(x)
            ax_c.step(x, y, where="post", color=colours[spread], ls=styles[j % len(styles)], lw=1.8)
            # An interval still open at the end of its run: its length is a lower bound.
            open_ = np.sort(iv["duration"].to_numpy()[iv["censored"].to_numpy()])
            if len(open_):
                ranks = np.searchsorted(x, open_, side="right") / len(x)
                ax_c.scatter(open_, ranks, marker="x", s=22, color="#222222", zorder=3)
    # The legend: a colour per range, a line style per latency.
    handles = [plt.Line2D([], [], color=colours[v], lw=1.8, label=label(v)) for v in spreads]
    if len(latencies) > 1:
        handles += [
            plt.Line2D([], [], color="#555555", ls=styles[j % len(styles)], label=f"{v * 1e3:g} ms")
            for j, v in enumerate(latencies)
        ]
    if intervals["censored"].any():
        handles.append(
            plt.Line2D([], [], marker="x", ls="", color="#222222", label="still open at run end")
        )
    ax_c.axvline(timeout, color="#999999", lw=1, ls=":")
    ax_c.text(timeout, 0.02, f" T = {timeout * 1e3:g} ms", color="#555555", fontsize=8)
    ax_c.set_xscale("log")
    ax_c.xaxis.set_major_formatter(seconds)
    ax_c.set_xlabel("leaderless time after a leader crash (s, log scale)")
    ax_c.set_ylabel("share of leader crashes (empirical CDF)")
    ax_c.set_ylim(0, 1.02)
    ax_c.set_title("Distribution of leaderless intervals")
    ranges = ax_c.legend(
        handles=handles,
        title="election timeout range" + (", latency" if len(latencies) > 1 else ""),
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.005, 1.0),
    )
    ax_c.grid(alpha=0.3, which="both")

    # Right: mean (with its 95 % interval) and p99 per range, on the same log time axis.
    names, ypos, splits = [], [], []
    step = 1.0 / (len(latencies) + 1)
    for j, latency in enumerate(latencies):
        s = summary[summary["latency"] == latency].sort_values("spread")
        y = np.arange(len(s)) + j * step
        mean = s["leaderless_mean"].to_numpy()
        lo = np.clip(s["leaderless_mean_lo"].to_numpy(), 1e-3, None)
        hi = s["leaderless_mean_hi"].to_numpy()
        err = np.nan_to_num(np.array([mean - lo, hi - mean]), nan=0.0, posinf=0.0)
        tag = f" ({latency * 1e3:g} ms)" if len(latencies) > 1 else ""
        ax_m.errorbar(
            mean,
            y,
            xerr=np.clip(err, 0, None),
            fmt="o",
            color="#333333",
            capsize=3,
            label=f"mean, 95 % CI{tag}" if j == 0 or tag else None,
            alpha=1 - 0.3 * j,
        )
        ax_m.scatter(
            s["no_split_estimate"],
            y,
            marker="|",
            s=160,
            color="#2a7ab0",
            zorder=3,
            label="estimate if the first candidate wins" if j == 0 else None,
        )
        ax_m.scatter(
            s["leaderless_p99"],
            y,
            marker="D",
            color="#c0504d",
            zorder=3,
            label="p99 (pooled)" if j == 0 else None,
        )
        for k, (_, r) in enumerate(s.iterrows()):
            splits.append((y[k], (f"{latency * 1e3:g} ms: " if tag else "") + _splits(r)))
        if j == 0:
            names = [label(v) for v in s["spread"]]
            ypos = list(np.arange(len(s)) + step * (len(latencies) - 1) / 2)
    ax_m.set_yticks(ypos, names)
    ax_m.invert_yaxis()
    ax_m.set_xscale("log")
    ax_m.xaxis.set_major_formatter(seconds)
    # The split-vote share of each row, as labels on the right-hand axis.
    ax_s = ax_m.twinx()
    ax_s.set_ylim(ax_m.get_ylim())
    ax_s.set_yticks([v for v, _ in splits], [t for _, t in splits], fontsize=7.5)
    ax_s.set_ylabel("split votes: share of terms without a winner")
    ax_m.set_xlabel("leaderless time (s, log scale)")
    ax_m.set_title("Mean and p99 (>=: some intervals still open at run end)")
    # The markers' legend sits under the ranges', between the panels, off the data.
    ax_c.add_artist(ranges)
    marks, names = ax_m.get_legend_handles_labels()
    ax_c.legend(
        marks,
        names,
        title="right panel",
        fontsize=8,
        loc="lower left",
        bbox_to_anchor=(1.005, 0.0),
    )
    ax_m.grid(alpha=0.3, which="both", axis="x")
    fig.suptitle(title, fontsize=10.5)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _splits(row) -> str:
    """``"35% [31%, 40%]"``, and how many intervals were still open (a lower bound)."""
    lo, hi = max(0.0, row["split_vote_share_lo"]), min(1.0, row["split_vote_share_hi"])
    text = f"{row['split_vote_share']:.0%} [{lo:.0%}, {hi:.0%}]"
    return text + (f"; {row['censored']} open (>=)" if row["censored"] else "")


if __name__ == "__main__":
    main()
