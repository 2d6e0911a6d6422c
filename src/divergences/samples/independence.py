r"""Independence tests of paired samples (x_i, y_i): distance covariance and HSIC, with calibrated p-values.

* :func:`dcov_test`: the distance covariance :math:`\mathrm{dCov}^2_n` (Székely, Rizzo & Bakirov 2007;
  the V-statistic of dcor's ``distance_covariance_sqr``) with a permutation p-value (dcor's
  ``independence.distance_covariance_test``, hyppo's ``Dcorr``);
* :func:`hsic_test`: the Hilbert–Schmidt independence criterion with Gaussian kernels,
  :math:`\mathrm{HSIC}_b = \frac1{n^2}\operatorname{tr}(KHLH)` (Gretton et al. 2005/2008), with a
  permutation p-value or the gamma approximation of its null distribution (Gretton et al. 2008;
  hyppo's ``Hsic``).

Both are 0 in the population iff x and y are independent (dCov for finite first moments, HSIC for
characteristic kernels), so they detect non-linear dependence that a correlation misses. Each
variable is centred and divided by a power of two before its distances are formed (exact), so the
tests are unchanged by the units and data near 1e±300 do not overflow. Memory O(n²) (two n×n
matrices): at most :data:`MAX_PAIRS` pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._inputs import as_samples, check_count, one_bandwidth, rescaled
from .two_sample import SignificanceResult

__all__ = ["MAX_PAIRS", "dcov_test", "hsic_test"]

#: the tests hold two n × n matrices: at most this many pairs
MAX_PAIRS = 5000


def _paired(x: Any, y: Any, min_n: int) -> tuple[np.ndarray, np.ndarray]:
    xa, ya = as_samples(x, "x", min_n=min_n), as_samples(y, "y", min_n=min_n)
    if len(xa) != len(ya):
        raise ValueError(f"x and y must be paired samples with the same number of rows, got {len(xa)} and {len(ya)}")
    if len(xa) > MAX_PAIRS:
        raise ValueError(f"the independence tests hold n × n matrices: n = {len(xa)} exceeds MAX_PAIRS = {MAX_PAIRS}; "
                         "test a random subsample")
    (xa,), _ = rescaled(xa)
    (ya,), _ = rescaled(ya)
    return xa, ya


def _double_centred(d: np.ndarray) -> np.ndarray:
    return d - d.mean(axis=0, keepdims=True) - d.mean(axis=1, keepdims=True) + d.mean()


def _permuted_sums(a: np.ndarray, b: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """mean(A ∘ B[π, π]) for the identity (first) and ``total`` random permutations π."""
    n = len(a)
    out = np.empty(total + 1)
    out[0] = float(np.mean(a * b))
    for i in range(total):
        p = rng.permutation(n)
        out[i + 1] = float(np.mean(a * b[np.ix_(p, p)]))
    return out


def _permutation_result(stats: np.ndarray, total: int, method: str, bandwidth=None) -> SignificanceResult:
    observed, null = float(stats[0]), stats[1:]
    pvalue = (1 + np.count_nonzero(null >= observed - 1e-12 * abs(observed))) / (1 + total)
    return SignificanceResult(observed, float(pvalue), method, bandwidth, null)


def dcov_test(x: Any, y: Any, n_permutations: int = 999, seed: int | np.random.Generator | None = None) -> SignificanceResult:
    r"""Permutation test of independence with the distance covariance :math:`\mathrm{dCov}^2_n(x, y)`.

    :math:`\mathrm{dCov}^2_n = \frac1{n^2}\sum_{kl} A_{kl}B_{kl}`, A and B the double-centred
    Euclidean distance matrices of x and y (rows are paired samples, shape (n,) or (n, d), n ≥ 4);
    the null permutes the rows of y (B → B[π, π]); p = (1 + #{T_b ≥ T})/(1 + B), exact under
    independence. ``statistic`` is dCov² of the data **as given** (dcor's
    ``distance_covariance_sqr``; homogeneous of degree 1 in the scale of each variable); the test
    itself is computed on rescaled variables (the p-value does not depend on units).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=100)
    >>> dcov_test(x, x**2 + 0.1 * rng.normal(size=100), 199, seed=0).pvalue  # no linear correlation
    0.005
    """
    from scipy.spatial.distance import cdist

    total = check_count(n_permutations, "n_permutations")
    rng = np.random.default_rng(seed)
    xa0, ya0 = as_samples(x, "x", min_n=4), as_samples(y, "y", min_n=4)
    xa, ya = _paired(xa0, ya0, 4)
    a, b = _double_centred(cdist(xa, xa)), _double_centred(cdist(ya, ya))
    stats = _permuted_sums(a, b, total, rng)
    result = _permutation_result(stats, total, "dcov permutation")
    # the statistic in the data's own units: dCov² scales as (scale of x)·(scale of y)
    scale = _spread(xa0) * _spread(ya0) / (_spread(xa) * _spread(ya))
    null = result.null_distribution
    assert null is not None  # a permutation result always carries its null
    return SignificanceResult(result.statistic * scale, result.pvalue, result.method, None, null * scale)


def _spread(a: np.ndarray) -> float:
    """max |a_i − a_0| (what the power-of-two rescaling divides by, up to a power of two)."""
    return float(np.abs(a - a[:1]).max()) or 1.0


def _gaussian_gram(a: np.ndarray, bandwidth: Any, name: str) -> tuple[np.ndarray, float]:
    from scipy.spatial.distance import pdist, squareform

    spec = one_bandwidth(bandwidth, "hsic_test (per variable)")
    d2 = squareform(pdist(a, "sqeuclidean"))
    if isinstance(spec, str):
        sub = a if len(a) <= 1000 else a[np.linspace(0, len(a) - 1, 1000).astype(np.intp)]
        dist = pdist(sub)
        dist = dist[dist > 0]
        if dist.size == 0:
            raise ValueError(f"{name} is constant: the median bandwidth is undefined and HSIC is 0 "
                             "(a constant is independent of everything)")
        sigma = float(np.median(dist))
    else:
        sigma = spec
    return np.exp(-0.5 / sigma**2 * d2), sigma


def hsic_test(x: Any, y: Any, bandwidth: float | str | tuple[Any, Any] = "median", method: str = "permutation",
              n_permutations: int = 999, seed: int | np.random.Generator | None = None) -> SignificanceResult:
    r"""Test of independence with HSIC and Gaussian kernels: permutation or gamma-approximation p-value.

    :math:`\mathrm{HSIC}_b = \frac1{n^2}\operatorname{tr}(KHLH)` (V-statistic, ≥ 0), K and L the
    Gaussian Gram matrices :math:`e^{-\|u-v\|^2/(2\sigma^2)}` of x and y, :math:`H = I - \frac1n 11^\top`.
    ``bandwidth``: σ for both, ``"median"`` (each variable's median distance between distinct
    points, on at most 1000 of them; on the rescaled data, so the test is unit-free), or a pair
    (σ_x, σ_y). A given σ is in the units of the data.

    ``method="permutation"`` (default): p = (1 + #{T_b ≥ T})/(1 + B), exact. ``method="gamma"``:
    n·HSIC_b is matched to a gamma law by the mean :math:`\frac1n(1 + \mu_x\mu_y - \mu_x - \mu_y)`
    (μ the mean off-diagonal kernel value) and the variance
    :math:`\frac{72(n-4)(n-5)}{n(n-1)(n-2)(n-3)}\cdot\frac{1}{n(n-1)}\sum_{i\ne j}\big(\tfrac16 \tilde K_{ij}\tilde L_{ij}\big)^2`
    (:math:`\tilde K = HKH`) of its null distribution (Gretton et al. 2008): no permutations, O(n²),
    slightly liberal at small n (n < 100) and conservative for strong dependence within x or y; n ≥ 6.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=200)
    >>> hsic_test(x, np.cos(3 * x) + 0.3 * rng.normal(size=200), method="gamma").pvalue < 1e-3
    True
    """
    if method not in ("permutation", "gamma"):
        raise ValueError(f"method must be 'permutation' or 'gamma', got {method!r}")
    total = check_count(n_permutations, "n_permutations")
    rng = np.random.default_rng(seed)
    xa0, ya0 = as_samples(x, "x", min_n=6), as_samples(y, "y", min_n=6)
    xa, ya = _paired(xa0, ya0, 6)
    bx, by = bandwidth if isinstance(bandwidth, tuple) else (bandwidth, bandwidth)
    if isinstance(bandwidth, tuple) and len(bandwidth) != 2:
        raise ValueError("bandwidth as a tuple must be a pair (σ_x, σ_y)")
    sx, sy = _spread(xa0) / _spread(xa), _spread(ya0) / _spread(ya)  # data units per rescaled unit
    spec_x, spec_y = one_bandwidth(bx, "hsic_test (per variable)"), one_bandwidth(by, "hsic_test (per variable)")
    bx = spec_x if isinstance(spec_x, str) else spec_x / sx
    by = spec_y if isinstance(spec_y, str) else spec_y / sy
    k, sigma_x = _gaussian_gram(xa, bx, "x")
    l, sigma_y = _gaussian_gram(ya, by, "y")
    n = len(k)
    kc, lc = _double_centred(k), _double_centred(l)  # HKH, HLH
    sigmas = (sigma_x * sx, sigma_y * sy)
    if method == "permutation":
        stats = _permuted_sums(kc, l, total, rng)  # tr(HKH L)/n² = mean(HKH ∘ L); L[π, π] permutes y
        return _permutation_result(stats, total, "hsic permutation", sigmas)
    from scipy.stats import gamma

    stat = float(np.mean(kc * lc))
    prod = (kc * lc / 6.0) ** 2
    var = (prod.sum() - np.trace(prod)) / (n * (n - 1))
    var *= 72.0 * (n - 4) * (n - 5) / (n * (n - 1) * (n - 2) * (n - 3))
    mu_x = (k.sum() - np.trace(k)) / (n * (n - 1))
    mu_y = (l.sum() - np.trace(l)) / (n * (n - 1))
    mean = (1 + mu_x * mu_y - mu_x - mu_y) / n
    if var <= 0 or mean <= 0:
        return SignificanceResult(stat, 1.0, "hsic gamma approximation", sigmas)
    shape, scale = mean**2 / var, var * n / mean
    pvalue = float(gamma.sf(n * stat, shape, scale=scale))
    return SignificanceResult(stat, pvalue, "hsic gamma approximation", sigmas)


