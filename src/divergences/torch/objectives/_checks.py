"""Shared argument checks for the objectives (ValueError naming the argument)."""

from __future__ import annotations

import math
from typing import Any

import torch


def tensor(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None, min_rows: int = 1) -> torch.Tensor:
    """A finite floating tensor (float16/bfloat16 computed in float32)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point or x.dtype in (torch.float16, torch.bfloat16):
        x = x.to(torch.float32)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if dims is not None and x.ndim not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} axes, got shape {tuple(x.shape)}")
    if x.ndim and x.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {x.shape[0]}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or an infinite value")
    return x


def positive(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number ≥ 0, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number ≥ 0, got {value!r}") from None
    if not (v >= 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number ≥ 0, got {value!r}")
    return v


def reduction(value: Any) -> str:
    if value not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {value!r}")
    return value


def reduce(loss: torch.Tensor, how: str) -> torch.Tensor:
    return loss.mean() if how == "mean" else loss.sum() if how == "sum" else loss
