"""Per-sample cost of hasim's batch samplers, next to a scalar numpy draw.

Run: python bench/bench_sampling.py [--calls N] [--batch B] [--seed S]

Each sampler is called N times in a plain loop (the way a simulation process calls it); the
reference is the same loop over ``rng.exponential()``, numpy's cheapest way to get one Python
float. The ratio column is sampler cost / reference cost (lower is better).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from hasim.dist import Exponential, LogNormal, Mixture


def per_call_ns(draw, calls: int) -> float:
    """Nanoseconds per call of ``draw()``, best of three loops (the least disturbed one)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            draw()
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000_000, help="calls per timing loop")
    parser.add_argument("--batch", type=int, default=1024, help="sampler batch size")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    dists = {
        "Exponential": Exponential(mean=5e-3),
        "LogNormal": LogNormal(median=20 * 60, sigma=0.6),
        "Mixture": Mixture([Exponential(mean=1e-3), LogNormal(median=0.05, sigma=1.0)], [9, 1]),
    }
    rng = np.random.default_rng(args.seed)
    reference = per_call_ns(rng.exponential, args.calls)

    print(f"python {platform.python_version()}, numpy {np.__version__}")
    print(f"calls={args.calls:,} batch={args.batch} seed={args.seed} (best of 3 loops)")
    print(f"{'sampler':<28}{'ns/sample':>10}{'ratio':>8}")
    print(f"{'rng.exponential() (scalar)':<28}{reference:>10.1f}{1.0:>8.2f}")
    for name, dist in dists.items():
        draw = dist.sampler(np.random.default_rng(args.seed), batch=args.batch)
        cost = per_call_ns(draw, args.calls)
        print(f"{name + '.sampler()':<28}{cost:>10.1f}{cost / reference:>8.2f}")


if __name__ == "__main__":
    main()
