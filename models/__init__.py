"""Ready designs: one module per design, each with ``PARAMS`` and ``build(sim, **params)``.

The helpers here are what every model does the same way: check and merge the
parameters it was given, build the usual failure model, and pair two services
behind a failover manager.
"""

from __future__ import annotations

from typing import Any

import hasim as hs


def settings(model: str, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` overridden by ``given``; an unknown name is an error naming the known ones."""
    unknown = set(given) - set(defaults)
    if unknown:
        raise hs.ConfigError(
            f"{model}: unknown parameter(s) {sorted(unknown)}; known: {sorted(defaults)}"
        )
    return {**defaults, **given}


def failures(mttf: float, mttr: float, sigma: float) -> hs.Failures:
    """Exponential times to failure (mean ``mttf``), lognormal repairs (median ``mttr``)."""
    return hs.Failures(ttf=hs.Exponential(mean=mttf), ttr=hs.LogNormal(median=mttr, sigma=sigma))


def failover_pair(sim: hs.Simulation, primary: Any, standby: Any, p: dict[str, Any]) -> Any:
    """``primary`` and ``standby`` behind an ActivePassive named ``vip``.

    Its settings are ``p``'s ``heartbeat``, ``heartbeat_timeout``, ``promotion_delay``,
    ``coverage``, ``coverage_on`` (``"active"`` when absent) and ``failback``.
    """
    return hs.ActivePassive(
        sim,
        "vip",
        primary=primary,
        standby=standby,
        heartbeat=p["heartbeat"],
        timeout=p["heartbeat_timeout"],
        promotion_delay=p["promotion_delay"],
        coverage=p["coverage"],
        coverage_on=p.get("coverage_on", "active"),
        failback=p["failback"],
    )
