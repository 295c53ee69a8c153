"""PBS t-visibility: how soon after a write commits does a partial-quorum read see it?

Question: a Dynamo-style store with N = 3 replicas acknowledges a write after W replicas
and answers a read with the first R responses. With R + W <= N a read may miss a write that
already committed. How likely is a read that starts t after the commit to return it, and
how long after the commit is a read consistent 99 % or 99.9 % of the time? (Bailis et al.,
*Probabilistically Bounded Staleness for Practical Partial Quorums*, VLDB 2012, sec. 5-6.)

Method: PBS's WARS model on the simulated store. Every replica's message latencies are
exponential with four different rates: W, a write reaching it (mean 10 ms: writes propagate
slowly), A, its acknowledgement (2 ms), R, a read request (4 ms), S, a read response (1 ms)
(``hasim.WARS``). ``hasim.replication.pbs.visibility_trials`` writes a fresh key per trial,
waits for the commit and reads the key t later, for each t of the gaps; a read is consistent
when it returns the write. Trials are independent (fresh keys, instant replicas, no read
repair), so each point is a binomial share, shown with its 95 % Wilson interval. The curves
are ``hasim.analytic.wars_consistency``, the numeric integration of the same model, and the
t-visibility percentiles are ``hasim.analytic.wars_visibility``.

    python experiments/pbs_staleness.py                  # quick: ~20 s on one core
    python experiments/pbs_staleness.py --trials 50000 --settings "1,1;2,1;1,2;1,1,quorum"
    python experiments/pbs_staleness.py --picture docs/images/pbs.png

Writes ``results/pbs_staleness.csv`` (one row per setting and t: reads, consistent, share,
interval, theory), ``pbs_staleness.json`` (the settings and the t-visibility percentiles) and
``pbs_staleness.png``; with ``--picture``, a README-sized copy of the picture as well.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

import hasim as hs
from hasim.analytic.staleness import wars_consistency, wars_visibility
from hasim.experiment.intervals import wilson
from hasim.replication.pbs import visibility_trials
from hasim.replication.quorum import WARS

#: Mean one-way latencies in seconds (exponential): W, A, R, S.
MEANS = {"write": 0.010, "ack": 0.002, "read": 0.004, "response": 0.001}
LATENCIES = WARS(**{k: hs.Exponential(mean=v) for k, v in MEANS.items()})
GAPS = "0,1,2,5,10,15,20,30,40,60"  # ms
TARGETS = (0.9, 0.99, 0.999)


def parse_settings(text: str) -> list[tuple[int, int, str]]:
    """``"1,1;2,1;1,1,quorum"`` -> ``[(1, 1, "all"), (2, 1, "all"), (1, 1, "quorum")]`` (R, W)."""
    out = []
    for part in text.split(";"):
        items = [x.strip() for x in part.split(",") if x.strip()]
        if len(items) not in (2, 3):
            raise ValueError(part)
        out.append((int(items[0]), int(items[1]), items[2] if len(items) == 3 else "all"))
    return out


def label(n: int, r: int, w: int, fanout: str) -> str:
    """``"N=3 R=1 W=1"`` (and the read fanout when it is not "all")."""
    return f"N={n} R={r} W={w}" + ("" if fanout == "all" else f", reads to {r} random")


def measure(n: int, settings, gaps, trials: int, seed: int) -> tuple[pd.DataFrame, dict]:
    """Simulate and integrate every setting: the table, and {label: Visibility}."""
    rows, seen = [], {}
    for r, w, fanout in settings:
        name = label(n, r, w, fanout)
        vis = visibility_trials(seed, n=n, r=r, w=w, wars=LATENCIES, gaps=gaps, trials=trials,
                                read_fanout=fanout)  # fmt: skip
        seen[name] = vis
        theory = np.atleast_1d(wars_consistency(n, r, w, LATENCIES, list(vis.gaps), fanout=fanout))
        for t, reads, fresh, p in zip(vis.gaps, vis.reads, vis.consistent, theory, strict=True):
            lo, hi = wilson(fresh, reads)
            rows.append({"setting": name, "n": n, "r": r, "w": w, "read_fanout": fanout,
                         "t": t, "reads": reads, "consistent": fresh, "share": fresh / reads,
                         "share_lo": lo, "share_hi": hi, "theory": p,
                         "theory_in_interval": bool(lo - 1e-9 <= p <= hi + 1e-9)})  # fmt: skip
    return pd.DataFrame(rows), seen


def plot(seen: dict, n: int, settings, span: float, trials: int, path: Path, picture=None):
    """The PBS picture: simulated shares with 95 % Wilson intervals against the integration;
    each setting's label gives its 99.9 % t-visibility."""
    import matplotlib

    matplotlib.use("Agg")
    import hasim.plot as hp
    from hasim.plot.staleness import staleness_curve

    grid = np.linspace(0.0, span, 121)
    theory, measured = {}, {}
    for r, w, f in settings:
        t999 = wars_visibility(n, r, w, LATENCIES, 0.999, fanout=f)
        name = f"{label(n, r, w, f)}: 99.9 % consistent {t999 * 1e3:.0f} ms after commit"
        theory[name] = (grid, wars_consistency(n, r, w, LATENCIES, grid, fanout=f))
        measured[name] = seen[label(n, r, w, f)]
    ax = staleness_curve(measured, theory, scale="logit", targets=(0.99, 0.999))
    means = ", ".join(f"{x} {v * 1e3:g} ms" for x, v in zip("WARS", MEANS.values(), strict=True))
    ax.set_title(
        f"PBS t-visibility of a {n}-replica quorum store: simulated ({trials:,} trials per point)"
        f" vs WARS integration\nexponential latencies, means {means}",
        fontsize=10,
    )
    hp.save(ax, path, dpi=120)
    if picture is not None:  # README size: 1100 x 620 pixels
        ax.figure.set_size_inches(10, 5.64)
        hp.save(ax, picture, dpi=110)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3, help="replicas (default 3)")
    parser.add_argument(
        "--settings",
        default="1,1;2,1;1,2",
        help='R,W[,fanout] per setting, ";"-separated (default "1,1;2,1;1,2"; fanout all)',
    )
    parser.add_argument(
        "--trials", type=int, default=3000, help="writes per setting (default 3000)"
    )
    parser.add_argument("--gaps", default=GAPS, help=f"read delays after commit, ms ({GAPS})")
    parser.add_argument("--seed", type=int, default=1, help="the simulation's seed (1)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    parser.add_argument("--picture", type=Path, default=None, help="also save a copy here")
    args = parser.parse_args(argv)
    try:
        settings = parse_settings(args.settings)
        gaps = [float(x) * 1e-3 for x in args.gaps.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--settings / --gaps: could not read {args.settings!r} / {args.gaps!r}")
    if not gaps or min(gaps) < 0:
        parser.error(f"--gaps must be milliseconds >= 0, got {args.gaps!r}")

    started = time.perf_counter()
    table, seen = measure(args.n, settings, gaps, args.trials, args.seed)
    percentiles = {
        label(args.n, r, w, f): {
            str(p): wars_visibility(args.n, r, w, LATENCIES, p, fanout=f) for p in TARGETS
        }
        for r, w, f in settings
    }
    elapsed = time.perf_counter() - started

    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "pbs_staleness.csv", index=False)
    settings_out = {
        "n": args.n,
        "settings": [{"r": r, "w": w, "read_fanout": f} for r, w, f in settings],
        "wars_means_seconds": MEANS,
        "wars_distribution": "exponential",
        "trials_per_setting": args.trials,
        "gaps_seconds": gaps,
        "seed": args.seed,
        "interval": "95 % Wilson score interval of each share",
        "t_visibility_seconds": percentiles,
        "elapsed_seconds": round(elapsed, 2),
    }
    (args.out / "pbs_staleness.json").write_text(json.dumps(settings_out, indent=2))

    print(f"{args.trials:,} trials per setting in {elapsed:.1f} s; 95 % Wilson intervals\n")
    print(f"{'setting':<30} {'t (ms)':>7} {'simulated P(consistent)':>30} {'WARS':>8}")
    for _, row in table.iterrows():
        sim = f"{row['share']:.4f} [{row['share_lo']:.4f}, {row['share_hi']:.4f}]"
        flag = "" if row["theory_in_interval"] else "  (outside)"
        print(f"{row['setting']:<30} {row['t'] * 1e3:>7g} {sim:>30} {row['theory']:>8.4f}{flag}")
    print("\nt-visibility (WARS integration): ms after the commit for P(consistent) >= p")
    print(f"{'setting':<30} " + " ".join(f"{'p=' + str(p):>9}" for p in TARGETS))
    for name, values in percentiles.items():
        print(f"{name:<30} " + " ".join(f"{v * 1e3:>9.2f}" for v in values.values()))

    plot(seen, args.n, settings, max(gaps), args.trials, args.out / "pbs_staleness.png",
         args.picture)  # fmt: skip
    wrote = [args.out / f"pbs_staleness.{x}" for x in ("csv", "json", "png")]
    if args.picture is not None:
        wrote.append(args.picture)
    print("\nwrote " + ", ".join(str(p) for p in wrote))
    return table


if __name__ == "__main__":
    main()
