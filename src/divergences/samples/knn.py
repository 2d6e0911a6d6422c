r"""k-nearest-neighbour estimators of entropy and KL divergence from samples (SciPy's KD-tree).

Both estimators are consistent for continuous densities, with a bias that grows with the dimension
and shrinks with the sample size (see the table in ``docs/samples.md``). Distances are Euclidean;
results are in nats.

Duplicated points have a k-NN distance of 0, which a density estimator reads as an atom. This is
the documented behaviour (no crash, no silent epsilon): a zero distance within ``x`` makes
:func:`knn_entropy` −inf and :func:`knn_kl` +inf; a point of ``x`` that coincides with its k-th
neighbour in ``y`` (and not within ``x``) makes :func:`knn_kl` −inf. A ``UserWarning`` says how many
points are involved. For data with ties (rounded or discrete values), add noise at the scale of the
rounding, or compare binned data with :func:`divergences.samples.histogram`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._inputs import as_pair, as_samples

__all__ = ["knn_entropy", "knn_kl"]


def _check_k(k: Any) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _kth_distance(tree_points: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Distance from each query to its k-th nearest point of ``tree_points`` (k counts from 1)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(tree_points)
    dist, _ = tree.query(queries, k=[k], workers=-1)
    return dist[:, 0]


def _log_unit_ball_volume(d: int) -> float:
    """log of the volume of the Euclidean unit ball in d dimensions: π^{d/2} / Γ(d/2 + 1)."""
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1)


def _warn_zero(count: int, what: str) -> None:
    warnings.warn(
        f"{count} point(s) have a zero k-NN distance {what}; the kNN estimator assumes continuous "
        "densities (see divergences.samples.knn for the documented result)",
        UserWarning,
        stacklevel=3,
    )


def knn_entropy(x: Any, k: int = 1) -> float:
    r"""Kozachenko–Leonenko estimate of the differential entropy H(P) (nats) from samples x ~ P.

    :math:`\hat H = \psi(n) - \psi(k) + \log V_d + \frac{d}{n}\sum_i \log\rho_k(i)`, with
    :math:`\rho_k(i)` the distance from :math:`x_i` to its k-th nearest neighbour among the other
    points of x and :math:`V_d = \pi^{d/2}/\Gamma(d/2+1)` the volume of the unit ball.

    ``x`` has shape (n,) or (n, d), n ≥ k + 1. Duplicated points give −inf (see the module notes).

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(20000, 1))
    >>> bool(abs(knn_entropy(x, k=3) - 0.5 * np.log(2 * np.pi * np.e)) < 0.05)
    True
    """
    from scipy.special import digamma

    k = _check_k(k)
    xa = as_samples(x, "x", min_n=k + 1)
    n, d = xa.shape
    rho = _kth_distance(xa, xa, k + 1)  # the nearest point of x to x_i is x_i itself
    zero = int((rho == 0).sum())
    if zero:
        _warn_zero(zero, "within x")
        return -math.inf
    return float(digamma(n) - digamma(k) + _log_unit_ball_volume(d) + d * np.mean(np.log(rho)))


def knn_kl(x: Any, y: Any, k: int = 1) -> float:
    r"""Wang–Kulkarni–Verdú kNN estimate of KL(P‖Q) (nats) from samples x ~ P and y ~ Q.

    :math:`\hat D = \frac{d}{n}\sum_{i=1}^n \log\frac{\nu_k(i)}{\rho_k(i)} + \log\frac{m}{n-1}`,
    with :math:`\rho_k(i)` the distance from :math:`x_i` to its k-th nearest neighbour in x (itself
    excluded) and :math:`\nu_k(i)` the distance to its k-th nearest neighbour in y. Argument order as
    :func:`divergences.kl`: the first sample is P.

    ``x`` has shape (n, d) with n ≥ k + 1 and ``y`` shape (m, d) with m ≥ k ((n,) and (m,) mean
    d = 1). The estimate can be negative (it is unbiased only asymptotically). Zero distances
    (duplicates) give ±inf with a warning (see the module notes).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(0, 1, 20000), rng.normal(1, 1, 20000)
    >>> bool(abs(knn_kl(x, y, k=5) - 0.5) < 0.05)  # KL(N(0,1)‖N(1,1)) = ½
    True
    """
    k = _check_k(k)
    xa, ya = as_pair(x, y, min_x=k + 1, min_y=k)
    n, d = xa.shape
    m = ya.shape[0]
    rho = _kth_distance(xa, xa, k + 1)
    nu = _kth_distance(ya, xa, k)
    zero_rho, zero_nu = int((rho == 0).sum()), int((nu == 0).sum())
    if zero_rho:
        _warn_zero(zero_rho, "within x")
        return math.inf
    if zero_nu:
        _warn_zero(zero_nu, "from x to y")
        return -math.inf
    return float(d * np.mean(np.log(nu) - np.log(rho)) + math.log(m / (n - 1)))
