r"""Two-sample tests on binned counts, beside the divergences, and multiple-testing adjustments.

The engines return counts per bin, never the values, so the tests run on the *binned* values (every
value replaced by its bin): they equal SciPy's tests on those binned samples (checked in the tests).
Binning makes KS and Anderson–Darling conservative (ties), and a shift inside one bin is invisible
to them, as it is to PSI.

* :func:`ks_values`: the two-sample Kolmogorov–Smirnov test **on the values** (what
  :func:`~divergences.tabular.compare` runs when both tables are at hand): D = max |F_P − F_Q| over
  every value of either table (ties handled as ``scipy.stats.ks_2samp`` handles them), from each
  table's sorted values (or its distinct values and their counts); p-value as
  ``ks_2samp(method="auto")``: SciPy's exact distribution when both tables have at most 10 000
  non-missing values, else the asymptotic one (``scipy.stats.kstwo`` with n = round(nm/(n+m)), as
  SciPy's ``"asymp"``). D is exact without merging the two tables value by value: both ECDFs are
  read at a few thousand cut points (every √N/8-th value of each table), which bounds D from below;
  between two cuts the difference can exceed that bound only where one ECDF climbs by more than the
  gap, so only the values inside those few intervals are visited;
* :func:`ks_binned`: Kolmogorov–Smirnov D = max_j |F_P(j) − F_Q(j)| over bin boundaries (when only
  bin counts are known: a saved profile as the reference, the windows of a monitor), p-value
  from the limiting distribution of √(nm/(n+m))·D as ``scipy.stats.ks_2samp(method="asymp")``
  (``scipy.stats.kstwo`` with n = round(nm/(n+m))).
* :func:`anderson_darling_binned`: the k-sample Anderson–Darling statistic of Scholz & Stephens
  (1987) for tied data (midranks, their A²_akN), standardised, with the p-value interpolated from
  their table as ``scipy.stats.anderson_ksamp`` does, so it is floored at 0.001 and capped at 0.25.
* :func:`chi2_homogeneity`: Pearson's χ² test of homogeneity on the 2 × k table of counts (no Yates
  correction), as ``scipy.stats.chi2_contingency(correction=False)``.
* :func:`holm` and :func:`benjamini_hochberg`: adjusted p-values across columns (NaN stays NaN and
  does not count).
"""

from __future__ import annotations

import importlib
import math
import sys
import threading
import warnings
from typing import Any

import numpy as np

__all__ = ["KS_EXACT_MAX", "anderson_darling_binned", "benjamini_hochberg", "chi2_homogeneity", "holm", "ks_binned",
           "ks_values", "prefetch"]

#: both tables with at most this many values: the exact p-value of the KS test (SciPy's "auto" rule)
KS_EXACT_MAX = 10_000


def prefetch(module: str = "scipy.stats") -> None:
    """Import ``module`` (``scipy.stats`` for the KS test, ``scipy.special`` for every p-value: a
    fraction of a second to seconds) in a background thread, so that the import overlaps the engine's
    passes over the data instead of following them."""
    if module in sys.modules:
        return
    threading.Thread(target=importlib.import_module, args=(module,), name="divergences-prefetch",
                     daemon=True).start()


