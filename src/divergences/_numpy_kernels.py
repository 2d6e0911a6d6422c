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
from ._validation import check_totals

BLOCK_ELEMENTS = 1 << 15  # ≈ 256 KiB of float64 per operand: a block stays in L2


# A fast kernel returns (row values, lowest) where ``lowest`` is a minimum that is negative whenever
# the block has negative mass that the kernel's NaN would not reveal (None if every negative entry
# already yields NaN). Rows that come out NaN are recomputed exactly and, when validating, checked.


def _rows_kl(p, q, gen, sp, sq):
    r = np.divide(p, q)
    np.log(r, out=r)
    # p ≥ 0 makes any q < 0 give NaN (log of a negative ratio, or 0·log(−0) = 0·−inf)
    return np.vecdot(p, r), p.min()


def _rows_cross_entropy(p, q, gen, sp, sq):
    return -np.vecdot(p, np.log(q)), p.min()


def _rows_js(p, q, gen, sp, sq):
    beta = gen.beta
    # u = βp/M and v = (1−β)q/M = 1 − u with M = βp + (1−β)q:
    # JS = β Σ p log(u/β) + (1−β) Σ q log(v/(1−β)). Forming v as 1 − u loses relative precision only
    # where q ≪ p, and there the error of q·log v is O(eps·M): the sum stays accurate to O(eps).
    # Where 1 − u rounds to 0 the row is −inf and is recomputed exactly by the caller.
    c = (1 - beta) / beta
    m = p + q if c == 1.0 else p + c * q
    lowest = m.min()  # M ≥ 0 everywhere makes any single negative entry give NaN
    u = np.divide(p, m)
    np.subtract(1.0, u, out=m)
    np.log(u, out=u)
    np.log(m, out=m)
    val = beta * np.vecdot(p, u) + (1 - beta) * np.vecdot(q, m)
    return val - beta * math.log(beta) * sp - (1 - beta) * math.log(1 - beta) * sq, lowest


def _rows_naive(p, q, gen, sp, sq):
    # the generator's probability-space term: exact where p, q > 0, NaN or ±inf where not
    return gen._naive(p, q, np).sum(axis=-1), min(p.min(), q.min())


def _fast_kernel(gen: g.Pointwise) -> Callable | None:
    t = type(gen)
    if t is g.KL:
        return _rows_kl
    if t is g.CrossEntropy:
        return _rows_cross_entropy
    if t is g.JensenShannon and 0.0 < gen.beta < 1.0:
        return _rows_js
    if gen._naive is not None:
        return _rows_naive
    return None


def _exact_rows(p: np.ndarray, q: np.ndarray, gen: g.Pointwise) -> np.ndarray:
    return gen.term(p, q).sum(axis=-1)


def _check_block(x: np.ndarray, name: str, normalize: bool, atol: float) -> np.ndarray:
    """Validate one block of rows; return its row sums."""
    lo = x.min()
    if not lo >= 0:  # NaN compares False
        if np.isnan(lo) or np.isnan(x).any():
            raise ValueError(f"{name} contains NaN")
        raise ValueError(f"{name} has negative mass (probabilities and counts must be ≥ 0)")
    total = x.sum(axis=-1)
    if not np.isfinite(total).all():
        raise ValueError(f"{name} contains an infinite value")
    check_totals(total, name, np, normalize, atol)
    return total


def _check_sums(total: np.ndarray, block: np.ndarray, name: str, atol: float) -> None:
    """Row sums of probabilities: finite and 1 within tolerance (the block is for the diagnosis)."""
    if not np.isfinite(total).all():
        _check_block(block, name, False, atol)  # raises with the precise reason
    check_totals(total, name, np, False, atol)


