"""Closed-form results the simulator is checked against.

``queues``: Erlang B and C, M/M/c and M/M/c/K. ``reliability``: availability of a
repairable component, nines, k-of-n systems with and without shared repair crews,
and finite birth-death chains. ``staleness``: PBS's chance of a stale read from a
partial quorum.
"""

from __future__ import annotations

from hasim.analytic.queues import QueueMetrics, erlang_b, erlang_c, mmc, mmck
from hasim.analytic.reliability import (
    availability,
    beta_factor,
    birth_death,
    k_of_n,
    k_of_n_domains,
    k_of_n_repair,
    nines,
    repair_chain,
)
from hasim.analytic.staleness import k_staleness, stale_probability, t_visibility

__all__ = [
    "QueueMetrics",
    "erlang_b",
    "erlang_c",
    "mmc",
    "mmck",
    "availability",
    "nines",
    "k_of_n",
    "k_of_n_repair",
    "repair_chain",
    "birth_death",
    "k_of_n_domains",
    "beta_factor",
    "stale_probability",
    "k_staleness",
    "t_visibility",
]
