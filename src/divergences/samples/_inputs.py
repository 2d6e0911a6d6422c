"""Input checks shared by the sample estimators: clear ``ValueError``s naming the argument."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_pair", "as_samples", "check_positive", "as_weights"]


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
    """A finite float > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number > 0, got {value!r}") from None
    if not (v > 0 and np.isfinite(v)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def as_weights(w: Any, n: int, name: str) -> np.ndarray:
    """Non-negative sample weights normalised to sum 1 (uniform when ``w`` is None)."""
    if w is None:
        return np.full(n, 1.0 / n)
    arr = np.asarray(w, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one weight per sample, got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    total = arr.sum()
    if total <= 0:
        raise ValueError(f"{name} must have a positive sum")
    return arr / total
