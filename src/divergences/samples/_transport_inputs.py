"""Input checks of the transport functions: the exponent p, the pair of sample weights (NumPy and torch),
and the error a stopped exact solver reached. ``ValueError`` naming the argument, as everywhere."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._inputs import as_weights, check_positive

__all__ = ["check_p", "duality_gap", "rescaled_epsilon", "tensor_weights_pair", "times_scale",
           "weights_pair"]


def check_p(p: Any) -> float:
    p = check_positive(p, "p")
    if p < 1:
        raise ValueError(f"p must be ≥ 1 (the cost ‖u − v‖^p), got {p!r}")
    return p


def weights_pair(weights: Any, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    if weights is None:
        return as_weights(None, n, "weights[0]"), as_weights(None, m, "weights[1]")
    if not isinstance(weights, (tuple, list)) or len(weights) != 2:
        raise ValueError("weights must be a pair (weights_x, weights_y); either may be None")
    return (as_weights(weights[0], n, "weights[0]"),
            as_weights(weights[1], m, "weights[1]"))


def tensor_weights_pair(weights: Any, xt: Any, yt: Any) -> tuple[Any, Any]:
    """The torch twin of :func:`weights_pair`: weights of shape xt.shape[:-1] and yt.shape[:-1] (batches
    included), normalised along the last axis, differentiable."""
    from ._torch_inputs import tensor_weights

    if weights is None:
        weights = (None, None)
    if not isinstance(weights, (tuple, list)) or len(weights) != 2:
        raise ValueError("weights must be a pair (weights_x, weights_y); either may be None")
    return (tensor_weights(weights[0], tuple(xt.shape[:-1]), "weights[0]", xt),
            tensor_weights(weights[1], tuple(yt.shape[:-1]), "weights[1]", yt))


def duality_gap(value: float, log: dict, a: Any, b: Any) -> str:
    """The error reached by a network simplex stopped at its iteration budget: its plan is feasible, its dual
    (u, v) not yet, and the gap between the two values bounds how far the value is from the optimum."""
    try:
        gap = float(value) - float(np.dot(a, log["u"]) + np.dot(b, log["v"]))
    except (KeyError, TypeError, ValueError):
        return "duality gap unknown"
    return f"duality gap {gap:.3g} (value {float(value):.6g})"


def _times_pow2(value: Any, exponent: float) -> Any:
    """value · 2^exponent (a float or a tensor) without forming a power of two outside the float range: exact
    for an integer exponent while the result is a normal number; inf (or 0) where the result itself is beyond."""
    n = math.floor(exponent)
    if exponent != n:
        value = value * 2.0 ** (exponent - n)
    while n > 1000:
        value, n = value * 2.0**1000, n - 1000
    while n < -1000:
        value, n = value * 2.0**-1000, n + 1000
    return value * 2.0**n


def times_scale(value: Any, scale: float, p: float) -> Any:
    """value · scale^p for a power of two ``scale`` (the undoing of a power-of-two rescaling of the data, for a
    value homogeneous of degree p); inf where the true value exceeds the float64 range."""
    return value if scale == 1 else _times_pow2(value, math.log2(scale) * p)


def rescaled_epsilon(epsilon: float, scale: float, p: float) -> float:
    """ε / scale^p, the ε of data divided by ``scale`` (a power of two); ``ValueError`` naming ``epsilon`` when
    that leaves the float64 range (ε astronomically large or small against the data)."""
    eps = float(_times_pow2(epsilon, -math.log2(scale) * p)) if scale != 1 else epsilon
    if not (2.0**-1022 <= eps < math.inf):  # a subnormal ε: every C/ε overflows
        raise ValueError(f"epsilon={epsilon:g} is out of the float64 range against data of scale {scale:g} "
                         f"(epsilon / scale^p = {eps:g})")
    return eps
