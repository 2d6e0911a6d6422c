r"""Full relative precision for near-equal distributions (NumPy rows).

For P close to Q every divergence is of second order in the difference, while the terms a fast
kernel sums are of first order: Σ p log(p/q) adds terms of size |p − q| that cancel down to a value
of size Σ(p − q)²/q. Rounding log(p/q) (an absolute error of one ulp of 1 per term) then leaves a
relative error of about ε/|p/q − 1| in the value: 1e-4 at |p/q − 1| ≈ 1e-6 and more than the value
itself at 1e-9.

The exact layer recomputes such rows (value below :data:`NEAR_EQUAL_BELOW`) with the forms here,
which never subtract first-order quantities:

* an f-divergence is :math:`\sum_x q\,R(d) + f'(1)\sum_x (p - q)` with :math:`d = p/q - 1` and the
  second-order remainder :math:`R(d) = f(1+d) - f'(1)d = d^2\int_0^1 (1-u) f''(1+ud)\,du`, evaluated
  by Gauss–Legendre quadrature for :math:`|d| \le` :data:`SMALL` (f″ is analytic there: the error is
  below 1e-18 relative) and from the term itself elsewhere; :math:`\sum (p - q)` is summed exactly
  (``math.fsum``), since inputs that sum to 1 only up to rounding contribute it;
* the "function" records (Rényi, Bhattacharyya, Cauchy–Schwarz) and Jensen–Tsallis state their own
  near-equal forms in their catalogue modules, from the helpers here.

Nothing here changes a value beyond rounding: it is the same quantity, summed without cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["NEAR_EQUAL_BELOW", "SMALL", "exact_sum", "f_divergence_rows", "quadrature_remainder", "ratio_excess"]

#: rows whose fast value is below this are recomputed by the near-equal forms (above it the fast
#: kernels' cancellation costs less than ε·√(2/value) ≈ 1e-13 relative)
NEAR_EQUAL_BELOW = 1e-5
#: |d| up to which the remainder is integrated (f″ is analytic on [1 − SMALL, 1 + SMALL] for every
#: built-in generator, its nearest singularity is at t ≤ 0)
SMALL = 0.25

_x, _w = np.polynomial.legendre.leggauss(10)
#: nodes u on [0, 1] and weights of ∫₀¹ (1 − u) g(u) du ≈ Σ w g(u)
_U = (_x + 1) / 2
_W = _w / 2 * (1 - _U)


def quadrature_remainder(d: np.ndarray, second: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    r""":math:`d^2 \int_0^1 (1-u)\,g(1+ud)\,du` for ``|d| ≤ SMALL``, with g = ``second`` (f″)."""
    t = 1 + d[..., None] * _U
    return d * d * (second(t) @ _W)


def ratio_excess(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d, both): d = p/q − 1 where both p and q are positive (0 elsewhere), and that mask.

    p − q is exact for near-equal entries (Sterbenz), so d has one rounding."""
    both = (p > 0) & (q > 0)
    return np.where(both, (p - q) / np.where(both, q, 1.0), 0.0), both


def exact_sum(*parts: np.ndarray, constant: float = 0.0) -> np.ndarray:
    """Per row, the correctly rounded sum of the entries of every part (2-D, same rows) plus
    ``constant`` (``math.fsum``): no cancellation, whatever the sizes."""
    rows = parts[0].shape[0]
    if parts[0].dtype.itemsize > 8:  # longdouble: summed in its own precision
        return np.asarray(sum(part.sum(axis=-1) for part in parts)) + constant
    out = np.empty(rows)
    for i in range(rows):
        out[i] = math.fsum([*(v for part in parts for v in part[i].tolist()), constant])
    return out


def f_divergence_rows(term: Any, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    r"""Σ_x q f(p/q) per row without cancellation: Σ q R(d) + f′(1) Σ (p − q) (see the module doc).

    ``term`` is a generator with an exact ``f_second`` (``term.smooth``) and ``term.term(p, q)``
    (the boundary-aware pointwise value). Computed in float64 at least."""
    dtype = np.result_type(p.dtype, np.float64)
    p, q = p.astype(dtype, copy=False), q.astype(dtype, copy=False)
    d, both = ratio_excess(p, q)
    small = both & (np.abs(d) <= SMALL)
    slope = float(term.f_prime_one)
    rem = np.zeros_like(p)
    if small.any():
        rem[small] = q[small] * quadrature_remainder(d[small], term.f_second)
    other = ~small & ((p > 0) | (q > 0))
    if other.any():
        with np.errstate(all="ignore"):
            rem[other] = term.term(p[other], q[other]) - slope * (p[other] - q[other])
    value = rem.sum(axis=-1)
    if slope != 0.0:
        value = value + slope * exact_sum(p, -q)
    return value
