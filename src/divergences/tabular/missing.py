r"""Missing values as a drift signal: the change in a column's missing share, tested and bounded.

A column whose missing share moves from 0 % to 80 % is a broken pipeline even when the values that
remain look the same. For every compared column, with a missing values out of m reference rows and
b out of n current rows (shares p₁ = a/m, p₂ = b/n):

* **difference** d = p₂ − p₁ (current minus reference);
* **interval**: Newcombe's hybrid score interval for a difference of proportions (his method 10),
  built from the two Wilson score intervals (l₁, u₁), (l₂, u₂):
  [d − √((p₂ − l₂)² + (u₁ − p₁)²), d + √((u₂ − p₂)² + (p₁ − l₁)²)]; unlike the Wald interval it
  stays inside [−1, 1] and is not degenerate at 0 % or 100 %;
* **p-value** of "same missing share": the pooled two-proportion z-test,
  z = d / √(p̂(1 − p̂)(1/m + 1/n)), p̂ = (a + b)/(m + n), p = 2Φ(−|z|) (the χ² test of the 2 × 2
  table without continuity correction), when every expected cell count is at least 5; otherwise
  Fisher's exact test (two-sided, as ``scipy.stats.fisher_exact``). Equal shares of 0 or 1 give
  p = 1.

The column's verdict counts the change when it is both not noise (p < α) and material
(|d| ≥ ``missing_threshold``, 0.05 by default: five percentage points).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

from .results import MissingShare

__all__ = ["missing_share_test", "wilson_interval"]


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion (``trials`` > 0).

    >>> [round(x, 4) for x in wilson_interval(0, 10)]
    [0.0, 0.2775]
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(centre - half, 0.0), min(centre + half, 1.0)


def missing_share_test(missing_reference: int, rows_reference: int, missing_current: int, rows_current: int, *,
                       confidence: float = 0.95, threshold: float = 0.05) -> MissingShare:
    """The change of the missing share between the reference and the current table (see the module).

    >>> t = missing_share_test(0, 1000, 800, 1000)
    >>> t.difference, t.p_value < 1e-100, t.drifted
    (0.8, True, True)
    >>> missing_share_test(10, 1000, 12, 1000).drifted
    False
    """
    a, m, b, n = int(missing_reference), int(rows_reference), int(missing_current), int(rows_current)
    if m <= 0 or n <= 0:
        nan = math.nan
        return MissingShare(nan if m <= 0 else a / m, nan if n <= 0 else b / n, nan, nan, nan, nan, "", False)
    p1, p2 = a / m, b / n
    d = p2 - p1
    l1, u1 = wilson_interval(a, m, confidence)
    l2, u2 = wilson_interval(b, n, confidence)
    low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    pooled = (a + b) / (m + n)
    expected = min(pooled * m, pooled * n, (1 - pooled) * m, (1 - pooled) * n)
    if pooled in (0.0, 1.0):
        p_value, test = 1.0, "z"
    elif expected >= 5:
        z = d / math.sqrt(pooled * (1 - pooled) * (1 / m + 1 / n))
        p_value, test = min(1.0, math.erfc(abs(z) / math.sqrt(2))), "z"  # = 2Φ(−|z|), precise in the tail
    else:
        from scipy.stats import fisher_exact

        result: Any = fisher_exact([[a, m - a], [b, n - b]])  # SciPy's result type is opaque to checkers
        p_value, test = float(result.pvalue), "fisher"
        p_value = min(max(p_value, 0.0), 1.0)
    alpha = 1 - confidence
    drifted = bool(p_value < alpha and abs(d) >= threshold)
    return MissingShare(p1, p2, d, max(low, -1.0), min(high, 1.0), p_value, test, drifted)
