"""Input checks shared by every categorical entry point: clear ``ValueError``s naming the argument."""

from __future__ import annotations

import math
from typing import Any

from ._backend import Array

#: |Σp − 1| allowed for probability vectors, by the dtype of the *input* (its rounding of each
#: probability); ``normalize=True`` accepts counts and weights of any total instead.
SUM_ATOL = {"float64": 1e-6, "float32": 1e-3, "float16": 4e-3, "bfloat16": 3e-2}


def sum_atol(dtype: Any) -> float:
    """Tolerance on |Σp − 1| for input of ``dtype`` (integers and others: the float64 one)."""
    name = str(dtype).rsplit(".", 1)[-1]
    return SUM_ATOL.get(name, SUM_ATOL["float64"])


def check_axis(axis: int, ndim: int, name: str = "axis") -> int:
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise ValueError(f"{name} must be an int, got {axis!r}")
    if ndim == 0:
        raise ValueError("inputs must have at least one dimension (the categories)")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for inputs with {ndim} dimension(s)")
    return axis % ndim


def check_shapes(shape_p: tuple, shape_q: tuple, names: tuple[str, str] = ("p", "q")) -> tuple:
    """The broadcast shape of two inputs, or a ValueError naming both shapes."""
    import numpy as np

    try:
        return tuple(np.broadcast_shapes(tuple(shape_p), tuple(shape_q)))
    except ValueError:
        raise ValueError(
            f"{names[0]} with shape {tuple(shape_p)} and {names[1]} with shape {tuple(shape_q)} "
            "do not broadcast"
        ) from None


def check_nonempty(size: int, axis: int) -> None:
    if size == 0:
        raise ValueError(f"the category axis (axis={axis}) is empty")


def _any(xp: Any, mask: Array) -> bool:
    return bool(xp.any(mask))


def check_probabilities(x: Array, name: str, xp: Any, axis: int, normalize: bool, atol: float) -> None:
    """NaN, ±inf, negative mass, and (unless ``normalize``) sums that are not 1 within tolerance."""
    if _any(xp, xp.isnan(x)):
        raise ValueError(f"{name} contains NaN")
    if _any(xp, xp.isinf(x)):
        raise ValueError(f"{name} contains an infinite value")
    if _any(xp, x < 0):
        raise ValueError(f"{name} has negative mass (probabilities and counts must be ≥ 0)")
    total = xp.sum(x, axis=axis)
    check_totals(total, name, xp, normalize, atol)


def check_totals(total: Array, name: str, xp: Any, normalize: bool, atol: float) -> None:
    if normalize:
        if _any(xp, total <= 0):
            raise ValueError(f"{name} has a distribution with zero total mass; it cannot be normalised")
        return
    if hasattr(total, "detach"):  # torch: a check, not part of the graph
        total = total.detach()
    err = float(xp.max(xp.abs(total - 1)))
    if err > atol:
        raise ValueError(
            f"{name} does not sum to 1 along the category axis (largest deviation {err:.3g} > "
            f"tolerance {atol:g}); pass normalize=True to accept counts or unnormalised weights"
        )


def check_logits(z: Array, name: str, xp: Any, axis: int) -> None:
    """Logits may be -inf (masked) but not NaN or +inf, and not -inf everywhere along the axis."""
    if _any(xp, xp.isnan(z)):
        raise ValueError(f"{name} contains NaN")
    if _any(xp, z == math.inf):
        raise ValueError(f"{name} contains +inf (logits may be -inf for masked entries, never +inf)")
    if _any(xp, xp.all(z == -math.inf, axis=axis)):
        raise ValueError(f"{name} has a distribution whose logits are all -inf (no mass)")


def check_base(base: float | None) -> float | None:
    if base is None:
        return None
    base = float(base)
    if not (base > 0 and base != 1 and math.isfinite(base)):
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")
    return base
