"""The one block runner: NumPy rows in cache-sized blocks, validated on the same blocks, with the
record's fast kernel first and the exact log-space term where the fast one cannot be trusted.

Large inputs are processed in blocks of rows small enough to stay in the CPU cache, so that each
elementwise pass costs little beyond the logarithms themselves. A record's fast kernel (the term's
``numpy_rows``, or the generic one built from its probability-space ``_naive`` form, or a
"function" record's ``numpy_rows``) runs on the whole block; rows whose minimum is below the normal
range (zeros, subnormals: their ratios lose precision), rows with NaN, and rows whose fast value is
not finite are recomputed by the exact masked term. Divergences are then clipped at 0 and rows
whose two inputs are identical are exactly 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.near_equal import NEAR_EQUAL_BELOW, f_divergence_rows
from ..core.terms import Generator, Pointwise
from ..core.validation import check_totals

BLOCK_ELEMENTS = 1 << 15  # ≈ 256 KiB of float64 per operand: a block stays in L2

#: a fast kernel: (p block, q block, row sums of p, row sums of q) -> row values (lowest is ignored)
FastKernel = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, object]]


def _check_block(x: np.ndarray, name: str, normalize: bool, atol: float, overflow_ok: bool = False) -> np.ndarray:
    """Validate one block of rows; return its row sums (with ``overflow_ok``, a sum of finite
    entries that overflows is returned as inf for the caller to rescale)."""
    lo = x.min()
    if not lo >= 0:  # NaN compares False
        if np.isnan(lo) or np.isnan(x).any():
            raise ValueError(f"{name} contains NaN")
        raise ValueError(f"{name} has negative mass (probabilities and counts must be ≥ 0)")
    total = x.sum(axis=-1)
    if not np.isfinite(total).all() and (not overflow_ok or np.isinf(x).any()):
        raise ValueError(f"{name} contains an infinite value")
    check_totals(total, name, np, normalize, atol)
    return total


def _normalized(x: np.ndarray, name: str, validate: bool, atol: float) -> np.ndarray:
    """Rows divided by their totals. Rows whose total overflows the dtype (huge counts) are first
    scaled by a power of two (exact) so that their sum is finite: counts of any size normalise."""
    total = _check_block(x, name, True, atol, overflow_ok=True) if validate else x.sum(axis=-1)
    over = ~np.isfinite(total)
    if over.any():
        if np.isinf(x[over]).any() or np.isnan(x[over]).any():
            _check_block(x[over], name, True, atol)  # raises with the precise reason
        _, e = np.frexp(x[over].max(axis=-1))
        x = x.copy()
        x[over] = np.ldexp(x[over], -e[:, None])
        total = x.sum(axis=-1)
    return x / total[:, None]


def _check_sums(total: np.ndarray, block: np.ndarray, name: str, atol: float) -> None:
    """Row sums of probabilities: finite and 1 within tolerance (the block is for the diagnosis)."""
    if not np.isfinite(total).all():
        _check_block(block, name, False, atol)  # raises with the precise reason
    check_totals(total, name, np, False, atol)


def _zero_identical(val: np.ndarray, pb: np.ndarray, qb: np.ndarray) -> None:
    """Clip at 0 and set exactly 0 the rows whose inputs are identical (rounding would leave ~1e-16)."""
    np.maximum(val, 0.0, out=val)
    small = val < np.sqrt(np.finfo(val.dtype).eps)
    if small.any():
        same = (pb[small] == qb[small]).all(axis=-1)
        idx = np.flatnonzero(small)[same]
        val[idx] = 0.0


def run_blocks(
    exact: Callable[[np.ndarray, np.ndarray], np.ndarray],
    fast: FastKernel | None,
    p: np.ndarray,
    q: np.ndarray,
    *,
    normalize: bool,
    validate: bool,
    names: tuple[str, str],
    atol: float,
    divergence: bool = True,
    near_equal: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Per-row values over cache-sized blocks of rows, with validation on the same blocks.

    ``exact`` and ``fast`` take row-normalised blocks when ``normalize``.

    ``exact(pb, qb)`` is always right; ``fast(pb, qb, sum_p, sum_q)`` is exact where p, q are normal
    positive numbers and may be anything elsewhere (those rows are recomputed by ``exact``).
    ``divergence`` clips at 0 and zeroes identical rows. ``near_equal(pb, qb)`` recomputes the rows
    whose value is below :data:`~divergences.core.near_equal.NEAR_EQUAL_BELOW` without cancellation
    (near-equal distributions keep their digits).
    """
    n_rows, n = p.shape
    out = np.empty(n_rows, dtype=p.dtype)
    step = max(1, BLOCK_ELEMENTS // max(n, 1))
    tiny = np.finfo(p.dtype).tiny
    with np.errstate(all="ignore"):
        for start in range(0, n_rows, step):
            pb = p[start : start + step]
            qb = q[start : start + step]
            if normalize:
                pb = _normalized(pb, names[0], validate, atol)
                qb = _normalized(qb, names[1], validate, atol)
                sp = sq = np.ones(pb.shape[0], dtype=pb.dtype)
                checked = True
            elif validate and fast is None:
                sp = _check_block(pb, names[0], False, atol)
                sq = _check_block(qb, names[1], False, atol)
                checked = True  # validated above, or not to be validated
            else:
                sp, sq = pb.sum(axis=-1), qb.sum(axis=-1)
                if validate:
                    _check_sums(sp, pb, names[0], atol)
                    _check_sums(sq, qb, names[1], atol)
                checked = not validate  # nothing to check later when not validating
            if fast is None:
                val = exact(pb, qb)
            else:
                val, _ = fast(pb, qb, sp, sq)
                # zeros, subnormals (their ratios lose precision), negative mass and NaN: the exact term
                low = np.minimum(pb.min(axis=-1), qb.min(axis=-1))
                redo = ~(low >= tiny) | ~np.isfinite(val)
                if redo.any():
                    if not checked:
                        _check_block(pb[redo], names[0], False, atol)
                        _check_block(qb[redo], names[1], False, atol)
                    val[redo] = exact(pb[redo], qb[redo])
            if near_equal is not None:
                near = np.flatnonzero(val < NEAR_EQUAL_BELOW)
                if near.size:
                    val[near] = near_equal(pb[near], qb[near])
            if divergence:
                _zero_identical(val, pb, qb)
            out[start : start + step] = val
    return out


def near_equal_kernel(term: Pointwise) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """The term's cancellation-free form for near-equal rows: its own, or the generic remainder form
    of an f-divergence with an exact f″ (:func:`~divergences.core.near_equal.f_divergence_rows`)."""
    if term.near_equal_rows is not None:
        return term.near_equal_rows
    if isinstance(term, Generator) and term.smooth:
        return lambda pb, qb: f_divergence_rows(term, pb, qb)
    return None


def _generic_fast(term: Pointwise) -> FastKernel | None:
    if term.numpy_rows is not None:
        return term.numpy_rows
    naive = term._naive
    if naive is not None:
        return lambda pb, qb, sp, sq: (naive(pb, qb, np).sum(axis=-1), None)
    return None


def pointwise_rows(
    term: Pointwise,
    p: np.ndarray,
    q: np.ndarray,
    *,
    normalize: bool,
    validate: bool,
    names: tuple[str, str] = ("p", "q"),
    atol: float = 1e-6,
) -> np.ndarray:
    """Σ over the last axis of ``term``'s pointwise term, for 2-D float arrays of equal shape."""
    return run_blocks(lambda pb, qb: term.term(pb, qb).sum(axis=-1), _generic_fast(term), p, q,
                      normalize=normalize, validate=validate, names=names, atol=atol,
                      divergence=term.is_divergence, near_equal=near_equal_kernel(term) if term.is_divergence else None)


def entropy_rows(p: np.ndarray, *, normalize: bool, validate: bool, name: str = "p", atol: float = 1e-6) -> np.ndarray:
    """−Σ p log p over the last axis (0 log 0 = 0)."""
    n_rows, n = p.shape
    out = np.empty(n_rows, dtype=p.dtype)
    step = max(1, BLOCK_ELEMENTS // max(n, 1))
    with np.errstate(all="ignore"):
        for start in range(0, n_rows, step):
            pb = p[start : start + step]
            if normalize:
                pb = _normalized(pb, name, validate, atol)
            elif validate:
                _check_sums(pb.sum(axis=-1), pb, name, atol)
            val = -np.vecdot(pb, np.log(pb))  # any negative entry gives NaN
            redo = np.isnan(val)
            if redo.any():
                sub = pb[redo]
                if validate:
                    _check_block(sub, name, normalize, atol)
                val[redo] = -np.where(sub > 0, sub * np.log(np.where(sub > 0, sub, 1.0)), 0.0).sum(axis=-1)
            out[start : start + step] = np.maximum(val, 0.0)
    return out
