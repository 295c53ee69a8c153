"""Availability and cost against the number of replicas behind a balancer.

Question: how many servers should a cluster run? Each one costs the same; how
many nines does each one buy, and where does one more stop paying?

Method: ``lb_cluster`` with ``servers`` = 1..6 and ``needed = 1`` (one server
carries the whole load, as at light load: the cluster is up while the balancer
and at least one server are up; with ``needed`` fixed at 1 the structure is
1-of-n). To see failures within short runs every server fails after an
exponential time of mean ``--mttf-hours`` (6 h) and is repaired in a lognormal
time of median ``--mttr-minutes`` (20 min, mean 24 min), so one server is down
6.2 % of the time. The balancer does not fail here (``lb_mttf`` = 1e12 s): its
own availability would cap every n the same way (the model's default balancer,
MTTF 90 days, is up 0.99982: printed as a line, not simulated). Open-loop
traffic at ``--rate`` requests/s. Replication r uses seed ``SEED + r`` at every
n; server ``webI`` draws the same failure times whatever n is (streams named
after the component), so n + 1 servers see the failures of n servers plus
those of one more (common random numbers): the curve's steps are measured
paired.

Theory: servers fail and are repaired independently (a crew each), so the
uptime is the k-of-n binomial tail ``hasim.analytic.k_of_n(1, n, a) = 1 - (1 -
a)^n`` with ``a = MTTF / (MTTF + MTTR)``: every replica multiplies the downtime
by ``1 - a``, a constant ``-log10(1 - a)`` = 1.2 nines more per replica. Request
availability also loses the requests sent to a crashed server before the
health check ejects it: ``(N - 1/2) I / (MTTF + MTTR)`` of all requests for any
n >= 2 (``hasim.analytic.detection_unavailability``; see
``health_check_interval.py``). That term does not shrink with n, so request
availability has a knee: the printed knee is the smallest n after which one
more replica buys less than ``--min-gain`` nines (0.5) by that theory.
Cost: ``servers x --price`` per server-hour (0.10), shown per 30-day month.

    python experiments/replica_count.py            # quick: 36 s of CPU, ~20 s on 2 idle cores
    python experiments/replica_count.py --replications 20 --days 10  # ~10 min

Writes ``results/replica_count.csv`` (one row per run), ``_summary.csv`` (per
n: mean, 95 % interval, theory, cost), ``.json`` (settings) and ``.png``
(uptime and request availability in nines with theory; cost per month).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import hasim as hs
from hasim.analytic import availability, detection_unavailability, k_of_n
from hasim.experiment.scripts import study_parser
from hasim.models import lb_cluster

DESIGN = "lb_cluster"
SERVERS = [1, 2, 3, 4, 5, 6]
MEAN_OVER_MEDIAN = hs.LogNormal(median=1.0, sigma=lb_cluster.PARAMS["repair_sigma"]).mean
METRICS = ("availability", "uptime", "incidents", "mttr", "throughput")
HOURS_PER_MONTH = 30 * 24


def theory(n: int, mttf: float, mttr: float) -> tuple[float, float]:
    """(uptime, request availability) of 1-of-n servers behind a balancer that never fails."""
    repair = mttr * MEAN_OVER_MEDIAN
    a = availability(mttf, repair)
    uptime = k_of_n(1, n, a)
    p = lb_cluster.PARAMS
    detect = detection_unavailability(mttf, repair, p["check_interval"], p["unhealthy_after"])
    # With one server, a crash loses everything until the repair anyway (counted in 1 - a).
    return uptime, uptime - (detect if n >= 2 else 0.0)


def knee(nines: list[float], min_gain: float) -> int | None:
    """Index of the first n after which one more replica gains less than ``min_gain`` nines."""
    for i in range(len(nines) - 1):
        if nines[i + 1] - nines[i] < min_gain:
            return i
    return None


def main(argv: list[str] | None = None) -> hs.ExperimentResult:
    parser = study_parser(
        __doc__, replications=6, days=2.0, rate=0.5, mttf_hours=6.0, mttr_minutes=20.0
    )
    parser.add_argument("--servers", type=int, nargs="+", default=SERVERS, help="values of n")
    parser.add_argument("--price", type=float, default=0.10, help="$ per server-hour (0.10)")
    parser.add_argument(
        "--min-gain", type=float, default=0.5, help="nines a replica must buy (0.5)"
    )
    args = parser.parse_args(argv)
    mttf, mttr = args.mttf_hours * hs.hours, args.mttr_minutes * hs.minutes

    experiment = hs.Experiment(
        {DESIGN: "lb_cluster"},
        params={"needed": 1, "mttf": mttf, "mttr": mttr, "lb_mttf": 1e12},
        grid={"servers": args.servers},
        workload={"rate": args.rate, "timeout": 2.0},
        horizon=args.days * hs.days,
        warmup=10 * hs.minutes,
        reps=args.replications,
        seed=args.seed,
    )
    started = time.perf_counter()
    result = experiment.run(workers=args.workers)
    elapsed = time.perf_counter() - started
    summary = result.summary(metrics=METRICS).sort_values("servers").reset_index(drop=True)
    both = [theory(n, mttf, mttr) for n in summary["servers"]]
    summary["theory_uptime"] = [u for u, _ in both]
    summary["theory_availability"] = [a for _, a in both]
    summary["cost_per_month"] = summary["servers"] * args.price * HOURS_PER_MONTH
    theory_nines = [-math.log10(1 - a) for a in summary["theory_availability"]]
    at = knee(theory_nines, args.min_gain)

    result.save(args.out, "replica_count", summary=summary, extra={"args": vars(args)})

    lb = lb_cluster.PARAMS
    a_lb = availability(lb["lb_mttf"], lb["lb_mttr"] * MEAN_OVER_MEDIAN)
    a = availability(mttf, mttr * MEAN_OVER_MEDIAN)
    cap = next(n for n in range(1, 100) if (1 - a) ** n < 1 - a_lb)
    print(
        f"{len(result)} runs ({args.replications} per n, {args.days:g} days each, "
        f"{args.rate:g} req/s; needed = 1; servers: MTTF {args.mttf_hours:g} h, median repair "
        f"{args.mttr_minutes:g} min; the balancer does not fail) in {elapsed:.1f} s\n"
        "mean [95 % interval]; theory: uptime 1 - (1 - a)^n, availability also minus the "
        "detection loss\n"
    )
    print(
        f"{'n':>2} {'uptime':>27} {'theory':>10} {'request availability':>27} {'theory':>10} "
        f"{'nines':>5} {'$/month':>8}"
    )
    for i, r in summary.iterrows():
        print(
            f"{r['servers']:>2} {_ci(r, 'uptime')} {r['theory_uptime']:>10.7f} "
            f"{_ci(r, 'availability')} {r['theory_availability']:>10.7f} "
            f"{theory_nines[i]:>5.2f} {r['cost_per_month']:>8.0f}"
        )
    if at is None:
        print(f"\nNo knee: every replica up to {summary['servers'].iloc[-1]} buys "
              f">= {args.min_gain:g} nines.")  # fmt: skip
    else:
        n, gain = summary["servers"][at], theory_nines[at + 1] - theory_nines[at]
        extra = args.price * HOURS_PER_MONTH
        print(
            f"\nKnee at n = {n}: a server more (+${extra:.0f}/month) buys {gain:.2f} nines of "
            f"request availability (< {args.min_gain:g}): the health check's detection loss, "
            f"{1 - theory(2, mttf, mttr)[1] - (1 - theory(2, mttf, mttr)[0]):.1e} of the "
            "requests, does not shrink with n."
        )
    print(
        f"A real balancer caps every n: the model's default (MTTF 90 days) is up {a_lb:.5f} "
        f"({-math.log10(1 - a_lb):.2f} nines): from n = {cap} on it, not the servers, would set "
        "the uptime."
    )

    path = args.out / "replica_count.png"
    plot(result, summary, mttf, mttr, at, a_lb, path, args)
    print(
        f"\nwrote {args.out / 'replica_count.csv'}, {args.out / 'replica_count_summary.csv'}, "
        f"{args.out / 'replica_count.json'}, {path}"
    )
    return result


def _ci(r, metric: str, fmt: str = "{:.7f}") -> str:
    values = [r[metric], r[f"{metric}_lo"], min(r[f"{metric}_hi"], 1.0)]
    mean, lo, hi = (fmt.format(v) if math.isfinite(v) else "-" for v in values)
    return f"{mean} [{lo}, {hi}]"


def plot(result, summary, mttf, mttr, at, a_lb, path: Path, args) -> None:
    """Uptime and request availability (nines) against n, with theory; cost per month."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import NullLocator

    import hasim.plot as hp

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2), layout="constrained")
    ns = summary["servers"].to_numpy()
    days = args.replications * args.days
    # Uptime by hand: with n >= 3 a short run sees no downtime at all (1 - U = 0 has no
    # place on a log axis), which is drawn as such rather than as a line off the chart.
    ax = axes[0]
    down = 1 - summary["uptime"].to_numpy()
    lo = np.clip(1 - summary["uptime_hi"].to_numpy(), 0, None)
    hi = 1 - summary["uptime_lo"].to_numpy()
    theory_down = 1 - summary["theory_uptime"].to_numpy()
    top = max(theory_down[theory_down > 0].min() / 5, 1e-9)
    seen = down > 0
    lo = np.where(lo > 0, lo, top)
    err = [down[seen] - lo[seen], hi[seen] - down[seen]]
    ax.errorbar(ns[seen], down[seen], yerr=err, fmt="o", ms=6, capsize=4, color="#4c78a8",
                label="simulated, 95 % interval")  # fmt: skip
    ax.scatter(ns[~seen], np.full((~seen).sum(), top), marker="^", s=60, facecolor="white",
               edgecolor="#4c78a8", label=f"no downtime seen in {days:g} days")  # fmt: skip
    ax.plot(ns, theory_down, "k--x", lw=1.2, ms=7, label="theory (1 - a)^n, k-of-n")
    ax.set_yscale("log")
    ax.set_ylim(0.5, top / 2)  # better (less downtime) at the top
    ax.set_ylabel("1 - uptime (log scale, better ↑)")
    ax.set_title("Uptime (balancer up, >= 1 server up)", fontsize=10)
    second = ax.secondary_yaxis("right", functions=(_to_nines, _from_nines))
    ticks = list(range(0, int(_to_nines(top / 2)) + 1))
    second.set_ticks(ticks, [str(t) for t in ticks])
    second.yaxis.set_minor_locator(NullLocator())
    second.set_ylabel("nines")
    ax = axes[1]
    hp.availability_curve(
        result,
        x="servers",
        metric="availability",
        by="design",
        ax=ax,
        nines=True,
        xlabel="servers n behind the balancer (needed = 1)",
    )
    ax.plot(ns, 1 - summary["theory_availability"], "k--x", lw=1.2, ms=7,
            label="theory: (1 - a)^n + detection loss")  # fmt: skip
    ax.lines[0].set_label("simulated, 95 % interval")
    ax.set_title("Request availability (ok / answered)", fontsize=10)
    for ax in axes[:2]:
        ax.axhline(1 - a_lb, color="0.5", ls=":", lw=1.2, label="cap of a real balancer (90 d)")
        if at is not None and ax is axes[1]:  # the knee is one of request availability
            ax.axvline(ns[at], color="#e45756", ls="-.", lw=1, label="knee")
        ax.set_xticks(list(ns))
        ax.set_xlabel("servers n behind the balancer (needed = 1)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    ax = axes[2]
    ax.bar(ns, summary["cost_per_month"], color="#9ecae1", label="servers' cost")
    ax.set_xlabel("servers n behind the balancer")
    ax.set_ylabel(rf"cost, \$ per 30-day month (n x \${args.price:g} per server-hour)")
    ax.set_xticks(list(ns))
    nines = [-math.log10(1 - a) for a in summary["theory_availability"]]
    for n, cost, nine in zip(ns, summary["cost_per_month"], nines, strict=True):
        ax.annotate(
            f"{nine:.2f} nines", (n, cost), xytext=(0, 3), textcoords="offset points",
            ha="center", fontsize=8,
        )  # fmt: skip
    if at is not None:
        ax.axvline(ns[at], color="#e45756", ls="-.", lw=1, label="knee")
    ax.set_title("Cost, and the request availability (theory) it buys", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"lb_cluster with n servers, needed = 1: {args.replications} replications x "
        f"{args.days:g} days at {args.rate:g} req/s; servers fail every {args.mttf_hours:g} h, "
        f"repair median {args.mttr_minutes:g} min; the balancer does not fail"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _to_nines(u):
    import numpy as np

    return -np.log10(np.clip(u, 1e-300, None))


def _from_nines(n):
    import numpy as np

    return 10.0 ** -np.asarray(n, dtype=float)


if __name__ == "__main__":
    main()
