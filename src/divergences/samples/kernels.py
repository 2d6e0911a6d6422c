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
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..core.validation import check_flag
from ._inputs import (
    as_pair,
    as_weights,
    check_bandwidths,
    check_count,
    one_bandwidth,
    power_of_two_scale,
    total,
)
from ._threads import blas_threads
from ._torch_inputs import any_tensor

__all__ = ["cauchy_schwarz", "energy", "mmd", "median_bandwidth"]

_MEDIAN_POINTS = 1000


def _centred(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre = (x.sum(axis=0) + y.sum(axis=0)) / (len(x) + len(y))
    return x - centre, y - centre


def _sq_distance_blocks(a: np.ndarray, b: np.ndarray | None, block: int,
                        exact: bool = False) -> Iterator[tuple[np.ndarray, float, int, int]]:
    """Blocks of squared distances between rows of ``a`` and ``b``, their multiplicity and offsets.

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
            yield d2, (2.0 if same and j0 != i0 else 1.0), i0, j0


def _pair_sum(a, b, fn: Callable[[np.ndarray], np.ndarray], block: int, exact: bool = False,
              wa: np.ndarray | None = None, wb: np.ndarray | None = None) -> float:
    """Σ over ordered pairs of (wa_i wb_j) fn(d²_ij), unweighted when ``wa`` is None; ``b is None`` is
    the within-sample sum (wb = wa)."""
    wb = wa if b is None else wb
    if (wa is None) != (wb is None):
        raise ValueError("_pair_sum: weights for both samples or for neither")
    terms = []
    for d2, w, i0, j0 in _sq_distance_blocks(a, b, block, exact):
        k = fn(d2)
        if wa is not None and wb is not None:
            terms.append(w * float(wa[i0 : i0 + k.shape[0]] @ k @ wb[j0 : j0 + k.shape[1]]))
        else:
            terms.append(w * float(k.sum()))
    return math.fsum(terms)


def median_bandwidth(x: Any, y: Any) -> float:
    """The median heuristic: median Euclidean distance between distinct points of the pooled sample.

    Computed on at most 1000 evenly spaced points of the pooled sample (x then y). Identical points
    are left out (a sample with many duplicates still gets the median of its distinct distances);
    raises ValueError when all those points coincide. Torch tensors are accepted (the value is a
    float, not differentiated).

    >>> median_bandwidth([0.0, 1.0], [3.0])
    2.0
    """
    if any_tensor(x, y):
        from ._torch_inputs import as_tensor_pair
        from ._torch_kernels import median_bandwidth_torch

        return median_bandwidth_torch(*as_tensor_pair(x, y))
    from scipy.spatial.distance import pdist

    xa, ya = as_pair(x, y)
    pooled = np.concatenate([xa, ya])
    if len(pooled) > _MEDIAN_POINTS:
        pooled = pooled[np.linspace(0, len(pooled) - 1, _MEDIAN_POINTS).astype(np.intp)]
    s = power_of_two_scale(pooled)
    dist = pdist(pooled / s)
    dist = dist[dist > 0]
    if dist.size == 0:
        raise ValueError("bandwidth='median' is undefined: all points coincide; give bandwidth= a number")
    return float(np.median(dist)) * s


def _all_coincide(x: Any, y: Any) -> bool:
    """Whether every point of x and y is the same point (then MMD² and D_CS are 0 for any bandwidth)."""
    first = x[0]
    return bool((x == first).all()) and bool((y == first).all())


def _sigmas(bandwidth: Any, x: np.ndarray, y: np.ndarray) -> list[float]:
    spec = check_bandwidths(bandwidth)
    return [median_bandwidth(x, y)] if isinstance(spec, str) else spec


def _kernel_fn(kernel: str, sigmas: list[float]) -> Callable[[np.ndarray], np.ndarray]:
    """Σ_σ k_σ(d²) on a block of squared distances (may overwrite it); every k_σ(0) = 1."""
    if kernel in ("rbf", "gaussian"):
        if len(sigmas) == 1:
            scale = -0.5 / sigmas[0] ** 2

            def rbf(d2: np.ndarray) -> np.ndarray:
                d2 *= scale
                return np.exp(d2, out=d2)

            return rbf
        return lambda d2: total(np.exp(d2 * (-0.5 / s**2)) for s in sigmas)
    if kernel == "laplacian":
        return lambda d2: total(np.exp(np.sqrt(d2) * (-1.0 / s)) for s in sigmas)
    if kernel in ("imq", "inverse_multiquadric"):
        return lambda d2: total(1.0 / np.sqrt(1.0 + d2 / s**2) for s in sigmas)
    raise ValueError(f"kernel must be 'rbf' (alias 'gaussian'), 'laplacian' or 'imq', got {kernel!r}")


def _scaled(xa: np.ndarray, ya: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centred samples, divided by a power of two when they are huge (exact; see power_of_two_scale)."""
    s = power_of_two_scale(xa, ya)
    if s != 1.0:
        xa, ya = xa / s, ya / s
    xa, ya = _centred(xa, ya)
    return xa, ya, s


def mmd(x: Any, y: Any, kernel: str = "rbf", bandwidth: float | str | Sequence[float] = "median",
        unbiased: bool = True, *, block: int = 2048) -> Any:
    r"""Squared maximum mean discrepancy MMD²(P, Q) between samples x ~ P and y ~ Q.

    :math:`\mathrm{MMD}^2 = E\,k(X,X') + E\,k(Y,Y') - 2E\,k(X,Y)`. With ``unbiased=True`` the
    within-sample means exclude i = j (the U-statistic of Gretton et al. 2012, which can be
    slightly negative; needs ≥ 2 samples each); with ``unbiased=False`` they include it (the
    V-statistic, ≥ 0). The value returned is the **square** MMD², in kernel units.

    Kernels (each equal to 1 at distance 0): ``"rbf"`` (alias ``"gaussian"``)
    :math:`e^{-\|u-v\|^2/(2\sigma^2)}`, ``"laplacian"`` :math:`e^{-\|u-v\|/\sigma}`, ``"imq"``
    (inverse multiquadric) :math:`(1 + \|u-v\|^2/\sigma^2)^{-1/2}`. ``bandwidth`` is σ, a sequence
    of σ (the kernel is then the *sum* of the kernels, a common multi-scale choice; MMD² adds up),
    or ``"median"`` (module notes; when every point of x and y is the same point the median is
    undefined and the value is exactly 0 for any bandwidth, which is returned). Memory is bounded by
    ``block`` (module notes).

    Torch tensors in (either argument): a 0-d tensor out, differentiable by autograd in x and y,
    computed in tiles so that n = m = 50 000 never holds an n × m matrix, in the forward or the
    backward pass. GeomLoss's ``SamplesLoss("gaussian", blur=σ)`` is **half** the biased
    (V-statistic) MMD² with the RBF kernel; ``SamplesLoss("laplacian", blur=σ)`` likewise with the
    Laplacian kernel. Data of any finite scale are handled (huge values are rescaled exactly by a
    power of two; no overflow to NaN).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> abs(mmd(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)), bandwidth=1.0)) < 0.01
    True
    """
    block = check_count(block, "block")
    unbiased = check_flag(unbiased, "unbiased")
    if any_tensor(x, y):
        from ._torch_kernels import mmd_torch

        return mmd_torch(x, y, kernel, bandwidth, unbiased, block)
    xa, ya = as_pair(x, y, min_x=2 if unbiased else 1, min_y=2 if unbiased else 1)
    if check_bandwidths(bandwidth) == "median" and _all_coincide(xa, ya):
        return 0.0  # one point mass against itself: 0 for every bandwidth (the median heuristic has none)
    sigmas = _sigmas(bandwidth, xa, ya)
    xa, ya, s = _scaled(xa, ya)
    fn = _kernel_fn(kernel, [sg / s for sg in sigmas])
    n, m, k0 = len(xa), len(ya), len(sigmas)
    exact = kernel == "laplacian"  # it sums √d²: the expansion's absolute error (≈1e-8·‖x‖) would show
    with blas_threads(max(n, m) ** 2):
        kxx = _pair_sum(xa, None, fn, block, exact)
        kyy, kxy = _pair_sum(ya, None, fn, block, exact), _pair_sum(xa, ya, fn, block, exact)
    if unbiased:  # every kernel is 1 on the diagonal
        return (kxx - n * k0) / (n * (n - 1)) + (kyy - m * k0) / (m * (m - 1)) - 2 * kxy / (n * m)
    return kxx / n**2 + kyy / m**2 - 2 * kxy / (n * m)


def _distances(d2: np.ndarray) -> np.ndarray:
    return np.sqrt(d2, out=d2)


def _energy_weights(weights: Any, n: int, m: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    if weights is None:
        return None, None
    if not isinstance(weights, (tuple, list)) or len(weights) != 2:
        raise ValueError("weights must be a pair (weights_x, weights_y); either may be None")
    return (None if weights[0] is None else as_weights(weights[0], n, "weights[0]"),
            None if weights[1] is None else as_weights(weights[1], m, "weights[1]"))


def energy(x: Any, y: Any, *, weights: tuple[Any, Any] | None = None, block: int = 2048) -> Any:
    r"""Energy distance between samples, on SciPy's scale: :math:`\sqrt{2E\|X-Y\| - E\|X-X'\| - E\|Y-Y'\|}`.

    Expectations are plug-in (weighted) means over all pairs, diagonal included, as in
    ``scipy.stats.energy_distance(u, v, u_weights, v_weights)``, which this equals in one
    dimension (where SciPy's O(n log n) CDF form serves the NumPy case). ``weights=(wx, wy)``:
    non-negative sample weights, normalised here (either may be None). Other conventions: the
    *squared* energy distance (dcor's ``energy_distance``) is the square of this value; GeomLoss's
    ``SamplesLoss("energy")`` is half the square. In d > 1 the sums are formed in blocks (module
    notes). Torch tensors in: a differentiable 0-d tensor (subgradient 0 where the value is 0),
    computed in memory-bounded tiles. Data of any finite scale are handled.

    >>> energy([0.0], [1.0])  # √(2·1 − 0 − 0)
    1.4142135623730951
    """
    block = check_count(block, "block")
    if any_tensor(x, y):
        from ._torch_kernels import energy_torch

        return energy_torch(x, y, weights, block)
    xa, ya = as_pair(x, y)
    wa, wb = _energy_weights(weights, len(xa), len(ya))
    xa, ya, s = _scaled(xa, ya)
    if xa.shape[1] == 1:
        from scipy.stats import energy_distance

        return float(energy_distance(xa[:, 0], ya[:, 0], wa, wb)) * math.sqrt(s)
    with blas_threads(max(len(xa), len(ya)) ** 2):
        value = _energy_pairwise(xa, ya, block, wa, wb)
    return value * math.sqrt(s)  # E‖X−Y‖ scales as s, the root as √s


def _energy_pairwise(xa: np.ndarray, ya: np.ndarray, block: int, wa: np.ndarray | None = None,
                     wb: np.ndarray | None = None) -> float:
    """The energy distance by blocked pair sums (any dimension; uniform weights when None)."""
    wa = np.full(len(xa), 1.0 / len(xa)) if wa is None else wa
    wb = np.full(len(ya), 1.0 / len(ya)) if wb is None else wb
    exy = _pair_sum(xa, ya, _distances, block, exact=True, wa=wa, wb=wb)
    exx = _pair_sum(xa, None, _distances, block, exact=True, wa=wa)
    eyy = _pair_sum(ya, None, _distances, block, exact=True, wa=wb)
    return math.sqrt(max(2 * exy - exx - eyy, 0.0))


def _log_rbf_sum(a: np.ndarray, b: np.ndarray | None, sigma: float, block: int) -> float:
    """log Σ_{ij} exp(−‖a_i − b_j‖²/(2σ²)) over ordered pairs, in log space (no underflow)."""
    total = -math.inf
    scale = -0.5 / sigma**2
    for d2, w, _, _ in _sq_distance_blocks(a, b, block):
        d2 *= scale
        top = float(d2.max())
        d2 -= top
        total = np.logaddexp(total, top + math.log(w * float(np.exp(d2, out=d2).sum())))
    return float(total)


def cauchy_schwarz(x: Any, y: Any, bandwidth: float | str = "median", *, block: int = 2048) -> Any:
    r"""Cauchy–Schwarz divergence between Gaussian-kernel (Parzen) density estimates of x and y.

    :math:`D_{CS} = -\log\frac{\big(\frac{1}{nm}\sum_{ij} k(x_i, y_j)\big)^2}
    {\frac{1}{n^2}\sum_{ij} k(x_i, x_j)\;\frac{1}{m^2}\sum_{ij} k(y_i, y_j)}` with
    :math:`k(u, v) = \exp(-\|u - v\|^2/(2\sigma^2))`, σ = ``bandwidth`` (a number or "median").
    This is the CS divergence :math:`-\log\frac{(\int pq)^2}{\int p^2\int q^2}` between the Parzen
    estimates with Gaussian windows of width σ/√2 (the pairwise kernel is their convolution; the
    normalising constants cancel). Sums include i = j; they are formed in log space, so distant
    samples give a large finite value, not inf. Two single points at distance Δ give Δ²/σ².
    ≥ 0 and symmetric; nats. Torch tensors in: a differentiable 0-d tensor (memory-bounded tiles).

    >>> cauchy_schwarz([0.0], [3.0], bandwidth=1.5)  # Δ²/σ² = 4
    4.0
    """
    block = check_count(block, "block")
    if any_tensor(x, y):
        from ._torch_kernels import cauchy_schwarz_torch

        return cauchy_schwarz_torch(x, y, bandwidth, block)
    xa, ya = as_pair(x, y)
    spec = one_bandwidth(bandwidth, "cauchy_schwarz")
    if spec == "median" and _all_coincide(xa, ya):
        return 0.0
    (sigma,) = _sigmas(spec, xa, ya)
    xa, ya, s = _scaled(xa, ya)
    sigma /= s
    n, m = len(xa), len(ya)
    with blas_threads(max(n, m) ** 2):
        log_xy = _log_rbf_sum(xa, ya, sigma, block) - math.log(n * m)
        log_xx = _log_rbf_sum(xa, None, sigma, block) - 2 * math.log(n)
        log_yy = _log_rbf_sum(ya, None, sigma, block) - 2 * math.log(m)
    return max(log_xx + log_yy - 2 * log_xy, 0.0)
