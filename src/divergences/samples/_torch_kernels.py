"""Torch (autograd) paths of :func:`~divergences.samples.mmd`, :func:`~divergences.samples.energy`
and :func:`~divergences.samples.cauchy_schwarz`: the same formulas as the NumPy paths (see their
docstrings), summed over pairs in memory-bounded tiles (:mod:`._torch_pairs`)."""

from __future__ import annotations

import math

import torch

from ._inputs import check_bandwidths, one_bandwidth, power_of_two_scale, total
from ._threads import solver_threads
from ._torch_inputs import as_tensor_pair, tensor_weights
from ._torch_pairs import PairFunction, distance, pair_sum, safe_sqrt

__all__ = ["cauchy_schwarz_torch", "energy_torch", "median_bandwidth_torch", "mmd_torch"]

_MEDIAN_POINTS = 1000


def _centre_and_scale(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Centre on the pooled mean (detached: the statistics are translation invariant) and divide by a
    power of two when the data are huge (exact); returns the scale s used."""
    s = power_of_two_scale(x, y)
    if s != 1.0:
        x, y = x / s, y / s
    centre = torch.cat([x, y]).detach().mean(0)
    return x - centre, y - centre, s


def median_bandwidth_torch(x: torch.Tensor, y: torch.Tensor) -> float:
    """Median distance between distinct points of the pooled sample (at most 1000 evenly spaced)."""
    with torch.no_grad():
        pooled = torch.cat([x, y]).detach().to(torch.float64)
        if len(pooled) > _MEDIAN_POINTS:
            idx = torch.linspace(0, len(pooled) - 1, _MEDIAN_POINTS).long()
            pooled = pooled[idx]
        s = power_of_two_scale(pooled)
        pooled = pooled / s
        i, j = torch.triu_indices(len(pooled), len(pooled), offset=1)
        dist = torch.cdist(pooled, pooled, compute_mode="donot_use_mm_for_euclid_dist")[i, j]
        dist = dist[dist > 0]
        if dist.numel() == 0:
            raise ValueError("bandwidth='median' is undefined: all points coincide; give bandwidth= a number")
        # the lower median, as numpy.median averages the two middle values: take both and average
        srt = dist.sort().values
        k = srt.numel()
        return float((srt[(k - 1) // 2] + srt[k // 2]) / 2) * s


def _coincide(x: torch.Tensor, y: torch.Tensor) -> bool:
    with torch.no_grad():
        first = x[:1]
        return bool((x == first).all()) and bool((y == first).all())


def _sigmas(bandwidth, x, y) -> list[float]:
    spec = check_bandwidths(bandwidth)
    return [median_bandwidth_torch(x, y)] if isinstance(spec, str) else spec


def torch_kernel(kernel: str, sigmas: list[float]):
    """Σ_σ k_σ(d²) as a function of squared distances (each k_σ(0) = 1)."""
    if kernel in ("rbf", "gaussian"):  # k = Σ e^{c d²}, k' = Σ c e^{c d²}
        scales = [-0.5 / s**2 for s in sigmas]
        if len(scales) == 1:
            c = scales[0]
            return PairFunction(lambda d2: torch.exp(d2 * c), lambda d2, k: k * c)
        return PairFunction(lambda d2: total(torch.exp(d2 * c) for c in scales),
                            lambda d2, k: total(c * torch.exp(d2 * c) for c in scales))
    if kernel == "laplacian":  # k = Σ e^{−d/s}, k' = −Σ e^{−d/s} / (2 s d) (0 at d = 0, as safe_sqrt)

        def laplacian_derivative(d2, k):
            d = safe_sqrt(d2)
            return total(-torch.exp(-d / s) / s for s in sigmas) * distance.derivative(d2, d)

        return PairFunction(lambda d2: total(torch.exp(-safe_sqrt(d2) / s) for s in sigmas), laplacian_derivative)
    if kernel in ("imq", "inverse_multiquadric"):  # k = Σ (1 + d²/s²)^−½, k' = −Σ (1 + d²/s²)^−3/2 / (2 s²)
        return PairFunction(lambda d2: total(torch.rsqrt(1 + d2 / s**2) for s in sigmas),
                            lambda d2, k: total(-0.5 / s**2 * torch.rsqrt(1 + d2 / s**2) ** 3 for s in sigmas))
    raise ValueError(f"kernel must be 'rbf' (alias 'gaussian'), 'laplacian' or 'imq', got {kernel!r}")


def _mmd_torch(x, y, kernel: str, bandwidth, unbiased: bool, block: int) -> torch.Tensor:
    xt, yt = as_tensor_pair(x, y, min_x=2 if unbiased else 1, min_y=2 if unbiased else 1)
    if check_bandwidths(bandwidth) == "median" and _coincide(xt, yt):
        return (xt.sum() + yt.sum()) * 0.0  # one point mass: 0 for every bandwidth, gradient 0
    sigmas = _sigmas(bandwidth, xt, yt)
    xt, yt, s = _centre_and_scale(xt, yt)
    fn = torch_kernel(kernel, [sg / s for sg in sigmas])
    n, m, k0 = len(xt), len(yt), len(sigmas)
    exact = kernel == "laplacian"  # it sums √d²: exact distances (see the NumPy path)
    kxx = pair_sum(xt, xt, fn, same=True, block=block, exact=exact)
    kyy = pair_sum(yt, yt, fn, same=True, block=block, exact=exact)
    kxy = pair_sum(xt, yt, fn, block=block, exact=exact)
    if unbiased:
        return (kxx - n * k0) / (n * (n - 1)) + (kyy - m * k0) / (m * (m - 1)) - 2 * kxy / (n * m)
    return kxx / n**2 + kyy / m**2 - 2 * kxy / (n * m)


def _energy_torch(x, y, weights, block: int) -> torch.Tensor:
    xt, yt = as_tensor_pair(x, y)
    if weights is None:
        weights = (None, None)
    if not isinstance(weights, (tuple, list)) or len(weights) != 2:
        raise ValueError("weights must be a pair (weights_x, weights_y); either may be None")
    u = tensor_weights(weights[0], (len(xt),), "weights[0]", xt)
    v = tensor_weights(weights[1], (len(yt),), "weights[1]", yt)
    xt, yt, s = _centre_and_scale(xt, yt)
    exy = pair_sum(xt, yt, distance, u=u, v=v, block=block, exact=True)
    exx = pair_sum(xt, xt, distance, u=u, v=u, same=True, block=block, exact=True)
    eyy = pair_sum(yt, yt, distance, u=v, v=v, same=True, block=block, exact=True)
    return safe_sqrt((2 * exy - exx - eyy).clamp_min(0)) * math.sqrt(s)


def _log_rbf_mean(a, b, sigma, same, block) -> torch.Tensor:
    """log mean_{ij} exp(−‖a_i − b_j‖²/(2σ²)), shifted by the smallest distance (no underflow)."""
    with torch.no_grad():
        if same:
            shift = 0.0
        else:
            shift = math.inf
            for i0 in range(0, len(a), block):
                d2 = torch.cdist(a[i0:i0 + block].detach(), b.detach()) ** 2
                shift = min(shift, float(d2.min()))
            shift = shift / (2 * sigma**2)
    c = -0.5 / sigma**2
    total = pair_sum(a, b, PairFunction(lambda d2: torch.exp(d2 * c + shift), lambda d2, k: k * c), same=same,
                     block=block)
    return torch.log(total) - shift - math.log(len(a) * len(b))


def _cauchy_schwarz_torch(x, y, bandwidth, block: int) -> torch.Tensor:
    xt, yt = as_tensor_pair(x, y)
    spec = one_bandwidth(bandwidth, "cauchy_schwarz")
    if spec == "median" and _coincide(xt, yt):
        return (xt.sum() + yt.sum()) * 0.0
    (sigma,) = _sigmas(spec, xt, yt)
    xt, yt, s = _centre_and_scale(xt, yt)
    sigma /= s
    log_xy = _log_rbf_mean(xt, yt, sigma, False, block)
    log_xx = _log_rbf_mean(xt, xt, sigma, True, block)
    log_yy = _log_rbf_mean(yt, yt, sigma, True, block)
    return (log_xx + log_yy - 2 * log_xy).clamp_min(0)


def _pairs(x, y) -> tuple[int, str]:
    """The size of the largest pair matrix one op of the call forms (max(n, m)², tiles included) and the
    device type, for the thread policy of :func:`._threads.solver_threads`."""
    t = x if isinstance(x, torch.Tensor) else y
    side = max(len(x) if hasattr(x, "__len__") else 1, len(y) if hasattr(y, "__len__") else 1)
    return side * side, t.device.type


def mmd_torch(x, y, kernel: str, bandwidth, unbiased: bool, block: int) -> torch.Tensor:
    with solver_threads(*_pairs(x, y)):
        return _mmd_torch(x, y, kernel, bandwidth, unbiased, block)


def energy_torch(x, y, weights, block: int) -> torch.Tensor:
    with solver_threads(*_pairs(x, y)):
        return _energy_torch(x, y, weights, block)


def cauchy_schwarz_torch(x, y, bandwidth, block: int) -> torch.Tensor:
    with solver_threads(*_pairs(x, y)):
        return _cauchy_schwarz_torch(x, y, bandwidth, block)
