"""Fast NumPy evaluation of pointwise divergences: blocked, in cache, with few passes.

Large inputs are processed in blocks of rows small enough to stay in the CPU cache, so that each
elementwise pass costs little beyond the logarithms themselves; validation (minimum and row sums)
is done on the same blocks. The specialised kernels for KL, JS, entropy and cross-entropy take the
optimistic route (no masking): a row containing zeros comes out NaN and is recomputed exactly by
the generator's masked term, so zeros cost only on the rows that have them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from . import generators as g
from ._validation import check_totals, sum_atol

BLOCK_ELEMENTS = 1 << 15  # ≈ 256 KiB of float64 per operand: a block stays in L2


def _rows_kl(p: np.ndarray, q: np.ndarray, gen: g.Pointwise) -> np.ndarray:
    r = np.divide(p, q)
    np.log(r, out=r)
    return np.vecdot(p, r)


def _rows_cross_entropy(p, q, gen):
    return -np.vecdot(p, np.log(q))


def _rows_js(p, q, gen: g.JensenShannon) -> np.ndarray:
    beta = gen.beta
    # u = βp/M and v = (1−β)q/M with M = βp + (1−β)q; JS = β Σp log(u/β) + (1−β) Σq log(v/(1−β))
    c = (1 - beta) / beta
    cq = q if c == 1.0 else c * q
    m = p + cq
    u = np.divide(p, m)
    np.divide(cq, m, out=m)
    np.log(u, out=u)
    np.log(m, out=m)
    val = beta * np.vecdot(p, u) + (1 - beta) * np.vecdot(q, m)
    return val - beta * math.log(beta) * p.sum(axis=-1) - (1 - beta) * math.log(1 - beta) * q.sum(axis=-1)


def _fast_kernel(gen: g.Pointwise) -> Callable | None:
    t = type(gen)
    if t is g.KL:
        return _rows_kl
    if t is g.CrossEntropy:
        return _rows_cross_entropy
    if t is g.JensenShannon and 0.0 < gen.beta < 1.0:
        return _rows_js
    return None


def _exact_rows(p: np.ndarray, q: np.ndarray, gen: g.Pointwise) -> np.ndarray:
    return gen.term(p, q).sum(axis=-1)


def _check_block(x: np.ndarray, name: str, normalize: bool) -> np.ndarray:
    """Validate one block of rows; return its row sums."""
    lo = x.min()
    if not lo >= 0:  # NaN compares False
        if np.isnan(lo) or np.isnan(x).any():
            raise ValueError(f"{name} contains NaN")
        raise ValueError(f"{name} has negative mass (probabilities and counts must be ≥ 0)")
    total = x.sum(axis=-1)
    if not np.isfinite(total).all():
        raise ValueError(f"{name} contains an infinite value")
    check_totals(total, name, np, normalize, sum_atol(np, x.dtype))
    return total


def rows(
    gen: g.Pointwise,
    p: np.ndarray,
    q: np.ndarray,
    *,
    normalize: bool,
    validate: bool,
    names: tuple[str, str] = ("p", "q"),
) -> np.ndarray:
    """Σ over the last axis of ``gen``'s pointwise term, for 2-D float arrays of equal shape."""
    n_rows, n = p.shape
    out = np.empty(n_rows, dtype=p.dtype)
    step = max(1, BLOCK_ELEMENTS // max(n, 1))
    kernel = _fast_kernel(gen)
    with np.errstate(all="ignore"):
        for start in range(0, n_rows, step):
            pb = p[start : start + step]
            qb = q[start : start + step]
            if validate or normalize:
                sp = _check_block(pb, names[0], normalize) if validate else pb.sum(axis=-1)
                sq = _check_block(qb, names[1], normalize) if validate else qb.sum(axis=-1)
                if normalize:
                    pb = pb / sp[:, None]
                    qb = qb / sq[:, None]
            if kernel is None:
                val = _exact_rows(pb, qb, gen)
            else:
                val = kernel(pb, qb, gen)
                redo = np.isnan(val)
                if redo.any():
                    val[redo] = _exact_rows(pb[redo], qb[redo], gen)
            out[start : start + step] = val
    return out


def entropy_rows(p: np.ndarray, *, normalize: bool, validate: bool, name: str = "p") -> np.ndarray:
    """−Σ p log p over the last axis (0 log 0 = 0)."""
    n_rows, n = p.shape
    out = np.empty(n_rows, dtype=p.dtype)
    step = max(1, BLOCK_ELEMENTS // max(n, 1))
    with np.errstate(all="ignore"):
        for start in range(0, n_rows, step):
            pb = p[start : start + step]
            if validate or normalize:
                sp = _check_block(pb, name, normalize) if validate else pb.sum(axis=-1)
                if normalize:
                    pb = pb / sp[:, None]
            val = -np.vecdot(pb, np.log(pb))
            redo = np.isnan(val)
            if redo.any():
                sub = pb[redo]
                val[redo] = -np.where(sub > 0, sub * np.log(np.where(sub > 0, sub, 1.0)), 0.0).sum(axis=-1)
            out[start : start + step] = val
    return out
