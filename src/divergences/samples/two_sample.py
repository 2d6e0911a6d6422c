r"""Two-sample tests of P = Q from kernel statistics, with calibrated p-values.

* :func:`mmd_test`: the unbiased MMD² with a permutation p-value; the bandwidth is a number, the
  median heuristic, or ``"power"``: chosen on a held-out half of the data to maximise the estimated
  test power :math:`\widehat{\mathrm{MMD}}^2/\hat\sigma_{H_1}` (Gretton et al. 2012b; Sutherland et al.
  2017), the test then run on the other half;
* :func:`mmd_agg_test`: an aggregated test over several bandwidths (MMDAgg-style, Schrab et al.
  2023): the smallest of the per-bandwidth permutation p-values, itself calibrated by the same
  permutations (Westfall–Young min-p), so no bandwidth has to be chosen and the level is exact;
* :func:`linear_mmd_test` (O(n) time and memory, Gretton et al. 2012a §6) and
  :func:`block_mmd_test` (the B-test of Zaremba, Gretton & Blaschko 2013, O(n·s) for blocks of s
  points): for large n, with p-values from the normal limit of their averages.

Permutation p-values are :math:`(1 + \#\{T_b \ge T\})/(1 + B)` (exact at every level under
exchangeability). The permutation tests hold the pooled (n + m)² Gram matrix: at most
:data:`MAX_POOLED` points (use the linear or block test above that). Kernels: the Gaussian (RBF)
:math:`e^{-\|u-v\|^2/(2\sigma^2)}` as in :func:`~divergences.samples.mmd`.

Peers: hyppo's ``MMD``/``Energy`` (permutation), alibi-detect's ``MMDDrift`` (permutation, median
bandwidth), the ``mmdagg`` package (MMDAgg). The power table in ``docs/samples.md``
(``benchmarks/power_table.py``) compares them side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._inputs import as_pair, check_bandwidths, check_count, one_bandwidth, rescaled
from ._threads import blas_threads

__all__ = ["MAX_POOLED", "SignificanceResult", "block_mmd_test", "linear_mmd_test", "mmd_agg_test", "mmd_test",
           "power_bandwidth"]

#: the permutation tests hold the pooled Gram matrix: at most this many pooled points (200 MiB)
MAX_POOLED = 5000


@dataclass(frozen=True)
class SignificanceResult:
    """A test's statistic, its p-value, the method, the bandwidth(s) used and the permutation null
    (``None`` for tests with an asymptotic p-value)."""

    statistic: float
    pvalue: float
    method: str
    bandwidth: float | tuple[float, ...] | None = None
    null_distribution: np.ndarray | None = field(default=None, repr=False)


def _scaled_pair(x: Any, y: Any, min_n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Samples centred on the pooled mean and divided by a power of two near their spread (exact):
    the tests are invariant under a common shift and scale, and data near 1e±300 do not overflow."""
    xa, ya = as_pair(x, y, min_x=min_n, min_y=min_n)
    (xa, ya), log_s = rescaled(xa, ya)
    return xa, ya, math.exp(log_s) if log_s < 709 else math.inf  # s itself is a power of two


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import cdist

    return cdist(a, b, "sqeuclidean")


def _median_sigma(pooled: np.ndarray) -> float:
    from .kernels import median_bandwidth

    try:
        return median_bandwidth(pooled[:1], pooled[1:])
    except ValueError:
        raise ValueError("bandwidth='median' is undefined: all points coincide (x and y are one point mass, "
                         "so P = Q holds trivially)") from None