def _run_blocks(
    exact: Callable[[np.ndarray, np.ndarray], np.ndarray],
    fast: Callable[..., tuple[np.ndarray, float | None]] | None,
    p: np.ndarray,
    q: np.ndarray,
    *,
    normalize: bool,
    validate: bool,
    names: tuple[str, str],
    atol: float,
) -> np.ndarray:
    """Per-row values over cache-sized blocks of rows, with validation on the same blocks.

    ``exact(pb, qb)`` is always right; ``fast(pb, qb, sum_p, sum_q) -> (values, lowest)`` is exact
    where p, q > 0 and non-finite elsewhere (those rows are recomputed by ``exact``), with
    ``lowest`` a minimum that is negative whenever the block has negative mass its NaNs would not
    reveal (None if they reveal every negative entry).
    """
    n_rows, n = p.shape
    out = np.empty(n_rows, dtype=p.dtype)
    step = max(1, BLOCK_ELEMENTS // max(n, 1))
    with np.errstate(all="ignore"):
        for start in range(0, n_rows, step):
            pb = p[start : start + step]
            qb = q[start : start + step]
            if normalize or (validate and fast is None):
                sp = _check_block(pb, names[0], normalize, atol) if validate else pb.sum(axis=-1)
                sq = _check_block(qb, names[1], normalize, atol) if validate else qb.sum(axis=-1)
                if normalize:
                    pb = pb / sp[:, None]
                    qb = qb / sq[:, None]
                    sp = sq = np.ones_like(sp)
            else:
                sp, sq = pb.sum(axis=-1), qb.sum(axis=-1)
                if validate:
                    _check_sums(sp, pb, names[0], atol)
                    _check_sums(sq, qb, names[1], atol)
            if fast is None:
                out[start : start + step] = exact(pb, qb)
                continue
            val, lowest = fast(pb, qb, sp, sq)
            checked = normalize or not validate  # normalize validated the whole block already
            if not checked and lowest is not None and not lowest >= 0:
                _check_block(pb, names[0], False, atol)
                _check_block(qb, names[1], False, atol)
            redo = ~np.isfinite(val)  # zeros (NaN), JS's v = 1 − u rounded to 0 (−inf), true ±inf
            if redo.any():
                if not checked:
                    _check_block(pb[redo], names[0], False, atol)
                    _check_block(qb[redo], names[1], False, atol)
                val[redo] = exact(pb[redo], qb[redo])
            out[start : start + step] = val
    return out


def rows(
    gen: g.Pointwise,
    p: np.ndarray,
    q: np.ndarray,
    *,
    normalize: bool,
    validate: bool,
    names: tuple[str, str] = ("p", "q"),
    atol: float = 1e-6,
) -> np.ndarray:
    """Σ over the last axis of ``gen``'s pointwise term, for 2-D float arrays of equal shape."""
    kernel = _fast_kernel(gen)
    fast = None if kernel is None else (lambda pb, qb, sp, sq: kernel(pb, qb, gen, sp, sq))
    return _run_blocks(lambda pb, qb: _exact_rows(pb, qb, gen), fast, p, q, normalize=normalize,
                       validate=validate, names=names, atol=atol)


def blocked(
    row_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    p: np.ndarray,
    q: np.ndarray,
    *,
    normalize: bool,
    validate: bool,
    names: tuple[str, str] = ("p", "q"),
    atol: float = 1e-6,
    fast_fn: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float | None]] | None = None,
) -> np.ndarray:
    """``row_fn`` (any per-row reduction over the last axis) applied block by block, with validation;
    ``fast_fn(pb, qb) -> (values, lowest)`` first where given (see :func:`_run_blocks`)."""
    fast = None if fast_fn is None else (lambda pb, qb, sp, sq: fast_fn(pb, qb))
    return _run_blocks(row_fn, fast, p, q, normalize=normalize, validate=validate, names=names, atol=atol)


def bhattacharyya_rows(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, float]:
    """−log Σ√(pq) from probabilities: −log1p(−H²) where H² < ½ (precision for close rows)."""
    lowest = min(p.min(), q.min())
    sp, sq = np.sqrt(p), np.sqrt(q)
    bc = np.vecdot(sp, sq)
    np.subtract(sp, sq, out=sp)
    h2 = 0.5 * np.vecdot(sp, sp)
    out = -np.log1p(-np.minimum(h2, 0.5))
    far = h2 >= 0.5
    out[far] = -np.log(bc[far])
    return out, lowest


def cauchy_schwarz_rows(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, float]:
    """log Σp² + log Σq² − 2 log Σpq from probabilities (three dot products, no elementwise log);
    rows whose Σpq underflows to 0 come out +inf and are recomputed in log space by the caller."""
    lowest = min(p.min(), q.min())
    cross = np.vecdot(p, q)
    value = np.log(np.vecdot(p, p)) + np.log(np.vecdot(q, q)) - 2 * np.log(cross)
    return np.maximum(value, 0.0), lowest


def renyi_rows(p: np.ndarray, q: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """log(Σ p^α q^{1−α})/(α−1) from probabilities, for finite α ∉ {0, 1}; NaN/inf rows where zeros."""
    lowest = min(p.min(), q.min())
    delta = alpha - 1
    d = np.divide(p, q)
    np.log(d, out=d)
    d *= delta
    if abs(delta) <= 0.5:
        s = np.vecdot(p, np.expm1(d))  # Σ p^α q^{1−α} − Σ p, exact near α = 1
        with np.errstate(all="ignore"):
            return np.where(s > -0.5, np.log1p(s) / delta, np.nan), lowest
    np.exp(d, out=d)
    return np.log(np.vecdot(p, d)) / delta, lowest


def entropy_rows(p: np.ndarray, *, normalize: bool, validate: bool, name: str = "p", atol: float = 1e-6) -> np.ndarray:
    """−Σ p log p over the last axis (0 log 0 = 0)."""
    n_rows, n = p.shape
    out = np.empty(n_rows, dtype=p.dtype)
    step = max(1, BLOCK_ELEMENTS // max(n, 1))
    with np.errstate(all="ignore"):
        for start in range(0, n_rows, step):
            pb = p[start : start + step]
            if normalize:
                sp = _check_block(pb, name, True, atol) if validate else pb.sum(axis=-1)
                pb = pb / sp[:, None]
            elif validate:
                _check_sums(pb.sum(axis=-1), pb, name, atol)
            val = -np.vecdot(pb, np.log(pb))  # any negative entry gives NaN
            redo = np.isnan(val)
            if redo.any():
                sub = pb[redo]
                if validate:
                    _check_block(sub, name, normalize, atol)
                val[redo] = -np.where(sub > 0, sub * np.log(np.where(sub > 0, sub, 1.0)), 0.0).sum(axis=-1)
            out[start : start + step] = val
    return out
