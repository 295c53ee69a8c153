"""PBS's WARS model integrated numerically (hasim.analytic.staleness), checked three ways: the
exponential closed form ``t_visibility``, an independent scipy quadrature for N=3, R=W=1 with
four exponential rates, and Monte Carlo sampling of the model for other distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

import hasim as hs
from hasim.analytic.staleness import (
    t_visibility,
    wars_consistency,
    wars_monte_carlo,
    wars_visibility,
)
from hasim.replication.quorum import WARS

E = hs.Exponential
#: Four different rates: W 100/s, A 500/s, R 250/s, S 1000/s.
RATES = {"write": 100.0, "ack": 500.0, "read": 250.0, "response": 1000.0}
EXP4 = WARS(**{k: E(rate=v) for k, v in RATES.items()})


def _hypo_survival(a: float, b: float):
    """P(X + Y > x) for independent exponentials of rates a != b."""
    return lambda x: (b * math.exp(-a * x) - a * math.exp(-b * x)) / (b - a)


def _quad_stale(t: float) -> float:
    """P(stale) of N=3, R=W=1, reads to all, by scipy quadrature, written out independently.

    With G(x) = exp(-w x): P = 3 exp(-w t) E[exp(-w c)] E[exp(-w R) P(L > R + S)**2], where
    c = min of two W + A (the other replicas' acknowledgements) and L = R + S.
    """
    w, a, r, s = (RATES[k] for k in ("write", "ack", "read", "response"))
    d = _hypo_survival(w, a)
    ec = 1.0 - w * integrate.quad(lambda x: math.exp(-w * x) * d(x) ** 2, 0, np.inf)[0]
    surv = _hypo_survival(r, s)

    def inner(y: float, x: float) -> float:
        return r * math.exp(-r * x) * s * math.exp(-s * y) * math.exp(-w * x) * surv(x + y) ** 2

    read = integrate.dblquad(inner, 0, np.inf, 0, np.inf, epsabs=1e-12)[0]
    return 3.0 * math.exp(-w * t) * ec * read


@pytest.mark.parametrize(
    "n, r, w, fanout",
    [(3, 1, 1, "all"), (5, 2, 2, "all"), (5, 2, 1, "quorum"), (3, 1, 1, "quorum")],
)
def test_the_integration_reduces_to_the_exponential_closed_form(n, r, w, fanout):
    """W exponential, R the same, A = S = 0: ``t_visibility``'s closed form, to 1e-5."""
    mean = 0.01
    wars = WARS(write=E(mean=mean), read=E(mean=mean))
    gaps = [0.0, 0.001, 0.008]
    got = 1.0 - wars_consistency(n, r, w, wars, gaps, fanout=fanout)
    want = [t_visibility(n, r, w, t, mean, fanout=fanout) for t in gaps]
    assert got == pytest.approx(want, abs=1e-5)


def test_four_exponential_rates_match_an_independent_scipy_quadrature():
    """N=3, R=W=1, reads to all, W, A, R, S exponential of rates 100, 500, 250, 1000 /s:
    the grid integration agrees with the scipy quadrature to 1e-5 at t = 0, 2, 10 ms."""
    gaps = [0.0, 0.002, 0.010]
    got = wars_consistency(3, 1, 1, EXP4, gaps)
    want = [1.0 - _quad_stale(t) for t in gaps]
    assert got == pytest.approx(want, abs=1e-5)
    assert 0.45 < got[0] < 0.55  # a partial quorum: about half the reads at once are stale


def test_visibility_percentiles_invert_the_curve():
    """With an exponential W and R = 1, P(stale at t) = P(stale at 0) exp(-w t), so the t at
    which P(consistent) reaches p is ln(P(stale at 0) / (1 - p)) / w."""
    stale0 = _quad_stale(0.0)
    for p in (0.9, 0.99, 0.999):
        want = math.log(stale0 / (1.0 - p)) / RATES["write"]
        assert wars_visibility(3, 1, 1, EXP4, p) == pytest.approx(want, rel=1e-3)
    assert wars_visibility(3, 1, 1, EXP4, 0.3) == 0.0  # already at t = 0
    assert wars_visibility(3, 2, 2, EXP4, 0.999) == 0.0  # a strict quorum


OTHER = WARS(
    write=hs.LogNormal(median=0.004, sigma=0.8),
    ack=hs.Gamma(shape=2.0, mean=0.002),
    read=hs.Weibull(shape=1.5, mean=0.003),
    response=hs.Uniform(0.0005, 0.002),
)


@pytest.mark.parametrize(
    "n, r, w, fanout", [(5, 2, 2, "all"), (5, 1, 2, "quorum"), (3, 1, 1, "all")]
)
def test_other_distributions_match_monte_carlo(n, r, w, fanout):
    """Lognormal W, gamma A, Weibull R, uniform S: the integration lies within 3.9 binomial
    standard errors (a 99.99 % normal interval) of 200,000 sampled operations, at 0 and 3 ms."""
    samples = 200_000
    for t in (0.0, 0.003):
        want = wars_monte_carlo(n, r, w, OTHER, t, np.random.default_rng(7), samples=samples,
                                fanout=fanout)  # fmt: skip
        got = wars_consistency(n, r, w, OTHER, t, fanout=fanout)
        se = math.sqrt(want * (1.0 - want) / samples)
        assert abs(got - want) <= 3.9 * se, (t, got, want, se)


def test_shape_monotony_and_strict_quorums():
    """An array of t gives an array; P(consistent) grows with t; R + W > N is always 1."""
    gaps = np.linspace(0.0, 0.05, 6)
    curve = wars_consistency(5, 1, 1, EXP4, gaps)
    assert curve.shape == (6,) and np.all(np.diff(curve) > 0)
    assert wars_consistency(3, 2, 2, EXP4, 0.0) == 1.0
    assert isinstance(wars_consistency(3, 1, 1, EXP4, 0.0), float)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: wars_consistency(3, 1, 1, "fast"), r"^wars_consistency: wars must be a WARS"),
        (lambda: wars_consistency(3, 4, 1, EXP4), r"^wars_consistency: r must be an integer in"),
        (lambda: wars_consistency(3, 1, 1, EXP4, -1.0), r"t must be seconds >= 0"),
        (lambda: wars_consistency(3, 1, 1, EXP4, fanout="any"), r"fanout must be"),
        (lambda: wars_consistency(3, 1, 1, EXP4, points=4), r"points must be an integer >= 16"),
        (lambda: wars_visibility(3, 1, 1, EXP4, 1.0), r"^wars_visibility: p must be a proba"),
        (lambda: wars_monte_carlo(3, 1, 1, EXP4, 0.0, 7), r"rng must be a numpy.random.Gen"),
        (lambda: WARS(write=-1), r"^WARS: write must be a Distribution"),
    ],
)
def test_bad_arguments_are_refused(call, match):
    """Every argument is checked, with the one error style."""
    with pytest.raises(hs.ConfigError, match=match):
        call()