def _pair(current, reference):
    c = np.asarray(current, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    kept = (c + r) > 0
    return c[kept], r[kept]


def ks_binned(current, reference) -> tuple[float, float]:
    """(D, p-value) of the two-sample Kolmogorov–Smirnov test on counts over ordered bins.

    >>> d, p = ks_binned([10, 20, 30], [30, 20, 10])
    >>> round(d, 4)
    0.3333
    """
    from scipy.stats import kstwo

    c, r = _pair(current, reference)
    n, m = c.sum(), r.sum()
    if n == 0 or m == 0:
        return math.nan, math.nan
    d = float(np.max(np.abs(np.cumsum(c) / n - np.cumsum(r) / m))) if c.size > 1 else 0.0
    en = n * m / (n + m)
    return d, float(min(max(kstwo.sf(d, max(round(en), 1)), 0.0), 1.0))


def ks_values(current_values, current_counts, reference_values, reference_counts) -> tuple[float, float]:
    """(D, p-value) of the two-sample Kolmogorov–Smirnov test on the values; equal to
    ``scipy.stats.ks_2samp`` on the values.

    Each table is given by its values in increasing order (NaN left out, ±inf allowed) and their
    counts: ``current_counts=None`` means every value counts once (the sorted values themselves,
    ties repeated); otherwise the values are distinct and ``current_counts[i]`` is the number of
    rows holding ``current_values[i]``.

    :param current_values: the current table's values, increasing.
    :param current_counts: their counts, or None (each value once).
    :param reference_values: the reference table's values, increasing.
    :param reference_counts: their counts, or None (each value once).
    :returns: (D, p-value); (nan, nan) when a table has no value.

    >>> d, p = ks_values([1.0, 2.0, 3.0], [1, 1, 1], [2.0, 3.0, 4.0], None)
    >>> round(d, 4), round(p, 4)
    (0.3333, 1.0)
    """
    cur = _SortedSample(current_values, current_counts)
    ref = _SortedSample(reference_values, reference_counts)
    n, m = cur.total, ref.total
    if n == 0 or m == 0:
        return math.nan, math.nan
    if max(n, m) <= KS_EXACT_MAX:  # small: SciPy itself, on the values (its exact distribution)
        from scipy.stats import ks_2samp

        with warnings.catch_warnings():  # SciPy falls back to "asymp" where its exact series fails: its result
            warnings.simplefilter("ignore", RuntimeWarning)
            res: Any = ks_2samp(cur.every_value(), ref.every_value())  # SciPy's result type is opaque to checkers
        return float(res.statistic), float(res.pvalue)
    from scipy.stats import kstwo

    if float(n) * float(m) < 2.0**62:  # exact: max |m·C(t) − n·R(t)| in integers, divided once
        d = _ks_scaled(cur, ref) / (float(n) * m)
    else:  # pragma: no cover - beyond 2^31 rows per table: the same on floats
        d = _ks_scaled(cur.as_share(), ref.as_share(), scaled=False)
    big, small = max(n, m), min(n, m)
    en = float(big) * small / (big + small)
    return d, float(min(max(kstwo.sf(d, np.round(en)), 0.0), 1.0))


class _SortedSample:
    """A table's sorted values (``counts`` None: each once) or distinct values with their counts:
    the number of values at most ``t`` (or below ``t``) for many ``t`` at once, by binary search."""

    def __init__(self, values, counts, cumulative=None) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        if cumulative is not None:
            self.cumulative = cumulative
        elif counts is None:
            self.cumulative = None
        else:
            self.cumulative = np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))])
        self.total = int(self.values.size if self.cumulative is None else self.cumulative[-1])

    def positions(self, t: np.ndarray, side: str = "right") -> np.ndarray:
        return np.searchsorted(self.values, t, side=side)  # type: ignore[call-overload]

    def counted(self, positions: np.ndarray) -> np.ndarray:
        """The number of values before each position (positions as :meth:`positions` returns them)."""
        return positions if self.cumulative is None else self.cumulative[positions]

    def every_value(self) -> np.ndarray:
        if self.cumulative is None:
            return self.values
        return np.repeat(self.values, np.diff(self.cumulative))

    def as_share(self) -> _SortedSample:  # pragma: no cover - beyond 2^31 rows per table
        """The same sample with each value weighing 1/total (float cumulative shares)."""
        counts = np.ones(self.values.size) if self.cumulative is None else np.diff(self.cumulative)
        return _SortedSample(self.values, None, np.concatenate([[0.0], np.cumsum(counts) / self.total]))


