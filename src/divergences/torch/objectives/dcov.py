r"""Distance covariance and correlation (Székely, Rizzo & Bakirov, 2007), joint distance covariance
JdCov (Chakraborty & Zhang, 2019) and the concatenated CCdCov, as differentiable regularisers
(e.g. penalising dependence between a representation and sensitive attributes).

With pairwise Euclidean distances :math:`a_{kl} = \|x_k - x_l\|` and their double centring
:math:`A_{kl} = a_{kl} - \bar a_{k\cdot} - \bar a_{\cdot l} + \bar a_{\cdot\cdot}` (B likewise for y):

* :math:`\mathrm{dCov}^2_n(x, y) = \frac1{n^2}\sum_{kl} A_{kl}B_{kl}` (V-statistic, ≥ 0; dcor's
  ``distance_covariance_sqr``); ``unbiased=True`` gives the U-statistic with U-centred matrices
  (dcor's ``u_distance_covariance_sqr``, can be < 0);
* :math:`\mathrm{dCor}^2 = \mathrm{dCov}^2(x,y)/\sqrt{\mathrm{dVar}^2(x)\,\mathrm{dVar}^2(y)}` (0 when a
  variance is 0), dcor's ``distance_correlation_sqr``.

Distances use a square root with subgradient 0 at 0, so duplicated rows have finite gradients.
Memory O(n²) (these are batch regularisers). Samples are rows: (n,) or (n, d).

Scale: each variable is shifted and divided by a power of two (exact) before its distances are formed,
so data of order 1e-200 or 1e160 neither underflow to "constant" nor overflow to NaN. dCor and the
standardised JdCov are scale invariant and computed on the rescaled data; dCov² (homogeneous of degree
1 in each variable's scale) is multiplied back, so it is exact where the result is representable
(it overflows to inf or underflows to 0 only where float64 cannot hold it).
"""

from __future__ import annotations

import functools
import math

import torch

from ...core.backend import safe_sqrt
from ...core.validation import check_flag
from ._checks import non_negative, safe_div, tensor

__all__ = ["ccdcov", "distance_correlation", "distance_covariance", "jdcov"]


def _rows(x, name: str) -> torch.Tensor:
    x = tensor(x, name, ndim=(1, 2), min_rows=2)
    return x[:, None] if x.ndim == 1 else x


def _power_of_two(t: torch.Tensor) -> int:
    """The exponent e with ½ < max|t| / 2^e ≤ 1 (0 for an all-zero t)."""
    top = float(t.detach().abs().max()) if t.numel() else 0.0
    return math.ceil(math.log2(top)) if top > 0 else 0


def _normalised(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """x shifted by a (detached) row and divided by a power of two 2^e, exactly: distances of the result
    are those of x divided by 2^e, with the largest near 1 (no overflow of squares, no underflow)."""
    first = _power_of_two(x)
    x = _times_power_of_two(x, -first)
    x = x - x[:1].detach()
    second = _power_of_two(x)
    return _times_power_of_two(x, -second), first + second


def _times_power_of_two(value: torch.Tensor, e: int) -> torch.Tensor:
    """value · 2^e in two halves (2^e itself may not be representable)."""
    half = e // 2
    return value * 2.0**half * 2.0 ** (e - half)


def _distances(x: torch.Tensor) -> torch.Tensor:
    return safe_sqrt((x[:, None, :] - x[None, :, :]).pow(2).sum(-1), torch)


def _double_centred(x: torch.Tensor) -> torch.Tensor:
    a = _distances(x)
    return a - a.mean(0, keepdim=True) - a.mean(1, keepdim=True) + a.mean()


def _u_centred(x: torch.Tensor) -> torch.Tensor:
    a = _distances(x)
    n = a.shape[0]
    u = (a - a.sum(0, keepdim=True) / (n - 2) - a.sum(1, keepdim=True) / (n - 2)
         + a.sum() / ((n - 1) * (n - 2)))
    return u * (1 - torch.eye(n, dtype=a.dtype, device=a.device))


def _common(tensors: list[torch.Tensor], what: str) -> list[torch.Tensor]:
    """The tensors at their common dtype; a ValueError when their row counts (the paired samples) differ."""
    if len({len(t) for t in tensors}) != 1:
        raise ValueError(f"{what} must have the same number of rows (paired samples), got {[len(t) for t in tensors]}")
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors))
    return [t.to(dtype) for t in tensors]


