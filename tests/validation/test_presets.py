"""The health-check presets against their closed forms: mean time to detect a failure.

Method: ``stats.py`` (independent replications, seeds ``1..R``, 99.9 % Student-t intervals of
the replications' mean, and a precision bound ``rel`` on the half-width), as in
``test_detection.py``, whose derivations these tests reuse. Each preset is the check of a real
control plane (``HealthCheck.preset``); the simulation uses it exactly as the preset gives it,
``jitter=True`` included.

Two failures, two formulas (``hasim.analytic.detection.check_detection_time``):

* a *crash* (the process died, the host answers "connection refused" at once): every probe
  after the crash fails on the spot, so ``TTD = (N - 1) I + U I`` with ``U ~ Uniform(0, 1]``,
  mean ``(N - 1/2) I``; the probe timeout plays no part;
* a *hang* (the host is gone, or the process stalls: no answer at all): probes fail only when
  their timeout ``T`` expires, ``TTD = (N - 1) I + T + U I``, mean ``(N - 1/2) I + T``.

Jitter: ``HealthCheck(jitter=True)`` draws only the phase of each target's first probe; every
later interval is exactly ``I``, so the mean interval, and the formulas, are unchanged. (Envoy's
``interval_jitter``, which would lengthen every interval, is not part of any preset.) The crash
phase is exactly uniform within the probe cycle because the failure times are
``Uniform(20 I, 40 I)``, whose width is a whole number of intervals (``test_detection.py``).

Plans are in units of the preset's interval, so every preset costs the same: quick, 8 runs of
1,000 intervals (8 targets, about 240 detections per run; 99.9 % half-width 0.5-1.5 % of the
mean); slow, 30 runs of 20,000 intervals (half-width under 0.2 %).
"""

from __future__ import annotations

import numpy as np
import pytest

import hasim as hs
from hasim.analytic.detection import check_detection_time

from .stats import Plan, check, t_interval, variants
from .test_detection import TARGETS, crash_onsets, first_verdicts, hanging_targets

#: In units of the preset's interval (scaled by ``_scaled``).
PLANS = variants(
    quick=Plan(replications=8, horizon=1_000.0, warmup=50.0, rel=0.05),
    slow=Plan(replications=30, horizon=20_000.0, warmup=50.0, rel=0.01),
)


def _distinct_cases() -> list:
    """(preset, hung) pairs, one per distinct formula input: a crash depends on ``(I, N)`` only,
    a hang on ``(I, N, T)``, so presets that share them (ALB and NLB crashes, the two Kubernetes
    probes) are run once, under all their names."""
    cases: dict[tuple, list[str]] = {}
    for name in hs.HealthCheck.presets():
        hc = hs.HealthCheck.preset(name)
        for hung in (False, True):
            key = (hung, hc.interval, hc.unhealthy_after) + ((hc.timeout,) if hung else ())
            cases.setdefault(key, []).append(name)
    return [pytest.param(names[0], key[0], id="+".join(names) + ("-hang" if key[0] else "-crash"))
            for key, names in cases.items()]  # fmt: skip


def _scaled(plan: Plan, interval: float) -> Plan:
    return Plan(plan.replications, plan.horizon * interval, plan.warmup * interval, plan.rel)


def crash_run(seed: int, plan: Plan, hc: hs.HealthCheck) -> list[float]:
    """Servers that crash (refusing probes at once) behind a balancer checking with ``hc``.

    TTF ``Uniform(20 I, 40 I)`` (uniform phase), TTR ``(N + 1) I`` (every crash is detected
    before its repair; the healthy threshold is met long before the next crash).
    """
    i, n = hc.interval, hc.unhealthy_after
    sim = hs.Simulation(seed=seed, record="aggregate")
    failures = hs.Failures(ttf=hs.Uniform(20 * i, 40 * i), ttr=hs.Deterministic((n + 1) * i))
    web = [hs.Server(sim, f"web{k}", failures=failures) for k in range(TARGETS)]
    hs.LoadBalancer(sim, "lb", backends=web, health_check=hc)
    result = sim.run(until=plan.horizon, warmup=plan.warmup)
    onsets = crash_onsets(result, {s.name for s in web})
    end = plan.horizon - (n + 1) * i
    return [ttd for (_, t, _), ttd in zip(onsets, first_verdicts(result.detections, onsets),
                                          strict=True) if t < end]  # fmt: skip


def hang_run(seed: int, plan: Plan, hc: hs.HealthCheck) -> list[float]:
    """Servers that hang (answer nothing) for ``(N + 2) I + T`` every ``Uniform(20 I, 40 I)``.

    As ``test_detection.hung_run``: a hang is a slowdown by 1e9 (the probe in service keeps the
    service time it drew and succeeds), cleared by a crash and an immediate restart.
    """
    return hanging_targets(seed, plan, hc)[1]


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize(("name", "hung"), _distinct_cases())
def test_a_presets_mean_time_to_detect_matches_its_closed_form(name, hung, plan):
    """Mean TTD of each preset: ``(N - 1/2) I`` for a crash, ``(N - 1/2) I + T`` for a hang.

    Checked: every TTD within ``[(N - 1) I, N I]`` (+ ``T`` for a hang), and the 99.9 %
    t-interval of the replications' mean TTD covers the closed form and is narrower than
    ``rel`` of it.
    """
    hc = hs.HealthCheck.preset(name)
    scaled = _scaled(plan, hc.interval)
    low, high = hc.detection_bounds()
    if hung:
        low, high = low + hc.timeout, high + hc.timeout
    means = []
    for seed in scaled.seeds:
        ttd = np.array((hang_run if hung else crash_run)(seed, scaled, hc))
        assert ttd.size > 50 and not np.isnan(ttd).any()
        assert (ttd >= low - 1e-9).all() and (ttd <= high + 1e-9).all(), (ttd.min(), ttd.max())
        means.append(ttd.mean())
    theory = check_detection_time(hc, hung=hung)
    kind = "hang" if hung else "crash"
    check(f"TTD {kind}, preset {name} (I={hc.interval:g} N={hc.unhealthy_after} "
          f"T={hc.timeout:g})", t_interval(means), theory, scaled.rel)  # fmt: skip
