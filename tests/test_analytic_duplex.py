"""The duplex with imperfect coverage: the active-passive chain against closed forms.

``active_passive_chain(..., coverage_on="any")`` lets every member's failure be uncovered
(``ActivePassive(coverage_on="any")``), ``"active"`` only the active member's. With instant
detection and switchover the chain is the classic duplex with imperfect coverage (Trivedi,
*Probability and Statistics with Reliability, Queuing and Computer Science Applications*,
2nd ed., Wiley 2002), whose mean time to failure from both up is the published
``(lam (1 + 2c) + mu) / (2 lam (lam + mu (1 - c)))``; its steady-state availability is
``duplex_availability`` (flow balance, a crew per unit), also checked against a seven-state
chain built here by hand. "Instant" phases are rates 1e9 times the others, so the chain
agrees with the closed forms to about 1e-7 relative, not to the last digit.
"""

import pytest

from hasim import ConfigError
from hasim.analytic import CTMC, active_passive_chain, duplex_availability, parallel

MTTF, MTTR = 200.0, 40.0
LAM, MU = 1 / MTTF, 1 / MTTR
COVERAGES = [0.0, 0.3, 0.8, 0.99, 1.0]
#: States in which a pair with instant phases has not failed yet: a covered failover's
#: detection and switchover (``Det``, ``Sw``) last no time, an uncovered one goes on to ``F``.
NOT_FAILED = {"0", "S1u", "S1", "Det", "Sw"}


def mttf_to_first_outage(chain: CTMC) -> float:
    return chain.mean_time_to([s for s in chain.states if s not in NOT_FAILED], "0")


@pytest.mark.parametrize("c", COVERAGES)
def test_the_duplex_mean_time_to_failure_is_the_published_closed_form(c):
    """With "any": from both up, 2 lam c to one up, 2 lam (1 - c) to an outage; one up: mu
    back, lam to an outage. "active": only the active member's failure (rate lam) can be uncovered,
    which gives (lam (2 + c) + mu) / (lam (2 lam + mu (1 - c))) by the same first-step
    analysis."""
    chain, _ = active_passive_chain(MTTF, MTTR, coverage=c, coverage_on="any")
    trivedi = (LAM * (1 + 2 * c) + MU) / (2 * LAM * (LAM + MU * (1 - c)))
    assert mttf_to_first_outage(chain) == pytest.approx(trivedi, rel=1e-5)
    chain, _ = active_passive_chain(MTTF, MTTR, coverage=c, coverage_on="active")
    one_sided = (LAM * (2 + c) + MU) / (LAM * (2 * LAM + MU * (1 - c)))
    assert mttf_to_first_outage(chain) == pytest.approx(one_sided, rel=1e-5)


def duplex_by_hand(c: float, any_unit: bool) -> float:
    """The duplex with instant phases written directly: 0 both up, S one up (serving),
    F / H one up but the pair down after an uncovered failure of the active / the standby,
    B, BF, HB both down (after a covered state, after F, after H)."""
    uncovered_standby = LAM * (1 - c) if any_unit else 0.0
    rates = {
        ("0", "S"): LAM * c + LAM - uncovered_standby,
        ("0", "F"): LAM * (1 - c),
        ("0", "H"): uncovered_standby,
        ("S", "0"): MU,
        ("S", "B"): LAM,
        ("B", "S"): MU + MU * c,  # the active repaired, or the other and promoted
        ("B", "F"): MU * (1 - c),
        ("F", "0"): MU,
        ("F", "BF"): LAM,
        ("BF", "S"): MU,
        ("BF", "F"): MU,
        ("H", "0"): MU,
        ("H", "HB"): LAM,
        ("HB", "H"): MU,  # the active repaired: still waiting for the standby
        ("HB", "S"): MU * c,  # the standby repaired: a failover, covered or not
        ("HB", "F"): MU * (1 - c),
    }
    return CTMC(["0", "S", "B", "F", "BF", "H", "HB"], rates).availability(["0", "S"])


@pytest.mark.parametrize("coverage_on", ["any", "active"])
@pytest.mark.parametrize("c", COVERAGES)
def test_the_availability_is_the_flow_balance_closed_form(c, coverage_on):
    closed = duplex_availability(MTTF, MTTR, c, coverage_on)
    assert duplex_by_hand(c, coverage_on == "any") == pytest.approx(closed, rel=1e-12)
    chain, up = active_passive_chain(MTTF, MTTR, coverage=c, coverage_on=coverage_on)
    assert chain.availability(up) == pytest.approx(closed, rel=1e-7)


def test_full_coverage_is_the_parallel_pair_and_less_coverage_costs_more_when_any_unit():
    a = MTTF / (MTTF + MTTR)
    for mode in ("any", "active"):
        assert duplex_availability(MTTF, MTTR, 1.0, mode) == pytest.approx(parallel(a, a), 1e-12)
    for c in COVERAGES[:-1]:
        assert duplex_availability(MTTF, MTTR, c, "any") < duplex_availability(
            MTTF, MTTR, c, "active"
        )


def test_with_detection_and_switchover_full_coverage_on_any_unit_is_the_active_chain():
    """c = 1: "any" only adds the standby's (covered) detection; the one difference is a
    both-down state whose active waits for the standby's detection, of mass ~ (lam D)^2."""
    phases = {"detection": 1.0, "switchover": 10.0}
    chain, up = active_passive_chain(MTTF, MTTR, coverage=1.0, coverage_on="any", **phases)
    base, base_up = active_passive_chain(MTTF, MTTR, coverage=1.0, **phases)
    assert base_up == {"0", "S1"} and up == {"0", "S1", "S1u"}
    assert 1 - chain.availability(up) == pytest.approx(1 - base.availability(base_up), rel=1e-3)
    # and with c < 1 the standby's uncovered failures show: clearly more downtime
    worse, up = active_passive_chain(MTTF, MTTR, coverage=0.8, coverage_on="any", **phases)
    half, base_up = active_passive_chain(MTTF, MTTR, coverage=0.8, **phases)
    assert 1 - worse.availability(up) > 1.2 * (1 - half.availability(base_up))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: active_passive_chain(MTTF, MTTR, coverage_on="standby"),
            "active_passive_chain: coverage_on must be one of 'active', 'any', got 'standby'",
        ),
        (
            lambda: duplex_availability(MTTF, MTTR, 0.9, "all"),
            "duplex_availability: coverage_on must be one of 'active', 'any', got 'all'",
        ),
        (
            lambda: duplex_availability(MTTF, MTTR, 1.2),
            r"duplex_availability: coverage must be a probability in \[0, 1\], got 1.2",
        ),
        (
            lambda: duplex_availability(0, MTTR, 0.9),
            "duplex_availability: mttf must be a number > 0, got 0",
        ),
    ],
)
def test_bad_input_is_refused_with_the_function_parameter_and_value(call, message):
    with pytest.raises(ConfigError, match=message):
        call()
