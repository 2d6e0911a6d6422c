r"""Kernel and distance statistics between samples: MMD², energy distance, Cauchy–Schwarz.

All three are sums of a function of pairwise Euclidean distances. They are accumulated over square
blocks of at most ``block × block`` pairs (default 2048: 32 MiB of float64 per block), so memory
stays bounded for any n; symmetric within-sample sums visit only the blocks on and above the
diagonal. Squared distances are formed as ‖a‖² + ‖b‖² − 2 a·b after centring both samples on their
pooled mean, clipped at 0, and set exactly to 0 on the diagonal of within-sample blocks; the energy
distance, which sums the distances themselves, forms them from coordinate differences instead.

Bandwidths: the Gaussian (RBF) kernel is :math:`k(u, v) = \exp(-\|u-v\|^2 / (2\sigma^2))` and the
Laplacian kernel :math:`\exp(-\|u-v\|/\sigma)`. ``bandwidth="median"`` sets σ to the median
Euclidean distance between distinct points of the pooled sample (the median heuristic, computed on
at most 1000 evenly spaced points of the pooled sample, so it is deterministic).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._inputs import as_pair, check_positive

__all__ = ["cauchy_schwarz", "energy", "mmd", "median_bandwidth"]

_MEDIAN_POINTS = 1000


def _centred(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre = (x.sum(axis=0) + y.sum(axis=0)) / (len(x) + len(y))
    return x - centre, y - centre


def _sq_distance_blocks(a: np.ndarray, b: np.ndarray | None, block: int,
                        exact: bool = False) -> Iterator[tuple[np.ndarray, float]]:
    """Blocks of squared distances between rows of ``a`` and ``b`` with their multiplicity.

    ``b is None`` means the within-sample case: only blocks on and above the diagonal are formed,
    those above it counted twice, so the weighted sum over blocks is the sum over all ordered pairs
    (i, j), the diagonal i = j included (with distance exactly 0). ``exact=True`` forms each block
    from coordinate differences (SciPy's ``cdist``) instead of the faster expansion, whose absolute
    error (≈ 1e-16·‖x‖²) matters where the distances themselves are summed (energy distance).
    """
    from scipy.spatial.distance import cdist

    same = b is None
    b = a if same else b
    sq_a = np.einsum("ij,ij->i", a, a)
    sq_b = sq_a if same else np.einsum("ij,ij->i", b, b)
    for i0 in range(0, len(a), block):
        ai, sa = a[i0 : i0 + block], sq_a[i0 : i0 + block, None]
        for j0 in range(i0 if same else 0, len(b), block):
            if exact:
                d2 = cdist(ai, b[j0 : j0 + block], "sqeuclidean")
            else:
                d2 = ai @ b[j0 : j0 + block].T
                d2 *= -2.0
                d2 += sa
                d2 += sq_b[None, j0 : j0 + block]
                np.maximum(d2, 0.0, out=d2)
            if same and i0 == j0:
                np.fill_diagonal(d2, 0.0)
            yield d2, (2.0 if same and j0 != i0 else 1.0)


def _pair_sum(a, b, fn: Callable[[np.ndarray], float], block: int, exact: bool = False) -> float:
    """Σ over ordered pairs of fn applied in place to blocks of squared distances."""
    return math.fsum(w * fn(d2) for d2, w in _sq_distance_blocks(a, b, block, exact))


def _check_block(block: Any) -> int:
    if not isinstance(block, (int, np.integer)) or isinstance(block, bool) or block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    return int(block)


def median_bandwidth(x: Any, y: Any) -> float:
    """The median heuristic: median Euclidean distance between distinct points of the pooled sample.

    Computed on at most 1000 evenly spaced points of the pooled sample (x then y). Raises
    ValueError when all those points coincide.

    >>> median_bandwidth([0.0, 1.0], [3.0])
    2.0
    """
    from scipy.spatial.distance import pdist

    xa, ya = as_pair(x, y)
    pooled = np.concatenate([xa, ya])
    if len(pooled) > _MEDIAN_POINTS:
        pooled = pooled[np.linspace(0, len(pooled) - 1, _MEDIAN_POINTS).astype(np.intp)]
    dist = pdist(pooled)
    dist = dist[dist > 0]
    if dist.size == 0:
        raise ValueError("bandwidth='median' is undefined: all points coincide; give bandwidth= a number")
    return float(np.median(dist))


def _bandwidth(bandwidth: Any, x: np.ndarray, y: np.ndarray) -> float:
    if isinstance(bandwidth, str):
        if bandwidth != "median":
            raise ValueError(f"bandwidth must be a number > 0 or 'median', got {bandwidth!r}")
        return median_bandwidth(x, y)
    return check_positive(bandwidth, "bandwidth")


def _kernel_fn(kernel: str, sigma: float) -> Callable[[np.ndarray], float]:
    if kernel in ("rbf", "gaussian"):
        scale = -0.5 / sigma**2

        def rbf(d2: np.ndarray) -> float:
            d2 *= scale
            return float(np.exp(d2, out=d2).sum())

        return rbf
    if kernel == "laplacian":

        def laplacian(d2: np.ndarray) -> float:
            d = np.sqrt(d2, out=d2)
            d *= -1.0 / sigma
            return float(np.exp(d, out=d).sum())

        return laplacian
    raise ValueError(f"kernel must be 'rbf' (alias 'gaussian') or 'laplacian', got {kernel!r}")


def mmd(x: Any, y: Any, kernel: str = "rbf", bandwidth: float | str = "median", unbiased: bool = True, *,
        block: int = 2048) -> float:
    r"""Squared maximum mean discrepancy MMD²(P, Q) between samples x ~ P and y ~ Q.

    :math:`\mathrm{MMD}^2 = E\,k(X,X') + E\,k(Y,Y') - 2E\,k(X,Y)`. With ``unbiased=True`` the
    within-sample means exclude i = j (the U-statistic of Gretton et al. 2012, which can be
    slightly negative); with ``unbiased=False`` they include it (the V-statistic, ≥ 0). The value
    returned is the **square** MMD², in kernel units (RBF and Laplacian kernels are ≤ 1). ``kernel``
    is "rbf" (alias "gaussian") or "laplacian"; ``bandwidth`` is σ or "median" (module notes).
    Memory is bounded by ``block`` (module notes).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> abs(mmd(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)), bandwidth=1.0)) < 0.01
    True
    """
    block = _check_block(block)
    xa, ya = as_pair(x, y, min_x=2 if unbiased else 1, min_y=2 if unbiased else 1)
    sigma = _bandwidth(bandwidth, xa, ya)
    fn = _kernel_fn(kernel, sigma)
    xa, ya = _centred(xa, ya)
    n, m = len(xa), len(ya)
    kxx, kyy, kxy = _pair_sum(xa, None, fn, block), _pair_sum(ya, None, fn, block), _pair_sum(xa, ya, fn, block)
    if unbiased:  # both kernels are 1 on the diagonal
        return (kxx - n) / (n * (n - 1)) + (kyy - m) / (m * (m - 1)) - 2 * kxy / (n * m)
    return kxx / n**2 + kyy / m**2 - 2 * kxy / (n * m)


def _distance_sum(d2: np.ndarray) -> float:
    return float(np.sqrt(d2, out=d2).sum())


def _energy_pairwise(xa: np.ndarray, ya: np.ndarray, block: int) -> float:
    n, m = len(xa), len(ya)
    xa, ya = _centred(xa, ya)
    exy = _pair_sum(xa, ya, _distance_sum, block, exact=True) / (n * m)
    exx = _pair_sum(xa, None, _distance_sum, block, exact=True) / n**2
    eyy = _pair_sum(ya, None, _distance_sum, block, exact=True) / m**2
    return math.sqrt(max(2 * exy - exx - eyy, 0.0))


def energy(x: Any, y: Any, *, block: int = 2048) -> float:
    r"""Energy distance between samples, on SciPy's scale: :math:`\sqrt{2E\|X-Y\| - E\|X-X'\| - E\|Y-Y'\|}`.

    Expectations are plug-in means over all pairs (diagonal included, as in
    ``scipy.stats.energy_distance``, which this equals in one dimension and which serves the 1-D
    case in O(n log n)). Other conventions: the *squared* energy distance
    :math:`2E\|X-Y\| - E\|X-X'\| - E\|Y-Y'\|` (dcor's ``energy_distance``) is the square of this
    value; some texts halve that. In d > 1 the sums are formed in blocks (module notes).

    >>> energy([0.0], [1.0])  # √(2·1 − 0 − 0)
    1.4142135623730951
    """
    block = _check_block(block)
    xa, ya = as_pair(x, y)
    if xa.shape[1] == 1:
        from scipy.stats import energy_distance

        return float(energy_distance(xa[:, 0], ya[:, 0]))
    return _energy_pairwise(xa, ya, block)


def _log_rbf_sum(a: np.ndarray, b: np.ndarray | None, sigma: float, block: int) -> float:
    """log Σ_{ij} exp(−‖a_i − b_j‖²/(2σ²)) over ordered pairs, in log space (no underflow)."""
    total = -math.inf
    scale = -0.5 / sigma**2
    for d2, w in _sq_distance_blocks(a, b, block):
        d2 *= scale
        top = float(d2.max())
        d2 -= top
        total = np.logaddexp(total, top + math.log(w * float(np.exp(d2, out=d2).sum())))
    return float(total)


def cauchy_schwarz(x: Any, y: Any, bandwidth: float | str = "median", *, block: int = 2048) -> float:
    r"""Cauchy–Schwarz divergence between Gaussian-kernel (Parzen) density estimates of x and y.

    :math:`D_{CS} = -\log\frac{\big(\frac{1}{nm}\sum_{ij} k(x_i, y_j)\big)^2}
    {\frac{1}{n^2}\sum_{ij} k(x_i, x_j)\;\frac{1}{m^2}\sum_{ij} k(y_i, y_j)}` with
    :math:`k(u, v) = \exp(-\|u - v\|^2/(2\sigma^2))`, σ = ``bandwidth`` (a number or "median").
    This is the CS divergence :math:`-\log\frac{(\int pq)^2}{\int p^2\int q^2}` between the Parzen
    estimates with Gaussian windows of width σ/√2 (the pairwise kernel is their convolution; the
    normalising constants cancel). Sums include i = j; they are formed in log space, so distant
    samples give a large finite value, not inf. Two single points at distance Δ give Δ²/σ².
    ≥ 0 and symmetric; nats.

    >>> cauchy_schwarz([0.0], [3.0], bandwidth=1.5)  # Δ²/σ² = 4
    4.0
    """
    block = _check_block(block)
    xa, ya = as_pair(x, y)
    sigma = _bandwidth(bandwidth, xa, ya)
    xa, ya = _centred(xa, ya)
    n, m = len(xa), len(ya)
    log_xy = _log_rbf_sum(xa, ya, sigma, block) - math.log(n * m)
    log_xx = _log_rbf_sum(xa, None, sigma, block) - 2 * math.log(n)
    log_yy = _log_rbf_sum(ya, None, sigma, block) - 2 * math.log(m)
    return max(log_xx + log_yy - 2 * log_xy, 0.0)
