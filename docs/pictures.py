"""Make the README's pictures: copies of the experiments' PNGs, and two of one run.

    python experiments/compare_designs.py && python experiments/replica_count.py
    python docs/pictures.py

Writes ``docs/images/``: the experiments' pictures scaled down (run the scripts first),
and a state timeline and one incident up close of a 3-day ``lb_cluster`` run (seed 4).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from PIL import Image  # noqa: E402 (matplotlib depends on Pillow)

import hasim as hs  # noqa: E402
import hasim.plot as hp  # noqa: E402
from hasim.models import lb_cluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
WIDTH = 1100  # pixels: sharp in a README, small in the repository


def shrink(source: Path, target: Path) -> None:
    """A copy of ``source`` at most ``WIDTH`` pixels wide, as an optimised PNG."""
    image = Image.open(source)
    if image.width > WIDTH:
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
    image.convert("RGB").save(target, optimize=True)


def one_run() -> hs.RunResult:
    """Three servers behind a checked balancer for three days; servers fail about daily.

    ``needed=3``: every server crash is an incident, so the picture shows each one.
    """
    sim = hs.Simulation(seed=4)
    lb = lb_cluster.build(sim, needed=3, mttf=1 * hs.days, mttr=30 * hs.minutes)
    hs.OpenLoop(sim, "users", target=lb, rate=5, timeout=2.0)
    return sim.run(until=3 * hs.days, warmup=1 * hs.hours)


def main() -> None:
    """Write every picture to ``docs/images/``."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ("compare_designs", "replica_count"):
        source = ROOT / "results" / f"{name}.png"
        if source.exists():
            shrink(source, OUT / f"{name}.png")
        else:
            print(f"skipped {name}.png: run experiments/{name}.py first")
    result = one_run()
    ax = hp.timeline(result)
    hp.save(ax, OUT / "timeline_full.png", dpi=100)
    axes = hp.incident(result, 0)
    hp.save(axes, OUT / "incident_full.png", dpi=100)
    for name in ("timeline", "incident"):
        shrink(OUT / f"{name}_full.png", OUT / f"{name}.png")
        (OUT / f"{name}_full.png").unlink()
    print(f"wrote {sorted(p.name for p in OUT.glob('*.png'))} to {OUT}")


if __name__ == "__main__":
    main()
