"""Closed-form results the simulator is checked against.

``queues``: Erlang B and C, M/M/c and M/M/c/K. ``reliability``: availability of a
repairable component, nines, series and parallel structures, k-of-n systems with and
without shared repair crews, and finite birth-death chains. ``ctmc``: continuous-time
Markov chains (steady state, failure frequency, mean time to absorption, transient),
with ready chains for active-passive pairs and k-of-n with limited crews.
``detection``: health-check detection time and the availability it costs.
``staleness``: PBS's chance of a stale read from a partial quorum (closed forms, and the
WARS model integrated numerically for any latency distributions). ``structure``: exact
analysis of structure expressions (availability with repeated components, transient A(t),
minimal cut and path sets, Birnbaum, criticality and Fussell-Vesely importance).
``interval``: availability over a finite window of a CTMC (transient A(t), expected
interval availability, the distribution of the share up by randomisation, SLO
attainment, error budget, performability).
"""

from __future__ import annotations

from hasim.analytic import structure
from hasim.analytic.ctmc import CTMC, active_passive_chain, duplex_availability, k_of_n_chain
from hasim.analytic.detection import (
    check_detection_time,
    detection_bounds,
    detection_time,
    detection_unavailability,
)
from hasim.analytic.interval import (
    error_budget,
    expected_interval_availability,
    interval_availability_cdf,
    performability,
    point_availability,
    slo_attainment,
)
from hasim.analytic.queues import QueueMetrics, erlang_b, erlang_c, mmc, mmck
from hasim.analytic.reliability import (
    availability,
    beta_factor,
    birth_death,
    k_of_n,
    k_of_n_domains,
    k_of_n_repair,
    nines,
    parallel,
    repair_chain,
    series,
)
from hasim.analytic.staleness import (
    k_staleness,
    stale_probability,
    t_visibility,
    wars_consistency,
    wars_monte_carlo,
    wars_visibility,
)
from hasim.analytic.structure import importance, minimal_cut_sets, minimal_path_sets

__all__ = [
    "QueueMetrics",
    "erlang_b",
    "erlang_c",
    "mmc",
    "mmck",
    "availability",
    "nines",
    "series",
    "parallel",
    "k_of_n",
    "k_of_n_repair",
    "repair_chain",
    "birth_death",
    "k_of_n_domains",
    "beta_factor",
    "stale_probability",
    "k_staleness",
    "t_visibility",
    "wars_consistency",
    "wars_visibility",
    "wars_monte_carlo",
    "CTMC",
    "active_passive_chain",
    "duplex_availability",
    "k_of_n_chain",
    "detection_time",
    "check_detection_time",
    "detection_bounds",
    "detection_unavailability",
    "structure",
    "minimal_cut_sets",
    "minimal_path_sets",
    "importance",
    "point_availability",
    "expected_interval_availability",
    "interval_availability_cdf",
    "slo_attainment",
    "error_budget",
    "performability",
]