def _pair(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _common([_rows(x, "x"), _rows(y, "y")], "x and y")
    return x, y


def _dcov2(x: torch.Tensor, y: torch.Tensor, unbiased: bool) -> torch.Tensor:
    (x, ex), (y, ey) = _normalised(x), _normalised(y)
    if unbiased:
        n = len(x)
        if n < 4:
            raise ValueError(f"the unbiased distance covariance needs at least 4 samples, got {n}")
        value = (_u_centred(x) * _u_centred(y)).sum() / (n * (n - 3))
    else:
        value = (_double_centred(x) * _double_centred(y)).mean()
    return _times_power_of_two(value, ex + ey)


def distance_covariance(x: torch.Tensor, y: torch.Tensor, *, squared: bool = True,
                        unbiased: bool = False) -> torch.Tensor:
    r"""Distance covariance :math:`\mathrm{dCov}^2_n(x, y)` (``squared=True``, the default for losses)
    or its root dCov (dcor's ``distance_covariance``; gradient 0 where it is 0). Module notes.

    >>> import torch
    >>> x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    >>> round(float(distance_covariance(x, x)), 6)  # dVar² of 1..4 (dcor: 0.8125)
    0.8125
    """
    squared, unbiased = check_flag(squared, "squared"), check_flag(unbiased, "unbiased")
    value = _dcov2(*_pair(x, y), unbiased)
    return value if squared else safe_sqrt(value, torch)


def distance_correlation(x: torch.Tensor, y: torch.Tensor, *, squared: bool = False) -> torch.Tensor:
    r"""Distance correlation dCor ∈ [0, 1] (or dCor² with ``squared=True``): dcor's
    ``distance_correlation`` (V-statistics). 0 where either distance variance is 0."""
    squared = check_flag(squared, "squared")
    x, y = _pair(x, y)
    a, b = _double_centred(_normalised(x)[0]), _double_centred(_normalised(y)[0])
    vx, vy, cxy = (a * a).mean(), (b * b).mean(), (a * b).mean()
    r2 = safe_div(cxy, safe_sqrt(vx * vy, torch)).clamp_min(0)
    return r2 if squared else safe_sqrt(r2, torch)


def jdcov(*variables: torch.Tensor, c: float = 1.0, standardize: bool = True) -> torch.Tensor:
    r"""Joint distance covariance :math:`\mathrm{JdCov}^2(X_1, …, X_d; c)` (Chakraborty & Zhang, 2019):
    0 iff the d variables are mutually independent (population version).

    :math:`\mathrm{JdCov}^2 = \frac1{n^2}\sum_{kl}\prod_{i=1}^d\big(c + U^{(i)}_{kl}\big) - c^d` with
    :math:`U^{(i)} = -A^{(i)}` the negated double-centred distance matrix of :math:`X_i`. Expanded:
    :math:`c^{d-2}\sum_{i<j}\mathrm{dCov}^2(X_i, X_j)` plus :math:`c^{d-3}` times the third-order terms,
    …, plus the d-th order term; for d = 2 it is dCov² (tested against dcor). ``standardize=True``
    divides each :math:`U^{(i)}` by :math:`\mathrm{dVar}(X_i)` (the scale-invariant JdCov_S), so the
    result does not depend on the units of the variables. c ≥ 0 weighs the higher orders.
    """
    if len(variables) < 2:
        raise ValueError(f"jdcov needs at least two variables, got {len(variables)}")
    c = non_negative(c, "c")
    standardize = check_flag(standardize, "standardize")
    xs = _common([_rows(v, f"variables[{i}]") for i, v in enumerate(variables)], "all variables")
    prod = None
    for i, v in enumerate(xs):
        v, e = _normalised(v)
        u = -_double_centred(v)
        if not standardize:
            u = _times_power_of_two(u, e)
        else:
            dvar = torch.sqrt((u * u).mean())
            if float(dvar.detach()) == 0:
                raise ValueError(f"variables[{i}] is constant: its distance variance is 0 (standardize=False to allow)")
            u = u / dvar
        term = c + u
        prod = term if prod is None else prod * term
    assert prod is not None  # at least two variables
    return prod.mean() - c ** len(xs)


def ccdcov(z: torch.Tensor, *sensitive: torch.Tensor, standardize: bool = True) -> torch.Tensor:
    r"""Concatenated distance covariance: :math:`\mathrm{dCov}^2(z, [s_1, …, s_k])`, the dependence of
    a representation z on all the sensitive attributes at once (their columns concatenated).

    ``standardize=True`` scales each attribute's columns to unit standard deviation before
    concatenating (so no attribute dominates by its units; constant columns are left as they are).
    """
    if not sensitive:
        raise ValueError("ccdcov needs at least one sensitive variable")
    standardize = check_flag(standardize, "standardize")
    parts = [_rows(s, f"sensitive[{i}]") for i, s in enumerate(sensitive)]
    if standardize:  # s / std(s) is scale invariant: form it from the rescaled s (no underflow of the variance)
        parts = [_normalised(s)[0] for s in parts]
        parts = [s / torch.where(s.std(0) > 0, s.std(0), torch.ones_like(s.std(0))) for s in parts]
    return distance_covariance(z, torch.cat(_common(parts, "all sensitive variables"), 1))
