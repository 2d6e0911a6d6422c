"""Argument checks shared by the analysis scores: every NaN or impossible input is a ValueError naming it."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def real(value: Any, name: str, *, low: float | None = None, high: float | None = None, low_open: bool = False,
         high_open: bool = False) -> float:
    """``value`` as a finite float in the stated interval, else ValueError naming ``name``."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0 and not isinstance(value, bool):
        value = value.item()  # a 0-d tensor or array
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return v


def finite_tensor(x: Any, name: str, *, allow_neg_inf: bool = False) -> None:
    """Refuse NaN and +inf (and -inf unless ``allow_neg_inf``) in a torch tensor, naming ``name``."""
    import torch

    if not x.is_floating_point() and not x.is_complex():
        return
    if x.numel() == 0:
        return
    if allow_neg_inf:
        bad = torch.isnan(x).any() | (x == math.inf).any()
        what = "NaN or +inf"
    else:
        bad = ~torch.isfinite(x).all()
        what = "NaN or ±inf"
    if bool(bad):
        raise ValueError(f"{name} holds {what}")


def finite_array(values: np.ndarray, name: str) -> np.ndarray:
    """Refuse NaN and ±inf in a NumPy array, naming ``name``."""
    if values.size and not np.isfinite(values).all():
        raise ValueError(f"{name} holds NaN or ±inf (entry {int(np.flatnonzero(~np.isfinite(values))[0])})")
    return values
