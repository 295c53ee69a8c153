"""What a study script needs besides its experiment: the usual command-line flags."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["study_parser"]


def study_parser(
    doc: str | None,
    *,
    replications: int,
    days: float,
    rate: float,
    mttf_hours: float | None = None,
    mttr_minutes: float | None = None,
) -> argparse.ArgumentParser:
    """An ArgumentParser with the flags every study script takes, at its quick defaults.

    ``--replications``, ``--days`` (simulated per run), ``--rate`` (requests/s),
    ``--seed`` (replication r uses seed SEED + r), ``--workers`` (processes),
    ``--out`` (the results folder), and with ``mttf_hours`` / ``mttr_minutes``
    also ``--mttf-hours`` and ``--mttr-minutes`` (a server's mean time to failure
    and median repair time). The script adds its own flags, then ``parse_args``.

    Args:
        doc: the script's docstring; its first line is the description.
        replications: the default of ``--replications`` (runs per design point).
        days: the default of ``--days``.
        rate: the default of ``--rate``.
        mttf_hours: the default of ``--mttf-hours`` (None: no such flag).
        mttr_minutes: the default of ``--mttr-minutes`` (None: no such flag).
    """
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument(
        "--replications", type=int, default=replications, help=f"runs per point ({replications})"
    )
    parser.add_argument(
        "--days", type=float, default=days, help=f"simulated days per run ({days:g})"
    )
    parser.add_argument("--rate", type=float, default=rate, help=f"requests per second ({rate:g})")
    if mttf_hours is not None:
        parser.add_argument(
            "--mttf-hours", type=float, default=mttf_hours, help=f"server MTTF ({mttf_hours:g})"
        )
    if mttr_minutes is not None:
        parser.add_argument(
            "--mttr-minutes",
            type=float,
            default=mttr_minutes,
            help=f"a server's median repair ({mttr_minutes:g})",
        )
    parser.add_argument("--seed", type=int, default=1, help="replication r uses seed SEED + r")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    return parser
