"""Lambert W on any Array API backend (the conjugates of Jeffreys and the skew KL need it).

Written with array operations only (no SciPy), so the conjugates work on NumPy and on torch with
autograd; a fixed number of Newton/Halley steps, each monotone from the chosen start, reaches
float64 rounding for every argument.
"""

from __future__ import annotations

import math
from typing import Any

from .backend import Array

__all__ = ["lambert_w_log", "lambert_w_negative"]


def lambert_w_log(L: Array, xp: Any, steps: int = 30) -> Array:
    """W₀(e^L) for any real L, from L itself (no overflow of e^L): the w > 0 with w + log w = L.

    Newton's method on h(y) = e^y + y − L with y = log w, started at y = L (L ≤ 1) or y = log L
    (L > 1), where h ≥ 0: h is convex and increasing, so the iterates decrease monotonically to the
    root.

    >>> import numpy as np
    >>> w = lambert_w_log(np.array([0.0, 1.0, 800.0]), np)
    >>> bool(np.allclose(w + np.log(w), [0.0, 1.0, 800.0]))
    True
    """
    one = xp.ones_like(L)
    y = xp.where(L > 1, xp.log(xp.where(L > 1, L, one)), L)
    for _ in range(steps):
        e = xp.exp(y)
        y = y - (e + y - L) / (e + 1)
    return xp.exp(y)


def lambert_w_negative(x: Array, xp: Any, steps: int = 40) -> Array:
    """W₀(x) for x ∈ [−1/e, 0]: the w ∈ [−1, 0] with w e^w = x (Halley's method).

    >>> import numpy as np
    >>> x = np.array([-1 / np.e, -0.2, -1e-12, 0.0])
    >>> w = lambert_w_negative(x, np)
    >>> bool(np.allclose(w * np.exp(w), x, rtol=0, atol=1e-15)) and float(w[0]) == -1.0
    True
    """
    ex1 = xp.clip(math.e * x + 1, 0.0, None)
    p = xp.sqrt(2 * ex1)
    near_branch = -1 + p - p * p / 3 + 11 / 72 * p * p * p  # series at the branch point x = −1/e
    w = xp.where(x < -0.25, near_branch, x * (1 - x))
    w = xp.clip(w, -1.0, 0.0)
    for _ in range(steps):
        e = xp.exp(w)
        f = w * e - x
        wp1 = w + 1
        denom = e * wp1 - (w + 2) * f / (2 * xp.where(wp1 == 0, xp.ones_like(wp1), wp1))
        step = xp.where(denom == 0, xp.zeros_like(f), f / xp.where(denom == 0, xp.ones_like(denom), denom))
        w = xp.clip(w - step, -1.0, 0.0)
    return xp.where(ex1 == 0, xp.full_like(w, -1.0), w)
