"""Pictures of runs and experiments, with matplotlib.

Nothing in the simulator imports this module, and ``import hasim`` does not
import matplotlib; import it yourself::

    import hasim.plot as hp

    hp.availability_curve(experiment_result, x="mttr", nines=True)
    hp.compare(experiment_result, baseline="single server")
    hp.timeline(run_result)
    hp.incident(run_result, 0)
    hp.latency_cdf({"one zone": a, "three zones": b})
    hp.recovery_breakdown(run_result)
    hp.staleness_curve({"R=1 W=1": visibility}, theory={"R=1 W=1": (t, p)})

Every function draws on ``ax`` (a new figure when None) and returns the Axes it
drew on; the two-panel pictures (``compare`` with a baseline, ``incident``)
return both Axes as an array. Figures are made with pyplot, so they show
inline in Jupyter; no backend is chosen here (set ``MPLBACKEND=Agg`` for files
only). ``save(ax, path)`` writes any of them. Bad input raises
``hasim.ConfigError`` naming the function, the parameter, what is allowed and
the value. Intervals are the 95 % Student-t intervals of the experiment's
``summary()``; times are seconds in the data and shown in the unit that reads
best (``unit="auto"``).
"""

from __future__ import annotations

from hasim.plot._common import save
from hasim.plot.experiments import availability_curve, compare
from hasim.plot.latency import latency_cdf, recovery_breakdown
from hasim.plot.staleness import staleness_curve
from hasim.plot.timeline import incident, timeline

__all__ = [
    "availability_curve",
    "compare",
    "timeline",
    "incident",
    "latency_cdf",
    "recovery_breakdown",
    "staleness_curve",
    "save",
]
