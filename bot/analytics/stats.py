"""Small, exact statistics for the tallies: Student-t quantiles, Wilson intervals, rates.

The t quantile comes from the regularized incomplete beta function, since for T ~ t(ν)
``P(|T| > t) = I_x(ν/2, 1/2)`` with ``x = ν / (ν + t²)``: the incomplete beta is evaluated by
its continued fraction (Lentz's method); the quantile starts from the Cornish-Fisher expansion
and is polished by Newton steps on that exact distribution function (below ν = 3 the incomplete
beta is inverted directly; from ν = 200 the expansion alone is within 1e-10). It holds to about
1e-12 for every real ν > 0 (tests/test_stats.py checks it against published quantiles, the
closed forms for ν = 1 and 2, and an arbitrary-precision oracle), so a few dozen lines replace
a table with gaps and a heavy dependency (SciPy) for one function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

CONFIDENCE = 0.95
Z95 = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)  # 1.959963984540054
MIN_ANSWERS_FOR_MEAN = 5  # default of [tallies] min_answers


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 ≤ x ≤ 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b))
    # the continued fraction converges fast for x < (a + 1) / (a + b + 2); else use symmetry
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def betaincinv(a: float, b: float, y: float) -> float:
    """The x with I_x(a, b) = y (0 < y < 1): bisection-safeguarded Newton steps."""
    if y <= 0.0:
        return 0.0
    if y >= 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    log_b = _log_beta(a, b)
    # a start from the dominant term of the series near 0 (I_x ≈ x^a / (a B(a, b)))
    x = min(0.5, math.exp((math.log(y * a) + log_b) / a))
    for _ in range(200):
        f = betainc(a, b, x) - y
        if f == 0.0:
            return x
        if f < 0.0:
            lo = x
        else:
            hi = x
        dens = math.exp((a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x) - log_b)
        nxt = x - f / dens if dens > 0.0 else -1.0
        if not lo < nxt < hi:
            nxt = (lo + hi) / 2.0  # Newton left the bracket: bisect
        if abs(nxt - x) <= 1e-17 * max(x, 1e-300) or hi - lo <= 1e-300:
            return nxt
        x = nxt
    return x


def _t_pdf(t: float, df: float) -> float:
    return math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)
                    - 0.5 * math.log(df * math.pi) - (df + 1) / 2 * math.log1p(t * t / df))


def _cornish_fisher(z: float, df: float) -> float:
    """t ≈ z + corrections in 1/ν (a starting point only; Newton makes it exact)."""
    z2 = z * z
    g1 = (z2 + 1) * z / 4
    g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` (> 0, real) degrees of freedom."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if p == 0.5:
        return 0.0
    if math.isinf(df):
        return NormalDist().inv_cdf(p)
    q = max(p, 1.0 - p)
    if df >= 200 and q <= 0.999:
        # the expansion alone is within 1e-10 (relative) here; the exact polish would cost a
        # slow continued fraction per distinct df (tests/test_stats.py checks the bound)
        t = _cornish_fisher(NormalDist().inv_cdf(q), df)
    elif df >= 3:
        # Cornish-Fisher start, then Newton on the exact distribution function
        t = _cornish_fisher(NormalDist().inv_cdf(q), df)
        for _ in range(8):
            step = (t_cdf(t, df) - q) / _t_pdf(t, df)
            t -= step
            if abs(step) <= 1e-15 * t:
                break
    else:
        # heavy tails: invert the incomplete beta directly (P(|T| > t) = I_x(ν/2, 1/2))
        x = betaincinv(df / 2.0, 0.5, 2.0 * (1.0 - q))
        t = math.sqrt(df * (1.0 - x) / x) if x > 0 else math.inf
    return t if p > 0.5 else -t


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(df):
        return NormalDist().cdf(t)
    x = df / (df + t * t)
    tail = betainc(df / 2.0, 0.5, x) / 2.0
    return 1.0 - tail if t > 0 else tail


def t95(df: float) -> float:
    """Two-sided 95 % Student-t critical value (inf for df ≤ 0: no interval)."""
    if df <= 0:
        return math.inf
    return t_quantile(0.5 + CONFIDENCE / 2, float(df))


def wilson(successes: int, n: int) -> tuple[float, float] | None:
    """95 % Wilson score interval of a proportion (sound for small n and rates near 0 or 1)."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_sd(distribution: dict[int, int]) -> tuple[int, float | None, float | None]:
    """n, mean and sample standard deviation of a 1–5 distribution (None when undefined)."""
    n = sum(distribution.values())
    if n == 0:
        return 0, None, None
    m = sum(k * v for k, v in distribution.items()) / n
    if n < 2:
        return n, m, None
    ss = sum(v * (k - m) ** 2 for k, v in distribution.items())
    return n, m, math.sqrt(ss / (n - 1))


