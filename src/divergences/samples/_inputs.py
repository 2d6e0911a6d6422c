"""Input checks shared by the sample estimators: clear ``ValueError``s naming the argument."""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, overload

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["as_masses", "as_pair", "as_samples", "as_weights", "check_bandwidths", "check_count",
           "check_positive", "one_bandwidth", "power_of_two_scale", "rescaled", "total"]


def as_samples(x: Any, name: str, *, min_n: int = 1) -> np.ndarray:
    """``x`` as a float64 array of shape (n, d): a 1-D array is n scalar samples (d = 1)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has zero dimensions (shape {arr.shape})")
    if arr.shape[0] < min_n:
        raise ValueError(f"{name} needs at least {min_n} sample(s), got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "an infinite value"
        raise ValueError(f"{name} contains {bad}; drop or impute missing values first")
    return arr


def as_pair(x: Any, y: Any, *, min_x: int = 1, min_y: int = 1, names: tuple[str, str] = ("x", "y")):
    """Two sample arrays (n, d) and (m, d) with the same dimension d."""
    xa = as_samples(x, names[0], min_n=min_x)
    ya = as_samples(y, names[1], min_n=min_y)
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(
            f"{names[0]} has dimension {xa.shape[1]} but {names[1]} has dimension {ya.shape[1]} "
            f"(shapes {xa.shape} and {ya.shape})"
        )
    return xa, ya


def check_positive(value: Any, name: str) -> float:
    """A finite float > 0 (a number: strings and booleans are refused, not converted)."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number > 0, got {value!r}") from None
    if not (v > 0 and np.isfinite(v)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


@overload
def total(terms: Iterable[np.ndarray]) -> np.ndarray: ...
@overload
def total(terms: Iterable[Tensor]) -> Tensor: ...
def total(terms: Iterable[Any]) -> Any:
    """The sum of a non-empty sequence of arrays or tensors, from its first term (no ``0 +`` start)."""
    return functools.reduce(operator.add, terms)


def check_count(value: Any, name: str, low: int = 1) -> int:
    """An integer ≥ ``low`` (a count: floats, strings and booleans are refused, not converted)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def as_masses(w: Any, n: int, name: str) -> np.ndarray:
    """Non-negative masses, one per sample, finite with a positive sum, as given (1/n each when ``w`` is
    None): the masses of unbalanced transport, and :func:`as_weights` before its normalisation."""
    if w is None:
        return np.full(n, 1.0 / n)
    try:
        arr = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of non-negative numbers, got {type(w).__name__}") from None
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one weight per sample, got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    if not arr.max() > 0:
        raise ValueError(f"{name} must have a positive sum")
    return arr


def as_weights(w: Any, n: int, name: str) -> np.ndarray:
    """Non-negative sample weights normalised to sum 1 (uniform when ``w`` is None); weights are first
    divided by a power of two near their maximum, so a sum that would overflow (weights near 1e308)
    or underflow (subnormal weights) normalises correctly."""
    arr = as_masses(w, n, name)
    if w is None:
        return arr
    arr = arr / 2.0 ** math.floor(math.log2(arr.max()))  # exact: a sum of weights near 1e308 cannot overflow
    return arr / arr.sum()


def power_of_two_scale(*arrays, always: bool = False) -> float:
    """A power of two s with ½ < max|x| / s ≤ 1 (≤ 2 for max|x| above 2^1023) when max|x| is above 1e100
    or below 1e-100 (else 1).

    Squared distances of data near 1e200 overflow to inf (and inf − inf to NaN), those of data near
    1e-300 underflow to 0; dividing by a power of two is exact, and each statistic's scale law
    undoes it. ``always=True`` normalises any nonzero data (for solvers with absolute tolerances).
    """
    top = 0.0
    for a in arrays:
        if hasattr(a, "detach"):
            if a.numel():
                top = max(top, float(a.detach().abs().max()))
        elif a.size:
            top = max(top, float(np.abs(a).max()))
    if top == 0 or (not always and 1e-100 <= top <= 1e100):
        return 1.0
    return 2.0 ** min(math.ceil(math.log2(top)), 1023)  # 2^1024 overflows: data near 1.8e308 end in (½, 2]


def rescaled(*arrays: np.ndarray) -> tuple[list[np.ndarray], float]:
    """The arrays centred on their pooled mean and divided by a power of two s (exact) with the largest
    |coordinate| in (½, 1]: squared distances of data near 1e±200 neither overflow nor underflow.
    Returns the arrays and log s (distances scale by s: entropies shift by d·log s, KL is unchanged)."""
    first = power_of_two_scale(*arrays, always=True)  # the mean of values near 1e308 would overflow
    scaled = [a / first for a in arrays]
    pooled_mean = np.concatenate(scaled).mean(axis=0)
    centred = [a - pooled_mean for a in scaled]
    second = power_of_two_scale(*centred, always=True)  # the spread, which can be far below the offset
    return [a / second for a in centred], math.log(first) + math.log(second)


def check_bandwidths(bandwidth: Any) -> list[float] | str:
    """'median', one number > 0, or a non-empty sequence of numbers > 0 (several kernels summed)."""
    if isinstance(bandwidth, str):
        if bandwidth != "median":
            raise ValueError(f"bandwidth must be a number > 0, a sequence of them, or 'median', got {bandwidth!r}")
        return "median"
    if bandwidth is None or isinstance(bandwidth, bool):
        raise ValueError(f"bandwidth must be a number > 0, a sequence of them, or 'median', got {bandwidth!r}")
    if isinstance(bandwidth, Sequence) or (hasattr(bandwidth, "ndim") and getattr(bandwidth, "ndim", 0) > 0):
        values = [check_positive(b, "bandwidth") for b in list(bandwidth)]
        if not values:
            raise ValueError("bandwidth must not be an empty sequence")
        return values
    return [check_positive(bandwidth, "bandwidth")]


def one_bandwidth(bandwidth: Any, what: str) -> float | str:
    """'median' or one number > 0 (a one-element sequence is its element); ``what`` names the caller
    in the error for several."""
    spec = check_bandwidths(bandwidth)
    if isinstance(spec, str):
        return spec
    if len(spec) != 1:
        raise ValueError(f"{what} takes one bandwidth (a number or 'median'), not a sequence of {len(spec)}")
    return spec[0]