def _index_ranges(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The indices low[0] … high[0] − 1, low[1] … high[1] − 1, … concatenated."""
    lengths = high - low
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.arange(total, dtype=np.int64) + np.repeat(low - (np.cumsum(lengths) - lengths), lengths)


def _ks_scaled(cur: _SortedSample, ref: _SortedSample, scaled: bool = True, step: int | None = None):
    """max over t of |m·C(t) − n·R(t)| (C, R: the number of current / reference values ≤ t; n, m their
    totals); with ``scaled=False`` the samples count shares and this is D itself. ``step``: the
    spacing of the cut points (default √N/8, N the larger number of stored values).

    Cut points: every k-th value of each table (k ≈ √N/8). At a cut the difference is exact: their
    maximum is a lower bound ``low`` on the answer. Strictly between two cuts a < t < b both counts
    are monotone, so m·C(t) − n·R(t) ≤ m·C(b⁻) − n·R(a) and n·R(t) − m·C(t) ≤ n·R(b⁻) − m·C(a)
    (C(b⁻): the values below b): the difference can exceed ``low`` only in the intervals where one of
    these bounds does, and only the values inside those (few) are visited, each at its exact
    difference. Both counts are step functions that change at values only, so the maximum is
    reached at a cut or at a value inside an interval: the result is exact."""
    n, m = (cur.total, ref.total) if scaled else (1, 1)
    size = max(cur.values.size, ref.values.size)
    step = step or max(1, int(math.sqrt(size) / 8))
    cuts = np.unique(np.concatenate([cur.values[step - 1::step], ref.values[step - 1::step]]))
    pc, pr = cur.positions(cuts), ref.positions(cuts)
    at_c, at_r = cur.counted(pc), ref.counted(pr)
    diff = at_c * m - at_r * n
    low = np.max(np.abs(diff)) if diff.size else 0
    # interval j: strictly between cut j − 1 (−∞ for j = 0) and cut j (+∞ past the last)
    qc, qr = cur.positions(cuts, "left"), ref.positions(cuts, "left")
    zero = np.zeros(1, dtype=np.asarray(at_c).dtype)
    c_low, r_low = np.concatenate([zero, at_c]), np.concatenate([zero, at_r])
    c_high = np.concatenate([cur.counted(qc), [cur.total if scaled else 1]])
    r_high = np.concatenate([ref.counted(qr), [ref.total if scaled else 1]])
    bound = np.maximum(c_high * m - r_low * n, r_high * n - c_low * m)
    open_ = np.flatnonzero(bound > low)
    if open_.size == 0:
        return low
    start_c, stop_c = np.concatenate([[0], pc])[open_], np.concatenate([qc, [cur.values.size]])[open_]
    start_r, stop_r = np.concatenate([[0], pr])[open_], np.concatenate([qr, [ref.values.size]])[open_]
    inside = np.concatenate([cur.values[_index_ranges(start_c, stop_c)], ref.values[_index_ranges(start_r, stop_r)]])
    if inside.size == 0:
        return low
    exact = cur.counted(cur.positions(inside)) * m - ref.counted(ref.positions(inside)) * n
    return max(low, np.max(np.abs(exact)))


_AD_SIG = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])
_AD_B0 = np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
_AD_B1 = np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615])
_AD_B2 = np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154])


def _harmonic_terms(total: int) -> tuple[float, float]:
    """h = Σ_{i<N} 1/i and g = Σ_{i ≤ N−2} Σ_{j=i+1}^{N−1} 1/((N − i) j) of Scholz & Stephens, in closed
    form (O(1), where SciPy sums O(N) terms): h = H_{N−1} = ψ(N) + γ and, from
    Σ_{k<N} H_k/(N − k) = H_N² − H_N⁽²⁾, g = H_N⁽²⁾ − 2 H_{N−1}/N − 1/N² with H_N⁽²⁾ = π²/6 − ψ′(N + 1).

    >>> [round(x, 12) for x in _harmonic_terms(4)]  # h = 1 + 1/2 + 1/3, g = 1/6 + 1/6 + 1/9
    [1.833333333333, 0.444444444444]
    """
    from scipy.special import digamma, polygamma

    n = float(total)
    h = float(digamma(n)) + float(np.euler_gamma)
    h2 = math.pi ** 2 / 6 - float(polygamma(1, n + 1))
    return h, h2 - 2 * h / n - 1 / n ** 2


def anderson_darling_binned(current, reference) -> tuple[float, float]:
    """(standardised A², p-value) of the k-sample (k = 2) Anderson–Darling test for tied data.

    >>> a, p = anderson_darling_binned([50, 30, 20], [20, 30, 50])
    >>> a > 5, p
    (True, 0.001)
    """
    c, r = _pair(current, reference)
    n = np.array([c.sum(), r.sum()])
    total = n.sum()
    if c.size < 2 or min(n) == 0 or total < 4:
        return math.nan, math.nan
    lj = c + r
    bj = np.cumsum(lj) - lj / 2.0
    a2 = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for counts, size in ((c, n[0]), (r, n[1])):
            mij = np.cumsum(counts) - counts / 2.0
            denom = bj * (total - bj) - total * lj / 4.0
            inner = np.where(denom > 0, lj / total * (total * mij - bj * size) ** 2 / denom, 0.0)
            a2 += inner.sum() / size
    a2 *= (total - 1.0) / total
    k, big_h = 2, float(np.sum(1.0 / n))
    h, g = _harmonic_terms(int(total))
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * big_h
    b = (2 * g - 4) * k ** 2 + 8 * h * k + (2 * g - 14 * h - 4) * big_h - 8 * h + 4 * g - 6
    cc = (6 * h + 2 * g - 2) * k ** 2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * big_h + 4 * h
    d = (2 * h + 6) * k ** 2 - 4 * h * k
    sigmasq = (a * total ** 3 + b * total ** 2 + cc * total + d) / ((total - 1.0) * (total - 2.0) * (total - 3.0))
    m = k - 1
    stat = float((a2 - m) / math.sqrt(sigmasq))
    critical = _AD_B0 + _AD_B1 / math.sqrt(m) + _AD_B2 / m
    if stat < critical.min():
        return stat, float(_AD_SIG.max())
    if stat > critical.max():
        return stat, float(_AD_SIG.min())
    fit = np.polyfit(critical, np.log(_AD_SIG), 2)
    return stat, float(math.exp(np.polyval(fit, stat)))


def chi2_homogeneity(current, reference) -> tuple[float, float]:
    """(statistic, p-value) of Pearson's χ² homogeneity test on the two count vectors.

    >>> s, p = chi2_homogeneity([30, 70], [50, 50])
    >>> round(s, 4), round(p, 5)
    (8.3333, 0.00389)
    """
    from scipy.special import chdtrc

    c, r = _pair(current, reference)
    if c.size < 2 or c.sum() == 0 or r.sum() == 0:
        return 0.0 if c.size == 1 else math.nan, 1.0 if c.size == 1 else math.nan
    table = np.vstack([c, r])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    return stat, float(chdtrc(c.size - 1, stat))


def _adjusted(p_values, step) -> np.ndarray:
    """Adjusted p-values: ``step(sorted p, m)`` on the non-NaN entries, back in the input's order."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        out[order] = np.minimum(step(p[order], ok.size), 1.0)
    return out


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error); NaN entries are ignored.

    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    return _adjusted(p_values, lambda q, m: np.maximum.accumulate((m - np.arange(m)) * q))


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values (false discovery rate); NaN entries are ignored.

    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    return _adjusted(p_values, lambda q, m: np.minimum.accumulate((q * m / np.arange(1, m + 1))[::-1])[::-1])
