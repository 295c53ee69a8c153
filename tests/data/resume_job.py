"""An experiment that writes every run to a directory: killed and resumed by the tests.

``python resume_job.py OUT_DIR`` runs it serially into ``OUT_DIR``;
``tests/test_experiment_resume.py`` kills it part-way through (SIGKILL) and reruns the same
experiment in-process, taking it from ``make_experiment`` here so that both define the very
same runs. Each run is ``single_server`` under 3 requests/s for 10 simulated hours (about
100,000 requests, 0.2-0.3 s), so the test can see the first run files appear and kill the
process long before the last one.

``trickle`` is a workload given as a function, for the test that resumes such an experiment
in another process (it imports this file as the module ``resume_job`` in both).
"""

from __future__ import annotations

import sys

import hasim as hs

#: Replications in the experiment (one design point).
REPS = 6


def trickle(sim: hs.Simulation, entry: hs.Server) -> None:
    """A workload given as a function: 0.2 requests/s to the entry service."""
    hs.OpenLoop(sim, "users", target=entry, rate=0.2)


def make_experiment(reps: int = REPS, workload=None) -> hs.Experiment:
    """The experiment, with ``reps`` replications (the settings do not depend on it).

    Args:
        reps: replications.
        workload: None for the default, 3 requests/s, or another workload.
    """
    return hs.Experiment(
        {"web": "single_server"},
        params={"mttf": 3600.0, "mttr": 600.0},
        workload={"rate": 3.0} if workload is None else workload,
        horizon="10h",
        warmup="10min",
        reps=reps,
        seed=7,
    )


if __name__ == "__main__":
    make_experiment().run(executor="serial", out=sys.argv[1], progress=False)