def _permutation_indicators(n: int, total: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """(b + 1, total) 0/1 rows marking the first group: row 0 the observed split, then b random ones."""
    rows = np.zeros((b + 1, total))
    rows[0, :n] = 1.0
    perms = rng.permuted(np.broadcast_to(np.arange(total), (b, total)), axis=1)[:, :n]
    np.put_along_axis(rows[1:], perms, 1.0, axis=1)
    return rows


def _mmd_u_rows(gram: np.ndarray, rows: np.ndarray, n: int, m: int) -> np.ndarray:
    """Unbiased MMD² for each split (rows of 0/1 indicators of the first group) from the Gram matrix
    (every kernel value on the diagonal is 1)."""
    other = 1.0 - rows
    ka = rows @ gram
    kxx = np.einsum("bi,bi->b", ka, rows) - n
    kxy = np.einsum("bi,bi->b", ka, other)
    kyy = np.einsum("bi,bi->b", other @ gram, other) - m
    return kxx / (n * (n - 1)) + kyy / (m * (m - 1)) - 2 * kxy / (n * m)


def _check_pooled(n: int, m: int) -> None:
    if n + m > MAX_POOLED:
        raise ValueError(f"the permutation tests hold the pooled Gram matrix: n + m = {n + m} exceeds "
                         f"MAX_POOLED = {MAX_POOLED}; use linear_mmd_test or block_mmd_test for large samples")


def _power_ratio(xa: np.ndarray, ya: np.ndarray, sigma: float) -> float:
    r"""Estimated test power criterion MMD²_U / σ̂_H1 with h_ij from paired points (first min(n, m))."""
    k = min(len(xa), len(ya))
    x, y = xa[:k], ya[:k]
    c = -0.5 / sigma**2
    kxx, kyy, kxy = (np.exp(c * _sq_dists(a, b)) for a, b in ((x, x), (y, y), (x, y)))
    h = kxx + kyy - kxy - kxy.T
    np.fill_diagonal(h, 0.0)
    stat = h.sum() / (k * (k - 1))
    row = h.sum(axis=1) / (k - 1)
    var = max(4.0 * (np.mean(row**2) - stat**2), 0.0)
    return stat / math.sqrt(var + 1e-8 * max(stat * stat, 1e-300))


def power_bandwidth(x: Any, y: Any, candidates: Sequence[float] | None = None) -> float:
    r"""The Gaussian bandwidth among ``candidates`` that maximises the estimated power criterion
    :math:`\widehat{\mathrm{MMD}}^2_U / \hat\sigma_{H_1}` on these samples (Sutherland et al. 2017).

    :math:`\hat\sigma^2_{H_1} = 4\big(\frac1k\sum_i \bar h_i^2 - \widehat{\mathrm{MMD}}^4\big)`, with
    :math:`\bar h_i` the row means of :math:`h_{ij} = k(x_i,x_j) + k(y_i,y_j) - k(x_i,y_j) - k(x_j,y_i)`
    on the first k = min(n, m) points of each sample. Default candidates: the median heuristic σ₀
    times 2^j, j = −3 … 3. Choose on data that the test then does not use (``mmd_test`` with
    ``bandwidth="power"`` splits the samples for that); selecting and testing on the same data
    inflates the level.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> power_bandwidth(rng.normal(size=(100, 1)), rng.normal(0, 3, (100, 1)), [0.1, 1.0, 10.0]) > 0.1
    True
    """
    xa, ya, s = _scaled_pair(x, y, 2)
    if candidates is None:
        sigma0 = _median_sigma(np.concatenate([xa, ya]))
        grid = [sigma0 * 2.0**j for j in range(-3, 4)]
    else:
        spec = check_bandwidths(list(candidates))
        grid = [g / s for g in spec] if isinstance(spec, list) else []
    ratios = [_power_ratio(xa, ya, g) for g in grid]
    return float(grid[int(np.argmax(ratios))] * s)


def mmd_test(x: Any, y: Any, bandwidth: float | str = "median", n_permutations: int = 999,
             seed: int | np.random.Generator | None = None) -> SignificanceResult:
    r"""Permutation test of P = Q with the unbiased MMD² (Gaussian kernel), from the pooled Gram matrix.

    ``bandwidth``: σ, ``"median"`` (the median heuristic on the pooled sample, which does not depend
    on the split, so the permutation test stays exact) or ``"power"``: the samples are shuffled and
    halved (seeded), :func:`power_bandwidth` chooses σ on the first halves and the test runs on the
    second halves (valid, with half the data; more powerful when the median is a poor scale, e.g.
    a difference in variance or at small scales). The statistic equals
    ``divergences.samples.mmd(x, y, bandwidth=σ)``. p = (1 + #{T_b ≥ T})/(1 + B), B =
    ``n_permutations``. Needs n, m ≥ 2 (4 with ``"power"``) and n + m ≤ :data:`MAX_POOLED`.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mmd_test(rng.normal(size=(50, 2)), rng.normal(1, 1, (50, 2)), n_permutations=199, seed=0).pvalue
    0.005
    """
    total = check_count(n_permutations, "n_permutations")
    rng = np.random.default_rng(seed)
    if isinstance(bandwidth, str) and bandwidth not in ("median", "power"):
        raise ValueError(f"bandwidth must be a number > 0, 'median' or 'power', got {bandwidth!r}")
    split = bandwidth == "power"
    xa, ya, s = _scaled_pair(x, y, 4 if split else 2)
    if split:
        xa, ya = xa[rng.permutation(len(xa))], ya[rng.permutation(len(ya))]
        hx, hy = len(xa) // 2, len(ya) // 2
        sigma = power_bandwidth(xa[:hx], ya[:hy])
        xa, ya = xa[hx:], ya[hy:]
        method = "mmd permutation (power-selected bandwidth, split)"
    else:
        spec = one_bandwidth(bandwidth, "mmd_test (use mmd_agg_test for several)")
        sigma = _median_sigma(np.concatenate([xa, ya])) if isinstance(spec, str) else spec / s
        method = "mmd permutation"
    n, m = len(xa), len(ya)
    _check_pooled(n, m)
    pooled = np.concatenate([xa, ya])
    gram = np.exp(-0.5 / sigma**2 * _sq_dists(pooled, pooled))
    with blas_threads(max(gram.size, (total + 1) * (n + m))):
        stats = _mmd_u_rows(gram, _permutation_indicators(n, n + m, total, rng), n, m)
    observed, null = float(stats[0]), stats[1:]
    pvalue = (1 + np.count_nonzero(null >= observed - 1e-12 * abs(observed))) / (1 + total)
    return SignificanceResult(observed, float(pvalue), method, float(sigma * s), null)


def mmd_agg_test(x: Any, y: Any, bandwidths: Sequence[float] | None = None, n_permutations: int = 999,
                 seed: int | np.random.Generator | None = None) -> SignificanceResult:
    r"""Aggregated MMD test over several Gaussian bandwidths (MMDAgg-style), with an exact level.

    For each σ in ``bandwidths`` (default: the median heuristic σ₀ times 2^j, j = −2 … 2) the
    unbiased MMD²_σ is computed on the observed split and on B = ``n_permutations`` random splits
    (the same splits for every σ). Each of the B + 1 splits gets its per-σ permutation p-value
    :math:`p_\sigma = \#\{T_\sigma \ge\}/(B+1)` and their minimum; the test's p-value is the share of
    splits whose minimum is at most the observed one (Westfall–Young min-p). Under P = Q the splits
    are exchangeable, so P(p ≤ α) ≤ α exactly, whichever σ would have been best: no bandwidth to
    choose and no Bonferroni loss (the min-p null accounts for the dependence between bandwidths).
    ``statistic`` is the smallest per-bandwidth p-value of the observed split. MMDAgg (Schrab et al.
    2023) aggregates with weighted quantiles instead of the min-p; the idea is the same.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = mmd_agg_test(rng.normal(size=(60, 1)), rng.normal(0, 2, (60, 1)), n_permutations=199, seed=0)
    >>> r.pvalue < 0.05
    True
    """
    total = check_count(n_permutations, "n_permutations")
    rng = np.random.default_rng(seed)
    xa, ya, s = _scaled_pair(x, y, 2)
    n, m = len(xa), len(ya)
    _check_pooled(n, m)
    pooled = np.concatenate([xa, ya])
    if bandwidths is None:
        sigma0 = _median_sigma(pooled)
        sigmas = [sigma0 * 2.0**j for j in range(-2, 3)]
    else:
        spec = check_bandwidths(list(bandwidths))
        sigmas = [g / s for g in spec] if isinstance(spec, list) else []
    d2 = _sq_dists(pooled, pooled)
    rows = _permutation_indicators(n, n + m, total, rng)
    with blas_threads(max(d2.size, rows.size)):
        stats = np.stack([_mmd_u_rows(np.exp(-0.5 / g**2 * d2), rows, n, m) for g in sigmas])  # (L, B + 1)
    # per-σ p-value of every split among all B + 1 splits: #{T ≥ T_j} / (B + 1)
    order = np.sort(stats, axis=1)
    pvals = (total + 1 - np.stack([np.searchsorted(o, t, side="left") for o, t in zip(order, stats)])) / (total + 1)
    min_p = pvals.min(axis=0)
    pvalue = np.count_nonzero(min_p <= min_p[0]) / (total + 1)
    return SignificanceResult(float(min_p[0]), float(pvalue), "mmd aggregated (min-p over bandwidths)",
                              tuple(float(g * s) for g in sigmas), min_p[1:])


def _normal_pvalue(values: np.ndarray, method: str, sigma: float) -> SignificanceResult:
    from scipy.special import ndtr

    k = len(values)
    mean = float(values.mean())
    sd = float(values.std(ddof=1))
    if sd == 0:
        pvalue = 1.0 if mean <= 0 else 0.0
    else:
        pvalue = float(ndtr(-mean / (sd / math.sqrt(k))))
    return SignificanceResult(mean, pvalue, method, sigma)


def _scaled_with_sigma(x: Any, y: Any, bandwidth: Any) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The scaled samples of the linear and block tests (at least 4 points each), their scale s and the
    Gaussian bandwidth in scaled units (the median heuristic on the pooled scaled points, or ``bandwidth`` / s)."""
    xa, ya, s = _scaled_pair(x, y, 4)
    spec = one_bandwidth(bandwidth, "this test")
    return xa, ya, s, _median_sigma(np.concatenate([xa, ya])) if isinstance(spec, str) else spec / s


def linear_mmd_test(x: Any, y: Any, bandwidth: float | str = "median") -> SignificanceResult:
    r"""Linear-time MMD test (Gretton et al. 2012a, §6): O(n) time and memory, for very large samples.

    With k = ⌊min(n, m)/2⌋ disjoint pairs, :math:`h_i = k(x_{2i-1}, x_{2i}) + k(y_{2i-1}, y_{2i})
    - k(x_{2i-1}, y_{2i}) - k(x_{2i}, y_{2i-1})`; the statistic is their mean (an unbiased estimate
    of MMD²) and the p-value :math:`1 - \Phi(\bar h\sqrt{k}/s_h)` from the central limit theorem
    (accurate for k in the hundreds or more). Much less powerful than :func:`mmd_test` at equal n:
    use it when n is too large for a Gram matrix. The median bandwidth uses at most 1000 points.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> linear_mmd_test(rng.normal(size=(20000, 2)), rng.normal(0.3, 1, (20000, 2))).pvalue < 1e-6
    True
    """
    xa, ya, s, sigma = _scaled_with_sigma(x, y, bandwidth)
    k = min(len(xa), len(ya)) // 2
    x1, x2, y1, y2 = xa[0 : 2 * k : 2], xa[1 : 2 * k : 2], ya[0 : 2 * k : 2], ya[1 : 2 * k : 2]
    c = -0.5 / sigma**2

    def kern(a, b):
        return np.exp(c * np.sum((a - b) ** 2, axis=1))

    h = kern(x1, x2) + kern(y1, y2) - kern(x1, y2) - kern(x2, y1)
    return _normal_pvalue(h, "mmd linear-time (normal limit)", sigma * s)


def block_mmd_test(x: Any, y: Any, bandwidth: float | str = "median", block_size: int | None = None) -> SignificanceResult:
    r"""Block MMD test (the B-test, Zaremba, Gretton & Blaschko 2013): O(n·s) for blocks of s points.

    x and y are cut into the same number b of consecutive blocks (x's of ⌊n/b⌋ points, y's of ⌊m/b⌋;
    ``block_size`` s for x, default ⌊√n⌋, at least 2); the statistic is the mean over blocks of each
    block's unbiased MMD², and the p-value :math:`1 - \Phi(\bar\eta\sqrt b/s_\eta)` from the spread
    of the block values (needs b ≥ 2; accurate for b in the tens or more). Between the linear test
    (s = 2) and the quadratic one (s = n) in power and cost. Samples should be in random order
    (blocks are consecutive).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> block_mmd_test(rng.normal(size=(5000, 2)), rng.normal(0.2, 1, (5000, 2))).pvalue < 1e-3
    True
    """
    xa, ya, s, sigma = _scaled_with_sigma(x, y, bandwidth)
    n, m = len(xa), len(ya)
    size = max(2, math.isqrt(n)) if block_size is None else check_count(block_size, "block_size", 2)
    blocks = n // size
    size_y = m // max(blocks, 1)
    if blocks < 2 or size_y < 2:
        raise ValueError(f"block_size={size} leaves {blocks} block(s) of x and blocks of {size_y} point(s) of y; "
                         "the B-test needs at least 2 blocks of at least 2 points each")
    c = -0.5 / sigma**2
    values = np.empty(blocks)
    for i in range(blocks):
        xb, yb = xa[i * size : (i + 1) * size], ya[i * size_y : (i + 1) * size_y]
        kxx, kyy, kxy = (np.exp(c * _sq_dists(a, b)) for a, b in ((xb, xb), (yb, yb), (xb, yb)))
        values[i] = ((kxx.sum() - size) / (size * (size - 1)) + (kyy.sum() - size_y) / (size_y * (size_y - 1))
                     - 2 * kxy.mean())
    return _normal_pvalue(values, f"mmd block (B-test, {blocks} blocks of {size}; normal limit)", sigma * s)
