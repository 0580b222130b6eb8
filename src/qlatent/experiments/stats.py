"""Statistics of a report: mean, standard error and Student-t confidence interval over seeds;
paired tests of two latents over the seeds both finished.

Notation: x_1..x_n the finite values of a metric over n seeds (non-finite ones are counted
apart, never averaged); x̄ their mean; s their sample standard deviation (ddof = 1).

    SE = s / √n,        CI_c = x̄ ± t_{(1+c)/2, n−1} · SE      (Student t, n − 1 dof)

For two latents A and B paired by seed (cells of one seed share the data, the network
initialisation, the training streams and, with ``paired_circuits``, the interferometer):
d_i = A_i − B_i over the common seeds where both values are finite; the mean difference d̄ with
its CI_c (the formula above on d); the paired t-test t = d̄ / (s_d / √n) (two-sided,
``scipy.stats.ttest_rel``); and the Wilcoxon signed-rank test (two-sided,
``scipy.stats.wilcoxon``; zero differences dropped, exact null distribution when at most
``WILCOXON_EXACT_MAX`` non-zero differences remain and their magnitudes have no ties, else the
normal approximation with the tie correction).

The power of a paired comparison: with s_d the standard deviation of the n differences, the
smallest detectable difference δ* is the |mean difference| that a two-sided paired t-test at
level α = 0.05 finds with probability 0.8, were the differences normal with that standard
deviation: P(|T| > t_{1−α/2, n−1}) = 0.8 for T ~ noncentral t(n − 1, δ*√n / s_d). A difference
whose test is not significant is "not resolved at this power" — δ* says what this power is.
Computed from the observed s_d, it is an estimate (the sensitivity of the design that ran),
not a guarantee.

n < 2 leaves SE, CI, t and δ* undefined: they are NaN in the numbers and ``"n/a"`` in the
text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from qlatent._validation import check_float

#: Largest number of non-zero differences for which the Wilcoxon test uses its exact null
#: distribution (2^n sign patterns); beyond, and with tied magnitudes, the normal approximation.
WILCOXON_EXACT_MAX = 50
CONFIDENCE = 0.95
#: Level and power behind the smallest detectable difference of a paired comparison.
ALPHA = 0.05
POWER = 0.8
NOT_AVAILABLE = "n/a"


def format_number(value: float, fmt: str = "{:.4g}") -> str:
    """``fmt.format(value)``, or ``"n/a"`` where ``value`` is NaN or infinite."""
    return fmt.format(value) if math.isfinite(value) else NOT_AVAILABLE


def format_p(p: float) -> str:
    """A p-value with three significant digits (``"n/a"`` where undefined)."""
    if not math.isfinite(p):
        return NOT_AVAILABLE
    return f"{p:.3g}" if p >= 1e-4 else f"{p:.1e}"


def _check_probability(name: str, value: float) -> float:
    value = check_float(name, value, minimum=0.0, maximum=1.0)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    return value


def t_interval(mean: float, se: float, n: int,
               confidence: float = CONFIDENCE) -> tuple[float, float]:
    """``mean ± t_{(1+c)/2, n−1} · se``; ``(nan, nan)`` for n < 2 or a non-finite ``se``."""
    confidence = _check_probability("confidence", confidence)
    if n < 2 or not math.isfinite(se):
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    return mean - half, mean + half


@dataclass(frozen=True)
class Summary:
    """A metric over seeds: mean, standard error, confidence interval, counts.

    Attributes:
        mean: mean of the finite values (NaN when there is none).
        se: standard error s / √n (ddof = 1; NaN for n < 2).
        ci_low, ci_high: the Student-t interval (NaN for n < 2).
        n: number of finite values.
        n_nan: number of values left out because they are NaN or infinite.
        confidence: the interval's confidence level.
    """

    mean: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    n_nan: int = 0
    confidence: float = CONFIDENCE

    def format(self, fmt: str = "{:.4g}", *, ci: bool = False, count: bool = True) -> str:
        """``"mean ± SE"`` (+ ``" [low, high]"`` with ``ci``, + ``" (n=k)"`` with ``count``);
        ``"n/a"`` for what one value cannot give, ``"–"`` for no value, ``"NaN"`` when every
        value was NaN, ``"; j NaN"`` when some were."""
        if self.n == 0:
            return "NaN" if self.n_nan else "–"
        text = f"{fmt.format(self.mean)} ± {format_number(self.se, fmt)}"
        if ci:
            text += (f" [{fmt.format(self.ci_low)}, {fmt.format(self.ci_high)}]"
                     if math.isfinite(self.ci_low) else f" [{NOT_AVAILABLE}]")
        extra = []
        if count:
            extra.append(f"n={self.n}")
        if self.n_nan:
            extra.append(f"{self.n_nan} NaN")
        return text + (f" ({'; '.join(extra)})" if extra else "")


def summarize(values: Iterable[float], *, confidence: float = CONFIDENCE) -> Summary:
    """Mean, SE (ddof = 1) and Student-t confidence interval of the finite ``values``."""
    x = np.asarray(list(values), dtype=np.float64).ravel()
    finite = x[np.isfinite(x)]
    n = int(finite.size)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, math.nan, 0, int(x.size), confidence)
    mean = float(finite.mean())
    se = float(finite.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    low, high = t_interval(mean, se, n, confidence)
    return Summary(mean, se, low, high, n, int(x.size - n), confidence)


def _wilcoxon(d: np.ndarray) -> tuple[float, float, str]:
    """Two-sided signed-rank test of the differences ``d`` (zeros dropped)."""
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return math.nan, math.nan, NOT_AVAILABLE
    ties = np.unique(np.abs(nonzero)).size < nonzero.size
    if nonzero.size <= WILCOXON_EXACT_MAX and not ties:
        res = stats.wilcoxon(nonzero, method="exact")
        return float(res.statistic), float(res.pvalue), "exact"
    res = stats.wilcoxon(nonzero, method="approx", correction=False)
    return float(res.statistic), float(res.pvalue), "normal approximation"


def detectable_difference(sd: float, n: int, *, alpha: float = ALPHA,
                          power: float = POWER) -> float:
    """The smallest |mean difference| a two-sided paired t-test at level ``alpha`` detects with
    probability ``power`` over ``n`` pairs whose differences are normal with standard deviation
    ``sd`` (see the module docstring); NaN for n < 2 or a non-finite ``sd``, 0 for sd = 0."""
    alpha = _check_probability("alpha", alpha)
    power = _check_probability("power", power)
    if power <= alpha:
        raise ValueError(f"power must exceed alpha (a test rejects with probability alpha when "
                         f"there is no difference), got power {power} and alpha {alpha}")
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0:
        return 0.0
    df = n - 1
    critical = float(stats.t.ppf(1 - alpha / 2, df))

    def shortfall(nc: float) -> float:
        # the lower tail is negligible where scipy's noncentral t cannot evaluate it (NaN)
        lower = float(stats.nct.cdf(-critical, df, nc))
        return float(stats.nct.sf(critical, df, nc)) + (lower if math.isfinite(lower)
                                                        else 0.0) - power

    high = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) + 1.0
    while shortfall(high) < 0:
        high *= 2
    nc = optimize.brentq(shortfall, 0.0, high, xtol=1e-12, rtol=1e-12)
    return float(nc * sd / math.sqrt(n))


def paired_test(a: Mapping[int, float], b: Mapping[int, float], *,
                confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Paired comparison of two latents over their common seeds (see the module docstring).

    Args:
        a, b: seed -> metric value of the two latents; seeds where either value is missing
            or not finite are left out.
        confidence: level of the interval of the mean difference.

    Returns:
        ``n`` (pairs used), ``mean_difference`` (mean of a − b), ``ci_low`` / ``ci_high``
        (its Student-t interval), ``t_statistic`` / ``t_pvalue`` (paired t-test, two-sided;
        needs n >= 2 and differences that are not all equal), ``wilcoxon_statistic`` /
        ``wilcoxon_pvalue`` (signed-rank, two-sided; needs a non-zero difference) and
        ``wilcoxon_method`` (``"exact"`` or ``"normal approximation"``), ``sd_difference``
        (s_d, ddof 1) and ``detectable_difference`` (δ* at α = 0.05 and power 0.8, from
        s_d). Undefined values are NaN (``"n/a"`` for the method).
    """
    confidence = _check_probability("confidence", confidence)
    seeds = sorted(s for s in set(a) & set(b)
                   if math.isfinite(float(a[s])) and math.isfinite(float(b[s])))
    x = np.array([float(a[s]) for s in seeds])
    y = np.array([float(b[s]) for s in seeds])
    out: dict[str, Any] = {"n": len(seeds), "mean_difference": math.nan, "ci_low": math.nan,
                           "ci_high": math.nan, "t_statistic": math.nan, "t_pvalue": math.nan,
                           "wilcoxon_statistic": math.nan, "wilcoxon_pvalue": math.nan,
                           "wilcoxon_method": NOT_AVAILABLE, "sd_difference": math.nan,
                           "detectable_difference": math.nan}
    if not seeds:
        return out
    d = x - y
    s = summarize(d, confidence=confidence)
    sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
    out.update(mean_difference=s.mean, ci_low=s.ci_low, ci_high=s.ci_high, sd_difference=sd,
               detectable_difference=detectable_difference(sd, d.size))
    if len(seeds) >= 2 and np.any(d != d[0]):
        t = stats.ttest_rel(x, y)
        out["t_statistic"], out["t_pvalue"] = float(t.statistic), float(t.pvalue)
    w, p, method = _wilcoxon(d)
    out.update(wilcoxon_statistic=w, wilcoxon_pvalue=p, wilcoxon_method=method)
    return out


def holm(pvalues: Iterable[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm, Scand. J. Statist. 6, 65 (1979)): with the m
    finite p-values sorted, p_(1) <= ... <= p_(m), the adjusted p_(i) is
    min(1, max_{k <= i} (m - k + 1) p_(k)); rejecting where it is < α controls the
    family-wise error rate at α. NaN stays NaN and does not count in m. Same order as given."""
    p = np.asarray(list(pvalues), dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    running = 0.0
    for rank, i in enumerate(finite[np.argsort(p[finite], kind="stable")]):
        running = max(running, (m - rank) * p[i])
        out[i] = min(1.0, running)
    return [float(v) for v in out]
