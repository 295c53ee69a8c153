"""``hasim validate``: the packaged suite passes in quick mode, and its judge is honest.

The quick run is the one ``hasim validate`` makes (about 25 s on two cores); the full one
(``hasim validate --full``) is run by hand for releases and committed as VALIDATION.md.
"""

import pytest

from hasim.validation import CASES, Case, validate
from hasim.validation.suite import Report, Row, seed_of


@pytest.fixture(scope="module")
def quick():
    return validate("quick", workers=2)


def test_the_quick_suite_passes_with_honest_coverage(quick):
    """Every case within its 99.9 % interval at its stated precision, and no more 95 % misses
    than a binomial test at 1 % allows."""
    table = quick.table()
    assert list(table["case"]) == [c.name for c in CASES]
    assert (table["verdict"] != "FAIL").all(), table[table["verdict"] == "FAIL"]
    assert (table["half_width"] <= table["precision"]).all()
    assert quick.passed, quick.to_text()


def test_the_markdown_report_holds_every_case_and_the_coverage_line(quick):
    text = quick.to_markdown()
    assert text.startswith("# Validation: the simulator against theory")
    assert all(f"| {c.name} |" in text for c in CASES)
    assert "Coverage honesty" in text and "PASSED" in text


def _row(values, theory, rel=0.5):
    case = Case("x", "g", "q", "f", lambda: theory, lambda s, h: 0.0, (1, 1), (rel, rel))
    return Row(case, theory, dict(enumerate(values)))


def test_the_verdicts_separate_chance_from_bias():
    """Mean 1.0, standard error 0.1 (10 values, s = 0.316): theory 1.1 is inside the 95 %
    interval (t = 2.26: +-0.226); 1.3 misses it but is inside the 99.9 % one (t = 4.78:
    +-0.478); 1.6 is a failure; so is any interval wider than the precision asked."""
    values = [1.0 + (0.3 if i % 2 else -0.3) for i in range(10)]
    assert _row(values, 1.1).verdict(0.5) == "pass"
    assert _row(values, 1.3).verdict(0.5) == "miss"
    assert _row(values, 1.6).verdict(0.5) == "FAIL"
    assert _row(values, 1.1).verdict(0.1) == "FAIL"  # half-width 0.226 > 10 % of 1.1


def test_too_many_misses_fail_the_suite_even_when_each_is_only_a_miss():
    """20 cases at 95 %: 4 misses are still chance at the 1 % level (P(>= 4) = 0.016); 5 are
    too many (P(>= 5) = 0.0026)."""
    values = [1.0 + (0.3 if i % 2 else -0.3) for i in range(10)]

    def report(misses):
        rows = [_row(values, 1.3 if i < misses else 1.0) for i in range(20)]
        return Report("quick", rows, wall=1.0, workers=1)

    assert report(0).passed and report(4).passed
    assert report(4).allowed_misses == 4
    assert not report(5).passed
    assert report(5).coverage_p == pytest.approx(0.0026, abs=2e-4)


def test_cases_draw_independent_seeds():
    seeds = {seed_of(c.name, r) for c in CASES for r in range(300)}
    assert len(seeds) == 300 * len(CASES)


def test_unknown_cases_and_modes_are_refused():
    import hasim as hs

    with pytest.raises(hs.ConfigError, match=r"validate: cases must be names of cases"):
        validate(cases=["no-such-case"])
    with pytest.raises(hs.ConfigError, match=r"validate: mode must be 'quick' or 'full'"):
        validate("slow")
