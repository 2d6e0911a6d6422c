r"""The Cauchy–Schwarz divergence: a function of three sums."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.record import builtin_sums
from ..core.reduce import LocalReduce

__all__ = ["cauchy_schwarz_rows"]


def _cs_numpy(p: np.ndarray, q: np.ndarray):
    """log Σp² + log Σq² − 2 log Σpq from probabilities (three dot products, no elementwise log);
    rows whose Σpq underflows to 0 come out +inf and are recomputed in log space by the caller."""
    cross = np.vecdot(p, q)
    value = np.log(np.vecdot(p, p)) + np.log(np.vecdot(q, q)) - 2 * np.log(cross)
    return np.maximum(value, 0.0), None


def _cs_near_equal(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """For near-equal rows: with q = (1 + c)p + e, e ⟂ p (the difference q − p with its component along
    p removed, twice for orthogonality to rounding), (Σpq)²/(Σp²Σq²) = 1 − Σe²/Σq², so
    D_CS = −log1p(−Σe²/Σq²): no difference of nearly equal sums."""
    p, q = p.astype(np.result_type(p, np.float64)), q.astype(np.result_type(q, np.float64))
    e = q - p
    pp = np.vecdot(p, p)
    for _ in range(2):
        e -= (np.vecdot(p, e) / pp)[:, None] * p
    return -np.log1p(-np.vecdot(e, e) / np.vecdot(q, q))


@builtin_sums(
    "cauchy_schwarz",
    symmetric=True,
    numpy_rows=_cs_numpy,
    numpy_near_equal=_cs_near_equal,
    description="Cauchy–Schwarz divergence",
    doc=r"""Cauchy–Schwarz divergence :math:`D_{CS} = -\log\frac{(\sum_x p q)^2}{\sum_x p^2 \sum_x q^2}` ≥ 0.

    Zero iff P = Q; symmetric; +inf for disjoint supports. Formed with log-sum-exp in log space
    (no underflow for logits far below zero); rounding below 0 is clipped. No anchor library
    implements it for categorical distributions.

    >>> import divergences as dv
    >>> round(float(dv.cauchy_schwarz([0.5, 0.5], [0.9, 0.1])), 6)
    0.494696
    """,
)
def cauchy_schwarz_rows(a: Any, b: Any, xp: Any, axis: int, *, reduce: Any = None) -> Any:
    """The Cauchy–Schwarz divergence of each slice of log-probabilities along ``axis``."""
    red = reduce if reduce is not None else LocalReduce(xp, axis)
    cross = red.logsumexp(a + b)
    value = red.logsumexp(2 * a) + red.logsumexp(2 * b) - 2 * cross
    return xp.where(cross == -math.inf, xp.full_like(value, math.inf), xp.clip(value, 0.0, None))
