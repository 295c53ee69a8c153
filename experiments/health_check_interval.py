"""Request availability of a balanced cluster against the health check's interval and threshold.

Question: how many requests does a load balancer lose because its health check
is slow to notice a crashed server, and how does that grow with the probe
interval I and with the number N of failed probes it waits for
(``unhealthy_after``)?

Method: ``lb_cluster`` with 4 servers behind a round-robin balancer (4, not the
model's 3, so that all of them being down at once stays negligible), over a grid
of ``check_interval`` x ``unhealthy_after``. To see many crashes in a short run
the servers fail every ``--mttf-hours`` (2 h) on average and are repaired in a
lognormal time of median ``--mttr-minutes`` (5 min, mean 6 min); the balancer
itself does not fail here (``lb_mttf`` = 1e12 s), so every failed request is
the health check's doing or that of all three servers being down at once.
Open-loop Poisson traffic at ``--rate`` requests/s. Replication r uses seed
``SEED + r`` at every grid point, and the servers draw their failure times
from streams named after them, so every grid point sees the very same crashes
and the same arrivals (common random numbers): the curves differ only by the
health check, and their shape is far sharper than each point's interval.

Theory (first order, one server in trouble at a time), as validated in
``tests/validation/test_detection.py`` and ``hasim.analytic.detection``: a
crashed server refuses probes at once, so the balancer's verdict comes
``TTD = (N - 1) I + U I`` after the crash, mean ``(N - 1/2) I`` (uniform probe
phase; no network latency in this model, so no ``d`` term, and the probe
timeout does not enter: it matters only for servers that hang). Until then the
server gets its ``1/n`` share of the traffic, which fails: ``rate/n x (N - 1/2) I``
requests per crash. Each server crashes once per cycle ``MTTF + MTTR``, so the
share of requests lost is

    1 - A  ~=  (N - 1/2) I / (MTTF + MTTR)  +  (1 - a)^n,

the first term ``hasim.analytic.detection_unavailability`` (the same for any
n), the second the time all n servers are down (a = MTTF / (MTTF + MTTR)). It
holds while ``N I`` is well below the repair time (every crash is detected
before its repair): here N I <= 60 s against repairs of median 5 min. The
measured mean time to detect (``mttd``) is checked against ``(N - 1/2) I`` too.

    python experiments/health_check_interval.py    # quick: 47 s of CPU, ~30 s on 2 idle cores
    python experiments/health_check_interval.py --replications 10 --days 4 --rate 3  # ~20 min

Writes ``results/health_check_interval.csv`` (one row per run), ``_summary.csv``
(per grid point: mean and 95 % interval, theory), ``.json`` (settings) and
``.png`` (unavailability in nines against I, one curve per N, theory dashed;
time to detect against I).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import hasim as hs
from hasim.analytic import availability, detection_time, detection_unavailability
from hasim.experiment.scripts import study_parser
from hasim.models import lb_cluster

DESIGN = "lb_cluster"
SERVERS = 4
INTERVALS = [1.0, 2.0, 5.0, 10.0, 20.0]
THRESHOLDS = [1, 2, 3]
MEAN_OVER_MEDIAN = hs.LogNormal(median=1.0, sigma=lb_cluster.PARAMS["repair_sigma"]).mean
METRICS = ("availability", "unavailability", "mttd", "incidents", "throughput")


def theory_unavailability(interval: float, n_check: int, mttf: float, mttr: float) -> float:
    """Detection loss plus the time all servers are down (``mttr`` is the median repair)."""
    repair = mttr * MEAN_OVER_MEDIAN
    all_down = (1 - availability(mttf, repair)) ** SERVERS
    return detection_unavailability(mttf, repair, interval, n_check) + all_down


def main(argv: list[str] | None = None) -> hs.ExperimentResult:
    parser = study_parser(
        __doc__, replications=3, days=1.0, rate=1.0, mttf_hours=2.0, mttr_minutes=5.0
    )
    parser.add_argument(
        "--intervals", type=float, nargs="+", default=INTERVALS, help="probe intervals, s"
    )
    parser.add_argument(
        "--thresholds", type=int, nargs="+", default=THRESHOLDS, help="unhealthy_after values"
    )
    args = parser.parse_args(argv)
    mttf, mttr = args.mttf_hours * hs.hours, args.mttr_minutes * hs.minutes

    experiment = hs.Experiment(
        {DESIGN: "lb_cluster"},
        params={
            "servers": SERVERS,
            "mttf": mttf,
            "mttr": mttr,
            "lb_mttf": 1e12,
            "check_timeout": 0.5,
        },
        grid={"check_interval": args.intervals, "unhealthy_after": args.thresholds},
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
    summary["theory_unavailability"] = [
        theory_unavailability(i, n, mttf, mttr)
        for i, n in zip(summary["check_interval"], summary["unhealthy_after"], strict=True)
    ]
    summary["theory_mttd"] = [
        detection_time(i, n)
        for i, n in zip(summary["check_interval"], summary["unhealthy_after"], strict=True)
    ]
    summary = summary.sort_values(["unhealthy_after", "check_interval"]).reset_index(drop=True)

    result.save(args.out, "health_check_interval", summary=summary, extra={"args": vars(args)})

    print(
        f"{len(result)} runs ({args.replications} per point, {args.days:g} days each, "
        f"{args.rate:g} req/s; {SERVERS} servers, MTTF {args.mttf_hours:g} h, median repair "
        f"{args.mttr_minutes:g} min; the balancer does not fail) in {elapsed:.1f} s\n"
        f"mean [95 % interval]; theory: (N - 1/2) I / (MTTF + MTTR) + (1 - a)^{SERVERS}\n"
    )
    print(
        f"{'N':>2} {'I (s)':>6} {'unavailability 1 - A':>32} {'theory':>9} {'meas/theory':>11} "
        f"{'MTTD (s)':>22} {'theory':>7}"
    )
    for _, r in summary.iterrows():
        print(
            f"{r['unhealthy_after']:>2} {r['check_interval']:>6g} "
            f"{_ci(r, 'unavailability', '{:.6f}')} {r['theory_unavailability']:>9.6f} "
            f"{r['unavailability'] / r['theory_unavailability']:>11.2f} "
            f"{_ci(r, 'mttd', '{:.2f}')} {r['theory_mttd']:>7.2f}"
        )
    covered = (
        (summary["unavailability_lo"] <= summary["theory_unavailability"])
        & (summary["theory_unavailability"] <= summary["unavailability_hi"])
    ).sum()
    print(
        f"\nThe theory lies in the 95 % interval at {covered} of {len(summary)} points. "
        "Each extra failed probe in the threshold costs one more interval of a crashed "
        f"server's traffic: rate/n x (N - 1/2) I requests per crash (N = 2, I = 5 s: "
        f"{args.rate / SERVERS * 1.5 * 5:.2g} at {args.rate:g} req/s)."
    )

    path = args.out / "health_check_interval.png"
    plot(result, mttf, mttr, path, args)
    print(
        f"\nwrote {args.out / 'health_check_interval.csv'}, "
        f"{args.out / 'health_check_interval_summary.csv'}, "
        f"{args.out / 'health_check_interval.json'}, {path}"
    )
    return result


def _ci(r, metric: str, fmt: str) -> str:
    """Mean [lo, hi], the interval clipped at 0 (a share or a time)."""
    values = [r[metric], max(r[f"{metric}_lo"], 0.0), r[f"{metric}_hi"]]
    mean, lo, hi = (fmt.format(v) if math.isfinite(v) else "-" for v in values)
    return f"{mean} [{lo}, {hi}]"


def plot(result: hs.ExperimentResult, mttf: float, mttr: float, path: Path, args) -> None:
    """Unavailability (nines) and time to detect against I, one curve per threshold N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    import hasim.plot as hp

    fig, (ax_a, ax_d) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    labels = {n: f"unhealthy_after={n}" for n in args.thresholds}
    hp.availability_curve(
        result,
        x="check_interval",
        metric="availability",
        by="unhealthy_after",
        ax=ax_a,
        nines=True,
        theory={
            labels[n]: (lambda i, n=n: 1 - theory_unavailability(i, n, mttf, mttr))
            for n in args.thresholds
        },
        xlabel="health-check interval I (seconds, log scale)",
    )
    ax_a.set_title("Request availability: lost to undetected crashes")
    hp.availability_curve(
        result,
        x="check_interval",
        metric="mttd",
        by="unhealthy_after",
        ax=ax_d,
        theory={labels[n]: (lambda i, n=n: detection_time(i, n)) for n in args.thresholds},
        xlabel="health-check interval I (seconds)",
    )
    ax_d.set_title("Mean time to detect a crash; theory (N - 1/2) I")
    ax_a.set_xscale("log")  # log-log: the loss is proportional to I, a line of slope 1
    ax_a.set_xticks(args.intervals, [f"{i:g}" for i in args.intervals])
    ax_a.xaxis.set_minor_locator(NullLocator())
    ax_d.set_xticks(args.intervals, [f"{i:g}" for i in args.intervals])
    for ax in (ax_a, ax_d):
        ax.legend(fontsize=8, title="N failed probes to eject; dashed: theory", title_fontsize=8)
    fig.suptitle(
        f"lb_cluster ({SERVERS} servers, round robin), {args.replications} replications x "
        f"{args.days:g} day(s) at {args.rate:g} req/s; servers fail every {args.mttf_hours:g} h, "
        f"repair median {args.mttr_minutes:g} min; 95 % intervals"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
