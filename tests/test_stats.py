"""The statistics behind every interval: Student-t quantiles for every df, Wilson, Welch.

Quantiles are checked against published tables (to the digits printed there), the closed
forms for one and two degrees of freedom, the normal limit, and an arbitrary-precision oracle
(mpmath, a test-only dependency) at random real degrees of freedom.
"""

from __future__ import annotations

import math

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.analytics import stats
from bot.analytics.stats import betainc, t95, t_cdf, t_quantile, welch_diff, wilson

# two-sided 95 % critical values t_{0.975}(df), published to 10 significant digits
T975 = {
    1: 12.70620474, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105, 5: 2.570581836,
    6: 2.446911851, 7: 2.364624252, 8: 2.306004135, 9: 2.262157163, 10: 2.228138852,
    11: 2.200985160, 12: 2.178812830, 13: 2.160368656, 14: 2.144786688, 15: 2.131449546,
    16: 2.119905299, 17: 2.109815578, 18: 2.100922040, 19: 2.093024054, 20: 2.085963447,
    21: 2.079613845, 22: 2.073873068, 23: 2.068657610, 24: 2.063898562, 25: 2.059538553,
    26: 2.055529439, 27: 2.051830516, 28: 2.048407142, 29: 2.045229642, 30: 2.042272456,
    40: 2.021075390, 50: 2.008559112, 60: 2.000297822, 80: 1.990063421, 100: 1.983971519,
    120: 1.979930405, 200: 1.971896224, 500: 1.964719837,
    1000: 1.962339081,
}
# other quantiles (one-sided 0.95, two-sided 0.99 and 0.999)
OTHER = [(0.95, 1, 6.313751515), (0.95, 10, 1.812461123), (0.95, 30, 1.697260887),
         (0.995, 1, 63.65674116), (0.995, 5, 4.032142984), (0.995, 30, 2.749995654),
         (0.9995, 1, 636.6192487), (0.9995, 10, 4.586893859), (0.9995, 100, 3.390491311)]


@pytest.mark.parametrize(("df", "expected"), sorted(T975.items()))
def test_t975_matches_the_published_table_for_every_tabulated_df(df: int,
                                                                 expected: float) -> None:
    assert t95(df) == pytest.approx(expected, rel=2e-9)
    assert t_quantile(0.025, df) == pytest.approx(-expected, rel=2e-9)


@pytest.mark.parametrize(("p", "df", "expected"), OTHER)
def test_other_quantiles(p: float, df: int, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, rel=2e-9)


def test_df_twelve_is_no_longer_a_neighbours_value() -> None:
    # the old table jumped from 10 to 12 and 15: n = 13 (df 12) used 2.179 and df 13 used 2.179
    assert t95(12) == pytest.approx(2.178812830, abs=1e-9)
    assert t95(13) == pytest.approx(2.160368656, abs=1e-9)
    assert t95(121) > stats.Z95  # not the normal quantile above 120


@given(st.floats(min_value=0.5005, max_value=0.9999))
def test_closed_forms_for_one_and_two_degrees_of_freedom(p: float) -> None:
    cauchy = math.tan(math.pi * (p - 0.5))
    assert t_quantile(p, 1) == pytest.approx(cauchy, rel=1e-10)
    two = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    assert t_quantile(p, 2) == pytest.approx(two, rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=0.3, max_value=5000.0),
       st.sampled_from([0.9, 0.95, 0.975, 0.99, 0.995, 0.999]))
def test_against_arbitrary_precision_oracle(df: float, p: float) -> None:
    mpmath.mp.dps = 30
    t = t_quantile(p, df)
    # the oracle: P(T <= t) from mpmath's incomplete beta, which must be p
    x = mpmath.mpf(df) / (df + mpmath.mpf(t) ** 2)
    cdf = 1 - mpmath.betainc(df / 2, 0.5, 0, x, regularized=True) / 2
    dens = mpmath.gamma((df + 1) / 2) / (mpmath.sqrt(df * mpmath.pi) * mpmath.gamma(df / 2)) \
        * (1 + mpmath.mpf(t) ** 2 / df) ** (-(df + 1) / 2)
    # error in t = error in the cdf / density
    assert abs(float((cdf - p) / dens)) <= 1e-9 * t


@given(st.floats(min_value=-30, max_value=30), st.floats(min_value=0.5, max_value=300))
def test_cdf_inverts_the_quantile(t: float, df: float) -> None:
    p = t_cdf(t, df)
    if 1e-9 < p < 1 - 1e-9:
        assert t_quantile(p, df) == pytest.approx(t, rel=1e-7, abs=1e-7)


def test_normal_limit_and_bad_arguments() -> None:
    assert t95(10**7) == pytest.approx(stats.Z95, rel=1e-6)
    assert t_quantile(0.975, math.inf) == pytest.approx(1.959963985, rel=1e-9)
    assert t95(0) == math.inf
    with pytest.raises(ValueError, match="p must be"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile(0.9, 0)


@given(st.floats(0.1, 50), st.floats(0.1, 50), st.floats(0, 1))
def test_incomplete_beta_against_oracle(a: float, b: float, x: float) -> None:
    expected = float(mpmath.betainc(a, b, 0, x, regularized=True))
    assert betainc(a, b, x) == pytest.approx(expected, abs=1e-10)


def test_wilson_and_welch_by_hand() -> None:
    lo, hi = wilson(3, 6) or (0, 0)
    assert (lo, hi) == (pytest.approx(0.18761, abs=1e-5), pytest.approx(0.81239, abs=1e-5))
    assert wilson(0, 0) is None
    # Welch: n 6, mean 4, sd sqrt(8/5) against n 3, mean 13/3, sd sqrt(1/3)
    out = welch_diff((6, 4.0, math.sqrt(1.6)), (3, 13 / 3, math.sqrt(1 / 3)))
    assert out is not None
    d, lo, hi = out
    va, vb = 1.6 / 6, (1 / 3) / 3
    df = (va + vb) ** 2 / (va**2 / 5 + vb**2 / 2)
    half = t_quantile(0.975, df) * math.sqrt(va + vb)
    assert d == pytest.approx(-1 / 3) and lo == pytest.approx(d - half)
    assert hi == pytest.approx(d + half)
    assert welch_diff((1, 4.0, None), (3, 4.0, 1.0)) is None
