"""Spread over zones or not: a balanced N+1 cluster under zone outages.

Question: a zone (a data centre, a power or network domain) goes down now and
then and takes every server in it along. How much does spreading the
cluster's three servers over 2 or 3 zones buy, against keeping them in one?

Method: ``zone_spread`` (3 servers behind a regional balancer, N+1: needed = 2)
with ``zones`` = 1, 2 and 3; servers are placed round robin (2 zones: two in
``az1``, one in ``az2``). To see zone outages within short runs, a zone fails
every ``--zone-mttf-hours`` (48 h) on average for a lognormal time of median
``--zone-mttr-minutes`` (60 min, mean 72 min), and a server every
``--mttf-hours`` (24 h) for a median 20 min; the balancer does not fail here
(``lb_mttf`` = 1e12 s; it is regional, survives zone outages, and is the same
in every design). Open-loop traffic at ``--rate`` requests/s. Replication r uses
seed ``SEED + r`` in every design; zone ``az1`` and servers ``web0``..``web2``
draw their failure times from streams named after them, so every design sees
the same server crashes and the same outages of ``az1`` (the single zone of
the 1-zone design); the spread designs add outages of ``az2`` (and ``az3``),
each of which takes down fewer servers. The difference from the 1-zone design
is therefore paired (common random numbers).

Theory (product form, ``tests/validation/test_common_cause.py``): every server
and zone fails and is repaired independently, a server is up while it and its
zone are, so the servers up in a zone are 0 with probability 1 - Az and else
Binomial(size, A); zones are independent, and the cluster is up while at least
2 servers are: ``hasim.analytic.k_of_n_domains(2, sizes, A, Az)`` with sizes
[3], [2, 1] or [1, 1, 1]. One zone: ``Az (1 - 3 (1 - A)^2 + 2 (1 - A)^3)``;
three zones: ``1 - 3 (1 - Az A)^2 + 2 (1 - Az A)^3``. With two zones the bigger
zone holds two of the three servers, and its outage leaves one: N+1 over two
zones is (by the uptime predicate) hardly better than one zone. Requests need
only one server at this load, so request availability follows the 1-of-n form
``k_of_n_domains(1, ...)`` plus the requests sent to a server that went down
(its own crash, or its zone's, while others are up) before the health check
ejects it, ``(N - 1/2) I`` of its share per such event (as in
``health_check_interval.py``): two zones then do help requests.

    python experiments/zone_outages.py             # quick: 32 s of CPU, ~20 s on 2 idle cores
    python experiments/zone_outages.py --replications 30 --days 20  # ~7 min

Writes ``results/zone_outages.csv`` (one row per run), ``_summary.csv`` (per
design: mean and 95 % interval, theory), ``.json`` (settings) and ``.png``
(uptime with theory and the paired difference from one zone; request
availability; mean latency, which is what spreading costs).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

import hasim as hs
from hasim.analytic import availability, detection_time, k_of_n_domains
from hasim.experiment.scripts import study_parser
from hasim.models import zone_spread

DESIGNS = {
    "1 zone": ("zone_spread", {"zones": 1}),
    "2 zones": ("zone_spread", {"zones": 2}),
    "3 zones": ("zone_spread", {"zones": 3}),
}
BASELINE = "1 zone"
MEAN_OVER_MEDIAN = hs.LogNormal(median=1.0, sigma=zone_spread.PARAMS["repair_sigma"]).mean
METRICS = ("availability", "uptime", "downtime_fraction", "incidents", "mttr", "latency_mean")


def sizes(zones: int, servers: int = 3) -> list[int]:
    """Servers per zone, placed round robin as the model does."""
    return [len(range(z, servers, zones)) for z in range(zones)]


def theory(zones: int, mttf: float, mttr: float, zone_mttf: float, zone_mttr: float) -> dict:
    """Uptime (needed servers up) and request availability (any up, minus detection)."""
    p = zone_spread.PARAMS
    repair, zone_repair = mttr * MEAN_OVER_MEDIAN, zone_mttr * MEAN_OVER_MEDIAN
    a, az = availability(mttf, repair), availability(zone_mttf, zone_repair)
    n = p["servers"]
    needed = max(1, n - 1) if p["needed"] is None else p["needed"]
    layout = sizes(zones, n)
    uptime = k_of_n_domains(needed, layout, a, az)
    any_up = k_of_n_domains(1, layout, a, az)
    # Share of requests sent to a server that went down while others are up, before its
    # ejection: its 1/n share for (N - 1/2) I per event. Own crashes: n servers, one per
    # cycle each; a zone outage: size/n of the traffic per outage, unless it holds them all.
    ttd = detection_time(p["check_interval"], p["unhealthy_after"])
    lost = ttd / (mttf + repair)
    lost += sum(m / n * ttd / (zone_mttf + zone_repair) for m in layout if m < n)
    return {"uptime": uptime, "availability": any_up - lost}


def main(argv: list[str] | None = None) -> hs.ExperimentResult:
    parser = study_parser(
        __doc__, replications=8, days=3.0, rate=0.2, mttf_hours=24.0, mttr_minutes=20.0
    )
    parser.add_argument("--zone-mttf-hours", type=float, default=48.0, help="zone MTTF (48)")
    parser.add_argument(
        "--zone-mttr-minutes", type=float, default=60.0, help="median zone outage (60)"
    )
    args = parser.parse_args(argv)
    mttf, mttr = args.mttf_hours * hs.hours, args.mttr_minutes * hs.minutes
    zone_mttf, zone_mttr = args.zone_mttf_hours * hs.hours, args.zone_mttr_minutes * hs.minutes

    experiment = hs.Experiment(
        DESIGNS,
        params={
            "mttf": mttf,
            "mttr": mttr,
            "zone_mttf": zone_mttf,
            "zone_mttr": zone_mttr,
            "lb_mttf": 1e12,
        },
        workload={"rate": args.rate, "timeout": 2.0},
        horizon=args.days * hs.days,
        warmup=10 * hs.minutes,
        reps=args.replications,
        seed=args.seed,
    )
    started = time.perf_counter()
    result = experiment.run(workers=args.workers)
    elapsed = time.perf_counter() - started
    summary = result.summary(metrics=METRICS)
    expected = {
        d: theory(DESIGNS[d][1]["zones"], mttf, mttr, zone_mttf, zone_mttr) for d in DESIGNS
    }
    summary["theory_uptime"] = [expected[d]["uptime"] for d in summary["design"]]
    summary["theory_availability"] = [expected[d]["availability"] for d in summary["design"]]
    paired = {
        d: result.compare(d, BASELINE, metric="downtime_fraction").iloc[0]
        for d in DESIGNS
        if d != BASELINE
    }
    paired_req = {
        d: result.compare(d, BASELINE, metric="unavailability").iloc[0]
        for d in DESIGNS
        if d != BASELINE
    }

    result.save(args.out, "zone_outages", summary=summary, extra={"args": vars(args)})

    print(
        f"{len(result)} runs ({args.replications} per design, {args.days:g} days each, "
        f"{args.rate:g} req/s; 3 servers, needed 2; servers: MTTF {args.mttf_hours:g} h, "
        f"median repair {args.mttr_minutes:g} min; zones: MTTF {args.zone_mttf_hours:g} h, "
        f"median outage {args.zone_mttr_minutes:g} min) in {elapsed:.1f} s\n"
        "mean [95 % interval]; theory: product form k_of_n_domains\n"
    )
    print(
        f"{'design':<8} {'uptime':>24} {'theory':>8} {'request availability':>24} "
        f"{'theory':>8} {'latency (ms)':>12}"
    )
    for _, r in summary.iterrows():
        print(
            f"{r['design']:<8} {_ci(r, 'uptime')} {r['theory_uptime']:>8.5f} "
            f"{_ci(r, 'availability')} {r['theory_availability']:>8.5f} "
            f"{r['latency_mean'] * 1e3:>12.2f}"
        )
    print(f"\nPaired with '{BASELINE}' (same seeds: same server crashes, same az1 outages):")
    for d in paired:
        c, q = paired[d], paired_req[d]
        t_up = expected[BASELINE]["uptime"] - expected[d]["uptime"]
        t_req = expected[BASELINE]["availability"] - expected[d]["availability"]
        print(
            f"  {d}: downtime {c['diff']:+.5f} [{c['diff_lo']:+.5f}, {c['diff_hi']:+.5f}] "
            f"(theory {t_up:+.5f}; unpaired ±{c['unpaired_half_width']:.5f}); "
            f"failed requests {q['diff']:+.5f} [{q['diff_lo']:+.5f}, {q['diff_hi']:+.5f}] "
            f"(theory {t_req:+.5f})"
        )

    path = args.out / "zone_outages.png"
    plot(result, summary, path, args)
    print(
        f"\nwrote {args.out / 'zone_outages.csv'}, {args.out / 'zone_outages_summary.csv'}, "
        f"{args.out / 'zone_outages.json'}, {path}"
    )
    return result


def _ci(r, metric: str, fmt: str = "{:.5f}") -> str:
    values = [r[metric], r[f"{metric}_lo"], min(r[f"{metric}_hi"], 1.0)]
    mean, lo, hi = (fmt.format(v) if math.isfinite(v) else "-" for v in values)
    return f"{mean} [{lo}, {hi}]"


def plot(result, summary, path: Path, args) -> None:
    """Uptime (nines) with theory and the paired difference; availability; latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import hasim.plot as hp

    fig = plt.figure(figsize=(13, 8), layout="constrained")
    top = fig.add_subplot(2, 2, 1)
    pair = [top, fig.add_subplot(2, 2, 2, sharey=top)]  # the differences share the rows
    hp.compare(result, "uptime", ax=pair, baseline=BASELINE, nines=True)
    top.set_title("Uptime (>= 2 of 3 servers up), 95 %")
    pair[1].set_title(f"Paired difference from {BASELINE!r} (same seeds), 95 %")
    ax_req = hp.compare(result, "availability", ax=fig.add_subplot(2, 2, 3), nines=True)
    ax_req.set_title("Request availability (any server answers), 95 %")
    for ax, metric in ((top, "uptime"), (ax_req, "availability")):
        ax.scatter(
            1 - summary[f"theory_{metric}"],
            np.arange(len(summary)),
            marker="x",
            s=60,
            color="black",
            zorder=4,
            label="theory (product form)",
        )
        ax.legend(fontsize=8, loc="lower left")
    ax = hp.compare(result, "latency_mean", ax=fig.add_subplot(2, 2, 4))
    ax.set_title("Mean latency: the cost of crossing zones, 95 %")
    fig.suptitle(
        f"zone_spread, 3 servers (N+1) over 1, 2, 3 zones: {args.replications} replications x "
        f"{args.days:g} days, {args.rate:g} req/s; zone outage every {args.zone_mttf_hours:g} h "
        f"(median {args.zone_mttr_minutes:g} min), server crash every {args.mttf_hours:g} h"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
