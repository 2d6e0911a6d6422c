"""Input checks shared by every categorical entry point: clear ``ValueError``s naming the argument."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .backend import Array

#: |Σp − 1| allowed for probability vectors, by the dtype of the *input* (its rounding of each
#: probability); ``normalize=True`` accepts counts and weights of any total instead.
SUM_ATOL = {"float64": 1e-6, "float32": 1e-3, "float16": 4e-3, "bfloat16": 3e-2}


def sum_atol(dtype: Any) -> float:
    """Tolerance on |Σp − 1| for input of ``dtype`` (integers and others: the float64 one)."""
    name = str(dtype).rsplit(".", 1)[-1]
    return SUM_ATOL.get(name, SUM_ATOL["float64"])


def check_axis(axis: int, ndim: int, name: str = "axis") -> int:
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise ValueError(f"{name} must be an int, got {axis!r}")
    axis = int(axis)
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
    base = check_real(base, "base", finite=False)
    if not (base > 0 and base != 1 and math.isfinite(base)):
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")
    return base


def check_flag(value: Any, name: str) -> bool:
    """A boolean keyword: ``True``/``False`` (or NumPy booleans); anything else (``"no"``, 1, None)
    is refused, since a truthy string would silently mean True."""
    if isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """A real-number keyword within [low, high] (ends open where asked), as a float.

    Refuses None, strings, booleans and NaN with a ValueError naming the keyword (a string such as
    ``"0.1"`` is not silently converted).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        item = getattr(value, "item", None)
        if item is None or getattr(value, "ndim", 1) != 0:  # 0-d arrays and tensors give their item
            raise ValueError(f"{name} must be a real number, got {value!r}")
        value = item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if finite and math.isinf(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '≥'} {low:g}, got {value!r}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '≤'} {high:g}, got {value!r}")
    return v
