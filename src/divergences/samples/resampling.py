"""Permutation tests and bootstrap intervals for any two-sample statistic (any divergence callable).

``statistic(x, y)`` is any function of two samples that returns a number: an estimator of this
package (``divergences.samples.mmd``, ``knn_kl``, ``histogram`` with a divergence name, ...) or the
user's own. Samples lie along axis 0 (shape (n, ...)). With ``vectorized=True`` the statistic is
called once per batch of resamples with arrays of shape (k, n, ...) and must return k values: this
is what makes hundreds of resamples of a cheap statistic fast.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._inputs import check_count

__all__ = ["BOOTSTRAP_METHODS", "JACKKNIFE_GROUPS", "BootstrapResult", "PermutationResult", "bootstrap", "permutation_test"]

_BATCH_BYTES = 1 << 26  # 64 MiB of resampled data per batch


@dataclass(frozen=True)
class PermutationResult:
    """Observed statistic, permutation p-value and the statistics of the permuted samples."""

    value: float
    pvalue: float
    null_distribution: np.ndarray


@dataclass(frozen=True)
class BootstrapResult:
    """Observed statistic, confidence interval [low, high], bootstrap standard error and replicates.

    ``method`` names the interval; ``bias`` is the bootstrap estimate of the statistic's bias,
    mean(replicates) − value (a plug-in divergence near P = Q is biased upward: ``bias`` > 0).
    """

    value: float
    low: float
    high: float
    standard_error: float
    distribution: np.ndarray
    method: str = "normal"
    bias: float = 0.0


def _samples(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty array of samples along axis 0, got shape {arr.shape}")
    if arr.dtype.kind in "fc" and np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; drop or impute missing values first")
    return arr


def _observed(statistic: Callable, x: np.ndarray, y: np.ndarray, vectorized: bool) -> float:
    value = np.asarray(statistic(x[None], y[None]) if vectorized else statistic(x, y), dtype=np.float64)
    value = float(value.reshape(-1)[0]) if value.size == 1 else np.nan
    if np.isnan(value):
        raise ValueError("statistic(x, y) must return one number (not NaN)")
    return value


def _replicates(statistic: Callable, draw: Callable[[int], tuple[np.ndarray, np.ndarray]], total: int,
                vectorized: bool, row_bytes: int) -> np.ndarray:
    """The statistic on ``total`` resamples, drawn in batches by ``draw(k)``."""
    batch = max(1, min(total, _BATCH_BYTES // max(row_bytes, 1)))
    out = np.empty(total)
    done = 0
    while done < total:
        k = min(batch, total - done)
        xb, yb = draw(k)
        if vectorized:
            vals = np.asarray(statistic(xb, yb), dtype=np.float64).reshape(-1)
            if vals.shape != (k,):
                raise ValueError(f"a vectorized statistic must return one value per resample (shape ({k},)), "
                                 f"got shape {vals.shape}")
        else:
            vals = np.array([float(statistic(xb[i], yb[i])) for i in range(k)])
        out[done : done + k] = vals
        done += k
    if np.isnan(out).any():
        raise ValueError("the statistic returned NaN on a resample")
    return out


def permutation_test(x: Any, y: Any, statistic: Callable[[Any, Any], Any], n_permutations: int = 999,
                     seed: int | np.random.Generator | None = None, *, alternative: str = "greater",
                     vectorized: bool = False) -> PermutationResult:
    r"""Two-sample permutation test of P = Q with any statistic (large values = evidence against P = Q).

    The pooled samples are split at random into groups of the original sizes ``n_permutations``
    times; the p-value is :math:`(1 + \#\{T_b \ge T_{obs}\}) / (1 + B)` (``alternative="greater"``,
    the default for divergences), with ``"less"`` counting :math:`T_b \le T_{obs}` and
    ``"two-sided"`` doubling the smaller of the two (capped at 1). This p-value is exact (valid at
    every level) under exchangeability: under P = Q, P(p ≤ α) ≤ α. Ties within a relative 1e-12 of
    the observed value count as at least as extreme. ``seed`` makes the result reproducible.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> diff = lambda x, y: abs(x.mean() - y.mean())
    >>> permutation_test(rng.normal(size=30), rng.normal(3, 1, 30), diff, 99, seed=1).pvalue
    0.01
    """
    xa, ya = _samples(x, "x"), _samples(y, "y")
    if xa.shape[1:] != ya.shape[1:]:
        raise ValueError(f"x and y must have the same shape per sample, got {xa.shape[1:]} and {ya.shape[1:]}")
    if alternative not in ("greater", "less", "two-sided"):
        raise ValueError(f"alternative must be 'greater', 'less' or 'two-sided', got {alternative!r}")
    total = check_count(n_permutations, "n_permutations")
    rng = np.random.default_rng(seed)
    observed = _observed(statistic, xa, ya, vectorized)
    pooled = np.concatenate([xa, ya])
    n = len(xa)

    def draw(k: int) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.permuted(np.broadcast_to(np.arange(len(pooled)), (k, len(pooled))), axis=1)
        return pooled[idx[:, :n]], pooled[idx[:, n:]]

    null = _replicates(statistic, draw, total, vectorized, pooled.nbytes)
    slack = 1e-12 * max(abs(observed), 1e-300)
    p_greater = (1 + np.count_nonzero(null >= observed - slack)) / (1 + total)
    p_less = (1 + np.count_nonzero(null <= observed + slack)) / (1 + total)
    pvalue = {"greater": p_greater, "less": p_less, "two-sided": min(1.0, 2 * min(p_greater, p_less))}[alternative]
    return PermutationResult(observed, float(pvalue), null)


#: interval methods of :func:`bootstrap` (the first is the default)
BOOTSTRAP_METHODS = ("normal", "basic", "bca", "percentile")

#: the BCa acceleration is estimated by a jackknife over at most this many groups per sample
JACKKNIFE_GROUPS = 100


def _jackknife_groups(a: np.ndarray, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """Index groups to delete, one jackknife value each, and their weights (multiplicities).

    Identical rows have identical leave-one-out values, so a sample of at most
    :data:`JACKKNIFE_GROUPS` distinct rows gets the exact leave-one-out jackknife (one value per
    distinct row, weighted by its count). Otherwise the rows are split at random into that many
    groups of near-equal size (the delete-a-group jackknife, which estimates the same acceleration).
    """
    n = len(a)
    try:
        _, first, counts = np.unique(a.reshape(n, -1), axis=0, return_index=True, return_counts=True)
    except TypeError:  # rows that cannot be sorted (object arrays): treat them as distinct
        first, counts = np.arange(n), np.ones(n, dtype=np.int64)
    if len(counts) <= JACKKNIFE_GROUPS:
        return [np.array([i]) for i in first], counts.astype(np.float64)
    return list(np.array_split(rng.permutation(n), JACKKNIFE_GROUPS)), np.ones(JACKKNIFE_GROUPS)


def _acceleration(statistic: Callable, xa: np.ndarray, ya: np.ndarray, vectorized: bool,
                  rng: np.random.Generator) -> float:
    r"""BCa acceleration :math:`\hat a` from jackknife values of each sample (SciPy's multi-sample form:
    :math:`\hat a = \frac16 \sum_j \sum_i U_{ji}^3 / n_j^3 \big/ (\sum_j \sum_i U_{ji}^2 / n_j^2)^{3/2}`,
    :math:`U_{ji} = (n_j - 1)(\bar\theta_{j\cdot} - \theta_{j(i)})`)."""
    num = den = 0.0
    for j, (sample, name) in enumerate(((xa, "x"), (ya, "y"))):
        if len(sample) < 2:
            continue
        groups, weights = _jackknife_groups(sample, rng)
        values = np.empty(len(groups))
        for g, drop in enumerate(groups):
            keep = np.delete(sample, drop, axis=0)
            pair = (keep, ya) if j == 0 else (xa, keep)
            try:
                values[g] = _observed(statistic, *pair, vectorized)
            except ValueError as exc:
                raise ValueError(f"method='bca' needs the statistic with a group of {name} left out "
                                 f"({len(keep)} of {len(sample)} samples kept), which failed: {exc}; "
                                 "use method='basic'") from None
        total = weights.sum()
        u = (total - 1) * (weights @ values / total - values)
        num += float(weights @ u**3) / total**3
        den += float(weights @ u**2) / total**2
    return num / (6 * den**1.5) if den > 0 else 0.0


def _interval(method: str, reps: np.ndarray, observed: float, confidence: float,
              acceleration: float = 0.0) -> tuple[float, float]:
    """The interval of ``method`` from the replicates (``acceleration`` serves "bca" only)."""
    from scipy.special import ndtr, ndtri

    alpha = 1 - confidence
    if method == "normal":
        z = float(ndtri(1 - alpha / 2))
        centre = 2 * observed - float(reps.mean())
        se = float(np.std(reps, ddof=1)) if len(reps) > 1 else 0.0
        return centre - z * se, centre + z * se
    if method == "bca":
        b = len(reps)
        share = (np.count_nonzero(reps < observed) + np.count_nonzero(reps <= observed)) / (2 * b)
        if not 0 < share < 1:
            warnings.warn(f"BCa interval: every replicate lies on one side of the observed value "
                          f"(share below it {share}); its bias correction is taken at the {0.5 / b:.2g} quantile",
                          UserWarning, stacklevel=3)
            share = min(max(share, 0.5 / b), 1 - 0.5 / b)
        z0 = float(ndtri(share))
        levels = []
        for z in (float(ndtri(alpha / 2)), float(ndtri(1 - alpha / 2))):
            levels.append(float(ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))))
        lo, hi = np.quantile(reps, levels)
        return float(lo), float(hi)
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    if method == "basic":
        lo, hi = 2 * observed - hi, 2 * observed - lo
    return float(lo), float(hi)


def bootstrap(x: Any, y: Any, statistic: Callable[[Any, Any], Any], n_resamples: int = 999,
              confidence: float = 0.95, seed: int | np.random.Generator | None = None, *,
              method: str = "normal", vectorized: bool = False) -> BootstrapResult:
    r"""Bootstrap confidence interval for a two-sample statistic (x and y resampled independently).

    Each replicate :math:`T^*_b` draws n points from x and m from y with replacement;
    α = 1 − ``confidence`` and :math:`q_u` is the u-quantile of the replicates. ``method``:

    * ``"normal"`` (the default): the bias-corrected normal interval
      :math:`(2T - \bar T^*) \pm z_{1-\alpha/2}\,s`, s the standard deviation of the replicates. It
      corrects the bias of a plug-in statistic (its replicates sit above T by about as much as T sits
      above the truth), and of the methods measured it has the best worst-case coverage.
    * ``"basic"``: :math:`[2T - q_{1-\alpha/2},\; 2T - q_{\alpha/2}]`, the replicates reflected
      about T (also bias-correcting; it under-covers a little more often than ``"normal"``).
    * ``"bca"`` (``scipy.stats.bootstrap``'s default): bias-corrected and accelerated
      (Efron & Tibshirani 1993, §14.3), :math:`[q_{\alpha_1}, q_{\alpha_2}]` with
      :math:`\alpha_{1,2} = \Phi\big(z_0 + \frac{z_0 + z_{\alpha/2,\,1-\alpha/2}}{1 - a(z_0 + z)}\big)`,
      :math:`z_0 = \Phi^{-1}(\text{share of } T^* < T)` (ties count half) and the acceleration a from a
      jackknife of each sample (exact leave-one-out when a sample has at most
      :data:`JACKKNIFE_GROUPS` distinct rows, else a delete-a-group jackknife over that many random
      groups: 2·100 statistic calls at most). Where every replicate lies on one side of T the share is
      clamped to 1/(2B) with a ``UserWarning``.
    * ``"percentile"``: :math:`[q_{\alpha/2}, q_{1-\alpha/2}]`.

    Which covers (the coverage table in ``docs/samples.md``, from ``benchmarks/coverage_table.py``):
    a plug-in divergence (a histogram divergence such as PSI or JS, the V-statistic MMD², the
    energy distance) is biased upward, most near P = Q, where its truth 0 sits on the boundary.
    Percentile and BCa intervals are made of replicates, all above that truth: they cover it
    almost never (0 % at P = Q, 6–63 % at PSI 0.1 with N = 100). ``"normal"`` (93–100 % on PSI and
    JS, 91–100 % on the V-statistic MMD²) and ``"basic"`` (92–100 %, 85–100 %) correct the bias and cover. The reverse holds for a statistic that is already unbiased (the
    U-statistic MMD², ``mmd(unbiased=True)``): its replicates carry a bias that the statistic does
    not have (resamples repeat points), and ``"percentile"`` is the one that covers there. The
    standard error is the standard deviation of the replicates; ``bias`` = mean(T*) − T.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=200)
    >>> r = bootstrap(x, x + 1.0, lambda a, b: b.mean() - a.mean(), 199, seed=0)
    >>> r.low < 1.0 < r.high
    True
    """
    xa, ya = _samples(x, "x"), _samples(y, "y")
    total = check_count(n_resamples, "n_resamples")
    confidence = float(confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, BOOTSTRAP_METHODS))}, got {method!r}")
    if total < 2 and method in ("bca", "normal"):
        raise ValueError(f"method={method!r} needs n_resamples >= 2, got {total}")
    rng = np.random.default_rng(seed)
    observed = _observed(statistic, xa, ya, vectorized)

    def draw(k: int) -> tuple[np.ndarray, np.ndarray]:
        return (xa[rng.integers(0, len(xa), size=(k, len(xa)))], ya[rng.integers(0, len(ya), size=(k, len(ya)))])

    reps = _replicates(statistic, draw, total, vectorized, xa.nbytes + ya.nbytes)
    accel = _acceleration(statistic, xa, ya, vectorized, rng) if method == "bca" else 0.0
    lo, hi = _interval(method, reps, observed, confidence, accel)
    se = float(np.std(reps, ddof=1)) if total > 1 else 0.0
    return BootstrapResult(observed, lo, hi, se, reps, method, float(reps.mean()) - observed)