def mean_ci(n: int, mean: float | None, sd: float | None,
            lo: float = 1.0, hi: float = 5.0) -> tuple[float, float] | None:
    """95 % t interval of a mean, clipped to the scale."""
    if mean is None or sd is None or n < 2:
        return None
    half = t95(n - 1) * sd / math.sqrt(n)
    return max(lo, mean - half), min(hi, mean + half)


def welch_diff(a: tuple[int, float | None, float | None],
               b: tuple[int, float | None, float | None]) -> tuple[float, float, float] | None:
    """Difference of two means (a − b) with its 95 % Welch interval, from (n, mean, sd) each.

    None when either side has too little to say (fewer than two answers).
    """
    (na, ma, sa), (nb, mb, sb) = a, b
    if ma is None or mb is None or sa is None or sb is None or na < 2 or nb < 2:
        return None
    va, vb = sa * sa / na, sb * sb / nb
    diff = ma - mb
    se = math.sqrt(va + vb)
    if se == 0.0:
        return diff, diff, diff
    df = (va + vb) ** 2 / ((va * va) / (na - 1) + (vb * vb) / (nb - 1))
    half = t95(df) * se
    return diff, diff - half, diff + half


def rate_diff(a: tuple[int, int], b: tuple[int, int]) -> tuple[float, float, float] | None:
    """Difference of two proportions (a − b) with Newcombe's 95 % interval (hybrid Wilson)."""
    (xa, na), (xb, nb) = a, b
    wa, wb = wilson(xa, na), wilson(xb, nb)
    if wa is None or wb is None:
        return None
    pa, pb = xa / na, xb / nb
    d = pa - pb
    lo = d - math.sqrt((pa - wa[0]) ** 2 + (wb[1] - pb) ** 2)
    hi = d + math.sqrt((wa[1] - pa) ** 2 + (pb - wb[0]) ** 2)
    return d, lo, hi


def rnd(x: float | None, nd: int = 4) -> float | None:
    """Round for publication (None stays None)."""
    return None if x is None else round(x, nd)


@dataclass
class Rate:
    """A share with its 95 % interval; ``value`` is None below the fairness threshold."""

    num: int
    den: int
    min_n: int = MIN_ANSWERS_FOR_MEAN
    hidden: bool | None = None  # set by suppression; None: decided by min_n alone

    @property
    def shown(self) -> bool:
        """Enough cases to show the rate (and not hidden to protect another group)."""
        if self.hidden is not None:
            return not self.hidden and self.den > 0
        return self.den >= self.min_n and self.den > 0

    @property
    def value(self) -> float | None:
        """num / den, or None when hidden."""
        return self.num / self.den if self.shown else None

    @property
    def ci(self) -> tuple[float, float] | None:
        """95 % Wilson interval, or None when hidden."""
        return wilson(self.num, self.den) if self.shown else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the numerator only when shown)."""
        ci = self.ci
        return {"num": self.num if self.shown else None, "den": self.den,
                "value": rnd(self.value), "ci": [rnd(ci[0]), rnd(ci[1])] if ci else None}
